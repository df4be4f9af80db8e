/*
 * diary_api.c - the everyday pages: a student's week and marks, a class
 * journal of a subject, a teacher's lessons of the day.
 *
 * One request each, written straight into req->pool (core/jsonw.h) and
 * answered with an ETag (dn_res_body_etag) so a page that did not change
 * costs a 304. Access: READ_STUDENT for a student's pages (the student, their
 * parents, the class teacher, admins), READ_JOURNAL for a class journal,
 * READ_SCHOOL for each school of a teacher's own lessons.
 *
 * The lookups every page starts with (a student's school and class, a
 * class's school, a school's current term, the term row) change rarely and go through the
 * hot-read cache (cache/cache.h); the HTTP glue invalidates it after every
 * write that may touch them.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/etag.h"
#include "api/journal_api.h"
#include "cache/cache.h"
#include "core/date.h"
#include "core/error.h"
#include "core/jsonw.h"
#include "domain/access.h"
#include "domain/diary.h"

/* Initial writer buffer: a week page is ~12 KB, a term journal more. */
#define PAGE_HINT 16384

/* ------------------------------------------------------------ cached lookups */

static int cached_student_school(dn_req_t *req, int64_t student_id, int64_t *school, int64_t *class_id)
{
    char scope[DN_CACHE_SCOPE_MAX];
    int64_t v[2];
    snprintf(scope, sizeof(scope), "student:%lld", (long long)student_id);
    if (dn_cache_get(req->app->cache, scope, "school", v, sizeof(v)) == (int)sizeof(v)) {
        *school = v[0], *class_id = v[1];
        return 0;
    }
    dn_cache_gen_t gen = dn_cache_gen(req->app->cache, scope);
    int rc = dn_diary_student_school(req->db, student_id, school, class_id);
    if (rc == 0) {
        v[0] = *school, v[1] = *class_id;
        dn_cache_put(req->app->cache, scope, "school", gen, v, sizeof(v));
    }
    return rc;
}

static int cached_class_school(dn_req_t *req, int64_t class_id, int64_t *school)
{
    char scope[DN_CACHE_SCOPE_MAX];
    snprintf(scope, sizeof(scope), "class:%lld", (long long)class_id);
    if (dn_cache_get(req->app->cache, scope, "school", school, sizeof(*school)) == (int)sizeof(*school))
        return 0;
    dn_cache_gen_t gen = dn_cache_gen(req->app->cache, scope);
    int rc = dn_access_class_school(req->db, class_id, school);
    if (rc == 0)
        dn_cache_put(req->app->cache, scope, "school", gen, school, sizeof(*school));
    return rc;
}

/* The current term depends on the date too: keyed by today. */
static int cached_current_term(dn_req_t *req, int64_t school, int64_t *term_id)
{
    char scope[DN_CACHE_SCOPE_MAX], key[24];
    snprintf(scope, sizeof(scope), "school:%lld", (long long)school);
    memcpy(key, "term:", 5);
    dn_date_today(key + 5);
    if (dn_cache_get(req->app->cache, scope, key, term_id, sizeof(*term_id)) == (int)sizeof(*term_id))
        return 0;
    dn_cache_gen_t gen = dn_cache_gen(req->app->cache, scope);
    int rc = dn_diary_current_term(req->db, school, term_id);
    if (rc == 0)
        dn_cache_put(req->app->cache, scope, key, gen, term_id, sizeof(*term_id));
    return rc;
}

static int cached_term(dn_req_t *req, int64_t term_id, dn_diary_term_t *t)
{
    char scope[DN_CACHE_SCOPE_MAX];
    snprintf(scope, sizeof(scope), "term:%lld", (long long)term_id);
    if (dn_cache_get(req->app->cache, scope, "row", t, sizeof(*t)) == (int)sizeof(*t))
        return 0;
    dn_cache_gen_t gen = dn_cache_gen(req->app->cache, scope);
    int rc = dn_diary_term(req->db, term_id, t);
    if (rc == 0)
        dn_cache_put(req->app->cache, scope, "row", gen, t, sizeof(*t));
    return rc;
}

/* Answer the page the writer holds. */
static void send_page(dn_req_t *req, dn_jsonw_t *w)
{
    size_t len;
    const char *body = dn_jsonw_data(w, &len);
    dn_res_body_etag(req, body, len);
}

/* {student_id} → its school after READ_STUDENT; 0 when answered. */
static int64_t student_for(dn_req_t *req, const dn_principal_t *p, int64_t *student_id)
{
    int64_t school = 0, class_id = 0;
    *student_id = dn_api_path_id(req, "student_id");
    if (*student_id == 0)
        return 0;
    int rc = cached_student_school(req, *student_id, &school, &class_id);
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
    dn_jsonw_t w;
    dn_jsonw_init(&w, &req->pool, PAGE_HINT);
    int rc = dn_diary_week(req->db, &w, student_id, date);
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        send_page(req, &w);
}

static void student_marks(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t student_id, term_id, school;
    if (p == NULL || (school = student_for(req, p, &student_id)) == 0 || dn_api_query_id(req, "term_id", &term_id))
        return;
    int rc = 0;
    if (term_id == 0 && (rc = cached_current_term(req, school, &term_id)) != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "the school has no term yet");
        return;
    }
    dn_diary_term_t term;
    dn_jsonw_t w;
    dn_jsonw_init(&w, &req->pool, PAGE_HINT);
    if ((rc = cached_term(req, term_id, &term)) == 0)
        rc = dn_diary_marks(req->db, &w, student_id, school, &term);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term in the student's school");
    else
        send_page(req, &w);
}

static void class_journal(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    int64_t class_id = dn_api_path_id(req, "class_id"), school = 0, subject_id = 0, term_id = 0;
    if (class_id == 0)
        return;
    int rc = cached_class_school(req, class_id, &school);
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
    if (term_id == 0 && (rc = cached_current_term(req, school, &term_id)) != 0) {
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "the school has no term yet");
        return;
    }
    dn_diary_term_t term;
    dn_jsonw_t w;
    dn_jsonw_init(&w, &req->pool, PAGE_HINT);
    if ((rc = cached_term(req, term_id, &term)) == 0)
        rc = dn_diary_class_journal(req->db, &w, school, class_id, subject_id, &term);
    if (rc != 0)
        dn_japi_fail(req, rc, &(dn_jfail_t){0}, "no such term in the class's school");
    else
        send_page(req, &w);
}

typedef struct {
    dn_req_t *req;
    const dn_principal_t *p;
} keep_ctx_t;

/* The caller's own lessons, kept only in schools where they still belong. */
static int keep_school(void *arg, int64_t school)
{
    keep_ctx_t *k = arg;
    return dn_api_can(k->req, k->p, DN_ACT_READ_SCHOOL, school, 0, 0, 0);
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
    dn_jsonw_t w;
    dn_jsonw_init(&w, &req->pool, PAGE_HINT / 4);
    int rc = dn_diary_teacher_day(req->db, &w, p->user_id, date, keep_school, &(keep_ctx_t){req, p});
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        send_page(req, &w);
}

int dn_api_register_diary(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_GET, "/api/v1/students/{student_id}/week", student_week, DN_RUN_READ},
        {DN_GET, "/api/v1/students/{student_id}/marks", student_marks, DN_RUN_READ},
        {DN_GET, "/api/v1/classes/{class_id}/journal", class_journal, DN_RUN_READ},
        {DN_GET, "/api/v1/me/lessons", my_lessons, DN_RUN_READ},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
