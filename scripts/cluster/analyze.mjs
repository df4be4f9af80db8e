// analyze.mjs - figures from the cluster load's events (load.mjs) for 50-cluster.sh.
//
//   node analyze.mjs window EVENTS T0_MS T1_MS      failures and recovery around an event at T0
//   node analyze.mjs verify EVENTS DUMP_DIR UNTIL_MS acknowledged writes vs the database dump
//
// window prints JSON:
//   reads, reads_failed          reads of users who did not just write
//   ryw_reads, ryw_reads_failed  reads of the writing users, which dnevnik sends to the
//                                primary for a while after their write (read-your-own-writes)
//   write_attempts(_failed), writes_gaveup
//   writes_back_ms   the first acknowledgment after the last failed write attempt in the
//                    window, minus T0 (acknowledgments in the few ms before the fault
//                    takes effect do not count)
//   reads_back_ms    end of the last failed read minus T0 (0 if none)
//   inflight_at_t0   requests started before T0 and ended after it: the most that may
//                    fail when one node dies
//   late_failures    failed requests that started more than 1 s after T0
//   max_write_ms     the longest acknowledged attempt in the window
// verify reads DUMP_DIR/{marks,comments,audit}.txt (lines of the database holding the
// run's keys) and prints JSON: acked, present, lost (acked but absent, with keys),
// duplicated (a key applied more than once: two copies of a work comment, or two
// audit rows for one mark write), replayed (retries answered from the server's
// idempotency record: an earlier attempt had committed but its answer was lost).
import { readFileSync } from 'node:fs';

const [cmd, eventsFile, a, b] = process.argv.slice(2);
const events = readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  try { return JSON.parse(l); } catch { return null; } // the writer may be mid-line
}).filter(Boolean);
const isRead = (e) => ['week', 'marks', 'lessons', 'journal'].includes(e.op);
const isWrite = (e) => e.op === 'mark' || e.op === 'comment';

if (cmd === 'window') {
  const t0 = Number(a), t1 = Number(b);
  const inWin = events.filter((e) => e.t1 >= t0 && e.t0 <= t1);
  const allReads = inWin.filter(isRead), writes = inWin.filter(isWrite);
  const reads = allReads.filter((e) => !e.ryw), rywReads = allReads.filter((e) => e.ryw);
  const failedReads = reads.filter((e) => !e.ok), failedWrites = writes.filter((e) => !e.ok);
  // writes are back at the first acknowledgment after the last failed write attempt
  // (acknowledgments in the few ms between T0 and the fault taking effect do not count)
  const lastFailedWrite = failedWrites.length ? Math.max(...failedWrites.map((e) => e.t1)) : t0;
  const acksAfter = events.filter((e) => isWrite(e) && e.ok && e.t0 >= t0 && e.t1 > lastFailedWrite).map((e) => e.t1);
  const firstAck = acksAfter.length ? Math.min(...acksAfter) : null;
  const lastFailedRead = failedReads.length ? Math.max(...failedReads.map((e) => e.t1)) : null;
  const errs = {};
  for (const e of [...allReads.filter((x) => !x.ok), ...failedWrites]) {
    const k = `${e.op}:${e.status}:${e.err || ''}`;
    errs[k] = (errs[k] || 0) + 1;
  }
  console.log(JSON.stringify({
    reads: reads.length, reads_failed: failedReads.length,
    ryw_reads: rywReads.length, ryw_reads_failed: rywReads.filter((e) => !e.ok).length,
    write_attempts: writes.length, write_attempts_failed: failedWrites.length,
    writes_gaveup: inWin.filter((e) => e.op.endsWith('-gaveup')).length,
    writes_back_ms: firstAck === null ? null : Math.max(0, firstAck - t0),
    reads_back_ms: lastFailedRead === null ? 0 : Math.max(0, lastFailedRead - t0),
    inflight_at_t0: events.filter((e) => (isRead(e) || isWrite(e)) && e.t0 < t0 && e.t1 > t0).length,
    late_failures: [...allReads.filter((x) => !x.ok), ...failedWrites].filter((e) => e.t0 > t0 + 1000).length,
    max_write_ms: Math.max(0, ...writes.filter((e) => e.ok).map((e) => e.t1 - e.t0)),
    errors: errs,
  }));
} else if (cmd === 'verify') {
  const until = Number(b || Infinity);
  const acks = events.filter((e) => isWrite(e) && e.ok && e.t1 <= until).map((e) => e.ack);
  const count = (file) => {
    const m = new Map();
    let text = '';
    try { text = readFileSync(`${a}/${file}`, 'utf8'); } catch { return m; }
    for (const x of text.matchAll(/(cl-[0-9A-Za-z]+-\d+)(?![0-9])/g)) m.set(x[1], (m.get(x[1]) || 0) + 1);
    return m;
  };
  const marks = count('marks.txt'), comments = count('comments.txt'), audit = count('audit.txt');
  const lost = [], dup = [];
  for (const k of acks) {
    const n = k.type === 'mark' ? (marks.get(k.key) || 0) : (comments.get(k.key) || 0);
    if (n === 0) lost.push(k.key);
  }
  // every key the run sent (acknowledged or not) must be applied at most once
  for (const [key, n] of comments) if (n > 1) dup.push(`${key}x${n}`);
  for (const [key, n] of audit) if (n > 1) dup.push(`${key}x${n}`);
  const replayed = events.filter((e) => isWrite(e) && e.ok && e.replayed && e.t1 <= until).length;
  console.log(JSON.stringify({
    acked: acks.length, replayed, present: acks.length - lost.length, lost: lost.length, duplicated: dup.length,
    lost_keys: lost.slice(0, 10), dup_keys: dup.slice(0, 10),
    unacked_but_present: [...marks.keys(), ...comments.keys()].length - (acks.length - lost.length),
  }));
} else {
  console.error('usage: analyze.mjs window EVENTS T0 T1 | verify EVENTS DUMP_DIR [UNTIL_MS]');
  process.exit(2);
}
