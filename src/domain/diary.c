/*
 * diary.c - the everyday read pages (contract in diary.h).
 *
 * Shape: fetch the bounded row sets with one statement each and stitch them
 * together in C (lessons of a week, marks of a week, ...), so the pages stay
 * a few indexed statements regardless of how much history a school has.
 * Grouping uses small linear maps: a week has < 60 lessons, a class < 50
 * students, so nothing here is quadratic in anything that grows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/diary.h"
#include "domain/journal.h"
#include "domain/school.h"

static json_t *opt_int(dn_stmt_t *st, int col)
{
    return dn_stmt_is_null(st, col) ? json_null() : json_integer(dn_stmt_int64(st, col));
}

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
        return DN_EDB;
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
        return DN_EDB;
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
        return DN_EDB;
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

static const char *maxd(const char *a, const char *b)
{
    return strcmp(a, b) >= 0 ? a : b;
}

int dn_diary_week(dn_db_t *db, int64_t student_id, const char *date, json_t **out)
{
    char mon[11], sat[11], sun[11], day[11], name[256];
    int wd = dn_date_weekday(date);
    *out = NULL;
    if (wd == 0 || dn_date_add(date, 1 - wd, mon) != 0)
        return DN_EINVAL;
    dn_date_add(mon, 5, sat);
    dn_date_add(mon, 6, sun);

    span_t spans[8];
    int nspans = 0, rc;
    dn_stmt_t *st = dn_db_prepare(db, &q_spans);
    if (st == NULL)
        return DN_EDB;
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

    json_t *days = json_array(), *checkpoints = json_array();
    json_t *by_id = json_object(); /* lesson id -> lesson, checkpoint "c<id>" -> checkpoint (borrowed) */
    for (int i = 0; i < 6; i++) {
        dn_date_add(mon, i, day);
        json_array_append_new(days, json_pack("{s:s, s:i, s:[]}", "date", day, "weekday", i + 1, "lessons"));
    }
    for (int s = 0; s < nspans; s++) {
        /* lessons of this class while the student was in it */
        const char *lo = maxd(mon, spans[s].from);
        char hi[11];
        snprintf(hi, sizeof(hi), "%s", sat);
        if (spans[s].to[0] && strcmp(spans[s].to, sat) <= 0)
            dn_date_add(spans[s].to, -1, hi);
        st = dn_db_prepare(db, &q_week_lessons);
        if (st == NULL) {
            rc = DN_EDB;
            goto fail;
        }
        dn_stmt_bind_int64(st, 1, student_id);
        dn_stmt_bind_int64(st, 2, spans[s].class_id);
        dn_stmt_bind_text(st, 3, lo, -1);
        dn_stmt_bind_text(st, 4, hi, -1);
        while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
            const char *d = dn_stmt_str(st, 1);
            int w = dn_date_weekday(d);
            if (w < 1 || w > 6)
                continue; /* Sunday lessons are not shown in a Mon..Sat diary */
            json_t *l = json_pack(
                "{s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:[], s:o}", "id",
                (json_int_t)dn_stmt_int64(st, 0), "date", d, "lesson_no", (json_int_t)dn_stmt_int64(st, 2),
                "subject_id", (json_int_t)dn_stmt_int64(st, 12), "subject", dn_stmt_str(st, 3), "teacher",
                dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 4), dn_stmt_str(st, 5), dn_stmt_str(st, 6)), "room",
                dn_stmt_str(st, 7), "topic", dn_stmt_str(st, 8), "homework", dn_stmt_str(st, 9), "cancelled",
                (int)dn_stmt_int64(st, 10), "change_note", dn_stmt_str(st, 13), "marks", "attendance",
                dn_stmt_is_null(st, 11) ? json_null() : json_string(dn_stmt_str(st, 11)));
            char key[32];
            snprintf(key, sizeof(key), "%lld", (long long)dn_stmt_int64(st, 0));
            json_object_set(by_id, key, l);
            json_array_append_new(json_object_get(json_array_get(days, (size_t)(w - 1)), "lessons"), l);
        }
        if (rc < 0)
            goto fail;
        /* checkpoints due this week (Mon..Sun) */
        st = dn_db_prepare(db, &q_week_checkpoints);
        if (st == NULL) {
            rc = DN_EDB;
            goto fail;
        }
        dn_stmt_bind_int64(st, 1, student_id);
        dn_stmt_bind_int64(st, 2, spans[s].class_id);
        dn_stmt_bind_text(st, 3, mon, -1);
        dn_stmt_bind_text(st, 4, sun, -1);
        while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
            json_t *c = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:n}", "id",
                                  (json_int_t)dn_stmt_int64(st, 0), "subject_id", (json_int_t)dn_stmt_int64(st, 1),
                                  "subject", dn_stmt_str(st, 2), "kind", dn_stmt_str(st, 3), "title", dn_stmt_str(st, 4),
                                  "description", dn_stmt_str(st, 5), "due_date", dn_stmt_str(st, 6), "weight",
                                  (json_int_t)dn_stmt_int64(st, 7), "lesson_id", opt_int(st, 8), "work_id",
                                  opt_int(st, 9), "work_status",
                                  dn_stmt_is_null(st, 10) ? json_null() : json_string(dn_stmt_str(st, 10)), "mark");
            char key[32];
            snprintf(key, sizeof(key), "c%lld", (long long)dn_stmt_int64(st, 0));
            json_object_set(by_id, key, c);
            json_array_append_new(checkpoints, c);
        }
        if (rc < 0)
            goto fail;
    }
    /* the student's marks of the week, attached to their lesson / checkpoint */
    st = dn_db_prepare(db, &q_week_marks);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_text(st, 2, mon, -1);
    dn_stmt_bind_text(st, 3, sun, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        char key[32];
        json_t *m = json_pack("{s:I, s:I, s:s, s:I, s:s}", "id", (json_int_t)dn_stmt_int64(st, 7), "value",
                              (json_int_t)dn_stmt_int64(st, 2), "kind", dn_stmt_str(st, 3), "weight",
                              (json_int_t)dn_stmt_int64(st, 4), "comment", dn_stmt_str(st, 5));
        if (!dn_stmt_is_null(st, 0)) {
            snprintf(key, sizeof(key), "%lld", (long long)dn_stmt_int64(st, 0));
            json_t *l = json_object_get(by_id, key);
            if (l)
                json_array_append(json_object_get(l, "marks"), m);
        } else if (!dn_stmt_is_null(st, 1)) {
            snprintf(key, sizeof(key), "c%lld", (long long)dn_stmt_int64(st, 1));
            json_t *c = json_object_get(by_id, key);
            if (c)
                json_object_set(c, "mark", m);
        }
        json_decref(m);
    }
    if (rc < 0)
        goto fail;
    json_decref(by_id);
    *out = json_pack("{s:I, s:s, s:s, s:o, s:o}", "student_id", (json_int_t)student_id, "week_start", mon, "week_end",
                     sat, "days", days, "checkpoints", checkpoints);
    return 0;
fail:
    json_decref(by_id);
    json_decref(days);
    json_decref(checkpoints);
    return rc;
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

typedef struct {
    char from[11], to[11];
    int year_start, number;
    int64_t school_id;
    int closed;
} term_t;

static int load_term(dn_db_t *db, int64_t term_id, term_t *t, json_t **json)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_row);
    if (st == NULL)
        return DN_EDB;
    dn_stmt_bind_int64(st, 1, term_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    t->school_id = dn_stmt_int64(st, 1);
    t->year_start = (int)dn_stmt_int64(st, 2);
    t->number = (int)dn_stmt_int64(st, 3);
    snprintf(t->from, 11, "%s", dn_stmt_str(st, 4));
    snprintf(t->to, 11, "%s", dn_stmt_str(st, 5));
    t->closed = !dn_stmt_is_null(st, 6);
    dn_stmt_finish(st);
    *json = json_pack("{s:I, s:i, s:i, s:s, s:s, s:b}", "id", (json_int_t)term_id, "year_start", t->year_start,
                      "number", t->number, "starts_on", t->from, "ends_on", t->to, "closed", t->closed);
    return 0;
}

/* Sets average / sum fields on a subject or student entry. */
static void set_average(json_t *o, int64_t svw, int64_t sw)
{
    json_object_set_new(o, "average", sw ? json_real(dn_journal_average_from_sums(svw, sw)) : json_null());
    json_object_set_new(o, "sum_weighted", json_integer(svw));
    json_object_set_new(o, "sum_weights", json_integer(sw));
}

int dn_diary_marks(dn_db_t *db, int64_t student_id, int64_t school_id, int64_t term_id, json_t **out)
{
    term_t t;
    json_t *term = NULL, *subjects = json_array(), *by_subject = json_object();
    int rc = load_term(db, term_id, &t, &term);
    *out = NULL;
    if (rc == 0 && t.school_id != school_id)
        rc = DN_ENOTFOUND;
    if (rc != 0)
        goto fail;
    dn_stmt_t *st = dn_db_prepare(db, &q_student_marks);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_int64(st, 2, term_id);
    json_t *cur = NULL;
    int64_t cur_id = 0, svw = 0, sw = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t sid = dn_stmt_int64(st, 0);
        if (cur == NULL || sid != cur_id) {
            if (cur)
                set_average(cur, svw, sw);
            cur = json_pack("{s:I, s:s, s:[], s:n}", "subject_id", (json_int_t)sid, "subject", dn_stmt_str(st, 1),
                            "marks", "term_mark");
            json_array_append_new(subjects, cur);
            char key[24];
            snprintf(key, sizeof(key), "%lld", (long long)sid);
            json_object_set(by_subject, key, cur);
            cur_id = sid, svw = 0, sw = 0;
        }
        int64_t v = dn_stmt_int64(st, 3), w = dn_stmt_int64(st, 4);
        svw += v * w;
        sw += w;
        json_array_append_new(json_object_get(cur, "marks"),
                              json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:o, s:o}", "id",
                                        (json_int_t)dn_stmt_int64(st, 9), "date", dn_stmt_str(st, 2), "value",
                                        (json_int_t)v, "weight", (json_int_t)w, "kind", dn_stmt_str(st, 5), "comment",
                                        dn_stmt_str(st, 6), "lesson_id", opt_int(st, 7), "checkpoint_id",
                                        opt_int(st, 8)));
    }
    if (cur)
        set_average(cur, svw, sw);
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_student_term_marks);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, student_id);
    dn_stmt_bind_int64(st, 2, t.year_start);
    dn_stmt_bind_int64(st, 3, t.number);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)dn_stmt_int64(st, 0));
        json_t *s = json_object_get(by_subject, key);
        if (s == NULL) { /* a term mark without marks this term */
            s = json_pack("{s:I, s:s, s:[], s:n, s:I, s:I}", "subject_id", (json_int_t)dn_stmt_int64(st, 0), "subject",
                          dn_stmt_str(st, 1), "marks", "average", "sum_weighted", (json_int_t)0, "sum_weights",
                          (json_int_t)0);
            json_array_append_new(subjects, s);
            json_object_set(by_subject, key, s);
        }
        json_object_set_new(s, "term_mark", json_integer(dn_stmt_int64(st, 2)));
    }
    if (rc < 0)
        goto fail;
    json_decref(by_subject);
    *out = json_pack("{s:I, s:o, s:o}", "student_id", (json_int_t)student_id, "term", term, "subjects", subjects);
    return 0;
fail:
    json_decref(term);
    json_decref(subjects);
    json_decref(by_subject);
    return rc;
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

static json_t *cell(json_t *cells, int64_t lesson_id, int64_t student_id)
{
    char key[48];
    snprintf(key, sizeof(key), "%lld:%lld", (long long)lesson_id, (long long)student_id);
    json_t *c = json_object_get(cells, key);
    if (c == NULL) {
        c = json_pack("{s:[], s:n}", "marks", "attendance");
        json_object_set_new(cells, key, c);
    }
    return c;
}

int dn_diary_class_journal(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id, int64_t term_id,
                           json_t **out)
{
    term_t t;
    char name[256];
    json_t *term = NULL, *students = json_array(), *lessons = json_array(), *cells = json_object();
    json_t *cpmarks = json_array(), *averages = json_object();
    int rc = load_term(db, term_id, &t, &term);
    *out = NULL;
    if (rc == 0 && t.school_id != school_id)
        rc = DN_ENOTFOUND;
    if (rc != 0)
        goto fail;
    dn_stmt_t *st = dn_db_prepare(db, &q_journal_students);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_text(st, 2, t.to, -1);
    dn_stmt_bind_text(st, 3, t.from, -1);
    int64_t last = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t id = dn_stmt_int64(st, 0);
        if (id == last)
            continue; /* left and came back within the term */
        last = id;
        json_array_append_new(students, json_pack("{s:I, s:s}", "id", (json_int_t)id, "name",
                                                  dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 1),
                                                                       dn_stmt_str(st, 2), dn_stmt_str(st, 3))));
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)id);
        json_t *a = json_object();
        set_average(a, 0, 0);
        json_object_set_new(averages, key, a);
    }
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_journal_lessons);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_text(st, 3, t.from, -1);
    dn_stmt_bind_text(st, 4, t.to, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(lessons, json_pack("{s:I, s:s, s:I, s:s, s:s, s:b}", "id",
                                                 (json_int_t)dn_stmt_int64(st, 0), "date", dn_stmt_str(st, 1),
                                                 "lesson_no", (json_int_t)dn_stmt_int64(st, 2), "topic",
                                                 dn_stmt_str(st, 3), "homework", dn_stmt_str(st, 4), "cancelled",
                                                 (int)dn_stmt_int64(st, 5)));
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_journal_marks);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_int64(st, 3, term_id);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t sid = dn_stmt_int64(st, 1), v = dn_stmt_int64(st, 4), w = dn_stmt_int64(st, 6);
        json_t *m = json_pack("{s:I, s:I, s:s, s:I, s:s}", "id", (json_int_t)dn_stmt_int64(st, 0), "value",
                              (json_int_t)v, "kind", dn_stmt_str(st, 5), "weight", (json_int_t)w, "comment",
                              dn_stmt_str(st, 7));
        if (!dn_stmt_is_null(st, 2)) {
            json_array_append_new(json_object_get(cell(cells, dn_stmt_int64(st, 2), sid), "marks"), m);
        } else {
            json_object_set_new(m, "student_id", json_integer(sid));
            json_object_set_new(m, "checkpoint_id", opt_int(st, 3));
            json_object_set_new(m, "date", json_string(dn_stmt_str(st, 8)));
            json_array_append_new(cpmarks, m);
        }
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)sid);
        json_t *a = json_object_get(averages, key);
        if (a) {
            int64_t svw = json_integer_value(json_object_get(a, "sum_weighted")) + v * w;
            int64_t sw = json_integer_value(json_object_get(a, "sum_weights")) + w;
            set_average(a, svw, sw);
        }
    }
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_journal_att);
    if (st == NULL) {
        rc = DN_EDB;
        goto fail;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_text(st, 3, t.from, -1);
    dn_stmt_bind_text(st, 4, t.to, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_object_set_new(cell(cells, dn_stmt_int64(st, 0), dn_stmt_int64(st, 1)), "attendance",
                            json_string(dn_stmt_str(st, 2)));
    if (rc < 0)
        goto fail;
    *out = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "class_id", (json_int_t)class_id, "subject_id",
                     (json_int_t)subject_id, "term", term, "students", students, "lessons", lessons, "cells", cells,
                     "checkpoint_marks", cpmarks, "averages", averages);
    return 0;
fail:
    json_decref(term);
    json_decref(students);
    json_decref(lessons);
    json_decref(cells);
    json_decref(cpmarks);
    json_decref(averages);
    return rc;
}

/* ------------------------------------------------------------ teacher's day */

static dn_query_t q_teacher_day = {
    "SELECT l.id, l.school_id, l.class_id, c.start_year, c.letter, l.subject_id, s.name, l.lesson_no, l.room, l.topic, "
    "l.homework, l.cancelled, l.subgroup FROM lessons l JOIN classes c ON c.id = l.class_id JOIN subjects s ON "
    "s.id = l.subject_id WHERE l.teacher_id = ? AND l.date = ? ORDER BY l.lesson_no, l.id"};

int dn_diary_teacher_day(dn_db_t *db, int64_t teacher_id, const char *date, json_t **out)
{
    *out = NULL;
    dn_stmt_t *st = dn_db_prepare(db, &q_teacher_day);
    if (st == NULL)
        return DN_EDB;
    dn_stmt_bind_int64(st, 1, teacher_id);
    dn_stmt_bind_text(st, 2, date, -1);
    json_t *items = json_array();
    int rc, year = year_of(date);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        char cname[32];
        dn_class_name((int)dn_stmt_int64(st, 3), dn_stmt_str(st, 4), year, cname, sizeof(cname));
        const char *topic = dn_stmt_str(st, 9), *hw = dn_stmt_str(st, 10);
        json_array_append_new(
            items, json_pack("{s:I, s:I, s:I, s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:b, s:b, s:b, s:s}", "id",
                             (json_int_t)dn_stmt_int64(st, 0), "school_id", (json_int_t)dn_stmt_int64(st, 1),
                             "class_id", (json_int_t)dn_stmt_int64(st, 2), "class", cname, "subject_id",
                             (json_int_t)dn_stmt_int64(st, 5), "subject", dn_stmt_str(st, 6), "lesson_no",
                             (json_int_t)dn_stmt_int64(st, 7), "room", dn_stmt_str(st, 8), "topic", topic, "homework",
                             hw, "cancelled", (int)dn_stmt_int64(st, 11), "topic_filled", topic[0] != '\0',
                             "homework_filled", hw[0] != '\0', "subgroup", dn_stmt_str(st, 12)));
    }
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:s, s:o}", "date", date, "items", items);
    return 0;
}
