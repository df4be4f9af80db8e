// outbox.js - journal writes that must survive a lost connection.
// Every change is first written to localStorage (per user), then sent; a
// change to the same cell replaces the older unsent one, so the last thing
// typed wins. Network failures and 5xx keep the entry and retry when the
// browser is back online (and every 15 s); a refusal (4xx) drops it and
// reports the cell, because sending it again would fail the same way.
import { api } from './api.js';

let key = null;
let queue = [];
let timer = null;
let busy = false;
const listeners = new Set();

export function outboxOpen(userId) {
  key = `dn.outbox.${userId}`;
  try { queue = JSON.parse(localStorage.getItem(key) || '[]'); } catch { queue = []; }
  if (!timer) {
    timer = setInterval(flush, 15000);
    addEventListener('online', flush);
  }
  flush();
}

function persist() { if (key) localStorage.setItem(key, JSON.stringify(queue)); }
function emit(evt) { for (const fn of listeners) fn(evt); }
export function onOutbox(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export const pending = () => queue.slice();

// op: {id: 'm:lesson:student', method, path, body}
export function enqueue(op) {
  queue = queue.filter((q) => q.id !== op.id);
  queue.push({ ...op, at: Date.now() });
  persist();
  emit({ type: 'queued', id: op.id });
  flush();
}

export async function flush() {
  if (busy || !queue.length) return;
  busy = true;
  try {
    while (queue.length) {
      const op = queue[0];
      try {
        await api(op.method, op.path, op.body);
      } catch (e) {
        if (e.status === 0 || e.status >= 500 || e.status === 429 || e.status === 401) {
          emit({ type: 'offline', error: e });
          return;
        }
        queue = queue.filter((q) => q !== op);
        persist();
        emit({ type: 'failed', id: op.id, error: e });
        continue;
      }
      // only drop it if it was not replaced while in flight
      if (queue[0] === op) queue.shift(); else queue = queue.filter((q) => q !== op);
      persist();
      emit({ type: 'sent', id: op.id });
    }
    emit({ type: 'idle' });
  } finally {
    busy = false;
  }
}
