// Shared set-up for live mode's tests: a browser that does real WebRTC on loopback. Run inside
// a loopback-only network namespace (scripts/test does: unshare -rn), see ../shared/TOOLCHAIN.md.
import { chromium, firefox } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.mjs';

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

/** Opens a live tab in `context` and waits for its id. */
export async function liveTab(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.getByTestId('peer-id').waitFor();
  page.id = await page.getByTestId('peer-id').textContent();
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
