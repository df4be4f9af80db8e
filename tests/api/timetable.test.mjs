// Timetable API: PUT a class's template (generates dated lessons, skips
// holidays), GET the week view, one-day changes and extra lessons, with the
// validation (assignment, double booking, duplicates) and access errors.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem } from './lib/server.mjs';
import { client, createSchool, createTimetable, startSchoolServer, weekLessons } from './lib/fixture.mjs';
import { checkedClient, checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };
const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The Monday at least a week from now (all generated lessons are in the future). */
function nextMonday() {
  const d = new Date(Date.now() + 7 * DAY);
  const wd = (d.getUTCDay() + 6) % 7; // 0 = Monday
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - wd * DAY;
}

describe(`timetable [${DB}]`, () => {
  let srv, s, other;
  before(async () => {
    srv = await startSchoolServer();
    s = checkedSchool(await createSchool(srv, {
      teachers: 2,
      students: 2,
      parents: 1,
      classes: ['5А', '5Б'],
      subjects: ['Математика', 'Русский язык'],
    }));
    other = checkedSchool(await createSchool(srv, { teachers: 1, students: 1, parents: 0, classes: ['7В'] }));
  });
  after(async () => {
    await srv?.stop();
  });

  // assignments: teacher0 → Математика in 5А and 5Б, teacher1 → Русский язык in 5А and 5Б
  const slot = (weekday, lesson_no, subjectIdx, teacherIdx, extra = {}) => ({
    weekday,
    lesson_no,
    subject_id: s.subjects[subjectIdx].id,
    teacher_id: s.teachers[teacherIdx].id,
    room: '201',
    ...extra,
  });

  test('PUT template generates lessons, skipping holidays; GET shows the week', T, async () => {
    const mon = nextMonday();
    const holiday = iso(mon + 2 * DAY);
    assertJson(
      await s.admin.api.post(`/api/v1/schools/${s.schoolId}/holidays`, { name: 'День', starts_on: holiday, ends_on: holiday }),
      201,
    );
    const body = {
      valid_from: iso(mon),
      valid_to: iso(mon + 13 * DAY),
      slots: [slot(1, 1, 0, 0), slot(1, 2, 1, 1), slot(3, 1, 0, 0)],
    };
    const put = assertJson(await s.admin.api.put(`/api/v1/classes/${s.classes[0].id}/timetable`, body), 200);
    assert.equal(put.slots.length, 3);
    assert.equal(put.lessons.created, 5, '6 lessons in two weeks minus the holiday Wednesday');
    // the same template again changes nothing but updates in place
    const again = assertJson(await s.admin.api.put(`/api/v1/classes/${s.classes[0].id}/timetable`, body), 200);
    assert.equal(again.lessons.created, 0);
    assert.equal(again.lessons.updated, 5);

    for (const who of [s.admin, s.teachers[0], s.students[0], s.parents[0]]) {
      const week = assertJson(await who.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=${iso(mon)}`), 200);
      assert.equal(week.week_start, iso(mon));
      assert.equal(week.slots.length, 3);
      assert.equal(week.lessons.length, 2, 'Monday ×2; Wednesday is a holiday');
      assert.equal(week.lessons[0].subject_name, 'Математика');
    }
    const week2 = assertJson(
      await s.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=${iso(mon + 9 * DAY)}`),
      200,
    );
    assert.equal(week2.lessons.length, 3);
    // conditional GET: the same week again with its ETag → 304
    const first = await s.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=${iso(mon)}`);
    assert.ok(first.headers.etag, 'an ETag is set');
    const cached = await s.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=${iso(mon)}`, {
      'if-none-match': first.headers.etag,
    });
    assert.equal(cached.status, 304);
    assertProblem(await s.students[1].api.get(`/api/v1/classes/${s.classes[0].id}/timetable`), 403);
    assertProblem(await other.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable`), 403);
    assertProblem(await s.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=2026-13-01`), 422);
    assertProblem(await s.admin.api.get('/api/v1/classes/999999/timetable'), 404);
    assertProblem(await checkedClient(client(srv.url, null)).get(`/api/v1/classes/${s.classes[0].id}/timetable`), 401);
  });

  test('PUT validation: not assigned 422, duplicate slot 422, double booking 409, bad dates 422, 403', T, async () => {
    const mon = nextMonday();
    const period = { valid_from: iso(mon), valid_to: iso(mon + 6 * DAY) };
    const cid = s.classes[1].id;
    const na = assertProblem(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [slot(2, 1, 0, 1)] }),
      422,
    );
    assert.equal(na.errors[0].field, 'slots[0].teacher_id');
    const dup = assertProblem(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [slot(2, 1, 0, 0), slot(2, 1, 1, 1)] }),
      422,
    );
    assert.equal(dup.errors[0].field, 'slots[1]');
    // teacher0 teaches 5А on Monday lesson 1 (previous test): the same time in 5Б is a conflict
    const busy = assertProblem(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [slot(1, 1, 0, 0)] }),
      409,
    );
    assert.equal(busy.errors[0].field, 'slots[0].teacher_id');
    assert.match(busy.errors[0].message, /5А/);
    const dates = assertProblem(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { valid_from: iso(mon), valid_to: 'soon', slots: [] }),
      422,
    );
    assert.equal(dates.errors[0].field, 'valid_to');
    const wd = assertProblem(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [slot(9, 1, 0, 0)] }),
      422,
    );
    assert.equal(wd.errors[0].field, 'slots[0].weekday');
    assertProblem(await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, '{"broken"'), 400);
    assertProblem(await s.teachers[0].api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [] }), 403);
    assertProblem(await other.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [] }), 403);
    // nothing was written by the failed attempts
    const week = assertJson(await s.admin.api.get(`/api/v1/classes/${cid}/timetable?date=${iso(mon)}`), 200);
    assert.equal(week.lessons.length, 0);
    // a free slot works
    const okPut = assertJson(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, { ...period, slots: [slot(2, 1, 0, 0)] }),
      200,
    );
    assert.equal(okPut.lessons.created, 1);
  });

  test('one-day changes: substitution, room, cancel; errors', T, async () => {
    const mon = nextMonday();
    const week = assertJson(await s.admin.api.get(`/api/v1/classes/${s.classes[0].id}/timetable?date=${iso(mon)}`), 200);
    const lesson = week.lessons[0];
    const sub = assertJson(
      await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'substitution', teacher_id: s.teachers[1].id }),
      200,
    );
    assert.equal(sub.teacher_id, s.teachers[1].id);
    assert.equal(sub.change, 'substitution');
    const room = assertJson(await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'room', room: '305' }), 200);
    assert.equal(room.room, '305');
    const cancel = assertJson(await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'cancel' }), 200);
    assert.equal(cancel.cancelled, true);
    const badKind = assertProblem(await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'move' }), 422);
    assert.equal(badKind.errors[0].field, 'kind');
    assertProblem(
      await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'substitution', teacher_id: s.students[0].id }),
      422,
    );
    assertProblem(await s.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'room', room: '' }), 422);
    assertProblem(await s.teachers[0].api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'cancel' }), 403);
    assertProblem(await other.admin.api.post(`/api/v1/lessons/${lesson.id}/change`, { kind: 'cancel' }), 403);
    assertProblem(await s.admin.api.post('/api/v1/lessons/999999/change', { kind: 'cancel' }), 404);
  });

  test('fixture helpers createTimetable/weekLessons (past dates generate too)', T, async () => {
    const mon = nextMonday() - 21 * DAY;
    const r = await createTimetable(other, { from: iso(mon), to: iso(mon + 6 * DAY) });
    assert.equal(r.lessons.created, other.assignments.length);
    const lessons = await weekLessons(other, other.classes[0].id, iso(mon));
    assert.equal(lessons.length, other.assignments.length);
    assert.equal(lessons[0].teacher_id, other.teachers[0].id);
  });

  test('extra lessons: created, slot taken 409, not assigned 422, 403', T, async () => {
    const mon = nextMonday();
    const cid = s.classes[0].id;
    const body = { date: iso(mon + 4 * DAY), lesson_no: 6, subject_id: s.subjects[0].id, teacher_id: s.teachers[0].id };
    const x = assertJson(await s.admin.api.post(`/api/v1/classes/${cid}/extra-lessons`, body), 201);
    assert.equal(x.change, 'extra');
    assert.equal(x.date, body.date);
    assertProblem(await s.admin.api.post(`/api/v1/classes/${cid}/extra-lessons`, body), 409);
    assertProblem(
      await s.admin.api.post(`/api/v1/classes/${cid}/extra-lessons`, { ...body, lesson_no: 7, teacher_id: s.teachers[1].id }),
      422,
    );
    assertProblem(await s.admin.api.post(`/api/v1/classes/${cid}/extra-lessons`, { ...body, date: 'friday' }), 422);
    assertProblem(await s.admin.api.post(`/api/v1/classes/${cid}/extra-lessons`, { date: body.date }), 422);
    assertProblem(await s.teachers[0].api.post(`/api/v1/classes/${cid}/extra-lessons`, body), 403);
    // regenerating the template keeps the extra lesson
    const put = assertJson(
      await s.admin.api.put(`/api/v1/classes/${cid}/timetable`, {
        valid_from: iso(mon),
        valid_to: iso(mon + 6 * DAY),
        slots: [],
      }),
      200,
    );
    assert.ok(put.lessons.kept >= 1);
    const week = assertJson(await s.admin.api.get(`/api/v1/classes/${cid}/timetable?date=${iso(mon)}`), 200);
    assert.ok(week.lessons.some((l) => l.id === x.id));
  });
});
