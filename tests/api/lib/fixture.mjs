// Reusable builders for API tests: a running server with a bootstrap
// sysadmin, and a whole school set up through the public API.
//
//   import { startSchoolServer, createSchool, client } from './lib/fixture.mjs';
//   const srv = await startSchoolServer();           // startServer + DNEVNIK_BOOTSTRAP_ADMIN
//   const s = await createSchool(srv, { teachers: 2, students: 3, parents: 1, classes: ['5А', '5Б'],
//                                       subjects: ['Математика', 'Русский язык'] });
//
// createSchool returns (every user has {id, login, password, token, api}):
//   {
//     url,                        server base URL
//     sysadmin,                   the bootstrap sysadmin
//     regionId, schoolId, school, school = {id, region_id, name, term_kind}
//     admin,                      school admin of schoolId
//     teachers: [user],           role teacher
//     students: [user],           role student; students[i] is enrolled in classes[i % classes.length]
//     parents:  [user],           role parent;  parents[i] is linked to students[i]
//     classes:  [{id, name, grade, letter, start_year, students: [studentIndex...]}],
//     subjects: [{id, name}],
//     assignments: [{id, teacher_id, class_id, subject_id}]
//                                 teacher (i % teachers) teaches subject i to every class
//                                 (one assignment per class × subject)
//     year,                       current academic year_start
//     termsPut,                   terms of `year` created (4 quarters spanning the year)
//   }
// Timetable helpers (after createSchool):
//   await createTimetable(s, { classIndex: 0, from: 'YYYY-MM-DD', to: 'YYYY-MM-DD', slots })
//     PUT /classes/{id}/timetable; default slots: one per assignment of the class, weekday 1..5
//     round-robin, lesson_no 1 + (i / 5 | 0). Returns the PUT body {slots, lessons:{created,...}}.
//   await weekLessons(s, classId, date) → the dated lessons of date's week (GET .../timetable?date=).
// `api` on a user is client(url, token): {get, post, put, patch, del, raw}(path, body?) → {status, headers, text, json()}.
// Options: teachers (default 2), students (2), parents (1), classes (['5А']), subjects (['Математика']),
// terms (true: PUT quarters for the current year), name (school name), region (region name).
import { request, startServer } from './server.mjs';

export const SYSADMIN_LOGIN = 'root';
export const SYSADMIN_PASSWORD = 'root-password-1';

/** Start a server whose first user is the sysadmin SYSADMIN_LOGIN. Same opts as startServer. */
export function startSchoolServer(opts = {}) {
  return startServer({
    ...opts,
    env: { DNEVNIK_BOOTSTRAP_ADMIN: `${SYSADMIN_LOGIN}:${SYSADMIN_PASSWORD}`, ...(opts.env ?? {}) },
  });
}

/** HTTP helpers bound to a base URL and a bearer token (token may be null). */
export function client(url, token) {
  const call = (method, path, body, headers = {}) =>
    request(`${url}${path}`, {
      method,
      body,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
  return {
    token,
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (path, body, headers) => call('POST', path, body, headers),
    put: (path, body, headers) => call('PUT', path, body, headers),
    patch: (path, body, headers) => call('PATCH', path, body, headers),
    del: (path, headers) => call('DELETE', path, undefined, headers),
    raw: call,
  };
}

function ok(res, status, what) {
  if (res.status !== status) {
    throw new Error(`fixture: ${what}: expected ${status}, got ${res.status}: ${res.text.slice(0, 500)}`);
  }
  return res.text ? res.json() : null;
}

/** POST /api/v1/auth/login → access token. */
export async function login(url, loginName, password) {
  const res = await request(`${url}/api/v1/auth/login`, { method: 'POST', body: { login: loginName, password } });
  const body = ok(res, 200, `login ${loginName}`);
  return body.access_token;
}

/** Sign in and return {id, login, password, token, api}. */
export async function signIn(url, loginName, password, id = null) {
  const token = await login(url, loginName, password);
  return { id, login: loginName, password, token, api: client(url, token) };
}

export function currentAcademicYear(d = new Date()) {
  return d.getUTCMonth() + 1 >= 9 ? d.getUTCFullYear() : d.getUTCFullYear() - 1;
}

/** Four quarters covering the academic year `year` (1 Sep .. 31 May). */
export function quarters(year) {
  return [
    { number: 1, starts_on: `${year}-09-01`, ends_on: `${year}-10-26` },
    { number: 2, starts_on: `${year}-11-05`, ends_on: `${year}-12-28` },
    { number: 3, starts_on: `${year + 1}-01-09`, ends_on: `${year + 1}-03-22` },
    { number: 4, starts_on: `${year + 1}-04-01`, ends_on: `${year + 1}-05-31` },
  ];
}

let seq = 0;
const uniq = () => `${process.pid % 10000}${++seq}${Math.floor(Math.random() * 1000)}`;

/** Create a user in a school through the admin API and sign in. roles: ['teacher'|...]. */
export async function createUser(url, adminApi, schoolId, roles, names = {}) {
  const role = roles[0];
  const loginName = names.login ?? `${role}${uniq()}`;
  const res = await adminApi.post(`/api/v1/schools/${schoolId}/users`, {
    login: loginName,
    last_name: names.last_name ?? `Фамилия${uniq()}`,
    first_name: names.first_name ?? 'Имя',
    middle_name: names.middle_name ?? '',
    roles,
  });
  const u = ok(res, 201, `create ${role}`);
  const signed = await signIn(url, u.login, u.initial_password, u.id);
  return { ...signed, last_name: u.last_name, first_name: u.first_name };
}

export async function createSchool(srv, opts = {}) {
  const url = srv.url ?? srv;
  const {
    teachers: nTeachers = 2,
    students: nStudents = 2,
    parents: nParents = 1,
    classes: classNames = ['5А'],
    subjects: subjectNames = ['Математика'],
    terms = true,
  } = opts;
  const sysadmin = await signIn(url, SYSADMIN_LOGIN, SYSADMIN_PASSWORD);
  const me = await sysadmin.api.get('/api/v1/me');
  if (me.status === 200) sysadmin.id = me.json().id;
  const region = ok(
    await sysadmin.api.post('/api/v1/regions', { name: opts.region ?? `Регион ${uniq()}` }),
    201,
    'create region',
  );
  const school = ok(
    await sysadmin.api.post('/api/v1/schools', {
      region_id: region.id,
      name: opts.name ?? `Школа № ${uniq()}`,
      term_kind: opts.term_kind ?? 'quarter',
    }),
    201,
    'create school',
  );
  const adminLogin = `admin${uniq()}`;
  const a = ok(
    await sysadmin.api.post(`/api/v1/schools/${school.id}/admins`, {
      login: adminLogin,
      last_name: 'Админова',
      first_name: 'Анна',
      middle_name: 'Петровна',
    }),
    201,
    'create school admin',
  );
  const admin = await signIn(url, a.login, a.initial_password, a.id);
  const year = currentAcademicYear();
  let termsPut = false;
  if (terms && (opts.term_kind ?? 'quarter') === 'quarter') {
    ok(await admin.api.put(`/api/v1/schools/${school.id}/terms/${year}`, { terms: quarters(year) }), 200, 'terms');
    termsPut = true;
  }
  const subjects = [];
  for (const name of subjectNames) {
    subjects.push(ok(await admin.api.post(`/api/v1/schools/${school.id}/subjects`, { name }), 201, 'subject'));
  }
  const teachers = [];
  for (let i = 0; i < nTeachers; i++) teachers.push(await createUser(url, admin.api, school.id, ['teacher']));
  const classes = [];
  for (const name of classNames) {
    const m = /^(\d+)(.+)$/.exec(name);
    const c = ok(
      await admin.api.post(`/api/v1/schools/${school.id}/classes`, { grade: Number(m[1]), letter: m[2] }),
      201,
      `class ${name}`,
    );
    classes.push({ ...c, students: [] });
  }
  const students = [];
  for (let i = 0; i < nStudents; i++) {
    const s = await createUser(url, admin.api, school.id, ['student']);
    if (classes.length) {
      const c = classes[i % classes.length];
      ok(
        await admin.api.post(`/api/v1/classes/${c.id}/students`, { student_id: s.id, from_date: `${year}-09-01` }),
        201,
        'enrol',
      );
      c.students.push(i);
      s.classId = c.id;
    }
    students.push(s);
  }
  const parents = [];
  for (let i = 0; i < nParents; i++) {
    const p = await createUser(url, admin.api, school.id, ['parent']);
    if (students[i]) {
      ok(await admin.api.post(`/api/v1/parents/${p.id}/children/${students[i].id}`), 201, 'parent link');
      p.childId = students[i].id;
    }
    parents.push(p);
  }
  const assignments = [];
  if (teachers.length) {
    for (const c of classes) {
      for (let i = 0; i < subjects.length; i++) {
        const t = teachers[i % teachers.length];
        assignments.push(
          ok(
            await admin.api.post(`/api/v1/schools/${school.id}/assignments`, {
              teacher_id: t.id,
              class_id: c.id,
              subject_id: subjects[i].id,
            }),
            201,
            'assignment',
          ),
        );
      }
    }
  }
  return {
    url,
    sysadmin,
    regionId: region.id,
    schoolId: school.id,
    school,
    admin,
    teachers,
    students,
    parents,
    classes,
    subjects,
    assignments,
    year,
    termsPut,
  };
}

// ---------------------------------------------------------------- journal (added by the journal area)
// Dated lessons are generated by the timetable area; journal tests insert the
// few lessons they need straight into the server's database (both backends,
// via srv.database.sql) so they do not depend on timetable generation.

/** First integer alone on a line of sqlite3/psql output (null when none). */
export function sqlInt(output) {
  const m = /^\s*(-?\d+)\s*$/m.exec(output);
  return m ? Number(m[1]) : null;
}

/** Run SQL on the server's database; throws on failure; returns the output. */
export function sqlRun(srv, stmt) {
  const r = srv.database.sql(stmt);
  if (!r.ok) throw new Error(`fixture sql failed: ${stmt}\n${r.output}`);
  return r.output;
}

/** Insert a lesson {classId, subjectId, teacherId, date, no?, cancelled?, topic?} → its id. */
export function seedLesson(srv, schoolId, l) {
  const no = l.no ?? 1;
  const esc = (s) => String(s).replace(/'/g, "''");
  sqlRun(
    srv,
    `INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, room, topic, cancelled) ` +
      `VALUES (${schoolId}, ${l.classId}, ${l.subjectId}, ${l.teacherId}, '${l.date}', ${no}, '${esc(l.room ?? '101')}', ` +
      `'${esc(l.topic ?? '')}', ${l.cancelled ? 1 : 0})`,
  );
  const id = sqlInt(
    sqlRun(srv, `SELECT id FROM lessons WHERE class_id = ${l.classId} AND date = '${l.date}' AND lesson_no = ${no}`),
  );
  if (id == null) throw new Error('fixture: lesson id not found');
  return id;
}

/** Id of term `number` of the school's academic year `year`. */
export function termId(srv, schoolId, year, number) {
  const id = sqlInt(
    sqlRun(srv, `SELECT id FROM terms WHERE school_id = ${schoolId} AND year_start = ${year} AND number = ${number}`),
  );
  if (id == null) throw new Error(`fixture: no term ${number} of ${year}`);
  return id;
}

/** Put a timetable template for a class of a createSchool() result (see the top of this file). */
export async function createTimetable(s, { classIndex = 0, from, to, slots } = {}) {
  const cls = s.classes[classIndex];
  const mine = s.assignments.filter((a) => a.class_id === cls.id);
  const body = {
    valid_from: from,
    valid_to: to,
    slots:
      slots ??
      mine.map((a, i) => ({
        weekday: 1 + (i % 5),
        lesson_no: 1 + Math.floor(i / 5) + classIndex * 2,
        subject_id: a.subject_id,
        teacher_id: a.teacher_id,
        room: `${100 + i}`,
        subgroup: a.subgroup,
      })),
  };
  return ok(await s.admin.api.put(`/api/v1/classes/${cls.id}/timetable`, body), 200, 'timetable');
}

/** The dated lessons of the week containing date, as the admin sees them. */
export async function weekLessons(s, classId, date) {
  return ok(await s.admin.api.get(`/api/v1/classes/${classId}/timetable?date=${date}`), 200, 'week').lessons;
}
