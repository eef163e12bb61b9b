#!/usr/bin/env node
// No import cycle between files in any crate: finds them, and fails if there is one.
//   node scripts/cycles.mjs [-v] [--no-tests] [--root DIR] [CRATE_ROOT_FILE...]
// With no CRATE_ROOT_FILE, checks every crate of the workspace at DIR (default: this repository):
// each member's src/lib.rs, src/main.rs, src/bin/*, tests/*, examples/*, benches/* and any
// target `path` its Cargo.toml names. A bin is its own crate (`grapevine_web::` is an outside
// path, not an edge). `#[cfg(test)]` modules and items count unless --no-tests. -v lists every
// file's edges. Node built-ins only: the suite runs where python3 may not be.
//
// A crate's files are found by following `mod x;` (and `#[path]`) from its root. An edge A -> B
// means a path written in A (in a `use` tree, or inline: `crate::..`, `super::..`, `self::..`,
// `child_mod::..`, `imported_name::..`) names an item defined in B. Paths are resolved item by
// item through every `use` (private ones are visible to child modules, `pub use` re-exports of
// re-exports, several globs per module, globs of globs), so `super::NodeId` lands on the file that
// defines `NodeId`, not on the mod.rs that re-exports it; a path is cut at its longest prefix
// that is a module, so `super::Kind::Push` is the item `Kind` of the parent. Naming a module alone
// (`use crate::lab;`) is no edge; what is then named through it (`lab::Millis`) is. Comments,
// strings and chars are blanked first, keeping every offset (so "http://" swallows no code).
// Ported from the Python finder the cycles were first removed with; it MUST keep that finder's
// fixes, each a way a simpler version got the graph wrong: stripping `//` before strings (an
// "http://" swallowed code), one glob re-export per module, globs resolved one level only,
// `use crate::lab;` counted as an edge to lab/mod.rs, `child::Item` paths missed
// (`registry!(swim::Spec)`), only a trailing `mod tests` block cut, bins taken for the lib crate.
// Beyond it: `#[path]` modules are followed, `mod x;` inside an inline module is looked for in
// its folder, and `const fn f`/`static mut X` define `f`/`X`. Change it by running it on a tree
// with a known cycle (any commit before bbef60f has several) and on this one.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const WORD = /[A-Za-z0-9_]/;

/** Comments, string and char contents -> spaces; newlines and every offset kept. */
function lex(src) {
  const out = [];
  const n = src.length;
  const blank = (t) => t.replace(/[^\n]/g, ' ');
  // A literal from i to j, blanked but for its quotes at q and close (so `#[path = "..."]` shows).
  const literal = (i, q, j, close, quote) => {
    const t = blank(src.slice(i, j)).split('');
    t[q - i] = quote;
    if (close > q && close < j) t[close - i] = quote;
    return t.join('');
  };
  const rawStart = /b?r(#*)"/y;
  const char = /'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^'\\\n])'/uy;
  let i = 0;
  while (i < n) {
    const c = src[i];
    const afterWord = i > 0 && WORD.test(src[i - 1]);
    let m;
    if (src.startsWith('//', i)) {
      let j = src.indexOf('\n', i);
      if (j < 0) j = n;
      out.push(' '.repeat(j - i));
      i = j;
    } else if (src.startsWith('/*', i)) {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth) {
        if (src.startsWith('/*', j)) { depth++; j += 2; }
        else if (src.startsWith('*/', j)) { depth--; j += 2; }
        else j++;
      }
      out.push(blank(src.slice(i, j)));
      i = j;
    } else if ((c === 'r' || c === 'b') && !afterWord && ((rawStart.lastIndex = i), (m = rawStart.exec(src)))) {
      const end = '"' + m[1];
      const q = i + m[0].length - 1;
      let j = src.indexOf(end, q + 1);
      j = j < 0 ? n : j + end.length;
      out.push(literal(i, q, j, j - end.length, '"'));
      i = j;
    } else if (c === '"' || (c === 'b' && src[i + 1] === '"' && !afterWord)) {
      const q = c === 'b' ? i + 1 : i;
      let j = q + 1;
      while (j < n && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      j = Math.min(j + 1, n);
      out.push(literal(i, q, j, j - 1, '"'));
      i = j;
    } else if (c === "'") {
      char.lastIndex = i;
      m = char.exec(src);
      if (m) {
        out.push(literal(i, i, i + m[0].length, i + m[0].length - 1, "'"));
        i += m[0].length;
      } else {
        out.push(c); // a lifetime
        i++;
      }
    } else {
      out.push(c);
      i++;
    }
  }
  return out.join('');
}

/** s[i] === '{'; the index after its matching '}'. */
function matchBrace(s, i) {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}' && --depth === 0) return j + 1;
  }
  return s.length;
}

/** Blanks every #[cfg(test)] item; returns [text, names of #[cfg(test)] `mod x;`]. */
function blankTests(s) {
  const testMods = new Set();
  const attr = /#\[cfg\(test\)\](?:\s*#\[[^\]]*\])*\s*/;
  const decl = new RegExp(`(?:pub(?:\\([^)]*\\))?\\s+)?mod\\s+(${IDENT})\\s*;`, 'y');
  for (let m; (m = attr.exec(s)); ) {
    const j = m.index + m[0].length;
    decl.lastIndex = j;
    const mm = decl.exec(s);
    if (mm) testMods.add(mm[1]);
    const b = s.indexOf('{', j);
    const sc = s.indexOf(';', j);
    let end = b >= 0 && (sc < 0 || b < sc) ? matchBrace(s, b) : sc + 1;
    if (end <= m.index) end = s.length;
    s = s.slice(0, m.index) + s.slice(m.index, end).replace(/[^\n]/g, ' ') + s.slice(end);
  }
  return [s, testMods];
}

/** Parses the use tree at s[i]; pushes [path, alias] to out; returns the end index. Throws on
 * anything it does not understand (that `use` is then skipped). */
function parseTree(s, i, prefix, out) {
  const at = (k) => {
    if (k >= s.length) throw new Error('end of file in a use tree');
    return s[k];
  };
  const space = (k) => /\s/.test(at(k));
  const name = new RegExp(`${IDENT}|\\*`, 'y');
  const as = new RegExp(`as\\s+(${IDENT})`, 'y');
  const path = [...prefix];
  for (;;) {
    while (space(i)) i++;
    if (at(i) === '{') {
      i++;
      for (;;) {
        while (space(i) || at(i) === ',') i++;
        if (at(i) === '}') return i + 1;
        i = parseTree(s, i, path, out);
      }
    }
    if (s.startsWith('::', i)) { i += 2; continue; } // `use ::foo`
    name.lastIndex = i;
    const m = name.exec(s);
    if (!m) throw new Error('not a use tree');
    i += m[0].length;
    while (space(i)) i++;
    if (s.startsWith('::', i)) { path.push(m[0]); i += 2; continue; }
    as.lastIndex = i;
    const m2 = as.exec(s);
    if (m2) i += m2[0].length;
    out.push([[...path, m[0]], m2 ? m2[1] : null]);
    return i;
  }
}

/** The file-level import graph of the crate whose root is `rootFile`, and its cycles. */
function checkCrate(rootFile, tests) {
  const key = (p) => p.join('::');
  const files = new Map(); // file -> cleaned text
  const modFile = new Map(); // module path key -> file (inline modules map to their file)
  const fileMod = new Map(); // file -> module path
  const inline = new Map(); // file -> [[start, end, name]], sorted by start
  const warnings = [];

  /** Inline module names enclosing offset `pos` of `file`, outermost first. */
  const enclosing = (file, pos) => inline.get(file).filter(([st, en]) => st < pos && pos < en).map(([, , name]) => name);

  const modDecl = new RegExp(`((?:#\\[[^\\]]*\\]\\s*)*)\\b(?:pub(?:\\([^)]*\\))?\\s+)?mod\\s+(${IDENT})\\s*;`, 'g');
  const pathAttr = /#\[\s*path\s*=\s*"/;
  function load(file, mp, ownsDir) {
    if (files.has(file)) return;
    const raw = readFileSync(file, 'utf8');
    let s = lex(raw);
    let testMods = new Set();
    if (!tests) [s, testMods] = blankTests(s);
    files.set(file, s);
    modFile.set(key(mp), file);
    fileMod.set(file, mp);
    const dir = ownsDir ? dirname(file) : join(dirname(file), basename(file, '.rs'));
    const spans = [];
    for (const m of s.matchAll(new RegExp(`\\bmod\\s+(${IDENT})\\s*\\{`, 'g'))) {
      const b = m.index + m[0].length - 1;
      spans.push([b, matchBrace(s, b), m[1]]);
    }
    inline.set(file, spans);
    for (const [st, , name] of spans) modFile.set(key([...mp, ...enclosing(file, st), name]), file);
    for (const m of s.matchAll(modDecl)) {
      const name = m[2];
      if (testMods.has(name)) continue;
      const outer = enclosing(file, m.index);
      const child = [...mp, ...outer, name];
      const p = pathAttr.exec(m[1]);
      if (p) {
        // `#[path = "x.rs"] mod m;`: relative to this file's folder; the file then owns its folder.
        const q = m.index + p.index + p[0].length;
        const target = raw.slice(q, s.indexOf('"', q));
        if (outer.length) warnings.push(`#[path] on mod ${name} inside an inline module in ${file} (not followed)`);
        else if (existsSync(join(dirname(file), target))) load(join(dirname(file), target), child, true);
        else warnings.push(`#[path = "${target}"] on mod ${name} in ${file}: no such file`);
        continue;
      }
      const d = join(dir, ...outer);
      const found = [join(d, `${name}.rs`), join(d, name, 'mod.rs')].find((c) => existsSync(c));
      if (found) load(found, child, basename(found) === 'mod.rs');
    }
  }
  load(rootFile, [], true);

  // ---- what each module defines and binds ----------------------------------------------------
  const defined = new Map(); // module key -> item names
  const binds = new Map(); // module key -> name -> absolute path
  const globs = new Map(); // module key -> [absolute module path]
  const get = (map, k, make) => map.get(k) ?? map.set(k, make()).get(k);
  const bindsOf = (mp) => get(binds, key(mp), () => new Map());
  const globsOf = (mp) => get(globs, key(mp), () => []);

  /** Absolute path of `segs` written in module `cur`, or null if it is not in this crate. */
  function absolute(cur, segs) {
    if (!segs.length) return null;
    if (segs[0] === 'crate' || segs[0] === '$crate') return segs.slice(1);
    if (segs[0] === 'super' || segs[0] === 'self') {
      let base = cur;
      let k = 0;
      for (; k < segs.length && (segs[k] === 'super' || segs[k] === 'self'); k++) {
        if (segs[k] === 'super') base = base.slice(0, -1);
      }
      return [...base, ...segs.slice(k)];
    }
    // 2018 paths: a child module, or a name a `use` bound in this very module
    if (modFile.has(key([...cur, segs[0]]))) return [...cur, ...segs];
    const bound = bindsOf(cur).get(segs[0]);
    return bound ? [...bound, ...segs.slice(1)] : null;
  }

  // An item's name is looked ahead, not eaten, so `const fn f` defines `f` and `static mut X`
  // defines `X`; `&'static T` defines nothing.
  const item = new RegExp(`(?<![A-Za-z0-9_'])(?:struct|enum|union|fn|const|static(?:\\s+mut)?|trait|type|mod|macro_rules!)\\s+(?=(${IDENT}))`, 'g');
  for (const [f, s] of files) {
    for (const m of s.matchAll(item)) get(defined, key([...fileMod.get(f), ...enclosing(f, m.index)]), () => new Set()).add(m[1]);
  }

  // uses, in passes so that `use child::x` and names bound by earlier uses resolve
  const rawUses = [];
  for (const [f, s] of files) {
    for (const m of s.matchAll(/(?<![A-Za-z0-9_])use\s+/g)) {
      const out = [];
      try {
        parseTree(s, m.index + m[0].length, [], out);
      } catch {
        continue;
      }
      const cur = [...fileMod.get(f), ...enclosing(f, m.index)];
      for (const [segs, alias] of out) rawUses.push({ f, cur, segs: segs.at(-1) === 'self' ? segs.slice(0, -1) : segs, alias });
    }
  }
  for (let pass = 0; pass < 3; pass++) {
    for (const { cur, segs, alias } of rawUses) {
      const a = absolute(cur, segs);
      if (!a || !a.length) continue;
      if (segs.at(-1) === '*') {
        const g = globsOf(cur);
        if (!g.some((x) => key(x) === key(a.slice(0, -1)))) g.push(a.slice(0, -1));
      } else {
        bindsOf(cur).set(alias ?? a.at(-1), a);
      }
    }
  }

  /** [file, isModule] defining absolute path `a`; null if unknown (strict). */
  function resolveItem(a, depth = 0, strict = false) {
    if (depth > 12) return null;
    let k = a.length;
    while (!modFile.has(key(a.slice(0, k)))) k--;
    const m = a.slice(0, k);
    const mk = key(m);
    if (k === a.length) return [modFile.get(mk), true];
    const [name, rest] = [a[k], a.slice(k + 1)];
    const bound = bindsOf(m).get(name);
    if (bound && key(bound) !== key(a.slice(0, k + 1))) {
      const r = resolveItem([...bound, ...rest], depth + 1, strict);
      if (r) return r;
    }
    if (defined.get(mk)?.has(name)) return [modFile.get(mk), false];
    for (const g of globsOf(m)) {
      if (key(g) === mk) continue;
      const r = resolveItem([...g, name, ...rest], depth + 1, true);
      if (r) return r;
    }
    return strict ? null : [modFile.get(mk), false];
  }

  const edges = new Map([...files.keys()].map((f) => [f, new Set()]));
  const why = new Map(); // `${from}\n${to}` -> the paths written in `from` that make the edge
  const edge = (f, t, text) => {
    if (!t || t === f) return;
    edges.get(f).add(t);
    get(why, `${f}\n${t}`, () => new Set()).add(text);
  };
  const add = (f, a, text) => {
    const r = resolveItem(a);
    if (r && !r[1]) edge(f, r[0], text);
  };
  for (const { f, cur, segs } of rawUses) {
    const a = absolute(cur, segs);
    if (!a) continue;
    if (segs.at(-1) === '*') edge(f, modFile.get(key(a.slice(0, -1))), segs.join('::'));
    else add(f, a, segs.join('::'));
  }
  const inlinePath = new RegExp(`(?<![A-Za-z0-9_:$])(\\$?${IDENT}(?:\\s*::\\s*${IDENT})+)`, 'g');
  for (const [f, s] of files) {
    for (const m of s.matchAll(inlinePath)) {
      const segs = m[1].replace(/\s+/g, '').split('::');
      const a = absolute([...fileMod.get(f), ...enclosing(f, m.index)], segs);
      if (a) add(f, a, segs.join('::'));
    }
  }

  // ---- strongly connected components (Tarjan) ------------------------------------------------
  const index = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const sccs = [];
  const visit = (v) => {
    index.set(v, index.size);
    low.set(v, index.get(v));
    stack.push(v);
    on.add(v);
    for (const w of [...edges.get(v)].sort()) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const c = [];
      for (let w; w !== v; ) { w = stack.pop(); on.delete(w); c.push(w); }
      if (c.length > 1) sccs.push(c.sort());
    }
  };
  for (const v of [...files.keys()].sort()) if (!index.has(v)) visit(v);
  return { files, edges, why, sccs, warnings };
}

/** The shortest cycle inside one strongly connected component, as a list of files. */
function shortestCycle(scc, edges) {
  const inside = new Set(scc);
  let best = null;
  for (const start of scc) {
    const prev = new Map([[start, null]]);
    let frontier = [start];
    search: while (frontier.length) {
      const next = [];
      for (const v of frontier) {
        for (const w of [...edges.get(v)].sort()) {
          if (!inside.has(w)) continue;
          if (w === start) {
            const chain = [];
            for (let x = v; x !== null; x = prev.get(x)) chain.unshift(x);
            if (!best || chain.length < best.length) best = chain;
            break search;
          }
          if (!prev.has(w)) { prev.set(w, v); next.push(w); }
        }
      }
      frontier = next;
    }
  }
  return best;
}

/** Every crate root of the Cargo workspace (or package) at `root`. */
function crateRoots(root) {
  const manifest = readFileSync(join(root, 'Cargo.toml'), 'utf8');
  const members = /^\s*members\s*=\s*\[([^\]]*)\]/m.exec(manifest);
  const dirs = members ? [...members[1].matchAll(/"([^"]+)"/g)].map((m) => join(root, m[1])) : [root];
  const roots = [];
  const isFile = (p) => existsSync(p) && statSync(p).isFile();
  for (const dir of dirs) {
    for (const f of ['src/lib.rs', 'src/main.rs']) if (isFile(join(dir, f))) roots.push(join(dir, f));
    for (const sub of ['src/bin', 'tests', 'examples', 'benches']) {
      if (!existsSync(join(dir, sub))) continue;
      for (const e of readdirSync(join(dir, sub)).sort()) {
        if (e.endsWith('.rs') && isFile(join(dir, sub, e))) roots.push(join(dir, sub, e));
        else if (isFile(join(dir, sub, e, 'main.rs'))) roots.push(join(dir, sub, e, 'main.rs'));
      }
    }
    // targets with a `path` of their own ([lib], [[bin]], [[test]], ...)
    let target = false;
    for (const line of readFileSync(join(dir, 'Cargo.toml'), 'utf8').split('\n')) {
      const section = /^\s*\[+\s*([^\]\s]+)/.exec(line);
      if (section) target = /^(lib|bin|test|example|bench)$/.test(section[1]);
      const path = /^\s*path\s*=\s*"([^"]+)"/.exec(line);
      if (target && path && isFile(join(dir, path[1]))) roots.push(join(dir, path[1]));
    }
  }
  return [...new Set(roots.map((r) => resolvePath(r)))];
}

const argv = process.argv.slice(2);
const verbose = argv.includes('-v');
const tests = !argv.includes('--no-tests');
const rootAt = argv.indexOf('--root');
const root = resolvePath(rootAt >= 0 ? argv[rootAt + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
const given = argv.filter((a, i) => !a.startsWith('-') && argv[i - 1] !== '--root');
const roots = given.length ? given.map((r) => resolvePath(r)) : crateRoots(root);
const show = (p) => relative(process.cwd(), p) || '.';

const seen = new Set();
let cycles = 0;
for (const rootFile of roots) {
  const { files, edges, why, sccs, warnings } = checkCrate(rootFile, tests);
  for (const f of files.keys()) seen.add(f);
  for (const w of warnings) console.error(`warning: ${w}`);
  if (verbose) {
    const rel = (p) => relative(dirname(rootFile), p);
    const count = [...edges.values()].reduce((n, e) => n + e.size, 0);
    console.log(`${show(rootFile)}: ${files.size} files, ${count} edges, ${sccs.length} cycle(s)${tests ? ' (tests included)' : ''}`);
    for (const v of [...files.keys()].sort()) console.log(`${rel(v)} -> ${[...edges.get(v)].map(rel).sort().join(', ')}`);
  }
  for (const scc of sccs) {
    cycles++;
    const chain = shortestCycle(scc, edges);
    const width = Math.max(...chain.map((f) => show(f).length));
    console.log(`\nimport cycle between files in the crate of ${show(rootFile)} (each file names items of the next):`);
    console.log(`     ${show(chain[0])}`);
    chain.forEach((from, i) => {
      const to = chain[(i + 1) % chain.length];
      const items = [...why.get(`${from}\n${to}`)].sort();
      const listed = items.slice(0, 6).join(', ') + (items.length > 6 ? `, and ${items.length - 6} more` : '');
      console.log(`  -> ${show(to).padEnd(width)}  for ${listed}`);
    });
    const others = scc.filter((f) => !chain.includes(f));
    if (others.length) console.log(`  also in this tangle (-v lists every edge): ${others.map(show).join(', ')}`);
    if (verbose) {
      for (const v of scc) {
        for (const w of [...edges.get(v)].filter((w) => scc.includes(w)).sort()) {
          console.log(`    ${show(v)} -> ${show(w)} (${[...why.get(`${v}\n${w}`)].sort().join(' ')})`);
        }
      }
    }
  }
}
if (cycles) {
  console.log(`\n${cycles} import cycle(s) between files. The rule: no import cycle between files in any crate.`);
  console.log('Break each by moving an item named above (or the code that names it) so that the files depend one way.');
  process.exit(1);
}
console.log(`no import cycle between files in ${roots.length} crates (${seen.size} files)`);
