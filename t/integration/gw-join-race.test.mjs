// Gateway: a join without a gap. A socket is told room_joined only once its
// gateway knows where the room starts (the conversation's cursor), and from
// then on misses nothing: joins race against writers (REST and socket),
// each join the first of its room on its gateway, on both instances.
//
// The assertion is exact: for every joined socket, the ids it received are
// exactly every message of the conversation from the first it received on
// (no hole, nothing twice), and every message whose transaction began
// (its sentAt, the database's clock on this same machine) after the socket
// heard room_joined is among them: it committed after room_joined was sent.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, q, setUp } from '../lib/fixtures.mjs';
import { post } from '../lib/http.mjs';
import { connect, DELIVERY_MS, sleep, WS_URL, WS_URL2 } from '../lib/sio.mjs';

const CONVS = 6;
const ROUNDS = 3; // joins per conversation and gateway, each into a room just emptied

let pairs = [];
before(async () => {
  for (let i = 0; i < CONVS; i++) pairs.push(await pairWithConversation());
});
setUp();

test('joins racing writers: every message committed after room_joined arrives', async () => {
  const started = new Map(); // message id -> its sentAt (ms)
  let stop = false;
  const writers = [];
  for (const { patient, doctor, conversationId } of pairs) {
    // REST: the patient, about 40/s.
    writers.push((async () => {
      const token = tokenFor(patient);
      while (!stop) {
        const r = await post(`/conversations/${conversationId}/messages`, token, { content: `rest ${Date.now()}` });
        assert.equal(r.status, 201);
        started.set(r.json.message.id, Date.parse(r.json.message.sentAt));
        await sleep(25);
      }
    })());
    // A socket of the doctor that writes without joining, within its bucket (20/s).
    const w = await connect(WS_URL2, tokenFor(doctor));
    writers.push((async () => {
      while (!stop) {
        const ack = await w.request('send_message', { conversationId, content: `sock ${Date.now()}` });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        started.set(ack.message.id, Date.parse(ack.message.sentAt));
        await sleep(60);
      }
      w.close();
    })());
  }

  // Joiners: for each conversation and gateway, rounds of one socket that
  // joins an empty room, hears some messages, and leaves it (emptying it).
  const episodes = [];
  const joiners = [];
  for (const { patient, conversationId } of pairs) {
    for (const url of [WS_URL, WS_URL2]) {
      joiners.push((async () => {
        const c = await connect(url, tokenFor(patient));
        for (let r = 0; r < ROUNDS; r++) {
          await sleep(Math.floor(Math.random() * 40));
          const mark = c.mark();
          const ack = await c.request('join_room', { conversationId });
          assert.deepEqual(ack, { ok: true, conversationId });
          const joinedEv = c.events.slice(mark).find((e) => e.name === 'room_joined');
          assert.ok(joinedEv, 'room_joined before the ack');
          // Hear a few messages, then leave (the room empties on this gateway).
          await c.waitCount('new_message', 3, (d, e) => c.events.indexOf(e) > mark, 5000);
          const leaveMark = c.mark();
          const left = await c.request('leave_room', { conversationId });
          assert.equal(left.ok, true);
          const end = c.events.slice(leaveMark).findIndex((e) => e.name === 'room_left') + leaveMark;
          const got = c.events.slice(mark, end).filter((e) => e.name === 'new_message').map((e) => e.data.message.id);
          episodes.push({ conversationId, url, joinedAt: joinedEv.at, got });
        }
        c.close();
      })());
    }
  }
  try {
    await Promise.all(joiners);
  } finally {
    stop = true; // the writers end even when a joiner failed
    await Promise.allSettled(writers);
  }
  await Promise.all(writers);

  const all = new Map();
  for (const { conversationId } of pairs) {
    const { rows } = await q('SELECT id FROM messages WHERE conversation_id = $1 ORDER BY id', [conversationId]);
    all.set(conversationId, rows.map((r) => r.id));
  }
  assert.equal(episodes.length, CONVS * 2 * ROUNDS);
  for (const ep of episodes) {
    const ids = all.get(ep.conversationId);
    const label = `${ep.url} conversation ${ep.conversationId}`;
    assert.ok(ep.got.length >= 3, label);
    // In order, nothing twice, no hole from the first received to the last.
    const first = ep.got[0];
    const last = ep.got[ep.got.length - 1];
    const expect = ids.filter((id) => id >= first && id <= last);
    assert.deepEqual(ep.got, expect, `${label}: received ids differ from the stored ones in [${first}, ${last}]`);
    // Everything whose transaction began after room_joined arrived, up to
    // the last one received, is there: nothing committed after it was skipped.
    for (const id of ids) {
      if (id > last) break;
      if (started.get(id) > ep.joinedAt) assert.ok(id >= first, `${label}: message ${id} written after room_joined is missing`);
    }
  }
});
