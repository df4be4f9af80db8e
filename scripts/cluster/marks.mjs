// marks.mjs - write N lesson marks through the API and print how many were acknowledged.
//
//   node scripts/cluster/marks.mjs BASE_URL PLAN.json PREFIX N
//
// PLAN.json comes from scripts/cluster/plan.sql. Mark i goes to a distinct
// (lesson, student) cell of the first teacher with kind "homework" and comment
// PREFIX-i, so the database can be asked afterwards which of them it holds
// (the point-in-time recovery test, tests/suites/55-pitr.sh). Exit 1 if any write failed.
import { readFileSync } from 'node:fs';

const [base, planFile, prefix, nText] = process.argv.slice(2);
const n = Number(nText);
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const t = plan.teachers[0];
const r = await fetch(`${base}/api/v1/auth/login`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ login: t.login, password: plan.password }),
});
if (r.status !== 200) { console.error(`marks: sign-in failed: ${r.status}`); process.exit(1); }
const token = (await r.json()).access_token;
const cells = t.lessons.flatMap((l) => l.students.map((s) => [l.id, s]));
const offset = Math.floor(Math.random() * Math.max(1, cells.length - n));
let acked = 0;
for (let i = 0; i < n; i++) {
  const [lesson, student] = cells[offset + i];
  const res = await fetch(`${base}/api/v1/lessons/${lesson}/marks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': `${prefix}-${i}` },
    body: JSON.stringify({ student_id: student, value: 2 + (i % 4), kind: 'homework', comment: `${prefix}-${i}` }),
  });
  if (res.status >= 200 && res.status < 300) acked++;
  else console.error(`marks: ${prefix}-${i}: ${res.status} ${await res.text()}`);
}
console.log(acked);
process.exit(acked === n ? 0 : 1);
