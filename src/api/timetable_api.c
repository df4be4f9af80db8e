/*
 * timetable_api.c - HTTP for class timetables and one-day lesson changes.
 *
 * PUT replaces a class's template for a period and regenerates its lessons
 * (school admin); GET shows the template valid at a date plus that week's
 * dated lessons with their changes (anyone who may read the class). Access
 * is always decided by dn_access_check on the class's school.
 */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/api.h"
#include "api/etag.h"
#include "auth/auth.h"
#include "core/error.h"
#include "domain/access.h"
#include "domain/school.h"
#include "domain/timetable.h"
#include "http/router.h"

static void reply(dn_req_t *req, int rc, int status, json_t **outp, json_t *errors)
{
    dn_api_reply(req, rc, status, outp, errors, "conflicts with the timetable", "that lesson slot is taken");
}

/* Access to a class for act; 1 when allowed, else answered. */
static int class_allowed(dn_req_t *req, const dn_principal_t *p, int64_t class_id, dn_action_t act)
{
    int64_t sid = 0;
    int rc = dn_access_class_school(req->db, class_id, &sid);
    if (rc == 0) {
        dn_resource_t res = {sid, class_id, 0, 0};
        rc = dn_access_check(req->db, p, act, &res);
    }
    if (rc == 0)
        return 1;
    dn_res_error(req, rc, rc == DN_ENOTFOUND ? "no such class" : NULL);
    return 0;
}

static void timetable_put(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || !class_allowed(req, p, cid, DN_ACT_ADMIN_SCHOOL))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int rc = dn_timetable_put(req->db, cid, json_string_value(json_object_get(body, "valid_from")),
                              json_string_value(json_object_get(body, "valid_to")), json_object_get(body, "slots"),
                              errors, &out);
    reply(req, rc, 200, &out, errors);
    json_decref(body);
}

static void timetable_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || !class_allowed(req, p, cid, DN_ACT_READ_CLASS))
        return;
    const char *date = dn_req_query(req, "date");
    char today[11];
    if (date == NULL || date[0] == '\0') {
        dn_date_format(dn_date_today_days(), today);
        date = today;
    }
    int64_t d;
    if (dn_date_parse(date, &d) < 0) {
        json_t *errors = json_array();
        dn_school_field_error(errors, "date", "must be a date YYYY-MM-DD");
        dn_res_problem_fields(req, 422, "the request has invalid fields", errors);
        return;
    }
    json_t *out = NULL;
    reply(req, dn_timetable_get(req->db, cid, date, &out), 200, &out, NULL);
}

static void lesson_change(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t lid, sid = 0, cid = 0;
    if (p == NULL || (lid = dn_api_path_id(req, "lesson_id")) == 0)
        return;
    int rc = dn_timetable_lesson_owner(req->db, lid, &sid, &cid);
    if (rc == 0) {
        dn_resource_t res = {sid, cid, 0, 0};
        rc = dn_access_check(req->db, p, DN_ACT_ADMIN_SCHOOL, &res);
    }
    if (rc < 0) {
        dn_res_error(req, rc, rc == DN_ENOTFOUND ? "no such lesson" : NULL);
        return;
    }
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    json_t *t = json_object_get(body, "teacher_id");
    rc = dn_timetable_lesson_change(req->db, lid, json_string_value(json_object_get(body, "kind")),
                                    json_is_integer(t) ? json_integer_value(t) : 0,
                                    json_string_value(json_object_get(body, "room")), errors, &out);
    reply(req, rc, 200, &out, errors);
    json_decref(body);
}

static void extra_lesson(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || !class_allowed(req, p, cid, DN_ACT_ADMIN_SCHOOL))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    json_t *no = json_object_get(body, "lesson_no"), *sub = json_object_get(body, "subject_id"),
           *t = json_object_get(body, "teacher_id");
    if (!json_is_integer(no))
        dn_school_field_error(errors, "lesson_no", "must be an integer 0..12");
    if (!json_is_integer(sub))
        dn_school_field_error(errors, "subject_id", "is required");
    if (!json_is_integer(t))
        dn_school_field_error(errors, "teacher_id", "is required");
    int rc = DN_EVALIDATION;
    if (json_array_size(errors) == 0)
        rc = dn_timetable_extra_lesson(req->db, cid, json_string_value(json_object_get(body, "date")),
                                       (int)json_integer_value(no), json_integer_value(sub), json_integer_value(t),
                                       json_string_value(json_object_get(body, "room")), errors, &out);
    reply(req, rc, 201, &out, errors);
    json_decref(body);
}

int dn_api_register_timetable(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_PUT, "/api/v1/classes/{class_id}/timetable", timetable_put, DN_RUN_WORKER, 256 * 1024},
        {DN_GET, "/api/v1/classes/{class_id}/timetable", timetable_get},
        {DN_POST, "/api/v1/lessons/{lesson_id}/change", lesson_change},
        {DN_POST, "/api/v1/classes/{class_id}/extra-lessons", extra_lesson},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
