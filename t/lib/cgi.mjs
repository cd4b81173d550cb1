// The API binary run once as plain CGI, as a CGI server would (API.md
// section 6), with a configuration file of the test's own.
import { spawn } from 'node:child_process';
import { requireEnv } from './env.mjs';

const API_BIN = requireEnv('MSG_API_BIN');

/** Environment a CGI server would give, nothing inherited but PATH and sanitizer options. */
export function cgiEnv({ config, method, path, query, token, authorization, body, contentType }) {
  const env = {
    PATH: process.env.PATH,
    MESSAGING_CONFIG: config,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'integration-test',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    REQUEST_METHOD: method,
    SCRIPT_NAME: '',
    PATH_INFO: path,
    DOCUMENT_URI: path,
    REQUEST_URI: query ? `${path}?${query}` : path,
    QUERY_STRING: query || '',
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'LD_LIBRARY_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  if (token !== undefined) env.HTTP_AUTHORIZATION = `Bearer ${token}`;
  if (authorization !== undefined) env.HTTP_AUTHORIZATION = authorization;
  if (body !== undefined) {
    env.CONTENT_TYPE = contentType || 'application/json';
    env.CONTENT_LENGTH = String(Buffer.byteLength(body));
  }
  return env;
}

/** Runs the binary once as CGI: {code, stdout, stderr, status, headers, text, json}. */
export function runCgi(opts) {
  const { body, timeout = 20000 } = opts;
  const env = cgiEnv({ method: 'GET', path: '/api/messaging/conversations', ...opts });
  return new Promise((resolve, reject) => {
    const child = spawn(API_BIN, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = []; const err = [];
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`CGI run timed out after ${timeout} ms`)); }, timeout);
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.stdin.on('error', () => {}); // the program may exit without reading its stdin
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const res = { code, signal, stdout, stderr, status: null, headers: new Headers(), text: '', json: undefined };
      const m = /\r?\n\r?\n/.exec(stdout);
      if (m) {
        const head = stdout.slice(0, m.index);
        res.text = stdout.slice(m.index + m[0].length);
        for (const line of head.split(/\r?\n/)) {
          const i = line.indexOf(':');
          if (i > 0) res.headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
        }
        const st = res.headers.get('status');
        res.status = st ? Number.parseInt(st, 10) : (res.headers.get('location') ? 302 : 200);
        try { res.json = JSON.parse(res.text); } catch { res.json = undefined; }
      }
      resolve(res);
    });
    if (body !== undefined) child.stdin.end(body);
    else child.stdin.end();
  });
}
