// Holds N idle Engine.IO WebSocket sessions on a gateway (pings answered),
// then samples the gateway's CPU over HOLD_S seconds from /proc.
// usage: node idle.mjs PORT N HOLD_S GATEWAY_PID [ADDRESS...]
// The client sockets are spread over the loopback addresses given (default
// 127.0.0.1), so that more than 28,000 fit. Prints one JSON line.
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';

const [port, total, holdS, pid] = process.argv.slice(2, 6).map(Number);
const addrs = process.argv.slice(6).length ? process.argv.slice(6) : ['127.0.0.1'];
const socks = [];
let open = 0; let failed = 0;
const ticks = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
};
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
function one(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
      { perMessageDeflate: false, localAddress: addrs[i % addrs.length] });
    ws.on('message', (d) => {
      const m = d.toString();
      if (m[0] === '0') { open++; resolve(); } else if (m === '2') ws.send('3');
    });
    ws.on('error', () => { failed++; resolve(); });
    socks.push(ws);
  });
}
const rss0 = rssKiB();
for (let i = 0; i < total; i += 200) await Promise.all(Array.from({ length: Math.min(200, total - i) }, (_, k) => one(i + k)));
await new Promise((r) => setTimeout(r, 3000));
const t0 = ticks(); const w0 = Date.now();
await new Promise((r) => setTimeout(r, holdS * 1000));
const cpu = ((ticks() - t0) / 100) / ((Date.now() - w0) / 1000);
console.log(JSON.stringify({ open, failed, cpuPercent: Math.round(cpu * 1000) / 10, rssKiBPerSocket: Math.round(((rssKiB() - rss0) / open) * 100) / 100 }));
for (const s of socks) s.terminate();
process.exit(0);
