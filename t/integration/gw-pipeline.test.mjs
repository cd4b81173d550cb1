// The delivery pipeline (docs/events.md, "Group commit"): the writes a
// gateway receives in one loop turn commit together, each with its own
// answer; a socket's writes keep their order under load; a bell names its
// conversations, so a gateway holding thousands of rooms reads only those
// that rang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import {
  createConversation, createDoctor, createPatient, link, pairWithConversation, q, tag, setUp,
} from '../lib/fixtures.mjs';
import { QUIET_MS, WS_URL, WS_URL2, assertAckError, connect, connectJoined, metrics, sleep } from '../lib/sio.mjs';

setUp();

const metric = async (url, name) => {
  const m = await metrics(url);
  return (m.samples.get(name) || []).reduce((a, s) => a + s.value, 0);
};

/** Every message of conversation `conv`: [id, content, number of events referencing it]. */
async function storedWithEvents(conv) {
  const { rows } = await q(
    `SELECT m.id, m.content, (SELECT count(*) FROM messaging.events e WHERE e.message_id = m.id) AS events
       FROM messages m WHERE m.conversation_id = $1 ORDER BY m.id`, [conv]);
  return rows.map((r) => [Number(r.id), r.content, Number(r.events)]);
}

test('one loop turn of mixed writes: each its own answer, refusals store nothing, neighbours unaffected', async () => {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const other = await createDoctor('Autre', 'Médecin');
  await link(patient, other);
  const closed = await createConversation(patient, other, 'closed');
  const stranger = await pairWithConversation(); // the patient is not in it
  const sender = await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket', label: 'sender' });
  const reader = await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'reader gw2' });
  const commits0 = await metric(WS_URL, 'messaging_db_group_commit_writes_total');
  const k = `k-${tag()}`;
  const ops = [
    [{ conversationId: conv, content: 'a1' }, 'ok'],
    [{ conversationId: conv, content: ' \u00a0 ' }, 'invalid_request'],
    [{ conversationId: conv, content: 'a2', clientId: k }, 'ok'],
    [{ conversationId: stranger.conversationId, content: 'intrus' }, 'not_found'],
    [{ conversationId: conv, content: 'a3' }, 'ok'],
    [{ conversationId: closed, content: 'fermée' }, 'conflict'],
    [{ conversationId: conv, content: 'a2 bis', clientId: k }, 'dup'],
    [{ conversationId: conv, content: 'a4' }, 'ok'],
    [{ conversationId: conv, content: 'x'.repeat(10001) }, 'invalid_request'],
    [{ conversationId: conv, content: 'a5' }, 'ok'],
  ];
  try {
    // Emitted together: they reach the gateway in one burst.
    const acks = await Promise.all(ops.map(([data]) => sender.request('send_message', data)));
    const ids = [];
    for (let i = 0; i < ops.length; i++) {
      const [data, want] = ops[i];
      if (want === 'ok') {
        assert.equal(acks[i].ok, true, `${i}: ${JSON.stringify(acks[i])}`);
        assert.equal(acks[i].message.content, data.content);
        ids.push(acks[i].message.id);
      } else if (want === 'dup') {
        assert.equal(acks[i].ok, true, JSON.stringify(acks[i]));
        assert.equal(acks[i].message.content, 'a2', 'a repeated clientId answers the first message');
        assert.equal(acks[i].message.id, acks[2].message.id);
      } else {
        assertAckError(acks[i], want);
      }
    }
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids follow the order sent');
    assert.deepEqual(await storedWithEvents(conv), ids.map((id, i) => [id, `a${i + 1}`, 1]),
      'the accepted writes stored once each, with one event each');
    assert.deepEqual(await storedWithEvents(closed), []);
    assert.deepEqual((await storedWithEvents(stranger.conversationId)).length, 0);
    for (const c of [sender, reader]) {
      for (const id of ids) await c.waitFor('new_message', (d) => d.message.id === id);
    }
    await sleep(QUIET_MS);
    for (const c of [sender, reader]) {
      assert.deepEqual(c.all('new_message').map((d) => d.message.id), ids, `${c.label}: each once, in order`);
    }
    const commits1 = await metric(WS_URL, 'messaging_db_group_commit_writes_total');
    assert.ok(commits1 - commits0 >= 2, `writes of one burst were committed together (${commits1 - commits0})`);
  } finally {
    sender.close();
    reader.close();
  }
});

test('order per socket under load: every socket\'s writes commit in the order it sent them', { timeout: 60000 }, async () => {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const N = 60;
  const writers = [
    await connectJoined(WS_URL, tokenFor(patient), conv, { transport: 'websocket', label: 'p gw1' }),
    await connectJoined(WS_URL2, tokenFor(patient), conv, { transport: 'polling', label: 'p gw2' }),
    await connectJoined(WS_URL, tokenFor(doctor), conv, { transport: 'default', label: 'd gw1' }),
    await connectJoined(WS_URL2, tokenFor(doctor), conv, { transport: 'websocket', label: 'd gw2' }),
  ];
  const watcher = await connectJoined(WS_URL, tokenFor(doctor), conv, { transport: 'websocket', label: 'watcher' });
  try {
    const all = [];
    const perWriter = await Promise.all(writers.map(async (w, k) => {
      const got = [];
      // In waves of 24: under the gateway's per-socket in-flight cap.
      for (let base = 0; base < N; base += 24) {
        const wave = Array.from({ length: Math.min(24, N - base) }, (_, j) => w.request('send_message',
          { conversationId: conv, content: `w${k}-${base + j}`, clientId: `w${k}-${base + j}-${tag()}` }));
        for (const a of await Promise.all(wave)) {
          assert.equal(a.ok, true, JSON.stringify(a));
          got.push(a.message.id);
        }
      }
      return got;
    }));
    perWriter.forEach((ids, k) => {
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), `writer ${k}: ids follow its sending order`);
      all.push(...ids);
    });
    const sorted = [...all].sort((a, b) => a - b);
    await watcher.waitCount('new_message', all.length, () => true, 20000);
    await sleep(QUIET_MS);
    assert.deepEqual(watcher.all('new_message').map((d) => d.message.id), sorted, 'every message once, in id order');
    const stored = await storedWithEvents(conv);
    assert.equal(stored.length, all.length);
    assert.ok(stored.every(([, , events]) => events === 1), 'one event per message');
  } finally {
    for (const c of [...writers, watcher]) c.close();
  }
});

test('thousands of rooms held on two gateways: REST and socket writers, only the conversations that rang are read', { timeout: 120000 }, async () => {
  const ROOMS = 1500;
  const doctor = await createDoctor('Beaucoup', 'Salles');
  // Patients, links and conversations in three statements.
  const { rows } = await q(
    `WITH p AS (INSERT INTO users (role, first_name, last_name, email)
                SELECT 'patient', 'P' || i, 'Salles', 'rooms-' || $2 || '-' || i || '@example.test'
                  FROM generate_series(1, $1::int) i RETURNING id),
          l AS (INSERT INTO patient_doctor (patient_id, doctor_id) SELECT id, $3 FROM p RETURNING patient_id)
     INSERT INTO conversations (patient_id, doctor_id, status) SELECT patient_id, $3, 'active' FROM l
     RETURNING id, patient_id`, [ROOMS, tag(), doctor.id]);
  const convs = rows.map((r) => ({ id: Number(r.id), patient: { id: Number(r.patient_id), role: 'patient' } }));
  const d1 = await connect(WS_URL, tokenFor(doctor), { transport: 'websocket', label: 'doctor gw1' });
  const d2 = await connect(WS_URL2, tokenFor(doctor), { transport: 'websocket', label: 'doctor gw2' });
  try {
    for (const d of [d1, d2]) {
      for (let i = 0; i < convs.length; i += 25) {
        const batch = convs.slice(i, i + 25);
        const acks = await Promise.all(batch.map((c) => d.request('join_room', { conversationId: c.id })));
        // Past the join burst (API.md section 8): what was refused again, one
        // at a time after retryAfterMs, as a client within its limit does.
        for (let k = 0; k < acks.length; k++) {
          if (acks[k] && acks[k].error && acks[k].error.code === 'rate_limited') {
            acks[k] = await d.requestPaced('join_room', { conversationId: batch[k].id });
          }
        }
        for (const a of acks) assert.equal(a.ok, true, JSON.stringify(a));
      }
    }
    const read0 = [await metric(WS_URL, 'messaging_catchup_rooms_total'), await metric(WS_URL2, 'messaging_catchup_rooms_total')];
    // 20 messages through REST, 20 through a patient's socket on gateway 1, in 10 conversations.
    const busy = convs.slice(0, 10);
    const p1 = await connectJoined(WS_URL, tokenFor(busy[0].patient), busy[0].id, { transport: 'websocket' });
    const sent = [];
    for (let i = 0; i < 20; i++) {
      const c = busy[i % 10];
      const r = await post(`/conversations/${c.id}/messages`, tokenFor(c.patient), { content: `rest ${i}` });
      assert.equal(r.status, 201, r.text);
      sent.push(r.json.message.id);
      const a = await p1.request('send_message', { conversationId: busy[0].id, content: `socket ${i}` });
      assert.equal(a.ok, true, JSON.stringify(a));
      sent.push(a.message.id);
    }
    for (const d of [d1, d2]) {
      await d.waitCount('new_message', sent.length, () => true, 10000);
      assert.deepEqual(d.all('new_message').map((x) => x.message.id).sort((a, b) => a - b), [...sent].sort((a, b) => a - b),
        `${d.label}: every message once`);
    }
    const read1 = [await metric(WS_URL, 'messaging_catchup_rooms_total'), await metric(WS_URL2, 'messaging_catchup_rooms_total')];
    // A doorbell that named nothing would read all 1,500 rooms per ring.
    for (let g = 0; g < 2; g++) {
      assert.ok(read1[g] - read0[g] <= 4 * sent.length, `gateway ${g + 1} read ${read1[g] - read0[g]} rooms for ${sent.length} messages`);
    }
    p1.close();
  } finally {
    d1.close();
    d2.close();
  }
});
