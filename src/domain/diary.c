/*
 * diary.c - the everyday read pages (contract in diary.h).
 *
 * Shape: fetch the bounded row sets with one statement each into small
 * arrays in the writer's pool, then write the page in one pass (core/jsonw.h),
 * so the pages stay a few indexed statements regardless of how much history a
 * school has and allocate nothing per value. Grouping: a week has < 60
 * lessons and marks, matched linearly; a term journal's cells (up to a few
 * thousand marks) are sorted by (lesson, student) and merged, so nothing here
 * is quadratic in anything that grows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/diary.h"
#include "domain/journal.h"
#include "domain/school.h"

/* Column col as a number, or null for NULL. */
static void opt_int(dn_jsonw_t *w, const char *key, dn_stmt_t *st, int col)
{
    dn_jsonw_key(w, key);
    if (dn_stmt_is_null(st, col))
        dn_jsonw_null(w);
    else
        dn_jsonw_int(w, dn_stmt_int64(st, col));
}

static const char *pool_dup(h2o_mem_pool_t *pool, const char *s, size_t n)
{
    char *d = h2o_mem_alloc_pool(pool, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Column col copied into the pool (its text dies with the next step); NULL for SQL NULL. */
static const char *col_dup(h2o_mem_pool_t *pool, dn_stmt_t *st, int col)
{
    if (dn_stmt_is_null(st, col))
        return NULL;
    size_t n;
    const char *s = dn_stmt_text(st, col, &n);
    return pool_dup(pool, s ? s : "", s ? n : 0);
}

/* The same, but "" for SQL NULL (as dn_stmt_str reads it). */
static const char *col_str(h2o_mem_pool_t *pool, dn_stmt_t *st, int col)
{
    const char *s = col_dup(pool, st, col);
    return s != NULL ? s : "";
}

/* Room for one more element in a pool array (doubling; old copies stay in the pool). */
static void *grow(h2o_mem_pool_t *pool, void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 32;
    void *na = h2o_mem_alloc_pool(pool, ncap * size);
    if (n)
        memcpy(na, arr, n * size);
    *cap = ncap;
    return na;
}
#define PUSH(pool, arr, n, cap) ((arr) = grow((pool), (arr), (n), &(cap), sizeof(*(arr))), &(arr)[(n)++])

/* The academic year of an ISO date: the year if the month is >= 9. */
static int year_of(const char *date)
{
    int y = atoi(date), m = atoi(date + 5);
    return m >= 9 ? y : y - 1;
}

static dn_query_t q_student_class = {
    "SELECT c.school_id, c.id FROM class_students cs JOIN classes c ON c.id = cs.class_id WHERE cs.student_id = ? "
    "ORDER BY CASE WHEN cs.to_date IS NULL THEN 0 ELSE 1 END, cs.from_date DESC LIMIT 1"};
static dn_query_t q_student_role = {"SELECT school_id FROM user_roles WHERE user_id = ? AND role = 'student' "
                                    "ORDER BY school_id LIMIT 1"};

int dn_diary_student_school(dn_db_t *db, int64_t student_id, int64_t *school_id, int64_t *class_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_student_class);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    if (rc == DN_DB_ROW) {
        *school_id = dn_stmt_int64(st, 0);
        *class_id = dn_stmt_int64(st, 1);
        dn_stmt_finish(st);
        return 0;
    }
    *class_id = 0;
    st = dn_db_prepare(db, &q_student_role);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *school_id = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_current_term = {
    "SELECT id FROM terms WHERE school_id = ? AND starts_on <= ? ORDER BY starts_on DESC LIMIT 1"};

int dn_diary_current_term(dn_db_t *db, int64_t school_id, int64_t *term_id)
{
    char today[11];
    dn_date_today(today);
    /* the term containing today, else the last one that has started (holidays) */
    if (dn_journal_term_for_date(db, school_id, today, term_id, NULL) == 0)
        return 0;
    dn_stmt_t *st = dn_db_prepare(db, &q_current_term);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_text(st, 2, today, -1);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *term_id = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    return 0;
}

/* ------------------------------------------------------------ week */

typedef struct {
    int64_t class_id;
    char from[11], to[11]; /* to "" = open */
} span_t;

static dn_query_t q_spans = {"SELECT class_id, from_date, to_date FROM class_students WHERE student_id = ? AND "
                             "from_date <= ? AND (to_date IS NULL OR to_date > ?) ORDER BY from_date"};
static dn_query_t q_week_lessons = {
    "SELECT l.id, l.date, l.lesson_no, s.name, u.last_name, u.first_name, u.middle_name, l.room, l.topic, l.homework, "
    "l.cancelled, a.status, l.subject_id, l.change_note FROM lessons l JOIN subjects s ON s.id = l.subject_id "
    "JOIN users u ON u.id = l.teacher_id LEFT JOIN attendance a ON a.lesson_id = l.id AND a.student_id = ? "
    "WHERE l.class_id = ? AND l.date >= ? AND l.date <= ? ORDER BY l.date, l.lesson_no, l.id"};
static dn_query_t q_week_marks = {"SELECT lesson_id, checkpoint_id, value, kind, weight, comment, date, id FROM marks "
                                  "WHERE student_id = ? AND date >= ? AND date <= ? ORDER BY date, id"};
static dn_query_t q_week_checkpoints = {
    "SELECT c.id, c.subject_id, s.name, c.kind, c.title, c.description, c.due_date, c.weight, c.lesson_id, w.id, "
    "w.status FROM checkpoints c JOIN subjects s ON s.id = c.subject_id LEFT JOIN works w ON w.checkpoint_id = c.id "
    "AND w.student_id = ? WHERE c.class_id = ? AND c.due_date >= ? AND c.due_date <= ? ORDER BY c.due_date, c.id"};

typedef struct {
    int64_t id, lesson_no, subject_id;
    int weekday, cancelled;
    const char *date, *subject, *teacher, *room, *topic, *homework, *change_note, *attendance;
} week_lesson_t;

typedef struct {
    int64_t id, subject_id, weight, lesson_id, work_id; /* lesson_id/work_id 0 = null */
    const char *subject, *kind, *title, *description, *due_date, *work_status;
} week_cp_t;

typedef struct {
    int64_t id, lesson_id, checkpoint_id, value, weight; /* ids 0 = null */
    const char *kind, *comment;
} week_mark_t;

static const char *maxd(const char *a, const char *b)
{
    return strcmp(a, b) >= 0 ? a : b;
}

static void write_mark(dn_jsonw_t *w, const week_mark_t *m)
{
    dn_jsonw_obj(w);
    dn_jsonw_kint(w, "id", m->id);
    dn_jsonw_kint(w, "value", m->value);
    dn_jsonw_kstr(w, "kind", m->kind);
    dn_jsonw_kint(w, "weight", m->weight);
    dn_jsonw_kstr(w, "comment", m->comment);
    dn_jsonw_obj_end(w);
}

static void kopt(dn_jsonw_t *w, const char *key, int64_t id)
{
    dn_jsonw_key(w, key);
    if (id)
        dn_jsonw_int(w, id);
    else
        dn_jsonw_null(w);
}

int dn_diary_week(dn_db_t *db, dn_jsonw_t *w, int64_t student_id, const char *date)
{
    h2o_mem_pool_t *pool = w->pool;
    char mon[11], sat[11], sun[11], day[11], name[256];
    int wd = dn_date_weekday(date);
    if (wd == 0 || dn_date_add(date, 1 - wd, mon) != 0)
        return DN_EINVAL;
    dn_date_add(mon, 5, sat);
    dn_date_add(mon, 6, sun);

    span_t spans[8];
    int nspans = 0, rc;
    dn_stmt_t *st = dn_db_prepare(db, &q_spans);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_text(st, 2, sun, -1);
    dn_stmt_bind_text(st, 3, mon, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW && nspans < 8) {
        spans[nspans].class_id = dn_stmt_int64(st, 0);
        snprintf(spans[nspans].from, 11, "%s", dn_stmt_str(st, 1));
        snprintf(spans[nspans].to, 11, "%s", dn_stmt_str(st, 2));
        nspans++;
    }
    if (rc < 0)
        return rc;
    dn_stmt_finish(st);

    week_lesson_t *ls = NULL;
    week_cp_t *cps = NULL;
    week_mark_t *ms = NULL;
    size_t nls = 0, cls = 0, ncps = 0, ccps = 0, nms = 0, cms = 0;
    for (int s = 0; s < nspans; s++) {
        /* lessons of this class while the student was in it */
        const char *lo = maxd(mon, spans[s].from);
        char hi[11];
        snprintf(hi, sizeof(hi), "%s", sat);
        if (spans[s].to[0] && strcmp(spans[s].to, sat) <= 0)
            dn_date_add(spans[s].to, -1, hi);
        if ((st = dn_db_prepare(db, &q_week_lessons)) == NULL)
            return dn_db_failure(db);
        dn_stmt_bind_int64(st, 1, student_id);
        dn_stmt_bind_int64(st, 2, spans[s].class_id);
        dn_stmt_bind_text(st, 3, lo, -1);
        dn_stmt_bind_text(st, 4, hi, -1);
        while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
            const char *d = dn_stmt_str(st, 1);
            int wday = dn_date_weekday(d);
            if (wday < 1 || wday > 6)
                continue; /* Sunday lessons are not shown in a Mon..Sat diary */
            week_lesson_t *l = PUSH(pool, ls, nls, cls);
            l->id = dn_stmt_int64(st, 0);
            l->weekday = wday;
            l->date = col_str(pool, st, 1);
            l->lesson_no = dn_stmt_int64(st, 2);
            l->subject_id = dn_stmt_int64(st, 12);
            l->subject = col_str(pool, st, 3);
            dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 4), dn_stmt_str(st, 5), dn_stmt_str(st, 6));
            l->teacher = pool_dup(pool, name, strlen(name));
            l->room = col_str(pool, st, 7);
            l->topic = col_str(pool, st, 8);
            l->homework = col_str(pool, st, 9);
            l->cancelled = (int)dn_stmt_int64(st, 10);
            l->attendance = col_dup(pool, st, 11);
            l->change_note = col_str(pool, st, 13);
        }
        if (rc < 0)
            return rc;
        /* checkpoints due this week (Mon..Sun) */
        if ((st = dn_db_prepare(db, &q_week_checkpoints)) == NULL)
            return dn_db_failure(db);
        dn_stmt_bind_int64(st, 1, student_id);
        dn_stmt_bind_int64(st, 2, spans[s].class_id);
        dn_stmt_bind_text(st, 3, mon, -1);
        dn_stmt_bind_text(st, 4, sun, -1);
        while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
            week_cp_t *c = PUSH(pool, cps, ncps, ccps);
            c->id = dn_stmt_int64(st, 0);
            c->subject_id = dn_stmt_int64(st, 1);
            c->subject = col_str(pool, st, 2);
            c->kind = col_str(pool, st, 3);
            c->title = col_str(pool, st, 4);
            c->description = col_str(pool, st, 5);
            c->due_date = col_str(pool, st, 6);
            c->weight = dn_stmt_int64(st, 7);
            c->lesson_id = dn_stmt_int64(st, 8);
            c->work_id = dn_stmt_int64(st, 9);
            c->work_status = col_dup(pool, st, 10);
        }
        if (rc < 0)
            return rc;
    }
    /* the student's marks of the week, attached to their lesson / checkpoint */
    if ((st = dn_db_prepare(db, &q_week_marks)) == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_text(st, 2, mon, -1);
    dn_stmt_bind_text(st, 3, sun, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        week_mark_t *m = PUSH(pool, ms, nms, cms);
        m->lesson_id = dn_stmt_int64(st, 0);
        m->checkpoint_id = dn_stmt_int64(st, 1);
        m->value = dn_stmt_int64(st, 2);
        m->kind = col_str(pool, st, 3);
        m->weight = dn_stmt_int64(st, 4);
        m->comment = col_str(pool, st, 5);
        m->id = dn_stmt_int64(st, 7);
    }
    if (rc < 0)
        return rc;

    dn_jsonw_obj(w);
    dn_jsonw_kint(w, "student_id", student_id);
    dn_jsonw_kstr(w, "week_start", mon);
    dn_jsonw_kstr(w, "week_end", sat);
    dn_jsonw_key(w, "days");
    dn_jsonw_arr(w);
    for (int i = 0; i < 6; i++) {
        dn_date_add(mon, i, day);
        dn_jsonw_obj(w);
        dn_jsonw_kstr(w, "date", day);
        dn_jsonw_kint(w, "weekday", i + 1);
        dn_jsonw_key(w, "lessons");
        dn_jsonw_arr(w);
        for (size_t k = 0; k < nls; k++) {
            const week_lesson_t *l = &ls[k];
            if (l->weekday != i + 1)
                continue;
            dn_jsonw_obj(w);
            dn_jsonw_kint(w, "id", l->id);
            dn_jsonw_kstr(w, "date", l->date);
            dn_jsonw_kint(w, "lesson_no", l->lesson_no);
            dn_jsonw_kint(w, "subject_id", l->subject_id);
            dn_jsonw_kstr(w, "subject", l->subject);
            dn_jsonw_kstr(w, "teacher", l->teacher);
            dn_jsonw_kstr(w, "room", l->room);
            dn_jsonw_kstr(w, "topic", l->topic);
            dn_jsonw_kstr(w, "homework", l->homework);
            dn_jsonw_kbool(w, "cancelled", l->cancelled);
            dn_jsonw_kstr(w, "change_note", l->change_note);
            dn_jsonw_key(w, "marks");
            dn_jsonw_arr(w);
            for (size_t j = 0; j < nms; j++)
                if (ms[j].lesson_id == l->id)
                    write_mark(w, &ms[j]);
            dn_jsonw_arr_end(w);
            dn_jsonw_kstr(w, "attendance", l->attendance); /* NULL: null */
            dn_jsonw_obj_end(w);
        }
        dn_jsonw_arr_end(w);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_arr_end(w);
    dn_jsonw_key(w, "checkpoints");
    dn_jsonw_arr(w);
    for (size_t k = 0; k < ncps; k++) {
        const week_cp_t *c = &cps[k];
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", c->id);
        dn_jsonw_kint(w, "subject_id", c->subject_id);
        dn_jsonw_kstr(w, "subject", c->subject);
        dn_jsonw_kstr(w, "kind", c->kind);
        dn_jsonw_kstr(w, "title", c->title);
        dn_jsonw_kstr(w, "description", c->description);
        dn_jsonw_kstr(w, "due_date", c->due_date);
        dn_jsonw_kint(w, "weight", c->weight);
        kopt(w, "lesson_id", c->lesson_id);
        kopt(w, "work_id", c->work_id);
        dn_jsonw_kstr(w, "work_status", c->work_status);
        /* a checkpoint's mark: the last one of the week wins, as before */
        const week_mark_t *mark = NULL;
        for (size_t j = 0; j < nms; j++)
            if (ms[j].lesson_id == 0 && ms[j].checkpoint_id == c->id)
                mark = &ms[j];
        dn_jsonw_key(w, "mark");
        if (mark)
            write_mark(w, mark);
        else
            dn_jsonw_null(w);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_arr_end(w);
    dn_jsonw_obj_end(w);
    return 0;
}

/* ------------------------------------------------------------ marks of a term */

static dn_query_t q_term_row = {"SELECT id, school_id, year_start, number, starts_on, ends_on, closed_at FROM terms "
                                "WHERE id = ?"};
static dn_query_t q_student_marks = {
    "SELECT m.subject_id, s.name, m.date, m.value, m.weight, m.kind, m.comment, m.lesson_id, m.checkpoint_id, m.id "
    "FROM marks m JOIN subjects s ON s.id = m.subject_id WHERE m.student_id = ? AND m.term_id = ? "
    "ORDER BY s.name, m.subject_id, m.date, m.id"};
static dn_query_t q_student_term_marks = {
    "SELECT t.subject_id, s.name, t.value FROM term_marks t JOIN subjects s ON s.id = t.subject_id "
    "WHERE t.student_id = ? AND t.year_start = ? AND t.period = ?"};

int dn_diary_term(dn_db_t *db, int64_t term_id, dn_diary_term_t *t)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_row);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, term_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    t->id = term_id;
    t->school_id = dn_stmt_int64(st, 1);
    t->year_start = (int)dn_stmt_int64(st, 2);
    t->number = (int)dn_stmt_int64(st, 3);
    snprintf(t->starts_on, sizeof(t->starts_on), "%s", dn_stmt_str(st, 4));
    snprintf(t->ends_on, sizeof(t->ends_on), "%s", dn_stmt_str(st, 5));
    t->closed = !dn_stmt_is_null(st, 6);
    dn_stmt_finish(st);
    return 0;
}

static void write_term(dn_jsonw_t *w, const dn_diary_term_t *t)
{
    dn_jsonw_key(w, "term");
    dn_jsonw_obj(w);
    dn_jsonw_kint(w, "id", t->id);
    dn_jsonw_kint(w, "year_start", t->year_start);
    dn_jsonw_kint(w, "number", t->number);
    dn_jsonw_kstr(w, "starts_on", t->starts_on);
    dn_jsonw_kstr(w, "ends_on", t->ends_on);
    dn_jsonw_kbool(w, "closed", t->closed);
    dn_jsonw_obj_end(w);
}

/* The average / sum members of a subject or student entry. */
static void write_average(dn_jsonw_t *w, int64_t svw, int64_t sw)
{
    dn_jsonw_key(w, "average");
    if (sw)
        dn_jsonw_real(w, dn_journal_average_from_sums(svw, sw));
    else
        dn_jsonw_null(w);
    dn_jsonw_kint(w, "sum_weighted", svw);
    dn_jsonw_kint(w, "sum_weights", sw);
}

typedef struct {
    int64_t subject_id, value;
    const char *subject;
    int used; /* written with the subject's marks */
} term_mark_t;

/* Closes a subject entry: its marks array, term mark and averages. */
static void end_subject(dn_jsonw_t *w, term_mark_t *tms, size_t ntms, int64_t sid, int64_t svw, int64_t sw)
{
    dn_jsonw_arr_end(w);
    dn_jsonw_key(w, "term_mark");
    term_mark_t *tm = NULL;
    for (size_t i = 0; i < ntms; i++)
        if (tms[i].subject_id == sid)
            tm = &tms[i];
    if (tm) {
        dn_jsonw_int(w, tm->value);
        tm->used = 1;
    } else {
        dn_jsonw_null(w);
    }
    write_average(w, svw, sw);
    dn_jsonw_obj_end(w);
}

int dn_diary_marks(dn_db_t *db, dn_jsonw_t *w, int64_t student_id, int64_t school_id, const dn_diary_term_t *t)
{
    h2o_mem_pool_t *pool = w->pool;
    int rc;
    if (t->school_id != school_id)
        return DN_ENOTFOUND;
    /* term marks first (a handful), so each subject can be closed as its marks end */
    dn_stmt_t *st = dn_db_prepare(db, &q_student_term_marks);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_int64(st, 2, t->year_start);
    dn_stmt_bind_int64(st, 3, t->number);
    term_mark_t *tms = NULL;
    size_t ntms = 0, ctms = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        term_mark_t *tm = PUSH(pool, tms, ntms, ctms);
        tm->subject_id = dn_stmt_int64(st, 0);
        tm->subject = col_str(pool, st, 1);
        tm->value = dn_stmt_int64(st, 2);
        tm->used = 0;
    }
    if (rc < 0)
        return rc;

    if ((st = dn_db_prepare(db, &q_student_marks)) == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_int64(st, 2, t->id);
    dn_jsonw_obj(w);
    dn_jsonw_kint(w, "student_id", student_id);
    write_term(w, t);
    dn_jsonw_key(w, "subjects");
    dn_jsonw_arr(w);
    int open = 0;
    int64_t cur_id = 0, svw = 0, sw = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t sid = dn_stmt_int64(st, 0);
        if (!open || sid != cur_id) {
            if (open)
                end_subject(w, tms, ntms, cur_id, svw, sw);
            dn_jsonw_obj(w);
            dn_jsonw_kint(w, "subject_id", sid);
            dn_jsonw_kstr(w, "subject", dn_stmt_str(st, 1));
            dn_jsonw_key(w, "marks");
            dn_jsonw_arr(w);
            open = 1, cur_id = sid, svw = 0, sw = 0;
        }
        int64_t v = dn_stmt_int64(st, 3), wt = dn_stmt_int64(st, 4);
        svw += v * wt;
        sw += wt;
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", dn_stmt_int64(st, 9));
        dn_jsonw_kstr(w, "date", dn_stmt_str(st, 2));
        dn_jsonw_kint(w, "value", v);
        dn_jsonw_kint(w, "weight", wt);
        dn_jsonw_kstr(w, "kind", dn_stmt_str(st, 5));
        dn_jsonw_kstr(w, "comment", dn_stmt_str(st, 6));
        opt_int(w, "lesson_id", st, 7);
        opt_int(w, "checkpoint_id", st, 8);
        dn_jsonw_obj_end(w);
    }
    if (rc < 0)
        return rc;
    if (open)
        end_subject(w, tms, ntms, cur_id, svw, sw);
    for (size_t i = 0; i < ntms; i++) { /* a term mark without marks this term */
        if (tms[i].used)
            continue;
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "subject_id", tms[i].subject_id);
        dn_jsonw_kstr(w, "subject", tms[i].subject);
        dn_jsonw_key(w, "marks");
        dn_jsonw_arr(w);
        dn_jsonw_arr_end(w);
        dn_jsonw_kint(w, "term_mark", tms[i].value);
        write_average(w, 0, 0);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_arr_end(w);
    dn_jsonw_obj_end(w);
    return 0;
}

/* ------------------------------------------------------------ class journal */

static dn_query_t q_journal_students = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name FROM class_students cs JOIN users u ON u.id = cs.student_id "
    "WHERE cs.class_id = ? AND cs.from_date <= ? AND (cs.to_date IS NULL OR cs.to_date > ?) "
    "ORDER BY u.last_name, u.first_name, u.id"};
static dn_query_t q_journal_lessons = {
    "SELECT id, date, lesson_no, topic, homework, cancelled FROM lessons WHERE class_id = ? AND subject_id = ? AND "
    "date >= ? AND date <= ? ORDER BY date, lesson_no, id"};
static dn_query_t q_journal_marks = {
    "SELECT id, student_id, lesson_id, checkpoint_id, value, kind, weight, comment, date FROM marks WHERE class_id = ? "
    "AND subject_id = ? AND term_id = ? ORDER BY date, id"};
static dn_query_t q_journal_att = {
    "SELECT a.lesson_id, a.student_id, a.status FROM lessons l JOIN attendance a ON a.lesson_id = l.id WHERE "
    "l.class_id = ? AND l.subject_id = ? AND l.date >= ? AND l.date <= ?"};

typedef struct {
    int64_t id, svw, sw;
} jstudent_t;

typedef struct {
    int64_t id, student_id, lesson_id, checkpoint_id, value, weight; /* lesson/checkpoint 0 = null */
    const char *kind, *comment, *date;
    size_t seq; /* row order (date, id), kept through the sort */
} jmark_t;

typedef struct {
    int64_t lesson_id, student_id;
    const char *status;
} jatt_t;

static int cmp_cell_mark(const void *a, const void *b)
{
    const jmark_t *x = a, *y = b;
    if (x->lesson_id != y->lesson_id)
        return x->lesson_id < y->lesson_id ? -1 : 1;
    if (x->student_id != y->student_id)
        return x->student_id < y->student_id ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_att(const void *a, const void *b)
{
    const jatt_t *x = a, *y = b;
    if (x->lesson_id != y->lesson_id)
        return x->lesson_id < y->lesson_id ? -1 : 1;
    return x->student_id < y->student_id ? -1 : x->student_id > y->student_id;
}

static int cmp_student_id(const void *a, const void *b)
{
    const jstudent_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* (lesson, student) order of a mark or an attendance row. */
static int cell_cmp(int64_t l1, int64_t s1, int64_t l2, int64_t s2)
{
    if (l1 != l2)
        return l1 < l2 ? -1 : 1;
    return s1 < s2 ? -1 : s1 > s2;
}

static void write_cell_key(dn_jsonw_t *w, int64_t lesson_id, int64_t student_id)
{
    char key[48];
    snprintf(key, sizeof(key), "%lld:%lld", (long long)lesson_id, (long long)student_id);
    dn_jsonw_key(w, key);
}

int dn_diary_class_journal(dn_db_t *db, dn_jsonw_t *w, int64_t school_id, int64_t class_id, int64_t subject_id,
                           const dn_diary_term_t *t)
{
    h2o_mem_pool_t *pool = w->pool;
    char name[256];
    int rc;
    if (t->school_id != school_id)
        return DN_ENOTFOUND;

    /* marks and attendance first: the students' averages come from the marks */
    dn_stmt_t *st = dn_db_prepare(db, &q_journal_marks);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_int64(st, 3, t->id);
    jmark_t *ms = NULL;
    size_t nms = 0, cms = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        jmark_t *m = PUSH(pool, ms, nms, cms);
        m->seq = nms;
        m->id = dn_stmt_int64(st, 0);
        m->student_id = dn_stmt_int64(st, 1);
        m->lesson_id = dn_stmt_int64(st, 2);
        m->checkpoint_id = dn_stmt_int64(st, 3);
        m->value = dn_stmt_int64(st, 4);
        m->kind = col_str(pool, st, 5);
        m->weight = dn_stmt_int64(st, 6);
        m->comment = col_str(pool, st, 7);
        m->date = col_str(pool, st, 8);
    }
    if (rc < 0)
        return rc;
    if ((st = dn_db_prepare(db, &q_journal_att)) == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_text(st, 3, t->starts_on, -1);
    dn_stmt_bind_text(st, 4, t->ends_on, -1);
    jatt_t *as = NULL;
    size_t nas = 0, cas = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        jatt_t *a = PUSH(pool, as, nas, cas);
        a->lesson_id = dn_stmt_int64(st, 0);
        a->student_id = dn_stmt_int64(st, 1);
        a->status = col_str(pool, st, 2);
    }
    if (rc < 0)
        return rc;

    dn_jsonw_obj(w);
    dn_jsonw_kint(w, "class_id", class_id);
    dn_jsonw_kint(w, "subject_id", subject_id);
    write_term(w, t);

    if ((st = dn_db_prepare(db, &q_journal_students)) == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_text(st, 2, t->ends_on, -1);
    dn_stmt_bind_text(st, 3, t->starts_on, -1);
    jstudent_t *ss = NULL;
    size_t nss = 0, css = 0;
    dn_jsonw_key(w, "students");
    dn_jsonw_arr(w);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t id = dn_stmt_int64(st, 0);
        if (nss > 0 && ss[nss - 1].id == id)
            continue; /* left and came back within the term */
        *PUSH(pool, ss, nss, css) = (jstudent_t){id, 0, 0};
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", id);
        dn_jsonw_kstr(w, "name", dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 1), dn_stmt_str(st, 2),
                                                      dn_stmt_str(st, 3)));
        dn_jsonw_obj_end(w);
    }
    if (rc < 0)
        return rc;
    dn_jsonw_arr_end(w);

    if ((st = dn_db_prepare(db, &q_journal_lessons)) == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_text(st, 3, t->starts_on, -1);
    dn_stmt_bind_text(st, 4, t->ends_on, -1);
    dn_jsonw_key(w, "lessons");
    dn_jsonw_arr(w);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", dn_stmt_int64(st, 0));
        dn_jsonw_kstr(w, "date", dn_stmt_str(st, 1));
        dn_jsonw_kint(w, "lesson_no", dn_stmt_int64(st, 2));
        dn_jsonw_kstr(w, "topic", dn_stmt_str(st, 3));
        dn_jsonw_kstr(w, "homework", dn_stmt_str(st, 4));
        dn_jsonw_kbool(w, "cancelled", (int)dn_stmt_int64(st, 5));
        dn_jsonw_obj_end(w);
    }
    if (rc < 0)
        return rc;
    dn_jsonw_arr_end(w);

    /* averages per student over all marks (lesson and checkpoint), looked up by id */
    jstudent_t *by_id = h2o_mem_alloc_pool(pool, (nss ? nss : 1) * sizeof(*by_id));
    if (nss) /* ss is NULL for a class without students: memcpy/qsort must not see NULL */
        memcpy(by_id, ss, nss * sizeof(*ss));
    qsort(by_id, nss, sizeof(*by_id), cmp_student_id);
    for (size_t i = 0; i < nms; i++) {
        jstudent_t *s = bsearch(&(jstudent_t){ms[i].student_id, 0, 0}, by_id, nss, sizeof(*by_id), cmp_student_id);
        if (s) {
            s->svw += ms[i].value * ms[i].weight;
            s->sw += ms[i].weight;
        }
    }

    /* cells: lesson marks and attendance merged in (lesson, student) order */
    size_t nlm = 0;
    jmark_t *lm = h2o_mem_alloc_pool(pool, (nms ? nms : 1) * sizeof(*lm));
    for (size_t i = 0; i < nms; i++)
        if (ms[i].lesson_id != 0)
            lm[nlm++] = ms[i];
    qsort(lm, nlm, sizeof(*lm), cmp_cell_mark);
    if (nas) /* as is NULL when nobody was absent (found by tests/fuzz/api_json.c, UBSan) */
        qsort(as, nas, sizeof(*as), cmp_att);
    dn_jsonw_key(w, "cells");
    dn_jsonw_obj(w);
    size_t i = 0, j = 0;
    while (i < nlm || j < nas) {
        int64_t l, s;
        int mark_first = j >= nas ||
                         (i < nlm && cell_cmp(lm[i].lesson_id, lm[i].student_id, as[j].lesson_id, as[j].student_id) <= 0);
        if (mark_first)
            l = lm[i].lesson_id, s = lm[i].student_id;
        else
            l = as[j].lesson_id, s = as[j].student_id;
        write_cell_key(w, l, s);
        dn_jsonw_obj(w);
        dn_jsonw_key(w, "marks");
        dn_jsonw_arr(w);
        for (; i < nlm && lm[i].lesson_id == l && lm[i].student_id == s; i++)
            write_mark(w, &(week_mark_t){lm[i].id, l, 0, lm[i].value, lm[i].weight, lm[i].kind, lm[i].comment});
        dn_jsonw_arr_end(w);
        const char *status = NULL;
        for (; j < nas && as[j].lesson_id == l && as[j].student_id == s; j++)
            status = as[j].status;
        dn_jsonw_kstr(w, "attendance", status);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_obj_end(w);

    dn_jsonw_key(w, "checkpoint_marks");
    dn_jsonw_arr(w);
    for (size_t k = 0; k < nms; k++) {
        const jmark_t *m = &ms[k];
        if (m->lesson_id != 0)
            continue;
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", m->id);
        dn_jsonw_kint(w, "value", m->value);
        dn_jsonw_kstr(w, "kind", m->kind);
        dn_jsonw_kint(w, "weight", m->weight);
        dn_jsonw_kstr(w, "comment", m->comment);
        dn_jsonw_kint(w, "student_id", m->student_id);
        kopt(w, "checkpoint_id", m->checkpoint_id);
        dn_jsonw_kstr(w, "date", m->date);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_arr_end(w);

    dn_jsonw_key(w, "averages");
    dn_jsonw_obj(w);
    for (size_t k = 0; k < nss; k++) {
        const jstudent_t *s = bsearch(&ss[k], by_id, nss, sizeof(*by_id), cmp_student_id);
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)ss[k].id);
        dn_jsonw_key(w, key);
        dn_jsonw_obj(w);
        write_average(w, s->svw, s->sw);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_obj_end(w);
    dn_jsonw_obj_end(w);
    return 0;
}

/* ------------------------------------------------------------ teacher's day */

static dn_query_t q_teacher_day = {
    "SELECT l.id, l.school_id, l.class_id, c.start_year, c.letter, l.subject_id, s.name, l.lesson_no, l.room, l.topic, "
    "l.homework, l.cancelled, l.subgroup FROM lessons l JOIN classes c ON c.id = l.class_id JOIN subjects s ON "
    "s.id = l.subject_id WHERE l.teacher_id = ? AND l.date = ? ORDER BY l.lesson_no, l.id"};

typedef struct {
    int64_t id, school_id, class_id, subject_id, lesson_no;
    int cancelled;
    char cname[32];
    const char *subject, *room, *topic, *homework, *subgroup;
} tday_t;

int dn_diary_teacher_day(dn_db_t *db, dn_jsonw_t *w, int64_t teacher_id, const char *date,
                         int (*keep)(void *arg, int64_t school_id), void *arg)
{
    h2o_mem_pool_t *pool = w->pool;
    dn_stmt_t *st = dn_db_prepare(db, &q_teacher_day);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, teacher_id);
    dn_stmt_bind_text(st, 2, date, -1);
    tday_t *ls = NULL;
    size_t n = 0, cap = 0;
    int rc, year = year_of(date);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        tday_t *l = PUSH(pool, ls, n, cap);
        l->id = dn_stmt_int64(st, 0);
        l->school_id = dn_stmt_int64(st, 1);
        l->class_id = dn_stmt_int64(st, 2);
        dn_class_name((int)dn_stmt_int64(st, 3), dn_stmt_str(st, 4), year, l->cname, sizeof(l->cname));
        l->subject_id = dn_stmt_int64(st, 5);
        l->subject = col_str(pool, st, 6);
        l->lesson_no = dn_stmt_int64(st, 7);
        l->room = col_str(pool, st, 8);
        l->topic = col_str(pool, st, 9);
        l->homework = col_str(pool, st, 10);
        l->cancelled = (int)dn_stmt_int64(st, 11);
        l->subgroup = col_str(pool, st, 12);
    }
    if (rc < 0)
        return rc;
    /* keep() may run statements of its own: only after this one has ended */
    dn_jsonw_obj(w);
    dn_jsonw_kstr(w, "date", date);
    dn_jsonw_key(w, "items");
    dn_jsonw_arr(w);
    for (size_t i = 0; i < n; i++) {
        const tday_t *l = &ls[i];
        if (keep != NULL && !keep(arg, l->school_id))
            continue;
        const char *topic = l->topic, *hw = l->homework;
        dn_jsonw_obj(w);
        dn_jsonw_kint(w, "id", l->id);
        dn_jsonw_kint(w, "school_id", l->school_id);
        dn_jsonw_kint(w, "class_id", l->class_id);
        dn_jsonw_kstr(w, "class", l->cname);
        dn_jsonw_kint(w, "subject_id", l->subject_id);
        dn_jsonw_kstr(w, "subject", l->subject);
        dn_jsonw_kint(w, "lesson_no", l->lesson_no);
        dn_jsonw_kstr(w, "room", l->room);
        dn_jsonw_kstr(w, "topic", topic);
        dn_jsonw_kstr(w, "homework", hw);
        dn_jsonw_kbool(w, "cancelled", l->cancelled);
        dn_jsonw_kbool(w, "topic_filled", topic[0] != '\0');
        dn_jsonw_kbool(w, "homework_filled", hw[0] != '\0');
        dn_jsonw_kstr(w, "subgroup", l->subgroup);
        dn_jsonw_obj_end(w);
    }
    dn_jsonw_arr_end(w);
    dn_jsonw_obj_end(w);
    return 0;
}
