// The README's screenshot of the compare panel: push, pull and push-pull against the fanout
// on 1,000 nodes, 20 runs a point.
//   node e2e/screenshot-compare.mjs [out.png]
import { start } from './browser.mjs';

const out = process.argv[2] ?? new URL('../docs/compare.png', import.meta.url).pathname;
const env = await start();
const page = await env.browser.newPage({ viewport: { width: 1100, height: 800 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
await page.goto(`${env.url}?nodes=1000&seed=7&compare=fanout:1..4&series=protocol:push,pull,pushpull&runs=20`);
await page.getByTestId('compare-csv').waitFor({ timeout: 120_000 });
await page.screenshot({ path: out, fullPage: true });
if (errors.length) throw new Error(errors.join('\n'));
console.log(`wrote ${out}`);
await env.close();
