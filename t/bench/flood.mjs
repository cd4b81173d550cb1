// One socket floods while another pair's send-to-deliver latency is
// measured (API.md section 8: other users' latency does not move).
// usage: node flood.mjs WS_URL SENDER_TOKEN RECEIVER_TOKEN CONV FLOOD_TOKEN FLOOD_CONV
// Environment: FLOOD_RATE (events/s, 5000), FLOOD_S (measured seconds per
// phase, 10), PAIR_RATE (the pair's messages/s, 10). Prints one JSON line:
// the pair's p50/p99 (ms) without and with the flood, and the flood's counts.
// The flooder reconnects whenever the gateway disconnects it (the flood
// rule), so the flood lasts the whole phase.
import { io } from 'socket.io-client';

const [url, senderTok, receiverTok, conv, floodTok, floodConv] = process.argv.slice(2);
const RATE = Number(process.env.FLOOD_RATE || 5000);
const SECS = Number(process.env.FLOOD_S || 10);
const PAIR_RATE = Number(process.env.PAIR_RATE || 10);
const cid = Number(conv);

const opts = (token) => ({ auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
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
  const pct = (p) => (s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100 : null);
  return { sent: n, delivered: s.length, lost, p50: pct(0.5), p99: pct(0.99) };
}

const quiet = await phase('quiet');

// The flood: send_message into the flooder's own conversation at RATE/s,
// without acks (each refused one still costs the gateway an `error` reply).
let floodSent = 0; let floodErrors = 0; let floodDisconnects = 0; let stop = false; let flooder = null;
function startFlooder() {
  if (stop) return;
  flooder = io(url, opts(floodTok));
  flooder.on('error', () => { floodErrors++; });
  flooder.on('disconnect', () => { floodDisconnects++; setTimeout(startFlooder, 10); });
  flooder.on('connect_error', () => setTimeout(startFlooder, 100));
}
startFlooder();
const perTick = Math.max(1, Math.round(RATE / 100));
const iv = setInterval(() => {
  if (!flooder || !flooder.connected) return;
  for (let i = 0; i < perTick; i++) flooder.emit('send_message', { conversationId: Number(floodConv), content: 'x' });
  floodSent += perTick;
}, 10);
await new Promise((r) => setTimeout(r, 500));
const f0 = floodSent; const ft = performance.now();
const flooded = await phase('flood');
const floodRate = Math.round((floodSent - f0) / ((performance.now() - ft) / 1000));
stop = true;
clearInterval(iv);
flooder.close();
console.log(JSON.stringify({
  quiet, flooded, ratioP99: quiet.p99 ? Math.round((flooded.p99 / quiet.p99) * 100) / 100 : null,
  flood: { targetRate: RATE, achievedRate: floodRate, errors: floodErrors, disconnects: floodDisconnects },
}));
sender.close(); receiver.close();
process.exit(0);
