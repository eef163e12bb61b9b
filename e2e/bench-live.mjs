// Live mode at class size, measured: `grapevine serve` and N native members (`grapevine peer`,
// the same node as a tab, over the relay) in one room on this machine. For each N: the time
// until every member lists every member alive, the time for a rumor to reach all (its largest
// latency), links per member (min / median / max, from /health), relay bytes (the whole run,
// an idle room 40-60 s after the joins, and the 10 s from a rumor's start; each also per
// member), and the server's CPU and memory; beside the theory `grapevine peer` reports (the
// core's mean-field model).
//
//   node e2e/bench-live.mjs [--runs R] [N ...]   (default: 60 200, one run each; the release
//                                                CLI must be built)
//
// Figures printed as a Markdown table for the README, with the date: with R runs, each size's
// medians, and the range of the two times (a cold start of 200 members on 2 shared cores
// varies by seconds from run to run). Each run's figures go to stderr as a JSON line, then the
// size's medians as one with `"median": true`.
import { readFileSync } from 'node:fs';
import { serveDist } from './browser.mjs';
import { nativePeers, sleep } from './live.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 1;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs takes a whole number of runs, 1 or more');
  process.exit(2);
}
const sizes = args.map(Number).filter((n) => n >= 2);
const TICKS = 100; // USER_HZ on Linux

/** The server's CPU seconds so far and resident memory, MB. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpu = (Number(stat[11]) + Number(stat[12])) / TICKS; // utime + stime
  const rss = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
  return { cpu, rss };
}

async function waitFor(what, check, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

async function measure(n) {
  const server = await serveDist();
  const origin = server.url.replace(/\/$/, '');
  const room = `bench${n}`;
  const cpu0 = usage(server.process.pid).cpu;
  const t0 = Date.now();
  const peers = nativePeers(origin, room, ['--count', String(n), '--seed', '1', '--rumor-every', '1000000']);
  // Every member lists every other alive.
  const converged = await waitFor('every member lists every member', () => {
    const s = peers.statuses();
    if (s.size < n) return undefined;
    for (const view of s.values()) {
      let alive = 0;
      for (const st of view.values()) if (st === 'alive') alive += 1;
      if (alive < n - 1) return undefined;
    }
    return Date.now() - t0;
  }, 180_000);
  // Links settle and are reported (every 5 s).
  await sleep(6_000);
  // Idle: nothing happening, 40-60 s after the joins (the records of the joins written).
  const relayed = async () => (await (await fetch(`${server.url}health`)).json()).room[room].relay_bytes;
  await sleep(Math.max(0, t0 + 40_000 - Date.now()));
  const idle0 = { bytes: await relayed(), at: Date.now() };
  await sleep(20_000);
  const idleBs = (await relayed() - idle0.bytes) / ((Date.now() - idle0.at) / 1000);
  // One rumor, from a second process of one member: it joins, and starts its rumor 8 s later
  // (its join spread by then: the window holds the rumor alone).
  const starter = nativePeers(origin, room, ['--count', '1', '--seed', '2', '--rumor-every', '8', '--rumors', '1']);
  const origin_ = await waitFor('the rumor starts', () => starter.lines.find((l) => l.event === 'rumor' && l.hops === 0)?.rumor, 60_000);
  const rumor0 = { bytes: await relayed(), at: Date.now() };
  const rumorMs = await waitFor('the rumor reaches every member', () => {
    const heard = peers.lines.filter((l) => l.event === 'rumor' && l.rumor === origin_);
    return heard.length >= n ? Math.max(...heard.map((l) => l.latency_ms)) : undefined;
  }, 120_000);
  // The rumor's 10 s (its spread and the records of who heard it).
  await sleep(Math.max(0, rumor0.at + 10_000 - Date.now()));
  const rumorBs = (await relayed() - rumor0.bytes) / ((Date.now() - rumor0.at) / 1000);
  starter.process.kill('SIGTERM');
  const health = await (await fetch(`${server.url}health`)).json();
  const seconds = (Date.now() - t0) / 1000;
  const { cpu, rss } = usage(server.process.pid);
  peers.process.kill('SIGTERM');
  const summary = await waitFor('the summary', () => peers.lines.find((l) => l.event === 'summary'), 20_000);
  server.process.kill();
  const figures = health.room[room];
  return {
    n,
    converged,
    rumorMs,
    links: figures.links_per_member,
    relayKBs: figures.relay_bytes / 1024 / seconds,
    idleKBs: idleBs / 1024,
    rumorKBs: rumorBs / 1024,
    cpu: (100 * (cpu - cpu0)) / seconds,
    rss,
    theory: summary.theory,
    seconds,
    // The counters that signal trouble, over every member: zero in an honest room.
    malformed: summary.malformed,
    refused: summary.refused,
  };
}

/** The median of each figure over `all` (runs of one size), with the times' ranges. */
function medians(all) {
  const med = (f) => {
    const xs = all.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)];
  };
  const range = (f) => [Math.min(...all.map(f)), Math.max(...all.map(f))];
  return {
    n: all[0].n,
    converged: med((r) => r.converged),
    convergedRange: range((r) => r.converged),
    rumorMs: med((r) => r.rumorMs),
    rumorRange: range((r) => r.rumorMs),
    links: { min: med((r) => r.links.min), median: med((r) => r.links.median), max: med((r) => r.links.max) },
    relayKBs: med((r) => r.relayKBs),
    idleKBs: med((r) => r.idleKBs),
    rumorKBs: med((r) => r.rumorKBs),
    cpu: med((r) => r.cpu),
    rss: med((r) => r.rss),
    theory: all[0].theory,
    runs: all.length,
    median: true,
  };
}

const rows = [];
for (const n of sizes.length ? sizes : [60, 200]) {
  const all = [];
  for (let run = 1; run <= runs; run++) {
    const r = await measure(n);
    all.push(r);
    console.error(JSON.stringify({ ...r, run }));
  }
  const m = medians(all);
  rows.push(m);
  console.error(JSON.stringify(m));
}
/** Seconds, with the range over the runs when there were several. */
const seconds = (ms, [lo, hi]) => (runs > 1
  ? `${(ms / 1000).toFixed(1)} s (${(lo / 1000).toFixed(1)}–${(hi / 1000).toFixed(1)})`
  : `${(ms / 1000).toFixed(1)} s`);
const date = new Date().toISOString().slice(0, 10);
const each = runs > 1 ? `; medians of ${runs} runs, the times' ranges in brackets` : '';
console.log(`Measured ${date} on this machine (\`node e2e/bench-live.mjs\`): native members over the relay, interval 500 ms, fanout 1, links up to 12 (asks for 8)${each}.\n`);
console.log('| members | all list all | theory (SWIM dissemination) | rumor to all | theory (push) | links per member min / median / max | relay | relay idle (per member) | relay in a rumor (per member) | server CPU | server memory |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.n} | ${seconds(r.converged, r.convergedRange)} | ${(r.theory.membership_ms / 1000).toFixed(1)} s | ${seconds(r.rumorMs, r.rumorRange)} | ${(r.theory.rumor_ms / 1000).toFixed(1)} s | ${r.links.min} / ${r.links.median} / ${r.links.max} | ${r.relayKBs.toFixed(0)} KiB/s | ${r.idleKBs.toFixed(0)} KiB/s (${(1024 * r.idleKBs / r.n).toFixed(0)} B/s) | ${r.rumorKBs.toFixed(0)} KiB/s (${(1024 * r.rumorKBs / r.n).toFixed(0)} B/s) | ${r.cpu.toFixed(0)} % of a core | ${r.rss.toFixed(0)} MB |`);
}
