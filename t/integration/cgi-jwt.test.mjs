// The API binary run as plain CGI (API.md sections 1 and 6) with its own
// configuration file: RS256 and ES256 with a public key file, the algorithm
// pinned (no HS256 "key confusion", no alg none), and start-up refusals of a
// bad configuration (a jwt_secret shorter than 32 bytes, never printed).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB_URL } from '../lib/env.mjs';
import { assertOk, assertError, assertMessage } from '../lib/shapes.mjs';
import { claims, keyPair, now, sign, unsigned } from '../lib/jwt.mjs';
import { atEnd, pairWithConversation, setUp } from '../lib/fixtures.mjs';
import { runCgi } from '../lib/cgi.mjs';

// The HS256 secret of the CGI test's own config file (not the server's).
const CGI_SECRET = 'cgi-only-secret-0123456789-abcdefghijklmnopqrstuv';

let dir;
let patient; let doctor; let conv;
const rsa = keyPair('rsa');
const ec = keyPair('ec');
const configs = {};

/** Writes a config file with the given key = value lines; returns its path. */
function writeConfig(name, entries) {
  const path = join(dir, `${name}.conf`);
  const text = Object.entries(entries).map(([k, v]) => `${k} = ${v}`).join('\n');
  writeFileSync(path, `# integration test config\n${text}\n`, { mode: 0o644 });
  return path;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'msg-cgi-'));
  ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  writeFileSync(join(dir, 'rsa.pub.pem'), rsa.publicKey, { mode: 0o644 });
  writeFileSync(join(dir, 'ec.pub.pem'), ec.publicKey, { mode: 0o644 });
  configs.rs256 = writeConfig('rs256', { database_url: DB_URL, jwt_algorithm: 'RS256', jwt_public_key_file: join(dir, 'rsa.pub.pem') });
  configs.es256 = writeConfig('es256', { database_url: DB_URL, jwt_algorithm: 'ES256', jwt_public_key_file: join(dir, 'ec.pub.pem') });
  configs.hs256 = writeConfig('hs256', { database_url: DB_URL, jwt_algorithm: 'HS256', jwt_secret: CGI_SECRET });
});
setUp();
atEnd(() => dir && rmSync(dir, { recursive: true, force: true }));


const describeRun = (r) => `exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}; stdout ${JSON.stringify(r.stdout.slice(0, 400))}; stderr ${JSON.stringify(r.stderr.slice(0, 400))}`;

async function cgiOk(opts, status = 200) {
  const r = await runCgi(opts);
  assert.equal(r.status, status, describeRun(r));
  assert.equal(r.code, 0, describeRun(r));
  return assertOk(r, status);
}

async function cgiRefused(opts) {
  const r = await runCgi(opts);
  assert.equal(r.status, 401, describeRun(r));
  assertError(r, 401, 'unauthorized');
  return r;
}

describe('RS256 configuration', () => {
  test('a good RS256 token passes (GET /conversations, 200)', async () => {
    const token = sign(claims(patient.id, patient.role), { alg: 'RS256', key: rsa.privateKey });
    const body = await cgiOk({ config: configs.rs256, token });
    assert.deepEqual(Object.keys(body), ['conversations']);
    assert.deepEqual(body.conversations.map((c) => c.id), [conv]);
  });
  test('a query string and a POST body reach the program', async () => {
    const token = sign(claims(doctor.id, doctor.role), { alg: 'RS256', key: rsa.privateKey });
    const body = await cgiOk({ config: configs.rs256, token, query: 'limit=1&offset=0' });
    assert.deepEqual(body.conversations.map((c) => c.id), [conv]);
    const r400 = await runCgi({ config: configs.rs256, token, query: 'limit=0' });
    assertError(r400, 400, 'invalid_request');
    const msg = await cgiOk({
      config: configs.rs256, token, method: 'POST', path: `/api/messaging/conversations/${conv}/messages`,
      body: JSON.stringify({ content: 'envoyé par CGI', clientId: 'cgi-1' }),
    }, 201);
    assertMessage(msg.message, { conversationId: conv, senderId: doctor.id, content: 'envoyé par CGI', clientId: 'cgi-1' });
  });
  test('an HS256 token signed with the public key PEM as the secret is refused', async () => {
    const c = claims(patient.id, patient.role);
    await cgiRefused({ config: configs.rs256, token: sign(c, { alg: 'HS256', key: rsa.publicKey }) });
    await cgiRefused({ config: configs.rs256, token: sign(c, { alg: 'HS256', key: rsa.publicKey.trim() }) });
  });
  test('alg none is refused', async () => {
    await cgiRefused({ config: configs.rs256, token: unsigned(claims(patient.id, patient.role)) });
  });
  test('RS256 signed by another key, an ES256 token, expired or without exp: refused', async () => {
    const c = claims(patient.id, patient.role);
    await cgiRefused({ config: configs.rs256, token: sign(c, { alg: 'RS256', key: keyPair('rsa').privateKey }) });
    await cgiRefused({ config: configs.rs256, token: sign(c, { alg: 'ES256', key: ec.privateKey }) });
    const t = now();
    await cgiRefused({ config: configs.rs256, token: sign(claims(patient.id, patient.role, { iat: t - 7200, exp: t - 3600 }), { alg: 'RS256', key: rsa.privateKey }) });
    await cgiRefused({ config: configs.rs256, token: sign(claims(patient.id, patient.role, { exp: undefined }), { alg: 'RS256', key: rsa.privateKey }) });
  });
});

describe('ES256 configuration', () => {
  test('a good ES256 token passes', async () => {
    const token = sign(claims(doctor.id, doctor.role), { alg: 'ES256', key: ec.privateKey });
    const body = await cgiOk({ config: configs.es256, token });
    assert.deepEqual(body.conversations.map((c) => c.id), [conv]);
  });
  test('HS256 with the public key PEM, RS256, alg none, another EC key: refused', async () => {
    const c = claims(doctor.id, doctor.role);
    await cgiRefused({ config: configs.es256, token: sign(c, { alg: 'HS256', key: ec.publicKey }) });
    await cgiRefused({ config: configs.es256, token: sign(c, { alg: 'RS256', key: rsa.privateKey }) });
    await cgiRefused({ config: configs.es256, token: unsigned(c) });
    await cgiRefused({ config: configs.es256, token: sign(c, { alg: 'ES256', key: keyPair('ec').privateKey }) });
  });
});

describe('HS256 configuration from the file', () => {
  test('the secret of the config file is the one used', async () => {
    const c = claims(patient.id, patient.role);
    const body = await cgiOk({ config: configs.hs256, token: sign(c, { key: CGI_SECRET }) });
    assert.deepEqual(body.conversations.map((x) => x.id), [conv]);
    await cgiRefused({ config: configs.hs256, token: sign(c, { key: `${CGI_SECRET}x` }) });
    await cgiRefused({ config: configs.hs256, token: sign(c, { alg: 'HS512', key: CGI_SECRET }) });
  });
});

describe('a bad configuration stops start-up with one line naming the key', () => {
  async function refusedStart(config, key, secret) {
    const r = await runCgi({ config, token: 'x' });
    assert.notEqual(r.code, 0, `expected a non-zero exit: ${describeRun(r)}`);
    assert.equal(r.signal, null, `killed by a signal: ${describeRun(r)}`);
    const lines = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    assert.equal(lines.length, 1, `expected one line on stderr: ${describeRun(r)}`);
    assert.match(lines[0], new RegExp(key), describeRun(r));
    if (secret) {
      assert.ok(!r.stderr.includes(secret), 'the secret is printed on stderr');
      assert.ok(!r.stdout.includes(secret), 'the secret is printed on stdout');
    }
    return r;
  }
  test('jwt_secret shorter than 32 bytes', async () => {
    const secret = 'short-secret-31-bytes-long-abcd';
    assert.equal(secret.length, 31);
    const cfg = writeConfig('short', { database_url: DB_URL, jwt_algorithm: 'HS256', jwt_secret: secret });
    await refusedStart(cfg, 'jwt_secret', secret);
  });
  test('a public key file that does not exist', async () => {
    const cfg = writeConfig('nokey', { database_url: DB_URL, jwt_algorithm: 'RS256', jwt_public_key_file: join(dir, 'absent.pem') });
    await refusedStart(cfg, 'jwt_public_key_file');
  });
  test('an algorithm that is not HS256, RS256 or ES256', async () => {
    const cfg = writeConfig('badalg', { database_url: DB_URL, jwt_algorithm: 'none', jwt_secret: CGI_SECRET });
    await refusedStart(cfg, 'jwt_algorithm', CGI_SECRET);
  });
});
