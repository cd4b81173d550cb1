// Gateway: PostgreSQL restarts while clients stay connected (issue 5 items 3,
// 4 and 8). During the outage the gateway keeps its clients and refuses what
// needs the database with `unavailable`; once the database is back it
// LISTENs again and delivers what was committed meanwhile: every message
// committed around the restart reaches every client once, in order. Named
// gw-zz- so that it runs after the other gateway files and before
// zz-db-restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, pgctl, q, setUp } from '../lib/fixtures.mjs';
import {
  ENDPOINTS, QUIET_MS, assertDeliveredOnceInOrder, connectJoined, expectRefusal, health, messageIds, sleep,
  WS_URL, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

const call = (method, path, token, body) => api(method, path, { token, body, signal: AbortSignal.timeout(5000) });

/** POSTs a message through REST until it is committed (201, or 200 for a retry of the same clientId). */
async function restSendRetrying(user, content, clientId, ms = 15000) {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < ms) {
    try {
      const r = await call('POST', `/conversations/${conv}/messages`, tokenFor(user), { content, clientId });
      if (r.status === 201 || r.status === 200) return r.json.message;
      last = `${r.status} ${r.text.slice(0, 200)}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`REST send "${content}" not committed within ${ms} ms (last: ${last})`);
}

/** send_message through a socket until accepted, retrying while the gateway says unavailable. */
async function socketSendRetrying(c, content, clientId, ms = 15000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await c.request('send_message', { conversationId: conv, content, clientId });
    if (last && last.ok) return last.message;
    assert.equal(last.error.code, 'unavailable', `retrying send_message: ${JSON.stringify(last)}`);
    await sleep(200);
  }
  throw new Error(`socket send "${content}" not accepted within ${ms} ms (last: ${JSON.stringify(last)})`);
}

test('PostgreSQL stopped and started: clients kept, unavailable meanwhile, nothing committed lost or doubled', { timeout: 90000 }, async () => {
  // Clients that may reconnect by themselves (a recovered session keeps its rooms and missed events).
  const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
  const clients = [
    await connectJoined(WS_URL, tokenFor(patient), conv, { ...opts, transport: 'websocket', label: 'patient gw1 websocket' }),
    await connectJoined(WS_URL2, tokenFor(doctor), conv, { ...opts, transport: 'polling', label: 'doctor gw2 polling' }),
    await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), conv, { ...opts, label: 'doctor nginx default' }),
    await connectJoined(WS_URL2, tokenFor(patient), conv, { ...opts, transport: 'websocket', label: 'patient gw2 websocket' }),
  ];
  /** Connected now, and any reconnection was a recovered session. */
  const assertKept = (c) => {
    assert.ok(c.connected, `${c.label} is not connected (disconnects: ${JSON.stringify(c.disconnects)})`);
    if (c.disconnects.length) {
      assert.equal(c.socket.recovered, true,
        `${c.label} was disconnected (${JSON.stringify(c.disconnects)}) and came back without its session`);
    }
  };
  const [pGw1, dGw2] = clients;
  try {
    const ids = [];
    const first = await socketSendRetrying(pGw1, 'avant la panne', 'pg-0', 3000);
    ids.push(first.id);
    for (const c of clients) await c.waitFor('new_message', (d) => d.message.id === first.id);

    await closeDb(); // our pool would only hold broken connections
    await pgctl('stop');
    const downAt = Date.now();
    try {
      await sleep(300);
      // What needs the database is refused with unavailable, promptly, on both instances.
      for (const c of [pGw1, dGw2]) {
        const t0 = Date.now();
        await expectRefusal(c, 'unavailable', 'send_message', { conversationId: conv, content: 'pendant la panne', clientId: 'pg-down' });
        assert.ok(Date.now() - t0 < 5000, `${c.label}: unavailable took ${Date.now() - t0} ms`);
        await expectRefusal(c, 'unavailable', 'mark_as_read', { conversationId: conv });
      }
      // The gateway still answers its monitoring (not stalled), whatever /health says.
      const h = await health(WS_URL, 3000);
      assert.ok(h.status === 200 || h.status === 503, `/health while the database is down: ${h.status}`);
      await sleep(Math.max(0, 1500 - (Date.now() - downAt)));
    } finally {
      await pgctl('start');
    }

    // Right after the start, while the gateways may still be reconnecting their LISTEN:
    // REST messages (retried until committed) and socket messages (retried while unavailable).
    const after_ = [];
    for (let i = 0; i < 8; i++) {
      after_.push(restSendRetrying(i % 2 ? patient : doctor, `après la reprise ${i}`, `pg-rest-${i}`));
    }
    for (const m of await Promise.all(after_)) ids.push(m.id);
    ids.push((await socketSendRetrying(dGw2, 'par socket après', 'pg-sock-1')).id);
    ids.push((await socketSendRetrying(pGw1, 'par socket après 2', 'pg-sock-2')).id);
    // Some more a moment later.
    await sleep(500);
    for (let i = 0; i < 4; i++) ids.push((await restSendRetrying(doctor, `plus tard ${i}`, `pg-late-${i}`)).id);

    // The message refused during the outage was not stored.
    const { rows } = await q('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND content = $2', [conv, 'pendant la panne']);
    assert.equal(rows[0].n, 0);
    const { rows: all } = await q('SELECT id FROM messages WHERE conversation_id = $1 ORDER BY id', [conv]);
    assert.deepEqual(all.map((r) => Number(r.id)), [...ids].sort((a, b) => a - b), 'stored messages');

    // Every client: every committed message, once, in id order.
    for (const c of clients) await c.waitCount('new_message', ids.length, () => true, 15000);
    await sleep(QUIET_MS + 300);
    for (const c of clients) {
      assertDeliveredOnceInOrder(messageIds(c, conv), ids, `${c.label}: new_message ids`);
      assertKept(c);
    }
    // Full service: read receipts, joins, typing.
    const read = await dGw2.request('mark_as_read', { conversationId: conv });
    assert.equal(read.ok, true, JSON.stringify(read));
    for (const c of clients) await c.waitFor('messages_read', (d) => d.userId === doctor.id, 3000);
    assert.equal((await health(WS_URL)).status, 200);
    assert.equal((await health(WS_URL2)).status, 200);
  } finally {
    for (const c of clients) c.close();
  }
});
