// Test data written straight into PostgreSQL with node-postgres: users,
// patient-doctor links and conversations, each file making its own with
// unique e-mails so that files never depend on one another.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DB_URL } from './env.mjs';

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
