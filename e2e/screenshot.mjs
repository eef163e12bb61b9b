// The README's screenshots: a finished run as the ghost, a new run a few rounds in; and the
// protocol lab's SWIM matrix during a split brain.
//   node e2e/screenshot.mjs [out.png [lab.png]]
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

const labOut = process.argv[3] ?? new URL('../docs/screenshot-lab.png', import.meta.url).pathname;
const lab = await openPage(env.browser, `${env.url}?protocol=swim&nodes=200&seed=3&scenario=split-brain&inspect=12`);
await lab.getByTestId('lab-timeline').scrollIntoViewIfNeeded();
const bar = await lab.getByTestId('lab-timeline').boundingBox();
await lab.mouse.click(bar.x + bar.width * 0.3, bar.y + bar.height / 2);
await lab.evaluate(() => window.scrollTo(0, 0));
await lab.waitForFunction(() => parseFloat(document.querySelector('[data-testid=lab-time]').textContent) > 25);
await lab.waitForTimeout(200);
await lab.screenshot({ path: labOut });
if (lab.errors.length) throw new Error(lab.errors.join('\n'));
console.log(`wrote ${labOut}`);
await env.close();
