// The README's screenshot: a finished run as the ghost, a new run a few rounds in.
//   node e2e/screenshot.mjs [out.png]
import { start, openPage } from './browser.mjs';

const out = process.argv[2] ?? new URL('../docs/screenshot.png', import.meta.url).pathname;
const env = await start();
const page = await openPage(env.browser, `${env.url}?nodes=250&fanout=1&loss=0.1&seed=7&speed=0`);
await page.getByTestId('play').click();
await page.waitForFunction(() => document.querySelector('[data-testid=play]').textContent.includes('Replay'));
await page.getByTestId('fanout').fill('2');
await page.getByTestId('reset').click();
for (let i = 0; i < 6; i++) await page.getByTestId('step').click();
await page.waitForTimeout(200);
await page.screenshot({ path: out });
if (page.errors.length) throw new Error(page.errors.join('\n'));
console.log(`wrote ${out}`);
await env.close();
