// Gateway: sessions that follow their token (API.md section 7):
// token_expiring, refresh_token, the end at exp (nothing of a room after
// it), a recovering CONNECT with an expired token, and revocation through
// the bus ({"t":"revoke","userId":N}) on both instances.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { now, tokenFor } from '../lib/jwt.mjs';
import { createPatient, pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { post } from '../lib/http.mjs';
import {
  Client, QUIET_MS, assertAckError, assertErrorEvent, connect, connectJoined, sleep, WS_URL, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

const iso = (secs) => new Date(secs * 1000).toISOString();

/** Resolves with the reason of the client's next (or last) disconnect. */
function disconnected(c, ms) {
  if (c.disconnects.length) return Promise.resolve(c.disconnects[0].reason);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${c.label}: still connected after ${ms} ms`)), ms);
    c.socket.once('disconnect', (reason) => { clearTimeout(t); resolve(reason); });
  });
}

/** Waits until wall-clock time `atMs`. */
const until = (atMs) => sleep(Math.max(0, atMs - Date.now()));

describe('token lifetime', () => {
  test('token_expiring at once when less than ws_token_warning_s is left', async () => {
    const exp = now() + 30;
    const c = await connect(WS_URL, tokenFor(patient, { exp }));
    const d = await c.waitFor('token_expiring');
    assert.deepEqual(d, { expiresAt: iso(exp) });
    assert.match(d.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const names = c.events.map((e) => e.name);
    assert.ok(names.indexOf('connection_established') < names.indexOf('token_expiring'), names.join(','));
    c.close();
  });

  test('no token_expiring while more than ws_token_warning_s is left', async () => {
    const c = await connect(WS_URL, tokenFor(patient, { exp: now() + 600 }));
    await c.waitFor('connection_established');
    await sleep(QUIET_MS);
    assert.equal(c.all('token_expiring').length, 0);
    c.close();
  });

  for (const [name, url] of [['gw1', WS_URL], ['gw2', WS_URL2]]) {
    test(`${name}: at exp: error unauthorized, server disconnect, nothing of the room after it`, async () => {
      const exp = now() + 2;
      const c = await connectJoined(url, tokenFor(patient, { exp }), conv);
      const other = await connectJoined(WS_URL, tokenFor(doctor), conv);
      // A writer posts until the socket has gone and a few more after it.
      let stop = false; let afterEnd = 0;
      const writer = (async () => {
        const doctorToken = tokenFor(doctor);
        while (!stop || afterEnd < 5) {
          const r = await post(`/conversations/${conv}/messages`, doctorToken, { content: `tick ${Date.now()}` });
          assert.equal(r.status, 201);
          if (stop) afterEnd++;
          await sleep(25);
        }
      })();
      const err = await c.waitFor('error', (d) => d && d.code === 'unauthorized', 6000);
      const reason = await disconnected(c, 3000);
      stop = true;
      await writer;
      assertErrorEvent(err, 'unauthorized', null);
      assert.equal(err.message, 'token expired');
      assert.equal(reason, 'io server disconnect');
      const errAt = c.events.find((e) => e.name === 'error').at;
      assert.ok(errAt >= exp * 1000 - 200, `ended ${exp * 1000 - errAt} ms before exp`);
      assert.ok(errAt <= exp * 1000 + 1500, `ended ${errAt - exp * 1000} ms after exp`);
      // Events arrive in the order they were sent: after the error, nothing.
      const idx = c.events.findIndex((e) => e.name === 'error');
      assert.deepEqual(c.events.slice(idx + 1).map((e) => e.name), []);
      const got = c.all('new_message').map((d) => d.message);
      assert.ok(got.length > 0, 'the socket received messages while its token was valid');
      for (const m of got) assert.ok(Date.parse(m.sentAt) <= exp * 1000, `${m.sentAt} after exp ${iso(exp)}`);
      // The other socket of the room kept receiving.
      const last = (await q('SELECT max(id)::int AS id FROM messages WHERE conversation_id = $1', [conv])).rows[0].id;
      await other.waitFor('new_message', (d) => d.message.id === last);
      c.close(); other.close();
    });
  }

  test('refresh_token moves the expiry: no end at the old exp', async () => {
    const exp = now() + 2;
    const c = await connect(WS_URL, tokenFor(patient, { exp }));
    await c.waitFor('token_expiring');
    const exp2 = now() + 600;
    const ack = await c.request('refresh_token', { token: tokenFor(patient, { exp: exp2 }) });
    assert.deepEqual(ack, { ok: true, expiresAt: iso(exp2) });
    await until(exp * 1000 + 1500);
    assert.equal(c.connected, true);
    assert.equal(c.all('error').length, 0);
    await c.join(conv);
    c.close();
  });

  test('refresh_token refused: another user, a bad or expired token; the expiry stays', async () => {
    const exp = now() + 4;
    const c = await connect(WS_URL, tokenFor(patient, { exp }));
    const stranger = await createPatient();
    // Paced: refresh_token's bucket holds 3 (API.md section 8).
    for (const token of [tokenFor(stranger, { exp: now() + 600 }), 'not-a-token', tokenFor(patient, { exp: now() - 10 })]) {
      const ack = await c.requestPaced('refresh_token', { token });
      assertAckError(ack, 'unauthorized');
    }
    assertAckError(await c.requestPaced('refresh_token', {}), 'unauthorized');
    const err = await c.waitFor('error', (d) => d && d.message === 'token expired', 6000);
    assertErrorEvent(err, 'unauthorized', null);
    assert.equal(await disconnected(c, 3000), 'io server disconnect');
    c.close();
  });

  test('a recovering CONNECT with an expired token is refused, nothing replayed', async () => {
    const c = await connectJoined(WS_URL, tokenFor(patient), conv);
    const pid = c.socket._pid;
    assert.equal(typeof pid, 'string', 'recovery is on: the CONNECT reply has a pid');
    c.close();
    // A message it missed, that a recovery would replay.
    const r = await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'missed' });
    assert.equal(r.status, 201);
    const t = now();
    const back = new Client(WS_URL, { auth: { token: tokenFor(patient, { iat: t - 600, exp: t - 5 }), pid, offset: '0' } });
    const err = await back.refused();
    assert.equal(err.message, 'Token expired');
    await sleep(QUIET_MS);
    assert.deepEqual(back.events.map((e) => e.name), []);
    back.close();
  });
});

describe('revocation at the gateway', () => {
  test('a revoke NOTIFY disconnects the user on both instances within 2 s; others untouched', async () => {
    const { patient: p, doctor: d, conversationId } = await pairWithConversation();
    const mine = [
      await connectJoined(WS_URL, tokenFor(p), conversationId),
      await connectJoined(WS_URL2, tokenFor(p), conversationId),
      await connect(WS_URL, tokenFor(p), { transport: 'polling' }),
    ];
    const others = [await connectJoined(WS_URL, tokenFor(d), conversationId), await connectJoined(WS_URL2, tokenFor(d), conversationId)];
    const t0 = Date.now();
    await q("SELECT pg_notify('messaging_events', $1)", [JSON.stringify({ t: 'revoke', userId: p.id })]);
    for (const c of mine) {
      const err = await c.waitFor('error', (x) => x && x.code === 'unauthorized', 2000);
      assertErrorEvent(err, 'unauthorized', null);
      assert.equal(await disconnected(c, 2000), 'io server disconnect');
      assert.ok(Date.now() - t0 <= 2000, `disconnected ${Date.now() - t0} ms after the revocation`);
    }
    for (const c of others) assert.equal(c.connected, true);
    const r = await post(`/conversations/${conversationId}/messages`, tokenFor(p), { content: 'after' });
    assert.equal(r.status, 201);
    for (const c of others) await c.waitFor('new_message', (x) => x.message.id === r.json.message.id);
    // A token issued afterwards works.
    const again = await connectJoined(WS_URL2, tokenFor(p), conversationId);
    assert.equal(again.connected, true);
    for (const c of [...mine, ...others, again]) c.close();
  });

  test('messaging.revoke_user: both instances disconnect within 2 s; older tokens refused at CONNECT and refresh_token', async () => {
    const { patient: p, doctor: d, conversationId } = await pairWithConversation();
    const t = now();
    const old = tokenFor(p, { iat: t - 5 });
    const mine = [await connectJoined(WS_URL, old, conversationId), await connectJoined(WS_URL2, old, conversationId)];
    const other = await connectJoined(WS_URL2, tokenFor(d), conversationId);
    const t0 = Date.now();
    const { rows } = await q('SELECT messaging.revoke_user($1) AS at', [p.id]);
    const revokedAt = new Date(rows[0].at).getTime();
    for (const c of mine) {
      const err = await c.waitFor('error', (x) => x && x.code === 'unauthorized', 2000);
      assertErrorEvent(err, 'unauthorized', null);
      assert.equal(await disconnected(c, 2000), 'io server disconnect');
    }
    assert.ok(Date.now() - t0 <= 2000, `${Date.now() - t0} ms`);
    assert.equal(other.connected, true);
    // The old token: refused at CONNECT, on both instances.
    for (const url of [WS_URL, WS_URL2]) {
      const c = new Client(url, { token: old });
      await c.refused();
      c.close();
    }
    // A token issued afterwards works; a refresh with the old one is refused.
    const fresh = tokenFor(p, { iat: Math.floor(revokedAt / 1000) + 1 });
    const c = await connectJoined(WS_URL, fresh, conversationId);
    assertAckError(await c.request('refresh_token', { token: old }), 'unauthorized');
    assert.equal((await c.request('refresh_token', { token: fresh })).ok, true);
    c.close(); other.close();
  });

  test('a revocation whose NOTIFY was missed (LISTEN connection lost) still disconnects, once LISTEN is back', async () => {
    const { patient: p, doctor: d, conversationId } = await pairWithConversation();
    const mine = [await connectJoined(WS_URL, tokenFor(p), conversationId), await connectJoined(WS_URL2, tokenFor(p), conversationId)];
    const other = await connectJoined(WS_URL, tokenFor(d), conversationId);
    // Both gateways lose their LISTEN session; the revocation commits before they listen again.
    await q(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'messaging-gateway-listen';
             SELECT messaging.revoke_user(${Number(p.id)});`);
    for (const c of mine) {
      const err = await c.waitFor('error', (x) => x && x.code === 'unauthorized', 10000);
      assertErrorEvent(err, 'unauthorized', null);
      assert.equal(await disconnected(c, 2000), 'io server disconnect');
    }
    assert.equal(other.connected, true);
    // A token issued after the revocation works.
    await sleep(1100);
    const again = await connectJoined(WS_URL, tokenFor(p), conversationId);
    assert.equal(again.connected, true);
    for (const c of [...mine, other, again]) c.close();
  });
});
