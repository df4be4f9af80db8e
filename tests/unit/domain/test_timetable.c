/*
 * timetable.c: slot validation (pure) and lesson generation on a store:
 * holidays skipped, regeneration updates instead of duplicating, lessons
 * with journal data survive, teachers cannot be double-booked.
 */
/* the shared store fixture offers helpers not every file uses */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../store/fixture.h"

#include "domain/school.h"
#include "domain/timetable.h"
#include "store/migrate.h"

static json_t *slot(int wd, int no, int64_t subject, int64_t teacher, const char *subgroup)
{
    return json_pack("{s:i,s:i,s:I,s:I,s:s,s:s}", "weekday", wd, "lesson_no", no, "subject_id", (json_int_t)subject,
                     "teacher_id", (json_int_t)teacher, "room", "101", "subgroup", subgroup);
}

static const char *first_field(json_t *errors)
{
    return json_string_value(json_object_get(json_array_get(errors, 0), "field"));
}

Test(timetable_slots, parse_and_validate)
{
    static dn_tt_slot_t out[DN_TT_MAX_SLOTS];
    int n;
    json_t *errors = json_array();
    json_t *ok = json_pack("[o,o,o]", slot(1, 1, 10, 20, ""), slot(1, 2, 10, 20, ""), slot(2, 1, 11, 21, ""));
    cr_assert_eq(dn_timetable_slots_parse(ok, out, &n, errors), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[2].teacher_id, 21);
    cr_assert_str_eq(out[0].room, "101");
    json_decref(ok);

    json_t *dup = json_pack("[o,o]", slot(1, 1, 10, 20, ""), slot(1, 1, 11, 21, ""));
    cr_assert_eq(dn_timetable_slots_parse(dup, out, &n, errors), DN_EVALIDATION);
    cr_assert_str_eq(first_field(errors), "slots[1]");
    json_decref(dup);

    /* two subgroups at once are fine, one teacher in both is not */
    json_t *groups = json_pack("[o,o]", slot(1, 1, 10, 20, "1"), slot(1, 1, 10, 21, "2"));
    json_array_clear(errors);
    cr_assert_eq(dn_timetable_slots_parse(groups, out, &n, errors), 0);
    json_decref(groups);
    json_t *twice = json_pack("[o,o]", slot(1, 1, 10, 20, "1"), slot(1, 1, 10, 20, "2"));
    cr_assert_eq(dn_timetable_slots_parse(twice, out, &n, errors), DN_EVALIDATION);
    cr_assert_str_eq(first_field(errors), "slots[1].teacher_id");
    json_decref(twice);

    json_t *bad = json_pack("[o]", slot(8, 13, 0, 20, ""));
    json_array_clear(errors);
    cr_assert_eq(dn_timetable_slots_parse(bad, out, &n, errors), DN_EVALIDATION);
    cr_assert_eq(json_array_size(errors), 3, "weekday, lesson_no, subject_id");
    json_decref(bad);
    json_t *notarr = json_string("x");
    json_array_clear(errors);
    cr_assert_eq(dn_timetable_slots_parse(notarr, out, &n, errors), DN_EVALIDATION);
    json_decref(notarr);
    json_decref(errors);
}

/* ---- store ----------------------------------------------------------- */

static int64_t school_id, teacher, teacher2, subject, class_a, class_b;

static int64_t add_user(const char *login, unsigned roles)
{
    dn_person_t p = {login, "Учитель", "Имя", ""};
    int64_t id = 0;
    cr_assert_eq(dn_school_user_insert(fx_db, school_id, &p, roles, "!", &id), 0);
    return id;
}

static void setup(void)
{
    char err[256] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "migrate: %s", err);
    json_t *o = NULL, *errors = json_array();
    cr_assert_eq(dn_school_region_create(fx_db, "R", &o), 0);
    int64_t region = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    cr_assert_eq(dn_school_create(fx_db, region, "S", "quarter", &o), 0);
    school_id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    teacher = add_user("t1", DN_SROLE_TEACHER);
    teacher2 = add_user("t2", DN_SROLE_TEACHER);
    cr_assert_eq(dn_school_subject_create(fx_db, school_id, "Математика", &o), 0);
    subject = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    int sy = dn_class_start_year(5, dn_school_current_year());
    cr_assert_eq(dn_school_class_create(fx_db, school_id, sy, "А", 0, errors, &o), 0);
    class_a = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    cr_assert_eq(dn_school_class_create(fx_db, school_id, sy, "Б", 0, errors, &o), 0);
    class_b = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    cr_assert_eq(dn_school_assignment_create(fx_db, school_id, teacher, class_a, subject, "", errors, &o), 0);
    json_decref(o);
    cr_assert_eq(dn_school_assignment_create(fx_db, school_id, teacher, class_b, subject, "", errors, &o), 0);
    json_decref(o);
    cr_assert_eq(dn_school_assignment_create(fx_db, school_id, teacher2, class_a, subject, "", errors, &o), 0);
    json_decref(o);
    json_decref(errors);
}

static dn_query_t q_count = {"SELECT COUNT(*) FROM lessons WHERE class_id = 1"};
static dn_query_t q_count_t2 = {"SELECT COUNT(*) FROM lessons WHERE class_id = 1 AND teacher_id = 2"};

/* Next Monday at least a week ahead, so every generated lesson is in the future. */
static int64_t next_monday(void)
{
    int64_t d = dn_date_today_days() + 7;
    return d - (dn_date_weekday_days(d) - 1);
}

STORE_TEST(timetable_store, generate_skip_holidays_and_regenerate)
{
    setup();
    cr_assert_eq(class_a, 1);
    int64_t mon = next_monday();
    char from[11], to[11], hol[11];
    dn_date_format(mon, from);
    dn_date_format(mon + 13, to); /* two weeks */
    dn_date_format(mon + 2, hol); /* first Wednesday */
    json_t *errors = json_array(), *o = NULL;
    cr_assert_eq(dn_school_holiday_create(fx_db, school_id, "Каникулы", hol, hol, errors, &o), 0);
    json_decref(o);
    json_t *slots = json_pack("[o,o]", slot(1, 1, subject, teacher, ""), slot(3, 2, subject, teacher, ""));
    cr_assert_eq(dn_timetable_put(fx_db, class_a, from, to, slots, errors, &o), 0, "%s",
                 json_dumps(errors, 0));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "lessons"), "created")), 3);
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_count), 3, "4 lessons minus the holiday");

    /* same template with another teacher: updated in place, no duplicates */
    json_decref(slots);
    slots = json_pack("[o,o]", slot(1, 1, subject, teacher2, ""), slot(3, 2, subject, teacher2, ""));
    cr_assert_eq(dn_timetable_put(fx_db, class_a, from, to, slots, errors, &o), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "lessons"), "updated")), 3);
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_count), 3);
    cr_assert_eq(fx_int(fx_db, &q_count_t2), 3);

    /* a lesson with a topic survives removal from the template; empty ones go */
    fx_exec(fx_db, "UPDATE lessons SET topic = 'Дроби' WHERE id = (SELECT MIN(id) FROM lessons)");
    json_decref(slots);
    slots = json_array();
    cr_assert_eq(dn_timetable_put(fx_db, class_a, from, to, slots, errors, &o), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "lessons"), "deleted")), 2);
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_count), 1);

    /* the week view shows the template valid at the date and that week's lessons */
    cr_assert_eq(dn_timetable_get(fx_db, class_a, from, &o), 0);
    cr_assert_eq(json_array_size(json_object_get(o, "slots")), 0);
    cr_assert_eq(json_array_size(json_object_get(o, "lessons")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(o, "week_start")), from);
    json_decref(o);
    json_decref(slots);
    json_decref(errors);
}

STORE_TEST(timetable_store, conflicts_and_assignments)
{
    setup();
    int64_t mon = next_monday();
    char from[11], to[11];
    dn_date_format(mon, from);
    dn_date_format(mon + 6, to);
    json_t *errors = json_array(), *o = NULL;
    json_t *slots = json_pack("[o]", slot(1, 1, subject, teacher, ""));
    cr_assert_eq(dn_timetable_put(fx_db, class_a, from, to, slots, errors, &o), 0);
    json_decref(o);
    /* the same teacher at the same time in class Б */
    cr_assert_eq(dn_timetable_put(fx_db, class_b, from, to, slots, errors, &o), DN_ECONFLICT);
    cr_assert_str_eq(first_field(errors), "slots[0].teacher_id");
    json_decref(slots);
    /* teacher2 is not assigned to class Б */
    json_array_clear(errors);
    slots = json_pack("[o]", slot(1, 2, subject, teacher2, ""));
    cr_assert_eq(dn_timetable_put(fx_db, class_b, from, to, slots, errors, &o), DN_EVALIDATION);
    json_decref(slots);
    /* bad period */
    json_array_clear(errors);
    slots = json_array();
    cr_assert_eq(dn_timetable_put(fx_db, class_b, to, from, slots, errors, &o), DN_EVALIDATION);
    cr_assert_str_eq(first_field(errors), "valid_to");
    json_decref(slots);
    /* one-day changes */
    static dn_query_t q_first = {"SELECT MIN(id) FROM lessons"};
    int64_t lesson = fx_int(fx_db, &q_first);
    json_array_clear(errors);
    cr_assert_eq(dn_timetable_lesson_change(fx_db, lesson, "substitution", teacher2, NULL, errors, &o), 0);
    cr_assert_eq(json_integer_value(json_object_get(o, "teacher_id")), teacher2);
    cr_assert_str_eq(json_string_value(json_object_get(o, "change")), "substitution");
    json_decref(o);
    cr_assert_eq(dn_timetable_lesson_change(fx_db, lesson, "cancel", 0, NULL, errors, &o), 0);
    cr_assert(json_is_true(json_object_get(o, "cancelled")));
    json_decref(o);
    cr_assert_eq(dn_timetable_lesson_change(fx_db, lesson, "teleport", 0, NULL, errors, &o), DN_EVALIDATION);
    cr_assert_eq(dn_timetable_extra_lesson(fx_db, class_a, from, 1, subject, teacher, "", errors, &o), DN_EEXIST);
    cr_assert_eq(dn_timetable_extra_lesson(fx_db, class_a, from, 7, subject, teacher, "", errors, &o), 0);
    json_decref(o);
    json_decref(errors);
}
