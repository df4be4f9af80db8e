/*
 * test_journal.c - journal rules against a real store: weighted averages and
 * their rounding, term derivation, closed terms and cancelled lessons,
 * class membership on the lesson's date, atomic column fill (one bad cell →
 * nothing written), audit rows for every change, term marks.
 * Each scenario runs on a fresh migrated SQLite file, and on PostgreSQL in a
 * fresh database when DN_TEST_PG_URL is set (skipped otherwise).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "domain/journal.h"
#include "store/db.h"
#include "store/migrate.h"

/* ids are explicit so SQL fixtures are identical on both backends */
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
    " created_at) VALUES (1, 1, 1, 1, 1, 'control', 'КР', '2026-09-25', 3, 0);";

#define FX_TAG "journal"
#include "store_fixture.h"

static int64_t count(dn_db_t *db, const char *sql_where_marks)
{
    static dn_query_t q_marks = {"SELECT COUNT(*) FROM marks"};
    static dn_query_t q_audit = {"SELECT COUNT(*) FROM audit_log"};
    dn_stmt_t *st = dn_db_prepare(db, strcmp(sql_where_marks, "marks") == 0 ? &q_marks : &q_audit);
    cr_assert(st != NULL, "%s", dn_db_errmsg(db));
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    int64_t n = dn_stmt_int64(st, 0);
    dn_stmt_step(st);
    return n;
}

/* ------------------------------------------------------------ pure functions */

Test(journal_pure, weighted_average_rounding_and_empty)
{
    cr_assert_float_eq(dn_journal_weighted_average(NULL, NULL, 0), 0.0, 1e-9);
    int v1[] = {5, 4}, w1[] = {1, 2};
    cr_assert_float_eq(dn_journal_weighted_average(v1, w1, 2), 4.33, 1e-9); /* 13/3 */
    int v2[] = {5, 4}, w2[] = {1, 7};
    cr_assert_float_eq(dn_journal_weighted_average(v2, w2, 2), 4.13, 1e-9); /* 33/8 = 4.125 → half up */
    int v3[] = {2, 3}, w3[] = {1, 1};
    cr_assert_float_eq(dn_journal_weighted_average(v3, w3, 2), 2.5, 1e-9);
    int v4[] = {5, 3, 4}, w4[] = {1, 3, 2};
    cr_assert_float_eq(dn_journal_weighted_average(v4, w4, 3), 3.67, 1e-9); /* 22/6 = 3.666… */
    int v5[] = {3}, w5[] = {0};
    cr_assert_float_eq(dn_journal_weighted_average(v5, w5, 1), 0.0, 1e-9);
    cr_assert_float_eq(dn_journal_average_from_sums(22, 6), 3.67, 1e-9);
}

Test(journal_pure, kind_weights)
{
    cr_assert_eq(dn_journal_kind_weight("lesson"), 1);
    cr_assert_eq(dn_journal_kind_weight("homework"), 1);
    cr_assert_eq(dn_journal_kind_weight("test"), 2);
    cr_assert_eq(dn_journal_kind_weight("control"), 3);
    cr_assert_eq(dn_journal_kind_weight("other"), 1);
    cr_assert_eq(dn_journal_kind_weight("exam"), 0);
    cr_assert_eq(dn_journal_kind_weight(NULL), 0);
}

Test(journal_pure, dates)
{
    char out[11];
    cr_assert(dn_date_valid("2028-02-29"));
    cr_assert(!dn_date_valid("2026-02-29"));
    cr_assert(!dn_date_valid("2026-13-01"));
    cr_assert(!dn_date_valid("26-1-1"));
    cr_assert_eq(dn_date_weekday("2026-11-22"), 7); /* a Sunday */
    cr_assert_eq(dn_date_weekday("2026-11-16"), 1); /* a Monday */
    cr_assert_eq(dn_date_add("2026-12-29", 5, out), 0);
    cr_assert_str_eq(out, "2027-01-03");
    cr_assert_eq(dn_date_add("2024-03-01", -1, out), 0);
    cr_assert_str_eq(out, "2024-02-29");
}

/* ------------------------------------------------------------ scenarios */

static void scenario_terms(dn_db_t *db)
{
    int64_t term = 0;
    int closed = -1;
    cr_assert_eq(dn_journal_term_for_date(db, 1, "2026-09-10", &term, &closed), 0);
    cr_assert_eq(term, 1);
    cr_assert_eq(closed, 0);
    cr_assert_eq(dn_journal_term_for_date(db, 1, "2026-10-31", &term, &closed), 0); /* ends_on inclusive */
    cr_assert_eq(term, 1);
    cr_assert_eq(dn_journal_term_for_date(db, 1, "2026-11-10", &term, &closed), 0);
    cr_assert_eq(term, 2);
    cr_assert_eq(closed, 1);
    cr_assert_eq(dn_journal_term_for_date(db, 1, "2026-11-03", &term, &closed), DN_ENOTFOUND); /* holidays */
    cr_assert_eq(dn_journal_term_for_date(db, 2, "2026-09-10", &term, &closed), DN_ENOTFOUND); /* other school */
}

static void scenario_marks(dn_db_t *db)
{
    dn_lesson_ctx_t l1, l2, l3, l4, l5;
    dn_jfail_t f;
    int64_t id = 0;
    cr_assert_eq(dn_journal_lesson_load(db, 1, &l1), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 2, &l2), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 3, &l3), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 4, &l4), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 5, &l5), 0);
    cr_assert_eq(dn_journal_lesson_load(db, 99, &l5), DN_ENOTFOUND);

    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 5, NULL, "молодец", &id, &f), 0, "%s", f.message);
    cr_assert(id > 0);
    cr_assert_eq(count(db, "marks"), 1);
    cr_assert_eq(count(db, "audit"), 1);
    json_t *m = dn_journal_mark_json(db, id);
    cr_assert(m != NULL);
    cr_assert_eq(json_integer_value(json_object_get(m, "term_id")), 1);
    cr_assert_eq(json_integer_value(json_object_get(m, "weight")), 1);
    json_decref(m);

    /* upsert of the same (lesson, student, kind) updates, audited */
    int64_t id2 = 0;
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 4, "lesson", NULL, &id2, &f), 0);
    cr_assert_eq(id2, id);
    cr_assert_eq(count(db, "marks"), 1);
    cr_assert_eq(count(db, "audit"), 2);
    /* another kind is another mark, weight by kind */
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 3, "test", NULL, &id2, &f), 0);
    cr_assert_neq(id2, id);
    m = dn_journal_mark_json(db, id2);
    cr_assert_eq(json_integer_value(json_object_get(m, "weight")), 2);
    json_decref(m);

    /* refused writes change nothing */
    int64_t marks = count(db, "marks"), audits = count(db, "audit");
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 3, 6, NULL, NULL, &id2, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "value");
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 3, 0, NULL, NULL, &id2, &f), DN_EVALIDATION);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 3, 4, "exam", NULL, &id2, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "kind");
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l5, 4, 4, NULL, NULL, &id2, &f), DN_EVALIDATION); /* left the class */
    cr_assert_str_eq(f.field, "student_id");
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 4, 4, NULL, NULL, &id2, &f), 0); /* still in class then */
    marks++, audits++;
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l3, 2, 4, NULL, NULL, &id2, &f), DN_EVALIDATION); /* no term */
    cr_assert_str_eq(f.field, "date");
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l2, 2, 4, NULL, NULL, &id2, &f), DN_ECONFLICT); /* closed */
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l4, 2, 4, NULL, NULL, &id2, &f), DN_ECONFLICT); /* cancelled */
    cr_assert_eq(count(db, "marks"), marks);
    cr_assert_eq(count(db, "audit"), audits);
    /* admin override of a closed term */
    cr_assert_eq(dn_journal_mark_set(db, 1, 1, &l2, 2, 4, NULL, NULL, &id2, &f), 0);
    cr_assert_eq(count(db, "marks"), marks + 1);
    int64_t closed_mark = id2;
    cr_assert_eq(dn_journal_mark_update(db, 1, 0, closed_mark, 5, NULL, &f), DN_ECONFLICT);
    cr_assert_eq(dn_journal_mark_delete(db, 1, 0, closed_mark, &f), DN_ECONFLICT);
    cr_assert_eq(dn_journal_mark_delete(db, 1, 1, closed_mark, &f), 0);

    /* update and delete are audited with old and new values */
    audits = count(db, "audit");
    cr_assert_eq(dn_journal_mark_update(db, 1, 0, id, 5, "исправлено", &f), 0);
    cr_assert_eq(dn_journal_mark_update(db, 1, 0, id, 7, NULL, &f), DN_EVALIDATION);
    cr_assert_eq(dn_journal_mark_update(db, 1, 0, 9999, 5, NULL, &f), DN_ENOTFOUND);
    cr_assert_eq(count(db, "audit"), audits + 1);
    json_t *hist = dn_journal_audit_mark(db, 1, 0, 2);
    cr_assert(hist != NULL);
    /* set 5, set 4, test 3, update → 4 rows for student 2 on lesson 1 */
    cr_assert_eq(json_array_size(hist), 4, "%zu", json_array_size(hist));
    json_t *last = json_array_get(hist, 3);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(last, "old"), "value")), 4);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(last, "new"), "value")), 5);
    json_t *first = json_array_get(hist, 0);
    cr_assert(json_is_null(json_object_get(first, "old")));
    json_decref(hist);
}

static void scenario_fill(dn_db_t *db)
{
    dn_lesson_ctx_t l1;
    dn_jfail_t f;
    cr_assert_eq(dn_journal_lesson_load(db, 1, &l1), 0);
    dn_mark_cell_t bad[] = {{2, 5, NULL}, {3, 7, NULL}};
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l1, bad, 2, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "marks[1].value");
    cr_assert_eq(count(db, "marks"), 0);
    cr_assert_eq(count(db, "audit"), 0);
    dn_mark_cell_t dup[] = {{2, 5, NULL}, {2, 4, "lesson"}};
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l1, dup, 2, &f), DN_EVALIDATION);
    dn_mark_cell_t stranger[] = {{2, 5, NULL}, {1, 4, NULL}};
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l1, stranger, 2, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "marks[1].student_id");
    cr_assert_eq(count(db, "marks"), 0);

    dn_mark_cell_t good[] = {{2, 5, NULL}, {3, 4, NULL}, {4, 3, "homework"}};
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l1, good, 3, &f), 0, "%s", f.message);
    cr_assert_eq(count(db, "marks"), 3);
    cr_assert_eq(count(db, "audit"), 3);
    dn_mark_cell_t change[] = {{2, 0, NULL}, {3, 4, NULL}, {4, 2, "homework"}}; /* remove, same, change */
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l1, change, 3, &f), 0);
    cr_assert_eq(count(db, "marks"), 2);
    cr_assert_eq(count(db, "audit"), 5); /* unchanged cell writes no audit */

    dn_lesson_ctx_t l2;
    cr_assert_eq(dn_journal_lesson_load(db, 2, &l2), 0);
    cr_assert_eq(dn_journal_marks_fill(db, 1, 0, &l2, good, 2, &f), DN_ECONFLICT);
}

static void scenario_attendance_and_term_marks(dn_db_t *db)
{
    dn_lesson_ctx_t l1;
    dn_jfail_t f;
    cr_assert_eq(dn_journal_lesson_load(db, 1, &l1), 0);
    dn_attendance_item_t bad[] = {{2, "present"}, {3, "sleeping"}};
    cr_assert_eq(dn_journal_attendance_set(db, 1, 0, &l1, bad, 2, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "items[1].status");
    cr_assert_eq(count(db, "audit"), 0);
    dn_attendance_item_t good[] = {{2, "present"}, {3, "absent"}};
    cr_assert_eq(dn_journal_attendance_set(db, 1, 0, &l1, good, 2, &f), 0);
    cr_assert_eq(count(db, "audit"), 2);
    cr_assert_eq(dn_journal_attendance_set(db, 1, 0, &l1, good, 2, &f), 0);
    cr_assert_eq(count(db, "audit"), 2);

    /* marks 5 (w1), 3 (test, w2), checkpoint 4 (control, w3) → (5+6+12)/6 = 3.83 */
    int64_t id;
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 5, NULL, NULL, &id, &f), 0);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 2, 3, "test", NULL, &id, &f), 0);
    dn_checkpoint_ctx_t c;
    cr_assert_eq(dn_journal_checkpoint_load(db, 1, &c), 0);
    cr_assert_eq(dn_journal_checkpoint_mark_set(db, 1, 0, &c, 2, 4, NULL, 0, &id, &f), 0, "%s", f.message);
    cr_assert_eq(dn_journal_checkpoint_mark_set(db, 1, 0, &c, 2, 9, NULL, 0, &id, &f), DN_EVALIDATION);

    dn_term_mark_item_t tm[] = {{2, 4}, {3, 6}};
    cr_assert_eq(dn_journal_term_marks_set(db, 1, 0, 1, 1, 1, 2026, 1, tm, 2, &f), DN_EVALIDATION);
    tm[1].value = 3;
    cr_assert_eq(dn_journal_term_marks_set(db, 1, 0, 1, 1, 1, 2026, 1, tm, 2, &f), 0, "%s", f.message);
    cr_assert_eq(dn_journal_term_marks_set(db, 1, 0, 1, 1, 1, 2026, 2, tm, 2, &f), DN_ECONFLICT);
    cr_assert_eq(dn_journal_term_marks_set(db, 1, 1, 1, 1, 1, 2026, 2, tm, 2, &f), 0);
    json_t *out = NULL;
    cr_assert_eq(dn_journal_term_marks_get(db, 1, 1, 1, 2026, 1, &out), 0);
    json_t *items = json_object_get(out, "items");
    cr_assert_eq(json_array_size(items), 3); /* Vera was in the class during term 1 */
    json_t *a = json_array_get(items, 0);
    cr_assert_eq(json_integer_value(json_object_get(a, "student_id")), 2);
    cr_assert_float_eq(json_real_value(json_object_get(a, "average")), 3.83, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(a, "sum_weighted")), 23);
    cr_assert_eq(json_integer_value(json_object_get(a, "sum_weights")), 6);
    cr_assert_eq(json_integer_value(json_object_get(a, "term_mark")), 4);
    cr_assert_eq(json_integer_value(json_object_get(a, "suggested_mark")), 4);
    cr_assert(json_is_null(json_object_get(json_array_get(items, 2), "suggested_mark"))); /* no marks */
    json_decref(out);

    /* closing / reopening a term is audited and switches the rule */
    json_t *t = NULL;
    cr_assert_eq(dn_journal_term_set_closed(db, 1, 1, 1, &t), 0);
    cr_assert(!json_is_null(json_object_get(t, "closed_at")));
    json_decref(t);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 3, 5, NULL, NULL, &id, &f), DN_ECONFLICT);
    cr_assert_eq(dn_journal_term_set_closed(db, 1, 1, 0, &t), 0);
    json_decref(t);
    cr_assert_eq(dn_journal_mark_set(db, 1, 0, &l1, 3, 5, NULL, NULL, &id, &f), 0);
    cr_assert_eq(dn_journal_term_set_closed(db, 1, 77, 1, &t), DN_ENOTFOUND);
}

static void scenario_checkpoints(dn_db_t *db)
{
    dn_jfail_t f = {0};
    int64_t id = 0;
    dn_checkpoint_input_t in = {.kind = "test", .title = "Дроби", .due_date = "2026-09-30"};
    dn_jfail_t f0 = {0};
    int rc0 = dn_journal_checkpoint_create(db, 1, 1, 1, 1, &in, &id, &f0);
    cr_assert_eq(rc0, 0, "rc %d: %s %s", rc0, f0.message, dn_db_errmsg(db));
    json_t *c = dn_journal_checkpoint_json(db, id);
    cr_assert_eq(json_integer_value(json_object_get(c, "weight")), 2);
    json_decref(c);
    dn_checkpoint_input_t bad = {.kind = "exam", .title = "x", .due_date = "2026-09-30"};
    cr_assert_eq(dn_journal_checkpoint_create(db, 1, 1, 1, 1, &bad, &id, &f), DN_EVALIDATION);
    bad.kind = "test";
    bad.due_date = "2026-02-30";
    cr_assert_eq(dn_journal_checkpoint_create(db, 1, 1, 1, 1, &bad, &id, &f), DN_EVALIDATION);
    cr_assert_str_eq(f.field, "due_date");
    dn_checkpoint_input_t upd = {.title = "Дроби и проценты", .weight = 4};
    cr_assert_eq(dn_journal_checkpoint_update(db, id, &upd, &f), 0);
    json_t *list = dn_journal_checkpoints_list(db, 1, 1, "2026-09-26", "2026-09-30");
    cr_assert_eq(json_array_size(list), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "title")), "Дроби и проценты");
    json_decref(list);
    cr_assert_eq(dn_journal_checkpoint_delete(db, id, &f), 0);
    cr_assert_eq(dn_journal_checkpoint_delete(db, id, &f), DN_ENOTFOUND);
}

#define BOTH(name, fn)                                                                                                 \
    Test(journal_sqlite, name)                                                                                         \
    {                                                                                                                  \
        dn_db_t *db = open_sqlite();                                                                                   \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }                                                                                                                  \
    Test(journal_pg, name)                                                                                             \
    {                                                                                                                  \
        dn_db_t *db = open_pg();                                                                                       \
        if (db == NULL)                                                                                                \
            cr_skip_test("DN_TEST_PG_URL not set");                                                                    \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }

BOTH(terms, scenario_terms)
BOTH(marks_rules_and_audit, scenario_marks)
BOTH(column_fill_atomic, scenario_fill)
BOTH(attendance_term_marks_close, scenario_attendance_and_term_marks)
BOTH(checkpoints, scenario_checkpoints)
