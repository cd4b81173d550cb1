// REST and Socket.IO smoke test through a web server (the nginx or Apache
// site of conf/, rendered for loopback by t/ops/run.sh): health, the REST
// routes, errors the web server answers itself, the web root, and Socket.IO
// over WebSocket, long-polling and polling upgraded to WebSocket, with
// delivery across two gateway instances and sticky polling sessions.
//
//   node t/ops/smoke.mjs NAME BASE_URL
// Environment: MSG_DB_URL, MSG_JWT_SECRET, MSG_GATEWAYS (direct URLs of the
// instances, space-separated), OPS_EXPECT_BOTH=1 (the balancer must have
// spread clients over both instances), OPS_WEB_FILE (a path under the web
// root), OPS_API_PID / OPS_GATEWAY_PIDS / OPS_CONFIG (reload checks),
// NODE_EXTRA_CA_CERTS (the test CA, for https).
// Prints "ok - NAME" / "not ok - NAME: why" per check, then
// "smoke NAME: P passed, F failed"; exits 1 on any failure.
import { createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import nodeHttp from 'node:http';
import nodeHttps from 'node:https';
import pg from 'pg';
import { io } from 'socket.io-client';

const [NAME, BASE] = process.argv.slice(2);
// A check that fails first leaves its other waits to time out unobserved.
process.on('unhandledRejection', () => {});
const SECRET = process.env.MSG_JWT_SECRET;
const GATEWAYS = (process.env.MSG_GATEWAYS || '').split(/\s+/).filter(Boolean);
let passed = 0, failed = 0;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(sub, role) {
  const now = Math.floor(Date.now() / 1000);
  // jti: two tokens of one user made in the same second differ (the web
  // servers' rate limit counts per token).
  const jti = randomBytes(8).toString('hex');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, role, iat: now, exp: now + 600, jti })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${NAME}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${NAME}: ${name}: ${e && e.message ? e.message : e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function http(method, path, { tok, body, raw, headers = {} } = {}) {
  const h = { ...headers };
  if (tok) h.authorization = `Bearer ${tok}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(BASE + path, {
    method, headers: h, redirect: 'manual',
    body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/** A request with node:http(s), byte for byte: methods fetch refuses (TRACE),
 * paths it would normalise (%00), headers of any size. */
function rawReq(method, path, headers = {}) {
  const u = new URL(BASE);
  const mod = u.protocol === 'https:' ? nodeHttps : nodeHttp;
  return new Promise((resolve, reject) => {
    const req = mod.request({ method, host: u.hostname, port: u.port, path, headers, agent: false, timeout: 10000 }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path.slice(0, 40)}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}
const JSON_CT = 'application/json; charset=utf-8';
function assertJsonError(r, status, code, what) {
  const ct = r.headers instanceof Headers ? r.headers.get('content-type') : r.headers['content-type'];
  assert(r.status === status, `${what}: status ${r.status}, expected ${status}: ${r.text.slice(0, 120)}`);
  assert(ct === JSON_CT, `${what}: Content-Type ${ct}`);
  assert(r.json && r.json.error && r.json.error.code === code && typeof r.json.error.message === 'string',
    `${what}: body ${r.text.slice(0, 160)}`);
}

function client(tok, opts = {}) {
  // withCredentials: the Node client keeps cookies (the balancer's route).
  const sock = io(BASE, { auth: { token: tok }, reconnection: false, timeout: 5000, withCredentials: true, ...opts });
  // Listening from the start: connection_established follows the CONNECT at once.
  sock.ready = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no connection_established within 5000 ms')), 5000);
    sock.once('connection_established', (d) => { clearTimeout(t); resolve(d); });
    sock.once('connect_error', (e) => { clearTimeout(t); reject(new Error(`connect_error: ${e.message}`)); });
  });
  sock.ready.catch(() => {});
  return sock;
}
function once(sock, ev, ms = 5000, pred = () => true) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { sock.off(ev, h); reject(new Error(`no ${ev} within ${ms} ms`)); }, ms);
    const h = (...a) => { if (pred(a[0])) { clearTimeout(t); sock.off(ev, h); resolve(a[0]); } };
    sock.on(ev, h);
  });
}
const connected = (sock) => sock.ready;
const ack = (sock, ev, data) => sock.timeout(5000).emitWithAck(ev, data);

const db = new pg.Client({ connectionString: process.env.MSG_DB_URL, application_name: 'ops-smoke' });
await db.connect();
const tag = randomBytes(4).toString('hex');
async function user(role, first) {
  const r = await db.query(
    'INSERT INTO users (role, first_name, last_name, email) VALUES ($1, $2, $3, $4) RETURNING id',
    [role, first, `Ops ${tag}`, `${first.toLowerCase()}.${tag}.${NAME}@ops.test`]);
  return r.rows[0].id;
}
const patient = await user('patient', 'Paula');
const doctor = await user('medecin', 'Denis');
await db.query('INSERT INTO patient_doctor (patient_id, doctor_id) VALUES ($1, $2)', [patient, doctor]);
const tp = token(patient, 'patient'), td = token(doctor, 'medecin');
let conv = null;
const sockets = [];

await check('GET /api/health is 200 ok', async () => {
  const r = await http('GET', '/api/health');
  assert(r.status === 200 && r.json && r.json.status === 'ok', `got ${r.status} ${r.text}`);
  assert(/application\/json/.test(r.headers.get('content-type') || ''), 'not JSON');
});
await check('no token: 401 with the JSON error', async () => {
  const r = await http('GET', '/api/messaging/conversations');
  assert(r.status === 401 && r.json && r.json.error.code === 'unauthorized', `got ${r.status} ${r.text}`);
});
await check('POST /conversations creates (201), the Authorization header reaches the API', async () => {
  const r = await http('POST', '/api/messaging/conversations', { tok: tp, body: { participantId: doctor } });
  assert(r.status === 201, `got ${r.status} ${r.text}`);
  conv = r.json.conversation.id;
});
await check('GET /conversations?limit=5 (query string passed)', async () => {
  const r = await http('GET', '/api/messaging/conversations?limit=5', { tok: td });
  assert(r.status === 200 && r.json.conversations.some((c) => c.id === conv), `got ${r.status} ${r.text}`);
});
await check('unknown path 404, wrong method 405, bad id 400', async () => {
  const a = await http('GET', '/api/messaging/nothing-here', { tok: tp });
  assert(a.status === 404 && a.json && a.json.error.code === 'not_found', `404: got ${a.status} ${a.text}`);
  const b = await http('DELETE', '/api/messaging/conversations', { tok: tp });
  assert(b.status === 405 && b.headers.get('allow'), `405: got ${b.status} ${b.text}`);
  const c = await http('GET', '/api/messaging/conversations/%31', { tok: tp });
  assert(c.status === 400 || c.status === 404, `encoded id: got ${c.status} ${c.text}`);
});
await check('a body beyond the web server limit: 413 with the JSON error', async () => {
  const r = await http('POST', `/api/messaging/conversations/${conv}/messages`,
    { tok: tp, raw: JSON.stringify({ content: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
  assert(r.status === 413 && r.json && r.json.error.code === 'payload_too_large', `got ${r.status} ${r.text.slice(0, 200)}`);
});
await check('the web root is served', async () => {
  const f = process.env.OPS_WEB_FILE;
  const r = await http('GET', `/${f || ''}`);
  assert(r.status === 200, `GET /${f || ''}: ${r.status}`);
  if (f) assert(r.text === readFileSync(new URL(`../../web/${f}`, import.meta.url), 'utf8'), 'content differs');
});

// ---- errors the web server answers by itself: the contract's JSON too
await check('TRACE: 405 with the JSON error and an Allow header', async () => {
  const r = await rawReq('TRACE', '/api/messaging/conversations');
  assertJsonError(r, 405, 'method_not_allowed', 'TRACE');
  assert(r.headers.allow, 'no Allow header');
});
await check('a %00 in the path: 400 or 404 with the JSON error', async () => {
  const r = await rawReq('GET', '/api/messaging/conversations/%00', { authorization: `Bearer ${tp}` });
  if (r.status === 404) assertJsonError(r, 404, 'not_found', '%00');
  else assertJsonError(r, 400, 'invalid_request', '%00');
});
await check('a malformed escape (%zz) in the path: 400 with the JSON error', async () => {
  const r = await rawReq('GET', '/api/%zz');
  assertJsonError(r, 400, 'invalid_request', '%zz');
});
await check('a URI of 20,000 bytes: 414 with the JSON error', async () => {
  const r = await rawReq('GET', `/api/messaging/${'a'.repeat(20000)}`);
  assertJsonError(r, 414, 'invalid_request', 'long URI');
});
await check('a header of 20,000 bytes: 431 (or 400) with the JSON error', async () => {
  const r = await rawReq('GET', '/api/health', { 'x-big': 'a'.repeat(20000) });
  assertJsonError(r, r.status === 400 ? 400 : 431, 'invalid_request', 'large header');
});
await check('a path nothing serves: 404 with the JSON error', async () => {
  assertJsonError(await http('GET', `/nothing-here-${tag}`), 404, 'not_found', '/nothing-here');
});
await check('the demo page carries a CSP (frame-ancestors none), nosniff and DENY framing', async () => {
  const r = await http('GET', '/');
  const csp = r.headers.get('content-security-policy') || '';
  assert(/frame-ancestors 'none'/.test(csp) && /default-src 'self'/.test(csp), `CSP: ${csp}`);
  assert(r.headers.get('x-content-type-options') === 'nosniff', `nosniff: ${r.headers.get('x-content-type-options')}`);
  assert(r.headers.get('x-frame-options') === 'DENY', `X-Frame-Options: ${r.headers.get('x-frame-options')}`);
});
if (process.env.OPS_RATE_LIMIT === '1') {
  await check('REST per token: past the burst, 429 rate_limited with Retry-After; another token is not affected', async () => {
    const tok = token(patient, 'patient');
    const other = token(doctor, 'medecin');
    const one = () => http('GET', '/api/messaging/unread-count', { tok });
    const codes = [];
    let limited = null;
    // Bounded: 400 requests at most, 16 at a time.
    for (let round = 0; round < 25 && !limited; round++) {
      const rs = await Promise.all(Array.from({ length: 16 }, one));
      for (const r of rs) { codes.push(r.status); if (r.status === 429 && !limited) limited = r; }
    }
    assert(limited, `no 429 in ${codes.length} requests`);
    assertJsonError(limited, 429, 'rate_limited', '429');
    assert(/^\d+$/.test(limited.headers.get('retry-after') || ''), `Retry-After: ${limited.headers.get('retry-after')}`);
    assert(codes.filter((c) => c === 200).length >= 100, `the burst of 100 was not served: ${codes.filter((c) => c === 200).length} of 200`);
    const o = await http('GET', '/api/messaging/unread-count', { tok: other });
    assert(o.status === 200, `another token: ${o.status}`);
  });
}

// ---- Socket.IO through the web server
const wsSock = client(tp, { transports: ['websocket'] });
const pollSock = client(td, { transports: ['polling'] });
const upSock = client(tp);
sockets.push(wsSock, pollSock, upSock);
await check('Socket.IO over WebSocket connects and authenticates', async () => {
  const est = await connected(wsSock);
  assert(est.userId === patient && est.userRole === 'patient', JSON.stringify(est));
  assert(wsSock.io.engine.transport.name === 'websocket', wsSock.io.engine.transport.name);
});
await check('Socket.IO over long-polling connects and authenticates', async () => {
  const est = await connected(pollSock);
  assert(est.userId === doctor, JSON.stringify(est));
  assert(pollSock.io.engine.transport.name === 'polling', pollSock.io.engine.transport.name);
});
await check('Socket.IO default: polling, then upgraded to WebSocket', async () => {
  await connected(upSock);
  const t0 = Date.now();
  while (upSock.io.engine.transport.name !== 'websocket' && Date.now() - t0 < 5000) await sleep(50);
  assert(upSock.io.engine.transport.name === 'websocket', `still ${upSock.io.engine.transport.name}`);
});
await check('join_room on each transport', async () => {
  for (const s of [wsSock, pollSock, upSock]) {
    const a = await ack(s, 'join_room', { conversationId: conv });
    assert(a && a.ok === true, JSON.stringify(a));
  }
});
await check('a message sent by REST reaches the WebSocket and the polling clients', async () => {
  const got = [wsSock, pollSock, upSock].map((s) => once(s, 'new_message', 5000, (d) => d.message.content === `rest ${tag}`));
  const r = await http('POST', `/api/messaging/conversations/${conv}/messages`, { tok: tp, body: { content: `rest ${tag}` } });
  assert(r.status === 201, `POST: ${r.status} ${r.text}`);
  await Promise.all(got);
});
await check('a message sent over polling reaches the WebSocket client (ack ok)', async () => {
  const got = once(wsSock, 'new_message', 5000, (d) => d.message.content === `poll ${tag}`);
  const a = await ack(pollSock, 'send_message', { conversationId: conv, content: `poll ${tag}` });
  assert(a && a.ok === true, JSON.stringify(a));
  await got;
});

// Several polling clients: a balancer without stickiness sends the second
// request of a session to the other instance, which does not know its sid.
await check('six polling sessions stay on their instance (sticky) and keep working', async () => {
  const extra = [];
  for (let i = 0; i < 6; i++) extra.push(client(i % 2 ? tp : td, { transports: ['polling'] }));
  sockets.push(...extra);
  await Promise.all(extra.map(connected));
  for (const s of extra) {
    const a = await ack(s, 'join_room', { conversationId: conv });
    assert(a && a.ok === true, `join_room: ${JSON.stringify(a)}`);
  }
  const got = extra.map((s) => once(s, 'new_message', 5000, (d) => d.message.content === `many ${tag}`));
  const a = await ack(wsSock, 'send_message', { conversationId: conv, content: `many ${tag}` });
  assert(a && a.ok === true, JSON.stringify(a));
  await Promise.all(got);
  await sleep(300);
  assert(extra.every((s) => s.connected), 'a polling client was disconnected');
});
if (GATEWAYS.length > 1) {
  await check(`clients are spread over the gateway instances${process.env.OPS_EXPECT_BOTH === '1' ? ' (both used)' : ''}`, async () => {
    const counts = [];
    for (const g of GATEWAYS) {
      const r = await fetch(`${g}/stats`);
      assert(r.status === 200, `${g}/stats: ${r.status}`);
      counts.push((await r.json()).connections);
    }
    const total = counts.reduce((a, b) => a + b, 0);
    assert(total >= sockets.length, `gateways hold ${total} connections for ${sockets.length} clients (${counts})`);
    if (process.env.OPS_EXPECT_BOTH === '1') assert(counts.every((c) => c > 0), `connections per instance: ${counts}`);
  });
}

// ---- Reloads: SIGHUP to the API master (workers replaced) and to the
// gateways (live settings), under traffic, without losing anything.
if (process.env.OPS_API_PID) {
  await check('API SIGHUP under load: no request fails, the new worker count applies', async () => {
    const pid = Number(process.env.OPS_API_PID);
    const cfgPath = process.env.OPS_CONFIG;
    const children = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch { return false; }
    }).length;
    let stop = false, ok = 0;
    const errors = [];
    const loop = async () => {
      // A fresh token every 80 requests: each stays within the burst of the
      // web server's rate limit per token.
      let own = null;
      for (let n = 0; !stop; n++) {
        if (n % 80 === 0) own = token(patient, 'patient');
        try {
          const r = await http('GET', '/api/messaging/unread-count', { tok: own });
          if (r.status === 200) ok++; else errors.push(`${r.status} ${r.text.slice(0, 80)}`);
        } catch (e) { errors.push(e.cause ? e.cause.code || e.cause.message : e.message); }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    const before = readFileSync(cfgPath, 'utf8');
    const target = NAME === 'apache' ? 2 : 3;
    writeFileSync(cfgPath, before.replace(/^api_workers = \d+$/m, `api_workers = ${target}`));
    for (let i = 0; i < 3; i++) { await sleep(250); process.kill(pid, 'SIGHUP'); }
    await sleep(1000);
    stop = true;
    await Promise.all(loops);
    assert(errors.length === 0, `${errors.length} of ${ok + errors.length} failed: ${errors.slice(0, 3).join('; ')}`);
    assert(ok > 50, `only ${ok} requests`);
    const n = children();
    assert(n === target, `${n} workers after the reload, expected ${target}`);
  });
}
if (process.env.OPS_GATEWAY_PIDS) {
  await check('gateway SIGHUP: connected clients stay, and still get events', async () => {
    const pids = process.env.OPS_GATEWAY_PIDS.split(/\s+/).filter(Boolean).map(Number);
    const drops = [];
    for (const s of sockets) s.on('disconnect', (why) => drops.push(why));
    for (const p of pids) process.kill(p, 'SIGHUP');
    await sleep(800);
    const got = [wsSock, pollSock, upSock].map((s) => once(s, 'new_message', 5000, (d) => d.message.content === `after hup ${tag}`));
    const r = await http('POST', `/api/messaging/conversations/${conv}/messages`, { tok: td, body: { content: `after hup ${tag}` } });
    assert(r.status === 201, `POST: ${r.status}`);
    await Promise.all(got);
    assert(drops.length === 0, `disconnects: ${drops.join(', ')}`);
    for (const p of pids) process.kill(p, 0); // still running
  });
}

for (const s of sockets) s.close();
await db.end();
console.log(`smoke ${NAME}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
