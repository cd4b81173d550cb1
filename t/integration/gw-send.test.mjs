// Gateway: send_message and mark_as_read over Socket.IO (API.md section 5),
// with the same rules as the REST POSTs: the ack, the broadcast to every
// socket of the room on both instances (the sender's included), validation
// refusals that store nothing, a closed conversation (conflict), the
// clientId retry, and long messages.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post } from '../lib/http.mjs';
import { assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import {
  countMessages, createConversation, createDoctor, createPatient, link, pairWithConversation, q, setUp,
} from '../lib/fixtures.mjs';
import {
  ENDPOINTS, QUIET_MS, TRANSPORT_NAMES, assertErrorEvent, connect, connectJoined, expectRefusal, sleep, WS_URL,
  WS_URL2, assertNewMessage,
} from '../lib/sio.mjs';

setUp();

const byId = (id) => (d) => d && d.message && d.message.id === id;

/** An ok send_message ack: {ok: true, message}; returns the message. */
function ackMessage(ack, expected) {
  assert.ok(ack && typeof ack === 'object', `ack ${JSON.stringify(ack)}`);
  assert.deepEqual(Object.keys(ack).sort(), ['message', 'ok'], `ack keys: ${JSON.stringify(ack)}`);
  assert.equal(ack.ok, true);
  assertMessage(ack.message, expected);
  return ack.message;
}

describe('send_message and mark_as_read', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: ack, new_message to every socket of the room on both instances, read receipts`, async () => {
      const { patient, doctor, conversationId: conv } = await pairWithConversation();
      const sender = await connectJoined(WS_URL, tokenFor(patient), conv, { transport, label: 'patient gw1' });
      const twin = await connectJoined(ENDPOINTS.nginx, tokenFor(patient), conv, { transport, label: 'patient nginx' });
      const d2 = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport, label: 'doctor gw2' });
      const d1 = await connectJoined(WS_URL, tokenFor(doctor), conv, { transport, label: 'doctor gw1' });
      const all = [sender, twin, d1, d2];
      try {
        const t0 = Date.now();
        const m1 = ackMessage(await sender.request('send_message', { conversationId: conv, content: `Bonjour 🙂 ${transport}` }),
          { conversationId: conv, senderId: patient.id, content: `Bonjour 🙂 ${transport}`, isRead: false, clientId: null });
        assert.ok(Math.abs(Date.parse(m1.sentAt) - t0) < 60000, `sentAt ${m1.sentAt}`);
        for (const c of all) assertNewMessage(await c.waitFor('new_message', byId(m1.id)), m1, conv, c.label);
        // Stored before broadcast: the REST history has it.
        const hist = assertOk(await get(`/conversations/${conv}/messages`, tokenFor(doctor))).messages;
        // ... delivered by that very fetch of its recipient (API.md section 9).
        assert.deepEqual({ ...hist.at(-1), deliveredAt: null }, m1);
        assert.notEqual(hist.at(-1).deliveredAt, null, 'fetched by its recipient: delivered');
        // With a clientId and a decimal-string conversationId, from the other instance.
        const m2 = ackMessage(await d2.request('send_message', { conversationId: String(conv), content: 'Réponse', clientId: `c-${transport}` }),
          { conversationId: conv, senderId: doctor.id, content: 'Réponse', clientId: `c-${transport}` });
        assert.ok(m2.id > m1.id);
        for (const c of all) assertNewMessage(await c.waitFor('new_message', byId(m2.id)), m2, conv, c.label);
        // Without an ack: still stored and broadcast.
        d1.emit('send_message', { conversationId: conv, content: 'sans accusé' });
        const m3 = (await sender.waitFor('new_message', (d) => d.message.content === 'sans accusé')).message;
        assertMessage(m3, { senderId: doctor.id, conversationId: conv });
        for (const c of all) await c.waitFor('new_message', byId(m3.id));

        // mark_as_read by the patient: the doctor's two messages.
        const read = await twin.request('mark_as_read', { conversationId: conv });
        assert.deepEqual(read, { ok: true, updatedCount: 2 });
        const receipt = { conversationId: conv, userId: patient.id, updatedCount: 2 };
        for (const c of all) assert.deepEqual(await c.waitFor('messages_read'), receipt, c.label);
        const again = await sender.request('mark_as_read', { conversationId: String(conv) });
        assert.deepEqual(again, { ok: true, updatedCount: 0 });
        const { rows } = await q('SELECT id, is_read FROM messages WHERE conversation_id = $1 ORDER BY id', [conv]);
        assert.deepEqual(rows.map((r) => [Number(r.id), r.is_read]), [[m1.id, false], [m2.id, true], [m3.id, true]]);

        // Each socket got each message once, in id order; no error anywhere.
        await sleep(QUIET_MS);
        for (const c of all) {
          assert.deepEqual(c.all('new_message').map((d) => d.message.id), [m1.id, m2.id, m3.id], `${c.label}: new_message`);
          // The read that marked nothing sent no receipt (API.md section 8).
          assert.deepEqual(c.all('messages_read'), [receipt], `${c.label}: messages_read`);
          assert.deepEqual(c.all('error'), [], `${c.label}: errors`);
        }
      } finally {
        for (const c of all) c.close();
      }
    });
  }

  test('a socket not in the room can send (participant) but receives nothing; the room gets it', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const outside = await connect(WS_URL, tokenFor(patient), { transport: 'websocket' });
    const inside = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket' });
    try {
      const m = ackMessage(await outside.request('send_message', { conversationId: conv, content: 'sans rejoindre' }),
        { senderId: patient.id, conversationId: conv });
      await inside.waitFor('new_message', byId(m.id));
      await sleep(QUIET_MS);
      assert.deepEqual(outside.all('new_message'), []);
    } finally {
      outside.close();
      inside.close();
    }
  });
});

describe('refusals store nothing', () => {
  let patient; let doctor; let conv;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  });

  for (const transport of ['websocket', 'polling']) {
    test(`${transport}: invalid send_message payloads → invalid_request (ack and error event)`, async () => {
      const c = await connectJoined(WS_URL, tokenFor(patient), conv, { transport });
      const watcher = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket' });
      try {
        const before_ = await countMessages(conv);
        const cases = [
          ['empty content', { conversationId: conv, content: '' }],
          ['blank content', { conversationId: conv, content: ' \t\n\u00a0\u2003' }],
          ['10001 characters', { conversationId: conv, content: 'x'.repeat(10001) }],
          ['10001 code points of 4 bytes', { conversationId: conv, content: '😀'.repeat(10001) }],
          ['content a number', { conversationId: conv, content: 42 }],
          ['content null', { conversationId: conv, content: null }],
          ['content an object', { conversationId: conv, content: { text: 'x' } }],
          ['no content', { conversationId: conv }],
          ['NUL in content', { conversationId: conv, content: 'a\u0000b' }],
          ['no conversationId', { content: 'sans conversation' }],
          ['conversationId "abc"', { conversationId: 'abc', content: 'x' }],
          ['conversationId 0', { conversationId: 0, content: 'x' }],
          ['conversationId -1', { conversationId: -1, content: 'x' }],
          ['conversationId 1.5', { conversationId: 1.5, content: 'x' }],
          ['conversationId "12abc"', { conversationId: `${conv}abc`, content: 'x' }],
          ['conversationId too big', { conversationId: 2147483648, content: 'x' }],
          ['conversationId null', { conversationId: null, content: 'x' }],
          ['conversationId an array', { conversationId: [conv], content: 'x' }],
          ['clientId empty', { conversationId: conv, content: 'x', clientId: '' }],
          ['clientId 65 characters', { conversationId: conv, content: 'x', clientId: 'k'.repeat(65) }],
          ['clientId a number', { conversationId: conv, content: 'x', clientId: 7 }],
        ];
        for (const [what, data] of cases) {
          await expectRefusal(c, 'invalid_request', 'send_message', data).catch((err) => {
            err.message = `${what}: ${err.message}`;
            throw err;
          });
        }
        // Payloads that are not an object at all.
        for (const data of ['a string', 42, null, [conv, 'x'], true]) {
          await expectRefusal(c, 'invalid_request', 'send_message', data).catch((err) => {
            err.message = `payload ${JSON.stringify(data)}: ${err.message}`;
            throw err;
          });
        }
        assert.equal(await countMessages(conv), before_, 'a refused send_message stored something');
        await sleep(QUIET_MS);
        assert.deepEqual(c.all('new_message'), []);
        assert.deepEqual(watcher.all('new_message'), []);
        // Limits are code points: 10000 characters of 4 bytes are accepted; the socket still works.
        const long = '😀'.repeat(10000);
        const m = ackMessage(await c.request('send_message', { conversationId: conv, content: long }), { content: long });
        assert.equal((await watcher.waitFor('new_message', byId(m.id))).message.content, long);
        assert.equal(await countMessages(conv), before_ + 1);
      } finally {
        c.close();
        watcher.close();
      }
    });
  }

  test('invalid join_room / leave_room / mark_as_read / typing payloads → invalid_request', async () => {
    const c = await connect(WS_URL, tokenFor(patient), { transport: 'websocket' });
    try {
      for (const event of ['join_room', 'leave_room', 'mark_as_read', 'typing_start', 'typing_stop']) {
        for (const data of [{}, { conversationId: 'abc' }, { conversationId: 0 }, { conversationId: -3 }, 'text', null, 12]) {
          await expectRefusal(c, 'invalid_request', event, data).catch((err) => {
            err.message = `${event} ${JSON.stringify(data)}: ${err.message}`;
            throw err;
          });
        }
      }
      assert.deepEqual(c.all('room_joined'), []);
      assert.deepEqual(c.all('room_left'), []);
      await c.join(conv);
    } finally {
      c.close();
    }
  });

  test('closed conversation: send_message → conflict, nothing stored; join and mark_as_read still work', async () => {
    const p = await createPatient('Clo', 'Sed');
    const d = await createDoctor('Clo', 'Sed');
    await link(p, d);
    const closed = await createConversation(p, d, 'closed');
    const c = await connectJoined(WS_URL, tokenFor(p), closed, { transport: 'websocket' });
    const w = await connectJoined(WS_URL2, tokenFor(d), closed, { transport: 'polling' });
    try {
      await expectRefusal(c, 'conflict', 'send_message', { conversationId: closed, content: 'trop tard' });
      await expectRefusal(w, 'conflict', 'send_message', { conversationId: closed, content: 'trop tard', clientId: 'x1' });
      assert.equal(await countMessages(closed), 0);
      assert.deepEqual(await c.request('mark_as_read', { conversationId: closed }), { ok: true, updatedCount: 0 });
      await sleep(QUIET_MS);
      assert.deepEqual(w.all('new_message'), []);
    } finally {
      c.close();
      w.close();
    }
  });

  test('an error event without an ack: {message, code, event}', async () => {
    const c = await connect(WS_URL2, tokenFor(patient), { transport: 'polling' });
    try {
      c.emit('send_message', { conversationId: conv, content: '   ' });
      assertErrorEvent(await c.waitFor('error'), 'invalid_request', 'send_message');
      c.emit('join_room', { conversationId: 'nope' });
      assertErrorEvent(await c.waitFor('error', (d) => d.event === 'join_room'), 'invalid_request', 'join_room');
    } finally {
      c.close();
    }
  });
});

describe('clientId', () => {
  for (const transport of ['websocket', 'polling']) {
    test(`${transport}: a repeated clientId gives back the first message, stores nothing, broadcasts once`, async () => {
      const { patient, doctor, conversationId: conv } = await pairWithConversation();
      const s = await connectJoined(WS_URL, tokenFor(patient), conv, { transport });
      const r = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport });
      try {
        const data = { conversationId: conv, content: 'une seule fois', clientId: 'retry-1' };
        const first = ackMessage(await s.request('send_message', data), { clientId: 'retry-1', content: 'une seule fois' });
        await r.waitFor('new_message', byId(first.id));
        const second = ackMessage(await s.request('send_message', data), {});
        // The first message again (delivered by now, perhaps: deliveredAt may be set).
        assertNewMessage({ message: second, conversationId: conv }, first, conv, 'a repeated clientId');
        // Same clientId, other content (a retry that differs): still the first message.
        const third = ackMessage(await s.request('send_message', { ...data, content: 'autre' }), {});
        assert.equal(third.id, first.id);
        // Through REST too: 200 with the same message.
        const rest = await post(`/conversations/${conv}/messages`, tokenFor(patient), data);
        assertNewMessage({ message: assertOk(rest, 200).message, conversationId: conv }, first, conv, 'a repeat through REST');
        // Retried in parallel: one message.
        const para = await Promise.all([1, 2, 3].map(() => s.request('send_message', { ...data, clientId: 'retry-2' })));
        const ids = new Set(para.map((a) => ackMessage(a, { clientId: 'retry-2' }).id));
        assert.equal(ids.size, 1, `parallel retries gave ${[...ids]}`);
        // The other participant's identical clientId is its own message.
        const other = ackMessage(await r.request('send_message', data), { senderId: doctor.id, clientId: 'retry-1' });
        assert.notEqual(other.id, first.id);
        assert.equal(await countMessages(conv), 3);
        await sleep(QUIET_MS + 200);
        const expectIds = [first.id, [...ids][0], other.id];
        for (const c of [s, r]) {
          assert.deepEqual(c.all('new_message').map((d) => d.message.id), expectIds, `${c.label}: each message broadcast once`);
        }
      } finally {
        s.close();
        r.close();
      }
    });
  }
});

test('a 9000-character message sent through the socket arrives whole on both instances', async () => {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const s = await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket' });
  const r1 = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'polling' });
  const r2 = await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), conv);
  try {
    for (const content of ['A'.repeat(4500) + 'B'.repeat(4500), 'é'.repeat(9000), '€'.repeat(3000)]) {
      const m = ackMessage(await s.request('send_message', { conversationId: conv, content }), { content });
      for (const c of [s, r1, r2]) {
        const got = await c.waitFor('new_message', byId(m.id));
        assert.equal(got.message.content.length, content.length, c.label);
        assert.equal(got.message.content, content, c.label);
        assertNewMessage(got, m, conv);
      }
    }
  } finally {
    s.close();
    r1.close();
    r2.close();
  }
});
