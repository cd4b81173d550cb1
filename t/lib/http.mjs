// HTTP helpers: `api` (fetch, for ordinary JSON calls) and `raw` (node:http,
// for byte-exact bodies, odd headers, chunked bodies and keep-alive checks).
import http from 'node:http';
import { BASE_URL } from './env.mjs';

export { BASE_URL };
export const API = `${BASE_URL}/api/messaging`;

function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

/**
 * fetch wrapper. `path` is relative to /api/messaging unless it starts with
 * /api/ or http. Options: token, body (object => JSON with
 * Content-Type: application/json; string/Buffer sent as is), headers, signal.
 * Returns {status, headers, text, json}.
 */
export async function api(method, path, { token, body, headers = {}, signal } = {}) {
  const url = path.startsWith('http') ? path : path.startsWith('/api/') ? BASE_URL + path : API + path;
  const h = { ...headers };
  if (token !== undefined && token !== null) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
    else payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers: h, body: payload, signal });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: parseJson(text) };
}

export const get = (path, token, opts = {}) => api('GET', path, { token, ...opts });
export const post = (path, token, body, opts = {}) => api('POST', path, { token, body, ...opts });

/**
 * A request with node:http and full control of the bytes.
 * Options: headers (sent exactly; no defaults beyond Host), body (Buffer or
 * string), chunks (array of Buffers/strings sent with Transfer-Encoding:
 * chunked), agent (for keep-alive), path relative to BASE_URL.
 * Resolves {status, headers, text, json, reusedSocket, socket} as soon as the
 * response is complete, even if the server answered before the body was sent.
 */
export function raw(method, path, { headers = {}, body, chunks, agent, timeout = 15000 } = {}) {
  const url = new URL(path.startsWith('/api/') ? BASE_URL + path : `${BASE_URL}/api/messaging${path}`);
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
      h['content-length'] = Buffer.byteLength(body);
    }
    if (chunks) h['transfer-encoding'] = 'chunked';
    const req = http.request({
      method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: h,
      agent: agent || new http.Agent({ keepAlive: false }), timeout,
    });
    let done = false;
    let socket = null;
    req.on('socket', (s) => { socket = s; });
    req.on('timeout', () => { req.destroy(new Error(`${method} ${path}: timeout after ${timeout} ms`)); });
    req.on('error', (err) => { if (!done) reject(err); });
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('error', (err) => { if (!done) reject(err); });
      res.on('end', () => {
        done = true;
        const text = Buffer.concat(parts).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
          text,
          json: parseJson(text),
          reusedSocket: req.reusedSocket,
          socket,
        });
      });
    });
    if (chunks) {
      // Write the chunks one by one so the server sees a real chunked stream.
      (async () => {
        for (const c of chunks) {
          if (done || req.destroyed) return;
          req.write(c);
          await new Promise((r) => setImmediate(r));
        }
        req.end();
      })();
    } else if (body !== undefined) {
      req.end(body);
    } else {
      req.end();
    }
  });
}
