// Live mode at classroom scale and on a network that blocks peer-to-peer traffic: real
// Chromium and Firefox ESR, the real server, native peers (`grapevine peer`). Runs inside a
// loopback-only network namespace (scripts/test), where nftables drops every UDP packet and
// every new TCP connection but those to the server's port: the school Wi-Fi that isolates
// clients. Prints the figures the README reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { serveDist } from './browser.mjs';
import {
  liveChromium, liveFirefox, liveTab, peerCount, until, spread, memberStatus, nativePeers, rumorIds,
} from './live.mjs';

let server;
const browsers = [];
const natives = [];
before(async () => { filter(); server = await serveDist(); });
after(async () => {
  try { nft('delete', 'table', 'inet', 'grapevine'); } catch { /* none */ }
  for (const n of natives) n.process.kill('SIGKILL');
  for (const b of browsers) await b.close();
  server?.process.kill();
});

const origin = () => server.url.replace(/\/$/, '');
const port = () => new URL(server.url).port;

async function chromiumBrowser() {
  const b = await liveChromium(origin());
  browsers.push(b.browser);
  return b;
}

function nft(...args) { return execFileSync('nft', args); }

/** The filter, open: connection tracking starts now, before any browser connects, so that
 * connections made before the block (Playwright's to Firefox) are known as established and
 * kept (connections that predate the tracking are not recognised in a new namespace). */
function filter() {
  nft('add', 'table', 'inet', 'grapevine');
  nft('add', 'chain', 'inet', 'grapevine', 'out', '{ type filter hook output priority 0; policy accept; }');
  nft('add', 'rule', 'inet', 'grapevine', 'out', 'ct', 'state', 'established,related', 'accept');
}

/** Only the server is reachable: UDP dropped, new TCP connections dropped but to and from the
 * server's port (connections already open stay). */
function block() {
  nft('add', 'rule', 'inet', 'grapevine', 'out', 'meta', 'l4proto', 'udp', 'drop');
  nft('add', 'rule', 'inet', 'grapevine', 'out', 'tcp', 'dport', port(), 'accept');
  nft('add', 'rule', 'inet', 'grapevine', 'out', 'tcp', 'sport', port(), 'accept');
  nft('add', 'rule', 'inet', 'grapevine', 'out', 'meta', 'l4proto', 'tcp', 'drop');
}

function unblock() {
  try {
    nft('flush', 'chain', 'inet', 'grapevine', 'out');
    nft('add', 'rule', 'inet', 'grapevine', 'out', 'ct', 'state', 'established,related', 'accept');
  } catch { /* no filter */ }
}

/** The transports of `page`'s link rows. */
const transports = (page) => page.locator('[data-testid=link]').evaluateAll((rows) => rows.map((r) => r.dataset.transport));

/** How many members `page` lists with `status` (itself included when alive). */
const listed = (page, status) => page.locator(`[data-testid=member][data-status=${status}]`).count();

test('peer-to-peer blocked: two Chromium instances and Firefox ESR gossip over the relay; unblocked, the same peers link directly', async () => {
  // Firefox is driven over a TCP connection: launched before the rules, which keep it.
  const f = await liveFirefox();
  browsers.push(f.browser);
  const a = await chromiumBrowser();
  const b = await chromiumBrowser();
  block();
  const url = `${server.url}?live=blocked`;
  const tabs = [await liveTab(a.context, url), await liveTab(b.context, url), await liveTab(f.context, url)];
  const ms = await until('every pair links over the relay', async () => {
    const all = await Promise.all(tabs.map(transports));
    return all.every((t) => t.length === 2 && t.every((x) => x === 'relay'));
  }, 30_000);
  await until('the links are ready', async () => (await Promise.all(tabs.map(peerCount))).every((n) => n === 2));
  console.log(`blocked network: 2 Chromium + Firefox ESR linked over the relay in ${ms} ms`);
  const rumor = await spread(tabs[2], tabs, 'over the relay');
  console.log(`rumor from Firefox to all 3 over the relay in ${rumor.ms} ms`);
  await tabs[0].getByTestId('kv-key').fill('room');
  await tabs[0].getByTestId('kv-value').fill('relayed');
  await tabs[0].getByTestId('kv-set').click();
  const entry = (t) => t.locator('[data-testid=kv-entry][data-key=room]').getAttribute('data-value').catch(() => null);
  await until('the write reaches every replica', async () => (await Promise.all(tabs.map(entry))).every((v) => v === 'relayed'));
  const ids = tabs.map((t) => t.id);

  unblock();
  const direct = await until('the same peers move to direct links', async () => {
    const all = await Promise.all(tabs.map(transports));
    return all.every((t) => t.length === 2 && t.every((x) => x === 'direct'));
  }, 60_000);
  console.log(`unblocked: every pair on a direct link ${direct} ms later`);
  assert.deepEqual(tabs.map((t) => t.id), ids, 'the same members');
  await spread(tabs[1], tabs, 'direct again');
  // Firefox reports each direct attempt that failed while blocked on its console; nothing
  // else may be logged as an error.
  const expected = /^WebRTC: ICE failed/;
  for (const t of tabs) assert.deepEqual(t.errors.filter((e) => !expected.test(e)), []);
});

test('3 Chromium tabs and 60 native peers (4 links each) are one membership: a rumor reaches all, a killed peer is dead and a closed tab left for all', async () => {
  const room = 'class';
  const many = nativePeers(origin(), room, ['--count', '59', '--links', '4', '--seed', '7']);
  const lone = nativePeers(origin(), room, ['--count', '1', '--links', '4', '--seed', '8']);
  natives.push(many, lone);
  const { context } = await chromiumBrowser();
  const t0 = Date.now();
  const tabs = [];
  for (let i = 0; i < 3; i++) tabs.push(await liveTab(context, `${server.url}?live=${room}`));
  const members = 63;
  const converged = await until('every tab lists all 63 members alive', async () =>
    (await Promise.all(tabs.map((t) => listed(t, 'alive')))).every((n) => n === members), 90_000);
  const nativeIds = [...many.ids(), ...lone.ids()];
  assert.equal(nativeIds.length, 60);
  await until('every native peer lists the three tabs alive', async () => {
    const s = new Map([...many.statuses(), ...lone.statuses()]);
    return nativeIds.every((n) => tabs.every((t) => s.get(n)?.get(t.id) === 'alive'));
  }, 30_000);
  console.log(`3 tabs + 60 native peers: every tab lists all 63 alive ${converged} ms after the first tab opened (${Date.now() - t0} ms in all)`);

  // A rumor from a tab: every native peer (their JSON) and every tab.
  await tabs[0].getByTestId('rumor-text').fill('to the whole class');
  const r0 = Date.now();
  await tabs[0].getByTestId('start-rumor').click();
  const id = await until('the rumor at its origin', async () => (await rumorIds(tabs[0])).length > 0)
    .then(() => tabs[0].locator('[data-testid=rumor]').first().getAttribute('data-rumor-id'));
  await until('the rumor reaches every native peer and every tab', async () =>
    many.heard(id).size === 59 && lone.heard(id).size === 1
    && (await Promise.all(tabs.map(rumorIds))).every((ids) => ids.includes(id)), 30_000);
  console.log(`rumor from a tab to all 63 in ${Date.now() - r0} ms`);

  // SIGKILL a native peer: dead for every tab and every other native peer.
  const [killed] = lone.ids();
  lone.process.kill('SIGKILL');
  const k0 = Date.now();
  await until('the killed peer is dead for all', async () => {
    const s = many.statuses();
    const tabsSee = await Promise.all(tabs.map((t) => memberStatus(t, killed)));
    return tabsSee.every((x) => x === 'dead') && [...many.ids()].every((n) => s.get(n)?.get(killed) === 'dead');
  }, 30_000);
  console.log(`killed native peer dead for all 62 in ${Date.now() - k0} ms`);

  // A tab closed: left for the other tabs and every native peer.
  const closed = tabs.pop();
  const c0 = Date.now();
  await closed.close({ runBeforeUnload: true });
  await until('the closed tab is left for all', async () => {
    const s = many.statuses();
    const tabsSee = await Promise.all(tabs.map((t) => memberStatus(t, closed.id)));
    return tabsSee.every((x) => x === 'left') && [...many.ids()].every((n) => s.get(n)?.get(closed.id) === 'left');
  }, 30_000);
  console.log(`closed tab left for all 61 in ${Date.now() - c0} ms`);
  // A tab reloaded comes back as the same member (its id kept in sessionStorage), alive again
  // for all: it refutes its own leave with a higher incarnation.
  const again = tabs[1];
  const before = again.id;
  await again.reload();
  await again.getByTestId('peer-id').waitFor();
  assert.equal(await again.getByTestId('peer-id').textContent(), before, 'the same id after a reload');
  const r1 = Date.now();
  await until('the reloaded tab is alive again for all', async () => {
    const s = many.statuses();
    return (await memberStatus(tabs[0], before)) === 'alive' && [...many.ids()].every((n) => s.get(n)?.get(before) === 'alive');
  }, 30_000);
  console.log(`reloaded tab alive again for all in ${Date.now() - r1} ms`);
  const health = await (await fetch(`${server.url}health`)).json();
  const figures = health.room[room];
  console.log(`server: ${JSON.stringify(figures)}`);
  for (const t of tabs) assert.deepEqual(t.errors, []);
  many.process.kill('SIGTERM');
});

test('through a TURN server (coturn): links show as turn', async () => {
  // coturn on loopback, its relay ports 40000-40100; UDP allowed only to and from it, so the
  // pair can meet only through TURN. coturn shares a secret with the server (its REST API
  // scheme, use-auth-secret), and the pages get a credential derived from it that expires:
  // coturn checks it, so the link forming proves the derivation.
  const turn = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    '--listening-port=3478', '--min-port=40000', '--max-port=40100', '--use-auth-secret',
    '--static-auth-secret=shared-with-grapevine', '--realm=grapevine', '--allow-loopback-peers',
    '--no-tls', '--no-dtls', '--no-cli'], { stdio: 'ignore' });
  const withTurn = await serveDist(0, ['--turn', 'turn:127.0.0.1:3478', '--turn-user', 'grapevine', '--turn-secret', 'shared-with-grapevine']);
  try {
    const p = new URL(withTurn.url).port;
    for (const rule of [
      ['udp', 'dport', '3478'], ['udp', 'sport', '3478'],
      ['udp', 'dport', '40000-40100'], ['udp', 'sport', '40000-40100'],
    ]) nft('add', 'rule', 'inet', 'grapevine', 'out', ...rule, 'accept');
    nft('add', 'rule', 'inet', 'grapevine', 'out', 'meta', 'l4proto', 'udp', 'drop');
    nft('add', 'rule', 'inet', 'grapevine', 'out', 'tcp', 'dport', p, 'accept');
    nft('add', 'rule', 'inet', 'grapevine', 'out', 'tcp', 'sport', p, 'accept');
    nft('add', 'rule', 'inet', 'grapevine', 'out', 'meta', 'l4proto', 'tcp', 'drop');
    const url = `${withTurn.url}?live=turn`;
    const a = await liveChromium(withTurn.url.replace(/\/$/, ''));
    const b = await liveChromium(withTurn.url.replace(/\/$/, ''));
    browsers.push(a.browser, b.browser);
    const tabs = [await liveTab(a.context, url), await liveTab(b.context, url)];
    const ms = await until('the pair links through TURN', async () => {
      const all = await Promise.all(tabs.map(transports));
      return all.every((t) => t.length === 1 && t[0] === 'turn');
    }, 30_000);
    console.log(`through coturn: the pair linked over TURN in ${ms} ms`);
    await spread(tabs[0], tabs, 'through turn');
  } finally {
    unblock();
    withTurn.process.kill();
    turn.kill();
  }
});
