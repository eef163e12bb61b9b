// The README's conducted-room screenshot: the conductor's tab mid-rumor, with two student
// tabs and 14 native members. Needs real WebRTC on loopback, so it runs in the namespace:
//   unshare -rn sh -c 'ip link set lo up && exec node e2e/screenshot-room.mjs [out.png]'
import { serveDist } from './browser.mjs';
import { liveChromium, liveTab, nativePeers, until, sleep } from './live.mjs';

const out = process.argv[2] ?? new URL('../docs/screenshot-room.png', import.meta.url).pathname;
const server = await serveDist(0, ['--conductor-token', 'teach-1234']);
const origin = server.url.replace(/\/$/, '');
const peers = nativePeers(origin, 'class', ['--count', '14', '--links', '4']);
const { browser, context } = await liveChromium(origin);
const teacher = await liveTab(context, `${server.url}?live=class&conductor=teach-1234`);
const student = await liveTab(context, `${server.url}?live=class`);
await liveTab(context, `${server.url}?live=class`);
await teacher.setViewportSize({ width: 1280, height: 800 });
await teacher.getByTestId('conductor-panel').waitFor({ timeout: 10_000 });
await until('every member drawn', async () => (await teacher.locator('[data-testid=room-node]').count()) === 17, 30_000);
await sleep(3_000);
await teacher.getByTestId('conductor-fanout').fill('1');
await teacher.locator('[data-testid=conductor-interval]').selectOption('1000');
await teacher.getByTestId('conductor-apply').click();
await teacher.getByTestId('conductor-ask').click();
await student.getByTestId('guess').fill('6');
await student.getByTestId('guess-submit').click();
await sleep(1_500);
const natives = [...peers.ids()];
await teacher.locator(`[data-testid=room-node][data-peer="${natives[0]}"]`).click();
await teacher.getByTestId('rumor-text').fill('the quiz is moved to Friday');
await teacher.getByTestId('conductor-rumor-at').click();
await until('half the room informed', async () => {
  const [n, m] = (await teacher.getByTestId('room-informed').textContent()).match(/\d+/g).map(Number);
  return n >= m / 2;
}, 20_000);
await teacher.evaluate(() => window.scrollTo(0, 0));
await sleep(300);
await teacher.screenshot({ path: out });
if (teacher.errors.length) throw new Error(teacher.errors.join('\n'));
console.log(`wrote ${out}`);
await browser.close();
peers.process.kill('SIGTERM');
server.process.kill();
process.exit(0);
