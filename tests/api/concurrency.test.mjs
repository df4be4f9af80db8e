// Concurrency: many keep-alive clients whose requests hop from both event
// loops to the store workers and back at once. This once corrupted h2o's
// per-thread buffer caches (the loops' wake-up sockets were created on the
// main thread and so shared its cache): the sanitizer build then reported a
// heap-use-after-free and the normal build crashed. The harness fails the
// test if the server prints any sanitizer report or dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { DB, serverFor } from './lib/server.mjs';

const T = { timeout: 180000 };

test(`many concurrent keep-alive clients through the worker pool [${DB}]`, T, async (t) => {
  const srv = await serverFor(t, { args: ['--threads', '2', '--access-log', ''] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const get = (path) =>
    new Promise((resolve, reject) => {
      const req = http.get(`${srv.url}${path}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
    });
  const statuses = new Map();
  // mostly /readyz: it runs on a store worker, so every request wakes a loop
  const paths = ['/readyz', '/readyz', '/readyz', '/api/v1/nope'];
  const workers = Array.from({ length: 64 }, async (_, w) => {
    for (let i = 0; i < 1000; i++) {
      const s = await get(paths[(w + i) % paths.length]);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
  });
  await Promise.all(workers);
  agent.destroy();
  assert.deepEqual([...statuses.keys()].sort(), [200, 404], `unexpected statuses: ${[...statuses]}`);
  assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), 64 * 1000);
  assert.equal(srv.proc.exitCode, null, 'the server is still running');
});
