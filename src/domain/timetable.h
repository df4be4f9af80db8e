/*
 * timetable.h - a class's weekly timetable template and its dated lessons.
 *
 * A template is a set of slots (weekday, lesson_no, subject, teacher, room,
 * subgroup) valid between two dates. Putting a template for a period
 * replaces whatever template covered that period and regenerates the dated
 * lessons of the period, skipping holidays, in one transaction. Lessons that
 * already carry journal data (marks, attendance, topic, homework,
 * checkpoints) are never deleted; one-day changes (substitution, cancel,
 * room, extra lesson) edit lessons, not the template.
 */
#ifndef DN_DOMAIN_TIMETABLE_H
#define DN_DOMAIN_TIMETABLE_H

#include <stdint.h>
#include <jansson.h>

#include "store/db.h"

#define DN_TT_MAX_SLOTS 256

typedef struct dn_tt_slot {
    int weekday;   /* 1 = Monday .. 7 */
    int lesson_no; /* 0..12 */
    int64_t subject_id;
    int64_t teacher_id;
    char room[33];
    char subgroup[33];
} dn_tt_slot_t;

/**
 * Parse and check slots (JSON array) without the store: field types and
 * ranges, no two slots at the same (weekday, lesson_no, subgroup), no
 * teacher twice at the same (weekday, lesson_no). Fills out[] (cap
 * DN_TT_MAX_SLOTS), *n. 0 or DN_EVALIDATION with errors appended.
 */
int dn_timetable_slots_parse(const json_t *slots, dn_tt_slot_t *out, int *n, json_t *errors);

/**
 * Replace the template of class_id for [valid_from, valid_to] and regenerate
 * its lessons. Checks the teacher of each slot is assigned to (class,
 * subject) (422) and is not booked in another class of the school at the
 * same weekday/lesson in an overlapping period (409 DN_ECONFLICT, with
 * errors). *out: the stored template and lesson counts.
 */
int dn_timetable_put(dn_db_t *db, int64_t class_id, const char *valid_from, const char *valid_to,
                     const json_t *slots, json_t *errors, json_t **out);
/** The template valid at date and the dated lessons of that week (Mon..Sun). */
int dn_timetable_get(dn_db_t *db, int64_t class_id, const char *date, json_t **out);

/** School and class of a lesson (DN_ENOTFOUND when none). */
int dn_timetable_lesson_owner(dn_db_t *db, int64_t lesson_id, int64_t *school_id, int64_t *class_id);
/** One lesson as JSON. */
int dn_timetable_lesson_get(dn_db_t *db, int64_t lesson_id, json_t **out);
/**
 * One-day change: kind "substitution" (teacher_id), "cancel", "room" (room).
 * DN_EVALIDATION with errors for a bad kind or argument.
 */
int dn_timetable_lesson_change(dn_db_t *db, int64_t lesson_id, const char *kind, int64_t teacher_id,
                               const char *room, json_t *errors, json_t **out);
/** An extra lesson outside the template; DN_EEXIST when that lesson slot is taken. */
int dn_timetable_extra_lesson(dn_db_t *db, int64_t class_id, const char *date, int lesson_no, int64_t subject_id,
                              int64_t teacher_id, const char *room, json_t *errors, json_t **out);

#endif
