// CSV import API: dry run preview, a real import with invite codes, and a
// malformed file reported by line number with nothing written.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem } from './lib/server.mjs';
import { createSchool, startSchoolServer } from './lib/fixture.mjs';
import { checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };

describe(`import [${DB}]`, () => {
  let srv, s, other;
  before(async () => {
    srv = await startSchoolServer();
    s = checkedSchool(await createSchool(srv, { teachers: 1, students: 1, parents: 0, classes: ['9А'] }));
    other = checkedSchool(await createSchool(srv, { teachers: 1, students: 0, parents: 0, classes: [] }));
  });
  after(async () => {
    await srv?.stop();
  });

  const post = (who, csv, dry = 0, ct = 'text/csv; charset=utf-8') =>
    who.api.raw('POST', `/api/v1/schools/${s.schoolId}/import?dry_run=${dry}`, csv, { 'content-type': ct });

  const users = async () =>
    assertJson(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?limit=500`), 200).items.length;

  const good =
    '\uFEFFtype;last_name;first_name;middle_name;login;class;subject;parent_of\r\n' +
    'class;;;;;8Б;;\r\n' +
    'student;Кузнецов;Алексей;Игоревич;kuznetsov;8Б;;\r\n' +
    'student;"Смирнова; урожд. Орлова";Дарья;;;9А;;\r\n' +
    'parent;Кузнецова;Елена;;kuznetsova;;;kuznetsov\r\n' +
    'teacher;Белова;Марина;Олеговна;belova;;;\r\n' +
    'assignment;;;;belova;8Б;География;\r\n';

  test('dry run: preview with counts, nothing written', T, async () => {
    const before = await users();
    const r = assertJson(await post(s.admin, good, 1), 200);
    assert.equal(r.dry_run, true);
    assert.equal(r.counts.classes, 1);
    assert.equal(r.counts.students, 2);
    assert.equal(r.counts.parents, 1);
    assert.equal(r.counts.teachers, 1);
    assert.equal(r.counts.assignments, 1);
    assert.equal(r.rows.length, 6);
    assert.equal(r.rows[2].last_name, 'Смирнова; урожд. Орлова');
    assert.equal(r.rows[0].line, 2);
    assert.deepEqual(r.users, []);
    assert.equal(await users(), before);
  });

  test('dry_run must be an explicit yes or no: a typo never imports for real', T, async () => {
    const before = await users();
    for (const dry of ['yes', 'TRUE', '2']) {
      const p = assertProblem(await post(s.admin, good, dry), 422);
      assert.equal(p.errors[0].field, 'dry_run');
    }
    assert.equal(await users(), before);
  });

  test('import: creates everything with invite codes; the same file again → 422, nothing written', T, async () => {
    const before = await users();
    const r = assertJson(await post(s.admin, good, 0), 201);
    assert.equal(r.users.length, 4);
    for (const u of r.users) assert.match(u.invite_code, /^[a-z2-9]{10}$/);
    assert.equal(r.counts.subjects, 1);
    assert.equal(await users(), before + 4);
    const classes = assertJson(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/classes`), 200).items;
    const c8 = classes.find((c) => c.name === '8Б');
    assert.equal(c8.student_count, 1);
    const a = assertJson(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/assignments?class_id=${c8.id}`), 200);
    assert.equal(a.items[0].subject_name, 'География');

    const again = assertProblem(await post(s.admin, good, 0), 422);
    assert.ok(again.errors.every((e) => Number.isInteger(e.line) && e.field && e.message));
    assert.ok(again.errors.some((e) => e.line === 3 && e.field === 'login'));
    assert.equal(await users(), before + 4);
  });

  test('malformed file: every bad row reported by line, nothing written', T, async () => {
    const before = await users();
    const csv =
      'type,last_name,first_name,login,class,subject,parent_of\n' +
      'class,,,,11А,,\n' + // 2 ok
      'student,Орлов,Олег,orlov,4Ж,,\n' + // 3 unknown class
      'robot,Орлов,Олег,,11А,,\n' + // 4 bad type
      'parent,Орлова,Ольга,,,,ghost\n' + // 5 unknown child
      'assignment,,,orlov,11А,,\n' + // 6 not a teacher, no subject
      'student,,Иван,,11А,,\n'; // 7 no last name
    const p = assertProblem(await post(s.admin, csv, 0), 422);
    const lines = new Set(p.errors.map((e) => e.line));
    for (const l of [3, 4, 5, 6, 7]) assert.ok(lines.has(l), `line ${l} reported: ${JSON.stringify(p.errors)}`);
    assert.ok(!lines.has(2));
    assert.equal(await users(), before);
    const classes = assertJson(await s.admin.api.get(`/api/v1/schools/${s.schoolId}/classes`), 200).items;
    assert.ok(!classes.some((c) => c.name === '11А'), 'the valid class row was not written either');

    const syntax = assertProblem(await post(s.admin, 'type,class\nclass,"11А\n', 0), 422);
    assert.equal(syntax.errors[0].line, 2);
    assert.equal(syntax.errors[0].field, 'csv');
    const header = assertProblem(await post(s.admin, 'kind,name\nx,y\n', 0), 422);
    assert.equal(header.errors[0].line, 1);
    assertProblem(await post(s.admin, '', 0), 422);
  });

  test('access and content type', T, async () => {
    assertProblem(await post(s.teachers[0], good, 1), 403);
    assertProblem(await post(s.students[0], good, 1), 403);
    assertProblem(await post(other.admin, good, 1), 403);
    assertProblem(await post(s.admin, '{"a":1}', 1, 'application/json'), 415);
    assertProblem(await s.sysadmin.api.raw('POST', '/api/v1/schools/999999/import', good, { 'content-type': 'text/csv' }), 404);
  });
});
