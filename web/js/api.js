// api.js - the JSON API client and the session.
// The access token lives only in memory (a script injected into the page
// could read storage, and an access token is what the API trusts). The
// refresh token is kept in sessionStorage: it survives reloading the tab but
// is gone when the browser closes — school PCs are shared. No cookies are
// used at all, so there is no CSRF surface. Refreshes are serialised because
// the server rotates refresh tokens (a second concurrent refresh would fail).
import { T } from '../i18n/ru.js';

const RT = 'dn.refresh';
let access = null;
let refreshing = null;
export const session = { me: null };

export class ApiError extends Error {
  constructor(status, problem) {
    super(messageFor(status, problem));
    this.status = status;
    this.problem = problem || {};
    this.fields = (problem && problem.errors) || [];
  }
}

const cyr = /[А-Яа-яЁё]/;
function messageFor(status, p) {
  if (status === 0) return T.errNetwork;
  if (status === 401) return T.errSession;
  if (status === 403) return T.errForbidden;
  if (status === 404) return T.errNotFound;
  if (status === 409) return p && p.detail && cyr.test(p.detail) ? p.detail : T.errConflict;
  if (status === 422) {
    const ru = ((p && p.errors) || []).map((e) => e.message).filter((m) => cyr.test(m));
    return ru.length ? ru.join(' ') : T.errValidation;
  }
  if (status === 429) return T.tooMany;
  if (status >= 500) return T.errServer;
  return T.errUnknown;
}

async function raw(method, path, body, token, type) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = type || 'application/json';
    payload = type ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-cache' });
  } catch {
    throw new ApiError(0);
  }
  const text = await res.text().catch(() => '');
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function refreshOnce() {
  if (!refreshing) {
    refreshing = (async () => {
      const rt = sessionStorage.getItem(RT);
      if (!rt) throw new ApiError(401);
      try {
        const t = await raw('POST', '/api/v1/auth/refresh', { refresh_token: rt });
        keep(t);
      } catch (e) {
        if (e.status === 401) sessionStorage.removeItem(RT);
        throw e;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

function keep(t) {
  access = t.access_token;
  sessionStorage.setItem(RT, t.refresh_token);
}

// api('GET', '/api/v1/me') → parsed JSON; throws ApiError with a Russian message.
export async function api(method, path, body, type) {
  if (!access && sessionStorage.getItem(RT)) await refreshOnce();
  try {
    return await raw(method, path, body, access, type);
  } catch (e) {
    if (e.status !== 401 || !sessionStorage.getItem(RT)) throw e;
    await refreshOnce();
    return raw(method, path, body, access, type);
  }
}

// A file's bytes with the bearer token (a plain link could not send it).
export async function apiBlob(path) {
  if (!access && sessionStorage.getItem(RT)) await refreshOnce();
  const get = () => fetch(path, { headers: { authorization: `Bearer ${access}` }, cache: 'no-cache' });
  let res;
  try {
    res = await get();
    if (res.status === 401 && sessionStorage.getItem(RT)) { await refreshOnce(); res = await get(); }
  } catch (e) {
    throw e instanceof ApiError ? e : new ApiError(0);
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.blob();
}

export async function signIn(login, password) {
  keep(await raw('POST', '/api/v1/auth/login', { login, password }));
  session.me = await api('GET', '/api/v1/me');
  return session.me;
}

export async function loadMe() {
  if (!sessionStorage.getItem(RT)) return null;
  try {
    session.me = await api('GET', '/api/v1/me');
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
  return session.me;
}

export async function signOut() {
  const rt = sessionStorage.getItem(RT);
  sessionStorage.removeItem(RT);
  access = null;
  session.me = null;
  if (rt) await raw('POST', '/api/v1/auth/logout', { refresh_token: rt }).catch(() => {});
}

export function forget() { sessionStorage.removeItem(RT); access = null; session.me = null; }

export const hasRole = (me, role) => !!me && me.roles.some((r) => r.role === role);
export const schoolOf = (me) => (me && me.roles.length ? me.roles[0].school_id : null);
