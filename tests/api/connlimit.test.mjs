// Per-address connection limit (--max-connections-per-address): connections
// beyond the limit from one address are closed at once without a response
// and counted in /metrics; other addresses are unaffected; closing
// connections frees their slots; 0 turns the limit off. Loopback aliases
// (127.0.0.2, ...) stand in for distinct clients.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DB, metricSum, request, sleep, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };

/** Open a connection from localAddress; resolves once connected, records when the server closes it. */
function open(port, localAddress) {
  return new Promise((resolve, reject) => {
    const c = { closedAt: null, data: '' };
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    c.sock = sock;
    sock.on('data', (d) => (c.data += d.toString('latin1')));
    sock.on('end', () => (c.closedAt ??= Date.now()));
    sock.on('close', () => (c.closedAt ??= Date.now()));
    sock.on('error', (e) => (e.code === 'ECONNREFUSED' ? reject(e) : (c.closedAt ??= Date.now())));
    sock.on('connect', () => resolve(c));
  });
}

/** A complete request on a held connection: status, or null if the server closed it. */
function ask(c, path = '/healthz') {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(c.data);
      if (m || c.closedAt != null) {
        clearInterval(t);
        resolve(m ? Number(m[1]) : null);
      }
    }, 10);
    if (c.closedAt == null) c.sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

const rejected = async (srv) =>
  metricSum((await request(`${srv.url}/metrics`)).text, 'dnevnik_http_connections_rejected_total\\{reason="per_address"\\}') ?? 0;

describe(`per-address connection limit [${DB}]`, () => {
  test('beyond the limit: closed at once, counted; other addresses unaffected; slots come back', T, async () => {
    const LIMIT = 8;
    const srv = await startServer({ args: ['--max-connections-per-address', String(LIMIT), '--request-timeout', '30000'] });
    const conns = [];
    try {
      // LIMIT + 4 connections from one address. Which ones the server refuses depends on
      // which loop accepts first (SO_REUSEPORT), so count: exactly 4 closed, LIMIT open.
      const all = [];
      for (let i = 0; i < LIMIT + 4; i++) all.push(await open(srv.port, '127.0.0.9'));
      const closed = () => all.filter((c) => c.closedAt != null);
      for (let i = 0; i < 500 && closed().length < 4; i++) await sleep(20); // up to 10 s on a loaded machine
      await sleep(300);
      assert.equal(closed().length, 4, 'connections over the limit must be closed');
      assert.deepEqual(closed().map((c) => c.data), ['', '', '', ''], 'closed without a response');
      conns.push(...all.filter((c) => c.closedAt == null));
      // The ones within the limit work.
      for (const c of conns) assert.equal(await ask(c), 200);
      assert.equal(await rejected(srv), 4);
      const openNow = async () => metricSum((await request(`${srv.url}/metrics`)).text, 'dnevnik_http_connections_open');
      // Another address is not affected.
      const other = await open(srv.port, '127.0.0.10');
      assert.equal(await ask(other), 200);
      other.sock.destroy();
      // Closing frees the slots of 127.0.0.9.
      for (const c of conns.splice(0, 3)) c.sock.destroy();
      for (let i = 0; i < 250 && (await openNow()) !== LIMIT - 3 + 1; i++) await sleep(20);
      for (let i = 0; i < 3; i++) conns.push(await open(srv.port, '127.0.0.9'));
      for (const c of conns.slice(-3)) assert.equal(await ask(c), 200);
      const over = await open(srv.port, '127.0.0.9');
      assert.equal(await ask(over), null);
      assert.equal(await rejected(srv), 5);
      assert.equal(await openNow(), LIMIT + 1, 'the held connections plus the /metrics request');
      // Every close, accepted or rejected, gives its slot back: only the /metrics request remains.
      for (const c of conns.splice(0)) c.sock.destroy();
      over.sock.destroy();
      let n = null;
      for (let i = 0; i < 50 && n !== 1; i++) {
        await sleep(20);
        n = await openNow();
      }
      assert.equal(n, 1);
    } finally {
      for (const c of conns) c.sock.destroy();
      const { code } = await srv.stop();
      assert.equal(code, 0);
    }
  });

  test('0 turns the limit off', T, async () => {
    const srv = await startServer({ args: ['--max-connections-per-address', '0'] });
    const conns = [];
    try {
      for (let i = 0; i < 40; i++) conns.push(await open(srv.port, '127.0.0.11'));
      for (const c of conns) assert.equal(await ask(c), 200);
      assert.equal(await rejected(srv), 0);
    } finally {
      for (const c of conns) c.sock.destroy();
      const { code } = await srv.stop();
      assert.equal(code, 0);
    }
  });
});
