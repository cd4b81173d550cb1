// web/messagingSocket.js from Node, with the npm socket.io-client injected,
// against the real stack (through nginx, as the page uses it): listeners get
// the data object only, sendMessage resolves with the stored message and a
// retry never duplicates, typing is throttled and stops by itself, read
// receipts, refusals, the REST fallback while offline, and the catch-up
// through ?after= when the server did not recover the session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { createMessagingSocket, MessagingError, newClientId } from '../../web/messagingSocket.js';
import { get, post } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, pairWithConversation, q } from '../lib/fixtures.mjs';
import { BASE_URL, sleep } from './lib.mjs';

let patient; let doctor; let conv;
const clients = [];

/** A connected module client that records what its listeners get. */
async function client(user, options = {}) {
  const c = createMessagingSocket();
  const events = [];
  const extraArgs = [];
  for (const name of ['connection_established', 'room_joined', 'room_left', 'new_message', 'messages_read',
    'typing_start', 'typing_stop', 'error', 'status', 'synced', 'connect_error', 'token_expiring',
    'token_refreshed', 'token_refresh_failed']) {
    c.on(name, function listener(...args) {
      if (args.length !== 1) extraArgs.push({ name, args });
      events.push({ name, data: args[0], at: Date.now() });
    });
  }
  c.connect({
    url: BASE_URL,
    token: tokenFor(user),
    io,
    socketOptions: { reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0 },
    ...options,
  });
  clients.push(c);
  c.events = events;
  c.extraArgs = extraArgs;
  c.all = (name, pred = () => true) => events.filter((e) => e.name === name && pred(e.data)).map((e) => e.data);
  c.waitFor = async (name, pred = () => true, ms = 5000) => {
    const t0 = Date.now();
    for (;;) {
      const hit = events.find((e) => e.name === name && pred(e.data));
      if (hit) return hit.data;
      if (Date.now() - t0 > ms) {
        assert.fail(`no "${name}" within ${ms} ms; got ${JSON.stringify(events.map((e) => e.name).slice(-20))}`);
      }
      await sleep(20);
    }
  };
  await c.whenConnected(5000);
  return c;
}

const newIds = (c, cid) => c.all('new_message', (d) => d.conversationId === cid).map((d) => d.message.id);

async function restSend(user, cid, content) {
  const res = await post(`/conversations/${cid}/messages`, tokenFor(user), { content });
  assert.equal(res.status, 201, res.text);
  return res.json.message;
}

before(async () => {
  ({ patient, doctor, conversationId: conv } = await pairWithConversation({
    patientFirst: 'Hélène', patientLast: 'Module', doctorFirst: 'Élise', doctorLast: 'Module',
  }));
});

after(async () => {
  for (const c of clients) c.disconnect();
  await closeDb();
});

test('connect: connection_established, status events, listeners get one argument', async () => {
  const c = await client(patient);
  const est = await c.waitFor('connection_established');
  assert.deepEqual(est, { userId: patient.id, userRole: 'patient' });
  assert.deepEqual(c.user, est);
  assert.equal(c.status, 'connected');
  assert.deepEqual(c.all('status'), ['connecting', 'connected']);
  const ack = await c.joinRoom(conv);
  assert.deepEqual(ack, { ok: true, conversationId: conv });
  await c.waitFor('room_joined', (d) => d.conversationId === conv);
  const doc = await client(doctor);
  await doc.joinRoom(String(conv)); // a decimal string is fine too
  const m = await doc.sendMessage(conv, 'Bonjour Hélène 👋 — ça va ?');
  const got = await c.waitFor('new_message', (d) => d.message.id === m.id);
  assert.deepEqual(got, { message: m, conversationId: conv });
  assert.deepEqual(c.extraArgs, [], 'a listener got more than the data object (the recovery offset leaked)');
  assert.deepEqual(doc.extraArgs, []);
  c.disconnect();
  doc.disconnect();
  assert.equal(c.status, 'disconnected');
});

test('sendMessage resolves with the stored message; the same clientId never stores twice', async () => {
  const c = await client(patient);
  await c.joinRoom(conv);
  const m = await c.sendMessage(conv, 'Première fois, àéèêç 😀');
  assert.equal(m.conversationId, conv);
  assert.equal(m.senderId, patient.id);
  assert.equal(m.content, 'Première fois, àéèêç 😀');
  assert.match(m.clientId, /^.{1,64}$/);
  const clientId = newClientId();
  const a = await c.sendMessage(conv, 'une seule fois', { clientId });
  const b = await c.sendMessage(conv, 'une seule fois', { clientId });
  assert.equal(b.id, a.id);
  const { rows } = await q('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND content = $2', [conv, 'une seule fois']);
  assert.equal(rows[0].n, 1);
  await c.waitFor('new_message', (d) => d.message.id === a.id);
  await sleep(200);
  assert.equal(newIds(c, conv).filter((id) => id === a.id).length, 1, 'new_message delivered once');
  c.disconnect();
});

test('a lost ack: sendMessage retries with the same clientId, one message stored, delivered once', async () => {
  // The npm client, wrapped: the ack of the first send_message is dropped.
  let dropped = 0;
  const lossyIo = (url, opts) => {
    const s = io(url, opts);
    const timeout = s.timeout.bind(s);
    s.timeout = (ms) => {
      const t = timeout(ms);
      const emit = t.emit.bind(t);
      t.emit = (event, ...args) => {
        if (event === 'send_message' && dropped === 0) {
          dropped += 1;
          const cb = args.pop();
          return emit(event, ...args, (err) => cb(err || new Error('operation has timed out')));
        }
        return emit(event, ...args);
      };
      return t;
    };
    return s;
  };
  const c = await client(patient, { io: lossyIo, ackTimeout: 400 });
  await c.joinRoom(conv);
  const m = await c.sendMessage(conv, 'accusé de réception perdu');
  assert.equal(dropped, 1, 'the first ack was dropped');
  const { rows } = await q('SELECT id FROM messages WHERE conversation_id = $1 AND content = $2', [conv, 'accusé de réception perdu']);
  assert.deepEqual(rows.map((r) => r.id), [m.id], 'stored once');
  await c.waitFor('new_message', (d) => d.message.id === m.id);
  await sleep(300);
  assert.equal(newIds(c, conv).filter((id) => id === m.id).length, 1, 'new_message delivered once');
  c.disconnect();
});

test('refusals reject at once with the contract code (no retry)', async () => {
  const c = await client(patient);
  const { conversationId: foreign } = await pairWithConversation();
  await assert.rejects(c.sendMessage(conv, '   '), (e) => e instanceof MessagingError && e.code === 'invalid_request');
  const t0 = Date.now();
  await assert.rejects(c.sendMessage(foreign, 'pas chez moi'), (e) => e.code === 'not_found');
  assert.ok(Date.now() - t0 < 2000, 'not retried');
  await assert.rejects(c.joinRoom(foreign), (e) => e.code === 'not_found');
  assert.deepEqual(c.rooms, [], 'a refused room is not kept');
  c.disconnect();
});

test('typing: typing_start throttled, typing_stop after ~3 s of silence, and on sendMessage', async () => {
  const c = await client(patient);
  const doc = await client(doctor);
  await c.joinRoom(conv);
  await doc.joinRoom(conv);
  const t0 = Date.now();
  for (let i = 0; i < 8; i++) { c.startTyping(conv); await sleep(100); }
  await doc.waitFor('typing_start', (d) => d.conversationId === conv && d.userId === patient.id);
  const stop = await doc.waitFor('typing_stop', (d) => d.conversationId === conv && d.userId === patient.id, 6000);
  const stoppedAfter = doc.events.find((e) => e.name === 'typing_stop' && e.data === stop).at - t0;
  assert.equal(doc.all('typing_start').length, 1, 'one typing_start for 8 keystrokes within 2 s');
  assert.ok(stoppedAfter >= 3000 && stoppedAfter < 5500, `typing_stop after ${stoppedAfter} ms`);
  assert.equal(c.all('typing_start').length, 0, 'not echoed to the sender');

  c.startTyping(conv);
  await doc.waitFor('typing_start', () => doc.all('typing_start').length >= 2);
  await c.sendMessage(conv, 'envoyé, donc plus en train d\'écrire');
  await doc.waitFor('typing_stop', () => doc.all('typing_stop').length >= 2, 1500);
  c.disconnect();
  doc.disconnect();
});

test('markAsRead: updatedCount, messages_read to the room', async () => {
  const c = await client(patient);
  const doc = await client(doctor);
  await c.joinRoom(conv);
  await doc.joinRoom(conv);
  await restSend(doctor, conv, 'à lire 1');
  await restSend(doctor, conv, 'à lire 2');
  const n = await c.markAsRead(conv);
  assert.ok(n >= 2, `updatedCount ${n}`);
  const ev = await doc.waitFor('messages_read', (d) => d.userId === patient.id);
  assert.deepEqual(ev, { conversationId: conv, userId: patient.id, updatedCount: n });
  assert.equal(await c.markAsRead(conv), 0);
  c.disconnect();
  doc.disconnect();
});

test('joinRoom with lastMessageId delivers what came after it, then live messages, each once', async () => {
  const before1 = await restSend(doctor, conv, 'déjà vu');
  const m1 = await restSend(doctor, conv, 'manqué 1');
  const m2 = await restSend(doctor, conv, 'manqué 2');
  const c = await client(patient);
  await c.joinRoom(conv, { lastMessageId: before1.id });
  assert.deepEqual(newIds(c, conv), [m1.id, m2.id]);
  const m3 = await restSend(doctor, conv, 'en direct');
  await c.waitFor('new_message', (d) => d.message.id === m3.id);
  assert.deepEqual(newIds(c, conv), [m1.id, m2.id, m3.id]);
  c.disconnect();
});

test('while the socket cannot connect, sendMessage goes through REST with its clientId', async () => {
  // A socket path nginx does not route: the socket keeps failing; REST works.
  const c = createMessagingSocket();
  clients.push(c);
  c.connect({
    url: BASE_URL, token: tokenFor(patient), io, offlineGrace: 300,
    socketOptions: { path: '/nowhere/', reconnectionDelay: 200, reconnectionDelayMax: 400 },
  });
  const clientId = newClientId();
  const m = await c.sendMessage(conv, 'par REST', { clientId });
  assert.equal(m.clientId, clientId);
  assert.equal(m.content, 'par REST');
  assert.notEqual(c.status, 'connected');
  const again = await c.sendMessage(conv, 'par REST', { clientId });
  assert.equal(again.id, m.id);
  const read = await c.markAsRead(conv);
  assert.equal(typeof read, 'number');
  c.disconnect();
});

/** Drops the transport (as a network cut does); the client reconnects by itself. */
function cutTransport(c, { forgetSession = false } = {}) {
  // forgetSession: as a server that lost the session (no recovery possible).
  if (forgetSession) c.socket._pid = undefined;
  c.socket.io.engine.close();
}

test('token_expiring: the module asks getToken and sends refresh_token; the socket outlives the first token', async () => {
  const { patient } = await pairWithConversation();
  const t0 = Math.floor(Date.now() / 1000);
  const exp1 = t0 + 2;
  const exp2 = t0 + 600;
  let calls = 0;
  const c = await client(patient, {
    token: undefined,
    // The first token lives 2 s; the next one 10 minutes.
    getToken: async () => { calls += 1; return tokenFor(patient, calls === 1 ? { exp: exp1 } : { exp: exp2 }); },
  });
  await c.waitFor('token_expiring');
  const r = await c.waitFor('token_refreshed');
  assert.equal(r.expiresAt, new Date(exp2 * 1000).toISOString());
  await sleep(Math.max(0, exp1 * 1000 + 1500 - Date.now()));
  assert.equal(c.connected, true);
  assert.equal(c.all('error').length, 0);
  c.disconnect();
});

for (const forgetSession of [true, false]) {
  const what = forgetSession ? 'not recovered (fresh session)' : 'whatever the server recovers';
  test(`reconnection, ${what}: rooms rejoined, missed messages caught up once and in order, getToken asked again`, async (t) => {
    let tokenCalls = 0;
    const c = await client(patient, { token: undefined, getToken: async () => { tokenCalls += 1; return tokenFor(patient); } });
    await c.joinRoom(conv);
    const live = await restSend(doctor, conv, 'avant la coupure');
    await c.waitFor('new_message', (d) => d.message.id === live.id);
    const callsBefore = tokenCalls;
    const syncedBefore = c.all('synced').length;

    // Hold the reconnection until the missed messages are committed.
    c.socket.io.reconnectionDelay(1500);
    c.socket.io.reconnectionDelayMax(1500);
    cutTransport(c, { forgetSession });
    await c.waitFor('status', () => c.status === 'reconnecting', 2000);
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push(await restSend(doctor, conv, `pendant la coupure ${i}`));
    await c.waitFor('synced', () => c.all('synced').length > syncedBefore, 8000);
    const synced = c.all('synced').at(-1);
    t.diagnostic(`socket.recovered after the reconnection: ${synced.recovered}`);
    if (forgetSession) assert.equal(synced.recovered, false);
    assert.ok(tokenCalls > callsBefore, 'getToken asked again before reconnecting');
    for (const m of missed) await c.waitFor('new_message', (d) => d.message.id === m.id, 3000);
    const after = await restSend(doctor, conv, 'après la coupure');
    await c.waitFor('new_message', (d) => d.message.id === after.id, 3000);
    const ids = newIds(c, conv).filter((id) => id >= live.id);
    assert.deepEqual(ids, [live.id, ...missed.map((m) => m.id), after.id], 'each once, in order');
    assert.deepEqual(c.rooms, [conv]);
    c.disconnect();
  });
}

test('GET ?after= as the module uses it (contract check)', async () => {
  const res = await get(`/conversations/${conv}/messages?after=0&limit=2`, tokenFor(patient));
  assert.equal(res.status, 200);
  assert.equal(res.json.messages.length, 2);
  assert.equal(typeof res.json.hasMore, 'boolean');
});
