#!/usr/bin/env node
// build-web.mjs - builds the web UI into a directory the server loads.
//
//   node tools/build-web.mjs [--src web] [--out build/web] [--stamp FILE]
//
// The JS modules are joined into one file in dependency order (their
// import lines dropped, `export` removed; names are unique across modules),
// the CSS is stripped of comments and blank space, both get a content hash
// in their names, index.html is rewritten to point at them, and every file
// also gets .gz and .br variants (node's zlib, maximum levels) so the server
// never compresses at request time. Output: OUT/index.html, OUT/assets/*.
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const src = path.resolve(opt('--src', path.join(root, 'web')));
const out = path.resolve(opt('--out', path.join(root, 'build/web')));
const stamp = opt('--stamp', null);

// Leaves first: every module only uses modules listed before it, except for
// function calls at run time (app.js ↔ pages), which a single scope allows.
const order = ['i18n/ru.js', 'js/dom.js', 'js/api.js', 'js/outbox.js'];
const pagesDir = path.join(src, 'js/pages');
for (const f of readdirSync(pagesDir).filter((f) => f.endsWith('.js')).sort()) order.push(`js/pages/${f}`);
order.push('js/app.js');

function bundle() {
  const parts = [];
  for (const rel of order) {
    let code = readFileSync(path.join(src, rel), 'utf8');
    code = code.replace(/^import\s[^;]*;\s*$/gm, '');
    code = code.replace(/^export\s+(?=(async\s+)?function|const|let|class)/gm, '');
    if (/^\s*(import\s.*from|export\s)/m.test(code)) throw new Error(`${rel}: an import/export form the bundler does not handle`);
    // drop whole-line comments and indentation; nothing else is touched
    code = code.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//')).join('\n');
    parts.push(`// ${rel}\n${code}`);
  }
  return `${parts.join('\n')}\n`;
}

function minifyCss(css) {
  return css.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').replace(/\s*([{};:,>])\s*/g, '$1').replace(/;}/g, '}').trim();
}

const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 12);

function emit(file, data) {
  const buf = Buffer.from(data);
  writeFileSync(file, buf);
  writeFileSync(`${file}.gz`, gzipSync(buf, { level: 9 }));
  writeFileSync(`${file}.br`, brotliCompressSync(buf, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  }));
}

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });
const js = bundle();
const css = minifyCss(readFileSync(path.join(src, 'styles.css'), 'utf8'));
const jsName = `app.${hash(js)}.js`;
const cssName = `app.${hash(css)}.css`;
emit(path.join(out, 'assets', jsName), js);
emit(path.join(out, 'assets', cssName), css);
let html = readFileSync(path.join(src, 'index.html'), 'utf8');
if (!html.includes('/assets/app.js') || !html.includes('/assets/app.css')) throw new Error('index.html must reference /assets/app.js and /assets/app.css');
html = html.replace('/assets/app.js', `/assets/${jsName}`).replace('/assets/app.css', `/assets/${cssName}`);
emit(path.join(out, 'index.html'), html);
if (stamp) writeFileSync(stamp, `${jsName}\n${cssName}\n`);
console.log(`build-web: ${out}: ${jsName} (${js.length} B), ${cssName} (${css.length} B)`);
