// Where the page's frames go (a tool, not a test): plays a view at full speed in headless
// Chromium under a performance trace and prints, per frame, how long the renderer's main thread
// was busy and on what (the animation-frame callbacks: the run and the drawing; style, layout
// and paint; the commit to the compositor), the frame intervals, and the other threads' totals.
// Run after a release build (`trunk build --release --dist dist`):
//   node e2e/trace.mjs                                     the round view, 10^6 nodes, 80 % loss
//   node e2e/trace.mjs '?protocol=swim&nodes=1000&seed=1'  any view's query (speed=0 is added)
// A frame takes 16.7 ms at 60 frames/s: a main thread busier than that drops frames.
import { chromium } from 'playwright-core';
import { serveDist, openPage, CHROMIUM_ARGS } from './browser.mjs';

const query = process.argv[2] ?? '?nodes=1000000&loss=0.8';
const server = await serveDist(0, [], process.env.DIST ?? new URL('../dist', import.meta.url).pathname);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS,
});
try {
  const page = await openPage(browser, `${server.url}${query}&speed=0`);
  await page.waitForTimeout(500);
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'cc'] });
  const t0 = Date.now();
  await page.getByTestId('play').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=play]').textContent.includes('Replay'),
    null, { timeout: 60_000 }).catch(() => console.log('(still playing after 60 s: traced that far)'));
  const wall = Date.now() - t0;
  const { traceEvents } = JSON.parse((await browser.stopTracing()).toString());
  if (page.errors.length) console.log('page errors:', page.errors);

  const names = new Map();
  for (const e of traceEvents) if (e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  const spans = traceEvents.filter((e) => e.ph === 'X' && e.dur > 0);
  const on = (thread) => spans.filter((e) => names.get(`${e.pid}:${e.tid}`) === thread);
  const main = on('CrRendererMain');
  const total = (events, name) => events.filter((e) => e.name === name).reduce((s, e) => s + e.dur / 1000, 0);
  const frames = main.filter((e) => e.name === 'ProxyMain::BeginMainFrame').sort((a, b) => a.ts - b.ts);
  const n = Math.max(frames.length, 1);
  const per = (ms) => `${(ms / n).toFixed(1)} ms`;
  const busy = total(main, 'RunTask');
  console.log(`${query}: ${frames.length} frames in ${wall} ms (${(1000 * frames.length / wall).toFixed(1)} frames/s)`);
  console.log(`main thread busy ${per(busy)} a frame (${(100 * busy / wall).toFixed(0)} % of the wall time):`);
  for (const [label, name] of [
    ['animation-frame callbacks (the run, the drawing)', 'FireAnimationFrame'],
    ['style', 'UpdateLayoutTree'], ['layout', 'Layout'], ['paint', 'Paint'], ['commit', 'Commit'],
    ['timers', 'TimerFire'], ['garbage collection', 'MajorGC'],
  ]) console.log(`  ${label.padEnd(48)} ${per(total(main, name))}`);
  const gaps = frames.slice(1).map((f, i) => (f.ts - frames[i].ts) / 1000).sort((a, b) => a - b);
  const pick = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]?.toFixed(1);
  console.log(`frame interval p50 ${pick(0.5)} ms, p95 ${pick(0.95)} ms, max ${pick(1)} ms`);
  const slow = frames.filter((f) => f.dur > 16_700).length;
  console.log(`main-thread frames over 16.7 ms: ${slow} of ${frames.length}`);
  const others = new Map();
  for (const e of spans.filter((e) => e.name === 'RunTask')) {
    const thread = names.get(`${e.pid}:${e.tid}`) ?? '?';
    if (thread !== 'CrRendererMain') others.set(thread, (others.get(thread) ?? 0) + e.dur / 1000);
  }
  console.log('other threads (ms in all):', [...others].sort((a, b) => b[1] - a[1]).slice(0, 5)
    .map(([t, ms]) => `${t} ${ms.toFixed(0)}`).join(', '));
} finally {
  await browser.close();
  server.process.removeAllListeners('exit');
  server.process.kill();
}
