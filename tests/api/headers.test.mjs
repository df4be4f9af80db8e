// Security headers on every kind of response the server sends: API JSON,
// problem+json from handlers and from the router, h2o's own early errors
// (413/400/417), the UI page, static assets, 304s, and 404s; HSTS only when
// configured; never a Set-Cookie (tokens are bearer tokens, see
// docs/security.md). The UI is served from the build's web/ next to DN_BIN.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, DB, ROOT, assertJson, assertProblem, rawRequest, request, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const ADMIN = 'root';
const PASS = 'headers-admin-pass-1';
const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const HAS_WEB = existsSync(path.join(path.dirname(BIN), 'web', 'index.html'));

/** The headers every response must carry; `ui` = the HTML page with its own strict CSP. */
function checkHeaders(res, what, { ui = false, hsts = null } = {}) {
  const h = res.headers;
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: x-content-type-options`);
  assert.equal(h['x-frame-options'], 'DENY', `${what}: x-frame-options`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: referrer-policy`);
  const csp = h['content-security-policy'];
  assert.ok(csp, `${what}: content-security-policy missing`);
  if (ui) {
    assert.match(csp, /default-src 'self'/, `${what}: UI CSP`);
    assert.match(csp, /frame-ancestors 'none'/, `${what}: UI CSP frame-ancestors`);
    assert.match(csp, /object-src 'none'/, `${what}: UI CSP object-src`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${what}: UI CSP must not allow inline code or wildcards`);
  } else {
    assert.equal(csp, API_CSP, `${what}: API CSP`);
  }
  assert.equal(h['set-cookie'], undefined, `${what}: no cookies, ever`);
  if (hsts == null) assert.equal(h['strict-transport-security'], undefined, `${what}: no HSTS unless configured`);
  else assert.equal(h['strict-transport-security'], hsts, `${what}: HSTS`);
}

describe(`security headers [${DB}]`, () => {
  let srv, token;
  before(async () => {
    srv = await startServer({ env: { DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${PASS}` } });
    const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: ADMIN, password: PASS } });
    token = assertJson(r, 200).access_token;
  });
  after(async () => {
    if (srv) {
      const { code } = await srv.stop();
      assert.equal(code, 0, srv.stderrText().slice(-3000));
    }
  });

  test('API JSON, text and problem+json responses', T, async () => {
    const auth = { authorization: `Bearer ${token}` };
    const meRes = await request(`${srv.url}/api/v1/me`, { headers: auth });
    assertJson(meRes, 200);
    checkHeaders(meRes, 'GET /me');
    checkHeaders(await request(`${srv.url}/healthz`), '/healthz');
    checkHeaders(await request(`${srv.url}/metrics`), '/metrics');
    const login = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: ADMIN, password: PASS } });
    assertJson(login, 200);
    checkHeaders(login, 'POST /auth/login');
    assert.equal(login.headers['cache-control'], 'no-store');
    const unauth = await request(`${srv.url}/api/v1/me`);
    assertProblem(unauth, 401);
    checkHeaders(unauth, '401');
    const bad = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: {} });
    assertProblem(bad, 422);
    checkHeaders(bad, '422');
    const nf = await request(`${srv.url}/api/v1/no-such-thing`);
    assertProblem(nf, 404);
    checkHeaders(nf, 'router 404');
    const m = await request(`${srv.url}/healthz`, { method: 'DELETE' });
    assertProblem(m, 405);
    checkHeaders(m, 'router 405');
  });

  test("h2o's own early errors (413, 400, 417) carry the headers too", T, async () => {
    const big = await rawRequest({
      port: srv.port,
      head: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json',
      bodySize: 1024 * 1024 * 1024,
    });
    assert.equal(big.status, 413, JSON.stringify(big).slice(0, 400));
    assert.match(big.headers['content-type'], /problem\+json/);
    checkHeaders(big, 'h2o 413');
    const chunk = await rawRequest({
      port: srv.port,
      head: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbroken',
      pauseAfterHeadMs: 0,
    });
    assert.equal(chunk.status, 400, JSON.stringify(chunk).slice(0, 400));
    checkHeaders(chunk, 'h2o 400 (broken chunked body)');
    const expect = await rawRequest({
      port: srv.port,
      head: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2',
      pauseAfterHeadMs: 0,
    });
    assert.equal(expect.status, 417, JSON.stringify(expect).slice(0, 400));
    checkHeaders(expect, 'h2o 417');
  });

  test('UI page, assets, 304s and static 404s', { ...T, skip: HAS_WEB ? false : 'no built web/ next to DN_BIN' }, async () => {
    const page = await request(`${srv.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /text\/html/);
    checkHeaders(page, 'UI page', { ui: true });
    const app = await request(`${srv.url}/app/journal`);
    assert.equal(app.status, 200);
    checkHeaders(app, '/app/... page', { ui: true });
    const p304 = await request(`${srv.url}/`, { headers: { 'if-none-match': page.headers.etag } });
    assert.equal(p304.status, 304);
    checkHeaders(p304, 'UI page 304', { ui: true });

    const assets = readdirSync(path.join(path.dirname(BIN), 'web', 'assets')).filter((n) => /\.(js|css)$/.test(n));
    assert.ok(assets.length >= 2, `expected built assets, got ${assets}`);
    for (const name of assets) {
      const a = await request(`${srv.url}/assets/${name}`, { headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(a.status, 200, name);
      checkHeaders(a, `asset ${name}`);
      const a304 = await request(`${srv.url}/assets/${name}`, {
        headers: { 'accept-encoding': 'br, gzip', 'if-none-match': a.headers.etag },
      });
      assert.equal(a304.status, 304, name);
      checkHeaders(a304, `asset ${name} 304`);
    }
    const missing = await request(`${srv.url}/assets/nope.12345678.js`);
    assertProblem(missing, 404);
    checkHeaders(missing, 'static 404');
  });

  test('the web UI sets no cookies and keeps tokens out of cookies', T, () => {
    const dir = path.join(ROOT, 'web', 'js');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
      const src = readFileSync(path.join(dir, f), 'utf8');
      assert.doesNotMatch(src, /document\.cookie|credentials:\s*['"]include/, `${f} must not use cookies`);
    }
  });
});

describe(`HSTS when configured [${DB}]`, () => {
  test('--hsts-max-age adds Strict-Transport-Security to every response', T, async () => {
    const srv = await startServer({ args: ['--hsts-max-age', '31536000'] });
    try {
      const hsts = 'max-age=31536000; includeSubDomains';
      checkHeaders(await request(`${srv.url}/healthz`), '/healthz', { hsts });
      checkHeaders(await request(`${srv.url}/api/v1/me`), '401', { hsts });
      const big = await rawRequest({
        port: srv.port,
        head: 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json',
        bodySize: 1024 * 1024 * 1024,
      });
      assert.equal(big.status, 413);
      checkHeaders(big, 'h2o 413', { hsts });
    } finally {
      const { code } = await srv.stop();
      assert.equal(code, 0);
    }
  });
});
