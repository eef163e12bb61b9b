// Load-time benchmark (figures, not a test): from navigation to the round view's first drawn
// network, on a phone-like budget: Chromium's CPU throttled 4x and a 10 Mbit/s, 40 ms link
// (DevTools protocol), cold (empty cache) and on a second visit; with the bytes that crossed
// the link. Each DIST is served by this build's `grapevine serve` (a dist without .br/.gz
// files is sent uncompressed, as before precompression), alternately, medians of RUNS.
//   node e2e/load-time.mjs [DIST ...]        (default: dist/)
//   RUNS=5 node e2e/load-time.mjs /tmp/dist-before dist
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, serveDist } from './browser.mjs';

const dists = process.argv.slice(2).length ? process.argv.slice(2) : [new URL('../dist', import.meta.url).pathname];
const RUNS = Number(process.env.RUNS ?? 3);
const LINK = { offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 10e6 / 8 };
const CPU_SLOWDOWN = 4;

/** One visit: ms from navigation start to the network's canvas, and bytes received. */
async function visit(page, cdp, url) {
  let bytes = 0;
  const count = (e) => { bytes += e.encodedDataLength; };
  cdp.on('Network.loadingFinished', count);
  await page.goto(url, { waitUntil: 'commit' });
  await page.getByTestId('network').waitFor({ timeout: 120_000 });
  const ms = await page.evaluate(() => window.__drawn);
  cdp.off('Network.loadingFinished', count);
  return { ms, bytes };
}

async function measure(browser, base) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, serviceWorkers: 'block' });
  // The moment the canvas is in the page: the round view draws it in the same task.
  await context.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.querySelector('[data-testid=network]')) {
        window.__drawn = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', LINK);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
  const url = `${base}?nodes=1000&seed=1`;
  const cold = await visit(page, cdp, url);
  const again = await visit(page, cdp, url);
  await context.close();
  return { cold, again };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS,
});
const servers = [];
for (const dist of dists) servers.push({ dist, ...(await serveDist(0, [], dist)), results: [] });
for (let i = 0; i < RUNS; i++) {
  for (const s of servers) s.results.push(await measure(browser, s.url));
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b) => `${(b / 1000).toFixed(0)} KB`;
console.log(`navigation → first drawn network, CPU ${CPU_SLOWDOWN}x slower, 10 Mbit/s, 40 ms; medians of ${RUNS} (${new Date().toISOString().slice(0, 10)})`);
for (const s of servers) {
  const r = s.results;
  console.log(`${s.dist}: first visit ${(med(r.map((x) => x.cold.ms)) / 1000).toFixed(2)} s, ${kb(med(r.map((x) => x.cold.bytes)))} received; second visit ${(med(r.map((x) => x.again.ms)) / 1000).toFixed(2)} s, ${kb(med(r.map((x) => x.again.bytes)))} received`);
}
await browser.close();
for (const s of servers) { s.process.removeAllListeners('exit'); s.process.kill(); }
