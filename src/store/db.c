/*
 * db.c - backend dispatch and everything the two backends share.
 *
 * A URL picks a struct dn_db_ops (db_int.h); every public call goes through
 * it. Here live the per-connection statement cache (an array indexed by the
 * descriptor's process-wide id), the statement state machine that makes both
 * backends behave alike (a finished statement stays finished until
 * re-prepared; binding only before the first step), transaction bookkeeping
 * with PostgreSQL's rule applied to both backends (after an error inside a
 * transaction, nothing but rollback runs), and the timing of every execution
 * for the observer and the process-wide stats.
 */
#include "store/db_int.h"
#include "core/date.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

enum { ST_FRESH, ST_ROW, ST_DONE, ST_FAILED };

static atomic_int next_query_id;
static _Atomic(dn_db_observer_fn) observer;
static atomic_uint_fast64_t stat_queries, stat_errors;

/* A conflict is the caller's business outcome (duplicate login, ...), not a
 * store malfunction, so it does not count as failed in metrics. */
static void observe(uint64_t elapsed_ns, int rc)
{
    int failed = rc < 0 && rc != DN_ECONFLICT;
    atomic_fetch_add_explicit(&stat_queries, 1, memory_order_relaxed);
    if (failed)
        atomic_fetch_add_explicit(&stat_errors, 1, memory_order_relaxed);
    dn_db_observer_fn fn = atomic_load_explicit(&observer, memory_order_relaxed);
    if (fn)
        fn(elapsed_ns, failed);
}

void dn_db_set_observer(dn_db_observer_fn fn)
{
    atomic_store(&observer, fn);
}

void dn_db_stats(dn_db_stats_t *out)
{
    out->queries = atomic_load_explicit(&stat_queries, memory_order_relaxed);
    out->errors = atomic_load_explicit(&stat_errors, memory_order_relaxed);
    dn_db_sqlite_sync_stats(&out->wal_syncs, &out->durable_commits);
}

void dn_db_set_error(dn_db_t *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
    /* Server messages end in a newline; logs and JSON are nicer without. */
    size_t n = strlen(db->errmsg);
    while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
        db->errmsg[--n] = '\0';
    db->last_err = code;
}

/* An error inside a transaction poisons it until rollback: PostgreSQL does
 * that by itself, and doing it for SQLite too keeps code tested on SQLite
 * honest. */
static int note_error(dn_db_t *db, int rc)
{
    if (rc < 0) {
        db->last_err = rc;
        if (db->in_tx && !db->tx_err)
            db->tx_err = rc;
    }
    return rc;
}

static int tx_aborted(dn_db_t *db)
{
    dn_db_set_error(db, DN_EDB, "transaction aborted by an earlier error (%s); roll it back",
                    dn_strerror(db->tx_err));
    return DN_EDB;
}

/* Backend for url and the part of url it gets, or NULL. */
static const struct dn_db_ops *pick_backend(const char *url, const char **target)
{
    static const char *const sqlite_ext[] = {".db", ".sqlite", ".sqlite3"};
    if (!url)
        return NULL;
    if (strncmp(url, "sqlite:", 7) == 0) {
        *target = url + 7;
        return **target ? &dn_db_sqlite_ops : NULL;
    }
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        *target = url;
        return &dn_db_pg_ops;
    }
    size_t n = strlen(url);
    for (size_t i = 0; i < sizeof sqlite_ext / sizeof *sqlite_ext; i++) {
        size_t e = strlen(sqlite_ext[i]);
        if (n > e && strcmp(url + n - e, sqlite_ext[i]) == 0 && !strstr(url, "://")) {
            *target = url;
            return &dn_db_sqlite_ops;
        }
    }
    return NULL;
}

int dn_db_url_valid(const char *url)
{
    const char *target;
    const struct dn_db_ops *ops = pick_backend(url, &target);
    return ops && (!ops->url_valid || ops->url_valid(target));
}

int dn_db_open(const char *url, dn_db_t **out, char *err, size_t errlen)
{
    const char *target;
    const struct dn_db_ops *ops = pick_backend(url, &target);
    *out = NULL;
    if (!ops || (ops->url_valid && !ops->url_valid(target))) {
        /* Never echo the URL: it may carry a password. */
        snprintf(err, errlen, "unsupported store URL (want sqlite:PATH, PATH.db or postgresql://...)");
        return DN_EINVAL;
    }
    int rc = ops->open(target, out, err, errlen);
    if (rc == 0)
        (*out)->ops = ops;
    return rc;
}

void dn_db_close(dn_db_t *db)
{
    if (!db)
        return;
    for (int i = 0; i < db->ncache; i++) {
        dn_stmt_t *st = db->cache[i];
        if (!st)
            continue;
        if (st->state == ST_ROW)
            observe(st->busy_ns, 0);
        db->ops->stmt_free(st);
    }
    free(db->cache);
    db->ops->close(db);
}

dn_db_backend_t dn_db_backend(const dn_db_t *db)
{
    return db->ops->backend;
}

const char *dn_db_errmsg(const dn_db_t *db)
{
    return db->errmsg;
}

int dn_db_errcode(const dn_db_t *db)
{
    return db->last_err;
}

int dn_db_failure(const dn_db_t *db)
{
    return db->last_err < 0 ? db->last_err : DN_EDB;
}

int dn_db_ping(dn_db_t *db)
{
    return dn_db_exec(db, "SELECT 1");
}

int dn_db_exec(dn_db_t *db, const char *sql)
{
    if (db->tx_err)
        return tx_aborted(db);
    uint64_t t0 = dn_now_mono_ns();
    int rc = db->ops->exec(db, sql);
    observe(dn_now_mono_ns() - t0, rc);
    return note_error(db, rc);
}

static void end_all_statements(dn_db_t *db);

/* Savepoint level n (1 = the first nested begin) of a transaction. */
static int savepoint(dn_db_t *db, const char *verb, int level)
{
    char sql[64];
    snprintf(sql, sizeof sql, verb, level, level);
    uint64_t t0 = dn_now_mono_ns();
    int rc = db->ops->exec(db, sql);
    observe(dn_now_mono_ns() - t0, rc);
    return rc;
}

/* Undo a nested transaction back to its savepoint. The enclosing one goes on
 * clean (nesting required it to be clean), unless the backend lost the whole
 * transaction (SQLite rolls everything back on some errors; a PostgreSQL
 * session may die): then the enclosing one is poisoned with that error. */
static int rollback_nested(dn_db_t *db, int err)
{
    int level = db->in_tx - 1;
    int rc = savepoint(db, "ROLLBACK TO dn_sp%d; RELEASE dn_sp%d", level);
    db->in_tx--;
    db->tx_err = rc < 0 ? (err < 0 ? err : rc) : 0;
    if (rc < 0)
        db->last_err = rc;
    return rc;
}

/* write: 0 read, 1 write; scope: 0 the whole store, > 0 one scope. */
static int begin(dn_db_t *db, int write, int64_t scope)
{
    if (db->in_tx) {
        /* Nested: a savepoint inside the open transaction, whose mode (read or
         * write) it keeps. The HTTP glue wraps a request with an
         * Idempotency-Key in an outer write transaction this way. A scoped
         * write inside a transaction holding another scope (or none) would
         * take a second lock while holding the first: refused. */
        if (db->tx_err)
            return tx_aborted(db);
        if (write && db->tx_lock > 0 && db->tx_lock != scope) {
            /* A caller's mistake, refused before anything ran: the outer
             * transaction is not poisoned. */
            dn_db_set_error(db, DN_EINVAL, "nested write of scope %lld inside a transaction holding scope %lld",
                            (long long)scope, (long long)db->tx_lock);
            return DN_EINVAL;
        }
        end_all_statements(db);
        int rc = savepoint(db, "SAVEPOINT dn_sp%d", db->in_tx);
        if (rc < 0)
            return note_error(db, rc);
        db->in_tx++;
        return 0;
    }
    end_all_statements(db);
    uint64_t t0 = dn_now_mono_ns();
    int rc = db->ops->begin(db, write, scope);
    observe(dn_now_mono_ns() - t0, rc);
    if (rc < 0) {
        /* A half-started transaction (PG: BEGIN ok, lock wait timed out). */
        db->ops->rollback(db);
        return note_error(db, rc);
    }
    db->in_tx = 1;
    db->tx_err = 0;
    db->tx_lock = !write ? 0 : scope > 0 ? scope : -1;
    return 0;
}

int dn_db_begin(dn_db_t *db)
{
    return begin(db, 0, 0);
}

int dn_db_begin_write(dn_db_t *db)
{
    return begin(db, 1, 0);
}

int dn_db_begin_write_in(dn_db_t *db, int64_t scope)
{
    if (scope <= 0) {
        dn_db_set_error(db, DN_EINVAL, "write scope must be > 0, got %lld", (long long)scope);
        return DN_EINVAL;
    }
    return begin(db, 1, scope);
}

int dn_db_tx_depth(const dn_db_t *db)
{
    return db->in_tx;
}

int dn_db_commit(dn_db_t *db)
{
    if (!db->in_tx) {
        dn_db_set_error(db, DN_EINVAL, "commit without a transaction");
        return DN_EINVAL;
    }
    int rc;
    if (db->in_tx > 1) {
        /* Nested: release the savepoint; durability comes with the outermost
         * commit. A poisoned nested transaction is undone and reports why. */
        if (db->tx_err) {
            rc = db->tx_err;
            rollback_nested(db, rc);
            db->last_err = rc;
            return rc;
        }
        rc = savepoint(db, "RELEASE dn_sp%d", db->in_tx - 1);
        if (rc < 0) {
            rollback_nested(db, rc);
            db->last_err = rc;
            return rc;
        }
        db->in_tx--;
        return 0;
    }
    uint64_t t0 = dn_now_mono_ns();
    if (db->tx_err) {
        /* Keep the original message: it says why nothing was committed. */
        rc = db->tx_err;
        db->ops->rollback(db);
    } else {
        rc = db->ops->commit(db);
    }
    observe(dn_now_mono_ns() - t0, rc);
    db->in_tx = 0;
    db->tx_err = 0;
    if (rc < 0)
        db->last_err = rc;
    return rc;
}

int dn_db_rollback(dn_db_t *db)
{
    /* Safe to call from any cleanup path, with or without a transaction. */
    if (!db->in_tx)
        return 0;
    if (db->in_tx > 1)
        return rollback_nested(db, 0);
    uint64_t t0 = dn_now_mono_ns();
    int rc = db->ops->rollback(db);
    observe(dn_now_mono_ns() - t0, rc);
    db->in_tx = 0;
    db->tx_err = 0;
    if (rc < 0)
        db->last_err = rc;
    return rc;
}

/* 1-based process-wide id of q; the cache slot is id - 1. Racing first uses
 * agree through the CAS; the loser's number is simply never used. */
static int query_id(dn_query_t *q)
{
    int id = __atomic_load_n(&q->_id, __ATOMIC_ACQUIRE);
    if (id)
        return id;
    int mine = atomic_fetch_add(&next_query_id, 1) + 1;
    int expected = 0;
    if (__atomic_compare_exchange_n(&q->_id, &expected, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return mine;
    return expected;
}

static int grow_cache(dn_db_t *db, int need)
{
    int n = db->ncache ? db->ncache : 16;
    while (n < need)
        n *= 2;
    dn_stmt_t **c = realloc(db->cache, (size_t)n * sizeof *c);
    if (!c)
        return DN_ENOMEM;
    memset(c + db->ncache, 0, (size_t)(n - db->ncache) * sizeof *c);
    db->cache = c;
    db->ncache = n;
    return 0;
}

dn_stmt_t *dn_db_prepare(dn_db_t *db, dn_query_t *q)
{
    if (db->tx_err) {
        tx_aborted(db);
        return NULL;
    }
    int slot = query_id(q) - 1;
    if (slot >= db->ncache && grow_cache(db, slot + 1) != 0) {
        dn_db_set_error(db, DN_ENOMEM, "out of memory growing the statement cache");
        return NULL;
    }
    dn_stmt_t *st = db->cache[slot];
    if (st) {
        if (st->state == ST_ROW) /* abandoned mid-iteration: still count it */
            observe(st->busy_ns, 0);
        if (note_error(db, db->ops->stmt_reset(st)) < 0)
            return NULL;
    } else {
        st = db->ops->stmt_new(db, q->sql);
        if (!st) {
            note_error(db, db->last_err ? db->last_err : DN_EDB);
            return NULL;
        }
        st->db = db;
        db->cache[slot] = st;
    }
    st->state = ST_FRESH;
    st->last_rc = 0;
    st->busy_ns = 0;
    return st;
}

static int bind_check(dn_stmt_t *st)
{
    if (st->state == ST_FRESH)
        return 0;
    dn_db_set_error(st->db, DN_EINVAL, "bind after step: call dn_db_prepare again first");
    return DN_EINVAL;
}

int dn_stmt_bind_int64(dn_stmt_t *st, int idx, int64_t v)
{
    int rc = bind_check(st);
    return rc ? rc : st->db->ops->bind_int64(st, idx, v);
}

int dn_stmt_bind_double(dn_stmt_t *st, int idx, double v)
{
    int rc = bind_check(st);
    return rc ? rc : st->db->ops->bind_double(st, idx, v);
}

int dn_stmt_bind_text(dn_stmt_t *st, int idx, const char *s, long len)
{
    int rc = bind_check(st);
    if (rc)
        return rc;
    if (!s)
        return st->db->ops->bind_null(st, idx);
    return st->db->ops->bind_text(st, idx, s, len < 0 ? strlen(s) : (size_t)len);
}

int dn_stmt_bind_null(dn_stmt_t *st, int idx)
{
    int rc = bind_check(st);
    return rc ? rc : st->db->ops->bind_null(st, idx);
}

int dn_stmt_step(dn_stmt_t *st)
{
    dn_db_t *db = st->db;
    if (st->state == ST_DONE || st->state == ST_FAILED)
        return st->last_rc;
    if (db->tx_err) {
        st->state = ST_FAILED;
        st->last_rc = tx_aborted(db);
        return st->last_rc;
    }
    uint64_t t0 = dn_now_mono_ns();
    int rc = db->ops->step(st);
    st->busy_ns += dn_now_mono_ns() - t0;
    if (rc == DN_DB_ROW) {
        st->state = ST_ROW;
        return rc;
    }
    /* One execution = all its steps: report it once, when it ends. */
    observe(st->busy_ns, rc);
    st->state = rc < 0 ? ST_FAILED : ST_DONE;
    st->last_rc = rc;
    return note_error(db, rc);
}

int dn_stmt_exec(dn_stmt_t *st)
{
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        ;
    return rc;
}

int dn_stmt_column_count(dn_stmt_t *st)
{
    return st->db->ops->column_count(st);
}

/* Columns exist only on a current row; anything else reads as NULL. */
static int has_col(dn_stmt_t *st, int col)
{
    return st->state == ST_ROW && col >= 0 && col < st->db->ops->column_count(st);
}

int dn_stmt_is_null(dn_stmt_t *st, int col)
{
    return has_col(st, col) ? st->db->ops->is_null(st, col) : 1;
}

int64_t dn_stmt_int64(dn_stmt_t *st, int col)
{
    return has_col(st, col) ? st->db->ops->column_int64(st, col) : 0;
}

double dn_stmt_double(dn_stmt_t *st, int col)
{
    return has_col(st, col) ? st->db->ops->column_double(st, col) : 0.0;
}

const char *dn_stmt_text(dn_stmt_t *st, int col, size_t *len)
{
    if (has_col(st, col))
        return st->db->ops->column_text(st, col, len);
    if (len)
        *len = 0;
    return NULL;
}

int64_t dn_stmt_changes(dn_stmt_t *st)
{
    return st->state == ST_FRESH ? 0 : st->db->ops->changes(st);
}

/* End one execution now: reset a statement left mid-iteration. */
static void end_statement(dn_stmt_t *st)
{
    if (st->state == ST_ROW) {
        observe(st->busy_ns, 0);
        st->db->ops->stmt_reset(st);
        st->state = ST_DONE;
    }
}

void dn_stmt_finish(dn_stmt_t *st)
{
    if (st != NULL)
        end_statement(st);
}

const char *dn_stmt_str(dn_stmt_t *st, int col)
{
    const char *s = dn_stmt_text(st, col, NULL);
    return s != NULL ? s : "";
}

/* A SQLite statement that returned a row but was not run to its end keeps the
 * connection's read snapshot (or an INSERT ... RETURNING's write) open: a
 * later BEGIN IMMEDIATE then fails with BUSY, and other connections do not see
 * the insert. Every transaction start and every request end closes them. */
static void end_all_statements(dn_db_t *db)
{
    for (int i = 0; i < db->ncache; i++)
        if (db->cache[i] != NULL)
            end_statement(db->cache[i]);
}

void dn_db_release(dn_db_t *db)
{
    if (db == NULL)
        return;
    end_all_statements(db);
    if (db->in_tx) { /* a handler that returned inside a transaction: never commit for it */
        db->in_tx = 1;  /* the outermost ROLLBACK ends every nested level too */
        dn_db_rollback(db);
    }
}

int dn_db_check(dn_db_t *db)
{
    if (db == NULL || db->ops->check == NULL || db->in_tx)
        return 0;
    return db->ops->check(db);
}

int dn_db_lost(dn_db_t *db)
{
    return db != NULL && db->ops->lost != NULL && db->ops->lost(db);
}

/* Bind parameters from a type string: 'i' int64_t, 's' text (NULL binds NULL),
 * 'n' NULL (consumes no argument). */
static dn_stmt_t *vquery(dn_db_t *db, dn_query_t *q, const char *types, va_list ap)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    if (st == NULL)
        return NULL;
    for (int i = 0; types != NULL && types[i]; i++) {
        if (types[i] == 'i') {
            dn_stmt_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else if (types[i] == 's') {
            const char *text = va_arg(ap, const char *);
            if (text == NULL)
                dn_stmt_bind_null(st, i + 1);
            else
                dn_stmt_bind_text(st, i + 1, text, -1);
        } else {
            dn_stmt_bind_null(st, i + 1);
        }
    }
    return st;
}

static int prepare_error(dn_db_t *db)
{
    return db->last_err < 0 ? db->last_err : DN_EDB;
}

dn_stmt_t *dn_db_query(dn_db_t *db, dn_query_t *q, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    dn_stmt_t *st = vquery(db, q, types, ap);
    va_end(ap);
    return st;
}

int dn_db_run(dn_db_t *db, dn_query_t *q, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    dn_stmt_t *st = vquery(db, q, types, ap);
    va_end(ap);
    if (st == NULL)
        return prepare_error(db);
    int rc = dn_stmt_exec(st);
    return rc < 0 ? rc : 0;
}

int dn_db_scalar(dn_db_t *db, dn_query_t *q, int64_t *v, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    dn_stmt_t *st = vquery(db, q, types, ap);
    va_end(ap);
    if (st == NULL)
        return prepare_error(db);
    int rc = dn_stmt_step_one(st);
    if (rc == 0) {
        *v = dn_stmt_int64(st, 0);
        dn_stmt_finish(st);
    }
    return rc;
}

int dn_stmt_step_one(dn_stmt_t *st)
{
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    return rc == DN_DB_ROW ? 0 : DN_ENOTFOUND;
}
