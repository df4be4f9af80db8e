/*
 * school_api.c - HTTP for a school's set-up: regions, schools, terms,
 * holidays, subjects, classes, people, parent links, assignments, CSV import
 * and invite acceptance.
 *
 * Every handler authenticates, resolves the school a resource belongs to,
 * asks dn_access_check, then calls src/domain/school.c or import.c. Creating
 * or resetting a password spans three pools: validation on a store worker,
 * argon2id on the CPU pool, the write back on a store worker; the state
 * between steps lives in req->pool, hung on req->auth with the principal as
 * its first member (so req->auth still reads as the principal).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "api/api.h"
#include "api/etag.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "core/error.h"
#include "domain/access.h"
#include "domain/import.h"
#include "domain/school.h"
#include "http/router.h"
#include "http/server.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

/* ------------------------------------------------------------------ */
/* helpers                                                            */

/* 1 when allowed; otherwise answered (403/401/5xx) and 0. */
static int allowed(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school_id, int64_t class_id,
                   int64_t student_id)
{
    return dn_api_allow(req, p, act, school_id, class_id, 0, student_id) == 0;
}

/* String field: NULL when absent. Records an error for a wrong type / length. */
static const char *str_field(json_t *body, const char *key, int required, size_t max, json_t *errors)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            dn_school_field_error(errors, key, "is required");
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max || (required && json_string_length(v) == 0)) {
        char msg[80];
        snprintf(msg, sizeof(msg), "must be a %sstring of at most %zu bytes", required ? "non-empty " : "", max);
        dn_school_field_error(errors, key, msg);
        return NULL;
    }
    return json_string_value(v);
}

/* Integer field: 0 when absent (or recorded as an error when required / not an integer > 0). */
static int64_t int_field(json_t *body, const char *key, int required, json_t *errors)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            dn_school_field_error(errors, key, "is required");
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        dn_school_field_error(errors, key, "must be a positive integer");
        return 0;
    }
    return json_integer_value(v);
}

static int bad_input(dn_req_t *req, json_t *errors)
{
    if (json_array_size(errors) == 0)
        return 0;
    dn_res_problem_fields(req, 422, "the request has invalid fields", errors);
    return 1;
}

/* ------------------------------------------------------------------ */
/* regions and schools (sysadmin)                                     */

static void reply(dn_req_t *req, int rc, int status, json_t **outp, json_t *errors)
{
    dn_api_reply(req, rc, status, outp, errors, "conflicts with existing data", "already exists");
}

static void region_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL || !allowed(req, p, DN_ACT_SYSADMIN, 0, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    const char *name = str_field(body, "name", 1, 200, errors);
    if (!bad_input(req, errors))
        reply(req, dn_school_region_create(req->db, name, &out), 201, &out, errors);
    json_decref(body);
}

static void region_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL || !allowed(req, p, DN_ACT_SYSADMIN, 0, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_region_list(req->db, &out), 200, &out, NULL);
}

static void school_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL || !allowed(req, p, DN_ACT_SYSADMIN, 0, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int64_t region_id = int_field(body, "region_id", 1, errors);
    const char *name = str_field(body, "name", 1, 300, errors);
    const char *kind = str_field(body, "term_kind", 0, 16, errors);
    if (kind == NULL)
        kind = "quarter";
    if (strcmp(kind, "quarter") != 0 && strcmp(kind, "trimester") != 0)
        dn_school_field_error(errors, "term_kind", "must be \"quarter\" or \"trimester\"");
    if (!bad_input(req, errors)) {
        int rc = dn_school_create(req->db, region_id, name, kind, &out);
        if (rc == DN_ENOTFOUND) {
            dn_school_field_error(errors, "region_id", "no such region");
            rc = DN_EVALIDATION;
        }
        reply(req, rc, 201, &out, errors);
    }
    json_decref(body);
}

static void school_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL || !allowed(req, p, DN_ACT_SYSADMIN, 0, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_list(req->db, &out), 200, &out, NULL);
}

static void school_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_get(req->db, sid, &out), 200, &out, NULL);
}

/* ------------------------------------------------------------------ */
/* people with an initial password: store -> CPU (argon2id) -> store  */

enum { PW_CREATE = 1, PW_RESET, PW_INVITE };

typedef struct pending {
    dn_principal_t principal; /* first: req->auth keeps reading as the principal */
    int kind;
    int64_t school_id, user_id;
    unsigned roles;
    dn_person_t person;
    char login[72];
    char password[PASSWORD_MAX + 1];
    char hash[256];
    char *code;
} pending_t;

static void pw_finish(dn_req_t *req);

static void pw_hash(dn_req_t *req)
{
    pending_t *pd = req->auth;
    int rc = dn_password_hash(pd->password, pd->hash, sizeof(pd->hash));
    if (rc < 0) {
        sodium_memzero(pd->password, sizeof(pd->password));
        dn_res_error(req, rc, NULL);
        return;
    }
    if (pd->kind == PW_INVITE)
        sodium_memzero(pd->password, sizeof(pd->password));
    dn_req_then(req, DN_POOL_STORE, pw_finish);
}

static void pw_finish(dn_req_t *req)
{
    pending_t *pd = req->auth;
    json_t *out = NULL;
    int rc;
    if (pd->kind == PW_CREATE) {
        rc = dn_db_begin_write(req->db);
        if (rc == 0)
            rc = dn_school_user_insert(req->db, pd->school_id, &pd->person, pd->roles, pd->hash, &pd->user_id);
        if (rc == 0)
            rc = dn_db_commit(req->db);
        if (rc < 0)
            dn_db_rollback(req->db);
        if (rc == 0)
            rc = dn_school_user_get(req->db, pd->school_id, pd->user_id, &out);
        if (rc == 0)
            json_object_set_new(out, "initial_password", json_string(pd->password));
        if (rc == DN_EEXIST) {
            json_t *errors = json_array();
            dn_school_field_error(errors, "login", "the login is already taken");
            sodium_memzero(pd->password, sizeof(pd->password));
            reply(req, DN_ECONFLICT, 409, NULL, errors);
            return;
        }
        reply(req, rc, 201, &out, NULL);
    } else if (pd->kind == PW_RESET) {
        rc = dn_school_user_set_password(req->db, pd->user_id, pd->hash, 1);
        if (rc == 0)
            out = json_pack("{s:I,s:s}", "id", (json_int_t)pd->user_id, "initial_password", pd->password);
        reply(req, rc, 200, &out, NULL);
    } else {
        rc = dn_school_invite_accept(req->db, pd->code, pd->user_id, pd->hash);
        if (rc == 0)
            out = json_pack("{s:I,s:s}", "id", (json_int_t)pd->user_id, "login", pd->login);
        reply(req, rc, 200, &out, NULL);
    }
    sodium_memzero(pd->password, sizeof(pd->password));
}

static pending_t *pending_new(dn_req_t *req, const dn_principal_t *p, int kind)
{
    pending_t *pd = h2o_mem_alloc_pool(&req->pool, sizeof(*pd));
    memset(pd, 0, sizeof(*pd));
    if (p != NULL)
        pd->principal = *p;
    pd->kind = kind;
    return pd;
}

/* Validate a person + roles from a body into pd; 1 when answered (bad input). */
static int person_from_body(dn_req_t *req, json_t *body, pending_t *pd, int roles_required)
{
    json_t *errors = json_array();
    const char *login = str_field(body, "login", 0, 64, errors);
    const char *last = str_field(body, "last_name", 1, 100, errors);
    const char *first = str_field(body, "first_name", 1, 100, errors);
    const char *middle = str_field(body, "middle_name", 0, 100, errors);
    dn_person_t person = {login, last ? last : "", first ? first : "", middle ? middle : ""};
    if (last && first)
        dn_school_person_validate(&person, 0, errors);
    json_t *roles = json_object_get(body, "roles");
    if (roles_required) {
        size_t i;
        json_t *r;
        if (!json_is_array(roles) || json_array_size(roles) == 0)
            dn_school_field_error(errors, "roles", "roles must be a non-empty array of teacher, student, parent, admin");
        json_array_foreach(roles, i, r)
        {
            int bit = dn_school_role_bit(json_string_value(r));
            if (bit == 0)
                dn_school_field_error(errors, "roles", "each role must be teacher, student, parent or admin");
            pd->roles |= (unsigned)bit;
        }
    }
    if (bad_input(req, errors))
        return 1;
    json_decref(errors);
    if (login != NULL && login[0]) {
        snprintf(pd->login, sizeof(pd->login), "%s", login);
    } else {
        const char *prefix = pd->roles & DN_SROLE_ADMIN     ? "a"
                             : pd->roles & DN_SROLE_TEACHER ? "t"
                             : pd->roles & DN_SROLE_PARENT  ? "p"
                                                            : "s";
        dn_school_random_login(prefix, pd->login, sizeof(pd->login));
    }
    pd->person.login = pd->login;
    pd->person.last_name = dn_req_strdup(req, person.last_name, strlen(person.last_name));
    pd->person.first_name = dn_req_strdup(req, person.first_name, strlen(person.first_name));
    pd->person.middle_name = dn_req_strdup(req, person.middle_name, strlen(person.middle_name));
    dn_school_random_secret(pd->password, 12);
    return 0;
}

static void start_create(dn_req_t *req, const dn_principal_t *p, int64_t school_id, unsigned fixed_roles)
{
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *out = NULL;
    int rc = dn_school_get(req->db, school_id, &out);
    json_decref(out);
    if (rc < 0) {
        json_decref(body);
        reply(req, rc, 0, NULL, NULL);
        return;
    }
    pending_t *pd = pending_new(req, p, PW_CREATE);
    pd->school_id = school_id;
    pd->roles = fixed_roles;
    if (person_from_body(req, body, pd, fixed_roles == 0)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    req->auth = pd;
    dn_req_then(req, DN_POOL_CPU, pw_hash);
}

static void school_admin_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_SYSADMIN, sid, 0, 0))
        return;
    start_create(req, p, sid, DN_SROLE_ADMIN);
}

static void user_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    start_create(req, p, sid, 0);
}

/* 1 when the caller administers a school the user belongs to (*school_id set); else answered. */
static int admin_of_user(dn_req_t *req, const dn_principal_t *p, int64_t user_id, int64_t *school_id)
{
    int64_t ids[16];
    int n = 0;
    int rc = dn_school_user_schools(req->db, user_id, ids, 16, &n);
    if (rc < 0) {
        dn_res_error(req, rc, NULL);
        return 0;
    }
    if (n == 0) {
        /* no school role: a sysadmin account (or none); only a sysadmin manages it */
        json_t *u = NULL;
        rc = dn_school_user_get(req->db, 0, user_id, &u);
        json_decref(u);
        if (rc < 0) {
            reply(req, rc, 0, NULL, NULL);
            return 0;
        }
        *school_id = 0;
        return allowed(req, p, DN_ACT_SYSADMIN, 0, 0, 0);
    }
    for (int i = 0; i < n; i++) {
        dn_resource_t res = {ids[i], 0, 0, 0};
        rc = dn_access_check(req->db, p, DN_ACT_ADMIN_SCHOOL, &res);
        if (rc == 0) {
            *school_id = ids[i];
            return 1;
        }
        if (rc != DN_EFORBIDDEN) {
            dn_res_error(req, rc, NULL);
            return 0;
        }
    }
    dn_res_error(req, DN_EFORBIDDEN, "you may not manage this user");
    return 0;
}

static void user_reset_password(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t uid, sid;
    if (p == NULL || (uid = dn_api_path_id(req, "user_id")) == 0 || !admin_of_user(req, p, uid, &sid))
        return;
    pending_t *pd = pending_new(req, p, PW_RESET);
    pd->user_id = uid;
    dn_school_random_secret(pd->password, 12);
    req->auth = pd;
    dn_req_then(req, DN_POOL_CPU, pw_hash);
}

static void user_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t uid, sid;
    if (p == NULL || (uid = dn_api_path_id(req, "user_id")) == 0 || !admin_of_user(req, p, uid, &sid))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    const char *last = str_field(body, "last_name", 0, 100, errors);
    const char *first = str_field(body, "first_name", 0, 100, errors);
    const char *middle = str_field(body, "middle_name", 0, 100, errors);
    if ((last && !last[0]) || (first && !first[0]))
        dn_school_field_error(errors, last && !last[0] ? "last_name" : "first_name", "must not be empty");
    json_t *bl = json_object_get(body, "blocked");
    int blocked = -1;
    if (bl != NULL && !json_is_boolean(bl))
        dn_school_field_error(errors, "blocked", "must be true or false");
    else if (bl != NULL)
        blocked = json_is_true(bl);
    if (blocked == 1 && uid == p->user_id)
        dn_school_field_error(errors, "blocked", "you cannot block yourself");
    if (!bad_input(req, errors)) {
        int rc = dn_school_user_update(req->db, uid, last, first, middle, blocked);
        if (rc == 0 && blocked == 1)
            dn_cluster_revoke_user(req->app, uid); /* every node refuses the user's tokens now (cluster.h) */
        if (rc == 0)
            rc = dn_school_user_get(req->db, sid, uid, &out);
        reply(req, rc, 200, &out, errors);
    }
    json_decref(body);
}

static void user_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    const char *role = dn_req_query(req, "role");
    const char *q = dn_req_query(req, "q");
    const char *lim = dn_req_query(req, "limit");
    const char *cur = dn_req_query(req, "cursor");
    json_t *errors = json_array(), *out = NULL;
    int64_t limit = lim ? dn_api_parse_id(lim) : 50;
    int64_t cursor = cur && cur[0] ? dn_api_parse_id(cur) : 0;
    if (limit < 1 || limit > 500)
        dn_school_field_error(errors, "limit", "limit must be 1..500");
    if (cur && cur[0] && cursor == 0)
        dn_school_field_error(errors, "cursor", "invalid cursor");
    if (role && role[0] && dn_school_role_bit(role) == 0)
        dn_school_field_error(errors, "role", "role must be teacher, student, parent or admin");
    if (q && strlen(q) > 100)
        dn_school_field_error(errors, "q", "q is at most 100 bytes");
    if (bad_input(req, errors))
        return;
    reply(req, dn_school_user_list(req->db, sid, role, q, (int)limit, cursor, &out), 200, &out, errors);
}

/* ------------------------------------------------------------------ */
/* invites                                                            */

static void invite_accept(dn_req_t *req)
{
    /* unauthenticated: the address limiter, and failed codes count like failed sign-ins */
    if (dn_auth_throttle_address(req) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array();
    const char *code = str_field(body, "code", 1, 64, errors);
    const char *pw = str_field(body, "new_password", 1, PASSWORD_MAX, errors);
    if (pw != NULL && strlen(pw) < PASSWORD_MIN)
        dn_school_field_error(errors, "new_password", "must be at least 8 characters");
    if (bad_input(req, errors)) {
        json_decref(body);
        return;
    }
    json_decref(errors);
    if (dn_auth_login_check(req, code) != 0) {
        json_decref(body);
        return;
    }
    pending_t *pd = pending_new(req, NULL, PW_INVITE);
    int rc = dn_school_invite_find(req->db, code, &pd->user_id, pd->login, sizeof(pd->login));
    if (rc == DN_ENOTFOUND)
        dn_auth_login_failed(req, code);
    if (rc < 0) {
        json_decref(body);
        dn_res_error(req, rc, rc == DN_ENOTFOUND ? "the invite code is invalid, used or expired" : NULL);
        return;
    }
    const char *login = str_field(body, "login", 0, 64, NULL);
    if (login != NULL && strcmp(login, pd->login) != 0) {
        json_decref(body);
        dn_res_error(req, DN_ENOTFOUND, "the invite code is invalid, used or expired");
        return;
    }
    pd->code = dn_req_strdup(req, code, strlen(code));
    snprintf(pd->password, sizeof(pd->password), "%s", pw);
    json_decref(body);
    /* an unauthenticated request: keep the auth slot for our state only */
    req->auth = pd;
    dn_req_then(req, DN_POOL_CPU, pw_hash);
}

/* ------------------------------------------------------------------ */
/* terms and holidays                                                 */

static void terms_put(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid, year;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || (year = dn_api_path_id(req, "year_start")) == 0 ||
        !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    if (year < 2000 || year > 2100)
        dn_school_field_error(errors, "year_start", "must be a year 2000..2100");
    if (!bad_input(req, errors)) {
        int rc = dn_school_terms_put(req->db, sid, (int)year, json_object_get(body, "terms"), errors, &out);
        if (rc == DN_ECONFLICT)
            dn_school_field_error(errors, "terms", "a term of this year is closed");
        reply(req, rc, 200, &out, errors);
    }
    json_decref(body);
}

static void terms_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    const char *y = dn_req_query(req, "year");
    long year = y && y[0] ? strtol(y, NULL, 10) : dn_school_current_year();
    if (year < 2000 || year > 2100) {
        json_t *errors = json_array();
        dn_school_field_error(errors, "year", "must be a year 2000..2100");
        bad_input(req, errors);
        return;
    }
    json_t *out = NULL;
    reply(req, dn_school_terms_get(req->db, sid, (int)year, &out), 200, &out, NULL);
}

static void holiday_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int rc = dn_school_holiday_create(req->db, sid, json_string_value(json_object_get(body, "name")),
                                      json_string_value(json_object_get(body, "starts_on")),
                                      json_string_value(json_object_get(body, "ends_on")), errors, &out);
    reply(req, rc, 201, &out, errors);
    json_decref(body);
}

static void holiday_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_holiday_list(req->db, sid, &out), 200, &out, NULL);
}

static void holiday_delete(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid, hid, owner = 0;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || (hid = dn_api_path_id(req, "holiday_id")) == 0 ||
        !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    int rc = dn_school_holiday_school(req->db, hid, &owner);
    if (rc == 0 && owner != sid)
        rc = DN_ENOTFOUND;
    if (rc == 0)
        rc = dn_school_holiday_delete(req->db, hid);
    reply(req, rc, 204, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* subjects                                                           */

static void subject_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    const char *name = str_field(body, "name", 1, 100, errors);
    if (!bad_input(req, errors))
        reply(req, dn_school_subject_create(req->db, sid, name, &out), 201, &out, errors);
    json_decref(body);
}

static void subject_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_subject_list(req->db, sid, &out), 200, &out, NULL);
}

/* Check admin access to an owned resource given its school lookup (rc, *school_id); 1 when allowed. */
static int admin_of(dn_req_t *req, const dn_principal_t *p, int rc, const int64_t *school_id)
{
    if (rc < 0) {
        reply(req, rc, 0, NULL, NULL);
        return 0;
    }
    return allowed(req, p, DN_ACT_ADMIN_SCHOOL, *school_id, 0, 0);
}

static void subject_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t id, sid = 0;
    if (p == NULL || (id = dn_api_path_id(req, "subject_id")) == 0 ||
        !admin_of(req, p, dn_school_subject_school(req->db, id, &sid), &sid))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    const char *name = str_field(body, "name", 1, 100, errors);
    if (!bad_input(req, errors))
        reply(req, dn_school_subject_rename(req->db, id, name, &out), 200, &out, errors);
    json_decref(body);
}

static void subject_delete(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t id, sid = 0;
    if (p == NULL || (id = dn_api_path_id(req, "subject_id")) == 0 ||
        !admin_of(req, p, dn_school_subject_school(req->db, id, &sid), &sid))
        return;
    int rc = dn_school_subject_delete(req->db, id);
    if (rc == DN_ECONFLICT) {
        dn_res_problem(req, 409, NULL, "the subject is in use (assignments, timetable or lessons)");
        return;
    }
    reply(req, rc, 204, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* classes                                                            */

static void class_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int64_t start_year = int_field(body, "start_year", 0, errors);
    int64_t grade = int_field(body, "grade", 0, errors);
    const char *letter = str_field(body, "letter", 1, 8, errors);
    int64_t teacher = int_field(body, "class_teacher_id", 0, errors);
    if (start_year == 0 && grade == 0 && json_array_size(errors) == 0)
        dn_school_field_error(errors, "start_year", "give start_year or grade");
    if (grade != 0 && (grade < 1 || grade > 11))
        dn_school_field_error(errors, "grade", "grade must be 1..11");
    if (start_year != 0 && (start_year < 1990 || start_year > 2100))
        dn_school_field_error(errors, "start_year", "start_year must be 1990..2100");
    if (start_year == 0)
        start_year = dn_class_start_year((int)grade, dn_school_current_year());
    if (!bad_input(req, errors))
        reply(req, dn_school_class_create(req->db, sid, (int)start_year, letter, teacher, errors, &out), 201, &out,
              errors);
    json_decref(body);
}

static void class_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    json_t *out = NULL;
    reply(req, dn_school_class_list(req->db, sid, &out), 200, &out, NULL);
}

/* The class's school after an access check for act; 0 when answered. */
static int64_t class_access(dn_req_t *req, const dn_principal_t *p, int64_t class_id, dn_action_t act)
{
    int64_t sid = 0;
    int rc = dn_access_class_school(req->db, class_id, &sid);
    if (rc < 0) {
        reply(req, rc, 0, NULL, NULL);
        return 0;
    }
    return allowed(req, p, act, sid, class_id, 0) ? sid : 0;
}

static void class_get(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || class_access(req, p, cid, DN_ACT_READ_CLASS) == 0)
        return;
    json_t *out = NULL;
    reply(req, dn_school_class_get(req->db, cid, &out), 200, &out, NULL);
}

static void class_patch(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || class_access(req, p, cid, DN_ACT_ADMIN_SCHOOL) == 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int64_t start_year = int_field(body, "start_year", 0, errors);
    const char *letter = str_field(body, "letter", 0, 8, errors);
    json_t *ct = json_object_get(body, "class_teacher_id");
    int64_t teacher = 0;
    if (ct != NULL && json_is_null(ct))
        teacher = -1; /* remove */
    else if (ct != NULL)
        teacher = int_field(body, "class_teacher_id", 0, errors);
    if (!bad_input(req, errors))
        reply(req, dn_school_class_update(req->db, cid, (int)start_year, letter, teacher, errors, &out), 200, &out,
              errors);
    json_decref(body);
}

static void class_students(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || class_access(req, p, cid, DN_ACT_READ_CLASS) == 0)
        return;
    json_t *out = NULL;
    reply(req, dn_school_class_students(req->db, cid, &out), 200, &out, NULL);
}

static void class_enrol(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t cid;
    if (p == NULL || (cid = dn_api_path_id(req, "class_id")) == 0 || class_access(req, p, cid, DN_ACT_ADMIN_SCHOOL) == 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int64_t student = int_field(body, "student_id", 1, errors);
    const char *from = str_field(body, "from_date", 1, 10, errors);
    if (!bad_input(req, errors)) {
        int rc = dn_school_class_enrol(req->db, cid, student, from, errors);
        if (rc == 0)
            rc = dn_school_student_history(req->db, student, &out);
        if (rc == DN_ECONFLICT)
            dn_school_field_error(errors, "from_date", "the student already has a membership from this date on");
        reply(req, rc, 201, &out, errors);
    }
    json_decref(body);
}

static void student_history(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t uid;
    if (p == NULL || (uid = dn_api_path_id(req, "student_id")) == 0)
        return;
    int64_t ids[16];
    int n = 0, rc = dn_school_user_schools(req->db, uid, ids, 16, &n);
    if (rc < 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    if (n == 0) {
        dn_res_problem(req, 404, NULL, "no such student");
        return;
    }
    for (int i = 0; i < n; i++) {
        dn_resource_t res = {ids[i], 0, 0, uid};
        rc = dn_access_check(req->db, p, DN_ACT_READ_STUDENT, &res);
        if (rc == 0)
            break;
    }
    if (rc < 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    json_t *out = NULL;
    reply(req, dn_school_student_history(req->db, uid, &out), 200, &out, NULL);
}

/* ------------------------------------------------------------------ */
/* parent links and assignments                                       */

static void parent_link_change(dn_req_t *req, int link)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t parent, student;
    if (p == NULL || (parent = dn_api_path_id(req, "parent_id")) == 0 || (student = dn_api_path_id(req, "student_id")) == 0)
        return;
    int64_t ids[16];
    int n = 0, rc = dn_school_user_schools(req->db, student, ids, 16, &n);
    if (rc < 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    int64_t sid = 0;
    for (int i = 0; i < n && sid == 0; i++) {
        if (dn_school_user_has_role(req->db, student, ids[i], "student") != 1)
            continue;
        dn_resource_t res = {ids[i], 0, 0, 0};
        if (dn_access_check(req->db, p, DN_ACT_ADMIN_SCHOOL, &res) == 0)
            sid = ids[i];
    }
    if (sid == 0) {
        if (n == 0)
            dn_res_problem(req, 404, NULL, "no such student");
        else
            dn_res_error(req, DN_EFORBIDDEN, "you may not manage this student");
        return;
    }
    if (link) {
        rc = dn_school_user_has_role(req->db, parent, sid, "parent");
        if (rc == 0) {
            json_t *errors = json_array();
            dn_school_field_error(errors, "parent_id", "not a parent of this school");
            reply(req, DN_EVALIDATION, 0, NULL, errors);
            return;
        }
        if (rc > 0)
            rc = dn_school_parent_link(req->db, parent, student);
        json_t *out = rc == 0 ? json_pack("{s:I,s:I}", "parent_id", (json_int_t)parent, "student_id",
                                          (json_int_t)student)
                              : NULL;
        reply(req, rc, 201, &out, NULL);
    } else {
        reply(req, dn_school_parent_unlink(req->db, parent, student), 204, NULL, NULL);
    }
}

static void parent_link(dn_req_t *req)
{
    parent_link_change(req, 1);
}

static void parent_unlink(dn_req_t *req)
{
    parent_link_change(req, 0);
}

static void assignment_create(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array(), *out = NULL;
    int64_t teacher = int_field(body, "teacher_id", 1, errors);
    int64_t cls = int_field(body, "class_id", 1, errors);
    int64_t subject = int_field(body, "subject_id", 1, errors);
    const char *subgroup = str_field(body, "subgroup", 0, 32, errors);
    if (!bad_input(req, errors))
        reply(req, dn_school_assignment_create(req->db, sid, teacher, cls, subject, subgroup, errors, &out), 201,
              &out, errors);
    json_decref(body);
}

static void assignment_list(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_READ_SCHOOL, sid, 0, 0))
        return;
    int64_t class_id = 0, teacher_id = 0;
    if (dn_api_query_id(req, "class_id", &class_id) != 0 || dn_api_query_id(req, "teacher_id", &teacher_id) != 0)
        return;
    json_t *out = NULL;
    reply(req, dn_school_assignment_list(req->db, sid, class_id, teacher_id, &out), 200, &out, NULL);
}

static void assignment_delete(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t id, sid = 0;
    if (p == NULL || (id = dn_api_path_id(req, "assignment_id")) == 0 ||
        !admin_of(req, p, dn_school_assignment_school(req->db, id, &sid), &sid))
        return;
    int rc = dn_school_assignment_delete(req->db, id);
    if (rc == DN_ECONFLICT) {
        dn_res_problem(req, 409, NULL, "the assignment is in use by the timetable");
        return;
    }
    reply(req, rc, 204, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* CSV import                                                         */

static void import_csv(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    int64_t sid;
    if (p == NULL || (sid = dn_api_path_id(req, "school_id")) == 0 || !allowed(req, p, DN_ACT_ADMIN_SCHOOL, sid, 0, 0))
        return;
    if (req->content_type != NULL && strncasecmp(req->content_type, "text/csv", 8) != 0 &&
        strncasecmp(req->content_type, "text/plain", 10) != 0) {
        dn_res_problem(req, 415, NULL, "the request body must be text/csv");
        return;
    }
    /* anything but an explicit yes or no is an error: a typo must not import for real */
    const char *dry = dn_req_query(req, "dry_run");
    int dry_run = dry != NULL && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    if (dry != NULL && !dry_run && strcmp(dry, "0") != 0 && strcmp(dry, "false") != 0) {
        dn_api_invalid(req, "dry_run", "dry_run must be 1, true, 0 or false");
        return;
    }
    json_t *out = NULL;
    int rc = dn_school_get(req->db, sid, &out);
    json_decref(out);
    out = NULL;
    if (rc < 0) {
        reply(req, rc, 0, NULL, NULL);
        return;
    }
    json_t *errors = json_array();
    rc = dn_import_run(req->db, sid, req->body.base ? req->body.base : "", req->body.len, dry_run, errors, &out);
    if (rc == DN_ECONFLICT)
        dn_school_field_error(errors, "login", "a login was taken while importing; run the import again");
    reply(req, rc, dry_run ? 200 : 201, &out, errors);
}

/* ------------------------------------------------------------------ */

int dn_api_register_school(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_POST, "/api/v1/regions", region_create},
        {DN_GET, "/api/v1/regions", region_list},
        {DN_POST, "/api/v1/schools", school_create},
        {DN_GET, "/api/v1/schools", school_list},
        {DN_GET, "/api/v1/schools/{school_id}", school_get},
        {DN_POST, "/api/v1/schools/{school_id}/admins", school_admin_create},
        {DN_PUT, "/api/v1/schools/{school_id}/terms/{year_start}", terms_put},
        {DN_GET, "/api/v1/schools/{school_id}/terms", terms_get},
        {DN_POST, "/api/v1/schools/{school_id}/holidays", holiday_create},
        {DN_GET, "/api/v1/schools/{school_id}/holidays", holiday_list},
        {DN_DELETE, "/api/v1/schools/{school_id}/holidays/{holiday_id}", holiday_delete},
        {DN_POST, "/api/v1/schools/{school_id}/subjects", subject_create},
        {DN_GET, "/api/v1/schools/{school_id}/subjects", subject_list},
        {DN_PATCH, "/api/v1/subjects/{subject_id}", subject_patch},
        {DN_DELETE, "/api/v1/subjects/{subject_id}", subject_delete},
        {DN_POST, "/api/v1/schools/{school_id}/classes", class_create},
        {DN_GET, "/api/v1/schools/{school_id}/classes", class_list},
        {DN_GET, "/api/v1/classes/{class_id}", class_get},
        {DN_PATCH, "/api/v1/classes/{class_id}", class_patch},
        {DN_GET, "/api/v1/classes/{class_id}/students", class_students},
        {DN_POST, "/api/v1/classes/{class_id}/students", class_enrol},
        {DN_GET, "/api/v1/students/{student_id}/history", student_history},
        {DN_POST, "/api/v1/schools/{school_id}/users", user_create},
        {DN_GET, "/api/v1/schools/{school_id}/users", user_list},
        {DN_PATCH, "/api/v1/users/{user_id}", user_patch},
        {DN_POST, "/api/v1/users/{user_id}/reset-password", user_reset_password},
        {DN_POST, "/api/v1/parents/{parent_id}/children/{student_id}", parent_link},
        {DN_DELETE, "/api/v1/parents/{parent_id}/children/{student_id}", parent_unlink},
        {DN_POST, "/api/v1/schools/{school_id}/assignments", assignment_create},
        {DN_GET, "/api/v1/schools/{school_id}/assignments", assignment_list},
        {DN_DELETE, "/api/v1/assignments/{assignment_id}", assignment_delete},
        {DN_POST, "/api/v1/schools/{school_id}/import", import_csv, DN_RUN_WORKER, 5 * 1024 * 1024},
        {DN_POST, "/api/v1/invites/accept", invite_accept, DN_RUN_WORKER, 16 * 1024},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
