// School set-up API: regions, schools, admins, terms, holidays, subjects,
// classes, enrolment, people, parent links, assignments, invites. Every
// endpoint: the happy path and its errors (401/403/404/409/422), including
// another school's admin and plain members calling admin endpoints.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem, request } from './lib/server.mjs';
import { client, createSchool, currentAcademicYear, quarters, signIn, startSchoolServer } from './lib/fixture.mjs';
import { checkedClient, checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };

describe(`school [${DB}]`, () => {
  let srv, s, other;
  before(async () => {
    srv = await startSchoolServer();
    s = checkedSchool(await createSchool(srv, {
      teachers: 2,
      students: 3,
      parents: 2,
      classes: ['5А', '5Б'],
      subjects: ['Математика', 'Русский язык'],
    }));
    other = checkedSchool(await createSchool(srv, { teachers: 1, students: 1, parents: 0, classes: ['7В'] }));
  });
  after(async () => {
    await srv?.stop();
  });

  const anon = () => checkedClient(client(srv.url, null));

  describe('regions and schools (sysadmin)', () => {
    test('POST/GET /regions; duplicate → 409; empty name → 422; admin → 403; no token → 401', T, async () => {
      const r = assertJson(await s.sysadmin.api.post('/api/v1/regions', { name: 'Тестовый край' }), 201);
      assert.equal(r.name, 'Тестовый край');
      assert.ok(Number.isInteger(r.id));
      assertProblem(await s.sysadmin.api.post('/api/v1/regions', { name: 'Тестовый край' }), 409);
      const bad = assertProblem(await s.sysadmin.api.post('/api/v1/regions', { name: '' }), 422);
      assert.equal(bad.errors[0].field, 'name');
      assertProblem(await s.sysadmin.api.post('/api/v1/regions', 'not json'), 400);
      assertProblem(await s.admin.api.post('/api/v1/regions', { name: 'X' }), 403);
      assertProblem(await anon().get('/api/v1/regions'), 401);
      const list = assertJson(await s.sysadmin.api.get('/api/v1/regions'), 200);
      assert.ok(list.items.some((x) => x.id === r.id));
    });

    test('POST /schools validates region and term_kind; GET /schools is sysadmin-only', T, async () => {
      const created = assertJson(
        await s.sysadmin.api.post('/api/v1/schools', { region_id: s.regionId, name: 'Лицей', term_kind: 'trimester' }),
        201,
      );
      assert.equal(created.term_kind, 'trimester');
      const e1 = assertProblem(await s.sysadmin.api.post('/api/v1/schools', { region_id: 999999, name: 'X' }), 422);
      assert.equal(e1.errors[0].field, 'region_id');
      const e2 = assertProblem(
        await s.sysadmin.api.post('/api/v1/schools', { region_id: s.regionId, name: 'X', term_kind: 'semester' }),
        422,
      );
      assert.equal(e2.errors[0].field, 'term_kind');
      assertProblem(await s.admin.api.get('/api/v1/schools'), 403);
      const list = assertJson(await s.sysadmin.api.get('/api/v1/schools'), 200);
      assert.ok(list.items.length >= 3);
    });

    test('GET /schools/{id}: members see their school, others 403, unknown 404', T, async () => {
      const mine = assertJson(await s.teachers[0].api.get(`/api/v1/schools/${s.schoolId}`), 200);
      assert.equal(mine.id, s.schoolId);
      assertProblem(await other.admin.api.get(`/api/v1/schools/${s.schoolId}`), 403);
      assertProblem(await s.sysadmin.api.get('/api/v1/schools/999999'), 404);
      assertProblem(await s.sysadmin.api.get('/api/v1/schools/abc'), 404);
    });

    test('POST /schools/{id}/admins: sysadmin only, the admin can sign in with the initial password', T, async () => {
      const a = assertJson(
        await s.sysadmin.api.post(`/api/v1/schools/${s.schoolId}/admins`, {
          login: `zam${Date.now()}`,
          last_name: 'Завучева',
          first_name: 'Зоя',
        }),
        201,
      );
      assert.deepEqual(a.roles, ['admin']);
      assert.equal(a.must_change_password, true);
      assert.equal(typeof a.initial_password, 'string');
      const u = await signIn(srv.url, a.login, a.initial_password);
      assertJson(await u.api.get(`/api/v1/schools/${s.schoolId}/users`), 200);
      assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/admins`, { login: 'x1x', last_name: 'a', first_name: 'b' }),
        403,
      );
      const dup = assertProblem(
        await s.sysadmin.api.post(`/api/v1/schools/${s.schoolId}/admins`, {
          login: a.login,
          last_name: 'a',
          first_name: 'b',
        }),
        409,
      );
      assert.equal(dup.errors[0].field, 'login');
      assertProblem(
        await s.sysadmin.api.post(`/api/v1/schools/999999/admins`, { login: 'x2x', last_name: 'a', first_name: 'b' }),
        404,
      );
    });
  });

  describe('terms and holidays', () => {
    test('PUT terms validates count/order; GET terms by year; teacher → 403', T, async () => {
      const y = currentAcademicYear() + 1;
      const got = assertJson(await s.admin.api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, { terms: quarters(y) }), 200);
      assert.equal(got.items.length, 4);
      assert.equal(got.items[0].starts_on, `${y}-09-01`);
      const three = assertProblem(
        await s.admin.api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, { terms: quarters(y).slice(0, 3) }),
        422,
      );
      assert.equal(three.errors[0].field, 'terms');
      const q = quarters(y);
      q[1].starts_on = q[0].ends_on; // overlap
      const ov = assertProblem(await s.admin.api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, { terms: q }), 422);
      assert.equal(ov.errors[0].field, 'terms[1].starts_on');
      assertProblem(await s.teachers[0].api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, { terms: quarters(y) }), 403);
      assertProblem(await other.admin.api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, { terms: quarters(y) }), 403);
      const read = assertJson(await s.students[0].api.get(`/api/v1/schools/${s.schoolId}/terms?year=${y}`), 200);
      assert.equal(read.items.length, 4);
      assert.equal(read.year_start, y);
      assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/terms?year=abc`), 422);
    });

    test('holidays: create, list, delete; bad dates 422; teacher 403; wrong school 404', T, async () => {
      const y = currentAcademicYear();
      const h = assertJson(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/holidays`, {
          name: 'Осенние каникулы',
          starts_on: `${y}-10-27`,
          ends_on: `${y}-11-04`,
        }),
        201,
      );
      const bad = assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/holidays`, {
          name: 'X',
          starts_on: `${y}-11-04`,
          ends_on: `${y}-10-27`,
        }),
        422,
      );
      assert.equal(bad.errors[0].field, 'ends_on');
      assertProblem(
        await s.teachers[0].api.post(`/api/v1/schools/${s.schoolId}/holidays`, {
          name: 'X',
          starts_on: `${y}-10-27`,
          ends_on: `${y}-10-28`,
        }),
        403,
      );
      const list = assertJson(await s.teachers[0].api.get(`/api/v1/schools/${s.schoolId}/holidays`), 200);
      assert.ok(list.items.some((x) => x.id === h.id));
      assertProblem(await other.admin.api.get(`/api/v1/schools/${s.schoolId}/holidays`), 403);
      assertProblem(await anon().get(`/api/v1/schools/${s.schoolId}/holidays`), 401);
      assertProblem(await other.admin.api.del(`/api/v1/schools/${other.schoolId}/holidays/${h.id}`), 404);
      assert.equal((await s.admin.api.del(`/api/v1/schools/${s.schoolId}/holidays/${h.id}`)).status, 204);
      assertProblem(await s.admin.api.del(`/api/v1/schools/${s.schoolId}/holidays/${h.id}`), 404);
    });
  });

  describe('subjects', () => {
    test('create, duplicate 409, rename, delete in-use 409, delete unused 204, cross-school 403', T, async () => {
      const sub = assertJson(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/subjects`, { name: 'Химия' }), 201);
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/subjects`, { name: 'Химия' }), 409);
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/subjects`, {}), 422);
      assertProblem(await s.teachers[0].api.post(`/api/v1/schools/${s.schoolId}/subjects`, { name: 'Биология' }), 403);
      const renamed = assertJson(await s.admin.api.patch(`/api/v1/subjects/${sub.id}`, { name: 'Химия (проф.)' }), 200);
      assert.equal(renamed.name, 'Химия (проф.)');
      assertProblem(await s.admin.api.patch(`/api/v1/subjects/${sub.id}`, { name: 'Математика' }), 409);
      assertProblem(await other.admin.api.patch(`/api/v1/subjects/${sub.id}`, { name: 'Y' }), 403);
      assertProblem(await s.admin.api.patch('/api/v1/subjects/999999', { name: 'Y' }), 404);
      const list = assertJson(await s.students[0].api.get(`/api/v1/schools/${s.schoolId}/subjects`), 200);
      assert.ok(list.items.some((x) => x.id === sub.id));
      assertProblem(await other.students[0].api.get(`/api/v1/schools/${s.schoolId}/subjects`), 403);
      assertProblem(await s.admin.api.del(`/api/v1/subjects/${s.subjects[0].id}`), 409);
      assertProblem(await other.admin.api.del(`/api/v1/subjects/${sub.id}`), 403);
      assert.equal((await s.admin.api.del(`/api/v1/subjects/${sub.id}`)).status, 204);
      assertProblem(await s.admin.api.del(`/api/v1/subjects/${sub.id}`), 404);
    });
  });

  describe('classes and enrolment', () => {
    test('classes: computed name and grade, duplicates 409, bad input 422, list for members', T, async () => {
      const y = currentAcademicYear();
      const c = assertJson(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/classes`, {
          start_year: y - 9,
          letter: 'Г',
          class_teacher_id: s.teachers[1].id,
        }),
        201,
      );
      assert.equal(c.grade, 10);
      assert.equal(c.name, '10Г');
      assert.equal(c.class_teacher.id, s.teachers[1].id);
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/classes`, { grade: 10, letter: 'Г' }), 409);
      const e = assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/classes`, { grade: 12, letter: 'А' }), 422);
      assert.equal(e.errors[0].field, 'grade');
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/classes`, { grade: 3, letter: '!!' }), 422);
      const notTeacher = assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/classes`, {
          grade: 3,
          letter: 'А',
          class_teacher_id: s.students[0].id,
        }),
        422,
      );
      assert.equal(notTeacher.errors[0].field, 'class_teacher_id');
      assertProblem(await s.teachers[0].api.post(`/api/v1/schools/${s.schoolId}/classes`, { grade: 3, letter: 'А' }), 403);
      const list = assertJson(await s.parents[0].api.get(`/api/v1/schools/${s.schoolId}/classes`), 200);
      const five = list.items.find((x) => x.name === '5А');
      assert.equal(five.student_count, 2);
      assertProblem(await other.teachers[0].api.get(`/api/v1/schools/${s.schoolId}/classes`), 403);
      // PATCH: class teacher, letter
      const p = assertJson(await s.admin.api.patch(`/api/v1/classes/${c.id}`, { letter: 'Д', class_teacher_id: null }), 200);
      assert.equal(p.name, '10Д');
      assert.equal(p.class_teacher, null);
      assertProblem(await s.admin.api.patch(`/api/v1/classes/${c.id}`, { letter: 'ДДД' }), 422);
      assertProblem(await other.admin.api.patch(`/api/v1/classes/${c.id}`, { letter: 'Е' }), 403);
      assertProblem(await s.admin.api.get('/api/v1/classes/999999'), 404);
      assertJson(await s.teachers[0].api.get(`/api/v1/classes/${s.classes[0].id}`), 200);
    });

    test('class list: admin, teacher of the class, its students and parents; not others', T, async () => {
      const cid = s.classes[0].id; // 5А: students 0 and 2; parent 0 → student 0
      for (const who of [s.admin, s.teachers[0], s.students[0], s.parents[0]]) {
        const list = assertJson(await who.api.get(`/api/v1/classes/${cid}/students`), 200);
        assert.equal(list.items.length, 2);
        assert.ok(list.items[0].last_name);
      }
      // student 1 is in 5Б, parent 1 has student 1: neither may read 5А
      assertProblem(await s.students[1].api.get(`/api/v1/classes/${cid}/students`), 403);
      assertProblem(await s.parents[1].api.get(`/api/v1/classes/${cid}/students`), 403);
      assertProblem(await other.admin.api.get(`/api/v1/classes/${cid}/students`), 403);
      assertProblem(await anon().get(`/api/v1/classes/${cid}/students`), 401);
    });

    test('enrol: transfer closes the old membership and keeps history', T, async () => {
      const st = s.students[2];
      const today = new Date();
      const iso = (d) => d.toISOString().slice(0, 10);
      const from = iso(new Date(today.getTime() - 86400000));
      const h = assertJson(
        await s.admin.api.post(`/api/v1/classes/${s.classes[1].id}/students`, { student_id: st.id, from_date: from }),
        201,
      );
      assert.equal(h.items.length, 2);
      assert.equal(h.items[1].class_id, s.classes[1].id);
      assert.equal(h.items[0].to_date, iso(new Date(today.getTime() - 2 * 86400000)));
      assertProblem(
        await s.admin.api.post(`/api/v1/classes/${s.classes[0].id}/students`, { student_id: st.id, from_date: from }),
        409,
      );
      assertProblem(
        await s.admin.api.post(`/api/v1/classes/${s.classes[0].id}/students`, { student_id: st.id, from_date: '2026-02-30' }),
        422,
      );
      const notStudent = assertProblem(
        await s.admin.api.post(`/api/v1/classes/${s.classes[0].id}/students`, {
          student_id: s.teachers[0].id,
          from_date: from,
        }),
        422,
      );
      assert.equal(notStudent.errors[0].field, 'student_id');
      assertProblem(
        await s.teachers[0].api.post(`/api/v1/classes/${s.classes[0].id}/students`, { student_id: st.id, from_date: from }),
        403,
      );
      const hist = assertJson(await s.admin.api.get(`/api/v1/students/${st.id}/history`), 200);
      assert.equal(hist.items.length, 2);
      assert.equal(hist.items[1].to_date, null);
      assertJson(await st.api.get(`/api/v1/students/${st.id}/history`), 200);
      assertProblem(await s.students[0].api.get(`/api/v1/students/${st.id}/history`), 403);
      assertProblem(await other.admin.api.get(`/api/v1/students/${st.id}/history`), 403);
      assertProblem(await s.admin.api.get('/api/v1/students/999999/history'), 404);
    });
  });

  describe('people', () => {
    test('create user: initial password once, generated login, validation, 409, 403', T, async () => {
      const u = assertJson(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/users`, {
          last_name: 'Новикова',
          first_name: 'Нина',
          roles: ['teacher', 'parent'],
        }),
        201,
      );
      assert.match(u.login, /^t[a-z0-9]{8}$/);
      assert.deepEqual([...u.roles].sort(), ['parent', 'teacher']);
      assert.equal(u.initial_password.length, 12);
      const signed = await signIn(srv.url, u.login, u.initial_password);
      assert.ok(signed.token);
      const bad = assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/users`, { last_name: '', first_name: 'A', roles: ['pilot'] }),
        422,
      );
      const fields = bad.errors.map((e) => e.field);
      assert.ok(fields.includes('last_name') && fields.includes('roles'), JSON.stringify(bad.errors));
      assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/users`, {
          login: u.login,
          last_name: 'A',
          first_name: 'B',
          roles: ['student'],
        }),
        409,
      );
      assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/users`, {
          login: 'bad login!',
          last_name: 'A',
          first_name: 'B',
          roles: ['student'],
        }),
        422,
      );
      for (const who of [s.teachers[0], s.students[0], s.parents[0], other.admin]) {
        assertProblem(
          await who.api.post(`/api/v1/schools/${s.schoolId}/users`, { last_name: 'A', first_name: 'B', roles: ['student'] }),
          403,
        );
      }
    });

    test('list users: role filter, search, pagination; admin only', T, async () => {
      const page1 = assertJson(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?role=student&limit=2`), 200);
      assert.equal(page1.items.length, 2);
      assert.ok(page1.next_cursor);
      const page2 = assertJson(
        await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?role=student&limit=2&cursor=${page1.next_cursor}`),
        200,
      );
      assert.equal(page2.items.length, 1);
      assert.equal(page2.next_cursor, null);
      const found = assertJson(
        await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?q=${encodeURIComponent(s.teachers[0].login)}`),
        200,
      );
      assert.equal(found.items.length, 1);
      const byName = assertJson(
        await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?q=${encodeURIComponent('Админова')}`),
        200,
      );
      assert.equal(byName.items.length, 1, 'Cyrillic search as typed');
      assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?limit=0`), 422);
      assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?role=pilot`), 422);
      assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?limit=ten`), 422);
      const badCursor = assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?cursor=abc`), 422);
      assert.equal(badCursor.errors[0].field, 'cursor');
      assertProblem(await s.teachers[0].api.get(`/api/v1/schools/${s.schoolId}/users`), 403);
      assertProblem(await other.admin.api.get(`/api/v1/schools/${s.schoolId}/users`), 403);
    });

    test('PATCH user: names, block revokes sign-in; reset password gives a new one', T, async () => {
      const u = assertJson(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/users`, {
          last_name: 'Старая',
          first_name: 'Фамилия',
          roles: ['student'],
        }),
        201,
      );
      const p = assertJson(await s.admin.api.patch(`/api/v1/users/${u.id}`, { last_name: 'Новая' }), 200);
      assert.equal(p.last_name, 'Новая');
      assertProblem(await s.admin.api.patch(`/api/v1/users/${u.id}`, { blocked: 'yes' }), 422);
      assertProblem(await s.admin.api.patch(`/api/v1/users/${u.id}`, { last_name: '' }), 422);
      assertProblem(await other.admin.api.patch(`/api/v1/users/${u.id}`, { last_name: 'X' }), 403);
      assertProblem(await s.teachers[0].api.patch(`/api/v1/users/${u.id}`, { last_name: 'X' }), 403);
      assertProblem(await s.admin.api.patch('/api/v1/users/999999', { last_name: 'X' }), 404);
      const b = assertJson(await s.admin.api.patch(`/api/v1/users/${u.id}`, { blocked: true }), 200);
      assert.equal(b.blocked, true);
      const login = await request(`${srv.url}/api/v1/auth/login`, {
        method: 'POST',
        body: { login: u.login, password: u.initial_password },
      });
      assert.notEqual(login.status, 200, 'a blocked user cannot sign in');
      assertJson(await s.admin.api.patch(`/api/v1/users/${u.id}`, { blocked: false }), 200);
      const r = assertJson(await s.admin.api.post(`/api/v1/users/${u.id}/reset-password`), 200);
      assert.notEqual(r.initial_password, u.initial_password);
      await signIn(srv.url, u.login, r.initial_password);
      const old = await request(`${srv.url}/api/v1/auth/login`, {
        method: 'POST',
        body: { login: u.login, password: u.initial_password },
      });
      assert.equal(old.status, 401);
      assertProblem(await other.admin.api.post(`/api/v1/users/${u.id}/reset-password`), 403);
      assertProblem(await s.admin.api.post(`/api/v1/users/${s.sysadmin.id}/reset-password`), 403);
    });

    test('parent links: link, duplicate 409, not a parent 422, unlink, cross-school 403', T, async () => {
      const parent = s.parents[1];
      const child = s.students[2];
      const l = assertJson(await s.admin.api.post(`/api/v1/parents/${parent.id}/children/${child.id}`), 201);
      assert.deepEqual(l, { parent_id: parent.id, student_id: child.id });
      assertProblem(await s.admin.api.post(`/api/v1/parents/${parent.id}/children/${child.id}`), 409);
      const np = assertProblem(await s.admin.api.post(`/api/v1/parents/${s.teachers[0].id}/children/${child.id}`), 422);
      assert.equal(np.errors[0].field, 'parent_id');
      assertProblem(await other.admin.api.post(`/api/v1/parents/${parent.id}/children/${child.id}`), 403);
      assertProblem(await s.teachers[0].api.post(`/api/v1/parents/${parent.id}/children/${child.id}`), 403);
      assertProblem(await s.admin.api.post(`/api/v1/parents/${parent.id}/children/999999`), 404);
      assert.equal((await s.admin.api.del(`/api/v1/parents/${parent.id}/children/${child.id}`)).status, 204);
      assertProblem(await s.admin.api.del(`/api/v1/parents/${parent.id}/children/${child.id}`), 404);
    });
  });

  describe('assignments', () => {
    test('create, duplicate 409, invalid refs 422, list, delete', T, async () => {
      const body = { teacher_id: s.teachers[1].id, class_id: s.classes[1].id, subject_id: s.subjects[0].id, subgroup: '1' };
      const a = assertJson(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/assignments`, body), 201);
      assert.equal(a.subgroup, '1');
      assert.equal(a.subject_name, 'Математика');
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/assignments`, body), 409);
      const bad = assertProblem(
        await s.admin.api.post(`/api/v1/schools/${s.schoolId}/assignments`, {
          teacher_id: s.students[0].id,
          class_id: other.classes[0].id,
          subject_id: 999999,
        }),
        422,
      );
      assert.deepEqual(bad.errors.map((e) => e.field).sort(), ['class_id', 'subject_id', 'teacher_id']);
      assertProblem(await s.admin.api.post(`/api/v1/schools/${s.schoolId}/assignments`, {}), 422);
      assertProblem(await s.teachers[0].api.post(`/api/v1/schools/${s.schoolId}/assignments`, body), 403);
      const list = assertJson(
        await s.teachers[0].api.get(`/api/v1/schools/${s.schoolId}/assignments?class_id=${s.classes[1].id}`),
        200,
      );
      assert.ok(list.items.every((x) => x.class_id === s.classes[1].id));
      assert.ok(list.items.some((x) => x.id === a.id));
      const byTeacher = assertJson(
        await s.admin.api.get(`/api/v1/schools/${s.schoolId}/assignments?teacher_id=${s.teachers[1].id}`),
        200,
      );
      assert.ok(byTeacher.items.length > 0 && byTeacher.items.every((x) => x.teacher_id === s.teachers[1].id));
      assertProblem(await other.admin.api.get(`/api/v1/schools/${s.schoolId}/assignments`), 403);
      for (const q of ['class_id=abc', 'teacher_id=-1']) {
        const p = assertProblem(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/assignments?${q}`), 422);
        assert.equal(p.errors[0].field, q.split('=')[0], 'a malformed filter is an error, not "no filter"');
      }
      assertProblem(await other.admin.api.del(`/api/v1/assignments/${a.id}`), 403);
      assert.equal((await s.admin.api.del(`/api/v1/assignments/${a.id}`)).status, 204);
      assertProblem(await s.admin.api.del(`/api/v1/assignments/${a.id}`), 404);
    });
  });

  describe('invites', () => {
    test('accept: bad input 422, unknown code 404, sets the password once', T, async () => {
      const csv = 'type,last_name,first_name,login\nteacher,Приглашённая,Ирина,invited1\n';
      const imp = assertJson(
        await s.admin.api.raw('POST', `/api/v1/schools/${s.schoolId}/import?dry_run=0`, csv, { 'content-type': 'text/csv' }),
        201,
      );
      const code = imp.users[0].invite_code;
      assertProblem(await anon().post('/api/v1/invites/accept', { code, new_password: 'short' }), 422);
      assertProblem(await anon().post('/api/v1/invites/accept', { code: 'nosuchcode', new_password: 'long-enough-1' }), 404);
      assertProblem(
        await anon().post('/api/v1/invites/accept', { code, login: 'someone-else', new_password: 'long-enough-1' }),
        404,
      );
      const ok = assertJson(await anon().post('/api/v1/invites/accept', { code, new_password: 'long-enough-1' }), 200);
      assert.equal(ok.login, 'invited1');
      await signIn(srv.url, 'invited1', 'long-enough-1');
      assertProblem(await anon().post('/api/v1/invites/accept', { code, new_password: 'another-pass-2' }), 404);
    });
  });
});
