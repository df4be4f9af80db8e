// Crash-safety test: kill -9 the server at random moments under a write load
// and prove that every acknowledged write survived exactly once.
//
// One school is built through the API (tests/api/lib/fixture.mjs). Workers then
// write marks (POST, not idempotent by nature), attendance and term marks (PUT
// cells) and work comments (POST) concurrently; every 2xx is recorded with what
// it wrote. At a random moment the server gets SIGKILL; it is restarted on the
// same database and, before the load resumes, the store is read directly
// (sqlite3 / psql) and compared with the record:
//   - a mark or comment that was acknowledged is present exactly once (and a
//     mark under the id the server returned); one whose answer was lost is
//     present at most once;
//   - a cell (attendance, term mark) holds its last acknowledged value, or the
//     value of a later write whose answer was lost;
//   - SQLite: PRAGMA integrity_check says ok.
// Half of the POSTs carry an Idempotency-Key; when the server supports it
// (probed at start), every keyed write whose answer was lost is retried after
// the restart with the same key and must then appear exactly once.
//
// Usage: node tests/crash/crash.mjs --db sqlite|pg [--kills N] [--workers N]
//          [--seconds LIMIT] [--require-idempotency]
// Env: DN_BIN (binary), DN_TEST_PG_URL (pg). Prints one summary line
// "crash[DB]: ..." and exits 1 on any violation.
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, childEnv, freshDatabase, makeTmpDir, sleep, startServer } from '../api/lib/server.mjs';
import { SYSADMIN_LOGIN, SYSADMIN_PASSWORD, client, createSchool } from '../api/lib/fixture.mjs';

const { values: opt } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    kills: { type: 'string', default: '20' },
    workers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '600' },
    'require-idempotency': { type: 'boolean', default: false },
  },
});
const DBKIND = opt.db;
const KILLS = Number(opt.kills);
const WORKERS = Number(opt.workers);
const DEADLINE = Date.now() + Number(opt.seconds) * 1000;
const SEP = '\x1f';
const tag = `crash[${DBKIND}]`;
const log = (...a) => console.log(`${tag}:`, ...a);

// Fixed signing key: tokens minted before a kill stay valid after the restart
// (each start gets a fresh --data-dir from startServer).
const ENV = {
  DNEVNIK_BOOTSTRAP_ADMIN: `${SYSADMIN_LOGIN}:${SYSADMIN_PASSWORD}`,
  DNEVNIK_JWT_KEY: randomBytes(32).toString('hex'),
  DNEVNIK_ACCESS_TOKEN_TTL: '86400',
  DNEVNIK_RATE_LIMIT: '0',
};

// A violation stays one entry however many later checks see it again.
const violations = new Set();
function violation(msg) {
  if (violations.has(msg)) return;
  violations.add(msg);
  if (violations.size <= 20) console.log(`${tag}: VIOLATION ${msg}`);
}

// ---------------------------------------------------------------- direct reads

let database;
function query(sql) {
  const r =
    DBKIND === 'pg'
      ? spawnSync('psql', ['-X', '-q', '-A', '-t', '-F', SEP, '-v', 'ON_ERROR_STOP=1', '-d', database.url, '-c', sql], {
          encoding: 'utf8',
          timeout: 60000,
          maxBuffer: 256 << 20,
        })
      : spawnSync('sqlite3', ['-batch', '-noheader', '-separator', SEP, database.file, sql], {
          encoding: 'utf8',
          timeout: 60000,
          maxBuffer: 256 << 20,
        });
  if (r.error || r.status !== 0) throw new Error(`query failed: ${sql}\n${r.error?.message ?? ''}${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(SEP));
}

// ---------------------------------------------------------------- the record

// Append-only writes (marks, comments): one entry per attempt, keyed by a unique tag.
// state: 'acked' (2xx), 'unknown' (no answer: connection lost), 'failed' (non-2xx answer).
const appends = new Map(); // tag -> {kind, state, id, key, body, path, user}
// Cells (attendance, term marks): per cell, attempts in order; a cell belongs to one worker.
const cells = new Map(); // cellKey -> [{value, state}]
const stats = { acked: 0, unknown: 0, failed: 0, statuses: {}, retried: 0, retriedOk: 0 };

function note(state, status) {
  stats[state]++;
  if (status) stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
}

// ---------------------------------------------------------------- set-up

async function setup(srv) {
  const s = await createSchool(srv, {
    teachers: 2,
    students: 24,
    parents: 0,
    classes: ['7А'],
    subjects: ['Математика', 'Физика'],
  });
  const cls = s.classes[0];
  const math = s.subjects[0];
  const teacher = s.teachers[0]; // teaches subject 0 (Математика)
  // Lessons by SQL in one statement (lesson generation belongs to the timetable area).
  const rows = [];
  const start = Date.UTC(s.year, 8, 2);
  for (let d = 0; d < 45; d++) {
    const date = new Date(start + d * 86400000).toISOString().slice(0, 10);
    for (let no = 1; no <= 3; no++)
      rows.push(`(${s.schoolId}, ${cls.id}, ${math.id}, ${teacher.id}, '${date}', ${no}, '101', '', 0)`);
  }
  query(
    `INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, room, topic, cancelled) VALUES ${rows.join(', ')}`,
  );
  const lessons = query(`SELECT id FROM lessons WHERE class_id = ${cls.id} ORDER BY id`).map((r) => Number(r[0]));
  // A checkpoint and one handed-in work per student, for comments.
  const cp = (
    await teacher.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
      kind: 'homework',
      title: 'Контрольная',
      due_date: `${s.year}-09-20`,
    })
  ).json();
  if (!cp.id) throw new Error('checkpoint not created');
  const works = [];
  for (const st of s.students) {
    const r = await st.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Ответ' });
    if (r.status !== 201) throw new Error(`work: ${r.status} ${r.text}`);
    works.push(r.json().id);
  }
  return { s, cls, math, teacher, lessons, works, checkpointId: cp.id };
}

// Does the server honour Idempotency-Key? Post one comment twice under one key
// (a comment is appended each time: only the key can make the second a no-op).
async function probeIdempotency(ctx) {
  const key = `probe-${randomBytes(8).toString('hex')}`;
  const text = `probe:${key}`;
  const work = ctx.works[0];
  const path = `/api/v1/works/${work}/comments`;
  const a = await ctx.teacher.api.post(path, { text }, { 'idempotency-key': key });
  const b = await ctx.teacher.api.post(path, { text }, { 'idempotency-key': key });
  const [[json]] = query(`SELECT comments FROM works WHERE id = ${work}`);
  const n = JSON.parse(json).filter((c) => c.text === text).length;
  return a.status === 201 && b.status >= 200 && b.status < 300 && n === 1;
}

// ---------------------------------------------------------------- the load

let seq = 0;
const uid = () => `${Date.now().toString(36)}${(++seq).toString(36)}${randomBytes(3).toString('hex')}`;

// Outcome of one request: 'acked' with the response, 'failed' (an answer that is
// not 2xx: nothing may have been written... except a 5xx, which we treat as
// unknown), or 'unknown' (the connection died: written or not).
async function send(api, method, path, body, key) {
  try {
    const res = await api.raw(method, path, body, key ? { 'idempotency-key': key } : {});
    if (res.status >= 200 && res.status < 300) return { state: 'acked', res };
    return { state: res.status >= 500 ? 'unknown' : 'failed', res };
  } catch (e) {
    // Refused: the request never reached a server. Anything else: it may have.
    return { state: e.code === 'ECONNREFUSED' ? 'failed' : 'unknown', err: e };
  }
}

const KINDS = ['lesson', 'homework', 'test'];
// A mark is a cell (lesson, student, kind): the same kind again updates it, so
// each attempt writes a unique comment and the check knows which attempt won.
// Worker w owns the students with index % WORKERS == w, so writes to one cell never race.
const mine = (ctx, w) => ctx.s.students.filter((_, i) => i % WORKERS === w);
const pick = (a) => a[Math.floor(Math.random() * a.length)];

function markOp(ctx, w) {
  const student = pick(mine(ctx, w));
  const lesson = pick(ctx.lessons);
  const kind = pick(KINDS);
  const t = `crash:m:${uid()}`;
  return {
    kind: 'mark',
    method: 'POST',
    path: `/api/v1/lessons/${lesson}/marks`,
    body: { student_id: student.id, value: 1 + Math.floor(Math.random() * 5), kind, comment: t },
    cells: [[`m:${lesson}:${student.id}:${kind}`, t]],
  };
}

// Handing in appends a version: not idempotent by nature, like a comment.
function handInOp(ctx) {
  const i = Math.floor(Math.random() * ctx.s.students.length);
  const t = `crash:v:${uid()}`;
  return {
    kind: 'version',
    tag: t,
    as: i,
    method: 'POST',
    path: `/api/v1/checkpoints/${ctx.checkpointId}/works`,
    body: { text: t },
  };
}

function commentOp(ctx) {
  const work = ctx.works[Math.floor(Math.random() * ctx.works.length)];
  const t = `crash:c:${uid()}`;
  return { kind: 'comment', tag: t, method: 'POST', path: `/api/v1/works/${work}/comments`, body: { text: t } };
}

const STATUSES = ['present', 'absent', 'late', 'excused'];
// Worker w owns the students with index % WORKERS == w, so writes to one cell never race.
function attendanceOp(ctx, w) {
  const lesson = pick(ctx.lessons);
  const items = mine(ctx, w)
    .filter(() => Math.random() < 0.6)
    .map((st) => ({ student_id: st.id, status: STATUSES[Math.floor(Math.random() * 4)] }));
  if (items.length === 0) items.push({ student_id: mine(ctx, w)[0].id, status: 'absent' });
  return {
    kind: 'attendance',
    method: 'PUT',
    path: `/api/v1/lessons/${lesson}/attendance`,
    body: { items },
    cells: items.map((it) => [`a:${lesson}:${it.student_id}`, it.status]),
  };
}

function termMarkOp(ctx, w) {
  const st = pick(mine(ctx, w));
  const period = 1 + Math.floor(Math.random() * 4);
  const value = 2 + Math.floor(Math.random() * 4);
  return {
    kind: 'term',
    method: 'PUT',
    path: `/api/v1/classes/${ctx.cls.id}/subjects/${ctx.math.id}/term-marks`,
    body: { year_start: ctx.s.year, period, items: [{ student_id: st.id, value }] },
    cells: [[`t:${st.id}:${period}`, String(value)]],
  };
}

function record(op, out, key) {
  note(out.state, out.res?.status ?? out.err?.code);
  if (out.state === 'failed' && out.res && stats.failed <= 5)
    log(`non-2xx answer ${out.res.status} to ${op.method} ${op.path}: ${out.res.text.slice(0, 200)}`);
  if (op.tag) {
    appends.set(op.tag, { kind: op.kind, state: out.state, key, op });
  } else {
    const id = out.state === 'acked' && op.kind === 'mark' ? out.res.json().id : null;
    for (const [cell, value] of op.cells) {
      if (!cells.has(cell)) cells.set(cell, []);
      cells.get(cell).push({ value, state: out.state, id, key, op });
    }
  }
}

// The port changes with every restart: clients are bound to the current URL.
const current = { url: null };

const apiFor = (ctx, op) => client(current.url, op.as === undefined ? ctx.teacher.token : ctx.s.students[op.as].token);

async function worker(ctx, w, stop) {
  while (!stop.now) {
    const r = Math.random();
    const op =
      r < 0.4
        ? markOp(ctx, w)
        : r < 0.55
          ? commentOp(ctx)
          : r < 0.7
            ? handInOp(ctx)
            : r < 0.9
              ? attendanceOp(ctx, w)
              : termMarkOp(ctx, w);
    const key = Math.random() < 0.5 ? `k-${uid()}` : null;
    const out = await send(apiFor(ctx, op), op.method, op.path, op.body, key);
    record(op, out, key);
    // A refused connection means the server is down: wait for the restart.
    if (out.err?.code === 'ECONNREFUSED') return;
  }
}

// ---------------------------------------------------------------- verification

function verify(ctx) {
  let checked = 0;
  // Appends: comments and handed-in versions, counted by their unique text.
  const texts = new Map();
  const count = (t) => texts.set(t, (texts.get(t) ?? 0) + 1);
  for (const [comments, versions] of query(`SELECT comments, versions FROM works WHERE checkpoint_id = ${ctx.checkpointId}`)) {
    for (const c of JSON.parse(comments)) count(c.text);
    for (const v of JSON.parse(versions)) count(v.text);
  }
  for (const [t, a] of appends) {
    const n = texts.get(t) ?? 0;
    const what = `${a.kind} ${t}${a.key ? ' (keyed)' : ''}`;
    if (a.state === 'acked') {
      checked++;
      if (n !== 1) violation(`acknowledged ${what} present ${n} times`);
    } else if (a.state === 'failed') {
      if (n !== 0) violation(`refused ${what} present ${n} times`);
    } else if (n > 1) violation(`unacknowledged ${what} present ${n} times`);
  }
  // Cells: current value and number of rows per cell.
  const current = new Map();
  const rows = new Map();
  const put = (cell, v, id) => {
    current.set(cell, v);
    rows.set(cell, (rows.get(cell) ?? 0) + 1);
    if (id !== undefined) ids.set(cell, Number(id));
  };
  const ids = new Map();
  const lessons = ctx.lessons.join(',');
  for (const [id, l, s, k, c] of query(
    `SELECT id, lesson_id, student_id, kind, comment FROM marks WHERE lesson_id IN (${lessons})`,
  ))
    put(`m:${l}:${s}:${k}`, c, id);
  for (const [l, s, v] of query(`SELECT lesson_id, student_id, status FROM attendance WHERE lesson_id IN (${lessons})`))
    put(`a:${l}:${s}`, v);
  for (const [s, p, v] of query(
    `SELECT student_id, period, value FROM term_marks WHERE subject_id = ${ctx.math.id} AND year_start = ${ctx.s.year}`,
  ))
    put(`t:${s}:${p}`, v);
  for (const [cell, attempts] of cells) {
    let last = -1;
    attempts.forEach((a, i) => a.state === 'acked' && (last = i));
    const n = rows.get(cell) ?? 0;
    if (n > 1) violation(`cell ${cell} stored ${n} times`);
    if (last < 0) {
      // Nothing acknowledged: absent, or the value of an attempt whose answer was lost.
      const lost = new Set(attempts.filter((a) => a.state === 'unknown').map((a) => a.value));
      if (n > 0 && !lost.has(current.get(cell))) violation(`cell ${cell}: stored ${current.get(cell)}, never acknowledged`);
      continue;
    }
    checked++;
    // Allowed: the last acknowledged value, or any later attempt whose answer was lost.
    const allowed = new Set([attempts[last].value]);
    for (const a of attempts.slice(last + 1)) if (a.state === 'unknown') allowed.add(a.value);
    const v = current.get(cell);
    if (!allowed.has(v)) violation(`cell ${cell}: stored ${v}, acknowledged ${attempts[last].value}`);
    if (attempts[last].id != null && ids.get(cell) !== attempts[last].id)
      violation(`mark ${cell} answered id ${attempts[last].id} but is stored as ${ids.get(cell)}`);
  }
  if (DBKIND === 'sqlite') {
    const ic = query('PRAGMA integrity_check').map((r) => r[0]);
    if (ic.join() !== 'ok') violation(`integrity_check: ${ic.slice(0, 5).join('; ')}`);
  }
  return checked;
}

// After a restart: resend, under its key, every keyed write whose answer was
// lost (for a cell, only when it was the cell's last attempt: resending an
// older one would rightly overwrite a newer value). It must now be acknowledged;
// verify() then checks it is present exactly once.
async function retryUnknown(ctx) {
  const resend = async (what, a) => {
    stats.retried++;
    const out = await send(apiFor(ctx, a.op), a.op.method, a.op.path, a.op.body, a.key);
    if (out.state !== 'acked') {
      violation(`retry of ${what} under its key answered ${out.res?.status ?? out.err?.message}`);
      return null;
    }
    stats.retriedOk++;
    return out;
  };
  for (const [t, a] of appends) {
    if (a.state !== 'unknown' || !a.key) continue;
    if (await resend(`${a.kind} ${t}`, a)) a.state = 'acked';
  }
  const seen = new Set();
  for (const [cell, attempts] of cells) {
    const a = attempts.findLast((x) => x.state !== 'failed'); // refused attempts never reached a server
    if (!a || a.state !== 'unknown' || !a.key || seen.has(a.key)) continue;
    seen.add(a.key); // one attempt may cover several cells (an attendance column)
    if (a.op.cells.some(([c]) => cells.get(c).findLast((x) => x.state !== 'failed') !== a)) continue;
    const out = await resend(`${a.op.kind} ${cell}`, a);
    if (!out) continue;
    const id = a.op.kind === 'mark' ? out.res.json().id : null;
    for (const [c, value] of a.op.cells) cells.get(c).push({ value, state: 'acked', id, key: a.key, op: a.op });
  }
}

// ---------------------------------------------------------------- kills during start-up

// kill -9 a server that is still starting (migrations on a fresh store,
// orphan clean-up, opening the store workers): the next start must cope.
async function killDuringStartup(tmp) {
  const dataDir = path.join(tmp, 'startup-data');
  mkdirSync(dataDir, { recursive: true });
  const args = ['serve', '--listen', '127.0.0.1:0', '--threads', '2', '--db', database.url, '--data-dir', dataDir];
  const proc = spawn(BIN, args, { env: childEnv(ENV), stdio: 'ignore' });
  const exited = new Promise((r) => proc.on('exit', r));
  await sleep(5 + Math.random() * 250);
  proc.kill('SIGKILL');
  await exited;
}

// ---------------------------------------------------------------- main

async function main() {
  const tmp = makeTmpDir('dnevnik-crash-');
  database = freshDatabase(DBKIND, tmp);
  const start = () => startServer({ db: DBKIND, dbUrl: database.url, env: ENV });
  let startupKills = 0;
  // the very first start migrates an empty store: interrupt that a few times
  for (let i = 0; i < 3; i++, startupKills++) await killDuringStartup(tmp);
  let srv = await start();
  current.url = srv.url;
  let kills = 0;
  let checked = 0;
  let checksTotal = 0; // over all restarts: each re-checks everything acknowledged so far
  let loadMs = 0;
  let restartMs = 0;
  const t0 = Date.now();
  try {
    const ctx = await setup(srv);
    const idem = await probeIdempotency(ctx);
    log(`idempotency keys ${idem ? 'supported: lost keyed writes are retried after each restart' : 'NOT supported: retries skipped'}`);
    if (!idem && opt['require-idempotency']) violation('the server does not honour Idempotency-Key');
    while (kills < KILLS && Date.now() < DEADLINE) {
      const stop = { now: false };
      const running = Array.from({ length: WORKERS }, (_, w) => worker(ctx, w, stop));
      const window = 300 + Math.random() * 2200;
      await sleep(window);
      loadMs += window;
      await srv.stop('SIGKILL');
      kills++;
      stop.now = true;
      await Promise.all(running);
      if (Math.random() < 0.2) {
        await killDuringStartup(tmp);
        startupKills++;
      }
      const r0 = Date.now();
      srv = await start();
      restartMs += Date.now() - r0;
      current.url = srv.url;
      if (idem) await retryUnknown(ctx);
      checked = verify(ctx);
      checksTotal += checked;
      if (kills % 10 === 0) log(`${kills} kills, ${stats.acked} acknowledged so far`);
    }
    await srv.stop('SIGTERM');
    srv = null;
  } finally {
    if (srv) await srv.stop('SIGKILL', { checkSanitizers: false }).catch(() => {});
    database.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  const st = Object.entries(stats.statuses)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  log(
    `kills survived ${kills} under load + ${startupKills} during start-up, writes acknowledged ${stats.acked + stats.retriedOk} (${stats.retriedOk} of them on a keyed retry), ` +
      `checked ${checked} (writes and cells, after every restart: ${checksTotal} checks in all), answers lost ${stats.unknown}, refused ${stats.failed}, ` +
      `retried ${stats.retried}, statuses ${st}, ${secs} s ` +
      `(under load ${(loadMs / 1000).toFixed(1)} s, restarts ${(restartMs / 1000).toFixed(1)} s), violations ${violations.size}`,
  );
  if (kills < KILLS) violation(`only ${kills} of ${KILLS} kills within the time limit`);
  process.exit(violations.size ? 1 : 0);
}

main().catch((e) => {
  console.error(`${tag}: ERROR ${e.stack ?? e}`);
  process.exit(1);
});
