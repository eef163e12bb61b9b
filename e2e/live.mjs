// Shared set-up for live mode's tests: a browser that does real WebRTC on loopback. Run inside
// a loopback-only network namespace (scripts/test does: unshare -rn), see ../shared/TOOLCHAIN.md.
import { chromium, firefox } from 'playwright-core';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CHROMIUM_ARGS, CLI } from './browser.mjs';

export const LIVE_ARGS = [
  ...CHROMIUM_ARGS,
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** A Chromium instance and one context (one profile: its tabs share a BroadcastChannel). */
export async function liveChromium(origin) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false,
    args: LIVE_ARGS,
  });
  const context = await browser.newContext();
  // On a loopback-only host, ICE gathers no candidate without media permission.
  await context.grantPermissions(['camera', 'microphone'], { origin });
  return { browser, context };
}

/** Opens a live tab in `context` and waits for its id, and until the signaling server has
 * admitted it (a tab the server refused would still meet same-browser tabs, and a test could
 * pass without the server). */
export async function liveTab(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.getByTestId('peer-id').waitFor();
  page.id = await page.getByTestId('peer-id').textContent();
  await page.locator('[data-testid=server-state][data-state=connected]').waitFor({ timeout: 15_000 })
    .catch(async () => assert.fail(`tab ${page.id}: ${await page.getByTestId('server-state').textContent()}`));
  return page;
}

export const peerCount = async (page) => Number(await page.getByTestId('peer-count').textContent());

/** Debian's Firefox ESR over WebDriver BiDi, with the preferences loopback WebRTC needs. */
export async function liveFirefox() {
  const browser = await firefox.launch({
    channel: 'moz-firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    firefoxUserPrefs: {
      // Without media permission, no ICE candidate is gathered on a loopback-only host.
      'permissions.default.microphone': 1,
      'permissions.default.camera': 1,
      'media.peerconnection.ice.loopback': true,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
    },
  });
  const context = await browser.newContext();
  return { browser, context };
}

/** `grapevine peer` members in `room` of the server at `origin`, with `--json`: their lines
 * are collected in `lines` as they come. */
export function nativePeers(origin, room, flags = []) {
  const child = spawn(CLI, ['peer', '--url', origin, '--room', room, '--json', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const errors = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
  createInterface({ input: child.stderr }).on('line', (line) => errors.push(line));
  return {
    process: child,
    lines,
    errors,
    /** The members' ids (from their own member events). */
    ids() { return new Set(lines.filter((l) => l.event === 'member').map((l) => l.peer)); },
    /** Each member's latest status of each member it heard of: Map peer -> Map member -> status. */
    statuses() {
      const all = new Map();
      for (const l of lines) {
        if (l.event !== 'member') continue;
        if (!all.has(l.peer)) all.set(l.peer, new Map());
        all.get(l.peer).set(l.member, l.status);
      }
      return all;
    },
    /** The members that heard rumor `id` ("<origin>:<n>"). */
    heard(id) { return new Set(lines.filter((l) => l.event === 'rumor' && l.rumor === id).map((l) => l.peer)); },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` is true (polling), or fails with `what`. */
export async function until(what, check, ms = 20_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await check()) return Date.now() - t0;
    await sleep(50);
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

export const rumorIds = (page) => page.locator('[data-testid=rumor]').evaluateAll((els) => els.map((e) => e.dataset.rumorId));
export const memberStatus = (page, id) => page.locator(`[data-testid=member][data-peer="${id}"]`).getAttribute('data-status').catch(() => null);

/** Starts a rumor in `from` and waits until every tab has it; returns ms and the rumor id. */
export async function spread(from, tabs, text) {
  await from.getByTestId('rumor-text').fill(text);
  const t0 = Date.now();
  await from.getByTestId('start-rumor').click();
  const id = await until('the rumor shows at its origin', async () => (await rumorIds(from)).length > 0)
    .then(async () => (await from.locator('[data-testid=rumor]').filter({ hasText: text }).getAttribute('data-rumor-id')));
  await until(`rumor ${id} reaches every tab`, async () => {
    const all = await Promise.all(tabs.map(rumorIds));
    return all.every((ids) => ids.includes(id));
  });
  return { ms: Date.now() - t0, id };
}

