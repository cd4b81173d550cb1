// Delivery receipts through REST (API.md section 9, sql/041_deliveries.sql):
// a page fetched by the recipient delivers what it holds, cumulatively, in
// the same statement; the room gets messages_delivered on both gateway
// instances; a read message is delivered; nobody outside the conversation
// hears of it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post } from '../lib/http.mjs';
import { assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { connectJoined, QUIET_MS, sleep, WS_URL, WS_URL2 } from '../lib/sio.mjs';

setUp();

const send = async (conv, user, content) =>
  assertOk(await post(`/conversations/${conv}/messages`, tokenFor(user), { content }), 201).message;

describe('deliveredAt and messages_delivered', () => {
  test('the recipient\'s fetch delivers the page, cumulatively; the sender sees it; the room hears it on both instances', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const other = await pairWithConversation();
    const m1 = await send(conv, patient, 'un');
    const m2 = await send(conv, patient, 'deux');
    assert.equal(m1.deliveredAt, null);
    // The sender's own fetch delivers nothing.
    let page = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(patient))).messages;
    assert.deepEqual(page.map((m) => m.deliveredAt), [null, null]);
    const onRoom1 = await connectJoined(WS_URL, tokenFor(patient), [conv]);
    const onRoom2 = await connectJoined(WS_URL2, tokenFor(patient), [conv]);
    const outsider = await connectJoined(WS_URL2, tokenFor(other.patient), [other.conversationId]);
    // The doctor fetches only the newest: m2, and with it m1 (cumulative).
    page = assertOk(await get(`/conversations/${conv}/messages?limit=1`, tokenFor(doctor))).messages;
    assert.equal(page.length, 1);
    assertMessage(page[0], { id: m2.id });
    assert.notEqual(page[0].deliveredAt, null);
    for (const c of [onRoom1, onRoom2]) {
      const d = await c.waitFor('messages_delivered', (x) => x && x.conversationId === conv);
      assert.deepEqual(Object.keys(d).sort(), ['conversationId', 'deliveredAt', 'upToId', 'userId']);
      assert.deepEqual([d.userId, d.upToId], [doctor.id, m2.id]);
      assert.equal(d.deliveredAt, page[0].deliveredAt);
    }
    page = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(patient))).messages;
    assert.ok(page.every((m) => m.deliveredAt !== null), 'the sender sees both delivered');
    // One marker per conversation and recipient, not a write per message.
    const { rows } = await q('SELECT count(*)::int AS n FROM messaging.deliveries WHERE conversation_id = $1', [conv]);
    assert.equal(rows[0].n, 1);
    // Fetching again moves nothing: no second receipt.
    const mark = onRoom1.mark ? onRoom1.mark() : null;
    assertOk(await get(`/conversations/${conv}/messages`, tokenFor(doctor)));
    await sleep(QUIET_MS);
    assert.equal(onRoom1.all('messages_delivered').length, 1, 'no receipt for a fetch that delivers nothing new');
    assert.deepEqual(outsider.all('messages_delivered'), [], 'no receipt outside the conversation');
    void mark;
  });

  test('a read message is delivered', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    await send(conv, doctor, 'à lire');
    assertOk(await post(`/conversations/${conv}/read`, tokenFor(patient)));
    const page = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(doctor))).messages;
    assert.equal(page[0].isRead, true);
    assert.notEqual(page[0].deliveredAt, null);
    const c = assertOk(await get(`/conversations/${conv}`, tokenFor(doctor))).conversation;
    assert.notEqual(c.lastMessage.deliveredAt, null, 'Conversation.lastMessage too');
  });

  test('written to the recipient\'s socket on the other instance: delivered, one coalesced receipt to the room on both', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const other = await pairWithConversation();
    const p = await connectJoined(WS_URL, tokenFor(patient), [conv]);
    const outsider = await connectJoined(WS_URL, tokenFor(other.doctor), [other.conversationId]);
    // Nobody else in the room: the sender's own sockets deliver nothing.
    const alone = (await p.request('send_message', { conversationId: conv, content: 'seul' })).message;
    await p.waitFor('new_message', (d) => d.message.id === alone.id);
    await sleep(QUIET_MS);
    assert.deepEqual(p.all('messages_delivered'), [], 'no recipient in the room: no receipt');
    const d = await connectJoined(WS_URL2, tokenFor(doctor), [conv]);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await p.request('send_message', { conversationId: conv, content: `m${i}` })).message.id);
    const last = ids.at(-1);
    for (const c of [p, d]) {
      const r = await c.waitFor('messages_delivered', (x) => x && x.conversationId === conv && x.upToId === last);
      assert.equal(r.userId, doctor.id);
    }
    await sleep(QUIET_MS);
    const got = p.all('messages_delivered');
    assert.ok(got.length <= 3, `coalesced: ${got.length} receipts for 5 messages`);
    assert.deepEqual(got.map((x) => x.upToId), [...got.map((x) => x.upToId)].sort((a, b) => a - b), 'ascending');
    assert.deepEqual(outsider.all('messages_delivered'), [], 'no receipt outside the conversation');
    // The sender's history says delivered, the first one too (cumulative).
    const page = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(patient))).messages;
    assert.ok(page.every((m) => m.deliveredAt !== null), JSON.stringify(page.map((m) => m.deliveredAt)));
  });
});

