/*
 * journal.h - the class journal: lessons' topic/homework, marks, attendance,
 * term marks, closing terms, checkpoints, and the audit trail of all of it.
 *
 * Invariants kept here (not in handlers): a mark's value is 1..5; the student
 * belongs to the lesson's class on the lesson's date; the date falls in a term
 * of the school (term_id is derived, never trusted from input); a closed term
 * is changed only with allow_closed (the caller has checked OVERRIDE_CLOSED);
 * cancelled lessons take no marks. Every change writes audit_log in the same
 * transaction. Multi-row writes validate every row before writing any.
 * Access is NOT checked here: the API asks dn_access_check first, using the
 * school/class/subject this module loads (dn_journal_lesson_load & co).
 */
#ifndef DN_DOMAIN_JOURNAL_H
#define DN_DOMAIN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "core/date.h"
#include "store/db.h"

/** Why a write was refused: field + message for 422, message for 409. */
typedef struct dn_jfail {
    char field[64];
    char message[200];
} dn_jfail_t;

/**
 * Σ(value·weight)/Σ(weight) rounded half-up to 2 decimals, computed in
 * integers so 4.125 → 4.13 exactly. 0.0 when n == 0 or Σweight == 0 (callers
 * show null then). The SQL pages use the same function on fetched rows.
 */
double dn_journal_weighted_average(const int *values, const int *weights, int n);
/** Same rounding from the two sums (the UI's formula inputs). */
double dn_journal_average_from_sums(int64_t sum_vw, int64_t sum_w);
/** Weight of a work kind: lesson/homework/other 1, test 2, control 3; 0 when unknown. */
int dn_journal_kind_weight(const char *kind);

/** The term of school that contains date: DN_ENOTFOUND when none. closed may be NULL. */
int dn_journal_term_for_date(dn_db_t *db, int64_t school_id, const char *date, int64_t *term_id, int *closed);

typedef struct dn_lesson_ctx {
    int64_t id, school_id, class_id, subject_id, teacher_id;
    char date[11];
    int cancelled;
} dn_lesson_ctx_t;

/** Load a lesson's keys: 0, DN_ENOTFOUND or a store code. */
int dn_journal_lesson_load(dn_db_t *db, int64_t lesson_id, dn_lesson_ctx_t *out);

typedef struct dn_checkpoint_ctx {
    int64_t id, school_id, class_id, subject_id, teacher_id;
    char kind[16];
    char due_date[11];
    int weight;
} dn_checkpoint_ctx_t;

int dn_journal_checkpoint_load(dn_db_t *db, int64_t checkpoint_id, dn_checkpoint_ctx_t *out);

typedef struct dn_mark_ctx {
    int64_t id, school_id, class_id, subject_id, student_id;
    int64_t lesson_id, checkpoint_id; /* 0 when NULL */
    char kind[16];
} dn_mark_ctx_t;

int dn_journal_mark_load(dn_db_t *db, int64_t mark_id, dn_mark_ctx_t *out);

/** The mark as JSON {id, student_id, lesson_id, checkpoint_id, date, value, weight, kind, comment, term_id}. */
json_t *dn_journal_mark_json(dn_db_t *db, int64_t mark_id);

/* ---- writes. Each runs its own write transaction. Returns 0, DN_EVALIDATION
 * (fail->field/message), DN_ECONFLICT (closed term / cancelled lesson;
 * fail->message), DN_ENOTFOUND, or a store code. */

/** Upsert the mark of (lesson, student, kind); kind NULL = "lesson". */
int dn_journal_mark_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l, int64_t student_id,
                        int value, const char *kind, const char *comment, int64_t *mark_id, dn_jfail_t *fail);

/** One cell of a column fill: value 0 removes the mark. */
typedef struct dn_mark_cell {
    int64_t student_id;
    int value;
    const char *kind; /* NULL = "lesson" */
} dn_mark_cell_t;

/** Fill a lesson column in one transaction; any bad cell → nothing written
 *  (fail->field is "marks[i].value" etc.). */
int dn_journal_marks_fill(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l,
                          const dn_mark_cell_t *cells, int n, dn_jfail_t *fail);

/** Change value and/or comment (value 0 / comment NULL = keep). */
int dn_journal_mark_update(dn_db_t *db, int64_t actor, int allow_closed, int64_t mark_id, int value,
                           const char *comment, dn_jfail_t *fail);
int dn_journal_mark_delete(dn_db_t *db, int64_t actor, int allow_closed, int64_t mark_id, dn_jfail_t *fail);

/** Upsert a checkpoint mark (date = due date, weight/kind from the checkpoint).
 *  When work_id > 0 also links the work and sets it graded, same transaction. */
int dn_journal_checkpoint_mark_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_checkpoint_ctx_t *c,
                                   int64_t student_id, int value, const char *comment, int64_t work_id,
                                   int64_t *mark_id, dn_jfail_t *fail);

typedef struct dn_attendance_item {
    int64_t student_id;
    const char *status;
} dn_attendance_item_t;

int dn_journal_attendance_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l,
                              const dn_attendance_item_t *items, int n, dn_jfail_t *fail);

/** Set topic and/or homework (NULL = keep). */
int dn_journal_lesson_update(dn_db_t *db, int64_t lesson_id, const char *topic, const char *homework);
/** The lesson as JSON; with_cells adds marks and attendance of the class. */
json_t *dn_journal_lesson_json(dn_db_t *db, int64_t lesson_id, int with_cells);

/* ---- term marks and terms */
typedef struct dn_term_mark_item {
    int64_t student_id;
    int value; /* 0 removes */
} dn_term_mark_item_t;

int dn_journal_term_marks_set(dn_db_t *db, int64_t actor, int allow_closed, int64_t school_id, int64_t class_id,
                              int64_t subject_id, int year_start, int period, const dn_term_mark_item_t *items, int n,
                              dn_jfail_t *fail);
/** {year_start, period, items:[{student_id, name, average, suggested_mark, sum_weighted, sum_weights,
 *  marks_count, term_mark}]} — students who were in the class during the period. */
int dn_journal_term_marks_get(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id, int year_start,
                              int period, json_t **out);

int dn_journal_term_school(dn_db_t *db, int64_t term_id, int64_t *school_id);
/** Close (closed=1) or reopen (0) a term, audited. */
int dn_journal_term_set_closed(dn_db_t *db, int64_t actor, int64_t term_id, int closed, json_t **out);

/** Audit rows of a lesson cell (all kinds) or a checkpoint cell, oldest first. */
json_t *dn_journal_audit_mark(dn_db_t *db, int64_t lesson_id, int64_t checkpoint_id, int64_t student_id);

/* ---- checkpoints */
typedef struct dn_checkpoint_input {
    const char *kind, *title, *description, *due_date;
    int weight;         /* 0 = by kind (create) / keep (update) */
    int64_t lesson_id;  /* 0 = none / keep */
} dn_checkpoint_input_t;

int dn_journal_checkpoint_create(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id,
                                 int64_t teacher_id, const dn_checkpoint_input_t *in, int64_t *id, dn_jfail_t *fail);
int dn_journal_checkpoint_update(dn_db_t *db, int64_t id, const dn_checkpoint_input_t *in, dn_jfail_t *fail);
/** Refused (DN_ECONFLICT) while works or marks refer to it. */
int dn_journal_checkpoint_delete(dn_db_t *db, int64_t id, dn_jfail_t *fail);
json_t *dn_journal_checkpoint_json(dn_db_t *db, int64_t id);
/** subject_id 0 = all; from/to NULL = open. */
json_t *dn_journal_checkpoints_list(dn_db_t *db, int64_t class_id, int64_t subject_id, const char *from,
                                    const char *to);

/** True (1) when student is in class on date, 0 when not, <0 on error. */
int dn_journal_student_in_class(dn_db_t *db, int64_t class_id, int64_t student_id, const char *date);

/** "Фамилия Имя Отчество" without trailing blanks, into buf. */
const char *dn_journal_full_name(char *buf, size_t cap, const char *last, const char *first, const char *middle);

#endif
