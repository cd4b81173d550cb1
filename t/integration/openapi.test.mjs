// docs/openapi.yaml against the running stack: the document is a valid
// OpenAPI 3.1 description (@seriousme/openapi-schema-validator), and real
// answers of every documented operation, successes and errors, fit the schema
// it gives for their status (Ajv, JSON Schema 2020-12), with the contract's
// Content-Type. Every operation of the document is exercised, and every route
// of fcgi-api/router.c is in the document: neither can drift from the other.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { api, raw } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { createDoctor, createPatient, link, q, setUp } from '../lib/fixtures.mjs';

const DOC_PATH = new URL('../../docs/openapi.yaml', import.meta.url);
const ROUTER = new URL('../../fcgi-api/router.c', import.meta.url);
const doc = YAML.parse(readFileSync(DOC_PATH, 'utf8'));

let resolved; // the document with every $ref replaced by its target
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false });
addFormats(ajv);
const compiled = new Map(); // "get /path 200" -> validate function
const exercised = new Set(); // "get /path"

/** The documented path template that a concrete path matches. */
function templateOf(path) {
  for (const t of Object.keys(resolved.paths)) {
    const re = new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
    if (re.test(path)) return t;
  }
  return null;
}

/** Checks one real answer against the document; returns its JSON. */
function conforms(method, url, res) {
  const path = new URL(url, 'http://x').pathname;
  const t = templateOf(path);
  assert.ok(t, `${method} ${path}: no such path in docs/openapi.yaml`);
  const op = resolved.paths[t][method.toLowerCase()];
  assert.ok(op, `${method} ${t}: no such operation in docs/openapi.yaml`);
  const r = op.responses[String(res.status)];
  assert.ok(r, `${method} ${t}: status ${res.status} is not documented (${res.text.slice(0, 160)})`);
  const media = r.content && r.content['application/json'];
  assert.ok(media && media.schema, `${method} ${t} ${res.status}: no application/json schema`);
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', `${method} ${path} ${res.status}`);
  const key = `${method.toLowerCase()} ${t} ${res.status}`;
  if (!compiled.has(key)) compiled.set(key, ajv.compile(media.schema));
  const validate = compiled.get(key);
  assert.ok(res.json !== undefined, `${method} ${path}: the body is not JSON`);
  assert.ok(validate(res.json), `${method} ${path} ${res.status} does not fit docs/openapi.yaml: `
    + `${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.json).slice(0, 400)}`);
  for (const h of Object.keys(r.headers || {})) {
    if (h === 'Retry-After') assert.ok(res.headers.get(h), `${key}: no ${h} header`);
  }
  exercised.add(`${method.toLowerCase()} ${t}`);
  return res.json;
}

const call = async (method, path, opts = {}) => conforms(method, path.startsWith('/api/') ? path : `/api/messaging${path}`,
  await api(method, path, opts));

let patient; let doctor; let stranger; let other; let tp; let td;
let conv; let closedConv;

before(async () => {
  patient = await createPatient('Océane', 'Openapi');
  doctor = await createDoctor('Didier', 'Openapi');
  other = await createDoctor('Odile', 'Openapi');
  stranger = await createDoctor('Sacha', 'Openapi');
  await link(patient, doctor);
  await link(patient, other);
  tp = tokenFor(patient);
  td = tokenFor(doctor);
});
setUp();

describe('docs/openapi.yaml', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    const v = new Validator();
    const res = await v.validate(doc);
    assert.ok(res.valid, res.valid ? '' : `not valid: ${JSON.stringify(res.errors, null, 1).slice(0, 1500)}`);
    assert.equal(v.version, '3.1');
    resolved = v.resolveRefs();
    assert.ok(resolved.paths['/api/messaging/me'], 'GET /me is documented');
  });

  test('every route of the API (fcgi-api/router.c) is documented', () => {
    const src = readFileSync(ROUTER, 'utf8');
    const conv = /#define CONV "([^"]+)"/.exec(src)[1];
    const routes = [...src.matchAll(/\{"(GET|POST|HEAD|PUT|PATCH|DELETE)", (?:CONV(?: "([^"]*)")?|"([^"]*)"), h_/g)]
      .map(([, m, tail, whole]) => [m.toLowerCase(), whole !== undefined ? whole : conv + (tail || '')]);
    assert.ok(routes.length >= 10, `only ${routes.length} routes read from router.c`);
    for (const [m, p] of routes) {
      if (m === 'head') continue; // HEAD answers as GET does
      const t = p.replace(/:([a-z]+)/g, '{$1}');
      assert.ok(resolved.paths[t] && resolved.paths[t][m], `${m.toUpperCase()} ${t} is served but not documented`);
    }
  });

  test('health and the caller (GET /me): successes and errors fit', async () => {
    await call('GET', '/api/health');
    const me = await call('GET', '/me', { token: tp });
    assert.deepEqual(me.user, { id: patient.id, role: 'patient', firstName: 'Océane', lastName: 'Openapi' });
    await call('GET', '/me');
    await call('GET', '/me', { token: tokenFor({ id: 2147483000, role: 'patient' }) });
  });

  test('conversations: create (201, 200), list, get, and their errors fit', async () => {
    conv = (await call('POST', '/conversations', { token: tp, body: { participantId: doctor.id } })).conversation.id;
    await call('POST', '/conversations', { token: tp, body: { participantId: doctor.id } });
    await call('POST', '/conversations', { token: tp, body: { participantId: patient.id } });
    await call('POST', '/conversations', { token: tp, body: { participantId: 2147483000 } });
    await call('POST', '/conversations', { token: tp, body: { participantId: stranger.id } });
    await call('POST', '/conversations', { token: tp, body: '{"participantId":1}', headers: { 'content-type': 'text/plain' } });
    await call('POST', '/conversations', { token: tp, body: JSON.stringify({ pad: 'x'.repeat(70000) }) });
    closedConv = (await call('POST', '/conversations', { token: tp, body: { participantId: other.id } })).conversation.id;
    await q("UPDATE conversations SET status = 'closed' WHERE id = $1", [closedConv]);
    await call('GET', '/conversations', { token: tp });
    await call('GET', '/conversations?limit=1&offset=1', { token: td });
    await call('GET', '/conversations?limit=0', { token: tp });
    await call('GET', `/conversations/${conv}`, { token: td });
    await call('GET', '/conversations/abc', { token: td });
    await call('GET', '/conversations/2147483000', { token: td });
  });

  test('messages: send (201, a repeat 200), pages, read, and their errors fit', async () => {
    const first = await call('POST', `/conversations/${conv}/messages`, { token: tp, body: { content: 'Bonjour docteur' } });
    assert.equal(first.message.clientId, null);
    const clientId = `oa-${Date.now()}`;
    await call('POST', `/conversations/${conv}/messages`, { token: tp, body: { content: 'Une question', clientId } });
    await call('POST', `/conversations/${conv}/messages`, { token: tp, body: { content: 'Une question', clientId } });
    for (let i = 0; i < 3; i++) await call('POST', `/conversations/${conv}/messages`, { token: td, body: { content: `Réponse ${i} 👋` } });
    await call('POST', `/conversations/${conv}/messages`, { token: tp, body: { content: '   ' } });
    await call('POST', `/conversations/${closedConv}/messages`, { token: tp, body: { content: 'closed' } });
    const page = await call('GET', `/conversations/${conv}/messages?limit=2`, { token: tp });
    assert.equal(page.hasMore, true);
    await call('GET', `/conversations/${conv}/messages?before=${page.messages[0].id}`, { token: tp });
    await call('GET', `/conversations/${conv}/messages?after=0&limit=100`, { token: td });
    await call('GET', `/conversations/${conv}/messages?after=1&before=9`, { token: td });
    await call('GET', '/unread-count', { token: tp });
    const read = await call('POST', `/conversations/${conv}/read`, { token: tp });
    assert.equal(read.updatedCount, 3);
    await call('POST', `/conversations/${conv}/read`, { token: tp, body: {} });
    await call('POST', `/conversations/${conv}/read`, { token: tp, body: '[1]' });
    await call('POST', '/conversations/2147483000/read', { token: tp });
  });

  test('users: search and available users, and their errors fit', async () => {
    await call('GET', '/search-users?q=didier', { token: tp });
    await call('GET', '/search-users?q=%20', { token: tp });
    await call('GET', '/search-users?q=o&limit=51', { token: tp });
    const avail = await call('GET', '/available-users', { token: tp });
    assert.ok(avail.users.some((u) => u.conversationId === conv));
  });

  test('a wrong method on a known path: 405 with Allow (not a documented operation)', async () => {
    const res = await raw('DELETE', `/conversations/${conv}`, { headers: { authorization: `Bearer ${tp}` } });
    assert.equal(res.status, 405);
    assert.ok(res.headers.get('allow'));
    assert.ok(ajv.validate(resolved.components.schemas.Error, res.json), ajv.errorsText());
  });

  test('every documented operation was exercised against the stack', () => {
    const missing = [];
    for (const [t, item] of Object.entries(resolved.paths)) {
      for (const m of ['get', 'post', 'put', 'patch', 'delete']) if (item[m] && !exercised.has(`${m} ${t}`)) missing.push(`${m} ${t}`);
    }
    assert.deepEqual(missing, []);
    assert.ok(compiled.size >= 25, `only ${compiled.size} (operation, status) pairs checked`);
  });
});
