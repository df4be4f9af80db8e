/*
 * diary.h - the everyday read pages: a student's week, a student's marks for
 * a term, a class journal of one subject for a term, a teacher's day.
 *
 * Each page is a handful of indexed statements (by student and date, by
 * class and date, by class/subject/term, by teacher and date) whose row
 * counts are bounded by a week, a term or a day - never by the age of the
 * school. Averages use dn_journal_weighted_average's rounding. Access is
 * decided by the caller (dn_access_check) before calling these.
 */
#ifndef DN_DOMAIN_DIARY_H
#define DN_DOMAIN_DIARY_H

#include <stdint.h>
#include <jansson.h>

#include "store/db.h"

/** School and latest class of a student (class 0 when none): DN_ENOTFOUND for an unknown student. */
int dn_diary_student_school(dn_db_t *db, int64_t student_id, int64_t *school_id, int64_t *class_id);

/** The current term of a school (containing today, else the latest started): DN_ENOTFOUND when none. */
int dn_diary_current_term(dn_db_t *db, int64_t school_id, int64_t *term_id);

/** Week (Mon..Sat) containing date: days with lessons, marks, attendance; checkpoints due. */
int dn_diary_week(dn_db_t *db, int64_t student_id, const char *date, json_t **out);

/** Marks of a student in a term per subject with weighted averages and term marks.
 *  DN_ENOTFOUND when the term is not of school_id. */
int dn_diary_marks(dn_db_t *db, int64_t student_id, int64_t school_id, int64_t term_id, json_t **out);

/** Journal of (class, subject) in a term: students, lessons, cells, averages. */
int dn_diary_class_journal(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id, int64_t term_id,
                           json_t **out);

/** Lessons of a teacher on a date with class name, school_id and topic/homework filled flags. */
int dn_diary_teacher_day(dn_db_t *db, int64_t teacher_id, const char *date, json_t **out);

#endif
