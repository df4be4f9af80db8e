// Keys and tokens: JWT key rotation without signing anyone out (kid in every
// token, a keys file re-read on SIGHUP), refresh-token reuse detection across
// a rotation, blocked accounts losing their access tokens at once, secrets
// refused on the command line and never written to any log.
// Tokens for edge cases (expired, unknown kid, wrong key) are minted here
// with node's HMAC: the server must judge them by header, signature and exp.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DB, assertJson, assertProblem, request, runCli, sleep, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const ADMIN = 'root';
const PASS = 'keys-admin-pass-Zq7';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const hex = () => randomBytes(32).toString('hex');

function kidOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).kid;
}
function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
/** An HS256 token as the server would sign it, with any kid, key and times. */
function mint({ kid, keyHex, sub, roles = [], iat, exp }) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }));
  const body = b64url(JSON.stringify({ sub: String(sub), iat, exp, roles }));
  const sig = createHmac('sha256', Buffer.from(keyHex, 'hex')).update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64url(sig)}`;
}

function writeKeys(file, lines) {
  writeFileSync(file, `# kid secret (first line signs)\n${lines.map(([k, s]) => `${k} ${s}`).join('\n')}\n`, {
    mode: 0o600,
  });
  chmodSync(file, 0o600);
}

const post = (srv, p, body, headers = {}) => request(`${srv.url}${p}`, { method: 'POST', body, headers });
const me = (srv, token) => request(`${srv.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
const login = async (srv, lg = ADMIN, password = PASS) =>
  assertJson(await post(srv, '/api/v1/auth/login', { login: lg, password }), 200);
const refresh = (srv, tok) => post(srv, '/api/v1/auth/refresh', { refresh_token: tok });

/** Send SIGHUP and wait until the server logged the n-th reload outcome. */
async function hup(srv, n) {
  srv.proc.kill('SIGHUP');
  const re = /SIGHUP: (reloaded|keys not reloaded)/g;
  for (let i = 0; i < 800; i++) { // up to 20 s on a loaded machine
    if ((srv.stderrText().match(re) ?? []).length >= n) return;
    await sleep(25);
  }
  throw new Error(`no SIGHUP outcome #${n} in the log:\n${srv.stderrText().slice(-2000)}`);
}

describe(`keys and tokens [${DB}]`, () => {
  let dir, keysFile, srv;
  const k1 = hex();
  const k2 = hex();
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dnevnik-keys-'));
    keysFile = path.join(dir, 'jwt.keys');
    writeKeys(keysFile, [['k1', k1]]);
    srv = await startServer({
      args: ['--jwt-keys-file', keysFile],
      env: { DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${PASS}` },
    });
  });
  after(async () => {
    if (srv) {
      const { code } = await srv.stop();
      assert.equal(code, 0, srv.stderrText().slice(-3000));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('rotation: old tokens keep working, new tokens carry the new kid, retired keys stop verifying', T, async () => {
    const before = await login(srv);
    assert.equal(kidOf(before.access_token), 'k1');
    assert.match(srv.stderrText(), /signing kid k1/);

    // Rotate: k2 signs from now on, k1 still verifies.
    writeKeys(keysFile, [['k2', k2], ['k1', k1]]);
    await hup(srv, 1);
    assert.match(srv.stderrText(), /SIGHUP: reloaded .*signing kid k2; verify-only kids \[k1\]/);
    assertJson(await me(srv, before.access_token), 200);
    const after = await login(srv);
    assert.equal(kidOf(after.access_token), 'k2');
    assertJson(await me(srv, after.access_token), 200);
    // The refresh token of the pre-rotation session still works and yields a k2 token.
    const rotated = assertJson(await refresh(srv, before.refresh_token), 200);
    assert.equal(kidOf(rotated.access_token), 'k2');

    // A token signed with k1 that has expired is refused even while k1 verifies.
    const uid = Number(claimsOf(before.access_token).sub);
    const now = Math.floor(Date.now() / 1000);
    const roles = claimsOf(before.access_token).roles;
    const expired = mint({ kid: 'k1', keyHex: k1, sub: uid, roles, iat: now - 1000, exp: now - 100 });
    assertProblem(await me(srv, expired), 401);
    const fresh = mint({ kid: 'k1', keyHex: k1, sub: uid, roles, iat: now, exp: now + 300 });
    assertJson(await me(srv, fresh), 200);
    // Unknown kid, and a known kid with the wrong key.
    assertProblem(await me(srv, mint({ kid: 'k9', keyHex: hex(), sub: uid, roles, iat: now, exp: now + 300 })), 401);
    assertProblem(await me(srv, mint({ kid: 'k2', keyHex: hex(), sub: uid, roles, iat: now, exp: now + 300 })), 401);

    // A broken keys file on SIGHUP: the previous keys stay in use.
    writeFileSync(keysFile, 'k3 not-a-key\n', { mode: 0o600 });
    await hup(srv, 2);
    assert.match(srv.stderrText(), /SIGHUP: keys not reloaded.*jwt\.keys:1/);
    assert.equal(kidOf((await login(srv)).access_token), 'k2');
    assertJson(await me(srv, before.access_token), 200);

    // Retire k1 (its tokens have expired by now in real life): its tokens are refused.
    writeKeys(keysFile, [['k2', k2]]);
    await hup(srv, 3);
    assertProblem(await me(srv, before.access_token), 401);
    assertProblem(await me(srv, fresh), 401);
    assertJson(await me(srv, after.access_token), 200);
  });

  test('refresh-token reuse after a rotation revokes the whole family', T, async () => {
    const s = await login(srv);
    const next = assertJson(await refresh(srv, s.refresh_token), 200);
    // Rotate the signing key between the use and the reuse.
    const k4 = hex();
    writeKeys(keysFile, [['k4', k4], ['k2', k2]]);
    const n = (srv.stderrText().match(/SIGHUP: (reloaded|keys not reloaded)/g) ?? []).length;
    await hup(srv, n + 1);
    assertProblem(await refresh(srv, s.refresh_token), 401); // reuse of a rotated token
    assertProblem(await refresh(srv, next.refresh_token), 401); // the family is gone
    // Other sessions are untouched and get k4 tokens.
    const other = await login(srv);
    const o2 = assertJson(await refresh(srv, other.refresh_token), 200);
    assert.equal(kidOf(o2.access_token), 'k4');
  });

  test('a password change or a block through the API revokes the old access tokens', T, async () => {
    const r = srv.database.sql(`INSERT INTO users (login, password_hash, last_name, first_name, middle_name, created_at)
      SELECT 'pwchanger', password_hash, 'P', 'P', '', 0 FROM users WHERE login = '${ADMIN}'`);
    assert.ok(r.ok, r.output);
    const old = await login(srv, 'pwchanger');
    const auth = { authorization: `Bearer ${old.access_token}` };
    assertJson(await me(srv, old.access_token), 200);
    const ch = await post(srv, '/api/v1/auth/password', { old_password: PASS, new_password: 'brand-new-pass-9' }, auth);
    assert.equal(ch.status, 204, ch.text);
    // The old token is refused for writes at once, and for reads once a write saw it.
    assertProblem(await post(srv, '/api/v1/auth/password', {}, auth), 401);
    assertProblem(await me(srv, old.access_token), 401);
    // A new sign-in carries the new version and works for reads and writes.
    const fresh = await login(srv, 'pwchanger', 'brand-new-pass-9');
    assert.ok(claimsOf(fresh.access_token).tv > claimsOf(old.access_token).tv);
    assertJson(await me(srv, fresh.access_token), 200);
    assertProblem(await post(srv, '/api/v1/auth/password', {}, { authorization: `Bearer ${fresh.access_token}` }), 422);
  });

  test('a blocked account loses its access token at once (writes) and for reads after that', T, async () => {
    const r = srv.database.sql(`INSERT INTO users (login, password_hash, last_name, first_name, middle_name, created_at)
      SELECT 'victim', password_hash, 'V', 'V', '', 0 FROM users WHERE login = '${ADMIN}'`);
    assert.ok(r.ok, r.output);
    const v = await login(srv, 'victim');
    assertJson(await me(srv, v.access_token), 200);
    const auth = { authorization: `Bearer ${v.access_token}` };
    // A write with a valid token and an invalid body: 422 while the account is usable.
    assertProblem(await post(srv, '/api/v1/auth/password', {}, auth), 422);
    const b = srv.database.sql(`UPDATE users SET blocked = 1 WHERE login = 'victim'`);
    assert.ok(b.ok, b.output);
    const p = assertProblem(await post(srv, '/api/v1/auth/password', {}, auth), 401);
    assert.match(p.detail, /blocked/);
    assertProblem(await me(srv, v.access_token), 401);
    // Unblocked: a write re-checks at once.
    assert.ok(srv.database.sql(`UPDATE users SET blocked = 0 WHERE login = 'victim'`).ok);
    assertProblem(await post(srv, '/api/v1/auth/password', {}, auth), 422);
    assertJson(await me(srv, v.access_token), 200);
  });
});

describe(`secrets [${DB}]`, () => {
  test('keys file: refused when readable by others, malformed, or given together with DNEVNIK_JWT_KEY', T, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dnevnik-keys-'));
    try {
      const secret = hex();
      const f = path.join(dir, 'k');
      writeFileSync(f, `a ${secret}\n`);
      chmodSync(f, 0o644);
      let r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/x.db`, '--data-dir', dir,
        '--jwt-keys-file', f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /chmod 600 or 640/);
      chmodSync(f, 0o660); // group-writable: refused too
      r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/x.db`, '--data-dir', dir,
        '--jwt-keys-file', f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /chmod 600 or 640/);
      chmodSync(f, 0o600);
      r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/x.db`, '--data-dir', dir,
        '--jwt-keys-file', f], { env: { DNEVNIK_JWT_KEY: hex() } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /not both/);
      writeFileSync(f, `a ${secret}\nb ${secret.slice(0, 10)}\n`, { mode: 0o600 });
      r = await runCli(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/x.db`, '--data-dir', dir,
        '--jwt-keys-file', f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /k:2: the secret must be/);
      assert.ok(!r.stderr.includes(secret.slice(0, 10)), 'the error must not echo the secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a store password is refused on the command line and redacted in logs', T, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dnevnik-keys-'));
    try {
      const pw = `Pw${randomBytes(8).toString('hex')}`;
      let r = await runCli(['serve', '--db', `postgresql://u:${pw}@127.0.0.1:1/x`, '--data-dir', dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--db: a password on the command line/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(pw));
      // From the environment it is accepted; the connection fails and the log line hides it.
      r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'debug'], {
        env: { DNEVNIK_DB: `postgresql://u:${pw}@127.0.0.1:1/x?connect_timeout=2` },
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /cannot open the store postgresql:\/\/u:\*\*\*@127\.0\.0\.1:1/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(pw), 'the password leaked into the output');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('known secrets never appear in stdout, stderr or the log files', T, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dnevnik-keys-'));
    const keyHex = hex();
    const adminPw = `Adm${randomBytes(8).toString('hex')}`;
    const s3Key = `AK${randomBytes(8).toString('hex')}`;
    const s3Secret = `SK${randomBytes(12).toString('hex')}`;
    const accessLog = path.join(dir, 'access.log');
    let srv;
    try {
      srv = await startServer({
        // The application log stays on stderr (the harness reads the port there); the access log goes to a file.
        args: ['--log-level', 'debug', '--access-log', accessLog],
        env: {
          DNEVNIK_JWT_KEY: keyHex,
          DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${adminPw}`,
          DNEVNIK_S3_ACCESS_KEY: s3Key,
          DNEVNIK_S3_SECRET_KEY: s3Secret,
        },
      });
      // Exercise the paths that log: sign-in (good and bad), refresh, errors, a reload.
      const s = await login(srv, ADMIN, adminPw);
      assertProblem(await post(srv, '/api/v1/auth/login', { login: ADMIN, password: `${adminPw}x` }), 401);
      assertJson(await refresh(srv, s.refresh_token), 200);
      assertJson(await me(srv, s.access_token), 200);
      assertProblem(await request(`${srv.url}/nope`), 404);
      await hup(srv, 1);
      assert.match(srv.stderrText(), /SIGHUP: reloaded/);
      const { code } = await srv.stop();
      assert.equal(code, 0);
      const all = `${srv.stdoutText()}\n${srv.stderrText()}\n${readAll()}`;
      assert.ok(all.length > 200, 'the logs are unexpectedly empty');
      const forms = [keyHex, Buffer.from(keyHex, 'hex').toString('base64'), Buffer.from(keyHex, 'hex').toString('base64url').slice(0, 40),
        adminPw, s3Key, s3Secret, s.refresh_token, s.access_token.split('.')[2]];
      for (const f of forms) assert.ok(!all.includes(f), `a secret leaked into the logs: ${f.slice(0, 6)}…`);
    } finally {
      if (srv) await srv.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
    function readAll() {
      let t = '';
      for (const f of [accessLog]) {
        try {
          t += readFileSync(f, 'utf8');
        } catch {}
      }
      return t;
    }
  });
});
