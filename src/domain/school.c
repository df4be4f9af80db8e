/*
 * school.c - rules and SQL of a school's set-up (see school.h).
 *
 * Invariants kept here: a class is identified by (school, start_year,
 * letter), its grade is derived from the academic year and never stored;
 * class membership is history (a transfer closes one row, opens another,
 * rows never overlap for one student); terms of a year are complete for the
 * school's term kind and do not overlap. Plain codes and passwords never
 * reach the store: only argon2id hashes (computed by callers on the CPU
 * pool) and SHA-256 of invite codes.
 */
#include "domain/school.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "core/error.h"

/* ------------------------------------------------------------------ */
/* calendar                                                           */

int dn_class_grade(int start_year, int year_start)
{
    return year_start - start_year + 1;
}

int dn_class_start_year(int grade, int year_start)
{
    return year_start - grade + 1;
}

int dn_school_academic_year(int y, int m)
{
    return m >= 9 ? y : y - 1;
}

int dn_school_current_year(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    return dn_school_academic_year(tm.tm_year + 1900, tm.tm_mon + 1);
}

void dn_class_name(int start_year, const char *letter, int year_start, char *buf, size_t cap)
{
    snprintf(buf, cap, "%d%s", dn_class_grade(start_year, year_start), letter);
}

/* ------------------------------------------------------------------ */
/* statements and rows                                                */

static int prep_error(dn_db_t *db)
{
    int rc = dn_db_errcode(db);
    return rc < 0 ? rc : DN_EDB;
}

json_t *dn_school_row_json(dn_stmt_t *st, const char *spec)
{
    json_t *o = json_object();
    const char *p = spec;
    int col = 0;
    while (*p) {
        const char *colon = strchr(p, ':');
        if (colon == NULL)
            break;
        char name[64];
        size_t n = (size_t)(colon - p) < sizeof(name) - 1 ? (size_t)(colon - p) : sizeof(name) - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        char t = colon[1];
        json_t *v;
        if (t == 's') {
            const char *s = dn_stmt_text(st, col, NULL);
            v = s != NULL ? json_string(s) : json_null();
        } else if (t == 'd') {
            v = json_real(dn_stmt_double(st, col));
        } else if (t == 'b') {
            v = json_boolean(dn_stmt_int64(st, col) != 0);
        } else if (t == 'n') {
            v = dn_stmt_is_null(st, col) ? json_null() : json_integer(dn_stmt_int64(st, col));
        } else {
            v = json_integer(dn_stmt_int64(st, col));
        }
        json_object_set_new(o, name, v);
        col++;
        p = colon + 2;
        if (*p == ',')
            p++;
    }
    return o;
}

json_t *dn_school_rows_json(dn_stmt_t *st, const char *spec, int *rc)
{
    json_t *arr = json_array();
    int r;
    while ((r = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(arr, dn_school_row_json(st, spec));
    if (r < 0) {
        json_decref(arr);
        *rc = r;
        return NULL;
    }
    *rc = 0;
    return arr;
}

void dn_school_field_error(json_t *errors, const char *field, const char *message)
{
    if (errors == NULL)
        return;
    json_array_append_new(errors, json_pack("{s:s,s:s}", "field", field, "message", message));
}

/* items list of a query: {"items": [...]} */
static int list_of(dn_db_t *db, dn_stmt_t *st, const char *spec, json_t **out)
{
    if (st == NULL)
        return prep_error(db);
    int rc;
    json_t *arr = dn_school_rows_json(st, spec, &rc);
    if (arr == NULL)
        return rc;
    *out = json_pack("{s:o}", "items", arr);
    return 0;
}

/* the single row of a query, DN_ENOTFOUND when none */
static int one_of(dn_db_t *db, dn_stmt_t *st, const char *spec, json_t **out)
{
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *out = dn_school_row_json(st, spec);
    dn_stmt_finish(st);
    return 0;
}

static int text_ok(const char *s, size_t max)
{
    if (s == NULL)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    /* not only spaces */
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* regions and schools                                                */

static dn_query_t q_region_ins = {"INSERT INTO regions (name) VALUES (?) RETURNING id, name"};
static dn_query_t q_region_list = {"SELECT id, name FROM regions ORDER BY id"};
static dn_query_t q_region_get = {"SELECT id FROM regions WHERE id = ?"};
static dn_query_t q_school_ins = {
    "INSERT INTO schools (region_id, name, term_kind, created_at) VALUES (?, ?, ?, ?) "
    "RETURNING id, region_id, name, term_kind"};
static dn_query_t q_school_list = {"SELECT id, region_id, name, term_kind FROM schools ORDER BY id"};
static dn_query_t q_school_get = {"SELECT id, region_id, name, term_kind FROM schools WHERE id = ?"};
#define SCHOOL_SPEC "id:i,region_id:i,name:s,term_kind:s"

int dn_school_region_create(dn_db_t *db, const char *name, json_t **out)
{
    int rc = one_of(db, dn_db_query(db, &q_region_ins, "s", name), "id:i,name:s", out);
    return rc == DN_ECONFLICT ? DN_EEXIST : rc;
}

int dn_school_region_list(dn_db_t *db, json_t **out)
{
    return list_of(db, dn_db_query(db, &q_region_list, ""), "id:i,name:s", out);
}

int dn_school_create(dn_db_t *db, int64_t region_id, const char *name, const char *term_kind, json_t **out)
{
    int64_t id;
    int rc = dn_db_scalar(db, &q_region_get, &id, "i", region_id);
    if (rc < 0)
        return rc;
    return one_of(db, dn_db_query(db, &q_school_ins, "issi", region_id, name, term_kind, dn_now_ms()),
                  SCHOOL_SPEC, out);
}

int dn_school_list(dn_db_t *db, json_t **out)
{
    return list_of(db, dn_db_query(db, &q_school_list, ""), SCHOOL_SPEC, out);
}

int dn_school_get(dn_db_t *db, int64_t school_id, json_t **out)
{
    return one_of(db, dn_db_query(db, &q_school_get, "i", school_id), SCHOOL_SPEC, out);
}

/* ------------------------------------------------------------------ */
/* people                                                             */

static dn_query_t q_user_ins = {
    "INSERT INTO users (login, password_hash, last_name, first_name, middle_name, must_change_password, created_at) "
    "VALUES (?, ?, ?, ?, ?, 1, ?) RETURNING id"};
static dn_query_t q_role_ins = {"INSERT INTO user_roles (user_id, school_id, role) VALUES (?, ?, ?)"};
static dn_query_t q_user_get = {
    "SELECT id, login, last_name, first_name, middle_name, blocked, must_change_password FROM users WHERE id = ?"};
static dn_query_t q_user_roles = {"SELECT role FROM user_roles WHERE user_id = ? AND school_id = ? ORDER BY role"};
static dn_query_t q_user_list = {
    "SELECT u.id, u.login, u.last_name, u.first_name, u.middle_name, u.blocked FROM users u "
    "WHERE EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.school_id = ? "
    "  AND (CAST(? AS TEXT) = '' OR r.role = CAST(? AS TEXT))) "
    "AND (CAST(? AS TEXT) = '' OR u.login LIKE CAST(? AS TEXT) OR u.last_name LIKE CAST(? AS TEXT) "
    "  OR u.first_name LIKE CAST(? AS TEXT) OR LOWER(u.login) LIKE CAST(? AS TEXT) "
    "  OR LOWER(u.last_name) LIKE CAST(? AS TEXT) OR LOWER(u.first_name) LIKE CAST(? AS TEXT)) "
    "AND u.id > ? ORDER BY u.id LIMIT ?"};
static dn_query_t q_user_schools = {
    "SELECT DISTINCT school_id FROM user_roles WHERE user_id = ? AND role <> 'sysadmin' ORDER BY school_id"};
static dn_query_t q_user_names = {
    "UPDATE users SET last_name = COALESCE(CAST(? AS TEXT), last_name), first_name = COALESCE(CAST(? AS TEXT), "
    "first_name), middle_name = COALESCE(CAST(? AS TEXT), middle_name) WHERE id = ?"};
static dn_query_t q_user_block = {
    "UPDATE users SET blocked = ?, token_version = token_version + 1 WHERE id = ?"};
static dn_query_t q_revoke = {
    "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"};
static dn_query_t q_user_pw = {
    "UPDATE users SET password_hash = ?, must_change_password = ?, token_version = token_version + 1 WHERE id = ?"};
static dn_query_t q_has_role = {"SELECT 1 FROM user_roles WHERE user_id = ? AND school_id = ? AND role = ?"};
#define USER_SPEC "id:i,login:s,last_name:s,first_name:s,middle_name:s,blocked:b"

int dn_school_role_bit(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "student") == 0)
        return DN_SROLE_STUDENT;
    if (strcmp(name, "parent") == 0)
        return DN_SROLE_PARENT;
    if (strcmp(name, "teacher") == 0)
        return DN_SROLE_TEACHER;
    if (strcmp(name, "admin") == 0)
        return DN_SROLE_ADMIN;
    return 0;
}

static int login_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

int dn_school_person_validate(const dn_person_t *p, int login_required, json_t *errors)
{
    int bad = 0;
    if (!text_ok(p->last_name, 100)) {
        dn_school_field_error(errors, "last_name", "last_name is required (1-100 characters)");
        bad = 1;
    }
    if (!text_ok(p->first_name, 100)) {
        dn_school_field_error(errors, "first_name", "first_name is required (1-100 characters)");
        bad = 1;
    }
    if (p->middle_name != NULL && strlen(p->middle_name) > 100) {
        dn_school_field_error(errors, "middle_name", "middle_name is at most 100 characters");
        bad = 1;
    }
    if ((login_required || (p->login != NULL && p->login[0])) && !login_valid(p->login)) {
        dn_school_field_error(errors, "login", "login must be 3-64 characters: latin letters, digits, . _ - @");
        bad = 1;
    }
    return bad ? DN_EVALIDATION : 0;
}

void dn_school_random_secret(char *buf, size_t n)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789"; /* 32: no l, o, 0, 1 */
    unsigned char rnd[64];
    if (n > sizeof(rnd))
        n = sizeof(rnd);
    randombytes_buf(rnd, n);
    for (size_t i = 0; i < n; i++)
        buf[i] = alphabet[rnd[i] % 32];
    buf[n] = '\0';
}

void dn_school_random_login(const char *prefix, char *buf, size_t cap)
{
    char tail[9];
    dn_school_random_secret(tail, 8);
    snprintf(buf, cap, "%s%s", prefix, tail);
}

int dn_school_user_insert(dn_db_t *db, int64_t school_id, const dn_person_t *p, unsigned roles,
                          const char *password_hash, int64_t *user_id)
{
    static const char *const names[] = {"student", "parent", "teacher", "admin"};
    int rc = dn_db_scalar(db, &q_user_ins, user_id, "sssssi", p->login, password_hash, p->last_name, p->first_name,
                           p->middle_name ? p->middle_name : "", dn_now_ms());
    if (rc == DN_ECONFLICT)
        return DN_EEXIST;
    if (rc < 0)
        return rc;
    for (int i = 0; i < 4; i++) {
        if (!(roles & (1u << i)))
            continue;
        rc = dn_db_run(db, &q_role_ins, "iis", *user_id, school_id, names[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dn_school_user_get(dn_db_t *db, int64_t school_id, int64_t user_id, json_t **out)
{
    json_t *u = NULL;
    int rc = one_of(db, dn_db_query(db, &q_user_get, "i", user_id), USER_SPEC ",must_change_password:b", &u);
    if (rc < 0)
        return rc;
    dn_stmt_t *st = dn_db_query(db, &q_user_roles, "ii", user_id, school_id);
    if (st == NULL) {
        json_decref(u);
        return prep_error(db);
    }
    json_t *roles = json_array();
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(roles, json_string(dn_stmt_text(st, 0, NULL)));
    json_object_set_new(u, "roles", roles);
    if (rc < 0) {
        json_decref(u);
        return rc;
    }
    *out = u;
    return 0;
}

int dn_school_user_list(dn_db_t *db, int64_t school_id, const char *role, const char *q, int limit, int64_t cursor,
                        json_t **out)
{
    char like[256] = "", low[256] = "";
    if (q != NULL && q[0]) {
        /* Matched as typed and lower-cased: LOWER() folds only ASCII in SQLite but all
         * letters in PostgreSQL, so "Иванов" and "ivanov" find the same rows on both. */
        snprintf(like, sizeof(like), "%%%s%%", q);
        snprintf(low, sizeof(low), "%s", like);
        for (char *c = low; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    const char *r = role ? role : "";
    dn_stmt_t *st = dn_db_query(db, &q_user_list, "isssssssssii", school_id, r, r, like, like, like, like, low,
                                   low, low, cursor, (int64_t)limit + 1);
    if (st == NULL)
        return prep_error(db);
    int rc;
    json_t *items = dn_school_rows_json(st, USER_SPEC, &rc);
    if (items == NULL)
        return rc;
    json_t *next = json_null();
    if (json_array_size(items) > (size_t)limit) {
        json_array_remove(items, (size_t)limit);
        json_t *last = json_array_get(items, (size_t)limit - 1);
        json_decref(next);
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(json_object_get(last, "id")));
        next = json_string(buf);
    }
    *out = json_pack("{s:o,s:o}", "items", items, "next_cursor", next);
    return 0;
}

int dn_school_user_schools(dn_db_t *db, int64_t user_id, int64_t *ids, int cap, int *n)
{
    dn_stmt_t *st = dn_db_query(db, &q_user_schools, "i", user_id);
    if (st == NULL)
        return prep_error(db);
    int rc;
    *n = 0;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        if (*n < cap)
            ids[(*n)++] = dn_stmt_int64(st, 0);
    return rc < 0 ? rc : 0;
}

int dn_school_user_update(dn_db_t *db, int64_t user_id, const char *last_name, const char *first_name,
                          const char *middle_name, int blocked)
{
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    rc = dn_db_run(db, &q_user_names, "sssi", last_name, first_name, middle_name, user_id);
    if (rc == 0 && blocked >= 0)
        rc = dn_db_run(db, &q_user_block, "ii", (int64_t)blocked, user_id);
    if (rc == 0 && blocked == 1)
        rc = dn_db_run(db, &q_revoke, "ii", dn_now_ms(), user_id);
    if (rc == 0)
        rc = dn_db_commit(db);
    if (rc < 0)
        dn_db_rollback(db);
    return rc;
}

int dn_school_user_set_password(dn_db_t *db, int64_t user_id, const char *password_hash, int must_change)
{
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    rc = dn_db_run(db, &q_user_pw, "sii", password_hash, (int64_t)must_change, user_id);
    if (rc == 0)
        rc = dn_db_run(db, &q_revoke, "ii", dn_now_ms(), user_id);
    if (rc == 0)
        rc = dn_db_commit(db);
    if (rc < 0)
        dn_db_rollback(db);
    return rc;
}

int dn_school_user_has_role(dn_db_t *db, int64_t user_id, int64_t school_id, const char *role)
{
    int64_t one;
    int rc = dn_db_scalar(db, &q_has_role, &one, "iis", user_id, school_id, role);
    if (rc == DN_ENOTFOUND)
        return 0;
    return rc < 0 ? rc : 1;
}

/* ------------------------------------------------------------------ */
/* invites                                                            */

#define INVITE_TTL_MS (30LL * 24 * 3600 * 1000)

static dn_query_t q_invite_ins = {
    "INSERT INTO invites (code_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)"};
static dn_query_t q_invite_find = {
    "SELECT i.user_id, u.login FROM invites i JOIN users u ON u.id = i.user_id "
    "WHERE i.code_hash = ? AND i.used_at IS NULL AND i.expires_at > ? AND u.blocked = 0"};
static dn_query_t q_invite_use = {
    "UPDATE invites SET used_at = ? WHERE code_hash = ? AND user_id = ? AND used_at IS NULL AND expires_at > ?"};
static dn_query_t q_user_pw_set = {
    "UPDATE users SET password_hash = ?, must_change_password = 0, token_version = token_version + 1 WHERE id = ?"};

static void code_hash(const char *code, char hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)code, strlen(code));
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

int dn_school_invite_create(dn_db_t *db, int64_t user_id, char *code, size_t cap)
{
    if (cap < 11)
        return DN_EINVAL;
    dn_school_random_secret(code, 10);
    char hex[65];
    code_hash(code, hex);
    int64_t now = dn_now_ms();
    return dn_db_run(db, &q_invite_ins, "siii", hex, user_id, now, now + INVITE_TTL_MS);
}

int dn_school_invite_find(dn_db_t *db, const char *code, int64_t *user_id, char *login, size_t cap)
{
    char hex[65];
    code_hash(code, hex);
    dn_stmt_t *st = dn_db_query(db, &q_invite_find, "si", hex, dn_now_ms());
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *user_id = dn_stmt_int64(st, 0);
    snprintf(login, cap, "%s", dn_stmt_text(st, 1, NULL));
    dn_stmt_finish(st);
    return 0;
}

int dn_school_invite_accept(dn_db_t *db, const char *code, int64_t user_id, const char *password_hash)
{
    char hex[65];
    code_hash(code, hex);
    int64_t now = dn_now_ms();
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    dn_stmt_t *st = dn_db_query(db, &q_invite_use, "isii", now, hex, user_id, now);
    if (st == NULL) {
        rc = prep_error(db);
        goto fail;
    }
    rc = dn_stmt_exec(st);
    if (rc < 0)
        goto fail;
    if (dn_stmt_changes(st) != 1) {
        rc = DN_ECONFLICT; /* used by a concurrent request in between */
        goto fail;
    }
    rc = dn_db_run(db, &q_user_pw_set, "si", password_hash, user_id);
    if (rc < 0)
        goto fail;
    return dn_db_commit(db);
fail:
    dn_db_rollback(db);
    return rc;
}

/* ------------------------------------------------------------------ */
/* terms and holidays                                                 */

static dn_query_t q_school_kind = {"SELECT term_kind FROM schools WHERE id = ?"};
static dn_query_t q_terms_closed = {
    "SELECT COUNT(*) FROM terms WHERE school_id = ? AND year_start = ? AND closed_at IS NOT NULL"};
static dn_query_t q_term_upsert = {
    "INSERT INTO terms (school_id, year_start, number, starts_on, ends_on) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (school_id, year_start, number) DO UPDATE SET starts_on = excluded.starts_on, "
    "ends_on = excluded.ends_on"};
static dn_query_t q_terms_trim = {"DELETE FROM terms WHERE school_id = ? AND year_start = ? AND number > ?"};
static dn_query_t q_terms_get = {
    "SELECT id, year_start, number, starts_on, ends_on, closed_at FROM terms WHERE school_id = ? AND year_start = ? "
    "ORDER BY number"};
#define TERM_SPEC "id:i,year_start:i,number:i,starts_on:s,ends_on:s,closed_at:n"

int dn_school_terms_validate(const char *term_kind, int year_start, const json_t *terms, json_t *errors)
{
    int want = term_kind != NULL && strcmp(term_kind, "trimester") == 0 ? 3 : 4;
    if (!json_is_array(terms) || (int)json_array_size(terms) != want) {
        char msg[96];
        snprintf(msg, sizeof(msg), "a %s school has exactly %d terms", want == 3 ? "trimester" : "quarter", want);
        dn_school_field_error(errors, "terms", msg);
        return DN_EVALIDATION;
    }
    int64_t lo, hi, from[4] = {0}, to[4] = {0};
    char buf[32];
    snprintf(buf, sizeof(buf), "%04d-08-01", year_start);
    dn_date_parse(buf, &lo);
    snprintf(buf, sizeof(buf), "%04d-08-31", year_start + 1);
    dn_date_parse(buf, &hi);
    int bad = 0, seen[5] = {0};
    for (int i = 0; i < want; i++) {
        const json_t *t = json_array_get(terms, (size_t)i);
        char field[48];
        json_t *num = json_object_get(t, "number");
        int64_t n = json_is_integer(num) ? json_integer_value(num) : 0;
        if (n != i + 1 || seen[n]) {
            snprintf(field, sizeof(field), "terms[%d].number", i);
            dn_school_field_error(errors, field, "terms must be numbered 1..n in order");
            bad = 1;
            continue;
        }
        seen[n] = 1;
        const char *s = json_string_value(json_object_get(t, "starts_on"));
        const char *e = json_string_value(json_object_get(t, "ends_on"));
        if (dn_date_parse(s, &from[i]) < 0) {
            snprintf(field, sizeof(field), "terms[%d].starts_on", i);
            dn_school_field_error(errors, field, "must be a date YYYY-MM-DD");
            bad = 1;
            continue;
        }
        if (dn_date_parse(e, &to[i]) < 0) {
            snprintf(field, sizeof(field), "terms[%d].ends_on", i);
            dn_school_field_error(errors, field, "must be a date YYYY-MM-DD");
            bad = 1;
            continue;
        }
        if (to[i] < from[i]) {
            snprintf(field, sizeof(field), "terms[%d].ends_on", i);
            dn_school_field_error(errors, field, "ends_on is before starts_on");
            bad = 1;
        } else if (from[i] < lo || to[i] > hi) {
            snprintf(field, sizeof(field), "terms[%d].starts_on", i);
            dn_school_field_error(errors, field, "the term lies outside the academic year (1 Aug .. 31 Aug)");
            bad = 1;
        } else if (i > 0 && !bad && from[i] <= to[i - 1]) {
            snprintf(field, sizeof(field), "terms[%d].starts_on", i);
            dn_school_field_error(errors, field, "terms must be ordered and must not overlap");
            bad = 1;
        }
    }
    return bad ? DN_EVALIDATION : 0;
}

static int school_kind(dn_db_t *db, int64_t school_id, char *kind, size_t cap)
{
    dn_stmt_t *st = dn_db_query(db, &q_school_kind, "i", school_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    snprintf(kind, cap, "%s", dn_stmt_text(st, 0, NULL));
    dn_stmt_finish(st);
    return 0;
}

int dn_school_terms_put(dn_db_t *db, int64_t school_id, int year_start, const json_t *terms, json_t *errors,
                        json_t **out)
{
    char kind[16];
    int rc = school_kind(db, school_id, kind, sizeof(kind));
    if (rc < 0)
        return rc;
    rc = dn_school_terms_validate(kind, year_start, terms, errors);
    if (rc < 0)
        return rc;
    rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    int64_t closed = 0;
    rc = dn_db_scalar(db, &q_terms_closed, &closed, "ii", school_id, (int64_t)year_start);
    if (rc < 0)
        goto fail;
    if (closed > 0) {
        rc = DN_ECONFLICT;
        goto fail;
    }
    size_t i;
    json_t *t;
    json_array_foreach(terms, i, t)
    {
        rc = dn_db_run(db, &q_term_upsert, "iiiss", school_id, (int64_t)year_start, (int64_t)(i + 1),
                            json_string_value(json_object_get(t, "starts_on")),
                            json_string_value(json_object_get(t, "ends_on")));
        if (rc < 0)
            goto fail;
    }
    rc = dn_db_run(db, &q_terms_trim, "iii", school_id, (int64_t)year_start, (int64_t)json_array_size(terms));
    if (rc < 0)
        goto fail;
    rc = dn_db_commit(db);
    if (rc < 0)
        goto fail;
    return dn_school_terms_get(db, school_id, year_start, out);
fail:
    dn_db_rollback(db);
    return rc;
}

int dn_school_terms_get(dn_db_t *db, int64_t school_id, int year_start, json_t **out)
{
    int rc = list_of(db, dn_db_query(db, &q_terms_get, "ii", school_id, (int64_t)year_start), TERM_SPEC, out);
    if (rc == 0)
        json_object_set_new(*out, "year_start", json_integer(year_start));
    return rc;
}

static dn_query_t q_holiday_ins = {
    "INSERT INTO holidays (school_id, name, starts_on, ends_on) VALUES (?, ?, ?, ?) "
    "RETURNING id, name, starts_on, ends_on"};
static dn_query_t q_holiday_list = {
    "SELECT id, name, starts_on, ends_on FROM holidays WHERE school_id = ? ORDER BY starts_on, id"};
static dn_query_t q_holiday_school = {"SELECT school_id FROM holidays WHERE id = ?"};
static dn_query_t q_holiday_del = {"DELETE FROM holidays WHERE id = ?"};

int dn_school_holiday_create(dn_db_t *db, int64_t school_id, const char *name, const char *starts_on,
                             const char *ends_on, json_t *errors, json_t **out)
{
    int64_t a = 0, b = 0;
    int bad = 0;
    if (!text_ok(name, 200)) {
        dn_school_field_error(errors, "name", "name is required (1-200 characters)");
        bad = 1;
    }
    if (dn_date_parse(starts_on, &a) < 0) {
        dn_school_field_error(errors, "starts_on", "must be a date YYYY-MM-DD");
        bad = 1;
    }
    if (dn_date_parse(ends_on, &b) < 0) {
        dn_school_field_error(errors, "ends_on", "must be a date YYYY-MM-DD");
        bad = 1;
    } else if (!bad && b < a) {
        dn_school_field_error(errors, "ends_on", "ends_on is before starts_on");
        bad = 1;
    }
    if (bad)
        return DN_EVALIDATION;
    return one_of(db, dn_db_query(db, &q_holiday_ins, "isss", school_id, name, starts_on, ends_on),
                  "id:i,name:s,starts_on:s,ends_on:s", out);
}

int dn_school_holiday_list(dn_db_t *db, int64_t school_id, json_t **out)
{
    return list_of(db, dn_db_query(db, &q_holiday_list, "i", school_id), "id:i,name:s,starts_on:s,ends_on:s",
                   out);
}

int dn_school_holiday_school(dn_db_t *db, int64_t holiday_id, int64_t *school_id)
{
    return dn_db_scalar(db, &q_holiday_school, school_id, "i", holiday_id);
}

int dn_school_holiday_delete(dn_db_t *db, int64_t holiday_id)
{
    return dn_db_run(db, &q_holiday_del, "i", holiday_id);
}

/* ------------------------------------------------------------------ */
/* subjects                                                           */

static dn_query_t q_subject_ins = {"INSERT INTO subjects (school_id, name) VALUES (?, ?) RETURNING id, name"};
static dn_query_t q_subject_list = {"SELECT id, name FROM subjects WHERE school_id = ? ORDER BY name"};
static dn_query_t q_subject_school = {"SELECT school_id FROM subjects WHERE id = ?"};
static dn_query_t q_subject_rename = {"UPDATE subjects SET name = ? WHERE id = ? RETURNING id, name"};
static dn_query_t q_subject_used = {
    "SELECT (SELECT COUNT(*) FROM assignments WHERE subject_id = ?) + (SELECT COUNT(*) FROM lessons WHERE "
    "subject_id = ?) + (SELECT COUNT(*) FROM timetable_slots WHERE subject_id = ?)"};
static dn_query_t q_subject_del = {"DELETE FROM subjects WHERE id = ?"};
static dn_query_t q_subject_find = {"SELECT id FROM subjects WHERE school_id = ? AND name = ?"};

int dn_school_subject_create(dn_db_t *db, int64_t school_id, const char *name, json_t **out)
{
    int rc = one_of(db, dn_db_query(db, &q_subject_ins, "is", school_id, name), "id:i,name:s", out);
    return rc == DN_ECONFLICT ? DN_EEXIST : rc;
}

int dn_school_subject_list(dn_db_t *db, int64_t school_id, json_t **out)
{
    return list_of(db, dn_db_query(db, &q_subject_list, "i", school_id), "id:i,name:s", out);
}

int dn_school_subject_school(dn_db_t *db, int64_t subject_id, int64_t *school_id)
{
    return dn_db_scalar(db, &q_subject_school, school_id, "i", subject_id);
}

int dn_school_subject_rename(dn_db_t *db, int64_t subject_id, const char *name, json_t **out)
{
    int rc = one_of(db, dn_db_query(db, &q_subject_rename, "si", name, subject_id), "id:i,name:s", out);
    return rc == DN_ECONFLICT ? DN_EEXIST : rc;
}

int dn_school_subject_delete(dn_db_t *db, int64_t subject_id)
{
    int64_t used = 0;
    int rc = dn_db_scalar(db, &q_subject_used, &used, "iii", subject_id, subject_id, subject_id);
    if (rc < 0)
        return rc;
    if (used > 0)
        return DN_ECONFLICT;
    return dn_db_run(db, &q_subject_del, "i", subject_id);
}

int dn_school_subject_find(dn_db_t *db, int64_t school_id, const char *name, int64_t *subject_id)
{
    int rc = dn_db_scalar(db, &q_subject_find, subject_id, "is", school_id, name);
    if (rc == DN_ENOTFOUND) {
        *subject_id = 0;
        return 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* classes                                                            */

static dn_query_t q_class_ins = {
    "INSERT INTO classes (school_id, start_year, letter, class_teacher_id) VALUES (?, ?, ?, ?) RETURNING id"};
static dn_query_t q_class_list = {
    "SELECT c.id, c.school_id, c.start_year, c.letter, c.class_teacher_id, "
    "COALESCE(u.last_name || ' ' || u.first_name, ''), "
    "(SELECT COUNT(*) FROM class_students cs WHERE cs.class_id = c.id AND (cs.to_date IS NULL OR cs.to_date >= ?)) "
    "FROM classes c LEFT JOIN users u ON u.id = c.class_teacher_id WHERE c.school_id = ? "
    "ORDER BY c.start_year DESC, c.letter"};
static dn_query_t q_class_get = {
    "SELECT c.id, c.school_id, c.start_year, c.letter, c.class_teacher_id, "
    "COALESCE(u.last_name || ' ' || u.first_name, ''), "
    "(SELECT COUNT(*) FROM class_students cs WHERE cs.class_id = c.id AND (cs.to_date IS NULL OR cs.to_date >= ?)) "
    "FROM classes c LEFT JOIN users u ON u.id = c.class_teacher_id WHERE c.id = ?"};
static dn_query_t q_class_upd = {
    "UPDATE classes SET start_year = ?, letter = ?, class_teacher_id = ? WHERE id = ?"};
static dn_query_t q_class_find = {"SELECT id FROM classes WHERE school_id = ? AND start_year = ? AND letter = ?"};
static dn_query_t q_class_school = {"SELECT school_id FROM classes WHERE id = ?"};

int dn_school_letter_valid(const char *letter)
{
    if (letter == NULL)
        return 0;
    size_t n = strlen(letter);
    if (n == 0 || n > 8)
        return 0;
    /* 1-2 letters: ASCII letters or 2-byte UTF-8 sequences (Cyrillic). */
    int count = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)letter[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            i++;
        } else if ((c == 0xD0 || c == 0xD1) && i + 1 < n && ((unsigned char)letter[i + 1] & 0xC0) == 0x80) {
            i += 2;
        } else {
            return 0;
        }
        count++;
    }
    return count >= 1 && count <= 2;
}

int dn_school_class_parse_name(const char *name, int *grade, char *letter, size_t cap)
{
    if (name == NULL)
        return DN_EINVAL;
    while (*name == ' ')
        name++;
    int g = 0, digits = 0;
    while (*name >= '0' && *name <= '9' && digits < 3) {
        g = g * 10 + (*name - '0');
        name++;
        digits++;
    }
    while (*name == ' ' || *name == '-')
        name++;
    if (digits == 0 || g < 1 || g > 11 || !dn_school_letter_valid(name) || strlen(name) >= cap)
        return DN_EINVAL;
    *grade = g;
    snprintf(letter, cap, "%s", name);
    return 0;
}

static json_t *class_json(dn_stmt_t *st, int year)
{
    int start_year = (int)dn_stmt_int64(st, 2);
    const char *letter = dn_stmt_text(st, 3, NULL);
    char name[32];
    dn_class_name(start_year, letter, year, name, sizeof(name));
    json_t *teacher = json_null();
    if (!dn_stmt_is_null(st, 4))
        teacher = json_pack("{s:I,s:s}", "id", (json_int_t)dn_stmt_int64(st, 4), "name", dn_stmt_text(st, 5, NULL));
    return json_pack("{s:I,s:I,s:i,s:s,s:i,s:s,s:o,s:I}", "id", (json_int_t)dn_stmt_int64(st, 0), "school_id",
                     (json_int_t)dn_stmt_int64(st, 1), "start_year", start_year, "letter", letter, "grade",
                     dn_class_grade(start_year, year), "name", name, "class_teacher", teacher, "student_count",
                     (json_int_t)dn_stmt_int64(st, 6));
}

static int check_teacher(dn_db_t *db, int64_t school_id, int64_t teacher_id, const char *field, json_t *errors)
{
    int rc = dn_school_user_has_role(db, teacher_id, school_id, "teacher");
    if (rc < 0)
        return rc;
    if (rc == 0) {
        dn_school_field_error(errors, field, "not a teacher of this school");
        return DN_EVALIDATION;
    }
    return 0;
}

int dn_school_class_create(dn_db_t *db, int64_t school_id, int start_year, const char *letter,
                           int64_t class_teacher_id, json_t *errors, json_t **out)
{
    int year = dn_school_current_year();
    int bad = 0;
    if (!dn_school_letter_valid(letter)) {
        dn_school_field_error(errors, "letter", "letter must be 1-2 letters, e.g. \"Б\"");
        bad = 1;
    }
    int grade = dn_class_grade(start_year, year);
    if (grade < 1 || grade > 11) {
        dn_school_field_error(errors, "start_year", "the class would not be in grades 1..11 this academic year");
        bad = 1;
    }
    if (class_teacher_id > 0) {
        int rc = check_teacher(db, school_id, class_teacher_id, "class_teacher_id", errors);
        if (rc == DN_EVALIDATION)
            bad = 1;
        else if (rc < 0)
            return rc;
    }
    if (bad)
        return DN_EVALIDATION;
    int64_t id;
    int rc = dn_db_scalar(db, &q_class_ins, &id, class_teacher_id > 0 ? "iisi" : "iisn", school_id,
                           (int64_t)start_year, letter, class_teacher_id);
    if (rc == DN_ECONFLICT)
        return DN_EEXIST;
    if (rc < 0)
        return rc;
    return dn_school_class_get(db, id, out);
}

int dn_school_class_list(dn_db_t *db, int64_t school_id, json_t **out)
{
    char today[11];
    dn_date_format(dn_date_today_days(), today);
    dn_stmt_t *st = dn_db_query(db, &q_class_list, "si", today, school_id);
    if (st == NULL)
        return prep_error(db);
    int year = dn_school_current_year(), rc;
    json_t *items = json_array();
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        json_array_append_new(items, class_json(st, year));
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int dn_school_class_get(dn_db_t *db, int64_t class_id, json_t **out)
{
    char today[11];
    dn_date_format(dn_date_today_days(), today);
    dn_stmt_t *st = dn_db_query(db, &q_class_get, "si", today, class_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *out = class_json(st, dn_school_current_year());
    dn_stmt_finish(st);
    return 0;
}

int dn_school_class_update(dn_db_t *db, int64_t class_id, int start_year, const char *letter,
                           int64_t class_teacher_id, json_t *errors, json_t **out)
{
    json_t *cur = NULL;
    int rc = dn_school_class_get(db, class_id, &cur);
    if (rc < 0)
        return rc;
    int64_t school_id = json_integer_value(json_object_get(cur, "school_id"));
    int sy = start_year > 0 ? start_year : (int)json_integer_value(json_object_get(cur, "start_year"));
    char let[16];
    snprintf(let, sizeof(let), "%s", letter ? letter : json_string_value(json_object_get(cur, "letter")));
    json_t *ct = json_object_get(json_object_get(cur, "class_teacher"), "id");
    int64_t teacher = class_teacher_id > 0 ? class_teacher_id : class_teacher_id < 0 ? 0 : json_integer_value(ct);
    json_decref(cur);
    int bad = 0;
    if (letter != NULL && !dn_school_letter_valid(letter)) {
        dn_school_field_error(errors, "letter", "letter must be 1-2 letters, e.g. \"Б\"");
        bad = 1;
    }
    int grade = dn_class_grade(sy, dn_school_current_year());
    if (grade < 1 || grade > 11) {
        dn_school_field_error(errors, "start_year", "the class would not be in grades 1..11 this academic year");
        bad = 1;
    }
    if (class_teacher_id > 0) {
        rc = check_teacher(db, school_id, class_teacher_id, "class_teacher_id", errors);
        if (rc == DN_EVALIDATION)
            bad = 1;
        else if (rc < 0)
            return rc;
    }
    if (bad)
        return DN_EVALIDATION;
    if (teacher > 0)
        rc = dn_db_run(db, &q_class_upd, "isii", (int64_t)sy, let, teacher, class_id);
    else
        rc = dn_db_run(db, &q_class_upd, "isni", (int64_t)sy, let, class_id);
    if (rc == DN_ECONFLICT)
        return DN_EEXIST;
    if (rc < 0)
        return rc;
    return dn_school_class_get(db, class_id, out);
}

int dn_school_class_find(dn_db_t *db, int64_t school_id, int start_year, const char *letter, int64_t *class_id)
{
    int rc = dn_db_scalar(db, &q_class_find, class_id, "iis", school_id, (int64_t)start_year, letter);
    if (rc == DN_ENOTFOUND) {
        *class_id = 0;
        return 0;
    }
    return rc;
}

static dn_query_t q_class_students = {
    "SELECT u.id, u.last_name, u.first_name, u.middle_name, cs.from_date FROM class_students cs "
    "JOIN users u ON u.id = cs.student_id WHERE cs.class_id = ? AND cs.from_date <= ? "
    "AND (cs.to_date IS NULL OR cs.to_date >= ?) ORDER BY u.last_name, u.first_name, u.id"};
static dn_query_t q_open_membership = {
    "SELECT id, from_date, class_id FROM class_students WHERE student_id = ? AND to_date IS NULL"};
static dn_query_t q_close_membership = {"UPDATE class_students SET to_date = ? WHERE id = ?"};
static dn_query_t q_later_membership = {
    "SELECT COUNT(*) FROM class_students WHERE student_id = ? AND from_date >= ?"};
static dn_query_t q_membership_ins = {
    "INSERT INTO class_students (class_id, student_id, from_date) VALUES (?, ?, ?)"};
static dn_query_t q_history = {
    "SELECT cs.class_id, c.start_year, c.letter, cs.from_date, cs.to_date FROM class_students cs "
    "JOIN classes c ON c.id = cs.class_id WHERE cs.student_id = ? ORDER BY cs.from_date, cs.id"};

int dn_school_class_students(dn_db_t *db, int64_t class_id, json_t **out)
{
    char today[11];
    dn_date_format(dn_date_today_days(), today);
    return list_of(db, dn_db_query(db, &q_class_students, "iss", class_id, today, today),
                   "id:i,last_name:s,first_name:s,middle_name:s,from_date:s", out);
}

int dn_school_class_enrol(dn_db_t *db, int64_t class_id, int64_t student_id, const char *from_date,
                          json_t *errors)
{
    int64_t from, school_id;
    if (dn_date_parse(from_date, &from) < 0) {
        dn_school_field_error(errors, "from_date", "must be a date YYYY-MM-DD");
        return DN_EVALIDATION;
    }
    int rc = dn_db_scalar(db, &q_class_school, &school_id, "i", class_id);
    if (rc < 0)
        return rc;
    rc = dn_school_user_has_role(db, student_id, school_id, "student");
    if (rc < 0)
        return rc;
    if (rc == 0) {
        dn_school_field_error(errors, "student_id", "not a student of this school");
        return DN_EVALIDATION;
    }
    rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    /* History must stay linear: nothing may start on or after the new date. */
    int64_t later = 0;
    rc = dn_db_scalar(db, &q_later_membership, &later, "is", student_id, from_date);
    if (rc < 0)
        goto fail;
    if (later > 0) {
        rc = DN_ECONFLICT;
        goto fail;
    }
    dn_stmt_t *st = dn_db_query(db, &q_open_membership, "i", student_id);
    if (st == NULL) {
        rc = prep_error(db);
        goto fail;
    }
    rc = dn_stmt_step(st);
    if (rc < 0)
        goto fail;
    if (rc == DN_DB_ROW) {
        int64_t mid = dn_stmt_int64(st, 0);
        dn_stmt_finish(st);
        char prev[11];
        dn_date_format(from - 1, prev);
        rc = dn_db_run(db, &q_close_membership, "si", prev, mid);
        if (rc < 0)
            goto fail;
    }
    rc = dn_db_run(db, &q_membership_ins, "iis", class_id, student_id, from_date);
    if (rc < 0)
        goto fail;
    return dn_db_commit(db);
fail:
    dn_db_rollback(db);
    return rc;
}

int dn_school_student_history(dn_db_t *db, int64_t student_id, json_t **out)
{
    dn_stmt_t *st = dn_db_query(db, &q_history, "i", student_id);
    if (st == NULL)
        return prep_error(db);
    json_t *items = json_array();
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int sy = (int)dn_stmt_int64(st, 1);
        const char *from = dn_stmt_text(st, 3, NULL);
        /* the class's name in the academic year the membership started */
        int year = dn_date_valid(from) ? dn_school_academic_year(atoi(from), atoi(from + 5)) : 0;
        char name[32];
        dn_class_name(sy, dn_stmt_text(st, 2, NULL), year, name, sizeof(name));
        json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:o}", "class_id", (json_int_t)dn_stmt_int64(st, 0),
                                               "class_name", name, "from_date", from, "to_date",
                                               dn_stmt_is_null(st, 4) ? json_null()
                                                                      : json_string(dn_stmt_text(st, 4, NULL))));
    }
    if (rc < 0) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:I,s:o}", "student_id", (json_int_t)student_id, "items", items);
    return 0;
}

/* ------------------------------------------------------------------ */
/* parents and assignments                                            */

static dn_query_t q_link_ins = {"INSERT INTO parent_links (parent_id, student_id) VALUES (?, ?)"};
static dn_query_t q_link_del = {"DELETE FROM parent_links WHERE parent_id = ? AND student_id = ?"};
static dn_query_t q_assign_ins = {
    "INSERT INTO assignments (school_id, teacher_id, class_id, subject_id, subgroup) VALUES (?, ?, ?, ?, ?) "
    "RETURNING id"};
static dn_query_t q_assign_list = {
    "SELECT a.id, a.teacher_id, u.last_name || ' ' || u.first_name, a.class_id, a.subject_id, s.name, a.subgroup "
    "FROM assignments a JOIN users u ON u.id = a.teacher_id JOIN subjects s ON s.id = a.subject_id "
    "WHERE a.school_id = ? AND (CAST(? AS BIGINT) = 0 OR a.class_id = CAST(? AS BIGINT)) "
    "AND (CAST(? AS BIGINT) = 0 OR a.teacher_id = CAST(? AS BIGINT)) ORDER BY a.class_id, s.name, a.id"};
static dn_query_t q_assign_get = {
    "SELECT a.id, a.teacher_id, u.last_name || ' ' || u.first_name, a.class_id, a.subject_id, s.name, a.subgroup "
    "FROM assignments a JOIN users u ON u.id = a.teacher_id JOIN subjects s ON s.id = a.subject_id WHERE a.id = ?"};
static dn_query_t q_assign_school = {"SELECT school_id FROM assignments WHERE id = ?"};
static dn_query_t q_assign_del = {"DELETE FROM assignments WHERE id = ?"};
#define ASSIGN_SPEC "id:i,teacher_id:i,teacher_name:s,class_id:i,subject_id:i,subject_name:s,subgroup:s"

int dn_school_parent_link(dn_db_t *db, int64_t parent_id, int64_t student_id)
{
    int rc = dn_db_run(db, &q_link_ins, "ii", parent_id, student_id);
    return rc == DN_ECONFLICT ? DN_EEXIST : rc;
}

int dn_school_parent_unlink(dn_db_t *db, int64_t parent_id, int64_t student_id)
{
    dn_stmt_t *st = dn_db_query(db, &q_link_del, "ii", parent_id, student_id);
    if (st == NULL)
        return prep_error(db);
    int rc = dn_stmt_exec(st);
    if (rc < 0)
        return rc;
    return dn_stmt_changes(st) > 0 ? 0 : DN_ENOTFOUND;
}

int dn_school_assignment_create(dn_db_t *db, int64_t school_id, int64_t teacher_id, int64_t class_id,
                                int64_t subject_id, const char *subgroup, json_t *errors, json_t **out)
{
    int bad = 0;
    int64_t sid = 0;
    int rc = check_teacher(db, school_id, teacher_id, "teacher_id", errors);
    if (rc == DN_EVALIDATION)
        bad = 1;
    else if (rc < 0)
        return rc;
    rc = dn_db_scalar(db, &q_class_school, &sid, "i", class_id);
    if (rc == DN_ENOTFOUND || (rc == 0 && sid != school_id)) {
        dn_school_field_error(errors, "class_id", "no such class in this school");
        bad = 1;
    } else if (rc < 0) {
        return rc;
    }
    rc = dn_db_scalar(db, &q_subject_school, &sid, "i", subject_id);
    if (rc == DN_ENOTFOUND || (rc == 0 && sid != school_id)) {
        dn_school_field_error(errors, "subject_id", "no such subject in this school");
        bad = 1;
    } else if (rc < 0) {
        return rc;
    }
    if (subgroup != NULL && strlen(subgroup) > 32) {
        dn_school_field_error(errors, "subgroup", "subgroup is at most 32 characters");
        bad = 1;
    }
    if (bad)
        return DN_EVALIDATION;
    int64_t id;
    rc = dn_db_scalar(db, &q_assign_ins, &id, "iiiis", school_id, teacher_id, class_id, subject_id,
                       subgroup ? subgroup : "");
    if (rc == DN_ECONFLICT)
        return DN_EEXIST;
    if (rc < 0)
        return rc;
    return one_of(db, dn_db_query(db, &q_assign_get, "i", id), ASSIGN_SPEC, out);
}

int dn_school_assignment_list(dn_db_t *db, int64_t school_id, int64_t class_id, int64_t teacher_id,
                              json_t **out)
{
    return list_of(db,
                   dn_db_query(db, &q_assign_list, "iiiii", school_id, class_id, class_id, teacher_id, teacher_id),
                   ASSIGN_SPEC, out);
}

int dn_school_assignment_school(dn_db_t *db, int64_t assignment_id, int64_t *school_id)
{
    return dn_db_scalar(db, &q_assign_school, school_id, "i", assignment_id);
}

int dn_school_assignment_delete(dn_db_t *db, int64_t assignment_id)
{
    return dn_db_run(db, &q_assign_del, "i", assignment_id);
}
