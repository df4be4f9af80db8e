// docs/openapi.yaml: the Redocly linter must accept it, and real responses of
// the ops and auth endpoints (and a few school ones) must match the schemas it
// documents (tests/api/lib/openapi.mjs). Also checks that assertMatchesSpec
// really rejects bodies and statuses the spec does not allow.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DB, ROOT, request, startServer } from './lib/server.mjs';
import { assertMatchesSpec, SPEC_PATH } from './lib/openapi.mjs';

const T = { timeout: 60000 };
const ADMIN = 'root';
const PASS = 'rootpass123';

test('redocly lint docs/openapi.yaml passes without errors or warnings', T, () => {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'redocly');
  assert.ok(existsSync(bin), 'node_modules/.bin/redocly is missing: run npm install');
  const r = spawnSync(bin, ['lint', '--format', 'json', SPEC_PATH], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 50000,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  assert.equal(r.error, undefined, `could not run redocly: ${r.error}`);
  const out = r.stdout.slice(r.stdout.indexOf('{'));
  let report;
  try {
    report = JSON.parse(out);
  } catch (e) {
    assert.fail(`redocly printed no JSON report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
  assert.deepEqual(problems, [], `redocly reported:\n${problems.join('\n')}`);
  assert.equal(r.status, 0, `redocly exited with ${r.status}\n${r.stderr}`);
});

describe(`responses match docs/openapi.yaml [${DB}]`, () => {
  let srv;
  let tokens;
  const post = (p, body, headers = {}) => request(`${srv.url}${p}`, { method: 'POST', body, headers });
  const get = (p, token) => request(`${srv.url}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  before(async () => {
    srv = await startServer({ env: { DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${PASS}` } });
  });
  after(() => srv?.stop());

  test('ops: /healthz, /readyz, /api/v1/ping, /metrics', T, async () => {
    assertMatchesSpec('GET', '/healthz', 200, await get('/healthz'));
    assertMatchesSpec('GET', '/readyz', 200, await get('/readyz'));
    assertMatchesSpec('GET', '/api/v1/ping', 200, await get('/api/v1/ping'));
    const m = await get('/metrics');
    assertMatchesSpec('GET', '/metrics', 200, m, m.text);
  });

  test('login: 200 with tokens and user, 401, 422, 400', T, async () => {
    const ok = await post('/api/v1/auth/login', { login: ADMIN, password: PASS });
    assertMatchesSpec('POST', '/api/v1/auth/login', 200, ok);
    tokens = ok.json();
    assert.equal(tokens.user.login, ADMIN);

    const bad = await post('/api/v1/auth/login', { login: ADMIN, password: 'wrong-password' });
    assertMatchesSpec('POST', '/api/v1/auth/login', 401, bad);

    const invalid = await post('/api/v1/auth/login', { login: '', password: 5 });
    assertMatchesSpec('POST', '/api/v1/auth/login', 422, invalid);
    assert.deepEqual(invalid.json().errors.map((e) => e.field).sort(), ['login', 'password']);

    const broken = await post('/api/v1/auth/login', '{not json', { 'content-type': 'application/json' });
    assertMatchesSpec('POST', '/api/v1/auth/login', 400, broken);
  });

  test('/me 200 and 401; refresh 200 and 401; password 422; logout 204', T, async () => {
    assertMatchesSpec('GET', '/api/v1/me', 200, await get('/api/v1/me', tokens.access_token));
    assertMatchesSpec('GET', '/api/v1/me', 401, await get('/api/v1/me'));
    assertMatchesSpec('GET', '/api/v1/me', 401, await get('/api/v1/me', 'not-a-jwt'));

    const r = await post('/api/v1/auth/refresh', { refresh_token: tokens.refresh_token });
    assertMatchesSpec('POST', '/api/v1/auth/refresh', 200, r);
    const next = r.json();
    // The rotated-away token is no longer valid.
    assertMatchesSpec('POST', '/api/v1/auth/refresh', 401, await post('/api/v1/auth/refresh', { refresh_token: 'x' }));

    const pw = await post(
      '/api/v1/auth/password',
      { old_password: PASS, new_password: 'short' },
      { authorization: `Bearer ${next.access_token}` },
    );
    assertMatchesSpec('POST', '/api/v1/auth/password', 422, pw);

    const out = await post('/api/v1/auth/logout', { refresh_token: next.refresh_token });
    assertMatchesSpec('POST', '/api/v1/auth/logout', 204, out, out.text);
    tokens = next;
  });

  test('an unknown path is a 404 problem', T, async () => {
    const r = await get('/api/v1/no-such-thing');
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    // Same shape as the documented NotFound response.
    assertMatchesSpec('GET', '/api/v1/schools/{school_id}', 404, r);
  });

  test('school: region, school, class shapes', T, async () => {
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const reg = await post('/api/v1/regions', { name: 'Регион OpenAPI' }, auth);
    assertMatchesSpec('POST', '/api/v1/regions', 201, reg);
    assertMatchesSpec('GET', '/api/v1/regions', 200, await get('/api/v1/regions', tokens.access_token));
    const sch = await post('/api/v1/schools', { region_id: reg.json().id, name: 'Школа OpenAPI' }, auth);
    assertMatchesSpec('POST', '/api/v1/schools', 201, sch);
    const sid = sch.json().id;
    assertMatchesSpec('GET', '/api/v1/schools/{school_id}', 200, await get(`/api/v1/schools/${sid}`, tokens.access_token));
    assertMatchesSpec('GET', '/api/v1/schools/{school_id}', 404, await get('/api/v1/schools/999999', tokens.access_token));
    const cls = await post(`/api/v1/schools/${sid}/classes`, { grade: 5, letter: 'А' }, auth);
    assertMatchesSpec('POST', '/api/v1/schools/{school_id}/classes', 201, cls);
    const cid = cls.json().id;
    assertMatchesSpec('GET', '/api/v1/classes/{class_id}', 200, await get(`/api/v1/classes/${cid}`, tokens.access_token));
    assertMatchesSpec(
      'GET',
      '/api/v1/schools/{school_id}/classes',
      200,
      await get(`/api/v1/schools/${sid}/classes`, tokens.access_token),
    );
    const bad = await post(`/api/v1/schools/${sid}/classes`, { grade: 'x', letter: '' }, auth);
    assertMatchesSpec('POST', '/api/v1/schools/{school_id}/classes', 422, bad);
  });

  test('assertMatchesSpec rejects what the spec does not allow', T, async () => {
    const fake = (status, ct, body) => ({ status, headers: { 'content-type': ct }, text: JSON.stringify(body), json: () => body });
    // A wrong field type in a documented body.
    assert.throws(() => assertMatchesSpec('GET', '/healthz', 200, fake(200, 'application/json', { status: 'bad' })));
    // A problem without the RFC 9457 members.
    assert.throws(() =>
      assertMatchesSpec('GET', '/api/v1/me', 401, fake(401, 'application/problem+json', { detail: 'x' })),
    );
    // A 422 without errors[].
    assert.throws(() =>
      assertMatchesSpec(
        'POST',
        '/api/v1/auth/login',
        422,
        fake(422, 'application/problem+json', { type: '/problems/validation-error', title: 'x', status: 422 }),
      ),
    );
    // Undocumented status, undocumented operation, wrong media type.
    assert.throws(() => assertMatchesSpec('GET', '/healthz', 418, fake(418, 'application/json', {})));
    assert.throws(() => assertMatchesSpec('DELETE', '/healthz', 200, fake(200, 'application/json', {})));
    assert.throws(() => assertMatchesSpec('GET', '/healthz', 200, fake(200, 'text/html', { status: 'ok' })));
  });
});
