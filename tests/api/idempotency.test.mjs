// Idempotency-Key (issue 8): a retried write with the same key by the same
// user gets the first answer again (same status and body, header
// idempotent-replayed: true) and changes nothing; the same key on another
// request is 422; a malformed key is 400; keys are per user; concurrent
// duplicates apply once; and a retry after the server was killed with
// SIGKILL right after answering still replays (the answer is stored in the
// same transaction as the write). Runs on SQLite and PostgreSQL (DN_DB).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { DB, assertJson, assertProblem, startServer, request } from './lib/server.mjs';
import {
  SYSADMIN_LOGIN,
  SYSADMIN_PASSWORD,
  createSchool,
  seedLesson,
  signIn,
  sqlInt,
  sqlRun,
  startSchoolServer,
} from './lib/fixture.mjs';

const T = { timeout: 120000 };
let seq = 0;
const newKey = (tag = 'k') => `${tag}-${process.pid}-${Date.now()}-${++seq}`;
const K = (key) => ({ 'idempotency-key': key });

function count(srv, sql) {
  return sqlInt(sqlRun(srv, sql));
}

/** A raw upload (Buffer body) with headers. */
function upload(url, token, name, data, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/files?name=${encodeURIComponent(name)}`,
      {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** The replay must equal the first answer: status, content type, body. */
function assertReplay(first, again) {
  assert.equal(again.status, first.status, `replay status: ${again.text.slice(0, 300)}`);
  assert.equal(again.headers['idempotent-replayed'], 'true', 'a replay says so');
  assert.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay');
  assert.equal(again.headers['content-type'], first.headers['content-type']);
  assert.equal(again.text, first.text, 'the same body byte for byte');
}

describe(`idempotency [${DB}]`, () => {
  let srv, s, t0, t1, st0, st1, st2, cls, math, lesson, lesson2;

  before(async () => {
    srv = await startSchoolServer();
    s = await createSchool(srv, {
      teachers: 2,
      students: 3,
      parents: 1,
      classes: ['5А', '5Б'],
      subjects: ['Математика', 'Русский язык'],
    });
    [t0, t1] = s.teachers;
    [st0, st1, st2] = s.students; // st0, st2 in 5А
    cls = s.classes[0];
    math = s.subjects[0];
    const mk = (date) => seedLesson(srv, s.schoolId, { classId: cls.id, subjectId: math.id, teacherId: t0.id, date });
    lesson = mk(`${s.year}-09-15`);
    lesson2 = mk(`${s.year}-09-16`);
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a retried mark replays the first answer and adds nothing', T, async () => {
    const key = newKey('mark');
    const before = count(srv, `SELECT count(*) FROM marks WHERE lesson_id = ${lesson}`);
    const first = await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 5, kind: 'test' }, K(key));
    const m = assertJson(first, 201);
    const again = await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 5, kind: 'test' }, K(key));
    assertReplay(first, again);
    assert.equal(again.json().id, m.id);
    assert.equal(count(srv, `SELECT count(*) FROM marks WHERE lesson_id = ${lesson}`), before + 1);
    // without a key the same request is simply a new request (here: updates the same cell)
    assertJson(await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 4, kind: 'test' }), 201);
    const third = await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 5, kind: 'test' }, K(key));
    assertReplay(first, third);
    const cell = count(srv, `SELECT value FROM marks WHERE id = ${m.id}`);
    assert.equal(cell, 4, 'the replay did not write the old value back');
  });

  test('a lesson column of marks (PUT) and attendance replay', T, async () => {
    const key = newKey('column');
    const body = { marks: [{ student_id: st0.id, value: 3 }, { student_id: st2.id, value: 4 }] };
    const first = await t0.api.put(`/api/v1/lessons/${lesson2}/marks`, body, K(key));
    assert.ok(first.status >= 200 && first.status < 300, first.text);
    const n = count(srv, `SELECT count(*) FROM marks WHERE lesson_id = ${lesson2}`);
    assertReplay(first, await t0.api.put(`/api/v1/lessons/${lesson2}/marks`, body, K(key)));
    assert.equal(count(srv, `SELECT count(*) FROM marks WHERE lesson_id = ${lesson2}`), n);

    const akey = newKey('att');
    const att = { items: [{ student_id: st0.id, status: 'absent' }, { student_id: st2.id, status: 'late' }] };
    const a1 = await t0.api.put(`/api/v1/lessons/${lesson2}/attendance`, att, K(akey));
    assert.ok(a1.status >= 200 && a1.status < 300, a1.text);
    assertReplay(a1, await t0.api.put(`/api/v1/lessons/${lesson2}/attendance`, att, K(akey)));
  });

  test('a comment, a hand-in with a file and a DELETE replay', T, async () => {
    const cp = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
        kind: 'homework',
        title: 'Сочинение',
        due_date: `${s.year}-09-20`,
      }),
      201,
    );
    // the file upload itself, with a key: one file row
    const ukey = newKey('upload');
    const filesBefore = count(srv, `SELECT count(*) FROM files`);
    const u1 = await upload(srv.url, st0.token, 'essay.txt', Buffer.from('моё сочинение\n'), K(ukey));
    assert.equal(u1.status, 201, u1.text);
    const u2 = await upload(srv.url, st0.token, 'essay.txt', Buffer.from('моё сочинение\n'), K(ukey));
    assertReplay(u1, u2);
    assert.equal(count(srv, `SELECT count(*) FROM files`), filesBefore + 1);
    const fileId = JSON.parse(u1.text).id;

    const hkey = newKey('handin');
    const hand = { text: 'Готово', files: [fileId] };
    const h1 = await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, hand, K(hkey));
    const w = assertJson(h1, 201);
    assertReplay(h1, await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, hand, K(hkey)));
    assert.equal(count(srv, `SELECT count(*) FROM works WHERE checkpoint_id = ${cp.id}`), 1);

    const ckey = newKey('comment');
    const c1 = await t0.api.post(`/api/v1/works/${w.id}/comments`, { text: 'Хорошо' }, K(ckey));
    assertJson(c1, 201);
    assertReplay(c1, await t0.api.post(`/api/v1/works/${w.id}/comments`, { text: 'Хорошо' }, K(ckey)));
    const comments = assertJson(await t0.api.get(`/api/v1/works/${w.id}`), 200).comments;
    assert.equal(comments.length, 1, 'one comment, not two');

    const m = assertJson(await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st2.id, value: 2 }), 201);
    const dkey = newKey('del');
    const d1 = await t0.api.del(`/api/v1/marks/${m.id}`, K(dkey));
    assert.ok(d1.status >= 200 && d1.status < 300, d1.text);
    const d2 = await t0.api.del(`/api/v1/marks/${m.id}`, K(dkey));
    assertReplay(d1, d2);
    assertProblem(await t0.api.del(`/api/v1/marks/${m.id}`), 404); // without the key: judged again
  });

  test('the same key on a different request → 422; malformed key → 400; nothing changes', T, async () => {
    const key = newKey('reuse');
    assertJson(await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st2.id, value: 5, kind: 'control' }, K(key)), 201);
    const n = count(srv, `SELECT count(*) FROM marks`);
    const p = assertProblem(
      await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st2.id, value: 3, kind: 'control' }, K(key)),
      422,
    );
    assert.equal(p.errors[0].field, 'Idempotency-Key');
    assertProblem(await t0.api.post(`/api/v1/lessons/${lesson2}/marks`, { student_id: st2.id, value: 5, kind: 'control' }, K(key)), 422);
    assert.equal(count(srv, `SELECT count(*) FROM marks`), n);

    for (const bad of ['x'.repeat(201), 'has space', 'кириллица', '\t']) {
      const r = await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st2.id, value: 1, kind: 'other' }, K(bad)).catch(() => null);
      if (r === null) continue; // node refuses to send some header values at all
      assertProblem(r, 400);
    }
    assertJson(await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st2.id, value: 2, kind: 'other' }, K('x'.repeat(200))), 201);
    assert.equal(count(srv, `SELECT count(*) FROM marks`), n + 1);
  });

  test('a key older than 24 hours is forgotten: the request runs again', T, async () => {
    const key = newKey('old');
    const old = Date.now() - 25 * 3600 * 1000;
    sqlRun(srv, `INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at) ` +
      `VALUES (${t0.id}, '${key}', 'not-this-request', 201, '{}', ${old})`);
    const r = await t0.api.post(`/api/v1/lessons/${lesson2}/marks`, { student_id: st0.id, value: 5, kind: 'other' }, K(key));
    assertJson(r, 201);
    assert.equal(r.headers['idempotent-replayed'], undefined);
    assert.ok(count(srv, `SELECT created_at FROM idempotency_keys WHERE key = '${key}'`) > old, 'replaced by the new answer');
    assertReplay(r, await t0.api.post(`/api/v1/lessons/${lesson2}/marks`, { student_id: st0.id, value: 5, kind: 'other' }, K(key)));
  });

  test('a refused request is not stored: its retry is judged again', T, async () => {
    const key = newKey('refused');
    assertProblem(await t1.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 5 }, K(key)), 403);
    assert.equal(count(srv, `SELECT count(*) FROM idempotency_keys WHERE key = '${key}'`), 0);
    assertProblem(await t0.api.post(`/api/v1/lessons/${lesson}/marks`, { student_id: st0.id, value: 9 }, K(key)), 422);
    assert.equal(count(srv, `SELECT count(*) FROM idempotency_keys WHERE key = '${key}'`), 0);
  });

  test('keys are per user: another user’s identical key is independent', T, async () => {
    const key = newKey('shared');
    const cpA = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, { kind: 'homework', title: 'A', due_date: `${s.year}-09-25` }),
      201,
    );
    const a = assertJson(await st0.api.post(`/api/v1/checkpoints/${cpA.id}/works`, { text: 'мой ответ' }, K(key)), 201);
    const b = await st2.api.post(`/api/v1/checkpoints/${cpA.id}/works`, { text: 'мой ответ' }, K(key));
    assertJson(b, 201);
    assert.equal(b.headers['idempotent-replayed'], undefined);
    assert.notEqual(b.json().id, a.id);
    assert.equal(b.json().student_id ?? st2.id, st2.id);
    assert.equal(count(srv, `SELECT count(*) FROM works WHERE checkpoint_id = ${cpA.id}`), 2);
    // an anonymous request with a key is judged as without one (401)
    const anon = await request(`${srv.url}/api/v1/lessons/${lesson}/marks`, { method: 'POST', body: { student_id: st0.id, value: 5 }, headers: K(key) });
    assertProblem(anon, 401);
  });

  test('concurrent duplicates: applied once, every caller gets the same answer', T, async () => {
    const cpC = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, { kind: 'homework', title: 'C', due_date: `${s.year}-09-26` }),
      201,
    );
    const key = newKey('race');
    const body = { text: 'один раз' };
    const all = await Promise.all(Array.from({ length: 6 }, () => st0.api.post(`/api/v1/checkpoints/${cpC.id}/works`, body, K(key))));
    const bodies = new Set(all.map((r) => `${r.status} ${r.text}`));
    assert.equal(bodies.size, 1, `all answers equal: ${[...bodies].join(' | ').slice(0, 600)}`);
    assert.equal(all[0].status, 201);
    assert.equal(all.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 5, 'one original, five replays');
    assert.equal(count(srv, `SELECT count(*) FROM works WHERE checkpoint_id = ${cpC.id}`), 1);
  });

  test('sign-in and password change accept a key and still work (no replay there)', T, async () => {
    const key = newKey('login');
    const r1 = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: st1.login, password: st1.password }, headers: K(key) });
    assertJson(r1, 200);
    const r2 = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: st1.login, password: st1.password }, headers: K(key) });
    assertJson(r2, 200);
    assert.equal(r2.headers['idempotent-replayed'], undefined);
    // an authenticated request that hops to the CPU pool: the key is accepted, not recorded
    const pkey = newKey('password');
    const ch = await st1.api.post('/api/v1/auth/password', { old_password: st1.password, new_password: 'new-pass-77' }, K(pkey));
    assert.equal(ch.status, 204, ch.text);
    assert.equal(count(srv, `SELECT count(*) FROM idempotency_keys WHERE key = '${pkey}'`), 0);
    assertJson(await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: st1.login, password: 'new-pass-77' } }), 200);
  });

  test('the answer survives kill -9 right after it was sent: the retry replays', T, async () => {
    // a server of its own on a database that outlives it
    const first = await startSchoolServer();
    let second;
    try {
      const s2 = await createSchool(first, { teachers: 1, students: 1, classes: ['7А'], subjects: ['Физика'] });
      const teacher = s2.teachers[0];
      const lid = seedLesson(first, s2.schoolId, { classId: s2.classes[0].id, subjectId: s2.subjects[0].id, teacherId: teacher.id, date: `${s2.year}-09-15` });
      const key = newKey('crash');
      const body = { student_id: s2.students[0].id, value: 5, kind: 'test' };
      const r1 = await teacher.api.post(`/api/v1/lessons/${lid}/marks`, body, K(key));
      assertJson(r1, 201);
      first.proc.kill('SIGKILL');
      await first.exited;
      second = await startServer({
        dbUrl: first.dbUrl,
        env: { DNEVNIK_BOOTSTRAP_ADMIN: `${SYSADMIN_LOGIN}:${SYSADMIN_PASSWORD}` },
        args: ['--data-dir', `${first.tmpDir}/data`],
      });
      const again = await signIn(second.url, teacher.login, teacher.password, teacher.id);
      const r2 = await again.api.post(`/api/v1/lessons/${lid}/marks`, body, K(key));
      assertReplay(r1, r2);
      assert.equal(count(first, `SELECT count(*) FROM marks WHERE lesson_id = ${lid}`), 1);
    } finally {
      if (second) await second.stop();
      await first.stop('SIGKILL', { checkSanitizers: false }).catch(() => {});
    }
  });
});
