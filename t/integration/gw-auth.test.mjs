// Gateway: authentication at the Socket.IO CONNECT (API.md sections 1 and 5),
// connection_established, other namespaces, several sockets per user, and
// the monitoring endpoints (/stats, /metrics, /health). Every transport
// setting (default, WebSocket only, polling only), each gateway instance
// directly and through nginx.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { claims, now, sign, tokenFor, unsigned } from '../lib/jwt.mjs';
import { createPatient, MAX_ID, pairWithConversation, setUp } from '../lib/fixtures.mjs';
import {
  Client, ENDPOINTS, QUIET_MS, TRANSPORT_NAMES, connect, health, metrics, sleep, stats, statsUntil, WS_URL, WS_URL2,
} from '../lib/sio.mjs';

let patient; let doctor; let conv;
setUp({ pair: (p) => ({ patient, doctor, conversationId: conv } = p) });

/** Opens a client that must be refused; returns the connect_error message after checking nothing else came. */
async function refusedWith(url, opts) {
  const c = new Client(url, opts);
  try {
    const err = await c.refused();
    assert.ok(err instanceof Error);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0, 'empty connect_error message');
    // Nothing else reaches a refused client.
    await sleep(150);
    assert.equal(c.connected, false);
    assert.deepEqual(c.events.map((e) => e.name), [], 'events after a refused CONNECT');
    return err.message;
  } finally {
    c.close();
  }
}

describe('refused connections', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: no token, bad signature, expired, alg none, unknown user, role mismatch`, async () => {
      const t = now();
      const cases = [
        ['no auth at all', {}, 'Authentication required'],
        ['empty token', { auth: { token: '' } }, 'Authentication required'],
        ['not a JWT', { token: 'not-a-token' }, 'Invalid token'],
        ['bad signature', { token: sign(claims(patient.id, 'patient'), { key: 'another-secret-another-secret-xx' }) }, 'Invalid token'],
        ['expired', { token: sign(claims(patient.id, 'patient', { iat: t - 3600, exp: t - 60 })) }, 'Token expired'],
        ['alg none', { token: unsigned(claims(patient.id, 'patient')) }, 'Invalid token'],
        ['alg HS384', { token: sign(claims(patient.id, 'patient'), { alg: 'HS384' }) }, 'Invalid token'],
        ['unknown user', { token: sign(claims(MAX_ID, 'patient')) }, 'Unknown user'],
        ['role mismatch', { token: sign(claims(patient.id, 'medecin')) }, null],
        ['no exp', { token: sign(claims(patient.id, 'patient', { exp: undefined })) }, null],
        ['nbf in the future', { token: sign(claims(patient.id, 'patient', { nbf: t + 3600 })) }, null],
        ['sub not a positive integer', { token: sign(claims('abc', 'patient')) }, null],
      ];
      for (const [what, opts, message] of cases) {
        const got = await refusedWith(WS_URL, { transport, label: `${transport} ${what}`, ...opts });
        if (message) assert.equal(got, message, `${transport}, ${what}`);
        else assert.doesNotMatch(got, /^(ok|success)/i, `${transport}, ${what}: ${got}`);
      }
    });
  }

  test('refusals through nginx and on the second instance', async () => {
    for (const [where, url] of Object.entries(ENDPOINTS)) {
      assert.equal(await refusedWith(url, { label: `${where} no token` }), 'Authentication required', where);
      assert.equal(await refusedWith(url, { label: `${where} expired`, token: sign(claims(doctor.id, 'medecin', { exp: now() - 5 })) }),
        'Token expired', where);
    }
  });

  test('a bad token in the Authorization header is refused (polling and websocket)', async () => {
    for (const transport of ['polling', 'websocket']) {
      const got = await refusedWith(WS_URL, { transport, headers: { Authorization: 'Bearer not.a.token' } });
      assert.equal(got, 'Invalid token', transport);
    }
  });

  test('another namespace: connect_error "Invalid namespace"', async () => {
    for (const transport of ['websocket', 'polling']) {
      const got = await refusedWith(`${WS_URL}/admin`, { transport, token: tokenFor(patient) });
      assert.equal(got, 'Invalid namespace', transport);
    }
  });
});

describe('accepted connections', () => {
  for (const transport of TRANSPORT_NAMES) {
    test(`${transport}: connection_established {userId, userRole} on both instances and through nginx`, async () => {
      for (const [where, url] of Object.entries(ENDPOINTS)) {
        for (const user of [patient, doctor]) {
          const c = await connect(url, tokenFor(user), { transport, label: `${transport} ${where} ${user.role}` });
          try {
            const data = await c.waitFor('connection_established');
            assert.deepEqual(data, { userId: user.id, userRole: user.role }, `${where} ${transport}`);
            if (transport !== 'default') assert.equal(c.socket.io.engine.transport.name, transport);
            await sleep(50);
            assert.equal(c.all('connection_established').length, 1, 'connection_established once');
          } finally {
            c.close();
          }
        }
      }
    });
  }

  test('default transports end up on WebSocket (upgrade), directly and through nginx', async () => {
    for (const url of [WS_URL, ENDPOINTS.nginx]) {
      const c = await connect(url, tokenFor(patient));
      try {
        const t0 = Date.now();
        while (c.socket.io.engine.transport.name !== 'websocket' && Date.now() - t0 < 3000) await sleep(20);
        assert.equal(c.socket.io.engine.transport.name, 'websocket', url);
        // Still usable after the upgrade.
        await c.join(conv);
      } finally {
        c.close();
      }
    }
  });

  test('token in the Authorization header of the handshake (polling and websocket)', async () => {
    for (const transport of ['polling', 'websocket']) {
      for (const url of [WS_URL, ENDPOINTS.nginx]) {
        const c = await connect(url, undefined, { transport, headers: { Authorization: `Bearer ${tokenFor(doctor)}` } });
        try {
          assert.deepEqual(await c.waitFor('connection_established'), { userId: doctor.id, userRole: 'medecin' });
          await c.join(conv);
        } finally {
          c.close();
        }
      }
    }
  });

  test('user id from sub as a number, from userId, from id; token without a role claim', async () => {
    const t = now();
    const tokens = [
      sign({ sub: patient.id, role: 'patient', iat: t, exp: t + 600 }),
      sign({ userId: String(patient.id), iat: t, exp: t + 600 }),
      sign({ id: patient.id, iat: t, exp: t + 600 }),
    ];
    for (const token of tokens) {
      const c = await connect(WS_URL, token, { transport: 'websocket' });
      try {
        assert.deepEqual(await c.waitFor('connection_established'), { userId: patient.id, userRole: 'patient' });
      } finally {
        c.close();
      }
    }
  });
});

describe('monitoring', () => {
  test('/health is 200 on both instances', async () => {
    for (const url of [WS_URL, WS_URL2]) {
      const h = await health(url);
      assert.equal(h.status, 200, `${url}/health: ${h.text}`);
    }
  });

  test('/stats: several sockets of one user (multipleConnections, connectionDetails), rooms', async () => {
    const user = await createPatient('Multi', 'Sockets');
    const tok = tokenFor(user);
    const s0 = await stats(WS_URL);
    assert.equal(s0.connectionDetails[user.id], undefined);
    const clients = [];
    try {
      for (const transport of TRANSPORT_NAMES) clients.push(await connect(WS_URL, tok, { transport }));
      const s1 = await statsUntil(WS_URL, (s) => s.connectionDetails[user.id] === 3, 2000, 'three connections of one user');
      assert.ok(s1.connections >= 3, JSON.stringify(s1));
      assert.ok(s1.users >= 1);
      assert.ok(s1.multipleConnections >= 1);
      // A fourth on the other instance is counted there, not here.
      clients.push(await connect(WS_URL2, tok, { transport: 'websocket' }));
      const s2 = await stats(WS_URL2);
      assert.equal(s2.connectionDetails[user.id], undefined, 'one connection on the second instance: not listed');
      assert.ok(s2.connections >= 1);
      assert.equal((await stats(WS_URL)).connectionDetails[user.id], 3);
      // Closing two: one left, no longer listed.
      clients[0].close();
      clients[1].close();
      await statsUntil(WS_URL, (s) => s.connectionDetails[user.id] === undefined, 2000, 'the user listed no more');
    } finally {
      for (const c of clients) c.close();
    }
  });

  test('/stats rooms: created on first join, removed when empty', async () => {
    const { patient: p, doctor: d, conversationId } = await pairWithConversation();
    // Rooms of sockets closed by earlier tests may still be going away: wait until stable.
    let base = (await stats(WS_URL)).rooms;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      const r = (await stats(WS_URL)).rooms;
      if (r === base) break;
      base = r;
    }
    const a = await connect(WS_URL, tokenFor(p), { transport: 'websocket' });
    const b = await connect(WS_URL, tokenFor(d), { transport: 'polling' });
    try {
      await a.join(conversationId);
      await statsUntil(WS_URL, (s) => s.rooms === base + 1, 2000, `rooms = ${base + 1}`);
      await b.join(conversationId);
      assert.equal((await stats(WS_URL)).rooms, base + 1, 'a second socket in the same room');
      const ack = await a.request('leave_room', { conversationId });
      assert.deepEqual(ack, { ok: true, conversationId });
      assert.equal((await stats(WS_URL)).rooms, base + 1, 'still one socket in it');
      b.close(); // a disconnect empties it too
      await statsUntil(WS_URL, (s) => s.rooms === base, 2000, `rooms back to ${base}`);
    } finally {
      a.close();
      b.close();
    }
  });

  test('/metrics: Prometheus text with connections and events in/out', async () => {
    const c = await connect(WS_URL, tokenFor(patient), { transport: 'websocket' });
    try {
      await c.join(conv);
      for (const url of [WS_URL, WS_URL2]) {
        const m = await metrics(url);
        assert.equal(m.status, 200, `${url}/metrics`);
        assert.match(m.contentType || '', /^text\/plain/, `${url}/metrics content type ${m.contentType}`);
        for (const name of ['messaging_connections', 'messaging_events_in_total', 'messaging_events_out_total']) {
          assert.ok(m.samples.has(name), `${url}/metrics has no ${name}: ${m.text.slice(0, 600)}`);
          for (const s of m.samples.get(name)) assert.ok(Number.isFinite(s.value) && s.value >= 0, `${name}${s.labels} ${s.value}`);
        }
      }
      const m1 = await metrics(WS_URL);
      assert.ok(m1.samples.get('messaging_connections')[0].value >= 1, 'messaging_connections counts this socket');
      const joins = m1.samples.get('messaging_events_in_total').filter((s) => /join_room/.test(s.labels));
      assert.ok(joins.length > 0 && joins[0].value >= 1, `events_in by name has join_room: ${JSON.stringify(joins)}`);
    } finally {
      c.close();
    }
  });
});

test('a refused client gets nothing and does not count as a connection', async () => {
  const before_ = await stats(WS_URL);
  const c = new Client(WS_URL, { token: 'x.y.z', transport: 'websocket' });
  try {
    await c.refused();
    await sleep(QUIET_MS);
    assert.deepEqual(c.events, []);
    const s = await stats(WS_URL);
    assert.ok(s.connections <= before_.connections, `connections ${before_.connections} -> ${s.connections}`);
  } finally {
    c.close();
  }
});
