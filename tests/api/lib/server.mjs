// Test harness for black-box API tests: starts a real `dnevnik serve` on a
// free loopback port with a fresh database, and offers small HTTP helpers.
//
// Environment:
//   DN_BIN          path to the binary (default build/dnevnik, relative to the repo root)
//   DN_DB           backend for tests: sqlite (default) or pg
//   DN_TEST_PG_URL  postgresql://user@127.0.0.1:PORT/db of a throwaway cluster
//                   (scripts/pg-test-cluster.sh); each pg server gets its own
//                   database created there and dropped on stop.
//   DN_TEST_VERBOSE=1  echo server stderr/stdout while tests run.
// Sanitizer builds: a server whose stderr holds an ASan/LSan/UBSan report
// fails its test at stop(); tests/lsan.supp, if present, suppresses leaks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.resolve(ROOT, process.env.DN_BIN || 'build/dnevnik');
export const DB = process.env.DN_DB || 'sqlite';
const LSAN_SUPP = path.join(ROOT, 'tests', 'lsan.supp');
if (DB !== 'sqlite' && DB !== 'pg') {
  throw new Error(`DN_DB must be 'sqlite' or 'pg', got '${DB}'`);
}

const LISTEN_RE = /listening on http:\\?\/\\?\/127\.0\.0\.1:(\d+)/;
const SANITIZER_RE =
  /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;
const MAX_CAPTURE = 8 * 1024 * 1024;
const verbose = process.env.DN_TEST_VERBOSE === '1';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- env / tmp

/** Environment for a child: ours minus any DNEVNIK_* (so a developer's shell
 *  cannot change what a test means), plus sanitizer defaults, plus `extra`. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DNEVNIK_')) env[k] = v;
  }
  env.UBSAN_OPTIONS ??= 'print_stacktrace=1';
  // Leaks that are known and accepted (e.g. inside a system library) can be
  // listed in tests/lsan.supp; LSAN_OPTIONS from the environment wins.
  if (env.LSAN_OPTIONS === undefined && existsSync(LSAN_SUPP)) {
    env.LSAN_OPTIONS = `suppressions=${LSAN_SUPP}:print_suppressions=0`;
  }
  return { ...env, ...extra };
}

export function makeTmpDir(prefix = 'dnevnik-api-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function sqliteUrl(file) {
  return `sqlite:${file}`;
}

// ---------------------------------------------------------------- databases

function pgAdminUrl() {
  const url = process.env.DN_TEST_PG_URL;
  if (!url) {
    throw new Error('DN_DB=pg needs DN_TEST_PG_URL (start one with scripts/pg-test-cluster.sh start DIR)');
  }
  return url;
}

/** Run SQL with psql; returns {ok, output}. */
export function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    timeout: 30000,
  });
  if (r.error) throw new Error(`psql: ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Run SQL with the sqlite3 CLI on a file; returns {ok, output}. */
export function sqlite3(file, sql) {
  const r = spawnSync('sqlite3', [file, sql], { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw new Error(`sqlite3: ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Create an empty PostgreSQL database in the test cluster. */
export function createPgDatabase() {
  const admin = pgAdminUrl();
  const name = `dn_${process.pid}_${randomBytes(5).toString('hex')}`;
  const r = psql(admin, `CREATE DATABASE ${name}`);
  if (!r.ok) throw new Error(`CREATE DATABASE ${name} failed: ${r.output}`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export function dropPgDatabase(name) {
  const r = psql(pgAdminUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  if (!r.ok) throw new Error(`DROP DATABASE ${name} failed: ${r.output}`);
}

/** A fresh, empty database of the given backend: {db, url, sql(stmt), cleanup()}. */
export function freshDatabase(db = DB, tmp = null) {
  if (db === 'pg') {
    const { name, url } = createPgDatabase();
    let dropped = false;
    return {
      db,
      url,
      name,
      sql: (stmt) => psql(url, stmt),
      cleanup() {
        if (!dropped) {
          dropped = true;
          dropPgDatabase(name);
        }
      },
    };
  }
  const dir = tmp ?? makeTmpDir();
  const file = path.join(dir, 'dnevnik.db');
  return {
    db,
    url: sqliteUrl(file),
    file,
    sql: (stmt) => sqlite3(file, stmt),
    cleanup() {
      if (!tmp) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- processes

const live = new Set();
process.on('exit', () => {
  for (const s of live) {
    try {
      s.proc.kill('SIGKILL');
    } catch {}
    try {
      s._cleanupSync();
    } catch {}
  }
});

function capture(stream, sink, label) {
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    if (sink.text.length < MAX_CAPTURE) sink.text += chunk;
    if (verbose) process.stderr.write(`[${label}] ${chunk}`);
  });
}

export function sanitizerReport(text) {
  const m = SANITIZER_RE.exec(text);
  if (!m) return null;
  const start = Math.max(0, text.lastIndexOf('\n', m.index) + 1);
  let report = text.slice(start, start + 3000);
  const summary = /^SUMMARY: .*$/m.exec(text.slice(start));
  if (summary && !report.includes(summary[0])) report += `\n...\n${summary[0]}`;
  return report;
}

/**
 * Start `dnevnik serve` on 127.0.0.1:0 with a fresh database.
 * opts: db ('sqlite'|'pg', default DN_DB), env (extra env), args (extra CLI
 * args, appended so they win), testEndpoints (sets DNEVNIK_TEST_ENDPOINTS=1),
 * dbUrl (use this database instead of a fresh one; not cleaned up),
 * timeoutMs (wait for the listening line, default 20000).
 * Returns {url, port, pid, proc, dbUrl, database, tmpDir, exited,
 *          stop(signal), stderrText(), stdoutText()}.
 */
export async function startServer(opts = {}) {
  const { db = DB, env = {}, args = [], testEndpoints = false, timeoutMs = 20000 } = opts;
  const tmpDir = makeTmpDir();
  const dataDir = path.join(tmpDir, 'data');
  mkdirSync(dataDir);
  const database = opts.dbUrl ? null : freshDatabase(db, tmpDir);
  const dbUrl = opts.dbUrl ?? database.url;

  const fullArgs = ['serve', '--listen', '127.0.0.1:0', '--threads', '2', '--db', dbUrl, '--data-dir', dataDir, ...args];
  const extraEnv = testEndpoints ? { DNEVNIK_TEST_ENDPOINTS: '1', ...env } : env;
  const proc = spawn(BIN, fullArgs, { env: childEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { text: '' };
  const err = { text: '' };
  capture(proc.stdout, out, 'stdout');
  capture(proc.stderr, err, 'stderr');

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    proc.on('error', (e) => {
      exitInfo = { code: null, signal: null, error: e };
      resolve(exitInfo);
    });
  });

  let cleaned = false;
  const server = {
    proc,
    pid: proc.pid,
    dbUrl,
    database,
    tmpDir,
    exited,
    url: null,
    port: null,
    stderrText: () => err.text,
    stdoutText: () => out.text,
    _cleanupSync() {
      if (cleaned) return;
      cleaned = true;
      live.delete(server);
      try {
        database?.cleanup();
      } finally {
        rmSync(tmpDir, { recursive: true, force: true });
      }
    },
    /**
     * Send `signal` (default SIGTERM), wait for exit (SIGKILL after
     * timeoutMs), drop the database, remove temp files. Returns {code, signal}.
     * Throws if the server did not exit in time or its stderr holds a
     * sanitizer report (unless checkSanitizers is false).
     */
    async stop(sig = 'SIGTERM', { timeoutMs: stopTimeout = 15000, checkSanitizers = true } = {}) {
      let timedOut = false;
      if (!exitInfo) {
        try {
          proc.kill(sig);
        } catch {}
        const t = setTimeout(() => {
          timedOut = true;
          proc.kill('SIGKILL');
        }, stopTimeout);
        await exited;
        clearTimeout(t);
      }
      // Let the stderr pipe drain (sanitizer reports are written at exit).
      if (!proc.stderr.closed) {
        await Promise.race([new Promise((r) => proc.stderr.once('close', r)), sleep(2000)]);
      }
      server._cleanupSync();
      if (timedOut) {
        throw new Error(`server did not exit within ${stopTimeout} ms of ${sig}; stderr:\n${tail(err.text)}`);
      }
      const report = checkSanitizers && sanitizerReport(err.text);
      if (report) throw new Error(`sanitizer report in server stderr:\n${report}`);
      return exitInfo;
    },
  };
  live.add(server);

  try {
    server.port = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "listening on" line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const m = LISTEN_RE.exec(err.text) ?? LISTEN_RE.exec(out.text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      proc.stderr.on('data', check);
      proc.stdout.on('data', check);
      exited.then((info) => {
        clearTimeout(timer);
        reject(
          new Error(
            info.error
              ? `could not start ${BIN}: ${info.error.message}`
              : `server exited before listening (code ${info.code}, signal ${info.signal})`,
          ),
        );
      });
    });
  } catch (e) {
    if (!exitInfo) proc.kill('SIGKILL');
    await exited;
    server._cleanupSync();
    throw new Error(`${e.message}\n  cmd: ${BIN} ${fullArgs.join(' ')}\n  stderr:\n${tail(err.text)}`);
  }
  server.url = `http://127.0.0.1:${server.port}`;
  return server;
}

/** startServer + stop it when the test `t` ends. */
export async function serverFor(t, opts = {}) {
  const srv = await startServer(opts);
  t.after(() => srv.stop());
  return srv;
}

function tail(text, n = 6000) {
  return text.length > n ? `...${text.slice(-n)}` : text;
}

/**
 * Run the binary to completion: {code, signal, stdout, stderr, timedOut}.
 * A run that exceeds timeoutMs is killed (SIGKILL) and has timedOut=true.
 */
export function runCli(args, { env = {}, timeoutMs = 20000, input = null } = {}) {
  return new Promise((resolve) => {
    const proc = spawn(BIN, args, { env: childEnv(env), stdio: [input == null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = { text: '' };
    const err = { text: '' };
    capture(proc.stdout, out, 'cli stdout');
    capture(proc.stderr, err, 'cli stderr');
    if (input != null) proc.stdin.end(input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    let done = false;
    const finish = (code, signal, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // 'close' waits for stdio to drain as well.
      resolve({ code, signal, stdout: out.text, stderr: err.text, timedOut, error });
    };
    proc.on('close', (code, signal) => finish(code, signal));
    proc.on('error', (e) => finish(null, null, e));
  });
}

// ---------------------------------------------------------------- HTTP

/**
 * One HTTP/1.1 request on a fresh connection (no keep-alive pool, so a test
 * controls exactly which connection is in flight).
 * opts: method, headers, body (string|Buffer|object → JSON), timeoutMs.
 * Resolves {status, headers, text, json()}; rejects on network errors
 * (err.code: ECONNREFUSED, ECONNRESET, ...) and on timeout (code ETIMEDOUT).
 */
export function request(url, opts = {}) {
  const { method = 'GET', headers = {}, timeoutMs = 15000 } = opts;
  let body = opts.body;
  const h = { ...headers };
  if (body != null && typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text,
          json() {
            try {
              return JSON.parse(text);
            } catch (e) {
              throw new Error(`response is not JSON (${e.message}): ${text.slice(0, 500)}`);
            }
          },
        });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      const e = new Error(`${method} ${url}: no response within ${timeoutMs} ms`);
      e.code = 'ETIMEDOUT';
      req.destroy(e);
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body != null) req.end(body);
    else req.end();
  });
}

function parseHead(buf) {
  // Skip interim 1xx responses (e.g. 100 Continue).
  let start = 0;
  while (/^HTTP\/1\.[01] 1\d\d /.test(buf.subarray(start, start + 16).toString('latin1'))) {
    const e = buf.indexOf('\r\n\r\n', start);
    if (e < 0) return null;
    start = e + 4;
  }
  buf = buf.subarray(start);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return { status: null, headers: {}, bodyStart: end + 4, statusLine: lines[0] };
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, bodyStart: start + end + 4, statusLine: lines[0] };
}

/** Decode a chunked body; returns {body, complete}. */
function dechunk(buf) {
  const parts = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), complete: false };
    if (size === 0) return { body: Buffer.concat(parts), complete: buf.indexOf('\r\n\r\n', eol) >= 0 || buf.length >= eol + 4 };
    if (buf.length < eol + 2 + size + 2) return { body: Buffer.concat(parts), complete: false };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

/** Split a raw response into {head, body, complete}. */
function parseResponse(buf) {
  const h = parseHead(buf);
  if (!h) return { head: null, body: buf, complete: false };
  const rest = buf.subarray(h.bodyStart);
  if (/chunked/i.test(h.headers['transfer-encoding'] ?? '')) {
    const { body, complete } = dechunk(rest);
    return { head: h, body, complete };
  }
  const len = h.headers['content-length'];
  if (len != null) return { head: h, body: rest.subarray(0, Number(len)), complete: rest.length >= Number(len) };
  return { head: h, body: rest, complete: false };
}

/**
 * Write a raw request over a TCP socket while reading the response, so a
 * server that answers early (e.g. 413 before the body is sent) is observed
 * even if it then closes the connection and our writes fail.
 * opts: port, head (request line + headers, without the blank line; a
 * Content-Length or Transfer-Encoding header is added from the body),
 * bodySize (bytes of 'x' to send), chunked (send the body chunked),
 * chunkSize (16 KiB), paceMs (pause between chunks, 2), pauseAfterHeadMs
 * (wait for an early answer before sending the body, 300), timeoutMs.
 * Resolves {status, headers, text, writeError, closed, sentBytes}.
 */
export function rawRequest({
  port,
  head,
  bodySize = 0,
  chunked = false,
  chunkSize = 16 * 1024,
  paceMs = 2,
  pauseAfterHeadMs = 300,
  timeoutMs = 15000,
}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let writeError = null;
    let sentBytes = 0;
    let finished = false;
    const finish = (closed) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      const r = parseResponse(received);
      resolve({
        status: r.head?.status ?? null,
        headers: r.head?.headers ?? {},
        text: r.body.toString('utf8'),
        writeError,
        closed,
        sentBytes,
      });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const complete = () => parseResponse(received).complete;
    // Any final (non-1xx) response head means: stop sending the body.
    const answered = () => parseHead(received) != null;
    sock.on('data', (c) => {
      received = Buffer.concat([received, c]);
      if (complete()) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => {
      writeError = e;
      if (received.length === 0 && e.code === 'ECONNREFUSED') {
        clearTimeout(timer);
        finished = true;
        reject(e);
      }
    });
    sock.on('connect', async () => {
      const te = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${bodySize}`;
      sock.write(`${head}\r\n${bodySize > 0 || chunked ? `${te}\r\n` : ''}\r\n`);
      // Like curl's Expect: 100-continue wait: give the server a moment to
      // answer from the headers alone before the body is sent.
      if (pauseAfterHeadMs > 0) {
        const t0 = Date.now();
        while (Date.now() - t0 < pauseAfterHeadMs && !answered() && !finished) await sleep(10);
      }
      const chunk = Buffer.alloc(chunkSize, 'x');
      let left = bodySize;
      while (left > 0 && !finished && !writeError && !answered()) {
        const n = Math.min(left, chunkSize);
        const piece = chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), chunk.subarray(0, n), Buffer.from('\r\n')])
          : chunk.subarray(0, n);
        sock.write(piece);
        left -= n;
        sentBytes += n;
        // Pacing lets the server read what arrives as it arrives, so when it
        // answers early and closes there is (almost) nothing unread on its
        // side; unread data would make its kernel reset the connection and
        // destroy the answer in flight. A server that drains before closing
        // (lingering close) does not depend on this.
        if (paceMs > 0) await sleep(paceMs);
        // (writableNeedDrain, not write()'s result: 'drain' may already have
        // fired during the pause above.)
        if (sock.writableNeedDrain && !finished) {
          await new Promise((r) => {
            const done = () => {
              sock.off('drain', done);
              sock.off('close', done);
              clearInterval(poll);
              r();
            };
            // Stop waiting as soon as the server has answered.
            const poll = setInterval(() => (answered() || finished) && done(), 20);
            sock.on('drain', done);
            sock.on('close', done);
          });
        }
      }
      if (chunked && left === 0 && !finished && !writeError && !answered()) sock.write('0\r\n\r\n');
    });
  });
}

// ---------------------------------------------------------------- assertions

/** Assert an RFC 9457 problem response; returns the parsed body. */
export function assertProblem(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${String(res.text).slice(0, 500)}`);
  const ct = res.headers['content-type'] ?? '';
  assert.match(ct, /^application\/problem\+json\b/i, `content-type of a ${status} must be application/problem+json, got '${ct}'`);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch (e) {
    assert.fail(`problem body is not JSON: ${res.text.slice(0, 500)}`);
  }
  for (const k of ['type', 'title', 'detail']) {
    assert.equal(typeof body[k], 'string', `problem.${k} must be a string: ${res.text.slice(0, 500)}`);
    assert.ok(body[k].length > 0, `problem.${k} must not be empty`);
  }
  assert.equal(body.status, status, `problem.status must be ${status}: ${res.text.slice(0, 500)}`);
  return body;
}

/** Assert a JSON response with the given status; returns the parsed body. */
export function assertJson(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${String(res.text).slice(0, 500)}`);
  const ct = res.headers['content-type'] ?? '';
  assert.match(ct, /^application\/json\b/i, `content-type must be application/json, got '${ct}'`);
  return res.json();
}

/** Lint Prometheus text with `promtool check metrics`: {code, output}. */
export function promtoolCheck(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
  if (r.error) {
    throw new Error(`promtool not runnable (${r.error.message}); install it: scripts/install-deps.sh test`);
  }
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Sum of all samples of a metric family (any labels) in Prometheus text. */
export function metricSum(text, name) {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'gm');
  let sum = 0;
  let found = false;
  for (const m of text.matchAll(re)) {
    sum += Number(m[1]);
    found = true;
  }
  return found ? sum : null;
}
