// The batch panel: runs in a Web Worker, can be cancelled, and gives the same numbers as
// `grapevine sim` for the same seed (the CLI must be built: scripts/test does it first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { start, openPage, num, CLI } from './browser.mjs';

let env;

before(async () => { env = await start(); });
after(async () => env?.close());

/** Runs the batch panel for `runs` runs and returns its CSV download as rows of objects. */
async function pageBatch(page, runs) {
  await page.getByTestId('batch-runs').fill(String(runs));
  await page.getByTestId('batch-run').click();
  await page.getByTestId('batch-csv').waitFor({ timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('batch-csv').click()]);
  const text = readFileSync(await download.path(), 'utf8').trim().split('\n');
  const header = text[0].split(',');
  return text.slice(1).map((line) => Object.fromEntries(line.split(',').map((v, i) => [header[i], v])));
}

function cli(args) {
  assert.ok(existsSync(CLI), `${CLI} is missing: cargo build --release -p grapevine-cli`);
  return JSON.parse(execFileSync(CLI, ['sim', ...args, '--format', 'json'], { encoding: 'utf8' }));
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('the batch panel gives the same numbers as grapevine sim for the same seed', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=3000&protocol=pushpull&fanout=2&loss=0.1&seed=77`);
  const rows = await pageBatch(page, 40);
  const json = cli(['--nodes', '3000', '--protocol', 'pushpull', '--fanout', '2', '--loss', '0.1', '--seed', '77', '--runs', '40']);
  assert.equal(rows.length, json.runs);
  assert.equal(rows[0].seed, '77', 'run 0 plays the master seed itself');
  const full = rows.map((r) => Number(r.rounds_to_full));
  assert.equal(json.rounds_to_full.completed, full.length);
  // Same runs, so the same sums (both add the runs in index order).
  assert.equal(mean(full), json.rounds_to_full.mean);
  assert.equal(mean(rows.map((r) => Number(r.messages_per_node))), json.messages_per_node.mean);
  assert.equal(mean(rows.map((r) => Number(r.t_ave))), json.t_ave.mean);
  assert.equal(Math.max(...full), json.rounds_to_full.max);
  // And the panel shows them.
  assert.equal(await page.getByTestId('batch-mean').textContent(), json.rounds_to_full.mean.toFixed(2));
  assert.equal(await page.getByTestId('batch-sd').textContent(), json.rounds_to_full.sd.toFixed(2));
  assert.match(await page.getByTestId('batch-completed').textContent(), /40 of 40 runs/);
  assert.ok(await page.getByTestId('batch-histogram').locator('rect').count() >= 2);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a long batch shows progress, leaves the page responsive, and can be cancelled', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=200000&seed=3`);
  await page.getByTestId('batch-runs').fill('2000');
  await page.getByTestId('batch-run').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=batch-progress]')?.value) > 0, null, { timeout: 30_000 });
  // The main thread is free: a step of the page's own run happens while the batch runs.
  const round = await num(page, 'round');
  await page.getByTestId('step').click();
  await page.waitForFunction((r) => Number(document.querySelector('[data-testid=round]').textContent) === r + 1, round, { timeout: 2_000 });
  await page.getByTestId('batch-cancel').click();
  await page.getByTestId('batch-cancelled').waitFor({ timeout: 2_000 });
  const done = await page.getByTestId('batch-progress').count();
  assert.equal(done, 0, 'the progress bar is gone');
  // A new batch after a cancel works (a fresh worker).
  await page.getByTestId('batch-runs').fill('3');
  await page.getByTestId('batch-run').click();
  await page.getByTestId('batch-csv').waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId('batch-completed').textContent(), /3 of 3 runs/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a bad run count gets a message, not a batch', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=500`);
  await page.getByTestId('batch-runs').fill('0');
  await page.getByTestId('batch-run').click();
  assert.match(await page.getByTestId('batch-error').textContent(), /1 to 10000/);
  assert.deepEqual(page.errors, []);
  await page.close();
});
