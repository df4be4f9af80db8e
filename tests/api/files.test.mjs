// Files: upload (size limit before the body, type by magic bytes, quota),
// download (type, RFC 6266/5987 name, ETag, Range), who may download,
// lesson attachments, retention purge, and faults (kill -9 mid-upload,
// an unreachable S3). Runs on the local backend always and on S3 when
// DN_TEST_S3=1 (DN_TEST_S3_ENDPOINT, DN_TEST_S3_BUCKET: see
// scripts/s3-test-server.sh; `make test` starts one).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import {
  DB, assertJson, assertProblem, rawRequest, runCli, freshDatabase, startServer, sleep,
} from './lib/server.mjs';
import { createSchool, startSchoolServer, seedLesson, sqlRun, sqlInt } from './lib/fixture.mjs';
import { assertMatchesSpec } from './lib/openapi.mjs';

const T = { timeout: 120000 };
const MAX = 2 * 1024 * 1024;
const QUOTA = 4 * 1024 * 1024;
const backends = ['local', ...(process.env.DN_TEST_S3 === '1' ? ['s3'] : [])];

function backendArgs(kind, filesDir) {
  if (kind === 's3') {
    const endpoint = process.env.DN_TEST_S3_ENDPOINT;
    const bucket = process.env.DN_TEST_S3_BUCKET;
    assert.ok(endpoint && bucket, 'DN_TEST_S3=1 needs DN_TEST_S3_ENDPOINT and DN_TEST_S3_BUCKET');
    return {
      args: ['--files-backend', 's3', '--s3-endpoint', endpoint, '--s3-bucket', bucket],
      env: {
        DNEVNIK_S3_ACCESS_KEY: process.env.DN_TEST_S3_ACCESS_KEY ?? 'S3RVER',
        DNEVNIK_S3_SECRET_KEY: process.env.DN_TEST_S3_SECRET_KEY ?? 'S3RVER',
      },
    };
  }
  return { args: ['--files-dir', filesDir], env: {} };
}

/** One request with a Buffer body and a Buffer answer. */
function bin(url, { method = 'GET', token, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const upload = (srv, user, name, data, headers = {}) =>
  bin(`${srv.url}/api/v1/files${name == null ? '' : `?name=${encodeURIComponent(name)}`}`, {
    method: 'POST',
    token: user.token ?? user.api.token,
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: data,
  });
const download = (srv, user, id, headers = {}) =>
  bin(`${srv.url}/api/v1/files/${id}`, { token: user && (user.token ?? user.api.token), headers });

const F = '/api/v1/files';
const FID = '/api/v1/files/{file_id}';
const META = '/api/v1/files/{file_id}/meta';
const ATT = '/api/v1/lessons/{lesson_id}/attachments';
/** assertMatchesSpec for a bin(), request() or rawRequest() answer (JSON parsed, anything else as text). */
function spec(method, template, status, r) {
  const ct = String(r.headers?.['content-type'] ?? '');
  const raw = Buffer.isBuffer(r.body) ? r.body.toString(/json|text/.test(ct) ? 'utf8' : 'latin1') : r.text;
  assertMatchesSpec(method, template, status, r, /json/.test(ct) ? JSON.parse(raw) : raw);
  return r;
}

const pdf = (n = 64) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(n)]);
const sha = (b) => createHash('sha256').update(b).digest('hex');
// A minimal OOXML-looking zip: entry names in clear, as real DOCX files have them.
const docx = () => Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(26), Buffer.from('[Content_Types].xml'),
  Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(26), Buffer.from('word/document.xml'), randomBytes(16)]);
const png = () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(32)]);

/** Keys of blobs in a local files dir (two-hex-digit fan-out folders). */
function localBlobs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => readdirSync(path.join(dir, d)));
}

for (const kind of backends) {
  describe(`files [${DB}, ${kind}]`, () => {
    let srv, s, t0, t1, st0, st1, st2, par0, par1, cls, math, filesDir, be, work;

    before(async () => {
      filesDir = mkdtempSync(path.join(tmpdir(), 'dnevnik-files-'));
      be = backendArgs(kind, filesDir);
      srv = await startSchoolServer({
        args: [...be.args, '--file-max-size', String(MAX), '--upload-quota', String(QUOTA)],
        env: be.env,
      });
      s = await createSchool(srv, { teachers: 2, students: 3, parents: 2, classes: ['5А', '5Б'] });
      [t0, t1] = s.teachers;
      [st0, st1, st2] = s.students; // st0, st2 in 5А; st1 in 5Б
      [par0, par1] = s.parents; // par0 → st0, par1 → st1
      cls = s.classes[0];
      math = s.subjects[0];
    });
    after(async () => {
      if (srv) await srv.stop();
      rmSync(filesDir, { recursive: true, force: true });
    });

    test('round trip: 201 with sha256, download with type, RFC 5987 name, ETag and 304', T, async () => {
      const data = pdf(5000);
      const name = 'Ответ №1 "итог".pdf';
      const up = await upload(srv, st0, name, data);
      assert.equal(up.status, 201, up.body.toString());
      spec('POST', F, 201, up);
      const f = up.json();
      assert.equal(f.sha256, sha(data));
      assert.equal(f.size, data.length);
      assert.equal(f.content_type, 'application/pdf');
      assert.equal(f.name, name);
      assert.equal(up.headers.location, `/api/v1/files/${f.id}`);
      const d = await download(srv, st0, f.id);
      assert.equal(d.status, 200);
      spec('GET', FID, 200, d);
      assert.ok(d.body.equals(data));
      assert.equal(d.headers['content-type'], 'application/pdf');
      assert.equal(d.headers.etag, `"${f.sha256}"`);
      assert.equal(d.headers['accept-ranges'], 'bytes');
      const cd = d.headers['content-disposition'];
      assert.match(cd, /^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
      const enc = cd.split("filename*=UTF-8''")[1];
      assert.equal(decodeURIComponent(enc), name);
      assert.ok(!/["\\]/.test(cd.split('filename="')[1].split('"')[0]));
      const nm = await download(srv, st0, f.id, { 'if-none-match': d.headers.etag });
      assert.equal(nm.status, 304);
      assert.equal(nm.body.length, 0);
      spec('GET', FID, 304, nm);
      const meta = assertJson(spec('GET', META, 200, await st0.api.get(`/api/v1/files/${f.id}/meta`)), 200);
      assert.equal(meta.purged, false);
    });

    test('identical content is stored once; types are detected by content', T, async () => {
      const data = pdf(100);
      const a = (await upload(srv, st0, 'a.pdf', data)).json();
      const b = (await upload(srv, st0, 'copy.bin', data)).json();
      assert.notEqual(a.id, b.id);
      assert.equal(a.sha256, b.sha256);
      assert.equal(b.content_type, 'application/pdf', 'the name does not decide the type');
      if (kind === 'local') assert.equal(localBlobs(filesDir).filter((k) => k === a.sha256).length, 1);
      const cases = [
        [png(), 'x.txt', 'image/png'],
        [docx(), 'Сочинение.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
        [Buffer.from('Привет, мир!\nстрока 2\n'), 'note.txt', 'text/plain; charset=utf-8'],
        [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), 'photo', 'image/jpeg'],
      ];
      for (const [body, name, type] of cases) {
        const r = await upload(srv, t0, name, body);
        assert.equal(r.status, 201, `${name}: ${r.body}`);
        assert.equal(r.json().content_type, type);
        spec('POST', F, 201, r);
        const d = await download(srv, t0, r.json().id);
        spec('GET', FID, 200, d);
        assert.equal(d.headers['content-type'], type);
        assert.ok(d.body.equals(body));
      }
    });

    test('Range: first bytes, suffix, open end (206 + Content-Range); past the end 416', T, async () => {
      const data = pdf(1000);
      const f = (await upload(srv, st0, 'range.pdf', data)).json();
      let r = await download(srv, st0, f.id, { range: 'bytes=0-9' });
      assert.equal(r.status, 206);
      spec('GET', FID, 206, r);
      assert.equal(r.headers['content-range'], `bytes 0-9/${data.length}`);
      assert.ok(r.body.equals(data.subarray(0, 10)));
      r = await download(srv, st0, f.id, { range: 'bytes=-5' });
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(data.subarray(data.length - 5)));
      r = await download(srv, st0, f.id, { range: `bytes=100-` });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes 100-${data.length - 1}/${data.length}`);
      assert.ok(r.body.equals(data.subarray(100)));
      r = await download(srv, st0, f.id, { range: `bytes=${data.length}-` });
      assert.equal(r.status, 416);
      spec('GET', FID, 416, r);
      assert.equal(r.headers['content-range'], `bytes */${data.length}`);
      r = await download(srv, st0, f.id, { range: 'bytes=0-1,5-6' });
      assert.equal(r.status, 200, 'multiple ranges: the whole file');
      assert.ok(r.body.equals(data));
    });

    test('too large: 413 from the Content-Length, before the body is read', T, async () => {
      const r = await rawRequest({
        port: srv.port,
        head: `POST /api/v1/files?name=big.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${st0.api.token}`,
        bodySize: 64 * MAX, // far more than socket buffers hold: only an early answer stops the sender
        pauseAfterHeadMs: 300,
        timeoutMs: 30000,
      });
      assert.equal(r.status, 413);
      spec('POST', F, 413, r);
      assert.ok(r.sentBytes < 16 * MAX, `the server answered without reading the body (${r.sentBytes} bytes sent)`);
      // exactly the limit is accepted
      const ok = await upload(srv, t1, 'limit.pdf', Buffer.concat([Buffer.from('%PDF-'), Buffer.alloc(MAX - 5, 0x41)]));
      assert.equal(ok.status, 201, ok.body.toString());
    });

    test('an upload interrupted mid-body records nothing and leaves no file', T, async () => {
      const before = sqlInt(sqlRun(srv, 'SELECT COUNT(*) FROM files'));
      const blobsBefore = kind === 'local' ? localBlobs(filesDir).length : 0;
      await new Promise((resolve, reject) => {
        const sock = net.connect(srv.port, '127.0.0.1', () => {
          sock.write(`POST /api/v1/files?name=cut.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${st0.api.token}\r\n` +
            `Content-Length: ${MAX}\r\n\r\n%PDF-`);
          sock.write(randomBytes(MAX / 4), () => setTimeout(() => { sock.destroy(); resolve(); }, 100));
        });
        sock.on('error', reject);
      });
      await sleep(300);
      assert.equal(sqlInt(sqlRun(srv, 'SELECT COUNT(*) FROM files')), before);
      if (kind === 'local') assert.equal(localBlobs(filesDir).length, blobsBefore);
      // the server is fine afterwards
      assert.equal((await upload(srv, st0, 'after.pdf', pdf())).status, 201);
    });

    test('wrong type 415 (name says PDF, content is not); empty 422; bad name 422; 401 without a token', T, async () => {
      let r = await upload(srv, st0, 'answer.pdf', Buffer.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0]));
      assert.equal(r.status, 415);
      spec('POST', F, 415, r);
      r = await upload(srv, st0, 'answer.pdf', Buffer.from([0x00, 0x01, 0x02, 0xfe]));
      assert.equal(r.status, 415);
      r = await upload(srv, st0, 'empty.pdf', Buffer.alloc(0));
      assert.equal(r.status, 422);
      spec('POST', F, 422, r);
      assert.equal(r.json().errors[0].field, 'body');
      r = await upload(srv, st0, null, pdf());
      assert.equal(r.status, 422);
      spec('POST', F, 422, r);
      assert.equal(r.json().errors[0].field, 'name');
      r = await upload(srv, st0, 'a/b.pdf', pdf());
      assert.equal(r.status, 422);
      r = await bin(`${srv.url}/api/v1/files?name=x.pdf`, { method: 'POST', body: pdf() });
      assert.equal(r.status, 401);
      spec('POST', F, 401, r);
      assertProblem(spec('GET', FID, 404, await st0.api.get('/api/v1/files/999999')), 404);
      assertProblem(spec('GET', META, 404, await st0.api.get('/api/v1/files/999999/meta')), 404);
      assert.equal(spec('GET', FID, 401, await download(srv, null, 1)).status, 401);
      assert.equal(spec('GET', META, 401, await bin(`${srv.url}/api/v1/files/1/meta`)).status, 401);
    });

    test('access: uploader; via a work: the student, their parent, the teacher; never another student or parent', T, async () => {
      const data = pdf(300);
      const f = (await upload(srv, st0, 'work.pdf', data)).json();
      for (const u of [st1, par0, par1, t0, st2]) {
        assert.equal(spec('GET', FID, 403, await download(srv, u, f.id)).status, 403, 'not attached yet: only the uploader');
      }
      const cp = assertJson(
        await t0.api.post(`/api/v1/classes/${cls.id}/subjects/${math.id}/checkpoints`, {
          kind: 'homework', title: 'Файлы', due_date: `${s.year}-10-20`,
        }),
        201,
      );
      // someone else's file cannot be handed in
      assertProblem(await st2.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'чужой', files: [f.id] }), 422);
      work = assertJson(await st0.api.post(`/api/v1/checkpoints/${cp.id}/works`, { text: 'мой ответ', files: [f.id] }), 201);
      assert.deepEqual(work.versions[0].files, [f.id]);
      for (const u of [st0, par0, t0]) {
        const d = await download(srv, u, f.id);
        assert.equal(d.status, 200);
        assert.ok(d.body.equals(data));
      }
      for (const u of [st1, par1, st2]) assert.equal((await download(srv, u, f.id)).status, 403);
      assert.equal(spec('GET', META, 403, await st1.api.get(`/api/v1/files/${f.id}/meta`)).status, 403);
      spec('GET', META, 200, await par0.api.get(`/api/v1/files/${f.id}/meta`));
    });

    test('lesson attachments: the teacher attaches (201, 409 again); the class reads; others may not', T, async () => {
      const lesson = seedLesson(srv, s.school.id, {
        classId: cls.id, subjectId: math.id, teacherId: t0.id, date: `${s.year}-09-15`, no: 3,
      });
      const data = pdf(200);
      const f = (await upload(srv, t0, 'Материалы урока.pdf', data)).json();
      const own = (await upload(srv, st0, 'mine.pdf', pdf())).json();
      assertProblem(spec('POST', ATT, 403, await st0.api.post(`/api/v1/lessons/${lesson}/attachments`, { file_id: own.id })), 403);
      assertProblem(spec('POST', ATT, 422, await t0.api.post(`/api/v1/lessons/${lesson}/attachments`, { file_id: own.id })), 422);
      assertProblem(spec('POST', ATT, 422, await t0.api.post(`/api/v1/lessons/${lesson}/attachments`, { file_id: 'x' })), 422);
      assertProblem(spec('POST', ATT, 404, await t0.api.post(`/api/v1/lessons/999999/attachments`, { file_id: f.id })), 404);
      assertProblem(spec('POST', ATT, 400, await t0.api.raw('POST', `/api/v1/lessons/${lesson}/attachments`, '{nope',
        { 'content-type': 'application/json' })), 400);
      assertProblem(spec('POST', ATT, 401, await t0.api.raw('POST', `/api/v1/lessons/${lesson}/attachments`, { file_id: f.id },
        { authorization: '' })), 401);
      const a = assertJson(spec('POST', ATT, 201, await t0.api.post(`/api/v1/lessons/${lesson}/attachments`, { file_id: f.id })), 201);
      assert.equal(a.id, f.id);
      assertProblem(spec('POST', ATT, 409, await t0.api.post(`/api/v1/lessons/${lesson}/attachments`, { file_id: f.id })), 409);
      const listRes = spec('GET', ATT, 200, await st0.api.get(`/api/v1/lessons/${lesson}/attachments`));
      spec('GET', ATT, 304, await st0.api.get(`/api/v1/lessons/${lesson}/attachments`, { 'if-none-match': listRes.headers.etag }));
      assertProblem(spec('GET', ATT, 404, await st0.api.get('/api/v1/lessons/999999/attachments')), 404);
      const list = assertJson(listRes, 200);
      assert.deepEqual(list.items.map((x) => x.id), [f.id]);
      for (const u of [st0, st2, par0]) assert.equal((await download(srv, u, f.id)).status, 200);
      for (const u of [st1, par1]) assert.equal((await download(srv, u, f.id)).status, 403);
      assertProblem(spec('GET', ATT, 403, await st1.api.get(`/api/v1/lessons/${lesson}/attachments`)), 403);
    });

    test('daily quota per student: 429 once exceeded, nothing recorded; teachers are not limited', T, async () => {
      const big = () => Buffer.concat([Buffer.from('%PDF-'), randomBytes(MAX - 5)]);
      const u = st1; // has uploaded nothing so far
      for (let i = 0; i < 2; i++) assert.equal((await upload(srv, u, `q${i}.pdf`, big())).status, 201);
      const r = await upload(srv, u, 'q-over.pdf', big());
      assert.equal(r.status, 429);
      spec('POST', F, 429, r);
      assert.ok(r.headers['retry-after']);
      const n = sqlInt(sqlRun(srv, `SELECT COUNT(*) FROM files WHERE uploader_id = ${u.id}`));
      assert.equal(n, 2);
      for (let i = 0; i < 3; i++) assert.equal((await upload(srv, t1, `m${i}.pdf`, big())).status, 201);
    });

    test('purge: --dry-run lists and keeps; purge deletes the bytes, keeps the record (410, purged: true)', T, async () => {
      const data = pdf(400);
      const f = (await upload(srv, st2, 'old.pdf', data)).json();
      const keep = (await upload(srv, st2, 'new.pdf', pdf(400))).json();
      const old = Date.now() - 400 * 86400000;
      sqlRun(srv, `UPDATE files SET created_at = ${old} WHERE id = ${f.id}`);
      const cli = ['--db', srv.dbUrl, '--data-dir', path.join(srv.tmpDir, 'data'), ...be.args, '--files-retention-days', '365'];
      let r = await runCli(['purge', '--dry-run', ...cli], { env: be.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`would purge file ${f.id} `));
      assert.ok(!r.stdout.includes(`file ${keep.id} `));
      assert.equal((await download(srv, st2, f.id)).status, 200);
      r = await runCli(['purge', ...cli], { env: be.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`purged file ${f.id} `));
      assert.equal(spec('GET', FID, 410, await download(srv, st2, f.id)).status, 410);
      const meta = assertJson(spec('GET', META, 200, await st2.api.get(`/api/v1/files/${f.id}/meta`)), 200);
      assert.equal(meta.purged, true);
      assert.equal(meta.name, 'old.pdf');
      assert.equal(meta.size, data.length);
      if (kind === 'local') assert.ok(!localBlobs(filesDir).includes(f.sha256), 'the blob is gone');
      assert.equal((await download(srv, st2, keep.id)).status, 200, 'newer files stay');
    });
  });

  describe(`files faults [${DB}, ${kind}]`, () => {
    test('kill -9 during uploads: no row points at a missing blob; orphans are cleaned at restart', T, async (t) => {
      const filesDir = mkdtempSync(path.join(tmpdir(), 'dnevnik-files-'));
      const be = backendArgs(kind, filesDir);
      const database = freshDatabase(DB);
      const opts = {
        dbUrl: database.url,
        args: [...be.args, '--upload-quota', '0', '--upload-concurrency', '64'],
        env: { ...be.env, DNEVNIK_BOOTSTRAP_ADMIN: 'root:root-password-1' },
      };
      try {
        let srv = await startServer(opts);
        const signIn = async (url) => (await (await fetch(`${url}/api/v1/auth/login`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ login: 'root', password: 'root-password-1' }),
        })).json()).access_token;
        let tok = await signIn(srv.url);
        const uploads = [];
        for (let i = 0; i < 30; i++) {
          uploads.push(upload(srv, { token: tok }, `k${i}.pdf`, Buffer.concat([Buffer.from('%PDF-'), randomBytes(1024 * 1024)]))
            .catch((e) => ({ status: 0, error: e })));
        }
        // kill once the first upload is acknowledged: the rest are mid-way (body, blob or row)
        await Promise.race([Promise.any(uploads.map((p) => p.then((r) => (r.status === 201 ? r : Promise.reject(r))))), sleep(15000)])
          .catch(() => {});
        await srv.stop('SIGKILL', { checkSanitizers: false });
        const results = await Promise.all(uploads);
        const acked = results.filter((r) => r.status === 201).map((r) => r.json());
        t.diagnostic(`${acked.length} of ${uploads.length} uploads were acknowledged before the kill`);
        assert.ok(acked.length >= 1 && acked.length < uploads.length, 'the kill came in the middle of the uploads');
        const planted = 'f'.repeat(64);
        if (kind === 'local') {
          // what a kill between the blob's rename and the row's commit leaves, made certain
          mkdirSync(path.join(filesDir, 'ff'), { recursive: true });
          writeFileSync(path.join(filesDir, 'ff', planted), 'orphan');
          mkdirSync(path.join(filesDir, 'tmp'), { recursive: true });
          writeFileSync(path.join(filesDir, 'tmp', 'put.abcdef'), 'partial');
        }
        srv = await startServer(opts);
        tok = await signIn(srv.url); // a new data dir: a new signing key
        try {
          const rows = database.sql('SELECT id, sha256 FROM files WHERE purged_at IS NULL ORDER BY id');
          assert.ok(rows.ok, rows.output);
          const ids = [...rows.output.matchAll(/(\d+)\s*\|\s*([0-9a-f]{64})/g)].map((m) => [Number(m[1]), m[2]]);
          for (const a of acked) assert.ok(ids.some(([id]) => id === a.id), `acknowledged upload ${a.id} is recorded`);
          for (const [id, key] of ids) {
            const d = await download(srv, { token: tok }, id);
            assert.equal(d.status, 200, `file ${id} is readable after the crash`);
            assert.equal(sha(d.body), key);
          }
          if (kind === 'local') {
            const keys = new Set(ids.map(([, k]) => k));
            for (const k of localBlobs(filesDir)) assert.ok(keys.has(k), `orphan blob ${k} was removed at restart`);
            assert.ok(!localBlobs(filesDir).includes(planted));
            const tmp = path.join(filesDir, 'tmp');
            assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], 'no temp files left');
          }
        } finally {
          await srv.stop();
        }
      } finally {
        database.cleanup();
        rmSync(filesDir, { recursive: true, force: true });
      }
    });
  });
}

describe(`files: S3 outage [${DB}]`, () => {
  test('an unreachable S3 gives 503 + Retry-After and records nothing', T, async () => {
    const srv = await startSchoolServer({
      args: ['--files-backend', 's3', '--s3-endpoint', 'http://127.0.0.1:9', '--s3-bucket', 'nope', '--upload-concurrency', '1'],
      env: { DNEVNIK_S3_ACCESS_KEY: 'k', DNEVNIK_S3_SECRET_KEY: 's' },
    });
    try {
      const s = await createSchool(srv, { teachers: 1, students: 1, parents: 0 });
      const first = upload(srv, s.students[0], 'a.pdf', pdf());
      await sleep(400); // the first is now retrying S3 (about 2 s): the only upload slot is taken
      const second = await upload(srv, s.teachers[0], 'b.pdf', pdf());
      assert.equal(second.status, 503);
      spec('POST', F, 503, second);
      assert.match(second.json().detail, /too many/, 'the upload cap answers before the body is handled');
      assert.ok(Number(second.headers['retry-after']) > 0);
      const r = await first;
      assert.equal(r.status, 503);
      spec('POST', F, 503, r);
      assert.match(r.json().detail, /file store is unavailable/);
      assert.ok(Number(r.headers['retry-after']) > 0);
      assert.equal(sqlInt(sqlRun(srv, 'SELECT COUNT(*) FROM files')), 0);
    } finally {
      await srv.stop();
    }
  });
});
