// Environment of the integration tests, set by scripts/run-integration.sh.
// A missing variable stops the test file at import time with one clear line,
// instead of a cascade of connection errors.

const HINT = 'run the integration tests with scripts/run-integration.sh (or `make test`), '
  + 'which starts PostgreSQL, the API and nginx and sets MSG_BASE_URL, MSG_DB_URL, MSG_JWT_SECRET, '
  + 'MSG_API_BIN and MSG_PG_CTL';

/** The value of an environment variable, or a thrown Error naming it. */
export function requireEnv(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set: ${HINT}`);
  }
  return v;
}

export const BASE_URL = requireEnv('MSG_BASE_URL').replace(/\/+$/, '');
export const DB_URL = requireEnv('MSG_DB_URL');
export const JWT_SECRET = requireEnv('MSG_JWT_SECRET');
