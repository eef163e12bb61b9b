// Shared set-up for the end-to-end tests and the page benchmark: serve dist/ on 127.0.0.1 and
// drive Debian's Chromium with playwright-core (no browser download).
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Starts the server and the browser; returns { url, browser, close }. */
export async function start() {
  const { server, url } = await serve(new URL('../dist', import.meta.url).pathname, 0);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false,
    // Playwright gives each launch a fresh, empty profile of its own.
    args: CHROMIUM_ARGS,
  });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      server.close();
    },
  };
}

/** A new page that records console errors and uncaught exceptions into `page.errors`. */
export async function openPage(browser, url, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.getByTestId('play').waitFor();
  return page;
}

export const num = async (page, id) => Number(await page.getByTestId(id).textContent());
