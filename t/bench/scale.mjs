// Many joined sockets, messages posted through REST, delivery checked.
//
//   node scale.mjs --db URL --api BASE --gateways P1,P2,... --secret S
//                  [--sockets N] [--rate R] [--seconds T] [--hot K] [--addresses A]
//
// Fixtures: N patients, N / 100 doctors, one conversation per patient (its
// own room). One child process per gateway holds its share of the sockets
// (raw Engine.IO/Socket.IO over WebSocket, pings answered), each joined to
// its conversation; the children spread their connections over A loopback
// source addresses and retry a failed connect (counted). Then P poster
// processes (--posters, 2) post R messages/s in all for T s through REST
// (as the doctor) into random conversations (--hot K: into the first K
// only), and each child reports every new_message it received with its
// latency (receipt minus the message's sentAt). Prints one JSON line:
// sockets held, posted, delivered, duplicates, lost, p50/p99 ms, gateway
// RSS per socket, and PostgreSQL CPU seconds per message.
import { fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import WebSocket from 'ws';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const token = (secret, sub, role) => {
  const h = b64({ alg: 'HS256', typ: 'JWT' });
  const p = b64({ sub, role, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 });
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
};

if (process.argv[2] === '--child') {
  // A child: holds sockets on one gateway; on 'report', sends what it got.
  const got = new Map(); // message id -> [count, latency ms]
  const joinedConvs = new Set(); const gone = new Set();
  let held = 0; let failed = 0; let closed = 0; let retries = 0;
  process.on('message', async (m) => {
    if (m.cmd === 'open') {
      const { port, users, addresses, secret } = m;
      // A socket that could not connect or join tries again, as a client
      // does (a burst of connects can overflow the listen queue); each try
      // is counted.
      const one = (u, k, attempt = 0) => new Promise((resolve) => {
        let settled = false;
        const fail = () => {
          if (settled) return;
          settled = true;
          if (attempt < 5) { retries++; setTimeout(() => one(u, k, attempt + 1).then(resolve), 200 * (attempt + 1)); } else { failed++; resolve(); }
        };
        const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
          { perMessageDeflate: false, handshakeTimeout: 10000, localAddress: addresses[k % addresses.length] });
        let joined = false;
        ws.on('message', (buf) => {
          const s = buf.toString();
          if (s[0] === '0') ws.send(`40${JSON.stringify({ token: token(secret, u.user, 'patient') })}`);
          else if (s === '2') ws.send('3');
          else if (s.startsWith('40')) ws.send(`420${JSON.stringify(['join_room', { conversationId: u.conv }])}`);
          else if (s.startsWith('430')) { if (!joined) { joined = true; settled = true; held++; joinedConvs.add(u.conv); resolve(); } } else if (s.startsWith('42')) {
            const arr = JSON.parse(s.slice(2));
            if (arr[0] === 'new_message') {
              const id = arr[1].message.id;
              const lat = Date.now() - Date.parse(arr[1].message.sentAt);
              const g = got.get(id);
              if (g) g[0]++; else got.set(id, [1, lat]);
            }
          } else if (s.startsWith('44')) { ws.terminate(); fail(); }
        });
        ws.on('error', () => { /* followed by close */ });
        ws.on('close', () => { if (joined) { closed++; gone.add(u.conv); } else fail(); });
      });
      for (let i = 0; i < users.length; i += 100) {
        await Promise.all(users.slice(i, i + 100).map((u, k) => one(u, i + k)));
      }
      process.send({ opened: held, failed, retries });
    } else if (m.cmd === 'count') {
      process.send({ count: got.size });
    } else if (m.cmd === 'report') {
      process.send({ report: [...got.entries()], held: held - closed, closed,
        convs: [...joinedConvs].filter((c) => !gone.has(c)) });
    }
  });
} else if (process.argv[2] === '--poster') {
  // A poster: `rate` messages/s for `seconds` s through REST, keep-alive, as
  // each conversation's doctor, into random conversations of `pool`.
  process.once('message', async ({ api, secret, pool, rate, seconds }) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const posted = []; let refused = 0; let maxLagMs = 0;
    const tokens = new Map();
    const post = (u, n) => new Promise((resolve) => {
      if (!tokens.has(u.doctor)) tokens.set(u.doctor, token(secret, u.doctor, 'medecin'));
      const req = http.request(`${api}/api/messaging/conversations/${u.conv}/messages`, {
        method: 'POST', agent, headers: { authorization: `Bearer ${tokens.get(u.doctor)}`, 'content-type': 'application/json' },
      }, (res) => {
        let data = '';
        res.on('data', (c) => { data += c; });
        res.on('end', () => {
          if (res.statusCode === 201) posted.push([JSON.parse(data).message.id, u.conv]); else refused++;
          resolve();
        });
      });
      req.on('error', () => { refused++; resolve(); });
      req.end(JSON.stringify({ content: `scale ${process.pid} ${n}` }));
    });
    const pending = [];
    const start = Date.now();
    for (let i = 0; i < rate * seconds; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else maxLagMs = Math.max(maxLagMs, -wait);
      pending.push(post(pool[Math.floor(Math.random() * pool.length)], i));
    }
    const offeredS = (Date.now() - start) / 1000;
    await Promise.all(pending);
    process.send({ posted, refused, offeredS, doneS: (Date.now() - start) / 1000, maxLagMs });
  });
} else {
  const db = new pg.Client({ connectionString: arg('db') });
  await db.connect();
  const N = Number(arg('sockets', 1000));
  const rate = Number(arg('rate', 100));
  const seconds = Number(arg('seconds', 20));
  const hot = Number(arg('hot', 0));
  const ports = arg('gateways').split(',').map(Number);
  const secret = arg('secret');
  const api = arg('api');
  const addresses = Array.from({ length: Number(arg('addresses', 4)) }, (_, i) => `127.0.0.${i + 1}`);
  const t = Date.now().toString(36);
  // Fixtures in three statements.
  const docs = Math.max(1, Math.ceil(N / 100));
  const { rows: drows } = await db.query(
    `INSERT INTO users (role, first_name, last_name, email)
     SELECT 'medecin', 'D' || i, 'Scale', 'scale-d-' || $2 || '-' || i || '@example.test' FROM generate_series(1, $1::int) i RETURNING id`,
    [docs, t]);
  const { rows } = await db.query(
    `WITH p AS (INSERT INTO users (role, first_name, last_name, email)
                SELECT 'patient', 'P' || i, 'Scale', 'scale-p-' || $2 || '-' || i || '@example.test'
                  FROM generate_series(1, $1::int) i RETURNING id),
          pd AS (SELECT id AS patient, ($3::int[])[1 + (row_number() OVER (ORDER BY id))::int % cardinality($3::int[])] AS doctor FROM p),
          l AS (INSERT INTO patient_doctor (patient_id, doctor_id) SELECT patient, doctor FROM pd RETURNING patient_id, doctor_id)
     INSERT INTO conversations (patient_id, doctor_id, status) SELECT patient_id, doctor_id, 'active' FROM l
     RETURNING id, patient_id, doctor_id`, [N, t, drows.map((r) => r.id)]);
  const users = rows.map((r) => ({ conv: Number(r.id), user: Number(r.patient_id), doctor: Number(r.doctor_id) }));
  // PostgreSQL's CPU (every postgres process), from /proc.
  const pgTicks = () => {
    let n = 0;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (!st.includes('(postgres)')) continue;
        const f = st.split(') ')[1].split(' ');
        n += Number(f[11]) + Number(f[12]);
      } catch { /* gone */ }
    }
    return n;
  };
  const rssOf = (port) => {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        if (cmd.includes('messaging-gateway') && cmd.includes(`--port\0${port}\0`)) {
          return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))[1]);
        }
      } catch { /* gone */ }
    }
    return null;
  };
  // One child per gateway.
  const kids = ports.map(() => fork(new URL(import.meta.url).pathname, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ask = (kid, msg, key) => new Promise((resolve) => {
    const on = (m) => { if (key in m) { kid.off('message', on); resolve(m); } };
    kid.on('message', on);
    kid.send(msg);
  });
  const rss0 = ports.map((p) => rssOf(p) || 0);
  const t0 = Date.now();
  const opened = await Promise.all(kids.map((kid, g) => ask(kid,
    { cmd: 'open', port: ports[g], users: users.filter((_, i) => i % ports.length === g), addresses, secret }, 'opened')));
  const held = opened.reduce((a, o) => a + o.opened, 0);
  const connectS = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  // Posting: `rate` per second from POSTERS processes (one Node process
  // alone cannot both schedule and parse 1,000 requests a second here).
  const POSTERS = Number(arg('posters', 2));
  const pool = hot > 0 ? users.slice(0, hot) : users;
  const pg0 = pgTicks();
  const posters = Array.from({ length: POSTERS }, () => fork(new URL(import.meta.url).pathname, ['--poster'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const results = await Promise.all(posters.map((kid) => new Promise((resolve) => {
    kid.once('message', resolve);
    kid.send({ api, secret, pool, rate: rate / POSTERS, seconds });
  })));
  for (const kid of posters) kid.kill();
  const posted = new Map(results.flatMap((r) => r.posted));
  const refused = results.reduce((a, r) => a + r.refused, 0);
  const offered = (rate * seconds) / Math.max(...results.map((r) => r.offeredS));
  const completed = posted.size / Math.max(...results.map((r) => r.doneS));
  const maxLagMs = Math.max(...results.map((r) => r.maxLagMs));
  // Until deliveries stop arriving (3 s without one; at most 120 s): a
  // message still on its way is late, not lost.
  let last = -1; let still = 0;
  for (let waited = 0; still < 3 && waited < 120; waited++) {
    await new Promise((r) => setTimeout(r, 1000));
    const n = (await Promise.all(kids.map((kid) => ask(kid, { cmd: 'count' }, 'count')))).reduce((a, c) => a + c.count, 0);
    still = n === last ? still + 1 : 0;
    last = n;
  }
  const pgCpuS = (pgTicks() - pg0) / 100;
  const reports = await Promise.all(kids.map((kid) => ask(kid, { cmd: 'report' }, 'report')));
  const seen = new Map();
  let dup = 0;
  for (const r of reports) {
    for (const [id, [n, lat]] of r.report) {
      if (n > 1 || seen.has(id)) dup++;
      seen.set(id, lat);
    }
  }
  // Lost: posted into a conversation whose socket was held throughout, and not received.
  const live = new Set(reports.flatMap((r) => r.convs));
  const due = [...posted.entries()].filter(([, conv]) => live.has(conv)).map(([id]) => id);
  const lats = due.filter((id) => seen.has(id)).map((id) => seen.get(id)).sort((a, b) => a - b);
  const q = (p) => (lats.length ? lats[Math.min(lats.length - 1, Math.floor(p * lats.length))] : null);
  const rss = ports.map(rssOf);
  const out = {
    sockets: N, gateways: ports.length, held, stillHeld: reports.reduce((a, r) => a + r.held, 0),
    connectSeconds: connectS, connectRetries: opened.reduce((a, o) => a + o.retries, 0), connectFailed: opened.reduce((a, o) => a + o.failed, 0),
    offeredPerS: Math.round(offered), completedPerS: Math.round(completed), posterMaxLagMs: Math.round(maxLagMs), posted: posted.size, refused,
    due: due.length, delivered: lats.length, lost: due.length - lats.length, duplicates: dup,
    p50ms: q(0.5), p99ms: q(0.99), over2s: lats.filter((x) => x > 2000).length,
    gatewayRssKiBPerSocket: rss.every((x) => x) && held
      ? Math.round(((rss.reduce((a, b) => a + b, 0) - rss0.reduce((a, b) => a + b, 0)) / held) * 100) / 100 : null,
    pgCpuMsPerMessage: posted.size ? Math.round((pgCpuS * 1000 / posted.size) * 100) / 100 : null,
  };
  console.log(JSON.stringify(out));
  for (const kid of kids) kid.kill();
  await db.end();
  process.exit(0);
}
