/*
 * idempotency.c - Idempotency-Key: the stored first answer of a write.
 *
 * Invariant: the row in idempotency_keys and the handler's writes commit in
 * one store transaction (the outer one opened here; the handler's nest in it
 * as savepoints), so "applied" and "answer recorded" are one fact. The
 * lookup runs inside that write transaction: on SQLite (one writer at a
 * time) a concurrent duplicate waits, then finds the first one's row; on
 * PostgreSQL a duplicate that got past the lookup meanwhile fails on the
 * primary key at its insert, rolls back everything and replays the winner's
 * row. Only 2xx answers are stored: a refused request changed nothing, and
 * its retry is simply judged again. Rows expire after DN_IDEM_TTL_MS: an
 * expired row is ignored and replaced, and every 256th stored answer sweeps
 * the expired ones (indexed by created_at).
 */
#include "http/idempotency.h"
#include "core/date.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "http/router.h"
#include "auth/auth.h"

static dn_query_t q_find = {"SELECT request_hash, status, body, content_type, headers, created_at "
                            "FROM idempotency_keys WHERE user_id = ? AND key = ?"};
static dn_query_t q_drop = {"DELETE FROM idempotency_keys WHERE user_id = ? AND key = ?"};
static dn_query_t q_store = {"INSERT INTO idempotency_keys "
                             "(user_id, key, request_hash, status, body, content_type, headers, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"};
static dn_query_t q_sweep = {"DELETE FROM idempotency_keys WHERE created_at < ?"};

static atomic_uint stored_count;

int dn_idem_key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n] != '\0'; n++)
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e)
            return 0;
    return n >= 1 && n <= DN_IDEM_KEY_MAX;
}

static void request_hash(const dn_req_t *req, char out[65])
{
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    const char *method = dn_method_name(req->method);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)method, strlen(method) + 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)req->path, strlen(req->path) + 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)req->query, strlen(req->query) + 1);
    if (req->body.base != NULL)
        crypto_hash_sha256_update(&h, (const unsigned char *)req->body.base, req->body.len);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

/* Answer with the stored row st is on (replay), or 422 if it belongs to a
 * different request. */
static void answer_stored(dn_req_t *req, const dn_idem_t *idem, dn_stmt_t *st)
{
    if (strcmp(dn_stmt_str(st, 0), idem->hash) != 0) {
        json_t *errors = json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                   "this key was already used for a different request (method, path or body)");
        req->nres_headers = 0;
        dn_res_problem_fields(req, 422, "Idempotency-Key reused for a different request", errors);
        return;
    }
    size_t blen = 0;
    const char *body = dn_stmt_text(st, 2, &blen);
    const char *ctype = dn_stmt_str(st, 3);
    req->nres_headers = 0;
    dn_res_body(req, (int)dn_stmt_int64(st, 1), *ctype ? dn_req_strdup(req, ctype, strlen(ctype)) : NULL,
                blen ? dn_req_strdup(req, body, blen) : "", blen);
    /* headers: "name\tvalue\n" lines */
    const char *h = dn_stmt_str(st, 4);
    while (*h) {
        const char *tab = strchr(h, '\t'), *nl = strchr(h, '\n');
        if (tab == NULL || nl == NULL || tab > nl)
            break;
        char *name = dn_req_strdup(req, h, (size_t)(tab - h));
        char *value = dn_req_strdup(req, tab + 1, (size_t)(nl - tab - 1));
        dn_res_header(req, name, value);
        h = nl + 1;
    }
    dn_res_header(req, "idempotent-replayed", "true");
}

/* Look the key up and answer from it: 1 answered, 0 no live row, < 0 error. */
static int replay(dn_req_t *req, const dn_idem_t *idem)
{
    dn_db_t *db = req->db;
    dn_stmt_t *st = dn_db_query(db, &q_find, "is", idem->user_id, req->idempotency_key);
    if (st == NULL)
        return dn_db_errcode(db) < 0 ? dn_db_errcode(db) : DN_EDB;
    int rc = dn_stmt_step_one(st);
    if (rc == DN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (dn_stmt_int64(st, 5) < dn_now_ms() - DN_IDEM_TTL_MS) {
        dn_stmt_finish(st);
        rc = dn_db_run(db, &q_drop, "is", idem->user_id, req->idempotency_key);
        return rc < 0 ? rc : 0;
    }
    answer_stored(req, idem, st);
    dn_stmt_finish(st);
    return 1;
}

int dn_idem_begin(dn_req_t *req, dn_idem_t *st)
{
    memset(st, 0, sizeof *st);
    if (req->idempotency_key == NULL || !(req->method & (DN_POST | DN_PUT | DN_PATCH | DN_DELETE)))
        return 0;
    if (!dn_idem_key_valid(req->idempotency_key)) {
        json_t *errors = json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                   "must be 1..200 visible ASCII characters (no spaces)");
        dn_res_problem_fields(req, 400, "malformed Idempotency-Key header", errors);
        return 1;
    }
    /* Keys belong to users: without a valid token the handler answers 401
     * (or is a sign-in, which needs no key), so there is nothing to key. */
    if ((st->user_id = dn_auth_token_user(req)) == 0)
        return 0;
    request_hash(req, st->hash);
    int rc = dn_db_begin_write(req->db);
    if (rc == 0 && (rc = replay(req, st)) == 0) {
        st->active = 1;
        return 0;
    }
    dn_db_rollback(req->db);
    if (rc < 0)
        dn_res_error(req, rc, "could not check the Idempotency-Key; retry with the same key");
    return 1;
}

/* The answer's headers as "name\tvalue\n" lines, in pool memory. */
static const char *headers_text(dn_req_t *req)
{
    size_t n = 1;
    for (int i = 0; i < req->nres_headers; i++)
        n += strlen(req->res_headers[i].name) + req->res_headers[i].value_len + 2;
    char *out = h2o_mem_alloc_pool(&req->pool, n), *o = out;
    for (int i = 0; i < req->nres_headers; i++) {
        const dn_header_t *h = &req->res_headers[i];
        o += sprintf(o, "%s\t", h->name);
        memcpy(o, h->value, h->value_len);
        o += h->value_len;
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

static int store(dn_req_t *req, const dn_idem_t *st)
{
    dn_db_t *db = req->db;
    int64_t now = dn_now_ms();
    if ((atomic_fetch_add_explicit(&stored_count, 1, memory_order_relaxed) & 255) == 0) {
        int rc = dn_db_run(db, &q_sweep, "i", now - DN_IDEM_TTL_MS);
        if (rc < 0)
            return rc;
    }
    const char *body = req->res_body.base != NULL ? req->res_body.base : "";
    dn_stmt_t *s = dn_db_prepare(db, &q_store);
    if (s == NULL)
        return dn_db_errcode(db) < 0 ? dn_db_errcode(db) : DN_EDB;
    dn_stmt_bind_int64(s, 1, st->user_id);
    dn_stmt_bind_text(s, 2, req->idempotency_key, -1);
    dn_stmt_bind_text(s, 3, st->hash, -1);
    dn_stmt_bind_int64(s, 4, req->status);
    dn_stmt_bind_text(s, 5, body, (long)req->res_body.len);
    dn_stmt_bind_text(s, 6, req->res_content_type != NULL ? req->res_content_type : "", -1);
    dn_stmt_bind_text(s, 7, headers_text(req), -1);
    dn_stmt_bind_int64(s, 8, now);
    int rc = dn_stmt_exec(s);
    return rc < 0 ? rc : 0;
}

void dn_idem_end(dn_req_t *req, dn_idem_t *st, int handed_off)
{
    dn_db_t *db = req->db;
    if (!st->active)
        return;
    st->active = 0;
    /* A nested transaction the handler left open is never committed for it
     * (as dn_db_release would do without a key). */
    while (dn_db_tx_depth(db) > 1)
        dn_db_rollback(db);
    if (dn_db_tx_depth(db) != 1)
        return; /* the transaction is gone (connection lost): nothing to keep */
    if (handed_off) {
        dn_db_commit(db); /* what the first stage did, as without a key; the key is not recorded */
        return;
    }
    if (req->status < 200 || req->status > 299) {
        dn_db_rollback(db);
        return;
    }
    int rc = store(req, st);
    if (rc == 0)
        rc = dn_db_commit(db);
    else
        dn_db_rollback(db);
    if (rc == 0)
        return;
    if (rc == DN_ECONFLICT) {
        /* A concurrent duplicate stored its answer first (PostgreSQL): ours
         * was rolled back, so answer with the winner's. */
        int r = replay(req, st);
        if (r == 1)
            return;
        rc = r < 0 ? r : DN_EBUSY;
    }
    /* Not known to be durable (a failed sync may follow a commit others
     * already see): the retry with the same key replays or redoes it. */
    req->nres_headers = 0;
    dn_res_error(req, rc, "the change may not have been saved; retry with the same Idempotency-Key");
}
