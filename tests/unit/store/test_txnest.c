/*
 * test_txnest.c - nested transactions (savepoints) on both backends, and
 * SQLite's group commit (db_sqlite.c): every commit that wrote is synced
 * before it is reported, concurrent committers share syncs, and commits that
 * wrote nothing cost no sync. The Idempotency-Key glue relies on nesting: a
 * handler's transactions run inside the glue's outer one.
 */
#include <pthread.h>
#include <stdint.h>

#include "fixture.h"

static dn_query_t q_count = {"SELECT count(*) FROM t"};
static dn_query_t q_sum = {"SELECT COALESCE(SUM(id), 0) FROM t"};
static dn_query_t q_ins = {"INSERT INTO t (id) VALUES (?)"};
static dn_query_t q_ins_ret = {"INSERT INTO t (id) VALUES (?) RETURNING id"};

static int ins(dn_db_t *db, int64_t id)
{
    return dn_db_run(db, &q_ins, "i", id);
}

STORE_TEST(txnest, savepoints)
{
    fx_exec(fx_db, "CREATE TABLE t (id BIGINT PRIMARY KEY)");
    cr_assert_eq(dn_db_tx_depth(fx_db), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(ins(fx_db, 1), 0);

    cr_assert_eq(dn_db_begin_write(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_tx_depth(fx_db), 2);
    cr_assert_eq(ins(fx_db, 2), 0);
    cr_assert_eq(dn_db_rollback(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_tx_depth(fx_db), 1, "the inner rollback leaves the outer transaction");
    cr_assert_eq(fx_int(fx_db, &q_count), 1);

    cr_assert_eq(dn_db_begin(fx_db), 0);
    cr_assert_eq(ins(fx_db, 3), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0, "two levels");
    cr_assert_eq(ins(fx_db, 4), 0);
    cr_assert_eq(dn_db_commit(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_commit(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_tx_depth(fx_db), 1);

    /* an error poisons the inner level only */
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(ins(fx_db, 1), DN_ECONFLICT);
    cr_assert_lt(ins(fx_db, 5), 0, "nothing runs in a failed nested transaction");
    cr_assert_eq(dn_db_commit(fx_db), DN_ECONFLICT, "its commit reports why and undoes it");
    cr_assert_eq(dn_db_tx_depth(fx_db), 1);
    cr_assert_eq(ins(fx_db, 6), 0, "the outer transaction goes on: %s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_commit(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_tx_depth(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_sum), 1 + 3 + 4 + 6);
}

STORE_TEST(txnest, outer_rollback_and_release_undo_committed_inner_levels)
{
    fx_exec(fx_db, "CREATE TABLE t (id BIGINT PRIMARY KEY)");
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(ins(fx_db, 1), 0);
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(dn_db_rollback(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count), 0, "an inner commit is undone by the outer rollback");

    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(ins(fx_db, 2), 0);
    dn_db_release(fx_db); /* a request that returned two levels deep */
    cr_assert_eq(dn_db_tx_depth(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0, "the connection is usable again: %s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_commit(fx_db), 0);
}

/* ---- SQLite group commit ---- */

static void sync_stats(uint64_t *syncs, uint64_t *commits)
{
    dn_db_stats_t s;
    dn_db_stats(&s);
    *syncs = s.wal_syncs;
    *commits = s.durable_commits;
}

Test(txnest_sqlite, every_write_is_synced_before_it_returns, .init = fx_sqlite_init, .fini = fx_fini)
{
    uint64_t s0, c0, s1, c1, s2, c2;
    fx_exec(fx_db, "CREATE TABLE t (id BIGINT PRIMARY KEY)");
    cr_assert_eq(ins(fx_db, 100), 0);
    sync_stats(&s0, &c0);
    /* nothing written: no sync */
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count), 1);
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(dn_db_begin(fx_db), 0);
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count), 1);
    sync_stats(&s1, &c1);
    cr_assert_eq(s1, s0, "syncs %llu -> %llu", (unsigned long long)s0, (unsigned long long)s1);
    cr_assert_eq(c1, c0);

    /* one thread: nobody to share with, so every write costs its own sync */
    for (int i = 1; i <= 5; i++) {
        cr_assert_eq(dn_db_begin_write(fx_db), 0);
        cr_assert_eq(ins(fx_db, i), 0);
        cr_assert_eq(dn_db_commit(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    }
    cr_assert_eq(ins(fx_db, 6), 0, "autocommit write");
    dn_stmt_t *st = dn_db_query(fx_db, &q_ins_ret, "i", (int64_t)7);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    dn_stmt_finish(st); /* abandoned RETURNING: commits at the reset */
    sync_stats(&s2, &c2);
    cr_assert_eq(c2 - c1, 7, "commits that waited for a sync: %llu", (unsigned long long)(c2 - c1));
    cr_assert_eq(s2 - s1, 7, "syncs: %llu", (unsigned long long)(s2 - s1));
    cr_assert_eq(fx_int(fx_db, &q_count), 8);
}

enum { WRITERS = 8, PER_WRITER = 150 };

struct committer {
    int index;
    int failures;
};

static void *commit_loop(void *arg)
{
    struct committer *c = arg;
    char err[256];
    dn_db_t *db = NULL;
    if (dn_db_open(fx_url, &db, err, sizeof err) != 0) {
        c->failures = PER_WRITER;
        return NULL;
    }
    for (int i = 0; i < PER_WRITER; i++) {
        int rc = dn_db_begin_write(db);
        if (rc == 0)
            rc = ins(db, (int64_t)c->index * 100000 + i + 1);
        if (rc == 0)
            rc = dn_db_commit(db);
        else
            dn_db_rollback(db);
        c->failures += rc != 0;
    }
    dn_db_close(db);
    return NULL;
}

Test(txnest_sqlite, concurrent_commits_all_durable_sharing_syncs, .init = fx_sqlite_init, .fini = fx_fini,
     .timeout = 120)
{
    uint64_t s0, c0, s1, c1;
    fx_exec(fx_db, "CREATE TABLE t (id BIGINT PRIMARY KEY)");
    sync_stats(&s0, &c0);
    pthread_t t[WRITERS];
    struct committer c[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        c[i] = (struct committer){i, 0};
        pthread_create(&t[i], NULL, commit_loop, &c[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(c[i].failures, 0, "writer %d failed %d commits", i, c[i].failures);
    }
    sync_stats(&s1, &c1);
    cr_assert_eq(c1 - c0, WRITERS * PER_WRITER);
    cr_assert_geq(s1 - s0, 1);
    cr_assert_leq(s1 - s0, c1 - c0, "never more syncs than commits");
    fprintf(stderr, "group commit: %d commits, %llu WAL syncs\n", WRITERS * PER_WRITER,
            (unsigned long long)(s1 - s0));

    /* everything is there for a new connection after all are closed */
    dn_db_close(fx_db);
    fx_db = fx_open();
    cr_assert_eq(fx_int(fx_db, &q_count), WRITERS * PER_WRITER);
}
