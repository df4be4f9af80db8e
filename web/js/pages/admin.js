// admin.js - the school admin's pages: CSV import (a dry run first, with
// the errors per line), accounts (reset a password, block), and the
// school's classes, subjects, people and assignments with forms that create
// them (the API's field errors are shown next to their fields), and the
// weekly timetable editor of a class.
import { T, ruError } from '../../i18n/ru.js';
import { h, show, field, efield, fieldErrors, note, isoToday } from '../dom.js';
import { api, schoolOf } from '../api.js';
import { go } from '../app.js';

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

let setupNote = null; // what the last create said, shown once after the page redraws

// A create form: fn() sends it and returns the message to show; errors go
// next to their fields (alias maps an API field to the field that shows it).
function setupForm(title, fields, fn, conflictText, alias = {}) {
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button.primary', { type: 'submit' }, T.add);
  const form = h('form.card', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        btn.disabled = true;
        msg.replaceChildren();
        try {
          setupNote = await fn();
          go(location.pathname + location.search, true);
        } catch (e) {
          const errs = e.fields.map((x) => ({ ...x, field: alias[x.field] || x.field }));
          const rest = fieldErrors(form, errs, ruError);
          const text = rest.length ? rest.map((x) => ruError(x.message)).join(' ')
            : errs.length ? T.fixFields : e.status === 409 ? conflictText : e.message;
          msg.replaceChildren(note(text, 'error'));
          btn.disabled = false;
        }
      },
    },
  }, h('h2', title), fields, msg, btn);
  return form;
}

const options = (items, text) => [h('option', { value: '' }, T.choose), ...items.map((x) => h('option', { value: String(x.id) }, text(x)))];
const fullName = (u) => `${u.last_name} ${u.first_name} ${u.middle_name || ''}`.trim();
const idOf = (sel) => (sel.value ? Number(sel.value) : undefined);

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
  const base = `/api/v1/schools/${school}`;

  const grade = h('input', { type: 'number', min: 1, max: 11, required: true, inputMode: 'numeric' });
  const letter = h('input', { required: true, maxLength: 8, autocomplete: 'off' });
  const head = h('select', h('option', { value: '' }, T.nobody), teachers.items.map((t) => h('option', { value: String(t.id) }, fullName(t))));
  const classForm = setupForm(T.newClass, [efield(T.grade, grade, 'grade'), efield(T.letter, letter, 'letter'), efield(T.classTeacher, head, 'class_teacher_id')],
    async () => {
      const c = await api('POST', `${base}/classes`, { grade: Number(grade.value) || null, letter: letter.value.trim(), class_teacher_id: idOf(head) });
      return `${T.created} ${c.name}`;
    }, T.classExists, { start_year: 'grade' });

  const sname = h('input', { required: true, maxLength: 200, autocomplete: 'off' });
  const subjectForm = setupForm(T.newSubject, [efield(T.subjectName, sname, 'name')],
    async () => { const x = await api('POST', `${base}/subjects`, { name: sname.value.trim() }); return `${T.created} ${x.name}`; }, T.subjectExists);

  const last = h('input', { required: true, maxLength: 100, autocomplete: 'off' });
  const first = h('input', { required: true, maxLength: 100, autocomplete: 'off' });
  const middle = h('input', { maxLength: 100, autocomplete: 'off' });
  const login = h('input', { maxLength: 64, autocomplete: 'off', autocapitalize: 'none' });
  const roleBoxes = ['teacher', 'student', 'parent', 'admin'].map((r) => h('input', { type: 'checkbox', value: r, checked: r === 'teacher' }));
  const roles = h('fieldset.field.checks', { 'data-key': 'roles' }, h('legend', T.rolesLabel),
    roleBoxes.map((b) => h('label', b, T.roles[b.value])), h('p.field-error', { hidden: true }));
  const personForm = setupForm(T.newPerson, [efield(T.lastName, last, 'last_name'), efield(T.firstName, first, 'first_name'),
    efield(T.middleName, middle, 'middle_name'), efield(T.loginOptional, login, 'login'), roles],
  async () => {
    const u = await api('POST', `${base}/users`, {
      last_name: last.value.trim(), first_name: first.value.trim(), middle_name: middle.value.trim(),
      login: login.value.trim() || undefined, roles: roleBoxes.filter((b) => b.checked).map((b) => b.value),
    });
    return T.createdUser(u.login, u.initial_password);
  }, T.loginTaken);

  const aTeacher = h('select', { required: true }, options(teachers.items, fullName));
  const aClass = h('select', { required: true }, options(cls.items, (c) => c.name));
  const aSubject = h('select', { required: true }, options(subj.items, (x) => x.name));
  const aGroup = h('input', { maxLength: 32, autocomplete: 'off' });
  const assignForm = setupForm(T.newAssignment, [efield(T.teacher, aTeacher, 'teacher_id'), efield(T.classLabel, aClass, 'class_id'),
    efield(T.subject, aSubject, 'subject_id'), efield(T.subgroup, aGroup, 'subgroup')],
  async () => {
    const a = await api('POST', `${base}/assignments`, { teacher_id: idOf(aTeacher), class_id: idOf(aClass), subject_id: idOf(aSubject), subgroup: aGroup.value.trim() });
    return `${T.created} ${cname.get(a.class_id) || ''} · ${a.subject_name} — ${a.teacher_name}`;
  }, T.assignmentExists);

  const done = setupNote;
  setupNote = null;
  show(main, h('h1', T.schoolTitle),
    done ? note(done) : null,
    h('section.card', h('h2', `${T.classes} (${cls.items.length})`),
      cls.items.length ? h('ul.cols', cls.items.map((c) => h('li', c.name, ' · ', h('a', { href: `/app/timetable?class=${c.id}` }, T.timetable)))) : h('p.muted', '—')),
    section(T.subjects, subj.items.map((x) => x.name)),
    section(T.teachers, teachers.items.map(fullName)),
    section(T.assignments, as.items.map((a) => `${cname.get(a.class_id) || a.class_id} · ${a.subject_name} — ${a.teacher_name}${a.subgroup ? ` (${a.subgroup})` : ''}`)),
    h('div.setup', classForm, subjectForm, personForm, assignForm));
}

// The academic year's last school day for a week starting on monday.
function yearEnd(monday) {
  const [y, m] = monday.split('-').map(Number);
  const end = `${m >= 9 ? y + 1 : y}-05-31`;
  return end >= monday ? end : `${y}-08-31`;
}

// The weekly grid of a class: a cell per weekday × lesson number holds one
// slot (an assignment of the class + a room). Slots of further subgroups in
// the same cell are not shown but kept as they are on saving.
export async function timetablePage(main, q, me) {
  const school = schoolOf(me);
  const cid = Number(q.get('class'));
  const [cls, tt, as] = await Promise.all([
    api('GET', `/api/v1/classes/${cid}`),
    api('GET', `/api/v1/classes/${cid}/timetable?date=${q.get('date') || isoToday()}`),
    api('GET', `/api/v1/schools/${school}/assignments?class_id=${cid}`),
  ]);
  const choices = as.items.map((a) => ({ subject_id: a.subject_id, teacher_id: a.teacher_id, subgroup: a.subgroup || '',
    text: `${a.subject_name} — ${a.teacher_name}${a.subgroup ? ` (${a.subgroup})` : ''}` }));
  const cells = new Map();
  const kept = [];
  for (const sl of tt.slots) {
    const key = `${sl.weekday}.${sl.lesson_no}`;
    if (cells.has(key)) { kept.push(sl); continue; }
    let i = choices.findIndex((c) => c.subject_id === sl.subject_id && c.teacher_id === sl.teacher_id && c.subgroup === (sl.subgroup || ''));
    if (i < 0) { choices.push({ subject_id: sl.subject_id, teacher_id: sl.teacher_id, subgroup: sl.subgroup || '', text: `${sl.subject_name} — ${sl.teacher_name}` }); i = choices.length - 1; }
    cells.set(key, { choice: i, room: sl.room || '' });
  }
  const nos = tt.slots.map((x) => x.lesson_no);
  const lo = Math.min(1, ...nos);
  const hi = Math.max(7, ...nos);
  const days = [1, 2, 3, 4, 5, 6];
  const inputs = [];
  const rows = [];
  for (let n = lo; n <= hi; n++) {
    rows.push(h('tr', h('th', { scope: 'row' }, T.lessonShort(n)), days.map((wd) => {
      const cur = cells.get(`${wd}.${n}`);
      const sel = h('select', { 'aria-label': T.slot(T.weekdays[wd - 1], n) }, h('option', { value: '' }, T.noneLesson),
        choices.map((c, i) => h('option', { value: String(i) }, c.text)));
      sel.value = cur ? String(cur.choice) : '';
      const room = h('input', { 'aria-label': T.slotRoom(T.weekdays[wd - 1], n), maxLength: 32, value: cur ? cur.room : '', placeholder: T.room, autocomplete: 'off' });
      const td = h('td', sel, room);
      inputs.push({ wd, n, sel, room, td });
      return td;
    })));
  }
  const from = h('input', { type: 'date', required: true, value: tt.week_start });
  const to = h('input', { type: 'date', required: true, value: yearEnd(tt.week_start) });
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button.primary', { type: 'submit' }, T.save);
  const form = h('form', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        btn.disabled = true;
        msg.replaceChildren(h('p.loading', T.saving));
        for (const c of inputs) { c.td.classList.remove('conflict'); c.td.querySelector('.field-error')?.remove(); c.sel.removeAttribute('aria-invalid'); }
        const used = inputs.filter((c) => c.sel.value !== '');
        const slots = used.map((c) => {
          const ch = choices[Number(c.sel.value)];
          return { weekday: c.wd, lesson_no: c.n, subject_id: ch.subject_id, teacher_id: ch.teacher_id, room: c.room.value.trim(), subgroup: ch.subgroup };
        }).concat(kept.map((k) => ({ weekday: k.weekday, lesson_no: k.lesson_no, subject_id: k.subject_id, teacher_id: k.teacher_id, room: k.room || '', subgroup: k.subgroup || '' })));
        try {
          const r = await api('PUT', `/api/v1/classes/${cid}/timetable`, { valid_from: from.value, valid_to: to.value, slots });
          fieldErrors(form, [], ruError);
          msg.replaceChildren(note(T.timetableSaved(r.lessons ? r.lessons.created : 0)));
        } catch (e) {
          const rest = fieldErrors(form, e.fields, ruError).filter((x) => {
            const m = /^slots\[(\d+)\]/.exec(x.field || '');
            const c = m && used[Number(m[1])];
            if (!c) return !m;
            c.td.classList.add('conflict');
            c.sel.setAttribute('aria-invalid', 'true');
            const err = c.td.querySelector('.field-error') || c.td.appendChild(h('p.field-error', { id: `tt-${c.wd}-${c.n}` }));
            err.textContent = err.textContent ? `${err.textContent} ${ruError(x.message)}` : ruError(x.message);
            c.sel.setAttribute('aria-describedby', err.id);
            return false;
          });
          const text = e.fields.length ? [T.timetableConflict, ...rest.map((x) => ruError(x.message))].join(' ') : e.message;
          msg.replaceChildren(note(text, 'error'));
        }
        btn.disabled = false;
      },
    },
  }, h('div.dates', efield(T.validFrom, from, 'valid_from'), efield(T.validTo, to, 'valid_to')),
  h('div.ttwrap', h('table.tt', h('thead', h('tr', h('th', { scope: 'col' }, '№'), days.map((wd) => h('th', { scope: 'col' }, T.weekdays[wd - 1])))), h('tbody', rows))),
  msg, h('p.actions', btn));
  show(main, h('h1', T.timetableTitle(cls.name)), h('p.muted', T.timetableHelp),
    as.items.length ? null : note(T.noClassAssignments), form);
}
