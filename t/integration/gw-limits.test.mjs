// Gateway: limits that protect everyone else (API.md section 8): per-socket
// token buckets for every client event (rate_limited with retryAfterMs, not
// executed), the flood rule (more than 10 times a rate for 5 s: server
// disconnect), ws_max_connections and ws_max_sockets_per_user.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from '../lib/jwt.mjs';
import { countMessages, createPatient, pairWithConversation, setUp } from '../lib/fixtures.mjs';
import {
  Client, assertAckError, assertErrorEvent, configWith, connect, connectJoined, freePort, startGateway, statsUntil, WS_URL,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

/** Sends n events at once (each with an ack); resolves with the acks in sending order. */
function burst(c, n, name, data) {
  const acks = [];
  for (let i = 0; i < n; i++) acks.push(c.request(name, typeof data === 'function' ? data(i) : data));
  return Promise.all(acks);
}

function assertRateLimited(ack) {
  assert.ok(ack && ack.ok === false && ack.error, JSON.stringify(ack));
  assert.deepEqual(Object.keys(ack.error).sort(), ['code', 'message', 'retryAfterMs']);
  assert.equal(ack.error.code, 'rate_limited');
  assert.ok(Number.isInteger(ack.error.retryAfterMs) && ack.error.retryAfterMs > 0, JSON.stringify(ack));
}

describe('token buckets', () => {
  test('typing_start: a burst of 10, then rate_limited with retryAfterMs, and an error event', async () => {
    const c = await connectJoined(WS_URL, tokenFor(patient), conv);
    const acks = await burst(c, 30, 'typing_start', { conversationId: conv });
    // The first ten are the burst; refills at 5/s add at most one while they are sent.
    for (const a of acks.slice(0, 10)) assert.equal(a.ok, true, JSON.stringify(a));
    const refused = acks.filter((a) => !a.ok);
    assert.ok(refused.length >= 18, `${refused.length} refused`);
    for (const a of refused) assertRateLimited(a);
    const err = await c.waitFor('error', (d) => d && d.code === 'rate_limited');
    assertErrorEvent(err, 'rate_limited', 'typing_start');
    // After retryAfterMs, allowed again.
    const wait = refused[refused.length - 1].error.retryAfterMs;
    await new Promise((r) => setTimeout(r, wait + 20));
    assert.equal((await c.request('typing_stop', { conversationId: conv })).ok, true);
    c.close();
  });

  test('send_message: a burst of 60; what is refused is not stored', async () => {
    const { patient: p, conversationId } = await pairWithConversation();
    const c = await connectJoined(WS_URL, tokenFor(p), conversationId);
    const acks = await burst(c, 80, 'send_message', (i) => ({ conversationId, content: `m${i}` }));
    const ok = acks.filter((a) => a.ok);
    assert.ok(ok.length >= 60 && ok.length <= 62, `${ok.length} accepted`);
    for (const a of acks.slice(0, 60)) assert.equal(a.ok, true, JSON.stringify(a));
    for (const a of acks.filter((x) => !x.ok)) assertRateLimited(a);
    assert.equal(await countMessages(conversationId), ok.length);
    c.close();
  });

  test('refresh_token: a burst of 3', async () => {
    const c = await connect(WS_URL, tokenFor(patient));
    const acks = await burst(c, 6, 'refresh_token', () => ({ token: tokenFor(patient) }));
    for (const a of acks.slice(0, 3)) assert.equal(a.ok, true, JSON.stringify(a));
    assert.ok(acks.slice(3).filter((a) => !a.ok).length >= 2);
    for (const a of acks.slice(3).filter((a) => !a.ok)) assertRateLimited(a);
    c.close();
  });

  test('buckets are per socket: another socket of the same user is not limited', async () => {
    const a = await connectJoined(WS_URL, tokenFor(patient), conv);
    const b = await connectJoined(WS_URL, tokenFor(patient), conv);
    await burst(a, 20, 'typing_stop', { conversationId: conv });
    const acks = await burst(b, 10, 'typing_stop', { conversationId: conv });
    for (const x of acks) assert.equal(x.ok, true, JSON.stringify(x));
    a.close(); b.close();
  });
});

describe('flood', () => {
  test('more than 10 times the rate for 5 s: error rate_limited and a server disconnect; others untouched', async () => {
    const { patient: p, doctor: d, conversationId } = await pairWithConversation();
    const flooder = await connectJoined(WS_URL, tokenFor(p), conversationId, { transport: 'websocket' });
    const other = await connectJoined(WS_URL, tokenFor(d), conversationId);
    const t0 = Date.now();
    let done = false;
    flooder.socket.on('disconnect', () => { done = true; });
    // typing_stop at 5/s allowed: 200/s is 40 times that.
    await new Promise((resolve, reject) => {
      const iv = setInterval(() => {
        if (done) { clearInterval(iv); resolve(); return; }
        if (Date.now() - t0 > 9000) { clearInterval(iv); reject(new Error('not disconnected within 9 s')); return; }
        for (let i = 0; i < 4; i++) flooder.emit('typing_stop', { conversationId });
      }, 20);
    });
    const elapsed = Date.now() - t0;
    // The windows start at the socket's first event (its join_room, just before t0).
    assert.ok(elapsed >= 4500 && elapsed <= 7000, `disconnected after ${elapsed} ms`);
    // The server ends it; its last packets may be lost when it closes a
    // connection whose client is still sending (a reset), hence either reason.
    const { reason } = flooder.disconnects[0];
    assert.ok(['io server disconnect', 'transport close'].includes(reason), reason);
    if (reason === 'io server disconnect') assertErrorEvent(flooder.all('error').find((e) => e.event === null), 'rate_limited', null);
    assert.equal(other.connected, true);
    const ack = await other.request('send_message', { conversationId, content: 'still here' });
    assert.equal(ack.ok, true);
    other.close(); flooder.close();
  });
});

describe('connection caps', () => {
  test('ws_max_connections and ws_max_sockets_per_user: one more gets "Too many connections"', async () => {
    const conf = configWith(`limits-${process.pid}`, ['ws_max_connections = 3', 'ws_max_sockets_per_user = 2']);
    const gw = await startGateway(await freePort(), { env: { MESSAGING_CONFIG: conf } });
    try {
      const other = await createPatient();
      const a = await connect(gw.url, tokenFor(patient));
      const b = await connect(gw.url, tokenFor(patient));
      const refusedUser = new Client(gw.url, { token: tokenFor(patient) });
      assert.equal((await refusedUser.refused()).message, 'Too many connections');
      refusedUser.close();
      const c = await connect(gw.url, tokenFor(other));
      const refusedAll = new Client(gw.url, { token: tokenFor(doctor) });
      assert.equal((await refusedAll.refused()).message, 'Too many connections');
      refusedAll.close();
      // A place freed is a place again.
      a.close();
      await statsUntil(gw.url, (st) => st.connections === 2, 3000, 'the closed socket gone');
      const d = await connect(gw.url, tokenFor(doctor));
      assert.ok(d.connected);
      for (const x of [b, c, d]) x.close();
    } finally {
      await gw.stop();
    }
  });
});
