// Minifies the JavaScript glue wasm-bindgen writes beside each wasm binary of a release build,
// in Trunk's staging folder (the argument), and rewrites the integrity (SRI) hashes index.html
// holds for the files it changed. Called by scripts/post-build before the build id and the
// precompressed copies are made.
//
// Why: Trunk's own JS minifier cannot read the glue (`export default`) and leaves it as it is
// ("Failed to minify JS" in the build's log), and the round view's glue (50 KB, 8.8 KB
// gzipped; 22 KB and 6.7 KB minified) is part of what a phone fetches before the first network
// is drawn, which e2e/parts.test.mjs holds to a budget. esbuild (npm, made for this) minifies
// without bundling: the modules keep their imports, exports and `import.meta.url`, so nothing
// else changes.
import { transformSync } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(join(dir, 'index.html'))) {
  console.error('usage: node scripts/minify-glue.mjs <Trunk staging folder with index.html>');
  process.exit(2);
}

const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
const htmlPath = join(dir, 'index.html');
let html = readFileSync(htmlPath, 'utf8');
let before = 0;
let after = 0;
for (const name of readdirSync(dir).sort()) {
  // The glue: a module beside its wasm binary (not sw.js, not the workers' loaders).
  if (!name.endsWith('.js') || !existsSync(join(dir, name.replace(/\.js$/, '_bg.wasm')))) continue;
  const path = join(dir, name);
  const source = readFileSync(path);
  const { code, warnings } = transformSync(source.toString('utf8'), {
    minify: true,
    loader: 'js',
    sourcefile: name,
  });
  for (const w of warnings) console.error(`minify-glue: ${name}: ${w.text}`);
  writeFileSync(path, code);
  // index.html names the page's own glue with its hash (a modulepreload): a stale hash would
  // make the browser refuse the module, so the old one must be there to replace.
  const old = sri(source);
  if (html.includes(old)) html = html.split(old).join(sri(code));
  else if (html.includes(name)) {
    console.error(`minify-glue: index.html names ${name} without its integrity hash ${old}`);
    process.exit(1);
  }
  before += source.length;
  after += Buffer.byteLength(code);
}
writeFileSync(htmlPath, html);
console.error(`minify-glue: glue ${before} -> ${after} bytes`);
