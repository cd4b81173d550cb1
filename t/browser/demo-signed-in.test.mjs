// Runs before page.test.mjs (alphabetical order), which restarts the gateway.
// The demo page tells who is signed in (GET /api/messaging/me, the users
// table's names, whatever the token holds), what to do when no conversation
// is open or none exists yet, and when one has no message yet; the words for
// roles; and its security headers (a CSP the page lives with, nosniff, no
// framing), through nginx as `make run` serves it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenFor } from '../lib/jwt.mjs';
import { closeDb, createConversation, createDoctor, createPatient, link } from '../lib/fixtures.mjs';
import { BASE_URL, launchBrowser, loginWithToken, newUser, openConversation, shot, typeAndSend } from './lib.mjs';

let browser;
let patient; let doctor; let newcomer; let lonely; let conv;
const users = [];

before(async () => {
  patient = await createPatient('Zoé', 'Lefèvre');
  doctor = await createDoctor('Benoît', 'Rousseau');
  newcomer = await createPatient('Anaïs', 'Bézier'); // linked, no conversation yet
  lonely = await createPatient('Frédéric', 'Noël'); // linked to nobody
  await link(patient, doctor);
  await link(newcomer, doctor);
  conv = await createConversation(patient, doctor); // no message yet
  browser = await launchBrowser();
});

after(async () => {
  for (const u of users) await u.close();
  if (browser) await browser.close().catch(() => {});
  await closeDb();
});

async function signIn(user, label) {
  const u = await newUser(browser, { label });
  users.push(u);
  // A bare token (sub and exp only): the page learns the rest from GET /me.
  await loginWithToken(u.page, tokenFor({ id: user.id }));
  return u;
}

test('a pasted token: the page names the user from GET /me, with the role as a word', async () => {
  const d = await signIn(doctor, 'doctor');
  await d.page.locator('#me-name', { hasText: 'Benoît' }).waitFor();
  assert.equal(await d.page.locator('#me-name').textContent(), 'Dr Benoît Rousseau (médecin)');
  assert.equal(await d.page.locator('#me-name').getAttribute('data-user-id'), String(doctor.id));
  const p = await signIn(patient, 'patient');
  await p.page.locator('#me-name', { hasText: 'Zoé' }).waitFor();
  assert.equal(await p.page.locator('#me-name').textContent(), 'Zoé Lefèvre (patient)');
  for (const u of [d, p]) {
    const text = await u.page.locator('body').innerText();
    assert.doesNotMatch(text, /patient·e|Utilisateur n°/, `${u.label}: ${text.slice(0, 200)}`);
  }
});

test('no conversation open: the page says to pick one, or how to start one', async () => {
  const d = users[0];
  await d.page.locator('#no-chat').waitFor({ state: 'visible' });
  assert.match(await d.page.locator('#no-chat-text').textContent(), /Choisissez une conversation dans la liste/);
  assert.match(await d.page.locator('#no-chat-text').textContent(), /Nouvelle conversation avec/);
  await shot(d.page, '20-no-conversation-open');

  const n = await signIn(newcomer, 'newcomer');
  await n.page.locator('#new-conv').waitFor({ state: 'visible' });
  await n.page.locator('#no-chat-text', { hasText: 'Aucune conversation' }).waitFor();
  assert.match(await n.page.locator('#no-chat-text').textContent(),
    /Aucune conversation pour l'instant : choisissez un de vos médecins sous « Nouvelle conversation avec »/);

  const l = await signIn(lonely, 'lonely');
  await l.page.locator('#no-chat-text', { hasText: 'personne à qui écrire' }).waitFor();
  assert.match(await l.page.locator('#no-chat-text').textContent(), /n'est encore lié à un de vos médecins/);
});

test('a conversation without messages says so, until the first one is sent', async () => {
  const p = users[1];
  await openConversation(p.page, conv);
  await p.page.locator('#thread-empty').waitFor({ state: 'visible' });
  assert.equal(await p.page.locator('#thread-empty').textContent(),
    'Pas encore de message avec Dr Benoît Rousseau. Écrivez le premier ci-dessous, puis « Envoyer ».');
  assert.equal(await p.page.locator('#no-chat').isHidden(), true);
  await shot(p.page, '21-empty-conversation');
  await typeAndSend(p.page, 'Bonjour docteur');
  await p.page.locator('#messages li[data-message-id]').first().waitFor();
  assert.equal(await p.page.locator('#thread-empty').isHidden(), true);
  // The doctor had it open on no message: the live one replaces the hint.
  const d = users[0];
  await openConversation(d.page, conv);
  await d.page.locator('#messages li .content', { hasText: 'Bonjour docteur' }).waitFor();
  assert.equal(await d.page.locator('#thread-empty').isHidden(), true);
});

test('the page is served with a CSP (no framing), nosniff, and lives within it', async () => {
  const res = await fetch(`${BASE_URL}/`);
  const csp = res.headers.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  for (const path of ['/app.js', '/messagingSocket.js', '/style.css']) {
    const r = await fetch(`${BASE_URL}${path}`);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
  }
  // Everything above ran under that policy: no violation, no page error.
  for (const u of users) {
    assert.deepEqual(u.problems.pageErrors, [], `${u.label}: page errors`);
    assert.deepEqual(u.problems.consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e)), [],
      `${u.label}: CSP violations`);
  }
  // A page that tries to frame it is refused.
  const framer = await newUser(browser, { label: 'framer' });
  users.push(framer);
  // setContent waits for the load event, which waits for the frame (or its error page).
  await framer.page.setContent(`<iframe id="f" src="${BASE_URL}/"></iframe>`, { waitUntil: 'load' });
  const framed = framer.page.frames().find((f) => f.url().startsWith(BASE_URL) && f !== framer.page.mainFrame());
  const loaded = framed ? await framed.locator('#token-input').count().catch(() => 0) : 0;
  assert.equal(loaded, 0, 'the demo page rendered inside a frame');
});
