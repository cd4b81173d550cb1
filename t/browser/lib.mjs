// Helpers of the browser tests: Debian's Chromium through playwright-core
// (never a downloaded browser), the page's selectors, screenshots, and the
// stack's gateway process for the restart test.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { requireEnv } from '../lib/env.mjs';

export const BASE_URL = requireEnv('MSG_BASE_URL').replace(/\/+$/, '');
export const SHOTS = process.env.MSG_SHOTS || path.resolve('build/browser-shots');
const CHROMIUM = process.env.MSG_CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Headless Chromium (playwright's launch gives it a fresh temporary
 * --user-data-dir, removed at close). One per test file; each user gets a
 * browser context of its own (newUser), so storage never leaks between them.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page in a new context of `browser`. Records page errors, console errors
 * and dialogs (none may happen).
 */
export async function newUser(browser, { viewport = { width: 1100, height: 720 }, label = 'user' } = {}) {
  const context = await browser.newContext({ viewport, locale: 'fr-FR', timezoneId: 'Europe/Paris' });
  const page = await context.newPage();
  const problems = { pageErrors: [], dialogs: [], consoleErrors: [] };
  page.on('pageerror', (err) => problems.pageErrors.push(String(err)));
  page.on('dialog', (d) => { problems.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('console', (msg) => { if (msg.type() === 'error') problems.consoleErrors.push(msg.text()); });
  return { label, context, page, problems, close: () => context.close().catch(() => {}) };
}

/** Opens the page and logs in by pasting a token. */
export async function loginWithToken(page, token) {
  await page.goto(`${BASE_URL}/`);
  await page.locator('#token-input').fill(token);
  await page.locator('#token-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await waitConnected(page);
}

export async function waitConnected(page, timeout = 10000) {
  await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout });
}

export const convItem = (page, cid) => page.locator(`#conv-list li[data-conversation-id="${cid}"]`);
export const badge = (page, cid) => convItem(page, cid).locator('.badge');
export const messageById = (page, id) => page.locator(`#messages li[data-message-id="${id}"]`);

export async function openConversation(page, cid) {
  await convItem(page, cid).locator('button').click();
  await page.locator('#chat-pane').waitFor({ state: 'visible' });
}

/** Types like a person (keystrokes) and sends with Enter. */
export async function typeAndSend(page, text) {
  const input = page.locator('#message-input');
  await input.click();
  await input.pressSequentially(text, { delay: 5 });
  await input.press('Enter');
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

// ---- the stack's gateway ------------------------------------------------------------

const VAR = () => requireEnv('MSG_VAR');

/** PID of the stack's gateway instance 0, or null. */
export function stackGatewayPid() {
  try {
    const pid = Number(readFileSync(`${VAR()}/run/gateway-0.pid`, 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('messaging-gateway') ? pid : null;
  } catch {
    return null;
  }
}

export async function waitExit(pid, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    try { process.kill(pid, 0); } catch { return true; }
    if (Date.now() - t0 > ms) return false;
    await sleep(50);
  }
}

/**
 * Starts `$MSG_GATEWAY_BIN --port PORT` with the stack's environment (plus env) and
 * records its PID in MSG_VAR/run/gateway-restarted.pid (so that the stack's
 * stop would end it too); resolves once /health answers 200.
 */
export async function startGateway(port, env = {}) {
  const bin = requireEnv('MSG_GATEWAY_BIN');
  const logPath = `${VAR()}/log/gateway-restarted.log`;
  const fd = openSync(logPath, 'a');
  const proc = spawn(bin, ['--port', String(port)], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  writeFileSync(`${VAR()}/run/gateway-restarted.pid`, `${proc.pid}\n`);
  let exit = null;
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  const gw = {
    proc,
    async stop(ms = 8000) {
      if (exit) return exit;
      proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!exit) proc.kill('SIGKILL'); }, ms);
      const r = await exited;
      clearTimeout(t);
      rmSync(`${VAR()}/run/gateway-restarted.pid`, { force: true });
      return r;
    },
  };
  const t0 = Date.now();
  for (;;) {
    if (exit) throw new Error(`${bin} --port ${port} exited at start: ${JSON.stringify(exit)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return gw;
    } catch { /* not yet */ }
    if (Date.now() - t0 > 15000) {
      await gw.stop();
      throw new Error(`${bin} --port ${port}: /health not 200 within 15 s`);
    }
    await sleep(50);
  }
}
