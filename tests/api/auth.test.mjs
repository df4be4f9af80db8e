// Auth: sign-in, throttling, refresh rotation and reuse detection, sign-out,
// password change, /me, bearer checks and the per-user API limiter.
// Users beyond the bootstrap admin are inserted with SQL (same password hash
// as the admin) so these tests do not depend on the school API.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem, request, startServer } from './lib/server.mjs';
import { assertMatchesSpec } from './lib/openapi.mjs';

const T = { timeout: 60000 };
const ADMIN = 'root';
const PASS = 'bootstrap-pass-1';

function post(srv, path, body, headers = {}) {
  return request(`${srv.url}${path}`, { method: 'POST', body, headers });
}
function get(srv, path, token) {
  return request(`${srv.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}
async function login(srv, lg = ADMIN, password = PASS) {
  return assertJson(await post(srv, '/api/v1/auth/login', { login: lg, password }), 200);
}
function sql(srv, stmt) {
  const r = srv.database.sql(stmt);
  assert.ok(r.ok, `SQL failed: ${r.output}`);
}
function fieldsOf(problem) {
  return (problem.errors ?? []).map((e) => e.field).sort();
}

async function boot(env = {}) {
  return startServer({ env: { DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${PASS}`, ...env } });
}

describe(`auth [${DB}]`, () => {
  let srv;
  before(async () => {
    srv = await boot();
    // A school with a class, a student, her parent and a blocked user; same password as the admin.
    sql(srv, `INSERT INTO regions (name) VALUES ('R1');
      INSERT INTO schools (region_id, name, created_at) SELECT id, 'School 1', 0 FROM regions WHERE name = 'R1';
      INSERT INTO users (login, password_hash, last_name, first_name, middle_name, created_at)
        SELECT l, password_hash, ln, fn, '', 0 FROM users,
          (SELECT 'masha' AS l, 'Petrova' AS ln, 'Maria' AS fn UNION ALL SELECT 'mama', 'Petrova', 'Anna'
           UNION ALL SELECT 'blocked', 'Blocked', 'Bob' UNION ALL SELECT 'pwuser', 'Pw', 'User'
           UNION ALL SELECT 'throttled', 'T', 'T') AS x
        WHERE login = '${ADMIN}';
      UPDATE users SET blocked = 1 WHERE login = 'blocked';
      INSERT INTO user_roles (user_id, school_id, role) SELECT u.id, s.id, 'student' FROM users u, schools s WHERE u.login = 'masha';
      INSERT INTO user_roles (user_id, school_id, role) SELECT u.id, s.id, 'parent' FROM users u, schools s WHERE u.login = 'mama';
      INSERT INTO classes (school_id, start_year, letter) SELECT id, 2020, 'Б' FROM schools;
      INSERT INTO class_students (class_id, student_id, from_date) SELECT c.id, u.id, '2025-09-01' FROM classes c, users u WHERE u.login = 'masha';
      INSERT INTO parent_links (parent_id, student_id) SELECT p.id, c.id FROM users p, users c WHERE p.login = 'mama' AND c.login = 'masha';`);
  });
  after(async () => {
    if (srv) {
      const { code } = await srv.stop();
      assert.equal(code, 0, srv.stderrText().slice(-3000));
    }
  });

  test('the access log names the signed-in user (and never the token)', T, async () => {
    const b = await login(srv);
    const me = await request(`${srv.url}/api/v1/me`, { headers: { authorization: `Bearer ${b.access_token}` } });
    assert.equal(me.status, 200);
    let line;
    for (let i = 0; i < 50 && !line; i++) {
      line = srv
        .stdoutText()
        .split('\n')
        .filter((l) => l.includes('"path":"/api/v1/me"'))
        .pop();
      if (!line) await new Promise((r) => setTimeout(r, 100)); // written by the log thread
    }
    assert.ok(line, 'no access-log line for /api/v1/me');
    const entry = JSON.parse(line);
    assert.equal(entry.user_id, b.user.id);
    assert.ok(!srv.stdoutText().includes(b.access_token), 'a token reached the access log');
  });

  test('login → tokens and profile', T, async () => {
    const b = await login(srv);
    assert.equal(b.token_type, 'Bearer');
    assert.equal(typeof b.access_token, 'string');
    assert.equal(b.access_token.split('.').length, 3);
    assert.equal(b.expires_in, 900);
    assert.match(b.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(b.user.login, ADMIN);
    assert.equal(b.user.must_change_password, false);
    assert.deepEqual(b.user.roles, [{ school_id: 0, role: 'sysadmin' }]);
    const header = JSON.parse(Buffer.from(b.access_token.split('.')[0], 'base64url').toString());
    assert.equal(header.alg, 'HS256');
    assert.equal(typeof header.kid, 'string');
    const claims = JSON.parse(Buffer.from(b.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, String(b.user.id));
    assert.deepEqual(claims.roles, [[0, 'sysadmin']]);
    assert.equal(claims.exp - claims.iat, 900);
  });

  test('wrong password and unknown login → the same 401', T, async () => {
    const a = assertProblem(await post(srv, '/api/v1/auth/login', { login: ADMIN, password: 'nope-nope' }), 401);
    const b = assertProblem(await post(srv, '/api/v1/auth/login', { login: 'ghost', password: 'nope-nope' }), 401);
    assert.equal(a.detail, b.detail);
  });

  test('missing or mistyped fields → 422 naming them; invalid JSON → 400', T, async () => {
    let p = assertProblem(await post(srv, '/api/v1/auth/login', {}), 422);
    assert.deepEqual(fieldsOf(p), ['login', 'password']);
    p = assertProblem(await post(srv, '/api/v1/auth/login', { login: 5, password: '' }), 422);
    assert.deepEqual(fieldsOf(p), ['login', 'password']);
    assertProblem(
      await request(`${srv.url}/api/v1/auth/login`, {
        method: 'POST',
        body: '{"login":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
    );
  });

  test('blocked account: 403 only with the right password', T, async () => {
    assertProblem(await post(srv, '/api/v1/auth/login', { login: 'blocked', password: 'wrong-pass' }), 401);
    const p = assertProblem(await post(srv, '/api/v1/auth/login', { login: 'blocked', password: PASS }), 403);
    assert.match(p.detail, /blocked/);
  });

  test('5 failures for a login → 429 with Retry-After, even for the right password', T, async () => {
    for (let i = 0; i < 5; i++)
      assertProblem(await post(srv, '/api/v1/auth/login', { login: 'throttled', password: `bad-${i}-pass` }), 401);
    const r = await post(srv, '/api/v1/auth/login', { login: 'throttled', password: PASS });
    assertProblem(r, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);
    // Other logins are unaffected.
    await login(srv);
  });

  test('refresh rotates; reusing a rotated token revokes the family', T, async () => {
    const first = await login(srv);
    const second = assertJson(await post(srv, '/api/v1/auth/refresh', { refresh_token: first.refresh_token }), 200);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(second.user.login, ADMIN);
    assertJson(await get(srv, '/api/v1/me', second.access_token), 200);
    // Replay of the first token: 401, and the thief's successor dies with it.
    assertProblem(await post(srv, '/api/v1/auth/refresh', { refresh_token: first.refresh_token }), 401);
    assertProblem(await post(srv, '/api/v1/auth/refresh', { refresh_token: second.refresh_token }), 401);
    // Other sessions survive.
    const other = await login(srv);
    assertJson(await post(srv, '/api/v1/auth/refresh', { refresh_token: other.refresh_token }), 200);
    assertProblem(await post(srv, '/api/v1/auth/refresh', { refresh_token: 'not-a-token' }), 401);
    const p = assertProblem(await post(srv, '/api/v1/auth/refresh', {}), 422);
    assert.deepEqual(fieldsOf(p), ['refresh_token']);
  });

  test('logout revokes the refresh token → 204', T, async () => {
    const s = await login(srv);
    const r = await post(srv, '/api/v1/auth/logout', { refresh_token: s.refresh_token });
    assert.equal(r.status, 204);
    assertMatchesSpec('POST', '/api/v1/auth/logout', 204, r);
    assertProblem(await post(srv, '/api/v1/auth/refresh', { refresh_token: s.refresh_token }), 401);
    const invalid = await post(srv, '/api/v1/auth/logout', {});
    assertProblem(invalid, 422);
    assertMatchesSpec('POST', '/api/v1/auth/logout', 422, invalid);
    const notJson = await post(srv, '/api/v1/auth/logout', 'x', { 'content-type': 'text/plain' });
    assertProblem(notJson, 415);
    assertMatchesSpec('POST', '/api/v1/auth/logout', 415, notJson);
  });

  test('password change: validation, old tokens stop refreshing, new password works', T, async () => {
    const s1 = await login(srv, 'pwuser');
    const s2 = await login(srv, 'pwuser');
    const auth = { authorization: `Bearer ${s1.access_token}` };
    const anon = await post(srv, '/api/v1/auth/password', { old_password: PASS, new_password: 'new-pass-1' });
    assertProblem(anon, 401);
    assertMatchesSpec('POST', '/api/v1/auth/password', 401, anon);
    const short = await post(srv, '/api/v1/auth/password', { old_password: PASS, new_password: 'short' }, auth);
    let p = assertProblem(short, 422);
    assertMatchesSpec('POST', '/api/v1/auth/password', 422, short);
    assert.deepEqual(fieldsOf(p), ['new_password']);
    p = assertProblem(await post(srv, '/api/v1/auth/password', { new_password: 'long-enough' }, auth), 422);
    assert.deepEqual(fieldsOf(p), ['old_password']);
    p = assertProblem(
      await post(srv, '/api/v1/auth/password', { old_password: 'wrong-old', new_password: 'new-pass-1' }, auth),
      422,
    );
    assert.deepEqual(fieldsOf(p), ['old_password']);
    const r = await post(srv, '/api/v1/auth/password', { old_password: PASS, new_password: 'new-pass-1' }, auth);
    assert.equal(r.status, 204, r.text);
    assertMatchesSpec('POST', '/api/v1/auth/password', 204, r);
    const stale = await post(srv, '/api/v1/auth/refresh', { refresh_token: s1.refresh_token });
    assertProblem(stale, 401);
    assertMatchesSpec('POST', '/api/v1/auth/refresh', 401, stale);
    assertProblem(await post(srv, '/api/v1/auth/refresh', { refresh_token: s2.refresh_token }), 401);
    assertProblem(await post(srv, '/api/v1/auth/login', { login: 'pwuser', password: PASS }), 401);
    await login(srv, 'pwuser', 'new-pass-1');
  });

  test('/me: 401 without or with a bad token', T, async () => {
    const r = await get(srv, '/api/v1/me');
    assertProblem(r, 401);
    assert.match(r.headers['www-authenticate'] ?? '', /^Bearer/);
    assertProblem(await get(srv, '/api/v1/me', 'abc.def.ghi'), 401);
    const s = await login(srv);
    const parts = s.access_token.split('.');
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    claims.sub = '999';
    const forged = [parts[0], Buffer.from(JSON.stringify(claims)).toString('base64url'), parts[2]].join('.');
    assertProblem(await get(srv, '/api/v1/me', forged), 401);
  });

  test('/me for a parent lists children with their class; for a student, the class', T, async () => {
    const mama = await login(srv, 'mama');
    const me = assertJson(await get(srv, '/api/v1/me', mama.access_token), 200);
    assert.equal(me.login, 'mama');
    assert.equal(me.roles.length, 1);
    assert.equal(me.roles[0].role, 'parent');
    assert.equal(me.children.length, 1);
    const kid = me.children[0];
    assert.equal(kid.name, 'Petrova Maria');
    assert.equal(kid.school_id, me.roles[0].school_id);
    assert.match(kid.class.name, /^\d+Б$/);
    const masha = await login(srv, 'masha');
    const sme = assertJson(await get(srv, '/api/v1/me', masha.access_token), 200);
    assert.equal(sme.class.id, kid.class.id);
    assert.equal(sme.children, undefined);
  });
});

describe(`auth limits [${DB}]`, () => {
  test('per-user API limit → 429 with Retry-After (DNEVNIK_RATE_LIMIT=1:3)', T, async (t) => {
    const srv = await boot({ DNEVNIK_RATE_LIMIT: '1:3' });
    t.after(() => srv.stop());
    const s = await login(srv);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await get(srv, '/api/v1/me', s.access_token)).status);
    assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
    const r = await get(srv, '/api/v1/me', s.access_token);
    assertProblem(r, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  });

  test('DNEVNIK_RATE_LIMIT=0 disables the API limiter', T, async (t) => {
    const srv = await boot({ DNEVNIK_RATE_LIMIT: '0' });
    t.after(() => srv.stop());
    const s = await login(srv);
    for (let i = 0; i < 30; i++) assert.equal((await get(srv, '/api/v1/me', s.access_token)).status, 200);
  });

  test('a bad DNEVNIK_RATE_LIMIT stops start-up', T, async () => {
    await assert.rejects(boot({ DNEVNIK_RATE_LIMIT: 'fast' }));
  });
});
