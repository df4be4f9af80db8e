/*
 * db_sqlite.c - the SQLite backend.
 *
 * One sqlite3 handle per connection, opened NOMUTEX because a connection
 * never crosses threads at the same time. WAL lets readers run beside the
 * single writer. busy_timeout turns short lock waits into waits instead of
 * errors. Statements are prepared once with SQLITE_PREPARE_PERSISTENT
 * because db.c caches them for the life of the connection.
 *
 * Durability by group commit. With synchronous=FULL every COMMIT fsyncs the
 * WAL itself, inside the write lock: writers queue behind each other's
 * fsyncs (~0.2 ms each on our disk) and the whole store tops out at a few
 * thousand commits/s no matter how many workers wait. Instead connections
 * run synchronous=NORMAL (SQLite then writes the WAL at COMMIT but does not
 * sync it; checkpoints still sync the WAL before copying it into the
 * database and sync the database after, so the database file is never ahead
 * of a durable WAL), and after every commit that wrote to the WAL (a
 * COMMIT, or an autocommit statement: sqlite3_wal_hook tells us) the
 * committing thread calls group_sync() before it returns success:
 *   - it takes a ticket (tickets are handed out in commit order, each after
 *     its commit's frames were write()n to the WAL);
 *   - if nobody is syncing, it becomes the leader: it notes the newest
 *     ticket, fdatasync()s the WAL (through SQLite's own WAL file handle of
 *     its connection, SQLITE_FCNTL_JOURNAL_POINTER: always the file SQLite
 *     uses; the VFS also fsyncs the directory the first time, covering a
 *     freshly created -wal file), then marks every ticket up to the noted
 *     one durable and wakes the others;
 *   - otherwise it waits until its ticket is durable (or leads the next
 *     sync if the running one started before its commit).
 * So concurrent committers share one fdatasync and dn_db_commit() still
 * returns 0 only when the transaction is on disk. A crash loses at most
 * commits nobody was told about. The state is per database file and
 * process. Writers of one process also queue on an in-process lock per file
 * before BEGIN IMMEDIATE (released at COMMIT, before the sync), so they hand
 * the write lock over directly instead of sleeping in SQLite's busy handler
 * (which polls with growing sleeps of up to 100 ms).
 * In-memory databases (no WAL) keep synchronous=FULL and none of this.
 */
#include "store/db_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

#define BUSY_TIMEOUT_MS 5000
#define AUTOCHECKPOINT_PAGES 1000 /* SQLite's default, which our WAL hook replaces */

/* Group commit state of one database file in this process. */
typedef struct sync_group {
    struct sync_group *next;
    char *path;
    int refs;                /* connections using it; guarded by groups_lock */
    pthread_mutex_t wlock;   /* guards writer: a flag, not a mutex held across */
    pthread_cond_t wfree;    /* calls, so any thread may end the transaction */
    int writer;              /* a connection is between BEGIN IMMEDIATE and its end */
    pthread_mutex_t lock;    /* guards the fields below */
    pthread_cond_t done;
    uint64_t requested;      /* tickets handed out: commits written to the WAL */
    uint64_t synced;         /* every ticket up to this one is on disk */
    int syncing;             /* a leader is in fdatasync now */
} sync_group_t;

static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static sync_group_t *groups;
static atomic_uint_fast64_t stat_syncs, stat_commits;

typedef struct {
    dn_db_t base;
    sqlite3 *h;
    sync_group_t *group; /* NULL: no WAL, synchronous=FULL does it all */
    int holds_writer;    /* this connection holds group->writer */
    int need_sync;       /* the WAL hook saw a commit not yet synced */
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

/* ---- group commit (see the top of the file) ---- */

static sync_group_t *group_get(const char *path)
{
    pthread_mutex_lock(&groups_lock);
    sync_group_t *g;
    for (g = groups; g != NULL; g = g->next)
        if (strcmp(g->path, path) == 0)
            break;
    if (g == NULL && (g = calloc(1, sizeof *g)) != NULL) {
        if ((g->path = strdup(path)) == NULL) {
            free(g);
            g = NULL;
        } else {
            pthread_mutex_init(&g->wlock, NULL);
            pthread_cond_init(&g->wfree, NULL);
            pthread_mutex_init(&g->lock, NULL);
            pthread_cond_init(&g->done, NULL);
            g->next = groups;
            groups = g;
        }
    }
    if (g != NULL)
        g->refs++;
    pthread_mutex_unlock(&groups_lock);
    return g;
}

static void group_put(sync_group_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&groups_lock);
    if (--g->refs == 0) {
        for (sync_group_t **pp = &groups; *pp != NULL; pp = &(*pp)->next)
            if (*pp == g) {
                *pp = g->next;
                break;
            }
        pthread_mutex_destroy(&g->wlock);
        pthread_cond_destroy(&g->wfree);
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->done);
        free(g->path);
        free(g);
    }
    pthread_mutex_unlock(&groups_lock);
}

/* fdatasync the WAL through this connection's own handle of it. */
static int sync_wal(sq_db_t *db)
{
    sqlite3_file *f = NULL;
    int rc = sqlite3_file_control(db->h, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
    if (rc == SQLITE_OK && (f == NULL || f->pMethods == NULL))
        rc = SQLITE_IOERR;
    if (rc == SQLITE_OK)
        rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK) {
        dn_db_set_error(&db->base, DN_EIO, "syncing the write-ahead log failed (%s)", sqlite3_errstr(rc));
        return DN_EIO;
    }
    atomic_fetch_add_explicit(&stat_syncs, 1, memory_order_relaxed);
    return 0;
}

/* Return once every commit this connection made so far is on disk. */
static int group_sync(sq_db_t *db)
{
    sync_group_t *g = db->group;
    int rc = 0;
    if (g == NULL || !db->need_sync)
        return 0;
    db->need_sync = 0;
    atomic_fetch_add_explicit(&stat_commits, 1, memory_order_relaxed);
    pthread_mutex_lock(&g->lock);
    uint64_t ticket = ++g->requested;
    while (g->synced < ticket) {
        if (g->syncing) {
            pthread_cond_wait(&g->done, &g->lock);
            continue;
        }
        /* Lead: every ticket handed out so far was written before this sync. */
        uint64_t target = g->requested;
        g->syncing = 1;
        pthread_mutex_unlock(&g->lock);
        rc = sync_wal(db);
        pthread_mutex_lock(&g->lock);
        g->syncing = 0;
        if (rc == 0 && target > g->synced)
            g->synced = target;
        pthread_cond_broadcast(&g->done);
        if (rc != 0)
            break; /* waiters retry with a sync of their own */
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

/* Called by SQLite after each commit that wrote WAL frames (in autocommit
 * state, i.e. after COMMIT or an autocommit statement). Setting a hook
 * replaces SQLite's auto-checkpoint hook, so checkpoint here the same way. */
static int on_wal_commit(void *arg, sqlite3 *h, const char *dbname, int pages)
{
    sq_db_t *db = arg;
    db->need_sync = 1;
    if (pages >= AUTOCHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2(h, dbname, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* After a statement may have committed outside a transaction. */
static int sync_if_committed(dn_db_t *base)
{
    sq_db_t *db = (sq_db_t *)base;
    if (!db->need_sync || !sqlite3_get_autocommit(db->h))
        return 0;
    return group_sync(db);
}

static int writer_lock(sq_db_t *db)
{
    if (db->group == NULL || db->holds_writer)
        return 0;
    sync_group_t *g = db->group;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += BUSY_TIMEOUT_MS / 1000;
    int rc = 0;
    pthread_mutex_lock(&g->wlock);
    while (g->writer && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->wfree, &g->wlock, &until);
    if (!g->writer) {
        g->writer = 1;
        db->holds_writer = 1;
    }
    pthread_mutex_unlock(&g->wlock);
    if (!db->holds_writer) {
        dn_db_set_error(&db->base, DN_EBUSY, "waited %d ms for the write lock of this process", BUSY_TIMEOUT_MS);
        return DN_EBUSY;
    }
    return 0;
}

static void writer_unlock(sq_db_t *db)
{
    if (db->holds_writer) {
        sync_group_t *g = db->group;
        db->holds_writer = 0;
        pthread_mutex_lock(&g->wlock);
        g->writer = 0;
        pthread_cond_signal(&g->wfree);
        pthread_mutex_unlock(&g->wlock);
    }
}

void dn_db_sqlite_sync_stats(uint64_t *syncs, uint64_t *commits)
{
    *syncs = atomic_load_explicit(&stat_syncs, memory_order_relaxed);
    *commits = atomic_load_explicit(&stat_commits, memory_order_relaxed);
}

/* SQL of our own (BEGIN, COMMIT, savepoints): no sync here, the callers decide. */
static int raw_exec(dn_db_t *db, const char *sql)
{
    int rc = sqlite3_exec(handle(db), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(db, rc);
}

/* dn_db_exec: the SQL may commit (DDL, or writes outside a transaction). */
static int sq_exec(dn_db_t *db, const char *sql)
{
    int rc = raw_exec(db, sql);
    int src = sync_if_committed(db);
    return rc < 0 ? rc : src;
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
    char mode[16] = "";
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) {
        /* WAL: NORMAL + group_sync (see the top); otherwise (":memory:") FULL. */
        int wal = strcmp(mode, "wal") == 0;
        rc = sqlite3_exec(db->h, wal ? "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                                     : "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                          NULL, NULL, NULL);
        const char *file = sqlite3_db_filename(db->h, "main");
        if (rc == SQLITE_OK && wal && file != NULL && *file) {
            if ((db->group = group_get(file)) == NULL)
                rc = SQLITE_NOMEM;
            else
                sqlite3_wal_hook(db->h, on_wal_commit, db);
        }
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite setup %s: %s", path, sqlite3_errmsg(db->h));
        goto fail;
    }
    *out = &db->base;
    return 0;
fail:
    sqlite3_close_v2(db->h);
    group_put(db->group);
    free(db);
    return (rc & 0xff) == SQLITE_BUSY ? DN_EBUSY : DN_EDB;
}

static void sq_close(dn_db_t *db)
{
    sq_db_t *sq = (sq_db_t *)db;
    writer_unlock(sq);
    /* v2: never fails because of an unfinalized statement; frees when done. */
    sqlite3_close_v2(sq->h);
    group_put(sq->group);
    free(db);
}

/* One write lock per database file: a scope is the whole store here. */
static int sq_begin(dn_db_t *db, int write, int64_t scope)
{
    (void)scope;
    if (!write)
        return raw_exec(db, "BEGIN");
    int rc = writer_lock((sq_db_t *)db);
    if (rc == 0 && (rc = raw_exec(db, "BEGIN IMMEDIATE")) < 0)
        writer_unlock((sq_db_t *)db);
    return rc;
}

static int sq_rollback(dn_db_t *db)
{
    /* Some errors (SQLITE_FULL, IOERR, ...) already rolled back; then the
     * transaction is gone and ROLLBACK itself would fail. */
    int rc = 0;
    if (!sqlite3_get_autocommit(handle(db)))
        rc = raw_exec(db, "ROLLBACK");
    writer_unlock((sq_db_t *)db);
    return rc;
}

static int sq_commit(dn_db_t *db)
{
    int rc = raw_exec(db, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(handle(db))) {
        /* A failed COMMIT leaves the transaction open; the contract says a
         * failed commit ends it, as PostgreSQL's does. */
        char msg[sizeof db->errmsg];
        memcpy(msg, db->errmsg, sizeof msg);
        raw_exec(db, "ROLLBACK");
        dn_db_set_error(db, rc, "%s", msg);
    }
    /* The next writer may start while this commit is being synced. */
    writer_unlock((sq_db_t *)db);
    if (rc < 0)
        return rc;
    return group_sync((sq_db_t *)db);
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
    /* A write abandoned mid-iteration outside a transaction (INSERT ...
     * RETURNING read for its first row only) commits here, and SQLite calls
     * no WAL hook for that: sync for it explicitly. */
    int write_open = sqlite3_stmt_busy(st->s) && !sqlite3_stmt_readonly(st->s);
    /* reset returns the error of the last step, already reported then. */
    sqlite3_reset(st->s);
    sqlite3_clear_bindings(st->s);
    st->changes = 0;
    if (write_open && sqlite3_get_autocommit(handle(base->db))) {
        ((sq_db_t *)base->db)->need_sync = 1;
        return sync_if_committed(base->db);
    }
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
    /* An autocommit write committed just now: durable before we say DONE. */
    int src = sync_if_committed(base->db);
    if (src < 0)
        return src;
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
