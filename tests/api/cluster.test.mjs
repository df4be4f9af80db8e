// App-side high availability (issue 7), against real engines started here:
//  - a PostgreSQL restart between requests: the next requests work (the node
//    reconnects by itself) and /readyz follows the store;
//  - reads from a streaming replica (pg_basebackup -R) with read-your-own-
//    writes, and the fallback to the primary when the replica is down;
//  - Redis shared by two server processes: rate limits, a block on node A
//    refused on node B at once, and both nodes keep working when Redis dies;
//  - service roles (--services works).
// The PostgreSQL parts start their own throwaway clusters
// (scripts/pg-test-cluster.sh) and run when DN_DB=pg; the rest runs always.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DB, ROOT, metricSum, promtoolCheck, request, sleep, startServer, psql } from './lib/server.mjs';
import { client, createSchool, signIn, startSchoolServer, SYSADMIN_LOGIN, SYSADMIN_PASSWORD } from './lib/fixture.mjs';

const PGBIN = process.env.PG_BINDIR || '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;
const JWT_KEY = randomBytes(32).toString('hex'); // both nodes of a test verify each other's tokens

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}
const asPg = (cmd, args) => (isRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
const pgCtl = (dir, ...args) => asPg(`${PGBIN}/pg_ctl`, ['-D', `${dir}/data`, '-w', '-t', '60', '-s', ...args]);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A throwaway cluster: {dir, url, port, db(name) → url of a new database, destroy()}. */
function pgCluster() {
  const dir = mkdtempSync('/tmp/dn-ha-pg-');
  const url = run(path.join(ROOT, 'scripts/pg-test-cluster.sh'), ['start', dir]).trim();
  const port = Number(new URL(url).port);
  return {
    dir,
    url,
    port,
    db(name) {
      const r = psql(url, `CREATE DATABASE ${name}`);
      if (!r.ok) throw new Error(r.output);
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    destroy() {
      spawnSync(path.join(ROOT, 'scripts/pg-test-cluster.sh'), ['destroy', dir]);
    },
  };
}

/** A streaming replica of primary (pg_basebackup -R), on its own port: {dir, port, url(db), stop(), destroy()}. */
async function pgReplica(primary) {
  asPg('sh', ['-c', `echo 'host replication all 127.0.0.1/32 trust' >> '${primary.dir}/data/pg_hba.conf'`]);
  pgCtl(primary.dir, 'reload');
  const dir = mkdtempSync('/tmp/dn-ha-rep-');
  mkdirSync(`${dir}/sock`);
  if (isRoot) {
    const id = Number(run('id', ['-u', 'postgres']).trim());
    const gid = Number(run('id', ['-g', 'postgres']).trim());
    chownSync(dir, id, gid);
    chownSync(`${dir}/sock`, id, gid);
  }
  chmodSync(dir, 0o700);
  asPg(`${PGBIN}/pg_basebackup`, ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', `${dir}/data`,
    '-R', '-X', 'stream', '-c', 'fast']);
  const port = await freePort();
  const conf = `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}/sock'\n` +
    `hot_standby = on\nmax_connections = 300\nshared_buffers = '64MB'\n`;
  writeFileSync(`${dir}/conf.tmp`, conf);
  asPg('cp', [`${dir}/conf.tmp`, `${dir}/data/dnevnik-test.conf`]);
  pgCtl(dir, '-l', `${dir}/postgres.log`, 'start');
  return {
    dir,
    port,
    url(dbUrl) {
      const u = new URL(dbUrl);
      u.port = String(port);
      return u.toString();
    },
    stop() {
      pgCtl(dir, '-m', 'immediate', 'stop');
    },
    destroy() {
      spawnSync(isRoot ? 'runuser' : `${PGBIN}/pg_ctl`,
        isRoot ? ['-u', 'postgres', '--', `${PGBIN}/pg_ctl`, '-D', `${dir}/data`, '-m', 'immediate', 'stop']
          : ['-D', `${dir}/data`, '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** redis-server on a free port: {url, kill()}. */
async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const pong = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
      s.on('error', () => resolve(false));
    });
    if (pong) break;
    await sleep(100);
  }
  let dead = false;
  return {
    url: `redis://127.0.0.1:${port}/0`,
    kill() {
      if (!dead) {
        dead = true;
        proc.kill('SIGKILL');
      }
    },
  };
}

const pgOnly = DB === 'pg' ? {} : { skip: 'starts its own PostgreSQL clusters; runs with DN_DB=pg' };

test('a PostgreSQL restart between requests: the next requests work, /readyz follows the store', { ...pgOnly, timeout: 180000 }, async (t) => {
  const pg = pgCluster();
  t.after(() => pg.destroy());
  const srv = await startSchoolServer({ db: 'pg', dbUrl: pg.db('dn_restart'), args: ['--workers', '3'] });
  t.after(() => srv.stop());
  const root = await signIn(srv.url, SYSADMIN_LOGIN, SYSADMIN_PASSWORD);
  // touch every worker's session first, so each one holds a connection that the restart kills
  for (let i = 0; i < 6; i++) assert.equal((await root.api.get('/api/v1/regions')).status, 200);

  pgCtl(pg.dir, '-m', 'fast', '-l', `${pg.dir}/postgres.log`, 'restart');
  for (let i = 0; i < 6; i++) {
    const r = await root.api.get('/api/v1/regions');
    assert.equal(r.status, 200, `read ${i} after the restart: ${r.status} ${r.text}`);
  }
  const w = await root.api.post('/api/v1/regions', { name: 'После рестарта' });
  assert.equal(w.status, 201, `a write after the restart: ${w.text}`);
  assert.equal((await request(`${srv.url}/readyz`)).status, 200);

  // the store is gone: readiness fails, requests fail cleanly; it is back: everything works again
  pgCtl(pg.dir, '-m', 'fast', 'stop');
  assert.equal((await request(`${srv.url}/readyz`)).status, 503);
  assert.equal((await root.api.get('/api/v1/regions')).status, 503);
  pgCtl(pg.dir, '-l', `${pg.dir}/postgres.log`, 'start');
  for (let i = 0; i < 6; i++) assert.equal((await request(`${srv.url}/readyz`)).status, 200);
  const regions = await root.api.get('/api/v1/regions');
  assert.equal(regions.status, 200);
  assert.ok(regions.text.includes('После рестарта'));
});

async function waitReplayed(primaryUrl, replicaUrl) {
  const lsn = psql(primaryUrl, 'SELECT pg_current_wal_lsn()').output.match(/[0-9A-F]+\/[0-9A-F]+/)[0];
  for (let i = 0; i < 200; i++) {
    const r = psql(replicaUrl, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`);
    if (/\bt\b/.test(r.output)) return;
    await sleep(50);
  }
  throw new Error('the replica did not catch up');
}

const lastNames = async (api, schoolId) =>
  (await api.get(`/api/v1/schools/${schoolId}/users?limit=100`)).json().items?.map((u) => u.last_name) ?? [];

/**
 * A TCP relay to PostgreSQL that can cut the line the way a partition behind
 * HAProxy does: after cut(), every session open then stays open on both
 * ends but nothing passes any more, for ever; sessions opened after heal()
 * work again.
 */
function blackholeRelay(targetPort) {
  let cut = false;
  const pairs = new Set();
  const server = net.createServer((down) => {
    const pair = { dead: cut, down, up: net.connect(targetPort, '127.0.0.1') };
    pairs.add(pair);
    down.on('data', (d) => { if (!pair.dead) pair.up.write(d); });
    pair.up.on('data', (d) => { if (!pair.dead) down.write(d); });
    const end = () => { pairs.delete(pair); down.destroy(); pair.up.destroy(); };
    down.on('error', end); pair.up.on('error', end); down.on('close', end); pair.up.on('close', end);
  });
  return {
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port))),
    cut() { cut = true; for (const p of pairs) p.dead = true; },
    heal() { cut = false; },
    close() { for (const p of pairs) { p.down.destroy(); p.up.destroy(); } server.close(); },
  };
}

// Regression (the topology test's site cut): a session whose server vanished
// behind a proxy that keeps the connection open got no answer and no error,
// and the worker waited in libpq for ever. --db-timeout bounds the wait.
test('a half-open PostgreSQL session (partition behind a proxy): the request ends, the node reconnects', { ...pgOnly, timeout: 120000 }, async (t) => {
  const pg = pgCluster();
  t.after(() => pg.destroy());
  const relay = blackholeRelay(pg.port);
  const relayPort = await relay.listen();
  t.after(() => relay.close());
  const u = new URL(pg.db('dn_partition'));
  u.port = String(relayPort);
  const srv = await startSchoolServer({ db: 'pg', dbUrl: u.toString(), args: ['--workers', '1', '--db-timeout', '1500'] });
  t.after(() => srv.stop());
  const root = await signIn(srv.url, SYSADMIN_LOGIN, SYSADMIN_PASSWORD);
  assert.equal((await root.api.get('/api/v1/regions')).status, 200);

  relay.cut();
  const pending = request(`${srv.url}/api/v1/regions`, { headers: { authorization: `Bearer ${root.token}` }, timeoutMs: 60000 });
  await sleep(3000);
  relay.heal(); // new sessions pass again; the old one stays dead, as HAProxy kept it
  const r = await pending; // without the bound this never came back: the only worker waited for ever
  assert.ok(r.status === 200 || r.status === 503, `a clean answer, got ${r.status} ${r.text}`);
  for (let i = 0; i < 3; i++) {
    const again = await root.api.get('/api/v1/regions');
    assert.equal(again.status, 200, `read ${i} after the partition healed: ${again.status} ${again.text}`);
  }
  const w = await root.api.post('/api/v1/regions', { name: 'После разрыва' });
  assert.equal(w.status, 201, `a write after the partition healed: ${w.text}`);
});

// Regression (topology test: "lessons:500" during a failover): a page whose
// statement was first prepared on a session that had just been lost answered
// 500 (a server bug) instead of 503 (retry), because the domain returned
// DN_EDB for every failed prepare. The teacher's token is still in the 5 s
// auth cache, so the first statement to touch the store is the page's own.
test('the store gone between requests: a page that must prepare its statement answers 503, not 500', { ...pgOnly, timeout: 180000 }, async (t) => {
  const pg = pgCluster();
  t.after(() => pg.destroy());
  const srv = await startSchoolServer({ db: 'pg', dbUrl: pg.db('dn_prepare_lost'), args: ['--workers', '1'] });
  t.after(() => srv.stop());
  const s = await createSchool(srv);
  const teacher = s.teachers[0];
  assert.equal((await teacher.api.get('/api/v1/me')).status, 200); // warms the auth cache
  pgCtl(pg.dir, '-m', 'immediate', 'stop');
  const r = await teacher.api.get('/api/v1/me/lessons');
  assert.equal(r.status, 503, `with the store gone: ${r.status} ${r.text}`);
});

test('replica reads, read-your-own-writes, and the primary when the replica is down', { ...pgOnly, timeout: 240000 }, async (t) => {
  const pg = pgCluster();
  t.after(() => pg.destroy());
  const dbUrl = pg.db('dn_replica');
  const replica = await pgReplica(pg);
  t.after(() => replica.destroy());
  const srv = await startSchoolServer({
    db: 'pg', dbUrl, args: ['--db-replica', replica.url(dbUrl), '--read-your-writes', '1500', '--workers', '2'],
  });
  t.after(() => srv.stop());
  const s = await createSchool(srv, { teachers: 1, students: 1, parents: 0 });
  const student = s.students[0];
  await sleep(1600); // every writer's window has passed
  await waitReplayed(dbUrl, replica.url(dbUrl));

  const before = await lastNames(s.sysadmin.api, s.schoolId);
  assert.ok(before.length >= 3, `users listed: ${before}`);
  // freeze the replica: from now on it is visibly stale
  assert.ok(psql(replica.url(dbUrl), 'SELECT pg_wal_replay_pause()').ok);
  const w = await s.admin.api.patch(`/api/v1/users/${student.id}`, { last_name: 'Новикова' });
  assert.equal(w.status, 200, w.text);

  assert.ok((await lastNames(s.admin.api, s.schoolId)).includes('Новикова'), 'the writer reads its write (primary)');
  assert.ok(!(await lastNames(s.sysadmin.api, s.schoolId)).includes('Новикова'),
    'another user reads the (paused) replica');
  await sleep(1600);
  assert.ok(!(await lastNames(s.admin.api, s.schoolId)).includes('Новикова'),
    'after --read-your-writes the writer reads the replica again');

  assert.ok(psql(replica.url(dbUrl), 'SELECT pg_wal_replay_resume()').ok);
  await waitReplayed(dbUrl, replica.url(dbUrl));
  assert.ok((await lastNames(s.sysadmin.api, s.schoolId)).includes('Новикова'), 'the replica caught up');
  const replicaMetric = (text) => Number(/^dnevnik_store_reads_total\{server="replica"\} (\d+)/m.exec(text)?.[1]);
  assert.ok(replicaMetric((await request(`${srv.url}/metrics`)).text) >= 3, 'reads were counted on the replica');

  replica.stop();
  for (let i = 0; i < 6; i++) {
    const r = await s.sysadmin.api.get(`/api/v1/schools/${s.schoolId}/users?limit=100`);
    assert.equal(r.status, 200, `read ${i} with the replica down: ${r.text}`);
    assert.ok(r.text.includes('Новикова'));
  }
  assert.equal((await request(`${srv.url}/readyz`)).status, 200, 'readiness is about the primary');
  const m = await request(`${srv.url}/metrics`);
  assert.ok(metricSum(m.text, 'dnevnik_store_replica_failures_total') >= 1, 'the replica outage shows in /metrics');
  const lint = promtoolCheck(m.text);
  assert.equal(lint.code, 0, lint.output);
});

test('Redis shared by two nodes: one rate limit for both', { timeout: 240000 }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.kill());
  const env = { DNEVNIK_JWT_KEY: JWT_KEY, DNEVNIK_RATE_LIMIT: '1:6' }; // 6 per 6 s window, shared
  const a = await startSchoolServer({ env, args: ['--redis', redis.url] });
  t.after(() => a.stop());
  const b = await startServer({ db: a.database?.db ?? DB, dbUrl: a.dbUrl, env, args: ['--redis', redis.url] });
  t.after(() => b.stop());

  // anonymous requests count against the address's shared budget: 4 on A, then B sees the total
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await request(`${a.url}/api/v1/me`)).status);
  for (let i = 0; i < 4; i++) statuses.push((await request(`${b.url}/api/v1/me`)).status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429],
    'node B refuses once both nodes together used the 6 allowed (each alone used at most 4)');
});

test('Redis: a block on node A is refused on node B at once; both nodes work without Redis', { timeout: 240000 }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.kill());
  const env = { DNEVNIK_JWT_KEY: JWT_KEY, DNEVNIK_RATE_LIMIT: '0' };
  const a = await startSchoolServer({ env, args: ['--redis', redis.url] });
  t.after(() => a.stop());
  const b = await startServer({ db: a.database?.db ?? DB, dbUrl: a.dbUrl, env, args: ['--redis', redis.url] });
  t.after(() => b.stop());
  const s = await createSchool(a, { teachers: 1, students: 2, parents: 0 });
  const [victim, other] = s.students;
  const onB = (u) => client(b.url, u.token);
  assert.equal((await onB(victim).get('/api/v1/me')).status, 200, 'A\'s token works on B (one key)');

  // B has just seen the account as usable (its reads trust that for a few seconds); the block on A must win anyway
  assert.equal((await s.admin.api.patch(`/api/v1/users/${victim.id}`, { blocked: true })).status, 200);
  let status = 0;
  for (let i = 0; i < 20 && status !== 401; i++) {
    status = (await onB(victim).get('/api/v1/me')).status;
    if (status !== 401) await sleep(50);
  }
  assert.equal(status, 401, 'node B refuses the blocked user\'s token within a second');
  assert.equal((await onB(other).get('/api/v1/me')).status, 200, 'other users are untouched');

  assert.equal(metricSum((await request(`${a.url}/metrics`)).text, 'dnevnik_redis_up'), 1);
  // Redis dies: both nodes keep serving (limits local, revocation by the store, no shared state)
  redis.kill();
  for (const node of [a, b]) {
    assert.equal((await client(node.url, s.admin.token).get(`/api/v1/schools/${s.schoolId}/users`)).status, 200);
    assert.equal((await client(node.url, other.token).get('/api/v1/me')).status, 200);
    const login = await request(`${node.url}/api/v1/auth/login`, {
      method: 'POST', body: { login: other.login, password: other.password },
    });
    assert.equal(login.status, 200, login.text);
    const w = await client(node.url, s.admin.token).patch(`/api/v1/users/${other.id}`, { middle_name: 'Ивановна' });
    assert.equal(w.status, 200, w.text);
  }
  assert.equal((await onB(victim).get('/api/v1/me')).status, 401, 'the block still holds (store check)');
  const m = (await request(`${b.url}/metrics`)).text;
  assert.ok(metricSum(m, 'dnevnik_redis_failures_total') >= 1, 'the outage shows in /metrics');
});

test('--services works: only the works routes, health and metrics; the journal and sign-in are 404', async (t) => {
  const srv = await startServer({ args: ['--services', 'works'] });
  t.after(() => srv.stop());
  assert.equal((await request(`${srv.url}/healthz`)).status, 200);
  assert.equal((await request(`${srv.url}/readyz`)).status, 200);
  assert.equal((await request(`${srv.url}/metrics`)).status, 200);
  assert.equal((await request(`${srv.url}/api/v1/works/1`)).status, 401, 'a works route exists (needs a token)');
  assert.equal((await request(`${srv.url}/api/v1/checkpoints/1/works`)).status, 401);
  assert.equal((await request(`${srv.url}/api/v1/classes/1/journal`)).status, 404, 'the journal is another role');
  assert.equal((await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: {} })).status, 404);
  const bad = await startServer({ args: ['--services', 'journal'] }).catch((e) => e);
  assert.ok(bad instanceof Error && /--services/.test(bad.message), 'an unknown role is a start-up error');
});
