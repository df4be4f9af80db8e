/*
 * auth_api.c - sign-in, token refresh, sign-out, password change, /me.
 *
 * A sign-in spans three pools: the account is read on a store worker, the
 * argon2id verification runs on the CPU pool (never holding a store
 * connection), and the refresh token is written back on a store worker. The
 * state between the steps lives in req->pool, hung on req->auth. Unknown
 * logins are verified against a dummy hash so they cost the same time as a
 * wrong password and get the same 401; only a correct password reveals that
 * an account is blocked.
 */
#include <sodium.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/error.h"
#include "domain/school.h"
#include "http/router.h"
#include "http/server.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

typedef struct flow {
    char *login;
    char *password;     /* wiped as soon as it has been verified */
    char *new_password; /* password change only */
    const char *hash;
    char *new_hash;
    int64_t user_id;
    int found, blocked;
} flow_t;

static void add_error(json_t *errors, const char *field, const char *message)
{
    json_array_append_new(errors, json_pack("{s:s,s:s}", "field", field, "message", message));
}

/* A required non-empty string field, or NULL after recording why not. */
static const char *required_string(json_t *body, const char *field, json_t *errors)
{
    json_t *v = json_object_get(body, field);
    if (v == NULL || json_is_null(v)) {
        add_error(errors, field, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        add_error(errors, field, "must be a string");
        return NULL;
    }
    if (json_string_length(v) == 0) {
        add_error(errors, field, "must not be empty");
        return NULL;
    }
    if (json_string_length(v) > PASSWORD_MAX) {
        add_error(errors, field, "is too long");
        return NULL;
    }
    return json_string_value(v);
}

/* Answer 422 when errors is non-empty (stealing it); 0 when input was valid. */
static int reject_invalid(dn_req_t *req, json_t *errors)
{
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    dn_res_problem_fields(req, 422, "the request has invalid fields", errors);
    return DN_EVALIDATION;
}

static void wipe(char *s)
{
    if (s != NULL)
        sodium_memzero(s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* shaping                                                            */

static dn_query_t q_user = {
    "SELECT id, login, last_name, first_name, middle_name, email, must_change_password FROM users WHERE id = ?"};
static dn_query_t q_children = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name, c.id, c.school_id, c.start_year, c.letter "
    "FROM parent_links pl JOIN users u ON u.id = pl.student_id "
    "LEFT JOIN class_students cs ON cs.student_id = u.id AND cs.to_date IS NULL "
    "LEFT JOIN classes c ON c.id = cs.class_id "
    "WHERE pl.parent_id = ? ORDER BY u.last_name, u.first_name, u.id"};
static dn_query_t q_own_class = {
    "SELECT c.id, c.school_id, c.start_year, c.letter FROM class_students cs JOIN classes c ON c.id = cs.class_id "
    "WHERE cs.student_id = ? AND cs.to_date IS NULL ORDER BY cs.from_date DESC, cs.id DESC LIMIT 1"};

/* Step st past its last row: SQLite holds a read transaction while a
 * statement is unfinished, which would make a later write on this
 * connection fail with "busy". */
static void finish(dn_stmt_t *st)
{
    while (dn_stmt_step(st) == DN_DB_ROW)
        ;
}

static json_t *class_json(dn_stmt_t *st, int col)
{
    if (dn_stmt_is_null(st, col))
        return json_null();
    char name[32];
    const char *letter = dn_stmt_text(st, col + 3, NULL);
    dn_class_name((int)dn_stmt_int64(st, col + 2), letter ? letter : "", dn_school_current_year(), name,
                  sizeof(name));
    return json_pack("{s:I,s:I,s:s}", "id", (json_int_t)dn_stmt_int64(st, col), "school_id",
                     (json_int_t)dn_stmt_int64(st, col + 1), "name", name);
}

static const char *text_or_empty(dn_stmt_t *st, int col)
{
    const char *s = dn_stmt_text(st, col, NULL);
    return s ? s : "";
}

/* The profile of p's user: names, roles and flags. NULL on error (*rc set). */
static json_t *user_json(dn_db_t *db, const dn_principal_t *p, int *rc)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_user);
    if (st == NULL) {
        *rc = dn_db_errcode(db) < 0 ? dn_db_errcode(db) : DN_EDB;
        return NULL;
    }
    dn_stmt_bind_int64(st, 1, p->user_id);
    *rc = dn_stmt_step(st);
    if (*rc != DN_DB_ROW) {
        *rc = *rc < 0 ? *rc : DN_ENOTFOUND;
        return NULL;
    }
    json_t *roles = json_array();
    for (int i = 0; i < p->nroles; i++)
        json_array_append_new(roles, json_pack("{s:I,s:s}", "school_id", (json_int_t)p->roles[i].school_id, "role",
                                               dn_role_name(p->roles[i].role)));
    json_t *u = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:b,s:o}", "id", (json_int_t)dn_stmt_int64(st, 0), "login",
                          text_or_empty(st, 1), "last_name", text_or_empty(st, 2), "first_name",
                          text_or_empty(st, 3), "middle_name", text_or_empty(st, 4), "email",
                          dn_stmt_is_null(st, 5) ? json_null() : json_string(text_or_empty(st, 5)),
                          "must_change_password", dn_stmt_int64(st, 6) != 0, "roles", roles);
    finish(st);
    *rc = u ? 0 : DN_ENOMEM;
    return u;
}

/* Answer with a fresh access token, refresh token and the user's profile. */
static void respond_tokens(dn_req_t *req, int64_t user_id, const char *refresh)
{
    dn_principal_t p;
    char *access = NULL;
    int expires_in = 0, rc;
    if ((rc = dn_auth_load_principal(req->db, user_id, &p)) != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    json_t *user = user_json(req->db, &p, &rc);
    if (user == NULL) {
        dn_res_error(req, rc, NULL);
        return;
    }
    if ((rc = dn_auth_issue_access(req->app, &p, &access, &expires_in)) != 0) {
        json_decref(user);
        dn_res_error(req, rc, NULL);
        return;
    }
    json_t *body = json_pack("{s:s,s:s,s:i,s:s,s:o}", "access_token", access, "token_type", "Bearer", "expires_in",
                             expires_in, "refresh_token", refresh, "user", user);
    free(access);
    dn_res_header(req, "cache-control", "no-store");
    dn_res_json(req, 200, body);
}

/* ------------------------------------------------------------------ */
/* POST /api/v1/auth/login                                            */

static dn_query_t q_login = {"SELECT id, password_hash, blocked FROM users WHERE login = ? AND anonymized_at IS NULL"};

static void login_issue(dn_req_t *req)
{
    flow_t *f = req->auth;
    char refresh[DN_REFRESH_TOKEN_LEN];
    int rc = dn_auth_refresh_create(req->db, f->user_id, refresh);
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    respond_tokens(req, f->user_id, refresh);
    sodium_memzero(refresh, sizeof(refresh));
}

static void login_verify(dn_req_t *req)
{
    flow_t *f = req->auth;
    int ok = dn_password_verify(f->hash, f->password) == 0 && f->found;
    wipe(f->password);
    if (!ok) {
        dn_auth_login_failed(req, f->login);
        dn_res_header(req, "www-authenticate", "Bearer realm=\"dnevnik\"");
        dn_res_problem(req, 401, NULL, "wrong login or password");
        return;
    }
    if (f->blocked) {
        dn_res_problem(req, 403, NULL, "account blocked");
        return;
    }
    dn_auth_login_succeeded(req, f->login);
    dn_req_then(req, DN_POOL_STORE, login_issue);
}

static void login(dn_req_t *req)
{
    if (dn_auth_throttle_address(req) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array();
    const char *lg = required_string(body, "login", errors);
    const char *pw = required_string(body, "password", errors);
    if (reject_invalid(req, errors) != 0 || dn_auth_login_check(req, lg) != 0) {
        json_decref(body);
        return;
    }
    flow_t *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
    memset(f, 0, sizeof(*f));
    f->login = dn_req_strdup(req, lg, strlen(lg));
    f->password = dn_req_strdup(req, pw, strlen(pw));
    json_decref(body);

    dn_stmt_t *st = dn_db_prepare(req->db, &q_login);
    int rc = st ? dn_stmt_bind_text(st, 1, f->login, -1) : DN_EDB;
    if (rc == 0)
        rc = dn_stmt_step(st);
    if (rc < 0) {
        wipe(f->password);
        dn_res_error(req, rc, NULL);
        return;
    }
    f->hash = dn_auth_dummy_hash(req->app);
    if (rc == DN_DB_ROW) {
        const char *h = dn_stmt_text(st, 1, NULL);
        f->found = 1;
        f->user_id = dn_stmt_int64(st, 0);
        f->blocked = dn_stmt_int64(st, 2) != 0;
        f->hash = dn_req_strdup(req, h ? h : "", h ? strlen(h) : 0);
        finish(st);
    }
    req->auth = f;
    dn_req_then(req, DN_POOL_CPU, login_verify);
}

/* ------------------------------------------------------------------ */
/* POST /api/v1/auth/refresh, /logout                                 */

static void refresh(dn_req_t *req)
{
    if (dn_auth_throttle_address(req) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array();
    const char *tok = required_string(body, "refresh_token", errors);
    if (reject_invalid(req, errors) != 0) {
        json_decref(body);
        return;
    }
    char next[DN_REFRESH_TOKEN_LEN];
    int64_t uid = 0;
    int rc = dn_auth_refresh_rotate(req->db, tok, &uid, next);
    json_decref(body);
    if (rc == DN_EUNAUTH) {
        dn_res_problem(req, 401, NULL, "refresh token is invalid, expired or revoked");
        return;
    }
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    respond_tokens(req, uid, next);
    sodium_memzero(next, sizeof(next));
}

static void logout(dn_req_t *req)
{
    if (dn_auth_throttle_address(req) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array();
    const char *tok = required_string(body, "refresh_token", errors);
    if (reject_invalid(req, errors) != 0) {
        json_decref(body);
        return;
    }
    int rc = dn_auth_refresh_revoke(req->db, tok);
    json_decref(body);
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        dn_res_json(req, 204, NULL);
}

/* ------------------------------------------------------------------ */
/* POST /api/v1/auth/password                                         */

static dn_query_t q_pw_user = {"SELECT login, password_hash FROM users WHERE id = ?"};
static dn_query_t q_pw_set = {
    "UPDATE users SET password_hash = ?, must_change_password = 0, token_version = token_version + 1 WHERE id = ?"};

static void password_store(dn_req_t *req)
{
    flow_t *f = req->auth;
    int rc = dn_db_begin_write(req->db);
    if (rc == 0) {
        dn_stmt_t *st = dn_db_prepare(req->db, &q_pw_set);
        rc = st ? 0 : DN_EDB;
        if (rc == 0) {
            dn_stmt_bind_text(st, 1, f->new_hash, -1);
            dn_stmt_bind_int64(st, 2, f->user_id);
            rc = dn_stmt_exec(st);
        }
        if (rc == 0)
            rc = dn_auth_refresh_revoke_user(req->db, f->user_id);
        rc = rc == 0 ? dn_db_commit(req->db) : (dn_db_rollback(req->db), rc);
    }
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        dn_res_json(req, 204, NULL);
}

static void password_hash_step(dn_req_t *req)
{
    flow_t *f = req->auth;
    int ok = dn_password_verify(f->hash, f->password) == 0;
    wipe(f->password);
    if (!ok) {
        wipe(f->new_password);
        dn_auth_login_failed(req, f->login);
        dn_res_problem_fields(req, 422, "the current password is wrong",
                              json_pack("[{s:s,s:s}]", "field", "old_password", "message", "is incorrect"));
        return;
    }
    f->new_hash = h2o_mem_alloc_pool(&req->pool, crypto_pwhash_STRBYTES);
    int rc = dn_password_hash(f->new_password, f->new_hash, crypto_pwhash_STRBYTES);
    wipe(f->new_password);
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    dn_req_then(req, DN_POOL_STORE, password_store);
}

static void change_password(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *errors = json_array();
    const char *old = required_string(body, "old_password", errors);
    const char *new = required_string(body, "new_password", errors);
    if (new != NULL && strlen(new) < PASSWORD_MIN)
        add_error(errors, "new_password", "must be at least 8 characters");
    if (reject_invalid(req, errors) != 0) {
        json_decref(body);
        return;
    }
    flow_t *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
    memset(f, 0, sizeof(*f));
    f->user_id = p->user_id;
    f->password = dn_req_strdup(req, old, strlen(old));
    f->new_password = dn_req_strdup(req, new, strlen(new));
    json_decref(body);

    dn_stmt_t *st = dn_db_prepare(req->db, &q_pw_user);
    int rc = st ? dn_stmt_bind_int64(st, 1, p->user_id) : DN_EDB;
    if (rc == 0)
        rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW) {
        wipe(f->password);
        wipe(f->new_password);
        if (rc == DN_DB_DONE)
            dn_res_problem(req, 401, NULL, "the account no longer exists");
        else
            dn_res_error(req, rc, NULL);
        return;
    }
    const char *lg = text_or_empty(st, 0), *h = text_or_empty(st, 1);
    f->login = dn_req_strdup(req, lg, strlen(lg));
    f->hash = dn_req_strdup(req, h, strlen(h));
    finish(st);
    /* Guessing the current password with a stolen access token is throttled like sign-in. */
    if (dn_auth_login_check(req, f->login) != 0) {
        wipe(f->password);
        wipe(f->new_password);
        return;
    }
    req->auth = f;
    dn_req_then(req, DN_POOL_CPU, password_hash_step);
}

/* ------------------------------------------------------------------ */
/* GET /api/v1/me                                                     */

static void me(dn_req_t *req)
{
    const dn_principal_t *tp = dn_auth_require(req);
    dn_principal_t p;
    int rc;
    if (tp == NULL)
        return;
    /* Roles from the store, not the token: /me shows the account as it is now. */
    if ((rc = dn_auth_load_principal(req->db, tp->user_id, &p)) != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    json_t *u = user_json(req->db, &p, &rc);
    if (u == NULL) {
        dn_res_error(req, rc == DN_ENOTFOUND ? DN_EUNAUTH : rc, NULL);
        return;
    }
    int is_parent = 0, is_student = 0;
    for (int i = 0; i < p.nroles; i++) {
        is_parent |= p.roles[i].role == DN_ROLE_PARENT;
        is_student |= p.roles[i].role == DN_ROLE_STUDENT;
    }
    if (is_parent) {
        json_t *kids = json_array();
        dn_stmt_t *st = dn_db_prepare(req->db, &q_children);
        rc = st ? 0 : DN_EDB;
        if (st != NULL) {
            dn_stmt_bind_int64(st, 1, p.user_id);
            while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
                char name[512];
                snprintf(name, sizeof(name), "%s %s", text_or_empty(st, 1), text_or_empty(st, 2));
                json_t *cls = class_json(st, 4);
                json_array_append_new(
                    kids, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o}", "id", (json_int_t)dn_stmt_int64(st, 0), "name",
                                    name, "last_name", text_or_empty(st, 1), "first_name", text_or_empty(st, 2),
                                    "middle_name", text_or_empty(st, 3), "school_id",
                                    dn_stmt_is_null(st, 5) ? json_null() : json_integer(dn_stmt_int64(st, 5)),
                                    "class", cls));
            }
        }
        json_object_set_new(u, "children", kids);
        if (rc < 0) {
            json_decref(u);
            dn_res_error(req, rc, NULL);
            return;
        }
    }
    if (is_student) {
        dn_stmt_t *st = dn_db_prepare(req->db, &q_own_class);
        rc = st ? 0 : DN_EDB;
        if (st != NULL) {
            dn_stmt_bind_int64(st, 1, p.user_id);
            rc = dn_stmt_step(st);
            json_object_set_new(u, "class", rc == DN_DB_ROW ? class_json(st, 0) : json_null());
            if (rc == DN_DB_ROW)
                finish(st);
        }
        if (rc < 0) {
            json_decref(u);
            dn_res_error(req, rc, NULL);
            return;
        }
    }
    dn_res_header(req, "cache-control", "private, no-cache");
    dn_res_json(req, 200, u);
}

int dn_api_register_auth(dn_app_t *app)
{
    static const dn_route_t routes[] = {
        {DN_POST, "/api/v1/auth/login", login, DN_RUN_WORKER, 16 * 1024},
        {DN_POST, "/api/v1/auth/refresh", refresh, DN_RUN_WORKER, 16 * 1024},
        {DN_POST, "/api/v1/auth/logout", logout, DN_RUN_WORKER, 16 * 1024},
        {DN_POST, "/api/v1/auth/password", change_password, DN_RUN_WORKER, 16 * 1024},
        {DN_GET, "/api/v1/me", me, DN_RUN_WORKER},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
