// Shared set-up for the end-to-end tests and the page benchmark: serve dist/ on 127.0.0.1 with
// `grapevine serve` (the release build: scripts/test builds it first) and drive Debian's
// Chromium with playwright-core (no browser download).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const CLI = `${process.env.CARGO_TARGET_DIR ?? new URL('../target', import.meta.url).pathname}/release/grapevine`;

/** Starts `grapevine serve` on `port` (0: a free one) with `flags`, serving `dist`; resolves to
 * { url, process, log } once listening. */
export function serveDist(port = 0, flags = [], dist = new URL('../dist', import.meta.url).pathname) {
  const child = spawn(CLI, ['serve', '--port', String(port), '--dist', dist, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  createInterface({ input: child.stderr }).on('line', (line) => log.push(line));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`grapevine serve exited with ${code}: ${log.join('\n')}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const url = line.match(/(http:\/\/[0-9.:]+\/)/)?.[1];
      if (url) done({ url, process: child, log });
      else fail(new Error(`no URL in ${line}`));
    });
  });
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Starts the server and the browser; returns { url, browser, close }. */
export async function start() {
  const server = await serveDist();
  const url = server.url;
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
      server.process.removeAllListeners('exit');
      server.process.kill();
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
