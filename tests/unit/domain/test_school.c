/*
 * school.c: the calendar helpers (grade, academic year, ISO dates), class
 * names, term validation, and the store rules (duplicates, enrolment with
 * history, invites) on a migrated SQLite store and on PostgreSQL when
 * DN_TEST_PG_URL is set.
 */
/* the shared store fixture offers helpers not every file uses */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../store/fixture.h"

#include "domain/school.h"
#include "store/migrate.h"

/* ---- pure ------------------------------------------------------------ */

Test(school_calendar, grade_and_academic_year)
{
    cr_assert_eq(dn_class_grade(2022, 2026), 5);
    cr_assert_eq(dn_class_grade(2026, 2026), 1);
    cr_assert_eq(dn_class_start_year(5, 2026), 2022);
    cr_assert_eq(dn_class_start_year(11, 2026), 2016);
    cr_assert_eq(dn_school_academic_year(2026, 8), 2025);
    cr_assert_eq(dn_school_academic_year(2026, 9), 2026);
    cr_assert_eq(dn_school_academic_year(2027, 1), 2026);
    char name[16];
    dn_class_name(2022, "Б", 2026, name, sizeof(name));
    cr_assert_str_eq(name, "5Б");
}

Test(school_calendar, dates)
{
    int64_t d;
    char buf[11];
    cr_assert_eq(dn_date_parse("1970-01-01", &d), 0);
    cr_assert_eq(d, 0);
    cr_assert_eq(dn_date_parse("2024-02-29", &d), 0);
    dn_date_format(d, buf);
    cr_assert_str_eq(buf, "2024-02-29");
    dn_date_format(d + 1, buf);
    cr_assert_str_eq(buf, "2024-03-01");
    cr_assert_eq(dn_date_parse("2026-02-29", &d), DN_EINVAL);
    cr_assert_eq(dn_date_parse("2026-13-01", &d), DN_EINVAL);
    cr_assert_eq(dn_date_parse("2026-1-01", &d), DN_EINVAL);
    cr_assert_eq(dn_date_parse("2026-01-01x", &d), DN_EINVAL);
    cr_assert_eq(dn_date_parse(NULL, &d), DN_EINVAL);
    cr_assert_eq(dn_date_parse("2026-11-23", &d), 0);
    cr_assert_eq(dn_date_weekday_days(d), 1, "2026-11-23 is a Monday");
    cr_assert_eq(dn_date_weekday_days(d + 6), 7);
    cr_assert_eq(dn_date_weekday_days(0), 4, "1970-01-01 was a Thursday");
}

Test(school_calendar, class_names)
{
    int g;
    char letter[16];
    cr_assert_eq(dn_school_class_parse_name("5Б", &g, letter, sizeof(letter)), 0);
    cr_assert_eq(g, 5);
    cr_assert_str_eq(letter, "Б");
    cr_assert_eq(dn_school_class_parse_name("10а", &g, letter, sizeof(letter)), 0);
    cr_assert_eq(g, 10);
    cr_assert_eq(dn_school_class_parse_name(" 11 A", &g, letter, sizeof(letter)), 0);
    cr_assert_str_eq(letter, "A");
    cr_assert_eq(dn_school_class_parse_name("12А", &g, letter, sizeof(letter)), DN_EINVAL);
    cr_assert_eq(dn_school_class_parse_name("0А", &g, letter, sizeof(letter)), DN_EINVAL);
    cr_assert_eq(dn_school_class_parse_name("5", &g, letter, sizeof(letter)), DN_EINVAL);
    cr_assert_eq(dn_school_class_parse_name("Б5", &g, letter, sizeof(letter)), DN_EINVAL);
    cr_assert_eq(dn_school_class_parse_name("5Б!", &g, letter, sizeof(letter)), DN_EINVAL);
    cr_assert(dn_school_letter_valid("ИТ"));
    cr_assert(!dn_school_letter_valid("АБВ"));
    cr_assert(!dn_school_letter_valid(""));
}

static json_t *term(int n, const char *from, const char *to)
{
    return json_pack("{s:i,s:s,s:s}", "number", n, "starts_on", from, "ends_on", to);
}

Test(school_terms, validation)
{
    json_t *ok = json_pack("[o,o,o,o]", term(1, "2026-09-01", "2026-10-25"), term(2, "2026-11-03", "2026-12-28"),
                           term(3, "2027-01-09", "2027-03-22"), term(4, "2027-04-01", "2027-05-31"));
    json_t *errors = json_array();
    cr_assert_eq(dn_school_terms_validate("quarter", 2026, ok, errors), 0);
    cr_assert_eq(json_array_size(errors), 0);
    /* a quarter school needs 4, a trimester school 3 */
    cr_assert_eq(dn_school_terms_validate("trimester", 2026, ok, errors), DN_EVALIDATION);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "terms");
    json_decref(ok);

    json_t *overlap = json_pack("[o,o,o]", term(1, "2026-09-01", "2026-11-30"), term(2, "2026-11-15", "2027-02-20"),
                                term(3, "2027-03-01", "2027-05-31"));
    json_array_clear(errors);
    cr_assert_eq(dn_school_terms_validate("trimester", 2026, overlap, errors), DN_EVALIDATION);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "terms[1].starts_on");
    json_decref(overlap);

    json_t *bad = json_pack("[o,o,o]", term(1, "2026-09-01", "2026-08-30"), term(3, "2026-12-01", "2027-02-20"),
                            term(2, "2027-03-01", "2027-05-31"));
    json_array_clear(errors);
    cr_assert_eq(dn_school_terms_validate("trimester", 2026, bad, errors), DN_EVALIDATION);
    cr_assert_geq(json_array_size(errors), 2);
    json_decref(bad);

    json_t *outside = json_pack("[o,o,o]", term(1, "2025-09-01", "2026-11-30"), term(2, "2026-12-01", "2027-02-20"),
                                term(3, "2027-03-01", "2027-09-30"));
    json_array_clear(errors);
    cr_assert_eq(dn_school_terms_validate("trimester", 2026, outside, errors), DN_EVALIDATION);
    json_decref(outside);
    json_decref(errors);
}

/* ---- store ----------------------------------------------------------- */

static int64_t school_id;

static void setup_school(void)
{
    char err[256] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "migrate: %s", err);
    json_t *o = NULL;
    cr_assert_eq(dn_school_region_create(fx_db, "Регион", &o), 0);
    int64_t region = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    cr_assert_eq(dn_school_region_create(fx_db, "Регион", &o), DN_EEXIST);
    cr_assert_eq(dn_school_create(fx_db, 999, "Школа", "quarter", &o), DN_ENOTFOUND);
    cr_assert_eq(dn_school_create(fx_db, region, "Школа", "quarter", &o), 0);
    school_id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
}

static int64_t add_user(const char *login, unsigned roles)
{
    dn_person_t p = {login, "Иванов", "Иван", ""};
    int64_t id = 0;
    cr_assert_eq(dn_school_user_insert(fx_db, school_id, &p, roles, "!", &id), 0, "%s", dn_db_errmsg(fx_db));
    return id;
}

STORE_TEST(school_store, duplicates_and_users)
{
    setup_school();
    add_user("ivanov", DN_SROLE_STUDENT);
    dn_person_t p = {"ivanov", "Петров", "Пётр", ""};
    int64_t id;
    cr_assert_eq(dn_school_user_insert(fx_db, school_id, &p, DN_SROLE_TEACHER, "!", &id), DN_EEXIST);
    json_t *errors = json_array(), *o = NULL;
    cr_assert_eq(dn_school_class_create(fx_db, school_id, dn_class_start_year(5, dn_school_current_year()), "Б", 0,
                                        errors, &o),
                 0);
    cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "5Б");
    json_decref(o);
    cr_assert_eq(dn_school_class_create(fx_db, school_id, dn_class_start_year(5, dn_school_current_year()), "Б", 0,
                                        errors, &o),
                 DN_EEXIST);
    /* a class teacher must be a teacher of the school */
    int64_t student = add_user("pupil", DN_SROLE_STUDENT);
    cr_assert_eq(dn_school_class_create(fx_db, school_id, dn_class_start_year(6, dn_school_current_year()), "А",
                                        student, errors, &o),
                 DN_EVALIDATION);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "class_teacher_id");
    json_decref(errors);
    cr_assert_eq(dn_school_subject_create(fx_db, school_id, "Математика", &o), 0);
    json_decref(o);
    cr_assert_eq(dn_school_subject_create(fx_db, school_id, "Математика", &o), DN_EEXIST);
    cr_assert_eq(dn_school_user_list(fx_db, school_id, "student", "", 1, 0, &o), 0);
    cr_assert_eq(json_array_size(json_object_get(o, "items")), 1);
    cr_assert(json_is_string(json_object_get(o, "next_cursor")), "one more page");
    json_decref(o);
}

STORE_TEST(school_store, enrol_transfer_keeps_history)
{
    setup_school();
    int64_t student = add_user("ivanov", DN_SROLE_STUDENT);
    int year = dn_school_current_year();
    json_t *errors = json_array(), *a = NULL, *b = NULL, *o = NULL;
    cr_assert_eq(dn_school_class_create(fx_db, school_id, dn_class_start_year(5, year), "А", 0, errors, &a), 0);
    cr_assert_eq(dn_school_class_create(fx_db, school_id, dn_class_start_year(5, year), "Б", 0, errors, &b), 0);
    int64_t ca = json_integer_value(json_object_get(a, "id")), cb = json_integer_value(json_object_get(b, "id"));
    char d1[11], d2[11], d0[11], prev[11];
    int64_t today = dn_date_today_days();
    dn_date_format(today - 60, d1);
    dn_date_format(today - 10, d2);
    dn_date_format(today - 30, d0);
    dn_date_format(today - 11, prev);
    cr_assert_eq(dn_school_class_enrol(fx_db, ca, student, d1, errors), 0);
    cr_assert_eq(dn_school_class_enrol(fx_db, cb, student, d2, errors), 0);
    /* history is linear: nothing may be inserted before the latest move */
    cr_assert_eq(dn_school_class_enrol(fx_db, ca, student, d0, errors), DN_ECONFLICT);
    cr_assert_eq(dn_school_class_enrol(fx_db, ca, student, "2026-02-30", errors), DN_EVALIDATION);
    cr_assert_eq(dn_school_student_history(fx_db, student, &o), 0);
    json_t *items = json_object_get(o, "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "to_date")), prev);
    cr_assert(json_is_null(json_object_get(json_array_get(items, 1), "to_date")));
    json_decref(o);
    cr_assert_eq(dn_school_class_students(fx_db, ca, &o), 0);
    cr_assert_eq(json_array_size(json_object_get(o, "items")), 0, "moved away");
    json_decref(o);
    cr_assert_eq(dn_school_class_students(fx_db, cb, &o), 0);
    cr_assert_eq(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    /* a teacher cannot be enrolled */
    int64_t teacher = add_user("teacher1", DN_SROLE_TEACHER);
    cr_assert_eq(dn_school_class_enrol(fx_db, ca, teacher, d2, errors), DN_EVALIDATION);
    json_decref(errors);
    json_decref(a);
    json_decref(b);
}

STORE_TEST(school_store, invite_is_single_use)
{
    setup_school();
    int64_t id = add_user("newbie", DN_SROLE_PARENT);
    char code[16], login[72];
    int64_t found = 0;
    cr_assert_eq(dn_school_invite_create(fx_db, id, code, sizeof(code)), 0);
    cr_assert_eq(strlen(code), 10);
    cr_assert_eq(dn_school_invite_find(fx_db, "wrongcode1", &found, login, sizeof(login)), DN_ENOTFOUND);
    cr_assert_eq(dn_school_invite_find(fx_db, code, &found, login, sizeof(login)), 0);
    cr_assert_eq(found, id);
    cr_assert_str_eq(login, "newbie");
    cr_assert_eq(dn_school_invite_accept(fx_db, code, id, "$argon2id$fake"), 0);
    cr_assert_eq(dn_school_invite_accept(fx_db, code, id, "$argon2id$other"), DN_ECONFLICT);
    cr_assert_eq(dn_school_invite_find(fx_db, code, &found, login, sizeof(login)), DN_ENOTFOUND);
}
