/*
 * works.h - students' answers to checkpoints ("works") and their threads.
 *
 * A work is one row per (checkpoint, student): every submission appends a
 * version {n, text, files, at} to the versions JSON array (nothing is ever
 * overwritten) and comments are appended to the comments JSON array, so the
 * whole work with its history and discussion is read in ONE row. Appends
 * are read-modify-write inside dn_db_begin_write_in(the work's school),
 * which serialises the writers of that school on both backends (SQLite
 * BEGIN IMMEDIATE, PostgreSQL advisory locks), so no concurrent append is
 * lost. Access is checked by callers.
 */
#ifndef DN_DOMAIN_WORKS_H
#define DN_DOMAIN_WORKS_H

#include <stdint.h>
#include <jansson.h>

#include "store/db.h"

typedef struct dn_work_ctx {
    int64_t id, school_id, checkpoint_id, class_id, subject_id, student_id;
} dn_work_ctx_t;

/** Load a work's keys (with its checkpoint's class and subject). */
int dn_works_load(dn_db_t *db, int64_t work_id, dn_work_ctx_t *out);

/** Submit (or resubmit: a new version) the student's work for a checkpoint.
 *  files is a JSON array of strings (borrowed, may be NULL). *created = 1 when new. */
int dn_works_submit(dn_db_t *db, int64_t school_id, int64_t checkpoint_id, int64_t student_id, const char *text,
                    json_t *files, int64_t *work_id, int *created);

/** The whole work: versions, comments, checkpoint, student, mark. NULL when absent. */
json_t *dn_works_json(dn_db_t *db, int64_t work_id);

/** Works of a checkpoint (summaries with the last version), by student name. */
json_t *dn_works_list(dn_db_t *db, int64_t checkpoint_id);

/** Append a comment {n, author_id, author, text, at} to a work of school_id
 *  (the scope of the write); DN_ENOTFOUND when the work is gone. */
int dn_works_comment(dn_db_t *db, int64_t school_id, int64_t work_id, int64_t author_id, const char *text);

#endif
