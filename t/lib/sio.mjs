// Socket.IO helpers of the gateway's end-to-end tests (API.md section 5):
// clients of the npm socket.io-client that record every event they receive,
// acks with a deadline, the contract's error shapes, the gateway's
// monitoring endpoints, extra gateway processes, and a raw Engine.IO /
// Socket.IO client over `ws` for protocol-level tests (a client that stops
// reading, malformed packets).
//
// Listeners look at the FIRST argument of an event only: events sent to a
// room may carry one more, last argument (the connection state recovery
// offset).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { BASE_URL, requireEnv } from './env.mjs';
import { atEnd } from './fixtures.mjs';

export const WS_URL = requireEnv('MSG_WS_URL').replace(/\/+$/, '');
export const WS_URL2 = requireEnv('MSG_WS_URL2').replace(/\/+$/, '');
export { BASE_URL };

/** Where a client can reach the gateway: each instance directly, and nginx. */
export const ENDPOINTS = {
  gw1: WS_URL,
  gw2: WS_URL2,
  nginx: BASE_URL,
};

/** socket.io-client options of each transport setting. */
export const TRANSPORTS = {
  default: {},
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
};
export const TRANSPORT_NAMES = Object.keys(TRANSPORTS);

export const CONNECT_TIMEOUT_MS = 3000;
export const ACK_TIMEOUT_MS = 5000;
/** REST (NOTIFY) to socket: "within a few ms"; the tests allow this much. */
export const DELIVERY_MS = 2000;
/** How long the tests wait to be sure that something does NOT arrive. */
export const QUIET_MS = 400;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every client opened here, so that after() can close what a failed test left.
const opened = new Set();

/**
 * A socket.io-client socket that records what it receives.
 *   events: [{name, data (first argument), args, at}]
 */
export class Client {
  constructor(url, { token, auth, headers, transport = 'default', reconnection = false, label, ...rest } = {}) {
    this.label = label || `${transport}@${url}`;
    this.events = [];
    this.waiters = [];
    this.disconnects = [];
    const opts = {
      forceNew: true, // one engine per Client: never multiplexed with another
      reconnection,
      timeout: CONNECT_TIMEOUT_MS,
      ...TRANSPORTS[transport],
      ...rest,
    };
    if (auth !== undefined) opts.auth = auth;
    else if (token !== undefined) opts.auth = { token };
    if (headers) opts.extraHeaders = headers;
    this.socket = io(url, opts);
    this.socket.onAny((name, ...args) => this._record(name, args));
    this.socket.on('disconnect', (reason) => this.disconnects.push({ reason, at: Date.now() }));
    opened.add(this);
  }

  _record(name, args) {
    const ev = { name, data: args[0], args, at: Date.now() };
    this.events.push(ev);
    for (const w of [...this.waiters]) {
      if (w.name === name && w.pred(ev.data, ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev.data);
      }
    }
  }

  get id() { return this.socket.id; }

  get connected() { return this.socket.connected; }

  /** Resolves once connected; rejects with "connect_error: <message>" or on timeout. */
  ready(ms = CONNECT_TIMEOUT_MS + 500) {
    if (this.socket.connected) return Promise.resolve(this);
    return this.#nextConnect(ms,
      (resolve) => resolve(this),
      (err, resolve, reject) => reject(new Error(`${this.label}: connect_error: ${err && err.message}`)),
      `not connected within ${ms} ms`);
  }

  /** Resolves with the Error of the next connect_error; rejects if the socket connects instead. */
  refused(ms = CONNECT_TIMEOUT_MS + 500) {
    return this.#nextConnect(ms,
      (resolve, reject) => reject(new Error(`${this.label}: connected, but a connect_error was expected`)),
      (err, resolve) => resolve(err),
      `no connect_error within ${ms} ms`);
  }

  /** A promise settled by the next connect (onOk) or connect_error (onErr), or
   * rejected with `late` after ms; its listeners and timer are removed first. */
  #nextConnect(ms, onOk, onErr, late) {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        this.socket.off('connect', ok);
        this.socket.off('connect_error', err);
      };
      const ok = () => { done(); onOk(resolve, reject); };
      const err = (e) => { done(); onErr(e, resolve, reject); };
      const t = setTimeout(() => { done(); reject(new Error(`${this.label}: ${late}`)); }, ms);
      this.socket.on('connect', ok);
      this.socket.on('connect_error', err);
    });
  }

  /** The data of the first recorded event `name` matching pred (already received or within ms). */
  waitFor(name, pred = () => true, ms = DELIVERY_MS) {
    const hit = this.events.find((e) => e.name === name && pred(e.data, e));
    if (hit) return Promise.resolve(hit.data);
    return new Promise((resolve, reject) => {
      const w = { name, pred, resolve: (v) => { clearTimeout(t); resolve(v); } };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const got = this.events.map((e) => `${e.name} ${JSON.stringify(e.data)}`.slice(0, 160));
        reject(new Error(`${this.label}: no matching "${name}" within ${ms} ms; received: ${JSON.stringify(got.slice(-15))}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Waits until `count` events `name` matching pred are recorded; returns their data. */
  async waitCount(name, count, pred = () => true, ms = DELIVERY_MS) {
    const t0 = Date.now();
    for (;;) {
      const got = this.all(name, pred);
      if (got.length >= count) return got;
      if (Date.now() - t0 > ms) {
        assert.fail(`${this.label}: ${got.length} of ${count} "${name}" events within ${ms} ms`);
      }
      await sleep(20);
    }
  }

  /** Data of every recorded event `name` matching pred. */
  all(name, pred = () => true) {
    return this.events.filter((e) => e.name === name && pred(e.data, e)).map((e) => e.data);
  }

  /** Number of recorded events (a mark for since()). */
  mark() { return this.events.length; }

  /** Events recorded since a mark, optionally only `name`. */
  since(mark, name) {
    return this.events.slice(mark).filter((e) => !name || e.name === name);
  }

  emit(name, ...args) { this.socket.emit(name, ...args); }

  /** Emits with an ack callback; resolves with the ack's first argument. */
  request(name, ...args) {
    return this.requestWithin(ACK_TIMEOUT_MS, name, ...args);
  }

  /** request(), again after retryAfterMs while the answer is rate_limited (API.md section 8). */
  async requestPaced(name, ...args) {
    for (;;) {
      const ack = await this.request(name, ...args);
      if (!(ack && ack.ok === false && ack.error && ack.error.code === 'rate_limited' && ack.error.retryAfterMs)) return ack;
      await sleep(ack.error.retryAfterMs);
    }
  }

  requestWithin(ms, name, ...args) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(ms).emit(name, ...args, (err, ...res) => {
        if (err) reject(new Error(`${this.label}: no ack to "${name}" within ${ms} ms`));
        else resolve(res[0]);
      });
    });
  }

  /** join_room with an ack; asserts {ok: true, conversationId} and the room_joined event. */
  async join(conversationId) {
    const ack = await this.request('join_room', { conversationId });
    assert.deepEqual(ack, { ok: true, conversationId: Number(conversationId) }, `${this.label}: join_room ack`);
    await this.waitFor('room_joined', (d) => d && d.conversationId === Number(conversationId));
    return ack;
  }

  /** Closes the socket (and its engine). */
  close() {
    opened.delete(this);
    try { this.socket.disconnect(); } catch { /* already closed */ }
    try { this.socket.io.engine && this.socket.io.engine.close(); } catch { /* already closed */ }
  }
}

/** A connected Client, or a thrown Error with the connect_error message. */
export async function connect(url, token, opts = {}) {
  return readied(new Client(url, { token, ...opts }));
}

/** c once it is ready; closed, and the error thrown, when it is refused. */
async function readied(c) {
  try {
    await c.ready();
  } catch (err) {
    c.close();
    throw err;
  }
  return c;
}

/** Connects and joins every conversation given. */
export async function connectJoined(url, token, conversationIds, opts = {}) {
  const c = await connect(url, token, opts);
  for (const id of [].concat(conversationIds)) await c.join(id);
  return c;
}

/** Closes every Client still open (for after()). */
export function closeAll() {
  for (const c of [...opened]) c.close();
}

// ---- contract shapes ---------------------------------------------------------

const LEAKS = /\b(select|insert|update|delete)\b.*\b(from|into|set)\b|postgres|libpq|sqlstate|\.c:\d|\/work\/|\/usr\/|segfault|errno/i;

/** An `error` event: {message, code, event}. */
export function assertErrorEvent(data, code, event) {
  assert.ok(data && typeof data === 'object' && !Array.isArray(data), `error event data: ${JSON.stringify(data)}`);
  assert.deepEqual(Object.keys(data).sort(), ['code', 'event', 'message'], `error event keys: ${JSON.stringify(data)}`);
  assert.equal(data.code, code, `error event code: ${JSON.stringify(data)}`);
  assert.equal(data.event, event, `error event name: ${JSON.stringify(data)}`);
  assert.equal(typeof data.message, 'string');
  assert.ok(data.message.length > 0, 'empty error message');
  assert.doesNotMatch(data.message, LEAKS, 'error message leaks internals');
}

/** A failed ack: {ok: false, error: {code, message}}. */
export function assertAckError(ack, code) {
  assert.ok(ack && typeof ack === 'object', `ack: ${JSON.stringify(ack)}`);
  assert.deepEqual(Object.keys(ack).sort(), ['error', 'ok'], `ack keys: ${JSON.stringify(ack)}`);
  assert.equal(ack.ok, false, `ack: ${JSON.stringify(ack)}`);
  // rate_limited says when to try again (API.md section 8).
  const keys = code === 'rate_limited' ? ['code', 'message', 'retryAfterMs'] : ['code', 'message'];
  assert.deepEqual(Object.keys(ack.error).sort(), keys, `ack error keys: ${JSON.stringify(ack)}`);
  if (code === 'rate_limited') assert.ok(Number.isInteger(ack.error.retryAfterMs) && ack.error.retryAfterMs >= 0, JSON.stringify(ack));
  assert.equal(ack.error.code, code, `ack error code: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error.message, 'string');
  assert.ok(ack.error.message.length > 0, 'empty ack error message');
  assert.doesNotMatch(ack.error.message, LEAKS, 'error message leaks internals');
}

/**
 * Sends `name` with an ack on client `c` and expects a refusal with `code`:
 * the ack {ok:false, error:{code}} and an `error` event {code, event: name}.
 * Returns the ack.
 */
export async function expectRefusal(c, code, name, ...args) {
  const mark = c.mark();
  const ack = await c.request(name, ...args);
  assertAckError(ack, code);
  const ev = await c.waitFor('error', (d, e) => c.events.indexOf(e) >= mark && d && d.event === name);
  assertErrorEvent(ev, code, name);
  assert.equal(ev.code, ack.error.code);
  return ack;
}

// ---- monitoring -------------------------------------------------------------

async function fetchWithin(url, ms = 3000) {
  return fetch(url, { signal: AbortSignal.timeout(ms) });
}

/** GET <gateway>/stats, shape-checked. */
export async function stats(url = WS_URL) {
  const res = await fetchWithin(`${url}/stats`);
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${url}/stats: ${res.status} ${text.slice(0, 200)}`);
  const s = JSON.parse(text);
  assert.deepEqual(Object.keys(s).sort(), ['connectionDetails', 'connections', 'multipleConnections', 'rooms', 'users'],
    `stats keys: ${text}`);
  for (const k of ['connections', 'users', 'multipleConnections', 'rooms']) {
    assert.ok(Number.isInteger(s[k]) && s[k] >= 0, `stats.${k}: ${text}`);
  }
  assert.ok(s.connectionDetails && typeof s.connectionDetails === 'object' && !Array.isArray(s.connectionDetails));
  for (const [k, v] of Object.entries(s.connectionDetails)) {
    assert.match(k, /^[1-9]\d*$/, `connectionDetails key ${k}`);
    assert.ok(Number.isInteger(v) && v > 1, `connectionDetails[${k}] = ${v}: only users with more than one connection`);
  }
  assert.equal(s.multipleConnections, Object.keys(s.connectionDetails).length, `multipleConnections: ${text}`);
  return s;
}

/** Polls /stats until pred(stats) holds; returns the stats or fails. */
export async function statsUntil(url, pred, ms = DELIVERY_MS, what = 'condition') {
  const t0 = Date.now();
  let s;
  for (;;) {
    s = await stats(url);
    if (pred(s)) return s;
    if (Date.now() - t0 > ms) assert.fail(`${url}/stats: ${what} not reached within ${ms} ms: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

/** GET <gateway>/metrics: {status, contentType, text, samples: Map name -> [values]}. */
export async function metrics(url = WS_URL) {
  const res = await fetchWithin(`${url}/metrics`);
  const text = await res.text();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    if (!samples.has(m[1])) samples.set(m[1], []);
    samples.get(m[1]).push({ labels: m[2] || '', value: Number(m[3]) });
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, samples };
}

/** GET <gateway>/health: {status, text}. */
export async function health(url = WS_URL, ms = 3000) {
  const res = await fetchWithin(`${url}/health`, ms);
  return { status: res.status, text: await res.text() };
}

// ---- gateway processes ---------------------------------------------------------

/** A TCP port free on 127.0.0.1 (nothing listens on it right now). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** PID of gateway instance i of the stack (MSG_VAR/run/gateway-i.pid), or null. */
export function stackGatewayPid(i = 0) {
  try {
    const pid = Number(readFileSync(`${requireEnv('MSG_VAR')}/run/gateway-${i}.pid`, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('messaging-gateway') ? pid : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process in KiB (VmRSS), or null. */
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Starts one more gateway ($MSG_GATEWAY_BIN --port PORT [--config FILE])
 * with the stack's environment plus `env`; resolves once its /health
 * answers. Its log goes to MSG_VAR/log/gateway-extra-PORT.log (checked for
 * sanitizer reports like the others). Returns {port, url, proc, exited
 * (promise of {code, signal}), kill(sig, ms), stop(ms)}. What a test leaves
 * running is stopped after the file's tests (fixtures.mjs, setUp), and
 * killed at exit whatever happens to the test process.
 */
const started = new Set();
const running = new Set();
process.once('exit', () => {
  for (const p of started) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export async function startGateway(port, { readyMs = 10000, env = {}, config } = {}) {
  const bin = requireEnv('MSG_GATEWAY_BIN');
  const logPath = `${requireEnv('MSG_VAR')}/log/gateway-extra-${port}.log`;
  const args = ['--port', String(port), ...(config ? ['--config', config] : [])];
  const fd = openSync(logPath, 'a');
  const proc = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  started.add(proc);
  let exitInfo = null;
  let gw = null;
  const exited = new Promise((resolve) => {
    const done = (info) => { started.delete(proc); running.delete(gw); exitInfo = info; resolve(info); };
    proc.on('exit', (code, signal) => done({ code, signal }));
    proc.on('error', (err) => done({ code: -1, signal: null, err }));
  });
  const url = `http://127.0.0.1:${port}`;
  gw = {
    port,
    url,
    proc,
    exited,
    /** Sends sig; SIGKILL after ms; resolves with {code, signal}. */
    async kill(sig = 'SIGTERM', ms = 8000) {
      if (exitInfo) return exitInfo;
      proc.kill(sig);
      const t = setTimeout(() => { if (!exitInfo) proc.kill('SIGKILL'); }, ms);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    stop(ms = 5000) { return gw.kill('SIGTERM', ms); },
  };
  running.add(gw);
  const t0 = Date.now();
  for (;;) {
    if (exitInfo) {
      let log = '';
      try { log = readFileSync(logPath, 'utf8').slice(-2000); } catch { /* none */ }
      throw new Error(`${bin} ${args.join(' ')} exited at start (${JSON.stringify(exitInfo)}): ${log}`);
    }
    try {
      const h = await health(url, 1000);
      if (h.status === 200) return gw;
    } catch { /* not listening yet */ }
    if (Date.now() - t0 > readyMs) {
      await gw.stop();
      throw new Error(`${bin} ${args.join(' ')}: /health not 200 within ${readyMs} ms`);
    }
    await sleep(50);
  }
}

/** Stops every gateway startGateway() started that still runs. */
export async function stopGateways(ms = 3000) {
  for (const gw of [...running]) await gw.stop(ms).catch(() => {});
}

// What a test file leaves open goes after its tests: its sockets first,
// then its gateways (fixtures.mjs, setUp()).
atEnd(closeAll);
atEnd(stopGateways);

/** The stack's configuration plus `extra` lines, in a file of the test's own (MSG_VAR/NAME.conf). */
export function configWith(name, extra) {
  const base = readFileSync(requireEnv('MESSAGING_CONFIG'), 'utf8');
  const path = `${requireEnv('MSG_VAR')}/${name}.conf`;
  writeFileSync(path, `${base.replace(/\n?$/, '\n')}${extra.join('\n')}\n`);
  return path;
}

/** Waits until cond() holds, polling; fails the test after ms. */
export async function until(cond, ms, what) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

// ---- raw Engine.IO v4 / Socket.IO v5 client over WebSocket ---------------------

/**
 * A hand-made Socket.IO client on the WebSocket transport (no upgrade, no
 * polling): the Engine.IO open packet, the namespace CONNECT with
 * {token}, pongs to the server's pings, events recorded as
 * {name, data, args}. `ws` is the `ws` WebSocket: `ws._socket.pause()`
 * stops reading from the TCP connection.
 */
export class RawClient {
  constructor(url, token, { label = `raw@${url}` } = {}) {
    this.label = label;
    this.events = [];
    this.packets = [];
    this.closed = null;
    this.open = null;
    this.connected = null; // CONNECT reply data
    this.connectError = null;
    this.bytes = 0;
    const wsUrl = `${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    this.ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    this.closedPromise = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => { this.closed = { code, reason: String(reason), at: Date.now() }; resolve(this.closed); });
    });
    this.ws.on('error', () => { /* followed by close */ });
    this.readyPromise = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${label}: no Socket.IO CONNECT reply within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS);
      this.ws.on('close', () => { clearTimeout(t); reject(new Error(`${label}: closed before connecting`)); });
      this.ws.on('message', (buf, isBinary) => {
        this.bytes += buf.length;
        if (isBinary) return;
        const s = buf.toString('utf8');
        this.packets.push(s);
        if (s[0] === '0') {
          this.open = JSON.parse(s.slice(1));
          this.ws.send(`40${JSON.stringify({ token })}`);
        } else if (s === '2') {
          this.ws.send('3');
        } else if (s.startsWith('40')) {
          this.connected = JSON.parse(s.slice(2) || '{}');
          clearTimeout(t);
          resolve(this);
        } else if (s.startsWith('44')) {
          this.connectError = JSON.parse(s.slice(2));
          clearTimeout(t);
          reject(new Error(`${label}: connect_error ${s.slice(2)}`));
        } else if (s.startsWith('42')) {
          const m = /^42(\d*)(\[.*)$/s.exec(s);
          if (m) {
            const arr = JSON.parse(m[2]);
            this.events.push({ name: arr[0], data: arr[1], args: arr.slice(1) });
          }
        }
      });
    });
  }

  ready() { return this.readyPromise; }

  /** Sends one Socket.IO EVENT packet (42[...]). */
  emit(name, ...args) { this.ws.send(`42${JSON.stringify([name, ...args])}`); }

  /** Sends a raw text frame. */
  sendRaw(text) { this.ws.send(text); }

  /** Stops reading from the TCP connection (the kernel buffers fill, then the server's queue). */
  pause() { this.ws._socket.pause(); }

  resume() { this.ws._socket.resume(); }

  /** Resolves when the connection is closed, or rejects after ms. */
  waitClosed(ms = 5000) {
    return Promise.race([
      this.closedPromise,
      sleep(ms).then(() => { if (!this.closed) throw new Error(`${this.label}: still open after ${ms} ms`); return this.closed; }),
    ]);
  }

  all(name) { return this.events.filter((e) => e.name === name).map((e) => e.data); }

  close() {
    try { this.ws._socket && this.ws._socket.resume(); } catch { /* gone */ }
    try { this.ws.terminate(); } catch { /* gone */ }
  }
}

/** A connected RawClient (CONNECT accepted). */
export async function rawConnect(url, token, opts = {}) {
  return readied(new RawClient(url, token, opts));
}

/** new_message ids received by a Client for one conversation, in arrival order. */
export function messageIds(c, conversationId) {
  return c.all('new_message', (d) => d && d.conversationId === conversationId).map((d) => d.message.id);
}

/** Asserts ids strictly ascending and equal (as a set, each once) to expected. */
export function assertDeliveredOnceInOrder(got, expected, what = 'new_message ids') {
  const sortedExpected = [...expected].sort((a, b) => a - b);
  for (let i = 1; i < got.length; i++) {
    assert.ok(got[i] > got[i - 1], `${what}: not ascending at ${i}: ${JSON.stringify(got)}`);
  }
  assert.deepEqual(got, sortedExpected, `${what}: each exactly once`);
}

/** new_message data {message, conversationId} as expected, but for the
 * message's deliveredAt: a room reads its event when it rings, and a
 * receipt from another socket may have set it by then (null or ISO). */
export function assertNewMessage(got, message, conversationId, label = 'new_message') {
  assert.ok(got && typeof got === 'object', `${label}: ${JSON.stringify(got)}`);
  assert.deepEqual(Object.keys(got).sort(), ['conversationId', 'message'], label);
  assert.equal(got.conversationId, conversationId, label);
  const { deliveredAt, ...rest } = got.message;
  const { deliveredAt: _ignored, ...want } = message;
  assert.deepEqual(rest, want, label);
  assert.ok(deliveredAt === undefined || deliveredAt === null || /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(deliveredAt),
    `${label}: deliveredAt ${deliveredAt}`);
}
