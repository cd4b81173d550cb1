// Gateway: bad input and abuse (issue 5, "What bad input gets"): malformed
// event payloads and unknown events get an error event and an ack with the
// contract's code while the socket goes on working; malformed packets close
// that transport only; a flood of events from one client neither stalls the
// others nor grows memory without bound.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tokenFor } from '../lib/jwt.mjs';
import { countMessages, pairWithConversation, setUp } from '../lib/fixtures.mjs';
import {
  QUIET_MS, TRANSPORT_NAMES, assertAckError, assertErrorEvent, connect, connectJoined, expectRefusal, health,
  rawConnect, rssKiB, sleep, stackGatewayPid, stats, WS_URL, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

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

// The flooding client runs in a process of its own, so that the bystanders'
// latencies measure the gateway, not this process's event loop busy with the
// flooder's thousands of packets. It connects, joins, prints READY, waits for
// GO on stdin, fires everything without waiting, collects every ack (25 s
// each at most), waits for the broadcasts of what was accepted, sends once
// more, and prints one JSON line.
const FLOODER = `
import { io } from 'socket.io-client';
const [url, token, convS, nTypingS, nSendS] = process.argv.slice(-5);
const conv = Number(convS); const N_TYPING = Number(nTypingS); const N_SEND = Number(nSendS);
const s = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 3000 });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const newIds = []; const errors = []; let disconnected = null;
s.onAny((name, d) => { if (name === 'new_message') newIds.push(d.message.id); if (name === 'error') errors.push(d); });
s.on('disconnect', (r) => { disconnected = r; });
s.on('connect_error', (e) => { out({ fatal: 'connect_error ' + e.message }); process.exit(1); });
const ackOf = (name, data) => new Promise((resolve) => {
  s.timeout(25000).emit(name, data, (err, res) => resolve(err ? { timeout: true } : res));
});
s.on('connect', async () => {
  const j = await ackOf('join_room', { conversationId: conv });
  if (!j || !j.ok) { out({ fatal: 'join ' + JSON.stringify(j) }); process.exit(1); }
  out({ ready: true });
  process.stdin.once('data', async () => {
    const ops = Array.from({ length: N_TYPING }, () => ['typing_start', { conversationId: conv }]);
    for (let k = N_SEND - 1; k >= 0; k--) {
      ops.splice(Math.floor((k * N_TYPING) / N_SEND), 0,
        ['send_message', { conversationId: conv, content: 'flood ' + k, clientId: 'flood-' + k }]);
    }
    const kinds = ops.map(([name]) => name);
    const acks = await Promise.all(ops.map(([name, data]) => ackOf(name, data)));
    // A summary (the acks of refusals grouped by their JSON), small enough for one line.
    const summary = (list) => {
      const bad = {};
      for (const a of list.filter((x) => !(x && x.ok === true))) { const k = JSON.stringify(a); bad[k] = (bad[k] || 0) + 1; }
      return { total: list.length, okAcks: list.filter((x) => x && x.ok === true), bad };
    };
    const typing = summary(acks.filter((a, i) => kinds[i] === 'typing_start'));
    const send = summary(acks.filter((a, i) => kinds[i] === 'send_message'));
    typing.okAcks = typing.okAcks.length;
    const okSends = send.okAcks.length;
    send.okIds = send.okAcks.map((a) => a.message && a.message.id);
    delete send.okAcks;
    const t0 = Date.now();
    while (newIds.length < okSends && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const after = await ackOf('send_message', { conversationId: conv, content: 'calme revenu' });
    const errorCounts = {};
    for (const e of errors) { const k = JSON.stringify(e); errorCounts[k] = (errorCounts[k] || 0) + 1; }
    const line = JSON.stringify({ typing, send, newIds, errorCounts, disconnected, after }) + '\\n';
    s.disconnect();
    process.stdout.write(line, () => process.exit(0));
  });
});
`;

/** Starts the flooder process; resolves {go(), result (promise of its JSON), kill()} once it has joined. */
function startFlooder(url, token, conv, nTyping, nSend) {
  const tDir = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, '--', url, token, String(conv), String(nTyping), String(nSend)],
    { cwd: tDir, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  const lines = [];
  const waiters = [];
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  child.stderr.on('data', (d) => { stderr += d; });
  let closed = false; // stdout drained and the process gone
  child.on('close', () => { closed = true; for (const w of waiters.splice(0)) w(); });
  const nextLine = async (ms) => {
    const t0 = Date.now();
    while (!lines.length) {
      if (closed) throw new Error(`flooder exited (${child.exitCode}): ${stderr.slice(0, 1000)}`);
      if (Date.now() - t0 > ms) throw new Error(`flooder: nothing within ${ms} ms: ${stderr.slice(0, 1000)}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
    }
    const l = lines.shift();
    if (l.fatal) throw new Error(`flooder: ${l.fatal}`);
    return l;
  };
  return nextLine(5000).then((l) => {
    assert.deepEqual(l, { ready: true });
    return {
      go: () => child.stdin.write('GO\n'),
      result: () => nextLine(45000),
      kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
    };
  });
}

test('a flood from one client: others served within 1 s, every ack arrives, bounded memory', { timeout: 60000 }, async (t) => {
  const { patient: fp, doctor: fd, conversationId: fconv } = await pairWithConversation();
  const { patient: bp, doctor: bd, conversationId: bconv } = await pairWithConversation();
  const N_TYPING = 2000;
  const N_SEND = 300;
  const flooder = await startFlooder(WS_URL, tokenFor(fp), fconv, N_TYPING, N_SEND);
  const target = await connectJoined(WS_URL2, tokenFor(fd), fconv, { transport: 'websocket', label: 'flood target gw2' });
  const targetLocal = await connectJoined(WS_URL, tokenFor(fd), fconv, { transport: 'websocket', label: 'flood target gw1' });
  const ba = await connectJoined(WS_URL, tokenFor(bp), bconv, { transport: 'websocket', label: 'bystander a' });
  const bb = await connectJoined(WS_URL, tokenFor(bd), bconv, { transport: 'polling', label: 'bystander b' });
  const pid = stackGatewayPid(0);
  const rss0 = pid ? rssKiB(pid) : null;
  try {
    flooder.go();
    // Let the first packets of the flood reach the gateway.
    await sleep(30);
    // Meanwhile, the bystanders on the same gateway are answered promptly.
    const latencies = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const ack = await ba.requestWithin(3000, 'typing_start', { conversationId: bconv });
      latencies.push(Date.now() - t0);
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await bb.waitCount('typing_start', i + 1, () => true, 1000);
      // A repeated typing_start is not broadcast again (API.md section 8): stop first.
      assert.equal((await ba.requestWithin(3000, 'typing_stop', { conversationId: bconv })).ok, true);
      await bb.waitCount('typing_stop', i + 1, () => true, 1000);
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
    const r = await flooder.result();
    assert.equal(r.typing.total, N_TYPING);
    assert.equal(r.send.total, N_SEND);
    const refusals = { ...r.typing.bad };
    for (const [k, n] of Object.entries(r.send.bad)) refusals[k] = (refusals[k] || 0) + n;
    for (const k of Object.keys(refusals)) {
      const a = JSON.parse(k);
      assert.ok(!a.timeout, `${refusals[k]} acks never arrived`);
      assertAckError(a, 'rate_limited');
    }
    const okIds = r.send.okIds;
    assert.ok(okIds.length >= 1, 'not one send_message of the flood was accepted');
    const refused = Object.values(refusals).reduce((x, y) => x + y, 0);
    assert.equal(r.typing.okAcks + okIds.length + refused, N_TYPING + N_SEND);
    // Each refusal came with an error event {code: rate_limited}, and nothing else failed.
    let errorEvents = 0;
    for (const [k, n] of Object.entries(r.errorCounts)) {
      const e = JSON.parse(k);
      assertErrorEvent(e, 'rate_limited', e.event);
      assert.ok(['typing_start', 'send_message'].includes(e.event), k);
      errorEvents += n;
    }
    assert.equal(errorEvents, refused, `error events ${errorEvents}, refused acks ${refused}`);
    // What was accepted was stored once and delivered once, in order; nothing else was stored.
    const sorted = [...okIds].sort((a, b) => a - b);
    assert.equal(new Set(okIds).size, okIds.length);
    assert.equal(r.after.ok, true, JSON.stringify(r.after));
    assert.equal(await countMessages(fconv), okIds.length + 1, 'stored messages = accepted sends (+ the last one)');
    assert.deepEqual(r.newIds.slice(0, okIds.length), sorted, 'flooder: accepted messages once, in order');
    for (const c of [target, targetLocal]) {
      await c.waitCount('new_message', okIds.length + 1, () => true, 10000);
    }
    await sleep(QUIET_MS);
    for (const c of [target, targetLocal]) {
      assert.deepEqual(c.all('new_message').map((d) => d.message.id), [...sorted, r.after.message.id],
        `${c.label}: accepted messages once, in order`);
    }
    const typingOk = r.typing.okAcks;
    t.diagnostic(`flood: typing ok ${typingOk}/${N_TYPING}, send ok ${okIds.length}/${N_SEND}, `
      + `bystander acks ${latencies.join('/')} ms, send ${sendLatency} ms`);
    assert.ok(target.all('typing_start').length <= typingOk, 'more typing events than accepted');
    assert.ok(target.all('typing_start').length >= 1, 'no typing event got through');
    assert.equal(ba.all('new_message').length, 1, 'bystander got messages of another conversation');
    assert.equal(ba.all('typing_start').length, 0, 'bystander got typing of another conversation');

    // The flooder stayed connected and is served normally.
    assert.equal(r.disconnected, null, `flooder disconnected: ${r.disconnected}`);
    // Memory and state stay bounded.
    const s = await stats(WS_URL);
    assert.ok(s.connections >= 3 && s.connections < 100, JSON.stringify(s));
    if (pid) {
      const rss1 = rssKiB(pid);
      assert.ok(rss1 !== null, 'gateway process gone');
      t.diagnostic(`gateway RSS ${rss0} -> ${rss1} KiB`);
      assert.ok(rss1 - rss0 < 150 * 1024, `gateway RSS grew from ${rss0} KiB to ${rss1} KiB during the flood`);
    }
  } finally {
    flooder.kill();
    for (const c of [target, targetLocal, ba, bb]) c.close();
  }
});
