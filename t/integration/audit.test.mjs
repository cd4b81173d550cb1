// The access log (API.md section 9, sql/040_audit.sql): every audited action
// is one row of messaging.audit_log, through REST (nginx) and the gateway,
// whether it changed anything or was refused; a log write that fails fails
// the read it records (503).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post } from '../lib/http.mjs';
import { assertError, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { createDoctor, createPatient, link, pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { connect, WS_URL, WS_URL2 } from '../lib/sio.mjs';

setUp();

/** The log's rows of a user, oldest first. */
async function rows(userId) {
  const { rows: r } = await q(
    'SELECT id, action, conversation_id AS conv, via, detail FROM messaging.audit_log WHERE user_id = $1 ORDER BY id', [userId]);
  return r;
}
const last = async (userId) => (await rows(userId)).at(-1);

describe('REST through nginx', () => {
  test('each action is one row, via rest, with its outcome', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const tp = tokenFor(patient), td = tokenFor(doctor);
    const m = assertOk(await post(`/conversations/${conv}/messages`, tp, { content: 'bonjour' }), 201).message;
    let r = await last(patient.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome, r.detail.messageId], ['message_send', conv, 'rest', 'ok', m.id]);

    const page = assertOk(await get(`/conversations/${conv}/messages?limit=10`, td));
    assert.equal(page.messages.length, 1);
    r = await last(doctor.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome, r.detail.count, r.detail.firstId, r.detail.lastId, r.detail.limit],
      ['messages_list', conv, 'rest', 'ok', 1, m.id, m.id, 10]);

    assertOk(await get(`/conversations/${conv}`, td));
    r = await last(doctor.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome], ['conversation_view', conv, 'rest', 'ok']);

    assertOk(await post(`/conversations/${conv}/read`, td));
    r = await last(doctor.id);
    assert.deepEqual([r.action, r.detail.updatedCount], ['messages_mark_read', 1]);
    assertOk(await post(`/conversations/${conv}/read`, td));
    r = await last(doctor.id);
    assert.deepEqual([r.action, r.detail.updatedCount], ['messages_mark_read', 0], 'a read that marks nothing is logged');

    const before = (await rows(doctor.id)).length;
    assertOk(await get('/unread-count', td));
    assert.equal((await rows(doctor.id)).length, before, 'unread-count shows no message: not logged');
  });

  test('refusals are logged: a stranger, a bad request', async () => {
    const { conversationId: conv } = await pairWithConversation();
    const stranger = await createDoctor('Stra', 'Nger');
    const ts = tokenFor(stranger);
    assertError(await get(`/conversations/${conv}/messages`, ts), 404, 'not_found');
    let r = await last(stranger.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome, r.detail.code], ['messages_list', conv, 'rest', 'refused', 'not_found']);
    assertError(await get(`/conversations/${conv}`, ts), 404, 'not_found');
    r = await last(stranger.id);
    assert.deepEqual([r.action, r.detail.outcome], ['conversation_view', 'refused']);
    assertError(await post(`/conversations/${conv}/messages`, ts, { content: 'intrus' }), 404, 'not_found');
    r = await last(stranger.id);
    assert.deepEqual([r.action, r.detail.outcome], ['message_send', 'refused']);
  });

  test('conversation_create: created, existing, refused', async () => {
    const p = await createPatient(), d = await createDoctor(), other = await createDoctor();
    await link(p, d);
    const c = assertOk(await post('/conversations', tokenFor(p), { participantId: d.id }), 201).conversation;
    let r = await last(p.id);
    assert.deepEqual([r.action, r.conv, r.detail.created, r.detail.participantId], ['conversation_create', c.id, true, d.id]);
    assertOk(await post('/conversations', tokenFor(p), { participantId: d.id }), 200);
    r = await last(p.id);
    assert.deepEqual([r.action, r.conv, r.detail.created], ['conversation_create', c.id, false]);
    assertError(await post('/conversations', tokenFor(p), { participantId: other.id }), 403, 'forbidden');
    r = await last(p.id);
    assert.deepEqual([r.action, r.conv, r.detail.outcome, r.detail.code], ['conversation_create', null, 'refused', 'forbidden']);
  });

  test('a log write that fails fails the read: 503, nothing shown', async () => {
    const { patient, conversationId: conv } = await pairWithConversation();
    const name = `audit_fail_${patient.id}`;
    // Refuse this user's rows only (other tests go on meanwhile).
    await q(`ALTER TABLE messaging.audit_log ADD CONSTRAINT ${name} CHECK (user_id IS DISTINCT FROM ${patient.id}) NOT VALID`);
    try {
      const res = await get(`/conversations/${conv}/messages`, tokenFor(patient));
      assertError(res, 503, 'unavailable');
      assert.ok(!res.text.includes('audit'), 'no detail leaks');
      assertError(await get(`/conversations/${conv}`, tokenFor(patient)), 503, 'unavailable');
    } finally {
      await q(`ALTER TABLE messaging.audit_log DROP CONSTRAINT ${name}`);
    }
    assertOk(await get(`/conversations/${conv}/messages`, tokenFor(patient)));
  });

  test('the log refuses UPDATE, DELETE and TRUNCATE', async () => {
    const { rows: [{ id }] } = await q('SELECT max(id) AS id FROM messaging.audit_log');
    await assert.rejects(q('UPDATE messaging.audit_log SET action = $1 WHERE id = $2', ['x', id]), /append-only/);
    await assert.rejects(q('DELETE FROM messaging.audit_log WHERE id = $1', [id]), /append-only/);
    await assert.rejects(q('TRUNCATE messaging.audit_log'), /append-only/);
  });
});

describe('Socket.IO through the gateway', () => {
  test('room_join, message_send, messages_mark_read: via socket, on both instances', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const stranger = await createPatient();
    const p = await connect(WS_URL, tokenFor(patient));
    const d = await connect(WS_URL2, tokenFor(doctor));
    const s = await connect(WS_URL2, tokenFor(stranger));
    assert.equal((await p.request('join_room', { conversationId: conv })).ok, true);
    let r = await last(patient.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome], ['room_join', conv, 'socket', 'ok']);
    assert.equal((await s.request('join_room', { conversationId: conv })).ok, false);
    r = await last(stranger.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.outcome, r.detail.code], ['room_join', conv, 'socket', 'refused', 'not_found']);

    const ack = await p.request('send_message', { conversationId: conv, content: 'par socket' });
    assert.equal(ack.ok, true);
    r = await last(patient.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.messageId], ['message_send', conv, 'socket', ack.message.id]);
    assert.equal((await d.request('mark_as_read', { conversationId: conv })).ok, true);
    r = await last(doctor.id);
    assert.deepEqual([r.action, r.conv, r.via, r.detail.updatedCount], ['messages_mark_read', conv, 'socket', 1]);
    // typing is not an access: no row.
    const n = (await rows(patient.id)).length;
    p.emit('typing_start', { conversationId: conv });
    assert.equal((await p.request('leave_room', { conversationId: conv })).ok, true);
    assert.equal((await rows(patient.id)).length, n);
  });
});
