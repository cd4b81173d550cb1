// Gateway: join_room / leave_room, permission refusals, isolation between
// conversations, typing_start / typing_stop and the typing_stop sent on
// behalf of a socket that goes away (API.md section 5).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { post } from '../lib/http.mjs';
import { assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import {
  countMessages, createConversation, createDoctor, createPatient, link, MAX_ID, pairWithConversation, setUp,
} from '../lib/fixtures.mjs';
import {
  ENDPOINTS, QUIET_MS, TRANSPORT_NAMES, connect, connectJoined, expectRefusal, sleep, WS_URL, WS_URL2,
  assertNewMessage,
} from '../lib/sio.mjs';

setUp();

const restSend = async (conv, user, content) =>
  assertOk(await post(`/conversations/${conv}/messages`, tokenFor(user), { content }), 201).message;

const isConv = (id) => (d) => d && d.conversationId === id;

describe('join_room and leave_room', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: acks and events; after leaving, nothing more from the room`, async () => {
      const { patient, doctor, conversationId: conv } = await pairWithConversation();
      for (const [where, url] of Object.entries(ENDPOINTS)) {
        const c = await connect(url, tokenFor(patient), { transport, label: `${transport} ${where}` });
        try {
          // A number...
          assert.deepEqual(await c.request('join_room', { conversationId: conv }), { ok: true, conversationId: conv });
          assert.deepEqual(await c.waitFor('room_joined'), { conversationId: conv });
          const m1 = await restSend(conv, doctor, `dans la salle ${where}`);
          const got = await c.waitFor('new_message', (d) => d && d.message && d.message.id === m1.id);
          assertNewMessage(got, m1, conv);
          // leave_room
          const mark = c.mark();
          assert.deepEqual(await c.request('leave_room', { conversationId: conv }), { ok: true, conversationId: conv });
          assert.deepEqual(await c.waitFor('room_left', (d, e) => c.events.indexOf(e) >= mark), { conversationId: conv });
          const m2 = await restSend(conv, doctor, `hors de la salle ${where}`);
          await sleep(QUIET_MS);
          assert.equal(c.all('new_message', (d) => d.message.id === m2.id).length, 0, 'delivered after leave_room');
          // ...and a decimal string: ack and room_joined carry a number.
          assert.deepEqual(await c.request('join_room', { conversationId: String(conv) }), { ok: true, conversationId: conv });
          await c.waitFor('room_joined', (d, e) => c.events.indexOf(e) > mark);
          const m3 = await restSend(conv, doctor, `de retour ${where}`);
          await c.waitFor('new_message', (d) => d.message.id === m3.id);
          // Joining twice is harmless: still one delivery per message.
          assert.deepEqual(await c.request('join_room', { conversationId: conv }), { ok: true, conversationId: conv });
          const m4 = await restSend(conv, doctor, `une seule fois ${where}`);
          await c.waitFor('new_message', (d) => d.message.id === m4.id);
          await sleep(QUIET_MS);
          assert.equal(c.all('new_message', (d) => d.message.id === m4.id).length, 1, 'joined twice: delivered twice');
          assert.equal(c.all('error').length, 0, `errors: ${JSON.stringify(c.all('error'))}`);
        } finally {
          c.close();
        }
      }
    });
  }

  test('join_room without an ack still emits room_joined', async () => {
    const { patient, conversationId: conv } = await pairWithConversation();
    const c = await connect(WS_URL, tokenFor(patient), { transport: 'websocket' });
    try {
      c.emit('join_room', { conversationId: conv });
      assert.deepEqual(await c.waitFor('room_joined'), { conversationId: conv });
      c.emit('leave_room', { conversationId: conv });
      assert.deepEqual(await c.waitFor('room_left'), { conversationId: conv });
    } finally {
      c.close();
    }
  });
});

describe('permission refusals', () => {
  let patient; let doctor; let conv; let outsider; let otherDoctor;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
    outsider = await createPatient('Out', 'Sider');
    otherDoctor = await createDoctor('Autre', 'Medecin');
    // The outsider is linked to a doctor of the conversation but not in it.
    await link(outsider, doctor);
  });

  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: not a participant → not_found on every event, no room joined, nothing stored`, async () => {
      const insider = await connectJoined(WS_URL2, tokenFor(patient), conv, { transport: 'websocket' });
      const spies = [];
      try {
        for (const [where, url] of Object.entries(ENDPOINTS)) {
          for (const user of [outsider, otherDoctor]) {
            spies.push(await connect(url, tokenFor(user), { transport, label: `${transport} ${where} user ${user.id}` }));
          }
        }
        const stored = await countMessages(conv);
        for (const s of spies) {
          await expectRefusal(s, 'not_found', 'join_room', { conversationId: conv });
          await expectRefusal(s, 'not_found', 'join_room', { conversationId: String(conv) });
          await expectRefusal(s, 'not_found', 'join_room', { conversationId: MAX_ID });
          await expectRefusal(s, 'not_found', 'send_message', { conversationId: conv, content: 'intrusion' });
          await expectRefusal(s, 'not_found', 'mark_as_read', { conversationId: conv });
          await expectRefusal(s, 'not_found', 'typing_start', { conversationId: conv });
          await expectRefusal(s, 'not_found', 'typing_stop', { conversationId: conv });
          assert.equal(s.all('room_joined').length, 0, `${s.label}: room_joined after a refusal`);
        }
        assert.equal(await countMessages(conv), stored, 'a refused send_message stored something');
        // Proof that no refused socket is in the room: a message of the conversation reaches
        // the participant's socket but none of them.
        const m = await restSend(conv, doctor, 'réservé aux participants');
        await insider.waitFor('new_message', (d) => d.message.id === m.id);
        await sleep(QUIET_MS);
        for (const s of spies) {
          assert.deepEqual(s.all('new_message'), [], `${s.label} received a message of a conversation it is not in`);
          assert.deepEqual(s.all('typing_start'), [], `${s.label}`);
        }
        // Their refused typing reached nobody.
        assert.equal(insider.all('typing_start').length + insider.all('typing_stop').length, 0,
          `insider got typing from outsiders: ${JSON.stringify(insider.events.map((e) => e.name))}`);
      } finally {
        insider.close();
        for (const s of spies) s.close();
      }
    });
  }

  test('a conversation that does not exist: not_found for every event', async () => {
    const c = await connect(WS_URL, tokenFor(patient), { transport: 'websocket' });
    try {
      for (const id of [MAX_ID, String(MAX_ID - 1)]) {
        await expectRefusal(c, 'not_found', 'join_room', { conversationId: id });
        await expectRefusal(c, 'not_found', 'send_message', { conversationId: id, content: 'personne' });
        await expectRefusal(c, 'not_found', 'mark_as_read', { conversationId: id });
        await expectRefusal(c, 'not_found', 'typing_start', { conversationId: id });
      }
      // The socket still works.
      await c.join(conv);
    } finally {
      c.close();
    }
  });
});

test('isolation between conversations (two patients of one doctor, split over both instances)', async () => {
  const doctor = await createDoctor('Iso', 'Lation');
  const p1 = await createPatient('Iso', 'Un');
  const p2 = await createPatient('Iso', 'Deux');
  await link(p1, doctor);
  await link(p2, doctor);
  const c1 = await createConversation(p1, doctor);
  const c2 = await createConversation(p2, doctor);
  const s1 = await connectJoined(WS_URL, tokenFor(p1), c1, { transport: 'websocket' });
  const s2 = await connectJoined(WS_URL2, tokenFor(p2), c2, { transport: 'polling' });
  const sd = await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), [c1, c2]);
  try {
    // Messages: REST in c1, socket in c2.
    const m1 = await restSend(c1, doctor, 'pour le patient un');
    const ack = await s2.request('send_message', { conversationId: c2, content: 'du patient deux' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const m2 = ack.message;
    assertNewMessage(await s1.waitFor('new_message', (d) => d.message.id === m1.id), m1, c1);
    assertNewMessage(await sd.waitFor('new_message', (d) => d.message.id === m1.id), m1, c1);
    assertNewMessage(await sd.waitFor('new_message', (d) => d.message.id === m2.id), m2, c2);
    assertNewMessage(await s2.waitFor('new_message', (d) => d.message.id === m2.id), m2, c2);
    // Typing and read receipts.
    s1.emit('typing_start', { conversationId: c1 });
    assert.deepEqual(await sd.waitFor('typing_start'), { conversationId: c1, userId: p1.id });
    // (A read that marks nothing sends no receipt: the doctor writes first.)
    const m3 = await restSend(c2, doctor, 'pour le patient deux');
    await s2.waitFor('new_message', (d) => d.message.id === m3.id);
    await sd.waitFor('new_message', (d) => d.message.id === m3.id);
    const read = await s2.request('mark_as_read', { conversationId: c2 });
    assert.deepEqual(read, { ok: true, updatedCount: 1 });
    await sd.waitFor('messages_read', isConv(c2));
    sd.emit('typing_start', { conversationId: c2 });
    assert.deepEqual(await s2.waitFor('typing_start'), { conversationId: c2, userId: doctor.id });
    await sleep(QUIET_MS);
    assert.deepEqual(s1.all('new_message').map((d) => d.message.id), [m1.id]);
    assert.deepEqual(s2.all('new_message').map((d) => d.message.id), [m2.id, m3.id]);
    assert.deepEqual(s2.all('typing_start'), [{ conversationId: c2, userId: doctor.id }], 's2 saw typing of another conversation');
    assert.deepEqual(s1.all('typing_start'), [], 's1 saw typing of another conversation');
    assert.deepEqual(s1.all('messages_read'), [], 's1 saw a read receipt of another conversation');
    assert.equal(sd.all('new_message').length, 3);
  } finally {
    s1.close();
    s2.close();
    sd.close();
  }
});

describe('typing', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: typing_start / typing_stop reach the room on both instances, not the sending socket`, async () => {
      const { patient, doctor, conversationId: conv } = await pairWithConversation();
      const typist = await connectJoined(WS_URL, tokenFor(patient), conv, { transport, label: 'typist' });
      const twin = await connectJoined(WS_URL2, tokenFor(patient), conv, { transport, label: 'same user, other socket' });
      const d1 = await connectJoined(WS_URL, tokenFor(doctor), conv, { transport, label: 'doctor gw1' });
      const d2 = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport, label: 'doctor gw2' });
      const dn = await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), conv, { transport, label: 'doctor nginx' });
      const others = [twin, d1, d2, dn];
      try {
        const expected = { conversationId: conv, userId: patient.id };
        const ack = await typist.request('typing_start', { conversationId: conv });
        assert.equal(ack && ack.ok, true, `typing_start ack ${JSON.stringify(ack)}`);
        for (const o of others) assert.deepEqual(await o.waitFor('typing_start'), expected, o.label);
        // Without an ack, and with a decimal string.
        typist.emit('typing_stop', { conversationId: String(conv) });
        for (const o of others) assert.deepEqual(await o.waitFor('typing_stop'), expected, o.label);
        // The doctor types: the patient's sockets see it, the doctor's other sockets too.
        d2.emit('typing_start', { conversationId: conv });
        for (const o of [typist, twin, d1, dn]) {
          assert.deepEqual(await o.waitFor('typing_start', (d) => d.userId === doctor.id), { conversationId: conv, userId: doctor.id });
        }
        await sleep(QUIET_MS);
        assert.deepEqual(typist.all('typing_start').map((d) => d.userId), [doctor.id], 'typing echoed to the sending socket');
        assert.deepEqual(typist.all('typing_stop'), []);
        assert.deepEqual(d2.all('typing_start'), [{ conversationId: conv, userId: patient.id }], 'd2 sees its own typing');
        for (const o of others) {
          assert.equal(o.all('typing_start', (d) => d.userId === patient.id).length, 1, `${o.label}: duplicates`);
          assert.equal(o.all('typing_stop').length, 1, `${o.label}: typing_stop count`);
        }
      } finally {
        for (const c of [typist, ...others]) c.close();
      }
    });
  }

  test('a socket that disconnects while typing: typing_stop on its behalf (clean close and dropped transport)', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const w1 = await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket', label: 'watcher gw1' });
    const w2 = await connectJoined(WS_URL2, tokenFor(patient), conv, { transport: 'polling', label: 'watcher gw2' });
    try {
      const expected = { conversationId: conv, userId: doctor.id };
      for (const [how, url, transport] of [
        ['disconnect()', WS_URL, 'websocket'],
        ['transport dropped', WS_URL2, 'websocket'],
        ['polling, disconnect()', WS_URL, 'polling'],
      ]) {
        const m1 = w1.mark();
        const m2 = w2.mark();
        const t = await connectJoined(url, tokenFor(doctor), conv, { transport, label: `typist ${how}` });
        t.emit('typing_start', { conversationId: conv });
        await w1.waitFor('typing_start', (d, e) => w1.events.indexOf(e) >= m1);
        await w2.waitFor('typing_start', (d, e) => w2.events.indexOf(e) >= m2);
        if (how === 'transport dropped') t.socket.io.engine.close();
        else t.close();
        assert.deepEqual(await w1.waitFor('typing_stop', (d, e) => w1.events.indexOf(e) >= m1, 3000), expected, how);
        assert.deepEqual(await w2.waitFor('typing_stop', (d, e) => w2.events.indexOf(e) >= m2, 3000), expected, how);
        t.close();
      }
      // Typing stopped before the disconnect: no second typing_stop. (Let the
      // cases above settle first: a late event of theirs is not this one's.)
      await sleep(QUIET_MS + 300);
      const m1 = w1.mark();
      const t = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket' });
      t.emit('typing_start', { conversationId: conv });
      t.emit('typing_stop', { conversationId: conv });
      await w1.waitFor('typing_stop', (d, e) => w1.events.indexOf(e) >= m1);
      t.close();
      await sleep(QUIET_MS + 300);
      assert.deepEqual(w1.since(m1).map((e) => e.name), ['typing_start', 'typing_stop'], 'typing_stop sent twice');
      // A socket that leaves the room while typing: the others are not left with a typing indicator.
      const m3 = w1.mark();
      const t2 = await connectJoined(WS_URL, tokenFor(doctor), conv, { transport: 'websocket' });
      t2.emit('typing_start', { conversationId: conv });
      await w1.waitFor('typing_start', (d, e) => w1.events.indexOf(e) >= m3);
      await t2.request('leave_room', { conversationId: conv });
      t2.close();
      await w1.waitFor('typing_stop', (d, e) => w1.events.indexOf(e) >= m3, 3000);
      await sleep(QUIET_MS);
      assert.equal(w1.since(m3, 'typing_stop').length, 1, 'exactly one typing_stop after leave + disconnect');
    } finally {
      w1.close();
      w2.close();
    }
  });
});
