// One socket floods while another pair's send-to-deliver latency is
// measured (API.md section 8: other users' latency does not move).
// usage: node flood.mjs WS_URL SENDER_TOKEN RECEIVER_TOKEN CONV FLOOD_TOKEN FLOOD_CONV
// Environment: FLOOD_RATE (events/s, 5000), FLOOD_S (measured seconds per
// phase, 15), PAIR_RATE (the pair's messages/s, 15: under its own bucket of 20/s), ROUNDS (quiet and
// flood phases, alternating, 3 of each). Prints one JSON line: the pair's
// p50/p99 (ms) per phase and their medians, and the flood's counts.
// The flooder is a process of its own, as a flooding client is: in the
// pair's process its own work would delay the pair's callbacks and be
// measured as the gateway's latency. It reconnects whenever the gateway
// disconnects it (the flood rule), so the flood lasts the whole phase.
import { io } from 'socket.io-client';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const opts = (token) => ({ auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });

if (process.argv[2] === '--flooder') {
  // The flooder: send_message into its own conversation at RATE/s, without
  // acks (each refused one still costs the gateway an `error` reply).
  const [, , , url, token, conv, rate] = process.argv;
  let sent = 0; let errors = 0; let disconnects = 0; let stop = false; let s = null;
  const start = () => {
    if (stop) return;
    s = io(url, opts(token));
    s.on('error', () => { errors++; });
    s.on('disconnect', () => { disconnects++; setTimeout(start, 10); });
    s.on('connect_error', () => setTimeout(start, 100));
  };
  start();
  const perTick = Math.max(1, Math.round(Number(rate) / 100));
  const iv = setInterval(() => {
    if (!s || !s.connected) return;
    for (let i = 0; i < perTick; i++) s.emit('send_message', { conversationId: Number(conv), content: 'x' });
    sent += perTick;
  }, 10);
  process.on('message', (m) => {
    if (m === 'count') process.send({ sent, errors, disconnects });
    if (m === 'stop') {
      stop = true; clearInterval(iv); if (s) s.close();
      process.send({ sent, errors, disconnects, done: true });
      setTimeout(() => process.exit(0), 50);
    }
  });
  process.send({ ready: true });
} else {
  const [url, senderTok, receiverTok, conv, floodTok, floodConv] = process.argv.slice(2);
  const RATE = Number(process.env.FLOOD_RATE || 5000);
  const SECS = Number(process.env.FLOOD_S || 15);
  const PAIR_RATE = Number(process.env.PAIR_RATE || 15);
  const ROUNDS = Number(process.env.ROUNDS || 3);
  const cid = Number(conv);
  const connected = (s) => new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
  const ack = (s, ev, data) => new Promise((resolve) => s.timeout(10000).emit(ev, data, (err, a) => resolve(err ? null : a)));

  const sender = io(url, opts(senderTok));
  const receiver = io(url, opts(receiverTok));
  await Promise.all([connected(sender), connected(receiver)]);
  await ack(receiver, 'join_room', { conversationId: cid });

  const pending = new Map(); // content -> emitted at (ms, high resolution)
  let samples = [];
  receiver.on('new_message', (d) => {
    const t = pending.get(d.message.content);
    if (t !== undefined) { samples.push(performance.now() - t); pending.delete(d.message.content); }
  });
  const round2 = (x) => Math.round(x * 100) / 100;
  async function phase(label) {
    samples = [];
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < SECS * 1000) {
      const content = `${label} ${n++}`;
      pending.set(content, performance.now());
      sender.emit('send_message', { conversationId: cid, content });
      await new Promise((r) => setTimeout(r, 1000 / PAIR_RATE));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const lost = pending.size; pending.clear();
    const s = samples.slice().sort((a, b) => a - b);
    const pct = (p) => (s.length ? round2(s[Math.min(s.length - 1, Math.floor(p * s.length))]) : null);
    return { sent: n, delivered: s.length, lost, p50: pct(0.5), p99: pct(0.99) };
  }
  const flooderMsg = (child, want) => new Promise((resolve) => {
    const on = (m) => { if (want(m)) { child.off('message', on); resolve(m); } };
    child.on('message', on);
  });
  async function floodPhase(label) {
    const child = fork(fileURLToPath(import.meta.url), ['--flooder', url, floodTok, floodConv, String(RATE)]);
    await flooderMsg(child, (m) => m.ready);
    await new Promise((r) => setTimeout(r, 500));
    child.send('count');
    const c0 = await flooderMsg(child, (m) => m.sent !== undefined);
    const t0 = performance.now();
    const r = await phase(label);
    child.send('stop');
    const c1 = await flooderMsg(child, (m) => m.done);
    r.flood = { targetRate: RATE, achievedRate: Math.round((c1.sent - c0.sent) / ((performance.now() - t0) / 1000)),
                errors: c1.errors, disconnects: c1.disconnects };
    return r;
  }
  const quiet = []; const flooded = [];
  for (let i = 0; i < ROUNDS; i++) {
    quiet.push(await phase(`quiet${i}`));
    flooded.push(await floodPhase(`flood${i}`));
  }
  const median = (xs) => { const s = xs.filter((x) => x !== null).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
  const q99 = median(quiet.map((p) => p.p99)); const f99 = median(flooded.map((p) => p.p99));
  console.log(JSON.stringify({
    pairRate: PAIR_RATE, seconds: SECS, quiet, flooded,
    quietP99: q99, floodP99: f99, ratioP99: q99 ? round2(f99 / q99) : null,
    quietP50: median(quiet.map((p) => p.p50)), floodP50: median(flooded.map((p) => p.p50)),
  }));
  sender.close(); receiver.close();
  process.exit(0);
}
