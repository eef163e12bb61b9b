// End-to-end tests of the release page in Debian's Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { start, openPage, num } from './browser.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
let env;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  env = await start();
});
after(async () => env?.close());

test('plays to completion with no console errors, and keeps a screenshot', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=200&fanout=2&speed=0&seed=3`);
  assert.equal(await num(page, 'round'), 0);
  await page.getByTestId('play').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=informed]').textContent === '200', null, { timeout: 20_000 });
  const rounds = await num(page, 'round');
  assert.ok(rounds > 3 && rounds < 40, `rounds ${rounds}`);
  // Finished: it stops by itself.
  await page.waitForTimeout(300);
  assert.equal(await num(page, 'round'), rounds);
  assert.ok(await num(page, 'messages') >= 2 * 199, 'every informed node but the last sent');
  await page.screenshot({ path: `${ARTIFACTS}page-1280x800.png` });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a fanout change mid-run changes the messages of the next round', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=100000&fanout=1&seed=5`);
  const step = async () => {
    const before = await num(page, 'round');
    await page.getByTestId('step').click();
    await page.waitForFunction((r) => Number(document.querySelector('[data-testid=round]').textContent) === r + 1, before);
  };
  for (let i = 0; i < 10; i++) await step();
  // Push anti-entropy: each spreading node sends exactly `fanout` messages a round.
  const spreading = () => num(page, 'spreading');
  let s = await spreading();
  let m = await num(page, 'messages');
  await step();
  assert.equal(await num(page, 'messages') - m, s, 'fanout 1: one message per spreading node');
  await page.getByTestId('fanout').fill('4');
  s = await spreading();
  m = await num(page, 'messages');
  await step();
  assert.equal(await num(page, 'messages') - m, 4 * s, 'fanout 4 from the next round on');
  assert.match(page.url(), /fanout=4/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('settings survive a URL round trip', async () => {
  const query = '?nodes=300&protocol=pull&fanout=3&loss=0.2&stop=feedback-coin&k=3&topology=ring&crashed=0.1&seed=42&speed=5';
  const page = await openPage(env.browser, `${env.url}${query}`);
  assert.equal(new URL(page.url()).search, query);
  assert.equal(await page.getByTestId('protocol').inputValue(), 'pull');
  assert.equal(await page.getByTestId('stop').inputValue(), 'feedback-coin');
  assert.equal(await page.getByTestId('topology').inputValue(), 'ring');
  assert.equal(await page.getByTestId('fanout').inputValue(), '3');
  assert.equal(await page.getByTestId('loss').inputValue(), '20');
  assert.equal(await page.getByTestId('seed').inputValue(), '42');
  await page.getByTestId('loss').fill('35');
  await page.reload();
  await page.getByTestId('play').waitFor();
  assert.equal(await page.getByTestId('loss').inputValue(), '35');
  assert.match(page.url(), /loss=0\.35/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('bad URL parameters fall back with a visible notice, never a blank page', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=-5&protocol=shout&fanout=999&loss=NaN&topology=%3Cscript%3E&seed=x`);
  const notices = await page.getByTestId('notices').textContent();
  for (const name of ['nodes', 'protocol', 'fanout', 'loss', 'topology', 'seed']) assert.match(notices, new RegExp(name));
  assert.equal(await num(page, 'round'), 0);
  await page.getByTestId('step').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=round]').textContent === '1');
  // A bad value typed into a field: a notice, and the text stays for the user to fix.
  await page.getByTestId('seed').fill('twelve');
  await page.getByTestId('seed').press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid=notices]').textContent.includes('The seed must be'));
  assert.equal(await page.getByTestId('seed').inputValue(), 'twelve');
  assert.equal(await num(page, 'round'), 1, 'the run was not reset');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('keyboard: space plays and pauses, right arrow steps, r resets', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=500&speed=30`);
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.querySelector('[data-testid=round]').textContent === '1');
  await page.keyboard.press('r');
  await page.waitForFunction(() => document.querySelector('[data-testid=round]').textContent === '0');
  await page.keyboard.press(' ');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=round]').textContent) >= 3);
  await page.keyboard.press(' ');
  const paused = await num(page, 'round');
  await page.waitForTimeout(300);
  assert.equal(await num(page, 'round'), paused);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('clicking a node before the first round makes it the source, after it crashes it', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=20&seed=1`);
  const box = await page.getByTestId('network').boundingBox();
  // Node 5 of 20 on the circle layout: angle 2π·5/20 − π/2 = 0, i.e. straight right of centre.
  const at = { x: box.width * (0.5 + 0.46), y: box.height * 0.5 };
  await page.getByTestId('network').click({ position: at });
  await page.waitForFunction(() => location.search.includes('source=5'));
  await page.getByTestId('step').click();
  await page.getByTestId('network').click({ position: at });
  await page.waitForFunction(() => document.querySelector('.stats').textContent.includes('1 crashed'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a paused network is drawn again at its new size when the window is resized (a phone turned)', async () => {
  // The canvas's width is kept by a resize observer rather than read mid-frame; a resize
  // must still reach the canvas, paused or not, or it stays stretched from its old size.
  const fits = (page) => page.evaluate(() => {
    const c = document.querySelector('[data-testid=network]');
    return { bitmap: c.width, box: Math.round(Math.max(c.clientWidth, 100) * devicePixelRatio) };
  });
  const resized = async (page, view) => {
    const wide = await fits(page);
    assert.equal(wide.bitmap, wide.box, `${view}: drawn at its size before the resize`);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => {
      const c = document.querySelector('[data-testid=network]');
      return c.width === Math.round(Math.max(c.clientWidth, 100) * devicePixelRatio);
    }, null, { timeout: 5_000 }).catch(() => {});
    const narrow = await fits(page);
    assert.notEqual(narrow.box, wide.box, `${view}: the resize changed the canvas's box`);
    assert.equal(narrow.bitmap, narrow.box, `${view}: drawn again at its new size, not stretched from ${wide.bitmap}px`);
    assert.deepEqual(page.errors, []);
    await page.close();
  };
  for (const view of ['?nodes=100000&seed=2', '?protocol=swim&nodes=50&seed=1']) {
    const page = await openPage(env.browser, `${env.url}${view}`, { width: 1280, height: 800 });
    for (let i = 0; i < 3; i++) await page.getByTestId('step').click();
    await resized(page, view);
  }
  // A lesson, at its first step with a network.
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${env.url}?lesson=1`);
  await page.getByTestId('lesson').waitFor({ timeout: 30_000 });
  for (let i = 0; i < 10 && !(await page.getByTestId('network').count()); i++) {
    await page.waitForFunction(() => !document.querySelector('[data-testid=lesson-next]').disabled, null, { timeout: 30_000 });
    await page.getByTestId('lesson-next').click();
  }
  await page.getByTestId('network').waitFor({ timeout: 10_000 });
  await resized(page, 'lesson 1');
});

test('usable at phone width', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=5000&fanout=2`, { width: 390, height: 844 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
  for (let i = 0; i < 6; i++) await page.getByTestId('step').click();
  await page.screenshot({ path: `${ARTIFACTS}page-phone.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});
