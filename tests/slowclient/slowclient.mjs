// Slow-client (slowloris) check: hundreds of connections that trickle their
// headers or bodies a byte at a time, or say nothing, while a normal client
// keeps making requests. Asserts only what must hold on any machine:
//   - no normal request fails (network error or a status other than 200);
//   - every slow connection is closed by the server within
//     --request-timeout + margin of its last chance (it never gets to hold a
//     slot longer than that, however slowly it keeps sending);
//   - the server's RSS stays bounded (reported; fails only above --max-rss-mb).
// Latency (p50/p99 of the normal client with and without the slow clients),
// connections held and RSS are reported, not asserted.
//
// Slow connections come from 127.0.0.2..127.0.0.(1+--addresses) so they stay
// under the per-address connection limit; the normal client uses 127.0.0.1.
//
// Usage: DN_BIN=build/dnevnik node tests/slowclient/slowclient.mjs
//          [--slow 320] [--seconds 8] [--timeout-ms 2000] [--margin-ms 4000] [--addresses 4]
//          [--trickle-ms 250] [--max-rss-mb 512] [--json FILE]
import net from 'node:net';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request, sleep, startServer } from '../api/lib/server.mjs';

const { values: opt } = parseArgs({
  options: {
    slow: { type: 'string', default: '320' },
    seconds: { type: 'string', default: '8' },
    'timeout-ms': { type: 'string', default: '2000' },
    'margin-ms': { type: 'string', default: '4000' },
    addresses: { type: 'string', default: '4' },
    'trickle-ms': { type: 'string', default: '250' },
    'max-rss-mb': { type: 'string', default: '512' },
    json: { type: 'string' },
    // internal: run only the slow connections against --port for --hold-ms, print a JSON summary
    child: { type: 'boolean', default: false },
    port: { type: 'string' },
    'hold-ms': { type: 'string' },
  },
});
const SLOW = Number(opt.slow);
const SECONDS = Number(opt.seconds);
const TIMEOUT = Number(opt['timeout-ms']);
const MARGIN = Number(opt['margin-ms']);
const ADDRS = Number(opt.addresses);
const TRICKLE = Number(opt['trickle-ms']);
const MAX_RSS = Number(opt['max-rss-mb']) * 1024 * 1024;
const ADMIN = 'root';
const PASS = 'slow-client-pass-1';

const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.log(`FAIL: ${msg}`);
};

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

/** One GET on a fresh connection (the accept path is what slow clients compete for). */
function timedGet(port, path, token) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host: '127.0.0.1', port, path, agent: false, headers: { authorization: `Bearer ${token}` }, timeout: 30000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
        res.on('error', (e) => resolve({ ok: false, error: e.code ?? e.message, ms: 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ ok: false, error: e.code ?? e.message, ms: 0 }));
    req.end();
  });
}

/** The normal client: `workers` loops of requests for `seconds`. */
async function normalClient(port, token, seconds, workers = 2) {
  const lat = [];
  const errors = [];
  const end = Date.now() + seconds * 1000;
  const paths = ['/api/v1/me', '/healthz'];
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = w; Date.now() < end; i++) {
        const r = await timedGet(port, paths[i % paths.length], token);
        if (r.ok) lat.push(r.ms);
        else errors.push(r.status ?? r.error);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { requests: lat.length + errors.length, failed: errors.length, errors: [...new Set(errors)].slice(0, 5),
    p50: pct(lat, 50), p99: pct(lat, 99), max: lat.at(-1) ?? NaN };
}

const MODES = ['headers', 'body', 'idle', 'partial'];

/**
 * A slot keeps one slow connection open at all times until `stop` is set:
 * when the server cuts one, it opens the next. Each connection records how
 * long it lived and whether the server (not we) closed it.
 */
function slowSlot(port, index, conns, state) {
  const mode = MODES[index % MODES.length];
  const localAddress = `127.0.0.${2 + (index % ADDRS)}`;
  const open = () => {
    if (state.stop) return;
    const c = { mode, start: Date.now(), end: null, byServer: false, bytes: 0, gotResponse: false };
    conns.push(c);
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let timer = null;
    const done = (byServer) => {
      if (c.end != null) return;
      c.end = Date.now();
      c.byServer = byServer;
      clearInterval(timer);
      sock.destroy();
      state.live--;
      if (!state.stop) setTimeout(open, 10);
    };
    state.live++;
    sock.on('data', () => (c.gotResponse = true));
    sock.on('end', () => done(true));
    sock.on('close', () => done(!state.stopping));
    sock.on('error', () => {});
    c.sock = sock;
    c.close = () => done(false);
    sock.on('connect', () => {
      let pending;
      if (mode === 'headers') {
        sock.write('GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        pending = 'a';
      } else if (mode === 'body') {
        sock.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"login":"');
        pending = 'b';
      } else if (mode === 'partial') {
        sock.write('GE');
        return;
      } else {
        return; // idle: connect and say nothing
      }
      timer = setInterval(() => {
        if (c.end == null && sock.writable) {
          sock.write(pending);
          c.bytes++;
        }
      }, TRICKLE);
    });
  };
  open();
}

/*
 * The slow connections run in a child process so that their hundreds of
 * timers do not delay the normal client's own event loop: the latency
 * measured is the server's, not node's.
 */
if (opt.child) {
  const port = Number(opt.port);
  const conns = [];
  const state = { stop: false, stopping: false, live: 0 };
  for (let i = 0; i < SLOW; i++) {
    slowSlot(port, i, conns, state);
    if (i % 50 === 49) await sleep(20);
  }
  await sleep(300);
  const heldAtStart = state.live;
  process.stdout.write(`READY ${heldAtStart}\n`);
  await sleep(Number(opt['hold-ms']));
  // Stop reopening; the last connections must be cut by the server in time.
  state.stop = true;
  const deadline = Date.now() + TIMEOUT + MARGIN + 500;
  while (conns.some((c) => c.end == null) && Date.now() < deadline) await sleep(50);
  state.stopping = true;
  const leftOpen = conns.filter((c) => c.end == null);
  for (const c of leftOpen) c.close();
  const lifetimes = conns.filter((c) => c.end != null && c.byServer).map((c) => c.end - c.start).sort((a, b) => a - b);
  const tooLong = conns.filter((c) => c.byServer && c.end - c.start > TIMEOUT + MARGIN);
  const byMode = Object.fromEntries(
    MODES.map((m) => {
      const l = conns.filter((c) => c.mode === m && c.byServer).map((c) => c.end - c.start).sort((a, b) => a - b);
      return [m, { cut: l.length, p50ms: pct(l, 50), maxms: l.at(-1) ?? null }];
    }),
  );
  process.stdout.write(`RESULT ${JSON.stringify({
    opened: conns.length,
    heldAtStart,
    cutByServer: lifetimes.length,
    lifetimeP50ms: pct(lifetimes, 50),
    lifetimeMaxms: lifetimes.at(-1) ?? null,
    leftOpen: leftOpen.length,
    tooLong: tooLong.length,
    byMode,
  })}\n`);
  process.exit(0);
}

/** Start the child holding the slow connections; resolves {ready, done} promises. */
function startSlowChild(port, holdMs) {
  const args = [fileURLToPath(import.meta.url), '--child', '--port', String(port), '--hold-ms', String(holdMs),
    '--slow', String(SLOW), '--timeout-ms', String(TIMEOUT), '--margin-ms', String(MARGIN),
    '--addresses', String(ADDRS), '--trickle-ms', String(TRICKLE)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onReady;
  const ready = new Promise((r) => (onReady = r));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    out += d;
    const m = /^READY (\d+)$/m.exec(out);
    if (m) onReady(Number(m[1]));
  });
  const done = new Promise((resolve) => {
    child.on('exit', (code) => {
      onReady(0);
      const m = /^RESULT (.*)$/m.exec(out);
      resolve(m ? JSON.parse(m[1]) : { error: `child exited ${code} without a result` });
    });
  });
  return { ready, done };
}

const srv = await startServer({
  args: ['--request-timeout', String(TIMEOUT), '--threads', '2'],
  env: { DNEVNIK_BOOTSTRAP_ADMIN: `${ADMIN}:${PASS}`, DNEVNIK_RATE_LIMIT: '0' },
});
let report;
try {
  const lr = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: ADMIN, password: PASS } });
  if (lr.status !== 200) throw new Error(`login failed: ${lr.status} ${lr.text}`);
  const token = lr.json().access_token;
  const rss = { start: rssBytes(srv.pid), baselineMax: 0, slowMax: 0, after: 0 };
  let rssPhase = 'baselineMax';
  const sampler = setInterval(() => {
    const v = rssBytes(srv.pid);
    if (v > rss[rssPhase]) rss[rssPhase] = v;
  }, 200);

  // Phase 1: the normal client alone.
  await normalClient(srv.port, token, 1); // warm-up, not reported
  const baseline = await normalClient(srv.port, token, SECONDS);
  console.log(`baseline: ${baseline.requests} requests, p50 ${baseline.p50.toFixed(2)} ms, p99 ${baseline.p99.toFixed(2)} ms, failed ${baseline.failed}`);

  // Phase 2: the same with SLOW trickling connections held open throughout.
  rssPhase = 'slowMax';
  const child = startSlowChild(srv.port, SECONDS * 1000 + 500);
  const heldAtStart = await child.ready;
  let openOnServer = null;
  const metricsProbe = (async () => {
    await sleep(Math.min(TIMEOUT / 2, 1000));
    const m = await request(`${srv.url}/metrics`);
    const g = /^dnevnik_http_connections_open (\d+)/m.exec(m.text);
    openOnServer = g ? Number(g[1]) : null;
  })();
  const withSlow = await normalClient(srv.port, token, SECONDS);
  await metricsProbe;
  console.log(`with ${SLOW} slow clients: ${withSlow.requests} requests, p50 ${withSlow.p50.toFixed(2)} ms, p99 ${withSlow.p99.toFixed(2)} ms, failed ${withSlow.failed}`);
  const slow = await child.done;
  rssPhase = 'after';
  await sleep(500);
  clearInterval(sampler);
  rss.after = rssBytes(srv.pid);
  if (slow.error) throw new Error(slow.error);
  const { leftOpen, tooLong, byMode, lifetimeMaxms } = slow;

  report = {
    slow: SLOW,
    seconds: SECONDS,
    requestTimeoutMs: TIMEOUT,
    baseline,
    withSlow,
    slowConnections: { ...slow, openOnServerMidPhase: openOnServer },
    rssMiB: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, +(v / 1048576).toFixed(1)])),
  };
  console.log(JSON.stringify(report, null, 2));

  if (baseline.failed > 0) fail(`baseline: ${baseline.failed} normal requests failed (${baseline.errors})`);
  if (withSlow.failed > 0) fail(`with slow clients: ${withSlow.failed} normal requests failed (${withSlow.errors})`);
  if (withSlow.requests < 10) fail(`the normal client got only ${withSlow.requests} requests through`);
  if (heldAtStart < SLOW * 0.9) fail(`only ${heldAtStart} of ${SLOW} slow connections could be opened`);
  if (leftOpen > 0) fail(`${leftOpen} slow connections were still open ${TIMEOUT + MARGIN} ms after the client stopped`);
  if (tooLong > 0)
    fail(`${tooLong} slow connections lived longer than timeout+margin (${TIMEOUT + MARGIN} ms), longest ${lifetimeMaxms} ms`);
  for (const m of MODES) if (byMode[m].cut === 0) fail(`no ${m} connection was ever cut by the server`);
  if (rss.slowMax > MAX_RSS) fail(`server RSS reached ${(rss.slowMax / 1048576).toFixed(1)} MiB (limit ${opt['max-rss-mb']})`);
  const h = await request(`${srv.url}/healthz`);
  if (h.status !== 200) fail(`server unhealthy after the run: ${h.status}`);
} catch (e) {
  fail(`error: ${e.stack ?? e}`);
} finally {
  try {
    const { code } = await srv.stop();
    if (code !== 0) fail(`server exited with ${code}`);
  } catch (e) {
    fail(`stop: ${e.message}`);
  }
}
if (opt.json && report) writeFileSync(opt.json, `${JSON.stringify(report, null, 2)}\n`);
console.log(failures.length ? `slowclient: ${failures.length} check(s) failed` : 'slowclient: all checks passed');
process.exit(failures.length ? 1 : 0);
