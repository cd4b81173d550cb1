// Sessions that follow their token, and limits (API.md sections 7 and 8),
// through nginx and at each gateway instance: revocation (REST 401, CONNECT
// refused, tokens issued afterwards accepted), the lifetime bound
// jwt_max_ttl, HS256 signatures checked byte for byte, a read that marks
// nothing writes no event and sends no messages_read; and, with the API run
// as CGI on a configuration of its own, connect_timeout and
// statement_timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { get, post } from '../lib/http.mjs';
import { assertError, assertOk } from '../lib/shapes.mjs';
import { now, sign, tokenFor } from '../lib/jwt.mjs';
import { countEvents, countMessages, pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { DB_URL } from '../lib/env.mjs';
import { runCgi } from '../lib/cgi.mjs';
import { Client, ENDPOINTS, connect, connectJoined } from '../lib/sio.mjs';

setUp();

/** A token for user with exactly these iat and exp (iat undefined: none). */
const tokenAt = (user, iat, exp) => sign({ sub: String(user.id), role: user.role, ...(iat === undefined ? {} : { iat }), exp });

/** Revokes user's tokens; returns the first whole second whose tokens are accepted. */
async function revoke(user) {
  const { rows } = await q('SELECT ceil(extract(epoch FROM messaging.revoke_user($1)))::bigint AS s', [user.id]);
  assert.ok(rows[0].s > 0, 'revoke_user returned no moment');
  return Number(rows[0].s);
}

/** The connect_error message of a socket refused at CONNECT. */
async function refusedWith(url, token) {
  const c = new Client(url, { token, label: `refused@${url}` });
  try {
    return (await c.refused()).message;
  } finally {
    c.close();
  }
}

describe('revocation (API.md section 7)', () => {
  test('REST: tokens issued before the revocation, or without iat, get 401; the operation is not run', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const t = now();
    const old = tokenAt(patient, t - 30, t + 600);
    const noIat = tokenAt(patient, undefined, t + 600);
    assertOk(await get('/unread-count', old));
    assertOk(await get('/unread-count', noIat));
    const doctorToken = tokenAt(doctor, t - 30, t + 600);

    const after_ = await revoke(patient);
    for (const [what, tok] of [['issued before', old], ['without iat', noIat]]) {
      const e = assertError(await get('/unread-count', tok), 401, 'unauthorized');
      assert.equal(e.message, 'Token revoked', what);
      assertError(await get(`/conversations/${conv}/messages`, tok), 401, 'unauthorized');
      assertError(await get('/conversations', tok), 401, 'unauthorized');
    }
    // A write is refused before it runs: nothing stored, no event.
    const messages = await countMessages(conv);
    const events = await countEvents(conv);
    assertError(await post(`/conversations/${conv}/messages`, old, { content: 'après la révocation' }), 401, 'unauthorized');
    assertError(await post(`/conversations/${conv}/read`, noIat), 401, 'unauthorized');
    assert.equal(await countMessages(conv), messages);
    assert.equal(await countEvents(conv), events);
    // The second of the revocation is refused too (whole seconds).
    assertError(await get('/unread-count', tokenAt(patient, after_ - 1, after_ + 600)), 401, 'unauthorized');
    // Tokens issued afterwards work, and the other user was never affected.
    const fresh = tokenAt(patient, after_, after_ + 600);
    assertOk(await get('/unread-count', fresh));
    assertOk(await post(`/conversations/${conv}/messages`, fresh, { content: 'avec un nouveau jeton' }), 201);
    assertOk(await get('/unread-count', doctorToken));
    // Health needs no token and knows nothing of it.
    assertOk(await get('/api/health'));
  });

  test('gateway: a CONNECT with an old token gets connect_error, a new token connects (both instances, nginx)', async () => {
    const { patient, conversationId: conv } = await pairWithConversation();
    const t = now();
    const old = tokenAt(patient, t - 30, t + 600);
    const before_ = await connect(ENDPOINTS.nginx, old);
    before_.close();
    const after_ = await revoke(patient);
    const fresh = tokenAt(patient, after_, after_ + 600);
    for (const [where, url] of Object.entries(ENDPOINTS)) {
      assert.equal(await refusedWith(url, old), 'Token revoked', `${where}: old token`);
      assert.equal(await refusedWith(url, tokenAt(patient, undefined, t + 600)), 'Token revoked', `${where}: no iat`);
      const c = await connectJoined(url, fresh, conv);
      assert.deepEqual(await c.waitFor('connection_established'), { userId: patient.id, userRole: 'patient' });
      c.close();
    }
  });
});

describe('jwt_max_ttl (86400 s by default)', () => {
  test('a token living longer is refused over REST and at CONNECT; exactly the bound is accepted', async () => {
    const { patient } = await pairWithConversation();
    const t = now();
    const tooLong = tokenAt(patient, t, t + 86401);
    const longNoIat = tokenAt(patient, undefined, t + 86400 + 120);
    const futureIat = tokenAt(patient, t + 86400, t + 86400 + 60);
    for (const tok of [tooLong, longNoIat, futureIat]) {
      const e = assertError(await get('/unread-count', tok), 401, 'unauthorized');
      assert.match(e.message, /lifetime/);
    }
    assert.match(await refusedWith(ENDPOINTS.nginx, tooLong), /lifetime/);
    assertOk(await get('/unread-count', tokenAt(patient, t, t + 86400)));
    const c = await connect(ENDPOINTS.nginx, tokenAt(patient, t, t + 86400));
    c.close();
  });
});

describe('HS256 signatures', () => {
  test('re-spelled, padded and truncated signatures are refused', async () => {
    const { patient } = await pairWithConversation();
    const good = tokenFor(patient);
    assertOk(await get('/unread-count', good));
    const tab = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = good[good.length - 1];
    // The same 32 bytes spelled with other unused bits in the last character.
    const respelled = good.slice(0, -1) + tab[tab.indexOf(last) ^ 1];
    for (const tok of [respelled, `${good}=`, good.slice(0, -1), `${good}AAAA`]) {
      assertError(await get('/unread-count', tok), 401, 'unauthorized');
    }
  });
});

describe('a read that marks nothing (API.md section 8)', () => {
  test('REST: updatedCount 0, no event row, no messages_read in the room', async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const room = await connectJoined(ENDPOINTS.nginx, tokenFor(doctor), conv);
    assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'à lire' }), 201);
    await room.waitFor('new_message');
    assert.deepEqual(assertOk(await post(`/conversations/${conv}/read`, tokenFor(patient))), { conversationId: conv, updatedCount: 1 });
    await room.waitFor('messages_read', (d) => d.userId === patient.id);
    const events = await countEvents(conv);
    const mark = room.mark();
    // Nothing left to mark, twice, and the doctor reading his own messages.
    for (const who of [patient, patient, doctor]) {
      assert.deepEqual(assertOk(await post(`/conversations/${conv}/read`, tokenFor(who))), { conversationId: conv, updatedCount: 0 });
    }
    assert.equal(await countEvents(conv), events, 'a read marking nothing wrote an event');
    // The room's events arrive in order: once this message is there, a
    // receipt of those reads would have come before it.
    const m = assertOk(await post(`/conversations/${conv}/messages`, tokenFor(patient), { content: 'ensuite' }), 201).message;
    await room.waitFor('new_message', (d) => d.message.id === m.id);
    assert.deepEqual(room.since(mark, 'messages_read'), [], 'messages_read for a read that marked nothing');
    room.close();
  });
});

describe('database timeouts (the API run as CGI on its own configuration)', () => {
  let dir;
  let pair;
  const secret = 'timeouts-only-secret-0123456789-abcdefghijklmn';
  const config = (entries) => {
    const path = join(dir, `c${Object.keys(entries).length}-${Date.now()}.conf`);
    writeFileSync(path, Object.entries({ jwt_secret: secret, log_level: 'error', ...entries })
      .map(([k, v]) => `${k} = ${v}`).join('\n') + '\n', { mode: 0o644 });
    return path;
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'msg-timeouts-'));
    pair = await pairWithConversation();
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  test('statement_timeout: a write stuck behind a lock is cancelled, 503, nothing stored', async () => {
    const { patient, conversationId: conv } = pair;
    const token = sign({ sub: String(patient.id), iat: now(), exp: now() + 600 }, { key: secret });
    const holder = new pg.Client({ connectionString: DB_URL, application_name: 'messaging-integration-lock' });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conv]);
      const t0 = Date.now();
      const r = await runCgi({
        config: config({ database_url: `"${DB_URL}"`, db_statement_timeout_ms: 300 }),
        method: 'POST', path: `/api/messaging/conversations/${conv}/messages`, token,
        body: JSON.stringify({ content: 'bloqué' }),
      });
      const took = Date.now() - t0;
      assertError(r, 503, 'unavailable');
      assert.ok(took < 10000, `answered after ${took} ms`);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end().catch(() => {});
    }
    assert.equal(await countMessages(conv), 0);
  });

  test('connect_timeout: a database that accepts but never answers gives 503 within the bound', async () => {
    const silent = net.createServer((s) => { s.on('error', () => {}); });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address();
    try {
      const { patient } = pair;
      const token = sign({ sub: String(patient.id), iat: now(), exp: now() + 600 }, { key: secret });
      const t0 = Date.now();
      const r = await runCgi({
        config: config({ database_url: `"postgresql://nobody@127.0.0.1:${port}/x?sslmode=disable"`, db_connect_timeout_s: 2 }),
        path: '/api/messaging/unread-count', token, timeout: 15000,
      });
      const took = Date.now() - t0;
      assertError(r, 503, 'unavailable');
      assert.ok(took < 8000, `answered after ${took} ms`);
    } finally {
      silent.close();
    }
  });
});
