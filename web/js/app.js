// app.js - the shell: session start, navigation, the page router.
// Pages live under /app/<name>; the server answers index.html for all of
// them and this file draws the page. Links with an /app/ href navigate
// without reloading; the back button works through popstate.
import { T } from '../i18n/ru.js';
import { h, show, field, note, spinner } from './dom.js';
import { api, signIn, signOut, loadMe, forget, session, hasRole } from './api.js';
import { outboxOpen } from './outbox.js';
import { weekPage, marksPage, homeworkPage, workPage } from './pages/student.js';
import { todayPage, lessonPage, journalPage, checkpointsPage, termMarksPage } from './pages/teacher.js';
import { importPage, accountsPage, schoolPage, timetablePage } from './pages/admin.js';

const pages = {
  password: passwordPage,
  week: weekPage, marks: marksPage, homework: homeworkPage, work: workPage,
  today: todayPage, lesson: lessonPage, journal: journalPage, checkpoints: checkpointsPage, termmarks: termMarksPage,
  import: importPage, accounts: accountsPage, school: schoolPage, timetable: timetablePage,
};

function homeOf(me) {
  if (hasRole(me, 'student') || hasRole(me, 'parent')) return '/app/week';
  if (hasRole(me, 'teacher')) return '/app/today';
  if (hasRole(me, 'admin')) return '/app/school';
  return '/app/password';
}

export function go(url, replace) {
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  render();
}

function navLinks(me) {
  const links = [];
  if (hasRole(me, 'student') || hasRole(me, 'parent'))
    links.push(['/app/week', T.navWeek], ['/app/marks', T.navMarks], ['/app/homework', T.navHomework]);
  if (hasRole(me, 'teacher')) links.push(['/app/today', T.navToday], ['/app/journal', T.navJournal], ['/app/checkpoints', T.navWorks]);
  if (hasRole(me, 'admin')) links.push(['/app/school', T.navSchool], ['/app/import', T.navImport], ['/app/accounts', T.navAccounts]);
  links.push(['/app/password', T.navPassword]);
  return links;
}

// The child a parent looks at: ?child= in the URL, else the last one chosen, else the first.
export function currentStudent(me) {
  if (!me.children) return me.id;
  const q = Number(new URLSearchParams(location.search).get('child'));
  const ids = me.children.map((c) => c.id);
  const saved = Number(localStorage.getItem('dn.child'));
  const id = ids.includes(q) ? q : ids.includes(saved) ? saved : ids[0];
  if (id) localStorage.setItem('dn.child', String(id));
  return id || null;
}

function shell(me, name) {
  const path = location.pathname;
  const header = h('header.top',
    h('a.brand', { href: homeOf(me) }, T.appName),
    h('nav', { 'aria-label': T.appName },
      h('ul', navLinks(me).map(([href, text]) => h('li', h('a', { href, 'aria-current': path === href ? 'page' : false }, text))))),
    h('div.who',
      me.children && me.children.length ? childSwitch(me) : null,
      h('span.name', `${me.first_name} ${me.last_name}`),
      h('button.link', { type: 'button', on: { click: async () => { await signOut(); go('/app/login'); } } }, T.signOut)));
  const main = h('main#main', { tabIndex: -1 });
  document.body.replaceChildren(h('a.skip', { href: '#main' }, T.skip), header, main);
  document.title = T.appName;
  return main;
}

function childSwitch(me) {
  const sel = h('select#child', {
    on: { change: () => { localStorage.setItem('dn.child', sel.value); const u = new URL(location.href); u.searchParams.set('child', sel.value); go(u.pathname + u.search); } },
  }, me.children.map((c) => h('option', { value: String(c.id) }, `${c.first_name} ${c.class ? `(${c.class.name})` : ''}`)));
  sel.value = String(currentStudent(me));
  return h('span.child', h('label', { htmlFor: 'child' }, T.child), sel);
}

async function render() {
  const name = location.pathname.replace(/^\/app\/?/, '').split('/')[0] || '';
  if (!session.me) {
    const me = await loadMe().catch(() => null);
    if (me) outboxOpen(me.id);
  }
  if (!session.me) {
    if (name !== 'login') history.replaceState(null, '', '/app/login');
    return loginPage();
  }
  const me = session.me;
  if (me.must_change_password && name !== 'password') { history.replaceState(null, '', '/app/password'); return render(); }
  if (!pages[name]) { history.replaceState(null, '', homeOf(me)); return render(); }
  const main = shell(me, name);
  main.append(spinner(T.loading));
  try {
    await pages[name](main, new URLSearchParams(location.search), me);
  } catch (e) {
    if (e.status === 401) { forget(); return go('/app/login', true); }
    show(main, note(e.message || T.errUnknown, 'error'));
  }
  main.focus({ preventScroll: true });
}

let flash = null; // one message for the next sign-in page

function loginPage() {
  const login = h('input', { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { 'aria-live': 'polite' });
  const btn = h('button.primary', { type: 'submit' }, T.signIn);
  const form = h('form.card.narrow', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        btn.disabled = true;
        msg.replaceChildren();
        try {
          const me = await signIn(login.value.trim(), pass.value);
          outboxOpen(me.id);
          go(homeOf(me), true);
        } catch (e) {
          const text = e.status === 401 ? T.badLogin : e.status === 403 ? T.blocked : e.message;
          msg.replaceChildren(note(text, 'error'));
          btn.disabled = false;
        }
      },
    },
  }, h('h1', T.loginTitle), flash ? note(flash) : null, field(T.login, login), field(T.password, pass), msg, btn);
  document.body.replaceChildren(h('main#main.center', form));
  document.title = `${T.loginTitle} — ${T.appName}`;
  flash = null;
  login.focus();
}

async function passwordPage(main, q, me) {
  const oldp = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const newp = h('input', { type: 'password', autocomplete: 'new-password', required: true, minLength: 8 });
  const msg = h('div', { 'aria-live': 'polite' });
  show(main, h('form.card.narrow', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', '/api/v1/auth/password', { old_password: oldp.value, new_password: newp.value });
          forget();
          flash = T.passwordChanged;
          go('/app/login', true);
        } catch (e) { msg.replaceChildren(note(e.message, 'error')); }
      },
    },
  }, h('h1', T.passwordTitle), me.must_change_password ? note(T.mustChange) : null,
  field(T.oldPassword, oldp), field(T.newPassword, newp), msg, h('button.primary', { type: 'submit' }, T.save)));
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href^="/app/"]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
addEventListener('popstate', render);
render();
