// Page benchmark (figures, not a test): frame rate while playing at full speed, input latency
// at a million nodes, and the release wasm size. Run after a release build:
//   node e2e/perf.mjs                 every section
//   node e2e/perf.mjs lab wasm        only these (round, lesson, pause, rewind, lab, compare, wasm, identities, size)
// Headless Chromium with software rendering on a shared 2-core machine: read the figures as
// "at least this good".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { start, openPage, CLI } from './browser.mjs';

const SECTIONS = ['round', 'lesson', 'pause', 'rewind', 'lab', 'compare', 'wasm', 'identities', 'size'];
const asked = process.argv.slice(2);
for (const a of asked) {
  if (!SECTIONS.includes(a)) {
    console.error(`unknown section ${a} (known: ${SECTIONS.join(', ')})`);
    process.exit(2);
  }
}
/** Whether section `name` was asked for (all are, when none is named). */
const want = (name) => asked.length === 0 || asked.includes(name);

const env = await start();

/** Plays `query` at full speed for up to `ms` and returns frame-interval statistics. */
async function frames(query, ms) {
  const page = await openPage(env.browser, `${env.url}${query}&speed=0`);
  await page.evaluate(() => {
    window.__frames = [];
    const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const round0 = Number(await page.getByTestId('round').textContent());
  await page.getByTestId('play').click();
  const t0 = Date.now();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=play]').textContent.includes('Replay'),
    null, { timeout: ms }).catch(() => {});
  const elapsed = (Date.now() - t0) / 1000;
  const rounds = Number(await page.getByTestId('round').textContent()) - round0;
  const f = await page.evaluate(() => window.__frames);
  const gaps = f.slice(1).map((t, i) => t - f[i]).filter((g) => g > 0).sort((a, b) => a - b);
  const pick = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))];
  await page.close();
  return { rounds, elapsed, fps: 1000 / (gaps.reduce((a, b) => a + b, 0) / gaps.length), p50: pick(0.5), p95: pick(0.95), max: gaps.at(-1) };
}

/** While a million-node run plays, how long from pressing pause to the page showing it. */
async function pauseLatency() {
  const page = await openPage(env.browser, `${env.url}?nodes=1000000&loss=0.5&speed=0`);
  await page.getByTestId('play').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=round]').textContent) >= 5, null, { timeout: 60_000 });
  const latencies = [];
  for (let i = 0; i < 5; i++) {
    const ms = await page.evaluate(() => new Promise((done) => {
      const button = document.querySelector('[data-testid=play]');
      const before = button.textContent;
      const t0 = performance.now();
      new MutationObserver((_, obs) => {
        if (button.textContent !== before) { obs.disconnect(); done(performance.now() - t0); }
      }).observe(button, { childList: true, subtree: true, characterData: true });
      button.click();
    }));
    latencies.push(ms);
    await page.waitForTimeout(300);
  }
  await page.close();
  return latencies;
}

// A number of ms, or what went wrong instead.
const fmt = (x) => (typeof x === 'number' ? x.toFixed(1) : x);
const fmt2 = (x) => x.toFixed(2);
if (want('round')) {
  for (const [label, query] of [
    ['N = 10^5, push, fanout 1', '?nodes=100000&fanout=1'],
    ['N = 10^5, push, fanout 1, loss 80 % (a long run)', '?nodes=100000&fanout=1&loss=0.8'],
    ['N = 10^6, push, fanout 1', '?nodes=1000000&fanout=1'],
    ['N = 10^6, push, fanout 1, loss 80 % (a long run)', '?nodes=1000000&fanout=1&loss=0.8'],
    ['N = 10^6, push, fanout 1, loss 80 %, presenter mode', '?nodes=1000000&fanout=1&loss=0.8&present=1'],
  ]) {
    const r = await frames(query, 20_000);
    console.log(`${label}: ${r.rounds} rounds in ${fmt(r.elapsed)} s; ${fmt(r.fps)} frames/s; frame interval p50 ${fmt(r.p50)} ms, p95 ${fmt(r.p95)} ms, max ${fmt(r.max)} ms`);
  }
}
/** A lesson's Run step, entered as a student does (guess, check, next), played to its end;
 * in presenter mode the run stops once at its cue point and plays on with the space key.
 * Frame intervals while the run plays (not while it waits at the cue). */
async function lessonFrames(lesson, present) {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${env.url}?lesson=${lesson}${present ? '&present=1' : ''}`);
  await page.getByTestId('lesson').waitFor({ timeout: 30_000 });
  const nextEnabled = () => page.waitForFunction(
    () => !document.querySelector('[data-testid=lesson-next]').disabled, null, { timeout: 120_000 });
  for (let i = 0; i < 10 && !(await page.getByTestId('lesson-check').count()); i++) {
    await nextEnabled();
    await page.getByTestId('lesson-next').click();
  }
  await page.getByTestId('lesson-guess').fill('30');
  await page.getByTestId('lesson-check').click();
  await nextEnabled();
  await page.evaluate(() => {
    window.__frames = [];
    const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const now = () => page.evaluate(() => performance.now());
  const spans = [];
  let from = await now();
  await page.getByTestId('lesson-next').click();
  if (present) {
    await page.getByTestId('lesson-cue').waitFor({ timeout: 60_000 });
    spans.push([from, await now()]);
    await page.keyboard.press(' ');
    from = await now();
  }
  await nextEnabled();
  spans.push([from, await now()]);
  const f = await page.evaluate(() => window.__frames);
  const rounds = (await page.getByTestId('lesson').textContent()).match(/round (\d+) ·/)?.[1] ?? '?';
  await page.close();
  const gaps = f.slice(1).map((t, i) => [f[i], t])
    .filter(([a, b]) => spans.some(([s, e]) => a >= s && b <= e))
    .map(([a, b]) => b - a).sort((a, b) => a - b);
  const pick = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))];
  return { rounds, frames: gaps.length, fps: 1000 / (gaps.reduce((a, b) => a + b, 0) / gaps.length), p50: pick(0.5), p95: pick(0.95), max: gaps.at(-1) };
}

if (want('lesson')) {
  for (const present of [false, true]) {
    const r = await lessonFrames(2, present);
    console.log(`lesson 2 (N = 10^6, push, fanout 1), its run${present ? ', presenter mode (stopped at the cue, played on)' : ''}: ${r.rounds} rounds, ${r.frames} frames; ${fmt(r.fps)} frames/s; frame interval p50 ${fmt(r.p50)} ms, p95 ${fmt(r.p95)} ms, max ${fmt(r.max)} ms`);
  }
}
if (want('pause')) {
  const lat = await pauseLatency();
  console.log(`N = 10^6 playing: pause click to screen ${lat.map(fmt).join(', ')} ms (max ${fmt(Math.max(...lat))} ms)`);
}

/** Rewind at a million nodes: a finished run, then the round slider moved to a round; how
 * long until the page shows it (the round's number and its picture), and the same for a
 * step back. The timeline keeps every round's snapshot (2 bytes a node) within its budget. */
async function scrubLatency() {
  const page = await openPage(env.browser, `${env.url}?nodes=1000000&fanout=1&seed=3&speed=0`);
  await page.getByTestId('play').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=play]').textContent.includes('Replay'), null, { timeout: 120_000 });
  const end = Number(await page.getByTestId('round').textContent());
  const shown = (round, act) => page.evaluate(([round, act]) => new Promise((done) => {
    const t0 = performance.now();
    const el = document.querySelector('[data-testid=round]');
    const check = () => {
      if (Number(el.textContent) === round) requestAnimationFrame(() => done(performance.now() - t0));
      else if (performance.now() - t0 > 10_000) done(`never showed round ${round} (shows ${el.textContent})`);
      else requestAnimationFrame(check);
    };
    if (act === 'back') document.querySelector('[data-testid=step-back]').click();
    else {
      const slider = document.querySelector('[data-testid=round-slider]');
      slider.value = String(round);
      slider.dispatchEvent(new Event('input', { bubbles: true }));
    }
    check();
  }), [round, act]);
  const slider = [];
  for (const r of [Math.floor(end / 2), 3, end - 2, Math.floor(end / 3), 1]) slider.push(await shown(r, 'slider'));
  await shown(end, 'slider');
  const back = [];
  for (let r = end - 1; r >= end - 3; r--) back.push(await shown(r, 'back'));
  await page.close();
  return { end, slider, back };
}
if (want('rewind')) {
  const scrub = await scrubLatency();
  console.log(`N = 10^6 rewind (a ${scrub.end}-round run): round slider to screen ${scrub.slider.map(fmt).join(', ')} ms (max ${fmt(Math.max(...scrub.slider))} ms); step back ${scrub.back.map(fmt).join(', ')} ms`);
}

// The protocol lab at 1,000 nodes: protocol periods played per second at full speed (one period
// per frame, with every view redrawn), and a replay (seeking to the end of the 60 s scenario)
// against the same run natively (`grapevine sim --protocol P --runs 1`), in the same session.
if (want('lab')) {
  for (const protocol of ['swim', 'push-sum', 'kv']) {
    const page = await openPage(env.browser, `${env.url}?protocol=${protocol}&nodes=1000&seed=1&speed=0`, { width: 1400, height: 1000 });
    const t = async () => parseFloat(await page.getByTestId('lab-time').textContent());
    const p0 = Date.now();
    await page.getByTestId('play').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=play]').textContent.includes('Replay'), null, { timeout: 300_000 });
    const rate = (await t()) / ((Date.now() - p0) / 1000);
    await page.getByTestId('reset').click();
    await page.getByTestId('lab-timeline').scrollIntoViewIfNeeded();
    const box = await page.getByTestId('lab-timeline').boundingBox();
    const t0 = Date.now();
    await page.mouse.click(box.x + box.width - 1, box.y + box.height / 2);
    await page.waitForFunction(() => parseFloat(document.querySelector('[data-testid=lab-time]').textContent) > 55, null, { timeout: 120_000 });
    const replay = (Date.now() - t0) / 1000;
    await page.close();
    let native = '';
    if (existsSync(CLI)) {
      const n0 = process.hrtime.bigint();
      execFileSync(CLI, ['sim', '--protocol', protocol, '--nodes', '1000', '--seed', '1', '--runs', '1', '--threads', '1'], { encoding: 'utf8' });
      const secs = Number(process.hrtime.bigint() - n0) / 1e9;
      native = `; natively ${fmt2(secs)} s (page / native ${fmt2(replay / secs)})`;
    }
    console.log(`lab, ${protocol}, 1,000 nodes: ${fmt(rate)} periods/s at full speed (every view redrawn each period); replay of the whole scenario in the page ${fmt2(replay)} s${native}`);
  }
}

// The round engine in wasm (the batch worker, in Chromium) next to the same benchmark natively
// (`grapevine bench`), alternately, each against its own baseline measured in the same process.
async function wasmBench(nodes, messages) {
  const page = await env.browser.newPage();
  await page.goto(env.url);
  const r = await page.evaluate(({ nodes, messages }) => new Promise((done, fail) => {
    const w = new Worker('./grapevine-worker_loader.js', { type: 'module' });
    w.onerror = (e) => fail(String(e.message));
    w.onmessage = (e) => {
      if (e.data.kind === 'ready') w.postMessage({ kind: 'bench', nodes, messages, reps: 3 });
      else if (e.data.kind === 'bench') { done(e.data); w.terminate(); }
      else if (e.data.kind === 'error') fail(e.data.message);
    };
  }), { nodes, messages });
  await page.close();
  return r;
}

if (want('wasm') && existsSync(CLI)) {
  const nodes = 1_000_000, messages = 20_000_000;
  const native = [], wasm = [];
  for (let i = 0; i < 3; i++) {
    const out = execFileSync(CLI, ['bench', '--nodes', String(nodes), '--messages', String(messages), '--reps', '3'], { encoding: 'utf8' });
    const m = out.match(/median of \d+: engine ([\d.]+) ns\/msg, baseline ([\d.]+) ns\/op/);
    native.push({ engine_ns: Number(m[1]), baseline_ns: Number(m[2]) });
    wasm.push(await wasmBench(nodes, messages));
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ne = med(native.map((x) => x.engine_ns)), we = med(wasm.map((x) => x.engine_ns));
  const nb = med(native.map((x) => x.baseline_ns)), wb = med(wasm.map((x) => x.baseline_ns));
  console.log(`round engine, push fanout 1, N = 10^6: native ${fmt2(ne)} ns/msg (baseline ${fmt2(nb)}, ratio ${fmt2(ne / nb)}); wasm in Chromium ${fmt2(we)} ns/msg (baseline ${fmt2(wb)}, ratio ${fmt2(we / wb)}); wasm / native ${fmt2(we / ne)}`);
} else if (want('wasm')) {
  console.log(`(no ${CLI}: build it with cargo build --release -p grapevine-cli for the wasm-vs-native figure)`);
}
// Live mode's identities: Ed25519 signing and verification in wasm (the worker, in Chromium)
// and natively, each next to a signed message's own encoding and decoding in the same process.
if (want('identities') && existsSync(CLI)) {
  const page = await env.browser.newPage();
  await page.goto(env.url);
  const w = await page.evaluate(() => new Promise((done, fail) => {
    const worker = new Worker('./grapevine-worker_loader.js', { type: 'module' });
    worker.onerror = (e) => fail(String(e.message));
    worker.onmessage = (e) => {
      if (e.data.kind === 'ready') worker.postMessage({ kind: 'bench-signatures', reps: 5 });
      else if (e.data.kind === 'bench-signatures') { done(e.data); worker.terminate(); }
      else if (e.data.kind === 'error') fail(e.data.message);
    };
  }));
  await page.close();
  const out = execFileSync(CLI, ['bench', '--signatures', '--reps', '5'], { encoding: 'utf8' });
  const m = out.match(/median of \d+: sign ([\d.]+) µs \(\d+\/s\), verify ([\d.]+) µs \(\d+\/s\), message ([\d.]+) µs/);
  const n = { sign: Number(m[1]), verify: Number(m[2]), message: Number(m[3]) };
  const us = (ns) => ns / 1e3;
  console.log(`identities: native sign ${fmt2(n.sign)} µs, verify ${fmt2(n.verify)} µs (${fmt(1e6 / n.verify)}/s), signed message ${fmt2(n.message)} µs (ratio verify/message ${fmt2(n.verify / n.message)}); wasm in Chromium sign ${fmt2(us(w.sign_ns))} µs, verify ${fmt2(us(w.verify_ns))} µs (${fmt(1e9 / w.verify_ns)}/s), signed message ${fmt2(us(w.message_ns))} µs (ratio ${fmt2(w.verify_ns / w.message_ns)}); wasm / native verify ${fmt2(us(w.verify_ns) / n.verify)}`);
}
// The compare panel: a comparison's runs shared among its workers. The same comparison played
// with one worker (the page told the browser has one core) and with as many as the browser
// offers, alternating, medians of 3: the speed-up, each worker's runs, and the share of the
// wall time the workers were busy (worker start-up included in the wall time).
if (want('compare')) {
  const query = '?nodes=100000&seed=1&compare=fanout:1..4&series=protocol:push,pull,pushpull&runs=20';
  const once = async (cores) => {
    const page = await env.browser.newPage();
    if (cores) {
      await page.addInitScript((n) => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n }), cores);
    }
    await page.goto(env.url + query);
    await page.getByTestId('compare-csv').waitFor({ timeout: 600_000 });
    const w = page.getByTestId('compare-workers');
    const r = {
      wall: Number(await w.getAttribute('data-wall-ms')),
      busy: Number(await w.getAttribute('data-busy')),
      runs: await w.getAttribute('data-runs'),
    };
    await page.close();
    return r;
  };
  const one = [], all = [];
  for (let i = 0; i < 3; i++) {
    one.push(await once(1));
    all.push(await once(0));
  }
  const med = (xs, pick) => xs.map(pick).sort((a, b) => a - b)[1];
  const workers = all[0].runs.split(',').length;
  console.log(`compare panel, 12 points x 20 runs at N = 10^5: 1 worker ${fmt(med(one, (r) => r.wall))} ms; ${workers} workers (as offered) ${fmt(med(all, (r) => r.wall))} ms, runs each ${all.map((r) => r.runs.replaceAll(',', '/')).join(', ')}, busy ${fmt(100 * med(all, (r) => r.busy))} % of the wall time; speed-up ${fmt2(med(one, (r) => r.wall) / med(all, (r) => r.wall))}`);
}
// What each part of the page weighs (the round view's first load is e2e/parts.test.mjs's).
if (want('size')) {
  const dist = new URL('../dist/', import.meta.url).pathname;
  for (const name of ['grapevine-web', 'grapevine-lab', 'grapevine-live', 'grapevine-learn', 'grapevine-compare', 'grapevine-worker']) {
    const file = readdirSync(dist).find((f) => f.startsWith(name) && f.endsWith('.wasm'));
    const bytes = readFileSync(dist + file);
    const br = existsSync(`${dist}${file}.br`) ? `, ${(readFileSync(`${dist}${file}.br`).length / 1024).toFixed(0)} KiB brotli` : '';
    console.log(`release wasm, ${name}: ${(bytes.length / 1024).toFixed(0)} KiB, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped${br}`);
  }
}
await env.close();
