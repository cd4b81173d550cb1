// Engine.IO v4 behaviour of the /engine.io/ echo server, one test per rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import WebSocket from "ws";
import { PORT, WS, get, handshake, openWs, raw, sleep } from "./helpers.mjs";

const P = "/engine.io/?EIO=4&transport=polling";

test("polling handshake: open packet with exactly the five keys", async () => {
  const r = await get(P);
  assert.equal(r.status, 200);
  assert.equal(r.body[0], "0");
  const o = JSON.parse(r.body.substring(1));
  assert.deepEqual(Object.keys(o).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.deepEqual(o.upgrades, ["websocket"]);
  assert.equal(o.pingInterval, 300);
  assert.equal(o.pingTimeout, 200);
  assert.equal(o.maxPayload, 1000000);
  assert.match(o.sid, /^[A-Za-z0-9_-]{20}$/);
});

test("400 answers carry the reference JSON error codes", async () => {
  const cases = [
    ["/engine.io/?EIO=4", {}, 0, "Transport unknown"],
    ["/engine.io/?EIO=4&transport=abc", {}, 0, "Transport unknown"],
    ["/engine.io/?transport=polling", {}, 5, "Unsupported protocol version"],
    ["/engine.io/?EIO=3&transport=polling", {}, 5, "Unsupported protocol version"],
    ["/engine.io/?EIO=abc&transport=polling", {}, 5, "Unsupported protocol version"],
    [P, { method: "POST", body: "4x" }, 2, "Bad handshake method"],
    [P, { method: "PUT" }, 2, "Bad handshake method"],
    [P + "&sid=nope", {}, 1, "Session ID unknown"],
    [P + "&sid=" + "x".repeat(300), {}, 1, "Session ID unknown"],
  ];
  for (const [path, opts, code, message] of cases) {
    const r = await get(path, opts);
    assert.equal(r.status, 400, path);
    assert.deepEqual(JSON.parse(r.body), { code, message }, path);
    assert.match(r.headers.get("content-type"), /application\/json/);
  }
});

test("CORS: any origin allowed, preflight answered", async () => {
  const r = await get(P, { headers: { Origin: "https://example.org" } });
  assert.equal(r.headers.get("access-control-allow-origin"), "*");
  const o = await get(P, { method: "OPTIONS", headers: { Origin: "https://example.org", "Access-Control-Request-Method": "POST" } });
  assert.equal(o.status, 204);
  assert.equal(o.headers.get("access-control-allow-origin"), "*");
});

test("polling: POST answers ok, packets come back joined by \\x1e", async () => {
  const sid = await handshake();
  const post = await get(`${P}&sid=${sid}`, { method: "POST", body: "4one\x1e4two\x1ebAQIDBA==" });
  assert.equal(post.status, 200);
  assert.equal(post.body, "ok");
  const poll = await get(`${P}&sid=${sid}`);
  assert.equal(poll.body, "4one\x1e4two\x1ebAQIDBA==");
});

test("polling: undecodable POST closes the session", async () => {
  const sid = await handshake();
  const post = await get(`${P}&sid=${sid}`, { method: "POST", body: "abc" });
  assert.equal(post.status, 400);
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("polling: invalid UTF-8 in a POST body closes the session", async () => {
  const sid = await handshake();
  const post = await get(`${P}&sid=${sid}`, { method: "POST", body: Buffer.from([0x34, 0xc3, 0x28]) });
  assert.equal(post.status, 400);
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("polling: a second concurrent GET ends the session (1, then 400)", async () => {
  const sid = await handshake();
  const first = get(`${P}&sid=${sid}`);
  await sleep(20);
  const second = await get(`${P}&sid=${sid}`);
  assert.equal(second.status, 400);
  const f = await first;
  assert.equal(f.status, 200);
  assert.equal(f.body, "1");
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("polling: close packet from the client ends the pending GET with noop", async () => {
  const sid = await handshake();
  const pending = get(`${P}&sid=${sid}`);
  await sleep(20);
  await get(`${P}&sid=${sid}`, { method: "POST", body: "1" });
  const r = await pending;
  assert.equal(r.body, "6");
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("polling: POST over maxPayload gets 413 and closes the session", async () => {
  const sid = await handshake();
  const r = await get(`${P}&sid=${sid}`, { method: "POST", body: "4" + "x".repeat(1000001) }).catch(() => ({ status: 413 }));
  assert.equal(r.status, 413);
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("heartbeat (polling): ping after pingInterval, session gone without pong", async () => {
  const sid = await handshake();
  const t0 = Date.now();
  const ping = await get(`${P}&sid=${sid}`);
  assert.equal(ping.body, "2");
  assert.ok(Date.now() - t0 >= 250, "ping came too early");
  await get(`${P}&sid=${sid}`, { method: "POST", body: "3" });
  const ping2 = await get(`${P}&sid=${sid}`);
  assert.equal(ping2.body, "2");
  await sleep(450); // no pong: closed 200 ms after the ping
  assert.equal((await get(`${P}&sid=${sid}`)).status, 400);
});

test("websocket: handshake, echo of text and binary", async () => {
  const c = openWs("/engine.io/?EIO=4&transport=websocket");
  const open = JSON.parse((await c.next()).substring(1));
  assert.deepEqual(open.upgrades, []);
  c.send("4hello");
  assert.equal(await c.nextNonPing(), "4hello");
  c.send(Buffer.from([1, 2, 3]));
  assert.deepEqual(await c.nextNonPing(), Buffer.from([1, 2, 3]));
  c.send("4" + "é".repeat(50000)); // reassembled from many lws receive chunks
  assert.equal(await c.nextNonPing(), "4" + "é".repeat(50000));
  c.close();
});

test("websocket: large outgoing messages are fragmented and arrive whole", async () => {
  const c = openWs("/engine.io/?EIO=4&transport=websocket");
  await c.next();
  const big = Buffer.alloc(300000, 7);
  c.send(big);
  assert.deepEqual(await c.nextNonPing(), big);
  c.close();
});

test("websocket: invalid packet, close packet, invalid UTF-8, oversize: closed", async () => {
  for (const bad of ["abc", "1"]) {
    const c = openWs("/engine.io/?EIO=4&transport=websocket");
    await c.next();
    c.send(bad);
    await c.closedP();
  }
  const u = openWs("/engine.io/?EIO=4&transport=websocket");
  await u.next();
  u.ws.send(Buffer.from([0x34, 0xff, 0xfe]), { binary: false });
  assert.equal(await u.closedP(), 1007);
  const big = openWs("/engine.io/?EIO=4&transport=websocket");
  await big.next();
  big.send("4" + "x".repeat(1000001));
  assert.equal(await big.closedP(), 1009);
});

test("websocket: closed on ping timeout", async () => {
  const c = openWs("/engine.io/?EIO=4&transport=websocket");
  await c.next();
  assert.equal(await c.next(), "2");
  await c.closedP(1000);
});

test("websocket: bad query parameters refuse the upgrade", async () => {
  for (const q of ["transport=websocket", "EIO=3&transport=websocket", "EIO=4", "EIO=4&transport=websocket&sid=unknown"]) {
    const c = openWs("/engine.io/?" + q);
    await assert.rejects(c.opened);
  }
});

test("upgrade: probe, noop to the pending poll, then WebSocket only", async () => {
  const sid = await handshake();
  const c = openWs(`/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
  await c.opened;
  const pending = get(`${P}&sid=${sid}`);
  await sleep(20);
  c.send("2probe");
  assert.equal(await c.next(), "3probe");
  assert.equal((await pending).body, "6");
  c.send("5");
  c.send("4after");
  assert.equal(await c.nextNonPing(), "4after");
  const r = await get(`${P}&sid=${sid}`);
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).code, 3);
  const second = openWs(`/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
  await second.closedP();
  c.send("4still");
  assert.equal(await c.nextNonPing(), "4still");
  c.close();
});

test("hardening: non-websocket Upgrade (CVE-2025-11677 path), h2c, HTTP/2 preface", async () => {
  const foo = await raw("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n");
  assert.ok(foo.closed);
  assert.ok(!/HTTP\/1.1 101/.test(foo.data));
  const h2c = await raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
  assert.ok(!/101 Switching/.test(h2c.data));
  const prior = await raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  assert.ok(!/^\x00\x00/.test(prior.data));
  // still serving
  assert.equal((await get(P)).status, 200);
});

test("hardening: oversized headers and unknown paths", async () => {
  const big = await raw(`GET ${P} HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(9000)}\r\n\r\n`);
  assert.ok(!/200 OK/.test(big.data));
  assert.equal((await get("/nowhere")).status, 404);
  assert.equal((await get(P)).status, 200);
});

// Origins (eio_http.c): with no CORS origins configured, same origin only.
// --test-hooks serves /same-origin/ (no CORS origins) and /listed-origin/
// (http://allowed.example); /engine.io/ allows any ("*").
function request(path, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    if (body !== undefined) headers = { "Content-Length": Buffer.byteLength(body), ...headers };
    const r = http.request({ host: "127.0.0.1", port: PORT, path, method, headers, agent: false }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { data += d; });
      res.on("end", () => resolve({ status: res.statusCode, body: data, headers: res.headers }));
    });
    r.on("error", reject);
    if (body) r.write(body);
    r.end();
  });
}
const FORBIDDEN = { code: 4, message: "Forbidden" };
const self = `127.0.0.1:${PORT}`;

// Resolves with "open" or the HTTP status of a refused handshake.
function wsOutcome(path, headers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(WS + path, { headers });
    ws.on("open", () => { ws.terminate(); resolve("open"); });
    ws.on("unexpected-response", (req, res) => {
      let data = "";
      res.on("data", (d) => { data += d; });
      res.on("end", () => { resolve({ status: res.statusCode, body: data }); ws.terminate(); });
    });
    ws.on("error", () => resolve("error"));
  });
}

test("origin: no CORS origins configured: requests without Origin or from the same origin only", async () => {
  const S = "/same-origin/?EIO=4&transport=polling";
  assert.equal((await request(S)).status, 200, "no Origin: not a browser's cross-origin request");
  const same = await request(S, { headers: { Origin: `http://${self}` } });
  assert.equal(same.status, 200);
  assert.equal(same.headers["access-control-allow-origin"], undefined, "no CORS headers without CORS origins");
  // Behind a proxy that forwards only the host name (nginx's $host).
  assert.equal((await request(S, { headers: { Host: "chat.example", Origin: "https://chat.example:8443" } })).status, 200);
  assert.equal((await request(S, { headers: { Host: "Chat.Example", Origin: "https://chat.example" } })).status, 200);
  assert.equal((await request(S, { headers: { Host: "chat.example:443", Origin: "https://chat.example" } })).status, 200);
  assert.equal((await request(S, { headers: { Host: "[::1]:8080", Origin: "http://[::1]:8080" } })).status, 200);
  for (const [host, origin] of [
    [self, "http://evil.example"],
    [self, `http://127.0.0.1:${PORT + 1}`],    // same host, another port
    [self, "null"],                              // sandboxed frame, file:
    [self, `ws://${self}`],                      // not a web origin
    [self, `http://${self}/path`],
    ["chat.example", "https://chat.example.evil.example"],
    ["chat.example:443", "http://chat.example"], // the scheme's port is 80
    ["chat.example", "https://user@chat.example"],
  ]) {
    const r = await request(S, { headers: { Host: host, Origin: origin } });
    assert.equal(r.status, 403, `${host} / ${origin}`);
    assert.deepEqual(JSON.parse(r.body), FORBIDDEN);
  }
  // An open session refuses a foreign origin too.
  const o = await request(S);
  const sid = JSON.parse(o.body.substring(1)).sid;
  const post = await request(`${S}&sid=${sid}`, { method: "POST", headers: { Origin: "http://evil.example" }, body: "4x" });
  assert.equal(post.status, 403);
  assert.equal((await request(`${S}&sid=${sid}`, { method: "POST", body: "4x" })).status, 200, "the session is unharmed");
  // WebSocket: 403 with the Engine.IO error, before any upgrade.
  const W = "/same-origin/?EIO=4&transport=websocket";
  const refused = await wsOutcome(W, { Origin: "http://evil.example" });
  assert.equal(refused.status, 403);
  assert.deepEqual(JSON.parse(refused.body), FORBIDDEN);
  assert.equal(await wsOutcome(W, { Origin: `http://${self}` }), "open");
  assert.equal(await wsOutcome(W, {}), "open");
  // The probe of an upgrade from a foreign page: refused the same way.
  assert.equal((await wsOutcome(`${W}&sid=${sid}`, { Origin: "http://evil.example" })).status, 403);
});

test("origin: listed origins besides the same origin; '*' for any (the conformance paths)", async () => {
  const L = "/listed-origin/?EIO=4&transport=polling";
  const ok = await request(L, { headers: { Origin: "http://allowed.example" } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers["access-control-allow-origin"], "http://allowed.example");
  assert.equal(ok.headers["access-control-allow-credentials"], "true");
  assert.equal((await request(L, { headers: { Origin: `http://${self}` } })).status, 200);
  assert.equal((await request(L, { headers: { Origin: "http://evil.example" } })).status, 403);
  assert.equal((await wsOutcome("/listed-origin/?EIO=4&transport=websocket", { Origin: "http://evil.example" })).status, 403);
  assert.equal(await wsOutcome("/listed-origin/?EIO=4&transport=websocket", { Origin: "http://allowed.example" }), "open");
  // The suites' servers keep CORS for any origin.
  for (const p of ["/engine.io/", "/socket.io/"]) {
    const r = await request(`${p}?EIO=4&transport=polling`, { headers: { Origin: "http://evil.example" } });
    assert.equal(r.status, 200, p);
    assert.equal(r.headers["access-control-allow-origin"], "*");
    assert.equal(await wsOutcome(`${p}?EIO=4&transport=websocket`, { Origin: "null" }), "open", p);
  }
});

test("websocket: an upgrade on a path that is not an Engine.IO server is refused", async () => {
  for (const p of ["/nowhere", "/", "/engine.iox/"]) {
    const r = await raw(`GET ${p}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
      + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    assert.ok(r.closed, p);
    assert.ok(!/101 Switching/.test(r.data), p);
  }
  assert.equal((await get(P)).status, 200);
});
