/*
 * journal_api.c - HTTP routes of the class journal: lessons (topic,
 * homework), marks (single, whole column, checkpoint marks), attendance,
 * term marks, closing terms, checkpoints and the history of a cell.
 *
 * Every handler: authenticate, load the target (404 when unknown), ask
 * dn_access_check for the (school, class, subject) the target belongs to,
 * then call src/domain/journal. Validation of shapes (types, required
 * fields) is here; validation against the store is in the domain.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/etag.h"
#include "api/journal_api.h"
#include "core/error.h"

/* ------------------------------------------------------------ helpers */

void dn_japi_fail(dn_req_t *req, int rc, const dn_jfail_t *fail, const char *what)
{
    if (rc == DN_EVALIDATION) {
        dn_api_invalid(req, fail->field, fail->message);
        return;
    }
    if (rc == DN_ECONFLICT && fail->message[0]) {
        dn_res_problem(req, 409, NULL, fail->message);
        return;
    }
    if (rc == DN_ENOTFOUND) {
        dn_res_problem(req, 404, NULL, what ? what : "no such resource");
        return;
    }
    dn_res_error(req, rc, NULL);
}

/* Required integer member within [lo, hi]: 0 ok, -1 answered 422. */
static int req_int(dn_req_t *req, json_t *obj, const char *key, const char *field, long long lo, long long hi,
                   const char *msg, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        dn_api_invalid(req, field, msg);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int allow_closed(dn_req_t *req, const dn_principal_t *p, int64_t school)
{
    return dn_api_can(req, p, DN_ACT_OVERRIDE_CLOSED, school, 0, 0, 0);
}

/* Loads the lesson of {lesson_id} and checks act on its class+subject. */
static int lesson_for(dn_req_t *req, const dn_principal_t *p, dn_action_t act, dn_lesson_ctx_t *l)
{
    int64_t id = dn_api_path_id(req, "lesson_id");
    if (id == 0)
        return -1;
    int rc = dn_journal_lesson_load(req->db, id, l);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such lesson");
        return -1;
    }
    return dn_api_allow(req, p, act, l->school_id, l->class_id, l->subject_id, 0) ? -1 : 0;
}

static void respond_lesson(dn_req_t *req, int64_t lesson_id, int status)
{
    json_t *o = dn_journal_lesson_json(req->db, lesson_id, 1);
    if (o == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json(req, status, o);
}

/* ------------------------------------------------------------ lessons */

static void lesson_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_for(req, p, DN_ACT_WRITE_JOURNAL, &l) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    const char *topic = NULL, *homework = NULL;
    int bad = dn_api_opt_string(req, body, "topic", &topic) || dn_api_opt_string(req, body, "homework", &homework);
    json_decref(body);
    if (bad)
        return;
    if ((topic && strlen(topic) > 1000) || (homework && strlen(homework) > 10000)) {
        dn_api_invalid(req, topic && strlen(topic) > 1000 ? "topic" : "homework", "too long");
        return;
    }
    int rc = dn_journal_lesson_update(req->db, l.id, topic, homework);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such lesson");
        return;
    }
    respond_lesson(req, l.id, 200);
}

static void lesson_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t id = dn_api_path_id(req, "lesson_id");
    dn_lesson_ctx_t l;
    if (id == 0)
        return;
    int rc = dn_journal_lesson_load(req->db, id, &l);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such lesson");
        return;
    }
    /* teachers of the journal see the class's cells; class members the lesson only */
    int full = dn_api_can(req, p, DN_ACT_READ_JOURNAL, l.school_id, l.class_id, l.subject_id, 0);
    if (!full && dn_api_allow(req, p, DN_ACT_READ_CLASS, l.school_id, l.class_id, 0, 0) != 0)
        return;
    json_t *o = dn_journal_lesson_json(req->db, id, full);
    if (o == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, o);
}

/* ------------------------------------------------------------ marks */

static void respond_mark(dn_req_t *req, int64_t mark_id, int status)
{
    json_t *m = dn_journal_mark_json(req->db, mark_id);
    if (m == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json(req, status, m);
}

static void mark_post(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_for(req, p, DN_ACT_WRITE_JOURNAL, &l) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    long long student = 0, value = 0;
    const char *kind = NULL, *comment = NULL;
    int bad = req_int(req, body, "student_id", "student_id", 1, INT64_MAX, "student_id is required", &student) ||
              req_int(req, body, "value", "value", 1, 5, "оценка должна быть от 1 до 5", &value) ||
              dn_api_opt_string(req, body, "kind", &kind) || dn_api_opt_string(req, body, "comment", &comment);
    json_decref(body);
    if (bad)
        return;
    dn_jfail_t f = {0};
    int64_t mark_id = 0;
    int rc = dn_journal_mark_set(req->db, p->user_id, allow_closed(req, p, l.school_id), &l, student, (int)value, kind,
                                 comment, &mark_id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_mark(req, mark_id, 201);
}

static void marks_put(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_for(req, p, DN_ACT_WRITE_JOURNAL, &l) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *arr = json_object_get(body, "marks");
    if (!json_is_array(arr) || json_array_size(arr) > 200) {
        json_decref(body);
        dn_api_invalid(req, "marks", "an array of at most 200 {student_id, value|null, kind?} is required");
        return;
    }
    int n = (int)json_array_size(arr);
    dn_mark_cell_t *cells = h2o_mem_alloc_pool(&req->pool, sizeof(*cells) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, (size_t)i);
        char field[48];
        long long sid = 0;
        snprintf(field, sizeof(field), "marks[%d].student_id", i);
        if (!json_is_object(it) ||
            req_int(req, it, "student_id", field, 1, INT64_MAX, "student_id is required", &sid) != 0) {
            if (!json_is_object(it))
                dn_api_invalid(req, field, "each item must be an object");
            json_decref(body);
            return;
        }
        cells[i].student_id = sid;
        json_t *v = json_object_get(it, "value");
        json_t *k = json_object_get(it, "kind");
        if (json_is_null(v) || v == NULL)
            cells[i].value = 0;
        else if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 5)
            cells[i].value = (int)json_integer_value(v);
        else {
            snprintf(field, sizeof(field), "marks[%d].value", i);
            json_decref(body);
            dn_api_invalid(req, field, "оценка должна быть от 1 до 5 (или null, чтобы удалить)");
            return;
        }
        if (k != NULL && !json_is_null(k) && !json_is_string(k)) {
            snprintf(field, sizeof(field), "marks[%d].kind", i);
            json_decref(body);
            dn_api_invalid(req, field, "must be a string");
            return;
        }
        cells[i].kind = json_is_string(k) ? dn_req_strdup(req, json_string_value(k), json_string_length(k)) : NULL;
    }
    json_decref(body);
    dn_jfail_t f = {0};
    int rc = dn_journal_marks_fill(req->db, p->user_id, allow_closed(req, p, l.school_id), &l, cells, n, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_lesson(req, l.id, 200);
}

static int mark_for(dn_req_t *req, const dn_principal_t *p, dn_mark_ctx_t *m)
{
    int64_t id = dn_api_path_id(req, "mark_id");
    if (id == 0)
        return -1;
    int rc = dn_journal_mark_load(req->db, id, m);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such mark");
        return -1;
    }
    return dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, m->school_id, m->class_id, m->subject_id, 0) ? -1 : 0;
}

static void mark_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_mark_ctx_t m;
    if (p == NULL || mark_for(req, p, &m) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    long long value = 0;
    const char *comment = NULL;
    int bad = 0;
    if (json_object_get(body, "value") != NULL)
        bad = req_int(req, body, "value", "value", 1, 5, "оценка должна быть от 1 до 5", &value);
    if (!bad)
        bad = dn_api_opt_string(req, body, "comment", &comment);
    json_decref(body);
    if (bad)
        return;
    dn_jfail_t f = {0};
    int rc = dn_journal_mark_update(req->db, p->user_id, allow_closed(req, p, m.school_id), m.id, (int)value, comment,
                                    &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, "no such mark");
        return;
    }
    respond_mark(req, m.id, 200);
}

static void mark_delete(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_mark_ctx_t m;
    if (p == NULL || mark_for(req, p, &m) != 0)
        return;
    dn_jfail_t f = {0};
    int rc = dn_journal_mark_delete(req->db, p->user_id, allow_closed(req, p, m.school_id), m.id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, "no such mark");
        return;
    }
    dn_res_json(req, 204, NULL);
}

static int checkpoint_for(dn_req_t *req, const dn_principal_t *p, dn_action_t act, dn_checkpoint_ctx_t *c)
{
    int64_t id = dn_api_path_id(req, "checkpoint_id");
    if (id == 0)
        return -1;
    int rc = dn_journal_checkpoint_load(req->db, id, c);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such checkpoint");
        return -1;
    }
    return dn_api_allow(req, p, act, c->school_id, c->class_id, act == DN_ACT_READ_CLASS ? 0 : c->subject_id, 0)
               ? -1
               : 0;
}

static void checkpoint_mark_post(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_checkpoint_ctx_t c;
    if (p == NULL || checkpoint_for(req, p, DN_ACT_WRITE_JOURNAL, &c) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    long long student = 0, value = 0;
    const char *comment = NULL;
    int bad = req_int(req, body, "student_id", "student_id", 1, INT64_MAX, "student_id is required", &student) ||
              req_int(req, body, "value", "value", 1, 5, "оценка должна быть от 1 до 5", &value) ||
              dn_api_opt_string(req, body, "comment", &comment);
    json_decref(body);
    if (bad)
        return;
    dn_jfail_t f = {0};
    int64_t mark_id = 0;
    int rc = dn_journal_checkpoint_mark_set(req->db, p->user_id, allow_closed(req, p, c.school_id), &c, student,
                                            (int)value, comment, 0, &mark_id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_mark(req, mark_id, 201);
}

/* ------------------------------------------------------------ attendance */

static void attendance_put(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_for(req, p, DN_ACT_WRITE_JOURNAL, &l) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *arr = json_object_get(body, "items");
    if (!json_is_array(arr) || json_array_size(arr) > 200) {
        json_decref(body);
        dn_api_invalid(req, "items", "an array of at most 200 {student_id, status} is required");
        return;
    }
    int n = (int)json_array_size(arr);
    dn_attendance_item_t *items = h2o_mem_alloc_pool(&req->pool, sizeof(*items) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, (size_t)i);
        json_t *sid = json_object_get(it, "student_id"), *st = json_object_get(it, "status");
        char field[48];
        if (!json_is_integer(sid) || json_integer_value(sid) <= 0) {
            snprintf(field, sizeof(field), "items[%d].student_id", i);
            json_decref(body);
            dn_api_invalid(req, field, "student_id is required");
            return;
        }
        items[i].student_id = json_integer_value(sid);
        items[i].status = json_is_string(st) ? dn_req_strdup(req, json_string_value(st), json_string_length(st)) : "";
    }
    json_decref(body);
    dn_jfail_t f = {0};
    int rc = dn_journal_attendance_set(req->db, p->user_id, allow_closed(req, p, l.school_id), &l, items, n, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_lesson(req, l.id, 200);
}

/* ------------------------------------------------------------ term marks, terms */

static dn_query_t q_subject_school = {"SELECT school_id FROM subjects WHERE id = ?"};

/* {class_id} and {subject_id} of one school, else 404. */
static int class_subject(dn_req_t *req, int64_t *school, int64_t *class_id, int64_t *subject_id)
{
    *class_id = dn_api_path_id(req, "class_id");
    if (*class_id == 0)
        return -1;
    *subject_id = dn_api_path_id(req, "subject_id");
    if (*subject_id == 0)
        return -1;
    int rc = dn_access_class_school(req->db, *class_id, school);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such class");
        return -1;
    }
    dn_stmt_t *st = dn_db_prepare(req->db, &q_subject_school);
    if (st == NULL) {
        dn_res_error(req, DN_EDB, NULL);
        return -1;
    }
    dn_stmt_bind_int64(st, 1, *subject_id);
    rc = dn_stmt_step(st);
    if (rc < 0) {
        dn_res_error(req, rc, NULL);
        return -1;
    }
    int same = rc == DN_DB_ROW && dn_stmt_int64(st, 0) == *school;
    dn_stmt_finish(st);
    if (!same) {
        dn_res_problem(req, 404, NULL, "no such subject");
        return -1;
    }
    return 0;
}

static void term_marks_put(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t school, class_id, subject_id;
    if (p == NULL || class_subject(req, &school, &class_id, &subject_id) != 0 ||
        dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, school, class_id, subject_id, 0) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    long long year = 0, period = 0;
    json_t *arr = json_object_get(body, "items");
    if (req_int(req, body, "year_start", "year_start", 2000, 2100, "year_start must be a year such as 2026", &year) ||
        req_int(req, body, "period", "period", 0, 4, "period must be 1..4 (a term) or 0 (the year)", &period)) {
        json_decref(body);
        return;
    }
    if (!json_is_array(arr) || json_array_size(arr) > 200) {
        json_decref(body);
        dn_api_invalid(req, "items", "an array of at most 200 {student_id, value|null} is required");
        return;
    }
    int n = (int)json_array_size(arr);
    dn_term_mark_item_t *items = h2o_mem_alloc_pool(&req->pool, sizeof(*items) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, (size_t)i);
        json_t *sid = json_object_get(it, "student_id"), *v = json_object_get(it, "value");
        char field[48];
        if (!json_is_integer(sid) || json_integer_value(sid) <= 0) {
            snprintf(field, sizeof(field), "items[%d].student_id", i);
            json_decref(body);
            dn_api_invalid(req, field, "student_id is required");
            return;
        }
        if (!(v == NULL || json_is_null(v)) &&
            !(json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 5)) {
            snprintf(field, sizeof(field), "items[%d].value", i);
            json_decref(body);
            dn_api_invalid(req, field, "оценка должна быть от 1 до 5 (или null, чтобы удалить)");
            return;
        }
        items[i].student_id = json_integer_value(sid);
        items[i].value = json_is_integer(v) ? (int)json_integer_value(v) : 0;
    }
    json_decref(body);
    dn_jfail_t f = {0};
    int rc = dn_journal_term_marks_set(req->db, p->user_id, allow_closed(req, p, school), school, class_id, subject_id,
                                       (int)year, (int)period, items, n, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    json_t *out = NULL;
    rc = dn_journal_term_marks_get(req->db, school, class_id, subject_id, (int)year, (int)period, &out);
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        dn_res_json_fixed(req, 200, out);
}

static void term_marks_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t school, class_id, subject_id;
    if (p == NULL || class_subject(req, &school, &class_id, &subject_id) != 0 ||
        dn_api_allow(req, p, DN_ACT_READ_JOURNAL, school, class_id, subject_id, 0) != 0)
        return;
    const char *ys = dn_req_query(req, "year_start"), *ps = dn_req_query(req, "period");
    char *end;
    long year = ys ? strtol(ys, &end, 10) : 0;
    if (ys == NULL || *ys == '\0' || *end != '\0' || year < 2000 || year > 2100) {
        dn_api_invalid(req, "year_start", "year_start must be a year such as 2026");
        return;
    }
    long period = ps ? strtol(ps, &end, 10) : -1;
    if (ps == NULL || *ps == '\0' || *end != '\0' || period < 0 || period > 4) {
        dn_api_invalid(req, "period", "period must be 1..4 (a term) or 0 (the year)");
        return;
    }
    json_t *out = NULL;
    int rc = dn_journal_term_marks_get(req->db, school, class_id, subject_id, (int)year, (int)period, &out);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term in that year");
    else
        dn_res_json_etag(req, out);
}

static void term_close_common(dn_req_t *req, int closed)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t id = dn_api_path_id(req, "term_id"), school = 0;
    if (id == 0)
        return;
    int rc = dn_journal_term_school(req->db, id, &school);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_ADMIN_SCHOOL, school, 0, 0, 0) != 0)
        return;
    json_t *out = NULL;
    rc = dn_journal_term_set_closed(req->db, p->user_id, id, closed, &out);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term");
    else
        dn_res_json(req, 200, out);
}

static void term_close(dn_req_t *req)
{
    term_close_common(req, 1);
}

static void term_reopen(dn_req_t *req)
{
    term_close_common(req, 0);
}

/* ------------------------------------------------------------ audit */

static void audit_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    const char *entity = dn_req_query(req, "entity");
    if (entity == NULL || strcmp(entity, "mark") != 0) {
        dn_api_invalid(req, "entity", "entity=mark is the supported history");
        return;
    }
    int64_t lesson_id, checkpoint_id, student_id;
    if (dn_api_query_id(req, "lesson_id", &lesson_id) || dn_api_query_id(req, "checkpoint_id", &checkpoint_id) ||
        dn_api_query_id(req, "student_id", &student_id))
        return;
    if (student_id == 0 || (lesson_id == 0) == (checkpoint_id == 0)) {
        dn_api_invalid(req, student_id == 0 ? "student_id" : "lesson_id",
                        "student_id and exactly one of lesson_id, checkpoint_id are required");
        return;
    }
    int64_t school, class_id, subject_id;
    int rc;
    if (lesson_id) {
        dn_lesson_ctx_t l;
        rc = dn_journal_lesson_load(req->db, lesson_id, &l);
        school = l.school_id, class_id = l.class_id, subject_id = l.subject_id;
    } else {
        dn_checkpoint_ctx_t c;
        rc = dn_journal_checkpoint_load(req->db, checkpoint_id, &c);
        school = c.school_id, class_id = c.class_id, subject_id = c.subject_id;
    }
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, lesson_id ? "no such lesson" : "no such checkpoint");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, school, class_id, subject_id, 0) != 0)
        return;
    json_t *items = dn_journal_audit_mark(req->db, lesson_id, checkpoint_id, student_id);
    if (items == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json(req, 200, json_pack("{s:o}", "items", items));
}

/* ------------------------------------------------------------ checkpoints */

static int checkpoint_input(dn_req_t *req, json_t *body, dn_checkpoint_input_t *in)
{
    memset(in, 0, sizeof(*in));
    if (dn_api_opt_string(req, body, "kind", &in->kind) || dn_api_opt_string(req, body, "title", &in->title) ||
        dn_api_opt_string(req, body, "description", &in->description) ||
        dn_api_opt_string(req, body, "due_date", &in->due_date))
        return -1;
    json_t *w = json_object_get(body, "weight"), *l = json_object_get(body, "lesson_id");
    if (w != NULL && !json_is_null(w)) {
        if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 10) {
            dn_api_invalid(req, "weight", "weight must be an integer 1..10");
            return -1;
        }
        in->weight = (int)json_integer_value(w);
    }
    if (l != NULL && !json_is_null(l)) {
        if (!json_is_integer(l) || json_integer_value(l) <= 0) {
            dn_api_invalid(req, "lesson_id", "lesson_id must be a lesson id");
            return -1;
        }
        in->lesson_id = json_integer_value(l);
    }
    return 0;
}

static void respond_checkpoint(dn_req_t *req, int64_t id, int status)
{
    json_t *o = dn_journal_checkpoint_json(req->db, id);
    if (o == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json(req, status, o);
}

static void checkpoint_post(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t school, class_id, subject_id;
    if (p == NULL || class_subject(req, &school, &class_id, &subject_id) != 0 ||
        dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, school, class_id, subject_id, 0) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    dn_checkpoint_input_t in;
    int bad = checkpoint_input(req, body, &in);
    json_decref(body);
    if (bad)
        return;
    dn_jfail_t f = {0};
    int64_t id = 0;
    int rc = dn_journal_checkpoint_create(req->db, school, class_id, subject_id, p->user_id, &in, &id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_checkpoint(req, id, 201);
}

static void checkpoints_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t class_id = dn_api_path_id(req, "class_id"), school = 0, subject_id = 0;
    const char *from, *to;
    if (class_id == 0)
        return;
    int rc = dn_access_class_school(req->db, class_id, &school);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such class");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_READ_CLASS, school, class_id, 0, 0) != 0 ||
        dn_api_query_id(req, "subject_id", &subject_id) || dn_api_query_date(req, "from", &from) ||
        dn_api_query_date(req, "to", &to))
        return;
    json_t *items = dn_journal_checkpoints_list(req->db, class_id, subject_id, from, to);
    if (items == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, json_pack("{s:o}", "items", items));
}

static void checkpoint_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_checkpoint_ctx_t c;
    if (p == NULL || checkpoint_for(req, p, DN_ACT_READ_CLASS, &c) != 0)
        return;
    json_t *o = dn_journal_checkpoint_json(req->db, c.id);
    if (o == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, o);
}

static void checkpoint_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_checkpoint_ctx_t c;
    if (p == NULL || checkpoint_for(req, p, DN_ACT_WRITE_JOURNAL, &c) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    dn_checkpoint_input_t in;
    int bad = checkpoint_input(req, body, &in);
    json_decref(body);
    if (bad)
        return;
    dn_jfail_t f = {0};
    int rc = dn_journal_checkpoint_update(req->db, c.id, &in, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, "no such checkpoint");
        return;
    }
    respond_checkpoint(req, c.id, 200);
}

static void checkpoint_delete(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_checkpoint_ctx_t c;
    if (p == NULL || checkpoint_for(req, p, DN_ACT_WRITE_JOURNAL, &c) != 0)
        return;
    dn_jfail_t f = {0};
    int rc = dn_journal_checkpoint_delete(req->db, c.id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, "no such checkpoint");
        return;
    }
    dn_res_json(req, 204, NULL);
}

int dn_api_register_journal(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_GET, "/api/v1/lessons/{lesson_id}", lesson_get, DN_RUN_WORKER},
        {DN_PATCH, "/api/v1/lessons/{lesson_id}", lesson_patch, DN_RUN_WORKER},
        {DN_POST, "/api/v1/lessons/{lesson_id}/marks", mark_post, DN_RUN_WORKER},
        {DN_PUT, "/api/v1/lessons/{lesson_id}/marks", marks_put, DN_RUN_WORKER},
        {DN_PUT, "/api/v1/lessons/{lesson_id}/attendance", attendance_put, DN_RUN_WORKER},
        {DN_PATCH, "/api/v1/marks/{mark_id}", mark_patch, DN_RUN_WORKER},
        {DN_DELETE, "/api/v1/marks/{mark_id}", mark_delete, DN_RUN_WORKER},
        {DN_POST, "/api/v1/checkpoints/{checkpoint_id}/marks", checkpoint_mark_post, DN_RUN_WORKER},
        {DN_PUT, "/api/v1/classes/{class_id}/subjects/{subject_id}/term-marks", term_marks_put, DN_RUN_WORKER},
        {DN_GET, "/api/v1/classes/{class_id}/subjects/{subject_id}/term-marks", term_marks_get, DN_RUN_WORKER},
        {DN_POST, "/api/v1/terms/{term_id}/close", term_close, DN_RUN_WORKER},
        {DN_POST, "/api/v1/terms/{term_id}/reopen", term_reopen, DN_RUN_WORKER},
        {DN_GET, "/api/v1/audit", audit_get, DN_RUN_WORKER},
        {DN_POST, "/api/v1/classes/{class_id}/subjects/{subject_id}/checkpoints", checkpoint_post, DN_RUN_WORKER},
        {DN_GET, "/api/v1/classes/{class_id}/checkpoints", checkpoints_list, DN_RUN_WORKER},
        {DN_GET, "/api/v1/checkpoints/{checkpoint_id}", checkpoint_get, DN_RUN_WORKER},
        {DN_PATCH, "/api/v1/checkpoints/{checkpoint_id}", checkpoint_patch, DN_RUN_WORKER},
        {DN_DELETE, "/api/v1/checkpoints/{checkpoint_id}", checkpoint_delete, DN_RUN_WORKER},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
