// The read path of issue 6: (1) the hot-read cache never serves a value a
// write has changed - the next read after a terms change, a student's
// transfer, a timetable change or a class rename sees it; (2) response
// compression of the everyday pages: brotli / gzip bodies decode to the same
// JSON, small bodies and clients that do not ask stay identity, every answer
// varies on Accept-Encoding, and a 304 still works per representation.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { DB, assertJson } from './lib/server.mjs';
import { createSchool, seedLesson, startSchoolServer } from './lib/fixture.mjs';

const T = { timeout: 60000 };
const iso = (d) => d.toISOString().slice(0, 10);
const plus = (d, n) => new Date(d.getTime() + n * 86400000);
/** Monday of the week after `d` (UTC). */
function nextMonday(d = new Date()) {
  let m = plus(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())), 1);
  while (m.getUTCDay() !== 1) m = plus(m, 1);
  return m;
}

/** GET with raw bytes back (the shared helper decodes bodies as UTF-8). */
function getRaw(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error('timeout')));
  });
}

describe(`hot-read cache: the next read sees the write [${DB}]`, () => {
  let srv, s, admin, st, teacher, a, b, math, year, mon;

  before(async () => {
    srv = await startSchoolServer();
    s = await createSchool(srv, { teachers: 1, students: 2, parents: 0, classes: ['5А', '5Б'] });
    admin = s.admin.api;
    teacher = s.teachers[0];
    st = s.students[0]; // in 5А
    [a, b] = s.classes;
    [math] = s.subjects;
    year = s.year;
    mon = nextMonday();
  });
  after(async () => srv?.stop());

  test('a terms change is seen by the next marks page (the current term is cached)', T, async () => {
    // a quarter school keeps exactly 4 terms (ids stay, dates move): today falls into term 4 here ...
    const late = [
      { number: 1, starts_on: `${year}-08-01`, ends_on: `${year}-08-02` },
      { number: 2, starts_on: `${year}-08-03`, ends_on: `${year}-08-04` },
      { number: 3, starts_on: `${year}-08-05`, ends_on: `${year}-08-06` },
      { number: 4, starts_on: `${year}-08-07`, ends_on: `${year + 1}-08-31` },
    ];
    assertJson(await admin.put(`/api/v1/schools/${s.schoolId}/terms/${year}`, { terms: late }), 200);
    const first = assertJson(await st.api.get(`/api/v1/students/${st.id}/marks`), 200);
    assert.equal(first.term.number, 4);
    const again = assertJson(await st.api.get(`/api/v1/students/${st.id}/marks`), 200); // from the cache
    assert.equal(again.term.id, first.term.id);
    // ... and into term 1 after this PUT (but for 28-31 August): a stale cached id would still say 4
    const early = [
      { number: 1, starts_on: `${year}-08-01`, ends_on: `${year + 1}-08-27` },
      { number: 2, starts_on: `${year + 1}-08-28`, ends_on: `${year + 1}-08-28` },
      { number: 3, starts_on: `${year + 1}-08-29`, ends_on: `${year + 1}-08-29` },
      { number: 4, starts_on: `${year + 1}-08-30`, ends_on: `${year + 1}-08-31` },
    ];
    assertJson(await admin.put(`/api/v1/schools/${s.schoolId}/terms/${year}`, { terms: early }), 200);
    const now = assertJson(await st.api.get(`/api/v1/students/${st.id}/marks`), 200);
    const inLastDays = iso(new Date()) >= `${year + 1}-08-28`;
    assert.equal(now.term.number, inLastDays ? 4 : 1);
    assert.equal(now.term.ends_on, inLastDays ? `${year + 1}-08-31` : `${year + 1}-08-27`);
    // the class journal takes the same cached current term
    const j = assertJson(await teacher.api.get(`/api/v1/classes/${a.id}/journal?subject_id=${math.id}`), 200);
    assert.equal(j.term.id, now.term.id);
  });

  test('closing a term is seen by the next marks page (the term row is cached)', T, async () => {
    const t1 = assertJson(await st.api.get(`/api/v1/students/${st.id}/marks`), 200).term;
    assert.equal(t1.closed, false);
    assertJson(await st.api.get(`/api/v1/students/${st.id}/marks?term_id=${t1.id}`), 200); // cached now
    assertJson(await admin.post(`/api/v1/terms/${t1.id}/close`), 200);
    assert.equal(assertJson(await st.api.get(`/api/v1/students/${st.id}/marks?term_id=${t1.id}`), 200).term.closed, true);
    assertJson(await admin.post(`/api/v1/terms/${t1.id}/reopen`), 200);
    assert.equal(assertJson(await st.api.get(`/api/v1/students/${st.id}/marks?term_id=${t1.id}`), 200).term.closed, false);
  });

  test('a transferred student: the next week page shows the new class', T, async () => {
    const day = iso(mon);
    seedLesson(srv, s.schoolId, { classId: a.id, subjectId: math.id, teacherId: teacher.id, date: day, no: 1, topic: 'в 5А' });
    seedLesson(srv, s.schoolId, { classId: b.id, subjectId: math.id, teacherId: teacher.id, date: day, no: 2, topic: 'в 5Б' });
    const w1 = assertJson(await st.api.get(`/api/v1/students/${st.id}/week?date=${day}`), 200);
    assert.deepEqual(w1.days[0].lessons.map((l) => l.topic), ['в 5А']);
    assertJson(await admin.post(`/api/v1/classes/${b.id}/students`, { student_id: st.id, from_date: day }), 201);
    const w2 = assertJson(await st.api.get(`/api/v1/students/${st.id}/week?date=${day}`), 200);
    assert.deepEqual(w2.days[0].lessons.map((l) => l.topic), ['в 5Б']);
  });

  test('a timetable change: the next week page shows the new lessons', T, async () => {
    const tue = iso(plus(mon, 8)); // Tuesday of the week after: no lessons yet
    const other = s.students[1]; // createSchool put student 1 into the second class
    const w1 = assertJson(await other.api.get(`/api/v1/students/${other.id}/week?date=${tue}`), 200);
    assert.equal(w1.days[1].lessons.length, 0);
    const cls = s.classes.find((c) => c.students.includes(1));
    const asg = s.assignments.find((x) => x.class_id === cls.id);
    assertJson(
      await admin.put(`/api/v1/classes/${cls.id}/timetable`, {
        valid_from: iso(plus(mon, 7)),
        valid_to: iso(plus(mon, 13)),
        slots: [{ weekday: 2, lesson_no: 3, subject_id: asg.subject_id, teacher_id: asg.teacher_id, room: '7' }],
      }),
      200,
    );
    const w2 = assertJson(await other.api.get(`/api/v1/students/${other.id}/week?date=${tue}`), 200);
    assert.deepEqual(w2.days[1].lessons.map((l) => [l.lesson_no, l.room]), [[3, '7']]);
  });

  test('a class rename: the next lessons page shows the new name', T, async () => {
    const today = iso(new Date());
    seedLesson(srv, s.schoolId, { classId: b.id, subjectId: math.id, teacherId: teacher.id, date: today, no: 7 });
    const d1 = assertJson(await teacher.api.get(`/api/v1/me/lessons?date=${today}`), 200);
    const item = d1.items.find((i) => i.class_id === b.id);
    assert.match(item.class, /Б$/);
    assertJson(await admin.patch(`/api/v1/classes/${b.id}`, { letter: 'В' }), 200);
    const d2 = assertJson(await teacher.api.get(`/api/v1/me/lessons?date=${today}`), 200);
    assert.match(d2.items.find((i) => i.class_id === b.id).class, /В$/);
  });
});

describe(`compression of the everyday pages [${DB}]`, () => {
  let srv, s, st, url, day;

  before(async () => {
    srv = await startSchoolServer();
    s = await createSchool(srv, { teachers: 1, students: 1, parents: 0 });
    st = s.students[0];
    day = nextMonday();
    // a week big enough to compress (> 1400 bytes)
    for (let i = 0; i < 12; i++) {
      seedLesson(srv, s.schoolId, {
        classId: s.classes[0].id, subjectId: s.subjects[0].id, teacherId: s.teachers[0].id,
        date: iso(plus(day, i % 6)), no: 1 + Math.floor(i / 6), topic: `Тема урока номер ${i}: дроби и проценты`,
      });
    }
    url = `${srv.url}/api/v1/students/${st.id}/week?date=${iso(day)}`;
  });
  after(async () => srv?.stop());

  const auth = () => ({ authorization: `Bearer ${st.api.token}` });

  test('identity without Accept-Encoding; br and gzip decode to the same JSON', T, async () => {
    const plain = await getRaw(url, auth());
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'accept-encoding');
    assert.ok(plain.body.length > 1400, `the week is ${plain.body.length} bytes`);
    const want = JSON.parse(plain.body.toString('utf8'));
    assert.equal(want.days.reduce((n, d) => n + d.lessons.length, 0), 12);

    const gz = await getRaw(url, { ...auth(), 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'accept-encoding');
    assert.ok(gz.body.length < plain.body.length / 2, `gzip ${gz.body.length} vs ${plain.body.length}`);
    assert.deepEqual(JSON.parse(zlib.gunzipSync(gz.body).toString('utf8')), want);

    const br = await getRaw(url, { ...auth(), 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(JSON.parse(zlib.brotliDecompressSync(br.body).toString('utf8')), want);

    // three representations, three validators
    assert.notEqual(gz.headers.etag, plain.headers.etag);
    assert.notEqual(br.headers.etag, gz.headers.etag);
    // q=0 refuses a coding
    const refused = await getRaw(url, { ...auth(), 'accept-encoding': 'br;q=0, gzip;q=0' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(refused.body.toString('utf8')), want);
  });

  test('small responses are not compressed', T, async () => {
    const r = await getRaw(`${srv.url}/api/v1/me/lessons?date=2000-01-03`, {
      authorization: `Bearer ${s.teachers[0].api.token}`,
      'accept-encoding': 'gzip, br',
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(r.body.toString('utf8')).items, []);
  });

  test('304 per representation, with no body and no Content-Encoding', T, async () => {
    const gz = await getRaw(url, { ...auth(), 'accept-encoding': 'gzip' });
    const nm = await getRaw(url, { ...auth(), 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag });
    assert.equal(nm.status, 304);
    assert.equal(nm.body.length, 0);
    assert.equal(nm.headers['content-encoding'], undefined);
    assert.equal(nm.headers.etag, gz.headers.etag);
    // the gzip tag does not validate the identity representation
    const plain = await getRaw(url, { ...auth(), 'if-none-match': gz.headers.etag });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    const nm2 = await getRaw(url, { ...auth(), 'if-none-match': plain.headers.etag });
    assert.equal(nm2.status, 304);
  });
});
