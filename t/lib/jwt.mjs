// JSON Web Tokens minted by hand with node:crypto, so that tests can build
// every malformed or hostile variant a library would refuse to produce.
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { JWT_SECRET } from './env.mjs';

export const b64url = (input) =>
  Buffer.from(typeof input === 'string' || Buffer.isBuffer(input) ? input : JSON.stringify(input))
    .toString('base64url');

export const now = () => Math.floor(Date.now() / 1000);

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
const ASYM = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  ES256: { hash: 'sha256', dsaEncoding: 'ieee-p1363' },
};

/** The signature (base64url) of `signingInput` with `alg` and `key`. */
export function signature(alg, signingInput, key) {
  if (HMAC[alg]) return createHmac(HMAC[alg], key).update(signingInput).digest('base64url');
  if (ASYM[alg]) {
    const s = createSign(ASYM[alg].hash).update(signingInput);
    return s.sign(ASYM[alg].dsaEncoding ? { key, dsaEncoding: ASYM[alg].dsaEncoding } : key).toString('base64url');
  }
  throw new Error(`jwt.mjs: cannot sign with ${alg}`);
}

/**
 * A signed token. `header` defaults to {alg, typ: 'JWT'}; `signAlg` (default
 * header.alg) and `key` (default the server's HS256 secret) choose how it is
 * actually signed, so the header may lie.
 */
export function sign(payload, { alg = 'HS256', key = JWT_SECRET, header, signAlg } = {}) {
  const h = header || { alg, typ: 'JWT' };
  const input = `${b64url(h)}.${b64url(payload)}`;
  return `${input}.${signature(signAlg || h.alg || alg, input, key)}`;
}

/** An unsigned token: `header.payload.` (alg "none" by default). */
export function unsigned(payload, header = { alg: 'none', typ: 'JWT' }) {
  return `${b64url(header)}.${b64url(payload)}.`;
}

/** Standard claims for a user: sub as a decimal string, role, iat, exp in 10 minutes. */
export function claims(userId, role, extra = {}) {
  const t = now();
  const c = { sub: String(userId), iat: t, exp: t + 600, ...extra };
  if (role !== undefined && role !== null) c.role = role;
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

/** A valid HS256 token for `user` ({id, role}) with the server's secret. */
export function tokenFor(user, extra = {}) {
  return sign(claims(user.id, user.role, extra));
}

/** A fresh RSA (2048) or EC (P-256) key pair as PEM strings. */
export function keyPair(kind) {
  const opts = {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  };
  if (kind === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048, ...opts });
  if (kind === 'ec') return generateKeyPairSync('ec', { namedCurve: 'P-256', ...opts });
  throw new Error(`jwt.mjs: unknown key kind ${kind}`);
}
