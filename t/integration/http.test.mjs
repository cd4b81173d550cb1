// HTTP rules of API.md sections 3 and 4 through nginx: unknown paths, wrong
// methods, path ids, request bodies (media type, size, JSON, UTF-8, chunked),
// and a keep-alive connection that keeps working after errors.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, get, post, raw } from '../lib/http.mjs';
import { allowOf, assertError, assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { countMessages, MAX_ID, pairWithConversation, setUp } from '../lib/fixtures.mjs';

let patient;
let doctor;
let conv;
let token;

before(async () => {
  ({ patient, doctor, conversationId: conv } = await pairWithConversation());
  token = tokenFor(patient);
});
setUp();

const msgPath = () => `/conversations/${conv}/messages`;
const auth = () => ({ authorization: `Bearer ${token}` });

/** POST a raw body to the conversation's messages. */
const postRaw = (body, contentType = 'application/json', extra = {}) =>
  raw('POST', msgPath(), { headers: { ...auth(), ...(contentType ? { 'content-type': contentType } : {}), ...extra }, body });

describe('unknown paths are 404 not_found (JSON)', () => {
  for (const path of ['/nope', '/conversations/1/nope', '/conversations/1/messages/1', '/conversation',
    '/unread-count/1', '/search-users/x', '/conversations/1/read/2']) {
    test(`GET ${path}`, async () => {
      assertError(await get(path, token), 404, 'not_found');
    });
  }
  test('POST to an unknown path', async () => {
    assertError(await post('/nope', token, {}), 404, 'not_found');
  });
});

describe('a wrong method on a known path is 405 with Allow', () => {
  const cases = [
    ['DELETE', '/conversations', ['GET', 'POST']],
    ['PUT', '/conversations', ['GET', 'POST']],
    ['PATCH', '/conversations/1', ['GET']],
    ['POST', '/conversations/1', ['GET']],
    ['DELETE', '/conversations/1/messages', ['GET', 'POST']],
    ['GET', '/conversations/1/read', ['POST']],
    ['PUT', '/conversations/1/read', ['POST']],
    ['POST', '/unread-count', ['GET']],
    ['DELETE', '/search-users', ['GET']],
    ['POST', '/available-users', ['GET']],
  ];
  for (const [method, path, methods] of cases) {
    test(`${method} ${path} -> Allow ${methods.join(', ')}`, async () => {
      const res = await api(method, path, { token });
      assertError(res, 405, 'method_not_allowed');
      const allow = allowOf(res);
      for (const m of methods) assert.ok(allow.includes(m), `Allow "${res.headers.get('allow')}" lacks ${m}`);
      assert.ok(!allow.includes(method), `Allow "${res.headers.get('allow')}" lists ${method}`);
      const extra = allow.filter((m) => !methods.includes(m));
      assert.ok(extra.every((m) => m === 'HEAD' || m === 'OPTIONS'), `Allow "${res.headers.get('allow')}" lists extra methods`);
    });
  }
});

describe('path ids that are not positive 32-bit integers are 400', () => {
  for (const id of ['0', '-1', '2147483648', '99999999999999999999', 'abc', '1.5', '1e3', '0x10', '%20']) {
    test(`/conversations/${id}`, async () => {
      assertError(await get(`/conversations/${id}`, token), 400, 'invalid_request');
      assertError(await get(`/conversations/${id}/messages`, token), 400, 'invalid_request');
      assertError(await post(`/conversations/${id}/messages`, token, { content: 'x' }), 400, 'invalid_request');
      assertError(await post(`/conversations/${id}/read`, token), 400, 'invalid_request');
    });
  }
  test('the largest 32-bit id is valid (404, not 400)', async () => {
    assertError(await get(`/conversations/${MAX_ID}`, token), 404, 'not_found');
    assertError(await get(`/conversations/${MAX_ID}/messages`, token), 404, 'not_found');
    assertError(await post(`/conversations/${MAX_ID}/messages`, token, { content: 'x' }), 404, 'not_found');
    assertError(await post(`/conversations/${MAX_ID}/read`, token), 404, 'not_found');
  });
});

describe('request bodies', () => {
  test('a valid body is accepted (201) with Content-Type application/json; charset=utf-8', async () => {
    const res = await postRaw(JSON.stringify({ content: 'bonjour' }), 'application/json; charset=utf-8');
    assertMessage(assertOk(res, 201).message, { content: 'bonjour', senderId: patient.id, conversationId: conv });
  });
  test('media type parameters and case do not matter', async () => {
    assertOk(await postRaw(JSON.stringify({ content: 'casse' }), 'Application/JSON'), 201);
  });
  test('wrong Content-Type -> 415 and nothing stored', async () => {
    const n0 = await countMessages(conv);
    const body = JSON.stringify({ content: 'x' });
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
      'application/jsonx', 'text/json']) {
      assertError(await postRaw(body, ct), 415, 'unsupported_media_type');
    }
    assertError(await postRaw(body, null), 415, 'unsupported_media_type');
    assertError(await post('/conversations', token, { participantId: doctor.id }, { headers: { 'content-type': 'text/plain' } }),
      415, 'unsupported_media_type');
    assert.equal(await countMessages(conv), n0);
  });
  test('a JSON body that is not an object -> 400', async () => {
    const n0 = await countMessages(conv);
    for (const body of ['[]', '[{"content":"x"}]', '42', '"content"', 'null', 'true']) {
      assertError(await postRaw(body), 400, 'invalid_request');
    }
    assertError(await post('/conversations', token, '[1]'), 400, 'invalid_request');
    assert.equal(await countMessages(conv), n0);
  });
  test('invalid JSON -> 400', async () => {
    const n0 = await countMessages(conv);
    for (const body of ['{', '{"content": "x"', "{'content': 'x'}", '{"content": "x",}', '{"content": x}',
      'content=x', '{"content": "x"} trailing', '{"content": "\\q"}']) {
      assertError(await postRaw(body), 400, 'invalid_request');
    }
    assert.equal(await countMessages(conv), n0);
  });
  test('an empty body with Content-Type application/json is not a message (400)', async () => {
    assertError(await postRaw(''), 400, 'invalid_request');
  });
  test('unknown fields are ignored', async () => {
    const res = await post(msgPath(), token, { content: 'champs', extra: 1, nested: { a: [1, 2] }, isRead: true, senderId: doctor.id });
    const m = assertOk(res, 201).message;
    assertMessage(m, { content: 'champs', senderId: patient.id, isRead: false, clientId: null });
    const res2 = await post('/conversations', token, { participantId: doctor.id, foo: 'bar' });
    assert.equal(assertOk(res2, 200).conversation.id, conv);
  });
  test('65,537 bytes -> 413 payload_too_large; 65,536 bytes accepted', async () => {
    const n0 = await countMessages(conv);
    const make = (size) => {
      const head = '{"content":"taille","pad":"';
      const tail = '"}';
      return head + 'x'.repeat(size - head.length - tail.length) + tail;
    };
    const big = make(65537);
    assert.equal(Buffer.byteLength(big), 65537);
    assertError(await postRaw(big), 413, 'payload_too_large');
    assert.equal(await countMessages(conv), n0);
    const exact = make(65536);
    assert.equal(Buffer.byteLength(exact), 65536);
    assertMessage(assertOk(await postRaw(exact), 201).message, { content: 'taille' });
    assert.equal(await countMessages(conv), n0 + 1);
  });
  test('a much larger body (300 kB) -> 413', async () => {
    const body = `{"content":"${'y'.repeat(300000)}"}`;
    assertError(await postRaw(body), 413, 'payload_too_large');
  });
  test('invalid UTF-8 bytes in the body -> 400 and nothing stored', async () => {
    const n0 = await countMessages(conv);
    const bad = [
      Buffer.from([0xff, 0xfe]), // never valid
      Buffer.from([0xc3]), // truncated sequence
      Buffer.from([0xc0, 0xaf]), // overlong '/'
      Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate encoded
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    ];
    for (const bytes of bad) {
      const body = Buffer.concat([Buffer.from('{"content":"abc'), bytes, Buffer.from('def"}')]);
      assertError(await postRaw(body), 400, 'invalid_request');
    }
    // Outside a string too.
    assertError(await postRaw(Buffer.concat([Buffer.from('{"content":"ok",'), Buffer.from([0xff]), Buffer.from('"a":1}')])),
      400, 'invalid_request');
    assert.equal(await countMessages(conv), n0);
  });
  test('valid multi-byte UTF-8 is stored and returned exactly', async () => {
    const content = 'Hélène écrit: 日本語 🙂 ﬁn';
    const m = assertOk(await postRaw(Buffer.from(JSON.stringify({ content }), 'utf8')), 201).message;
    assert.equal(m.content, content);
    // JSON \u escapes (a surrogate pair included) decode to the same text.
    const escaped = '{"content":"H\\u00e9l\\u00e8ne \\ud83d\\ude42"}';
    assert.equal(assertOk(await postRaw(escaped), 201).message.content, 'Hélène 🙂');
  });
  test('a chunked body is read whole (201), and a chunked body over 65,536 bytes is 413', async () => {
    const json = JSON.stringify({ content: 'en morceaux', clientId: `chunked-${conv}` });
    const res = await raw('POST', msgPath(), {
      headers: { ...auth(), 'content-type': 'application/json' },
      chunks: [json.slice(0, 5), json.slice(5, 17), json.slice(17)],
    });
    assertMessage(assertOk(res, 201).message, { content: 'en morceaux', clientId: `chunked-${conv}` });
    const n0 = await countMessages(conv);
    const piece = 'z'.repeat(8192);
    const big = await raw('POST', msgPath(), {
      headers: { ...auth(), 'content-type': 'application/json' },
      chunks: ['{"content":"', ...Array(9).fill(piece), '"}'],
    });
    assertError(big, 413, 'payload_too_large');
    assert.equal(await countMessages(conv), n0);
  });
});

describe('keep-alive: the server goes on serving after errors', () => {
  test('4xx answers followed by a 200 on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const seq = [
        [() => raw('GET', '/conversations', { agent, headers: auth() }), 200],
        [() => raw('POST', msgPath(), { agent, headers: { ...auth(), 'content-type': 'application/json' }, body: '{bad' }), 400],
        [() => raw('GET', '/conversations', { agent }), 401],
        [() => raw('POST', msgPath(), { agent, headers: { ...auth(), 'content-type': 'text/plain' }, body: 'hello' }), 415],
        [() => raw('GET', '/nope', { agent, headers: auth() }), 404],
        [() => raw('DELETE', '/conversations', { agent, headers: auth() }), 405],
        [() => raw('GET', `/conversations/${MAX_ID}`, { agent, headers: auth() }), 404],
        [() => raw('GET', '/conversations/abc', { agent, headers: auth() }), 400],
        [() => raw('POST', msgPath(), { agent, headers: { ...auth(), 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0xff, 0x7d]) }), 400],
        [() => raw('GET', `/conversations/${conv}`, { agent, headers: auth() }), 200],
        [() => raw('GET', '/api/health', { agent }), 200],
      ];
      let first = null;
      for (const [i, [send, status]] of seq.entries()) {
        const res = await send();
        assert.equal(res.status, status, `request ${i}: ${res.status} ${res.text}`);
        if (i === 0) first = res.socket;
        else assert.equal(res.socket, first, `request ${i} did not reuse the keep-alive connection`);
      }
    } finally {
      agent.destroy();
    }
  });
  test('after a 413 the next request is served', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = `{"content":"${'x'.repeat(70000)}"}`;
      const r1 = await raw('POST', msgPath(), { agent, headers: { ...auth(), 'content-type': 'application/json' }, body: big });
      assertError(r1, 413, 'payload_too_large');
      const r2 = await raw('GET', `/conversations/${conv}`, { agent, headers: auth() });
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.json.conversation.id, conv);
    } finally {
      agent.destroy();
    }
  });
  test('a burst of bad requests in parallel, then every worker still answers', async () => {
    const bad = [];
    for (let i = 0; i < 40; i++) {
      bad.push(i % 4 === 0 ? post(msgPath(), token, '{"content":')
        : i % 4 === 1 ? post(msgPath(), token, { content: '   ' })
          : i % 4 === 2 ? get('/conversations/0', token)
            : post(msgPath(), token, Buffer.from([0x22, 0xc3, 0x28, 0x22])));
    }
    for (const res of await Promise.all(bad)) assertError(res, 400, 'invalid_request');
    const good = await Promise.all(Array.from({ length: 16 }, () => get(`/conversations/${conv}`, token)));
    for (const res of good) assert.equal(assertOk(res).conversation.id, conv);
  });
});
