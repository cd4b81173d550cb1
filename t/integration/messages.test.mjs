// Messages (API.md section 4): sending and its rules, clientId idempotency,
// 409 on a conversation that is not active, history pages and cursors,
// mark-as-read and unread counts.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post, raw } from '../lib/http.mjs';
import { assertError, assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import {
  countMessages, createConversation, createDoctor, createPatient, link, MAX_ID, pairWithConversation, q, setUp,
} from '../lib/fixtures.mjs';

setUp();

const send = (conv, user, body) => post(`/conversations/${conv}/messages`, tokenFor(user), body);

describe('POST /conversations/:id/messages', () => {
  let patient; let doctor; let conv; let stranger;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
    stranger = await createDoctor('Sté', 'Ranger');
  });

  test('201 {message} with the full shape, stored as sent, and the conversation touched', async () => {
    await q("UPDATE conversations SET last_message_at = '2001-01-01T00:00:00Z', updated_at = '2001-01-01T00:00:00Z' WHERE id = $1", [conv]);
    const t0 = Date.now();
    const res = await send(conv, patient, { content: '  Bonjour docteur, j\'ai 38,5 °C.\n' });
    const body = assertOk(res, 201);
    assert.deepEqual(Object.keys(body), ['message']);
    const m = body.message;
    assertMessage(m, {
      conversationId: conv, senderId: patient.id, content: '  Bonjour docteur, j\'ai 38,5 °C.\n', isRead: false, clientId: null,
    });
    assert.ok(Math.abs(Date.parse(m.sentAt) - t0) < 60000, `sentAt ${m.sentAt}`);
    const { rows } = await q('SELECT id, conversation_id, sender_id, content, is_read FROM messages WHERE conversation_id = $1', [conv]);
    assert.deepEqual(rows, [{ id: m.id, conversation_id: conv, sender_id: patient.id, content: m.content, is_read: false }]);
    const { rows: c } = await q('SELECT last_message_at, updated_at FROM conversations WHERE id = $1', [conv]);
    assert.ok(c[0].last_message_at > new Date('2001-01-02'), 'last_message_at not updated');
    assert.ok(c[0].updated_at > new Date('2001-01-02'), 'updated_at not updated');
    assert.ok(Math.abs(c[0].last_message_at.getTime() - Date.parse(m.sentAt)) < 5000, 'last_message_at is not the send time');
    const conversation = assertOk(await get(`/conversations/${conv}`, tokenFor(patient))).conversation;
    assert.deepEqual(conversation.lastMessage, m);
    assert.ok(Date.parse(conversation.lastMessageAt) >= Date.parse(m.sentAt) - 1);
  });

  test('the doctor can answer', async () => {
    const m = assertOk(await send(conv, doctor, { content: 'Reposez-vous.' }), 201).message;
    assertMessage(m, { senderId: doctor.id, conversationId: conv, content: 'Reposez-vous.' });
  });

  test('blank content (any Unicode white space) -> 400, nothing stored', async () => {
    const n0 = await countMessages(conv);
    // U+FEFF and U+0085 are left out: JavaScript's trim() and Unicode White_Space disagree on them.
    for (const content of ['', ' ', '   ', '\n\t\r', '\u00a0\u3000', '\u2003\u2009\u202f', '\u2028\u2029', '\u1680\u205f\u000b\u000c']) {
      assertError(await send(conv, patient, { content }), 400, 'invalid_request');
    }
    assert.equal(await countMessages(conv), n0);
  });

  test('content that is not a string, missing, or contains NUL -> 400', async () => {
    const n0 = await countMessages(conv);
    for (const body of [{}, { content: null }, { content: 42 }, { content: true }, { content: ['a'] }, { content: { text: 'a' } },
      { content: 'a\u0000b' }, { content: '\u0000' }, { text: 'hello' }]) {
      assertError(await send(conv, patient, body), 400, 'invalid_request');
    }
    assert.equal(await countMessages(conv), n0);
  });

  test('a JSON escape of a lone surrogate (not encodable in UTF-8) -> 400, not silently replaced', async () => {
    const n0 = await countMessages(conv);
    for (const body of ['{"content":"abc\\ud800def"}', '{"content":"\\udc00"}', '{"content":"ok","clientId":"\\ud83d"}']) {
      const res = await raw('POST', `/conversations/${conv}/messages`, {
        headers: { authorization: `Bearer ${tokenFor(patient)}`, 'content-type': 'application/json' },
        body,
      });
      assertError(res, 400, 'invalid_request');
    }
    assert.equal(await countMessages(conv), n0);
  });

  test('10,000 code points (multi-byte ones included) are accepted; 10,001 are refused', async () => {
    // 10,000 code points: 20,000 UTF-16 units and 40,000 UTF-8 bytes.
    const emoji = '😀'.repeat(10000);
    const m1 = assertOk(await send(conv, patient, { content: emoji }), 201).message;
    assert.equal(m1.content, emoji);
    const mixed = 'é'.repeat(3000) + '€'.repeat(3000) + '𝄞'.repeat(2000) + 'a'.repeat(2000);
    assert.equal([...mixed].length, 10000);
    assert.equal(assertOk(await send(conv, patient, { content: mixed }), 201).message.content, mixed);
    const { rows } = await q('SELECT content FROM messages WHERE id = $1', [m1.id]);
    assert.equal(rows[0].content, emoji);
    const n0 = await countMessages(conv);
    assertError(await send(conv, patient, { content: 'a'.repeat(10001) }), 400, 'invalid_request');
    assertError(await send(conv, patient, { content: 'é'.repeat(10001) }), 400, 'invalid_request');
    assertError(await send(conv, patient, { content: '😀'.repeat(10001) }), 400, 'invalid_request');
    assert.equal(await countMessages(conv), n0);
  });

  test('404 for a conversation of other users or one that does not exist; nothing stored', async () => {
    const n0 = await countMessages(conv);
    assertError(await send(conv, stranger, { content: 'intrus' }), 404, 'not_found');
    assertError(await send(MAX_ID, patient, { content: 'nulle part' }), 404, 'not_found');
    assert.equal(await countMessages(conv), n0);
  });

  test('409 conflict when the conversation is not active; nothing stored, last_message_at unchanged', async () => {
    const p = await createPatient('Close', 'Patient');
    const d = await createDoctor('Close', 'Docteur');
    await link(p, d);
    const id = await createConversation(p, d);
    assertOk(await send(id, p, { content: 'avant', clientId: 'before-close' }), 201);
    await q("UPDATE conversations SET status = 'closed', last_message_at = '2002-02-02T00:00:00Z' WHERE id = $1", [id]);
    assertError(await send(id, p, { content: 'après' }), 409, 'conflict');
    assertError(await send(id, d, { content: 'après', clientId: 'x1' }), 409, 'conflict');
    await q("UPDATE conversations SET status = 'archived' WHERE id = $1", [id]);
    assertError(await send(id, d, { content: 'archivée' }), 409, 'conflict');
    assert.equal(await countMessages(id), 1);
    const { rows } = await q('SELECT last_message_at FROM conversations WHERE id = $1', [id]);
    assert.equal(rows[0].last_message_at.toISOString(), '2002-02-02T00:00:00.000Z');
    // Reading it is still allowed.
    const page = assertOk(await get(`/conversations/${id}/messages`, tokenFor(d)));
    assert.equal(page.messages.length, 1);
    await q("UPDATE conversations SET status = 'active' WHERE id = $1", [id]);
    assertOk(await send(id, d, { content: 'réouverte' }), 201);
  });
});

describe('clientId idempotency', () => {
  let patient; let doctor; let conv;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  });

  test('the same clientId twice: 201 then 200 with the first message; one row', async () => {
    const first = assertOk(await send(conv, patient, { content: 'une fois', clientId: 'msg-001' }), 201).message;
    assertMessage(first, { clientId: 'msg-001', content: 'une fois', senderId: patient.id });
    const again = await send(conv, patient, { content: 'une fois', clientId: 'msg-001' });
    assert.deepEqual(assertOk(again, 200), { message: first });
    // Even with different content, the first message comes back.
    const changed = await send(conv, patient, { content: 'autre chose', clientId: 'msg-001' });
    assert.deepEqual(assertOk(changed, 200), { message: first });
    const { rows } = await q('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND sender_id = $2', [conv, patient.id]);
    assert.equal(rows[0].n, 1);
  });

  test('the key is per sender: the other participant with the same clientId gets a new message', async () => {
    const m = assertOk(await send(conv, doctor, { content: 'réponse', clientId: 'msg-001' }), 201).message;
    assertMessage(m, { senderId: doctor.id, clientId: 'msg-001', content: 'réponse' });
  });

  test('the key is per conversation', async () => {
    const d2 = await createDoctor('Second', 'Médecin');
    await link(patient, d2);
    const conv2 = await createConversation(patient, d2);
    const m = assertOk(await send(conv2, patient, { content: 'ailleurs', clientId: 'msg-001' }), 201).message;
    assertMessage(m, { conversationId: conv2, clientId: 'msg-001' });
  });

  test('two identical requests at the same instant: one 201, one 200, one row', async () => {
    for (let round = 0; round < 5; round++) {
      const clientId = `race-${round}-${Date.now()}`;
      const body = { content: `course ${round}`, clientId };
      const [a, b] = await Promise.all([send(conv, patient, body), send(conv, patient, body)]);
      assert.deepEqual([a.status, b.status].sort(), [200, 201], `round ${round}: ${a.status} ${a.text} / ${b.status} ${b.text}`);
      assert.deepEqual(a.json.message, b.json.message);
      const { rows } = await q('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND client_id = $2', [conv, clientId]);
      assert.equal(rows[0].n, 1, `round ${round}: rows stored`);
    }
  });

  test('clientId length and type: 1..64 code points; 65 or empty or non-string -> 400', async () => {
    const k64 = 'k'.repeat(64);
    assertMessage(assertOk(await send(conv, patient, { content: 'k64', clientId: k64 }), 201).message, { clientId: k64 });
    const e64 = 'é'.repeat(63) + '😀';
    assertMessage(assertOk(await send(conv, patient, { content: 'é64', clientId: e64 }), 201).message, { clientId: e64 });
    assertMessage(assertOk(await send(conv, patient, { content: 'k1', clientId: 'k' }), 201).message, { clientId: 'k' });
    const n0 = await countMessages(conv);
    for (const clientId of ['k'.repeat(65), 'é'.repeat(65), '', 42, true, ['a'], { a: 1 }, 'a\u0000b']) {
      assertError(await send(conv, patient, { content: 'refusé', clientId }), 400, 'invalid_request');
    }
    assert.equal(await countMessages(conv), n0);
  });

  test('clientId null is the same as none', async () => {
    const a = assertOk(await send(conv, patient, { content: 'sans clé', clientId: null }), 201).message;
    const b = assertOk(await send(conv, patient, { content: 'sans clé', clientId: null }), 201).message;
    assert.equal(a.clientId, null);
    assert.notEqual(a.id, b.id);
  });
});

describe('GET /conversations/:id/messages', () => {
  let patient; let doctor; let conv; let ids = []; let otherConv;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
    // 120 messages through the API, alternating senders.
    ids = [];
    for (let i = 0; i < 120; i++) {
      const sender = i % 2 === 0 ? patient : doctor;
      ids.push(assertOk(await send(conv, sender, { content: `m${i}` }), 201).message.id);
    }
    // Another conversation's messages interleaved must never show up.
    const p = await createPatient('Other', 'Conv');
    await link(p, doctor);
    otherConv = await createConversation(p, doctor);
    for (let i = 0; i < 3; i++) assertOk(await send(otherConv, p, { content: `other${i}` }), 201);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1]);
  });

  const page = async (qs = '', user = patient) => {
    const body = assertOk(await get(`/conversations/${conv}/messages${qs}`, tokenFor(user)));
    assert.deepEqual(Object.keys(body).sort(), ['hasMore', 'messages']);
    assert.equal(typeof body.hasMore, 'boolean');
    for (const m of body.messages) assertMessage(m, { conversationId: conv });
    return { ids: body.messages.map((m) => m.id), hasMore: body.hasMore, messages: body.messages };
  };

  test('no cursor: the newest 50 in ascending order, hasMore', async () => {
    const p = await page();
    assert.deepEqual(p.ids, ids.slice(70));
    assert.equal(p.hasMore, true);
    assert.deepEqual(p.messages.map((m) => m.content), ids.slice(70).map((_, i) => `m${70 + i}`));
    assert.equal(p.messages[0].senderId, patient.id); // m70: even
    assert.equal(p.messages[1].senderId, doctor.id);
  });
  test('the other participant sees the same page', async () => {
    assert.deepEqual((await page('', doctor)).ids, ids.slice(70));
  });
  test('limit', async () => {
    const p1 = await page('?limit=1');
    assert.deepEqual(p1.ids, ids.slice(119));
    assert.equal(p1.hasMore, true);
    assert.equal(p1.messages[0].content, 'm119');
    const p100 = await page('?limit=100');
    assert.deepEqual(p100.ids, ids.slice(20));
    assert.equal(p100.hasMore, true);
  });
  test('before: the newest limit older than the cursor; hasMore towards older', async () => {
    let p = await page(`?before=${ids[70]}`);
    assert.deepEqual(p.ids, ids.slice(20, 70));
    assert.equal(p.hasMore, true);
    p = await page(`?before=${ids[20]}`);
    assert.deepEqual(p.ids, ids.slice(0, 20));
    assert.equal(p.hasMore, false);
    p = await page(`?before=${ids[50]}&limit=50`);
    assert.deepEqual(p.ids, ids.slice(0, 50));
    assert.equal(p.hasMore, false, 'exactly limit older messages: no more');
    p = await page(`?before=${ids[51]}&limit=50`);
    assert.deepEqual(p.ids, ids.slice(1, 51));
    assert.equal(p.hasMore, true);
    p = await page(`?before=${ids[0]}`);
    assert.deepEqual(p.ids, []);
    assert.equal(p.hasMore, false);
    p = await page(`?before=${ids[119] + 1000}&limit=3`);
    assert.deepEqual(p.ids, ids.slice(117));
  });
  test('after: the oldest limit newer than the cursor; hasMore towards newer', async () => {
    let p = await page(`?after=${ids[0] - 1}`);
    assert.deepEqual(p.ids, ids.slice(0, 50));
    assert.equal(p.hasMore, true);
    p = await page(`?after=${ids[69]}`);
    assert.deepEqual(p.ids, ids.slice(70, 120));
    assert.equal(p.hasMore, false, 'exactly limit newer messages: no more');
    p = await page(`?after=${ids[68]}`);
    assert.deepEqual(p.ids, ids.slice(69, 119));
    assert.equal(p.hasMore, true);
    p = await page(`?after=${ids[100]}&limit=5`);
    assert.deepEqual(p.ids, ids.slice(101, 106));
    assert.equal(p.hasMore, true);
    p = await page(`?after=${ids[119]}`);
    assert.deepEqual(p.ids, []);
    assert.equal(p.hasMore, false);
  });
  test('a cursor walk backwards visits every message once', async () => {
    const seen = [];
    let p = await page('?limit=30');
    seen.unshift(...p.ids);
    while (p.hasMore) {
      p = await page(`?limit=30&before=${seen[0]}`);
      seen.unshift(...p.ids);
    }
    assert.deepEqual(seen, ids);
  });
  test('bad parameters -> 400', async () => {
    const tok = tokenFor(patient);
    for (const qs of ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', `before=${ids[50]}&after=${ids[10]}`,
      'before=abc', 'after=abc', 'before=-1', 'after=-5', 'after=1.5']) {
      assertError(await get(`/conversations/${conv}/messages?${qs}`, tok), 400, 'invalid_request');
    }
  });
  test('an empty conversation: [] and no more', async () => {
    const { patient: p, conversationId } = await pairWithConversation();
    const body = assertOk(await get(`/conversations/${conversationId}/messages`, tokenFor(p)));
    assert.deepEqual(body, { messages: [], hasMore: false });
  });
  test('404 for a non-participant', async () => {
    const stranger = await createPatient('Not', 'Participant');
    assertError(await get(`/conversations/${conv}/messages`, tokenFor(stranger)), 404, 'not_found');
  });
});

describe('POST /conversations/:id/read and GET /unread-count', () => {
  let patient; let doctor; let conv; let conv2; let d2;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
    d2 = await createDoctor('Deux', 'Ième');
    await link(patient, d2);
    conv2 = await createConversation(patient, d2);
  });

  const readPath = (id) => `/conversations/${id}/read`;

  test('unread-count of a user with nothing unread: {total: 0, byConversation: {}}', async () => {
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(patient))), { total: 0, byConversation: {} });
  });

  test('counts only what the other side sent, only non-zero entries, keys are string ids', async () => {
    for (let i = 0; i < 3; i++) assertOk(await send(conv, doctor, { content: `d${i}` }), 201);
    for (let i = 0; i < 2; i++) assertOk(await send(conv, patient, { content: `p${i}` }), 201);
    assertOk(await send(conv2, patient, { content: 'seulement moi' }), 201);
    const res = await get('/unread-count', tokenFor(patient));
    const body = assertOk(res);
    assert.deepEqual(body, { total: 3, byConversation: { [String(conv)]: 3 } });
    assert.match(res.text, new RegExp(`"${conv}"\\s*:\\s*3`));
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(doctor))), { total: 2, byConversation: { [String(conv)]: 2 } });
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(d2))), { total: 1, byConversation: { [String(conv2)]: 1 } });
  });

  test('read with no body: {conversationId, updatedCount}; only the other side\'s messages', async () => {
    const res = await raw('POST', readPath(conv), { headers: { authorization: `Bearer ${tokenFor(patient)}` } });
    assert.deepEqual(assertOk(res), { conversationId: conv, updatedCount: 3 });
    const { rows } = await q('SELECT sender_id, is_read FROM messages WHERE conversation_id = $1 ORDER BY id', [conv]);
    assert.deepEqual(rows.map((r) => [r.sender_id, r.is_read]), [
      [doctor.id, true], [doctor.id, true], [doctor.id, true], [patient.id, false], [patient.id, false]]);
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(patient))), { total: 0, byConversation: {} });
    const page = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(patient)));
    assert.deepEqual(page.messages.map((m) => m.isRead), [true, true, true, false, false]);
    // Again: nothing left.
    assert.deepEqual(assertOk(await post(readPath(conv), tokenFor(patient))), { conversationId: conv, updatedCount: 0 });
    // The doctor still has 2 unread.
    const conversation = assertOk(await get(`/conversations/${conv}`, tokenFor(doctor))).conversation;
    assert.equal(conversation.unreadCount, 2);
  });

  test('read with {} and with unknown fields', async () => {
    assertOk(await send(conv, patient, { content: 'p2' }), 201);
    assert.deepEqual(assertOk(await post(readPath(conv), tokenFor(doctor), {})), { conversationId: conv, updatedCount: 3 });
    assert.deepEqual(assertOk(await post(readPath(conv), tokenFor(doctor), { foo: 1 })), { conversationId: conv, updatedCount: 0 });
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(doctor))), { total: 0, byConversation: {} });
  });

  test('read with a body that breaks the body rules: 400, 415, 413, and nothing marked', async () => {
    assertOk(await send(conv, doctor, { content: 'non lu' }), 201);
    const tok = tokenFor(patient);
    const h = (ct) => ({ authorization: `Bearer ${tok}`, 'content-type': ct });
    assertError(await raw('POST', readPath(conv), { headers: h('application/json'), body: 'hello' }), 400, 'invalid_request');
    assertError(await raw('POST', readPath(conv), { headers: h('application/json'), body: '[1]' }), 400, 'invalid_request');
    assertError(await raw('POST', readPath(conv), { headers: h('text/plain'), body: 'hello' }), 415, 'unsupported_media_type');
    assertError(await raw('POST', readPath(conv), { headers: h('application/json'), body: `{"a":"${'x'.repeat(70000)}"}` }),
      413, 'payload_too_large');
    assert.deepEqual(assertOk(await get('/unread-count', tok)), { total: 1, byConversation: { [String(conv)]: 1 } });
  });

  test('404 for a non-participant or an unknown conversation; nothing marked', async () => {
    const stranger = await createDoctor('Pas', 'Là');
    assertError(await post(readPath(conv), tokenFor(stranger)), 404, 'not_found');
    assertError(await post(readPath(MAX_ID), tokenFor(patient)), 404, 'not_found');
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(patient))), { total: 1, byConversation: { [String(conv)]: 1 } });
  });

  test('several conversations add up in total', async () => {
    assertOk(await send(conv2, d2, { content: 'a' }), 201);
    assertOk(await send(conv2, d2, { content: 'b' }), 201);
    assert.deepEqual(assertOk(await get('/unread-count', tokenFor(patient))),
      { total: 3, byConversation: { [String(conv)]: 1, [String(conv2)]: 2 } });
  });
});
