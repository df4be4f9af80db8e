/*
 * journal.c - marks, attendance, lessons' topic/homework, term marks, terms,
 * checkpoints and their audit trail (contract in journal.h).
 *
 * Every write function opens ONE write transaction, validates all input
 * against the store (term, class membership, closed term, cancelled lesson)
 * before its first write, writes rows and their audit_log entries, and
 * commits; any failure rolls everything back. Averages are computed in
 * integers by dn_journal_weighted_average so every page rounds the same way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "domain/journal.h"

/* ------------------------------------------------------------ small helpers */


static int failf(dn_jfail_t *f, int code, const char *field, const char *fmt, ...)
{
    if (f != NULL) {
        snprintf(f->field, sizeof(f->field), "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *dn_journal_full_name(char *buf, size_t cap, const char *last, const char *first, const char *middle)
{
    snprintf(buf, cap, "%s %s%s%s", last ? last : "", first ? first : "", middle && *middle ? " " : "",
             middle ? middle : "");
    return buf;
}

/* ------------------------------------------------------------ averages */

double dn_journal_average_from_sums(int64_t sum_vw, int64_t sum_w)
{
    if (sum_w <= 0)
        return 0.0;
    /* round half up on hundredths, exactly: floor((200·S + W) / (2·W)) */
    int64_t hundredths = (sum_vw * 200 + sum_w) / (2 * sum_w);
    return (double)hundredths / 100.0;
}

double dn_journal_weighted_average(const int *values, const int *weights, int n)
{
    int64_t svw = 0, sw = 0;
    for (int i = 0; i < n; i++) {
        svw += (int64_t)values[i] * weights[i];
        sw += weights[i];
    }
    return dn_journal_average_from_sums(svw, sw);
}

int dn_journal_kind_weight(const char *kind)
{
    if (kind == NULL)
        return 0;
    if (strcmp(kind, "lesson") == 0 || strcmp(kind, "homework") == 0 || strcmp(kind, "other") == 0)
        return 1;
    if (strcmp(kind, "test") == 0)
        return 2;
    if (strcmp(kind, "control") == 0)
        return 3;
    return 0;
}

/* ------------------------------------------------------------ lookups */

static dn_query_t q_term_for_date = {"SELECT id, closed_at FROM terms WHERE school_id = ? AND starts_on <= ? "
                                     "AND ends_on >= ? ORDER BY starts_on LIMIT 1"};

int dn_journal_term_for_date(dn_db_t *db, int64_t school_id, const char *date, int64_t *term_id, int *closed)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_for_date);
    if (st == NULL)
        return dn_db_errcode(db) ? dn_db_errcode(db) : DN_EDB;
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_text(st, 2, date, -1);
    dn_stmt_bind_text(st, 3, date, -1);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *term_id = dn_stmt_int64(st, 0);
    if (closed)
        *closed = !dn_stmt_is_null(st, 1);
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_lesson_load = {"SELECT id, school_id, class_id, subject_id, teacher_id, date, cancelled "
                                   "FROM lessons WHERE id = ?"};

int dn_journal_lesson_load(dn_db_t *db, int64_t lesson_id, dn_lesson_ctx_t *out)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_lesson_load);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, lesson_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = dn_stmt_int64(st, 0);
    out->school_id = dn_stmt_int64(st, 1);
    out->class_id = dn_stmt_int64(st, 2);
    out->subject_id = dn_stmt_int64(st, 3);
    out->teacher_id = dn_stmt_int64(st, 4);
    snprintf(out->date, sizeof(out->date), "%s", dn_stmt_str(st, 5));
    out->cancelled = (int)dn_stmt_int64(st, 6);
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_cp_load = {"SELECT id, school_id, class_id, subject_id, teacher_id, kind, due_date, weight "
                               "FROM checkpoints WHERE id = ?"};

int dn_journal_checkpoint_load(dn_db_t *db, int64_t checkpoint_id, dn_checkpoint_ctx_t *out)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_load);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, checkpoint_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = dn_stmt_int64(st, 0);
    out->school_id = dn_stmt_int64(st, 1);
    out->class_id = dn_stmt_int64(st, 2);
    out->subject_id = dn_stmt_int64(st, 3);
    out->teacher_id = dn_stmt_int64(st, 4);
    snprintf(out->kind, sizeof(out->kind), "%s", dn_stmt_str(st, 5));
    snprintf(out->due_date, sizeof(out->due_date), "%s", dn_stmt_str(st, 6));
    out->weight = (int)dn_stmt_int64(st, 7);
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_mark_load = {"SELECT id, school_id, class_id, subject_id, student_id, lesson_id, checkpoint_id, "
                                 "kind FROM marks WHERE id = ?"};

int dn_journal_mark_load(dn_db_t *db, int64_t mark_id, dn_mark_ctx_t *out)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_load);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, mark_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->id = dn_stmt_int64(st, 0);
    out->school_id = dn_stmt_int64(st, 1);
    out->class_id = dn_stmt_int64(st, 2);
    out->subject_id = dn_stmt_int64(st, 3);
    out->student_id = dn_stmt_int64(st, 4);
    out->lesson_id = dn_stmt_int64(st, 5);
    out->checkpoint_id = dn_stmt_int64(st, 6);
    snprintf(out->kind, sizeof(out->kind), "%s", dn_stmt_str(st, 7));
    dn_stmt_finish(st);
    return 0;
}

static dn_query_t q_mark_json = {"SELECT id, student_id, lesson_id, checkpoint_id, date, value, weight, kind, comment, "
                                 "term_id, class_id, subject_id FROM marks WHERE id = ?"};

json_t *dn_journal_mark_json(dn_db_t *db, int64_t mark_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_json);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, mark_id);
    if (dn_stmt_step(st) != DN_DB_ROW)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(dn_stmt_int64(st, 0)));
    json_object_set_new(o, "student_id", json_integer(dn_stmt_int64(st, 1)));
    json_object_set_new(o, "lesson_id", dn_stmt_is_null(st, 2) ? json_null() : json_integer(dn_stmt_int64(st, 2)));
    json_object_set_new(o, "checkpoint_id", dn_stmt_is_null(st, 3) ? json_null() : json_integer(dn_stmt_int64(st, 3)));
    json_object_set_new(o, "date", json_string(dn_stmt_str(st, 4)));
    json_object_set_new(o, "value", json_integer(dn_stmt_int64(st, 5)));
    json_object_set_new(o, "weight", json_integer(dn_stmt_int64(st, 6)));
    json_object_set_new(o, "kind", json_string(dn_stmt_str(st, 7)));
    json_object_set_new(o, "comment", json_string(dn_stmt_str(st, 8)));
    json_object_set_new(o, "term_id", json_integer(dn_stmt_int64(st, 9)));
    json_object_set_new(o, "class_id", json_integer(dn_stmt_int64(st, 10)));
    json_object_set_new(o, "subject_id", json_integer(dn_stmt_int64(st, 11)));
    dn_stmt_finish(st);
    return o;
}

static dn_query_t q_in_class = {"SELECT 1 FROM class_students WHERE class_id = ? AND student_id = ? AND from_date <= ? "
                                "AND (to_date IS NULL OR to_date > ?)"};

int dn_journal_student_in_class(dn_db_t *db, int64_t class_id, int64_t student_id, const char *date)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_in_class);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, student_id);
    dn_stmt_bind_text(st, 3, date, -1);
    dn_stmt_bind_text(st, 4, date, -1);
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    dn_stmt_finish(st);
    return rc == DN_DB_ROW;
}

static dn_query_t q_term_closed = {"SELECT closed_at FROM terms WHERE id = ?"};

static int term_is_closed(dn_db_t *db, int64_t term_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_closed);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, term_id);
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    int closed = rc == DN_DB_ROW && !dn_stmt_is_null(st, 0);
    dn_stmt_finish(st);
    return closed;
}

/* ------------------------------------------------------------ audit */

static dn_query_t q_audit = {"INSERT INTO audit_log (school_id, entity, entity_key, actor_id, at, old_value, new_value) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)"};

/* old/new are borrowed; NULL writes SQL NULL. */
static int audit(dn_db_t *db, int64_t school_id, const char *entity, const char *key, int64_t actor, json_t *old,
                 json_t *new_)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_audit);
    if (st == NULL)
        return dn_db_failure(db);
    char *o = old ? json_dumps(old, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *n = new_ ? json_dumps(new_, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_text(st, 2, entity, -1);
    dn_stmt_bind_text(st, 3, key, -1);
    dn_stmt_bind_int64(st, 4, actor);
    dn_stmt_bind_int64(st, 5, dn_now_ms());
    if (o)
        dn_stmt_bind_text(st, 6, o, -1);
    else
        dn_stmt_bind_null(st, 6);
    if (n)
        dn_stmt_bind_text(st, 7, n, -1);
    else
        dn_stmt_bind_null(st, 7);
    int rc = dn_stmt_exec(st);
    free(o);
    free(n);
    return rc < 0 ? rc : 0;
}

static void mark_key(char *buf, size_t cap, int64_t lesson_id, int64_t checkpoint_id, int64_t student_id,
                     const char *kind)
{
    if (lesson_id > 0)
        snprintf(buf, cap, "lesson:%lld:student:%lld:kind:%s", (long long)lesson_id, (long long)student_id, kind);
    else
        snprintf(buf, cap, "checkpoint:%lld:student:%lld", (long long)checkpoint_id, (long long)student_id);
}

static json_t *mark_state(int64_t id, int value, int weight, const char *kind, const char *comment)
{
    return json_pack("{s:I, s:i, s:i, s:s, s:s}", "id", (json_int_t)id, "value", value, "weight", weight, "kind",
                     kind, "comment", comment ? comment : "");
}

/* ------------------------------------------------------------ transactions */

static int finish(dn_db_t *db, int rc)
{
    if (rc == 0) {
        rc = dn_db_commit(db);
        if (rc == 0)
            return 0;
    }
    dn_db_rollback(db);
    return rc;
}

/* ------------------------------------------------------------ lesson marks */

/* The lesson may take marks/attendance: not cancelled, in a term, term open
 * (or allow_closed). Gives the derived term id. */
static int lesson_writable(dn_db_t *db, const dn_lesson_ctx_t *l, int allow_closed, int64_t *term_id, dn_jfail_t *f)
{
    if (l->cancelled)
        return failf(f, DN_ECONFLICT, "lesson_id", "урок %s отменён: оценки и посещаемость не ставятся", l->date);
    int closed = 0;
    int rc = dn_journal_term_for_date(db, l->school_id, l->date, term_id, &closed);
    if (rc == DN_ENOTFOUND)
        return failf(f, DN_EVALIDATION, "date", "дата урока %s не входит ни в одну четверть/триместр школы", l->date);
    if (rc < 0)
        return rc;
    if (closed && !allow_closed)
        return failf(f, DN_ECONFLICT, "term_id", "четверть закрыта: изменения запрещены");
    return 0;
}

static int check_cell(dn_db_t *db, const dn_lesson_ctx_t *l, int64_t student_id, int value, int allow_zero,
                      const char *kind, const char *prefix, dn_jfail_t *f)
{
    char field[64];
    if (!(value >= 1 && value <= 5) && !(allow_zero && value == 0)) {
        snprintf(field, sizeof(field), "%svalue", prefix);
        return failf(f, DN_EVALIDATION, field, "оценка должна быть от 1 до 5");
    }
    if (dn_journal_kind_weight(kind) == 0) {
        snprintf(field, sizeof(field), "%skind", prefix);
        return failf(f, DN_EVALIDATION, field, "kind must be one of lesson, homework, test, control, other");
    }
    int in = dn_journal_student_in_class(db, l->class_id, student_id, l->date);
    if (in < 0)
        return in;
    if (!in) {
        snprintf(field, sizeof(field), "%sstudent_id", prefix);
        return failf(f, DN_EVALIDATION, field, "ученик %lld не числится в классе на дату урока %s",
                     (long long)student_id, l->date);
    }
    return 0;
}

static dn_query_t q_mark_find = {"SELECT id, value, weight, kind, comment FROM marks WHERE lesson_id = ? AND "
                                 "student_id = ? AND kind = ?"};
static dn_query_t q_mark_insert = {
    "INSERT INTO marks (school_id, student_id, class_id, subject_id, term_id, lesson_id, checkpoint_id, date, value, "
    "weight, kind, comment, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "RETURNING id"};
static dn_query_t q_mark_update = {"UPDATE marks SET value = ?, comment = ?, updated_at = ? WHERE id = ?"};
static dn_query_t q_mark_delete = {"DELETE FROM marks WHERE id = ?"};

typedef struct {
    int64_t id;
    int value, weight;
    char kind[16];
    char *comment; /* malloc'd */
} old_mark_t;

static int find_lesson_mark(dn_db_t *db, int64_t lesson_id, int64_t student_id, const char *kind, old_mark_t *o)
{
    memset(o, 0, sizeof(*o));
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_find);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, lesson_id);
    dn_stmt_bind_int64(st, 2, student_id);
    dn_stmt_bind_text(st, 3, kind, -1);
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    if (rc == DN_DB_ROW) {
        o->id = dn_stmt_int64(st, 0);
        o->value = (int)dn_stmt_int64(st, 1);
        o->weight = (int)dn_stmt_int64(st, 2);
        snprintf(o->kind, sizeof(o->kind), "%s", dn_stmt_str(st, 3));
        o->comment = strdup(dn_stmt_str(st, 4));
        if (o->comment == NULL)
            return DN_ENOMEM;
    }
    dn_stmt_finish(st);
    return 0;
}

static int insert_mark(dn_db_t *db, int64_t school_id, int64_t student_id, int64_t class_id, int64_t subject_id,
                       int64_t term_id, int64_t lesson_id, int64_t checkpoint_id, const char *date, int value,
                       int weight, const char *kind, const char *comment, int64_t actor, int64_t *id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_insert);
    if (st == NULL)
        return dn_db_failure(db);
    int64_t now = dn_now_ms();
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_int64(st, 2, student_id);
    dn_stmt_bind_int64(st, 3, class_id);
    dn_stmt_bind_int64(st, 4, subject_id);
    dn_stmt_bind_int64(st, 5, term_id);
    if (lesson_id > 0)
        dn_stmt_bind_int64(st, 6, lesson_id);
    else
        dn_stmt_bind_null(st, 6);
    if (checkpoint_id > 0)
        dn_stmt_bind_int64(st, 7, checkpoint_id);
    else
        dn_stmt_bind_null(st, 7);
    dn_stmt_bind_text(st, 8, date, -1);
    dn_stmt_bind_int64(st, 9, value);
    dn_stmt_bind_int64(st, 10, weight);
    dn_stmt_bind_text(st, 11, kind, -1);
    dn_stmt_bind_text(st, 12, comment ? comment : "", -1);
    dn_stmt_bind_int64(st, 13, actor);
    dn_stmt_bind_int64(st, 14, now);
    dn_stmt_bind_int64(st, 15, now);
    int rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW)
        return rc < 0 ? rc : DN_EDB;
    *id = dn_stmt_int64(st, 0);
    dn_stmt_step(st);
    return 0;
}

static int update_mark(dn_db_t *db, int64_t id, int value, const char *comment)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_update);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, value);
    dn_stmt_bind_text(st, 2, comment ? comment : "", -1);
    dn_stmt_bind_int64(st, 3, dn_now_ms());
    dn_stmt_bind_int64(st, 4, id);
    int rc = dn_stmt_exec(st);
    return rc < 0 ? rc : 0;
}

static int delete_mark(dn_db_t *db, int64_t id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_delete);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, id);
    int rc = dn_stmt_exec(st);
    return rc < 0 ? rc : 0;
}

/* Write one already validated lesson cell (value 0 removes) with its audit row. */
static int write_lesson_cell(dn_db_t *db, int64_t actor, const dn_lesson_ctx_t *l, int64_t term_id,
                             int64_t student_id, int value, const char *kind, const char *comment, int64_t *mark_id)
{
    old_mark_t o;
    char key[128];
    int64_t id = 0;
    json_t *oldj = NULL, *newj = NULL;
    int rc = find_lesson_mark(db, l->id, student_id, kind, &o);
    if (rc < 0)
        goto out;
    mark_key(key, sizeof(key), l->id, 0, student_id, kind);
    int weight = dn_journal_kind_weight(kind);
    id = o.id;
    if (o.id > 0)
        oldj = mark_state(o.id, o.value, o.weight, o.kind, o.comment);
    if (value == 0) {
        if (o.id == 0) { /* nothing to remove: not a change, no audit */
            rc = 0;
            goto out;
        }
        rc = delete_mark(db, o.id);
        id = 0;
    } else if (o.id > 0) {
        const char *c = comment ? comment : o.comment;
        if (o.value == value && strcmp(c, o.comment) == 0) {
            rc = 0;
            goto out;
        }
        rc = update_mark(db, o.id, value, c);
        newj = mark_state(o.id, value, o.weight, kind, c);
    } else {
        rc = insert_mark(db, l->school_id, student_id, l->class_id, l->subject_id, term_id, l->id, 0, l->date, value,
                         weight, kind, comment, actor, &id);
        if (rc == 0)
            newj = mark_state(id, value, weight, kind, comment);
    }
    if (rc == 0)
        rc = audit(db, l->school_id, "mark", key, actor, oldj, newj);
out:
    if (mark_id)
        *mark_id = rc == 0 ? id : 0;
    json_decref(oldj);
    json_decref(newj);
    free(o.comment);
    return rc;
}

int dn_journal_mark_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l, int64_t student_id,
                        int value, const char *kind, const char *comment, int64_t *mark_id, dn_jfail_t *fail)
{
    if (kind == NULL)
        kind = "lesson";
    int rc = dn_db_begin_write_in(db, l->school_id);
    if (rc < 0)
        return rc;
    int64_t term_id = 0, id = 0;
    rc = lesson_writable(db, l, allow_closed, &term_id, fail);
    if (rc == 0)
        rc = check_cell(db, l, student_id, value, 0, kind, "", fail);
    if (rc == 0)
        rc = write_lesson_cell(db, actor, l, term_id, student_id, value, kind, comment, &id);
    rc = finish(db, rc);
    if (rc == 0 && mark_id)
        *mark_id = id;
    return rc;
}

int dn_journal_marks_fill(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l,
                          const dn_mark_cell_t *cells, int n, dn_jfail_t *fail)
{
    int rc = dn_db_begin_write_in(db, l->school_id);
    if (rc < 0)
        return rc;
    int64_t term_id = 0;
    rc = lesson_writable(db, l, allow_closed, &term_id, fail);
    for (int i = 0; rc == 0 && i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "marks[%d].", i);
        const char *kind = cells[i].kind ? cells[i].kind : "lesson";
        rc = check_cell(db, l, cells[i].student_id, cells[i].value, 1, kind, prefix, fail);
        for (int j = 0; rc == 0 && j < i; j++) {
            const char *kj = cells[j].kind ? cells[j].kind : "lesson";
            if (cells[j].student_id == cells[i].student_id && strcmp(kj, kind) == 0) {
                char field[64];
                snprintf(field, sizeof(field), "%sstudent_id", prefix);
                rc = failf(fail, DN_EVALIDATION, field, "ученик %lld указан дважды для вида %s",
                           (long long)cells[i].student_id, kind);
            }
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        int64_t id = 0;
        rc = write_lesson_cell(db, actor, l, term_id, cells[i].student_id, cells[i].value,
                               cells[i].kind ? cells[i].kind : "lesson", NULL, &id);
    }
    return finish(db, rc);
}

static dn_query_t q_mark_full = {"SELECT m.value, m.weight, m.kind, m.comment, m.term_id, m.lesson_id, m.checkpoint_id, "
                                 "m.student_id, m.school_id FROM marks m WHERE m.id = ?"};

/* Lock-step read of a mark for update/delete, plus the closed-term rule. */
static int mark_for_change(dn_db_t *db, int64_t mark_id, int allow_closed, old_mark_t *o, int64_t *lesson_id,
                           int64_t *checkpoint_id, int64_t *student_id, int64_t *school_id, dn_jfail_t *f)
{
    memset(o, 0, sizeof(*o));
    dn_stmt_t *st = dn_db_prepare(db, &q_mark_full);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, mark_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    o->id = mark_id;
    o->value = (int)dn_stmt_int64(st, 0);
    o->weight = (int)dn_stmt_int64(st, 1);
    snprintf(o->kind, sizeof(o->kind), "%s", dn_stmt_str(st, 2));
    o->comment = strdup(dn_stmt_str(st, 3));
    int64_t term_id = dn_stmt_int64(st, 4);
    *lesson_id = dn_stmt_int64(st, 5);
    *checkpoint_id = dn_stmt_int64(st, 6);
    *student_id = dn_stmt_int64(st, 7);
    *school_id = dn_stmt_int64(st, 8);
    dn_stmt_finish(st);
    if (o->comment == NULL)
        return DN_ENOMEM;
    int closed = term_is_closed(db, term_id);
    if (closed < 0)
        return closed;
    if (closed && !allow_closed)
        return failf(f, DN_ECONFLICT, "term_id", "четверть закрыта: изменения запрещены");
    return 0;
}

int dn_journal_mark_update(dn_db_t *db, int64_t actor, int allow_closed, int64_t mark_id, int value,
                           const char *comment, dn_jfail_t *fail)
{
    if (value != 0 && (value < 1 || value > 5))
        return failf(fail, DN_EVALIDATION, "value", "оценка должна быть от 1 до 5");
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    old_mark_t o;
    int64_t lesson_id, cp_id, student_id, school_id;
    json_t *oldj = NULL, *newj = NULL;
    rc = mark_for_change(db, mark_id, allow_closed, &o, &lesson_id, &cp_id, &student_id, &school_id, fail);
    if (rc == 0) {
        int v = value ? value : o.value;
        const char *c = comment ? comment : o.comment;
        rc = update_mark(db, mark_id, v, c);
        if (rc == 0) {
            char key[128];
            mark_key(key, sizeof(key), lesson_id, cp_id, student_id, o.kind);
            oldj = mark_state(mark_id, o.value, o.weight, o.kind, o.comment);
            newj = mark_state(mark_id, v, o.weight, o.kind, c);
            rc = audit(db, school_id, "mark", key, actor, oldj, newj);
        }
    }
    json_decref(oldj);
    json_decref(newj);
    free(o.comment);
    return finish(db, rc);
}

static dn_query_t q_work_unlink = {"UPDATE works SET mark_id = NULL, status = 'submitted' WHERE mark_id = ?"};

int dn_journal_mark_delete(dn_db_t *db, int64_t actor, int allow_closed, int64_t mark_id, dn_jfail_t *fail)
{
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    old_mark_t o;
    int64_t lesson_id, cp_id, student_id, school_id;
    json_t *oldj = NULL;
    rc = mark_for_change(db, mark_id, allow_closed, &o, &lesson_id, &cp_id, &student_id, &school_id, fail);
    if (rc == 0 && cp_id > 0) {
        dn_stmt_t *st = dn_db_prepare(db, &q_work_unlink);
        if (st == NULL)
            rc = DN_EDB;
        else {
            dn_stmt_bind_int64(st, 1, mark_id);
            rc = dn_stmt_exec(st);
        }
    }
    if (rc == 0)
        rc = delete_mark(db, mark_id);
    if (rc == 0) {
        char key[128];
        mark_key(key, sizeof(key), lesson_id, cp_id, student_id, o.kind);
        oldj = mark_state(mark_id, o.value, o.weight, o.kind, o.comment);
        rc = audit(db, school_id, "mark", key, actor, oldj, NULL);
    }
    json_decref(oldj);
    free(o.comment);
    return finish(db, rc);
}

/* ------------------------------------------------------------ checkpoint marks */

static dn_query_t q_cpmark_find = {"SELECT id, value, weight, kind, comment FROM marks WHERE checkpoint_id = ? AND "
                                   "student_id = ?"};
static dn_query_t q_work_grade = {"UPDATE works SET mark_id = ?, status = 'graded', updated_at = ? WHERE id = ?"};

int dn_journal_checkpoint_mark_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_checkpoint_ctx_t *c,
                                   int64_t student_id, int value, const char *comment, int64_t work_id,
                                   int64_t *mark_id, dn_jfail_t *fail)
{
    if (value < 1 || value > 5)
        return failf(fail, DN_EVALIDATION, "value", "оценка должна быть от 1 до 5");
    int rc = dn_db_begin_write_in(db, c->school_id);
    if (rc < 0)
        return rc;
    old_mark_t o = {0};
    json_t *oldj = NULL, *newj = NULL;
    int64_t term_id = 0, id = 0;
    int closed = 0;
    rc = dn_journal_term_for_date(db, c->school_id, c->due_date, &term_id, &closed);
    if (rc == DN_ENOTFOUND)
        rc = failf(fail, DN_EVALIDATION, "due_date", "срок %s не входит ни в одну четверть школы", c->due_date);
    else if (rc == 0 && closed && !allow_closed)
        rc = failf(fail, DN_ECONFLICT, "term_id", "четверть закрыта: изменения запрещены");
    if (rc == 0) {
        int in = dn_journal_student_in_class(db, c->class_id, student_id, c->due_date);
        if (in < 0)
            rc = in;
        else if (!in)
            rc = failf(fail, DN_EVALIDATION, "student_id", "ученик %lld не числится в классе на дату %s",
                       (long long)student_id, c->due_date);
    }
    if (rc == 0) {
        dn_stmt_t *st = dn_db_prepare(db, &q_cpmark_find);
        if (st == NULL)
            rc = DN_EDB;
        else {
            dn_stmt_bind_int64(st, 1, c->id);
            dn_stmt_bind_int64(st, 2, student_id);
            int s = dn_stmt_step(st);
            if (s < 0)
                rc = s;
            else if (s == DN_DB_ROW) {
                o.id = dn_stmt_int64(st, 0);
                o.value = (int)dn_stmt_int64(st, 1);
                o.weight = (int)dn_stmt_int64(st, 2);
                snprintf(o.kind, sizeof(o.kind), "%s", dn_stmt_str(st, 3));
                o.comment = strdup(dn_stmt_str(st, 4));
                if (o.comment == NULL)
                    rc = DN_ENOMEM;
            }
            dn_stmt_finish(st);
        }
    }
    if (rc == 0) {
        if (o.id > 0) {
            const char *cm = comment ? comment : o.comment;
            id = o.id;
            oldj = mark_state(o.id, o.value, o.weight, o.kind, o.comment);
            newj = mark_state(o.id, value, o.weight, o.kind, cm);
            rc = update_mark(db, o.id, value, cm);
        } else {
            rc = insert_mark(db, c->school_id, student_id, c->class_id, c->subject_id, term_id, 0, c->id,
                             c->due_date, value, c->weight, c->kind, comment, actor, &id);
            newj = mark_state(id, value, c->weight, c->kind, comment);
        }
    }
    if (rc == 0) {
        char key[128];
        mark_key(key, sizeof(key), 0, c->id, student_id, c->kind);
        rc = audit(db, c->school_id, "mark", key, actor, oldj, newj);
    }
    if (rc == 0 && work_id > 0) {
        dn_stmt_t *st = dn_db_prepare(db, &q_work_grade);
        if (st == NULL)
            rc = DN_EDB;
        else {
            dn_stmt_bind_int64(st, 1, id);
            dn_stmt_bind_int64(st, 2, dn_now_ms());
            dn_stmt_bind_int64(st, 3, work_id);
            rc = dn_stmt_exec(st);
        }
    }
    json_decref(oldj);
    json_decref(newj);
    free(o.comment);
    rc = finish(db, rc);
    if (rc == 0 && mark_id)
        *mark_id = id;
    return rc;
}

/* ------------------------------------------------------------ attendance */

static int status_valid(const char *s)
{
    return s && (strcmp(s, "present") == 0 || strcmp(s, "absent") == 0 || strcmp(s, "late") == 0 ||
                 strcmp(s, "excused") == 0);
}

static dn_query_t q_att_find = {"SELECT status FROM attendance WHERE lesson_id = ? AND student_id = ?"};
static dn_query_t q_att_upsert = {
    "INSERT INTO attendance (lesson_id, student_id, status, updated_by, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (lesson_id, student_id) DO UPDATE SET status = excluded.status, updated_by = excluded.updated_by, "
    "updated_at = excluded.updated_at"};

int dn_journal_attendance_set(dn_db_t *db, int64_t actor, int allow_closed, const dn_lesson_ctx_t *l,
                              const dn_attendance_item_t *items, int n, dn_jfail_t *fail)
{
    int rc = dn_db_begin_write_in(db, l->school_id);
    if (rc < 0)
        return rc;
    int64_t term_id = 0;
    rc = lesson_writable(db, l, allow_closed, &term_id, fail);
    for (int i = 0; rc == 0 && i < n; i++) {
        char field[64];
        if (!status_valid(items[i].status)) {
            snprintf(field, sizeof(field), "items[%d].status", i);
            rc = failf(fail, DN_EVALIDATION, field, "status must be one of present, absent, late, excused");
            break;
        }
        int in = dn_journal_student_in_class(db, l->class_id, items[i].student_id, l->date);
        if (in < 0)
            rc = in;
        else if (!in) {
            snprintf(field, sizeof(field), "items[%d].student_id", i);
            rc = failf(fail, DN_EVALIDATION, field, "ученик %lld не числится в классе на дату урока",
                       (long long)items[i].student_id);
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        char old[16] = "";
        dn_stmt_t *st = dn_db_prepare(db, &q_att_find);
        if (st == NULL) {
            rc = DN_EDB;
            break;
        }
        dn_stmt_bind_int64(st, 1, l->id);
        dn_stmt_bind_int64(st, 2, items[i].student_id);
        int s = dn_stmt_step(st);
        if (s < 0) {
            rc = s;
            break;
        }
        if (s == DN_DB_ROW)
            snprintf(old, sizeof(old), "%s", dn_stmt_str(st, 0));
        dn_stmt_finish(st);
        if (strcmp(old, items[i].status) == 0)
            continue;
        st = dn_db_prepare(db, &q_att_upsert);
        if (st == NULL) {
            rc = DN_EDB;
            break;
        }
        dn_stmt_bind_int64(st, 1, l->id);
        dn_stmt_bind_int64(st, 2, items[i].student_id);
        dn_stmt_bind_text(st, 3, items[i].status, -1);
        dn_stmt_bind_int64(st, 4, actor);
        dn_stmt_bind_int64(st, 5, dn_now_ms());
        rc = dn_stmt_exec(st);
        if (rc < 0)
            break;
        char key[96];
        snprintf(key, sizeof(key), "lesson:%lld:student:%lld", (long long)l->id, (long long)items[i].student_id);
        json_t *oj = old[0] ? json_pack("{s:s}", "status", old) : NULL;
        json_t *nj = json_pack("{s:s}", "status", items[i].status);
        rc = audit(db, l->school_id, "attendance", key, actor, oj, nj);
        json_decref(oj);
        json_decref(nj);
    }
    return finish(db, rc);
}

/* ------------------------------------------------------------ lessons */

static dn_query_t q_lesson_topic = {"UPDATE lessons SET topic = COALESCE(CAST(? AS TEXT), topic), "
                                    "homework = COALESCE(CAST(? AS TEXT), homework), updated_at = ? WHERE id = ?"};

int dn_journal_lesson_update(dn_db_t *db, int64_t lesson_id, const char *topic, const char *homework)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_lesson_topic);
    if (st == NULL)
        return dn_db_failure(db);
    if (topic)
        dn_stmt_bind_text(st, 1, topic, -1);
    else
        dn_stmt_bind_null(st, 1);
    if (homework)
        dn_stmt_bind_text(st, 2, homework, -1);
    else
        dn_stmt_bind_null(st, 2);
    dn_stmt_bind_int64(st, 3, dn_now_ms());
    dn_stmt_bind_int64(st, 4, lesson_id);
    int rc = dn_stmt_exec(st);
    if (rc < 0)
        return rc;
    return dn_stmt_changes(st) > 0 ? 0 : DN_ENOTFOUND;
}

static dn_query_t q_lesson_json = {
    "SELECT l.id, l.class_id, l.subject_id, s.name, l.teacher_id, u.last_name, u.first_name, u.middle_name, l.date, "
    "l.lesson_no, l.room, l.topic, l.homework, l.cancelled, l.change_note, l.subgroup "
    "FROM lessons l JOIN subjects s ON s.id = l.subject_id JOIN users u ON u.id = l.teacher_id WHERE l.id = ?"};
static dn_query_t q_class_students_on = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name FROM class_students cs JOIN users u ON u.id = cs.student_id "
    "WHERE cs.class_id = ? AND cs.from_date <= ? AND (cs.to_date IS NULL OR cs.to_date > ?) "
    "ORDER BY u.last_name, u.first_name, u.id"};
static dn_query_t q_lesson_marks = {"SELECT id, student_id, value, kind, weight, comment FROM marks WHERE lesson_id = ? "
                                    "ORDER BY student_id, id"};
static dn_query_t q_lesson_att = {"SELECT student_id, status FROM attendance WHERE lesson_id = ? ORDER BY student_id"};

json_t *dn_journal_lesson_json(dn_db_t *db, int64_t lesson_id, int with_cells)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_lesson_json);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, lesson_id);
    if (dn_stmt_step(st) != DN_DB_ROW)
        return NULL;
    char name[256], date[11];
    int64_t class_id = dn_stmt_int64(st, 1);
    snprintf(date, sizeof(date), "%s", dn_stmt_str(st, 8));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(dn_stmt_int64(st, 0)));
    json_object_set_new(o, "class_id", json_integer(class_id));
    json_object_set_new(o, "subject_id", json_integer(dn_stmt_int64(st, 2)));
    json_object_set_new(o, "subject", json_string(dn_stmt_str(st, 3)));
    json_object_set_new(o, "teacher_id", json_integer(dn_stmt_int64(st, 4)));
    json_object_set_new(o, "teacher", json_string(dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 5),
                                                                       dn_stmt_str(st, 6), dn_stmt_str(st, 7))));
    json_object_set_new(o, "date", json_string(date));
    json_object_set_new(o, "lesson_no", json_integer(dn_stmt_int64(st, 9)));
    json_object_set_new(o, "room", json_string(dn_stmt_str(st, 10)));
    json_object_set_new(o, "topic", json_string(dn_stmt_str(st, 11)));
    json_object_set_new(o, "homework", json_string(dn_stmt_str(st, 12)));
    json_object_set_new(o, "cancelled", json_boolean(dn_stmt_int64(st, 13)));
    json_object_set_new(o, "change_note", json_string(dn_stmt_str(st, 14)));
    json_object_set_new(o, "subgroup", json_string(dn_stmt_str(st, 15)));
    dn_stmt_finish(st);
    if (!with_cells)
        return o;

    json_t *students = json_array(), *marks = json_array(), *att = json_array();
    json_object_set_new(o, "students", students);
    json_object_set_new(o, "marks", marks);
    json_object_set_new(o, "attendance", att);
    st = dn_db_prepare(db, &q_class_students_on);
    if (st == NULL)
        goto fail;
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_text(st, 2, date, -1);
    dn_stmt_bind_text(st, 3, date, -1);
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(students, json_pack("{s:I, s:s}", "id", (json_int_t)dn_stmt_int64(st, 0), "name",
                                                  dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 1),
                                                                       dn_stmt_str(st, 2), dn_stmt_str(st, 3))));
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_lesson_marks);
    if (st == NULL)
        goto fail;
    dn_stmt_bind_int64(st, 1, lesson_id);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(marks, json_pack("{s:I, s:I, s:I, s:s, s:I, s:s}", "id",
                                               (json_int_t)dn_stmt_int64(st, 0), "student_id",
                                               (json_int_t)dn_stmt_int64(st, 1), "value",
                                               (json_int_t)dn_stmt_int64(st, 2), "kind", dn_stmt_str(st, 3), "weight",
                                               (json_int_t)dn_stmt_int64(st, 4), "comment", dn_stmt_str(st, 5)));
    if (rc < 0)
        goto fail;
    st = dn_db_prepare(db, &q_lesson_att);
    if (st == NULL)
        goto fail;
    dn_stmt_bind_int64(st, 1, lesson_id);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(att, json_pack("{s:I, s:s}", "student_id", (json_int_t)dn_stmt_int64(st, 0), "status",
                                             dn_stmt_str(st, 1)));
    if (rc < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* ------------------------------------------------------------ term marks */

static dn_query_t q_term_by_number = {"SELECT id, closed_at, starts_on, ends_on FROM terms WHERE school_id = ? AND "
                                      "year_start = ? AND number = ?"};
static dn_query_t q_tm_find = {"SELECT value FROM term_marks WHERE student_id = ? AND subject_id = ? AND year_start = ? "
                               "AND period = ?"};
static dn_query_t q_tm_upsert = {
    "INSERT INTO term_marks (student_id, subject_id, school_id, class_id, year_start, period, value, set_by, set_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (student_id, subject_id, year_start, period) DO UPDATE SET "
    "value = excluded.value, class_id = excluded.class_id, set_by = excluded.set_by, set_at = excluded.set_at"};
static dn_query_t q_tm_delete = {"DELETE FROM term_marks WHERE student_id = ? AND subject_id = ? AND year_start = ? "
                                 "AND period = ?"};
static dn_query_t q_in_class_range = {"SELECT 1 FROM class_students WHERE class_id = ? AND student_id = ? AND "
                                      "from_date <= ? AND (to_date IS NULL OR to_date > ?)"};

/* The date range of a period: a term's own dates, or 1 Sep .. 31 Aug for the year. */
static int period_range(dn_db_t *db, int64_t school_id, int year_start, int period, char from[11], char to[11],
                        int64_t *term_id, int *closed)
{
    *term_id = 0;
    *closed = 0;
    if (period == 0) {
        dn_date_format_ymd(from, year_start, 9, 1);
        dn_date_format_ymd(to, year_start + 1, 8, 31);
        return 0;
    }
    dn_stmt_t *st = dn_db_prepare(db, &q_term_by_number);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_int64(st, 2, year_start);
    dn_stmt_bind_int64(st, 3, period);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *term_id = dn_stmt_int64(st, 0);
    *closed = !dn_stmt_is_null(st, 1);
    snprintf(from, 11, "%s", dn_stmt_str(st, 2));
    snprintf(to, 11, "%s", dn_stmt_str(st, 3));
    dn_stmt_finish(st);
    return 0;
}

int dn_journal_term_marks_set(dn_db_t *db, int64_t actor, int allow_closed, int64_t school_id, int64_t class_id,
                              int64_t subject_id, int year_start, int period, const dn_term_mark_item_t *items, int n,
                              dn_jfail_t *fail)
{
    if (period < 0 || period > 4)
        return failf(fail, DN_EVALIDATION, "period", "period must be 1..4 (a term) or 0 (the year)");
    if (year_start < 2000 || year_start > 2100)
        return failf(fail, DN_EVALIDATION, "year_start", "year_start must be a year such as 2026");
    int rc = dn_db_begin_write_in(db, school_id);
    if (rc < 0)
        return rc;
    char from[11], to[11];
    int64_t term_id;
    int closed;
    rc = period_range(db, school_id, year_start, period, from, to, &term_id, &closed);
    if (rc == DN_ENOTFOUND)
        rc = failf(fail, DN_EVALIDATION, "period", "в школе нет такой четверти в этом учебном году");
    else if (rc == 0 && closed && !allow_closed)
        rc = failf(fail, DN_ECONFLICT, "period", "четверть закрыта: изменения запрещены");
    for (int i = 0; rc == 0 && i < n; i++) {
        char field[64];
        if (items[i].value != 0 && (items[i].value < 1 || items[i].value > 5)) {
            snprintf(field, sizeof(field), "items[%d].value", i);
            rc = failf(fail, DN_EVALIDATION, field, "оценка должна быть от 1 до 5");
            break;
        }
        dn_stmt_t *st = dn_db_prepare(db, &q_in_class_range);
        if (st == NULL) {
            rc = DN_EDB;
            break;
        }
        dn_stmt_bind_int64(st, 1, class_id);
        dn_stmt_bind_int64(st, 2, items[i].student_id);
        dn_stmt_bind_text(st, 3, to, -1);
        dn_stmt_bind_text(st, 4, from, -1);
        int s = dn_stmt_step(st);
        if (s < 0)
            rc = s;
        dn_stmt_finish(st);
        if (s >= 0 && s != DN_DB_ROW) {
            snprintf(field, sizeof(field), "items[%d].student_id", i);
            rc = failf(fail, DN_EVALIDATION, field, "ученик %lld не учился в этом классе в этот период",
                       (long long)items[i].student_id);
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        int old = 0;
        dn_stmt_t *st = dn_db_prepare(db, &q_tm_find);
        if (st == NULL) {
            rc = DN_EDB;
            break;
        }
        dn_stmt_bind_int64(st, 1, items[i].student_id);
        dn_stmt_bind_int64(st, 2, subject_id);
        dn_stmt_bind_int64(st, 3, year_start);
        dn_stmt_bind_int64(st, 4, period);
        int s = dn_stmt_step(st);
        if (s < 0) {
            rc = s;
            break;
        }
        if (s == DN_DB_ROW)
            old = (int)dn_stmt_int64(st, 0);
        dn_stmt_finish(st);
        if (old == items[i].value)
            continue;
        if (items[i].value == 0) {
            st = dn_db_prepare(db, &q_tm_delete);
            if (st == NULL) {
                rc = DN_EDB;
                break;
            }
            dn_stmt_bind_int64(st, 1, items[i].student_id);
            dn_stmt_bind_int64(st, 2, subject_id);
            dn_stmt_bind_int64(st, 3, year_start);
            dn_stmt_bind_int64(st, 4, period);
        } else {
            st = dn_db_prepare(db, &q_tm_upsert);
            if (st == NULL) {
                rc = DN_EDB;
                break;
            }
            dn_stmt_bind_int64(st, 1, items[i].student_id);
            dn_stmt_bind_int64(st, 2, subject_id);
            dn_stmt_bind_int64(st, 3, school_id);
            dn_stmt_bind_int64(st, 4, class_id);
            dn_stmt_bind_int64(st, 5, year_start);
            dn_stmt_bind_int64(st, 6, period);
            dn_stmt_bind_int64(st, 7, items[i].value);
            dn_stmt_bind_int64(st, 8, actor);
            dn_stmt_bind_int64(st, 9, dn_now_ms());
        }
        rc = dn_stmt_exec(st);
        if (rc < 0)
            break;
        char key[128];
        snprintf(key, sizeof(key), "student:%lld:subject:%lld:year:%d:period:%d", (long long)items[i].student_id,
                 (long long)subject_id, year_start, period);
        json_t *oj = old ? json_pack("{s:i}", "value", old) : NULL;
        json_t *nj = items[i].value ? json_pack("{s:i}", "value", items[i].value) : NULL;
        rc = audit(db, school_id, "term_mark", key, actor, oj, nj);
        json_decref(oj);
        json_decref(nj);
    }
    return finish(db, rc);
}

static dn_query_t q_terms_of_period = {"SELECT id FROM terms WHERE school_id = ? AND year_start = ? AND "
                                       "(number = ? OR CAST(? AS BIGINT) = 0) ORDER BY number"};
static dn_query_t q_marks_cst = {"SELECT student_id, value, weight FROM marks WHERE class_id = ? AND subject_id = ? "
                                 "AND term_id = ?"};
static dn_query_t q_tm_class = {"SELECT student_id, value FROM term_marks WHERE class_id = ? AND subject_id = ? AND "
                                "year_start = ? AND period = ?"};

typedef struct {
    int64_t id;
    int64_t svw, sw;
    int count, term_mark;
} acc_t;

static acc_t *acc_find(acc_t *a, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (a[i].id == id)
            return &a[i];
    return NULL;
}

int dn_journal_term_marks_get(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id, int year_start,
                              int period, json_t **out)
{
    char from[11], to[11], name[256];
    int64_t term_id, terms[8];
    int closed, nterms = 0, n = 0, cap = 0, rc;
    acc_t *acc = NULL;
    json_t *items = json_array();
    *out = NULL;
    rc = period_range(db, school_id, year_start, period, from, to, &term_id, &closed);
    if (rc < 0)
        goto done;
    dn_stmt_t *st = dn_db_prepare(db, &q_terms_of_period);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_int64(st, 2, year_start);
    dn_stmt_bind_int64(st, 3, period);
    dn_stmt_bind_int64(st, 4, period);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW && nterms < 8)
        terms[nterms++] = dn_stmt_int64(st, 0);
    if (rc < 0)
        goto done;
    /* students who were in the class at any time of the period */
    st = dn_db_prepare(db, &q_class_students_on);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_text(st, 2, to, -1);
    dn_stmt_bind_text(st, 3, from, -1);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t sid = dn_stmt_int64(st, 0);
        if (acc_find(acc, n, sid))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            acc_t *na = realloc(acc, (size_t)cap * sizeof(*acc));
            if (na == NULL) {
                rc = DN_ENOMEM;
                goto done;
            }
            acc = na;
        }
        acc[n] = (acc_t){.id = sid};
        n++;
        json_array_append_new(items, json_pack("{s:I, s:s}", "student_id", (json_int_t)sid, "name",
                                               dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 1),
                                                                    dn_stmt_str(st, 2), dn_stmt_str(st, 3))));
    }
    if (rc < 0)
        goto done;
    for (int t = 0; t < nterms; t++) {
        st = dn_db_prepare(db, &q_marks_cst);
        if (st == NULL) {
            rc = DN_EDB;
            goto done;
        }
        dn_stmt_bind_int64(st, 1, class_id);
        dn_stmt_bind_int64(st, 2, subject_id);
        dn_stmt_bind_int64(st, 3, terms[t]);
        while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
            acc_t *a = acc_find(acc, n, dn_stmt_int64(st, 0));
            if (a) {
                a->svw += dn_stmt_int64(st, 1) * dn_stmt_int64(st, 2);
                a->sw += dn_stmt_int64(st, 2);
                a->count++;
            }
        }
        if (rc < 0)
            goto done;
    }
    st = dn_db_prepare(db, &q_tm_class);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_int64(st, 3, year_start);
    dn_stmt_bind_int64(st, 4, period);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        acc_t *a = acc_find(acc, n, dn_stmt_int64(st, 0));
        if (a)
            a->term_mark = (int)dn_stmt_int64(st, 1);
    }
    if (rc < 0)
        goto done;
    for (int i = 0; i < n; i++) {
        json_t *it = json_array_get(items, (size_t)i);
        json_object_set_new(it, "average",
                            acc[i].sw ? json_real(dn_journal_average_from_sums(acc[i].svw, acc[i].sw)) : json_null());
        /* the mark the average suggests: half up on the whole mark (3.5 → 4), in integers */
        json_object_set_new(it, "suggested_mark",
                            acc[i].sw ? json_integer((2 * acc[i].svw + acc[i].sw) / (2 * acc[i].sw)) : json_null());
        json_object_set_new(it, "sum_weighted", json_integer(acc[i].svw));
        json_object_set_new(it, "sum_weights", json_integer(acc[i].sw));
        json_object_set_new(it, "marks_count", json_integer(acc[i].count));
        json_object_set_new(it, "term_mark", acc[i].term_mark ? json_integer(acc[i].term_mark) : json_null());
    }
    rc = 0;
    *out = json_pack("{s:i, s:i, s:O}", "year_start", year_start, "period", period, "items", items);
done:
    json_decref(items);
    free(acc);
    return rc;
}

/* ------------------------------------------------------------ terms */

static dn_query_t q_term_school = {"SELECT school_id FROM terms WHERE id = ?"};
static dn_query_t q_term_close = {"UPDATE terms SET closed_at = ?, closed_by = ? WHERE id = ?"};
static dn_query_t q_term_reopen = {"UPDATE terms SET closed_at = NULL, closed_by = NULL WHERE id = ?"};
static dn_query_t q_term_json = {"SELECT id, school_id, year_start, number, starts_on, ends_on, closed_at, closed_by "
                                 "FROM terms WHERE id = ?"};

int dn_journal_term_school(dn_db_t *db, int64_t term_id, int64_t *school_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_school);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, term_id);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *school_id = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    return 0;
}

static json_t *term_json(dn_db_t *db, int64_t term_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_term_json);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, term_id);
    if (dn_stmt_step(st) != DN_DB_ROW)
        return NULL;
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)dn_stmt_int64(st, 0), "school_id",
                     (json_int_t)dn_stmt_int64(st, 1), "year_start", (json_int_t)dn_stmt_int64(st, 2), "number",
                     (json_int_t)dn_stmt_int64(st, 3), "starts_on", dn_stmt_str(st, 4), "ends_on", dn_stmt_str(st, 5),
                     "closed_at", dn_stmt_is_null(st, 6) ? json_null() : json_integer(dn_stmt_int64(st, 6)),
                     "closed_by", dn_stmt_is_null(st, 7) ? json_null() : json_integer(dn_stmt_int64(st, 7)));
    dn_stmt_finish(st);
    return o;
}

int dn_journal_term_set_closed(dn_db_t *db, int64_t actor, int64_t term_id, int closed, json_t **out)
{
    *out = NULL;
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    json_t *before = term_json(db, term_id), *after = NULL;
    if (before == NULL) {
        dn_db_rollback(db);
        return DN_ENOTFOUND;
    }
    dn_stmt_t *st = dn_db_prepare(db, closed ? &q_term_close : &q_term_reopen);
    if (st == NULL)
        rc = DN_EDB;
    else if (closed) {
        dn_stmt_bind_int64(st, 1, dn_now_ms());
        dn_stmt_bind_int64(st, 2, actor);
        dn_stmt_bind_int64(st, 3, term_id);
        rc = dn_stmt_exec(st);
    } else {
        dn_stmt_bind_int64(st, 1, term_id);
        rc = dn_stmt_exec(st);
    }
    if (rc == 0)
        after = term_json(db, term_id);
    if (rc == 0 && after == NULL)
        rc = DN_EDB;
    if (rc == 0) {
        char key[48];
        snprintf(key, sizeof(key), "term:%lld", (long long)term_id);
        json_t *oj = json_pack("{s:O}", "closed_at", json_object_get(before, "closed_at"));
        json_t *nj = json_pack("{s:O}", "closed_at", json_object_get(after, "closed_at"));
        rc = audit(db, json_integer_value(json_object_get(before, "school_id")), "term", key, actor, oj, nj);
        json_decref(oj);
        json_decref(nj);
    }
    json_decref(before);
    rc = finish(db, rc);
    if (rc == 0)
        *out = after;
    else
        json_decref(after);
    return rc;
}

/* ------------------------------------------------------------ audit read */

static dn_query_t q_audit_keys = {
    "SELECT a.id, a.entity_key, a.actor_id, a.at, a.old_value, a.new_value, u.last_name, u.first_name, u.middle_name "
    "FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id WHERE a.entity = 'mark' AND a.entity_key IN (?, ?, ?, ?, ?) "
    "ORDER BY a.at, a.id"};

json_t *dn_journal_audit_mark(dn_db_t *db, int64_t lesson_id, int64_t checkpoint_id, int64_t student_id)
{
    static const char *const kinds[] = {"lesson", "homework", "test", "control", "other"};
    char keys[5][128];
    for (int i = 0; i < 5; i++) {
        if (lesson_id > 0)
            mark_key(keys[i], sizeof(keys[i]), lesson_id, 0, student_id, kinds[i]);
        else
            mark_key(keys[i], sizeof(keys[i]), 0, checkpoint_id, student_id, "");
    }
    dn_stmt_t *st = dn_db_prepare(db, &q_audit_keys);
    if (st == NULL)
        return NULL;
    for (int i = 0; i < 5; i++)
        dn_stmt_bind_text(st, i + 1, keys[i], -1);
    json_t *items = json_array();
    int rc;
    char name[256];
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        json_t *oldv = dn_stmt_is_null(st, 4) ? json_null() : json_loads(dn_stmt_str(st, 4), 0, NULL);
        json_t *newv = dn_stmt_is_null(st, 5) ? json_null() : json_loads(dn_stmt_str(st, 5), 0, NULL);
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:I, s:s, s:I, s:o, s:o}", "id", (json_int_t)dn_stmt_int64(st, 0), "key",
                             dn_stmt_str(st, 1), "actor_id", (json_int_t)dn_stmt_int64(st, 2), "actor",
                             dn_journal_full_name(name, sizeof(name), dn_stmt_str(st, 6), dn_stmt_str(st, 7),
                                                  dn_stmt_str(st, 8)),
                             "at", (json_int_t)dn_stmt_int64(st, 3), "old", oldv ? oldv : json_null(), "new",
                             newv ? newv : json_null()));
    }
    if (rc < 0) {
        json_decref(items);
        return NULL;
    }
    return items;
}

/* ------------------------------------------------------------ checkpoints */

static int cp_kind_valid(const char *k)
{
    return k && (strcmp(k, "homework") == 0 || strcmp(k, "test") == 0 || strcmp(k, "control") == 0 ||
                 strcmp(k, "other") == 0);
}

static dn_query_t q_lesson_cs = {"SELECT class_id, subject_id FROM lessons WHERE id = ?"};

static int cp_validate(dn_db_t *db, int64_t class_id, int64_t subject_id, const dn_checkpoint_input_t *in,
                       dn_jfail_t *f)
{
    if (!cp_kind_valid(in->kind))
        return failf(f, DN_EVALIDATION, "kind", "kind must be one of homework, test, control, other");
    if (in->title == NULL || in->title[0] == '\0' || strlen(in->title) > 300)
        return failf(f, DN_EVALIDATION, "title", "title is required (1..300 characters)");
    if (!dn_date_valid(in->due_date))
        return failf(f, DN_EVALIDATION, "due_date", "due_date must be a date YYYY-MM-DD");
    if (in->weight < 1 || in->weight > 10)
        return failf(f, DN_EVALIDATION, "weight", "weight must be 1..10");
    if (in->lesson_id > 0) {
        dn_stmt_t *st = dn_db_prepare(db, &q_lesson_cs);
        if (st == NULL)
            return dn_db_failure(db);
        dn_stmt_bind_int64(st, 1, in->lesson_id);
        int rc = dn_stmt_step(st);
        if (rc < 0)
            return rc;
        int same = rc == DN_DB_ROW && dn_stmt_int64(st, 0) == class_id && dn_stmt_int64(st, 1) == subject_id;
        dn_stmt_finish(st);
        if (!same)
            return failf(f, DN_EVALIDATION, "lesson_id", "lesson_id must be a lesson of this class and subject");
    }
    return 0;
}

static dn_query_t q_cp_insert = {"INSERT INTO checkpoints (school_id, class_id, subject_id, teacher_id, lesson_id, kind, "
                                 "title, description, due_date, weight, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                 "?, ?) RETURNING id"};

int dn_journal_checkpoint_create(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t subject_id,
                                 int64_t teacher_id, const dn_checkpoint_input_t *in, int64_t *id, dn_jfail_t *fail)
{
    dn_checkpoint_input_t c = *in;
    if (c.weight == 0)
        c.weight = dn_journal_kind_weight(c.kind);
    if (c.description == NULL)
        c.description = "";
    int rc = cp_validate(db, class_id, subject_id, &c, fail);
    if (rc < 0)
        return rc;
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_insert);
    if (st == NULL)
        return dn_db_failure(db);
    dn_stmt_bind_int64(st, 1, school_id);
    dn_stmt_bind_int64(st, 2, class_id);
    dn_stmt_bind_int64(st, 3, subject_id);
    dn_stmt_bind_int64(st, 4, teacher_id);
    if (c.lesson_id > 0)
        dn_stmt_bind_int64(st, 5, c.lesson_id);
    else
        dn_stmt_bind_null(st, 5);
    dn_stmt_bind_text(st, 6, c.kind, -1);
    dn_stmt_bind_text(st, 7, c.title, -1);
    dn_stmt_bind_text(st, 8, c.description, -1);
    dn_stmt_bind_text(st, 9, c.due_date, -1);
    dn_stmt_bind_int64(st, 10, c.weight);
    dn_stmt_bind_int64(st, 11, dn_now_ms());
    rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW)
        return rc < 0 ? rc : DN_EDB;
    *id = dn_stmt_int64(st, 0);
    dn_stmt_step(st);
    return 0;
}

static dn_query_t q_cp_get = {"SELECT class_id, subject_id, kind, title, description, due_date, weight, lesson_id "
                              "FROM checkpoints WHERE id = ?"};
static dn_query_t q_cp_update = {"UPDATE checkpoints SET kind = ?, title = ?, description = ?, due_date = ?, weight = ?, "
                                 "lesson_id = ? WHERE id = ?"};

int dn_journal_checkpoint_update(dn_db_t *db, int64_t id, const dn_checkpoint_input_t *in, dn_jfail_t *fail)
{
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    char kind[16], title[512], desc[8192], due[11];
    dn_checkpoint_input_t c = {0};
    int64_t class_id = 0, subject_id = 0;
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_get);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, id);
    rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW) {
        rc = rc < 0 ? rc : DN_ENOTFOUND;
        goto done;
    }
    class_id = dn_stmt_int64(st, 0);
    subject_id = dn_stmt_int64(st, 1);
    snprintf(kind, sizeof(kind), "%s", dn_stmt_str(st, 2));
    snprintf(title, sizeof(title), "%s", dn_stmt_str(st, 3));
    snprintf(desc, sizeof(desc), "%s", dn_stmt_str(st, 4));
    snprintf(due, sizeof(due), "%s", dn_stmt_str(st, 5));
    c.kind = in->kind ? in->kind : kind;
    c.title = in->title ? in->title : title;
    c.description = in->description ? in->description : desc;
    c.due_date = in->due_date ? in->due_date : due;
    c.weight = in->weight ? in->weight : (int)dn_stmt_int64(st, 6);
    c.lesson_id = in->lesson_id ? in->lesson_id : dn_stmt_int64(st, 7);
    dn_stmt_finish(st);
    rc = cp_validate(db, class_id, subject_id, &c, fail);
    if (rc < 0)
        goto done;
    st = dn_db_prepare(db, &q_cp_update);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_text(st, 1, c.kind, -1);
    dn_stmt_bind_text(st, 2, c.title, -1);
    dn_stmt_bind_text(st, 3, c.description, -1);
    dn_stmt_bind_text(st, 4, c.due_date, -1);
    dn_stmt_bind_int64(st, 5, c.weight);
    if (c.lesson_id > 0)
        dn_stmt_bind_int64(st, 6, c.lesson_id);
    else
        dn_stmt_bind_null(st, 6);
    dn_stmt_bind_int64(st, 7, id);
    rc = dn_stmt_exec(st);
done:
    return finish(db, rc);
}

static dn_query_t q_cp_refs = {"SELECT (SELECT COUNT(*) FROM works WHERE checkpoint_id = ?) + "
                               "(SELECT COUNT(*) FROM marks WHERE checkpoint_id = ?)"};
static dn_query_t q_cp_delete = {"DELETE FROM checkpoints WHERE id = ?"};

int dn_journal_checkpoint_delete(dn_db_t *db, int64_t id, dn_jfail_t *fail)
{
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_refs);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, id);
    dn_stmt_bind_int64(st, 2, id);
    rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW) {
        rc = rc < 0 ? rc : DN_EDB;
        goto done;
    }
    int64_t refs = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    if (refs > 0) {
        rc = failf(fail, DN_ECONFLICT, "id", "к контрольной точке уже есть работы или оценки");
        goto done;
    }
    st = dn_db_prepare(db, &q_cp_delete);
    if (st == NULL) {
        rc = DN_EDB;
        goto done;
    }
    dn_stmt_bind_int64(st, 1, id);
    rc = dn_stmt_exec(st);
    if (rc == 0 && dn_stmt_changes(st) == 0)
        rc = DN_ENOTFOUND;
done:
    return finish(db, rc);
}

#define CP_COLS                                                                                                        \
    "c.id, c.class_id, c.subject_id, s.name, c.teacher_id, c.lesson_id, c.kind, c.title, c.description, c.due_date, "  \
    "c.weight, c.created_at"

static dn_query_t q_cp_json = {"SELECT " CP_COLS " FROM checkpoints c JOIN subjects s ON s.id = c.subject_id "
                               "WHERE c.id = ?"};
static dn_query_t q_cp_list = {"SELECT " CP_COLS " FROM checkpoints c JOIN subjects s ON s.id = c.subject_id "
                               "WHERE c.class_id = ? AND (CAST(? AS BIGINT) = 0 OR c.subject_id = ?) AND "
                               "c.due_date >= ? AND c.due_date <= ? ORDER BY c.due_date, c.id"};

static json_t *cp_row(dn_stmt_t *st)
{
    return json_pack("{s:I, s:I, s:I, s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:I, s:I}", "id",
                     (json_int_t)dn_stmt_int64(st, 0), "class_id", (json_int_t)dn_stmt_int64(st, 1), "subject_id",
                     (json_int_t)dn_stmt_int64(st, 2), "subject", dn_stmt_str(st, 3), "teacher_id",
                     (json_int_t)dn_stmt_int64(st, 4), "lesson_id",
                     dn_stmt_is_null(st, 5) ? json_null() : json_integer(dn_stmt_int64(st, 5)), "kind",
                     dn_stmt_str(st, 6), "title", dn_stmt_str(st, 7), "description", dn_stmt_str(st, 8), "due_date",
                     dn_stmt_str(st, 9), "weight", (json_int_t)dn_stmt_int64(st, 10), "created_at",
                     (json_int_t)dn_stmt_int64(st, 11));
}

json_t *dn_journal_checkpoint_json(dn_db_t *db, int64_t id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_json);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, id);
    if (dn_stmt_step(st) != DN_DB_ROW)
        return NULL;
    json_t *o = cp_row(st);
    dn_stmt_finish(st);
    return o;
}

json_t *dn_journal_checkpoints_list(dn_db_t *db, int64_t class_id, int64_t subject_id, const char *from,
                                    const char *to)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_cp_list);
    if (st == NULL)
        return NULL;
    dn_stmt_bind_int64(st, 1, class_id);
    dn_stmt_bind_int64(st, 2, subject_id);
    dn_stmt_bind_int64(st, 3, subject_id);
    dn_stmt_bind_text(st, 4, from ? from : "0000-01-01", -1);
    dn_stmt_bind_text(st, 5, to ? to : "9999-12-31", -1);
    json_t *items = json_array();
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(items, cp_row(st));
    if (rc < 0) {
        json_decref(items);
        return NULL;
    }
    return items;
}
