// API.md section 1 through nginx (HS256 server): which tokens are accepted
// and which are refused with 401 unauthorized; and /api/health without one.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, get } from '../lib/http.mjs';
import { assertError, assertOk } from '../lib/shapes.mjs';
import { b64url, claims, keyPair, now, sign, signature, tokenFor, unsigned } from '../lib/jwt.mjs';
import { createDoctor, createPatient, MAX_ID, setUp } from '../lib/fixtures.mjs';
import { JWT_SECRET } from '../lib/env.mjs';

const ROUTE = '/conversations';
let patient;
let doctor;

before(async () => {
  patient = await createPatient('Anne', 'Authier');
  doctor = await createDoctor('Bruno', 'Bearer');
});
setUp();

/** GET /conversations with the given Authorization header value (or none). */
const withAuthorization = (value) =>
  api('GET', ROUTE, { headers: value === undefined ? {} : { authorization: value } });

async function refused(token, what = token) {
  const res = await withAuthorization(`Bearer ${token}`);
  assert.equal(res.status, 401, `token ${what} was not refused: ${res.status} ${res.text.slice(0, 200)}`);
  assertError(res, 401, 'unauthorized');
  return res;
}

async function accepted(token) {
  const body = assertOk(await withAuthorization(`Bearer ${token}`));
  assert.deepEqual(Object.keys(body), ['conversations']);
  assert.ok(Array.isArray(body.conversations));
  return body;
}

test('/api/health answers 200 {"status":"ok"} without a token', async () => {
  const body = assertOk(await get('/api/health'));
  assert.deepEqual(body, { status: 'ok' });
});

describe('accepted tokens', () => {
  test('a valid HS256 token with sub as a decimal string', async () => {
    await accepted(tokenFor(patient));
  });
  test('sub as a JSON number', async () => {
    await accepted(sign(claims(undefined, patient.role, { sub: patient.id })));
  });
  test('no role claim (the role comes from the table)', async () => {
    await accepted(sign(claims(doctor.id, undefined)));
  });
  test('no sub but userId', async () => {
    const c = claims(patient.id, patient.role, { userId: patient.id });
    delete c.sub;
    await accepted(sign(c));
  });
  test('no sub and no userId but id', async () => {
    const c = claims(doctor.id, doctor.role, { id: String(doctor.id) });
    delete c.sub;
    await accepted(sign(c));
  });
  test('the Bearer scheme is case-insensitive', async () => {
    assertOk(await withAuthorization(`bearer ${tokenFor(patient)}`));
  });
  test('each token sees its own user: a doctor and a patient get their own (empty) lists', async () => {
    // Sanity check that the user comes from the token: both are new and have no conversation.
    assert.deepEqual((await accepted(tokenFor(doctor))).conversations, []);
    assert.deepEqual((await accepted(tokenFor(patient))).conversations, []);
  });
});

describe('refused tokens: 401 unauthorized', () => {
  test('no Authorization header', async () => {
    const res = await withAuthorization(undefined);
    assertError(res, 401, 'unauthorized');
  });
  test('"Bearer" with nothing after it', async () => {
    assertError(await withAuthorization('Bearer'), 401, 'unauthorized');
    assertError(await withAuthorization('Bearer '), 401, 'unauthorized');
  });
  test('another scheme (Basic, Token)', async () => {
    assertError(await withAuthorization(`Basic ${Buffer.from('a:b').toString('base64')}`), 401, 'unauthorized');
    assertError(await withAuthorization(`Token ${tokenFor(patient)}`), 401, 'unauthorized');
    assertError(await withAuthorization(tokenFor(patient)), 401, 'unauthorized');
  });
  test('malformed tokens', async () => {
    const good = tokenFor(patient);
    const [h, p, s] = good.split('.');
    for (const t of ['abc', 'a.b', 'a.b.c', '...', `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}..${s}`,
      `${b64url('not json')}.${p}.${s}`, `!!!.${p}.${s}`]) {
      await refused(t, t);
    }
    // A payload that is not JSON, correctly signed.
    const input = `${h}.${b64url('{"sub":')}`;
    await refused(`${input}.${signature('HS256', input, JWT_SECRET)}`);
    // A payload that is JSON but not an object, correctly signed.
    const input2 = `${h}.${b64url('[1,2]')}`;
    await refused(`${input2}.${signature('HS256', input2, JWT_SECRET)}`);
  });
  test('alg none, unsigned (any spelling), and alg none with an HS256 signature', async () => {
    const c = claims(patient.id, patient.role);
    await refused(unsigned(c));
    await refused(unsigned(c, { alg: 'None', typ: 'JWT' }));
    await refused(unsigned(c, { alg: 'NONE', typ: 'JWT' }));
    await refused(unsigned(c, { typ: 'JWT' })); // no alg at all
    await refused(sign(c, { header: { alg: 'none', typ: 'JWT' }, signAlg: 'HS256' }));
  });
  test('HS384 and HS512 signed with the right secret', async () => {
    const c = claims(patient.id, patient.role);
    await refused(sign(c, { alg: 'HS384' }));
    await refused(sign(c, { alg: 'HS512' }));
  });
  test('RS256 and ES256 tokens, and an RS256 header over an HMAC signature', async () => {
    const c = claims(patient.id, patient.role);
    await refused(sign(c, { alg: 'RS256', key: keyPair('rsa').privateKey }));
    await refused(sign(c, { alg: 'ES256', key: keyPair('ec').privateKey }));
    await refused(sign(c, { header: { alg: 'RS256', typ: 'JWT' }, signAlg: 'HS256' }));
  });
  test('bad signatures: another secret, a tampered payload, a truncated signature', async () => {
    const c = claims(patient.id, patient.role);
    await refused(sign(c, { key: 'another-secret-that-is-long-enough-0123456789' }));
    await refused(sign(c, { key: '' }));
    const good = tokenFor(patient);
    const [h, , s] = good.split('.');
    const forged = b64url(claims(doctor.id, doctor.role));
    await refused(`${h}.${forged}.${s}`);
    await refused(good.slice(0, -4));
    // Flip the first character of the signature (it carries 6 significant bits).
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    await refused(`${good.split('.').slice(0, 2).join('.')}.${flipped}`);
  });
  test('expired, not yet valid, and without exp', async () => {
    const t = now();
    await refused(sign(claims(patient.id, patient.role, { iat: t - 7200, exp: t - 3600 })));
    await refused(sign(claims(patient.id, patient.role, { nbf: t + 3600 })));
    await refused(sign(claims(patient.id, patient.role, { exp: undefined })));
  });
  test('exp that is not a number', async () => {
    await refused(sign(claims(patient.id, patient.role, { exp: String(now() + 600) })));
    await refused(sign(claims(patient.id, patient.role, { exp: null })));
  });
  test('sub that is not a positive 32-bit integer', async () => {
    for (const sub of ['0', 'abc', '-5', '1.5', ' 1', '', 0, -5, 1.5, 2147483648, '2147483648', true, null, [patient.id], { id: patient.id }]) {
      await refused(sign(claims(undefined, undefined, { sub })), `sub ${JSON.stringify(sub)}`);
    }
  });
  test('sub present but invalid is not rescued by userId', async () => {
    await refused(sign(claims(undefined, undefined, { sub: 'abc', userId: patient.id })));
  });
  test('no user id claim at all', async () => {
    const c = claims(patient.id, patient.role);
    delete c.sub;
    await refused(sign(c));
  });
  test('a user id that does not exist', async () => {
    await refused(sign(claims(MAX_ID, 'patient')));
    await refused(sign(claims(MAX_ID, undefined)));
  });
  test('a role claim that contradicts the users table', async () => {
    await refused(sign(claims(patient.id, 'medecin')));
    await refused(sign(claims(doctor.id, 'patient')));
    await refused(sign(claims(doctor.id, 'admin')));
  });
  test('a 401 carries no data and the next valid request still works', async () => {
    const res = await refused(sign(claims(patient.id, 'medecin')));
    assert.ok(!('conversations' in res.json));
    await accepted(tokenFor(patient));
  });
});

test('every route under /api/messaging needs a token', async () => {
  const routes = [
    ['GET', '/conversations'], ['POST', '/conversations'], ['GET', '/conversations/1'],
    ['GET', '/conversations/1/messages'], ['POST', '/conversations/1/messages'],
    ['POST', '/conversations/1/read'], ['GET', '/unread-count'], ['GET', '/search-users?q=a'],
    ['GET', '/available-users'],
  ];
  for (const [method, path] of routes) {
    const body = method === 'POST' ? { participantId: doctor.id, content: 'x' } : undefined;
    const res = await api(method, path, { body });
    assertError(res, 401, 'unauthorized');
  }
});
