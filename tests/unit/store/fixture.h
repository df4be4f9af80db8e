/*
 * fixture.h - one store per test, for both backends.
 *
 * STORE_TEST(suite, name) defines the body once and registers it twice:
 * suite_sqlite::name against a fresh SQLite file in a temporary directory,
 * and suite_pg::name against DN_TEST_PG_URL in a schema of its own (made
 * the search_path through the URL, so it survives reconnects) that is
 * dropped afterwards. Without DN_TEST_PG_URL the PostgreSQL half is skipped.
 * Criterion runs each test in its own process, so file-level state is fine.
 */
#ifndef DN_TEST_STORE_FIXTURE_H
#define DN_TEST_STORE_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "store/db.h"

static char fx_url[2048];   /* the store of the current test */
static char fx_dir[256];    /* SQLite: its temporary directory */
static char fx_schema[64];  /* PostgreSQL: its schema */
static dn_db_t *fx_db;

static dn_db_t *fx_open(void)
{
    char err[512] = "";
    dn_db_t *db = NULL;
    int rc = dn_db_open(fx_url, &db, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %d %s", rc, err);
    cr_assert_not_null(db);
    return db;
}

static void fx_sqlite_init(void)
{
    snprintf(fx_dir, sizeof fx_dir, "/tmp/dn-store-test.XXXXXX");
    cr_assert_not_null(mkdtemp(fx_dir));
    snprintf(fx_url, sizeof fx_url, "sqlite:%s/test.db", fx_dir);
    fx_db = fx_open();
}

/* A connection to the database named by DN_TEST_PG_URL, outside our schema. */
static dn_db_t *fx_pg_admin(void)
{
    char err[512] = "";
    dn_db_t *db = NULL;
    int rc = dn_db_open(getenv("DN_TEST_PG_URL"), &db, err, sizeof err);
    cr_assert_eq(rc, 0, "open DN_TEST_PG_URL: %s", err);
    return db;
}

static void fx_pg_init(void)
{
    const char *base = getenv("DN_TEST_PG_URL");
    if (!base || !*base) {
        fprintf(stderr, "skipping PostgreSQL test: DN_TEST_PG_URL is not set\n");
        cr_skip_test("DN_TEST_PG_URL is not set");
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(fx_schema, sizeof fx_schema, "dn_test_%ld_%ld", (long)getpid(), (long)ts.tv_nsec);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", fx_schema);
    dn_db_t *admin = fx_pg_admin();
    cr_assert_eq(dn_db_exec(admin, sql), 0, "%s", dn_db_errmsg(admin));
    dn_db_close(admin);
    snprintf(fx_url, sizeof fx_url, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             fx_schema);
    fx_db = fx_open();
}

static void fx_fini(void)
{
    dn_db_close(fx_db);
    fx_db = NULL;
    if (fx_schema[0]) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", fx_schema);
        dn_db_t *admin = fx_pg_admin();
        dn_db_exec(admin, sql);
        dn_db_close(admin);
    }
    if (fx_dir[0]) {
        DIR *d = opendir(fx_dir);
        struct dirent *e;
        char path[512];
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", fx_dir, e->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        rmdir(fx_dir);
    }
}

/* DDL that differs between the backends; fails the test on error. */
static void fx_exec2(dn_db_t *db, const char *sqlite_sql, const char *pg_sql)
{
    const char *sql = dn_db_backend(db) == DN_DB_POSTGRES ? pg_sql : sqlite_sql;
    int rc = dn_db_exec(db, sql);
    cr_assert_eq(rc, 0, "exec %s: %d %s", sql, rc, dn_db_errmsg(db));
}

static void fx_exec(dn_db_t *db, const char *sql)
{
    fx_exec2(db, sql, sql);
}

/* The single integer a query returns. */
static int64_t fx_int(dn_db_t *db, dn_query_t *q)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    cr_assert_not_null(st, "prepare %s: %s", q->sql, dn_db_errmsg(db));
    int rc = dn_stmt_step(st);
    cr_assert_eq(rc, DN_DB_ROW, "step %s: %d %s", q->sql, rc, dn_db_errmsg(db));
    int64_t v = dn_stmt_int64(st, 0);
    cr_assert_eq(dn_stmt_step(st), DN_DB_DONE);
    return v;
}

#define STORE_TEST(suite, name)                                                                                  \
    static void name(void);                                                                                      \
    Test(suite##_sqlite, name, .init = fx_sqlite_init, .fini = fx_fini) { name(); }                              \
    Test(suite##_pg, name, .init = fx_pg_init, .fini = fx_fini) { name(); }                                      \
    static void name(void)

#endif
