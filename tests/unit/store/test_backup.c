/*
 * test_backup.c - online snapshots of the SQLite store (store/backup.c): a
 * snapshot holds exactly the committed state even while another connection
 * is inside a write transaction, it is one self-contained file once sealed,
 * integrity_check catches a damaged file, and a restore replaces a target
 * that still has an uncheckpointed WAL. PostgreSQL URLs are refused.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "store/backup.h"
#include "store/db.h"

static char dir[256];
static char path_a[300], url_a[320], path_b[300], url_b[320];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/dn-backup-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path_a, sizeof path_a, "%s/a.db", dir);
    snprintf(url_a, sizeof url_a, "sqlite:%s", path_a);
    snprintf(path_b, sizeof path_b, "%s/b.db", dir);
    snprintf(url_b, sizeof url_b, "sqlite:%s", path_b);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static dn_db_t *open_db(const char *url)
{
    char err[512] = "";
    dn_db_t *db = NULL;
    cr_assert_eq(dn_db_open(url, &db, err, sizeof err), 0, "%s", err);
    return db;
}

static dn_query_t q_count = {"SELECT COUNT(*) FROM t"};
static dn_query_t q_ins = {"INSERT INTO t (id, v) VALUES (?, ?)"};
static dn_query_t q_mode = {"PRAGMA journal_mode"};

static int64_t count(dn_db_t *db)
{
    int64_t n = -1;
    cr_assert_eq(dn_db_scalar(db, &q_count, &n, ""), 0, "%s", dn_db_errmsg(db));
    return n;
}

/* A table with an index and n rows, committed. */
static dn_db_t *filled(const char *url, int n)
{
    dn_db_t *db = open_db(url);
    cr_assert_eq(dn_db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t(v)"), 0);
    cr_assert_eq(dn_db_begin_write(db), 0);
    for (int i = 1; i <= n; i++)
        cr_assert_eq(dn_db_run(db, &q_ins, "is", (int64_t)i, "строка с данными журнала"), 0);
    cr_assert_eq(dn_db_commit(db), 0);
    return db;
}

TestSuite(store_backup, .init = setup, .fini = teardown);

Test(store_backup, snapshot_holds_the_committed_state_only)
{
    char err[512] = "", dest[320];
    dn_db_t *db = filled(url_a, 500);
    dn_db_t *writer = open_db(url_a);
    cr_assert_eq(dn_db_begin_write(writer), 0);
    cr_assert_eq(dn_db_run(writer, &q_ins, "is", (int64_t)1000, "не зафиксировано"), 0);
    snprintf(dest, sizeof dest, "%s/snap.db", dir);
    /* the write transaction stays open while the snapshot runs: WAL readers do not wait for it */
    cr_assert_eq(dn_store_snapshot(url_a, dest, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dn_db_commit(writer), 0);
    cr_assert_eq(dn_store_seal(dest, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dn_store_integrity(dest, err, sizeof err), 0, "%s", err);
    char sidecar[340];
    snprintf(sidecar, sizeof sidecar, "%s-wal", dest);
    cr_assert_neq(access(sidecar, F_OK), 0, "a sealed copy is one file");

    char durl[340];
    snprintf(durl, sizeof durl, "sqlite:%s", dest);
    dn_db_t *copy = open_db(durl);
    cr_assert_eq(count(copy), 500, "the uncommitted row must not be in the snapshot");
    cr_assert_eq(count(db), 501);
    dn_db_close(copy);
    dn_db_close(writer);
    dn_db_close(db);
}

Test(store_backup, refuses_postgresql_and_missing_sources)
{
    char err[512] = "", dest[320];
    snprintf(dest, sizeof dest, "%s/x.db", dir);
    cr_assert_eq(dn_store_snapshot("postgresql://u@127.0.0.1/db", dest, err, sizeof err), DN_EINVAL);
    cr_assert_eq(dn_store_restore(dest, "postgres://u@127.0.0.1/db", err, sizeof err), DN_EINVAL);
    cr_assert_eq(dn_store_snapshot(url_a, dest, err, sizeof err), DN_ENOTFOUND, "no database yet: %s", err);
    cr_assert_neq(access(dest, F_OK), 0, "nothing written");
    cr_assert_null(dn_store_sqlite_path("postgresql://x/y"));
    cr_assert_str_eq(dn_store_sqlite_path("sqlite:/a/b.db"), "/a/b.db");
    cr_assert_str_eq(dn_store_sqlite_path("data/x.db"), "data/x.db");
}

Test(store_backup, integrity_check_finds_a_damaged_page)
{
    char err[512] = "";
    dn_db_t *db = filled(url_a, 2000);
    dn_db_close(db); /* checkpoints the WAL into the file */
    cr_assert_eq(dn_store_integrity(path_a, err, sizeof err), 0, "%s", err);
    int fd = open(path_a, O_RDWR);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    cr_assert_gt(size, 8 * 4096);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    /* overwrite a page in the middle (b-tree pages of the table or its index) */
    cr_assert_eq(pwrite(fd, junk, sizeof junk, (size / 4096 / 2) * 4096), (ssize_t)sizeof junk);
    close(fd);
    cr_assert_lt(dn_store_integrity(path_a, err, sizeof err), 0, "damage must be reported");
    cr_assert_neq(err[0], '\0');
}

Test(store_backup, restore_replaces_a_target_with_an_uncheckpointed_wal)
{
    char err[512] = "", dest[320];
    dn_db_t *src = filled(url_a, 300);
    snprintf(dest, sizeof dest, "%s/snap.db", dir);
    cr_assert_eq(dn_store_snapshot(url_a, dest, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dn_store_seal(dest, err, sizeof err), 0, "%s", err);
    dn_db_close(src);

    cr_assert_eq(dn_store_has_tables(url_b, err, sizeof err), 0, "absent target");
    /* a target whose writer died (as under kill -9): its last commits are only in its WAL */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        filled(url_b, 7);
        _exit(0); /* no close: no checkpoint */
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_eq(status, 0);
    char wal[340];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", path_b);
    cr_assert_eq(stat(wal, &sb), 0);
    cr_assert_gt(sb.st_size, 0, "the dead writer's WAL holds its commits");
    cr_assert_eq(dn_store_has_tables(url_b, err, sizeof err), 1);
    cr_assert_eq(dn_store_restore(dest, url_b, err, sizeof err), 0, "%s", err);
    dn_db_t *b = open_db(url_b);
    cr_assert_eq(count(b), 300);
    dn_stmt_t *st = dn_db_query(b, &q_mode, "");
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_str_eq(dn_stmt_str(st, 0), "wal");
    dn_stmt_finish(st);
    dn_db_close(b);
}
