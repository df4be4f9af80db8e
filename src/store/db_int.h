/*
 * db_int.h - private contract between db.c and the two backends.
 *
 * db.c owns everything backend-neutral: URL dispatch, the per-connection
 * statement cache, transaction bookkeeping, timing and the observer. A
 * backend fills a struct dn_db_ops and embeds struct dn_db / struct dn_stmt
 * as the FIRST member of its own connection / statement structs, so db.c
 * and the backend can cast between them. Backends return 0 / DN_DB_ROW /
 * DN_DB_DONE or a negative DN_E* code and leave a message in db->errmsg.
 */
#ifndef DN_STORE_DB_INT_H
#define DN_STORE_DB_INT_H

#include "store/db.h"

struct dn_db {
    const struct dn_db_ops *ops;
    dn_stmt_t **cache; /* indexed by dn_query_t._id; NULL = not prepared here */
    int ncache;
    int in_tx;  /* transaction depth: 0 none, 1 a transaction, n > 1 n - 1 savepoints inside it */
    int tx_err; /* first error inside the current transaction, 0 if none */
    /* Write lock of the open transaction: 0 none (read), -1 the whole store,
     * else the scope of dn_db_begin_write_in. */
    int64_t tx_lock;
    int last_err;
    char errmsg[512];
};

struct dn_stmt {
    dn_db_t *db;
    int state;          /* db.c's step state machine (see db.c) */
    int last_rc;        /* what a finished statement keeps returning */
    uint64_t busy_ns;   /* time spent in steps of the current execution */
};

struct dn_db_ops {
    dn_db_backend_t backend;
    /* Optional syntax check of the part after the scheme dispatch. */
    int (*url_valid)(const char *target);
    int (*open)(const char *target, dn_db_t **out, char *err, size_t errlen);
    void (*close)(dn_db_t *db);
    int (*exec)(dn_db_t *db, const char *sql);
    /* write: 0 read; 1 write, holding the write lock of scope (0 = the
     * whole store; backends without finer locks take the whole store). */
    int (*begin)(dn_db_t *db, int write, int64_t scope);
    /* On failure commit leaves no transaction open (it rolls back). */
    int (*commit)(dn_db_t *db);
    int (*rollback)(dn_db_t *db);

    /* Create a statement for sql (NULL on error, message in db->errmsg). */
    dn_stmt_t *(*stmt_new)(dn_db_t *db, const char *sql);
    void (*stmt_free)(dn_stmt_t *st);
    /* Reset for a new execution and clear all bindings. */
    int (*stmt_reset)(dn_stmt_t *st);
    int (*bind_int64)(dn_stmt_t *st, int idx, int64_t v);
    int (*bind_double)(dn_stmt_t *st, int idx, double v);
    int (*bind_text)(dn_stmt_t *st, int idx, const char *s, size_t len);
    int (*bind_null)(dn_stmt_t *st, int idx);
    int (*step)(dn_stmt_t *st);
    int (*column_count)(dn_stmt_t *st);
    int (*is_null)(dn_stmt_t *st, int col);
    int64_t (*column_int64)(dn_stmt_t *st, int col);
    double (*column_double)(dn_stmt_t *st, int col);
    const char *(*column_text)(dn_stmt_t *st, int col, size_t *len);
    int64_t (*changes)(dn_stmt_t *st);

    /* Connection health (optional; NULL = the connection cannot go away).
     * check: before a request, notice a session the server ended while it
     * sat idle and reconnect it; 0 or DN_EBUSY. lost: 1 when the session is
     * gone (the last failure was the connection, not the statement). */
    int (*check)(dn_db_t *db);
    int (*lost)(dn_db_t *db);
};

extern const struct dn_db_ops dn_db_sqlite_ops;
/** SQLite group commit totals: WAL fdatasyncs done, commits that waited for one. */
void dn_db_sqlite_sync_stats(uint64_t *syncs, uint64_t *commits);
extern const struct dn_db_ops dn_db_pg_ops;

/** Record a backend error (code and message, truncated to fit) on db. */
void dn_db_set_error(dn_db_t *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
