#!/usr/bin/env node
// screenshots.mjs - the week diary and the class journal, phone (360 px) and
// desktop (1280 px), from the demo school: docs/screenshots/*.png.
//
//   ninja -C build && node tools/screenshots.mjs     (DN_BIN picks another binary)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../tests/api/lib/server.mjs';
import { demo, signIn } from './ui-demo.mjs';

const out = path.join(ROOT, 'docs/screenshots');
mkdirSync(out, { recursive: true });
const d = await demo();
try {
  for (const [name, viewport] of [['phone', { width: 360, height: 780 }], ['desktop', { width: 1280, height: 860 }]]) {
    const ctx = await d.browser.newContext({ viewport, locale: 'ru-RU', deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    await signIn(page, d.srv.url, 'student');
    await page.locator('section.day').first().waitFor();
    await page.screenshot({ path: path.join(out, `week-${name}.png`) });
    await ctx.clearCookies();
    await page.evaluate(() => sessionStorage.clear());
    await signIn(page, d.srv.url, 'teacher');
    await page.goto(`${d.srv.url}/app/journal`);
    const pick = page.getByLabel('Класс и предмет');
    await pick.waitFor();
    const wanted = await pick.locator('option', { hasText: '7Б · Алгебра' }).count();
    if (wanted) await pick.selectOption({ label: '7Б · Алгебра' });
    await page.locator('table.journal').waitFor();
    await page.screenshot({ path: path.join(out, `journal-${name}.png`) });
    await ctx.close();
    console.log(`screenshots: ${name} done`);
  }
} finally {
  await d.close();
}
