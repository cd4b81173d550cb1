// The database goes away and comes back (issue 3, "What bad input gets"):
// 503 while it is gone (/api/health and the messaging routes), then full
// service within a few seconds, without restarting the API. Named zz- so
// that it runs last: it stops the PostgreSQL cluster every test uses.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, get, post } from '../lib/http.mjs';
import { assertError, assertJsonType, assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, countMessages, pairWithConversation, pgctl, setUp } from '../lib/fixtures.mjs';

const BACK_WITHIN_MS = 10000;

let patient; let doctor; let conv;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Every request is bounded: while the database is down the API must answer, not hang.
const call = (method, path, token, body) => api(method, path, { token, body, signal: AbortSignal.timeout(8000) });

before(async () => {
  ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'avant la panne' }), 201);
});
setUp();

test('database stopped: 503; started again: full service without restarting the API', async () => {
  const tok = tokenFor(patient);
  // Warm every worker's connection first.
  for (const res of await Promise.all(Array.from({ length: 8 }, () => get(`/conversations/${conv}`, tok)))) {
    assert.equal(assertOk(res).conversation.id, conv);
  }
  assert.deepEqual(assertOk(await get('/api/health')), { status: 'ok' });
  const messagesBefore = await countMessages(conv);
  await closeDb(); // our own pool would only see broken connections

  await pgctl('stop');
  try {
    // Health: 503 with a JSON body, either {"status": "..."} or the error shape.
    for (let i = 0; i < 3; i++) {
      const res = await call('GET', '/api/health');
      assert.equal(res.status, 503, `health while the database is down: ${res.status} ${res.text}`);
      assertJsonType(res);
      // {"status": "<not ok>"}, the error shape, or both in one object.
      const body = res.json;
      assert.ok(body && typeof body === 'object' && ('status' in body || 'error' in body), res.text);
      assert.ok(Object.keys(body).every((k) => k === 'status' || k === 'error'), `unexpected keys: ${res.text}`);
      if ('status' in body) {
        assert.equal(typeof body.status, 'string', res.text);
        assert.notEqual(body.status, 'ok');
      }
      if ('error' in body) {
        assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], res.text);
        assert.equal(body.error.code, 'unavailable', res.text);
      }
    }
    // Messaging routes: 503 unavailable, on every worker (requests in parallel).
    const down = await Promise.all([
      ...Array.from({ length: 6 }, () => call('GET', `/conversations/${conv}`, tok)),
      call('GET', '/conversations', tok),
      call('GET', `/conversations/${conv}/messages`, tok),
      call('GET', '/unread-count', tok),
      call('POST', `/conversations/${conv}/messages`, tok, { content: 'pendant la panne' }),
      call('POST', `/conversations/${conv}/read`, tok),
    ]);
    for (const res of down) assertError(res, 503, 'unavailable');
    // Still the contract's answers for what needs no database.
    assertError(await call('GET', '/nope', tok), 404, 'not_found');
    assertError(await call('DELETE', '/conversations', tok), 405, 'method_not_allowed');
  } finally {
    await pgctl('start');
  }

  // Back within BACK_WITHIN_MS: health 200, then 20 consecutive successes spread
  // over the workers (4 at a time), reads and writes.
  const t0 = Date.now();
  let healthy = false;
  let last = '';
  while (Date.now() - t0 < BACK_WITHIN_MS) {
    try {
      const h = await call('GET', '/api/health');
      const c = await call('GET', `/conversations/${conv}`, tok);
      last = `${h.status} ${c.status} ${c.text.slice(0, 200)}`;
      if (h.status === 200 && c.status === 200) {
        const batch = await Promise.all(Array.from({ length: 8 }, () => call('GET', `/conversations/${conv}`, tok)));
        if (batch.every((r) => r.status === 200)) { healthy = true; break; }
        last = batch.map((r) => r.status).join(',');
      }
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  assert.ok(healthy, `no full service ${BACK_WITHIN_MS} ms after the database came back (last: ${last})`);

  const sent = [];
  for (let round = 0; round < 5; round++) {
    const batch = await Promise.all([
      call('GET', `/conversations/${conv}`, tok),
      call('GET', `/conversations/${conv}/messages?limit=5`, tok),
      call('POST', `/conversations/${conv}/messages`, tok, { content: `après la panne ${round}`, clientId: `after-${round}` }),
      call('GET', '/api/health'),
    ]);
    assert.equal(assertOk(batch[0]).conversation.id, conv);
    assert.equal(assertOk(batch[1]).messages.length > 0, true);
    const m = assertOk(batch[2], 201).message;
    assertMessage(m, { conversationId: conv, senderId: patient.id, content: `après la panne ${round}` });
    sent.push(m.id);
    assert.deepEqual(assertOk(batch[3]), { status: 'ok' });
  }
  assert.deepEqual(assertOk(await call('POST', `/conversations/${conv}/read`, tok)), { conversationId: conv, updatedCount: 1 });
  // The message refused during the outage was not stored; the five after it were.
  assert.equal(await countMessages(conv), messagesBefore + 5);
  const page = assertOk(await call('GET', `/conversations/${conv}/messages`, tok));
  assert.deepEqual(page.messages.slice(-5).map((m) => m.id), sent);
  assert.ok(!page.messages.some((m) => m.content === 'pendant la panne'));
});
