// student.js - what students and parents see: the week diary, marks of a
// term with the weighted average explained, a chart per subject, homework
// with handing in an answer, and one handed-in work with its comments.
import { T, fmtDay, fmtDate, fmtShort, fmtNum, fmtTime } from '../../i18n/ru.js';
import { h, show, field, note, isoToday, addDays } from '../dom.js';
import { api, apiBlob } from '../api.js';
import { currentStudent, go } from '../app.js';

function withChild(path, params) {
  const u = new URLSearchParams(params);
  const child = new URLSearchParams(location.search).get('child');
  if (child) u.set('child', child);
  const s = u.toString();
  return s ? `${path}?${s}` : path;
}

function markBadge(m) {
  return h(`span.mark.v${m.value}`, { title: `${T.kinds[m.kind] || m.kind}, ${T.weight} ${m.weight}${m.comment ? ` — ${m.comment}` : ''}` }, String(m.value));
}

export async function weekPage(main, q, me) {
  const student = currentStudent(me);
  if (!student) { show(main, note(T.errNotFound)); return; }
  const date = q.get('date') || isoToday();
  const w = await api('GET', `/api/v1/students/${student}/week?date=${date}`);
  const nav = h('div.weeknav',
    h('a.button', { href: withChild('/app/week', { date: addDays(w.week_start, -7) }) }, T.prevWeek),
    h('a.button', { href: withChild('/app/week', {}) }, T.thisWeek),
    h('a.button', { href: withChild('/app/week', { date: addDays(w.week_start, 7) }) }, T.nextWeek));
  const any = w.days.some((d) => d.lessons.length);
  const days = w.days.map((d) => h('section.day.card', { 'aria-labelledby': `d${d.date}` },
    h('h2', { id: `d${d.date}` }, `${T.weekdays[d.weekday - 1]}, ${fmtDay(d.date)}`),
    d.lessons.length ? h('ol.lessons', d.lessons.map((l) => h('li.lesson', { className: l.cancelled ? 'lesson cancelled' : 'lesson' },
      h('div.lhead', h('span.no', String(l.lesson_no)), h('strong.subj', l.subject),
        h('span.marks', l.marks.map(markBadge), l.attendance && l.attendance !== 'present' ? h('span.att', { title: T.attendance[l.attendance] }, T.attShort[l.attendance]) : null)),
      l.cancelled ? h('p.muted', T.cancelled) : null,
      l.change_note ? h('p.muted', l.change_note) : null,
      l.topic ? h('p', h('span.muted', `${T.topic}: `), l.topic) : null,
      l.homework ? h('p.hw', h('span.muted', `${T.homework}: `), l.homework) : null))) : h('p.muted', T.noLessons)));
  const due = w.checkpoints.length ? h('section.card', h('h2', T.dueThisWeek), h('ul.plain', w.checkpoints.map((c) => h('li',
    h('a', { href: withChild('/app/homework', { date: w.week_start }) }, `${c.subject}: ${c.title}`), ` — ${T.due} ${fmtDate(c.due_date)}`,
    c.mark ? [' ', markBadge(c.mark)] : null)))) : null;
  show(main, h('h1', `${T.weekTitle}: ${fmtDay(w.week_start)} — ${fmtDay(w.week_end)}`), nav,
    any ? null : note(T.noLessonsWeek), due, h('div.days', days));
}

// A small SVG chart: marks as dots, the running weighted average as a line.
function chart(subject) {
  const ms = subject.marks.slice().sort((a, b) => (a.date < b.date ? -1 : 1));
  if (ms.length < 2) return null;
  const W = 300, H = 90, pad = 12;
  const x = (i) => pad + (i * (W - 2 * pad)) / (ms.length - 1);
  const y = (v) => H - pad - ((v - 1) * (H - 2 * pad)) / 4;
  let sw = 0, s = 0;
  const avg = ms.map((m) => { sw += m.weight; s += m.value * m.weight; return s / sw; });
  return h('svg.chart', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': T.chartOf(subject.subject) },
    h('title', T.chartOf(subject.subject)),
    [2, 3, 4, 5].map((v) => h('line.grid', { x1: pad, x2: W - pad, y1: y(v), y2: y(v) })),
    h('polyline.avg', { points: avg.map((a, i) => `${x(i)},${y(a)}`).join(' ') }),
    ms.map((m, i) => h('circle', { class: `v${m.value}`, cx: x(i), cy: y(m.value), r: 3 + m.weight },
      h('title', `${fmtShort(m.date)}: ${m.value}`))));
}

export async function marksPage(main, q, me) {
  const student = currentStudent(me);
  const term = q.get('term');
  const r = await api('GET', `/api/v1/students/${student}/marks${term ? `?term_id=${term}` : ''}`);
  const subjects = r.subjects.filter((s) => s.marks.length || s.term_mark);
  show(main, h('h1', `${T.marksTitle}: ${T.term(r.term.number)} (${fmtDate(r.term.starts_on)} — ${fmtDate(r.term.ends_on)})`),
    subjects.length ? h('div.subjects', subjects.map((s) => h('section.card.subject',
      h('h2', s.subject),
      h('p.marksrow', s.marks.map(markBadge)),
      h('p', h('strong', `${T.average}: ${fmtNum(s.average)}`), s.term_mark ? ` · ${T.termMark}: ${s.term_mark}` : ''),
      s.marks.length ? h('details', h('summary', T.formula),
        h('p.formula', `(${s.marks.map((m) => `${m.value}×${m.weight}`).join(' + ')}) ÷ (${s.marks.map((m) => m.weight).join(' + ')}) = ${s.sum_weighted} ÷ ${s.sum_weights} = ${fmtNum(s.average)}`),
        h('p.muted', Object.entries({ lesson: 1, homework: 1, test: 2, control: 3 }).map(([k, w]) => `${T.kinds[k]} — ${T.weight} ${w}`).join('; '))) : null,
      chart(s)))) : note(T.noMarks));
}

export async function homeworkPage(main, q, me) {
  const student = currentStudent(me);
  const date = q.get('date') || isoToday();
  const w = await api('GET', `/api/v1/students/${student}/week?date=${date}`);
  const isStudent = me.id === student;
  const items = w.checkpoints.map((c) => {
    const box = h('div');
    if (isStudent) {
      const text = h('textarea', { rows: 3, required: true, maxLength: 20000 });
      const file = h('input', { type: 'file' });
      const msg = h('div', { 'aria-live': 'polite' });
      const btn = h('button.primary', { type: 'submit' }, T.handIn);
      box.append(h('form.handin', {
        on: {
          submit: async (ev) => {
            ev.preventDefault();
            btn.disabled = true;
            try {
              const files = [];
              const f = file.files[0];
              if (f) {
                msg.replaceChildren(h('p.loading', T.uploading));
                // the raw bytes; the server detects the type from the content
                const up = await api('POST', `/api/v1/files?name=${encodeURIComponent(f.name)}`, f, 'application/octet-stream')
                  .catch((e) => { throw e.status === 413 ? new Error(T.fileTooBig) : e.status === 415 ? new Error(T.fileType) : e; });
                files.push(up.id);
              }
              const work = await api('POST', `/api/v1/checkpoints/${c.id}/works`, { text: text.value, files });
              msg.replaceChildren(note(T.handedIn), h('a', { href: `/app/work?id=${work.id}` }, T.comments));
              text.value = '';
              file.value = '';
            } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
            btn.disabled = false;
          },
        },
      }, field(T.answer, text), field(T.attachFile, file), btn, msg));
    }
    return h('li.card',
      h('h2', `${c.subject}: ${c.title}`),
      c.description ? h('p', c.description) : null,
      h('p.muted', `${T.checkpointKinds[c.kind] || c.kind} · ${T.due} ${fmtDate(c.due_date)} · ${T.status[c.work_status]}`),
      c.mark ? h('p', `${T.mark}: `, markBadge(c.mark)) : null,
      c.work_id ? h('p', h('a', { href: withChild('/app/work', { id: c.work_id }) }, `${T.answer} · ${T.comments}`)) : null,
      box);
  });
  const hw = w.days.flatMap((d) => d.lessons.filter((l) => l.homework).map((l) => h('li', h('strong', `${fmtShort(d.date)} ${l.subject}: `), l.homework)));
  show(main, h('h1', `${T.homeworkTitle}: ${fmtDay(w.week_start)} — ${fmtDay(w.week_end)}`),
    h('div.weeknav',
      h('a.button', { href: withChild('/app/homework', { date: addDays(w.week_start, -7) }) }, T.prevWeek),
      h('a.button', { href: withChild('/app/homework', { date: addDays(w.week_start, 7) }) }, T.nextWeek)),
    items.length ? h('ul.plain', items) : note(T.noHomework),
    hw.length ? h('section.card', h('h2', T.homework), h('ul.plain', hw)) : null);
}

// An uploaded file (an integer id): a button that downloads it through the
// API with the token (fetch → blob URL); its name comes from /meta. Other
// references (strings) are shown as they are.
function fileLink(ref) {
  if (typeof ref !== 'number') return String(ref);
  const msg = h('span', { 'aria-live': 'polite' });
  const btn = h('button', { type: 'button' }, T.fileOf(ref));
  api('GET', `/api/v1/files/${ref}/meta`).then((m) => { btn.textContent = m.name; btn.dataset.name = m.name; }).catch(() => {});
  btn.addEventListener('click', async () => {
    try {
      const url = URL.createObjectURL(await apiBlob(`/api/v1/files/${ref}`));
      const a = h('a', { href: url, download: btn.dataset.name || `file-${ref}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      msg.replaceChildren();
    } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
  });
  return h('span', btn, msg);
}

export function workView(w, onComment) {
  const text = h('textarea', { rows: 2, required: true });
  const msg = h('div', { 'aria-live': 'polite' });
  return h('div',
    h('h1', `${w.checkpoint.title} — ${w.student}`),
    h('p.muted', `${T.due} ${fmtDate(w.checkpoint.due_date)} · ${T.status[w.status]}`),
    w.mark ? h('p', `${T.mark}: `, markBadge({ ...w.mark, kind: 'homework', weight: 1 }), w.mark.comment ? ` ${w.mark.comment}` : '') : null,
    h('section.card', h('h2', T.versions), h('ol', w.versions.map((v) => h('li', h('p.muted', fmtTime(v.at)), h('p.pre', v.text),
      (v.files || []).length ? h('ul.filelist', { 'aria-label': T.files }, v.files.map((f) => h('li', fileLink(f)))) : null)))),
    h('section.card', h('h2', T.comments),
      w.comments.length ? h('ul.plain', w.comments.map((c) => h('li', h('strong', c.author), ` (${fmtTime(c.at)}): `, c.text))) : h('p.muted', T.noComments),
      onComment ? h('form', {
        on: {
          submit: async (ev) => {
            ev.preventDefault();
            try { await onComment(text.value); } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
          },
        },
      }, field(T.comment, text), msg, h('button', { type: 'submit' }, T.addComment)) : null));
}

export async function workPage(main, q, me) {
  const id = Number(q.get('id'));
  const w = await api('GET', `/api/v1/works/${id}`);
  const canComment = me.id === w.student_id;
  show(main, workView(w, canComment ? async (text) => {
    await api('POST', `/api/v1/works/${id}/comments`, { text });
    go(location.pathname + location.search, true);
  } : null));
}
