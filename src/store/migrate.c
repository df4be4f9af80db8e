/*
 * migrate.c - apply the compiled-in migrations (store/migrations.h).
 *
 * Each migration runs in its own transaction together with its row in
 * schema_migrations, so a crash leaves the schema at a whole version (both
 * backends have transactional DDL). The version is read again inside every
 * transaction, after taking the lock, so nodes starting at the same time do
 * not apply a migration twice: SQLite's BEGIN IMMEDIATE is the lock there,
 * a transaction-scoped advisory lock on PostgreSQL. A database newer than
 * the binary is refused before anything is written.
 */
#include "store/migrate.h"
#include "core/date.h"

#include <stdio.h>
#include <time.h>

#include "core/error.h"
#include "store/migrations.h"

#define CREATE_TABLE                                                                                        \
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "      \
    "applied_at BIGINT NOT NULL)"
/* Key ('dn', 2) in the namespace of db_pg.c's writer lock ('dn', 1). */
#define PG_MIGRATION_LOCK "SELECT pg_advisory_xact_lock(25710, 2)"

static dn_query_t q_exists_sqlite = {
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"};
/* to_regclass follows search_path, as the unqualified queries below do. */
static dn_query_t q_exists_pg = {"SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END"};
static dn_query_t q_version = {"SELECT COALESCE(MAX(version), 0) FROM schema_migrations"};
static dn_query_t q_record = {"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"};

static const dn_migration_t *migrations(dn_db_backend_t backend, int *n)
{
    if (backend == DN_DB_POSTGRES) {
        *n = dn_migrations_pg_count;
        return dn_migrations_pg;
    }
    *n = dn_migrations_sqlite_count;
    return dn_migrations_sqlite;
}

int dn_migrate_latest(dn_db_backend_t backend)
{
    int n;
    const dn_migration_t *m = migrations(backend, &n);
    return n > 0 ? m[n - 1].version : 0;
}

/* The single integer a one-row query returns. */
static int query_int(dn_db_t *db, dn_query_t *q, int64_t *out)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    if (!st)
        return dn_db_errcode(db) ? dn_db_errcode(db) : DN_EDB;
    int rc = dn_stmt_step(st);
    if (rc == DN_DB_ROW) {
        *out = dn_stmt_int64(st, 0);
        rc = dn_stmt_exec(st);
    } else if (rc == DN_DB_DONE) {
        rc = DN_EDB;
    }
    return rc;
}

int dn_migrate_current(dn_db_t *db, int *version)
{
    int64_t v = 0;
    dn_query_t *exists = dn_db_backend(db) == DN_DB_POSTGRES ? &q_exists_pg : &q_exists_sqlite;
    int rc = query_int(db, exists, &v);
    if (rc == 0 && v)
        rc = query_int(db, &q_version, &v);
    *version = rc == 0 ? (int)v : 0;
    return rc;
}

/* Open a transaction that no other migrating node can be inside of. */
static int begin_locked(dn_db_t *db)
{
    if (dn_db_backend(db) != DN_DB_POSTGRES)
        return dn_db_begin_write(db);
    /* Plain BEGIN: the writer lock's 5 s timeout would make a node fail to
     * start while another one runs a long migration; this lock waits. */
    int rc = dn_db_begin(db);
    if (rc == 0)
        rc = dn_db_exec(db, PG_MIGRATION_LOCK);
    return rc;
}

static int record(dn_db_t *db, const dn_migration_t *m)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_record);
    if (!st)
        return dn_db_errcode(db) ? dn_db_errcode(db) : DN_EDB;
    int rc = dn_stmt_bind_int64(st, 1, m->version);
    if (rc == 0)
        rc = dn_stmt_bind_text(st, 2, m->name, -1);
    if (rc == 0)
        rc = dn_stmt_bind_int64(st, 3, dn_now_ms());
    return rc ? rc : dn_stmt_exec(st);
}

int dn_migrate_up(dn_db_t *db, int *applied, char *err, size_t errlen)
{
    int n, cur = 0, done = 0, rc;
    const dn_migration_t *list = migrations(dn_db_backend(db), &n);
    int latest = dn_migrate_latest(dn_db_backend(db));
    const dn_migration_t *m = NULL;

    if (dn_db_tx_depth(db) > 0) {
        /* A begin would nest as a savepoint: the migrations would commit with
         * the caller's transaction, or not at all. */
        snprintf(err, errlen, "migrations must run outside a transaction");
        return DN_EINVAL;
    }
    for (;;) {
        m = NULL;
        if ((rc = begin_locked(db)) != 0 || (rc = dn_db_exec(db, CREATE_TABLE)) != 0 ||
            (rc = dn_migrate_current(db, &cur)) != 0)
            goto fail;
        if (cur > latest) {
            snprintf(err, errlen, "database schema version %d is newer than this binary's %d", cur, latest);
            rc = DN_ESCHEMA;
            goto fail;
        }
        if (cur == latest)
            break;
        m = &list[cur]; /* versions are 1..n without gaps (embed_migrations.py) */
        if ((rc = dn_db_exec(db, m->sql)) != 0 || (rc = record(db, m)) != 0 || (rc = dn_db_commit(db)) != 0)
            goto fail;
        done++;
    }
    /* Up to date: nothing to keep (at most an empty schema_migrations). */
    dn_db_rollback(db);
    if (applied)
        *applied = done;
    return 0;

fail:
    if (rc != DN_ESCHEMA) {
        if (m)
            snprintf(err, errlen, "migration %04d_%s: %s", m->version, m->name, dn_db_errmsg(db));
        else
            snprintf(err, errlen, "migration bookkeeping: %s", dn_db_errmsg(db));
    }
    dn_db_rollback(db);
    if (applied)
        *applied = done;
    return rc;
}

int dn_migrate_check(dn_db_t *db)
{
    int v;
    int rc = dn_migrate_current(db, &v);
    if (rc)
        return rc;
    return v == dn_migrate_latest(dn_db_backend(db)) ? 0 : DN_ESCHEMA;
}
