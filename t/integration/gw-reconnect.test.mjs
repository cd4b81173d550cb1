// Gateway: the client's automatic reconnection (issue 5 item 8). A gateway of
// our own ($MSG_GATEWAY_BIN --port N, the stack's configuration) is stopped
// with SIGTERM while clients of every transport setting are connected to it;
// a new one is started on the same port; the clients come back by themselves
// and can join and send again. The stack's second instance watches the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post } from '../lib/http.mjs';
import { assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { setUp } from '../lib/fixtures.mjs';
import {
  Client, QUIET_MS, TRANSPORT_NAMES, connectJoined, freePort, sleep, startGateway, until, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

test('SIGTERM, then a new gateway on the same port: clients of every transport reconnect and work', { timeout: 45000 }, async (t) => {
  const port = await freePort();
  const gw1 = await startGateway(port);
  const watcher = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'watcher (stack gw2)' });
  const clients = [];
  const connects = new Map();
  try {
    for (const transport of TRANSPORT_NAMES) {
      const c = new Client(gw1.url, {
        token: tokenFor(patient), transport, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 400,
        randomizationFactor: 0, label: `${transport} on own gateway`,
      });
      connects.set(c, 0);
      c.socket.on('connect', () => connects.set(c, connects.get(c) + 1));
      await c.ready();
      await c.join(conv);
      clients.push(c);
    }
    for (const c of clients) {
      const ack = await c.request('send_message', { conversationId: conv, content: `avant ${c.label}` });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await watcher.waitFor('new_message', (d) => d.message.id === ack.message.id);
    }

    // SIGTERM: a clean stop, the transports dropped (not a Socket.IO DISCONNECT that forbids reconnecting).
    const exit = await gw1.stop(8000);
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'SIGTERM: exit status 0');
    for (const c of clients) {
      await until(() => c.disconnects.length >= 1, 3000, `${c.label}: disconnect`);
      assert.notEqual(c.disconnects[0].reason, 'io server disconnect',
        `${c.label}: the server sent a Socket.IO DISCONNECT, which stops the client's automatic reconnection`);
      assert.match(c.disconnects[0].reason, /^(transport close|transport error|ping timeout)$/, c.label);
    }
    // Committed while no gateway holds these clients.
    const missed = assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'pendant la coupure' }), 201).message;
    await sleep(300);
    assert.ok(clients.every((c) => !c.connected));

    const gw2 = await startGateway(port);
    for (const c of clients) {
      await until(() => c.connected && connects.get(c) >= 2, 10000, `${c.label}: automatic reconnection`);
      // A new CONNECT: connection_established again.
      await c.waitCount('connection_established', 2, () => true, 2000);
      assert.deepEqual(c.all('connection_established').at(-1), { userId: patient.id, userRole: 'patient' });
    }
    t.diagnostic(`recovered: ${clients.map((c) => `${c.label} ${c.socket.recovered}`).join(', ')}`);
    for (const c of clients) {
      if (c.socket.recovered) {
        // Connection state recovery: the missed message comes, once, without a new join.
        await c.waitFor('new_message', (d) => d.message.id === missed.id, 3000);
      }
      const mark = c.mark();
      await c.join(conv);
      const ack = await c.request('send_message', { conversationId: conv, content: `après ${c.label}` });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await watcher.waitFor('new_message', (d) => d.message.id === ack.message.id);
      await c.waitFor('new_message', (d, e) => c.events.indexOf(e) >= mark && d.message.id === ack.message.id);
    }
    // Messages from the other instance reach the reconnected clients, once.
    const m = assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'bon retour' }), 201).message;
    for (const c of clients) await c.waitFor('new_message', (d) => d.message.id === m.id);
    await sleep(QUIET_MS);
    for (const c of clients) {
      assert.equal(c.all('new_message', (d) => d.message.id === m.id).length, 1, `${c.label}: duplicate`);
      assert.ok(c.all('new_message', (d) => d.message.id === missed.id).length <= 1, `${c.label}: missed message twice`);
      assert.deepEqual(c.all('error'), [], c.label);
    }
  } finally {
    for (const c of clients) c.close();
    watcher.close();
  }
});
