/*
 * timetable.c - templates and lesson generation (see timetable.h).
 *
 * Generation works on one class and one period inside one write
 * transaction: the existing lessons of the period are read once into a
 * sorted array, the wanted lessons are walked day by day, and each is
 * matched by (date, lesson_no, subgroup) to update, insert or keep; the
 * leftovers are deleted only when empty, in the future and not extra.
 * Prepared statements are reused for every row (the store caches them).
 */
#include "domain/timetable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/school.h"

#define MAX_PERIOD_DAYS 400

static int prep_error(dn_db_t *db)
{
    int rc = dn_db_errcode(db);
    return rc < 0 ? rc : DN_EDB;
}

static int int_field(const json_t *o, const char *key, int64_t *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j))
        return -1;
    *v = json_integer_value(j);
    return 0;
}

static int str_field(const json_t *o, const char *key, char *buf, size_t cap)
{
    json_t *j = json_object_get(o, key);
    buf[0] = '\0';
    if (j == NULL || json_is_null(j))
        return 0;
    if (!json_is_string(j) || json_string_length(j) >= cap)
        return -1;
    snprintf(buf, cap, "%s", json_string_value(j));
    return 0;
}

int dn_timetable_slots_parse(const json_t *slots, dn_tt_slot_t *out, int *n, json_t *errors)
{
    *n = 0;
    if (!json_is_array(slots) || json_array_size(slots) > DN_TT_MAX_SLOTS) {
        dn_school_field_error(errors, "slots", "slots must be an array of at most 256 slots");
        return DN_EVALIDATION;
    }
    int bad = 0;
    size_t i;
    json_t *o;
    json_array_foreach(slots, i, o)
    {
        char field[48];
        dn_tt_slot_t *s = &out[i];
        int64_t v = 0;
        memset(s, 0, sizeof(*s));
        if (!json_is_object(o)) {
            snprintf(field, sizeof(field), "slots[%zu]", i);
            dn_school_field_error(errors, field, "a slot must be an object");
            bad = 1;
            continue;
        }
        if (int_field(o, "weekday", &v) < 0 || v < 1 || v > 7) {
            snprintf(field, sizeof(field), "slots[%zu].weekday", i);
            dn_school_field_error(errors, field, "weekday must be 1 (Monday) .. 7");
            bad = 1;
        }
        s->weekday = (int)v;
        if (int_field(o, "lesson_no", &v) < 0 || v < 0 || v > 12) {
            snprintf(field, sizeof(field), "slots[%zu].lesson_no", i);
            dn_school_field_error(errors, field, "lesson_no must be 0..12");
            bad = 1;
        }
        s->lesson_no = (int)v;
        if (int_field(o, "subject_id", &s->subject_id) < 0 || s->subject_id <= 0) {
            snprintf(field, sizeof(field), "slots[%zu].subject_id", i);
            dn_school_field_error(errors, field, "subject_id must be an id");
            bad = 1;
        }
        if (int_field(o, "teacher_id", &s->teacher_id) < 0 || s->teacher_id <= 0) {
            snprintf(field, sizeof(field), "slots[%zu].teacher_id", i);
            dn_school_field_error(errors, field, "teacher_id must be an id");
            bad = 1;
        }
        if (str_field(o, "room", s->room, sizeof(s->room)) < 0) {
            snprintf(field, sizeof(field), "slots[%zu].room", i);
            dn_school_field_error(errors, field, "room must be a string of at most 32 bytes");
            bad = 1;
        }
        if (str_field(o, "subgroup", s->subgroup, sizeof(s->subgroup)) < 0) {
            snprintf(field, sizeof(field), "slots[%zu].subgroup", i);
            dn_school_field_error(errors, field, "subgroup must be a string of at most 32 bytes");
            bad = 1;
        }
        if (bad)
            continue;
        for (size_t j = 0; j < i; j++) {
            const dn_tt_slot_t *p = &out[j];
            if (p->weekday != s->weekday || p->lesson_no != s->lesson_no)
                continue;
            if (strcmp(p->subgroup, s->subgroup) == 0) {
                snprintf(field, sizeof(field), "slots[%zu]", i);
                dn_school_field_error(errors, field, "duplicate slot: same weekday, lesson_no and subgroup");
                bad = 1;
                break;
            }
            if (p->teacher_id == s->teacher_id) {
                snprintf(field, sizeof(field), "slots[%zu].teacher_id", i);
                dn_school_field_error(errors, field, "the teacher already has a lesson at this weekday and lesson_no");
                bad = 1;
                break;
            }
        }
    }
    *n = (int)json_array_size(slots);
    return bad ? DN_EVALIDATION : 0;
}

/* ------------------------------------------------------------------ */

static dn_query_t q_class_school = {"SELECT school_id FROM classes WHERE id = ?"};
static dn_query_t q_assigned = {
    "SELECT COUNT(*) FROM assignments WHERE teacher_id = ? AND class_id = ? AND subject_id = ?"};
static dn_query_t q_booked = {
    "SELECT c.start_year, c.letter FROM timetable_slots s JOIN classes c ON c.id = s.class_id "
    "WHERE s.school_id = ? AND s.class_id <> ? AND s.teacher_id = ? AND s.weekday = ? AND s.lesson_no = ? "
    "AND s.valid_from <= ? AND s.valid_to >= ? LIMIT 1"};
static dn_query_t q_split = {
    "INSERT INTO timetable_slots (school_id, class_id, weekday, lesson_no, subject_id, teacher_id, room, subgroup, "
    "valid_from, valid_to) SELECT school_id, class_id, weekday, lesson_no, subject_id, teacher_id, room, subgroup, "
    "?, valid_to FROM timetable_slots WHERE class_id = ? AND valid_from < ? AND valid_to > ?"};
static dn_query_t q_trim_end = {
    "UPDATE timetable_slots SET valid_to = ? WHERE class_id = ? AND valid_from < ? AND valid_to >= ?"};
static dn_query_t q_trim_start = {
    "UPDATE timetable_slots SET valid_from = ? WHERE class_id = ? AND valid_from <= ? AND valid_to > ?"};
static dn_query_t q_drop_inside = {
    "DELETE FROM timetable_slots WHERE class_id = ? AND valid_from >= ? AND valid_to <= ?"};
static dn_query_t q_slot_ins = {
    "INSERT INTO timetable_slots (school_id, class_id, weekday, lesson_no, subject_id, teacher_id, room, subgroup, "
    "valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};
static dn_query_t q_holidays = {
    "SELECT starts_on, ends_on FROM holidays WHERE school_id = ? AND starts_on <= ? AND ends_on >= ?"};
static dn_query_t q_existing = {
    "SELECT l.id, l.date, l.lesson_no, l.subgroup, l.subject_id, l.change_note, "
    "CASE WHEN l.topic <> '' OR l.homework <> '' "
    "OR EXISTS (SELECT 1 FROM marks m WHERE m.lesson_id = l.id) "
    "OR EXISTS (SELECT 1 FROM attendance a WHERE a.lesson_id = l.id) "
    "OR EXISTS (SELECT 1 FROM checkpoints k WHERE k.lesson_id = l.id) THEN 1 ELSE 0 END "
    "FROM lessons l WHERE l.class_id = ? AND l.date >= ? AND l.date <= ?"};
static dn_query_t q_lesson_ins = {
    "INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, subgroup, room, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"};
static dn_query_t q_lesson_retarget = {
    "UPDATE lessons SET subject_id = ?, teacher_id = ?, room = ?, updated_at = ? WHERE id = ?"};
static dn_query_t q_lesson_del = {"DELETE FROM lessons WHERE id = ?"};

typedef struct existing {
    int64_t id;
    int64_t day;
    int lesson_no;
    char subgroup[33];
    int64_t subject_id;
    int has_data;
    int changed; /* a one-day change or an extra lesson: the template does not own it */
    int extra;
    int matched;
} existing_t;

static int existing_cmp(const void *a, const void *b)
{
    const existing_t *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->lesson_no != y->lesson_no)
        return x->lesson_no < y->lesson_no ? -1 : 1;
    return strcmp(x->subgroup, y->subgroup);
}

/* Validation that needs the store: assignments and double booking. */
static int check_against_store(dn_db_t *db, int64_t school_id, int64_t class_id, const char *from, const char *to,
                               const dn_tt_slot_t *slots, int n, json_t *errors, int *conflict)
{
    int bad = 0;
    *conflict = 0;
    for (int i = 0; i < n; i++) {
        char field[48];
        int64_t cnt = 0;
        int rc = dn_db_scalar(db, &q_assigned, &cnt, "iii", slots[i].teacher_id, class_id, slots[i].subject_id);
        if (rc < 0)
            return rc;
        if (cnt == 0) {
            snprintf(field, sizeof(field), "slots[%d].teacher_id", i);
            dn_school_field_error(errors, field, "the teacher is not assigned to this class and subject");
            bad = 1;
            continue;
        }
        dn_stmt_t *st = dn_db_query(db, &q_booked, "iiiiiss", school_id, class_id, slots[i].teacher_id,
                                       (int64_t)slots[i].weekday, (int64_t)slots[i].lesson_no, to, from);
        if (st == NULL)
            return prep_error(db);
        rc = dn_stmt_step(st);
        if (rc < 0)
            return rc;
        if (rc == DN_DB_ROW) {
            char name[32], msg[128];
            dn_class_name((int)dn_stmt_int64(st, 0), dn_stmt_text(st, 1, NULL), dn_school_current_year(), name,
                          sizeof(name));
            snprintf(msg, sizeof(msg), "the teacher already teaches class %s at this weekday and lesson_no", name);
            snprintf(field, sizeof(field), "slots[%d].teacher_id", i);
            dn_school_field_error(errors, field, msg);
            *conflict = 1;
            dn_stmt_finish(st);
        }
    }
    return bad ? DN_EVALIDATION : *conflict ? DN_ECONFLICT : 0;
}

static int load_holidays(dn_db_t *db, int64_t school_id, const char *from, const char *to, int64_t (*h)[2],
                         int cap, int *n)
{
    dn_stmt_t *st = dn_db_query(db, &q_holidays, "iss", school_id, to, from);
    if (st == NULL)
        return prep_error(db);
    int rc;
    *n = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        if (*n == cap)
            continue;
        if (dn_date_parse(dn_stmt_text(st, 0, NULL), &h[*n][0]) == 0 &&
            dn_date_parse(dn_stmt_text(st, 1, NULL), &h[*n][1]) == 0)
            (*n)++;
    }
    return rc < 0 ? rc : 0;
}

static int load_existing(dn_db_t *db, int64_t class_id, const char *from, const char *to, existing_t **out, int *n)
{
    dn_stmt_t *st = dn_db_query(db, &q_existing, "iss", class_id, from, to);
    if (st == NULL)
        return prep_error(db);
    int cap = 256, rc;
    existing_t *arr = malloc(sizeof(*arr) * (size_t)cap);
    if (arr == NULL)
        return DN_ENOMEM;
    *n = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        if (*n == cap) {
            cap *= 2;
            existing_t *bigger = realloc(arr, sizeof(*arr) * (size_t)cap);
            if (bigger == NULL) {
                free(arr);
                return DN_ENOMEM;
            }
            arr = bigger;
        }
        existing_t *e = &arr[(*n)++];
        memset(e, 0, sizeof(*e));
        e->id = dn_stmt_int64(st, 0);
        dn_date_parse(dn_stmt_text(st, 1, NULL), &e->day);
        e->lesson_no = (int)dn_stmt_int64(st, 2);
        snprintf(e->subgroup, sizeof(e->subgroup), "%s", dn_stmt_text(st, 3, NULL));
        e->subject_id = dn_stmt_int64(st, 4);
        const char *note = dn_stmt_text(st, 5, NULL);
        e->changed = note != NULL && note[0] != '\0';
        e->extra = note != NULL && strcmp(note, "extra") == 0;
        e->has_data = dn_stmt_int64(st, 6) != 0;
    }
    if (rc < 0) {
        free(arr);
        return rc;
    }
    qsort(arr, (size_t)*n, sizeof(*arr), existing_cmp);
    *out = arr;
    return 0;
}

/* Replace the template rows of the period: split, trim, drop, insert. */
static int replace_template(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t from, int64_t to,
                            const dn_tt_slot_t *slots, int n)
{
    char f[11], t[11], before[11], after[11];
    dn_date_format(from, f);
    dn_date_format(to, t);
    dn_date_format(from - 1, before);
    dn_date_format(to + 1, after);
    int rc = dn_db_run(db, &q_split, "siss", after, class_id, f, t);
    if (rc == 0)
        rc = dn_db_run(db, &q_trim_end, "siss", before, class_id, f, f);
    if (rc == 0)
        rc = dn_db_run(db, &q_trim_start, "siss", after, class_id, t, t);
    if (rc == 0)
        rc = dn_db_run(db, &q_drop_inside, "iss", class_id, f, t);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = dn_db_run(db, &q_slot_ins, "iiiiiissss", school_id, class_id, (int64_t)slots[i].weekday,
                            (int64_t)slots[i].lesson_no, slots[i].subject_id, slots[i].teacher_id, slots[i].room,
                            slots[i].subgroup, f, t);
    return rc;
}

typedef struct gen_counts {
    int created, updated, deleted, kept;
} gen_counts_t;

static int generate_lessons(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t from, int64_t to,
                            const dn_tt_slot_t *slots, int n, gen_counts_t *c)
{
    char f[11], t[11];
    dn_date_format(from, f);
    dn_date_format(to, t);
    int64_t hol[64][2];
    int nhol = 0, nex = 0;
    existing_t *ex = NULL;
    int rc = load_holidays(db, school_id, f, t, hol, 64, &nhol);
    if (rc == 0)
        rc = load_existing(db, class_id, f, t, &ex, &nex);
    if (rc < 0)
        return rc;
    int64_t now = dn_now_ms(), today = dn_date_today_days();
    for (int64_t day = from; rc == 0 && day <= to; day++) {
        int holiday = 0;
        for (int h = 0; h < nhol; h++)
            if (day >= hol[h][0] && day <= hol[h][1])
                holiday = 1;
        if (holiday)
            continue;
        int wd = dn_date_weekday_days(day);
        char date[11];
        dn_date_format(day, date);
        for (int i = 0; rc == 0 && i < n; i++) {
            const dn_tt_slot_t *s = &slots[i];
            if (s->weekday != wd)
                continue;
            existing_t key;
            memset(&key, 0, sizeof(key));
            key.day = day;
            key.lesson_no = s->lesson_no;
            snprintf(key.subgroup, sizeof(key.subgroup), "%s", s->subgroup);
            existing_t *e = nex > 0 ? bsearch(&key, ex, (size_t)nex, sizeof(*ex), existing_cmp) : NULL;
            if (e == NULL) {
                rc = dn_db_run(db, &q_lesson_ins, "iiiisissi", school_id, class_id, s->subject_id,
                                    s->teacher_id, date, (int64_t)s->lesson_no, s->subgroup, s->room, now);
                c->created++;
                continue;
            }
            e->matched = 1;
            /* A lesson with journal data keeps its subject; a one-day change keeps its teacher. */
            if (e->changed || (e->has_data && e->subject_id != s->subject_id)) {
                c->kept++;
                continue;
            }
            rc = dn_db_run(db, &q_lesson_retarget, "iisii", s->subject_id, s->teacher_id, s->room, now, e->id);
            c->updated++;
        }
    }
    for (int i = 0; rc == 0 && i < nex; i++) {
        existing_t *e = &ex[i];
        if (e->matched)
            continue;
        if (e->has_data || e->extra || e->day < today) {
            c->kept++;
            continue;
        }
        rc = dn_db_run(db, &q_lesson_del, "i", e->id);
        c->deleted++;
    }
    free(ex);
    return rc;
}

int dn_timetable_put(dn_db_t *db, int64_t class_id, const char *valid_from, const char *valid_to,
                     const json_t *slots, json_t *errors, json_t **out)
{
    int64_t from = 0, to = 0, school_id = 0;
    int bad = 0;
    if (dn_date_parse(valid_from, &from) < 0) {
        dn_school_field_error(errors, "valid_from", "must be a date YYYY-MM-DD");
        bad = 1;
    }
    if (dn_date_parse(valid_to, &to) < 0) {
        dn_school_field_error(errors, "valid_to", "must be a date YYYY-MM-DD");
        bad = 1;
    } else if (!bad && (to < from || to - from > MAX_PERIOD_DAYS)) {
        dn_school_field_error(errors, "valid_to", "valid_to must be on or after valid_from, at most 400 days later");
        bad = 1;
    }
    dn_tt_slot_t *parsed = malloc(sizeof(*parsed) * DN_TT_MAX_SLOTS);
    if (parsed == NULL)
        return DN_ENOMEM;
    int n = 0, rc = dn_timetable_slots_parse(slots, parsed, &n, errors);
    if (rc < 0 || bad) {
        rc = DN_EVALIDATION;
        goto done;
    }
    rc = dn_db_scalar(db, &q_class_school, &school_id, "i", class_id);
    if (rc < 0)
        goto done;
    rc = dn_db_begin_write(db);
    if (rc < 0)
        goto done;
    int conflict = 0;
    rc = check_against_store(db, school_id, class_id, valid_from, valid_to, parsed, n, errors, &conflict);
    gen_counts_t c = {0, 0, 0, 0};
    if (rc == 0)
        rc = replace_template(db, school_id, class_id, from, to, parsed, n);
    if (rc == 0)
        rc = generate_lessons(db, school_id, class_id, from, to, parsed, n, &c);
    if (rc == 0)
        rc = dn_db_commit(db);
    if (rc < 0) {
        dn_db_rollback(db);
        goto done;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:i,s:i,s:I,s:I,s:s,s:s}", "weekday", parsed[i].weekday, "lesson_no",
                                             parsed[i].lesson_no, "subject_id", (json_int_t)parsed[i].subject_id,
                                             "teacher_id", (json_int_t)parsed[i].teacher_id, "room", parsed[i].room,
                                             "subgroup", parsed[i].subgroup));
    *out = json_pack("{s:I,s:s,s:s,s:o,s:{s:i,s:i,s:i,s:i}}", "class_id", (json_int_t)class_id, "valid_from",
                     valid_from, "valid_to", valid_to, "slots", arr, "lessons", "created", c.created, "updated",
                     c.updated, "deleted", c.deleted, "kept", c.kept);
done:
    free(parsed);
    return rc;
}

/* ------------------------------------------------------------------ */
/* reading and one-day changes                                        */

static dn_query_t q_slots_at = {
    "SELECT s.id, s.weekday, s.lesson_no, s.subject_id, sub.name, s.teacher_id, "
    "u.last_name || ' ' || u.first_name, s.room, s.subgroup, s.valid_from, s.valid_to "
    "FROM timetable_slots s JOIN subjects sub ON sub.id = s.subject_id JOIN users u ON u.id = s.teacher_id "
    "WHERE s.class_id = ? AND s.valid_from <= ? AND s.valid_to >= ? ORDER BY s.weekday, s.lesson_no, s.subgroup"};
#define LESSON_COLS                                                                                               \
    "SELECT l.id, l.class_id, l.date, l.lesson_no, l.subject_id, sub.name, l.teacher_id, "                        \
    "u.last_name || ' ' || u.first_name, l.room, l.subgroup, l.cancelled, l.change_note "                         \
    "FROM lessons l JOIN subjects sub ON sub.id = l.subject_id JOIN users u ON u.id = l.teacher_id "
#define LESSON_SPEC                                                                                               \
    "id:i,class_id:i,date:s,lesson_no:i,subject_id:i,subject_name:s,teacher_id:i,teacher_name:s,room:s,"          \
    "subgroup:s,cancelled:b,change:s"
static dn_query_t q_week = {LESSON_COLS "WHERE l.class_id = ? AND l.date >= ? AND l.date <= ? "
                                        "ORDER BY l.date, l.lesson_no, l.subgroup"};
static dn_query_t q_lesson_get = {LESSON_COLS "WHERE l.id = ?"};
static dn_query_t q_lesson_owner = {"SELECT school_id, class_id FROM lessons WHERE id = ?"};
static dn_query_t q_lesson_teacher = {
    "UPDATE lessons SET teacher_id = ?, change_note = 'substitution', updated_at = ? WHERE id = ?"};
static dn_query_t q_lesson_cancel = {
    "UPDATE lessons SET cancelled = 1, change_note = 'cancelled', updated_at = ? WHERE id = ?"};
static dn_query_t q_lesson_room = {
    "UPDATE lessons SET room = ?, change_note = CASE WHEN change_note = '' THEN 'room' ELSE change_note END, "
    "updated_at = ? WHERE id = ?"};
static dn_query_t q_extra_ins = {
    "INSERT INTO lessons (school_id, class_id, subject_id, teacher_id, date, lesson_no, subgroup, room, "
    "change_note, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, 'extra', ?) RETURNING id"};

int dn_timetable_get(dn_db_t *db, int64_t class_id, const char *date, json_t **out)
{
    int64_t day;
    if (dn_date_parse(date, &day) < 0)
        return DN_EINVAL;
    int64_t monday = day - (dn_date_weekday_days(day) - 1);
    char mon[11], sun[11];
    dn_date_format(monday, mon);
    dn_date_format(monday + 6, sun);
    dn_stmt_t *st = dn_db_query(db, &q_slots_at, "iss", class_id, date, date);
    if (st == NULL)
        return prep_error(db);
    int rc;
    json_t *slots = dn_school_rows_json(
        st, "id:i,weekday:i,lesson_no:i,subject_id:i,subject_name:s,teacher_id:i,teacher_name:s,room:s,subgroup:s,"
            "valid_from:s,valid_to:s",
        &rc);
    if (slots == NULL)
        return rc;
    st = dn_db_query(db, &q_week, "iss", class_id, mon, sun);
    if (st == NULL) {
        json_decref(slots);
        return prep_error(db);
    }
    json_t *lessons = dn_school_rows_json(st, LESSON_SPEC, &rc);
    if (lessons == NULL) {
        json_decref(slots);
        return rc;
    }
    *out = json_pack("{s:I,s:s,s:s,s:s,s:o,s:o}", "class_id", (json_int_t)class_id, "date", date, "week_start", mon,
                     "week_end", sun, "slots", slots, "lessons", lessons);
    return 0;
}

int dn_timetable_lesson_owner(dn_db_t *db, int64_t lesson_id, int64_t *school_id, int64_t *class_id)
{
    dn_stmt_t *st = dn_db_query(db, &q_lesson_owner, "i", lesson_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *school_id = dn_stmt_int64(st, 0);
    *class_id = dn_stmt_int64(st, 1);
    dn_stmt_finish(st);
    return 0;
}

int dn_timetable_lesson_get(dn_db_t *db, int64_t lesson_id, json_t **out)
{
    dn_stmt_t *st = dn_db_query(db, &q_lesson_get, "i", lesson_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *out = dn_school_row_json(st, LESSON_SPEC);
    dn_stmt_finish(st);
    return 0;
}

int dn_timetable_lesson_change(dn_db_t *db, int64_t lesson_id, const char *kind, int64_t teacher_id,
                               const char *room, json_t *errors, json_t **out)
{
    int64_t school_id, class_id;
    int rc = dn_timetable_lesson_owner(db, lesson_id, &school_id, &class_id);
    if (rc < 0)
        return rc;
    int64_t now = dn_now_ms();
    if (kind != NULL && strcmp(kind, "substitution") == 0) {
        rc = teacher_id > 0 ? dn_school_user_has_role(db, teacher_id, school_id, "teacher") : 0;
        if (rc < 0)
            return rc;
        if (rc == 0) {
            dn_school_field_error(errors, "teacher_id", "teacher_id must be a teacher of this school");
            return DN_EVALIDATION;
        }
        rc = dn_db_run(db, &q_lesson_teacher, "iii", teacher_id, now, lesson_id);
    } else if (kind != NULL && strcmp(kind, "cancel") == 0) {
        rc = dn_db_run(db, &q_lesson_cancel, "ii", now, lesson_id);
    } else if (kind != NULL && strcmp(kind, "room") == 0) {
        if (room == NULL || room[0] == '\0' || strlen(room) > 32) {
            dn_school_field_error(errors, "room", "room must be a non-empty string of at most 32 bytes");
            return DN_EVALIDATION;
        }
        rc = dn_db_run(db, &q_lesson_room, "sii", room, now, lesson_id);
    } else {
        dn_school_field_error(errors, "kind", "kind must be \"substitution\", \"cancel\" or \"room\"");
        return DN_EVALIDATION;
    }
    if (rc < 0)
        return rc;
    return dn_timetable_lesson_get(db, lesson_id, out);
}

int dn_timetable_extra_lesson(dn_db_t *db, int64_t class_id, const char *date, int lesson_no, int64_t subject_id,
                              int64_t teacher_id, const char *room, json_t *errors, json_t **out)
{
    int64_t day, school_id, cnt = 0;
    int bad = 0;
    if (dn_date_parse(date, &day) < 0) {
        dn_school_field_error(errors, "date", "must be a date YYYY-MM-DD");
        bad = 1;
    }
    if (lesson_no < 0 || lesson_no > 12) {
        dn_school_field_error(errors, "lesson_no", "lesson_no must be 0..12");
        bad = 1;
    }
    if (room != NULL && strlen(room) > 32) {
        dn_school_field_error(errors, "room", "room is at most 32 bytes");
        bad = 1;
    }
    if (bad)
        return DN_EVALIDATION;
    int rc = dn_db_scalar(db, &q_class_school, &school_id, "i", class_id);
    if (rc < 0)
        return rc;
    rc = dn_db_scalar(db, &q_assigned, &cnt, "iii", teacher_id, class_id, subject_id);
    if (rc < 0)
        return rc;
    if (cnt == 0) {
        dn_school_field_error(errors, "teacher_id", "the teacher is not assigned to this class and subject");
        return DN_EVALIDATION;
    }
    int64_t id;
    rc = dn_db_scalar(db, &q_extra_ins, &id, "iiiisisi", school_id, class_id, subject_id, teacher_id, date,
                       (int64_t)lesson_no, room ? room : "", dn_now_ms());
    if (rc == DN_ECONFLICT)
        return DN_EEXIST;
    if (rc < 0)
        return rc;
    return dn_timetable_lesson_get(db, id, out);
}
