// Everyday pages: a student's week and term marks, the class journal of a
// subject, a teacher's day. Access (self, parents, class teacher, admin),
// ETag/304, and the weighted average with its formula inputs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem } from './lib/server.mjs';
import { createSchool, seedLesson, sqlRun, startSchoolServer, termId } from './lib/fixture.mjs';
import { checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };

/** Monday of the second full week of September of `year` (inside the 1st quarter). */
function septemberMonday(year) {
  const d = new Date(Date.UTC(year, 8, 8));
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}
const iso = (d) => d.toISOString().slice(0, 10);
const plus = (d, n) => new Date(d.getTime() + n * 86400000);

describe(`diary pages [${DB}]`, () => {
  let srv, s, t0, t1, st0, st1, st2, par0, admin, cls, math, rus, mon, q1, year;
  const L = {};

  before(async () => {
    srv = await startSchoolServer();
    s = checkedSchool(await createSchool(srv, {
      teachers: 2,
      students: 3,
      parents: 2,
      classes: ['5А', '5Б'],
      subjects: ['Математика', 'Русский язык'],
    }));
    [t0, t1] = s.teachers;
    [st0, st1, st2] = s.students; // st0, st2 in 5А; st1 in 5Б
    par0 = s.parents[0]; // parent of st0
    admin = s.admin;
    cls = s.classes[0];
    [math, rus] = s.subjects;
    year = s.year;
    mon = septemberMonday(year);
    q1 = termId(srv, s.schoolId, year, 1);
    L.monMath = seedLesson(srv, s.schoolId, {
      classId: cls.id, subjectId: math.id, teacherId: t0.id, date: iso(mon), no: 1, topic: 'Дроби',
    });
    L.monRus = seedLesson(srv, s.schoolId, {
      classId: cls.id, subjectId: rus.id, teacherId: t1.id, date: iso(mon), no: 2,
    });
    L.wedMath = seedLesson(srv, s.schoolId, {
      classId: cls.id, subjectId: math.id, teacherId: t0.id, date: iso(plus(mon, 2)), no: 3,
    });
    L.satMath = seedLesson(srv, s.schoolId, {
      classId: cls.id, subjectId: math.id, teacherId: t0.id, date: iso(plus(mon, 5)), no: 1, cancelled: true,
    });
    L.nextWeek = seedLesson(srv, s.schoolId, {
      classId: cls.id, subjectId: math.id, teacherId: t0.id, date: iso(plus(mon, 7)), no: 1,
    });
    // marks: 5 (lesson, w1), 3 (test, w2) → (5 + 6) / 3 = 3.67; control checkpoint 4 (w3) → 23/6 = 3.83
    assertJson(await t0.api.post(`/api/v1/lessons/${L.monMath}/marks`, { student_id: st0.id, value: 5 }), 201);
    assertJson(
      await t0.api.post(`/api/v1/lessons/${L.wedMath}/marks`, { student_id: st0.id, value: 3, kind: 'test' }),
      201,
    );
    assertJson(
      await t0.api.put(`/api/v1/lessons/${L.monMath}/attendance`, { items: [{ student_id: st0.id, status: 'late' }] }),
      200,
    );
    const cp = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
        kind: 'control',
        title: 'КР',
        due_date: iso(plus(mon, 4)),
      }),
      201,
    );
    L.cp = cp.id;
    assertJson(await t0.api.post(`/api/v1/checkpoints/${cp.id}/marks`, { student_id: st0.id, value: 4 }), 201);
    assertJson(
      await t0.api.put(`/api/v1/classes/${cls.id}/subjects/${math.id}/term-marks`, {
        year_start: year,
        period: 1,
        items: [{ student_id: st0.id, value: 4 }],
      }),
      200,
    );
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  describe('GET /students/{id}/week', () => {
    test('the student sees Mon..Sat with lessons, marks, attendance and checkpoints', T, async () => {
      const res = await st0.api.get(`/api/v1/students/${st0.id}/week?date=${iso(plus(mon, 3))}`);
      const w = assertJson(res, 200);
      assert.equal(w.week_start, iso(mon));
      assert.equal(w.days.length, 6);
      assert.deepEqual(
        w.days.map((d) => d.weekday),
        [1, 2, 3, 4, 5, 6],
      );
      const monday = w.days[0].lessons;
      assert.equal(monday.length, 2);
      assert.equal(monday[0].subject, 'Математика');
      assert.equal(monday[0].topic, 'Дроби');
      assert.equal(monday[0].attendance, 'late');
      assert.deepEqual(
        monday[0].marks.map((m) => [m.value, m.kind, m.weight]),
        [[5, 'lesson', 1]],
      );
      assert.equal(monday[1].attendance, null);
      assert.equal(w.days[2].lessons[0].marks[0].weight, 2);
      assert.equal(w.days[5].lessons[0].cancelled, true);
      assert.equal(w.checkpoints.length, 1);
      assert.equal(w.checkpoints[0].mark.value, 4);
      // ETag: the same page again is a 304 without a body
      assert.match(res.headers.etag ?? '', /^"[0-9a-f]+"$/);
      const again = await st0.api.get(`/api/v1/students/${st0.id}/week?date=${iso(plus(mon, 3))}`, {
        'if-none-match': res.headers.etag,
      });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      // a change makes a new tag
      assertJson(await t0.api.patch(`/api/v1/lessons/${L.monMath}`, { homework: '№ 5' }), 200);
      const changed = await st0.api.get(`/api/v1/students/${st0.id}/week?date=${iso(plus(mon, 3))}`, {
        'if-none-match': res.headers.etag,
      });
      assert.equal(changed.status, 200);
      assert.equal(changed.json().days[0].lessons[0].homework, '№ 5');
    });

    test('parents see their own child only; admin yes; others 403; bad input', T, async () => {
      assertJson(await par0.api.get(`/api/v1/students/${st0.id}/week?date=${iso(mon)}`), 200);
      assertProblem(await par0.api.get(`/api/v1/students/${st1.id}/week?date=${iso(mon)}`), 403);
      assertProblem(await st2.api.get(`/api/v1/students/${st0.id}/week?date=${iso(mon)}`), 403);
      assertProblem(await t1.api.get(`/api/v1/students/${st0.id}/week?date=${iso(mon)}`), 403);
      assertJson(await admin.api.get(`/api/v1/students/${st0.id}/week?date=${iso(mon)}`), 200);
      assertProblem(await st0.api.get(`/api/v1/students/${st0.id}/week?date=2026-02-30`), 422);
      assertProblem(await admin.api.get(`/api/v1/students/999999/week`), 404);
    });

    test('the class teacher may read a student of their class', T, async () => {
      sqlRun(srv, `UPDATE classes SET class_teacher_id = ${t1.id} WHERE id = ${cls.id}`);
      assertJson(await t1.api.get(`/api/v1/students/${st0.id}/week?date=${iso(mon)}`), 200);
    });
  });

  describe('GET /students/{id}/marks', () => {
    test('per subject: marks, weighted average and its inputs, the term mark', T, async () => {
      const res = await st0.api.get(`/api/v1/students/${st0.id}/marks?term_id=${q1}`);
      const m = assertJson(res, 200);
      assert.equal(m.term.id, q1);
      const mathRow = m.subjects.find((x) => x.subject_id === math.id);
      assert.equal(mathRow.marks.length, 3);
      assert.equal(mathRow.sum_weighted, 23);
      assert.equal(mathRow.sum_weights, 6);
      assert.equal(mathRow.average, 3.83);
      assert.match(res.text, /"average":3\.83[,}]/, 'averages are written with 2 decimals');
      assert.equal(mathRow.term_mark, 4);
      const again = await st0.api.get(`/api/v1/students/${st0.id}/marks?term_id=${q1}`, {
        'if-none-match': res.headers.etag,
      });
      assert.equal(again.status, 304);
      assertJson(await par0.api.get(`/api/v1/students/${st0.id}/marks?term_id=${q1}`), 200);
      assertProblem(await par0.api.get(`/api/v1/students/${st1.id}/marks?term_id=${q1}`), 403);
      assertProblem(await st0.api.get(`/api/v1/students/${st0.id}/marks?term_id=999999`), 404);
      assertProblem(await st0.api.get(`/api/v1/students/${st0.id}/marks?term_id=x`), 422);
      // default term: the current one exists, whatever it holds
      assertJson(await st0.api.get(`/api/v1/students/${st0.id}/marks`), 200);
    });
  });

  describe('GET /classes/{id}/journal', () => {
    test('teacher of the subject: students, lessons, cells, averages', T, async () => {
      const res = await t0.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${math.id}&term_id=${q1}`);
      const j = assertJson(res, 200);
      assert.equal(j.students.length, 2);
      assert.equal(j.lessons.length, 4); // Mon, Wed, Sat (cancelled), next Monday
      const cell = j.cells[`${L.monMath}:${st0.id}`];
      assert.equal(cell.marks[0].value, 5);
      assert.equal(cell.attendance, 'late');
      assert.equal(j.checkpoint_marks.length, 1);
      assert.equal(j.averages[String(st0.id)].average, 3.83);
      assert.equal(j.averages[String(st2.id)].average, null);
      const again = await t0.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${math.id}&term_id=${q1}`, {
        'if-none-match': res.headers.etag,
      });
      assert.equal(again.status, 304);
    });

    test('access and input errors', T, async () => {
      // t1 teaches Russian, but is the class teacher (set above): may read
      assertJson(await t1.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${math.id}&term_id=${q1}`), 200);
      assertProblem(await st0.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${math.id}`), 403);
      assertProblem(await par0.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${math.id}`), 403);
      assertProblem(await t0.api.get(`/api/v1/classes/${cls.id}/journal`), 422);
      assertProblem(await t0.api.get(`/api/v1/classes/999999/journal?subject_id=${math.id}`), 404);
      assertJson(await admin.api.get(`/api/v1/classes/${cls.id}/journal?subject_id=${rus.id}&term_id=${q1}`), 200);
    });
  });

  describe('GET /me/lessons', () => {
    test("a teacher's lessons of a day with class name and filled flags", T, async () => {
      const d = assertJson(await t0.api.get(`/api/v1/me/lessons?date=${iso(mon)}`), 200);
      assert.equal(d.items.length, 1);
      assert.equal(d.items[0].class, '5А');
      assert.equal(d.items[0].subject, 'Математика');
      assert.equal(d.items[0].topic_filled, true);
      assert.equal(d.items[0].homework_filled, true);
      const none = assertJson(await t0.api.get(`/api/v1/me/lessons?date=${iso(plus(mon, 1))}`), 200);
      assert.equal(none.items.length, 0);
      assertProblem(await t0.api.get(`/api/v1/me/lessons?date=tomorrow`), 422);
      const res = await t0.api.get(`/api/v1/me/lessons`);
      assert.equal(res.status, 200);
    });
  });
});
