import { start, openPage } from '/work/main/e2e/browser.mjs';
const [query, out, steps = '0', w = '1280', h = '800'] = process.argv.slice(2);
const env = await start();
const page = await openPage(env.browser, env.url + query, { width: Number(w), height: Number(h) });
for (let i = 0; i < Number(steps); i++) { await page.getByTestId('step').click(); await page.waitForTimeout(30); }
await page.waitForTimeout(200);
await page.screenshot({ path: out, fullPage: true });
console.log('errors', page.errors);
await env.close();
