/*
 * works.c - submissions and comments of checkpoint works (see works.h).
 *
 * versions and comments are JSON arrays stored as TEXT; they are parsed,
 * appended to and written back inside one write transaction. A corrupt
 * array (never written by this code) is treated as empty rather than
 * failing the student's submission, and the new version is still kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/files.h"
#include "domain/journal.h"
#include "domain/works.h"

static json_t *parse_array(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static int finish(dn_db_t *db, int rc)
{
    if (rc == 0 && (rc = dn_db_commit(db)) == 0)
        return 0;
    dn_db_rollback(db);
    return rc;
}

static dn_query_t q_work_load = {"SELECT w.id, w.school_id, w.checkpoint_id, c.class_id, c.subject_id, w.student_id "
                                 "FROM works w JOIN checkpoints c ON c.id = w.checkpoint_id WHERE w.id = ?"};

int dn_works_load(dn_db_t *db, int64_t work_id, dn_work_ctx_t *out)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_work_load);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, work_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    out->id = dn_stmt_int64(st, 0);
    out->school_id = dn_stmt_int64(st, 1);
    out->checkpoint_id = dn_stmt_int64(st, 2);
    out->class_id = dn_stmt_int64(st, 3);
    out->subject_id = dn_stmt_int64(st, 4);
    out->student_id = dn_stmt_int64(st, 5);
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_work_find = {"SELECT id, versions FROM works WHERE checkpoint_id = ? AND student_id = ?"};
static dn_query_t q_work_insert = {"INSERT INTO works (school_id, checkpoint_id, student_id, status, versions, "
                                   "comments, submitted_at, updated_at) VALUES (?, ?, ?, 'submitted', ?, '[]', ?, ?) "
                                   "RETURNING id"};
static dn_query_t q_work_append = {"UPDATE works SET versions = ?, status = 'submitted', submitted_at = ?, "
                                   "updated_at = ? WHERE id = ?"};

int dn_works_submit(dn_db_t *db, int64_t school_id, int64_t checkpoint_id, int64_t student_id, const char *text,
                    json_t *files, int64_t *work_id, int *created)
{
    int rc = dn_db_begin_write_in(db, school_id);
    if (rc < 0)
        return rc;
    json_t *versions = NULL;
    char *dump = NULL;
    int64_t now = dn_now_ms(), id = 0;
    dn_stmt_t *st = dn_db_prepare(db, &q_work_find);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, checkpoint_id);
    dn_stmt_bind_int64(st, 2, student_id);
    rc = dn_stmt_step(st);
    if (rc < 0)
        goto done;
    if (rc == DN_DB_ROW) {
        id = dn_stmt_int64(st, 0);
        versions = parse_array(dn_stmt_str(st, 1));
        dn_stmt_finish(st);
    } else {
        versions = json_array();
    }
    rc = 0;
    json_array_append_new(versions, json_pack("{s:I, s:s, s:o, s:I}", "n", (json_int_t)json_array_size(versions) + 1,
                                              "text", text, "files", files ? json_incref(files) : json_array(), "at",
                                              (json_int_t)now));
    dump = json_dumps(versions, JSON_COMPACT);
    if (dump == NULL) {
        rc = DN_ENOMEM;
        goto done;
    }
    if (id > 0) {
        st = dn_db_prepare(db, &q_work_append);
        if (st == NULL) {
            rc = DN_EDB;
            goto done;
        }
        dn_stmt_bind_text(st, 1, dump, -1);
        dn_stmt_bind_int64(st, 2, now);
        dn_stmt_bind_int64(st, 3, now);
        dn_stmt_bind_int64(st, 4, id);
        rc = dn_stmt_exec(st);
        *created = 0;
    } else {
        st = dn_db_prepare(db, &q_work_insert);
        if (st == NULL) {
            rc = DN_EDB;
            goto done;
        }
        dn_stmt_bind_int64(st, 1, school_id);
        dn_stmt_bind_int64(st, 2, checkpoint_id);
        dn_stmt_bind_int64(st, 3, student_id);
        dn_stmt_bind_text(st, 4, dump, -1);
        dn_stmt_bind_int64(st, 5, now);
        dn_stmt_bind_int64(st, 6, now);
        rc = dn_stmt_step(st);
        if (rc == DN_DB_ROW) {
            id = dn_stmt_int64(st, 0);
            dn_stmt_step(st);
            rc = 0;
        } else if (rc == 0) {
            rc = DN_EDB;
        }
        *created = 1;
    }
    /* uploaded files (integer ids) get links, so their readers follow the work's */
    if (rc == 0 && files != NULL)
        rc = dn_files_link_work(db, id, files);
done:
    free(dump);
    json_decref(versions);
    rc = finish(db, rc);
    if (rc == 0)
        *work_id = id;
    return rc;
}

static dn_query_t q_work_json = {
    "SELECT w.id, w.checkpoint_id, w.student_id, u.last_name, u.first_name, u.middle_name, w.status, w.versions, "
    "w.comments, w.mark_id, m.value, m.comment, w.submitted_at, w.updated_at, c.title, c.kind, c.due_date, "
    "c.class_id, c.subject_id FROM works w JOIN checkpoints c ON c.id = w.checkpoint_id JOIN users u ON "
    "u.id = w.student_id LEFT JOIN marks m ON m.id = w.mark_id WHERE w.id = ?"};

json_t *dn_works_json(dn_db_t *db, int64_t work_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_work_json);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, work_id);
    if (dn_stmt_step(st) != DN_DB_ROW)
        return NULL;
    char name[256];
    json_t *mark = dn_stmt_is_null(st, 9)
                       ? json_null()
                       : json_pack("{s:I, s:I, s:s}", "id", (json_int_t)dn_stmt_int64(st, 9), "value",
                                   (json_int_t)dn_stmt_int64(st, 10), "comment", dn_stmt_str(st, 11));
    json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:{s:s, s:s, s:s, s:I, s:I}}", "id",
                     (json_int_t)dn_stmt_int64(st, 0), "checkpoint_id", (json_int_t)dn_stmt_int64(st, 1), "student_id",
                     (json_int_t)dn_stmt_int64(st, 2), "student",
                     dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 3), dn_stmt_str(st, 4), dn_stmt_str(st, 5)),
                     "status", dn_stmt_str(st, 6), "versions", parse_array(dn_stmt_str(st, 7)), "comments",
                     parse_array(dn_stmt_str(st, 8)), "mark", mark, "submitted_at", (json_int_t)dn_stmt_int64(st, 12),
                     "updated_at", (json_int_t)dn_stmt_int64(st, 13), "checkpoint", "title", dn_stmt_str(st, 14), "kind",
                     dn_stmt_str(st, 15), "due_date", dn_stmt_str(st, 16), "class_id", (json_int_t)dn_stmt_int64(st, 17),
                     "subject_id", (json_int_t)dn_stmt_int64(st, 18));
    dn_stmt_finish(st);
    return o;
}

static dn_query_t q_works_list = {
    "SELECT w.id, w.student_id, u.last_name, u.first_name, u.middle_name, w.status, w.versions, w.mark_id, m.value, "
    "w.submitted_at, w.updated_at FROM works w JOIN users u ON u.id = w.student_id LEFT JOIN marks m ON "
    "m.id = w.mark_id WHERE w.checkpoint_id = ? ORDER BY u.last_name, u.first_name, w.id"};

json_t *dn_works_list(dn_db_t *db, int64_t checkpoint_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_works_list);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, checkpoint_id);
    json_t *items = json_array();
    char name[256];
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        json_t *versions = parse_array(dn_stmt_str(st, 6));
        size_t n = json_array_size(versions);
        json_t *last = n ? json_incref(json_array_get(versions, n - 1)) : json_null();
        json_decref(versions);
        json_array_append_new(
            items, json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:o, s:o, s:I, s:I}", "id",
                             (json_int_t)dn_stmt_int64(st, 0), "student_id", (json_int_t)dn_stmt_int64(st, 1),
                             "student",
                             dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 2), dn_stmt_str(st, 3),
                                                  dn_stmt_str(st, 4)),
                             "status", dn_stmt_str(st, 5), "versions_count", (json_int_t)n, "last_version", last,
                             "mark_id", dn_stmt_is_null(st, 7) ? json_null() : json_integer(dn_stmt_int64(st, 7)),
                             "mark_value", dn_stmt_is_null(st, 8) ? json_null() : json_integer(dn_stmt_int64(st, 8)),
                             "submitted_at", (json_int_t)dn_stmt_int64(st, 9), "updated_at",
                             (json_int_t)dn_stmt_int64(st, 10)));
    }
    if (rc < 0) {
        json_decref(items);
        return NULL;
    }
    return items;
}

static dn_query_t q_comments_get = {"SELECT comments FROM works WHERE id = ?"};
static dn_query_t q_author = {"SELECT last_name, first_name, middle_name FROM users WHERE id = ?"};
static dn_query_t q_comments_set = {"UPDATE works SET comments = ?, updated_at = ? WHERE id = ?"};

int dn_works_comment(dn_db_t *db, int64_t school_id, int64_t work_id, int64_t author_id, const char *text)
{
    int rc = dn_db_begin_write_in(db, school_id);
    if (rc < 0)
        return rc;
    json_t *comments = NULL;
    char *dump = NULL, name[256] = "";
    int64_t now = dn_now_ms();
    dn_stmt_t *st = dn_db_prepare(db, &q_comments_get);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, work_id);
    rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW) {
        rc = rc < 0 ? rc : DN_ENOTFOUND;
        goto done;
    }
    comments = parse_array(dn_stmt_str(st, 0));
    dn_stmt_finish(st);
    st = dn_db_prepare(db, &q_author);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, author_id);
    rc = dn_stmt_step(st);
    if (rc < 0)
        goto done;
    if (rc == DN_DB_ROW)
        dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 0), dn_stmt_str(st, 1), dn_stmt_str(st, 2));
    dn_stmt_finish(st);
    json_array_append_new(comments, json_pack("{s:I, s:I, s:s, s:s, s:I}", "n",
                                              (json_int_t)json_array_size(comments) + 1, "author_id",
                                              (json_int_t)author_id, "author", name, "text", text, "at",
                                              (json_int_t)now));
    dump = json_dumps(comments, JSON_COMPACT);
    if (dump == NULL) {
        rc = DN_ENOMEM;
        goto done;
    }
    st = dn_db_prepare(db, &q_comments_set);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_text(st, 1, dump, -1);
    dn_stmt_bind_int64(st, 2, now);
    dn_stmt_bind_int64(st, 3, work_id);
    rc = dn_stmt_exec(st);
done:
    free(dump);
    json_decref(comments);
    return finish(db, rc);
}
