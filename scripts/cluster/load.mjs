// load.mjs - bounded load for the cluster topology test (tests/suites/50-cluster.sh).
//
//   node scripts/cluster/load.mjs PLAN.json EVENTS.jsonl   (env: LOAD_URL, LOAD_SECONDS,
//        LOAD_READERS, LOAD_WRITERS, LOAD_PAUSE_MS, LOAD_STOP_FILE, LOAD_RUN)
//
// Signs in the plan's teachers and students through HAProxy, then runs the everyday
// pages (student week and marks, teacher lessons and journal) and writes: lesson marks
// (each write a fresh (lesson, student, kind) cell whose comment is the write's key) and
// comments on works (appended rows: a write applied twice shows up as two copies).
// Every write carries an Idempotency-Key and is retried with the SAME key after a
// network error or a 5xx until it is acknowledged (or LOAD_WRITE_DEADLINE_MS passes).
// Every attempt is one JSON line: {t0, t1, op, ok, status, err?, key?, ack?}. The
// suite reads the lines (timestamps are epoch ms) to compute the per-scenario figures.
import { readFileSync, openSync, writeSync, existsSync } from 'node:fs';

const [planFile, eventsFile] = process.argv.slice(2);
const BASE = process.env.LOAD_URL;
const SECONDS = Number(process.env.LOAD_SECONDS || 300);
const READERS = Number(process.env.LOAD_READERS || 4);
const WRITERS = Number(process.env.LOAD_WRITERS || 2);
const PAUSE = Number(process.env.LOAD_PAUSE_MS || 20);
const STOP = process.env.LOAD_STOP_FILE || '';
const RUN = process.env.LOAD_RUN || String(Date.now());
const WRITE_DEADLINE = Number(process.env.LOAD_WRITE_DEADLINE_MS || 60000);
const TIMEOUT = Number(process.env.LOAD_TIMEOUT_MS || 8000);

const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const out = openSync(eventsFile, 'a');
const emit = (e) => writeSync(out, JSON.stringify(e) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const end = Date.now() + SECONDS * 1000;
const running = () => Date.now() < end && !(STOP && existsSync(STOP));

async function call(method, path, token, body, headers = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(BASE + path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, json, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

async function login(u) {
  for (let i = 0; i < 30; i++) {
    try {
      const r = await call('POST', '/api/v1/auth/login', null, { login: u.login, password: plan.password });
      if (r.status === 200) return r.json.access_token;
    } catch { /* retry */ }
    await sleep(500);
  }
  throw new Error(`cannot sign in ${u.login}`);
}

// One read: an everyday page. A 2xx/304 is a success; anything else a failure.
// ryw marks a read by a user who writes (a teacher of the writers' half): dnevnik sends
// that user's reads to the primary for a few seconds after each write
// (read-your-own-writes), so they depend on the primary like writes do.
async function read(op, path, token, ryw) {
  const t0 = Date.now();
  const tag = ryw ? { ryw: true } : {};
  try {
    const r = await call('GET', path, token);
    const ok = r.status < 400;
    emit({ t0, t1: Date.now(), op, ok, status: r.status, ...tag, ...(ok ? {} : { err: r.json?.title || r.json?.detail }) });
  } catch (e) {
    emit({ t0, t1: Date.now(), op, ok: false, status: 0, ...tag, err: String(e.cause?.code || e.name || e) });
  }
}

// One write, retried with its key until acknowledged. 4xx other than 408/409/429 is final.
async function write(op, method, path, token, body, key, ack) {
  const first = Date.now();
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    let status = 0, err = null, json = null, replayed = false;
    try {
      const r = await call(method, path, token, body, { 'idempotency-key': key });
      status = r.status; json = r.json; replayed = r.replayed;
    } catch (e) { err = String(e.cause?.code || e.name || e); }
    const t1 = Date.now();
    if (status >= 200 && status < 300) {
      // replayed: an earlier attempt had committed; the server answered from its record
      emit({ t0, t1, op, ok: true, status, key, attempt, ...(replayed ? { replayed } : {}), ack: { ...ack, first } });
      return;
    }
    const final = status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status);
    emit({ t0, t1, op, ok: false, status, key, attempt, final, err: err || json?.title || json?.detail });
    if (final || t1 - first > WRITE_DEADLINE) {
      emit({ t0: first, t1, op: op + '-gaveup', ok: false, status, key });
      return;
    }
    await sleep(Math.min(100 * attempt, 500));
  }
}

const students = plan.students;
const teachers = plan.teachers;
// the first half of the teachers write (and read their own pages), the other half only read
const writers = teachers.slice(0, Math.max(1, teachers.length >> 1));
const readers = teachers.slice(writers.length).length ? teachers.slice(writers.length) : teachers;
for (const t of writers) t.writes = true;
let seq = 0;
const used = new Set();

function pick(a) { return a[Math.floor(Math.random() * a.length)]; }

async function reader(i) {
  while (running()) {
    if (i % 2 === 0) {
      const s = pick(students);
      await read('week', `/api/v1/students/${s.id}/week`, s.token);
      if (!running()) break;
      await read('marks', `/api/v1/students/${s.id}/marks`, s.token);
    } else {
      // readers 1, 5, 9, ... read as teachers who also write; 3, 7, ... as teachers who only read
      const t = i % 4 === 1 ? pick(writers) : pick(readers);
      await read('lessons', '/api/v1/me/lessons', t.token, t.writes);
      if (!running()) break;
      const l = pick(t.lessons);
      await read('journal', `/api/v1/classes/${l.class_id}/journal?subject_id=${l.subject_id}`, t.token, t.writes);
    }
    await sleep(PAUSE);
  }
}

async function writer(i) {
  while (running()) {
    const t = writers[(i + seq) % writers.length];
    const key = `cl-${RUN}-${++seq}`;
    if (seq % 2 === 1 || !t.works.length) {
      let l, s, tries = 0;
      do { l = pick(t.lessons); s = pick(l.students); tries++; } while (used.has(`${l.id}:${s}`) && tries < 50);
      if (used.has(`${l.id}:${s}`)) { await sleep(PAUSE); continue; }
      used.add(`${l.id}:${s}`);
      const value = 2 + Math.floor(Math.random() * 4);
      await write('mark', 'POST', `/api/v1/lessons/${l.id}/marks`, t.token,
        { student_id: s, value, kind: 'homework', comment: key }, key,
        { type: 'mark', key, lesson: l.id, student: s, value });
    } else {
      const w = pick(t.works);
      await write('comment', 'POST', `/api/v1/works/${w}/comments`, t.token, { text: key }, key,
        { type: 'comment', key, work: w });
    }
    await sleep(PAUSE * 2);
  }
}

for (const u of [...students, ...teachers]) u.token = await login(u);
emit({ t0: Date.now(), t1: Date.now(), op: 'start', ok: true, status: 0 });
console.log(`load: ${students.length} students, ${teachers.length} teachers signed in; ` +
  `${READERS} readers, ${WRITERS} writers for at most ${SECONDS} s`);
await Promise.all([
  ...Array.from({ length: READERS }, (_, i) => reader(i)),
  ...Array.from({ length: WRITERS }, (_, i) => writer(i)),
]);
emit({ t0: Date.now(), t1: Date.now(), op: 'end', ok: true, status: 0 });
