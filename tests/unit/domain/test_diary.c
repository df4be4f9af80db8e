/*
 * test_diary.c - the everyday read pages against a real store: the week of a
 * student who changes class mid-week, marks per subject with the weighted
 * average and its inputs, the class journal grid, a teacher's day; and the
 * If-None-Match matching of the ETag helper.
 * SQLite always; PostgreSQL in a fresh database when DN_TEST_PG_URL is set.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/etag.h"
#include "core/error.h"
#include "domain/diary.h"
#include "domain/journal.h"
#include "store/db.h"
#include "store/migrate.h"

static const char *FIXTURE =
    "INSERT INTO regions (id, name) VALUES (1, 'R');"
    "INSERT INTO schools (id, region_id, name, created_at) VALUES (1, 1, 'S', 0);"
    "INSERT INTO terms (id, school_id, year_start, number, starts_on, ends_on) VALUES "
    " (1, 1, 2026, 1, '2026-09-01', '2026-10-31');"
    "INSERT INTO terms (id, school_id, year_start, number, starts_on, ends_on, closed_at, closed_by) VALUES "
    " (2, 1, 2026, 2, '2026-11-08', '2026-12-28', 1, 1);"
    "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES "
    " (1, 't', 'x', 'Учитель', 'Иван', 0), (2, 'a', 'x', 'Алексеев', 'Аня', 0),"
    " (3, 'b', 'x', 'Борисов', 'Боря', 0), (4, 'c', 'x', 'Вишнева', 'Вера', 0);"
    "INSERT INTO classes (id, school_id, start_year, letter, class_teacher_id) VALUES (1, 1, 2020, 'А', 1);"
    "INSERT INTO class_students (id, class_id, student_id, from_date, to_date) VALUES "
    " (1, 1, 2, '2026-09-01', NULL), (2, 1, 3, '2026-09-01', NULL), (3, 1, 4, '2026-09-01', '2026-09-15');"
    "INSERT INTO subjects (id, school_id, name) VALUES (1, 1, 'Математика');"
    "INSERT INTO lessons (id, school_id, class_id, subject_id, teacher_id, date, lesson_no, cancelled) VALUES "
    " (1, 1, 1, 1, 1, '2026-09-10', 1, 0), (2, 1, 1, 1, 1, '2026-11-10', 1, 0),"
    " (3, 1, 1, 1, 1, '2026-08-20', 1, 0), (4, 1, 1, 1, 1, '2026-09-11', 2, 1),"
    " (5, 1, 1, 1, 1, '2026-09-20', 1, 0);"
    "INSERT INTO checkpoints (id, school_id, class_id, subject_id, teacher_id, kind, title, due_date, weight, "
    " created_at) VALUES (1, 1, 1, 1, 1, 'control', 'КР', '2026-09-18', 3, 0);"
    /* a second class; student 5 moves from 7А to 7Б on Wednesday 2026-09-16 */
    "INSERT INTO classes (id, school_id, start_year, letter) VALUES (2, 1, 2020, 'Б');"
    "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES "
    " (5, 'd', 'x', 'Гусев', 'Гоша', 0);"
    "INSERT INTO class_students (id, class_id, student_id, from_date, to_date) VALUES "
    " (4, 1, 5, '2026-09-01', '2026-09-16'), (5, 2, 5, '2026-09-16', NULL);"
    "INSERT INTO lessons (id, school_id, class_id, subject_id, teacher_id, date, lesson_no, topic) VALUES "
    " (11, 1, 1, 1, 1, '2026-09-14', 1, 'Дроби'), (12, 1, 1, 1, 1, '2026-09-16', 1, ''),"
    " (13, 1, 2, 1, 1, '2026-09-16', 2, ''), (14, 1, 2, 1, 1, '2026-09-18', 1, ''),"
    " (15, 1, 1, 1, 1, '2026-09-21', 1, '');"
    /* another school, for cross-school term ids */
    "INSERT INTO schools (id, region_id, name, created_at) VALUES (2, 1, 'S2', 0);"
    "INSERT INTO terms (id, school_id, year_start, number, starts_on, ends_on) VALUES "
    " (3, 2, 2026, 1, '2026-09-01', '2026-10-31');";

#define FX_TAG "diary"
#include "store_fixture.h"

/* The pages are written with core/jsonw.h; parse them back to check them. */
static h2o_mem_pool_t pool;
static json_t *parsed(dn_jsonw_t *w)
{
    json_error_t err;
    json_t *v = json_loads(dn_jsonw_data(w, NULL), 0, &err);
    cr_assert_not_null(v, "the page is not valid JSON: %s", err.text);
    return v;
}
static void begin(dn_jsonw_t *w)
{
    h2o_mem_init_pool(&pool);
    dn_jsonw_init(w, &pool, 0);
}
static int finish(dn_jsonw_t *w, int rc, json_t **out)
{
    *out = rc == 0 ? parsed(w) : NULL;
    h2o_mem_clear_pool(&pool);
    return rc;
}
static int week(dn_db_t *db, int64_t student, const char *date, json_t **out)
{
    dn_jsonw_t w;
    begin(&w);
    return finish(&w, dn_diary_week(db, &w, student, date), out);
}
static int marks(dn_db_t *db, int64_t student, int64_t school, int64_t term_id, json_t **out)
{
    dn_diary_term_t t;
    int rc = dn_diary_term(db, term_id, &t);
    *out = NULL;
    if (rc != 0)
        return rc;
    dn_jsonw_t w;
    begin(&w);
    return finish(&w, dn_diary_marks(db, &w, student, school, &t), out);
}
static int journal(dn_db_t *db, int64_t school, int64_t cls, int64_t subject, int64_t term_id, json_t **out)
{
    dn_diary_term_t t;
    int rc = dn_diary_term(db, term_id, &t);
    *out = NULL;
    if (rc != 0)
        return rc;
    dn_jsonw_t w;
    begin(&w);
    return finish(&w, dn_diary_class_journal(db, &w, school, cls, subject, &t), out);
}
static int no_school(void *arg, int64_t school)
{
    (void)arg, (void)school;
    return 0;
}
static int teacher_day_kept(dn_db_t *db, int64_t teacher, const char *date, int keep_none, json_t **out)
{
    dn_jsonw_t w;
    begin(&w);
    return finish(&w, dn_diary_teacher_day(db, &w, teacher, date, keep_none ? no_school : NULL, NULL), out);
}
static int teacher_day(dn_db_t *db, int64_t teacher, const char *date, json_t **out)
{
    return teacher_day_kept(db, teacher, date, 0, out);
}

Test(api_etag, if_none_match)
{
    cr_assert(dn_etag_matches("\"ab\"", "\"ab\""));
    cr_assert(dn_etag_matches("W/\"ab\"", "\"ab\""));
    cr_assert(dn_etag_matches("\"x\", \"ab\"", "\"ab\""));
    cr_assert(dn_etag_matches("*", "\"ab\""));
    cr_assert(!dn_etag_matches("\"abc\"", "\"ab\""));
    cr_assert(!dn_etag_matches("\"a\"", "\"ab\""));
    cr_assert(!dn_etag_matches("", "\"ab\""));
    cr_assert(!dn_etag_matches(NULL, "\"ab\""));
}

static json_t *day_lessons(json_t *week, int i)
{
    return json_object_get(json_array_get(json_object_get(week, "days"), (size_t)i), "lessons");
}

static void scenario_week(dn_db_t *db)
{
    dn_lesson_ctx_t l;
    dn_jfail_t f;
    int64_t id;
    cr_assert_eq(dn_journal_lesson_load(db, 11, &l), 0);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l, 5, 4, NULL, NULL, &id, &f), 0, "%s", f.message);
    dn_attendance_item_t att[] = {{5, "absent"}};
    cr_assert_eq(dn_journal_attendance_set(db, 1, 0, &l, att, 1, &f), 0);
    dn_checkpoint_ctx_t c;
    cr_assert_eq(dn_journal_checkpoint_load(db, 1, &c), 0);

    json_t *w = NULL;
    cr_assert_eq(week(db, 5, "2026-09-17", &w), 0);
    cr_assert_str_eq(json_string_value(json_object_get(w, "week_start")), "2026-09-14");
    cr_assert_str_eq(json_string_value(json_object_get(w, "week_end")), "2026-09-19");
    cr_assert_eq(json_array_size(json_object_get(w, "days")), 6);
    /* Monday: 7А's lesson with the mark and the absence */
    json_t *mon = day_lessons(w, 0);
    cr_assert_eq(json_array_size(mon), 1);
    json_t *l11 = json_array_get(mon, 0);
    cr_assert_eq(json_integer_value(json_object_get(l11, "id")), 11);
    cr_assert_str_eq(json_string_value(json_object_get(l11, "attendance")), "absent");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(l11, "marks"), 0), "value")), 4);
    /* Wednesday: already in 7Б, so 7Б's lesson 13, not 7А's lesson 12 */
    json_t *wed = day_lessons(w, 2);
    cr_assert_eq(json_array_size(wed), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(wed, 0), "id")), 13);
    cr_assert_eq(json_array_size(day_lessons(w, 4)), 1);
    /* 7А's checkpoint is due on Friday: the student was in 7А this week */
    cr_assert_eq(json_array_size(json_object_get(w, "checkpoints")), 1);
    json_decref(w);

    /* any day of the week gives the same week; the next week is empty of 7А lessons */
    cr_assert_eq(week(db, 5, "2026-09-14", &w), 0);
    cr_assert_str_eq(json_string_value(json_object_get(w, "week_start")), "2026-09-14");
    json_decref(w);
    cr_assert_eq(week(db, 5, "2026-09-21", &w), 0);
    cr_assert_eq(json_array_size(day_lessons(w, 0)), 0);
    json_decref(w);
    cr_assert_eq(week(db, 5, "2026-09-31", &w), DN_EINVAL);

    int64_t school = 0, cls = 0;
    cr_assert_eq(dn_diary_student_school(db, 5, &school, &cls), 0);
    cr_assert_eq(school, 1);
    cr_assert_eq(cls, 2);
    cr_assert_eq(dn_diary_student_school(db, 999, &school, &cls), DN_ENOTFOUND);
}

static void scenario_marks_and_journal(dn_db_t *db)
{
    dn_lesson_ctx_t l1, l11;
    dn_jfail_t f;
    int64_t id;
    cr_assert_eq(dn_journal_lesson_load(db, 1, &l1), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 11, &l11), 0);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 5, NULL, NULL, &id, &f), 0);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l11, 2, 4, "test", NULL, &id, &f), 0);
    dn_checkpoint_ctx_t c;
    cr_assert_eq(dn_journal_checkpoint_load(db, 1, &c), 0);
    cr_assert_eq(dn_journal_checkpoint_mark_set(db, 1, 0, &c, 2, 3, NULL, 0, &id, &f), 0);
    dn_term_mark_item_t tm[] = {{2, 4}};
    cr_assert_eq(dn_journal_term_marks_set(db, 1, 0, 1, 1, 1, 2026, 1, tm, 1, &f), 0);

    json_t *m = NULL;
    cr_assert_eq(marks(db, 2, 1, 1, &m), 0);
    json_t *subj = json_array_get(json_object_get(m, "subjects"), 0);
    cr_assert_eq(json_array_size(json_object_get(subj, "marks")), 3);
    /* 5·1 + 4·2 + 3·3 = 22 over 6 → 3.67 */
    cr_assert_eq(json_integer_value(json_object_get(subj, "sum_weighted")), 22);
    cr_assert_eq(json_integer_value(json_object_get(subj, "sum_weights")), 6);
    cr_assert_float_eq(json_real_value(json_object_get(subj, "average")), 3.67, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(subj, "term_mark")), 4);
    json_decref(m);
    cr_assert_eq(marks(db, 2, 1, 3, &m), DN_ENOTFOUND); /* a term of another school */
    cr_assert_eq(marks(db, 2, 1, 99, &m), DN_ENOTFOUND);

    json_t *j = NULL;
    cr_assert_eq(journal(db, 1, 1, 1, 1, &j), 0);
    /* 2, 3, 4 (left on 15 Sep, still in the term) and 5 (left on 16 Sep) */
    cr_assert_eq(json_array_size(json_object_get(j, "students")), 4);
    cr_assert_eq(json_array_size(json_object_get(j, "lessons")), 6); /* 1, 4 (cancelled), 5, 11, 12, 15 */
    json_t *cell = json_object_get(json_object_get(j, "cells"), "11:2");
    cr_assert_not_null(cell);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(cell, "marks"), 0), "weight")), 2);
    cr_assert_eq(json_array_size(json_object_get(j, "checkpoint_marks")), 1);
    json_t *avg = json_object_get(json_object_get(j, "averages"), "2");
    cr_assert_float_eq(json_real_value(json_object_get(avg, "average")), 3.67, 1e-9);
    cr_assert(json_is_null(json_object_get(json_object_get(json_object_get(j, "averages"), "3"), "average")));
    json_decref(j);
    cr_assert_eq(journal(db, 1, 1, 1, 3, &j), DN_ENOTFOUND);
}

static void scenario_teacher_day(dn_db_t *db)
{
    json_t *d = NULL;
    cr_assert_eq(teacher_day(db, 1, "2026-09-16", &d), 0);
    json_t *items = json_object_get(d, "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "class")), "7А");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "class")), "7Б");
    cr_assert(json_is_false(json_object_get(json_array_get(items, 0), "topic_filled")));
    json_decref(d);
    cr_assert_eq(teacher_day(db, 1, "2026-09-14", &d), 0);
    cr_assert(json_is_true(json_object_get(json_array_get(json_object_get(d, "items"), 0), "topic_filled")));
    json_decref(d);
    cr_assert_eq(teacher_day_kept(db, 1, "2026-09-16", 1, &d), 0); /* keep() drops every school */
    cr_assert_eq(json_array_size(json_object_get(d, "items")), 0);
    json_decref(d);
    cr_assert_eq(teacher_day(db, 2, "2026-09-14", &d), 0);
    cr_assert_eq(json_array_size(json_object_get(d, "items")), 0);
    json_decref(d);
}

#define BOTH(name, fn)                                                                                                 \
    Test(diary_sqlite, name)                                                                                           \
    {                                                                                                                  \
        dn_db_t *db = open_sqlite();                                                                                   \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }                                                                                                                  \
    Test(diary_pg, name)                                                                                               \
    {                                                                                                                  \
        dn_db_t *db = open_pg();                                                                                       \
        if (db == NULL)                                                                                                \
            cr_skip_test("DN_TEST_PG_URL not set");                                                                    \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }

BOTH(week_with_transfer, scenario_week)
BOTH(marks_and_class_journal, scenario_marks_and_journal)
BOTH(teacher_day, scenario_teacher_day)
