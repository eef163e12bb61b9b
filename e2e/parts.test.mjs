// The page in parts (web/src/part.rs): what the round view loads before its first drawn
// network, the lab and live mode loaded only when opened, settings kept across the views,
// and the simulator and the lab without a network after one visit (static/sw.js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { start, openPage } from './browser.mjs';

const DIST = new URL('../dist/', import.meta.url).pathname;
/** What a student's phone may fetch before it sees the first round (issue 20), bytes. */
const FIRST_LOAD_BUDGET = 200_000;
let env;

before(async () => { env = await start(); });
after(async () => env?.close());

/** The built file a URL of the page names, and its size after `gzip -9`. */
function gzipped(url) {
  const path = decodeURIComponent(new URL(url).pathname).replace(/^\//, '');
  const bytes = readFileSync(DIST + path);
  return { path, raw: bytes.length, gz: gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }).length };
}

test('the round view draws its first network after at most 200 KB (gzip -9) of wasm, JS and CSS, and no part', async () => {
  const page = await env.browser.newPage({ viewport: { width: 390, height: 844 } });
  const fetched = [];
  page.on('request', (r) => fetched.push(r.url()));
  await page.goto(`${env.url}?nodes=1000&seed=1`);
  await page.getByTestId('network').waitFor();
  const before = fetched.slice();
  const files = before.filter((u) => /\.(wasm|js|css)$/.test(new URL(u).pathname)).map(gzipped);
  const total = files.reduce((sum, f) => sum + f.gz, 0);
  const table = files.map((f) => `${f.path}: ${f.raw} bytes, ${f.gz} gzipped`).join('\n');
  console.log(`first load, before the network is drawn:\n${table}\ntotal ${total} bytes gzipped`);
  assert.ok(files.some((f) => f.path.endsWith('.wasm')), `the page's wasm was fetched:\n${before.join('\n')}`);
  // wasm-bindgen writes its glue indented; a release build minifies it (scripts/minify-glue.mjs).
  for (const f of files.filter((f) => f.path.endsWith('.js'))) {
    const indented = readFileSync(DIST + f.path, 'utf8').split('\n').filter((l) => l.startsWith('    '));
    assert.equal(indented.length, 0, `${f.path} is not minified: ${indented.length} indented lines, first ${indented[0]}`);
  }
  assert.ok(total <= FIRST_LOAD_BUDGET, `first load ${total} bytes gzipped, budget ${FIRST_LOAD_BUDGET}:\n${table}`);
  const parts = before.filter((u) => /grapevine-(lab|live|learn|compare)/.test(u));
  assert.deepEqual(parts, [], 'the lab, live mode, the lessons and the compare panel are loaded only when opened');
  await page.close();
});

test('round view → lab → live → round view in one tab keeps the settings, loading each part once', async () => {
  const query = '?nodes=300&protocol=pull&fanout=3&loss=0.2&stop=feedback-coin&k=3&topology=ring&crashed=0.1&seed=42&speed=5';
  const page = await openPage(env.browser, `${env.url}${query}`);
  const parts = [];
  page.on('request', (r) => { if (/grapevine-(lab|live)\.js$/.test(r.url())) parts.push(new URL(r.url()).pathname); });

  await page.getByTestId('protocol').selectOption('swim');
  await page.getByTestId('lab-time').waitFor();
  const lab = new URL(page.url()).searchParams;
  assert.equal(lab.get('protocol'), 'swim');
  assert.equal(lab.get('seed'), '42');
  assert.equal(lab.get('loss'), '0.2');
  assert.equal(await page.getByTestId('seed').inputValue(), '42');

  // Another lab protocol stays inside the lab's part.
  await page.getByTestId('protocol').selectOption('push-sum');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('protocol') === 'push-sum');
  await page.getByTestId('lab-time').waitFor();

  await page.getByTestId('go-live').click();
  await page.getByTestId('live-home').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('live'), 'lobby');

  await page.getByTestId('live-home').click();
  await page.getByTestId('network').waitFor();
  assert.equal(new URL(page.url()).search, query, 'back in the round view with every setting it had');
  assert.equal(await page.getByTestId('topology').inputValue(), 'ring');
  assert.equal(await page.getByTestId('protocol').inputValue(), 'pull');
  assert.deepEqual(parts, ['/grapevine-lab.js', '/grapevine-live.js'], 'each part fetched once');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a link to the lab or to live mode lands there directly', async () => {
  const page = await openPage(env.browser, `${env.url}?protocol=kv&nodes=20&seed=9&scenario=at+1s+explode+2`);
  await page.getByTestId('lab-time').waitFor();
  // The lab's own check of the scenario, said on arrival (the round view reads names only).
  assert.match(await page.getByTestId('notices').textContent(), /cannot run/);
  await page.close();
});

test('after one visit the simulator, the lab and the lessons work offline; live mode says it needs its server', async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${env.url}?nodes=500&seed=7`);
  await page.getByTestId('network').waitFor();
  // The service worker has cached this build's files.
  const cached = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const keys = await caches.keys();
    const cache = await caches.open(keys.find((k) => k.startsWith('grapevine-')));
    return { active: !!registration.active, files: (await cache.keys()).map((r) => new URL(r.url).pathname) };
  });
  assert.ok(cached.active, 'a service worker is active');
  assert.ok(cached.files.includes('/grapevine-lab_bg.wasm'), `the lab is cached: ${cached.files}`);
  assert.ok(cached.files.includes('/grapevine-learn_bg.wasm'), `the lessons are cached: ${cached.files}`);
  assert.ok(!cached.files.some((f) => f.includes('grapevine-live')), 'live mode is not cached');

  await context.setOffline(true);
  await page.reload();
  await page.getByTestId('network').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('nodes'), '500');
  await page.getByTestId('play').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=informed]').textContent) === 500, null, { timeout: 30_000 });

  await page.getByTestId('protocol').selectOption('swim');
  await page.getByTestId('lab-time').waitFor();

  // A lesson, offline: its part comes from the cache, its answer from the core.
  await page.goto(`${env.url}?lesson=1&step=3`);
  await page.getByTestId('lesson-guess').fill('15');
  await page.getByTestId('lesson-check').click();
  assert.match(await page.getByTestId('lesson-result').textContent(), /^Measured: \d+ rounds/);
  await page.goto(`${env.url}?nodes=500&seed=7`);
  await page.getByTestId('network').waitFor();

  await page.getByTestId('go-live').click();
  const failed = page.getByTestId('part-failed');
  await failed.waitFor();
  assert.match(await failed.textContent(), /needs its server/);
  await context.close();
});
