// The compare panel (web/src/pages/compare.rs): a setting on the x-axis, another as series,
// runs shared among Web Workers; the same numbers as `grapevine sweep` for the same seed (its
// CSV byte for byte), progress and cancel, the URL holding the comparison, bad input refused
// in words. The CLI must be built: scripts/test does it first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { start, CLI } from './browser.mjs';

let env;

before(async () => { env = await start(); });
after(async () => env?.close());

/** A page on `query` that records console errors and uncaught exceptions. */
async function open(query, viewport = { width: 1280, height: 800 }) {
  const page = await env.browser.newPage({ viewport });
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${env.url}${query}`);
  return page;
}

function sweep(args, format) {
  assert.ok(existsSync(CLI), `${CLI} is missing: cargo build --release -p grapevine-cli`);
  return execFileSync(CLI, ['sweep', ...args, '--format', format], { encoding: 'utf8' });
}

/** Waits for a finished comparison (its download link); a failure says what the panel said. */
async function finished(page, timeout = 120_000) {
  try {
    await page.getByTestId('compare-csv').waitFor({ timeout });
  } catch (e) {
    const said = await page.locator('[data-testid=compare-error], [data-testid=notices]').allTextContents();
    throw new Error(`no finished comparison after ${timeout} ms; the page said: ${JSON.stringify(said)}; errors: ${page.errors}`);
  }
}

test('the compare panel gives grapevine sweep\'s numbers for the same seed, its CSV byte for byte', async () => {
  // Few points, so that each point's runs are shared among the workers; runs long enough
  // (10^5 nodes, some milliseconds each) that the first worker cannot play them all before the
  // others have started (at 2,000 nodes the page's lossy loop played all 48 in one worker).
  const page = await open('?nodes=100000&loss=0.1&seed=11&compare=fanout:1..2&series=protocol:push,pull&runs=12');
  await finished(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-csv').click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  const args = ['--nodes', '100000', '--loss', '0.1', '--seed', '11', '--runs', '12',
    '--vary', 'fanout=1..2', '--vary', 'protocol=push,pull'];
  assert.equal(csv, sweep(args, 'csv'));
  // The chart draws the same means: one mark per point and series.
  const json = JSON.parse(sweep(args, 'json'));
  const marks = await page.getByTestId('compare-point').evaluateAll((els) => els.map((e) => ({
    x: e.dataset.x, series: e.dataset.series, mean: Number(e.dataset.mean),
  })));
  assert.equal(marks.length, json.points.length, JSON.stringify(marks));
  for (const p of json.points) {
    const mark = marks.find((m) => m.x === String(p.point.fanout) && m.series === p.point.protocol);
    assert.ok(mark, `a mark at fanout ${p.point.fanout}, ${p.point.protocol}`);
    assert.equal(mark.mean, p.rounds_to_full.mean, `fanout ${p.point.fanout}, ${p.point.protocol}`);
  }
  // Every worker the panel started played some of the runs.
  const runs = (await page.getByTestId('compare-workers').getAttribute('data-runs')).split(',').map(Number);
  assert.equal(runs.reduce((a, b) => a + b, 0), 4 * 12, `runs per worker ${runs}`);
  assert.ok(runs.every((r) => r > 0), `a worker played nothing: ${runs}`);
  assert.match(await page.getByTestId('compare-of').textContent(), /seed 11/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the controls choose what is compared, the URL keeps it, and a long comparison can be cancelled', async () => {
  const page = await open('?nodes=300&seed=5&compare=fanout&series=protocol&runs=4');
  await finished(page);
  assert.equal(await page.getByTestId('compare-point').count(), 4 * 3);
  // Another setting on the x-axis takes its usual values.
  await page.getByTestId('compare-vary').selectOption('loss');
  assert.equal(await page.getByTestId('compare-values').inputValue(), '0,0.1,0.2,0.3,0.4,0.5');
  await page.getByTestId('compare-series').selectOption('');
  await page.getByTestId('compare-run').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=compare-point]').length === 6);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('compare'), 'loss:0,0.1,0.2,0.3,0.4,0.5');
  assert.equal(url.searchParams.get('series'), null);
  // Another figure is drawn from the same runs, and the URL says which.
  await page.getByTestId('compare-figure').selectOption('messages_per_node');
  assert.equal(new URL(page.url()).searchParams.get('figure'), 'messages_per_node');
  const reloaded = await open(new URL(page.url()).search);
  await finished(reloaded);
  assert.equal(await reloaded.getByTestId('compare-figure').inputValue(), 'messages_per_node');
  assert.equal(await reloaded.getByTestId('compare-point').count(), 6);
  await reloaded.close();
  // A long comparison shows progress and stops when asked.
  await page.getByTestId('compare-nodes').fill('300000');
  await page.getByTestId('compare-runs').fill('2000');
  await page.getByTestId('compare-run').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-progress]')?.value) > 0, null, { timeout: 60_000 });
  await page.getByTestId('compare-cancel').click();
  await page.getByTestId('compare-cancelled').waitFor();
  assert.equal(await page.getByTestId('compare-progress').count(), 0);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a comparison that cannot run says why, naming the point, and the page stays whole', async () => {
  // A value out of range: the panel opens on its usual comparison, with a notice naming it.
  let page = await open('?compare=fanout:0..3&runs=2');
  await finished(page);
  assert.match(await page.getByTestId('notices').textContent(), /fanout 0: expected a whole number from 1 to 16/);
  assert.equal(await page.getByTestId('compare-values').inputValue(), '1..4');
  await page.close();
  // A point whose settings cannot run: the panel names it.
  page = await open('?nodes=5&compare=fanout:1,2&series=topology:complete,torus&runs=3');
  await page.getByTestId('compare-error').waitFor();
  assert.match(await page.getByTestId('compare-error').textContent(), /At fanout=1, topology=torus: a torus topology needs at least \d+ nodes/);
  // Bad values typed in the panel: refused in words, nothing lost.
  await page.getByTestId('compare-series-values').fill('complete,blob');
  await page.getByTestId('compare-run').click();
  assert.match(await page.getByTestId('compare-error').textContent(), /Values of topology: topology blob: expected complete, ring/);
  assert.equal(await page.getByTestId('compare-series-values').inputValue(), 'complete,blob');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the round view\'s Compare link opens push, pull and push-pull against the fanout around its settings', async () => {
  const page = await open('?nodes=500&seed=9', { width: 390, height: 844 });
  await page.getByTestId('compare-link').click();
  await finished(page);
  assert.equal(await page.getByTestId('compare-point').count(), 4 * 3);
  assert.equal(await page.getByTestId('compare-nodes').inputValue(), '500');
  const series = await page.getByTestId('compare-point').evaluateAll((els) => [...new Set(els.map((e) => e.dataset.series))]);
  assert.deepEqual(series, ['push', 'pull', 'pushpull']);
  await page.getByTestId('compare-simulator').click();
  await page.getByTestId('play').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('nodes'), '500');
  assert.equal(new URL(page.url()).searchParams.get('compare'), null);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('lesson 3\'s last step opens the compare panel on its question\'s settings', async () => {
  const page = await open('?lesson=3&step=7');
  await page.getByTestId('lesson-compare').click();
  await finished(page);
  assert.equal(await page.getByTestId('compare-values').inputValue(), '1,2,3,4,6,8');
  assert.equal(await page.getByTestId('compare-nodes').inputValue(), '1000');
  assert.equal(await page.getByTestId('compare-point').count(), 6);
  assert.deepEqual(page.errors, []);
  await page.close();
});
