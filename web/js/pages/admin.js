// admin.js - the school admin's pages: CSV import (a dry run first, with
// the errors per line), accounts (reset a password, block), and the
// school's classes, subjects, teachers and assignments.
import { T } from '../../i18n/ru.js';
import { h, show, field, note } from '../dom.js';
import { api, schoolOf } from '../api.js';

// "rows[3].login" / "line 4" → the CSV line a field error is about, when known.
function lineOf(e) {
  if (e.line) return e.line;
  const m = /(?:line|строка)\s*(\d+)/i.exec(`${e.field} ${e.message}`) || /^(?:rows?|lines?)\[(\d+)\]/.exec(e.field || '');
  return m ? Number(m[1]) : null;
}

export async function importPage(main, q, me) {
  const school = schoolOf(me);
  const file = h('input', { type: 'file', accept: '.csv,text/csv' });
  const text = h('textarea.mono', { rows: 8, spellcheck: false });
  const out = h('div', { 'aria-live': 'polite' });
  let checked = null;
  const doBtn = h('button.primary', { type: 'button', disabled: true }, T.doImport);
  file.addEventListener('change', async () => { if (file.files[0]) { text.value = await file.files[0].text(); doBtn.disabled = true; } });
  text.addEventListener('input', () => { doBtn.disabled = true; });

  async function run(dry) {
    out.replaceChildren(h('p.loading', T.loading));
    try {
      const r = await api('POST', `/api/v1/schools/${school}/import${dry ? '?dry_run=1' : ''}`, text.value, 'text/csv');
      checked = text.value;
      doBtn.disabled = !dry;
      out.replaceChildren(note(dry ? T.importOk : T.imported),
        h('p', `${T.counts}: `, Object.entries(r.counts).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || '—'),
        r.users.length ? h('table.list', h('thead', h('tr', [T.line, T.type, T.login, T.student, T.inviteCode].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', r.users.map((u) => h('tr', h('td', String(u.line)), h('td', T.roles[u.type] || u.type), h('td', u.login),
            h('td', `${u.last_name} ${u.first_name}`), h('td.mono', u.invite_code))))) :
          h('table.list', h('thead', h('tr', [T.line, T.type, T.login].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', r.rows.map((row) => h('tr', h('td', String(row.line)), h('td', T.roles[row.type] || row.type), h('td', row.login || ''))))));
    } catch (e) {
      doBtn.disabled = true;
      if (e.status === 422 && e.fields.length) {
        out.replaceChildren(h('div.note.error', { role: 'alert' }, h('p', T.importErrors),
          h('ul.errors', e.fields.map((f) => {
            const n = lineOf(f);
            const text = /[А-Яа-яЁё]/.test(f.message) ? f.message : T.fieldProblem(T.importFields[f.field] || f.field);
            return h('li', n ? T.lineError(n, text) : text);
          }))));
      } else out.replaceChildren(note(e.message, 'error'));
    }
  }
  doBtn.addEventListener('click', () => { if (checked === text.value) run(false); });
  show(main, h('h1', T.importTitle), h('p.muted', T.importHelp),
    h('div.card', field(T.csvFile, file), field(T.csvText, text),
      h('p.actions', h('button', { type: 'button', on: { click: () => run(true) } }, T.check), doBtn)), out);
}

export async function accountsPage(main, q, me) {
  const school = schoolOf(me);
  const search = h('input', { type: 'search', value: q.get('q') || '' });
  const list = h('div');
  const msg = h('div', { 'aria-live': 'polite' });
  let cursor = null;
  async function load(more) {
    const p = new URLSearchParams({ limit: '50' });
    if (search.value) p.set('q', search.value);
    if (more && cursor) p.set('cursor', cursor);
    const r = await api('GET', `/api/v1/schools/${school}/users?${p}`);
    cursor = r.next_cursor;
    const rows = r.items.map((u) => h('tr', h('td', u.login), h('td', `${u.last_name} ${u.first_name} ${u.middle_name}`),
      h('td', u.blocked ? T.isBlocked : ''),
      h('td.actions',
        h('button', { type: 'button', on: { click: () => act(async () => { const x = await api('POST', `/api/v1/users/${u.id}/reset-password`); return T.tempPassword(x.initial_password); }) } }, T.resetPassword),
        h('button', { type: 'button', on: { click: () => act(async () => { await api('PATCH', `/api/v1/users/${u.id}`, { blocked: !u.blocked }); await load(false); return T.saved; }) } }, u.blocked ? T.unblock : T.block))));
    const table = list.querySelector('tbody');
    if (more && table) table.append(...rows);
    else list.replaceChildren(rows.length ? h('table.list', h('thead', h('tr', [T.login, T.student, '', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', rows)) : note(T.noUsers));
    moreBtn.hidden = !cursor;
  }
  async function act(fn) { try { msg.replaceChildren(note(await fn())); } catch (e) { msg.replaceChildren(note(e.message, 'error')); } }
  const moreBtn = h('button', { type: 'button', on: { click: () => load(true) } }, T.more);
  show(main, h('h1', T.accountsTitle),
    h('form.inline', { on: { submit: (ev) => { ev.preventDefault(); load(false).catch((e) => msg.replaceChildren(note(e.message, 'error'))); } } },
      field(T.search, search), h('button', { type: 'submit' }, T.find)), msg, list, moreBtn);
  await load(false);
}

export async function schoolPage(main, q, me) {
  const school = schoolOf(me);
  const [cls, subj, teachers, as] = await Promise.all([
    api('GET', `/api/v1/schools/${school}/classes`),
    api('GET', `/api/v1/schools/${school}/subjects`),
    api('GET', `/api/v1/schools/${school}/users?role=teacher&limit=500`),
    api('GET', `/api/v1/schools/${school}/assignments`),
  ]);
  const cname = new Map(cls.items.map((c) => [c.id, c.name]));
  const section = (title, items) => h('section.card', h('h2', `${title} (${items.length})`), items.length ? h('ul.cols', items.map((t) => h('li', t))) : h('p.muted', '—'));
  show(main, h('h1', T.schoolTitle),
    section(T.classes, cls.items.map((c) => c.name)),
    section(T.subjects, subj.items.map((s) => s.name)),
    section(T.teachers, teachers.items.map((t) => `${t.last_name} ${t.first_name} ${t.middle_name}`)),
    section(T.assignments, as.items.map((a) => `${cname.get(a.class_id) || a.class_id} · ${a.subject_name} — ${a.teacher_name}`)));
}
