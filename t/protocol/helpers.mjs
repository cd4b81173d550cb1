// Helpers for the protocol tests: the server under test listens on
// 127.0.0.1:$SIO_TEST_PORT (started by run.sh).
import net from "node:net";
import WebSocket from "ws";

export const PORT = Number(process.env.SIO_TEST_PORT || 3000);
export const HTTP = `http://127.0.0.1:${PORT}`;
export const WS = `ws://127.0.0.1:${PORT}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function get(path, opts = {}) {
  const res = await fetch(HTTP + path, opts);
  const body = await res.text();
  return { status: res.status, body, headers: res.headers };
}

export async function handshake(base = "/engine.io/") {
  const r = await get(`${base}?EIO=4&transport=polling`);
  return JSON.parse(r.body.substring(1)).sid;
}

// A WebSocket whose messages queue up, so that none is lost between awaits.
// opts: the ws library's (headers, protocols via opts.protocols...).
export function openWs(url, opts = {}) {
  const { protocols, ...wsOpts } = opts;
  const ws = new WebSocket(WS + url, protocols, wsOpts);
  ws.binaryType = "nodebuffer";
  const queue = [];
  const waiters = [];
  let closed = null;
  const closeWaiters = [];
  ws.on("message", (data, isBinary) => {
    const m = isBinary ? Buffer.from(data) : data.toString();
    if (waiters.length) waiters.shift()(m);
    else queue.push(m);
  });
  ws.on("error", () => {});
  ws.on("close", (code) => {
    closed = code;
    closeWaiters.splice(0).forEach((f) => f(code));
    waiters.splice(0).forEach((f) => f(null));
  });
  return {
    ws,
    opened: new Promise((res, rej) => { ws.on("open", res); ws.on("close", () => rej(new Error("closed before open"))); }),
    next(timeout = 2000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed !== null) return Promise.resolve(null);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error("no message within " + timeout + " ms")), timeout);
        waiters.push((m) => { clearTimeout(t); res(m); });
      });
    },
    // next message that is not a ping (answering pings with pong)
    async nextNonPing(timeout = 2000) {
      for (;;) {
        const m = await this.next(timeout);
        if (m !== "2") return m;
        ws.send("3");
      }
    },
    closedP(timeout = 3000) {
      if (closed !== null) return Promise.resolve(closed);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error("not closed within " + timeout + " ms")), timeout);
        closeWaiters.push((c) => { clearTimeout(t); res(c); });
      });
    },
    send(m) { ws.send(m); },
    close() { ws.terminate(); },
  };
}

// Raw TCP exchange: sends bytes, collects what comes back until the server
// closes or timeout passes. Returns { data, closed }.
export function raw(bytes, timeout = 1500) {
  return new Promise((resolve) => {
    const s = net.connect(PORT, "127.0.0.1");
    let data = Buffer.alloc(0);
    const t = setTimeout(() => { s.destroy(); resolve({ data: data.toString("latin1"), closed: false }); }, timeout);
    s.on("data", (d) => { data = Buffer.concat([data, d]); });
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(t); resolve({ data: data.toString("latin1"), closed: true }); });
    s.write(bytes);
  });
}

// Opens a Socket.IO connection over WebSocket and connects to nsp.
export async function sioConnect(nsp = "/", auth) {
  const c = openWs("/socket.io/?EIO=4&transport=websocket");
  await c.next(); // Engine.IO open
  const prefix = nsp === "/" ? "" : nsp + ",";
  c.send("40" + prefix + (auth ? JSON.stringify(auth) : ""));
  return c;
}
