// POST/GET /conversations and GET /conversations/:id (API.md section 4):
// creation rules, shapes, ordering, pagination, and no leak across users.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post } from '../lib/http.mjs';
import { assertConversation, assertError, assertMessage, assertOk } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { createConversation, createDoctor, createPatient, link, MAX_ID, q, setUp } from '../lib/fixtures.mjs';

// A participant as Conversation objects show it: never connected in these tests (API.md section 9).
const userView = (u) => ({ id: u.id, role: u.role, firstName: u.firstName, lastName: u.lastName, online: false, lastSeenAt: null });

setUp();

describe('POST /conversations', () => {
  let patient; let other; let d1; let d2; let d3; let unlinked;
  before(async () => {
    patient = await createPatient('Camille', 'Créatrice');
    other = await createPatient('Autre', 'Patiente');
    d1 = await createDoctor('Denis', 'Premier');
    d2 = await createDoctor('Diane', 'Second');
    d3 = await createDoctor('Dora', 'Troisième');
    unlinked = await createDoctor('Ulysse', 'Inconnu');
    await link(patient, d1);
    await link(patient, d2);
    await link(patient, d3);
    await link(other, d1);
  });

  test('201 when created, with the full shape; 200 with the same conversation when it exists', async () => {
    const t0 = Date.now();
    const res = await post('/conversations', tokenFor(patient), { participantId: d1.id });
    const c = assertOk(res, 201).conversation;
    assert.deepEqual(Object.keys(res.json), ['conversation']);
    assertConversation(c, {
      patientId: patient.id, doctorId: d1.id, status: 'active', participant: userView(d1),
      lastMessage: null, unreadCount: 0,
    });
    for (const k of ['createdAt', 'updatedAt', 'lastMessageAt']) {
      assert.ok(Math.abs(Date.parse(c[k]) - t0) < 60000, `${k} ${c[k]} is not about now`);
    }
    const { rows } = await q('SELECT id, patient_id, doctor_id, status FROM conversations WHERE patient_id = $1 AND doctor_id = $2',
      [patient.id, d1.id]);
    assert.deepEqual(rows, [{ id: c.id, patient_id: patient.id, doctor_id: d1.id, status: 'active' }]);

    const again = assertOk(await post('/conversations', tokenFor(patient), { participantId: d1.id }), 200).conversation;
    assert.deepEqual(again, c);

    // From the doctor's side: the same conversation, the participant is the patient.
    const fromDoctor = assertOk(await post('/conversations', tokenFor(d1), { participantId: patient.id }), 200).conversation;
    assertConversation(fromDoctor, { id: c.id, patientId: patient.id, doctorId: d1.id, participant: userView(patient) });
    const { rows: n } = await q('SELECT count(*)::int AS n FROM conversations WHERE patient_id = $1 AND doctor_id = $2',
      [patient.id, d1.id]);
    assert.equal(n[0].n, 1);
  });

  test('a doctor can start the conversation (201), participantId as a decimal string is accepted', async () => {
    const res = await post('/conversations', tokenFor(d2), { participantId: String(patient.id) });
    assertConversation(assertOk(res, 201).conversation, {
      patientId: patient.id, doctorId: d2.id, participant: userView(patient), lastMessage: null, unreadCount: 0,
    });
  });

  test('404 for a user that does not exist', async () => {
    assertError(await post('/conversations', tokenFor(patient), { participantId: MAX_ID }), 404, 'not_found');
  });
  test('400 with oneself', async () => {
    assertError(await post('/conversations', tokenFor(patient), { participantId: patient.id }), 400, 'invalid_request');
  });
  test('400 with a user of the same role', async () => {
    assertError(await post('/conversations', tokenFor(patient), { participantId: other.id }), 400, 'invalid_request');
    assertError(await post('/conversations', tokenFor(d1), { participantId: d2.id }), 400, 'invalid_request');
  });
  test('403 when the two are not linked, and nothing is created', async () => {
    assertError(await post('/conversations', tokenFor(patient), { participantId: unlinked.id }), 403, 'forbidden');
    assertError(await post('/conversations', tokenFor(unlinked), { participantId: patient.id }), 403, 'forbidden');
    const { rows } = await q('SELECT count(*)::int AS n FROM conversations WHERE doctor_id = $1', [unlinked.id]);
    assert.equal(rows[0].n, 0);
  });
  test('participantId missing or not a positive integer -> 400', async () => {
    const tok = tokenFor(patient);
    for (const body of [{}, { participantId: 'abc' }, { participantId: 0 }, { participantId: -1 },
      { participantId: 1.5 }, { participantId: null }, { participantId: true }, { participantId: [d3.id] },
      { participantId: { id: d3.id } }, { participantId: '' }, { participantId: '-3' }, { participantId: 2147483648 },
      { participant_id: d3.id }]) {
      assertError(await post('/conversations', tok, body), 400, 'invalid_request');
    }
    const { rows } = await q('SELECT count(*)::int AS n FROM conversations WHERE doctor_id = $1', [d3.id]);
    assert.equal(rows[0].n, 0);
  });
  test('two simultaneous creations of one pair: one conversation, one 201 and one 200', async () => {
    const [a, b] = await Promise.all([
      post('/conversations', tokenFor(patient), { participantId: d3.id }),
      post('/conversations', tokenFor(d3), { participantId: patient.id }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 201], `${a.status} ${a.text} / ${b.status} ${b.text}`);
    assert.equal(a.json.conversation.id, b.json.conversation.id);
    const { rows } = await q('SELECT count(*)::int AS n FROM conversations WHERE patient_id = $1 AND doctor_id = $2',
      [patient.id, d3.id]);
    assert.equal(rows[0].n, 1);
  });
});

describe('GET /conversations/:id', () => {
  let patient; let doctor; let stranger; let conv;
  before(async () => {
    patient = await createPatient('Gaspard', 'Getter');
    doctor = await createDoctor('Gilles', 'Getter');
    stranger = await createPatient('Sam', 'Stranger');
    await link(patient, doctor);
    conv = await createConversation(patient, doctor);
  });
  test('a participant gets {conversation} from either side', async () => {
    const res = await get(`/conversations/${conv}`, tokenFor(patient));
    assert.deepEqual(Object.keys(assertOk(res)), ['conversation']);
    assertConversation(res.json.conversation, {
      id: conv, patientId: patient.id, doctorId: doctor.id, status: 'active', participant: userView(doctor),
      lastMessage: null, unreadCount: 0,
    });
    const res2 = await get(`/conversations/${conv}`, tokenFor(doctor));
    assertConversation(assertOk(res2).conversation, { id: conv, participant: userView(patient) });
  });
  test('another user gets 404, as for a conversation that does not exist', async () => {
    const a = await get(`/conversations/${conv}`, tokenFor(stranger));
    const b = await get(`/conversations/${MAX_ID}`, tokenFor(stranger));
    assertError(a, 404, 'not_found');
    assertError(b, 404, 'not_found');
    assert.equal(a.json.error.message, b.json.error.message, 'the two 404s must not differ');
  });
  test('lastMessage and unreadCount follow the messages', async () => {
    const sent = assertOk(await post(`/conversations/${conv}/messages`, tokenFor(doctor), { content: 'Bonjour Gaspard' }), 201).message;
    const forPatient = assertOk(await get(`/conversations/${conv}`, tokenFor(patient))).conversation;
    assertConversation(forPatient, { unreadCount: 1, lastMessage: sent });
    assertMessage(forPatient.lastMessage, { senderId: doctor.id, content: 'Bonjour Gaspard', isRead: false });
    const forDoctor = assertOk(await get(`/conversations/${conv}`, tokenFor(doctor))).conversation;
    assertConversation(forDoctor, { unreadCount: 0, lastMessage: sent });
  });
  test('a closed conversation still reads, with its status', async () => {
    const p = await createPatient('Clo', 'Sed');
    const d = await createDoctor('Doc', 'Sed');
    await link(p, d);
    const id = await createConversation(p, d, 'closed');
    assertConversation(assertOk(await get(`/conversations/${id}`, tokenFor(p))).conversation, { id, status: 'closed' });
  });
});

describe('GET /conversations: ordering and pagination', () => {
  let doctor; const patients = []; const convs = []; let outsiderConv;
  before(async () => {
    doctor = await createDoctor('Louise', 'Liste');
    for (let i = 0; i < 6; i++) {
      const p = await createPatient(`P${i}`, 'Liste');
      await link(p, doctor);
      patients.push(p);
      convs.push(await createConversation(p, doctor));
    }
    // last_message_at: conv 2 newest; 0, 3 and 5 tie; 1 and 4 oldest (tie).
    const at = ['2024-03-01T10:00:00Z', '2024-01-01T10:00:00Z', '2024-06-01T10:00:00Z',
      '2024-03-01T10:00:00Z', '2024-01-01T10:00:00Z', '2024-03-01T10:00:00Z'];
    for (let i = 0; i < 6; i++) {
      await q('UPDATE conversations SET last_message_at = $2 WHERE id = $1', [convs[i], at[i]]);
    }
    // A conversation of someone else, newer than all, must not appear.
    const p = await createPatient('Out', 'Sider');
    const d = await createDoctor('Out', 'Sider');
    await link(p, d);
    outsiderConv = await createConversation(p, d);
  });

  const expectedOrder = () => {
    const tie = [convs[0], convs[3], convs[5]].sort((a, b) => b - a);
    const old = [convs[1], convs[4]].sort((a, b) => b - a);
    return [convs[2], ...tie, ...old];
  };

  test('newest lastMessageAt first, ties by higher id first; only the caller\'s conversations', async () => {
    const res = await get('/conversations', tokenFor(doctor));
    const body = assertOk(res);
    assert.deepEqual(Object.keys(body), ['conversations']);
    assert.deepEqual(body.conversations.map((c) => c.id), expectedOrder());
    assert.ok(!body.conversations.some((c) => c.id === outsiderConv));
    for (const c of body.conversations) {
      assertConversation(c, { doctorId: doctor.id, lastMessage: null, unreadCount: 0 });
      const p = patients.find((x) => x.id === c.patientId);
      assert.deepEqual(c.participant, userView(p));
    }
    assert.equal(body.conversations[0].lastMessageAt, '2024-06-01T10:00:00.000Z');
  });
  test('the patient sees only their own conversation', async () => {
    const body = assertOk(await get('/conversations', tokenFor(patients[3])));
    assert.deepEqual(body.conversations.map((c) => c.id), [convs[3]]);
    assert.deepEqual(body.conversations[0].participant, userView(doctor));
  });
  test('limit and offset page through the same order', async () => {
    const tok = tokenFor(doctor);
    const all = expectedOrder();
    const ids = async (qs) => assertOk(await get(`/conversations?${qs}`, tok)).conversations.map((c) => c.id);
    assert.deepEqual(await ids('limit=2'), all.slice(0, 2));
    assert.deepEqual(await ids('limit=2&offset=2'), all.slice(2, 4));
    assert.deepEqual(await ids('limit=2&offset=4'), all.slice(4, 6));
    assert.deepEqual(await ids('offset=5'), all.slice(5));
    assert.deepEqual(await ids('offset=6'), []);
    assert.deepEqual(await ids('offset=1000'), []);
    assert.deepEqual(await ids('limit=1'), all.slice(0, 1));
    assert.deepEqual(await ids('limit=100'), all);
    assert.deepEqual(await ids('limit=100&offset=0'), all);
  });
  test('limit beyond 1..100 or offset below 0 or not integers -> 400', async () => {
    const tok = tokenFor(doctor);
    for (const qs of ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=99999999999999999999',
      'offset=-1', 'offset=abc', 'offset=1.5']) {
      assertError(await get(`/conversations?${qs}`, tok), 400, 'invalid_request');
    }
  });
  test('the default limit is 50', async () => {
    const d = await createDoctor('Many', 'Conversations');
    const values = [];
    for (let i = 0; i < 55; i++) values.push(`('patient', 'Many${i}', 'Conversations', 'it-many-${d.id}-${i}@example.test')`);
    const { rows } = await q(`INSERT INTO users (role, first_name, last_name, email) VALUES ${values.join(',')} RETURNING id`);
    await q(`INSERT INTO patient_doctor (patient_id, doctor_id) SELECT unnest($1::int[]), $2`, [rows.map((r) => r.id), d.id]);
    await q(`INSERT INTO conversations (patient_id, doctor_id) SELECT unnest($1::int[]), $2`, [rows.map((r) => r.id), d.id]);
    const body = assertOk(await get('/conversations', tokenFor(d)));
    assert.equal(body.conversations.length, 50);
    assert.equal(assertOk(await get('/conversations?limit=100', tokenFor(d))).conversations.length, 55);
    assert.equal(assertOk(await get('/conversations?offset=50', tokenFor(d))).conversations.length, 5);
  });
  test('a new message moves its conversation to the top', async () => {
    const target = convs[4]; // among the oldest
    const m = assertOk(await post(`/conversations/${target}/messages`, tokenFor(patients[4]), { content: 'Je remonte' }), 201).message;
    const body = assertOk(await get('/conversations', tokenFor(doctor)));
    assert.equal(body.conversations[0].id, target);
    assertConversation(body.conversations[0], { lastMessage: m, unreadCount: 1 });
    assert.ok(Date.parse(body.conversations[0].lastMessageAt) > Date.parse('2024-06-01T10:00:00Z'));
  });
});
