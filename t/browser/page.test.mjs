// The demo page (web/) in headless Chromium: a patient and their doctor, each
// in a browser context of their own, through nginx as `make run` serves it.
// The tests run in order and share the two pages (a conversation's story).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { get, post } from '../lib/http.mjs';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, createConversation, createDoctor, createPatient, link, q } from '../lib/fixtures.mjs';
import {
  BASE_URL, SHOTS, badge, convItem, launchBrowser, loginWithToken, messageById, newUser, openConversation, shot,
  sleep, stackGatewayPid, startGateway, typeAndSend, waitConnected, waitExit,
} from './lib.mjs';

const HISTORY = 40; // more than one page (30): "load older" has work to do
const UNREAD = 3; // the doctor's last messages, unread by the patient

let browser; let pat; let doc;
let patient; let doctor; let doctor2; let c1; let c2;
let restarted = null;

const messagesIn = async (page) => page.locator('#messages li[data-message-id]').evaluateAll(
  (lis) => lis.map((li) => ({ id: Number(li.dataset.messageId), text: li.querySelector('.content').textContent })));

/** Two screenshots side by side (drawn by the browser itself) into SHOTS/10-demo.png. */
async function composeDemo(desktopPng, phonePng) {
  const u = await newUser(browser, { viewport: { width: 1540, height: 820 }, label: 'composer' });
  try {
    const img = (png, w) => `<img alt="" width="${w}" src="data:image/png;base64,${png.toString('base64')}">`;
    await u.page.setContent(`<body style="margin:0;background:#dfe5ec;display:flex;gap:20px;padding:20px;align-items:flex-start">
      <div style="box-shadow:0 2px 12px #0003">${img(desktopPng, 1100)}</div>
      <div style="box-shadow:0 2px 12px #0003;border-radius:12px;overflow:hidden">${img(phonePng, 390)}</div></body>`);
    await u.page.screenshot({ path: `${SHOTS}/10-demo.png` });
  } finally {
    await u.close();
  }
}

async function restSend(user, cid, content) {
  const res = await post(`/conversations/${cid}/messages`, tokenFor(user), { content });
  assert.equal(res.status, 201, res.text);
  return res.json.message;
}

before(async () => {
  // Names as a person would see them (the e-mails make the users unique).
  patient = await createPatient('Hélène', 'Dubois');
  doctor = await createDoctor('Élise', 'Martin');
  doctor2 = await createDoctor('Jérôme', 'Caron');
  await link(patient, doctor);
  await link(patient, doctor2);
  c1 = await createConversation(patient, doctor);
  c2 = await createConversation(patient, doctor2);
  // A history: alternating senders an hour apart, the doctor's last ones unread.
  await q(`INSERT INTO messages (conversation_id, sender_id, content, sent_at, is_read)
           SELECT $1::int, CASE WHEN i > $4::int - $5::int OR i % 2 = 0 THEN $3::int ELSE $2::int END,
                  'Message d''historique n° ' || i, now() - ($4::int - i) * interval '1 hour', i <= $4::int - $5::int
           FROM generate_series(1, $4::int) AS i`, [c1, patient.id, doctor.id, HISTORY, UNREAD]);
  await q(`UPDATE conversations SET last_message_at = now() - interval '1 minute' WHERE id = $1`, [c1]);
  await q(`UPDATE conversations SET last_message_at = now() - interval '2 days' WHERE id = $1`, [c2]);
  browser = await launchBrowser();
  pat = await newUser(browser, { label: 'patient' });
  doc = await newUser(browser, { label: 'doctor' });
});

after(async () => {
  if (restarted) await restarted.stop().catch(() => {});
  for (const u of [pat, doc]) if (u) await u.close();
  if (browser) await browser.close().catch(() => {});
  await closeDb();
});

test('login: a demo user from demo-tokens.json, or a pasted token', async () => {
  // The list the stack writes at start, served here by the test itself.
  const demo = [
    { id: patient.id, role: 'patient', name: `${patient.firstName} ${patient.lastName}`, token: tokenFor(patient) },
    { id: doctor.id, role: 'medecin', name: `${doctor.firstName} ${doctor.lastName}`, token: tokenFor(doctor) },
  ];
  await pat.page.route('**/demo-tokens.json', (route) => route.fulfill({
    status: 200, contentType: 'application/json', body: JSON.stringify(demo),
  }));
  await pat.page.goto(`${BASE_URL}/`);
  const buttons = pat.page.locator('#demo-users button');
  await buttons.first().waitFor();
  assert.equal(await buttons.count(), 2);
  assert.match(await buttons.first().textContent(), /Hélène Dubois/);
  await shot(pat.page, '01-login');
  await pat.page.locator(`#demo-users button[data-user-id="${patient.id}"]`).click();
  await pat.page.locator('#app').waitFor({ state: 'visible' });
  await waitConnected(pat.page);
  assert.match(await pat.page.locator('#me-name').textContent(), /Hélène Dubois/);

  // No demo-tokens.json: the paste box only.
  await loginWithToken(doc.page, tokenFor(doctor));
  assert.equal(await doc.page.locator('#demo-block').isHidden(), true);
  assert.match(await doc.page.locator('#me-name').textContent(), /médecin/);
  assert.equal(await doc.page.locator('#conn-label').textContent(), 'Connecté');
});

test('conversations: last message, unread badge, newest first', async () => {
  const items = pat.page.locator('#conv-list li');
  await items.first().waitFor();
  assert.deepEqual(await items.evaluateAll((lis) => lis.map((li) => Number(li.dataset.conversationId))), [c1, c2]);
  assert.equal((await badge(pat.page, c1).locator('[aria-hidden="true"]').textContent()).trim(), String(UNREAD));
  assert.match(await badge(pat.page, c1).textContent(), /3 messages non lus/);
  assert.equal(await badge(pat.page, c2).count(), 0);
  assert.match(await convItem(pat.page, c1).locator('.conv-preview').textContent(), new RegExp(`n° ${HISTORY}$`));
  assert.match(await convItem(pat.page, c1).textContent(), /Dr Élise Martin/);
  assert.match(await convItem(pat.page, c2).locator('.conv-preview').textContent(), /Pas encore de message/);
  await shot(pat.page, '02-conversations');
});

test('history with "load older"; opening marks read; the doctor sees the read receipts live', async () => {
  await openConversation(doc.page, c1);
  await doc.page.locator('#messages li[data-message-id]').first().waitFor();
  const docMine = doc.page.locator('#messages li.mine[data-message-id]').last();
  assert.equal(await docMine.locator('.receipt').getAttribute('data-receipt'), 'sent');

  await openConversation(pat.page, c1);
  await pat.page.locator('#messages li[data-message-id]').first().waitFor();
  let shown = await messagesIn(pat.page);
  assert.equal(shown.length, 30);
  assert.equal(shown.at(-1).text, `Message d'historique n° ${HISTORY}`);
  await pat.page.locator('#load-older').click();
  await pat.page.waitForFunction((n) => document.querySelectorAll('#messages li[data-message-id]').length === n, HISTORY);
  shown = await messagesIn(pat.page);
  assert.deepEqual(shown.map((m) => m.text), Array.from({ length: HISTORY }, (_, i) => `Message d'historique n° ${i + 1}`));
  assert.equal(await pat.page.locator('#load-older').isHidden(), true);

  // Opened and visible: read. The badge goes, the doctor's ticks turn to "Lu".
  await badge(pat.page, c1).waitFor({ state: 'detached' });
  await docMine.locator('.receipt[data-receipt="read"]').waitFor({ timeout: 5000 });
  assert.match(await docMine.locator('.receipt').textContent(), /Lu/);
  const unread = await get('/unread-count', tokenFor(patient));
  assert.deepEqual(unread.json, { total: 0, byConversation: {} });
});

test('typing indicator shows and hides; the message typed appears at the other side, accents and emoji intact', async () => {
  const text = 'Bonjour docteur, ça va mieux : fièvre à 37,2 °C, plus de courbatures 😀👍';
  const input = pat.page.locator('#message-input');
  await input.click();
  await input.pressSequentially(text.slice(0, 20), { delay: 10 });
  const typing = doc.page.locator('#typing[data-active="true"]');
  await typing.waitFor({ timeout: 5000 });
  assert.match(await typing.textContent(), /Hélène Dubois .*est en train d'écrire/);
  assert.match(await convItem(doc.page, c1).locator('.conv-preview').textContent(), /écrit…/);
  await shot(doc.page, '03-doctor-sees-typing');
  await input.pressSequentially(text.slice(20), { delay: 5 });
  await input.press('Enter');

  const li = doc.page.locator('#messages li.theirs[data-message-id]').last();
  await doc.page.waitForFunction((t) => {
    const all = document.querySelectorAll('#messages li.theirs .content');
    return all.length && all[all.length - 1].textContent === t;
  }, text, { timeout: 5000 });
  assert.equal(await li.locator('.content').textContent(), text);
  await typing.waitFor({ state: 'detached', timeout: 3000 }).catch(async () => {
    assert.equal(await doc.page.locator('#typing').getAttribute('data-active'), null, 'typing indicator still shown');
  });
  assert.equal(await doc.page.locator('#typing').textContent(), '');

  // At the patient: stored (an id), then read by the doctor who has it open.
  const mine = pat.page.locator('#messages li.mine[data-message-id]').last();
  await mine.locator('.receipt[data-receipt="read"]').waitFor({ timeout: 5000 });
  assert.equal(await mine.locator('.content').textContent(), text);
  const { rows } = await q('SELECT content, is_read FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1', [c1]);
  assert.deepEqual(rows[0], { content: text, is_read: true });
  await shot(pat.page, '04-patient-chat');

  // Typing without sending: the indicator goes by itself after a few seconds of silence.
  await input.pressSequentially('Autre chose', { delay: 10 });
  await typing.waitFor({ timeout: 5000 });
  const t0 = Date.now();
  await doc.page.locator('#typing').and(doc.page.locator(':not([data-active])')).waitFor({ timeout: 8000 });
  const hidAfter = Date.now() - t0;
  assert.ok(hidAfter >= 1500 && hidAfter < 7000, `hidden after ${hidAfter} ms`);
  await input.fill('');
});

test('an unread badge appears live on another conversation, and goes when it is opened', async () => {
  const m = await restSend(doctor2, c2, 'Bonjour Hélène, vos résultats sont arrivés.');
  await badge(pat.page, c2).waitFor({ timeout: 5000 });
  assert.equal((await badge(pat.page, c2).locator('[aria-hidden="true"]').textContent()).trim(), '1');
  assert.equal(await convItem(pat.page, c2).locator('.conv-preview').textContent(), m.content);
  assert.equal(await pat.page.locator('#conv-list li').first().getAttribute('data-conversation-id'), String(c2),
    'the conversation with the newest message comes first');
  await shot(pat.page, '05-unread-badge');
  await openConversation(pat.page, c2);
  await badge(pat.page, c2).waitFor({ state: 'detached', timeout: 5000 });
  await messageById(pat.page, m.id).waitFor();
  for (let i = 0; i < 50; i++) {
    const { rows } = await q('SELECT is_read FROM messages WHERE id = $1', [m.id]);
    if (rows[0].is_read) break;
    await sleep(50);
  }
  const { rows } = await q('SELECT is_read FROM messages WHERE id = $1', [m.id]);
  assert.equal(rows[0].is_read, true);
  await openConversation(pat.page, c1);
  await pat.page.locator('#messages li[data-message-id]').first().waitFor();
});

test('presence and delivery receipts: "en ligne" at both sides; "Distribué" before "Lu"', async () => {
  // Both pages are connected: each shows the other online (API.md section 9).
  await pat.page.locator('#chat-sub[data-online="true"]').waitFor({ timeout: 5000 });
  assert.match(await pat.page.locator('#chat-sub').textContent(), /en ligne/);
  await doc.page.locator('#chat-sub[data-online="true"]').waitFor({ timeout: 5000 });
  // The patient looks at another conversation: the doctor's next message
  // reaches her socket (delivered) but she has not read it.
  await openConversation(pat.page, c2);
  await typeAndSend(doc.page, 'Pensez à prendre votre traitement ce soir.');
  const mine = doc.page.locator('#messages li.mine[data-message-id]').last();
  await mine.locator('.receipt[data-receipt="delivered"]').waitFor({ timeout: 5000 });
  assert.match(await mine.locator('.receipt').textContent(), /Distribué/);
  await shot(doc.page, '05b-delivered');
  // She opens it: read.
  await openConversation(pat.page, c1);
  await pat.page.locator('#messages li[data-message-id]').first().waitFor();
  await mine.locator('.receipt[data-receipt="read"]').waitFor({ timeout: 5000 });
});

test('a message containing <script> shows as text at both sides, and nothing runs', async () => {
  const payload = '<script>alert(1)</script><img src=x onerror="alert(2)"> & <b>gras</b>';
  await typeAndSend(pat.page, payload);
  for (const u of [pat, doc]) {
    await u.page.waitForFunction((t) => [...document.querySelectorAll('#messages li .content')]
      .some((p) => p.textContent === t), payload, { timeout: 5000 });
    assert.equal(await u.page.locator('#messages script, #messages img, #messages b, #conv-list script, #conv-list img').count(), 0,
      `${u.label}: markup from a message became elements`);
  }
  assert.match(await convItem(doc.page, c1).locator('.conv-preview').textContent(), /<script>alert\(1\)<\/script>/);
  await sleep(300);
  assert.deepEqual(pat.problems.dialogs, []);
  assert.deepEqual(doc.problems.dialogs, []);
});

/**
 * Stops the gateway the pages are connected to (stop()), checks that both
 * pages show it, commits messages while it is down (two from the doctor
 * through REST, one from the patient's page, which falls back to REST, one
 * in the other conversation), starts a gateway on the same port (env: its
 * environment), and checks that both pages come back with every message once,
 * in order, and work live again. Returns socket.recovered of the patient's page.
 */
async function gatewayRestart(t, { label, stop, env, shots = false }) {
  const port = Number(process.env.MSG_WS_PORT);
  const before = await messagesIn(pat.page);
  await stop();
  for (const u of [pat, doc]) {
    await u.page.locator('#conn-state[data-state="reconnecting"]').waitFor({ timeout: 10000 });
    assert.equal(await u.page.locator('#conn-label').textContent(), 'Reconnexion…');
  }
  if (shots) await shot(pat.page, '06-reconnecting');

  const missed = [await restSend(doctor, c1, `${label} : 1`), await restSend(doctor, c1, `${label} : 2`)];
  const elsewhere = await restSend(doctor2, c2, `${label} : ailleurs`);
  await typeAndSend(pat.page, `${label} : envoyé hors ligne`);
  const sentOffline = pat.page.locator('#messages li.mine[data-message-id]').filter({ hasText: `${label} : envoyé hors ligne` });
  await sentOffline.waitFor({ timeout: 10000 });

  restarted = await startGateway(port, env);
  for (const u of [pat, doc]) await waitConnected(u.page, 20000);
  // The page's own module instance (same module map): did the server recover the session?
  const recovered = await pat.page.evaluate(async () => (await import('./messagingSocket.js')).default.socket.recovered);
  t.diagnostic(`patient page: socket.recovered after the restart: ${recovered}`);

  for (const m of missed) await messageById(pat.page, m.id).waitFor({ timeout: 5000 });
  const offlineId = Number(await sentOffline.getAttribute('data-message-id'));
  for (const id of [offlineId, ...missed.map((m) => m.id)]) await messageById(doc.page, id).waitFor({ timeout: 5000 });
  // The conversation that is not open: its badge and last message.
  await convItem(pat.page, c2).locator('.conv-preview', { hasText: elsewhere.content }).waitFor({ timeout: 5000 });
  await badge(pat.page, c2).waitFor({ timeout: 5000 });

  // Live again, both ways, through the pages.
  await typeAndSend(doc.page, `${label} : en direct`);
  await pat.page.locator('#messages li.theirs .content', { hasText: `${label} : en direct` }).waitFor({ timeout: 5000 });
  await typeAndSend(pat.page, `${label} : réponse en direct`);
  await doc.page.locator('#messages li.theirs .content', { hasText: `${label} : réponse en direct` }).waitFor({ timeout: 5000 });

  const { rows } = await q('SELECT id FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id', [c1, before.at(-1).id]);
  for (const u of [pat, doc]) {
    const ids = (await messagesIn(u.page)).map((m) => m.id);
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), `${u.label}: each message once, in order`);
    assert.deepEqual(ids.filter((id) => id > before.at(-1).id), rows.map((r) => r.id), `${u.label}: every message since`);
    assert.equal(await u.page.locator('#messages li.pending').count(), 0, `${u.label}: nothing left pending`);
  }
  return recovered;
}

test('the gateway restarts: both pages show it, reconnect, and no message is lost', { timeout: 60000 }, async (t) => {
  const pid = stackGatewayPid();
  assert.ok(pid, 'the stack gateway-0 is running');
  await gatewayRestart(t, {
    label: 'Pendant la coupure',
    shots: true,
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      assert.ok(await waitExit(pid, 10000), 'the gateway stopped on SIGTERM');
    },
  });
  await shot(doc.page, '07-after-restart');
});

test('the gateway restarts with recovery off: fresh sessions, the pages rejoin and catch up through REST', { timeout: 60000 }, async (t) => {
  // The same configuration with recovery_max_disconnection_ms = 0.
  const conf = `${process.env.MSG_VAR}/no-recovery.conf`;
  writeFileSync(conf, `${readFileSync(process.env.MESSAGING_CONFIG, 'utf8')}\nrecovery_max_disconnection_ms = 0\n`);
  const previous = restarted;
  const recovered = await gatewayRestart(t, {
    label: 'Seconde coupure',
    env: { MESSAGING_CONFIG: conf },
    stop: async () => {
      const r = await previous.stop();
      assert.deepEqual(r, { code: 0, signal: null }, 'the gateway exits 0 on SIGTERM');
    },
  });
  assert.ok(!recovered, 'a gateway without recovery gives a fresh session');
});

test('a phone-sized screen: one pane at a time, no sideways scrolling', async () => {
  const phone = await newUser(browser, { viewport: { width: 390, height: 780 }, label: 'phone' });
  try {
    await loginWithToken(phone.page, tokenFor(doctor));
    await convItem(phone.page, c1).waitFor();
    assert.equal(await phone.page.locator('#chat-pane').isVisible(), false);
    await shot(phone.page, '08-phone-list');
    await openConversation(phone.page, c1);
    await phone.page.locator('#messages li[data-message-id]').first().waitFor();
    assert.equal(await phone.page.locator('#list-pane').isVisible(), false);
    assert.equal(await phone.page.locator('#back').isVisible(), true);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `scrolls sideways by ${overflow}px`);
    await shot(phone.page, '09-phone-chat');

    // The doctor types on the phone; the patient's desktop page shows it. Both
    // side by side make the picture of the README (10-demo.png).
    const input = phone.page.locator('#message-input');
    await input.click();
    await input.pressSequentially('Très bien, je vous rappelle cet après-midi 👍', { delay: 5 });
    await pat.page.locator('#typing[data-active="true"]').waitFor({ timeout: 5000 });
    await composeDemo(await pat.page.screenshot(), await phone.page.screenshot());
    await input.press('Enter');
    await pat.page.locator('#messages li.theirs .content', { hasText: 'je vous rappelle cet après-midi' }).waitFor({ timeout: 5000 });
    await phone.page.locator('#back').click();
    await phone.page.locator('#list-pane').waitFor({ state: 'visible' });
    assert.deepEqual(phone.problems.pageErrors, []);
  } finally {
    await phone.close();
  }
});

test('labelled for screen readers', async () => {
  const p = pat.page;
  assert.equal(await p.getByRole('status').first().getAttribute('id'), 'conn-state');
  assert.equal(await p.getByRole('log').getAttribute('id'), 'messages');
  assert.equal(await p.getByLabel('Votre message').getAttribute('id'), 'message-input');
  assert.equal(await p.getByRole('button', { name: 'Envoyer' }).count(), 1);
  assert.match(await p.getByRole('log').getAttribute('aria-labelledby'), /chat-title/);
  const names = await p.locator('#conv-list button').evaluateAll((bs) => bs.map((b) => b.textContent));
  assert.ok(names.some((n) => n.includes('Dr Élise Martin')), JSON.stringify(names));
  assert.equal(await p.locator('html').getAttribute('lang'), 'fr');
  // Every message says who wrote it, for a reader that does not see the layout.
  const firsts = await p.locator('#messages li[data-message-id] .sr-only:first-child').allTextContents();
  assert.ok(firsts.length > 0 && firsts.every((t) => /^(Vous|Dr Élise Martin) : $/.test(t)), JSON.stringify(firsts.slice(0, 3)));
  for (const u of [pat, doc]) assert.deepEqual(u.problems.pageErrors, [], `${u.label}: page errors`);
});
