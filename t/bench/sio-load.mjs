#!/usr/bin/env node
// Socket.IO load for `make bench`, on the raw protocol (Engine.IO v4 over
// WebSocket, Socket.IO v5) with `ws`, so that one process holds thousands of
// sockets cheaply. Loopback only; every loop is bounded in count and time.
//
//   node sio-load.mjs connect --url ws://127.0.0.1:P --users users.txt --n 19000 --pid GATEWAY_PID [--hold 10]
//   node sio-load.mjs fanout  --url ws://127.0.0.1:P --pairs pairs.txt --rates 500,1000,... [--duration 5]
//
// users.txt: "token conversationId" per line. pairs.txt: "patientToken doctorToken conversationId".
// Prints one JSON line of results on stdout.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const args = Object.fromEntries(process.argv.slice(3).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const mode = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const url = (args.url || '').replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';
if (!/^ws:\/\/(127\.|localhost|\[::1\])/.test(url)) { console.error('loopback only'); process.exit(2); }

/** One Socket.IO client: connects, answers pings, emits with acks, calls onEvent. */
function client(token, onEvent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const acks = new Map();
    let nextAck = 1, done = false;
    const c = {
      ws,
      emit(ev, data) {
        return new Promise((res) => { const id = nextAck++; acks.set(id, res); ws.send(`42${id}${JSON.stringify([ev, data])}`); });
      },
      close() { try { ws.terminate(); } catch { /* closing anyway */ } },
    };
    const timer = setTimeout(() => { if (!done) { done = true; ws.terminate(); reject(new Error('connect timeout')); } }, 30000);
    ws.on('message', (buf) => {
      const s = buf.toString();
      if (s === '2') { ws.send('3'); return; }
      if (s[0] === '0') { ws.send(`40${JSON.stringify({ token })}`); return; }
      if (s.startsWith('40')) { if (!done) { done = true; clearTimeout(timer); resolve(c); } return; }
      if (s.startsWith('44')) { if (!done) { done = true; clearTimeout(timer); reject(new Error(s)); } return; }
      if (s.startsWith('43')) {
        const m = /^43(\d+)(.*)$/s.exec(s);
        const res = m && acks.get(Number(m[1]));
        if (res) { acks.delete(Number(m[1])); res(JSON.parse(m[2])[0]); }
        return;
      }
      if (s.startsWith('42') && onEvent) { const a = JSON.parse(s.slice(2)); onEvent(a[0], a[1]); }
    });
    ws.on('error', (e) => { if (!done) { done = true; clearTimeout(timer); reject(e); } });
  });
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ------------------------------------------------------------------ connect
async function connectShard(lines, concurrency = 200) {
  const socks = [];
  let errors = 0, i = 0;
  async function worker() {
    while (i < lines.length) {
      const [token, conv] = lines[i++].split(' ');
      try {
        const c = await client(token);
        const ack = await c.emit('join_room', { conversationId: Number(conv) });
        if (!ack || !ack.ok) errors++;
        socks.push(c);
      } catch { errors++; }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { socks, errors };
}

if (mode === 'shard') {
  // A child of `connect`: gets its share, holds it until told to stop.
  const lines = await new Promise((r) => process.once('message', r));
  const { socks, errors } = await connectShard(lines);
  process.send({ joined: socks.length, errors });
  process.on('message', () => { socks.forEach((s) => s.close()); process.exit(0); });
} else if (mode === 'connect') {
  const all = readFileSync(args.users, 'utf8').trim().split('\n');
  const n = Number(args.n || 1000), pid = Number(args.pid), hold = Number(args.hold || 10);
  const lines = Array.from({ length: n }, (_, k) => all[k % all.length]);
  await sleep(1000);
  const base = rssKiB(pid);
  // The descriptor limit is per process: 9,000 sockets per child.
  const per = 9000, kids = [];
  const t0 = Date.now();
  for (let k = 0; k < lines.length; k += per) {
    const ch = fork(fileURLToPath(import.meta.url), ['shard', '--url', args.url]);
    ch.send(lines.slice(k, k + per));
    kids.push(ch);
  }
  const results = await Promise.all(kids.map((ch) => new Promise((r) => ch.once('message', r))));
  const connectSecs = (Date.now() - t0) / 1000;
  const joined = results.reduce((a, r) => a + r.joined, 0), errors = results.reduce((a, r) => a + r.errors, 0);
  const samples = [];
  for (let s = 0; s < hold; s++) { await sleep(1000); samples.push(rssKiB(pid)); }
  samples.sort((a, b) => a - b);
  const held = samples[Math.floor(samples.length / 2)];
  kids.forEach((ch) => ch.send('stop'));
  await Promise.all(kids.map((ch) => new Promise((r) => ch.once('exit', r))));
  console.log(JSON.stringify({ mode, asked: n, joined, errors, connect_s: connectSecs, rss_base_kib: base, rss_held_kib: held,
    kib_per_conn: joined ? Number(((held - base) / joined).toFixed(2)) : null }));
} else if (mode === 'fanout') {
  // Patients send, their doctors (in the same rooms) receive: the rate each
  // step sustains, latency send -> new_message at the other participant.
  const pairs = readFileSync(args.pairs, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const duration = Number(args.duration || 5), rates = String(args.rates || '500,1000').split(',').map(Number);
  const pending = new Map();
  const lat = [];
  let received = 0, dup = 0;
  const seen = new Set();
  const onEvent = (ev, d) => {
    if (ev !== 'new_message') return;
    const id = d.message.id;
    if (seen.has(id)) { dup++; return; }
    seen.add(id);
    const t = pending.get(d.message.content);
    if (t !== undefined) { lat.push(performance.now() - t); pending.delete(d.message.content); received++; }
  };
  const senders = [], conv = [];
  for (const [pt, dt, c] of pairs) {
    const p = await client(pt);
    const d = await client(dt, onEvent);
    await p.emit('join_room', { conversationId: Number(c) });
    await d.emit('join_room', { conversationId: Number(c) });
    senders.push(p); conv.push(Number(c));
  }
  const steps = [];
  let seq = 0;
  for (const rate of rates) {
    lat.length = 0; received = 0; pending.clear();
    const total = rate * duration, interval = 1000 / rate;
    const t0 = performance.now();
    let sent = 0, failed = 0;
    while (sent < total) {
      const due = t0 + sent * interval;
      const now = performance.now();
      if (due > now) await sleep(Math.min(due - now, 5));
      // Send every message that is due (bursts at coarse timer resolution).
      while (sent < total && t0 + sent * interval <= performance.now()) {
        const k = sent % senders.length, text = `load ${++seq}`;
        pending.set(text, performance.now());
        senders[k].emit('send_message', { conversationId: conv[k], content: text }).then((a) => { if (!a || !a.ok) failed++; });
        sent++;
      }
      if (performance.now() - t0 > duration * 1000 * 3) break; // the generator fell behind: saturated
    }
    const sendSecs = (performance.now() - t0) / 1000;
    const deadline = performance.now() + 5000;
    while (received + failed < sent && performance.now() < deadline) await sleep(20);
    lat.sort((a, b) => a - b);
    const q = (p) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2)) : null);
    const step = { rate, sent, received, failed, lost: sent - received - failed, achieved: Number((received / sendSecs).toFixed(1)),
      p50_ms: q(0.5), p99_ms: q(0.99) };
    steps.push(step);
    console.error(JSON.stringify(step));
    await sleep(1000);
    // Saturated: it fell behind, or lost or delayed beyond reason.
    if (step.lost > 0 || step.achieved < rate * 0.9 || (step.p99_ms ?? 1e9) > 1000) break;
  }
  [...senders].forEach((s) => s.close());
  const ok = steps.filter((s) => s.lost === 0 && s.achieved >= s.rate * 0.9 && s.p99_ms <= 1000);
  console.log(JSON.stringify({ mode, conversations: pairs.length, duplicates: dup, steps,
    max_sustained: ok.length ? ok[ok.length - 1].rate : 0 }));
  process.exit(0);
} else {
  console.error('usage: sio-load.mjs connect|fanout ...');
  process.exit(2);
}
