// Test data written straight into PostgreSQL with node-postgres: users,
// patient-doctor links and conversations, each file making its own with
// unique e-mails so that files never depend on one another.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { DB_URL, requireEnv } from './env.mjs';

// BIGINT (message and event ids, counts) as JSON-like numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

let pool = null;
const TAG = Date.now().toString(36) + randomBytes(3).toString('hex');
let seq = 0;

/** A short tag unique to this test process (for names and e-mails). */
export const tag = () => TAG;

export function db() {
  if (!pool) {
    pool = new pg.Pool({ connectionString: DB_URL, max: 4, application_name: 'messaging-integration-tests' });
    // A connection dropped by a database restart must not crash the test run.
    pool.on('error', () => {});
  }
  return pool;
}

export const q = (text, params) => db().query(text, params);

/** Closes the pool (call from after()). */
export async function closeDb() {
  if (pool) {
    const p = pool;
    pool = null;
    await p.end().catch(() => {});
  }
}

const closers = [];

/** Something to close after the file's tests (in the order registered), before the database pool. */
export function atEnd(fn) {
  closers.push(fn);
}

/**
 * The set-up every test file shares, registered with node:test at the
 * file's level: after its tests, what atEnd() was given (sio.mjs gives it
 * the open sockets and extra gateways) is closed, then the database pool.
 * With `pair`, a linked patient and doctor with a conversation are made
 * before the tests and handed to pair({patient, doctor, conversationId}).
 */
export function setUp({ pair } = {}) {
  if (pair) before(async () => pair(await pairWithConversation()));
  after(async () => {
    for (const fn of closers.splice(0)) await fn();
    if (dbDown) await pgctl('start').catch(() => {});
    await closeDb();
  });
}

let dbDown = false;
const run = promisify(execFile);

/**
 * The tests' private PostgreSQL (MSG_PG_CTL): 'stop', 'kill' (an immediate
 * shutdown, as a crash) or 'start'. One a test leaves down is started again
 * after the file's tests (setUp).
 */
export async function pgctl(action) {
  const ctl = requireEnv('MSG_PG_CTL');
  if (action !== 'start') dbDown = true;
  try {
    await run(ctl, [action], { timeout: 60000 });
  } catch (err) {
    throw new Error(`"${ctl} ${action}" failed: ${err.message}\n${err.stderr || ''}`);
  }
  if (action === 'start') dbDown = false;
}

/** Inserts a user; returns {id, role, firstName, lastName}. */
export async function createUser(role, firstName = 'Test', lastName = `User ${TAG}`) {
  seq += 1;
  const email = `it-${TAG}-${seq}-${role}@example.test`;
  const { rows } = await q(
    'INSERT INTO users (role, first_name, last_name, email) VALUES ($1, $2, $3, $4) RETURNING id',
    [role, firstName, lastName, email]);
  return { id: rows[0].id, role, firstName, lastName };
}

export const createPatient = (first, last) => createUser('patient', first, last);
export const createDoctor = (first, last) => createUser('medecin', first, last);

/** Links a patient and a doctor in patient_doctor. */
export async function link(patient, doctor) {
  await q('INSERT INTO patient_doctor (patient_id, doctor_id) VALUES ($1, $2)', [patient.id, doctor.id]);
}

/** Inserts a conversation directly; returns its id. */
export async function createConversation(patient, doctor, status = 'active') {
  const { rows } = await q(
    'INSERT INTO conversations (patient_id, doctor_id, status) VALUES ($1, $2, $3) RETURNING id',
    [patient.id, doctor.id, status]);
  return rows[0].id;
}

/** A linked patient and doctor with an active conversation between them. */
export async function pairWithConversation(names = {}) {
  const patient = await createPatient(names.patientFirst || 'Pat', names.patientLast || `Ient ${TAG}`);
  const doctor = await createDoctor(names.doctorFirst || 'Doc', names.doctorLast || `Teur ${TAG}`);
  await link(patient, doctor);
  const conversationId = await createConversation(patient, doctor);
  return { patient, doctor, conversationId };
}

export async function countMessages(conversationId) {
  const { rows } = await q('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [conversationId]);
  return rows[0].n;
}

/** Number of rows in messaging.events for a conversation. */
export async function countEvents(conversationId) {
  const { rows } = await q('SELECT count(*)::int AS n FROM messaging.events WHERE conversation_id = $1', [conversationId]);
  return rows[0].n;
}

/** An id that no user, conversation or message will reach in a test database. */
export const MAX_ID = 2147483647;
