// Gateway: input refused in one layer, origins, monitoring upgrades, and the
// ownership of recovery sessions.
// - A lone surrogate (an escape no UTF-8 text can hold) is refused by the one
//   JSON parser of both programs: REST answers 400, a Socket.IO packet that
//   carries one is malformed and its transport is closed; nothing is stored.
// - With ws_cors_origins empty (the default), only requests without Origin
//   or from the gateway's own origin are served: others get 403
//   {"code":4,"message":"Forbidden"}, over polling and at the WebSocket
//   handshake.
// - The monitoring paths (/stats, /metrics, /health) never upgrade to
//   WebSocket, whatever subprotocol a client names.
// - A recovery pid that exists for another user is refused by
//   messaging.session_open (sql/022): the CONNECT gets CONNECT_ERROR
//   "Internal error" and the other user's session is untouched. So does a
//   gateway without randomness for the pid (no rand() fallback).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import WebSocket from 'ws';
import { post } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { requireEnv } from '../lib/env.mjs';
import { countMessages, pairWithConversation, q, setUp, tag } from '../lib/fixtures.mjs';
import {
  Client, RawClient, configWith, connect, connectJoined, freePort, health, rawConnect, sleep, startGateway, stats,
  WS_URL, WS_URL2,
} from '../lib/sio.mjs';

setUp();

/** One more gateway with the stack's configuration plus `extra` lines (and env). */
const startGatewayWith = async (name, extra, env = {}) =>
  startGateway(await freePort(), { config: configWith(`${name}-${process.pid}`, extra), env });

/** A raw HTTP request with full control of Host and Origin. */
function request(url, path, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  if (body !== undefined) headers = { 'Content-Length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, path, method, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: data, headers: res.headers }));
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/** "open" (101 and a working WebSocket), {status, body} of a refused handshake, or "closed" (hung up). */
function wsOutcome(url, path, { headers = {}, protocols } = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, protocols, { headers });
    const t = setTimeout(() => { ws.terminate(); resolve('timeout'); }, 5000);
    const done = (v) => { clearTimeout(t); resolve(v); };
    ws.on('open', () => { ws.terminate(); done('open'); });
    ws.on('unexpected-response', (req, res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => { ws.terminate(); done({ status: res.statusCode, body: data }); });
    });
    ws.on('error', () => done('closed'));
  });
}

const FORBIDDEN = { code: 4, message: 'Forbidden' };

describe('a lone surrogate: refused by the one JSON parser, over REST and sockets alike', () => {
  let patient; let doctor; let conv;
  before(async () => {
    ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  });

  test('REST: 400 invalid_request', async () => {
    const r = await post(`/conversations/${conv}/messages`, tokenFor(patient), '{"content":"a\\ud800b"}');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_request');
  });

  for (const transport of ['websocket', 'polling']) {
    test(`${transport}: the packet is malformed, its transport closed; nothing stored, the room unharmed`, async () => {
      const c = await connectJoined(WS_URL, tokenFor(patient), conv, { transport });
      const watcher = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket' });
      const before_ = await countMessages(conv);
      const gone = new Promise((resolve) => c.socket.once('disconnect', resolve));
      // socket.io-client writes JSON.stringify's well-formed escape: "a\ud800b"
      c.emit('send_message', { conversationId: conv, content: 'a\ud800b', clientId: `lone-${transport}` }, () => {});
      const reason = await Promise.race([gone, sleep(5000).then(() => 'still connected')]);
      assert.match(reason, /^transport (close|error)$/, `disconnect reason: ${reason}`);
      assert.equal(await countMessages(conv), before_, 'nothing stored');
      // The other side goes on: a well-formed message (a surrogate pair) arrives.
      const ok = await connectJoined(WS_URL, tokenFor(patient), conv, { transport });
      const ack = await ok.request('send_message', { conversationId: conv, content: 'après \ud83d\ude00' });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const got = await watcher.waitFor('new_message', (d) => d && d.message && d.message.id === ack.message.id);
      assert.equal(got.message.content, 'après 😀');
      ok.close();
      watcher.close();
      c.close();
    });
  }
});

describe('origins: ws_cors_origins empty means same origin only', () => {
  let gw; let patient;
  before(async () => {
    gw = await startGatewayWith('same-origin', ['ws_cors_origins =']);
    ({ patient } = await pairWithConversation());
  });

  test('polling: no Origin or the same origin served, another origin 403 with the Engine.IO error', async () => {
    const P = '/socket.io/?EIO=4&transport=polling';
    const self = `127.0.0.1:${gw.port}`;
    assert.equal((await request(gw.url, P)).status, 200);
    const same = await request(gw.url, P, { headers: { Origin: `http://${self}` } });
    assert.equal(same.status, 200);
    assert.equal(same.headers['access-control-allow-origin'], undefined);
    // Through a proxy that passes only the host name (nginx's $host).
    assert.equal((await request(gw.url, P, { headers: { Host: 'chat.example', Origin: 'https://chat.example' } })).status, 200);
    for (const origin of ['http://evil.example', `http://127.0.0.1:${gw.port + 1}`, 'null']) {
      const r = await request(gw.url, P, { headers: { Origin: origin } });
      assert.equal(r.status, 403, origin);
      assert.deepEqual(JSON.parse(r.body), FORBIDDEN, origin);
    }
  });

  test('websocket: a page of another origin is refused at the handshake; socket.io-client of the same origin connects', async () => {
    const W = '/socket.io/?EIO=4&transport=websocket';
    const refused = await wsOutcome(gw.url, W, { headers: { Origin: 'http://evil.example' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), FORBIDDEN);
    assert.equal(await wsOutcome(gw.url, W, { headers: { Origin: `http://127.0.0.1:${gw.port}` } }), 'open');
    for (const transport of ['websocket', 'polling']) {
      const foreign = new Client(gw.url, { token: tokenFor(patient), transport, headers: { Origin: 'http://evil.example' } });
      await assert.rejects(foreign.ready(), /connect_error/, `${transport}: a foreign origin`);
      foreign.close();
      const c = await connect(gw.url, tokenFor(patient), { transport, headers: { Origin: `http://127.0.0.1:${gw.port}` } });
      await c.waitFor('connection_established');
      c.close();
    }
  });

  test('the stack (ws_cors_origins = *) still allows any origin', async () => {
    const r = await request(WS_URL, '/socket.io/?EIO=4&transport=polling', { headers: { Origin: 'http://evil.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
  });
});

describe('monitoring paths never upgrade to WebSocket', () => {
  test('/stats, /metrics, /health: no 101 with or without a subprotocol; the gateway keeps serving', async () => {
    for (const path of ['/stats', '/metrics', '/health']) {
      for (const protocols of [undefined, 'messaging-http', 'messaging-pg', 'eio']) {
        const r = await wsOutcome(WS_URL, path, { protocols });
        assert.notEqual(r, 'open', `${path} ${protocols || ''}`);
      }
    }
    // Nor can /socket.io/ be bound to another protocol of the gateway.
    for (const protocols of ['messaging-http', 'messaging-pg', ['foo', 'messaging-pg']]) {
      const r = await wsOutcome(WS_URL, '/socket.io/?EIO=4&transport=websocket', { protocols });
      assert.notEqual(r, 'open', `/socket.io/ ${protocols}`);
    }
    assert.equal(await wsOutcome(WS_URL, '/socket.io/?EIO=4&transport=websocket'), 'open');
    await stats(WS_URL);
  });
});

describe('a recovery session belongs to its user (session_open refuses another user\'s pid)', () => {
  let a; let b; let conv; const trig = `refuse_pid_${tag()}`;
  before(async () => {
    ({ patient: a, conversationId: conv } = await pairWithConversation());
    ({ patient: b } = await pairWithConversation());
  });
  after(async () => {
    await q(`DROP TRIGGER IF EXISTS ${trig} ON messaging.sessions`).catch(() => {});
    await q(`DROP FUNCTION IF EXISTS messaging.${trig}()`).catch(() => {});
  });

  test('a pid that exists for another user: CONNECT_ERROR "Internal error", the session untouched, nothing leaked', async () => {
    const owner = await connectJoined(WS_URL, tokenFor(a), conv, { transport: 'websocket' });
    const pid = owner.socket._pid;
    assert.ok(pid, 'recovery is on: the CONNECT reply carries a pid');
    const row = async () => (await q('SELECT user_id, instance, rooms::text FROM messaging.sessions WHERE pid = $1', [pid])).rows[0];
    // The join's session write follows its ack: wait until it is there.
    let before_;
    for (const t0 = Date.now(); ; await sleep(20)) {
      before_ = await row();
      if (before_ && before_.rooms === `{${conv}}`) break;
      assert.ok(Date.now() - t0 < 3000, `session row of the join: ${JSON.stringify(before_)}`);
    }
    assert.equal(before_.user_id, a.id);
    // The pid the gateway draws for b collides with a's (as if randomness
    // failed): a trigger of this test renames b's new session to it.
    await q(`CREATE FUNCTION messaging.${trig}() RETURNS trigger LANGUAGE plpgsql AS $f$
             BEGIN NEW.pid := '${pid}'; RETURN NEW; END $f$`);
    await q(`CREATE TRIGGER ${trig} BEFORE INSERT ON messaging.sessions FOR EACH ROW
             WHEN (NEW.user_id = ${Number(b.id)}) EXECUTE FUNCTION messaging.${trig}()`);
    const intruder = new RawClient(WS_URL, tokenFor(b));
    await assert.rejects(intruder.ready(), /connect_error/);
    assert.deepEqual(intruder.connectError, { message: 'Internal error' });
    assert.ok(!intruder.connected, 'never accepted');
    assert.deepEqual(intruder.events, [], 'nothing reached the refused client');
    intruder.close();
    assert.deepEqual(await row(), before_, "a's session is as it was");
    assert.equal(owner.connected, true);
    // Counted as refused, not as a connection of b.
    const s = await stats(WS_URL);
    assert.equal(s.connectionDetails[String(b.id)], undefined);
    // Once the collision is gone, b connects.
    await q(`DROP TRIGGER ${trig} ON messaging.sessions`);
    const ok = await rawConnect(WS_URL, tokenFor(b));
    assert.ok(ok.connected.pid && ok.connected.pid !== pid);
    ok.close();
    owner.close();
  });
});

describe('no randomness: refused, never replaced by something guessable (shared/random.c)', () => {
  let shim; let patient;
  before(async () => {
    // A getrandom() that fails for requests of one size (t/integration/preload).
    shim = `${requireEnv('MSG_VAR')}/norandom-${process.pid}.so`;
    execFileSync(process.env.CC || 'cc', ['-shared', '-fPIC', '-o', shim,
      new URL('./preload/norandom.c', import.meta.url).pathname]);
    ({ patient } = await pairWithConversation());
  });

  const env = (size) => ({
    NORANDOM_SIZE: String(size),
    LD_PRELOAD: shim,
    // the sanitizer runtime would insist on coming first in the preload list
    ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:verify_asan_link_order=0`,
  });

  test('recovery pid (16 bytes), recovery on: CONNECT_ERROR "Internal error"; the gateway keeps serving', async () => {
    const gw = await startGatewayWith('norandom', [], env(16));
    const c = new RawClient(gw.url, tokenFor(patient));
    await assert.rejects(c.ready(), /connect_error/);
    assert.deepEqual(c.connectError, { message: 'Internal error' });
    assert.deepEqual(c.events, []);
    c.close();
    assert.equal((await health(gw.url)).status, 200);
    const s = await stats(gw.url);
    assert.equal(s.connections, 0, 'the refused socket is not counted');
    await gw.stop();
  });

  test('recovery pid (16 bytes), recovery off: no pid needed, the CONNECT is accepted', async () => {
    const gw = await startGatewayWith('norandom-norecovery', ['recovery_max_disconnection_ms = 0'], env(16));
    const c = await rawConnect(gw.url, tokenFor(patient));
    assert.equal(c.connected.pid, undefined);
    c.close();
    await gw.stop();
  });

  test('Engine.IO sid (15 bytes): no session, 503 over polling, the WebSocket closed', async () => {
    const gw = await startGatewayWith('norandom-sid', [], env(15));
    const r = await request(gw.url, '/socket.io/?EIO=4&transport=polling');
    assert.equal(r.status, 503);
    const ws = await wsOutcome(gw.url, '/socket.io/?EIO=4&transport=websocket');
    assert.ok(ws === 'closed' || ws === 'open', String(ws)); // lws may finish the handshake first
    const c = new RawClient(gw.url, tokenFor(patient));
    await assert.rejects(c.ready(), /closed before connecting/);
    c.close();
    assert.equal((await health(gw.url)).status, 200);
    await gw.stop();
  });

  test('hash table seed (8 bytes): the gateway does not start', async () => {
    // This early exit of main.c does not free the configuration it loaded:
    // leak detection is off for this one process (memory errors are still
    // checked), whose only point is that it refuses to run.
    const e = { ...env(8), ASAN_OPTIONS: `${env(8).ASAN_OPTIONS}:detect_leaks=0` };
    await assert.rejects(startGatewayWith('norandom-seed', [], e),
      /exited at start.*"code":1.*cannot create the Socket\.IO server/s);
  });

  test('Socket.IO socket id (20 bytes): CONNECT_ERROR "Internal error"', async () => {
    const gw = await startGatewayWith('norandom-socket', [], env(20));
    const c = new RawClient(gw.url, tokenFor(patient));
    await assert.rejects(c.ready(), /connect_error/);
    assert.deepEqual(c.connectError, { message: 'Internal error' });
    c.close();
    await gw.stop();
  });
});
