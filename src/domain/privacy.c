/*
 * privacy.c - 152-FZ export and anonymisation of a person (contract in
 * privacy.h, the why in docs/privacy.md).
 *
 * Invariants: anonymisation never deletes or rewrites marks, attendance,
 * term marks or their audit rows (the official record); everything it
 * changes in the database happens in ONE write transaction, and the
 * person's files are purged after the commit (the blob store is not
 * transactional: purging first could leave a live row without its blob).
 * A person is anonymised at most once: users.anonymized_at is the marker.
 */
#include "domain/privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "domain/files.h"
#include "domain/journal.h"
#include "domain/school.h"

static int prep_error(dn_db_t *db)
{
    int rc = dn_db_errcode(db);
    return rc < 0 ? rc : DN_EDB;
}

static dn_query_t q_exists = {"SELECT COUNT(*) FROM users WHERE id = ?"};

int dn_privacy_user_exists(dn_db_t *db, int64_t user_id)
{
    int64_t n = 0;
    int rc = dn_db_scalar(db, &q_exists, &n, "i", user_id);
    if (rc < 0)
        return rc;
    return n > 0 ? 0 : DN_ENOTFOUND;
}

/* ------------------------------------------------------------ export */

static dn_query_t q_user = {
    "SELECT id, login, last_name, first_name, middle_name, email, blocked, must_change_password, created_at, "
    "anonymized_at FROM users WHERE id = ?"};
static dn_query_t q_roles = {
    "SELECT r.school_id, COALESCE(s.name, ''), r.role FROM user_roles r LEFT JOIN schools s ON s.id = r.school_id "
    "WHERE r.user_id = ? ORDER BY r.school_id, r.role"};
static dn_query_t q_history = {
    "SELECT cs.class_id, c.school_id, c.start_year, c.letter, cs.from_date, cs.to_date FROM class_students cs "
    "JOIN classes c ON c.id = cs.class_id WHERE cs.student_id = ? ORDER BY cs.from_date, cs.id"};
static dn_query_t q_parents = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name FROM parent_links pl JOIN users u ON u.id = pl.parent_id "
    "WHERE pl.student_id = ? ORDER BY u.id"};
static dn_query_t q_children = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name FROM parent_links pl JOIN users u ON u.id = pl.student_id "
    "WHERE pl.parent_id = ? ORDER BY u.id"};
static dn_query_t q_marks = {
    "SELECT m.id, m.school_id, m.class_id, m.subject_id, s.name, m.term_id, m.lesson_id, m.checkpoint_id, m.date, "
    "m.value, m.weight, m.kind, m.comment, m.created_by, m.created_at, m.updated_at FROM marks m "
    "JOIN subjects s ON s.id = m.subject_id WHERE m.student_id = ? ORDER BY m.date, m.id"};
static dn_query_t q_term_marks = {
    "SELECT t.school_id, t.class_id, t.subject_id, s.name, t.year_start, t.period, t.value, t.set_by, t.set_at "
    "FROM term_marks t JOIN subjects s ON s.id = t.subject_id WHERE t.student_id = ? "
    "ORDER BY t.year_start, t.period, t.subject_id"};
static dn_query_t q_attendance = {
    "SELECT a.lesson_id, l.date, l.lesson_no, l.subject_id, s.name, a.status, a.updated_by, a.updated_at "
    "FROM attendance a JOIN lessons l ON l.id = a.lesson_id JOIN subjects s ON s.id = l.subject_id "
    "WHERE a.student_id = ? ORDER BY l.date, l.lesson_no, a.lesson_id"};
static dn_query_t q_works = {
    "SELECT w.id, w.school_id, w.checkpoint_id, c.title, c.subject_id, w.status, w.versions, w.comments, w.mark_id, "
    "w.submitted_at, w.updated_at FROM works w JOIN checkpoints c ON c.id = w.checkpoint_id "
    "WHERE w.student_id = ? ORDER BY w.id"};
static dn_query_t q_files = {
    "SELECT f.id, f.name, f.size, f.content_type, f.sha256, f.created_at, f.purged_at, l.work_id, l.lesson_id "
    "FROM files f LEFT JOIN file_links l ON l.file_id = f.id WHERE f.uploader_id = ? ORDER BY f.id, l.id"};
static dn_query_t q_sessions = {
    "SELECT id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE user_id = ? ORDER BY id"};
static dn_query_t q_invites = {"SELECT id, created_at, expires_at, used_at FROM invites WHERE user_id = ? ORDER BY id"};
/* Audit keys name a student as "student:<id>:..." (term marks), "...:student:<id>:..." (marks) or
 * "...:student:<id>" (attendance); anonymisation writes entity 'user', key "user:<id>". Export is a
 * rare, on-request operation, so this pattern scan of audit_log is accepted (see docs/privacy.md). */
static dn_query_t q_audit = {
    "SELECT id, school_id, entity, entity_key, actor_id, at, old_value, new_value FROM audit_log "
    "WHERE entity_key LIKE ? OR entity_key LIKE ? OR entity_key LIKE ? OR (entity = 'user' AND entity_key = ?) "
    "ORDER BY id"};

/* A stored JSON text as a value (a string when it does not parse, null for NULL). */
static json_t *stored_json(dn_stmt_t *st, int col)
{
    const char *s = dn_stmt_text(st, col, NULL);
    if (s == NULL)
        return json_null();
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(s);
}

static json_t *nullable_int(dn_stmt_t *st, int col)
{
    return dn_stmt_is_null(st, col) ? json_null() : json_integer(dn_stmt_int64(st, col));
}

/* Run q for user_id and put its rows (by spec) under key in doc. */
static int section(dn_db_t *db, json_t *doc, const char *key, dn_query_t *q, const char *spec, int64_t user_id)
{
    dn_stmt_t *st = dn_db_query(db, q, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    int rc = 0;
    json_t *rows = dn_school_rows_json(st, spec, &rc);
    if (rows == NULL)
        return rc < 0 ? rc : DN_EDB;
    json_object_set_new(doc, key, rows);
    return 0;
}

static int export_history(dn_db_t *db, json_t *doc, int64_t user_id)
{
    dn_stmt_t *st = dn_db_query(db, &q_history, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    json_t *arr = json_array();
    int rc;
    json_object_set_new(doc, "class_history", arr);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        const char *from = dn_stmt_str(st, 4);
        int y = atoi(from), m = strlen(from) >= 7 ? atoi(from + 5) : 9;
        char name[32];
        /* the class's name in the academic year the membership began ("5А" then, "6А" a year later) */
        dn_class_name((int)dn_stmt_int64(st, 2), dn_stmt_str(st, 3), dn_school_academic_year(y, m), name,
                      sizeof name);
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:o}", "class_id", (json_int_t)dn_stmt_int64(st, 0),
                                             "school_id", (json_int_t)dn_stmt_int64(st, 1), "class_name", name,
                                             "from_date", from, "to_date",
                                             dn_stmt_is_null(st, 5) ? json_null() : json_string(dn_stmt_str(st, 5))));
    }
    return rc < 0 ? rc : 0;
}

static int export_works(dn_db_t *db, json_t *doc, int64_t user_id)
{
    dn_stmt_t *st = dn_db_query(db, &q_works, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    json_t *arr = json_array();
    int rc;
    json_object_set_new(doc, "works", arr);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(
            arr, json_pack("{s:I, s:I, s:I, s:s, s:I, s:s, s:o, s:o, s:o, s:I, s:I}", "id",
                           (json_int_t)dn_stmt_int64(st, 0), "school_id", (json_int_t)dn_stmt_int64(st, 1),
                           "checkpoint_id", (json_int_t)dn_stmt_int64(st, 2), "checkpoint_title", dn_stmt_str(st, 3),
                           "subject_id", (json_int_t)dn_stmt_int64(st, 4), "status", dn_stmt_str(st, 5), "versions",
                           stored_json(st, 6), "comments", stored_json(st, 7), "mark_id", nullable_int(st, 8),
                           "submitted_at", (json_int_t)dn_stmt_int64(st, 9), "updated_at",
                           (json_int_t)dn_stmt_int64(st, 10)));
    return rc < 0 ? rc : 0;
}

/* Files the person uploaded, one object per file with every link it has. */
static int export_files(dn_db_t *db, json_t *doc, int64_t user_id)
{
    dn_stmt_t *st = dn_db_query(db, &q_files, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    json_t *arr = json_array(), *cur = NULL;
    int64_t cur_id = 0;
    int rc;
    json_object_set_new(doc, "files", arr);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t id = dn_stmt_int64(st, 0);
        if (cur == NULL || id != cur_id) {
            cur = json_pack("{s:I, s:s, s:I, s:s, s:s, s:I, s:b, s:o, s:[]}", "id", (json_int_t)id, "name",
                            dn_stmt_str(st, 1), "size", (json_int_t)dn_stmt_int64(st, 2), "content_type",
                            dn_stmt_str(st, 3), "sha256", dn_stmt_str(st, 4), "created_at",
                            (json_int_t)dn_stmt_int64(st, 5), "purged", !dn_stmt_is_null(st, 6), "purged_at",
                            nullable_int(st, 6), "attached_to");
            json_array_append_new(arr, cur);
            cur_id = id;
        }
        json_t *links = json_object_get(cur, "attached_to");
        if (!dn_stmt_is_null(st, 7))
            json_array_append_new(links, json_pack("{s:I}", "work_id", (json_int_t)dn_stmt_int64(st, 7)));
        else if (!dn_stmt_is_null(st, 8))
            json_array_append_new(links, json_pack("{s:I}", "lesson_id", (json_int_t)dn_stmt_int64(st, 8)));
    }
    return rc < 0 ? rc : 0;
}

static int export_audit(dn_db_t *db, json_t *doc, int64_t user_id)
{
    char p1[48], p2[48], p3[48], key[40];
    snprintf(p1, sizeof p1, "student:%lld:%%", (long long)user_id);
    snprintf(p2, sizeof p2, "%%:student:%lld:%%", (long long)user_id);
    snprintf(p3, sizeof p3, "%%:student:%lld", (long long)user_id);
    snprintf(key, sizeof key, "user:%lld", (long long)user_id);
    dn_stmt_t *st = dn_db_query(db, &q_audit, "ssss", p1, p2, p3, key);
    if (st == NULL)
        return prep_error(db);
    json_t *arr = json_array();
    int rc;
    json_object_set_new(doc, "audit", arr);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:I, s:I, s:o, s:o}", "id",
                                             (json_int_t)dn_stmt_int64(st, 0), "school_id",
                                             (json_int_t)dn_stmt_int64(st, 1), "entity", dn_stmt_str(st, 2),
                                             "entity_key", dn_stmt_str(st, 3), "actor_id",
                                             (json_int_t)dn_stmt_int64(st, 4), "at", (json_int_t)dn_stmt_int64(st, 5),
                                             "old_value", stored_json(st, 6), "new_value", stored_json(st, 7)));
    return rc < 0 ? rc : 0;
}

/* What the document leaves out on purpose; docs/privacy.md explains each. */
static const char *const not_included[] = {
    "password hash, refresh-token hashes, invite-code hashes: secrets derived from credentials, not personal data",
    "contents of uploaded files: download each via GET /api/v1/files/{id} (listed under files)",
    "stored responses of idempotent requests (idempotency_keys): copies of API answers kept for retries",
    "access log lines (log files, outside the database): user id, address, method, path, status, time",
    "backups: copies of the same database and file store, kept per the operator's backup retention",
    "records the person made about others as staff (marks set, attendance taken, comments on others' works)",
};

int dn_privacy_export(dn_db_t *db, int64_t user_id, json_t **out)
{
    dn_stmt_t *st = dn_db_query(db, &q_user, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    json_t *doc = json_object();
    json_object_set_new(doc, "generated_at", json_integer(dn_now_ms()));
    json_object_set_new(doc, "user",
                        dn_school_row_json(st, "id:i,login:s,last_name:s,first_name:s,middle_name:s,email:s,"
                                               "blocked:b,must_change_password:b,created_at:i,anonymized_at:n"));
    dn_stmt_finish(st);

    if ((rc = section(db, doc, "roles", &q_roles, "school_id:i,school:s,role:s", user_id)) != 0 ||
        (rc = export_history(db, doc, user_id)) != 0 ||
        (rc = section(db, doc, "parents", &q_parents, "id:i,last_name:s,first_name:s,middle_name:s", user_id)) != 0 ||
        (rc = section(db, doc, "children", &q_children, "id:i,last_name:s,first_name:s,middle_name:s", user_id)) !=
            0 ||
        (rc = section(db, doc, "marks", &q_marks,
                      "id:i,school_id:i,class_id:i,subject_id:i,subject:s,term_id:i,lesson_id:n,checkpoint_id:n,"
                      "date:s,value:i,weight:i,kind:s,comment:s,created_by:i,created_at:i,updated_at:i",
                      user_id)) != 0 ||
        (rc = section(db, doc, "term_marks", &q_term_marks,
                      "school_id:i,class_id:i,subject_id:i,subject:s,year_start:i,period:i,value:i,set_by:i,set_at:i",
                      user_id)) != 0 ||
        (rc = section(db, doc, "attendance", &q_attendance,
                      "lesson_id:i,date:s,lesson_no:i,subject_id:i,subject:s,status:s,updated_by:i,updated_at:i",
                      user_id)) != 0 ||
        (rc = export_works(db, doc, user_id)) != 0 || (rc = export_files(db, doc, user_id)) != 0 ||
        (rc = section(db, doc, "sessions", &q_sessions, "id:i,created_at:i,expires_at:i,used_at:n,revoked_at:n",
                      user_id)) != 0 ||
        (rc = section(db, doc, "invites", &q_invites, "id:i,created_at:i,expires_at:i,used_at:n", user_id)) != 0 ||
        (rc = export_audit(db, doc, user_id)) != 0) {
        json_decref(doc);
        return rc;
    }
    json_t *ni = json_array();
    for (size_t i = 0; i < sizeof not_included / sizeof not_included[0]; i++)
        json_array_append_new(ni, json_string(not_included[i]));
    json_object_set_new(doc, "not_included", ni);
    *out = doc;
    return 0;
}

/* ------------------------------------------------------------ anonymise */

static dn_query_t q_state = {"SELECT anonymized_at FROM users WHERE id = ?"};
static dn_query_t q_other_roles = {
    "SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role NOT IN ('student', 'parent')"};
static dn_query_t q_is_student = {"SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role = 'student'"};
static dn_query_t q_is_parent = {"SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role = 'parent'"};
static dn_query_t q_active = {
    "SELECT cs.id, cs.from_date, c.start_year, c.letter FROM class_students cs JOIN classes c ON c.id = cs.class_id "
    "WHERE cs.student_id = ? AND (cs.to_date IS NULL OR cs.to_date >= ?) ORDER BY cs.id"};
static dn_query_t q_close = {"UPDATE class_students SET to_date = ? WHERE id = ?"};
static dn_query_t q_pseudonymise = {
    "UPDATE users SET login = ?, last_name = ?, first_name = ?, middle_name = '', email = NULL, password_hash = '!', "
    "blocked = 1, must_change_password = 0, token_version = token_version + 1, anonymized_at = ? "
    "WHERE id = ? AND anonymized_at IS NULL"};
static dn_query_t q_del_sessions = {"DELETE FROM refresh_tokens WHERE user_id = ?"};
static dn_query_t q_del_invites = {"DELETE FROM invites WHERE user_id = ?"};
static dn_query_t q_del_idem = {"DELETE FROM idempotency_keys WHERE user_id = ?"};
static dn_query_t q_del_links = {"DELETE FROM parent_links WHERE student_id = ? OR parent_id = ?"};
static dn_query_t q_own_works = {"SELECT id, versions, comments FROM works WHERE student_id = ? ORDER BY id"};
static dn_query_t q_work_update = {"UPDATE works SET versions = ?, comments = ? WHERE id = ?"};
static dn_query_t q_audit_ins = {
    "INSERT INTO audit_log (school_id, entity, entity_key, actor_id, at, old_value, new_value) "
    "VALUES (?, 'user', ?, ?, ?, NULL, ?)"};
static dn_query_t q_first_school = {
    "SELECT COALESCE(MIN(school_id), 0) FROM user_roles WHERE user_id = ? AND school_id > 0"};
static dn_query_t q_result = {
    "SELECT id, login, last_name, first_name, middle_name, blocked, anonymized_at FROM users WHERE id = ?"};
static dn_query_t q_purged_files = {
    "SELECT COUNT(*) FROM files WHERE uploader_id = ? AND purged_at IS NOT NULL"};

/* The answer of an anonymised person: the same for the first and every later call. */
static int anonymised_result(dn_db_t *db, int64_t user_id, json_t **out)
{
    int64_t purged = 0;
    int rc = dn_db_scalar(db, &q_purged_files, &purged, "i", user_id);
    if (rc < 0)
        return rc;
    dn_stmt_t *st = dn_db_query(db, &q_result, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    if ((rc = dn_stmt_step_one(st)) != 0)
        return rc;
    char name[256];
    json_t *o = dn_school_row_json(st, "id:i,login:s,last_name:s,first_name:s,middle_name:s,blocked:b,"
                                       "anonymized_at:i");
    json_object_set_new(o, "display_name", json_string(dn_journal_full_name(name, sizeof name, dn_stmt_str(st, 2),
                                                                            dn_stmt_str(st, 3), dn_stmt_str(st, 4))));
    json_object_set_new(o, "files_purged", json_integer(purged));
    dn_stmt_finish(st);
    *out = o;
    return 0;
}

/* Blank the person's own texts in their works and put the pseudonym on their comments. */
static int scrub_works(dn_db_t *db, int64_t user_id, const char *pseudonym)
{
    dn_stmt_t *st = dn_db_query(db, &q_own_works, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    /* read all first: one statement must not be stepped while another writes the same table */
    json_t *rows = json_array();
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        json_t *v = json_loads(dn_stmt_str(st, 1), 0, NULL), *c = json_loads(dn_stmt_str(st, 2), 0, NULL);
        json_array_append_new(rows, json_pack("{s:I, s:o, s:o}", "id", (json_int_t)dn_stmt_int64(st, 0), "v",
                                              json_is_array(v) ? v : json_array(), "c",
                                              json_is_array(c) ? c : json_array()));
        if (!json_is_array(v))
            json_decref(v);
        if (!json_is_array(c))
            json_decref(c);
    }
    if (rc < 0)
        goto done;
    rc = 0;
    size_t i, j;
    json_t *row, *e;
    json_array_foreach(rows, i, row)
    {
        json_t *versions = json_object_get(row, "v"), *comments = json_object_get(row, "c");
        json_array_foreach(versions, j, e) if (json_is_object(e)) json_object_set_new(e, "text", json_string(""));
        json_array_foreach(comments, j, e)
        {
            if (json_is_object(e) && json_integer_value(json_object_get(e, "author_id")) == user_id) {
                json_object_set_new(e, "author", json_string(pseudonym));
                json_object_set_new(e, "text", json_string(""));
            }
        }
        char *vs = json_dumps(versions, JSON_COMPACT), *cs = json_dumps(comments, JSON_COMPACT);
        rc = (vs && cs) ? dn_db_run(db, &q_work_update, "ssi", vs, cs,
                                    (int64_t)json_integer_value(json_object_get(row, "id")))
                        : DN_ENOMEM;
        free(vs);
        free(cs);
        if (rc != 0)
            break;
    }
done:
    json_decref(rows);
    return rc;
}

int dn_privacy_anonymise(dn_db_t *db, dn_blobstore_t *bs, int64_t user_id, int64_t actor_id, const char *left_on,
                         json_t *errors, json_t **out)
{
    char today[11], to_date[11] = "";
    int64_t today_days = dn_date_today_days(), left_days = 0, n = 0, now = dn_now_ms();
    dn_date_format(today_days, today);
    if (left_on != NULL) {
        if (dn_date_parse(left_on, &left_days) < 0) {
            dn_school_field_error(errors, "left_on", "must be a date YYYY-MM-DD");
            return DN_EVALIDATION;
        }
        if (left_days > today_days) {
            dn_school_field_error(errors, "left_on", "must not be in the future: the student has to have left");
            return DN_EVALIDATION;
        }
        dn_date_format(left_days - 1, to_date); /* to_date is the last day in the class */
    }

    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    int64_t anonymized = 0;
    dn_stmt_t *st = dn_db_query(db, &q_state, "i", user_id);
    if (st == NULL) {
        rc = prep_error(db);
        goto fail;
    }
    if ((rc = dn_stmt_step_one(st)) != 0)
        goto fail;
    anonymized = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    if (anonymized != 0) {
        dn_db_rollback(db);
        goto finish; /* already done: change nothing in the database */
    }

    if ((rc = dn_db_scalar(db, &q_other_roles, &n, "i", user_id)) != 0)
        goto fail;
    if (n > 0) {
        dn_school_field_error(errors, "user_id",
                              "only student and parent accounts are anonymised; this account has a staff role "
                              "(remove it first, or ask the operator)");
        rc = DN_ECONFLICT;
        goto fail;
    }
    int64_t is_student = 0, is_parent = 0;
    if ((rc = dn_db_scalar(db, &q_is_student, &is_student, "i", user_id)) != 0 ||
        (rc = dn_db_scalar(db, &q_is_parent, &is_parent, "i", user_id)) != 0)
        goto fail;

    /* open memberships: refuse without left_on, validate left_on against each */
    json_t *close_ids = json_array();
    st = dn_db_query(db, &q_active, "is", user_id, today);
    if (st == NULL) {
        json_decref(close_ids);
        rc = prep_error(db);
        goto fail;
    }
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        char name[32], msg[200];
        const char *from = dn_stmt_str(st, 1);
        int64_t from_days = 0;
        dn_class_name((int)dn_stmt_int64(st, 2), dn_stmt_str(st, 3), dn_school_current_year(), name, sizeof name);
        if (left_on == NULL) {
            snprintf(msg, sizeof msg,
                     "still a member of class %s (since %s): send left_on, the date the student left, to end the "
                     "membership first",
                     name, from);
            dn_school_field_error(errors, "left_on", msg);
        } else if (dn_date_parse(from, &from_days) == 0 && left_days <= from_days) {
            snprintf(msg, sizeof msg, "must be after %s, when the membership of class %s began", from, name);
            dn_school_field_error(errors, "left_on", msg);
        }
        json_array_append_new(close_ids, json_integer(dn_stmt_int64(st, 0)));
    }
    if (rc < 0 || json_array_size(errors) > 0) {
        json_decref(close_ids);
        if (rc >= 0)
            rc = left_on == NULL ? DN_ECONFLICT : DN_EVALIDATION;
        goto fail;
    }
    size_t i, closed = json_array_size(close_ids);
    json_t *idv;
    rc = 0;
    json_array_foreach(close_ids, i, idv)
    {
        if ((rc = dn_db_run(db, &q_close, "si", to_date, (int64_t)json_integer_value(idv))) != 0)
            break;
    }
    json_decref(close_ids);
    if (rc != 0)
        goto fail;

    char login[40], first[32], pseudonym[64];
    const char *last = is_student ? "Ученик" : is_parent ? "Родитель" : "Пользователь";
    snprintf(login, sizeof login, "anon#%lld", (long long)user_id);
    snprintf(first, sizeof first, "#%lld", (long long)user_id);
    snprintf(pseudonym, sizeof pseudonym, "%s %s", last, first);
    st = dn_db_query(db, &q_pseudonymise, "sssii", login, last, first, now, user_id);
    if (st == NULL) {
        rc = prep_error(db);
        goto fail;
    }
    if ((rc = dn_stmt_exec(st)) < 0)
        goto fail;
    if (dn_stmt_changes(st) != 1) {
        rc = DN_ECONFLICT; /* cannot happen under the write lock; never report success for it */
        goto fail;
    }
    int64_t school = 0;
    char key[40], *nv = NULL;
    snprintf(key, sizeof key, "user:%lld", (long long)user_id);
    /* no old value: it would keep the very names this erases */
    json_t *newj = json_pack("{s:s, s:s, s:o, s:I}", "action", "anonymise", "pseudonym", pseudonym, "left_on",
                             closed > 0 ? json_string(left_on) : json_null(), "memberships_closed",
                             (json_int_t)closed);
    if ((rc = dn_db_run(db, &q_del_sessions, "i", user_id)) != 0 ||
        (rc = dn_db_run(db, &q_del_invites, "i", user_id)) != 0 ||
        (rc = dn_db_run(db, &q_del_idem, "i", user_id)) != 0 ||
        (rc = dn_db_run(db, &q_del_links, "ii", user_id, user_id)) != 0 ||
        (rc = scrub_works(db, user_id, pseudonym)) != 0 ||
        (rc = dn_db_scalar(db, &q_first_school, &school, "i", user_id)) != 0) {
        json_decref(newj);
        goto fail;
    }
    nv = json_dumps(newj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(newj);
    rc = nv ? dn_db_run(db, &q_audit_ins, "isiis", school, key, actor_id, now, nv) : DN_ENOMEM;
    free(nv);
    if (rc != 0)
        goto fail;
    if ((rc = dn_db_commit(db)) != 0)
        goto fail;

finish:
    /* after the commit (or on a repeat call: finishing an interrupted purge); an error here leaves the
     * person anonymised and the rest of their files live: the caller answers an error and a retry completes it */
    if ((rc = dn_files_purge_uploader(db, bs, user_id, NULL)) != 0)
        return rc;
    return anonymised_result(db, user_id, out);
fail:
    dn_db_rollback(db);
    return rc;
}
