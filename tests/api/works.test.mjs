// Works: a student hands in work for a checkpoint (every version kept),
// reads it with its thread in one request, teacher comments and marks it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DB, assertJson, assertProblem } from './lib/server.mjs';
import { createSchool, startSchoolServer } from './lib/fixture.mjs';
import { checkedSchool } from './lib/openapi.mjs';

const T = { timeout: 60000 };

describe(`works [${DB}]`, () => {
  let srv, s, t0, t1, st0, st1, st2, par0, par1, admin, cls, math, cp, workId;

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
    [par0, par1] = s.parents; // par0 → st0, par1 → st1
    admin = s.admin;
    cls = s.classes[0];
    math = s.subjects[0];
    cp = assertJson(
      await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
        kind: 'homework',
        title: 'Сочинение',
        due_date: `${s.year}-09-20`,
      }),
      201,
    );
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('the student submits (201) and resubmits (201, a new version): every version is kept', T, async () => {
    const w = assertJson(
      await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Первая версия', files: ['file:1'] }),
      201,
    );
    workId = w.id;
    assert.equal(w.status, 'submitted');
    assert.equal(w.versions.length, 1);
    assert.deepEqual(w.versions[0].files, ['file:1']);
    const w2 = assertJson(await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'Вторая версия' }), 201);
    assert.equal(w2.id, workId);
    assert.deepEqual(
      w2.versions.map((v) => [v.n, v.text]),
      [
        [1, 'Первая версия'],
        [2, 'Вторая версия'],
      ],
    );
  });

  test('submission errors: other class / teacher / parent → 403, bad body → 422, unknown → 404', T, async () => {
    assertProblem(await st1.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'x' }), 403);
    assertProblem(await t0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'x' }), 403);
    assertProblem(await par0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'x' }), 403);
    assertProblem(await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: '' }), 422);
    assertProblem(await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'x', files: [1] }), 422);
    assertProblem(await st0.api.post(`/api/v1/checkpoints/999999/works`, { text: 'x' }), 404);
    assertProblem(await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, null), 400);
  });

  test('comments from the owner and the teacher, appended with author and time', T, async () => {
    assertJson(await st0.api.post(`/api/v1/works/${workId}/comments`, { text: 'Проверьте, пожалуйста' }), 201);
    const w = assertJson(await t0.api.post(`/api/v1/works/${workId}/comments`, { text: 'Исправь вывод' }), 201);
    assert.equal(w.comments.length, 2);
    assert.equal(w.comments[0].author_id, st0.id);
    assert.equal(w.comments[1].author_id, t0.id);
    assert.equal(w.comments[1].text, 'Исправь вывод');
    assert.ok(w.comments[1].author.length > 0);
    assert.equal(typeof w.comments[1].at, 'number');
    assertProblem(await st2.api.post(`/api/v1/works/${workId}/comments`, { text: 'чужая' }), 403);
    assertProblem(await t1.api.post(`/api/v1/works/${workId}/comments`, { text: 'не мой' }), 403);
    assertProblem(await st0.api.post(`/api/v1/works/${workId}/comments`, { text: '' }), 422);
    assertProblem(await st0.api.post(`/api/v1/works/999999/comments`, { text: 'x' }), 404);
  });

  test('the teacher marks the work: checkpoint mark, status graded', T, async () => {
    assertProblem(await st0.api.post(`/api/v1/works/${workId}/mark`, { value: 5 }), 403);
    assertProblem(await t1.api.post(`/api/v1/works/${workId}/mark`, { value: 5 }), 403);
    assertProblem(await t0.api.post(`/api/v1/works/${workId}/mark`, { value: 0 }), 422);
    const w = assertJson(await t0.api.post(`/api/v1/works/${workId}/mark`, { value: 5, comment: 'Отлично' }), 200);
    assert.equal(w.status, 'graded');
    assert.equal(w.mark.value, 5);
    const w2 = assertJson(await t0.api.post(`/api/v1/works/${workId}/mark`, { value: 4 }), 200);
    assert.equal(w2.mark.id, w.mark.id);
    assert.equal(w2.mark.value, 4);
    assertProblem(await t0.api.post(`/api/v1/works/999999/mark`, { value: 5 }), 404);
  });

  test('GET a work in one request: owner, parent, teacher, admin; others 403; ETag', T, async () => {
    const res = await st0.api.get(`/api/v1/works/${workId}`);
    const w = assertJson(res, 200);
    assert.equal(w.versions.length, 2);
    assert.equal(w.comments.length, 2);
    assert.equal(w.checkpoint.title, 'Сочинение');
    const again = await st0.api.get(`/api/v1/works/${workId}`, { 'if-none-match': res.headers.etag });
    assert.equal(again.status, 304);
    for (const u of [par0, t0, admin]) assertJson(await u.api.get(`/api/v1/works/${workId}`), 200);
    for (const u of [par1, st2, t1]) assertProblem(await u.api.get(`/api/v1/works/${workId}`), 403);
    assertProblem(await st0.api.get(`/api/v1/works/999999`), 404);
  });

  test('GET the works of a checkpoint: teacher only', T, async () => {
    const list = assertJson(await t0.api.get(`/api/v1/checkpoints/${cp.id}/works`), 200);
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].versions_count, 2);
    assert.equal(list.items[0].mark_value, 4);
    assert.equal(list.items[0].last_version.text, 'Вторая версия');
    assertProblem(await st0.api.get(`/api/v1/checkpoints/${cp.id}/works`), 403);
    assertProblem(await t1.api.get(`/api/v1/checkpoints/${cp.id}/works`), 403);
    assertProblem(await t0.api.get(`/api/v1/checkpoints/999999/works`), 404);
  });
});
