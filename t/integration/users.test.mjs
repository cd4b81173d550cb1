// GET /search-users and GET /available-users (API.md section 4): linked users
// only, case- and accent-insensitive matching, ordering, limits.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, post } from '../lib/http.mjs';
import { assertError, assertOk, assertUser } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { createDoctor, createPatient, link, setUp } from '../lib/fixtures.mjs';

const view = (u) => ({ id: u.id, role: u.role, firstName: u.firstName, lastName: u.lastName });

let patient; let doctor2; let lonely;
const docs = {};

before(async () => {
  patient = await createPatient('Paul', 'Patient');
  // Linked doctors. Names chosen so that the expected order is the same under
  // any collation (C or linguistic): distinct ASCII initials where it matters.
  docs.heleneDubois = await createDoctor('Hélène', 'Dubois');
  docs.jeanDubois1 = await createDoctor('Jean', 'Dubois');
  docs.jeanDubois2 = await createDoctor('Jean', 'Dubois'); // same name: ordered by id
  docs.zoeDL = await createDoctor('Zoé', 'Dubois-Lefèvre');
  docs.heleneMartin = await createDoctor('Helene', 'Martin');
  docs.francois = await createDoctor('François', 'Nguyễn');
  docs.andre = await createDoctor('ANDRÉ', 'Bérard');
  for (const d of Object.values(docs)) await link(patient, d);
  // Not linked to the patient: must never be found by them.
  docs.unlinked = await createDoctor('Hélène', 'Dubois');
  // A doctor with two linked patients, for the other direction.
  doctor2 = await createDoctor('Dora', 'Docteur');
  await link(patient, doctor2);
  docs.other = await createPatient('Hélène', 'Aubert');
  await link(docs.other, doctor2);
  lonely = await createPatient('Solo', 'Seul');
});
setUp();

const search = async (qs, user = patient) => {
  const res = await get(`/search-users?${qs}`, tokenFor(user));
  const body = assertOk(res);
  assert.deepEqual(Object.keys(body), ['users']);
  for (const u of body.users) assertUser(u);
  return body.users;
};
const enc = encodeURIComponent;

describe('GET /search-users', () => {
  test('"helene" finds "Hélène" and "Helene", linked only, ordered by last name', async () => {
    const users = await search(`q=${enc('helene')}`);
    assert.deepEqual(users, [view(docs.heleneDubois), view(docs.heleneMartin)]);
  });
  test('"DUBOIS" finds "Dubois" ignoring case, ordered by last name, first name, id', async () => {
    const users = await search(`q=${enc('DUBOIS')}`);
    assert.deepEqual(users.map((u) => u.id),
      [docs.heleneDubois.id, docs.jeanDubois1.id, docs.jeanDubois2.id, docs.zoeDL.id]);
    assert.ok(docs.jeanDubois1.id < docs.jeanDubois2.id);
  });
  test('"hélène dub" matches "first last"', async () => {
    assert.deepEqual(await search(`q=${enc('hélène dub')}`), [view(docs.heleneDubois)]);
    assert.deepEqual(await search(`q=${enc('HELENE DUBOIS')}`), [view(docs.heleneDubois)]);
    assert.deepEqual(await search(`q=${enc('jean dubois')}`), [view(docs.jeanDubois1), view(docs.jeanDubois2)]);
  });
  test('accents and case on either side: "lène", "LEFEVRE", "françois", "nguyen", "andre berard"', async () => {
    assert.deepEqual(await search(`q=${enc('lène')}`), [view(docs.heleneDubois), view(docs.heleneMartin)]);
    assert.deepEqual(await search(`q=${enc('LEFEVRE')}`), [view(docs.zoeDL)]);
    assert.deepEqual(await search(`q=${enc('zoe')}`), [view(docs.zoeDL)]);
    assert.deepEqual(await search(`q=${enc('francois')}`), [view(docs.francois)]);
    assert.deepEqual(await search(`q=${enc('nguyen')}`), [view(docs.francois)]);
    assert.deepEqual(await search(`q=${enc('andre berard')}`), [view(docs.andre)]);
    assert.deepEqual(await search(`q=${enc('André Bérard')}`), [view(docs.andre)]);
  });
  test('a substring of the last name', async () => {
    assert.deepEqual((await search('q=bois')).map((u) => u.id),
      [docs.heleneDubois.id, docs.jeanDubois1.id, docs.jeanDubois2.id, docs.zoeDL.id]);
  });
  test('q is trimmed', async () => {
    assert.deepEqual(await search(`q=${enc('  martin  ')}`), [view(docs.heleneMartin)]);
  });
  test('no match gives an empty list; % and _ are literal', async () => {
    assert.deepEqual(await search('q=xyzzy'), []);
    assert.deepEqual(await search(`q=${enc('%')}`), []);
    assert.deepEqual(await search(`q=${enc('_')}`), []);
    assert.deepEqual(await search(`q=${enc("'; --")}`), []);
  });
  test('a doctor finds their linked patients only', async () => {
    assert.deepEqual(await search('q=helene', doctor2), [view(docs.other)]);
    assert.deepEqual(await search('q=paul', doctor2), [view(patient)]);
    assert.deepEqual(await search('q=a', lonely), []);
  });
  test('a user not linked to anyone finds nobody, even by exact name', async () => {
    assert.deepEqual(await search(`q=${enc('Hélène Dubois')}`, lonely), []);
    assert.deepEqual(await search(`q=${enc('Hélène Dubois')}`, docs.unlinked), []);
  });
  test('limit: 1..50, default 20', async () => {
    assert.deepEqual((await search('q=dubois&limit=1')).map((u) => u.id), [docs.heleneDubois.id]);
    assert.deepEqual((await search('q=dubois&limit=3')).map((u) => u.id),
      [docs.heleneDubois.id, docs.jeanDubois1.id, docs.jeanDubois2.id]);
    assert.equal((await search('q=e&limit=50')).length, 8);
    const tok = tokenFor(patient);
    for (const qs of ['limit=0', 'limit=51', 'limit=-1', 'limit=abc', 'limit=1.5']) {
      assertError(await get(`/search-users?q=dubois&${qs}`, tok), 400, 'invalid_request');
    }
  });
  test('the default limit is 20', async () => {
    const d = await createDoctor('Vingt', 'Patients');
    for (let i = 0; i < 22; i++) await link(await createPatient('Pat', `Vingt${String(i).padStart(2, '0')}`), d);
    const users = await search('q=vingt', d);
    assert.equal(users.length, 20);
    assert.deepEqual(users.map((u) => u.lastName), Array.from({ length: 20 }, (_, i) => `Vingt${String(i).padStart(2, '0')}`));
    assert.equal((await search('q=vingt&limit=50', d)).length, 22);
  });
  test('q missing, empty, blank or longer than 100 characters -> 400', async () => {
    const tok = tokenFor(patient);
    for (const qs of ['', 'q=', `q=${enc('   ')}`, `q=${enc('\u00a0\u3000')}`, `q=${'a'.repeat(101)}`, `q=${enc('é'.repeat(101))}`,
      'limit=5']) {
      assertError(await get(`/search-users?${qs}`, tok), 400, 'invalid_request');
    }
  });
  test('100 characters (multi-byte ones included) are accepted', async () => {
    assert.deepEqual(await search(`q=${'a'.repeat(100)}`), []);
    assert.deepEqual(await search(`q=${enc('é'.repeat(100))}`), []);
    assert.deepEqual(await search(`q=${enc(`  ${'b'.repeat(100)}  `)}`), []);
  });
});

describe('GET /available-users', () => {
  const avail = async (user) => {
    const body = assertOk(await get('/available-users', tokenFor(user)));
    assert.deepEqual(Object.keys(body), ['users']);
    for (const u of body.users) {
      assert.deepEqual(Object.keys(u).sort(), ['conversationId', 'firstName', 'id', 'lastName', 'lastSeenAt', 'online', 'role']);
      assert.ok(u.conversationId === null || Number.isInteger(u.conversationId));
    }
    return body.users;
  };

  test('every linked user, ordered by last name, first name, id, with conversationId null when none', async () => {
    const users = await avail(patient);
    const expected = [docs.andre, doctor2, docs.heleneDubois, docs.jeanDubois1, docs.jeanDubois2,
      docs.zoeDL, docs.heleneMartin, docs.francois];
    // Bérard < Docteur < Dubois (Hélène, Jean, Jean) < Dubois-Lefèvre < Martin < Nguyễn
    assert.deepEqual(users, expected.map((u) => ({ ...view(u), online: false, lastSeenAt: null, conversationId: null })));
  });
  test('conversationId once a conversation exists', async () => {
    const c1 = assertOk(await post('/conversations', tokenFor(patient), { participantId: docs.heleneMartin.id }), 201).conversation.id;
    const c2 = assertOk(await post('/conversations', tokenFor(docs.andre), { participantId: patient.id }), 201).conversation.id;
    const users = await avail(patient);
    const byId = Object.fromEntries(users.map((u) => [u.id, u.conversationId]));
    assert.equal(byId[docs.heleneMartin.id], c1);
    assert.equal(byId[docs.andre.id], c2);
    assert.equal(byId[docs.heleneDubois.id], null);
    assert.equal(users.filter((u) => u.conversationId !== null).length, 2);
    // From the doctor's side.
    const fromDoctor = await avail(docs.heleneMartin);
    assert.deepEqual(fromDoctor, [{ ...view(patient), online: false, lastSeenAt: null, conversationId: c1 }]);
  });
  test('a doctor sees their patients; an unlinked user sees nobody', async () => {
    const users = await avail(doctor2);
    assert.deepEqual(users, [{ ...view(docs.other), online: false, lastSeenAt: null, conversationId: null }, { ...view(patient), online: false, lastSeenAt: null, conversationId: null }]);
    assert.deepEqual(await avail(lonely), []);
  });
});
