/* common.c - HTTP helpers shared by the API areas (see common.h). */
#include "api/common.h"

#include <stdlib.h>
#include <string.h>

#include "api/etag.h"
#include "core/date.h"
#include "core/error.h"

int64_t dn_api_parse_id(const char *s)
{
    /* digits only: strtoll alone would also take " 42" and "+42" (found by tests/fuzz/query_router.c) */
    if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 18)
        return 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v <= 0)
        return 0;
    return (int64_t)v;
}

int64_t dn_api_path_id(dn_req_t *req, const char *name)
{
    int64_t id = dn_api_parse_id(dn_req_param(req, name));
    if (id == 0)
        dn_res_problem(req, 404, NULL, "no such resource");
    return id;
}

void dn_api_invalid(dn_req_t *req, const char *field, const char *message)
{
    dn_res_problem_fields(req, 422, "validation failed", json_pack("[{s:s, s:s}]", "field", field, "message", message));
}

int dn_api_query_id(dn_req_t *req, const char *name, int64_t *out)
{
    const char *s = dn_req_query(req, name);
    *out = 0;
    if (s == NULL || *s == '\0')
        return 0;
    *out = dn_api_parse_id(s);
    if (*out == 0) {
        dn_api_invalid(req, name, "must be a positive integer id");
        return -1;
    }
    return 0;
}

int dn_api_query_date(dn_req_t *req, const char *name, const char **out)
{
    const char *s = dn_req_query(req, name);
    *out = NULL;
    if (s == NULL || *s == '\0')
        return 0;
    if (!dn_date_valid(s)) {
        dn_api_invalid(req, name, "must be a date YYYY-MM-DD");
        return -1;
    }
    *out = s;
    return 0;
}

int dn_api_allow(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
                 int64_t subject, int64_t student)
{
    dn_resource_t r = {.school_id = school, .class_id = class_id, .subject_id = subject, .student_id = student};
    int rc = dn_access_check(req->db, p, act, &r);
    if (rc == 0)
        return 0;
    dn_res_error(req, rc, rc == DN_EFORBIDDEN ? "you may not do this here" : NULL);
    return rc;
}

int dn_api_can(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
               int64_t subject, int64_t student)
{
    dn_resource_t r = {.school_id = school, .class_id = class_id, .subject_id = subject, .student_id = student};
    return dn_access_check(req->db, p, act, &r) == 0;
}

int dn_api_opt_string(dn_req_t *req, json_t *body, const char *field, const char **out)
{
    json_t *v = json_object_get(body, field);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        dn_api_invalid(req, field, "must be a string");
        return -1;
    }
    *out = dn_req_strdup(req, json_string_value(v), json_string_length(v));
    return 0;
}

void dn_api_reply(dn_req_t *req, int rc, int status, json_t **outp, json_t *errors, const char *conflict_title,
                  const char *exists_detail)
{
    json_t *out = outp != NULL ? *outp : NULL;
    if (rc == 0) {
        json_decref(errors);
        if (status == 200 && (req->method == DN_GET || req->method == DN_HEAD))
            dn_res_json_etag(req, out); /* reads revalidate cheaply with If-None-Match */
        else
            dn_res_json(req, status, out);
        return;
    }
    json_decref(out);
    if (rc == DN_EVALIDATION) {
        dn_res_problem_fields(req, 422, "the request has invalid fields", errors);
        return;
    }
    if (rc == DN_ECONFLICT && errors != NULL && json_array_size(errors) > 0) {
        dn_res_problem_fields(req, 409, conflict_title, errors);
        return;
    }
    json_decref(errors);
    const char *detail = rc == DN_EEXIST      ? exists_detail
                         : rc == DN_ENOTFOUND ? "no such resource"
                         : rc == DN_ECONFLICT ? conflict_title
                                              : NULL;
    dn_res_error(req, rc, detail);
}
