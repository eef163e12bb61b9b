// The lessons, rewind, presenter and embed modes, and the phone-width order, end to end in
// Debian's Chromium against the release page (the lessons are a part of the page: their wasm
// is fetched when a lesson is first opened).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { start, openPage, num, CLI } from './browser.mjs';

const LESSONS = 14;
let env;

before(async () => { env = await start(); });
after(async () => env?.close());

/** Opens `query` and waits for the lessons' container; records console errors. */
async function lesson(query, viewport = { width: 1280, height: 800 }) {
  const page = await env.browser.newPage({ viewport });
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${env.url}${query}`);
  await page.getByTestId('lesson').waitFor({ timeout: 30_000 });
  return page;
}

const text = (page, id) => page.getByTestId(id).first().textContent();

/** Clicks "next" until the step shows `id` (at most 10 steps); fails saying where it stopped. */
async function nextUntil(page, id) {
  for (let i = 0; i < 10; i++) {
    if (await page.getByTestId(id).count()) return;
    const next = page.getByTestId('lesson-next');
    await page.waitForFunction(() => !document.querySelector('[data-testid=lesson-next]').disabled, null, { timeout: 60_000 });
    await next.click();
  }
  assert.fail(`no ${id} within 10 steps of ${page.url()}`);
}

test('every lesson opens by its URL, with the list of lessons and no console error', async () => {
  for (let n = 0; n <= LESSONS; n++) {
    const page = await lesson(`?lesson=${n}`);
    assert.equal(await page.getByTestId('lesson').getAttribute('data-lesson'), String(n));
    assert.equal(await page.getByTestId('lesson-item').count(), LESSONS, `lesson ${n} lists every lesson`);
    if (n > 0) {
      assert.ok(await page.getByTestId('lesson-next').isVisible(), `lesson ${n} has a next button`);
      assert.match(page.url(), new RegExp(`lesson=${n}&step=1`));
    }
    assert.deepEqual(page.errors, [], `lesson ${n}`);
    await page.close();
  }
  // A lesson that does not exist: the list, and a notice that says why.
  const bad = await lesson('?lesson=99&step=x');
  assert.equal(await bad.getByTestId('lesson').getAttribute('data-lesson'), '0');
  assert.match(await text(bad, 'notices'), /lessons 1 to 14/);
  await bad.close();
});

test('chapters 1 to 13 each take a guess and show what the core measured', async () => {
  for (let n = 1; n <= 13; n++) {
    const page = await lesson(`?lesson=${n}`);
    if (n === 1) {
      // Past the hand-played step (its own test below): open the question directly.
      await page.goto(`${env.url}?lesson=1&step=3`);
      await page.getByTestId('lesson').waitFor();
    }
    await nextUntil(page, 'lesson-check');
    const guess = page.getByTestId('lesson-guess');
    if (await guess.evaluate((el) => el.tagName) === 'SELECT') {
      await guess.selectOption({ index: 1 });
    } else {
      await guess.fill('3');
    }
    assert.ok(await page.getByTestId('lesson-next').isDisabled(), `lesson ${n}: no going on before the check`);
    await page.getByTestId('lesson-check').click();
    const result = await text(page, 'lesson-result');
    assert.match(result, /^Measured: .*\d/, `lesson ${n}: ${result}`);
    assert.ok(await page.getByTestId('lesson-next').isEnabled(), `lesson ${n}: the check lets the student on`);
    // The guess stays beside the measurement.
    assert.ok(await page.locator('.compare .bar-row').count() >= 2, `lesson ${n}: guess and measurement side by side`);
    assert.deepEqual(page.errors, [], `lesson ${n}`);
    await page.close();
  }
});

test('chapter 1: the student plays node 0, and the hand-played rounds count', async () => {
  const page = await lesson('?lesson=1&step=2');
  const canvas = page.getByTestId('network');
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  const at = (i) => {
    const a = (2 * Math.PI * i) / 16 - Math.PI / 2;
    return { x: box.width * (0.5 + 0.46 * Math.cos(a)), y: box.width * (0.5 + 0.46 * Math.sin(a)) };
  };
  assert.match(await text(page, 'lesson-result'), /Rounds you played: 0/);
  // Clicking node 0 (yourself) is not a round.
  await canvas.click({ position: at(0) });
  assert.match(await text(page, 'lesson-result'), /Rounds you played: 0/);
  let clicks = 0;
  for (let k = 0; k < 60 && await page.getByTestId('lesson-next').isDisabled(); k++) {
    await canvas.click({ position: at(1 + (k * 7) % 15) });
    clicks += 1;
    const shown = await text(page, 'lesson-result');
    if (!shown.startsWith('Rounds you played')) break;
    assert.match(shown, new RegExp(`Rounds you played: ${clicks}$`), `after ${clicks} clicks`);
    assert.match(await text(page, 'round'), new RegExp(`^round ${clicks} `));
  }
  assert.ok(await page.getByTestId('lesson-next').isEnabled(), 'everyone knows: next opens');
  assert.match(await text(page, 'lesson-result'), new RegExp(`you, as node 0: ${clicks} rounds\\. The same seed with node 0 choosing at random: \\d+ rounds`));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('"run it 5 times" gives the command line\'s numbers for the same seeds', async () => {
  const page = await lesson('?lesson=1&step=3');
  await page.getByTestId('lesson-guess').fill('12');
  await page.getByTestId('lesson-check').click();
  await page.getByTestId('lesson-next').click(); // the run
  await page.waitForFunction(() => !document.querySelector('[data-testid=lesson-next]').disabled, null, { timeout: 60_000 });
  await page.getByTestId('lesson-next').click(); // the comparison
  await page.getByTestId('lesson-runs').click();
  const row = page.locator('.compare .bar-row.runs .bar-value');
  await row.waitFor();
  const mean = parseFloat(await row.textContent());
  const csv = execFileSync(CLI, ['sim', '--nodes', '1000', '--protocol', 'push', '--fanout', '1', '--seed', '7', '--runs', '5', '--format', 'csv'], { encoding: 'utf8' });
  const cli = Number(csv.split('\n').find((l) => l.startsWith('rounds_to_full,')).split(',')[2]);
  assert.ok(Math.abs(mean - cli) < 0.05, `page ${mean}, grapevine sim ${cli}`);
  assert.equal(await page.locator('[data-testid=chart-informed] polyline.run').count(), 5, 'each run its own faint line');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a puzzle is checked by the page, and progress survives a reload', async () => {
  const page = await lesson('?lesson=3&step=6');
  const choose = page.getByTestId('lesson-guess');
  await choose.selectOption('1');
  assert.match(await text(page, 'lesson-result'), /does not meet the goal/);
  let solved = null;
  for (const v of ['2', '3', '4', '5', '6', '7', '8', '10']) {
    await choose.selectOption(v);
    const said = await text(page, 'lesson-result');
    if (said.startsWith('Solved')) { solved = v; break; }
    assert.match(said, /does not meet the goal/, `fanout ${v}: ${said}`);
  }
  assert.ok(solved, 'some fanout solves it');
  // A larger value also meets the goal, but is not the smallest.
  await choose.selectOption('16');
  assert.match(await text(page, 'lesson-result'), /so does a smaller value/);
  await page.reload();
  await page.goto(`${env.url}?lesson=0`);
  await page.getByTestId('lesson').waitFor();
  assert.match(await page.getByTestId('lesson-item').nth(2).textContent(), /done/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('rewind: two steps back show round 4 exactly, and a change there starts a branch', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=300&fanout=1&seed=11&speed=1`);
  const informed = [await num(page, 'informed')];
  for (let r = 1; r <= 6; r++) {
    await page.getByTestId('step').click();
    await page.waitForFunction((r) => Number(document.querySelector('[data-testid=round]').textContent) === r, r);
    informed.push(await num(page, 'informed'));
  }
  await page.getByTestId('step-back').click();
  // The key, once the button has no focus (a focused button keeps its keys).
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press('ArrowLeft');
  assert.equal(await num(page, 'round'), 4);
  assert.equal(await num(page, 'informed'), informed[4], 'round 4 as it was played');
  assert.equal(await page.getByTestId('round-slider').getAttribute('max'), '6', 'the future is kept while nothing changes');
  // The slider scrubs to any played round.
  await page.getByTestId('round-slider').fill('2');
  assert.equal(await num(page, 'round'), 2);
  assert.equal(await num(page, 'informed'), informed[2]);
  await page.getByTestId('round-slider').fill('4');
  // A change at round 4 drops rounds 5 and 6.
  await page.getByTestId('fanout').fill('3');
  await page.waitForFunction(() => document.querySelector('[data-testid=round-slider]').max === '4');
  await page.getByTestId('step').click();
  assert.equal(await num(page, 'round'), 5);
  assert.ok(await num(page, 'informed') > informed[5], 'fanout 3 informs more in round 5 than fanout 1 did');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('presenter mode: large type, play / step / back, and PageDown advances a lesson', async () => {
  const page = await lesson('?lesson=2&present=1');
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains('present')));
  await page.keyboard.press('PageDown');
  await page.waitForFunction(() => location.search.includes('step=2'));
  await page.keyboard.press('PageUp');
  await page.waitForFunction(() => location.search.includes('step=1'));
  const sim = await openPage(env.browser, `${env.url}?nodes=200&seed=3&present=1`);
  assert.ok(await sim.getByTestId('step-back').isVisible());
  assert.ok(!(await sim.getByTestId('fanout').isVisible()), 'settings are hidden on the projector');
  // A key's round is drawn on the next frame: wait for the number (up to a second), then check.
  const shows = (n) => sim.waitForFunction((n) => document.querySelector('[data-testid=round]')?.textContent.trim() === String(n), n, { timeout: 1_000 }).catch(() => {});
  await sim.keyboard.press('PageDown');
  await sim.keyboard.press('PageDown');
  await shows(2);
  assert.equal(await num(sim, 'round'), 2, 'PageDown steps a run');
  await sim.keyboard.press('PageUp');
  await shows(1);
  assert.equal(await num(sim, 'round'), 1, 'PageUp steps back');
  assert.match(sim.url(), /present=1/, 'the mode stays in the link');
  assert.deepEqual([...page.errors, ...sim.errors], []);
  await page.close();
  await sim.close();
});

test('embed mode: the picture, play and the essential numbers, opening on the rumor halfway', async () => {
  const page = await openPage(env.browser, `${env.url}?nodes=400&seed=3&embed=1`);
  assert.ok(await page.getByTestId('network').isVisible());
  assert.ok(await page.getByTestId('play').isVisible());
  assert.ok(await page.getByTestId('informed').isVisible());
  assert.ok(!(await page.getByTestId('run-id').isVisible()), 'no header');
  assert.ok(!(await page.getByTestId('chart-informed').isVisible()), 'no charts');
  const informed = await num(page, 'informed');
  assert.ok(informed >= 200 && informed < 400, `opens with about half informed, not at the start: ${informed}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('at phone width the picture comes first, then the controls, then the numbers and the rest', async () => {
  const phone = { width: 390, height: 844 };
  const top = async (page, selector) => (await page.locator(selector).first().boundingBox()).y;
  const round = await openPage(env.browser, `${env.url}?nodes=200`, phone);
  const order = [await top(round, '.network-panel'), await top(round, '.controls'), await top(round, '.stats'), await top(round, '.batch')];
  assert.deepEqual([...order].sort((a, b) => a - b), order, `round view: picture, controls, numbers, batches: ${order}`);
  const lab = await openPage(env.browser, `${env.url}?protocol=swim&nodes=20`, phone);
  const labOrder = [await top(lab, '.network-panel'), await top(lab, '.controls'), await top(lab, '.scenario')];
  assert.deepEqual([...labOrder].sort((a, b) => a - b), labOrder, `lab: picture, controls, scenario: ${labOrder}`);
  const learn = await lesson('?lesson=3&step=4', phone);
  const learnOrder = [await top(learn, '.network-panel'), await top(learn, '.lesson-text')];
  assert.deepEqual([...learnOrder].sort((a, b) => a - b), learnOrder, `lesson: picture, then its words: ${learnOrder}`);
  // The play button's glyph is drawn, not a font's (an empty box without an emoji font).
  assert.equal(await round.locator('[data-testid=play] svg.icon').count(), 1);
  assert.deepEqual([...round.errors, ...lab.errors, ...learn.errors], []);
  for (const p of [round, lab, learn]) await p.close();
});

test('chapter 10: the lab stage steps back; Lifeguard cuts a slow member\'s false positives as grapevine sim measures them', async () => {
  const page = await lesson('?lesson=10');
  await nextUntil(page, 'lesson-check');
  await page.getByTestId('lesson-guess').fill('5');
  await page.getByTestId('lesson-check').click();
  await nextUntil(page, 'lesson-knob');
  // Back on the lab's stage: one period back, the same run played again to there.
  const time = async () => Number((await text(page, 'round')).match(/^([0-9.]+) s/)[1]);
  await page.getByTestId('reset').click();
  for (let i = 0; i < 3; i++) await page.getByTestId('step').click();
  assert.equal(await time(), 3);
  await page.getByTestId('step-back').click();
  assert.equal(await time(), 2, 'Back went to the period before');
  // The knob: false positives with and without Lifeguard, each the command line's figure.
  const cli = (flags) => JSON.parse(execFileSync(CLI, ['sim', '--protocol', 'swim', '--nodes', '20', '--seed', '7', '--runs', '1', '--scenario', 'slow-node', '--format', 'json', ...flags], { encoding: 'utf8' })).false_positives.mean;
  const shown = {};
  for (const v of ['0', '1']) {
    await page.getByTestId('lesson-knob').selectOption(v);
    await page.waitForFunction((v) => document.querySelector('[data-testid=lesson-result]')?.textContent.startsWith(`Lifeguard = ${v}:`), v);
    shown[v] = Number((await text(page, 'lesson-result')).match(/: ([0-9.]+) members/)[1]);
  }
  assert.equal(shown['0'], cli([]), 'without Lifeguard, as grapevine sim');
  assert.equal(shown['1'], cli(['--lifeguard']), 'with Lifeguard, as grapevine sim --lifeguard');
  assert.ok(shown['1'] < shown['0'], `Lifeguard should cut false positives: ${shown['1']} against ${shown['0']}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('chapter 11: after the heal the paper\'s SWIM stays split, and push-pull makes the group whole, as grapevine sim measures it', async () => {
  const page = await lesson('?lesson=11');
  await nextUntil(page, 'lesson-check');
  await page.getByTestId('lesson-guess').fill('20');
  await page.getByTestId('lesson-check').click();
  await nextUntil(page, 'lesson-knob');
  const cli = (flags) => JSON.parse(execFileSync(CLI, ['sim', '--protocol', 'swim', '--nodes', '20', '--seed', '7', '--runs', '1', '--scenario', 'split-brain', '--format', 'json', ...flags], { encoding: 'utf8' })).heal_periods;
  const result = async (v) => {
    await page.getByTestId('lesson-knob').selectOption(v);
    await page.waitForFunction((v) => document.querySelector('[data-testid=lesson-result]')?.textContent.startsWith(`Push-pull = ${v}:`), v);
    return text(page, 'lesson-result');
  };
  const plain = cli([]);
  assert.equal(plain.completed, 0, 'grapevine sim: the paper\'s SWIM never heals');
  assert.match(await result('0'), /never reached/);
  const synced = cli(['--push-pull']);
  assert.equal(synced.completed, 1, 'grapevine sim --push-pull heals');
  assert.equal(Number((await result('1')).match(/: ([0-9.]+) periods/)[1]), synced.mean);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('chapter 13: a clock behind makes last-writer-wins drop the later write, as grapevine sim counts it', async () => {
  const page = await lesson('?lesson=13');
  await nextUntil(page, 'lesson-check');
  await page.getByTestId('lesson-guess').fill('1');
  await page.getByTestId('lesson-check').click();
  await nextUntil(page, 'lesson-knob');
  const shown = {};
  for (const v of ['concurrent-writes', 'skewed-clock']) {
    await page.getByTestId('lesson-knob').selectOption(v);
    await page.waitForFunction((v) => document.querySelector('[data-testid=lesson-result]')?.textContent.startsWith(`Scenario = ${v}:`), v);
    shown[v] = Number((await text(page, 'lesson-result')).match(/: ([0-9.]+) later writes/)[1]);
    const cli = JSON.parse(execFileSync(CLI, ['sim', '--protocol', 'kv', '--nodes', '20', '--seed', '7', '--runs', '1', '--scenario', v, '--format', 'json'], { encoding: 'utf8' }));
    assert.equal(shown[v], cli.lww_dropped_writes.mean, `${v}: as grapevine sim`);
  }
  assert.ok(shown['skewed-clock'] > shown['concurrent-writes'], `the skewed clock should drop a later write: ${JSON.stringify(shown)}`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('presenter mode: a lesson\'s run stops at its cue point for the teacher to talk, then plays on', async () => {
  // Rounds: at the round where half the nodes first know.
  const page = await lesson('?lesson=2&present=1');
  await nextUntil(page, 'lesson-check');
  await page.getByTestId('lesson-guess').fill('10');
  await page.getByTestId('lesson-check').click();
  await page.getByTestId('lesson-next').click();
  await page.getByTestId('lesson-cue').waitFor({ timeout: 30_000 });
  const [, informed, live] = (await text(page, 'round')).match(/ (\d+) of (\d+) live/).map(Number);
  assert.ok(2 * informed >= live && informed < live, `stopped with ${informed} of ${live} informed: half, not all`);
  assert.match(await text(page, 'lesson-cue'), /half the nodes know/);
  const stopped = await text(page, 'round');
  await page.waitForTimeout(1_000);
  assert.equal(await text(page, 'round'), stopped, 'the run waits for the teacher');
  await page.getByTestId('play').click();
  await page.waitForFunction(() => !document.querySelector('[data-testid=lesson-cue]'));
  await page.waitForFunction(() => / (\d+) of \1 live/.test(document.querySelector('[data-testid=round]').textContent), null, { timeout: 60_000 });
  // The lab: the moment the scenario crashes member 1.
  const lab = await lesson('?lesson=10&present=1');
  await nextUntil(lab, 'lesson-check');
  await lab.getByTestId('lesson-guess').fill('5');
  await lab.getByTestId('lesson-check').click();
  await lab.getByTestId('lesson-next').click();
  await lab.getByTestId('lesson-cue').waitFor({ timeout: 60_000 });
  assert.match(await text(lab, 'lesson-cue'), /^10 s: crash 1/);
  assert.match(await text(lab, 'round'), /^10\.0 s of/);
  assert.deepEqual([...page.errors, ...lab.errors], []);
  await page.close();
  await lab.close();
});
