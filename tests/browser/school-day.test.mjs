// The school day in a real browser (headless Debian chromium driven by
// playwright-core), against the real server with the built web UI:
// a teacher sets homework and enters marks and attendance with the keyboard
// (also while the connection is down), a student sees the mark and the
// homework and hands in an answer, a parent sees both children and the mark,
// an admin imports a CSV with one bad line and sees that line's error; the
// student's week also at 360 px. The admin also sets up a class (errors
// shown at their fields), a subject, a teacher account and assignments, and
// edits the class's timetable (a conflict is shown at its slot); the
// student's answer carries a file that downloads from the work page. A failing step leaves a screenshot in
// DN_SHOTS_DIR (default build/browser-failures).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startSchoolServer, createSchool, createTimetable, weekLessons, client, login } from '../api/lib/fixture.mjs';
import { ROOT, BIN } from '../api/lib/server.mjs';

const CHROMIUM = process.env.DN_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.DN_SHOTS_DIR || 'build/browser-failures');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];
const NEW_PASSWORD = 'new-password-42';

const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const today = new Date();
const monday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - ((today.getDay() + 6) % 7));
const sunday = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 6);
const ddmm = (d) => `${String(d.getDate()).padStart(2, '0')}.${String(d.getMonth() + 1).padStart(2, '0')}`;

let srv, s, browser, lessonA, lessonB;

before(async () => {
  assert.ok(existsSync(path.join(path.dirname(BIN), 'web', 'index.html')), `the web UI is not built next to ${BIN}`);
  srv = await startSchoolServer();
  s = await createSchool(srv, { teachers: 1, students: 3, parents: 1, classes: ['5А', '5Б'], subjects: ['Математика'], terms: false });
  // Four terms without holidays between them, so any day of the year is a school day here.
  const y = s.year;
  const put = await s.admin.api.put(`/api/v1/schools/${s.schoolId}/terms/${y}`, {
    terms: [
      { number: 1, starts_on: `${y}-09-01`, ends_on: `${y}-11-15` },
      { number: 2, starts_on: `${y}-11-16`, ends_on: `${y + 1}-01-31` },
      { number: 3, starts_on: `${y + 1}-02-01`, ends_on: `${y + 1}-04-30` },
      { number: 4, starts_on: `${y + 1}-05-01`, ends_on: `${y + 1}-08-31` },
    ],
  });
  assert.equal(put.status, 200, put.text);
  // students[0] (5А) and students[1] (5Б) are both children of parents[0].
  const link = await s.admin.api.post(`/api/v1/parents/${s.parents[0].id}/children/${s.students[1].id}`);
  assert.ok([200, 201, 204].includes(link.status), link.text);
  for (const classIndex of [0, 1]) {
    await createTimetable(s, {
      classIndex, from: iso(monday), to: iso(sunday),
      slots: [{ weekday: 1, lesson_no: 1 + classIndex, subject_id: s.subjects[0].id, teacher_id: s.teachers[0].id, room: '101', subgroup: '' }],
    });
  }
  [lessonA] = await weekLessons(s, s.classes[0].id, iso(monday));
  [lessonB] = await weekLessons(s, s.classes[1].id, iso(monday));
  assert.ok(lessonA && lessonB, 'a Monday lesson in each class');
  // launch() starts chromium with a fresh temporary --user-data-dir of its own (removed on close).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

// A step: a fresh browser context (own storage), a screenshot when it fails.
async function step(t, name, viewport, fn) {
  const ctx = await browser.newContext({ viewport, locale: 'ru-RU' });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await fn(page, ctx);
    assert.deepEqual(errors, [], 'no script errors on the page');
  } catch (e) {
    mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `${name.replace(/[^\w-]+/g, '_')}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    t.diagnostic(`screenshot: ${file}`);
    throw e;
  } finally {
    await ctx.close();
  }
}

// Sign in through the form; a first sign-in must change the temporary password.
async function signIn(page, user) {
  await page.goto(`${s.url}/app/login`);
  await page.getByLabel('Логин').fill(user.login);
  await page.getByLabel('Пароль').fill(user.changed ? NEW_PASSWORD : user.password);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.waitForSelector('header.top');
  if (new URL(page.url()).pathname === '/app/password') {
    await page.getByLabel('Текущий пароль').fill(user.password);
    await page.getByLabel('Новый пароль').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText('Пароль изменён').waitFor();
    user.changed = true;
    // A password change revokes the account's access tokens (docs/security.md): the test's own client signs in anew.
    user.token = await login(s.url, user.login, NEW_PASSWORD);
    user.api = client(s.url, user.token);
    await page.getByLabel('Логин').fill(user.login);
    await page.getByLabel('Пароль').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.waitForSelector('header.top');
  }
}

const cell = (page, lesson, student) => page.locator(`input.cell[data-lesson="${lesson.id}"][data-student="${student.id}"]`);

test('the school day', async (t) => {
  await t.test('teacher: homework, a checkpoint, marks and attendance with the keyboard', (t) => step(t, 'teacher', { width: 1280, height: 900 }, async (page, ctx) => {
    const teacher = s.teachers[0];
    await signIn(page, teacher);
    assert.equal(new URL(page.url()).pathname, '/app/today');

    await page.goto(`${s.url}/app/lesson?id=${lessonA.id}`);
    await page.getByLabel('Тема').fill('Дроби');
    await page.getByLabel('Домашнее задание').fill('№ 101, 102');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText('Сохранено.').waitFor();

    await page.goto(`${s.url}/app/checkpoints?class=${s.classes[0].id}&subject=${s.subjects[0].id}`);
    await page.getByLabel('Вид').selectOption('homework');
    await page.getByLabel('Название').fill('Задачи на дроби');
    await page.getByLabel('Срок').fill(iso(sunday));
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByRole('heading', { name: 'Задачи на дроби' }).waitFor();

    await page.goto(`${s.url}/app/journal?class=${s.classes[0].id}&subject=${s.subjects[0].id}`);
    await page.getByText('Всё сохранено.').waitFor();
    // 5А holds students[0] and students[2], rows in name order: students[0]
    // (a child of the parent) gets the mark, the other one is absent.
    const rows = await page.locator('input.cell').evaluateAll((els) => els.map((e) => Number(e.dataset.student)));
    const [top, below] = rows.map((id) => s.students.find((u) => u.id === id));
    const first = s.students[0];
    const second = top === first ? below : top;
    await cell(page, lessonA, top).click();
    await page.keyboard.type(top === first ? '5' : 'н');
    await page.keyboard.press('Enter');
    await assert.doesNotReject(cell(page, lessonA, below).evaluate((e) => { if (e !== document.activeElement) throw new Error('focus did not move down'); }));
    await page.keyboard.type(top === first ? 'н' : '5');
    await page.keyboard.press('Enter');
    await page.getByText('Всё сохранено.').waitFor();
    assert.equal(await cell(page, lessonA, second).inputValue(), 'Н');
    assert.equal(await cell(page, lessonA, first).inputValue(), '5');

    // the connection drops: the change is kept and shown as unsaved, then sent.
    // A click selects the whole cell, wherever it lands (here at the left edge,
    // before the "5"), so what is typed replaces the mark, as in a spreadsheet;
    // a caret put where the click landed made "45" (found by a flaky run).
    await ctx.setOffline(true);
    await cell(page, lessonA, first).click({ position: { x: 3, y: 8 } });
    await page.keyboard.type('4');
    await page.keyboard.press('ArrowUp');
    await page.getByText('Не сохранено: 1').waitFor();
    assert.equal(await page.locator('td.unsaved').count(), 1);
    const kept = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('dn.outbox.')).map((k) => localStorage.getItem(k)).join(''));
    assert.match(kept, /"value":4/);
    await ctx.setOffline(false);
    await page.evaluate(() => dispatchEvent(new Event('online')));
    await page.getByText('Всё сохранено.').waitFor();
    assert.equal(await page.locator('td.unsaved').count(), 0);

    const lesson = (await teacher.api.get(`/api/v1/lessons/${lessonA.id}`)).json();
    assert.equal(lesson.homework, '№ 101, 102');
    assert.deepEqual(lesson.marks.map((m) => [m.student_id, m.value]), [[first.id, 4]]);
    assert.deepEqual(lesson.attendance.filter((a) => a.status !== 'present').map((a) => [a.student_id, a.status]), [[second.id, 'absent']]);
    s.marked = first;
  }));

  await t.test('student: sees the mark and the homework, hands in an answer', (t) => step(t, 'student', { width: 1280, height: 900 }, async (page) => {
    const student = s.marked;
    await signIn(page, student);
    await page.goto(`${s.url}/app/week?date=${iso(monday)}`);
    const day = page.locator('section.day').first();
    await day.locator('.mark', { hasText: '4' }).waitFor();
    await day.getByText('№ 101, 102').waitFor();
    await page.goto(`${s.url}/app/homework?date=${iso(monday)}`);
    await page.getByRole('heading', { name: /Задачи на дроби/ }).waitFor();
    await page.getByLabel('Ответ').fill('1/2 + 1/3 = 5/6');
    await page.getByLabel('Файл (можно не прикладывать)').setInputFiles({ name: 'решение.txt', mimeType: 'text/plain', buffer: Buffer.from('Решение: 1/2 + 1/3 = 5/6\n') });
    await page.getByRole('button', { name: 'Сдать ответ' }).click();
    await page.getByText('Ответ отправлен.').waitFor();
    // the work lists the file; it downloads through the API with the token
    await page.getByRole('link', { name: 'Комментарии' }).click();
    const fileBtn = page.getByRole('button', { name: 'решение.txt' });
    await fileBtn.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), fileBtn.click()]);
    assert.equal(download.suggestedFilename(), 'решение.txt');
    assert.equal(readFileSync(await download.path(), 'utf8'), 'Решение: 1/2 + 1/3 = 5/6\n');
    const work = (await student.api.get(`/api/v1/works/${new URL(page.url()).searchParams.get('id')}`)).json();
    assert.equal(work.versions.at(-1).files.length, 1);
    await page.goto(`${s.url}/app/marks`);
    await page.getByText('Средний балл: 4,00').waitFor();
  }));

  await t.test('parent: both children, the mark of the first', (t) => step(t, 'parent', { width: 1280, height: 900 }, async (page) => {
    await signIn(page, s.parents[0]);
    const select = page.getByLabel('Ребёнок');
    assert.equal(await select.locator('option').count(), 2);
    await select.selectOption(String(s.students[0].id));
    await page.goto(`${s.url}/app/week?date=${iso(monday)}&child=${s.students[0].id}`);
    await page.locator('section.day .mark', { hasText: '4' }).waitFor();
    await page.getByLabel('Ребёнок').selectOption(String(s.students[1].id));
    await page.waitForURL(new RegExp(`child=${s.students[1].id}`));
    await page.locator('section.day').first().waitFor();
    assert.equal(await page.locator('section.day .mark').count(), 0);
  }));

  await t.test('admin: CSV import with one bad line shows that line', (t) => step(t, 'admin', { width: 1280, height: 900 }, async (page) => {
    await signIn(page, s.admin);
    await page.goto(`${s.url}/app/import`);
    const csv = 'type;last_name;first_name;middle_name;login;class;subject;parent_of\n' +
      'class;;;;;6В;;\n' +
      'student;Орлов;Олег;;orlov-ui;9Я;;\n' +
      'teacher;Белова;Марина;;belova-ui;;;\n';
    await page.getByLabel('Текст CSV').fill(csv);
    await page.getByRole('button', { name: 'Проверить' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Строка 3/);
    assert.doesNotMatch(text, /Строка [24]/);
    assert.doesNotMatch(text, /422|\{"/);
    assert.ok(await page.getByRole('button', { name: 'Импортировать' }).isDisabled());
  }));

  await t.test('admin: a class, a subject, a teacher, assignments; field errors at the fields', (t) => step(t, 'admin-setup', { width: 1280, height: 900 }, async (page) => {
    await signIn(page, s.admin);
    await page.goto(`${s.url}/app/school`);
    const form = (title) => page.locator('form', { has: page.getByRole('heading', { name: title, exact: true }) });

    const cls = form('Новый класс');
    await cls.getByLabel('Параллель (1–11)').fill('7');
    await cls.getByLabel('Буква', { exact: true }).fill('ЯЯЯ');
    await cls.getByRole('button', { name: 'Добавить' }).click();
    await cls.locator('.field[data-key="letter"] .field-error', { hasText: 'Буква класса — одна или две буквы' }).waitFor();
    assert.equal(await cls.getByLabel('Буква', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.doesNotMatch(await cls.innerText(), /letter|must|422/);
    await cls.getByLabel('Буква', { exact: true }).fill('В');
    await cls.getByRole('button', { name: 'Добавить' }).click();
    await page.getByText('Создано. 7В').waitFor();

    const subj = form('Новый предмет');
    await subj.getByLabel('Название предмета').fill('Физика');
    await subj.getByRole('button', { name: 'Добавить' }).click();
    await page.getByText('Создано. Физика').waitFor();

    const person = form('Новая учётная запись');
    await person.getByLabel('Фамилия').fill('Соколова');
    await person.getByLabel('Имя', { exact: true }).fill('Анна');
    await person.getByLabel('Отчество').fill('Петровна');
    await person.getByLabel('Логин (можно не указывать)').fill('ab');
    await person.getByRole('button', { name: 'Добавить' }).click();
    await person.locator('.field[data-key="login"] .field-error', { hasText: 'Логин: 3–64 символа' }).waitFor();
    await person.getByLabel('Логин (можно не указывать)').fill('sokolova-ui');
    assert.ok(await person.getByRole('checkbox', { name: 'учитель' }).isChecked());
    await person.getByRole('button', { name: 'Добавить' }).click();
    const created = await page.getByText(/Временный пароль: \S+/).innerText();
    const password = /Временный пароль: (\S+?) —/.exec(created)[1];
    assert.match(created, /Логин: sokolova-ui\./);
    const login = await fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'sokolova-ui', password }) });
    assert.equal(login.status, 200, 'the shown password signs the new teacher in');

    const classes = (await s.admin.api.get(`/api/v1/schools/${s.schoolId}/classes`)).json().items;
    const c7 = classes.find((c) => c.name === '7В');
    assert.ok(c7, 'class 7В exists');
    s.class7 = c7;
    const users = (await s.admin.api.get(`/api/v1/schools/${s.schoolId}/users?role=teacher&limit=500`)).json().items;
    const sokolova = users.find((u) => u.login === 'sokolova-ui');
    for (const [teacherId, subject] of [[sokolova.id, 'Физика'], [s.teachers[0].id, 'Математика']]) {
      const as = form('Новое назначение');
      await as.getByLabel('Учитель', { exact: true }).selectOption(String(teacherId));
      await as.getByLabel('Класс', { exact: true }).selectOption({ label: '7В' });
      await as.getByLabel('Предмет', { exact: true }).selectOption({ label: subject });
      await as.getByRole('button', { name: 'Добавить' }).click();
      await page.getByText(new RegExp(`Создано\\. 7В · ${subject}`)).waitFor();
    }
    // the same assignment again: a conflict said in words
    const as = form('Новое назначение');
    await as.getByLabel('Учитель', { exact: true }).selectOption(String(sokolova.id));
    await as.getByLabel('Класс', { exact: true }).selectOption({ label: '7В' });
    await as.getByLabel('Предмет', { exact: true }).selectOption({ label: 'Физика' });
    await as.getByRole('button', { name: 'Добавить' }).click();
    const err = await as.getByRole('alert').innerText();
    assert.doesNotMatch(err, /\{"|409|exists/);
    const mine = (await s.admin.api.get(`/api/v1/schools/${s.schoolId}/assignments?class_id=${c7.id}`)).json().items;
    assert.deepEqual(mine.map((a) => a.subject_name).sort(), ['Математика', 'Физика']);
  }));

  await t.test('admin: the timetable editor shows a conflict at its slot, then saves', (t) => step(t, 'admin-timetable', { width: 1280, height: 900 }, async (page) => {
    await signIn(page, s.admin);
    await page.goto(`${s.url}/app/school`);
    await page.locator('li', { hasText: '7В' }).getByRole('link', { name: 'Расписание' }).click();
    await page.getByRole('heading', { name: 'Расписание 7В' }).waitFor();
    const slot = (wd, n) => page.getByLabel(`${wd}, ${n}-й урок`, { exact: true });
    const pick = async (sel, subject) => sel.selectOption(await sel.locator('option', { hasText: subject }).getAttribute('value'));
    // teachers[0] already teaches 5А on Monday, lesson 1, this week
    await pick(slot('Понедельник', 1), 'Математика');
    await page.getByLabel('Понедельник, 1-й урок, кабинет').fill('201');
    await pick(slot('Понедельник', 2), 'Физика');
    await page.getByLabel('Понедельник, 2-й урок, кабинет').fill('305');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText('Расписание не сохранено').waitFor();
    const bad = page.locator('td.conflict');
    assert.equal(await bad.count(), 1);
    assert.match(await bad.innerText(), /Учитель в это время ведёт урок в 5А\./);
    assert.equal(await slot('Понедельник', 1).getAttribute('aria-invalid'), 'true');
    assert.equal((await s.admin.api.get(`/api/v1/classes/${s.class7.id}/timetable?date=${iso(monday)}`)).json().slots.length, 0, 'nothing saved');
    // clear Monday 1, put the lesson on Tuesday 1 (no other class has one there)
    await pick(slot('Вторник', 1), 'Математика');
    await slot('Понедельник', 1).selectOption('');
    await page.getByRole('button', { name: 'Сохранить' }).click();
    await page.getByText(/Расписание сохранено/).waitFor();
    assert.equal(await page.locator('td.conflict').count(), 0);
    const tt = (await s.admin.api.get(`/api/v1/classes/${s.class7.id}/timetable?date=${iso(monday)}`)).json();
    assert.deepEqual(tt.slots.map((x) => [x.weekday, x.lesson_no, x.subject_name, x.room]).sort(), [[1, 2, 'Физика', '305'], [2, 1, 'Математика', '']]);
    // reopened, the grid shows the saved week; at 360 px the page itself does not scroll sideways
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    await page.getByRole('heading', { name: 'Расписание 7В' }).waitFor();
    assert.equal(await page.getByLabel('Понедельник, 2-й урок, кабинет').inputValue(), '305');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways page scrolling at 360 px (overflow ${overflow}px)`);
  }));

  await t.test('phone, 360 px: the week fits and shows the mark', (t) => step(t, 'phone', { width: 360, height: 740 }, async (page) => {
    await signIn(page, s.marked);
    await page.goto(`${s.url}/app/week?date=${iso(monday)}`);
    await page.locator('section.day .mark', { hasText: '4' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at 360 px (overflow ${overflow}px)`);
    await page.goto(`${s.url}/app/journal`); // a student has no journal: a plain message, no raw error
    await page.locator('main').waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /\{"|40[13]/);
  }));
});
