// Gateway: a client that stops reading (issue 5 item 8, "a slow client").
// A hand-made Socket.IO client over `ws` joins a room, then pauses its TCP
// socket while the room is flooded with long messages through REST. The
// gateway must disconnect it once its send queue is full (ws_send_queue_bytes)
// while every other socket, on both instances, gets every message, and the
// gateway stays healthy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post } from '../lib/http.mjs';
import { assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, setUp } from '../lib/fixtures.mjs';
import {
  QUIET_MS, assertDeliveredOnceInOrder, connectJoined, health, messageIds, rawConnect, sleep, stats, statsUntil,
  WS_URL, WS_URL2,
} from '../lib/sio.mjs';

setUp();

const CONTENT_CHARS = 9000; // ~9.2 KB per new_message frame
// Loopback TCP buffers hold a lot (about 2.7 MB were seen queued in the kernel
// before the gateway's own queue filled), so the flood goes on, up to ~9 MB,
// until /stats shows the slow client gone.
const MAX_MESSAGES = 1000;
const PARALLEL = 8;

test('a client that stops reading is disconnected; the others get everything; /health stays 200', { timeout: 60000 }, async (t) => {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const raw = await rawConnect(WS_URL, tokenFor(patient), { label: 'slow raw client' });
  const others = [
    await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket', label: 'patient gw1 (same user as the slow one)' }),
    await connectJoined(WS_URL, tokenFor(doctor), conv, { transport: 'polling', label: 'doctor gw1 polling' }),
    await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'doctor gw2' }),
  ];
  try {
    // The raw client is a real Socket.IO client: open packet, CONNECT reply with a sid, events.
    assert.equal(typeof raw.open.sid, 'string');
    assert.ok(Number.isInteger(raw.open.pingInterval) && Number.isInteger(raw.open.pingTimeout));
    assert.equal(typeof raw.connected.sid, 'string');
    raw.emit('join_room', { conversationId: conv });
    const t0 = Date.now();
    while (!raw.all('room_joined').length && Date.now() - t0 < 3000) await sleep(20);
    assert.deepEqual(raw.all('room_joined'), [{ conversationId: conv }]);
    assert.deepEqual(raw.all('connection_established'), [{ userId: patient.id, userRole: 'patient' }]);
    // Two sockets of the patient on this instance: the raw one and the socket.io-client one.
    await statsUntil(WS_URL, (s) => s.connectionDetails[patient.id] === 2, 2000, 'two connections of the slow user');

    raw.pause();
    const ids = [];
    let dropped = false;
    let n = 0;
    while (n < MAX_MESSAGES) {
      const batch = await Promise.all(Array.from({ length: PARALLEL }, (_, i) =>
        post(`/conversations/${conv}/messages`, tokenFor(doctor), {
          content: `${String(n + i).padStart(5, '0')} ${'z'.repeat(CONTENT_CHARS)}`,
        })));
      for (const r of batch) ids.push(assertOk(r, 201).message.id);
      n += PARALLEL;
      if (n % (PARALLEL * 4) === 0) {
        const h = await health(WS_URL);
        assert.equal(h.status, 200, `/health during the flood: ${h.status} ${h.text}`);
        const s = await stats(WS_URL);
        if (s.connectionDetails[patient.id] === undefined) {
          dropped = true;
          break;
        }
      }
    }
    // A few more after the drop (or after the maximum): still delivered to the others.
    for (let i = 0; i < 5; i++) {
      ids.push(assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: `après ${i}` }), 201).message.id);
    }
    if (!dropped) {
      await statsUntil(WS_URL, (s) => s.connectionDetails[patient.id] === undefined, 10000,
        `the slow client disconnected (${ids.length} messages of ~${CONTENT_CHARS} bytes sent to it)`);
    }
    const s = await stats(WS_URL);
    assert.equal(s.connectionDetails[patient.id], undefined);

    // Every other socket got every message, once, in order.
    for (const c of others) await c.waitCount('new_message', ids.length, () => true, 15000);
    await sleep(QUIET_MS);
    for (const c of others) {
      assertDeliveredOnceInOrder(messageIds(c, conv), ids, `${c.label}: new_message ids`);
      assert.ok(c.connected, `${c.label} was disconnected`);
    }
    assert.equal((await health(WS_URL)).status, 200);
    assert.equal((await health(WS_URL2)).status, 200);

    // The slow client, reading again, finds its connection closed, short of the whole flood.
    raw.resume();
    await raw.waitClosed(5000);
    const got = raw.all('new_message').length;
    t.diagnostic(`slow client: dropped after ${n} messages (seen by stats: ${dropped}), had read ${got} of ${ids.length}`);
    assert.ok(got < ids.length, `the slow client received all ${got} messages: it was not cut off`);

    // The patient's other socket still works both ways.
    const ack = await others[0].request('send_message', { conversationId: conv, content: 'encore là' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await others[2].waitFor('new_message', (d) => d.message.id === ack.message.id);
  } finally {
    raw.close();
    for (const c of others) c.close();
  }
});
