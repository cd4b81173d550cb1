// PostgreSQL killed (immediate shutdown, as a crash) in the middle of the
// gateway's group commits: every write that was acknowledged is stored
// once and delivered once; nothing is half-stored (a message without its
// event); what was refused can be sent again with its clientId; the
// gateway serves again by itself once the database is back. Named gw-zy-
// so that it runs after the other gateway files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from '../lib/jwt.mjs';
import { pairWithConversation, pgctl, q, setUp, tag } from '../lib/fixtures.mjs';
import { QUIET_MS, WS_URL, WS_URL2, connectJoined, health, sleep } from '../lib/sio.mjs';

setUp();

async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    try {
      if (await fn()) return;
    } catch { /* not yet */ }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

test('database killed during group commits: acked = stored once and delivered once, none half-stored, served again', { timeout: 120000 }, async () => {
  const { patient, doctor, conversationId: conv } = await pairWithConversation();
  const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
  const sender = await connectJoined(WS_URL, tokenFor(patient), conv, { ...opts, transport: 'websocket', label: 'sender' });
  const watcher = await connectJoined(WS_URL2, tokenFor(doctor), conv, { ...opts, transport: 'websocket', label: 'watcher gw2' });
  const N = 120;
  const key = (i) => `kill-${tag()}-${i}`;
  // Sends in flight in waves, the database killed while they go.
  const acks = new Array(N);
  const sending = (async () => {
    for (let base = 0; base < N; base += 20) {
      const wave = Array.from({ length: Math.min(20, N - base) }, (_, j) => base + j);
      const send = (i) => sender.requestWithin(20000, 'send_message',
        { conversationId: conv, content: `m${i}`, clientId: key(i) }).catch((e) => ({ timeout: String(e) }));
      const got = await Promise.all(wave.map(send));
      // Past the send burst (API.md section 8): what was refused again, one
      // at a time after retryAfterMs, as a client within its limit does.
      for (let j = 0; j < got.length; j++) {
        while (got[j] && got[j].error && got[j].error.code === 'rate_limited') {
          await sleep(got[j].error.retryAfterMs);
          got[j] = await send(wave[j]);
        }
      }
      wave.forEach((i, j) => { acks[i] = got[j]; });
    }
  })();
  await sleep(40);
  await pgctl('kill');
  await sending;
  await pgctl('start');
  await until('gateways healthy again', async () => (await health(WS_URL)).status === 200 && (await health(WS_URL2)).status === 200);

  const refused = [];
  for (let i = 0; i < N; i++) {
    const a = acks[i];
    if (a && a.ok === true) continue;
    // Refused: the database was away, or the socket went over its rate (API.md section 8).
    assert.ok(a && a.ok === false && a.error && ['unavailable', 'rate_limited'].includes(a.error.code), `${i}: ${JSON.stringify(a)}`);
    refused.push(i);
  }
  // Nothing half-stored: each message has its event.
  const { rows: half } = await q(
    `SELECT m.id FROM messages m WHERE m.conversation_id = $1
        AND NOT EXISTS (SELECT 1 FROM messaging.events e WHERE e.message_id = m.id)`, [conv]);
  assert.deepEqual(half, [], 'a message without its event');
  // Every acknowledged write is stored once.
  const { rows } = await q('SELECT client_id, id FROM messages WHERE conversation_id = $1', [conv]);
  const stored = new Map(rows.map((r) => [r.client_id, Number(r.id)]));
  assert.equal(stored.size, rows.length, 'a clientId stored twice');
  for (let i = 0; i < N; i++) {
    if (acks[i].ok) assert.equal(stored.get(key(i)), acks[i].message.id, `acked m${i} is stored`);
  }
  // What was refused goes again, with its clientId: stored (once) now.
  await until('sender reconnected', () => sender.connected);
  for (const i of refused) {
    let a;
    await until(`m${i} accepted again`, async () => {
      a = await sender.requestPaced('send_message', { conversationId: conv, content: `m${i}`, clientId: key(i) });
      return a.ok === true;
    });
    assert.ok([undefined, a.message.id].includes(stored.get(key(i))), 'a retry answers the stored message');
  }
  const { rows: after } = await q('SELECT id FROM messages WHERE conversation_id = $1 ORDER BY id', [conv]);
  assert.equal(after.length, N, 'every message stored once in the end');
  const ids = after.map((r) => Number(r.id));
  // Delivered once each, in order, to the socket that stayed (or recovered) on the other gateway.
  await watcher.waitCount('new_message', N, () => true, 20000);
  await sleep(QUIET_MS);
  const seen = watcher.all('new_message').map((d) => d.message.id);
  assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), ids, 'every message reached the watcher');
  assert.equal(seen.length, new Set(seen).size, 'a message delivered twice');
  sender.close();
  watcher.close();
});
