/*
 * store_fixture.h - a fresh, migrated store loaded with a test's SQL fixture:
 * a temporary SQLite file always, a fresh PostgreSQL database when
 * DN_TEST_PG_URL is set. Include it in one test file; define FX_TAG (a short
 * name used in file and database names) and FIXTURE (the SQL) before it.
 */
#ifndef DN_TEST_DOMAIN_STORE_FIXTURE_H
#define DN_TEST_DOMAIN_STORE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/migrate.h"

static char sqlite_path[256];
static char pg_dbname[64];
static char pg_admin[512];

static dn_db_t *open_sqlite(void)
{
    snprintf(sqlite_path, sizeof(sqlite_path), "/tmp/dn-test-" FX_TAG "-%d.db", (int)getpid());
    unlink(sqlite_path);
    char url[300], err[256];
    snprintf(url, sizeof(url), "sqlite:%s", sqlite_path);
    dn_db_t *db = NULL;
    cr_assert_eq(dn_db_open(url, &db, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_migrate_up(db, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_db_exec(db, FIXTURE), 0, "%s", dn_db_errmsg(db));
    return db;
}

static dn_db_t *open_pg(void)
{
    const char *url = getenv("DN_TEST_PG_URL");
    if (url == NULL || *url == '\0')
        return NULL;
    char err[256], sql[128];
    dn_db_t *admin = NULL;
    snprintf(pg_admin, sizeof(pg_admin), "%s", url);
    cr_assert_eq(dn_db_open(url, &admin, err, sizeof(err)), 0, "%s", err);
    snprintf(pg_dbname, sizeof(pg_dbname), "dn_t" FX_TAG "_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", pg_dbname);
    dn_db_exec(admin, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_dbname);
    cr_assert_eq(dn_db_exec(admin, sql), 0, "%s", dn_db_errmsg(admin));
    dn_db_close(admin);
    /* same server, the new database: replace the path of the URL */
    char u[600];
    snprintf(u, sizeof(u), "%s", url);
    char *q = strchr(u, '?');
    char tail[256] = "";
    if (q) {
        snprintf(tail, sizeof(tail), "%s", q);
        *q = '\0';
    }
    char *slash = strrchr(u, '/');
    cr_assert(slash != NULL && slash > u + 12);
    snprintf(slash + 1, sizeof(u) - (size_t)(slash + 1 - u), "%s%s", pg_dbname, tail);
    dn_db_t *db = NULL;
    cr_assert_eq(dn_db_open(u, &db, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_migrate_up(db, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_db_exec(db, FIXTURE), 0, "%s", dn_db_errmsg(db));
    /* explicit ids do not advance identity sequences in PostgreSQL */
    cr_assert_eq(dn_db_exec(db, "SELECT setval(pg_get_serial_sequence('checkpoints', 'id'), 100);"
                                "SELECT setval(pg_get_serial_sequence('lessons', 'id'), 100);"),
                 0, "%s", dn_db_errmsg(db));
    return db;
}

static void close_db(dn_db_t *db)
{
    dn_db_close(db);
    if (sqlite_path[0]) {
        unlink(sqlite_path);
        char wal[300];
        snprintf(wal, sizeof(wal), "%s-wal", sqlite_path);
        unlink(wal);
        snprintf(wal, sizeof(wal), "%s-shm", sqlite_path);
        unlink(wal);
        sqlite_path[0] = '\0';
    }
    if (pg_dbname[0]) {
        dn_db_t *admin = NULL;
        char err[256], sql[128];
        if (dn_db_open(pg_admin, &admin, err, sizeof(err)) == 0) {
            snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", pg_dbname);
            dn_db_exec(admin, sql);
            dn_db_close(admin);
        }
        pg_dbname[0] = '\0';
    }
}

#endif
