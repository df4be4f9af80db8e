// dnevnik backup / restore: an online backup taken under a write load holds
// every write acknowledged before it started, restores into a fresh place,
// serves from there (files download with their SHA-256), and the commands
// refuse what they must refuse (PostgreSQL, an existing --out, a non-empty
// target without --force, a damaged backup, a live row whose file is gone).
// On DN_DB=pg only the refusals that concern PostgreSQL run.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { BIN, DB, ROOT, childEnv, makeTmpDir, runCli, sqlite3, startServer } from './lib/server.mjs';
import { client, createSchool, signIn, startSchoolServer } from './lib/fixture.mjs';

const T = { timeout: 180000 };
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** Raw-body request (uploads and downloads are binary). */
function bin(url, { method = 'GET', token, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Every line of a sqlite3 query, split on '|'. */
function rows(file, sql) {
  const r = sqlite3(file, sql);
  assert.ok(r.ok, r.output);
  return r.output
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('|'));
}

describe(`backup and restore [${DB}]`, { skip: DB !== 'sqlite' }, () => {
  let srv, s, teacher, lessons, works, dataDir, dbFile, tmp;
  // acknowledged writes: {kind, at (ms after the answer), ...what was written}
  const acked = [];

  before(async () => {
    tmp = makeTmpDir('dnevnik-backup-');
    srv = await startSchoolServer({ env: { DNEVNIK_RATE_LIMIT: '0' } });
    dataDir = path.join(srv.tmpDir, 'data');
    dbFile = srv.database.file;
    s = await createSchool(srv, { teachers: 1, students: 6, parents: 0, subjects: ['Математика'] });
    teacher = s.teachers[0];
    const values = [];
    for (let d = 0; d < 40; d++) {
      const date = new Date(Date.UTC(s.year, 8, 2) + d * 86400000).toISOString().slice(0, 10);
      values.push(`(${s.schoolId}, ${s.classes[0].id}, ${s.subjects[0].id}, ${teacher.id}, '${date}', 1, '1', '', 0)`);
    }
    const r = srv.database.sql(
      `INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, room, topic, cancelled) VALUES ${values.join(',')}`,
    );
    assert.ok(r.ok, r.output);
    lessons = rows(dbFile, `SELECT id FROM lessons WHERE class_id = ${s.classes[0].id} ORDER BY id`).map((x) => Number(x[0]));
    const cp = (
      await teacher.api.post(`/api/v1/classes/${s.classes[0].id}/subjects/${s.subjects[0].id}/checkpoints`, {
        kind: 'homework',
        title: 'Сочинение',
        due_date: `${s.year}-09-20`,
      })
    ).json();
    works = [];
    for (const st of s.students) works.push((await st.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Ответ' })).json().id);
  });
  after(async () => {
    if (srv) await srv.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // A bounded write load: marks into fresh cells, comments, file uploads.
  async function load(stop) {
    const cells = [];
    for (const l of lessons) for (const st of s.students) for (const kind of ['lesson', 'test']) cells.push([l, st.id, kind]);
    cells.sort(() => Math.random() - 0.5);
    const worker = async (w) => {
      for (let i = 0; !stop.now; i++) {
        const r = (i + w) % 3;
        if (r === 0 && cells.length) {
          const [lesson, student, kind] = cells.pop();
          const comment = `b:${randomBytes(6).toString('hex')}`;
          const res = await teacher.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: student, value: 4, kind, comment });
          if (res.status === 201) acked.push({ kind: 'mark', at: Date.now(), id: res.json().id, comment });
        } else if (r === 1) {
          const text = `b:${randomBytes(6).toString('hex')}`;
          const work = works[Math.floor(Math.random() * works.length)];
          const res = await teacher.api.post(`/api/v1/works/${work}/comments`, { text });
          if (res.status === 201) acked.push({ kind: 'comment', at: Date.now(), work, text });
        } else {
          const st = s.students[Math.floor(Math.random() * s.students.length)];
          const data = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2000 + Math.floor(Math.random() * 60000))]);
          const res = await bin(`${srv.url}/api/v1/files?name=${encodeURIComponent('работа.pdf')}`, {
            method: 'POST',
            token: st.token,
            headers: { 'content-type': 'application/octet-stream' },
            body: data,
          });
          if (res.status === 201)
            acked.push({ kind: 'file', at: Date.now(), id: JSON.parse(res.body).id, student: st, sha: sha256(data) });
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
  }

  const backupArgs = (out, dir = dataDir, db = srv.dbUrl) => ['backup', '--db', db, '--data-dir', dir, '--out', out];

  test('a backup taken under load restores with every write acknowledged before it; the copy serves', T, async (t) => {
    const stop = { now: false };
    const running = load(stop);
    await new Promise((r) => setTimeout(r, 1500));
    const out = path.join(tmp, 'b1');
    const startedAt = Date.now();
    const b = await runCli(backupArgs(out), { timeoutMs: 120000 });
    await new Promise((r) => setTimeout(r, 500)); // writes go on after the backup too
    stop.now = true;
    await running;
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^backup .*: database \d+ bytes \(schema \d+\), \d+ file\(s\) \d+ bytes/);
    const before = acked.filter((a) => a.at < startedAt);
    assert.ok(before.filter((a) => a.kind === 'file').length > 0 && before.length > 20, `load too small: ${before.length}`);
    assert.ok(acked.length > before.length, 'no write landed while or after the backup ran');
    t.diagnostic(`${before.length} writes acknowledged before the backup started, ${acked.length - before.length} during or after; ${b.stdout.trim()}`);

    // the manifest: counts, schema, sha256 of the database and of every file
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.format, 'dnevnik-backup');
    assert.ok(m.schema_version >= 1 && m.counts.marks >= before.filter((a) => a.kind === 'mark').length);
    assert.equal(m.database.sha256, sha256(readFileSync(path.join(out, m.database.file))));
    for (const a of before.filter((x) => x.kind === 'file'))
      assert.ok(m.files.some((f) => f.sha256 === a.sha), `file ${a.id} not in the manifest`);
    assert.equal(statSync(out).mode & 0o077, 0, 'a backup holds personal data: owner-only directory');
    assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.partial-')), []);

    // restore into a fresh place
    const dir = path.join(tmp, 'r1');
    const rdb = path.join(dir, 'dnevnik.db');
    const rdata = path.join(dir, 'data');
    const r = await runCli(['restore', '--from', out, '--db', `sqlite:${rdb}`, '--data-dir', rdata], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^restored .*checksums ok/);
    assert.deepEqual(rows(rdb, 'PRAGMA integrity_check'), [['ok']]);

    const marks = new Map(rows(rdb, `SELECT comment, id FROM marks WHERE comment LIKE 'b:%'`).map(([c, id]) => [c, Number(id)]));
    const texts = new Map();
    for (const [json] of rows(rdb, `SELECT comments FROM works`))
      for (const c of JSON.parse(json)) texts.set(c.text, (texts.get(c.text) ?? 0) + 1);
    for (const a of before) {
      if (a.kind === 'mark') assert.equal(marks.get(a.comment), a.id, `mark ${a.comment} acknowledged before the backup`);
      if (a.kind === 'comment') assert.equal(texts.get(a.text), 1, `comment ${a.text} acknowledged before the backup`);
    }
    for (const [t, n] of texts) assert.ok(n === 1 || !t.startsWith('b:'), `comment ${t} restored ${n} times`);

    // a server on the restored copy: sign in again (keys are not in backups), download every file
    const srv2 = await startServer({ dbUrl: `sqlite:${rdb}`, args: ['--data-dir', rdata] });
    try {
      const tokens = new Map();
      for (const a of before.filter((x) => x.kind === 'file')) {
        if (!tokens.has(a.student.id)) tokens.set(a.student.id, (await signIn(srv2.url, a.student.login, a.student.password)).token);
        const res = await bin(`${srv2.url}/api/v1/files/${a.id}`, { token: tokens.get(a.student.id) });
        assert.equal(res.status, 200, `file ${a.id}`);
        assert.equal(sha256(res.body), a.sha, `file ${a.id} content`);
      }
      const api = client(srv2.url, (await signIn(srv2.url, teacher.login, teacher.password)).token);
      const w = (await api.get(`/api/v1/works/${works[0]}`)).json();
      assert.ok(Array.isArray(w.comments));
    } finally {
      await srv2.stop();
    }

    // a non-empty target is refused without --force and overwritten with it
    const again = await runCli(['restore', '--from', out, '--db', `sqlite:${rdb}`, '--data-dir', rdata]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds data.*--force/);
    const forced = await runCli(['restore', '--from', out, '--db', `sqlite:${rdb}`, '--data-dir', rdata, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
  });

  test('backup refuses an existing --out and leaves it alone', T, async () => {
    const out = path.join(tmp, 'exists');
    writeFileSync(out, 'x');
    const b = await runCli(backupArgs(out));
    assert.equal(b.code, 2);
    assert.match(b.stderr, /already exists/);
    assert.equal(readFileSync(out, 'utf8'), 'x');
  });

  test('a damaged file or database in a backup is found before anything is restored', T, async () => {
    const out = path.join(tmp, 'b2');
    assert.equal((await runCli(backupArgs(out))).code, 0);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const key = m.files[0].sha256;
    const blob = path.join(out, 'files', key.slice(0, 2), key);
    const orig = readFileSync(blob);
    const bad = Buffer.from(orig);
    bad[bad.length - 1] ^= 1;
    writeFileSync(blob, bad);
    const dir = path.join(tmp, 'r2');
    const r = await runCli(['restore', '--from', out, '--db', `sqlite:${dir}/x.db`, '--data-dir', `${dir}/data`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`file ${key} is damaged`));
    assert.equal(existsSync(`${dir}/x.db`), false, 'nothing restored');
    writeFileSync(blob, orig);
    const v = await runCli(['restore', '--from', out, '--verify-only']);
    assert.equal(v.code, 0, v.stderr);
    const db = path.join(out, 'dnevnik.db');
    const dbuf = readFileSync(db);
    dbuf[dbuf.length - 100] ^= 0xff;
    writeFileSync(db, dbuf);
    const v2 = await runCli(['restore', '--from', out, '--verify-only']);
    assert.equal(v2.code, 1);
    assert.match(v2.stderr, /does not match the manifest/);
    const none = await runCli(['restore', '--from', path.join(tmp, 'nothing-here'), '--verify-only']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /manifest\.json/);
  });

  test('a live row whose file is missing fails the backup loudly and leaves no partial directory', T, async () => {
    const [[key]] = rows(dbFile, 'SELECT sha256 FROM files WHERE purged_at IS NULL LIMIT 1');
    const blob = path.join(dataDir, 'files', key.slice(0, 2), key);
    const saved = readFileSync(blob);
    rmSync(blob);
    try {
      const out = path.join(tmp, 'b3');
      const b = await runCli(backupArgs(out));
      assert.equal(b.code, 1);
      assert.match(b.stderr, new RegExp(`file ${key} is named by a live row but missing`));
      assert.equal(existsSync(out), false);
      assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.partial-')), []);
    } finally {
      writeFileSync(blob, saved);
    }
  });

  test('a file purged between the snapshot and the copy is marked purged in the copy, as the purge did', T, async () => {
    // The race, staged: the backup pauses after its snapshot (a test hook), the
    // file is purged meanwhile (row first, then the blob, as dn_files_purge does).
    const [[id, key]] = rows(dbFile, 'SELECT id, sha256 FROM files WHERE purged_at IS NULL ORDER BY id DESC LIMIT 1');
    assert.equal(rows(dbFile, `SELECT COUNT(*) FROM files WHERE sha256 = '${key}'`)[0][0], '1');
    const out = path.join(tmp, 'b4');
    const proc = spawn(BIN, backupArgs(out), { env: childEnv({ DNEVNIK_TEST_BACKUP_PAUSE_MS: '4000' }) });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    const exited = new Promise((r) => proc.on('close', r));
    await new Promise((resolve, reject) => {
      proc.stderr.on('data', (c) => {
        stderr += c;
        if (stderr.includes('snapshot taken')) resolve();
      });
      exited.then(() => reject(new Error(`backup ended before its snapshot: ${stderr}`)));
    });
    assert.ok(srv.database.sql(`UPDATE files SET purged_at = 1 WHERE id = ${id}`).ok);
    const blob = path.join(dataDir, 'files', key.slice(0, 2), key);
    rmSync(blob);
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /purged meanwhile/);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.files.some((f) => f.sha256 === key), false);
    const [[purged]] = rows(path.join(out, 'dnevnik.db'), `SELECT purged_at IS NOT NULL FROM files WHERE id = ${id}`);
    assert.equal(purged, '1', 'the copy must not name a blob it does not hold');
  });
});

// The file copy goes through the blob store interface: a backup of an S3 file
// store holds the blobs and restores them into local files.
describe(`backup of an S3 file store [${DB}]`, { skip: DB !== 'sqlite' || process.env.DN_TEST_S3 !== '1' }, () => {
  test('backup reads the blobs from S3, restore writes them to a local file store that serves them', T, async () => {
    const tmp = makeTmpDir('dnevnik-backup-s3-');
    const s3 = ['--files-backend', 's3', '--s3-endpoint', process.env.DN_TEST_S3_ENDPOINT, '--s3-bucket', process.env.DN_TEST_S3_BUCKET];
    const s3env = {
      DNEVNIK_S3_ACCESS_KEY: process.env.DN_TEST_S3_ACCESS_KEY ?? 'S3RVER',
      DNEVNIK_S3_SECRET_KEY: process.env.DN_TEST_S3_SECRET_KEY ?? 'S3RVER',
    };
    const srv = await startSchoolServer({ args: s3, env: s3env });
    try {
      const s = await createSchool(srv, { teachers: 1, students: 2, parents: 0 });
      const up = [];
      for (let i = 0; i < 4; i++) {
        const st = s.students[i % 2];
        const data = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5000 + i)]);
        const res = await bin(`${srv.url}/api/v1/files?name=s3-${i}.pdf`, {
          method: 'POST',
          token: st.token,
          headers: { 'content-type': 'application/octet-stream' },
          body: data,
        });
        assert.equal(res.status, 201);
        up.push({ id: JSON.parse(res.body).id, st, sha: sha256(data) });
      }
      const out = path.join(tmp, 'b');
      const b = await runCli(['backup', '--db', srv.dbUrl, '--data-dir', path.join(srv.tmpDir, 'data'), ...s3, '--out', out], { env: s3env });
      assert.equal(b.code, 0, b.stderr);
      for (const u of up) assert.ok(existsSync(path.join(out, 'files', u.sha.slice(0, 2), u.sha)), `blob ${u.sha} copied`);
      const rdb = path.join(tmp, 'r.db');
      const rdata = path.join(tmp, 'rdata');
      const r = await runCli(['restore', '--from', out, '--db', `sqlite:${rdb}`, '--data-dir', rdata]);
      assert.equal(r.code, 0, r.stderr);
      const srv2 = await startServer({ dbUrl: `sqlite:${rdb}`, args: ['--data-dir', rdata] });
      try {
        for (const u of up) {
          const token = (await signIn(srv2.url, u.st.login, u.st.password)).token;
          const res = await bin(`${srv2.url}/api/v1/files/${u.id}`, { token });
          assert.equal(res.status, 200);
          assert.equal(sha256(res.body), u.sha);
        }
      } finally {
        await srv2.stop();
      }
    } finally {
      await srv.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe(`backup rotation (scripts/backup-rotate.sh) [${DB}]`, { skip: DB !== 'sqlite' }, () => {
  test('keeps the newest 7 daily, 4 weekly (Sundays) and --monthly N (1st) backups; a failed backup prunes nothing', T, async () => {
    const tmp = makeTmpDir('dnevnik-rotate-');
    try {
      // a stand-in for the binary: the rotation, not the backup, is under test here
      const stub = path.join(tmp, 'stub.sh');
      writeFileSync(stub, '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done\n' +
        '[ -n "$FAIL" ] && exit 1\nmkdir -p "$out" && echo "{}" > "$out/manifest.json"\n', { mode: 0o755 });
      const root = path.join(tmp, 'r');
      const run = (date, env = {}) =>
        spawnSync('bash', [path.join(ROOT, 'scripts/backup-rotate.sh'), '--root', root, '--monthly', '1', '--date', date, '--', '--db', 'x'], {
          env: { ...process.env, DNEVNIK_BIN: stub, ...env },
          encoding: 'utf8',
        });
      for (let i = 0; i < 45; i++) {
        const d = new Date(Date.UTC(2026, 1, 25) + i * 86400000).toISOString().slice(0, 10);
        const r = run(d);
        assert.equal(r.status, 0, r.stderr);
      }
      // 2026-02-25 .. 2026-04-10
      assert.deepEqual(readdirSync(path.join(root, 'daily')), ['2026-04-04', '2026-04-05', '2026-04-06', '2026-04-07', '2026-04-08', '2026-04-09', '2026-04-10']);
      assert.deepEqual(readdirSync(path.join(root, 'weekly')), ['2026-03-15', '2026-03-22', '2026-03-29', '2026-04-05']);
      assert.deepEqual(readdirSync(path.join(root, 'monthly')), ['2026-04-01']);
      // leftovers of a backup killed half-way (its process is gone) are removed by the next run
      mkdirSync(path.join(root, 'daily', '2026-04-09.partial-999999999'));
      const failed = run('2026-04-11', { FAIL: '1' });
      assert.equal(existsSync(path.join(root, 'daily', '2026-04-09.partial-999999999')), false);
      assert.notEqual(failed.status, 0);
      assert.equal(readdirSync(path.join(root, 'daily')).length, 7);
      assert.equal(run('2026-04-10').status, 1, 'the same day twice is refused');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe(`backup on PostgreSQL [${DB}]`, { skip: DB !== 'pg' }, () => {
  let srv;
  before(async () => {
    srv = await startServer({});
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('dnevnik backup refuses the PostgreSQL store and names the tools that back it up', T, async () => {
    const tmp = makeTmpDir('dnevnik-backup-pg-');
    try {
      const out = path.join(tmp, 'b');
      const b = await runCli(['backup', '--db', srv.dbUrl, '--data-dir', path.join(tmp, 'data'), '--out', out]);
      assert.equal(b.code, 2);
      assert.match(b.stderr, /pg_basebackup or pgBackRest/);
      assert.equal(existsSync(out), false);
      assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.partial-')), []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('restore refuses a PostgreSQL target', T, async () => {
    const tmp = makeTmpDir('dnevnik-backup-pg-');
    try {
      // a real backup of an SQLite store to restore from
      const sq = await startServer({ db: 'sqlite' });
      const out = path.join(tmp, 'b');
      const b = await runCli(['backup', '--db', sq.dbUrl, '--data-dir', path.join(sq.tmpDir, 'data'), '--out', out]);
      await sq.stop();
      assert.equal(b.code, 0, b.stderr);
      const r = await runCli(['restore', '--from', out, '--db', srv.dbUrl, '--data-dir', path.join(tmp, 'data')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /restores into SQLite only/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
