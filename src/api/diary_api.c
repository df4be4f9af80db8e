/*
 * diary_api.c - the everyday pages: a student's week and marks, a class
 * journal of a subject, a teacher's lessons of the day.
 *
 * One request each, answered with an ETag (dn_res_json_etag) so a page that
 * did not change costs a 304. Access: READ_STUDENT for a student's pages
 * (the student, their parents, the class teacher, admins), READ_JOURNAL for
 * a class journal, READ_SCHOOL for each school of a teacher's own lessons.
 */
#include <string.h>

#include "api/api.h"
#include "api/etag.h"
#include "api/journal_api.h"
#include "core/error.h"
#include "domain/diary.h"

/* {student_id} → its school after READ_STUDENT; 0 when answered. */
static int64_t student_for(dn_req_t *req, const dn_principal_t *p, int64_t *student_id)
{
    int64_t school = 0, class_id = 0;
    *student_id = dn_api_path_id(req, "student_id");
    if (*student_id == 0)
        return 0;
    int rc = dn_diary_student_school(req->db, *student_id, &school, &class_id);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such student");
        return 0;
    }
    if (dn_api_allow(req, p, DN_ACT_READ_STUDENT, school, 0, 0, *student_id) != 0)
        return 0;
    return school;
}

static void student_week(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t student_id;
    const char *date;
    char today[11];
    if (p == NULL || student_for(req, p, &student_id) == 0 || dn_api_query_date(req, "date", &date) != 0)
        return;
    if (date == NULL) {
        dn_date_today(today);
        date = today;
    }
    json_t *out = NULL;
    int rc = dn_diary_week(req->db, student_id, date, &out);
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        dn_res_json_etag(req, out);
}

static void student_marks(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t student_id, term_id, school;
    if (p == NULL || (school = student_for(req, p, &student_id)) == 0 || dn_api_query_id(req, "term_id", &term_id))
        return;
    int rc = 0;
    if (term_id == 0 && (rc = dn_diary_current_term(req->db, school, &term_id)) != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "the school has no term yet");
        return;
    }
    json_t *out = NULL;
    rc = dn_diary_marks(req->db, student_id, school, term_id, &out);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term in the student's school");
    else
        dn_res_json_etag(req, out);
}

static void class_journal(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t class_id = dn_api_path_id(req, "class_id"), school = 0, subject_id = 0, term_id = 0;
    if (class_id == 0)
        return;
    int rc = dn_access_class_school(req->db, class_id, &school);
    if (rc != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such class");
        return;
    }
    if (dn_api_query_id(req, "subject_id", &subject_id) || dn_api_query_id(req, "term_id", &term_id))
        return;
    if (subject_id == 0) {
        dn_api_invalid(req, "subject_id", "subject_id is required");
        return;
    }
    if (dn_api_allow(req, p, DN_ACT_READ_JOURNAL, school, class_id, subject_id, 0) != 0)
        return;
    if (term_id == 0 && (rc = dn_diary_current_term(req->db, school, &term_id)) != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "the school has no term yet");
        return;
    }
    json_t *out = NULL;
    rc = dn_diary_class_journal(req->db, school, class_id, subject_id, term_id, &out);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term in the class's school");
    else
        dn_res_json_etag(req, out);
}

static void my_lessons(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    const char *date;
    char today[11];
    if (p == NULL || dn_api_query_date(req, "date", &date) != 0)
        return;
    if (date == NULL) {
        dn_date_today(today);
        date = today;
    }
    json_t *out = NULL;
    int rc = dn_diary_teacher_day(req->db, p->user_id, date, &out);
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    /* the caller's own lessons, kept only in schools where they still belong */
    json_t *items = json_object_get(out, "items"), *kept = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        int64_t school = json_integer_value(json_object_get(it, "school_id"));
        if (dn_api_can(req, p, DN_ACT_READ_SCHOOL, school, 0, 0, 0))
            json_array_append(kept, it);
    }
    json_object_set_new(out, "items", kept);
    dn_res_json_etag(req, out);
}

int dn_api_register_diary(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_GET, "/api/v1/students/{student_id}/week", student_week, DN_RUN_WORKER},
        {DN_GET, "/api/v1/students/{student_id}/marks", student_marks, DN_RUN_WORKER},
        {DN_GET, "/api/v1/classes/{class_id}/journal", class_journal, DN_RUN_WORKER},
        {DN_GET, "/api/v1/me/lessons", my_lessons, DN_RUN_WORKER},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
