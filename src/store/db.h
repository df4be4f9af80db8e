/*
 * db.h - the store interface: one SQL connection, two backends.
 *
 * dnevnik writes its SQL once. Queries use `?` placeholders and the SQL
 * subset that SQLite 3.40 and PostgreSQL 15 share (RETURNING, ON CONFLICT,
 * CTEs, window functions). The PostgreSQL backend rewrites `?` to `$n` once,
 * when it prepares the statement. Values cross the interface as int64,
 * double, text or NULL; dates are ISO-8601 TEXT ('2026-09-01'), instants are
 * int64 milliseconds since the epoch, booleans are 0/1 integers.
 *
 * Threading: a dn_db_t is owned by exactly one thread at a time (a worker of
 * the dispatch pool). Nothing here is shared between connections except the
 * read-only dn_query_t descriptors.
 *
 * Statements: a query is a static dn_query_t. The first use on a connection
 * prepares it and caches the prepared statement on that connection (keyed by
 * the descriptor's id, assigned atomically on first use), so the hot path
 * never re-parses SQL.
 *
 * Durability: dn_db_commit() returns 0 only after the transaction is durable
 * (SQLite: WAL, synchronous=NORMAL plus a group fdatasync of the WAL shared
 * by concurrent committers, see db_sqlite.c; PostgreSQL: synchronous_commit
 * as the server is configured, 'on' by default). Outside an explicit
 * transaction each statement is its own durable transaction.
 */
#ifndef DN_STORE_DB_H
#define DN_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct dn_db dn_db_t;
typedef struct dn_stmt dn_stmt_t;

typedef enum { DN_DB_SQLITE = 1, DN_DB_POSTGRES = 2 } dn_db_backend_t;

/** A statement descriptor; define as `static dn_query_t q = {"SELECT ..."};`. */
typedef struct dn_query {
    const char *sql;
    int _id; /* assigned on first use; 0 = not yet assigned */
} dn_query_t;

/** Results of dn_stmt_step(). Errors are negative DN_E* codes. */
enum { DN_DB_ROW = 1, DN_DB_DONE = 0 };

/**
 * Open a connection. url is "sqlite:PATH" (or a bare path ending in .db),
 * or "postgresql://..." / "postgres://..." (any libpq conninfo URI).
 * On failure returns a negative code and writes a message into err.
 */
int dn_db_open(const char *url, dn_db_t **out, char *err, size_t errlen);
/** Close a connection and free its statement cache. NULL is allowed. */
void dn_db_close(dn_db_t *db);
dn_db_backend_t dn_db_backend(const dn_db_t *db);
/** True when url names a backend dn_db_open understands. */
int dn_db_url_valid(const char *url);

/** Cheap liveness check (SELECT 1). 0 when the store answers. */
int dn_db_ping(dn_db_t *db);
/** Message of the last backend error on this connection ("" when none). */
const char *dn_db_errmsg(const dn_db_t *db);
/** Code (negative DN_E*) of the last error on this connection, 0 when none;
 *  e.g. to tell DN_EBUSY from DN_EDB after dn_db_prepare returned NULL. */
int dn_db_errcode(const dn_db_t *db);
/** The code to return after a failed dn_db_prepare/dn_db_query: the
 *  backend's (DN_EBUSY for a lost session: 503, retry) or DN_EDB. */
int dn_db_failure(const dn_db_t *db);

/* Transactions. begin_write takes the write lock up front (SQLite BEGIN
 * IMMEDIATE) so a read-then-write transaction cannot fail half way.
 * They nest: a begin inside an open transaction is a SAVEPOINT (it keeps the
 * outer mode, so open the outer one with begin_write if anything inside
 * writes), its commit a RELEASE (durable only with the outermost commit), its
 * rollback a ROLLBACK TO that leaves the outer transaction usable. */
int dn_db_begin(dn_db_t *db);
int dn_db_begin_write(dn_db_t *db);
/**
 * begin_write for a transaction that reads and writes only rows of one
 * scope (a school: its lessons, marks, attendance, works, audit rows) and
 * reads shared rows (users) it never writes. Writers of one scope are
 * serialised with each other and with every dn_db_begin_write (which locks
 * the whole store); writers of different scopes may run at once where the
 * backend can (PostgreSQL; SQLite has one write lock and takes it). scope
 * must be > 0. Nested inside an open transaction it is a savepoint, allowed
 * when the outer transaction holds the whole store or the same scope;
 * otherwise DN_EINVAL (taking a second scope could deadlock).
 */
int dn_db_begin_write_in(dn_db_t *db, int64_t scope);
int dn_db_commit(dn_db_t *db);
int dn_db_rollback(dn_db_t *db);
/** Open transaction levels: 0 none, 1 a transaction, more when nested. */
int dn_db_tx_depth(const dn_db_t *db);

/** Run one or more SQL statements without parameters or results (DDL). */
int dn_db_exec(dn_db_t *db, const char *sql);

/**
 * Get the cached prepared statement for q, reset and with no bindings.
 * Returns NULL on a prepare error (see dn_db_errmsg). The statement belongs
 * to the connection: do not free it; it is reset by the next dn_db_prepare of
 * the same query, so one query cannot be iterated twice at once.
 */
dn_stmt_t *dn_db_prepare(dn_db_t *db, dn_query_t *q);

/* Bind parameters, idx from 1. Text is copied; len < 0 means strlen. */
int dn_stmt_bind_int64(dn_stmt_t *st, int idx, int64_t v);
int dn_stmt_bind_double(dn_stmt_t *st, int idx, double v);
int dn_stmt_bind_text(dn_stmt_t *st, int idx, const char *s, long len);
int dn_stmt_bind_null(dn_stmt_t *st, int idx);

/**
 * Execute (on the first call) and move to the next row.
 * Returns DN_DB_ROW, DN_DB_DONE, or a negative code: DN_ECONFLICT for a
 * unique/foreign-key/check violation, DN_EBUSY when the store is locked or
 * unreachable for now, DN_EDB otherwise.
 */
int dn_stmt_step(dn_stmt_t *st);
/** Run a statement to completion, ignoring rows. Same returns, DN_DB_DONE=0. */
int dn_stmt_exec(dn_stmt_t *st);

/* Column access for the current row, col from 0. Text stays valid until the
 * next step/reset of this statement. A NULL reads as 0 / NULL. */
int dn_stmt_column_count(dn_stmt_t *st);
int dn_stmt_is_null(dn_stmt_t *st, int col);
int64_t dn_stmt_int64(dn_stmt_t *st, int col);
double dn_stmt_double(dn_stmt_t *st, int col);
const char *dn_stmt_text(dn_stmt_t *st, int col, size_t *len);
/**
 * Prepare q and bind its parameters from a type string: 'i' an int64_t
 * argument, 's' a const char * (NULL binds NULL), 'n' NULL without an
 * argument. NULL on a prepare error (see dn_db_errcode).
 */
dn_stmt_t *dn_db_query(dn_db_t *db, dn_query_t *q, const char *types, ...);
/** dn_db_query, then run to completion: 0 or a negative code. */
int dn_db_run(dn_db_t *db, dn_query_t *q, const char *types, ...);
/** dn_db_query expecting one row whose first column is an int64: 0, DN_ENOTFOUND or an error. */
int dn_db_scalar(dn_db_t *db, dn_query_t *q, int64_t *v, const char *types, ...);
/** Step to the first row: 0 when there is one, DN_ENOTFOUND when none, else an error. */
int dn_stmt_step_one(dn_stmt_t *st);

/** Text of a column, "" for NULL (never NULL). Same lifetime as dn_stmt_text. */
const char *dn_stmt_str(dn_stmt_t *st, int col);
/**
 * End the statement's current execution now, even mid-iteration (use after
 * reading the one row you need). Starting a transaction and ending a request
 * (dn_db_release) do this for every statement of the connection.
 */
void dn_stmt_finish(dn_stmt_t *st);

/** Rows changed by the last INSERT/UPDATE/DELETE run through st. */
int64_t dn_stmt_changes(dn_stmt_t *st);

/**
 * End the request's use of the connection: reset every statement left
 * mid-iteration and roll back a transaction left open. The HTTP glue calls
 * it after each handler on a store worker.
 */
void dn_db_release(dn_db_t *db);

/**
 * Process-wide bound (ms) on one round trip to a PostgreSQL server; 0 (the
 * default) waits forever, as the offline commands want. A statement without
 * an answer in time is abandoned: its session is closed (the next use opens
 * a new one) and the call fails with DN_EBUSY. `serve` sets --db-timeout, so
 * a partition that leaves a session half-open cannot hold a worker forever.
 * SQLite is bounded by its busy timeout instead.
 */
void dn_db_set_wait_limit(int ms);

/*
 * Connection health. A PostgreSQL session can end under a connection
 * (restart, failover, HAProxy closing sessions of a demoted primary): the
 * glue calls dn_db_check() before every request, which notices a session
 * the server closed while it was idle and reconnects (statements are
 * prepared again on first use). A failure in the middle of a request leaves
 * dn_db_lost() true: the glue may re-run a request that only reads on a
 * fresh session; a write is never re-run (its commit may have happened: the
 * client retries it with its Idempotency-Key). SQLite never loses its
 * connection: check is 0 and lost is 0.
 */
int dn_db_check(dn_db_t *db);
int dn_db_lost(dn_db_t *db);

/* Statistics for /metrics: filled by the backends, read by obs. */
typedef struct dn_db_stats {
    uint64_t queries;
    uint64_t errors;
    uint64_t wal_syncs;       /* SQLite: fdatasyncs of the WAL by group commit */
    uint64_t durable_commits; /* SQLite: commits that waited for one of them */
} dn_db_stats_t;

/** Hook called with every statement's execution time (ns); may be NULL. */
typedef void (*dn_db_observer_fn)(uint64_t elapsed_ns, int failed);
void dn_db_set_observer(dn_db_observer_fn fn);
/** Process-wide totals over all connections (relaxed atomic reads). */
void dn_db_stats(dn_db_stats_t *out);

#endif
