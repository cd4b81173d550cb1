// GET /api/messaging/me (API.md section 4: {user: User}, the caller as the
// users table has it), and the charset of every JSON answer of the gateway
// (API.md section 3: application/json; charset=utf-8), /stats included.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, BASE_URL, get } from '../lib/http.mjs';
import { assertError, assertOk, assertUser, allowOf } from '../lib/shapes.mjs';
import { claims, sign, tokenFor } from '../lib/jwt.mjs';
import { createDoctor, createPatient, q, setUp } from '../lib/fixtures.mjs';
import { WS_URL } from '../lib/sio.mjs';

setUp();

describe('GET /me', () => {
  test('a patient and a doctor get themselves, from the users table', async () => {
    const p = await createPatient('Hélène', 'Dubois-Moi');
    const d = await createDoctor('Élise', 'Martin-Moi');
    assertUser(assertOk(await get('/me', tokenFor(p))).user, p);
    assertUser(assertOk(await get('/me', tokenFor(d))).user, d);
    // The names as they are now, not as they were when the token was made.
    await q('UPDATE users SET first_name = $1 WHERE id = $2', ['Hélèna', p.id]);
    assert.equal(assertOk(await get('/me', tokenFor(p))).user.firstName, 'Hélèna');
  });

  test('a token without role claim works; one whose role contradicts the table is refused', async () => {
    const p = await createPatient('Paul', 'Sansrole');
    const { role, ...noRole } = claims(p.id, 'patient');
    assert.equal(role, 'patient');
    assertUser(assertOk(await get('/me', sign(noRole))).user, p);
    assertError(await get('/me', sign(claims(p.id, 'medecin'))), 401, 'unauthorized');
  });

  test('no token, a bad token, an unknown user: 401', async () => {
    assertError(await get('/me'), 401, 'unauthorized');
    assertError(await get('/me', 'not.a.token'), 401, 'unauthorized');
    assertError(await get('/me', tokenFor({ id: 2147480000, role: 'patient' })), 401, 'unauthorized');
  });

  test('POST /me: 405 with Allow: GET', async () => {
    const p = await createPatient('Pia', 'Post');
    const res = await api('POST', '/me', { token: tokenFor(p), body: {} });
    assertError(res, 405, 'method_not_allowed');
    assert.deepEqual(allowOf(res), ['GET']);
  });
});

describe('the gateway answers JSON with its charset', () => {
  const JSON_CT = 'application/json; charset=utf-8';
  test('/stats and /health', async () => {
    for (const [path, status] of [['/stats', 200], ['/health', 200]]) {
      const res = await fetch(`${WS_URL}${path}`);
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('content-type'), JSON_CT, path);
      assert.ok(await res.json(), path);
    }
  });
  test('an Engine.IO error (an unknown transport, an unknown sid)', async () => {
    for (const qs of ['EIO=4&transport=carrier-pigeon', 'EIO=4&transport=polling&sid=nope']) {
      const res = await fetch(`${WS_URL}/socket.io/?${qs}`);
      assert.equal(res.status, 400, qs);
      assert.equal(res.headers.get('content-type'), JSON_CT, qs);
      const body = await res.json();
      assert.equal(typeof body.code, 'number', qs);
      assert.equal(typeof body.message, 'string', qs);
    }
  });
  test('the same error through nginx keeps it', async () => {
    const res = await fetch(`${BASE_URL}/socket.io/?EIO=4&transport=carrier-pigeon`);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), JSON_CT);
  });
});
