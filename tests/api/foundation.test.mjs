// Foundation: process lifecycle, CLI, health/readiness, metrics, error
// format, limits and timeouts. Black-box: every test talks to a real
// `dnevnik` process (DN_BIN) over loopback, on the backend given by DN_DB.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import {
  DB,
  assertJson,
  assertProblem,
  freshDatabase,
  makeTmpDir,
  metricSum,
  promtoolCheck,
  rawRequest,
  request,
  runCli,
  serverFor,
  sleep,
  startServer,
} from './lib/server.mjs';
import { rmSync } from 'node:fs';

const T = { timeout: 60000 };
const MiB = 1024 * 1024;

describe(`foundation [${DB}]`, () => {
  describe('basic endpoints', () => {
    let srv;
    before(async () => {
      srv = await startServer({ testEndpoints: true });
    });
    after(async () => {
      if (!srv) return;
      const { code, signal } = await srv.stop();
      assert.equal(code, 0, `exit after SIGTERM: code ${code} signal ${signal}\n${srv.stderrText().slice(-3000)}`);
    });

    test('GET /healthz → 200 {"status":"ok"}', T, async () => {
      const body = assertJson(await request(`${srv.url}/healthz`), 200);
      assert.deepEqual(body, { status: 'ok' });
    });

    test('GET /readyz → 200 when the store is reachable and migrated', T, async () => {
      const res = await request(`${srv.url}/readyz`);
      assert.equal(res.status, 200, res.text);
    });

    test('GET /metrics is valid Prometheus text and counts requests', T, async () => {
      for (let i = 0; i < 3; i++) assert.equal((await request(`${srv.url}/healthz`)).status, 200);
      const res = await request(`${srv.url}/metrics`);
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers['content-type'] ?? '', /^text\/plain\b/);
      const before = metricSum(res.text, 'dnevnik_http_requests_total');
      assert.notEqual(before, null, `dnevnik_http_requests_total missing from /metrics:\n${res.text.slice(0, 3000)}`);
      assert.ok(before >= 3, `dnevnik_http_requests_total = ${before} after 3 requests`);
      const lint = promtoolCheck(res.text);
      assert.equal(lint.code, 0, `promtool check metrics failed:\n${lint.output}\n--- metrics ---\n${res.text.slice(0, 5000)}`);

      for (let i = 0; i < 5; i++) await request(`${srv.url}/healthz`);
      const after = metricSum((await request(`${srv.url}/metrics`)).text, 'dnevnik_http_requests_total');
      assert.ok(after >= before + 5, `counter did not grow by ≥5: ${before} → ${after}`);
    });

    test('GET /metrics times store queries and shows the worker pools', T, async () => {
      const count = async () =>
        metricSum((await request(`${srv.url}/metrics`)).text, 'dnevnik_store_query_duration_seconds_count') ?? 0;
      const before = await count();
      for (let i = 0; i < 3; i++) assert.equal((await request(`${srv.url}/readyz`)).status, 200);
      const after = await count();
      assert.ok(after >= before + 3, `store queries not counted: ${before} → ${after} after 3 /readyz`);
      const text = (await request(`${srv.url}/metrics`)).text;
      assert.match(text, /^dnevnik_workers\{pool="store",state="total"\} [1-9]/m);
    });

    test('unknown path → 404 problem+json', T, async () => {
      assertProblem(await request(`${srv.url}/definitely/not/here`), 404);
      assertProblem(await request(`${srv.url}/api/v1/no-such-resource`), 404);
    });

    test('wrong method → 405 problem+json with Allow', T, async () => {
      for (const [method, p] of [
        ['POST', '/healthz'],
        ['DELETE', '/metrics'],
        ['PUT', '/readyz'],
      ]) {
        const res = await request(`${srv.url}${p}`, { method, body: method === 'DELETE' ? undefined : '{}' });
        assertProblem(res, 405);
        const allow = res.headers.allow;
        assert.ok(allow, `${method} ${p}: 405 without an Allow header`);
        const methods = allow.split(',').map((m) => m.trim().toUpperCase());
        assert.ok(methods.includes('GET'), `${method} ${p}: Allow '${allow}' lacks GET`);
        assert.ok(!methods.includes(method), `${method} ${p}: Allow '${allow}' lists the refused method`);
      }
    });

    test('POST /api/v1/debug/sleep works when test endpoints are on', T, async () => {
      const res = await request(`${srv.url}/api/v1/debug/sleep?ms=10`, { method: 'POST' });
      assert.deepEqual(assertJson(res, 200), { slept_ms: 10 });
    });

    test('body over --max-body (2 MiB, Content-Length) → 413 problem+json', T, async () => {
      const res = await rawRequest({
        port: srv.port,
        head: 'POST /api/v1/debug/sleep?ms=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream',
        bodySize: 2 * MiB,
      });
      assert.notEqual(res.status, null, `no HTTP response (write error: ${res.writeError?.code}, closed: ${res.closed}): ${res.text.slice(0, 300)}`);
      assertProblem(res, 413);
    });

    test('body over --max-body (2 MiB, chunked) → 413 problem+json', T, async () => {
      const res = await rawRequest({
        port: srv.port,
        head: 'POST /api/v1/debug/sleep?ms=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream',
        bodySize: 2 * MiB,
        chunked: true,
      });
      assert.notEqual(res.status, null, `no HTTP response (write error: ${res.writeError?.code}, closed: ${res.closed}): ${res.text.slice(0, 300)}`);
      assertProblem(res, 413);
    });

    test('server still healthy after the error cases', T, async () => {
      assert.equal((await request(`${srv.url}/healthz`)).status, 200);
    });
  });

  test('debug endpoints do not exist without DNEVNIK_TEST_ENDPOINTS=1', T, async (t) => {
    const srv = await serverFor(t);
    const res = await request(`${srv.url}/api/v1/debug/sleep?ms=1`, { method: 'POST' });
    assertProblem(res, 404);
  });

  test('slow request headers: connection closed after --request-timeout', T, async (t) => {
    const srv = await serverFor(t, { args: ['--request-timeout', '1000'] });
    const sock = net.connect({ host: '127.0.0.1', port: srv.port });
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const t0 = Date.now();
    let received = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => (received += d));
    sock.write('GET /heal'); // partial request line, never completed
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('still open'), 10000);
      sock.on('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      sock.on('error', () => {}); // ECONNRESET also means closed
    });
    const elapsed = Date.now() - t0;
    sock.destroy();
    assert.equal(outcome, 'closed', `server kept a connection with an incomplete request line open for ${elapsed} ms`);
    if (received) {
      // Answering is optional; if the server does, it must be a 408.
      assert.match(received, /^HTTP\/1\.[01] 408 /, `unexpected response to a timed-out request: ${received.slice(0, 200)}`);
    }
    assert.equal((await request(`${srv.url}/healthz`)).status, 200, 'server unhealthy after a request timeout');
  });

  test('SIGTERM: in-flight request completes, new ones are refused, exit 0', T, async () => {
    const srv = await startServer({ testEndpoints: true, args: ['--shutdown-timeout', '10000'] });
    try {
      const inflight = request(`${srv.url}/api/v1/debug/sleep?ms=1500`, { method: 'POST', timeoutMs: 20000 }).then(
        (res) => ({ res, at: Date.now() }),
        (err) => ({ err, at: Date.now() }),
      );
      await sleep(300);
      srv.proc.kill('SIGTERM');
      const termAt = Date.now();

      // A new connection after SIGTERM must not be served normally: refused,
      // closed without a response, or 503. Probe until the server has seen
      // the signal (a probe may race the signal handler), at most ~1 s.
      const outcomes = [];
      let drained = false;
      while (Date.now() - termAt < 1000) {
        await sleep(100);
        let outcome;
        try {
          const res = await request(`${srv.url}/readyz`, { timeoutMs: 5000 });
          outcome = `HTTP ${res.status}`;
          if (res.status === 503) assertProblem(res, 503);
        } catch (e) {
          outcome = e.code ?? e.message;
        }
        outcomes.push(outcome);
        if (outcome !== 'HTTP 200') {
          drained = true;
          break;
        }
      }
      assert.ok(drained, `server kept serving /readyz with 200 after SIGTERM: ${outcomes.join(', ')}`);
      assert.match(outcomes.at(-1), /^(HTTP 503|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up)$/, outcomes.join(', '));

      const done = await inflight;
      assert.ok(!done.err, `in-flight request failed during shutdown: ${done.err?.code ?? done.err?.message}`);
      assert.deepEqual(assertJson(done.res, 200), { slept_ms: 1500 });

      let timer;
      const exit = await Promise.race([srv.exited, new Promise((r) => (timer = setTimeout(r, 12000, null)))]);
      clearTimeout(timer);
      assert.ok(exit, 'server did not exit within 12 s of SIGTERM');
      assert.equal(exit.signal, null, `server died of signal ${exit.signal}`);
      assert.equal(exit.code, 0, `exit code ${exit.code}\n${srv.stderrText().slice(-3000)}`);
    } finally {
      await srv.stop('SIGKILL');
    }
  });

  test('GET /readyz → 503 when the database goes away', { ...T, skip: DB !== 'pg' && 'needs a PostgreSQL database that can be dropped' }, async (t) => {
    const srv = await serverFor(t);
    assert.equal((await request(`${srv.url}/readyz`)).status, 200);
    srv.database.cleanup(); // DROP DATABASE ... WITH (FORCE): kills the server's connections
    let last;
    const t0 = Date.now();
    while (Date.now() - t0 < 10000) {
      last = await request(`${srv.url}/readyz`);
      if (last.status === 503) break;
      await sleep(200);
    }
    assertProblem(last, 503);
    assert.equal((await request(`${srv.url}/healthz`)).status, 200, 'liveness must not depend on the database');
  });

  test('serve with an unopenable database exits non-zero with a clear message', T, async () => {
    const tmp = makeTmpDir();
    try {
      let url;
      if (DB === 'pg') {
        const u = new URL(process.env.DN_TEST_PG_URL);
        u.pathname = '/dn_no_such_database';
        url = u.toString();
      } else {
        url = `sqlite:${path.join(tmp, 'no', 'such', 'dir', 'dnevnik.db')}`;
      }
      const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--threads', '2', '--db', url, '--data-dir', tmp], {
        timeoutMs: 20000,
      });
      assert.ok(!r.timedOut, `serve kept running for 20 s with an unopenable database ${url}`);
      assert.notEqual(r.code, 0, `serve exited 0 with an unopenable database\n${r.stderr}`);
      assert.equal(r.signal, null, `serve died of ${r.signal}\n${r.stderr}`);
      assert.match(r.stderr, /database|\bdb\b|sqlite|postgres|store|open|connect/i, `no clear message on stderr:\n${r.stderr}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('migrate is idempotent and serve refuses a database newer than the binary', T, async () => {
    const db = freshDatabase();
    try {
      let r = await runCli(['migrate', '--db', db.url]);
      assert.equal(r.code, 0, `migrate failed:\n${r.stderr}`);
      r = await runCli(['migrate', '--db', db.url]);
      assert.equal(r.code, 0, `second migrate failed:\n${r.stderr}`);

      const attempts = [
        "insert into schema_migrations values (9999,'future',0)",
        "insert into schema_migrations (version, name) values (9999,'future')",
        'insert into schema_migrations (version) values (9999)',
      ];
      const errors = [];
      let inserted = false;
      for (const stmt of attempts) {
        const res = db.sql(stmt);
        if (res.ok) {
          inserted = true;
          break;
        }
        errors.push(`${stmt}: ${res.output.trim()}`);
      }
      assert.ok(inserted, `could not record a future migration:\n${errors.join('\n')}`);

      const tmp = makeTmpDir();
      try {
        r = await runCli(['serve', '--listen', '127.0.0.1:0', '--threads', '2', '--db', db.url, '--data-dir', tmp], {
          timeoutMs: 20000,
        });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      assert.ok(!r.timedOut, 'serve started on a database with a migration newer than the binary');
      assert.notEqual(r.code, 0, 'serve exited 0 on a database newer than the binary');
      assert.equal(r.signal, null, `serve died of ${r.signal}\n${r.stderr}`);
      assert.match(r.stderr, /9999|newer|version|migrat/i, `no clear message on stderr:\n${r.stderr}`);

      r = await runCli(['migrate', '--db', db.url]);
      assert.notEqual(r.code, 0, 'migrate exited 0 on a database newer than the binary');
    } finally {
      db.cleanup();
    }
  });

  describe('CLI', () => {
    test('--help exits 0 and lists the commands', T, async () => {
      const r = await runCli(['--help']);
      assert.equal(r.code, 0, r.stderr);
      for (const word of ['serve', 'migrate', 'version']) {
        assert.ok(r.stdout.includes(word), `--help output lacks '${word}':\n${r.stdout}`);
      }
    });

    test('serve --help exits 0 and lists the options', T, async () => {
      const r = await runCli(['serve', '--help']);
      assert.equal(r.code, 0, r.stderr);
      for (const word of ['--listen', '--threads', '--workers', '--db', '--max-body', '--request-timeout', '--shutdown-timeout', '--access-log', '--data-dir']) {
        assert.ok(r.stdout.includes(word), `serve --help output lacks '${word}':\n${r.stdout}`);
      }
    });

    test('version prints the version and exits 0', T, async () => {
      const r = await runCli(['version']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\d+\.\d+\.\d+/);
    });

    test('serve --threads abc exits non-zero with a clear error', T, async () => {
      const tmp = makeTmpDir();
      try {
        const r = await runCli(
          ['serve', '--listen', '127.0.0.1:0', '--threads', 'abc', '--db', `sqlite:${path.join(tmp, 'x.db')}`, '--data-dir', tmp],
          { timeoutMs: 15000 },
        );
        assert.ok(!r.timedOut, 'serve --threads abc kept running');
        assert.notEqual(r.code, 0);
        assert.equal(r.signal, null, `died of ${r.signal}`);
        assert.match(r.stderr, /threads/i, `error does not name the option:\n${r.stderr}`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('an unknown subcommand exits non-zero', T, async () => {
      const r = await runCli(['frobnicate'], { timeoutMs: 15000 });
      assert.ok(!r.timedOut);
      assert.notEqual(r.code, 0);
      assert.equal(r.signal, null);
    });
  });
});
