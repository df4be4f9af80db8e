// Journal API: lessons (topic/homework), marks (single, column, checkpoint),
// attendance, term marks, closing terms, checkpoints, cell history.
// One server and one school for the file; lessons are inserted with SQL
// (fixture seedLesson) because lesson generation belongs to the timetable area.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem } from './lib/server.mjs';
import { client, createSchool, seedLesson, startSchoolServer, termId } from './lib/fixture.mjs';
import { checkedClient, checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };

describe(`journal [${DB}]`, () => {
  let srv, s, t0, t1, st0, st1, st2, par0, admin, cls, math, rus;
  const L = {};
  let q1, year;

  before(async () => {
    srv = await startSchoolServer();
    s = checkedSchool(await createSchool(srv, {
      teachers: 2,
      students: 3,
      parents: 2,
      classes: ['5А', '5Б'],
      subjects: ['Математика', 'Русский язык'],
    }));
    [t0, t1] = s.teachers; // t0: Математика in both classes; t1: Русский язык
    [st0, st1, st2] = s.students; // st0, st2 in 5А; st1 in 5Б
    par0 = s.parents[0]; // parent of st0
    admin = s.admin;
    cls = s.classes[0];
    [math, rus] = s.subjects;
    year = s.year;
    const mk = (date, extra = {}) =>
      seedLesson(srv, s.schoolId, { classId: cls.id, subjectId: math.id, teacherId: t0.id, date, ...extra });
    L.a = mk(`${year}-09-15`);
    L.b = mk(`${year}-09-16`);
    L.cancelled = mk(`${year}-09-17`, { cancelled: true });
    L.noterm = mk(`${year}-10-30`); // between the 1st and the 2nd quarter
    L.q2 = mk(`${year}-11-10`);
    L.rus = seedLesson(srv, s.schoolId, {
      classId: cls.id,
      subjectId: rus.id,
      teacherId: t1.id,
      date: `${year}-09-15`,
      no: 2,
    });
    q1 = termId(srv, s.schoolId, year, 1);
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  describe('marks', () => {
    let markId;
    test('no token → 401', T, async () => {
      const res = await checkedClient(client(srv.url, null)).post(`/api/v1/lessons/${L.a}/marks`, { student_id: st0.id, value: 5 });
      assertProblem(res, 401);
    });

    test('teacher sets a mark (201); same kind again updates it', T, async () => {
      const m = assertJson(await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st0.id, value: 5 }), 201);
      assert.equal(m.value, 5);
      assert.equal(m.weight, 1);
      assert.equal(m.kind, 'lesson');
      assert.equal(m.term_id, q1);
      assert.equal(m.date, `${year}-09-15`);
      markId = m.id;
      const again = assertJson(
        await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st0.id, value: 4, comment: 'устно' }),
        201,
      );
      assert.equal(again.id, markId);
      assert.equal(again.value, 4);
      assert.equal(again.comment, 'устно');
      const test2 = assertJson(
        await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st0.id, value: 3, kind: 'test' }),
        201,
      );
      assert.notEqual(test2.id, markId);
      assert.equal(test2.weight, 2);
    });

    test('student, parent and another teacher cannot set marks → 403', T, async () => {
      for (const u of [st0, par0, t1]) {
        assertProblem(await u.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st0.id, value: 5 }), 403);
      }
    });

    test('value outside 1..5 or not an integer → 422 naming the field', T, async () => {
      for (const value of [6, 0, '5', 4.5, null]) {
        const p = assertProblem(
          await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st2.id, value }),
          422,
        );
        assert.equal(p.errors[0].field, 'value');
      }
      const p = assertProblem(
        await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st2.id, value: 5, kind: 'exam' }),
        422,
      );
      assert.equal(p.errors[0].field, 'kind');
    });

    test('student of another class → 422', T, async () => {
      const p = assertProblem(
        await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st1.id, value: 5 }),
        422,
      );
      assert.equal(p.errors[0].field, 'student_id');
    });

    test('unknown or malformed lesson → 404; invalid JSON → 400', T, async () => {
      assertProblem(await t0.api.post(`/api/v1/lessons/999999/marks`, { student_id: st0.id, value: 5 }), 404);
      assertProblem(await t0.api.post(`/api/v1/lessons/abc/marks`, { student_id: st0.id, value: 5 }), 404);
      const res = await t0.api.raw('POST', `/api/v1/lessons/${L.a}/marks`, '{"value":', {
        'content-type': 'application/json',
      });
      assertProblem(res, 400);
    });

    test('cancelled lesson → 409; a date outside every term → 422', T, async () => {
      assertProblem(await t0.api.post(`/api/v1/lessons/${L.cancelled}/marks`, { student_id: st0.id, value: 5 }), 409);
      const p = assertProblem(
        await t0.api.post(`/api/v1/lessons/${L.noterm}/marks`, { student_id: st0.id, value: 5 }),
        422,
      );
      assert.equal(p.errors[0].field, 'date');
    });

    test('PATCH and DELETE a mark; unknown mark → 404; other teacher → 403', T, async () => {
      const m = assertJson(await t0.api.patch(`/api/v1/marks/${markId}`, { value: 3, comment: 'исправлено' }), 200);
      assert.equal(m.value, 3);
      assert.equal(m.comment, 'исправлено');
      assertProblem(await t0.api.patch(`/api/v1/marks/${markId}`, { value: 9 }), 422);
      assertProblem(await t1.api.patch(`/api/v1/marks/${markId}`, { value: 2 }), 403);
      assertProblem(await t1.api.del(`/api/v1/marks/${markId}`), 403);
      assertProblem(await t0.api.patch(`/api/v1/marks/999999`, { value: 2 }), 404);
      const d = await t0.api.del(`/api/v1/marks/${markId}`);
      assert.equal(d.status, 204, d.text);
      assertProblem(await t0.api.del(`/api/v1/marks/${markId}`), 404);
    });

    test('history of a cell: every change with old and new values', T, async () => {
      const h = assertJson(
        await t0.api.get(`/api/v1/audit?entity=mark&lesson_id=${L.a}&student_id=${st0.id}`),
        200,
      );
      // set 5, set 4, test 3, patch 3, delete
      assert.equal(h.items.length, 5, JSON.stringify(h.items));
      assert.equal(h.items[0].old, null);
      assert.equal(h.items[0].new.value, 5);
      assert.equal(h.items[1].old.value, 5);
      assert.equal(h.items[1].new.value, 4);
      assert.equal(h.items[4].new, null);
      assert.equal(h.items[0].actor_id, t0.id);
      assertJson(await admin.api.get(`/api/v1/audit?entity=mark&lesson_id=${L.a}&student_id=${st0.id}`), 200);
      assertProblem(await t1.api.get(`/api/v1/audit?entity=mark&lesson_id=${L.a}&student_id=${st0.id}`), 403);
      assertProblem(await st0.api.get(`/api/v1/audit?entity=mark&lesson_id=${L.a}&student_id=${st0.id}`), 403);
      assertProblem(await t0.api.get(`/api/v1/audit?entity=mark&lesson_id=${L.a}`), 422);
      assertProblem(await t0.api.get(`/api/v1/audit?entity=user&lesson_id=${L.a}&student_id=${st0.id}`), 422);
      assertProblem(await t0.api.get(`/api/v1/audit?entity=mark&lesson_id=999999&student_id=${st0.id}`), 404);
    });
  });

  describe('column fill', () => {
    test('one bad cell → 422 and nothing written', T, async () => {
      const p = assertProblem(
        await t0.api.put(`/api/v1/lessons/${L.b}/marks`, {
          marks: [
            { student_id: st0.id, value: 5 },
            { student_id: st2.id, value: 7 },
          ],
        }),
        422,
      );
      assert.equal(p.errors[0].field, 'marks[1].value');
      const p2 = assertProblem(
        await t0.api.put(`/api/v1/lessons/${L.b}/marks`, {
          marks: [
            { student_id: st0.id, value: 5 },
            { student_id: st1.id, value: 4 },
          ],
        }),
        422,
      );
      assert.equal(p2.errors[0].field, 'marks[1].student_id');
      const l = assertJson(await t0.api.get(`/api/v1/lessons/${L.b}`), 200);
      assert.deepEqual(l.marks, []);
    });

    test('a whole column in one request; null removes', T, async () => {
      const l = assertJson(
        await t0.api.put(`/api/v1/lessons/${L.b}/marks`, {
          marks: [
            { student_id: st0.id, value: 5 },
            { student_id: st2.id, value: 4, kind: 'homework' },
          ],
        }),
        200,
      );
      assert.equal(l.marks.length, 2);
      const l2 = assertJson(
        await t0.api.put(`/api/v1/lessons/${L.b}/marks`, { marks: [{ student_id: st0.id, value: null }] }),
        200,
      );
      assert.equal(l2.marks.length, 1);
      assert.equal(l2.marks[0].student_id, st2.id);
      assertProblem(await st0.api.put(`/api/v1/lessons/${L.b}/marks`, { marks: [] }), 403);
      assertProblem(await t0.api.put(`/api/v1/lessons/${L.b}/marks`, { marks: 'x' }), 422);
    });
  });

  describe('attendance and lessons', () => {
    test('PUT attendance in one transaction; bad status → 422', T, async () => {
      const p = assertProblem(
        await t0.api.put(`/api/v1/lessons/${L.a}/attendance`, {
          items: [
            { student_id: st0.id, status: 'absent' },
            { student_id: st2.id, status: 'asleep' },
          ],
        }),
        422,
      );
      assert.equal(p.errors[0].field, 'items[1].status');
      const l = assertJson(
        await t0.api.put(`/api/v1/lessons/${L.a}/attendance`, {
          items: [
            { student_id: st0.id, status: 'absent' },
            { student_id: st2.id, status: 'late' },
          ],
        }),
        200,
      );
      assert.deepEqual(
        l.attendance.map((a) => a.status).sort(),
        ['absent', 'late'],
      );
      assertProblem(
        await t1.api.put(`/api/v1/lessons/${L.a}/attendance`, { items: [{ student_id: st0.id, status: 'present' }] }),
        403,
      );
      assertProblem(
        await t0.api.put(`/api/v1/lessons/${L.a}/attendance`, { items: [{ student_id: st1.id, status: 'present' }] }),
        422,
      );
    });

    test('PATCH topic/homework by the teacher; others → 403', T, async () => {
      const l = assertJson(
        await t0.api.patch(`/api/v1/lessons/${L.a}`, { topic: 'Дроби', homework: '№ 12, 13' }),
        200,
      );
      assert.equal(l.topic, 'Дроби');
      assert.equal(l.homework, '№ 12, 13');
      assertProblem(await st0.api.patch(`/api/v1/lessons/${L.a}`, { topic: 'x' }), 403);
      assertProblem(await t1.api.patch(`/api/v1/lessons/${L.a}`, { topic: 'x' }), 403);
      assertProblem(await t0.api.patch(`/api/v1/lessons/${L.a}`, { topic: 5 }), 422);
      assertProblem(await t0.api.patch(`/api/v1/lessons/999999`, { topic: 'x' }), 404);
    });

    test('GET lesson: the teacher sees the cells, a student only the lesson; ETag → 304', T, async () => {
      const res = await t0.api.get(`/api/v1/lessons/${L.a}`);
      const l = assertJson(res, 200);
      assert.ok(Array.isArray(l.marks) && Array.isArray(l.students));
      assert.equal(l.students.length, 2);
      const etag = res.headers.etag;
      assert.match(etag, /^"[0-9a-f]+"$/);
      assert.equal(res.headers['cache-control'], 'private, no-cache');
      const again = await t0.api.get(`/api/v1/lessons/${L.a}`, { 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      const sl = assertJson(await st0.api.get(`/api/v1/lessons/${L.a}`), 200);
      assert.equal(sl.topic, 'Дроби');
      assert.equal(sl.marks, undefined);
      assertProblem(await st1.api.get(`/api/v1/lessons/${L.a}`), 403);
      assertProblem(await t0.api.get(`/api/v1/lessons/999999`), 404);
    });
  });

  describe('terms', () => {
    test('closing a term: 409 for teachers, admin may still change; reopen', T, async () => {
      assertProblem(await t0.api.post(`/api/v1/terms/${q1}/close`), 403);
      const t = assertJson(await admin.api.post(`/api/v1/terms/${q1}/close`), 200);
      assert.notEqual(t.closed_at, null);
      assertProblem(await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st2.id, value: 5 }), 409);
      assertProblem(
        await t0.api.put(`/api/v1/lessons/${L.a}/marks`, { marks: [{ student_id: st2.id, value: 5 }] }),
        409,
      );
      assertJson(await admin.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st2.id, value: 5 }), 201);
      const r = assertJson(await admin.api.post(`/api/v1/terms/${q1}/reopen`), 200);
      assert.equal(r.closed_at, null);
      assertJson(await t0.api.post(`/api/v1/lessons/${L.a}/marks`, { student_id: st2.id, value: 4 }), 201);
      assertProblem(await admin.api.post(`/api/v1/terms/999999/close`), 404);
      assertProblem(await t0.api.post(`/api/v1/terms/${q1}/reopen`), 403);
      assertProblem(await admin.api.post(`/api/v1/terms/999999/reopen`), 404);
    });

    test('term marks: PUT sets, GET shows the weighted average as a suggestion', T, async () => {
      const path = `/api/v1/classes/${cls.id}/subjects/${math.id}/term-marks`;
      assertProblem(
        await t0.api.put(path, { year_start: year, period: 1, items: [{ student_id: st0.id, value: 6 }] }),
        422,
      );
      assertProblem(
        await t0.api.put(path, { year_start: year, period: 7, items: [{ student_id: st0.id, value: 5 }] }),
        422,
      );
      assertProblem(
        await t0.api.put(path, { year_start: year, period: 1, items: [{ student_id: st1.id, value: 5 }] }),
        422,
      );
      assertProblem(
        await st0.api.put(path, { year_start: year, period: 1, items: [{ student_id: st0.id, value: 5 }] }),
        403,
      );
      const out = assertJson(
        await t0.api.put(path, { year_start: year, period: 1, items: [{ student_id: st0.id, value: 4 }] }),
        200,
      );
      const me = out.items.find((i) => i.student_id === st0.id);
      assert.equal(me.term_mark, 4);
      // st0 in Q1: test 3 (w2) on lesson a, lesson 5... deleted; column b: removed → 3·2 / 2
      assert.equal(me.sum_weights, 2);
      assert.equal(me.average, 3);
      const got = assertJson(await t0.api.get(`${path}?year_start=${year}&period=1`), 200);
      assert.equal(got.items.find((i) => i.student_id === st0.id).term_mark, 4);
      assertProblem(await t0.api.get(`${path}?year_start=${year}`), 422);
      assertProblem(await st0.api.get(`${path}?year_start=${year}&period=1`), 403);
      assertProblem(await t0.api.get(`/api/v1/classes/${cls.id}/subjects/999999/term-marks?year_start=${year}&period=1`), 404);
    });
  });

  describe('checkpoints', () => {
    let cp;
    test('create (teacher), validate, list, patch, delete', T, async () => {
      const path = `/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`;
      cp = assertJson(
        await t0.api.post(path, { kind: 'control', title: 'Контрольная №1', due_date: `${year}-09-25` }),
        201,
      );
      assert.equal(cp.weight, 3);
      assert.equal(cp.subject, 'Математика');
      assertProblem(await t0.api.post(path, { kind: 'exam', title: 'x', due_date: `${year}-09-25` }), 422);
      assertProblem(await t0.api.post(path, { kind: 'test', title: '', due_date: `${year}-09-25` }), 422);
      assertProblem(await t0.api.post(path, { kind: 'test', title: 'x', due_date: '25.09' }), 422);
      assertProblem(await t0.api.post(path, { kind: 'test', title: 'x', due_date: `${year}-09-25`, lesson_id: L.rus }), 422);
      assertProblem(await st0.api.post(path, { kind: 'test', title: 'x', due_date: `${year}-09-25` }), 403);
      assertProblem(await t1.api.post(path, { kind: 'test', title: 'x', due_date: `${year}-09-25` }), 403);
      const list = assertJson(
        await st0.api.get(`/api/v1/classes/${cls.id}/checkpoints?subject_id=${math.id}&from=${year}-09-01&to=${year}-09-30`),
        200,
      );
      assert.equal(list.items.length, 1);
      const one = assertJson(await st0.api.get(`/api/v1/checkpoints/${cp.id}`), 200);
      assert.deepEqual(one, list.items[0]);
      assertProblem(await st1.api.get(`/api/v1/checkpoints/${cp.id}`), 403);
      assertProblem(await st1.api.get(`/api/v1/classes/${cls.id}/checkpoints`), 403);
      assertProblem(await st0.api.get(`/api/v1/classes/${cls.id}/checkpoints?from=bad`), 422);
      const p = assertJson(await t0.api.patch(`/api/v1/checkpoints/${cp.id}`, { title: 'КР №1', weight: 4 }), 200);
      assert.equal(p.title, 'КР №1');
      assert.equal(p.weight, 4);
      assertProblem(await t0.api.patch(`/api/v1/checkpoints/${cp.id}`, { weight: 11 }), 422);
      assertProblem(await t0.api.patch(`/api/v1/checkpoints/999999`, { title: 'x' }), 404);
      const extra = assertJson(await t0.api.post(path, { kind: 'test', title: 'Пробная', due_date: `${year}-09-26` }), 201);
      assertProblem(await t1.api.del(`/api/v1/checkpoints/${extra.id}`), 403);
      assert.equal((await t0.api.del(`/api/v1/checkpoints/${extra.id}`)).status, 204);
      assertProblem(await t0.api.get(`/api/v1/checkpoints/${extra.id}`), 404);
    });

    test('checkpoint marks: weight of the checkpoint; a checkpoint with marks cannot be deleted', T, async () => {
      const m = assertJson(
        await t0.api.post(`/api/v1/checkpoints/${cp.id}/marks`, { student_id: st0.id, value: 5 }),
        201,
      );
      assert.equal(m.weight, 4);
      assert.equal(m.kind, 'control');
      assert.equal(m.checkpoint_id, cp.id);
      assertProblem(await t0.api.post(`/api/v1/checkpoints/${cp.id}/marks`, { student_id: st0.id, value: 6 }), 422);
      assertProblem(await t0.api.post(`/api/v1/checkpoints/${cp.id}/marks`, { student_id: st1.id, value: 5 }), 422);
      assertProblem(await st0.api.post(`/api/v1/checkpoints/${cp.id}/marks`, { student_id: st0.id, value: 5 }), 403);
      assertProblem(await t0.api.post(`/api/v1/checkpoints/999999/marks`, { student_id: st0.id, value: 5 }), 404);
      assertProblem(await t0.api.del(`/api/v1/checkpoints/${cp.id}`), 409);
      const h = assertJson(
        await t0.api.get(`/api/v1/audit?entity=mark&checkpoint_id=${cp.id}&student_id=${st0.id}`),
        200,
      );
      assert.equal(h.items.length, 1);
    });
  });
});
