/*
 * works_api.c - students hand in work for checkpoints; teachers read,
 * comment and mark it.
 *
 * Who: the student themself submits (SUBMIT_WORK); a work is read by whoever
 * may read the student (READ_STUDENT: the student, parents, class teacher,
 * admins) or the journal of its class+subject (READ_JOURNAL: its teacher);
 * comments come from the owner (SUBMIT_WORK on their own work) or the
 * teacher (WRITE_JOURNAL); marks from the teacher only.
 */
#include <string.h>

#include "api/api.h"
#include "api/etag.h"
#include "api/journal_api.h"
#include "core/error.h"
#include "domain/files.h"
#include "domain/works.h"

#define MAX_TEXT 20000
#define MAX_FILES 20
#define MAX_FILE_REF 500

static void respond_work(dn_req_t *req, int64_t work_id, int status)
{
    json_t *w = dn_works_json(req->db, work_id);
    if (w == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json(req, status, w);
}

/* Required non-empty text member, copied to the pool. */
static const char *body_text(dn_req_t *req, json_t *body)
{
    const char *text = NULL;
    if (dn_api_opt_string(req, body, "text", &text) != 0)
        return NULL;
    if (text == NULL || text[0] == '\0' || strlen(text) > MAX_TEXT) {
        dn_api_invalid(req, "text", "text is required (1..20000 characters)");
        return NULL;
    }
    return text;
}

static void work_submit(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t cp_id = dn_api_path_id(req, "checkpoint_id");
    if (cp_id == 0)
        return;
    dn_checkpoint_ctx_t c;
    int rc = dn_journal_checkpoint_load(req->db, cp_id, &c);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such checkpoint");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_SUBMIT_WORK, c.school_id, c.class_id, 0, p->user_id) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    const char *text = body_text(req, body);
    json_t *files = json_object_get(body, "files");
    if (text == NULL) {
        json_decref(body);
        return;
    }
    if (files != NULL && !json_is_null(files)) {
        size_t i;
        json_t *f;
        int ok = json_is_array(files) && json_array_size(files) <= MAX_FILES;
        json_array_foreach(files, i, f) ok = ok && ((json_is_string(f) && json_string_length(f) > 0 &&
                                               json_string_length(f) <= MAX_FILE_REF) ||
                                              (json_is_integer(f) && json_integer_value(f) > 0));
        if (!ok) {
            json_decref(body);
            dn_api_invalid(req, "files", "files must be an array of at most 20 file references (strings or uploaded file ids)");
            return;
        }
        int64_t bad = 0;
        if ((rc = dn_files_check_refs(req->db, p->user_id, files, &bad)) != 0) {
            json_decref(body);
            if (rc == DN_EVALIDATION)
                dn_api_invalid(req, "files", "an integer reference must be the id of a file you uploaded (not purged)");
            else
                dn_res_error(req, rc, NULL);
            return;
        }
    } else {
        files = NULL;
    }
    int64_t work_id = 0;
    int created = 0;
    rc = dn_works_submit(req->db, c.school_id, c.id, p->user_id, text, files, &work_id, &created);
    json_decref(body);
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    /* a resubmission creates a new version: 201 either way */
    respond_work(req, work_id, 201);
}

static int work_for(dn_req_t *req, dn_work_ctx_t *w)
{
    int64_t id = dn_api_path_id(req, "work_id");
    if (id == 0)
        return -1;
    int rc = dn_works_load(req->db, id, w);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such work");
        return -1;
    }
    return 0;
}

static void work_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_work_ctx_t w;
    if (p == NULL || work_for(req, &w) != 0)
        return;
    if (!dn_api_can(req, p, DN_ACT_READ_STUDENT, w.school_id, 0, 0, w.student_id) &&
        dn_api_allow(req, p, DN_ACT_READ_JOURNAL, w.school_id, w.class_id, w.subject_id, 0) != 0)
        return;
    json_t *o = dn_works_json(req->db, w.id);
    if (o == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, o);
}

static void works_of_checkpoint(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t cp_id = dn_api_path_id(req, "checkpoint_id");
    if (cp_id == 0)
        return;
    dn_checkpoint_ctx_t c;
    int rc = dn_journal_checkpoint_load(req->db, cp_id, &c);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such checkpoint");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_READ_JOURNAL, c.school_id, c.class_id, c.subject_id, 0) != 0)
        return;
    json_t *items = dn_works_list(req->db, c.id);
    if (items == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, json_pack("{s:o}", "items", items));
}

static void work_comment(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_work_ctx_t w;
    if (p == NULL || work_for(req, &w) != 0)
        return;
    /* the owner (submitting for themself) or the teacher of the class+subject */
    if (!dn_api_can(req, p, DN_ACT_SUBMIT_WORK, w.school_id, w.class_id, 0, w.student_id) &&
        dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, w.school_id, w.class_id, w.subject_id, 0) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    const char *text = body_text(req, body);
    json_decref(body);
    if (text == NULL)
        return;
    int rc = dn_works_comment(req->db, w.school_id, w.id, p->user_id, text);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such work");
        return;
    }
    respond_work(req, w.id, 201);
}

static void work_mark(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_work_ctx_t w;
    if (p == NULL || work_for(req, &w) != 0 ||
        dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, w.school_id, w.class_id, w.subject_id, 0) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *v = json_object_get(body, "value");
    const char *comment = NULL;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5) {
        json_decref(body);
        dn_api_invalid(req, "value", "оценка должна быть от 1 до 5");
        return;
    }
    int value = (int)json_integer_value(v);
    int bad = dn_api_opt_string(req, body, "comment", &comment);
    json_decref(body);
    if (bad)
        return;
    dn_checkpoint_ctx_t c;
    int rc = dn_journal_checkpoint_load(req->db, w.checkpoint_id, &c);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such checkpoint");
        return;
    }
    dn_jfail_t f = {0};
    int64_t mark_id = 0;
    int closed_ok = dn_api_can(req, p, DN_ACT_OVERRIDE_CLOSED, c.school_id, 0, 0, 0);
    rc = dn_journal_checkpoint_mark_set(req->db, p->user_id, closed_ok, &c, w.student_id, value, comment, w.id,
                                        &mark_id, &f);
    if (rc != 0) {
        dn_japi_fail(req, rc, &f, NULL);
        return;
    }
    respond_work(req, w.id, 200);
}

int dn_api_register_works(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_POST, "/api/v1/checkpoints/{checkpoint_id}/works", work_submit, DN_RUN_WORKER},
        {DN_GET, "/api/v1/checkpoints/{checkpoint_id}/works", works_of_checkpoint, DN_RUN_WORKER},
        {DN_GET, "/api/v1/works/{work_id}", work_get, DN_RUN_READ},
        {DN_POST, "/api/v1/works/{work_id}/comments", work_comment, DN_RUN_WORKER},
        {DN_POST, "/api/v1/works/{work_id}/mark", work_mark, DN_RUN_WORKER},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
