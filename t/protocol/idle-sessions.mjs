// Opens N Engine.IO WebSocket sessions against the server, a bounded number
// at a time, answers pings, holds them, then reports and closes them all.
// usage: node idle-sessions.mjs PORT N HOLD_MS
import WebSocket from "ws";

const [port, total, hold] = process.argv.slice(2).map(Number);
const socks = [];
let open = 0, failed = 0;

function one() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/engine.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
    ws.on("message", (d) => {
      const m = d.toString();
      if (m[0] === "0") { open++; resolve(); }
      else if (m === "2") ws.send("3");
    });
    ws.on("error", () => { failed++; resolve(); });
    socks.push(ws);
  });
}

const batch = 200;
for (let i = 0; i < total; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, total - i) }, one));
}
console.log(`open ${open} failed ${failed}`);
await new Promise((r) => setTimeout(r, hold));
for (const s of socks) s.terminate();
