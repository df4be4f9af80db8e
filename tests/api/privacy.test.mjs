// Personal data (152-FZ): export of everything held about a person, and
// anonymisation of a student (or parent) who left. The student S of 5А has
// marks, attendance, a term mark and a work with a file and comments; the
// suite exports it as each kind of caller, then anonymises S and checks that
// S's names are gone from every page that showed them (journal, class list,
// work, export), that marks and averages are unchanged, that S can no longer
// sign in, and that S's file content is purged (download 410, like `dnevnik
// purge`). Every response is validated against docs/openapi.yaml.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem, request } from './lib/server.mjs';
import { client, createSchool, createUser, seedLesson, startSchoolServer, termId } from './lib/fixture.mjs';
import { checkedClient, checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 120000 };
const iso = (d) => d.toISOString().slice(0, 10);
const today = () => iso(new Date());
const addDays = (s, n) => iso(new Date(Date.parse(`${s}T00:00:00Z`) + n * 86400000));

/** Monday of the second full week of September of `year` (inside the 1st quarter). */
function septemberMonday(year) {
  const d = new Date(Date.UTC(year, 8, 8));
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return iso(d);
}

const PD = (id) => `/api/v1/users/${id}/personal-data`;
const AN = (id) => `/api/v1/users/${id}/anonymise`;

describe(`personal data (152-FZ) [${DB}]`, () => {
  let srv, s, B, t0, st0, st1, par0, par1, admin, sys, cls, math, q1, lessons, cp, work, file, oldNames, refresh;

  before(async () => {
    srv = await startSchoolServer({ env: { DNEVNIK_RATE_LIMIT: '0' } });
    s = checkedSchool(
      await createSchool(srv, { teachers: 1, students: 2, parents: 2, classes: ['5А'], subjects: ['Математика'] }),
    );
    B = checkedSchool(await createSchool(srv, { teachers: 0, students: 1, parents: 0, classes: ['5А'], subjects: ['Математика'] }));
    [t0] = s.teachers;
    [st0, st1] = s.students;
    [par0, par1] = s.parents; // par0 -> st0, par1 -> st1
    admin = s.admin;
    sys = s.sysadmin;
    cls = s.classes[0];
    math = s.subjects[0];
    q1 = termId(srv, s.schoolId, s.year, 1);
    const mon = septemberMonday(s.year);
    lessons = [
      seedLesson(srv, s.schoolId, { classId: cls.id, subjectId: math.id, teacherId: t0.id, date: mon, no: 1 }),
      seedLesson(srv, s.schoolId, { classId: cls.id, subjectId: math.id, teacherId: t0.id, date: addDays(mon, 2), no: 2 }),
    ];
    assertJson(await t0.api.post(`/api/v1/lessons/${lessons[0]}/marks`, { student_id: st0.id, value: 5 }), 201);
    assertJson(await t0.api.post(`/api/v1/lessons/${lessons[1]}/marks`, { student_id: st0.id, value: 3, kind: 'test' }), 201);
    assertJson(await t0.api.post(`/api/v1/lessons/${lessons[0]}/marks`, { student_id: st1.id, value: 4 }), 201);
    assertJson(
      await t0.api.put(`/api/v1/lessons/${lessons[1]}/attendance`, { items: [{ student_id: st0.id, status: 'absent' }] }),
      200,
    );
    assertJson(
      await t0.api.put(`/api/v1/classes/${cls.id}/subjects/${math.id}/term-marks`, {
        year_start: s.year,
        period: 1,
        items: [{ student_id: st0.id, value: 4 }],
      }),
      200,
    );
    cp = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
        kind: 'homework',
        title: 'Задача про поезда',
        due_date: addDays(mon, 4),
      }),
      201,
    );
    const up = await client(srv.url, st0.token).raw('POST', `/api/v1/files?name=${encodeURIComponent('Решение.pdf')}`,
      `%PDF-1.4\n% privacy test ${Date.now()}\n%%EOF\n`, { 'content-type': 'application/pdf' });
    file = assertJson(up, 201);
    work = assertJson(
      await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Ответ: 120 км, Иванов', files: [file.id] }),
      201,
    );
    assertJson(await t0.api.post(`/api/v1/works/${work.id}/comments`, { text: 'Проверь единицы' }), 201);
    assertJson(await st0.api.post(`/api/v1/works/${work.id}/comments`, { text: 'Исправил, это мой личный комментарий' }), 201);
    // a session whose refresh token must stop working after anonymisation
    const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: st0.login, password: st0.password } });
    refresh = assertJson(r, 200).refresh_token;
  }, T);
  after(async () => {
    if (srv) await srv.stop();
  });

  test('the student exports their own data: profile, class, parents, marks, attendance, term mark, work, file, sessions, audit', T, async () => {
    const res = await st0.api.get(PD(st0.id));
    const d = assertJson(res, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    oldNames = { login: d.user.login, last: d.user.last_name, first: d.user.first_name };
    assert.equal(d.user.id, st0.id);
    assert.equal(d.user.login, st0.login);
    assert.ok(d.user.last_name.length > 0);
    assert.equal(d.user.anonymized_at, null);
    assert.deepEqual(d.roles.map((r) => [r.school_id, r.role]), [[s.schoolId, 'student']]);
    assert.equal(d.class_history.length, 1);
    assert.equal(d.class_history[0].class_id, cls.id);
    assert.equal(d.class_history[0].class_name, '5А');
    assert.equal(d.class_history[0].to_date, null);
    assert.deepEqual(d.parents.map((p) => p.id), [par0.id]);
    assert.deepEqual(d.children, []);
    assert.deepEqual(d.marks.map((m) => [m.lesson_id, m.value, m.weight, m.subject]), [
      [lessons[0], 5, 1, 'Математика'],
      [lessons[1], 3, 2, 'Математика'],
    ]);
    assert.deepEqual(d.attendance.map((a) => [a.lesson_id, a.status]), [[lessons[1], 'absent']]);
    assert.deepEqual(d.term_marks.map((t) => [t.subject_id, t.year_start, t.period, t.value]), [[math.id, s.year, 1, 4]]);
    assert.equal(d.works.length, 1);
    assert.equal(d.works[0].id, work.id);
    assert.equal(d.works[0].checkpoint_title, 'Задача про поезда');
    assert.equal(d.works[0].versions[0].text, 'Ответ: 120 км, Иванов');
    assert.deepEqual(d.works[0].comments.map((c) => c.author_id), [t0.id, st0.id]);
    assert.equal(d.files.length, 1);
    assert.equal(d.files[0].id, file.id);
    assert.equal(d.files[0].name, 'Решение.pdf');
    assert.equal(d.files[0].purged, false);
    assert.deepEqual(d.files[0].attached_to, [{ work_id: work.id }]);
    assert.ok(d.sessions.length >= 2, 'the fixture and the suite signed S in');
    assert.ok(!JSON.stringify(d.sessions).includes('hash'), 'no token hashes');
    // marks (2), attendance (1) and the term mark (1) were audited with keys naming S
    const entities = d.audit.map((a) => a.entity).sort();
    assert.deepEqual(entities, ['attendance', 'mark', 'mark', 'term_mark']);
    assert.ok(d.audit.every((a) => new RegExp(`(^|:)student:${st0.id}(:|$)`).test(a.entity_key)));
    assert.ok(d.not_included.length >= 3);
    assert.ok(!JSON.stringify(d).includes('password_hash'));
  });

  test('the export of S leaves out other students (the audit pattern does not match a longer id)', T, async () => {
    const d = assertJson(await admin.api.get(PD(st1.id)), 200);
    assert.deepEqual(d.marks.map((m) => m.value), [4]);
    assert.ok(d.audit.every((a) => !new RegExp(`student:${st0.id}(:|$)`).test(a.entity_key)));
    assert.deepEqual(d.works, []);
  });

  test('who may export: self, own parent, school admin, sysadmin; not another parent, a teacher, a classmate, another school', T, async () => {
    assertJson(await par0.api.get(PD(st0.id)), 200);
    const own = assertJson(await par0.api.get(PD(par0.id)), 200);
    assert.deepEqual(own.children.map((c) => c.id), [st0.id]);
    assertJson(await admin.api.get(PD(st0.id)), 200);
    assertJson(await checkedClient(client(srv.url, sys.token)).get(PD(st0.id)), 200);
    assertProblem(await par1.api.get(PD(st0.id)), 403);
    assertProblem(await t0.api.get(PD(st0.id)), 403);
    assertProblem(await st1.api.get(PD(st0.id)), 403);
    assertProblem(await B.admin.api.get(PD(st0.id)), 403);
    assertProblem(await B.students[0].api.get(PD(st0.id)), 403);
    assertProblem(await checkedClient(client(srv.url, null)).get(PD(st0.id)), 401);
    assertProblem(await admin.api.get(PD(999999)), 404);
    assertProblem(await admin.api.raw('GET', '/api/v1/users/abc/personal-data'), 404);
    assertProblem(await admin.api.raw('GET', '/api/v1/users/0/personal-data'), 404);
  });

  test('anonymise: refused for the wrong caller, bad input and a student still in a class; nothing changes', T, async () => {
    assertProblem(await t0.api.post(AN(st0.id), { left_on: today() }), 403);
    assertProblem(await st0.api.post(AN(st0.id), { left_on: today() }), 403);
    assertProblem(await par0.api.post(AN(st0.id), { left_on: today() }), 403);
    assertProblem(await B.admin.api.post(AN(st0.id), { left_on: today() }), 403);
    assertProblem(await checkedClient(client(srv.url, null)).post(AN(st0.id), {}), 401);
    assertProblem(await admin.api.post(AN(999999), {}), 404);
    assertProblem(await admin.api.raw('POST', '/api/v1/users/x1/anonymise', {}), 404);
    // still in 5А: 409 naming left_on
    const c = await admin.api.post(AN(st0.id));
    assertProblem(c, 409);
    assert.equal(c.json().errors[0].field, 'left_on');
    assert.match(c.json().errors[0].message, /5А/);
    for (const bad of [{ left_on: 'вчера' }, { left_on: '2026-02-30' }, { left_on: addDays(today(), 1) }, { left_on: `${s.year}-08-01` }, { left_on: 7 }]) {
      const r = await admin.api.post(AN(st0.id), bad);
      assertProblem(r, 422);
      assert.equal(r.json().errors[0].field, 'left_on', JSON.stringify(bad));
    }
    assertProblem(await admin.api.raw('POST', AN(st0.id), '{"left_on":', { 'content-type': 'application/json' }), 400);
    // a staff account is not anonymised
    const t = await admin.api.post(AN(t0.id), {});
    assertProblem(t, 409);
    assert.equal(t.json().errors[0].field, 'user_id');
    // nothing changed
    const d = assertJson(await admin.api.get(PD(st0.id)), 200);
    assert.equal(d.user.login, oldNames.login);
    assert.equal(d.user.last_name, oldNames.last);
    assert.equal(d.class_history[0].to_date, null);
    assert.deepEqual(d.parents.map((p) => p.id), [par0.id]);
    assert.equal(d.files[0].purged, false);
  });

  test('anonymise S: names gone from journal, class list, work and export; marks and averages kept; no sign-in; file purged', T, async () => {
    const marksPath = `/api/v1/students/${st0.id}/marks?term_id=${q1}`;
    const journalPath = `/api/v1/classes/${cls.id}/journal?subject_id=${math.id}&term_id=${q1}`;
    const before = assertJson(await admin.api.get(marksPath), 200);
    const jBefore = assertJson(await t0.api.get(journalPath), 200);
    assert.ok(JSON.stringify(jBefore).includes(oldNames.last));

    const res = await admin.api.post(AN(st0.id), { left_on: today() });
    const a = assertJson(res, 200);
    assert.equal(a.id, st0.id);
    assert.equal(a.display_name, `Ученик #${st0.id}`);
    assert.equal(a.login, `anon#${st0.id}`);
    assert.equal(a.blocked, true);
    assert.equal(a.files_purged, 1);
    const leaks = (o) => {
      const t = JSON.stringify(o);
      return [oldNames.last, oldNames.login, 'Ответ: 120 км', 'мой личный комментарий'].filter((x) => t.includes(x));
    };

    // the journal keeps S's row, marks and average under the pseudonym
    const j = assertJson(await t0.api.get(journalPath), 200);
    assert.deepEqual(leaks(j), []);
    assert.ok(JSON.stringify(j).includes(`Ученик #${st0.id}`), 'the journal shows the pseudonym');
    assert.deepEqual(j.averages, jBefore.averages);
    const after_ = assertJson(await admin.api.get(marksPath), 200);
    assert.deepEqual(after_, before, 'marks page (values, averages, term mark) unchanged');

    // class list, work, works of the checkpoint, export
    const list = assertJson(await admin.api.get(`/api/v1/classes/${cls.id}/students`), 200);
    assert.deepEqual(leaks(list), []);
    const w = assertJson(await t0.api.get(`/api/v1/works/${work.id}`), 200);
    assert.deepEqual(leaks(w), []);
    assert.equal(w.comments[0].text, 'Проверь единицы', "the teacher's comment stays");
    assert.equal(w.comments[1].author, `Ученик #${st0.id}`);
    assert.deepEqual(leaks(assertJson(await t0.api.get(`/api/v1/checkpoints/${cp.id}/works`), 200)), []);
    assert.deepEqual(leaks(assertJson(await admin.api.get(`/api/v1/schools/${s.schoolId}/users?limit=500`), 200)), []);
    const d = assertJson(await admin.api.get(PD(st0.id)), 200);
    assert.deepEqual(leaks(d), []);
    assert.equal(d.user.anonymized_at, a.anonymized_at);
    assert.equal(d.user.email, null);
    assert.deepEqual(d.marks.map((m) => m.value), [5, 3], 'marks kept');
    assert.deepEqual(d.attendance.map((x) => x.status), ['absent'], 'attendance kept');
    assert.deepEqual(d.term_marks.map((x) => x.value), [4], 'term mark kept');
    assert.deepEqual(d.parents, []);
    assert.deepEqual(d.sessions, []);
    assert.equal(d.class_history[0].to_date, addDays(today(), -1), 'the membership ended the day before left_on');
    assert.equal(d.files[0].purged, true);
    const au = d.audit.find((x) => x.entity === 'user');
    assert.equal(au.actor_id, admin.id);
    assert.equal(au.old_value, null);
    assert.equal(au.new_value.left_on, today());

    // no more sign-in, refresh or parent access; the file's bytes are gone (purge behaviour: 410)
    for (const login of [st0.login, `anon#${st0.id}`]) {
      const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login, password: st0.password } });
      assertProblem(r, 401);
    }
    assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: refresh } }), 401);
    // an access token issued before is refused on a write at once (docs/security.md, blocked and removed accounts)
    assertProblem(await client(srv.url, st0.token).post(`/api/v1/works/${work.id}/comments`, { text: 'после' }), 401);
    assertProblem(await par0.api.get(`/api/v1/students/${st0.id}/marks?term_id=${q1}`), 403);
    assertProblem(await par0.api.get(PD(st0.id)), 403);
    assert.deepEqual(assertJson(await par0.api.get(PD(par0.id)), 200).children, []);
    assert.equal((await client(srv.url, t0.token).get(`/api/v1/files/${file.id}`)).status, 410);
    const meta = assertJson(await t0.api.get(`/api/v1/files/${file.id}/meta`), 200);
    assert.equal(meta.purged, true);
  });

  test('anonymise again: 200 with the same body, nothing changes', T, async () => {
    const first = assertJson(await admin.api.get(PD(st0.id)), 200);
    const a1 = assertJson(await admin.api.post(AN(st0.id)), 200);
    const a2 = assertJson(await checkedClient(client(srv.url, sys.token)).post(AN(st0.id), { left_on: today() }), 200);
    assert.deepEqual(a2, a1);
    assert.equal(a1.files_purged, 1);
    const again = assertJson(await admin.api.get(PD(st0.id)), 200);
    delete first.generated_at;
    delete again.generated_at;
    assert.deepEqual(again, first, 'a repeated anonymise writes nothing (no second audit entry either)');
  });

  test('anonymise a parent: no class needed; the link to the child goes, the child keeps everything', T, async () => {
    const a = assertJson(await admin.api.post(AN(par1.id), {}), 200);
    assert.equal(a.display_name, `Родитель #${par1.id}`);
    assert.equal(a.files_purged, 0);
    const child = assertJson(await admin.api.get(PD(st1.id)), 200);
    assert.deepEqual(child.parents, []);
    assert.deepEqual(child.marks.map((m) => m.value), [4]);
    assert.equal(child.user.anonymized_at, null);
    const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { login: par1.login, password: par1.password } });
    assertProblem(r, 401);
  });

  test('a person with roles in two schools: only an admin of both (or the sysadmin) anonymises', T, async () => {
    const u = await createUser(srv.url, admin.api, s.schoolId, ['parent']);
    // the same person also becomes a parent in school B (by the sysadmin linking a role via B's admin is not
    // possible through the API without a new account, so give the role directly in the store)
    srv.database.sql(`INSERT INTO user_roles (user_id, school_id, role) VALUES (${u.id}, ${B.schoolId}, 'parent')`);
    assertProblem(await admin.api.post(AN(u.id), {}), 403);
    assertProblem(await B.admin.api.post(AN(u.id), {}), 403);
    assertJson(await admin.api.get(PD(u.id)), 200); // export needs one of the schools
    assertJson(await B.admin.api.get(PD(u.id)), 200);
    assertJson(await checkedClient(client(srv.url, sys.token)).post(AN(u.id), {}), 200);
  });
});
