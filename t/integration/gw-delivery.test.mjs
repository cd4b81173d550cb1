// Gateway: delivery through PostgreSQL (API.md section 5 "Delivery"):
// messages and read receipts created through REST reach the room's sockets
// on both gateway instances and through nginx, whole even over NOTIFY's
// 8000 bytes, in ascending message id order, each exactly once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { post } from '../lib/http.mjs';
import { assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, setUp } from '../lib/fixtures.mjs';
import {
  DELIVERY_MS, ENDPOINTS, QUIET_MS, TRANSPORT_NAMES, assertDeliveredOnceInOrder, connectJoined, messageIds, sleep,
  WS_URL, WS_URL2, assertNewMessage,
} from '../lib/sio.mjs';

setUp();

const byId = (id) => (d) => d && d.message && d.message.id === id;
const restSend = (conv, user, body) => post(`/conversations/${conv}/messages`, tokenFor(user), body);

/** Sockets of both participants: patient on gw1 and gw2, doctor through nginx. */
async function roomOf(conv, patient, doctor, transport) {
  return [
    await connectJoined(WS_URL, tokenFor(patient), conv, { transport, label: `${transport} patient gw1` }),
    await connectJoined(WS_URL2, tokenFor(patient), conv, { transport, label: `${transport} patient gw2` }),
    await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), conv, { transport, label: `${transport} doctor nginx` }),
  ];
}

describe('REST to socket', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: POST messages → new_message, POST read → messages_read, on both instances`, async () => {
      const { patient, doctor, conversationId: conv } = await pairWithConversation();
      const clients = await roomOf(conv, patient, doctor, transport);
      try {
        const t0 = Date.now();
        const m1 = assertOk(await restSend(conv, doctor, { content: `Par REST ${transport}`, clientId: 'rest-1' }), 201).message;
        for (const c of clients) {
          assertNewMessage(await c.waitFor('new_message', byId(m1.id), DELIVERY_MS), m1, conv, c.label);
        }
        const lag = Date.now() - t0;
        assert.ok(lag < DELIVERY_MS, `delivered in ${lag} ms`);
        // A retry with the same clientId (200) broadcasts nothing.
        assertNewMessage({ message: assertOk(await restSend(conv, doctor, { content: `Par REST ${transport}`, clientId: 'rest-1' }), 200).message, conversationId: conv }, m1, conv, 'a clientId replay');
        const m2 = assertOk(await restSend(conv, patient, { content: 'Merci' }), 201).message;
        for (const c of clients) await c.waitFor('new_message', byId(m2.id));
        // Read receipt through REST.
        const read = assertOk(await post(`/conversations/${conv}/read`, tokenFor(patient)));
        assert.deepEqual(read, { conversationId: conv, updatedCount: 1 });
        for (const c of clients) {
          assert.deepEqual(await c.waitFor('messages_read'), { conversationId: conv, userId: patient.id, updatedCount: 1 }, c.label);
        }
        // The doctor reads: nothing unread from the patient's side but m2.
        assert.deepEqual(assertOk(await post(`/conversations/${conv}/read`, tokenFor(doctor))), { conversationId: conv, updatedCount: 1 });
        for (const c of clients) {
          await c.waitFor('messages_read', (d) => d.userId === doctor.id);
        }
        await sleep(QUIET_MS);
        for (const c of clients) {
          assert.deepEqual(messageIds(c, conv), [m1.id, m2.id], `${c.label}: each once`);
          assert.deepEqual(c.all('messages_read').map((d) => d.userId), [patient.id, doctor.id], c.label);
          assert.deepEqual(c.all('error'), []);
        }
      } finally {
        for (const c of clients) c.close();
      }
    });
  }

  test('messages over 8000 bytes arrive whole on both instances', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const clients = await roomOf(conv, patient, doctor, 'websocket');
    clients.push(await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'polling', label: 'polling doctor gw2' }));
    try {
      const contents = [
        'x'.repeat(9000), // 9000 bytes
        '€'.repeat(2700), // 8100 bytes
        `${'é'.repeat(4500)}fin`, // 9003 bytes
        '😀'.repeat(10000), // 40000 bytes, the longest allowed
        `"quotes" \\ and\nnewlines\t${'<>&'.repeat(3000)}`,
      ];
      const sent = [];
      for (const content of contents) {
        const m = assertOk(await restSend(conv, patient, { content }), 201).message;
        assert.equal(m.content, content);
        sent.push(m);
      }
      for (const c of clients) {
        for (const m of sent) {
          const got = await c.waitFor('new_message', byId(m.id));
          assert.equal(got.message.content.length, m.content.length, `${c.label}: length`);
          assertNewMessage(got, m, conv, c.label);
        }
      }
      await sleep(QUIET_MS);
      for (const c of clients) assert.deepEqual(messageIds(c, conv), sent.map((m) => m.id), `${c.label}: each once, in order`);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe('ordering', () => {
  test('50 messages POSTed quickly (10 at a time): ascending id order, each exactly once, everywhere', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const clients = [];
    for (const transport of TRANSPORT_NAMES) clients.push(...await roomOf(conv, patient, doctor, transport));
    try {
      const ids = [];
      for (let batch = 0; batch < 5; batch++) {
        const res = await Promise.all(Array.from({ length: 10 }, (_, i) =>
          restSend(conv, i % 2 ? doctor : patient, { content: `ordre ${batch * 10 + i}` })));
        for (const r of res) ids.push(assertOk(r, 201).message.id);
      }
      assert.equal(new Set(ids).size, 50);
      for (const c of clients) await c.waitCount('new_message', 50, () => true, 5000);
      await sleep(QUIET_MS);
      for (const c of clients) assertDeliveredOnceInOrder(messageIds(c, conv), ids, `${c.label}: new_message ids`);
    } finally {
      for (const c of clients) c.close();
    }
  });

  test('REST and socket senders on both instances at once: one order, each message once', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const clients = await roomOf(conv, patient, doctor, 'websocket');
    const sp = await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket', label: 'sender gw1' });
    const sd = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'polling', label: 'sender gw2' });
    clients.push(sp, sd);
    try {
      const jobs = [];
      for (let i = 0; i < 20; i++) {
        jobs.push(restSend(conv, doctor, { content: `rest ${i}` }).then((r) => assertOk(r, 201).message.id));
        jobs.push(sp.request('send_message', { conversationId: conv, content: `gw1 ${i}` }).then((a) => {
          assert.equal(a.ok, true, JSON.stringify(a));
          return a.message.id;
        }));
        jobs.push(sd.request('send_message', { conversationId: conv, content: `gw2 ${i}` }).then((a) => {
          assert.equal(a.ok, true, JSON.stringify(a));
          return a.message.id;
        }));
      }
      const ids = await Promise.all(jobs);
      assert.equal(new Set(ids).size, 60);
      for (const c of clients) await c.waitCount('new_message', 60, () => true, 5000);
      await sleep(QUIET_MS);
      for (const c of clients) assertDeliveredOnceInOrder(messageIds(c, conv), ids, `${c.label}: new_message ids`);
    } finally {
      for (const c of clients) c.close();
    }
  });
});
