// The rogue-peer suite: three honest students' tabs (three Chromium profiles) and a hostile
// member (cli/examples/rogue.rs, a real member of the room with a key of its own, linked to
// every tab over the server's relay). Each attack is replayed against the real tabs and the
// real server; each must be refused, counted (the tabs' `live-refused` counters, the server's
// `/health`), and leave the honest tabs' views and data as they were. Runs in the loopback
// namespace with the other live tests (scripts/test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { serveDist, CHROMIUM_ARGS, CLI } from './browser.mjs';
import { liveChromium, liveTab, until, memberStatus, rumorIds, sleep } from './live.mjs';

const ROGUE = CLI.replace(/grapevine$/, 'examples/rogue');

let server;
const browsers = [];
before(async () => { server = await serveDist(); });
after(async () => {
  for (const b of browsers) await b.close();
  server?.process.kill();
});

/** Runs the rogue with `args`; resolves to its JSON lines once it exits. */
function rogue(args) {
  const child = spawn(ROGUE, ['--url', server.url, '--room', 'class', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l)));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done(lines) : fail(new Error(`rogue exited ${code}`))));
  });
}

const health = async () => (await fetch(new URL('/health', server.url))).json();
const kvValue = (t, key) => t.locator(`[data-testid=kv-entry][data-key=${key}]`).getAttribute('data-value').catch(() => null);
const refusals = (t) => t.locator('[data-testid=live-refused-reason]').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.dataset.reason, Number(e.textContent.split(' ').pop())])));
const memberRows = (t) => t.locator('[data-testid=member]').count();

async function write(tab, key, value) {
  await tab.getByTestId('kv-key').fill(key);
  await tab.getByTestId('kv-value').fill(value);
  await tab.getByTestId('kv-set').click();
}

test('a rogue member forges news, rumors, writes and members, floods, takes ids, storms joins: refused, counted, and the class undisturbed', async () => {
  const origin = server.url.replace(/\/$/, '');
  const url = `${server.url}?live=class`;
  const tabs = [];
  for (let i = 0; i < 3; i++) {
    // One profile each (separate sessionStorage, separate keys), as three students' laptops.
    const { browser, context } = await liveChromium(origin);
    browsers.push(browser);
    tabs.push(await liveTab(context, url));
  }
  const [a, victim, c] = tabs;
  await until('the three tabs list each other alive', async () => {
    for (const t of tabs) {
      for (const o of tabs) {
        if (o !== t && (await memberStatus(t, o.id)) !== 'alive') return false;
      }
    }
    return true;
  });
  await write(victim, 'color', 'green');
  await until('the victim\'s write reaches every tab', async () => (await Promise.all(tabs.map((t) => kvValue(t, 'color')))).every((v) => v === 'green'));
  const rumorsBefore = await Promise.all(tabs.map(rumorIds));

  // The member-level attacks, over real links.
  const lines = await rogue(['--victim', victim.id, '--seconds', '25']);
  const linked = lines.find((l) => l.linked)?.linked ?? [];
  assert.equal(linked.length, 3, `the rogue linked to every tab: ${JSON.stringify(lines.slice(0, 3))}`);
  const sent = new Set(lines.filter((l) => l.sent).map((l) => l.sent));
  for (const what of ['forged-leave-unsigned', 'forged-leave-signed-by-rogue', 'forged-death-at-last-incarnation',
    'forged-rumor-unsigned', 'forged-rumor-signed-by-rogue', 'forged-write-at-largest-version', 'fake-members', 'empty-digests', 'flood']) {
    assert.ok(sent.has(what), `the rogue sent ${what}: ${[...sent]}`);
  }
  assert.equal(lines.at(-1).unsent, 0, 'every attack went out');
  for (const t of tabs) {
    const who = t === victim ? 'the victim' : `tab ${t.id}`;
    if (t !== victim) assert.equal(await memberStatus(t, victim.id), 'alive', `${who}: the victim is alive`);
    assert.equal(await kvValue(t, 'color'), 'green', `${who}: the victim's value stands`);
    const texts = await t.locator('[data-testid=rumor]').allTextContents();
    assert.ok(texts.every((x) => !x.includes('exam is cancelled')), `${who}: no forged rumor`);
    // Three tabs and the rogue (which is a real member, with a key of its own): no fakes.
    assert.ok((await memberRows(t)) <= 4, `${who}: ${await memberRows(t)} members listed`);
    const refused = await refusals(t);
    console.log(`${who} refused ${JSON.stringify(refused)}`);
    // answer-bytes: the empty digests' answers, past what the rogue may draw.
    for (const why of ['unsigned', 'wrong-key', 'not-in-room', 'peer-rate', 'answer-bytes']) {
      assert.ok(refused[why] > 0, `${who} counted ${why}: ${JSON.stringify(refused)}`);
    }
    assert.ok(Number(await t.getByTestId('live-refused').textContent()) >= 1_500, `${who}: the fake members counted`);
  }
  // The victim's own incarnation did not run to the top, and its later writes replicate.
  await write(victim, 'color', 'blue');
  await until('the victim\'s next write reaches every tab', async () => (await Promise.all(tabs.map((t) => kvValue(t, 'color')))).every((v) => v === 'blue'));
  assert.deepEqual((await Promise.all(tabs.map(rumorIds))).map((r) => r.length), rumorsBefore.map((r) => r.length));

  // Taking a tab's id without its key.
  const [taken] = await rogue(['--take-id', a.id]);
  assert.equal(taken.closed, 4403, JSON.stringify(taken));
  assert.match(taken.reason, /not this peer id's/);
  // A join storm from one address: cut to the join rate, never announced to the room.
  // (The burst is --max-peers-per-ip, 300: a class behind one NAT joins at once.)
  const [storm] = await rogue(['--storm', '1000']);
  assert.ok(storm.refused_429 >= 600, JSON.stringify(storm));
  // A page of another site.
  const other = await serveDist();
  try {
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS });
    browsers.push(browser);
    const page = await browser.newPage();
    await page.goto(other.url);
    const got = await page.evaluate(async (ws) => new Promise((done) => {
      const s = new WebSocket(ws);
      s.onmessage = () => done('message');
      s.onclose = () => done('closed');
    }), `ws://127.0.0.1:${new URL(server.url).port}/signal?room=class&peer=${a.id}`);
    assert.equal(got, 'closed', 'a page of another origin gets nothing');
  } finally {
    other.process.kill();
  }
  await sleep(500);
  const h = await health();
  console.log(`server refused ${JSON.stringify(h.refused)}`);
  assert.ok(h.refused.unproven >= 1, JSON.stringify(h.refused));
  assert.ok(h.refused['join-rate'] >= 600, JSON.stringify(h.refused));
  assert.ok(h.refused.origin >= 1, JSON.stringify(h.refused));
  // And the class is as it was: every honest tab connected and alive for the others.
  for (const t of tabs) {
    for (const o of tabs) {
      if (o !== t) assert.equal(await memberStatus(t, o.id), 'alive', `${t.id} sees ${o.id}`);
    }
    assert.deepEqual(t.errors, [], `no page errors in ${t.id}`);
  }
  assert.equal(h.room.class.peers, 3, JSON.stringify(h.room.class));
});
