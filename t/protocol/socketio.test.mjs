// Socket.IO v5 behaviour of the /socket.io/ echo server (with --test-hooks).
import { test } from "node:test";
import assert from "node:assert/strict";
import { openWs, sioConnect, sleep } from "./helpers.mjs";

async function connected(nsp = "/", auth) {
  const c = await sioConnect(nsp, auth);
  const reply = await c.nextNonPing();
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  assert.ok(reply.startsWith(prefix), reply);
  assert.deepEqual(Object.keys(JSON.parse(reply.substring(prefix.length))), ["sid"]);
  const authEv = await c.nextNonPing();
  assert.equal(authEv, `42${nsp === "/" ? "" : nsp + ","}["auth",${JSON.stringify(auth || {})}]`);
  return c;
}

test("connect: main and custom namespaces, auth echoed, unknown refused", async () => {
  (await connected("/", { token: "123" })).close();
  (await connected("/custom", { token: "abc" })).close();
  const c = await sioConnect("/random");
  assert.equal(await c.nextNonPing(), '44/random,{"message":"Invalid namespace"}');
  c.close();
});

test("events and acks, text and binary, in both directions", async () => {
  const c = await connected();
  c.send('42["message",1,"2",{"3":[true]},"a/b é"]');
  assert.equal(await c.nextNonPing(), '42["message-back",1,"2",{"3":[true]},"a/b é"]');
  c.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  assert.equal(await c.nextNonPing(), '43456[1,"2",{"3":[false]}]');
  c.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  c.send(Buffer.from([1, 2, 3]));
  c.send(Buffer.from([4, 5, 6]));
  assert.equal(await c.nextNonPing(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  assert.deepEqual(await c.nextNonPing(), Buffer.from([1, 2, 3]));
  assert.deepEqual(await c.nextNonPing(), Buffer.from([4, 5, 6]));
  c.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  c.send(Buffer.from([7]));
  c.send(Buffer.from([8]));
  assert.equal(await c.nextNonPing(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  assert.deepEqual(await c.nextNonPing(), Buffer.from([7]));
  assert.deepEqual(await c.nextNonPing(), Buffer.from([8]));
  c.close();
});

test("invalid packets close the connection", async () => {
  const bad = [
    ["4abc"], ["42{}"], ['42abc["message",1]'], ['42["connect"]'], ["42"], ['42["x"]junk'],
    ['4299999999999999999["x"]'], ['4511-["m"]'], ['451-["m",{"_placeholder":true,"num":3}]'],
    ['451-["m",{"_placeholder":true,"num":0}]', "4text-instead-of-binary"],
    [Buffer.from([1, 2])], ["40"], ['43/custom,1[]'], ['44{"message":"x"}'],
    ["42" + "[".repeat(5000) + "]".repeat(5000)],
  ];
  for (const frames of bad) {
    const c = await connected();
    for (const f of frames) c.send(f);
    await c.closedP();
  }
});

test("connect timeout and first-packet rules", async () => {
  const c = openWs("/socket.io/?EIO=4&transport=websocket");
  await c.next();
  const t0 = Date.now();
  // answering pings keeps Engine.IO alive: only the connect timeout closes it
  for (;;) {
    const m = await c.next(3000);
    if (m === null) break;
    assert.equal(m, "2"); // nothing but pings before a CONNECT
    c.send("3");
  }
  assert.ok(Date.now() - t0 >= 900, "closed too early");
  const d = openWs("/socket.io/?EIO=4&transport=websocket");
  await d.next();
  d.send("4abc");
  await d.closedP();
});

test("disconnect: leaving a namespace keeps the connection", async () => {
  const c = await connected();
  c.send("40/custom,");
  assert.ok((await c.nextNonPing()).startsWith("40/custom,"));
  await c.nextNonPing();
  c.send("41/custom,");
  c.send('42["message","still here"]');
  assert.equal(await c.nextNonPing(), '42["message-back","still here"]');
  c.send("41");
  assert.equal(await c.next(), "2");
  c.close();
});

test("asynchronous connect decision (accept later, refuse later, refuse now)", async () => {
  const t0 = Date.now();
  const ok = await sioConnect("/auth", { token: "good" });
  assert.ok((await ok.nextNonPing()).startsWith("40/auth,"));
  assert.ok(Date.now() - t0 >= 40);
  assert.equal(await ok.nextNonPing(), '42/auth,["auth",{"token":"good"}]');
  ok.close();
  const no = await sioConnect("/auth", { token: "bad" });
  assert.equal(await no.nextNonPing(), '44/auth,{"message":"bad token"}');
  no.close();
  const now = await sioConnect("/auth", { token: "refuse-now" });
  assert.equal(await now.nextNonPing(), '44/auth,{"message":"refused now"}');
  now.close();
  // a client that goes away while its decision is pending
  const gone = await sioConnect("/auth", { token: "good" });
  gone.close();
  await sleep(100);
});

test("rooms: join, emit to room except sender, size, deletion when empty", async () => {
  const a = await connected();
  const b = await connected();
  a.send('421["join","r1"]');
  assert.equal(await a.nextNonPing(), "431[0]");
  b.send('422["join","r1"]');
  assert.equal(await b.nextNonPing(), "432[0]");
  a.send('423["room-size","r1"]');
  const ackArgs = (m) => JSON.parse(/^43\d+(.*)$/.exec(m)[1]);
  const [size, rooms] = ackArgs(await a.nextNonPing());
  assert.equal(size, 2);
  assert.ok(rooms >= 1);
  a.send('424["to-room","r1",{"hi":1}]');
  assert.equal(await a.nextNonPing(), "434[1]");
  assert.equal(await b.nextNonPing(), '42["room-message",{"hi":1}]');
  a.send('425["leave","r1"]');
  await a.nextNonPing();
  b.close(); // disconnect leaves the room: it is deleted
  await sleep(100);
  a.send('426["room-size","r1"]');
  assert.equal(ackArgs(await a.nextNonPing())[0], 0);
  a.close();
});

test("server-to-client acks: answered, timed out", async () => {
  const c = await connected();
  c.send('42["ask","q1",1000]');
  const q = await c.nextNonPing();
  const m = /^42(\d+)\["question","q1"\]$/.exec(q);
  assert.ok(m, q);
  c.send(`43${m[1]}["yes",2]`);
  assert.equal(await c.nextNonPing(), '42["answer",0,["yes",2]]');
  c.send('43999[1]'); // an ack nobody waits for is ignored
  c.send('42["ask","q2",100]');
  assert.match(await c.nextNonPing(), /^42\d+\["question","q2"\]$/);
  assert.equal(await c.nextNonPing(), '42["answer",1,null]');
  c.close();
});

test("server namespace disconnect", async () => {
  const c = await connected();
  c.send('42["disconnect-me"]');
  assert.equal(await c.nextNonPing(), "41");
  c.send('42["message",1]'); // no longer connected there: invalid
  await c.closedP();
});

test("send queue cap: a client that cannot keep up is disconnected", async () => {
  const c = await connected();
  c.send('42["flood",2000,1000]');
  await c.closedP(5000);
});

// One JSON parser for every input (shared/validate.c): what REST refuses,
// a packet cannot carry either.
test("JSON rules of the one parser: lone surrogates, json-c extensions, depth", async () => {
  // A surrogate pair is one character: echoed as such.
  let c = await connected();
  c.send('42["message","\\ud83d\\ude00 \\u00e9"]');
  assert.equal(await c.nextNonPing(), '42["message-back","😀 é"]');
  // Whitespace around the data, as JSON.parse takes it.
  c.send('42 ["message",1] ');
  assert.equal(await c.nextNonPing(), '42["message-back",1]');
  // 31 arrays around a value (the array of arguments included): 32 levels
  // as json-c counts, the limit (shared/msg_limits.h), accepted.
  const deep = (n) => "[".repeat(n - 1) + "1" + "]".repeat(n - 1);
  c.send(`42["message",${deep(31)}]`);
  assert.equal(await c.nextNonPing(), `42["message-back",${deep(31)}]`);
  c.close();
  const refused = [
    '42["message","\\ud800"]',        // lone high surrogate
    '42["message","a\\udc00b"]',      // lone low surrogate
    '42["message","\\ud800\\u0041"]', // high surrogate without its low half
    '42["message",{"\\ud83d":1}]',    // in a key
    '42456["message-with-ack","\\udfff"]',
    "42[\"message\",'single']",       // json-c extensions that JSON has not
    '42["message",NaN]',
    '42["message",1,]',
    `42["message",${deep(32)}]`,      // one level more
  ];
  for (const f of refused) {
    c = await connected();
    c.send(f);
    await c.closedP().catch((e) => { throw new Error(`${f}: ${e.message}`); });
  }
});

// eio_http.c keeps the handshake's query and captured headers as
// NUL-separated pairs: an empty parameter name used to end the query section
// early, so that later pairs were read as headers.
test("handshake data: a query parameter with an empty name is ignored, not read as a header", async () => {
  const c = openWs("/socket.io/?EIO=4&transport=websocket&=authorization&Bearer%20forged=1&=&token=abc&x=1");
  await c.next();
  c.send("40");
  assert.ok((await c.nextNonPing()).startsWith("40"));
  await c.nextNonPing(); // auth
  c.send('421["handshake-data","token","authorization"]');
  assert.equal(await c.nextNonPing(), '431["abc",null]');
  c.send('422["handshake-data","x","x-test"]');
  assert.equal(await c.nextNonPing(), '432["1",null]');
  c.close();
  // A real header is still captured, whatever the query holds.
  const h = openWs("/socket.io/?EIO=4&transport=websocket&=x&=", { headers: { "X-Test": "hello" } });
  await h.next();
  h.send("40");
  assert.ok((await h.nextNonPing()).startsWith("40"));
  await h.nextNonPing();
  h.send('423["handshake-data","","x-test"]');
  assert.equal(await h.nextNonPing(), '433[null,"hello"]');
  h.close();
});
