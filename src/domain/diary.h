/*
 * diary.h - the everyday read pages: a student's week, a student's marks for
 * a term, a class journal of one subject for a term, a teacher's day.
 *
 * Each page is a handful of indexed statements (by student and date, by
 * class and date, by class/subject/term, by teacher and date) whose row
 * counts are bounded by a week, a term or a day - never by the age of the
 * school. Averages use dn_journal_weighted_average's rounding. Access is
 * decided by the caller (dn_access_check) before calling these.
 *
 * The pages are written straight into a JSON writer (core/jsonw.h) - no
 * jansson tree (issue 6: building and dumping trees was the hot spot). On an
 * error the writer holds a partial document: the caller discards it.
 */
#ifndef DN_DOMAIN_DIARY_H
#define DN_DOMAIN_DIARY_H

#include <stdint.h>
#include "core/jsonw.h"
#include "store/db.h"

/** School and latest class of a student (class 0 when none): DN_ENOTFOUND for an unknown student. */
int dn_diary_student_school(dn_db_t *db, int64_t student_id, int64_t *school_id, int64_t *class_id);

/** The current term of a school (containing today, else the latest started): DN_ENOTFOUND when none. */
int dn_diary_current_term(dn_db_t *db, int64_t school_id, int64_t *term_id);

/** Week (Mon..Sat) containing date: days with lessons, marks, attendance; checkpoints due. */
int dn_diary_week(dn_db_t *db, dn_jsonw_t *w, int64_t student_id, const char *date);

/** A term as the pages show it (small and flat, so the API can cache it). */
typedef struct dn_diary_term {
    int64_t id, school_id;
    int year_start, number, closed;
    char starts_on[11], ends_on[11];
} dn_diary_term_t;

/** Load a term by id: DN_ENOTFOUND when there is none. */
int dn_diary_term(dn_db_t *db, int64_t term_id, dn_diary_term_t *out);

/** Marks of a student in a term per subject with weighted averages and term marks.
 *  DN_ENOTFOUND when the term is not of school_id. */
int dn_diary_marks(dn_db_t *db, dn_jsonw_t *w, int64_t student_id, int64_t school_id, const dn_diary_term_t *term);

/** Journal of (class, subject) in a term: students, lessons, cells, averages.
 *  DN_ENOTFOUND when the term is not of school_id. */
int dn_diary_class_journal(dn_db_t *db, dn_jsonw_t *w, int64_t school_id, int64_t class_id, int64_t subject_id,
                           const dn_diary_term_t *term);

/** Lessons of a teacher on a date with class name, school_id and topic/homework filled flags;
 *  only those whose school keep(arg, school_id) accepts (keep NULL: all). */
int dn_diary_teacher_day(dn_db_t *db, dn_jsonw_t *w, int64_t teacher_id, const char *date,
                         int (*keep)(void *arg, int64_t school_id), void *arg);

#endif
