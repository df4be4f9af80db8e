/*
 * db_sqlite.c - the SQLite backend.
 *
 * One sqlite3 handle per connection, opened NOMUTEX because a connection
 * never crosses threads at the same time. WAL lets readers run beside the
 * single writer; synchronous=FULL makes COMMIT return only once the WAL is
 * fsynced (WAL's default NORMAL may lose the last commits on power loss).
 * busy_timeout turns short lock waits into waits instead of errors.
 * Statements are prepared once with SQLITE_PREPARE_PERSISTENT because db.c
 * caches them for the life of the connection.
 */
#include "store/db_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define BUSY_TIMEOUT_MS 5000

typedef struct {
    dn_db_t base;
    sqlite3 *h;
} sq_db_t;

typedef struct {
    dn_stmt_t base;
    sqlite3_stmt *s;
    int64_t total_before; /* sqlite3_total_changes64 before the first step */
    int64_t changes;
} sq_stmt_t;

static sqlite3 *handle(dn_db_t *db)
{
    return ((sq_db_t *)db)->h;
}

/* Map an SQLite result code and remember the message. */
static int fail(dn_db_t *db, int rc)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        code = DN_ECONFLICT;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = DN_EBUSY;
        break;
    case SQLITE_NOMEM:
        code = DN_ENOMEM;
        break;
    default:
        code = DN_EDB;
    }
    dn_db_set_error(db, code, "%s", sqlite3_errmsg(handle(db)));
    return code;
}

static int sq_exec(dn_db_t *db, const char *sql)
{
    int rc = sqlite3_exec(handle(db), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(db, rc);
}

static int sq_open(const char *path, dn_db_t **out, char *err, size_t errlen)
{
    sq_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return DN_ENOMEM;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &db->h, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db->h, 1);
    /* Before the pragmas: switching to WAL needs a lock another opener may hold. */
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(db->h,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite setup %s: %s", path, sqlite3_errmsg(db->h));
        goto fail;
    }
    *out = &db->base;
    return 0;
fail:
    sqlite3_close_v2(db->h);
    free(db);
    return (rc & 0xff) == SQLITE_BUSY ? DN_EBUSY : DN_EDB;
}

static void sq_close(dn_db_t *db)
{
    /* v2: never fails because of an unfinalized statement; frees when done. */
    sqlite3_close_v2(handle(db));
    free(db);
}

static int sq_begin(dn_db_t *db, int write)
{
    return sq_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN");
}

static int sq_rollback(dn_db_t *db)
{
    /* Some errors (SQLITE_FULL, IOERR, ...) already rolled back; then the
     * transaction is gone and ROLLBACK itself would fail. */
    if (sqlite3_get_autocommit(handle(db)))
        return 0;
    return sq_exec(db, "ROLLBACK");
}

static int sq_commit(dn_db_t *db)
{
    int rc = sq_exec(db, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(handle(db))) {
        /* A failed COMMIT leaves the transaction open; the contract says a
         * failed commit ends it, as PostgreSQL's does. */
        char msg[sizeof db->errmsg];
        memcpy(msg, db->errmsg, sizeof msg);
        sq_exec(db, "ROLLBACK");
        dn_db_set_error(db, rc, "%s", msg);
    }
    return rc;
}

static dn_stmt_t *sq_stmt_new(dn_db_t *db, const char *sql)
{
    sq_stmt_t *st = calloc(1, sizeof *st);
    if (!st) {
        dn_db_set_error(db, DN_ENOMEM, "out of memory");
        return NULL;
    }
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(handle(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &st->s, &tail);
    if (rc != SQLITE_OK) {
        fail(db, rc);
        goto fail;
    }
    if (!st->s) {
        dn_db_set_error(db, DN_EDB, "empty statement");
        goto fail;
    }
    /* PostgreSQL cannot prepare two statements at once; refuse it here too. */
    tail += strspn(tail, " \t\r\n;");
    if (*tail) {
        dn_db_set_error(db, DN_EDB, "more than one statement in a query");
        goto fail;
    }
    return &st->base;
fail:
    sqlite3_finalize(st->s);
    free(st);
    return NULL;
}

static void sq_stmt_free(dn_stmt_t *st)
{
    sqlite3_finalize(((sq_stmt_t *)st)->s);
    free(st);
}

static int sq_stmt_reset(dn_stmt_t *base)
{
    sq_stmt_t *st = (sq_stmt_t *)base;
    /* reset returns the error of the last step, already reported then. */
    sqlite3_reset(st->s);
    sqlite3_clear_bindings(st->s);
    st->changes = 0;
    return 0;
}

static int bound(dn_stmt_t *st, int rc)
{
    if (rc == SQLITE_OK)
        return 0;
    if (rc == SQLITE_RANGE) {
        dn_db_set_error(st->db, DN_EINVAL, "bind index out of range");
        return DN_EINVAL;
    }
    return fail(st->db, rc);
}

static int sq_bind_int64(dn_stmt_t *st, int idx, int64_t v)
{
    return bound(st, sqlite3_bind_int64(((sq_stmt_t *)st)->s, idx, v));
}

static int sq_bind_double(dn_stmt_t *st, int idx, double v)
{
    return bound(st, sqlite3_bind_double(((sq_stmt_t *)st)->s, idx, v));
}

static int sq_bind_text(dn_stmt_t *st, int idx, const char *s, size_t len)
{
    return bound(st, sqlite3_bind_text64(((sq_stmt_t *)st)->s, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_null(dn_stmt_t *st, int idx)
{
    return bound(st, sqlite3_bind_null(((sq_stmt_t *)st)->s, idx));
}

static int sq_step(dn_stmt_t *base)
{
    sq_stmt_t *st = (sq_stmt_t *)base;
    sqlite3 *h = handle(base->db);
    if (!sqlite3_stmt_busy(st->s))
        st->total_before = sqlite3_total_changes64(h);
    int rc = sqlite3_step(st->s);
    if (rc == SQLITE_ROW)
        return DN_DB_ROW;
    if (rc != SQLITE_DONE)
        return fail(base->db, rc);
    /* sqlite3_changes64 is the last INSERT/UPDATE/DELETE of the connection;
     * if this statement changed nothing (DDL, SELECT) it is someone else's. */
    st->changes = sqlite3_total_changes64(h) != st->total_before ? sqlite3_changes64(h) : 0;
    return DN_DB_DONE;
}

static int sq_column_count(dn_stmt_t *st)
{
    return sqlite3_column_count(((sq_stmt_t *)st)->s);
}

static int sq_is_null(dn_stmt_t *st, int col)
{
    return sqlite3_column_type(((sq_stmt_t *)st)->s, col) == SQLITE_NULL;
}

static int64_t sq_column_int64(dn_stmt_t *st, int col)
{
    return sqlite3_column_int64(((sq_stmt_t *)st)->s, col);
}

static double sq_column_double(dn_stmt_t *st, int col)
{
    return sqlite3_column_double(((sq_stmt_t *)st)->s, col);
}

static const char *sq_column_text(dn_stmt_t *st, int col, size_t *len)
{
    sqlite3_stmt *s = ((sq_stmt_t *)st)->s;
    const char *t = (const char *)sqlite3_column_text(s, col);
    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    return t;
}

static int64_t sq_changes(dn_stmt_t *st)
{
    return ((sq_stmt_t *)st)->changes;
}

const struct dn_db_ops dn_db_sqlite_ops = {
    .backend = DN_DB_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .stmt_new = sq_stmt_new,
    .stmt_free = sq_stmt_free,
    .stmt_reset = sq_stmt_reset,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .column_count = sq_column_count,
    .is_null = sq_is_null,
    .column_int64 = sq_column_int64,
    .column_double = sq_column_double,
    .column_text = sq_column_text,
    .changes = sq_changes,
};
