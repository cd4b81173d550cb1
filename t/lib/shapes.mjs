// Assertions on the contract's JSON (API.md section 3): content type, error
// bodies, and the exact key sets and types of User, Message, Conversation.
import assert from 'node:assert/strict';

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const STATUS_OF = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

const describe = (res) => `HTTP ${res.status} ${String(res.text).slice(0, 300)}`;

/** Content-Type: application/json; charset=utf-8 (spaces and case aside). */
export function assertJsonType(res) {
  const ct = res.headers.get('content-type');
  assert.ok(ct, `no Content-Type on ${describe(res)}`);
  assert.equal(ct.replace(/\s+/g, '').toLowerCase(), 'application/json;charset=utf-8',
    `Content-Type was ${JSON.stringify(ct)}`);
}

/** A 2xx (or the given status) JSON answer; returns its body. */
export function assertOk(res, status = 200) {
  assert.equal(res.status, status, `expected ${status}, got ${describe(res)}`);
  assertJsonType(res);
  assert.ok(res.json !== undefined, `body is not JSON: ${describe(res)}`);
  return res.json;
}

// Words that betray internals in an error message.
const LEAKS = /\b(select|insert|update|delete)\b.*\b(from|into|set)\b|postgres|libpq|pq_|sqlstate|\.c:\d|\/work\/|\/usr\/|\/tmp\/|stack|segfault|errno/i;

/** {"error": {"code", "message"}} with the code matching the status. */
export function assertError(res, status, code = undefined) {
  const expectedCode = code || Object.keys(STATUS_OF).find((k) => STATUS_OF[k] === status);
  assert.equal(res.status, status, `expected ${status} ${expectedCode}, got ${describe(res)}`);
  assertJsonType(res);
  const body = res.json;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `error body is not a JSON object: ${describe(res)}`);
  assert.deepEqual(Object.keys(body), ['error'], `error body keys: ${describe(res)}`);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], `error keys: ${describe(res)}`);
  assert.equal(body.error.code, expectedCode, `error code: ${describe(res)}`);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0, 'empty error message');
  assert.doesNotMatch(body.error.message, LEAKS, 'error message leaks internals');
  return body.error;
}

/** The methods of an Allow header, upper-cased. */
export function allowOf(res) {
  const allow = res.headers.get('allow');
  assert.ok(allow, `405 without an Allow header: ${describe(res)}`);
  return allow.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
}

function assertTimestamp(v, what) {
  assert.equal(typeof v, 'string', `${what} is not a string: ${JSON.stringify(v)}`);
  assert.match(v, ISO_MS, `${what} is not ISO 8601 UTC with milliseconds: ${v}`);
  assert.ok(!Number.isNaN(Date.parse(v)), `${what} does not parse: ${v}`);
}

export function assertUser(u, expected = undefined) {
  assert.ok(u && typeof u === 'object', 'user is not an object');
  assert.deepEqual(Object.keys(u).sort(), ['firstName', 'id', 'lastName', 'role']);
  assert.ok(Number.isInteger(u.id) && u.id > 0);
  assert.ok(['patient', 'medecin'].includes(u.role), `role ${u.role}`);
  assert.equal(typeof u.firstName, 'string');
  assert.equal(typeof u.lastName, 'string');
  if (expected) assert.deepEqual(u, { id: expected.id, role: expected.role, firstName: expected.firstName, lastName: expected.lastName });
}

export const MESSAGE_KEYS = ['clientId', 'content', 'conversationId', 'deliveredAt', 'id', 'isRead', 'senderId', 'sentAt'];

export function assertMessage(m, expected = {}) {
  assert.ok(m && typeof m === 'object', 'message is not an object');
  assert.deepEqual(Object.keys(m).sort(), MESSAGE_KEYS);
  assert.ok(Number.isInteger(m.id) && m.id > 0, `message id ${m.id}`);
  assert.ok(Number.isInteger(m.conversationId) && m.conversationId > 0);
  assert.ok(Number.isInteger(m.senderId) && m.senderId > 0);
  assert.equal(typeof m.content, 'string');
  assertTimestamp(m.sentAt, 'sentAt');
  assert.equal(typeof m.isRead, 'boolean');
  assert.ok(m.clientId === null || typeof m.clientId === 'string', `clientId ${m.clientId}`);
  if (m.deliveredAt !== null) assertTimestamp(m.deliveredAt, 'deliveredAt');
  if (m.isRead) assert.notEqual(m.deliveredAt, null, 'a read message is delivered');
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(m[k], v, `message.${k}`);
}

/** A Conversation's participant: a User with online and lastSeenAt (API.md section 9). */
export function assertParticipant(u, expected = undefined) {
  assert.ok(u && typeof u === 'object', 'participant is not an object');
  const { online, lastSeenAt, ...user } = u;
  assert.equal(typeof online, 'boolean', `online ${online}`);
  assert.ok(lastSeenAt === null || (typeof lastSeenAt === 'string' && ISO_MS.test(lastSeenAt)), `lastSeenAt ${lastSeenAt}`);
  if (online) assert.equal(lastSeenAt, null, 'lastSeenAt is null while online');
  assertUser(user, expected);
}

export const CONVERSATION_KEYS = ['createdAt', 'doctorId', 'id', 'lastMessage', 'lastMessageAt', 'participant',
  'patientId', 'status', 'unreadCount', 'updatedAt'];

export function assertConversation(c, expected = {}) {
  assert.ok(c && typeof c === 'object', 'conversation is not an object');
  assert.deepEqual(Object.keys(c).sort(), CONVERSATION_KEYS);
  assert.ok(Number.isInteger(c.id) && c.id > 0);
  assert.ok(Number.isInteger(c.patientId) && c.patientId > 0);
  assert.ok(Number.isInteger(c.doctorId) && c.doctorId > 0);
  assert.equal(typeof c.status, 'string');
  assertTimestamp(c.lastMessageAt, 'lastMessageAt');
  assertTimestamp(c.createdAt, 'createdAt');
  assertTimestamp(c.updatedAt, 'updatedAt');
  assertParticipant(c.participant);
  if (c.lastMessage !== null) assertMessage(c.lastMessage, { conversationId: c.id });
  assert.ok(Number.isInteger(c.unreadCount) && c.unreadCount >= 0, `unreadCount ${c.unreadCount}`);
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(c[k], v, `conversation.${k}`);
}
