// Access matrix: EVERY route of the API (every route registered in
// src/api/*.c except /api/v1/debug/*) called as EVERY kind of actor, each
// cell checked against the rules of src/domain/access.h.
//
// One fixture per run, built through the API: school A (classes 5А and 5Б,
// subjects Математика and Русский язык, quarters, a timetable, a checkpoint,
// a work by the student, a mark) and school B (a class, a student).
//
// Actors (columns):
//   anon  no token                         stu   the student S (5А)
//   mate  another student of 5А            xstu  a student of school B
//   par   the parent of S                  xpar  a parent of A whose child is another 5А student
//   tch   the teacher of 5А × Математика   xtch  a teacher of A (Математика in 5Б only)
//   ctch  the class teacher of 5А (teaches Русский язык in 5А, not Математика)
//   adm   the admin of A                   xadm  the admin of B
//   sys   the system admin
// Cells: "ok" = allowed: the exact status of the row's `status` (requests are
// designed so an allowed call succeeds with 2xx); "--" = denied: 401 for
// anon, 403 for everyone else. No cell of this matrix expects a 404 as a
// denial: the server answers 403 whenever the target exists (it only hides
// nothing here; 404 is reserved for ids that do not exist).
//
// Writes never depend on the order of cells: every write cell gets its own
// fresh resource (lesson + mark, checkpoint, holiday, subject, assignment,
// invite code, refresh token) or its precondition is re-established before
// the call (term open/closed, parent link present/absent), so a cell measures
// allow/deny only. Denied writes on marks are also checked to have changed
// nothing. The route list is cross-checked against the code and against
// docs/openapi.yaml: a route missing from the matrix fails the run.
// The server runs with DNEVNIK_RATE_LIMIT=0: ~1000 calls from one address
// in a few seconds would otherwise measure the rate limiter, not access.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DB, ROOT, request } from './lib/server.mjs';
import {
  SYSADMIN_LOGIN,
  SYSADMIN_PASSWORD,
  client,
  createSchool,
  createUser,
  quarters,
  startSchoolServer,
} from './lib/fixture.mjs';

const ACTORS = ['anon', 'stu', 'mate', 'xstu', 'par', 'xpar', 'tch', 'xtch', 'ctch', 'adm', 'xadm', 'sys'];

// prettier-ignore
const MATRIX = `
| route                                                              | anon | stu | mate | xstu | par | xpar | tch | xtch | ctch | adm | xadm | sys | rule / note
|--------------------------------------------------------------------|------|-----|------|------|-----|------|-----|------|------|-----|------|-----|------------------------------------------
| GET /healthz                                                       |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public (probe)
| GET /readyz                                                        |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public (probe)
| GET /metrics                                                       |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public (scraped inside the cluster)
| GET /api/v1/ping                                                   |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public (benchmark)
| POST /api/v1/auth/login                                            |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public; each actor signs in with own password (anon: S's)
| POST /api/v1/auth/refresh                                          |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public; the refresh token is the credential
| POST /api/v1/auth/logout                                           |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public; the refresh token is the credential
| GET /api/v1/me                                                     |  --  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | any signed-in user
| POST /api/v1/regions                                               |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  ok | SYSADMIN
| GET /api/v1/regions                                                |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  ok | SYSADMIN
| POST /api/v1/schools                                               |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  ok | SYSADMIN
| GET /api/v1/schools                                                |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  ok | SYSADMIN
| GET /api/v1/schools/{school_id}                                    |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL: any role in A
| POST /api/v1/schools/{school_id}/admins                            |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  ok | SYSADMIN (a school admin cannot mint admins)
| PUT /api/v1/schools/{school_id}/terms/{year_start}                 |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/terms                              |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL
| POST /api/v1/schools/{school_id}/holidays                          |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/holidays                           |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL
| DELETE /api/v1/schools/{school_id}/holidays/{holiday_id}           |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| POST /api/v1/schools/{school_id}/subjects                          |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/subjects                           |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL
| PATCH /api/v1/subjects/{subject_id}                                |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of the subject's school
| DELETE /api/v1/subjects/{subject_id}                               |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of the subject's school
| POST /api/v1/schools/{school_id}/classes                           |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/classes                            |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL
| GET /api/v1/classes/{class_id}                                     |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_CLASS: members, parents of members, its teachers, class teacher
| PATCH /api/v1/classes/{class_id}                                   |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/classes/{class_id}/students                            |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_CLASS
| POST /api/v1/classes/{class_id}/students                           |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/students/{student_id}/history                          |  --  |  ok |  --  |  --  |  ok |  --  |  -- |  --  |  ok  |  ok |  --  |  ok | READ_STUDENT: self, own parent, class teacher (not a subject teacher)
| POST /api/v1/schools/{school_id}/users                             |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/users                              |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL (people's data)
| PATCH /api/v1/users/{user_id}                                      |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of a school of the user
| POST /api/v1/users/{user_id}/reset-password                        |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of a school of the user
| GET /api/v1/users/{user_id}/personal-data                          |  --  |  ok |  --  |  --  |  ok |  --  |  -- |  --  |  --  |  ok |  --  |  ok | EXPORT_PERSON of S: self, own parent, admin of S's school (never a teacher)
| POST /api/v1/users/{user_id}/anonymise                             |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ANONYMISE_PERSON of a fresh student: admin of every school of theirs, sysadmin
| POST /api/v1/parents/{parent_id}/children/{student_id}             |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of the student's school
| DELETE /api/v1/parents/{parent_id}/children/{student_id}           |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL of the student's school
| POST /api/v1/schools/{school_id}/assignments                       |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/schools/{school_id}/assignments                        |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  --  |  ok | READ_SCHOOL
| DELETE /api/v1/assignments/{assignment_id}                         |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| POST /api/v1/schools/{school_id}/import                            |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL (dry run)
| POST /api/v1/invites/accept                                        |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | public; the one-time invite code is the credential
| PUT /api/v1/classes/{class_id}/timetable                           |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/classes/{class_id}/timetable                           |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_CLASS
| POST /api/v1/lessons/{lesson_id}/change                            |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| POST /api/v1/classes/{class_id}/extra-lessons                      |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/lessons/{lesson_id}                                    |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_JOURNAL (all cells) or READ_CLASS (the lesson only)
| PATCH /api/v1/lessons/{lesson_id}                                  |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL: own class AND subject only
| POST /api/v1/lessons/{lesson_id}/marks                             |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| PUT /api/v1/lessons/{lesson_id}/marks                              |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| PUT /api/v1/lessons/{lesson_id}/attendance                         |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| PATCH /api/v1/marks/{mark_id}                                      |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL (a student never changes a mark)
| DELETE /api/v1/marks/{mark_id}                                     |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| POST /api/v1/checkpoints/{checkpoint_id}/marks                     |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| PUT /api/v1/classes/{class_id}/subjects/{subject_id}/term-marks    |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| GET /api/v1/classes/{class_id}/subjects/{subject_id}/term-marks    |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_JOURNAL (the whole class: not for students/parents)
| POST /api/v1/terms/{term_id}/close                                 |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| POST /api/v1/terms/{term_id}/reopen                                |  --  |  -- |  --  |  --  |  -- |  --  |  -- |  --  |  --  |  ok |  --  |  ok | ADMIN_SCHOOL
| GET /api/v1/audit                                                  |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL of the cell's class+subject
| POST /api/v1/classes/{class_id}/subjects/{subject_id}/checkpoints  |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| GET /api/v1/classes/{class_id}/checkpoints                         |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_CLASS
| GET /api/v1/checkpoints/{checkpoint_id}                            |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_CLASS
| PATCH /api/v1/checkpoints/{checkpoint_id}                          |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| DELETE /api/v1/checkpoints/{checkpoint_id}                         |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL
| GET /api/v1/students/{student_id}/week                             |  --  |  ok |  --  |  --  |  ok |  --  |  -- |  --  |  ok  |  ok |  --  |  ok | READ_STUDENT
| GET /api/v1/students/{student_id}/marks                            |  --  |  ok |  --  |  --  |  ok |  --  |  -- |  --  |  ok  |  ok |  --  |  ok | READ_STUDENT (a parent sees only their own children)
| GET /api/v1/classes/{class_id}/journal                             |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_JOURNAL
| GET /api/v1/me/lessons                                             |  --  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | any signed-in user: their own lessons only
| POST /api/v1/checkpoints/{checkpoint_id}/works                     |  --  |  ok |  ok  |  --  |  -- |  --  |  -- |  --  |  --  |  -- |  --  |  -- | SUBMIT_WORK: only a student of the class, for themself (no admin hands in work)
| GET /api/v1/checkpoints/{checkpoint_id}/works                      |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_JOURNAL
| GET /api/v1/works/{work_id}                                        |  --  |  ok |  --  |  --  |  ok |  --  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_STUDENT of the owner or READ_JOURNAL
| POST /api/v1/works/{work_id}/comments                              |  --  |  ok |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | the owner (SUBMIT_WORK) or WRITE_JOURNAL
| POST /api/v1/works/{work_id}/mark                                  |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL (a student never marks)
| POST /api/v1/files                                                 |  --  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | any signed-in user uploads into their own files (students: a daily quota)
| GET /api/v1/files/{file_id}                                        |  --  |  ok |  --  |  --  |  ok |  --  |  ok |  --  |  ok  |  ok |  --  |  ok | a file of S's work: the uploader, READ_STUDENT of S or READ_JOURNAL of the work
| GET /api/v1/files/{file_id}/meta                                   |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | a file attached to a 5А lesson: the uploader or READ_CLASS of 5А
| POST /api/v1/lessons/{lesson_id}/attachments                       |  --  |  -- |  --  |  --  |  -- |  --  |  ok |  --  |  --  |  ok |  --  |  ok | WRITE_JOURNAL of the lesson's class+subject (and the caller's own file)
| GET /api/v1/lessons/{lesson_id}/attachments                        |  --  |  ok |  ok  |  --  |  ok |  ok  |  ok |  --  |  ok  |  ok |  --  |  ok | READ_JOURNAL or READ_CLASS of the lesson's class
| POST /api/v1/auth/password                                         |  --  |  ok |  ok  |  ok  |  ok |  ok  |  ok |  ok  |  ok  |  ok |  ok  |  ok | any signed-in user, own password (last: it rotates the session)
`;

/** Parse the table above: [{method, path, expect: {actor: 'ok'|'--'}, note}]. */
function parseMatrix(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('|') || line.startsWith('|-') || line.includes(' route ')) continue;
    const cells = line.split('|').slice(1).map((c) => c.trim());
    const [method, p] = cells[0].split(/\s+/);
    const expect = {};
    ACTORS.forEach((a, i) => {
      const v = cells[1 + i];
      assert.ok(v === 'ok' || v === '--', `matrix cell ${cells[0]} / ${a}: '${v}' (use ok or --)`);
      expect[a] = v;
    });
    rows.push({ method, path: p, key: `${method} ${p}`, expect, note: cells[1 + ACTORS.length] ?? '' });
  }
  return rows;
}

const ROWS = parseMatrix(MATRIX);

// ------------------------------------------------------------ route lists

/** Routes registered in src/api/*.c (route tables), minus /api/v1/debug/*. */
function routesInCode() {
  const dir = path.join(ROOT, 'src', 'api');
  const out = new Set();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.c'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/\{\s*DN_(GET|POST|PUT|PATCH|DELETE)\s*,\s*"([^"]+)"/g)) {
      if (!m[2].startsWith('/api/v1/debug/')) out.add(`${m[1]} ${m[2]}`);
    }
  }
  return out;
}

/** Operations of docs/openapi.yaml, minus /api/v1/debug/*. */
function routesInSpec() {
  const spec = parseYaml(readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8'));
  const out = new Set();
  for (const [p, item] of Object.entries(spec.paths ?? {})) {
    if (p.startsWith('/api/v1/debug/')) continue;
    for (const m of ['get', 'post', 'put', 'patch', 'delete']) if (item[m]) out.add(`${m.toUpperCase()} ${p}`);
  }
  return out;
}

// ------------------------------------------------------------ dates

const iso = (d) => d.toISOString().slice(0, 10);
function addDays(s, n) {
  const d = new Date(`${s}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return iso(d);
}
/** The first Monday on or after s. */
function monday(s) {
  let d = s;
  while (new Date(`${d}T00:00:00Z`).getUTCDay() !== 1) d = addDays(d, 1);
  return d;
}

// ------------------------------------------------------------ fixture

function must(res, status, what) {
  if (res.status !== status) throw new Error(`fixture: ${what}: expected ${status}, got ${res.status}: ${res.text.slice(0, 400)}`);
  return res.text ? res.json() : null;
}

let seq = 0;
const uniq = () => `${Date.now() % 100000}${++seq}`;

/** Build both schools and every shared resource; returns the context the rows use. */
async function buildFixture(srv) {
  const A = await createSchool(srv, {
    teachers: 0,
    students: 3,
    parents: 3,
    classes: ['5А', '5Б'],
    subjects: ['Математика', 'Русский язык'],
  });
  const B = await createSchool(srv, { teachers: 0, students: 1, parents: 0, classes: ['5А'], subjects: ['Математика'] });
  const url = A.url;
  const admin = A.admin.api;
  const [c5a, c5b] = A.classes;
  const [math, rus] = A.subjects;
  const year = A.year;

  const tch = await createUser(url, admin, A.schoolId, ['teacher']);
  const xtch = await createUser(url, admin, A.schoolId, ['teacher']);
  const ctch = await createUser(url, admin, A.schoolId, ['teacher']);
  const assign = (t, c, s) =>
    admin.post(`/api/v1/schools/${A.schoolId}/assignments`, { teacher_id: t.id, class_id: c.id, subject_id: s.id });
  must(await assign(tch, c5a, math), 201, 'assign tch');
  must(await assign(xtch, c5b, math), 201, 'assign xtch');
  must(await assign(ctch, c5a, rus), 201, 'assign ctch');
  must(await admin.patch(`/api/v1/classes/${c5a.id}`, { class_teacher_id: ctch.id }), 200, 'class teacher');

  const S = A.students[0];
  const S2 = A.students[2];
  assert.equal(S.classId, c5a.id);
  assert.equal(S2.classId, c5a.id);
  assert.equal(A.parents[0].childId, S.id);
  assert.equal(A.parents[2].childId, S2.id);

  const actors = {
    anon: { id: null, token: null, login: S.login, password: S.password },
    stu: S,
    mate: S2,
    xstu: B.students[0],
    par: A.parents[0],
    xpar: A.parents[2],
    tch,
    xtch,
    ctch,
    adm: A.admin,
    xadm: B.admin,
    sys: { ...A.sysadmin, login: SYSADMIN_LOGIN, password: SYSADMIN_PASSWORD },
  };

  // Timetable of 5А for the first quarter: Математика (tch) Mondays 1st, Русский (ctch) Tuesdays 1st.
  const q1 = quarters(year)[0];
  must(
    await admin.put(`/api/v1/classes/${c5a.id}/timetable`, {
      valid_from: q1.starts_on,
      valid_to: q1.ends_on,
      slots: [
        { weekday: 1, lesson_no: 1, subject_id: math.id, teacher_id: tch.id, room: '101' },
        { weekday: 2, lesson_no: 1, subject_id: rus.id, teacher_id: ctch.id, room: '102' },
      ],
    }),
    200,
    'timetable',
  );
  const day = monday(addDays(q1.starts_on, 7)); // a Monday of the second week of the year
  const week = must(await admin.get(`/api/v1/classes/${c5a.id}/timetable?date=${day}`), 200, 'week');
  const lesson = week.lessons.find((l) => l.date === day && l.subject_id === math.id);
  assert.ok(lesson, `the timetable generated a Математика lesson on ${day}: ${JSON.stringify(week.lessons)}`);

  // Fresh lessons (extra lessons of 5А × Математика) on free (date, lesson_no) slots of the first quarter.
  let slot = 0;
  const freshLesson = async () => {
    for (;;) {
      const n = slot++;
      const date = addDays(day, 1 + Math.floor(n / 7)); // Tuesday on, 7 lessons a day
      if (date > q1.ends_on) throw new Error('fixture: out of lesson slots');
      const res = await admin.post(`/api/v1/classes/${c5a.id}/extra-lessons`, {
        date,
        lesson_no: 6 + (n % 7),
        subject_id: math.id,
        teacher_id: tch.id,
        room: '201',
      });
      if (res.status === 409) continue;
      return must(res, 201, 'extra lesson');
    }
  };
  const freshMark = async () => {
    const l = await freshLesson();
    const m = must(await admin.post(`/api/v1/lessons/${l.id}/marks`, { student_id: S.id, value: 3 }), 201, 'mark');
    return { lessonId: l.id, markId: m.id };
  };
  const cpBody = (title) => ({ kind: 'test', title, due_date: addDays(day, 3) });
  const freshCheckpoint = async () =>
    must(
      await tch.api.post(`/api/v1/classes/${c5a.id}/subjects/${math.id}/checkpoints`, cpBody(`КР ${uniq()}`)),
      201,
      'checkpoint',
    );

  // The shared journal data: a mark of S on the lesson, a checkpoint, S's work on it.
  const mark = must(await tch.api.post(`/api/v1/lessons/${lesson.id}/marks`, { student_id: S.id, value: 5 }), 201, 'mark');
  const cp = must(
    await tch.api.post(`/api/v1/classes/${c5a.id}/subjects/${math.id}/checkpoints`, cpBody('Упражнение 1')),
    201,
    'checkpoint',
  );
  const work = must(await S.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Решение: 42' }), 201, 'work');
  const lesson2 = await freshLesson(); // target of one-day changes

  // Terms: the current year's first quarter (journal reads), next year's (close/reopen).
  const termsOf = async (y) => must(await admin.get(`/api/v1/schools/${A.schoolId}/terms?year=${y}`), 200, 'terms');
  must(await admin.put(`/api/v1/schools/${A.schoolId}/terms/${year + 1}`, { terms: quarters(year + 1) }), 200, 'terms+1');
  const itemsOf = (t) => t.items ?? t.terms ?? t;
  const term1 = itemsOf(await termsOf(year)).find((t) => t.number === 1);
  const nextTerm1 = itemsOf(await termsOf(year + 1)).find((t) => t.number === 1);
  assert.ok(term1?.id && nextTerm1?.id, 'term ids');

  // People without passwords from one CSV import: invite codes, spare students, a spare teacher.
  const N = ACTORS.length;
  let csv = 'type;last_name;first_name;middle_name;login;class;subject;parent_of\r\nclass;;;;;11Я;;\r\n';
  const tag = uniq();
  for (let i = 0; i < N; i++) csv += `teacher;Приглашённый;Учитель;;inv${tag}x${i};;;\r\n`;
  for (let i = 0; i < N; i++) csv += `student;Запасной;Ученик;;sp${tag}x${i};11Я;;\r\n`;
  csv += `teacher;Запасной;Учитель;;spt${tag};;;\r\n`;
  const imp = must(
    await admin.raw('POST', `/api/v1/schools/${A.schoolId}/import?dry_run=0`, csv, { 'content-type': 'text/csv' }),
    201,
    'import',
  );
  const byLogin = new Map();
  const users = must(await admin.get(`/api/v1/schools/${A.schoolId}/users?limit=500`), 200, 'users').items;
  for (const u of users) byLogin.set(u.login, u);
  const invites = imp.users.filter((u) => u.login.startsWith(`inv${tag}`)).map((u) => u.invite_code);
  const spareStudents = Array.from({ length: N }, (_, i) => byLogin.get(`sp${tag}x${i}`).id);
  const spareTeacher = byLogin.get(`spt${tag}`).id;
  assert.equal(invites.length, N);

  // Files: S's file handed in with a work (on its own checkpoint), tch's file attached to the 5А Математика lesson.
  const workFile = await uploadAs(url, S.token, 'Решение.pdf');
  const fileCp = await freshCheckpoint();
  const fileWork = must(await S.api.post(`/api/v1/checkpoints/${fileCp.id}/works`, { text: 'с файлом', files: [workFile.id] }), 201, 'work with a file');
  assert.deepEqual(fileWork.versions.at(-1).files, [workFile.id]);
  const lessonFile = await uploadAs(url, tch.token, 'Материалы.pdf');
  must(await tch.api.post(`/api/v1/lessons/${lesson.id}/attachments`, { file_id: lessonFile.id }), 201, 'attach');

  return {
    workFile, lessonFile,
    url, A, B, year, actors, c5a, c5b, math, rus, S, S2, lesson, lesson2, mark, cp, work, day, q1,
    term1, nextTerm1, invites, spareStudents, spareTeacher, spareParent: A.parents[1],
    freshLesson, freshMark, freshCheckpoint, cpBody,
  };
}

// ------------------------------------------------------------ per-row requests
// Each row: status = the status of an allowed call; req(ctx, actorKey, i) →
// {path, body?, headers?}, run before the call (fresh resources, preconditions);
// check(ctx, prepared, allowed) after the call: the write happened exactly
// when it was allowed (a denied mark write changed nothing).

const admin = (ctx) => ctx.A.admin.api;

/** A tiny PDF unique per call (its own sha256), as the raw body of POST /api/v1/files. */
const tinyPdf = () => `%PDF-1.4\n% dnevnik access matrix ${uniq()}\n%%EOF\n`;
const uploadPath = (name) => `/api/v1/files?name=${encodeURIComponent(name)}`;

/** Upload a fresh tiny PDF as the holder of token; returns the file record. */
async function uploadAs(url, token, name) {
  const r = await client(url, token).raw('POST', uploadPath(name), tinyPdf(), { 'content-type': 'application/pdf' });
  return must(r, 201, `upload ${name}`);
}

async function signInRaw(url, who) {
  const res = await request(`${url}/api/v1/auth/login`, { method: 'POST', body: { login: who.login, password: who.password } });
  return must(res, 200, `login ${who.login}`);
}

/** The lesson's full journal view as the admin sees it ({marks: [{id, value, ...}], ...}). */
async function lessonMarks(ctx, lessonId) {
  const l = must(await admin(ctx).get(`/api/v1/lessons/${lessonId}`), 200, 'lesson as admin');
  assert.ok(Array.isArray(l.marks), `the admin's lesson view lists marks: ${JSON.stringify(l).slice(0, 300)}`);
  return l.marks;
}
/** A mark's value (null when it is gone). */
const markValue = async (ctx, lessonId, markId) =>
  (await lessonMarks(ctx, lessonId)).find((m) => m.id === markId)?.value ?? null;
/** Number of marks on a lesson. */
const markCount = async (ctx, lessonId) => (await lessonMarks(ctx, lessonId)).length;

const SPEC = {
  'GET /healthz': { status: 200, req: () => ({ path: '/healthz' }) },
  'GET /readyz': { status: 200, req: () => ({ path: '/readyz' }) },
  'GET /metrics': { status: 200, req: () => ({ path: '/metrics' }) },
  'GET /api/v1/ping': { status: 200, req: () => ({ path: '/api/v1/ping' }) },
  'POST /api/v1/auth/login': {
    status: 200,
    req: (ctx, a) => ({ path: '/api/v1/auth/login', body: { login: ctx.actors[a].login, password: ctx.actors[a].password } }),
  },
  'POST /api/v1/auth/refresh': {
    status: 200,
    req: async (ctx, a) => {
      const t = await signInRaw(ctx.url, ctx.actors[a]);
      return { path: '/api/v1/auth/refresh', body: { refresh_token: t.refresh_token } };
    },
  },
  'POST /api/v1/auth/logout': {
    status: 204,
    req: async (ctx, a) => {
      const t = await signInRaw(ctx.url, ctx.actors[a]);
      return { path: '/api/v1/auth/logout', body: { refresh_token: t.refresh_token } };
    },
  },
  'POST /api/v1/auth/password': {
    status: 204,
    // The same password again: proves the call is allowed without locking the actor out.
    req: (ctx, a) => ({
      path: '/api/v1/auth/password',
      body: { old_password: ctx.actors[a].password ?? 'x', new_password: ctx.actors[a].password ?? 'xxxxxxxx' },
    }),
  },
  'GET /api/v1/me': { status: 200, req: () => ({ path: '/api/v1/me' }) },
  'POST /api/v1/regions': { status: 201, req: () => ({ path: '/api/v1/regions', body: { name: `Регион ${uniq()}` } }) },
  'GET /api/v1/regions': { status: 200, req: () => ({ path: '/api/v1/regions' }) },
  'POST /api/v1/schools': {
    status: 201,
    req: (ctx) => ({ path: '/api/v1/schools', body: { region_id: ctx.A.regionId, name: `Школа ${uniq()}` } }),
  },
  'GET /api/v1/schools': { status: 200, req: () => ({ path: '/api/v1/schools' }) },
  'GET /api/v1/schools/{school_id}': { status: 200, req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}` }) },
  'POST /api/v1/schools/{school_id}/admins': {
    status: 201,
    req: (ctx) => ({
      path: `/api/v1/schools/${ctx.A.schoolId}/admins`,
      body: { login: `adm${uniq()}`, last_name: 'Завучева', first_name: 'Ольга' },
    }),
  },
  'PUT /api/v1/schools/{school_id}/terms/{year_start}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/terms/${ctx.year + 2}`, body: { terms: quarters(ctx.year + 2) } }),
  },
  'GET /api/v1/schools/{school_id}/terms': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/terms?year=${ctx.year}` }),
  },
  'POST /api/v1/schools/{school_id}/holidays': {
    status: 201,
    req: (ctx, a, i) => {
      const d = addDays(`${ctx.year + 2}-06-01`, i);
      return { path: `/api/v1/schools/${ctx.A.schoolId}/holidays`, body: { name: `Праздник ${uniq()}`, starts_on: d, ends_on: d } };
    },
  },
  'GET /api/v1/schools/{school_id}/holidays': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/holidays` }),
  },
  'DELETE /api/v1/schools/{school_id}/holidays/{holiday_id}': {
    status: 204,
    req: async (ctx, a, i) => {
      const d = addDays(`${ctx.year + 2}-07-01`, i);
      const h = must(
        await admin(ctx).post(`/api/v1/schools/${ctx.A.schoolId}/holidays`, { name: `Удаляемый ${uniq()}`, starts_on: d, ends_on: d }),
        201,
        'holiday',
      );
      return { path: `/api/v1/schools/${ctx.A.schoolId}/holidays/${h.id}` };
    },
  },
  'POST /api/v1/schools/{school_id}/subjects': {
    status: 201,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/subjects`, body: { name: `Предмет ${uniq()}` } }),
  },
  'GET /api/v1/schools/{school_id}/subjects': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/subjects` }),
  },
  'PATCH /api/v1/subjects/{subject_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/subjects/${ctx.math.id}`, body: { name: ctx.math.name } }),
  },
  'DELETE /api/v1/subjects/{subject_id}': {
    status: 204,
    req: async (ctx) => {
      const s = must(await admin(ctx).post(`/api/v1/schools/${ctx.A.schoolId}/subjects`, { name: `Удаляемый ${uniq()}` }), 201, 'subject');
      return { path: `/api/v1/subjects/${s.id}` };
    },
  },
  'POST /api/v1/schools/{school_id}/classes': {
    status: 201,
    req: (ctx, a, i) => ({
      path: `/api/v1/schools/${ctx.A.schoolId}/classes`,
      body: { grade: 10, letter: `Q${String.fromCharCode(65 + i)}` },
    }),
  },
  'GET /api/v1/schools/{school_id}/classes': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/classes` }),
  },
  'GET /api/v1/classes/{class_id}': { status: 200, req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}` }) },
  'PATCH /api/v1/classes/{class_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}`, body: { class_teacher_id: ctx.actors.ctch.id } }),
  },
  'GET /api/v1/classes/{class_id}/students': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/students` }),
  },
  'POST /api/v1/classes/{class_id}/students': {
    status: 201,
    req: (ctx, a, i) => ({
      path: `/api/v1/classes/${ctx.c5a.id}/students`,
      body: { student_id: ctx.spareStudents[i], from_date: `${ctx.year}-10-01` },
    }),
  },
  'GET /api/v1/students/{student_id}/history': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/students/${ctx.S.id}/history` }),
  },
  'POST /api/v1/schools/{school_id}/users': {
    status: 201,
    req: (ctx) => ({
      path: `/api/v1/schools/${ctx.A.schoolId}/users`,
      body: { login: `u${uniq()}`, last_name: 'Новикова', first_name: 'Нина', roles: ['teacher'] },
    }),
  },
  'GET /api/v1/schools/{school_id}/users': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/users` }),
  },
  'PATCH /api/v1/users/{user_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/users/${ctx.spareTeacher}`, body: { middle_name: 'Ивановна' } }),
  },
  'POST /api/v1/users/{user_id}/reset-password': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/users/${ctx.spareTeacher}/reset-password` }),
  },
  'GET /api/v1/users/{user_id}/personal-data': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/users/${ctx.S.id}/personal-data` }),
  },
  'POST /api/v1/users/{user_id}/anonymise': {
    status: 200,
    // Each cell anonymises its own fresh student of A (no class: no left_on needed), so only access decides.
    req: async (ctx) => {
      const u = await createUser(ctx.url, admin(ctx), ctx.A.schoolId, ['student']);
      return { path: `/api/v1/users/${u.id}/anonymise`, body: {}, userId: u.id };
    },
    check: async (ctx, r, allowed) => {
      const d = must(await ctx.A.sysadmin.api.get(`/api/v1/users/${r.userId}/personal-data`), 200, 'export');
      assert.equal(d.user.anonymized_at !== null, allowed, 'the student is anonymised after the POST');
    },
  },
  'POST /api/v1/parents/{parent_id}/children/{student_id}': {
    status: 201,
    req: async (ctx) => {
      const p = `/api/v1/parents/${ctx.spareParent.id}/children/${ctx.S2.id}`;
      const r = await admin(ctx).del(p); // precondition: not linked
      assert.ok(r.status === 204 || r.status === 404, `unlink before link: ${r.status} ${r.text}`);
      return { path: p };
    },
  },
  'DELETE /api/v1/parents/{parent_id}/children/{student_id}': {
    status: 204,
    req: async (ctx) => {
      const p = `/api/v1/parents/${ctx.spareParent.id}/children/${ctx.S2.id}`;
      const r = await admin(ctx).post(p); // precondition: linked
      assert.ok(r.status === 201 || r.status === 409, `link before unlink: ${r.status} ${r.text}`);
      return { path: p };
    },
  },
  'POST /api/v1/schools/{school_id}/assignments': {
    status: 201,
    req: (ctx) => ({
      path: `/api/v1/schools/${ctx.A.schoolId}/assignments`,
      body: { teacher_id: ctx.spareTeacher, class_id: ctx.c5b.id, subject_id: ctx.rus.id, subgroup: `g${uniq()}` },
    }),
  },
  'GET /api/v1/schools/{school_id}/assignments': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/schools/${ctx.A.schoolId}/assignments` }),
  },
  'DELETE /api/v1/assignments/{assignment_id}': {
    status: 204,
    req: async (ctx) => {
      const x = must(
        await admin(ctx).post(`/api/v1/schools/${ctx.A.schoolId}/assignments`, {
          teacher_id: ctx.spareTeacher,
          class_id: ctx.c5b.id,
          subject_id: ctx.rus.id,
          subgroup: `d${uniq()}`,
        }),
        201,
        'assignment',
      );
      return { path: `/api/v1/assignments/${x.id}` };
    },
  },
  'POST /api/v1/schools/{school_id}/import': {
    status: 200,
    req: (ctx) => ({
      path: `/api/v1/schools/${ctx.A.schoolId}/import?dry_run=1`,
      body: 'type;last_name;first_name;middle_name;login;class;subject;parent_of\r\nteacher;Пробная;Учительница;;;;;\r\n',
      headers: { 'content-type': 'text/csv' },
    }),
  },
  'POST /api/v1/invites/accept': {
    status: 200,
    req: (ctx, a, i) => ({ path: '/api/v1/invites/accept', body: { code: ctx.invites[i], new_password: 'invited-password-1' } }),
  },
  'PUT /api/v1/classes/{class_id}/timetable': {
    status: 200,
    req: (ctx) => ({
      path: `/api/v1/classes/${ctx.c5a.id}/timetable`,
      body: {
        valid_from: `${ctx.year + 1}-06-01`,
        valid_to: `${ctx.year + 1}-06-07`,
        slots: [{ weekday: 1, lesson_no: 1, subject_id: ctx.math.id, teacher_id: ctx.actors.tch.id, room: '101' }],
      },
    }),
  },
  'GET /api/v1/classes/{class_id}/timetable': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/timetable?date=${ctx.day}` }),
  },
  'POST /api/v1/lessons/{lesson_id}/change': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/lessons/${ctx.lesson2.id}/change`, body: { kind: 'room', room: '305' } }),
  },
  'POST /api/v1/classes/{class_id}/extra-lessons': {
    status: 201,
    req: (ctx, a, i) => ({
      path: `/api/v1/classes/${ctx.c5a.id}/extra-lessons`,
      body: { date: addDays(ctx.day, 4), lesson_no: i % 13, subject_id: ctx.math.id, teacher_id: ctx.actors.tch.id, room: '401' },
    }),
  },
  'GET /api/v1/lessons/{lesson_id}': { status: 200, req: (ctx) => ({ path: `/api/v1/lessons/${ctx.lesson.id}` }) },
  'PATCH /api/v1/lessons/{lesson_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/lessons/${ctx.lesson.id}`, body: { topic: 'Дроби', homework: '№ 12, 13' } }),
  },
  'POST /api/v1/lessons/{lesson_id}/marks': {
    status: 201,
    req: async (ctx) => {
      const l = await ctx.freshLesson();
      return { path: `/api/v1/lessons/${l.id}/marks`, body: { student_id: ctx.S.id, value: 4 }, lessonId: l.id };
    },
    check: async (ctx, r, allowed) => assert.equal(await markCount(ctx, r.lessonId), allowed ? 1 : 0, 'marks on the lesson after the POST'),
  },
  'PUT /api/v1/lessons/{lesson_id}/marks': {
    status: 200,
    req: async (ctx) => {
      const l = await ctx.freshLesson();
      return {
        path: `/api/v1/lessons/${l.id}/marks`,
        body: { marks: [{ student_id: ctx.S.id, value: 5, kind: 'homework' }] },
        lessonId: l.id,
      };
    },
    check: async (ctx, r, allowed) => assert.equal(await markCount(ctx, r.lessonId), allowed ? 1 : 0, 'marks on the lesson after the PUT'),
  },
  'PUT /api/v1/lessons/{lesson_id}/attendance': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/lessons/${ctx.lesson.id}/attendance`, body: { items: [{ student_id: ctx.S.id, status: 'present' }] } }),
  },
  'PATCH /api/v1/marks/{mark_id}': {
    status: 200,
    req: async (ctx) => {
      const m = await ctx.freshMark();
      return { path: `/api/v1/marks/${m.markId}`, body: { value: 5 }, ...m };
    },
    check: async (ctx, r, allowed) => assert.equal(await markValue(ctx, r.lessonId, r.markId), allowed ? 5 : 3, 'the mark after the PATCH'),
  },
  'DELETE /api/v1/marks/{mark_id}': {
    status: 204,
    req: async (ctx) => {
      const m = await ctx.freshMark();
      return { path: `/api/v1/marks/${m.markId}`, ...m };
    },
    check: async (ctx, r, allowed) => assert.equal(await markValue(ctx, r.lessonId, r.markId), allowed ? null : 3, 'the mark after the DELETE'),
  },
  'POST /api/v1/checkpoints/{checkpoint_id}/marks': {
    status: 201,
    req: async (ctx) => {
      const c = await ctx.freshCheckpoint();
      return { path: `/api/v1/checkpoints/${c.id}/marks`, body: { student_id: ctx.S.id, value: 4 } };
    },
  },
  'PUT /api/v1/classes/{class_id}/subjects/{subject_id}/term-marks': {
    status: 200,
    req: (ctx) => ({
      path: `/api/v1/classes/${ctx.c5a.id}/subjects/${ctx.math.id}/term-marks`,
      body: { year_start: ctx.year, period: 1, items: [{ student_id: ctx.S.id, value: 5 }] },
    }),
  },
  'GET /api/v1/classes/{class_id}/subjects/{subject_id}/term-marks': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/subjects/${ctx.math.id}/term-marks?year_start=${ctx.year}&period=1` }),
  },
  'POST /api/v1/terms/{term_id}/close': {
    status: 200,
    req: async (ctx) => {
      must(await ctx.A.sysadmin.api.post(`/api/v1/terms/${ctx.nextTerm1.id}/reopen`), 200, 'reopen before close');
      return { path: `/api/v1/terms/${ctx.nextTerm1.id}/close` };
    },
  },
  'POST /api/v1/terms/{term_id}/reopen': {
    status: 200,
    req: async (ctx) => {
      must(await ctx.A.sysadmin.api.post(`/api/v1/terms/${ctx.nextTerm1.id}/close`), 200, 'close before reopen');
      return { path: `/api/v1/terms/${ctx.nextTerm1.id}/reopen` };
    },
  },
  'GET /api/v1/audit': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/audit?entity=mark&lesson_id=${ctx.lesson.id}&student_id=${ctx.S.id}` }),
  },
  'POST /api/v1/classes/{class_id}/subjects/{subject_id}/checkpoints': {
    status: 201,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/subjects/${ctx.math.id}/checkpoints`, body: ctx.cpBody(`Тест ${uniq()}`) }),
  },
  'GET /api/v1/classes/{class_id}/checkpoints': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/checkpoints` }),
  },
  'GET /api/v1/checkpoints/{checkpoint_id}': { status: 200, req: (ctx) => ({ path: `/api/v1/checkpoints/${ctx.cp.id}` }) },
  'PATCH /api/v1/checkpoints/{checkpoint_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/checkpoints/${ctx.cp.id}`, body: { title: 'Упражнение 1' } }),
  },
  'DELETE /api/v1/checkpoints/{checkpoint_id}': {
    status: 204,
    req: async (ctx) => ({ path: `/api/v1/checkpoints/${(await ctx.freshCheckpoint()).id}` }),
  },
  'GET /api/v1/students/{student_id}/week': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/students/${ctx.S.id}/week?date=${ctx.day}` }),
  },
  'GET /api/v1/students/{student_id}/marks': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/students/${ctx.S.id}/marks?term_id=${ctx.term1.id}` }),
  },
  'GET /api/v1/classes/{class_id}/journal': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/classes/${ctx.c5a.id}/journal?subject_id=${ctx.math.id}&term_id=${ctx.term1.id}` }),
  },
  'GET /api/v1/me/lessons': { status: 200, req: (ctx) => ({ path: `/api/v1/me/lessons?date=${ctx.day}` }) },
  'POST /api/v1/checkpoints/{checkpoint_id}/works': {
    status: 201,
    req: (ctx) => ({ path: `/api/v1/checkpoints/${ctx.cp.id}/works`, body: { text: 'Моё решение' } }),
  },
  'GET /api/v1/checkpoints/{checkpoint_id}/works': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/checkpoints/${ctx.cp.id}/works` }),
  },
  'GET /api/v1/works/{work_id}': { status: 200, req: (ctx) => ({ path: `/api/v1/works/${ctx.work.id}` }) },
  'POST /api/v1/works/{work_id}/comments': {
    status: 201,
    req: (ctx) => ({ path: `/api/v1/works/${ctx.work.id}/comments`, body: { text: 'Проверьте пункт 2' } }),
  },
  'POST /api/v1/files': {
    status: 201,
    req: () => ({ path: uploadPath(`cell-${uniq()}.pdf`), body: tinyPdf(), headers: { 'content-type': 'application/pdf' } }),
  },
  'GET /api/v1/files/{file_id}': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/files/${ctx.workFile.id}` }),
    check: async (ctx, r, allowed) => {
      // an allowed download really is the file (not an empty 200)
      if (!allowed) return;
      const d = await ctx.actors.stu.api.get(`/api/v1/files/${ctx.workFile.id}`);
      assert.match(d.text, /^%PDF-1\.4/);
    },
  },
  'GET /api/v1/files/{file_id}/meta': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/files/${ctx.lessonFile.id}/meta` }),
  },
  'POST /api/v1/lessons/{lesson_id}/attachments': {
    status: 201,
    // Each cell attaches a fresh file of the caller's own (anon: the admin's), so only access decides.
    req: async (ctx, a) => {
      const f = await uploadAs(ctx.url, ctx.actors[a].token ?? ctx.A.admin.token, `att-${a}.pdf`);
      return { path: `/api/v1/lessons/${ctx.lesson.id}/attachments`, body: { file_id: f.id }, fileId: f.id };
    },
    check: async (ctx, r, allowed) => {
      const list = must(await admin(ctx).get(`/api/v1/lessons/${ctx.lesson.id}/attachments`), 200, 'attachments');
      assert.equal(list.items.some((x) => x.id === r.fileId), allowed, 'the file is attached after the POST');
    },
  },
  'GET /api/v1/lessons/{lesson_id}/attachments': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/lessons/${ctx.lesson.id}/attachments` }),
  },
  'POST /api/v1/works/{work_id}/mark': {
    status: 200,
    req: (ctx) => ({ path: `/api/v1/works/${ctx.work.id}/mark`, body: { value: 5 } }),
  },
};

// ------------------------------------------------------------ the suite

const T = { timeout: 120000 };

describe(`access matrix [${DB}]`, () => {
  let srv, ctx;
  before(async () => {
    srv = await startSchoolServer({ env: { DNEVNIK_RATE_LIMIT: '0' } });
    ctx = await buildFixture(srv);
  }, T);
  after(async () => {
    await srv?.stop();
  });

  test('the matrix covers every route of the code and of docs/openapi.yaml, and nothing else', () => {
    const inMatrix = new Set(ROWS.map((r) => r.key));
    assert.equal(inMatrix.size, ROWS.length, 'a route is listed twice in the matrix');
    const code = routesInCode();
    const spec = routesInSpec();
    const missing = (a, b) => [...a].filter((k) => !b.has(k)).sort();
    assert.deepEqual(missing(code, inMatrix), [], 'routes registered in src/api/*.c but missing from the access matrix');
    assert.deepEqual(missing(spec, inMatrix), [], 'routes documented in docs/openapi.yaml but missing from the access matrix');
    assert.deepEqual(missing(inMatrix, code), [], 'matrix rows for routes the code does not register');
    assert.deepEqual(missing(inMatrix, spec), [], 'matrix rows for routes docs/openapi.yaml does not document');
    assert.deepEqual(missing(inMatrix, new Set(Object.keys(SPEC))), [], 'matrix rows without a request in SPEC');
    assert.deepEqual(missing(new Set(Object.keys(SPEC)), inMatrix), [], 'SPEC entries without a matrix row');
  });

  // The key rules, asserted on the table itself so that editing a cell to
  // match a regression in the server cannot silently weaken them.
  test('the table keeps the key rules', () => {
    const PUBLIC = new Set([
      'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /api/v1/ping', 'POST /api/v1/auth/login',
      'POST /api/v1/auth/refresh', 'POST /api/v1/auth/logout', 'POST /api/v1/invites/accept',
    ]);
    // POST /api/v1/files only stores bytes as the caller's own: nobody else may read them until attached.
    const OWN_ACCOUNT = new Set(['GET /api/v1/me', 'GET /api/v1/me/lessons', 'POST /api/v1/auth/password', 'POST /api/v1/files']);
    const problems = [];
    for (const r of ROWS) {
      const e = r.expect;
      if ((e.anon === 'ok') !== PUBLIC.has(r.key)) problems.push(`${r.key}: anonymous must be ${PUBLIC.has(r.key) ? 'ok' : '--'}`);
      if (!PUBLIC.has(r.key) && !OWN_ACCOUNT.has(r.key)) {
        for (const a of ['xstu', 'xadm']) if (e[a] === 'ok') problems.push(`${r.key}: ${a} reads/writes another school`);
      }
      if (r.method !== 'GET' && /marks|\/mark$/.test(r.path)) {
        for (const a of ['stu', 'mate', 'xstu', 'par', 'xpar']) if (e[a] === 'ok') problems.push(`${r.key}: ${a} changes a mark`);
      }
      if (r.method !== 'GET' && /^\/api\/v1\/(lessons|marks|checkpoints\/\{checkpoint_id\}(\/marks)?$|classes\/\{class_id\}\/subjects|works\/\{work_id\}\/mark$)/.test(r.path)) {
        for (const a of ['xtch', 'ctch']) if (e[a] === 'ok') problems.push(`${r.key}: ${a} writes outside own class+subject`);
      }
      // (GET /api/v1/files/{file_id} is a file of S's work: the same rule as the work)
      // 152-FZ: a person's whole file is for themself, their parent and the school office, not for teachers
      if (r.path.startsWith('/api/v1/users/{user_id}/personal-data') || r.path.endsWith('/anonymise')) {
        for (const a of ['tch', 'xtch', 'ctch', 'mate', 'xpar']) if (e[a] === 'ok') problems.push(`${r.key}: ${a} reads or erases S's personal data`);
      }
      if (r.path.startsWith('/api/v1/students/{student_id}') || r.key === 'GET /api/v1/works/{work_id}' || r.key === 'GET /api/v1/files/{file_id}') {
        if (e.xpar === 'ok') problems.push(`${r.key}: a parent reads another child`);
        if (e.mate === 'ok') problems.push(`${r.key}: a classmate reads another student`);
      }
    }
    assert.deepEqual(problems, []);
  });

  // The matrix rows use attached files; an unattached one is its uploader's alone (even the system admin's 403).
  test('files: an unattached file is readable only by its uploader (download and meta)', T, async () => {
    const f = await uploadAs(ctx.url, ctx.actors.stu.token, 'черновик.pdf');
    const bad = [];
    for (const a of ACTORS) {
      for (const p of [`/api/v1/files/${f.id}`, `/api/v1/files/${f.id}/meta`]) {
        const r = await client(ctx.url, ctx.actors[a].token).get(p);
        const want = a === 'stu' ? 200 : a === 'anon' ? 401 : 403;
        if (r.status !== want) bad.push(`  ${a} GET ${p}: expected ${want}, got ${r.status}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  for (const row of ROWS) {
    test(`${row.key}  — ${row.note}`, T, async () => {
      const spec = SPEC[row.key];
      assert.ok(spec, `no request for ${row.key} in SPEC`);
      const bad = [];
      for (let i = 0; i < ACTORS.length; i++) {
        const a = ACTORS[i];
        const who = ctx.actors[a];
        const prepared = await spec.req(ctx, a, i);
        const concrete = prepared.path;
        const res = await client(ctx.url, who.token).raw(row.method, concrete, prepared.body, prepared.headers ?? {});
        const allow = row.expect[a] === 'ok';
        const want = allow ? spec.status : a === 'anon' ? 401 : 403;
        if (res.status !== want) {
          bad.push(
            `  ${a.padEnd(4)} expected ${allow ? 'ALLOW' : 'DENY'} ${want}, got ${res.status}: ${row.method} ${concrete} → ${res.text.slice(0, 200)}`,
          );
          continue;
        }
        if (spec.check) {
          try {
            await spec.check(ctx, prepared, allow);
          } catch (e) {
            bad.push(`  ${a.padEnd(4)} ${allow ? 'allowed but the write did not happen' : 'denied but the write happened'}: ${e.message}`);
          }
        }
      }
      assert.equal(bad.length, 0, `${row.key}: ${bad.length} mismatching cell(s):\n${bad.join('\n')}`);
    });
  }
});
