// The database side of delivery (API.md section 5 "Delivery", docs/events.md):
// every message and read receipt written through the API leaves a row in
// messaging.events in the same transaction (a message's event references
// its row; its data is built when read) and, after commit, a bell on the
// channel messaging_events naming the conversation:
// {"t":"bell","origin":"api","conversations":[...]}. A bell never carries
// an event, so it never comes near NOTIFY's 8000 bytes.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { post } from '../lib/http.mjs';
import { assertError, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import {
  atEnd, countEvents, countMessages, createConversation, createDoctor, createPatient, link, pairWithConversation, q, setUp,
} from '../lib/fixtures.mjs';
import { DB_URL } from '../lib/env.mjs';

const CHANNEL = 'messaging_events';
const NOTIFY_WITHIN_MS = 2000;

let listener;
const notes = []; // {payload, json, at}

before(async () => {
  listener = new pg.Client({ connectionString: DB_URL, application_name: 'messaging-integration-listen' });
  await listener.connect();
  listener.on('notification', (n) => {
    if (n.channel !== CHANNEL) return;
    let json;
    try { json = JSON.parse(n.payload); } catch { json = undefined; }
    notes.push({ payload: n.payload, json, at: Date.now() });
  });
  await listener.query(`LISTEN ${CHANNEL}`);
});
setUp();
atEnd(async () => { if (listener) await listener.end().catch(() => {}); });

const send = (conv, user, body) => post(`/conversations/${conv}/messages`, tokenFor(user), body);

/** Events of a conversation with id > afterId, ascending, as readers get them; payload parsed. */
async function eventsOf(conversationId, afterId = 0) {
  const { rows } = await q(
    'SELECT id, conversation_id, kind, payload FROM messaging.events_since_each(ARRAY[$1::int], ARRAY[$2::bigint], NULL)',
    [conversationId, afterId]);
  return rows.map((r) => ({ ...r, id: Number(r.id), payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload }));
}

async function lastEventId() {
  const { rows } = await q('SELECT coalesce(max(id), 0) AS m FROM messaging.events');
  return Number(rows[0].m);
}

/** Whether a notification is a bell covering event `ev`. */
function covers(note, ev) {
  const p = note.json;
  if (!p || typeof p !== 'object' || Array.isArray(p) || p.t !== 'bell') return false;
  return !('conversations' in p) || p.conversations.includes(ev.conversation_id);
}

/** Waits for a bell covering `ev`, received since index `from`; checks its shape. */
async function notificationFor(ev, from, sentAt) {
  const deadline = sentAt + NOTIFY_WITHIN_MS;
  for (;;) {
    const hit = notes.slice(from).find((n) => covers(n, ev));
    if (hit) {
      const p = hit.json;
      assert.ok(Buffer.byteLength(hit.payload) < 8000);
      assert.deepEqual(Object.keys(p).sort(), ['conversations', 'origin', 't'], `bell ${hit.payload}`);
      assert.equal(p.origin, 'api');
      assert.ok(p.conversations.every(Number.isInteger), `bell ${hit.payload}`);
      return { kind: 'bell', note: hit };
    }
    if (Date.now() > deadline) {
      const got = notes.slice(from).map((n) => n.payload.slice(0, 200));
      assert.fail(`no bell on ${CHANNEL} naming conversation ${ev.conversation_id} within ${NOTIFY_WITHIN_MS} ms; got ${JSON.stringify(got)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('new_message', () => {
  let patient; let doctor; let conv;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  });

  test('a message POSTed through the API writes one new_message event and notifies', async () => {
    const from = notes.length;
    const n0 = await lastEventId();
    const res = await send(conv, patient, { content: 'Événement 🙂', clientId: 'ev-1' });
    const sentAt = Date.now();
    const message = assertOk(res, 201).message;
    const evs = await eventsOf(conv, n0);
    assert.equal(evs.length, 1, `events: ${JSON.stringify(evs)}`);
    const ev = evs[0];
    assert.equal(ev.kind, 'new_message');
    // The row references the message; it does not copy it.
    const { rows } = await q('SELECT message_id, payload FROM messaging.events WHERE id = $1', [ev.id]);
    assert.equal(Number(rows[0].message_id), message.id);
    assert.equal(rows[0].payload, null);
    assert.equal(ev.conversation_id, conv);
    assert.deepEqual(ev.payload.message, message);
    assert.equal(ev.payload.conversationId, conv);
    await notificationFor(ev, from, sentAt);
  });

  test('a message over 8000 bytes: the event gives it whole, the bell stays small', async () => {
    for (const content of ['x'.repeat(9000), '€'.repeat(2700), 'é'.repeat(4500)]) {
      // 9000 bytes in 9000 characters; 8100 bytes in 2700 characters; 9000 bytes in 4500.
      const from = notes.length;
      const n0 = await lastEventId();
      const res = await send(conv, doctor, { content });
      const sentAt = Date.now();
      const message = assertOk(res, 201).message;
      assert.equal(message.content, content);
      const evs = await eventsOf(conv, n0);
      assert.equal(evs.length, 1);
      assert.equal(evs[0].kind, 'new_message');
      assert.deepEqual(evs[0].payload.message, message);
      assert.equal(evs[0].payload.message.content.length, content.length);
      const { note } = await notificationFor(evs[0], from, sentAt);
      assert.ok(Buffer.byteLength(note.payload) < 200, 'a bell carries no event');
    }
  });

  test('events of one conversation follow message id order', async () => {
    const n0 = await lastEventId();
    const from = notes.length;
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(assertOk(await send(conv, i % 2 ? doctor : patient, { content: `ordre ${i}` }), 201).message.id);
    const sentAt = Date.now();
    const evs = await eventsOf(conv, n0);
    assert.deepEqual(evs.map((e) => e.kind), Array(5).fill('new_message'));
    assert.deepEqual(evs.map((e) => e.payload.message.id), ids);
    for (let i = 1; i < evs.length; i++) assert.ok(evs[i].id > evs[i - 1].id);
    // The last one is announced (a bell may cover several).
    await notificationFor(evs[evs.length - 1], from, sentAt);
  });

  test('concurrent sends in one conversation: event order matches message id order', async () => {
    const n0 = await lastEventId();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => send(conv, i % 2 ? doctor : patient, { content: `concurrent ${i}` })));
    for (const r of results) assertOk(r, 201);
    const evs = await eventsOf(conv, n0);
    assert.equal(evs.length, 12);
    const msgIds = evs.map((e) => e.payload.message.id);
    assert.deepEqual(msgIds, [...msgIds].sort((a, b) => a - b), 'event ids and message ids disagree on order');
    assert.deepEqual([...msgIds].sort((a, b) => a - b), results.map((r) => r.json.message.id).sort((a, b) => a - b));
  });
});

describe('messages_read', () => {
  test('mark-as-read writes {conversationId, userId, updatedCount} and notifies', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    assertOk(await send(conv, doctor, { content: 'un' }), 201);
    assertOk(await send(conv, doctor, { content: 'deux' }), 201);
    const n0 = await lastEventId();
    const from = notes.length;
    const res = await post(`/conversations/${conv}/read`, tokenFor(patient));
    const sentAt = Date.now();
    assert.deepEqual(assertOk(res), { conversationId: conv, updatedCount: 2 });
    const evs = await eventsOf(conv, n0);
    assert.equal(evs.length, 1, `events: ${JSON.stringify(evs)}`);
    assert.equal(evs[0].kind, 'messages_read');
    assert.deepEqual(evs[0].payload, { conversationId: conv, userId: patient.id, updatedCount: 2 });
    await notificationFor(evs[0], from, sentAt);
  });

  test('a read that marks nothing writes no event (API.md section 8)', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    assertOk(await send(conv, doctor, { content: 'un' }), 201);
    assert.deepEqual(assertOk(await post(`/conversations/${conv}/read`, tokenFor(patient))), { conversationId: conv, updatedCount: 1 });
    const n0 = await lastEventId();
    assert.deepEqual(assertOk(await post(`/conversations/${conv}/read`, tokenFor(patient))), { conversationId: conv, updatedCount: 0 });
    assert.deepEqual(await eventsOf(conv, n0), []);
  });
});

describe('refused requests write nothing', () => {
  test('400, 404, 409 and a clientId replay leave no message and no event', async () => {
    const { patient, conversationId: conv } = await pairWithConversation();
    assertOk(await send(conv, patient, { content: 'premier', clientId: 'once' }), 201);
    const messages = await countMessages(conv);
    const events = await countEvents(conv);
    assert.equal(messages, 1);
    assert.equal(events, 1);
    assertError(await send(conv, patient, { content: ' \u00a0 ' }), 400, 'invalid_request');
    assertError(await send(conv, patient, { content: 'a'.repeat(10001) }), 400, 'invalid_request');
    assertError(await send(conv, patient, { content: 'a\u0000' }), 400, 'invalid_request');
    assertError(await send(conv, patient, { content: 'x', clientId: 'k'.repeat(65) }), 400, 'invalid_request');
    const stranger = await createDoctor('Hors', 'Champ');
    assertError(await send(conv, stranger, { content: 'intrus' }), 404, 'not_found');
    assert.equal(assertOk(await send(conv, patient, { content: 'rejoué', clientId: 'once' }), 200).message.content, 'premier');
    assert.equal(await countMessages(conv), messages);
    assert.equal(await countEvents(conv), events);

    const p = await createPatient('Fer', 'Mée');
    const d = await createDoctor('Fer', 'Mée');
    await link(p, d);
    const closed = await createConversation(p, d, 'closed');
    assertError(await send(closed, p, { content: 'refusé' }), 409, 'conflict');
    assertError(await send(closed, d, { content: 'refusé', clientId: 'c1' }), 409, 'conflict');
    assert.equal(await countMessages(closed), 0);
    assert.equal(await countEvents(closed), 0);
  });
});
