// ui-demo.mjs - shared by tools/screenshots.mjs and tools/page-weight.mjs:
// a throwaway server with the demo school (build/dnevnik, or DN_BIN) and a
// headless Debian chromium, signed in through the real sign-in form.
import { chromium } from 'playwright-core';
import { startServer } from '../tests/api/lib/server.mjs';

export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

export async function demo() {
  const srv = await startServer({ db: 'sqlite', args: ['--demo'], timeoutMs: 60000 });
  const browser = await chromium.launch({ executablePath: process.env.DN_CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS });
  return {
    srv, browser,
    async close() { await browser.close(); await srv.stop(); },
  };
}

export async function signIn(page, url, login, password = 'demo1234') {
  await page.goto(`${url}/app/login`);
  await page.getByLabel('Логин').fill(login);
  await page.getByLabel('Пароль').fill(password);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.waitForSelector('header.top');
}
