// Presence across gateway instances (API.md section 9, sql/043_presence.sql):
// online within 1 s of the first socket's CONNECT, offline within
// presence_grace_s + 1 s of the last close, to the rooms of the user's
// conversations on every instance; one presence for the other participant
// right after room_joined; participant.online/lastSeenAt over REST; nobody
// outside the conversation hears of it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from '../lib/http.mjs';
import { assertOk, ISO_MS } from '../lib/shapes.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { connect, connectJoined, QUIET_MS, sleep, WS_URL, WS_URL2 } from '../lib/sio.mjs';

setUp();

const GRACE_MS = 5000;

describe('presence', () => {
  test('offline, online, offline after the grace, on both instances; REST shows it', { timeout: 30000 }, async () => {
    const { patient, doctor, conversationId: conv } = await pairWithConversation();
    const other = await pairWithConversation();
    const isPatient = (online) => (d) => d && d.userId === patient.id && d.online === online;
    // The doctor joins while the patient never connected: offline, null.
    const d1 = await connect(WS_URL2, tokenFor(doctor));
    const mark = d1.mark();
    await d1.join(conv);
    const first = d1.since(mark).map((e) => e.name);
    assert.deepEqual(first.slice(first.indexOf('room_joined'), first.indexOf('room_joined') + 2), ['room_joined', 'presence']);
    assert.deepEqual(d1.since(mark, 'presence')[0].data, { userId: patient.id, online: false, lastSeenAt: null });
    const d2 = await connectJoined(WS_URL, tokenFor(doctor), [conv]);
    const outsider = await connectJoined(WS_URL, tokenFor(other.doctor), [other.conversationId]);

    // The patient connects on the first instance: online, everywhere, within 1 s.
    const t0 = Date.now();
    const p = await connect(WS_URL, tokenFor(patient));
    for (const c of [d1, d2]) assert.deepEqual(await c.waitFor('presence', isPatient(true), 1500), { userId: patient.id, online: true, lastSeenAt: null });
    assert.ok(Date.now() - t0 < 1500);
    let c = assertOk(await get(`/conversations/${conv}`, tokenFor(doctor))).conversation;
    assert.deepEqual([c.participant.online, c.participant.lastSeenAt], [true, null]);
    const users = assertOk(await get('/available-users', tokenFor(doctor))).users;
    assert.deepEqual(users.filter((u) => u.id === patient.id).map((u) => [u.online, u.lastSeenAt]), [[true, null]]);
    // Joining now: the presence that follows room_joined says online.
    const d3 = await connect(WS_URL2, tokenFor(doctor));
    const m3 = d3.mark();
    await d3.join(conv);
    assert.deepEqual(d3.since(m3, 'presence')[0].data, { userId: patient.id, online: true, lastSeenAt: null });

    // Another socket of the patient on the same instance: nothing written
    // (one row per user and instance, counting 1), nor when it closes.
    const rows = async () => (await q(
      'SELECT sockets, closed_at IS NULL AS open FROM messaging.presence_sockets WHERE user_id = $1', [patient.id])).rows;
    assert.deepEqual(await rows(), [{ sockets: 1, open: true }]);
    const p1b = await connect(WS_URL, tokenFor(patient));
    await sleep(QUIET_MS);
    assert.deepEqual(await rows(), [{ sockets: 1, open: true }], 'a second socket on the instance writes nothing');
    p1b.close();
    await sleep(QUIET_MS);
    assert.deepEqual(await rows(), [{ sockets: 1, open: true }], 'nor does its close while the first stays');

    // A second socket of the patient closes: still online (another is there).
    const p2 = await connect(WS_URL2, tokenFor(patient));
    p2.close();
    // The last one closes: offline after the grace, within grace + 1 s.
    const closedAt = Date.now();
    p.close();
    for (const cl of [d1, d2]) {
      const off = await cl.waitFor('presence', (d, ev) => isPatient(false)(d) && ev.at >= closedAt, GRACE_MS + 2000);
      assert.ok(ISO_MS.test(off.lastSeenAt), off.lastSeenAt);
      assert.ok(Math.abs(Date.parse(off.lastSeenAt) - closedAt) < 1500, `lastSeenAt ${off.lastSeenAt}`);
    }
    const waited = Date.now() - closedAt;
    assert.ok(waited >= GRACE_MS - 500 && waited < GRACE_MS + 2000, `offline after ${waited} ms`);
    assert.equal(d1.events.filter((e) => e.name === 'presence' && e.data.userId === patient.id && !e.data.online && e.at >= closedAt).length,
      1, 'one offline, no flapping');
    c = assertOk(await get(`/conversations/${conv}`, tokenFor(doctor))).conversation;
    assert.equal(c.participant.online, false);
    assert.ok(ISO_MS.test(c.participant.lastSeenAt));
    await sleep(QUIET_MS);
    assert.deepEqual(outsider.all('presence').filter((x) => x.userId === patient.id), [], 'no presence outside the conversation');
  });
});
