// The real npm socket.io-client 4.x against the server: default transports
// (polling, then upgrade to WebSocket), WebSocket only, polling only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { HTTP } from "./helpers.mjs";

const once = (em, ev, ms = 3000) =>
  new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no ${ev} within ${ms} ms`)), ms);
    em.once(ev, (...a) => { clearTimeout(t); res(a); });
  });

for (const [name, opts] of [
  ["default (polling then websocket)", {}],
  ["websocket only", { transports: ["websocket"] }],
  ["polling only", { transports: ["polling"] }],
]) {
  test(`socket.io-client, ${name}: connect, events, acks, binary, reconnect`, async () => {
    const s = io(HTTP, { ...opts, auth: { token: "t" }, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    try {
      const [auth] = await once(s, "auth");
      assert.deepEqual(auth, { token: "t" });
      assert.ok(s.connected);
      if (!opts.transports) {
        if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
        assert.equal(s.io.engine.transport.name, "websocket");
      } else {
        assert.equal(s.io.engine.transport.name, opts.transports[0]);
      }
      s.emit("message", 1, "two", { three: [true] });
      assert.deepEqual(await once(s, "message-back"), [1, "two", { three: [true] }]);
      const acked = await s.timeout(2000).emitWithAck("message-with-ack", "x", { y: 2 });
      assert.equal(acked, "x");
      s.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) });
      const [b1, b2] = await once(s, "message-back");
      assert.deepEqual(Buffer.from(b1), Buffer.from([1, 2, 3]));
      assert.deepEqual(Buffer.from(b2.nested), Buffer.from([4]));
      // server-to-client ack
      s.once("question", (q, cb) => cb("answer-to-" + q));
      s.emit("ask", "q", 1000);
      assert.deepEqual(await once(s, "answer"), [0, ["answer-to-q"]]);
      // the transport drops: the client reconnects by itself
      const firstId = s.id;
      const down = once(s, "disconnect");
      const up = once(s, "connect", 5000);
      s.io.engine.close();
      await down;
      await up;
      assert.ok(s.connected);
      assert.notEqual(s.id, firstId);
      s.emit("message", "again");
      assert.deepEqual(await once(s, "message-back"), ["again"]);
    } finally {
      s.close();
    }
  });
}

test("socket.io-client: refused connect gives connect_error with the message", async () => {
  const s = io(HTTP + "/auth", { auth: { token: "bad" }, reconnection: false });
  try {
    const [err] = await once(s, "connect_error");
    assert.equal(err.message, "bad token");
  } finally {
    s.close();
  }
});
