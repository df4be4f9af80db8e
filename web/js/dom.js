// dom.js - a tiny element builder and the shared bits of page chrome.
// h('div.cls#id', {attrs, on: {click}}, children...) — strings become text
// nodes, so nothing from the server is ever parsed as HTML.
export function h(tag, attrs, ...kids) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/.exec(tag);
  const svg = ['svg', 'polyline', 'circle', 'line', 'text', 'title', 'g', 'rect'].includes(m[1]);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', m[1]) : document.createElement(m[1]);
  for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) { kids.unshift(attrs); attrs = null; }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v != null) {
      if (!svg && k in el && typeof el[k] !== 'function' && k !== 'list' && k !== 'form') el[k] = v; else el.setAttribute(k, v);
    }
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// A labelled form field: label + input share an id.
let seq = 0;
export function field(label, input) {
  const id = input.id || `f${++seq}`;
  input.id = id;
  return h('div.field', h('label', { htmlFor: id }, label), input);
}

// A field that shows its own error under the input (tied by aria-describedby).
// key is the API's field name the error comes back under.
export function efield(label, input, key) {
  const f = field(label, input);
  const err = h('p.field-error', { id: `${input.id}-err`, hidden: true });
  input.setAttribute('aria-describedby', err.id);
  f.dataset.key = key;
  f.append(err);
  return f;
}

// Put errors [{field, message}] next to their fields in root (message → text
// by tr); returns the errors no field of root took.
export function fieldErrors(root, errors, tr) {
  for (const f of $$('.field[data-key]', root)) {
    const err = f.querySelector('.field-error');
    err.hidden = true;
    err.textContent = '';
    f.querySelector('input,select,textarea').removeAttribute('aria-invalid');
  }
  const rest = [];
  for (const e of errors || []) {
    const f = $(`.field[data-key="${CSS.escape(e.field || '')}"]`, root);
    if (!f) { rest.push(e); continue; }
    const err = f.querySelector('.field-error');
    err.textContent = err.textContent ? `${err.textContent} ${tr(e.message)}` : tr(e.message);
    err.hidden = false;
    f.querySelector('input,select,textarea').setAttribute('aria-invalid', 'true');
  }
  return rest;
}

// Messages for people: role=status for news, role=alert for errors.
export function note(text, kind = 'info') {
  return h(`p.note.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function spinner(text) { return h('p.loading', { role: 'status', 'aria-live': 'polite' }, text); }

export function isoToday() { return isoOf(new Date()); }
export function isoOf(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
export function addDays(iso, n) {
  const [y, m, d] = iso.split('-').map(Number);
  return isoOf(new Date(y, m - 1, d + n));
}

// Replace the children of el, skipping null/false (optional parts of a page).
export function show(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
}
