// Gateway: bad input and abuse (issue 5, "What bad input gets"): malformed
// event payloads and unknown events get an error event and an ack with the
// contract's code while the socket goes on working; malformed packets close
// that transport only; a flood of events from one client neither stalls the
// others nor grows memory without bound.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, countMessages, pairWithConversation } from '../lib/fixtures.mjs';
import {
  QUIET_MS, TRANSPORT_NAMES, assertAckError, assertErrorEvent, closeAll, connect, connectJoined, expectRefusal, health,
  rawConnect, rssKiB, sleep, stackGatewayPid, stats, WS_URL, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;

before(async () => {
  ({ patient, doctor, conversationId: conv } = await pairWithConversation());
});
after(async () => {
  closeAll();
  await closeDb();
});

describe('malformed payloads', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: wrong payloads and unknown events → error events; the socket still works`, async () => {
      const c = await connect(WS_URL, tokenFor(patient), { transport });
      const w = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket' });
      try {
        const stored = await countMessages(conv);
        await expectRefusal(c, 'invalid_request', 'send_message', 'a string');
        await expectRefusal(c, 'invalid_request', 'send_message', { conversationId: 'abc' });
        await expectRefusal(c, 'invalid_request', 'send_message', { conversationId: conv, content: 42 });
        await expectRefusal(c, 'invalid_request', 'send_message', { conversationId: { id: conv }, content: 'x' });
        await expectRefusal(c, 'invalid_request', 'join_room');
        await expectRefusal(c, 'invalid_request', 'join_room', [conv]);
        await expectRefusal(c, 'invalid_request', 'join_room', { conversationId: `${conv}.0` });
        await expectRefusal(c, 'invalid_request', 'join_room', { conversationId: ` ${conv}` });
        // Unknown event names: invalid_request with the event named.
        for (const name of ['nonsense', 'send-message', 'JOIN_ROOM', 'connection_established', 'error', 'x'.repeat(40)]) {
          await expectRefusal(c, 'invalid_request', name, { conversationId: conv }).catch((err) => {
            err.message = `event ${name.slice(0, 20)}: ${err.message}`;
            throw err;
          });
        }
        // Without an ack, an unknown event still gets an error event.
        const mark = c.mark();
        c.emit('what_is_this', 1, 2, 3);
        assertErrorEvent(await c.waitFor('error', (d, e) => c.events.indexOf(e) >= mark), 'invalid_request', 'what_is_this');
        // Extra arguments before the ack and unknown fields are ignored.
        const ack = await c.request('join_room', { conversationId: conv, extra: { deep: [1, 2] } }, 'more', 3);
        assert.deepEqual(ack, { ok: true, conversationId: conv });
        // The same socket still sends; nothing refused was stored.
        assert.equal(await countMessages(conv), stored);
        const sent = await c.request('send_message', { conversationId: conv, content: `toujours là ${transport}`, unknown: true });
        assert.equal(sent.ok, true, JSON.stringify(sent));
        assert.equal((await w.waitFor('new_message', (d) => d.message.id === sent.message.id)).message.content, `toujours là ${transport}`);
        assert.equal(await countMessages(conv), stored + 1);
        assert.ok(c.connected);
      } finally {
        c.close();
        w.close();
      }
    });
  }

  test('malformed packets close that transport only; the gateway goes on serving', async () => {
    const watcher = await connectJoined(WS_URL, tokenFor(doctor), conv, { transport: 'websocket' });
    try {
      for (const bad of ['42["join_room"', '42{"not":"an array"}', '4z', '42[42]', '9', '43["no ack id"]']) {
        const r = await rawConnect(WS_URL, tokenFor(patient), { label: `raw ${bad}` });
        try {
          r.sendRaw(bad);
          const closed = await r.waitClosed(1000).catch(() => null);
          if (!closed) {
            // Some of these may be ignored rather than fatal: then the connection must still work.
            r.emit('join_room', { conversationId: conv });
            const t0 = Date.now();
            while (!r.all('room_joined').length && !r.closed && Date.now() - t0 < 2000) await sleep(20);
            assert.ok(r.all('room_joined').length === 1 || r.closed, `after ${bad}: neither closed nor working`);
          }
        } finally {
          r.close();
        }
      }
      // An Engine.IO packet over the maximum payload (1 MB).
      const big = await rawConnect(WS_URL, tokenFor(patient));
      try {
        big.sendRaw(`42${JSON.stringify(['send_message', { conversationId: conv, content: 'y'.repeat(1_100_000) }])}`);
        await big.waitClosed(3000);
      } finally {
        big.close();
      }
      assert.equal((await health(WS_URL)).status, 200);
      const ack = await watcher.request('send_message', { conversationId: conv, content: 'après les paquets' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.ok(watcher.connected);
    } finally {
      watcher.close();
    }
  });
});

test('a flood from one client: others served within 1 s, every ack arrives, bounded memory', { timeout: 60000 }, async (t) => {
  const { patient: fp, doctor: fd, conversationId: fconv } = await pairWithConversation();
  const { patient: bp, doctor: bd, conversationId: bconv } = await pairWithConversation();
  const flooder = await connectJoined(WS_URL, tokenFor(fp), fconv, { transport: 'websocket', label: 'flooder' });
  const target = await connectJoined(WS_URL2, tokenFor(fd), fconv, { transport: 'websocket', label: 'flood target gw2' });
  const targetLocal = await connectJoined(WS_URL, tokenFor(fd), fconv, { transport: 'websocket', label: 'flood target gw1' });
  const ba = await connectJoined(WS_URL, tokenFor(bp), bconv, { transport: 'websocket', label: 'bystander a' });
  const bb = await connectJoined(WS_URL, tokenFor(bd), bconv, { transport: 'polling', label: 'bystander b' });
  const pid = stackGatewayPid(0);
  const rss0 = pid ? rssKiB(pid) : null;
  try {
    const N_TYPING = 2000;
    const N_SEND = 300;
    const acks = { typing: [], send: [] };
    const ackPromises = [];
    const ackOf = (list, name, data) => new Promise((resolve) => {
      flooder.socket.timeout(25000).emit(name, data, (err, res) => {
        list.push(err ? { timeout: true } : res);
        resolve();
      });
    });
    // Everything at once, without waiting: the sends spread among the typing events.
    const ops = Array.from({ length: N_TYPING }, () => ['typing_start', { conversationId: fconv }]);
    for (let k = N_SEND - 1; k >= 0; k--) {
      ops.splice(Math.floor((k * N_TYPING) / N_SEND), 0,
        ['send_message', { conversationId: fconv, content: `flood ${k}`, clientId: `flood-${k}` }]);
    }
    for (const [name, data] of ops) ackPromises.push(ackOf(name === 'send_message' ? acks.send : acks.typing, name, data));
    assert.equal(ackPromises.length, N_TYPING + N_SEND);

    // Meanwhile, the bystanders on the same gateway are answered promptly.
    const latencies = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const ack = await ba.requestWithin(3000, 'typing_start', { conversationId: bconv });
      latencies.push(Date.now() - t0);
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await bb.waitCount('typing_start', i + 1, () => true, 1000);
      await sleep(50);
    }
    assert.ok(Math.max(...latencies) < 1000, `bystander acks took ${latencies.join(', ')} ms during the flood`);
    const t1 = Date.now();
    const sent = await ba.requestWithin(5000, 'send_message', { conversationId: bconv, content: 'pendant le déluge' });
    const sendLatency = Date.now() - t1;
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.ok(sendLatency < 2000, `a bystander's send_message took ${sendLatency} ms during the flood`);
    await bb.waitFor('new_message', (d) => d.message.id === sent.message.id);
    assert.equal((await health(WS_URL)).status, 200);

    // Every ack arrives: ok, or refused with rate_limited.
    await Promise.all(ackPromises);
    const timeouts = [...acks.typing, ...acks.send].filter((a) => a && a.timeout).length;
    assert.equal(timeouts, 0, `${timeouts} acks never arrived`);
    for (const a of acks.typing) {
      if (a.ok !== true) assertAckError(a, 'rate_limited');
    }
    const okSends = acks.send.filter((a) => a.ok === true);
    for (const a of acks.send) {
      if (a.ok !== true) assertAckError(a, 'rate_limited');
    }
    assert.ok(okSends.length >= 1, 'not one send_message of the flood was accepted');
    const rateLimited = acks.send.length - okSends.length + acks.typing.filter((a) => a.ok !== true).length;
    // Refusals come with error events {code: rate_limited}.
    if (rateLimited > 0) {
      await flooder.waitFor('error', (d) => d.code === 'rate_limited');
      for (const e of flooder.all('error')) assert.equal(e.code, 'rate_limited', JSON.stringify(e));
    }
    // What was accepted was stored once and delivered once, in order; nothing else was stored.
    const okIds = okSends.map((a) => a.message.id);
    assert.equal(new Set(okIds).size, okIds.length);
    assert.equal(await countMessages(fconv), okIds.length, 'stored messages = accepted sends');
    for (const c of [target, targetLocal, flooder]) {
      await c.waitCount('new_message', okIds.length, () => true, 10000);
    }
    await sleep(QUIET_MS);
    const sorted = [...okIds].sort((a, b) => a - b);
    for (const c of [target, targetLocal, flooder]) {
      assert.deepEqual(c.all('new_message').map((d) => d.message.id), sorted, `${c.label}: accepted messages once, in order`);
    }
    const typingOk = acks.typing.filter((a) => a.ok === true).length;
    t.diagnostic(`flood: typing ok ${typingOk}/${N_TYPING}, send ok ${okIds.length}/${N_SEND}, `
      + `bystander acks ${latencies.join('/')} ms, send ${sendLatency} ms, rss ${rss0} KiB`);
    assert.ok(target.all('typing_start').length <= typingOk, 'more typing events than accepted');
    assert.ok(target.all('typing_start').length >= 1, 'no typing event got through');
    assert.equal(ba.all('new_message').length, 1, 'bystander got messages of another conversation');
    assert.equal(ba.all('typing_start').length, 0, 'bystander got typing of another conversation');

    // The flooder is still connected and served normally.
    assert.ok(flooder.connected);
    const after1 = await flooder.request('send_message', { conversationId: fconv, content: 'calme revenu' });
    assert.equal(after1.ok, true, JSON.stringify(after1));
    // Memory and state stay bounded.
    const s = await stats(WS_URL);
    assert.ok(s.connections >= 4 && s.connections < 100, JSON.stringify(s));
    if (pid) {
      const rss1 = rssKiB(pid);
      assert.ok(rss1 !== null, 'gateway process gone');
      t.diagnostic(`gateway RSS ${rss0} -> ${rss1} KiB`);
      assert.ok(rss1 - rss0 < 150 * 1024, `gateway RSS grew from ${rss0} KiB to ${rss1} KiB during the flood`);
    }
  } finally {
    for (const c of [flooder, target, targetLocal, ba, bb]) c.close();
  }
});
