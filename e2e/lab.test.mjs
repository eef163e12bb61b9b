// The protocol lab in the page: SWIM, push-sum and the key-value map over the simulated
// network, the scenario timeline and the node inspector, in Debian's Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { start, openPage, CLI } from './browser.mjs';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
let env;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  env = await start();
});
after(async () => env?.close());

const text = (page, id) => page.getByTestId(id).textContent();
const seconds = async (page) => parseFloat(await text(page, 'lab-time'));

/** A colour of web/src/palette.rs by its name, as [r, g, b] (aliases followed). */
function palette(name) {
  const src = readFileSync(new URL('../web/src/palette.rs', import.meta.url), 'utf8');
  const value = src.match(new RegExp(`pub const ${name}: &str = ([^;]+);`))[1].trim();
  if (!value.startsWith('"#')) return palette(value);
  return [1, 3, 5].map((i) => parseInt(value.slice(i + 1, i + 3), 16));
}

/** SWIM's matrix as drawn (n members, one cell each): the colour of cell (row, col), of the
 * top band over column `col` and of the left band beside row `row`, read off the canvas at
 * each one's centre (the geometry of web/src/lab/views/swim.rs). */
async function matrix(page, n, cells) {
  return page.evaluate(([n, cells]) => {
    const canvas = document.querySelector('[data-testid=network]');
    const size = canvas.clientWidth, ratio = canvas.width / size;
    const band = Math.max(size * 0.035, 8), origin = band + 2, scale = (size - origin) / n;
    const at = (x, y) => [...canvas.getContext('2d').getImageData(Math.floor(x * ratio), Math.floor(y * ratio), 1, 1).data.slice(0, 3)];
    const mid = (k) => origin + (k + 0.5) * scale;
    return cells.map(([kind, row, col]) => kind === 'cell' ? at(mid(col), mid(row)) : kind === 'top' ? at(mid(col), band / 2) : at(band / 2, mid(row)));
  }, [n, cells]);
}

/** Plays at full speed until the scenario is over. */
async function playToEnd(page, timeout = 60_000) {
  await page.getByTestId('play').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=play]').textContent.includes('Replay'), null, { timeout });
}

/** Clicks the timeline at `fraction` of its length. */
async function seek(page, fraction) {
  const timeline = page.getByTestId('lab-timeline');
  await timeline.scrollIntoViewIfNeeded(); // a mouse click outside the viewport does nothing
  const box = await timeline.boundingBox();
  await page.mouse.click(box.x + box.width * fraction, box.y + box.height / 2);
}

test('SWIM in the page detects a crash at the same times as grapevine sim, same seed', async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: cargo build --release -p grapevine-cli`);
  const cli = JSON.parse(execFileSync(CLI, ['sim', '--protocol', 'swim', '--nodes', '200', '--seed', '3', '--runs', '1', '--format', 'json'], { encoding: 'utf8' }));
  const page = await openPage(env.browser, `${env.url}?protocol=swim&nodes=200&seed=3&speed=0&inspect=100`);
  assert.equal(await text(page, 'lab-detection'), 'no crash yet');
  await playToEnd(page);
  assert.equal(await seconds(page), 60);
  const detection = await page.getByTestId('lab-detection').locator('xpath=..').textContent();
  const first = cli.first_detection_periods.mean.toFixed(2);
  const full = cli.full_detection_periods.mean.toFixed(2);
  assert.ok(detection.includes(`first suspected after ${first} periods`), `${detection} vs ${first}`);
  assert.ok(detection.includes(`all running members after ${full}`), `${detection} vs ${full}`);
  assert.equal(await text(page, 'lab-false-positives'), '0');
  // The matrix: node 2 holds node 1 dead, node 3 alive, and itself as itself; the top band
  // says the worst any running member holds (node 1 dead); the left band marks node 1 crashed;
  // node 1's own row is its last view, dimmed (it held node 3 alive). (Rows far from the
  // inspected node's outline, which is drawn over its row.)
  const [dead, alive, self, topDead, topAlive, crashed, running, dimmed] = await matrix(page, 200, [
    ['cell', 2, 1], ['cell', 2, 3], ['cell', 2, 2], ['top', 0, 1], ['top', 0, 3], ['left', 1, 0], ['left', 2, 0], ['cell', 1, 3],
  ]);
  assert.deepEqual({ dead, alive, self, topDead, topAlive, crashed, running, dimmed }, {
    dead: palette('DEAD'), alive: palette('ALIVE'), self: palette('SELF'), topDead: palette('DEAD'), topAlive: palette('ALIVE'),
    crashed: palette('CRASHED'), running: palette('DOWN'), dimmed: palette('ALIVE').map((c) => Math.floor(c / 3)),
  });
  // The inspector: node 100 holds node 1 (crashed at 10 s) dead, and every other member alive.
  const member = (peer) => page.locator(`[data-testid=inspect-member][data-peer="${peer}"]`);
  assert.equal(await member(1).getAttribute('data-status'), 'dead');
  assert.equal(await member(2).getAttribute('data-status'), 'alive');
  assert.ok(await page.getByTestId('inspect-messages').locator('tr').count() > 5);
  await page.screenshot({ path: `${ARTIFACTS}lab-swim.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a fault placed from the inspector lands in the scenario and the URL, and seeking replays', async () => {
  const page = await openPage(env.browser, `${env.url}?protocol=swim&nodes=40&seed=9&scenario=end+40s&inspect=7`);
  for (let i = 0; i < 5; i++) await page.getByTestId('step').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=lab-time]').textContent === '5.0 s');
  await page.getByTestId('inspect-crash').click();
  const steps = page.getByTestId('lab-steps');
  await page.waitForFunction(() => document.querySelector('[data-testid=lab-steps]').textContent.includes('crash 7'));
  assert.match(await steps.textContent(), /5\.0 s\s*crash 7/);
  assert.match(decodeURIComponent(page.url()).replaceAll('+', ' '), /scenario=at 5s crash 7\nend 40s/);
  assert.equal(await seconds(page), 5, 'placing a fault keeps the time');
  assert.ok(await page.getByTestId('inspect-restart').isVisible(), 'node 7 is down');
  // Play on: the group detects it.
  await page.getByTestId('speed').selectOption('0');
  await playToEnd(page);
  assert.match(await text(page, 'lab-detection'), /node 7/);
  // Seek to 2 s: the run is replayed, node 7 runs again; the steps are kept.
  await seek(page, 0.05);
  await page.waitForFunction(() => parseFloat(document.querySelector('[data-testid=lab-time]').textContent) < 3);
  assert.ok(await page.getByTestId('inspect-crash').isVisible(), 'node 7 runs before its crash');
  assert.equal(await text(page, 'lab-detection'), 'no crash yet');
  // The link reproduces the scenario.
  const again = await openPage(env.browser, page.url());
  assert.match(await again.getByTestId('lab-steps').textContent(), /crash 7/);
  assert.deepEqual([...page.errors, ...again.errors], []);
  await again.close();
  await page.close();
});

test('push-sum converges to the true average; link loss leaves its mark on the mass', async () => {
  const page = await openPage(env.browser, `${env.url}?protocol=push-sum&nodes=300&seed=4&speed=0&scenario=end+40s`);
  await playToEnd(page);
  const error = parseFloat(await text(page, 'lab-error'));
  // grapevine sim --protocol push-sum --nodes 300: 10^-6 after 37 rounds on average.
  assert.ok(error < 1e-5, `error ${error} after 40 rounds`);
  await page.getByTestId('lab-chart').waitFor();
  const lossy = await openPage(env.browser, `${env.url}?protocol=push-sum&nodes=300&seed=4&speed=0&scenario=end+40s&loss=0.2`);
  await playToEnd(lossy);
  const sub = await lossy.getByTestId('lab-error').locator('xpath=..').textContent();
  const mass = parseFloat(sub.match(/mass ([0-9.]+)/)[1]);
  assert.ok(mass < 0.5, `with 20 % loss the nodes keep ${mass} of the weight`);
  assert.deepEqual([...page.errors, ...lossy.errors], []);
  await lossy.close();
  await page.close();
});

test('key-value: concurrent writes converge, kept as siblings by vector clocks, and a write from the inspector reaches every replica', async () => {
  const page = await openPage(env.browser, `${env.url}?protocol=kv&nodes=60&seed=2&speed=0&inspect=30`);
  await playToEnd(page);
  assert.equal(await text(page, 'lab-agree'), '100 %');
  const color = page.locator('[data-testid=lab-key][data-key=color]');
  assert.match(await color.getAttribute('class'), /conflict/);
  assert.match(await color.textContent(), /blue ×60 of 60/);
  assert.match(await color.textContent(), /red \| blue at 60 replicas/);
  // Write at node 30 now (at the end, the scenario grows by 30 s), and play on.
  await page.getByTestId('inspect-kv-key').fill('motd');
  await page.getByTestId('inspect-kv-value').fill('hello world');
  await page.getByTestId('inspect-kv-set').click();
  await page.locator('[data-testid=lab-key][data-key=motd]').waitFor();
  await playToEnd(page);
  assert.match(await page.locator('[data-testid=lab-key][data-key=motd]').textContent(), /hello world ×60 of 60/);
  await page.screenshot({ path: `${ARTIFACTS}lab-kv.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a broken scenario in the link is kept in the editor with the reason, and the page still runs', async () => {
  const page = await openPage(env.browser, `${env.url}?protocol=swim&nodes=20&scenario=at+5s+explode+1`);
  assert.match(await text(page, 'notices'), /unknown operation `explode`/);
  assert.equal(await page.getByTestId('lab-scenario-text').inputValue(), 'at 5s explode 1');
  assert.match(await page.locator('.editor .error').textContent(), /step 1/);
  await page.getByTestId('step').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=lab-time]').textContent === '1.0 s');
  // Mended in the editor: it runs, and the URL holds it.
  await page.getByTestId('lab-scenario-text').fill('at 2s crash 1\nend 20s');
  await page.getByTestId('lab-scenario-apply').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=lab-steps]').textContent.includes('crash 1'));
  assert.equal(await page.locator('.editor .error').count(), 0);
  assert.match(decodeURIComponent(page.url()).replaceAll('+', ' '), /scenario=at 2s crash 1\nend 20s/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('rumors in the page spread as grapevine sim says, same seed, with who-told-whom arrows', async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: cargo build --release -p grapevine-cli`);
  const cli = JSON.parse(execFileSync(CLI, ['sim', '--protocol', 'rumor', '--nodes', '300', '--seed', '6', '--runs', '1', '--fanout', '2', '--format', 'json'], { encoding: 'utf8' }));
  const page = await openPage(env.browser, `${env.url}?protocol=rumor&nodes=300&seed=6&fanout=2&speed=0&inspect=5`);
  assert.equal(await page.getByTestId('protocol').inputValue(), 'rumor');
  await playToEnd(page);
  assert.equal(await text(page, 'lab-informed'), '300 of 300');
  assert.equal(await text(page, 'lab-rumor-full'), cli.intervals_to_full.mean.toFixed(2));
  assert.match(await text(page, 'inspect-rumor'), /heard the rumor from node \d+ at [0-9.]+ s, \d+ hops/);
  assert.match(page.url(), /fanout=2/);
  await page.screenshot({ path: `${ARTIFACTS}lab-rumor.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a small network draws every message of the last period: one probe, share or digest per member per period', async () => {
  // Each of these protocols starts exactly one exchange per member per period (SWIM's ping,
  // push-sum's share, the map's syn), so a period's picture holds N of them, no more, no less;
  // answers (ack, syn-ack) are hollow, the sender's own filled.
  const n = 20;
  for (const [protocol, first, answer] of [['swim', 'ping', 'ack'], ['push-sum', 'share', null], ['kv', 'syn', 'syn-ack']]) {
    const page = await openPage(env.browser, `${env.url}?protocol=${protocol}&nodes=${n}&seed=7&scenario=end+40s`);
    for (let i = 0; i < 3; i++) await page.getByTestId('step').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=lab-time]').textContent === '3.0 s');
    const kind = (k) => page.locator(`[data-testid=lab-period-kind][data-kind="${k}"]`);
    assert.equal(await kind(first).getAttribute('data-count'), String(n), `${protocol}: one ${first} per member in the last period`);
    assert.equal(await kind(first).locator('.glyph.filled').count(), 1, `${protocol}: a ${first} is the sender's own`);
    if (answer) {
      const answers = Number(await kind(answer).getAttribute('data-count'));
      // An answer leaves one latency (10-15 ms) after its request: those of requests sent
      // in the period's last moments fall into the next.
      assert.ok(answers >= 1 && answers <= n, `${protocol}: ${answers} ${answer}s for ${n} ${first}s`);
      assert.equal(await kind(answer).locator('.glyph.hollow').count(), 1, `${protocol}: a ${answer} answers`);
    }
    // The view's own picture instead: no message legend; back again.
    await page.getByTestId('lab-picture-state').click();
    assert.equal(await page.getByTestId('lab-period-kinds').count(), 0, `${protocol}: the ${first}s are not listed under the grid`);
    await page.getByTestId('lab-picture-messages').click();
    assert.equal(await kind(first).getAttribute('data-count'), String(n));
    if (protocol === 'swim') await page.screenshot({ path: `${ARTIFACTS}lab-swim-messages.png`, fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.close();
  }
  // Beyond 50 members each view keeps its own picture, and the rumors theirs at any size.
  for (const url of ['?protocol=swim&nodes=51&seed=7', '?protocol=rumor&nodes=20&seed=7']) {
    const page = await openPage(env.browser, `${env.url}${url}`);
    await page.getByTestId('step').click();
    assert.equal(await page.getByTestId('lab-picture-messages').count(), 0, `${url}: no messages picture`);
    assert.equal(await page.getByTestId('lab-period-kinds').count(), 0, `${url}: no message legend`);
    await page.close();
  }
});
