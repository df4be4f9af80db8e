#!/usr/bin/env node
// page-weight.mjs - what the first page of a student costs on the wire: a
// fresh browser opens the sign-in page, signs in and lands on the week
// diary. Sums the compressed bytes (body + headers, as Chrome's network
// layer counts them) of every response, checks the 150 KB budget, and
// rewrites the bench:ui section of BENCHMARKS.md.
//
//   ninja -C build && node tools/page-weight.mjs [--no-write]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../tests/api/lib/server.mjs';
import { demo, signIn } from './ui-demo.mjs';

const BUDGET = 150 * 1024;
const d = await demo();
let rows = [];
try {
  const ctx = await d.browser.newContext({ viewport: { width: 360, height: 780 }, locale: 'ru-RU' });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, { url: e.response.url, enc: e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'] || '' }));
  cdp.on('Network.loadingFinished', (e) => { const u = urls.get(e.requestId); if (u) rows.push({ ...u, bytes: e.encodedDataLength }); });
  await signIn(page, d.srv.url, 'student');
  await page.locator('section.day').first().waitFor();
  await page.waitForLoadState('networkidle');
  await ctx.close();
} finally {
  await d.close();
}
const total = rows.reduce((a, r) => a + r.bytes, 0);
const kb = (n) => (n / 1024).toFixed(1);
const lines = rows.map((r) => `| \`${new URL(r.url).pathname.replace(/\.[0-9a-f]{12}\./, '.<hash>.')}\` | ${r.enc || 'identity'} | ${r.bytes} |`);
const section = `<!-- bench:ui:start -->
## Web UI: the first page of a student

A fresh headless chromium (360 px) opens \`/app/login\`, signs in as the demo
student and lands on the week diary; every response's transferred bytes
(compressed body + headers, Chrome's \`encodedDataLength\`) are summed.
Budget: 150 KB. Measured ${new Date().toISOString().slice(0, 10)} with \`node tools/page-weight.mjs\` (after \`make build\`).

**Total: ${total} bytes (${kb(total)} KB) in ${rows.length} responses — ${total <= BUDGET ? 'within' : 'OVER'} the 150 KB budget.**

| response | encoding | bytes |
|---|---|---|
${lines.join('\n')}
<!-- bench:ui:end -->`;
console.log(section);
if (!process.argv.includes('--no-write')) {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  let md = readFileSync(file, 'utf8');
  const re = /<!-- bench:ui:start -->[\s\S]*?<!-- bench:ui:end -->/;
  md = re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, md);
}
process.exit(total <= BUDGET ? 0 : 1);
