/*
 * school.h - the set-up of a school: regions, schools, terms, holidays,
 * subjects, classes and their membership, people, parent links, teaching
 * assignments and invite codes.
 *
 * Functions take a store connection and plain values and return 0 or a
 * negative DN_E* code; results come back as jansson objects the caller owns.
 * Validation failures return DN_EVALIDATION after appending
 * {"field","message"} objects to the caller's `errors` array. Access is NOT
 * decided here: callers ask dn_access_check first (see access.h).
 * Calendar helpers live here too because terms, classes, timetable and
 * import all share one notion of date and academic year.
 */
#ifndef DN_DOMAIN_SCHOOL_H
#define DN_DOMAIN_SCHOOL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "core/date.h"
#include "store/db.h"

/* ---- calendar -------------------------------------------------------- */

/** Grade of a class that entered grade 1 in start_year, in the academic year year_start. */
int dn_class_grade(int start_year, int year_start);
/** Inverse of dn_class_grade. */
int dn_class_start_year(int grade, int year_start);
/** Academic year (1 September) containing y-m: y if m >= 9 else y - 1. */
int dn_school_academic_year(int y, int m);
/** The academic year of today (UTC). */
int dn_school_current_year(void);
/** "5Б" for the class in year_start, into buf. */
void dn_class_name(int start_year, const char *letter, int year_start, char *buf, size_t cap);
/* ---- rows to JSON ---------------------------------------------------- */

/**
 * One row of st as an object. spec names the columns in order with a type:
 * "id:i,name:s,avg:d,closed:b" (i int64, s text, d double, b boolean,
 * n int64-or-null). Used by every module of the school area.
 */
json_t *dn_school_row_json(dn_stmt_t *st, const char *spec);
/** All remaining rows of st as an array (NULL on a store error, code in *rc). */
json_t *dn_school_rows_json(dn_stmt_t *st, const char *spec, int *rc);
/** Append {"field","message"} to errors. */
void dn_school_field_error(json_t *errors, const char *field, const char *message);

/* ---- regions and schools (sysadmin) ---------------------------------- */

int dn_school_region_create(dn_db_t *db, const char *name, json_t **out);
int dn_school_region_list(dn_db_t *db, json_t **out);
/** term_kind "quarter" | "trimester"; DN_ENOTFOUND when the region does not exist. */
int dn_school_create(dn_db_t *db, int64_t region_id, const char *name, const char *term_kind, json_t **out);
int dn_school_list(dn_db_t *db, json_t **out);
int dn_school_get(dn_db_t *db, int64_t school_id, json_t **out);

/* ---- people ----------------------------------------------------------- */

typedef struct dn_person {
    const char *login;      /* required here: callers generate one when none was given */
    const char *last_name;
    const char *first_name;
    const char *middle_name; /* "" when none */
} dn_person_t;

/** Role bits for dn_school_user_create. */
enum { DN_SROLE_STUDENT = 1, DN_SROLE_PARENT = 2, DN_SROLE_TEACHER = 4, DN_SROLE_ADMIN = 8 };
/** "student" -> DN_SROLE_STUDENT ...; 0 when unknown. */
int dn_school_role_bit(const char *name);

/** Validate names and login of a person; appends errors with field prefix. 0 or DN_EVALIDATION. */
int dn_school_person_validate(const dn_person_t *p, int login_required, json_t *errors);
/** A random login "<prefix><8 chars>" into buf (cap >= 16). */
void dn_school_random_login(const char *prefix, char *buf, size_t cap);
/** A random secret of n chars (a-z, 2-9 without look-alikes) into buf (cap > n). */
void dn_school_random_secret(char *buf, size_t n);

/**
 * Insert a user with the given roles (bits) in school_id, password_hash
 * already computed (must_change_password = 1). Not transactional by itself:
 * callers may wrap several calls in one transaction. DN_EEXIST when the
 * login is taken. *user_id gets the new id.
 */
int dn_school_user_insert(dn_db_t *db, int64_t school_id, const dn_person_t *p, unsigned roles,
                          const char *password_hash, int64_t *user_id);
/** The user as JSON (id, login, names, blocked, roles in school_id). */
int dn_school_user_get(dn_db_t *db, int64_t school_id, int64_t user_id, json_t **out);
/** Users of a school, optional role filter and name/login search q, keyset pagination by id. */
int dn_school_user_list(dn_db_t *db, int64_t school_id, const char *role, const char *q, int limit, int64_t cursor,
                        json_t **out);
/** The schools (non-sysadmin roles) of a user into ids[cap]; *n the count. */
int dn_school_user_schools(dn_db_t *db, int64_t user_id, int64_t *ids, int cap, int *n);
/** Change names and/or the blocked flag (NULL/-1 = unchanged). Blocking revokes refresh tokens. */
int dn_school_user_update(dn_db_t *db, int64_t user_id, const char *last_name, const char *first_name,
                          const char *middle_name, int blocked);
/** Replace the password hash, set must_change_password, revoke refresh tokens. */
int dn_school_user_set_password(dn_db_t *db, int64_t user_id, const char *password_hash, int must_change);
/** True (1) when user_id holds role (name) in school_id, 0 when not, negative on error. */
int dn_school_user_has_role(dn_db_t *db, int64_t user_id, int64_t school_id, const char *role);

/* ---- invites ------------------------------------------------------- */

/** Create an invite for user_id; code (cap >= 11) gets the 10-char plain code, shown once. */
int dn_school_invite_create(dn_db_t *db, int64_t user_id, char *code, size_t cap);
/** Find an unused, unexpired invite: *user_id and its login (pool-free: copied into login[cap]). */
int dn_school_invite_find(dn_db_t *db, const char *code, int64_t *user_id, char *login, size_t cap);
/** Use the invite (once) and set the password, one transaction. DN_ECONFLICT when already used. */
int dn_school_invite_accept(dn_db_t *db, const char *code, int64_t user_id, const char *password_hash);

/* ---- terms and holidays ------------------------------------------------- */

/**
 * Check a year's terms against the school's term kind (4 quarters or 3
 * trimesters): numbers 1..n once each, valid dates, starts_on <= ends_on,
 * ordered and non-overlapping, inside 1 Aug year_start .. 31 Aug year_start+1.
 * terms is the JSON array of {number, starts_on, ends_on}. Pure function.
 */
int dn_school_terms_validate(const char *term_kind, int year_start, const json_t *terms, json_t *errors);
/** Replace the terms of a year (validated first). DN_ECONFLICT when a closed term would change. */
int dn_school_terms_put(dn_db_t *db, int64_t school_id, int year_start, const json_t *terms, json_t *errors,
                        json_t **out);
int dn_school_terms_get(dn_db_t *db, int64_t school_id, int year_start, json_t **out);
int dn_school_holiday_create(dn_db_t *db, int64_t school_id, const char *name, const char *starts_on,
                             const char *ends_on, json_t *errors, json_t **out);
int dn_school_holiday_list(dn_db_t *db, int64_t school_id, json_t **out);
/** *school_id of a holiday (DN_ENOTFOUND when none). */
int dn_school_holiday_school(dn_db_t *db, int64_t holiday_id, int64_t *school_id);
int dn_school_holiday_delete(dn_db_t *db, int64_t holiday_id);

/* ---- subjects ---------------------------------------------------------- */

int dn_school_subject_create(dn_db_t *db, int64_t school_id, const char *name, json_t **out);
int dn_school_subject_list(dn_db_t *db, int64_t school_id, json_t **out);
int dn_school_subject_school(dn_db_t *db, int64_t subject_id, int64_t *school_id);
int dn_school_subject_rename(dn_db_t *db, int64_t subject_id, const char *name, json_t **out);
/** DN_ECONFLICT when the subject is in use (assignments, lessons, marks). */
int dn_school_subject_delete(dn_db_t *db, int64_t subject_id);
/** Subject id by name in a school, 0 when none. */
int dn_school_subject_find(dn_db_t *db, int64_t school_id, const char *name, int64_t *subject_id);

/* ---- classes ----------------------------------------------------------- */

/** Validate a class letter: 1-2 letters (Cyrillic or Latin), UTF-8. */
int dn_school_letter_valid(const char *letter);
/** class_teacher_id 0 = none; DN_EVALIDATION when the teacher is not a teacher of the school. */
int dn_school_class_create(dn_db_t *db, int64_t school_id, int start_year, const char *letter,
                           int64_t class_teacher_id, json_t *errors, json_t **out);
int dn_school_class_list(dn_db_t *db, int64_t school_id, json_t **out);
int dn_school_class_get(dn_db_t *db, int64_t class_id, json_t **out);
/** Change letter / start_year / class teacher (0 = unchanged; class_teacher_id -1 = remove). */
int dn_school_class_update(dn_db_t *db, int64_t class_id, int start_year, const char *letter,
                           int64_t class_teacher_id, json_t *errors, json_t **out);
/** Class by name ("5Б") in the academic year; *class_id 0 when none. */
int dn_school_class_find(dn_db_t *db, int64_t school_id, int start_year, const char *letter, int64_t *class_id);
/** Split "5Б" / "10а" into grade and letter (letter into buf); DN_EINVAL when malformed. */
int dn_school_class_parse_name(const char *name, int *grade, char *letter, size_t cap);
/** Current students of a class (to_date NULL or >= today). */
int dn_school_class_students(dn_db_t *db, int64_t class_id, json_t **out);
/**
 * Enrol a student in a class from from_date: closes the student's open
 * membership (to_date = from_date - 1 day), keeping history. The student
 * must hold the student role in the class's school.
 */
int dn_school_class_enrol(dn_db_t *db, int64_t class_id, int64_t student_id, const char *from_date,
                          json_t *errors);
int dn_school_student_history(dn_db_t *db, int64_t student_id, json_t **out);

/* ---- parents and assignments ---------------------------------------------- */

int dn_school_parent_link(dn_db_t *db, int64_t parent_id, int64_t student_id);
int dn_school_parent_unlink(dn_db_t *db, int64_t parent_id, int64_t student_id);
int dn_school_assignment_create(dn_db_t *db, int64_t school_id, int64_t teacher_id, int64_t class_id,
                                int64_t subject_id, const char *subgroup, json_t *errors, json_t **out);
int dn_school_assignment_list(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t teacher_id,
                              json_t **out);
int dn_school_assignment_school(dn_db_t *db, int64_t assignment_id, int64_t *school_id);
int dn_school_assignment_delete(dn_db_t *db, int64_t assignment_id);

#endif
