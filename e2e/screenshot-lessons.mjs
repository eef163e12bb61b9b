// The README's lesson screenshots: the list, chapter 1 played by hand, chapter 3's guess
// beside the measurement, and a lesson at phone width.
//   node e2e/screenshot-lessons.mjs [out-dir]
import { start } from './browser.mjs';

const dir = process.argv[2] ?? new URL('../docs/', import.meta.url).pathname;
const env = await start();
const errors = [];
async function open(query, viewport = { width: 1280, height: 800 }) {
  const page = await env.browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${env.url}${query}`);
  await page.getByTestId('lesson').waitFor();
  return page;
}

const list = await open('?lesson=0');
await list.screenshot({ path: `${dir}lesson-list.png` });

const one = await open('?lesson=1&step=2');
const canvas = one.getByTestId('network');
const box = await canvas.boundingBox();
// Click around the circle until everyone knows (node 0 is at the top).
for (let k = 0; k < 40; k++) {
  const next = await one.getByTestId('lesson-next').isEnabled();
  if (next) break;
  const a = -Math.PI / 2 + (2 * Math.PI * (1 + (k * 5) % 15)) / 16;
  const r = box.width * 0.42;
  await canvas.click({ position: { x: box.width / 2 + r * Math.cos(a), y: box.height / 2 + r * Math.sin(a) } });
}
await one.screenshot({ path: `${dir}lesson-1.png` });

const three = await open('?lesson=3&step=2');
await three.getByTestId('lesson-guess').fill('40');
await three.getByTestId('lesson-check').click();
await three.getByTestId('lesson-result').waitFor();
await three.getByTestId('lesson-next').click();
await three.waitForFunction(() => !document.querySelector('[data-testid=lesson-next]').disabled, null, { timeout: 60000 });
await three.getByTestId('lesson-next').click();
await three.getByTestId('lesson-runs').click();
await three.waitForTimeout(300);
await three.screenshot({ path: `${dir}lesson-3.png` });

const phone = await open('?lesson=6&step=4', { width: 390, height: 844 });
await phone.waitForTimeout(300);
await phone.screenshot({ path: `${dir}lesson-phone.png`, fullPage: true });

await env.close();
if (errors.length) throw new Error(errors.join('\n'));
console.log(`wrote ${dir}lesson-{list,1,3,phone}.png`);
