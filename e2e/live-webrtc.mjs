// Live mode over real WebRTC: real Chromium tabs, real data channels, the real signaling
// server. Runs inside a loopback-only network namespace (scripts/test:
// unshare -rn sh -c 'ip link set lo up && node --test e2e/live-webrtc.mjs'), so ICE candidates
// are 127.0.0.1 and nothing leaves the machine. Prints the figures the README reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { serveDist } from './browser.mjs';
import { liveChromium, liveFirefox, liveTab, peerCount, until, spread, memberStatus, nativePeers } from './live.mjs';

let server;
const browsers = [];
before(async () => { server = await serveDist(); });
after(async () => {
  for (const b of browsers) await b.close();
  server?.process.kill();
});

const origin = () => server.url.replace(/\/$/, '');

async function browser() {
  const b = await liveChromium(origin());
  browsers.push(b.browser);
  return b;
}

test('six tabs of one browser: a mesh, a rumor to all, a closed tab detected, a rumor through 30 % loss', async () => {
  const { context } = await browser();
  const url = `${server.url}?live=six`;
  const t0 = Date.now();
  const tabs = [];
  for (let i = 0; i < 6; i++) tabs.push(await liveTab(context, url));
  const opened = Date.now() - t0;
  await until('every tab connects to the five others', async () => (await Promise.all(tabs.map(peerCount))).every((c) => c === 5));
  const mesh = Date.now() - t0;
  const { ms, id } = await spread(tabs[2], tabs, 'hello six');
  const origin = tabs[2].id;
  for (const t of tabs) {
    const row = t.locator(`[data-testid=rumor][data-rumor-id="${id}"]`);
    assert.equal(await row.getAttribute('data-origin'), origin);
    const hops = Number(await row.getAttribute('data-hops'));
    assert.ok(t === tabs[2] ? hops === 0 : hops >= 1, `hops ${hops}`);
  }
  console.log(`6 tabs: opened in ${opened} ms, full mesh ${mesh} ms after the first opened; rumor to all 6 in ${ms} ms (interval 500 ms)`);

  // A closed tab: its peers learn at once (on pagehide it tells every linked peer it leaves,
  // then closes its channels).
  const closed = tabs.pop();
  const t1 = Date.now();
  await closed.close({ runBeforeUnload: true });
  await until('the others see the closed tab as left', async () => {
    const s = await Promise.all(tabs.map((t) => memberStatus(t, closed.id)));
    return s.every((x) => x === 'left');
  });
  console.log(`closed tab seen by all 5 in ${Date.now() - t1} ms`);
  await until('peer counts drop to 4', async () => (await Promise.all(tabs.map(peerCount))).every((c) => c === 4));

  // 30 % of messages dropped on send, in every tab.
  for (const t of tabs) await t.getByTestId('live-loss').fill('30');
  const lossy = await spread(tabs[0], tabs, 'through the loss');
  const dropped = await Promise.all(tabs.map(async (t) => Number(await t.getByTestId('live-dropped').textContent())));
  assert.ok(dropped.every((d) => d > 0), `every tab dropped some: ${dropped}`);
  console.log(`with 30 % loss: rumor to all 5 in ${lossy.ms} ms`);
  for (const t of tabs) assert.deepEqual(t.errors, []);
});

test('key-value: concurrent writes in two tabs converge to the same state everywhere', async () => {
  const { context } = await browser();
  const url = `${server.url}?live=kv`;
  const tabs = [];
  for (let i = 0; i < 4; i++) tabs.push(await liveTab(context, url));
  await until('mesh', async () => (await Promise.all(tabs.map(peerCount))).every((c) => c === 3));
  for (const [t, v] of [[tabs[0], 'red'], [tabs[3], 'blue']]) {
    await t.getByTestId('kv-key').fill('color');
    await t.getByTestId('kv-value').fill(v);
  }
  await Promise.all([tabs[0].getByTestId('kv-set').click(), tabs[3].getByTestId('kv-set').click()]);
  const entry = (t) => t.locator('[data-testid=kv-entry][data-key=color]').getAttribute('data-value').catch(() => null);
  await until('all replicas read the same value', async () => {
    const values = await Promise.all(tabs.map(entry));
    return values.every((v) => v && v === values[0]);
  });
  const value = await entry(tabs[1]);
  assert.ok(['red', 'blue'].includes(value));
});

test('a duplicated tab (its key copied with sessionStorage) notices the original over BroadcastChannel and joins with a new id', async () => {
  const { context } = await browser();
  const room = 'copied';
  const original = await liveTab(context, `${server.url}?live=${room}`);
  const key = `grapevine.live.${room}.key`;
  const secret = await original.evaluate((k) => sessionStorage.getItem(k), key);
  assert.ok(secret, 'the original keeps its key in sessionStorage');
  // What "Duplicate tab" does: a new tab with a copy of the original's sessionStorage.
  const copy = await context.newPage();
  await copy.goto(server.url);
  await copy.evaluate(([k, v]) => sessionStorage.setItem(k, v), [key, secret]);
  await copy.goto(`${server.url}?live=${room}`);
  await copy.getByTestId('peer-id').waitFor();
  await copy.locator('[data-testid=server-state][data-state=connected]').waitFor({ timeout: 15_000 });
  const copyId = await copy.getByTestId('peer-id').textContent();
  assert.notEqual(copyId, original.id, 'the copy drew a new id');
  assert.notEqual(await copy.evaluate((k) => sessionStorage.getItem(k), key), secret, 'and keeps its new key');
  await until('both are in the room, each listing the other', async () =>
    (await memberStatus(original, copyId)) === 'alive' && (await memberStatus(copy, original.id)) === 'alive', 15_000);
  assert.equal(await original.locator('[data-testid=server-state]').getAttribute('data-state'), 'connected', 'the original was not displaced');
  // A reload is not a copy: the same tab comes back with its own id.
  await original.reload();
  await original.locator('[data-testid=server-state][data-state=connected]').waitFor({ timeout: 15_000 });
  assert.equal(await original.getByTestId('peer-id').textContent(), original.id);
});

/** The local ports of this machine's open connections to `port` (the client ends). */
function clientPorts(port) {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( dport = :${port} )`]).toString();
  return out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[2]?.split(':').pop()).filter(Boolean);
}

test('a phone that sleeps (page frozen, its socket dead, the server not yet aware) wakes as the same member', async () => {
  // Its own server: pings every 100 s (--idle-secs 300), so the server cannot notice the dead
  // socket (its next write would be refused) before the phone wakes.
  const sleepy = await serveDist(0, ['--idle-secs', '300']);
  const url = sleepy.url;
  const port = new URL(url).port;
  const room = 'sleepy';
  const others = nativePeers(url.replace(/\/$/, ''), room, ['--count', '2']);
  try {
    const { browser: deskBrowser, context: desk } = await liveChromium(url.replace(/\/$/, ''));
    browsers.push(deskBrowser);
    const awake = await liveTab(desk, `${url}?live=${room}`);
    await until('two native members', async () => others.ids().size === 2, 15_000);
    const before = clientPorts(port);
    // The phone: another browser (its own BroadcastChannel), so only the server and links join it.
    const { browser: phoneBrowser, context: phoneContext } = await liveChromium(url.replace(/\/$/, ''));
    browsers.push(phoneBrowser);
    const phone = await liveTab(phoneContext, `${url}?live=${room}`);
    const allAlive = async () => {
      const s = others.statuses();
      return (await memberStatus(awake, phone.id)) === 'alive' && [...others.ids()].every((n) => s.get(n)?.get(phone.id) === 'alive');
    };
    await until('everyone lists the phone alive', allAlive, 20_000);
    const phoneConnections = clientPorts(port).filter((p) => !before.includes(p));
    assert.ok(phoneConnections.length > 0, 'the phone holds a connection to the server');
    // Asleep: the page frozen through the DevTools protocol (its JavaScript paused: no timer, no
    // event handled; headless Chromium ignores Page.setWebLifecycleState for a page it shows),
    // and its connections destroyed without a
    // word to the server: everything from their ends is dropped while the phone sleeps (the
    // reset as they go, and the resets answering the server's writes), as when a phone's
    // radio is off.
    const cdp = await phoneContext.newCDPSession(phone);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    execFileSync('nft', ['add', 'table', 'inet', 'asleep']);
    execFileSync('nft', ['add', 'chain', 'inet', 'asleep', 'out', '{ type filter hook output priority -10; policy accept; }']);
    for (const p of phoneConnections) execFileSync('nft', ['add', 'rule', 'inet', 'asleep', 'out', 'tcp', 'sport', p, 'drop']);
    for (const p of phoneConnections) execFileSync('ss', ['-K', 'src', '127.0.0.1', 'sport', '=', `:${p}`]);
    // A few seconds asleep: the others stop hearing from it and suspect it (SWIM).
    const suspected = await until('the others suspect the sleeping phone', async () => (await memberStatus(awake, phone.id)) !== 'alive', 15_000);
    const health = await (await fetch(`${url}health`)).json();
    assert.equal(health.room[room].peers, 4, `the server still holds the phone's old connection: ${JSON.stringify(health.room[room])}`);
    await cdp.send('Debugger.resume');
    const w0 = Date.now();
    // It finds its socket dead, reconnects (1 s), proves its key, and takes its id back from
    // the old connection the server still held; then refutes the suspicion.
    await until('the phone reconnects', async () => sleepy.log.some((l) => l.includes(`peer ${phone.id} came back to room ${room}`)), 10_000);
    execFileSync('nft', ['delete', 'table', 'inet', 'asleep']);
    assert.equal(await phone.getByTestId('peer-id').textContent(), phone.id, 'the same id after the sleep');
    await until('the phone is alive again for all', allAlive, 20_000);
    console.log(`phone suspected ${suspected} ms into its sleep; alive again for all ${Date.now() - w0} ms after waking`);
    assert.ok(sleepy.log.some((l) => l.includes(`peer ${phone.id} came back to room ${room}`)), 'the server saw the same member take its id back');
    const after = await (await fetch(`${url}health`)).json();
    assert.equal(after.room[room].peers, 4, JSON.stringify(after.room[room]));
    assert.deepEqual(phone.errors, []);
  } finally {
    try { execFileSync('nft', ['delete', 'table', 'inet', 'asleep'], { stdio: 'ignore' }); } catch { /* deleted */ }
    others.process.kill('SIGTERM');
    sleepy.process.kill();
  }
});

test('two browsers meet through grapevine serve; the mesh survives a server restart; new tabs join after it', async () => {
  const a = await browser();
  const b = await browser();
  const url = `${server.url}?live=two`;
  const ta = await liveTab(a.context, url);
  const tb = await liveTab(b.context, url);
  const ms = await until('the two browsers connect', async () => (await peerCount(ta)) === 1 && (await peerCount(tb)) === 1);
  console.log(`2 Chromium instances connected through the server in ${ms} ms`);
  await spread(ta, [ta, tb], 'across browsers');

  // The server goes away: the existing link keeps working.
  const port = new URL(server.url).port;
  server.process.kill();
  await until('the tabs notice the server is gone', async () => (await ta.locator('.hint').first().textContent()).includes('retrying'));
  await spread(tb, [ta, tb], 'without the server');
  // It comes back on the same port: a third browser joins the room through it.
  server = await serveDist(port);
  const c = await browser();
  const tc = await liveTab(c.context, `${server.url}?live=two`);
  await until('the newcomer connects to both', async () => (await peerCount(tc)) === 2, 40_000);
  await spread(tc, [ta, tb, tc], 'after the restart');
});

test('Chromium and Firefox ESR gossip in one room', async () => {
  const c = await browser();
  const f = await liveFirefox();
  browsers.push(f.browser);
  const url = `${server.url}?live=mixed`;
  const tabs = [await liveTab(c.context, url), await liveTab(f.context, url), await liveTab(f.context, url)];
  const ms = await until('Chromium and two Firefox tabs connect', async () => (await Promise.all(tabs.map(peerCount))).every((n) => n === 2));
  console.log(`Chromium + 2 Firefox ESR tabs: mesh in ${ms} ms`);
  await spread(tabs[1], tabs, 'from firefox');
  await spread(tabs[0], tabs, 'from chromium');
  for (const t of tabs) assert.deepEqual(t.errors, []);
});

test('a misbehaving peer: garbage on the data channel is counted and dropped, and the tab gossips on', async () => {
  const { context } = await browser();
  const url = `${server.url}?live=bad`;
  const victim = await liveTab(context, url);
  const friend = await liveTab(context, url);
  await until('mesh', async () => (await peerCount(victim)) === 1);
  // A hand-written peer in a third tab of the same origin: it speaks the BroadcastChannel
  // signaling, opens a data channel with the victim, and sends bytes no honest node sends.
  const rogue = await context.newPage();
  await rogue.goto(`${server.url}health`);
  const sent = await rogue.evaluate(async ({ room, victim }) => {
    const me = '0000000000000001'; // The smallest id: the rogue makes the offer.
    const bc = new BroadcastChannel(`grapevine-live/${room}`);
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('gossip', { negotiated: true, id: 0 });
    dc.binaryType = 'arraybuffer';
    pc.onicecandidate = (e) => { if (e.candidate) bc.postMessage({ kind: 'signal', from: me, to: victim, data: { candidate: e.candidate.toJSON() } }); };
    bc.onmessage = async (e) => {
      const m = e.data;
      if (m.kind !== 'signal' || m.to !== me || m.from !== victim) return;
      if (m.data.sdp) await pc.setRemoteDescription(m.data.sdp);
      if (m.data.candidate) await pc.addIceCandidate(m.data.candidate).catch(() => {});
    };
    bc.postMessage({ kind: 'hello', from: me });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    bc.postMessage({ kind: 'signal', from: me, to: victim, data: { sdp: { type: 'offer', sdp: offer.sdp } } });
    await new Promise((ok, fail) => { dc.onopen = ok; setTimeout(() => fail(new Error('no channel')), 10000); });
    const frames = [
      new Uint8Array([1, 2, 3, 4, 5]),
      new Uint8Array([99, 0, 0]),
      new Uint8Array(20000),
      new Uint8Array([1, 255, 255, 255, 255, 255]),
    ];
    for (const f of frames) dc.send(f);
    dc.send('a text frame');
    return frames.length + 1;
  }, { room: 'bad', victim: victim.id });
  await until('the victim counts every bad frame', async () => Number(await victim.getByTestId('live-malformed').textContent()) >= sent);
  await spread(victim, [victim, friend], 'still fine');
  assert.deepEqual(victim.errors, []);
});

test('eight tabs: how long the mesh, a rumor, and the detection of a closed and of a crashed tab take', async () => {
  const { context } = await browser();
  const url = `${server.url}?live=eight`;
  const tabs = await Promise.all(Array.from({ length: 8 }, () => liveTab(context, url)));
  const mesh = await until('8-tab mesh', async () => (await Promise.all(tabs.map(peerCount))).every((c) => c === 7));
  const { ms } = await spread(tabs[0], tabs, 'eight');
  // Push, fanout 1, interval 500 ms: synchronous rounds expect log2 8 + ln 8 = 5.1 rounds
  // (2.6 s); in continuous time a little less (core/tests/lab_sim.rs).
  const closed = tabs.pop();
  let t0 = Date.now();
  await closed.close({ runBeforeUnload: true });
  await until('closed tab seen as left', async () => (await Promise.all(tabs.map((t) => memberStatus(t, closed.id)))).every((s) => s === 'left'));
  const closedMs = Date.now() - t0;
  const crashed = tabs.pop();
  t0 = Date.now();
  await crashed.goto('chrome://crash').catch(() => {});
  const suspectMs = await until('crashed tab suspected by all', async () => (await Promise.all(tabs.map((t) => memberStatus(t, crashed.id)))).every((s) => s === 'suspect' || s === 'dead'), 30_000);
  await until('crashed tab dead for all', async () => (await Promise.all(tabs.map((t) => memberStatus(t, crashed.id)))).every((s) => s === 'dead'), 30_000);
  const deadMs = Date.now() - t0;
  console.log(`8 tabs: mesh ${mesh} ms after all opened; rumor to all 8 in ${ms} ms (interval 500 ms × 5.1 expected rounds = 2.6 s); closed tab seen by the other 7 in ${closedMs} ms; crashed tab suspected by all 6 in ${suspectMs} ms, dead for all in ${deadMs} ms`);
});
