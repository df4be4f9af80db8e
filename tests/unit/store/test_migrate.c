/*
 * test_migrate.c - schema migrations (store/migrate.h) on SQLite always and
 * on PostgreSQL when DN_TEST_PG_URL is set (fixture.h): up from empty,
 * idempotent re-runs, refusing a newer database without touching it, the
 * /readyz check, and two nodes migrating the same database at once.
 */
#include <pthread.h>

#include "fixture.h"
#include "store/migrate.h"
#include "store/migrations.h"

static dn_query_t q_rows = {"SELECT count(*) FROM schema_migrations"};
static dn_query_t q_max = {"SELECT max(version) FROM schema_migrations"};

static int latest(void)
{
    return dn_migrate_latest(dn_db_backend(fx_db));
}

Test(migrate, both_backends_have_the_same_versions)
{
    cr_assert_geq(dn_migrate_latest(DN_DB_SQLITE), 1);
    cr_assert_eq(dn_migrate_latest(DN_DB_SQLITE), dn_migrate_latest(DN_DB_POSTGRES));
    cr_assert_eq(dn_migrations_sqlite_count, dn_migrations_pg_count);
    for (int i = 0; i < dn_migrations_sqlite_count; i++) {
        cr_assert_eq(dn_migrations_sqlite[i].version, i + 1);
        cr_assert_str_eq(dn_migrations_sqlite[i].name, dn_migrations_pg[i].name);
    }
    cr_assert_str_eq(dn_migrations_sqlite[0].name, "base");
}

STORE_TEST(migrate, up_from_empty)
{
    static dn_query_t put = {"INSERT INTO app_meta (key, value) VALUES (?, ?)"};
    int v = -1, applied = -1;
    char err[512] = "";
    cr_assert_eq(dn_migrate_current(fx_db, &v), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(v, 0, "an empty database is version 0");
    cr_assert_eq(dn_migrate_check(fx_db), DN_ESCHEMA, "not ready before migrating");

    cr_assert_eq(dn_migrate_up(fx_db, &applied, err, sizeof err), 0, "%s", err);
    cr_assert_eq(applied, latest());
    cr_assert_eq(dn_migrate_current(fx_db, &v), 0);
    cr_assert_eq(v, latest());
    cr_assert_eq(dn_migrate_check(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_rows), latest(), "one row per migration");

    dn_stmt_t *st = dn_db_prepare(fx_db, &put);
    cr_assert_not_null(st, "app_meta exists: %s", dn_db_errmsg(fx_db));
    dn_stmt_bind_text(st, 1, "installed", -1);
    dn_stmt_bind_text(st, 2, "yes", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);
}

STORE_TEST(migrate, idempotent)
{
    int applied = -1;
    char err[512] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dn_migrate_up(fx_db, &applied, err, sizeof err), 0, "%s", err);
    cr_assert_eq(applied, 0);
    /* and from another connection, as after a restart */
    dn_db_close(fx_db);
    fx_db = fx_open();
    cr_assert_eq(dn_migrate_up(fx_db, &applied, err, sizeof err), 0, "%s", err);
    cr_assert_eq(applied, 0);
    cr_assert_eq(fx_int(fx_db, &q_rows), latest());
    cr_assert_eq(dn_migrate_check(fx_db), 0);
}

STORE_TEST(migrate, refuses_newer_database)
{
    int applied = -1, v = 0;
    char err[512] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "%s", err);
    fx_exec(fx_db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)");

    err[0] = '\0';
    cr_assert_eq(dn_migrate_up(fx_db, &applied, err, sizeof err), DN_ESCHEMA);
    cr_assert_eq(applied, 0);
    cr_assert_not_null(strstr(err, "9999"), "err names the version: %s", err);
    cr_assert_eq(dn_migrate_check(fx_db), DN_ESCHEMA);
    cr_assert_eq(dn_migrate_current(fx_db, &v), 0);
    cr_assert_eq(v, 9999);
    cr_assert_eq(fx_int(fx_db, &q_rows), latest() + 1, "nothing changed");
    cr_assert_eq(fx_int(fx_db, &q_max), 9999);
    /* the refusal left no transaction open */
    cr_assert_eq(dn_db_begin(fx_db), 0);
    cr_assert_eq(dn_db_rollback(fx_db), 0);
}

STORE_TEST(migrate, check_sees_an_older_schema)
{
    char err[512] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "%s", err);
    fx_exec(fx_db, "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)");
    cr_assert_eq(dn_migrate_check(fx_db), DN_ESCHEMA);
}

STORE_TEST(migrate, refuses_inside_a_transaction)
{
    char err[512] = "";
    cr_assert_eq(dn_db_begin(fx_db), 0);
    cr_assert_lt(dn_migrate_up(fx_db, NULL, err, sizeof err), 0);
    cr_assert(err[0]);
    cr_assert_eq(dn_db_rollback(fx_db), 0);
}

/* Two nodes starting at once against one database. */
struct node {
    int rc, applied;
    char err[512];
};

static void *start_node(void *arg)
{
    struct node *n = arg;
    char err[256];
    dn_db_t *db;
    n->rc = dn_db_open(fx_url, &db, err, sizeof err);
    if (n->rc)
        return NULL;
    n->rc = dn_migrate_up(db, &n->applied, n->err, sizeof n->err);
    dn_db_close(db);
    return NULL;
}

STORE_TEST(migrate, concurrent_nodes)
{
    struct node nodes[4] = {0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, start_node, &nodes[i]);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(nodes[i].rc, 0, "node %d: %s", i, nodes[i].err);
        total += nodes[i].applied;
    }
    cr_assert_eq(total, latest(), "each migration applied exactly once");
    cr_assert_eq(fx_int(fx_db, &q_rows), latest());
    cr_assert_eq(dn_migrate_check(fx_db), 0);
}

/* Every foreign key whose parent rows are deleted in normal operation has an
 * index on its referencing column; without one each parent DELETE scans the
 * child table (it made deleting a mark scan all works). Parents that are
 * never deleted, and subjects (deleted only when unused), are exempt: see
 * migration 0007. */
static dn_query_t q_unindexed_fks = {
    "SELECT m.name || '.' || f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f "
    "WHERE m.type = 'table' AND f.\"table\" NOT IN ('regions', 'schools', 'users', 'terms', 'classes', 'subjects') "
    "AND NOT EXISTS (SELECT 1 FROM pragma_index_list(m.name) il, pragma_index_info(il.name) ii "
    "WHERE ii.seqno = 0 AND ii.name = f.\"from\") ORDER BY 1"};

Test(migrate_sqlite, deletable_parents_have_indexed_foreign_keys, .init = fx_sqlite_init, .fini = fx_fini)
{
    char err[512] = "", missing[1024] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "%s", err);
    dn_stmt_t *st = dn_db_prepare(fx_db, &q_unindexed_fks);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    while (dn_stmt_step(st) == DN_DB_ROW) {
        strncat(missing, dn_stmt_str(st, 0), sizeof missing - strlen(missing) - 2);
        strncat(missing, " ", sizeof missing - strlen(missing) - 1);
    }
    cr_assert_str_eq(missing, "", "foreign keys without an index: %s", missing);
}
