// Gateway: Socket.IO connection state recovery backed by PostgreSQL (issue 6
// item 4; API.md section 5 "Recovery"; docs/recovery.md). With the stock
// socket.io-client 4.8 and no recovery option (only the reconnection timing
// is shortened, so that the tests are quick and the gap in which messages are
// sent is known), the tests drop a client's transport in every way a real
// client loses it and check, each time, that the client comes back with
// `socket.recovered` as expected and receives exactly the events it missed,
// in order, once, and nothing it had received before the drop a second time:
//   1. its transport closed (engine.close()) while messages are sent through
//      REST and from another socket, on every transport setting;
//   2. its gateway stopped (SIGTERM) or crashed (SIGKILL), then restarted on
//      the same port;
//   3. its reconnection landing on another instance (a TCP proxy of ours,
//      re-pointed from one gateway to the other);
//   4. a disconnection longer than recovery_max_disconnection_ms (a gateway
//      of ours with 2000 ms): a fresh session, no rooms, catch-up via REST;
//   5. its token refreshed, expired (refused: nothing delivered), or another
//      user's, at the reconnection.
// Events sent to a room carry their event id as a last string argument (the
// offset); events sent to one socket (connection_established, room_joined,
// typing_*) must not (their last argument is an object).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { get, post } from '../lib/http.mjs';
import { assertOk } from '../lib/shapes.mjs';
import { claims, now, sign, tokenFor } from '../lib/jwt.mjs';
import {
  atEnd, createConversation, createDoctor, createPatient, db, link, pairWithConversation, setUp,
} from '../lib/fixtures.mjs';
import {
  Client, QUIET_MS, configWith, connectJoined, freePort, sleep, startGateway, until, WS_URL, WS_URL2,
} from '../lib/sio.mjs';

const ROOM_EVENTS = new Set(['new_message', 'messages_read']);
const proxies = new Set();

setUp();
atEnd(async () => {
  for (const p of proxies) await p.close().catch(() => {});
});

const portOf = (url) => Number(new URL(url).port);

// ---- network of our own ------------------------------------------------------

/**
 * A TCP proxy on 127.0.0.1 in front of a gateway. down() closes every
 * connection and refuses new ones (accepted, then closed at once: the client
 * sees its transport fail and keeps retrying); up(port) forwards new
 * connections to that port. Used with the websocket transport only: a
 * polling client's requests re-pointed to another instance would carry an
 * Engine.IO sid that instance does not know (sticky sessions), which is not
 * what these tests are about.
 */
class TcpProxy {
  constructor() {
    this.target = null;
    this.sockets = new Set();
    this.accepted = 0;
    this.server = net.createServer((client) => this._accept(client));
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    proxies.add(this);
    return this;
  }

  _accept(client) {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    if (this.target === null) {
      client.destroy();
      return;
    }
    this.accepted += 1;
    const upstream = net.connect(this.target, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => {});
    client.on('close', () => upstream.destroy());
    // By hand rather than pipe(): blackhole() drops the bytes of both ways.
    client.on('data', (b) => { if (!this.holing) upstream.write(b); });
    upstream.on('data', (b) => { if (!this.holing) client.write(b); });
  }

  up(port) { this.target = port; this.holing = false; }

  /**
   * A network that silently loses everything (a train in a tunnel): the
   * connections stay open, what either side writes is dropped.
   */
  blackhole() { this.holing = true; }

  /** Closes every connection (both sides see it at once) and refuses new ones. */
  down() {
    this.target = null;
    this.holing = false;
    for (const s of [...this.sockets]) s.destroy();
  }

  close() {
    this.down();
    proxies.delete(this);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function proxyTo(port) {
  const p = await new TcpProxy().listen();
  p.up(port);
  return p;
}

// ---- clients -------------------------------------------------------------------

/**
 * A Client that reconnects by itself (socket.io-client's default), with a
 * known delay before each attempt. Every CONNECT is logged with the value
 * of socket.recovered it produced.
 */
function recoveringClient(url, token, { delay = 1500, transport = 'websocket', label } = {}) {
  const c = new Client(url, {
    token, transport, reconnection: true,
    reconnectionDelay: delay, reconnectionDelayMax: delay, randomizationFactor: 0,
    label: label || `recovering ${transport}@${url}`,
  });
  c.connects = [];
  c.socket.on('connect', () => c.connects.push({ recovered: c.socket.recovered, id: c.socket.id, at: Date.now() }));
  return c;
}

/** Waits for the n-th CONNECT of c; returns its log entry. */
async function nthConnect(c, n, ms = 10000) {
  await until(() => c.connects.length >= n && c.connected, ms, `${c.label}: connection #${n}`);
  return c.connects[n - 1];
}

/** Waits for the disconnection number n of c; returns its reason. */
async function nthDisconnect(c, n = 1, ms = 5000) {
  await until(() => c.disconnects.length >= n, ms, `${c.label}: disconnection #${n}`);
  return c.disconnects[n - 1].reason;
}

/** The row of messaging.sessions of a pid, for diagnostics: {rooms, joined, sent, disconnected, instance}. */
async function sessionRow(pid) {
  const { rows } = await db().query(
    'SELECT rooms::text, joined::text, sent::text, disconnected_at IS NOT NULL AS disconnected, instance FROM messaging.sessions WHERE pid = $1',
    [pid]);
  return rows[0] || null;
}

/** A room event as a short comparable key: "m<message id>" or "r<reader id>". */
const keyOf = (e) => (e.name === 'new_message' ? `m${e.data.message.id}` : `r${e.data.userId}:${e.data.updatedCount}`);

/** Room events of conversation conv recorded since a mark. */
const roomEventsSince = (c, mark, conv) => c.since(mark)
  .filter((e) => ROOM_EVENTS.has(e.name) && e.data && e.data.conversationId === conv);

/**
 * Asserts that c received, since mark, exactly `expected` (keys, in order)
 * as room events of conv, and that every room event it ever received carries
 * a decimal string offset as its last argument, strictly ascending within
 * each conversation (the contract's order; across conversations, ids may
 * commit out of order, see docs/events.md).
 */
function assertExactly(c, mark, conv, expected, what) {
  assert.deepEqual(roomEventsSince(c, mark, conv).map(keyOf), expected, `${c.label}: ${what}`);
  const last = new Map();
  for (const e of c.events.filter((ev) => ROOM_EVENTS.has(ev.name))) {
    assert.equal(e.args.length, 2, `${c.label}: ${e.name} args ${JSON.stringify(e.args)}`);
    assert.match(String(e.args[1]), /^[1-9][0-9]*$/, `${c.label}: ${e.name} offset`);
    assert.equal(typeof e.args[1], 'string', `${c.label}: ${e.name} offset type`);
    const off = BigInt(e.args[1]);
    const conversation = e.data && e.data.conversationId;
    if (last.has(conversation)) {
      assert.ok(off > last.get(conversation),
        `${c.label}: offsets of conversation ${conversation} not ascending: ${last.get(conversation)} then ${off}`);
    }
    last.set(conversation, off);
  }
}

/** Every new_message id c received for conv, each once and in order. */
function assertAllMessages(c, conv, ids) {
  assert.deepEqual(c.all('new_message', (d) => d && d.conversationId === conv).map((d) => d.message.id), ids,
    `${c.label}: every new_message, once, in order`);
}

/** Events sent to this socket alone carry no offset: their last argument is an object. */
function assertNoOffset(c, names) {
  for (const name of names) {
    const evs = c.events.filter((e) => e.name === name);
    assert.ok(evs.length > 0, `${c.label}: no ${name} received`);
    for (const e of evs) {
      const last = e.args.at(-1);
      assert.ok(last && typeof last === 'object' && !Array.isArray(last),
        `${c.label}: ${name} last argument ${JSON.stringify(last)} (args ${JSON.stringify(e.args)})`);
      assert.equal(e.args.length, 1, `${c.label}: ${name} args ${JSON.stringify(e.args)}`);
    }
  }
}

const rest = async (conv, user, content) =>
  assertOk(await post(`/conversations/${conv}/messages`, tokenFor(user), { content }), 201).message.id;
const restRead = async (conv, user) =>
  assertOk(await post(`/conversations/${conv}/read`, tokenFor(user))).updatedCount;
async function sockSend(c, conv, content) {
  const ack = await c.request('send_message', { conversationId: conv, content });
  assert.equal(ack && ack.ok, true, `${c.label}: send_message ack ${JSON.stringify(ack)}`);
  return ack.message.id;
}

/**
 * After a recovery: the socket is in its room without a join (REST and
 * socket messages reach it once), it can send, and typing works both ways
 * without an offset.
 */
async function assertWorksNormally(p, d, conv, patient, doctor) {
  const mark = p.mark();
  const dmark = d.mark();
  const a = await rest(conv, doctor, 'après le retour (REST)');
  await p.waitFor('new_message', (x, e) => p.events.indexOf(e) >= mark && x.message.id === a);
  const b = await sockSend(p, conv, 'après le retour (socket du patient)');
  await d.waitFor('new_message', (x, e) => d.events.indexOf(e) >= dmark && x.message.id === b);
  await p.waitFor('new_message', (x, e) => p.events.indexOf(e) >= mark && x.message.id === b);
  const c2 = await sockSend(d, conv, 'après le retour (socket du médecin)');
  await p.waitFor('new_message', (x, e) => p.events.indexOf(e) >= mark && x.message.id === c2);
  d.emit('typing_start', { conversationId: conv });
  assert.deepEqual(await p.waitFor('typing_start', (x, e) => p.events.indexOf(e) >= mark),
    { conversationId: conv, userId: doctor.id });
  p.emit('typing_start', { conversationId: conv });
  assert.deepEqual(await d.waitFor('typing_start', (x, e) => d.events.indexOf(e) >= dmark && x.userId === patient.id),
    { conversationId: conv, userId: patient.id });
  p.emit('typing_stop', { conversationId: conv });
  await d.waitFor('typing_stop', (x, e) => d.events.indexOf(e) >= dmark && x.userId === patient.id);
  await sleep(QUIET_MS);
  assertExactly(p, mark, conv, [`m${a}`, `m${b}`, `m${c2}`], 'after the recovery');
  assertNoOffset(p, ['typing_start', 'connection_established', 'room_joined']);
  assertNoOffset(d, ['typing_start', 'typing_stop', 'room_joined']);
  assert.deepEqual(p.all('error'), [], `${p.label}: error events`);
  return [a, b, c2];
}

/**
 * The missed traffic of a disconnection: a REST message, a message sent from
 * the doctor's socket, the doctor's read receipt through REST (of the
 * patient's message before the drop), another REST message. Returns the keys
 * the patient must get, in order.
 */
async function missedTraffic(conv, doctor, d, tagText) {
  const m3 = await rest(conv, doctor, `manqué 1 (REST) ${tagText}`);
  const m4 = await sockSend(d, conv, `manqué 2 (socket) ${tagText}`);
  const read = await restRead(conv, doctor);
  assert.equal(read, 1, 'the doctor reads the patient\'s message');
  const m5 = await rest(conv, doctor, `manqué 3 (REST) ${tagText}`);
  return { ids: [m3, m4, m5], keys: [`m${m3}`, `m${m4}`, `r${doctor.id}:1`, `m${m5}`] };
}

/**
 * Before a drop: the patient p gets a REST message and sends one from its
 * socket (the doctor's socket d sees both). Returns their ids.
 */
async function trafficBefore(p, d, conv, doctor) {
  const m1 = await rest(conv, doctor, 'avant la coupure (REST)');
  await p.waitFor('new_message', (x) => x.message.id === m1);
  const m2 = await sockSend(p, conv, 'avant la coupure (socket du patient)');
  await p.waitFor('new_message', (x) => x.message.id === m2);
  await d.waitFor('new_message', (x) => x.message.id === m2);
  return [m1, m2];
}

/**
 * The shape most recovery cases share: the patient's recovering client on
 * setup's `url` and the doctor's socket on gateway 2 in one room, traffic
 * before; `drop` loses the patient's connection; the missed traffic (REST,
 * the doctor's socket, a read receipt); `reconnect` lets it come back. Then:
 * recovered, exactly the missed events in order, once, and (unless
 * thenNormal is false) the socket works as before. The hooks get the case's
 * state s = {t, p, d, conv, patient, doctor, before, mark, missed, ...setup()};
 * setup's `close` runs at the end.
 */
async function recoveryCase(t, {
  setup = () => ({ url: WS_URL }), transport = 'websocket', delay = 200, label, missedTag, what,
  onReady, drop, reconnect, onConnect, onDelivered, thenNormal = true,
}) {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const s = { t, patient, doctor, conv, ...(await setup()) };
  s.d = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'doctor gw2' });
  s.p = recoveringClient(s.url, tokenFor(patient), { transport, delay, label });
  const { p, d } = s;
  try {
    await p.ready();
    if (onReady) onReady(s);
    await p.join(conv);
    if (transport === 'default') await until(() => p.socket.io.engine.transport.name === 'websocket', 5000, 'upgrade');
    s.before = await trafficBefore(p, d, conv, doctor);
    const mark = s.mark = p.mark();
    await drop(s);
    s.missed = await missedTraffic(conv, doctor, d, missedTag);
    await reconnect(s);
    const c2 = await nthConnect(p, 2);
    if (onConnect) await onConnect(s);
    assert.equal(c2.recovered, true, `socket.recovered ${what}`);
    await p.waitCount('new_message', s.before.length + s.missed.ids.length, (x) => x.conversationId === conv, 5000);
    await sleep(QUIET_MS);
    assertExactly(p, mark, conv, s.missed.keys, `events ${what}`);
    assertAllMessages(p, conv, [...s.before, ...s.missed.ids]);
    if (onDelivered) onDelivered(s);
    if (thenNormal) {
      const more = await assertWorksNormally(p, d, conv, patient, doctor);
      assertAllMessages(p, conv, [...s.before, ...s.missed.ids, ...more]);
    }
  } finally {
    p.close();
    d.close();
    if (s.close) await s.close();
  }
}

/**
 * A pair, and the patient's recovering client on url in their room, having
 * received one message m1 from the doctor: {patient, doctor, conv, p, m1}.
 */
async function inRoomWithOne(url, { delay, label }) {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const p = recoveringClient(url, tokenFor(patient), { delay, label });
  await p.ready();
  await p.join(conv);
  const m1 = await rest(conv, doctor, 'avant');
  await p.waitFor('new_message', (x) => x.message.id === m1);
  return { patient, doctor, conv, p, m1 };
}

/** The disconnection a case's drop caused: its reason must be `want` (or, with `not`, anything but). */
async function disconnectedWith(p, { want, not }) {
  const reason = await nthDisconnect(p);
  if (want !== undefined) assert.equal(reason, want);
  if (not !== undefined) assert.notEqual(reason, not, `disconnect reason ${reason}`);
}

// ---- 1. transport closed by the client ----------------------------------------

describe('transport closed (engine.close()) while messages are sent through REST and from another socket', () => {
  for (const transport of ['websocket', 'polling', 'default']) {
    test(`${transport}: recovered, back in its room, exactly the missed events in order, once`, { timeout: 30000 }, (t) => recoveryCase(t, {
      transport, delay: 1500, label: `patient ${transport} gw1`, missedTag: transport, what: 'after the drop',
      onReady: ({ p }) => {
        assert.equal(typeof p.socket._pid, 'string', 'the CONNECT reply carries a pid');
        assert.ok(p.socket._pid.length > 0);
        assert.equal(p.connects[0].recovered, false);
      },
      drop: async (s) => {
        s.pid = s.p.socket._pid;
        s.p.socket.io.engine.close();
        await disconnectedWith(s.p, { not: 'io client disconnect' });
      },
      reconnect: ({ p }) => {
        assert.equal(p.connects.length, 1, 'the missed messages were sent before the reconnection (gap too short)');
      },
      onDelivered: ({ p, pid }) => {
        assert.equal(p.socket._pid, pid, 'same pid');
        // A recovered socket is not sent connection_established... or is: either way once per CONNECT at most.
        assert.ok(p.all('connection_established').length <= 2);
      },
    }));
  }
});

// A regression: the room a restore re-enters was released by the gateway's
// one-second timer (empty, nobody waiting) while the replay of its missed
// events was in flight; the replay then found no room and the socket came
// back recovered but without the missed events (seen once in CI). Here the
// replay of this test's conversation takes 1.5 s in PostgreSQL (the function
// wrapped for the test's duration, for that conversation only), so that the
// timer runs while it waits.
const REPLAY_ARGS = '(bigint[], integer[], bigint[], integer)';
const REPLAY = `messaging.session_replay${REPLAY_ARGS}`;
const UNSLOWED = `messaging.session_replay_unslowed${REPLAY_ARGS}`;

async function slowReplay(conv) {
  await db().query(`ALTER FUNCTION ${REPLAY} RENAME TO session_replay_unslowed`);
  await db().query(`CREATE FUNCTION messaging.session_replay(p_ids bigint[], p_conversations integer[],
                                                        p_after bigint[], p_limit integer)
    RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
    LANGUAGE plpgsql AS $$
    BEGIN
      IF ${Number(conv)} = ANY (p_conversations) THEN PERFORM pg_sleep(1.5); END IF;
      RETURN QUERY SELECT * FROM messaging.session_replay_unslowed(p_ids, p_conversations, p_after, p_limit);
    END $$`);
}

async function unslowReplay() {
  const { rows } = await db().query('SELECT to_regprocedure($1) AS f', [UNSLOWED]);
  if (!rows[0].f) return;
  await db().query(`DROP FUNCTION IF EXISTS ${REPLAY}`);
  await db().query(`ALTER FUNCTION ${UNSLOWED} RENAME TO session_replay`);
}

describe('a slow replay: the room it re-enters stays held while it waits', () => {
  test('websocket: recovered with exactly the missed events although the replay took over a timer tick', { timeout: 30000 }, (t) => recoveryCase(t, {
    delay: 1500, label: 'patient slow-replay gw1', missedTag: 'slow replay', what: 'after a slow replay',
    setup: () => ({ url: WS_URL, close: unslowReplay }),
    drop: async (s) => {
      s.p.socket.io.engine.close();
      await disconnectedWith(s.p, { not: 'io client disconnect' });
    },
    reconnect: async ({ p, conv }) => {
      await slowReplay(conv);
      assert.equal(p.connects.length, 1, 'the replay was slowed before the reconnection (gap too short)');
    },
    onConnect: unslowReplay,
  }));
});

// ---- 2. gateway stopped or crashed, restarted on the same port --------------------

describe('gateway killed and restarted on the same port while messages are sent through REST', () => {
  for (const sig of ['SIGTERM', 'SIGKILL']) {
    test(`${sig}: recovered on the new process, exactly the missed events in order, once`, { timeout: 45000 }, (t) => recoveryCase(t, {
      setup: async () => {
        const gw = await startGateway(await freePort());
        return { gw, url: gw.url, close() { return this.gw2 && this.gw2.stop(); } };
      },
      label: `patient on own gateway (${sig})`, missedTag: sig, what: `after ${sig} and a restart`,
      drop: async ({ t: tc, p, gw }) => {
        tc.diagnostic(`session before the ${sig}: ${JSON.stringify(await sessionRow(p.socket._pid))}, offset ${p.socket._lastOffset}`);
        const exit = await gw.kill(sig);
        if (sig === 'SIGTERM') assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
        else assert.equal(exit.signal, 'SIGKILL');
        await disconnectedWith(p, { not: 'io server disconnect' }); // a Socket.IO DISCONNECT forbids the reconnection
      },
      reconnect: async (s) => {
        await sleep(300);
        assert.equal(s.p.connects.length, 1);
        s.gw2 = await startGateway(s.gw.port);
      },
    }));
  }

  test('SIGKILL before the client got any room event (no offset): recovered only with the missed events', { timeout: 45000 }, async (t) => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const port = await freePort();
    const gw = await startGateway(port);
    const d = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'doctor gw2' });
    const p = recoveringClient(gw.url, tokenFor(patient), { delay: 200, label: 'patient, no event yet' });
    try {
      await p.ready();
      await p.join(conv);
      await sleep(300); // the join recorded in the session
      await gw.kill('SIGKILL');
      await nthDisconnect(p);
      const m1 = await rest(conv, doctor, 'pendant le crash 1');
      const m2 = await rest(conv, doctor, 'pendant le crash 2');
      const gw2 = await startGateway(port);
      const c2 = await nthConnect(p, 2);
      t.diagnostic(`recovered: ${c2.recovered}`);
      await sleep(1000);
      if (c2.recovered) {
        // Recovered means back in the room with every missed event.
        assertExactly(p, 0, conv, [`m${m1}`, `m${m2}`], 'recovered === true, so every event missed while the gateway was down');
      } else {
        // A fresh session: nothing replayed, the client catches up through REST.
        assertExactly(p, 0, conv, [], 'fresh session');
        const page = assertOk(await get(`/conversations/${conv}/messages?after=0`, tokenFor(patient)));
        assert.deepEqual(page.messages.map((m) => m.id), [m1, m2]);
      }
      p.close();
      await gw2.stop();
    } finally {
      p.close();
      d.close();
    }
  });
});

// ---- 3. the reconnection lands on another instance -------------------------------

/** A case through a TCP proxy in front of `port`, closed at the end. */
const viaProxy = (port) => async () => {
  const proxy = await proxyTo(typeof port === 'function' ? await port() : port);
  return { proxy, url: proxy.url, close: () => proxy.close() };
};

describe('reconnection to another gateway instance (TCP proxy re-pointed, websocket transport)', () => {
  test('transport closed under gateway 1, reconnection through the proxy to gateway 2: recovered', { timeout: 30000 }, (t) => recoveryCase(t, {
    setup: viaProxy(portOf(WS_URL)), label: 'patient via proxy', missedTag: 'gw1→gw2', what: 'on the other instance (after the move)',
    drop: async ({ p, proxy }) => {
      proxy.down();
      await disconnectedWith(p, { want: 'transport close' });
    },
    reconnect: (s) => {
      s.accepted = s.proxy.accepted;
      s.proxy.up(portOf(WS_URL2));
    },
    onConnect: ({ proxy, accepted }) => assert.equal(proxy.accepted, accepted + 1, 'one new connection, to gateway 2'),
  }));

  test('gateway crashed (SIGKILL), reconnection through the proxy to gateway 2: recovered', { timeout: 30000 }, (t) => recoveryCase(t, {
    setup: async () => {
      const gw = await startGateway(await freePort());
      return { gw, ...(await viaProxy(gw.port)()) };
    },
    label: 'patient via proxy, crash', missedTag: 'crash→gw2', what: 'on the other instance after a crash',
    drop: async (s) => {
      s.proxy.target = null; // refuse new connections; the crash closes the current one
      s.pid = s.p.socket._pid;
      s.t.diagnostic(`session before the crash: ${JSON.stringify(await sessionRow(s.pid))}, offset ${s.p.socket._lastOffset}`);
      await s.gw.kill('SIGKILL');
      await disconnectedWith(s.p, { want: 'transport close' });
    },
    reconnect: ({ proxy }) => proxy.up(portOf(WS_URL2)),
    onConnect: async ({ t: tc, p, pid, mark }) => {
      await sleep(300);
      tc.diagnostic(`session after the recovery: ${JSON.stringify(await sessionRow(pid))}; events ${JSON.stringify(p.since(mark).map((e) => e.name))}`);
    },
  }));
});

// ---- 3b. the network silently loses everything (no close seen by either side) -----

describe('network loss: the gateway writes into the void until the connection is found dead (proxy blackhole, websocket)', () => {
  test('one room: what was sent into the void is replayed, exactly, once', { timeout: 30000 }, (t) => recoveryCase(t, {
    setup: viaProxy(portOf(WS_URL)), label: 'patient via proxy, tunnel', missedTag: 'tunnel', what: 'sent into the void',
    drop: ({ proxy }) => proxy.blackhole(),
    reconnect: async ({ p, proxy }) => {
      await sleep(300); // the gateway has written them to the dead connection
      assert.equal(p.connects.length, 1);
      proxy.down();
      await nthDisconnect(p);
      proxy.up(portOf(WS_URL));
    },
    thenNormal: false,
  }));

  test('two rooms, a message of room B committed after (but numbered before) the last one the client got in room A', { timeout: 30000 }, async () => {
    // Event ids are taken under each conversation's row lock, so across two
    // conversations commit order may differ from id order (docs/events.md).
    // X (room B) takes its id, room A's Y > X is committed and received, then
    // X is committed and sent into the void. The client's offset is Y; the
    // room B cursor recorded at the disconnection is X.
    const { patient, doctor, conversationId: convA } = await pairWithConversation();
    const doctor2 = await createDoctor('Doc', 'Deux');
    await link(patient, doctor2);
    const convB = await createConversation(patient, doctor2);
    const proxy = await proxyTo(portOf(WS_URL));
    // A socket of doctor2 on the same gateway: shows when gateway 1 has sent X to room B.
    const w = await connectJoined(WS_URL, tokenFor(doctor2), convB, { transport: 'websocket', label: 'doctor2 gw1' });
    const p = recoveringClient(proxy.url, tokenFor(patient), { delay: 200, label: 'patient via proxy, two rooms' });
    const tx = await db().connect();
    let open = false;
    try {
      await p.ready();
      await p.join(convA);
      await p.join(convB);
      const b0 = await rest(convB, doctor2, 'B avant');
      await p.waitFor('new_message', (x) => x.message.id === b0);
      const a0 = await rest(convA, doctor, 'A avant');
      await p.waitFor('new_message', (x) => x.message.id === a0);

      await tx.query('BEGIN');
      open = true;
      const { rows } = await tx.query(
        "SELECT (r).status, (r).body FROM (SELECT messaging.send_message($1, 'medecin', $2, 'B lent', NULL, 10000, true) AS r) s",
        [doctor2.id, convB]);
      assert.equal(rows[0].status, 201, rows[0].body);
      const x = JSON.parse(rows[0].body).message.id;
      const y = await rest(convA, doctor, 'A, numéroté après X, validé avant');
      assert.ok(y > x);
      await p.waitFor('new_message', (v) => v.message.id === y);
      const markA = p.mark();

      proxy.blackhole();
      await tx.query('COMMIT');
      open = false;
      await w.waitFor('new_message', (v) => v.message.id === x); // gateway 1 sent X to room B
      await sleep(200);
      proxy.down();
      await nthDisconnect(p);
      proxy.up(portOf(WS_URL));
      assert.equal((await nthConnect(p, 2)).recovered, true);
      await sleep(1000);
      assertExactly(p, markA, convA, [], 'room A after the drop');
      assertExactly(p, markA, convB, [`m${x}`], 'room B after the drop: X was never received');
      assertAllMessages(p, convB, [b0, x]);
    } finally {
      if (open) await tx.query('ROLLBACK').catch(() => {});
      tx.release();
      p.close();
      w.close();
      await proxy.close();
    }
  });
});

// ---- 4. longer than the maximum ------------------------------------------------

describe('disconnection longer than recovery_max_disconnection_ms (own gateway, 2000 ms)', () => {
  let gw;
  let proxy;
  before(async () => {
    const config = configWith(`recovery-2s-${process.pid}`, ['recovery_max_disconnection_ms = 2000']);
    gw = await startGateway(await freePort(), { config });
    proxy = await proxyTo(gw.port);
  });
  after(async () => {
    if (proxy) await proxy.close();
    if (gw) await gw.stop();
  });

  test('0.3 s away: recovered; 3.5 s away: fresh session, no rooms, catch-up through REST ?after=', { timeout: 30000 }, async () => {
    const { patient, doctor, conv, p, m1 } = await inRoomWithOne(proxy.url, { delay: 200, label: 'patient via proxy, 2 s limit' });
    try {

      // Within the limit: recovered (the limit is what makes the difference below).
      let mark = p.mark();
      proxy.down();
      await nthDisconnect(p, 1);
      const m2 = await rest(conv, doctor, 'courte coupure');
      await sleep(300);
      proxy.up(gw.port);
      assert.equal((await nthConnect(p, 2)).recovered, true, 'recovered after 0.3 s');
      await p.waitFor('new_message', (x) => x.message.id === m2);
      await sleep(QUIET_MS);
      assertExactly(p, mark, conv, [`m${m2}`], 'short disconnection');

      // Longer than the limit.
      mark = p.mark();
      proxy.down();
      const t0 = Date.now();
      await nthDisconnect(p, 2);
      const m3 = await rest(conv, doctor, 'longue coupure 1');
      const m4 = await rest(conv, doctor, 'longue coupure 2');
      await sleep(3500 - (Date.now() - t0));
      proxy.up(gw.port);
      const c3 = await nthConnect(p, 3);
      assert.equal(c3.recovered, false, 'recovered after 3.5 s > 2 s');
      await p.waitCount('connection_established', 3, () => true, 2000);
      await sleep(QUIET_MS);
      assertExactly(p, mark, conv, [], 'nothing replayed to a fresh session');

      // Catch-up through REST, from the last message id it has.
      const page = assertOk(await get(`/conversations/${conv}/messages?after=${m2}`, tokenFor(patient)));
      assert.deepEqual(page.messages.map((m) => m.id), [m3, m4], 'REST ?after= returns exactly the missed messages');
      assert.equal(page.hasMore, false);

      // Not in its room any more: a new message does not arrive until it joins.
      const m5 = await rest(conv, doctor, 'avant le nouveau join');
      await sleep(QUIET_MS * 2);
      assertExactly(p, mark, conv, [], 'not back in its room');
      await p.join(conv);
      const m6 = await rest(conv, doctor, 'après le nouveau join');
      await p.waitFor('new_message', (x) => x.message.id === m6);
      await sleep(QUIET_MS);
      assertExactly(p, mark, conv, [`m${m6}`], 'after joining again');
      assertAllMessages(p, conv, [m1, m2, m6]);
      assert.ok(m5 < m6);
      assertNoOffset(p, ['connection_established', 'room_joined']);
    } finally {
      p.close();
    }
  });
});

// ---- 5. the token at the reconnection -------------------------------------------

describe('the token is checked again at the reconnection', () => {
  test('refreshed token: recovered; expired token: refused ("Token expired"), nothing delivered; valid again: recovered', { timeout: 30000 }, async () => {
    const { patient, doctor, conv, p, m1 } = await inRoomWithOne(WS_URL, { delay: 1000, label: 'patient gw1, tokens' });
    const d = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'doctor gw2' });
    try {

      // A refreshed token (the client resends its auth object): recovered.
      let mark = p.mark();
      p.socket.auth.token = sign(claims(patient.id, patient.role, { exp: now() + 1200, jti: 'refreshed' }));
      p.socket.io.engine.close();
      await nthDisconnect(p, 1);
      const m2 = await rest(conv, doctor, 'pendant, jeton rafraîchi');
      assert.equal(p.connects.length, 1);
      assert.equal((await nthConnect(p, 2)).recovered, true, 'recovered with a refreshed token');
      await p.waitFor('new_message', (x) => x.message.id === m2);
      await sleep(QUIET_MS);
      assertExactly(p, mark, conv, [`m${m2}`], 'refreshed token');

      // An expired token: the reconnection is refused and nothing reaches the client.
      mark = p.mark();
      p.socket.auth.token = sign(claims(patient.id, patient.role, { iat: now() - 700, exp: now() - 60 }));
      const refused = p.refused(5000);
      p.socket.io.engine.close();
      await nthDisconnect(p, 2);
      const m3 = await rest(conv, doctor, 'pendant, jeton expiré 1');
      const err = await refused;
      assert.equal(err.message, 'Token expired');
      const m4 = await rest(conv, doctor, 'pendant, jeton expiré 2');
      await sleep(1000);
      assert.equal(p.connected, false);
      assert.equal(p.connects.length, 2, 'no connection with an expired token');
      assertExactly(p, mark, conv, [], 'nothing delivered with an expired token');
      assert.deepEqual(p.since(mark).map((e) => e.name), [], 'no event at all');

      // The session survives a refused attempt: with a valid token again, recovered.
      p.socket.auth.token = tokenFor(patient, { jti: 'again' });
      p.socket.connect();
      assert.equal((await nthConnect(p, 3)).recovered, true, 'recovered once the token is valid again');
      await p.waitCount('new_message', 4, (x) => x.conversationId === conv, 3000);
      await sleep(QUIET_MS);
      assertExactly(p, mark, conv, [`m${m3}`, `m${m4}`], 'after the refused attempt');
      assertAllMessages(p, conv, [m1, m2, m3, m4]);
    } finally {
      p.close();
      d.close();
    }
  });

  test('another user\'s token with the pid: a fresh session, none of the first user\'s rooms or events', { timeout: 30000 }, async () => {
    const other = await createPatient('Autre', 'Patient');
    const { doctor, conv, p } = await inRoomWithOne(WS_URL, { delay: 1000, label: 'patient gw1, token swapped' });
    try {
      const mark = p.mark();
      p.socket.auth.token = tokenFor(other);
      p.socket.io.engine.close();
      await nthDisconnect(p, 1);
      await rest(conv, doctor, 'pendant');
      const c2 = await nthConnect(p, 2);
      assert.equal(c2.recovered, false, 'another user does not get the session');
      assert.deepEqual(await p.waitFor('connection_established', (x, e) => p.events.indexOf(e) >= mark),
        { userId: other.id, userRole: 'patient' });
      await rest(conv, doctor, 'après');
      await sleep(QUIET_MS * 2);
      assertExactly(p, mark, conv, [], 'nothing of the first user\'s conversation');
    } finally {
      p.close();
    }
  });
});
