// teacher.js - today's lessons, a lesson's topic and homework, the class
// journal grid with keyboard entry and an offline outbox, and checkpoints
// with the works handed in for them.
//
// The grid: one <input> per cell (students × lessons). A digit 1–5 is a
// mark, Н/ОП/УП are attendance (absent, late, excused), empty clears. Enter
// saves and moves down to the next student, arrows move, Home/End jump in a
// row. Every change goes through the outbox, so nothing typed is lost when
// the connection drops; unsaved cells are marked until the server confirms.
import { T, fmtDay, fmtShort, fmtDate, fmtNum } from '../../i18n/ru.js';
import { h, show, field, note, isoToday, addDays } from '../dom.js';
import { api, schoolOf } from '../api.js';
import { enqueue, onOutbox, pending } from '../outbox.js';
import { go } from '../app.js';
import { workView } from './student.js';

export async function todayPage(main, q) {
  const date = q.get('date') || isoToday();
  const r = await api('GET', `/api/v1/me/lessons?date=${date}`);
  show(main, h('h1', `${T.todayTitle}: ${fmtDay(date)}`),
    h('div.weeknav',
      h('a.button', { href: `/app/today?date=${addDays(date, -1)}` }, '←'),
      h('a.button', { href: '/app/today' }, T.todayTitle),
      h('a.button', { href: `/app/today?date=${addDays(date, 1)}` }, '→')),
    r.items.length ? h('ul.plain', r.items.map((l) => h('li.card', { className: l.cancelled ? 'card cancelled' : 'card' },
      h('h2', `${T.lessonNo(l.lesson_no)} · ${l.class} · ${l.subject}`),
      l.topic ? h('p', `${T.topic}: ${l.topic}`) : null,
      l.homework ? h('p', `${T.homework}: ${l.homework}`) : null,
      h('p.actions',
        h('a.button', { href: `/app/journal?class=${l.class_id}&subject=${l.subject_id}` }, T.openJournal),
        h('a.button', { href: `/app/lesson?id=${l.id}` }, T.setHomework))))) : note(T.noToday));
}

export async function lessonPage(main, q) {
  const id = Number(q.get('id'));
  const l = await api('GET', `/api/v1/lessons/${id}`);
  const topic = h('input', { value: l.topic, maxLength: 1000 });
  const hw = h('textarea', { rows: 3, maxLength: 1000 }, l.homework);
  const msg = h('div', { 'aria-live': 'polite' });
  show(main, h('form.card', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          await api('PATCH', `/api/v1/lessons/${id}`, { topic: topic.value, homework: hw.value });
          msg.replaceChildren(note(T.saved));
        } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
      },
    },
  }, h('h1', `${l.subject} · ${fmtDay(l.date)} · ${T.lessonNo(l.lesson_no)}`),
  field(T.topic, topic), field(T.homework, hw), msg,
  h('p.actions', h('button.primary', { type: 'submit' }, T.save),
    h('a.button', { href: `/app/journal?class=${l.class_id}&subject=${l.subject_id}` }, T.openJournal))));
}

// The teacher's classes × subjects, for the pickers.
async function myAssignments(me) {
  const school = schoolOf(me);
  const [as, cls] = await Promise.all([
    api('GET', `/api/v1/schools/${school}/assignments?teacher_id=${me.id}`),
    api('GET', `/api/v1/schools/${school}/classes`).catch(() => ({ items: [] })),
  ]);
  const names = new Map(cls.items.map((c) => [c.id, c.name]));
  return as.items.map((a) => ({ ...a, class_name: names.get(a.class_id) || String(a.class_id) }));
}

function picker(list, page, cls, subj) {
  const sel = h('select#pick', {
    on: { change: () => { const [c, s] = sel.value.split(':'); go(`/app/${page}?class=${c}&subject=${s}`); } },
  }, list.map((a) => h('option', { value: `${a.class_id}:${a.subject_id}` }, `${a.class_name} · ${a.subject_name}`)));
  sel.value = `${cls}:${subj}`;
  return h('div.picker', h('label', { htmlFor: 'pick' }, T.chooseClass), sel);
}

const ATT_IN = { 'н': 'absent', 'n': 'absent', 'оп': 'late', 'уп': 'excused' };

// What a cell shows: the lesson mark, else the attendance letter(s).
function cellText(c) {
  if (!c) return '';
  const m = c.marks && c.marks.find((x) => x.kind === 'lesson');
  if (m) return String(m.value);
  return c.attendance ? T.attShort[c.attendance] : '';
}

export async function journalPage(main, q, me) {
  const list = await myAssignments(me);
  if (!list.length) { show(main, h('h1', T.journalTitle), note(T.noAssignments)); return; }
  const cls = Number(q.get('class')) || list[0].class_id;
  const subj = Number(q.get('subject')) || list[0].subject_id;
  const j = await api('GET', `/api/v1/classes/${cls}/journal?subject_id=${subj}`);
  const lessons = j.lessons.filter((l) => !l.cancelled);
  const status = h('p.status', { role: 'status', 'aria-live': 'polite' });
  const inputs = new Map(); // 'lesson:student' → input
  const cells = j.cells;

  const refreshStatus = () => {
    const n = pending().filter((op) => op.grid === `${cls}:${subj}`).length;
    status.textContent = n ? T.unsaved(n) : T.allSaved;
    status.className = n ? 'status warn' : 'status';
  };

  // Queue the change of one cell; returns false when the text is not valid.
  function commit(inp) {
    const text = inp.value.trim().toLowerCase();
    if (text === inp.dataset.saved) return true;
    const L = Number(inp.dataset.lesson), S = Number(inp.dataset.student);
    const old = cells[`${L}:${S}`] || { marks: [], attendance: null };
    const grid = `${cls}:${subj}`, key = `${L}:${S}`;
    const hadMark = old.marks && old.marks.some((x) => x.kind === 'lesson');
    if (/^[1-5]$/.test(text)) {
      enqueue({ id: `m:${key}`, grid, cell: key, shown: text, method: 'PUT', path: `/api/v1/lessons/${L}/marks`, body: { marks: [{ student_id: S, value: Number(text) }] } });
    } else if (ATT_IN[text]) {
      if (hadMark) enqueue({ id: `m:${key}`, grid, cell: key, shown: '', method: 'PUT', path: `/api/v1/lessons/${L}/marks`, body: { marks: [{ student_id: S, value: null }] } });
      enqueue({ id: `a:${key}`, grid, cell: key, shown: text, method: 'PUT', path: `/api/v1/lessons/${L}/attendance`, body: { items: [{ student_id: S, status: ATT_IN[text] }] } });
    } else if (text === '') {
      if (hadMark) enqueue({ id: `m:${key}`, grid, cell: key, shown: '', method: 'PUT', path: `/api/v1/lessons/${L}/marks`, body: { marks: [{ student_id: S, value: null }] } });
      if (old.attendance && old.attendance !== 'present') enqueue({ id: `a:${key}`, grid, cell: key, shown: '', method: 'PUT', path: `/api/v1/lessons/${L}/attendance`, body: { items: [{ student_id: S, status: 'present' }] } });
    } else {
      inp.setAttribute('aria-invalid', 'true');
      status.textContent = T.badCell;
      status.className = 'status error';
      return false;
    }
    inp.removeAttribute('aria-invalid');
    inp.dataset.saved = text;
    // keep the local copy in step so a later edit knows what is there
    const next = { marks: (old.marks || []).filter((x) => x.kind !== 'lesson'), attendance: old.attendance };
    if (/^[1-5]$/.test(text)) next.marks.push({ kind: 'lesson', value: Number(text), weight: 1 });
    if (ATT_IN[text]) next.attendance = ATT_IN[text]; else if (text === '' && next.attendance !== 'present') next.attendance = null;
    cells[key] = next;
    inp.value = cellText(next);
    inp.dataset.saved = inp.value.toLowerCase();
    inp.parentElement.classList.add('unsaved');
    refreshStatus();
    return true;
  }

  function move(inp, dr, dc) {
    const r = Number(inp.dataset.r) + dr, c = Number(inp.dataset.c) + dc;
    const target = main.querySelector(`input[data-r="${r}"][data-c="${c}"]`);
    if (target) { target.focus(); target.select(); }
  }

  // A click on a cell selects what is there, so typing replaces the mark as
  // in a spreadsheet (keyboard moves select too). The browser would put the
  // caret where the click landed: "5" clicked on its left half, then "4",
  // gave "45". A double click keeps the browser's own behaviour.
  function selectOnEntry(ev) {
    const inp = ev.target;
    if (ev.button !== 0 || ev.detail > 1) return;
    ev.preventDefault();
    inp.focus();
    inp.select();
  }

  let current = null;
  function onKey(ev) {
    const inp = ev.target;
    const k = ev.key;
    if (k === 'Enter') { ev.preventDefault(); if (commit(inp)) move(inp, ev.shiftKey ? -1 : 1, 0); }
    else if (k === 'ArrowDown' || k === 'ArrowUp') { ev.preventDefault(); if (commit(inp)) move(inp, k === 'ArrowDown' ? 1 : -1, 0); }
    else if (k === 'ArrowRight' && inp.selectionEnd === inp.value.length) { ev.preventDefault(); if (commit(inp)) move(inp, 0, 1); }
    else if (k === 'ArrowLeft' && inp.selectionStart === 0) { ev.preventDefault(); if (commit(inp)) move(inp, 0, -1); }
    else if (k === 'Escape') { inp.value = inp.dataset.shownValue || ''; inp.removeAttribute('aria-invalid'); }
  }

  const head = h('tr', h('th', { scope: 'col' }, T.student), lessons.map((l, ci) => h('th', { scope: 'col', title: l.topic || '' },
    h('a', { href: `/app/lesson?id=${l.id}` }, fmtShort(l.date)),
    h('button.fill', { type: 'button', title: T.fillColumn, 'aria-label': `${T.fillColumn} ${fmtShort(l.date)}`, on: { click: () => fillColumn(l, ci) } }, '⇊'))),
  h('th', { scope: 'col' }, T.avg));
  const rows = j.students.map((s, ri) => h('tr', h('th', { scope: 'row' }, s.name), lessons.map((l, ci) => {
    const key = `${l.id}:${s.id}`;
    const shown = cellText(cells[key]);
    const inp = h('input.cell', {
      value: shown, maxLength: 2, inputMode: 'text', autocomplete: 'off', 'aria-label': `${s.name}, ${fmtShort(l.date)}`,
      on: { keydown: onKey, change: (ev) => commit(ev.target), focus: (ev) => { current = ev.target; }, mousedown: selectOnEntry },
    });
    Object.assign(inp.dataset, { lesson: l.id, student: s.id, r: ri, c: ci, saved: shown.toLowerCase(), shownValue: shown });
    inputs.set(key, inp);
    const c = cells[key];
    const a = c && c.attendance && c.attendance !== 'present' && c.marks && c.marks.length ? h('span.att', T.attShort[c.attendance]) : null;
    return h('td', inp, a);
  }), h('td.avg', fmtNum(j.averages[s.id] ? j.averages[s.id].average : null))));

  // Cells with unsent changes from an earlier visit show what was typed.
  for (const op of pending()) {
    const inp = op.grid === `${cls}:${subj}` && inputs.get(op.cell);
    if (inp) { inp.value = op.shown.toUpperCase().replace(/^([1-5])$/, '$1'); inp.dataset.saved = op.shown; inp.parentElement.classList.add('unsaved'); }
  }

  function fillColumn(l, ci) {
    const v = (prompt(T.fillColumnPrompt, '') || '').trim().toLowerCase();
    if (!v) return;
    for (const s of j.students) {
      const inp = inputs.get(`${l.id}:${s.id}`);
      if (inp && inp.value === '') { inp.value = v; commit(inp); }
    }
    main.querySelector(`input[data-r="0"][data-c="${ci}"]`)?.focus();
  }

  const history = h('div', { 'aria-live': 'polite' });
  async function showHistory() {
    if (!current) return;
    try {
      const r = await api('GET', `/api/v1/audit?entity=mark&lesson_id=${current.dataset.lesson}&student_id=${current.dataset.student}`);
      history.replaceChildren(h('h2', T.cellHistory), r.items.length ? h('ul.plain', r.items.map((it) => h('li',
        `${new Date(it.at).toLocaleString('ru-RU')} — ${it.actor}: ${it.old ? it.old.value : '—'} → ${it.new ? it.new.value : '—'}`))) : h('p.muted', T.noHistory));
    } catch (e) { history.replaceChildren(note(e.message, 'error')); }
  }

  const off = onOutbox((evt) => {
    if (!main.isConnected) { off(); return; }
    if (evt.id && (evt.type === 'sent' || evt.type === 'failed')) {
      const cell = evt.id.slice(2);
      const still = pending().some((op) => op.cell === cell);
      const inp = inputs.get(cell);
      if (inp && !still) inp.parentElement.classList.remove('unsaved');
      if (inp && evt.type === 'failed') { inp.parentElement.classList.add('failed'); status.textContent = evt.error.message; status.className = 'status error'; return; }
    }
    if (evt.type === 'offline') { status.textContent = `${T.offline} ${T.unsaved(pending().length)}`; status.className = 'status warn'; return; }
    refreshStatus();
  });

  show(main, h('h1', `${T.journalTitle} · ${T.term(j.term.number)}`), picker(list, 'journal', cls, subj),
    h('p.muted', T.journalHelp), status,
    lessons.length ? h('div.gridwrap', h('table.journal', h('thead', head), h('tbody', rows))) : note(T.noLessons),
    h('p.actions', h('button', { type: 'button', on: { click: showHistory } }, T.cellHistory),
      h('a.button', { href: `/app/checkpoints?class=${cls}&subject=${subj}` }, T.checkpointsTitle),
      h('a.button', { href: `/app/termmarks?class=${cls}&subject=${subj}` }, T.termMarks)), history);
  refreshStatus();
  // open at the latest lesson that has taken place
  const now = isoToday();
  const last = lessons.reduce((acc, l, i) => (l.date <= now ? i : acc), -1);
  const th = last >= 0 && main.querySelectorAll('thead th')[last + 1];
  // the latest lesson at the right edge: the weeks before it, with their marks, stay in view
  const wrap = th && th.closest('.gridwrap');
  if (wrap) wrap.scrollLeft = Math.max(0, th.offsetLeft + th.offsetWidth - wrap.clientWidth + 8);
}

export async function checkpointsPage(main, q, me) {
  const wid = Number(q.get('work'));
  if (wid) return teacherWork(main, wid);
  const list = await myAssignments(me);
  if (!list.length) { show(main, h('h1', T.checkpointsTitle), note(T.noAssignments)); return; }
  const cls = Number(q.get('class')) || list[0].class_id;
  const subj = Number(q.get('subject')) || list[0].subject_id;
  const cps = await api('GET', `/api/v1/classes/${cls}/checkpoints?subject_id=${subj}`);
  const kind = h('select', Object.entries(T.checkpointKinds).map(([k, v]) => h('option', { value: k }, v)));
  const title = h('input', { required: true, maxLength: 200 });
  const desc = h('textarea', { rows: 2 });
  const due = h('input', { type: 'date', required: true, value: addDays(isoToday(), 2) });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form.card', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', `/api/v1/classes/${cls}/subjects/${subj}/checkpoints`, { kind: kind.value, title: title.value, description: desc.value, due_date: due.value });
          go(`/app/checkpoints?class=${cls}&subject=${subj}`, true);
        } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
      },
    },
  }, h('h2', T.newCheckpoint), field(T.kind, kind), field(T.title, title), field(T.description, desc), field(T.dueDate, due), msg,
  h('button.primary', { type: 'submit' }, T.save));
  const items = cps.items.slice().sort((a, b) => (a.due_date < b.due_date ? 1 : -1)).slice(0, 30).map((c) => {
    const works = h('div');
    const btn = h('button', {
      type: 'button', 'aria-expanded': 'false',
      on: {
        click: async () => {
          btn.setAttribute('aria-expanded', 'true');
          try {
            const r = await api('GET', `/api/v1/checkpoints/${c.id}/works`);
            works.replaceChildren(r.items.length ? h('ul.plain', r.items.map((w) => h('li',
              h('a', { href: `/app/checkpoints?work=${w.id}` }, w.student), ` — ${T.status[w.status]}`, w.mark_value ? ` · ${T.mark} ${w.mark_value}` : ''))) : h('p.muted', T.noWorks));
          } catch (e) { works.replaceChildren(note(e.message, 'error')); }
        },
      },
    }, T.works);
    return h('li.card', h('h3', `${c.title}`), h('p.muted', `${T.checkpointKinds[c.kind]} · ${T.due} ${fmtDate(c.due_date)} · ${T.weight} ${c.weight}`),
      c.description ? h('p', c.description) : null, btn, works);
  });
  show(main, h('h1', T.checkpointsTitle), picker(list, 'checkpoints', cls, subj), form, items.length ? h('ul.plain', items) : note(T.noHomework));
}

async function teacherWork(main, id) {
  const w = await api('GET', `/api/v1/works/${id}`);
  const value = h('select', ['', '5', '4', '3', '2', '1'].map((v) => h('option', { value: v }, v)));
  const comment = h('input', { maxLength: 500 });
  const msg = h('div', { 'aria-live': 'polite' });
  const reload = () => go(`/app/checkpoints?work=${id}`, true);
  show(main, workView(w, async (text) => { await api('POST', `/api/v1/works/${id}/comments`, { text }); reload(); }),
    h('form.card', {
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          if (!value.value) return;
          try { await api('POST', `/api/v1/works/${id}/mark`, { value: Number(value.value), comment: comment.value }); reload(); } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
        },
      },
    }, h('h2', T.putMark), field(T.mark, value), field(T.comment, comment), msg, h('button.primary', { type: 'submit' }, T.save)));
}

// Term marks: the weighted average is the suggestion, the teacher decides.
export async function termMarksPage(main, q, me) {
  const list = await myAssignments(me);
  if (!list.length) { show(main, h('h1', T.termMarks), note(T.noAssignments)); return; }
  const cls = Number(q.get('class')) || list[0].class_id;
  const subj = Number(q.get('subject')) || list[0].subject_id;
  const j = await api('GET', `/api/v1/classes/${cls}/journal?subject_id=${subj}`);
  const base = `/api/v1/classes/${cls}/subjects/${subj}/term-marks`;
  const r = await api('GET', `${base}?year_start=${j.term.year_start}&period=${j.term.number}`);
  const msg = h('div', { 'aria-live': 'polite' });
  const selects = r.items.map((it) => {
    const sel = h('select', { 'aria-label': `${T.termMark}: ${it.name}` }, ['', '5', '4', '3', '2'].map((v) => h('option', { value: v }, v || '—')));
    sel.value = String(it.term_mark || it.suggested_mark || '');
    return [it, sel];
  });
  show(main, h('h1', `${T.termMarks} · ${T.term(j.term.number)}`), picker(list, 'termmarks', cls, subj),
    r.items.length ? h('form', {
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          try {
            await api('PUT', base, { year_start: j.term.year_start, period: j.term.number, items: selects.map(([it, sel]) => ({ student_id: it.student_id, value: sel.value ? Number(sel.value) : null })) });
            msg.replaceChildren(note(T.saved));
          } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
        },
      },
    }, h('table.list', h('thead', h('tr', [T.student, T.average, T.formula, T.termMark].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', selects.map(([it, sel]) => h('tr', h('td', it.name), h('td', fmtNum(it.average)),
        h('td.muted', it.sum_weights ? `${it.sum_weighted} ÷ ${it.sum_weights}${it.suggested_mark ? ` → ${T.suggested} ${it.suggested_mark}` : ''}` : '—'), h('td', sel))))),
    msg, h('p.actions', h('button.primary', { type: 'submit' }, T.save))) : note(T.noMarks));
}
