/*
 * fuzz_app.h - the process state a fuzz harness needs to run our code as
 * the server does: config with a private temp data dir, quiet logs, auth
 * keys, the real route table, and a small migrated SQLite school.
 *
 * Included by one harness file each (everything is static). The store is a
 * file under the temp dir; fuzz_db_reset() puts back its pristine bytes,
 * which the API harness does after every request that may have written, so
 * each input runs against the same data and a crash reproduces from its
 * input alone. Nothing here is a mock: it is the library the server links.
 */
#ifndef DN_FUZZ_APP_H
#define DN_FUZZ_APP_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "app.h"
#include "auth/auth.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/db.h"
#include "store/migrate.h"

/* One school: region 1, school 1, class 1 "А" (started 2020), users
 * 1 teacher (class teacher), 2 and 3 students, 4 parent of 2, 5 admin, 6 sysadmin;
 * a subject, an assignment, terms, lessons, a checkpoint, a work, a mark. */
static const char FUZZ_FIXTURE[] =
    "INSERT INTO regions (id, name) VALUES (1, 'R');"
    "INSERT INTO schools (id, region_id, name, created_at) VALUES (1, 1, 'S', 0);"
    "INSERT INTO terms (id, school_id, year_start, number, starts_on, ends_on) VALUES "
    " (1, 1, 2026, 1, '2026-09-01', '2026-10-31'), (2, 1, 2026, 2, '2026-11-08', '2026-12-28');"
    "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES "
    " (1, 'teacher', 'x', 'Учитель', 'Иван', 0), (2, 'st2', 'x', 'Алексеев', 'Аня', 0),"
    " (3, 'st3', 'x', 'Борисов', 'Боря', 0), (4, 'par4', 'x', 'Алексеева', 'Мария', 0),"
    " (5, 'admin', 'x', 'Админ', 'Анна', 0), (6, 'root', 'x', 'Сис', 'Админ', 0);"
    "INSERT INTO user_roles (user_id, school_id, role) VALUES (1, 1, 'teacher'), (2, 1, 'student'),"
    " (3, 1, 'student'), (4, 1, 'parent'), (5, 1, 'admin'), (6, 0, 'sysadmin');"
    "INSERT INTO classes (id, school_id, start_year, letter, class_teacher_id) VALUES (1, 1, 2020, 'А', 1);"
    "INSERT INTO class_students (id, class_id, student_id, from_date, to_date) VALUES "
    " (1, 1, 2, '2026-09-01', NULL), (2, 1, 3, '2026-09-01', NULL);"
    "INSERT INTO parent_links (parent_id, student_id) VALUES (4, 2);"
    "INSERT INTO subjects (id, school_id, name) VALUES (1, 1, 'Математика');"
    "INSERT INTO assignments (id, school_id, teacher_id, class_id, subject_id) VALUES (1, 1, 1, 1, 1);"
    "INSERT INTO lessons (id, school_id, class_id, subject_id, teacher_id, date, lesson_no, cancelled) VALUES "
    " (1, 1, 1, 1, 1, '2026-09-10', 1, 0), (2, 1, 1, 1, 1, '2026-11-10', 1, 0);"
    "INSERT INTO checkpoints (id, school_id, class_id, subject_id, teacher_id, kind, title, due_date, weight, "
    " created_at) VALUES (1, 1, 1, 1, 1, 'control', 'КР', '2026-09-25', 3, 0);"
    "INSERT INTO works (id, school_id, checkpoint_id, student_id, submitted_at, updated_at) "
    " VALUES (1, 1, 1, 2, 0, 0);";

#define FUZZ_NUSERS 6

static char fuzz_dir[256];
static char fuzz_db_path[300];
static char fuzz_db_url[320];
static unsigned char *fuzz_db_image;
static size_t fuzz_db_image_len;

static inline void fuzz_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, detail ? detail : "");
    abort();
}

static inline unsigned char *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        fuzz_die("read", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline int fuzz_rm_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F)
        remove(path);
    return 0;
}

/* Remove the temp dir at exit (libFuzzer leaves through exit()). */
static inline void fuzz_cleanup(void)
{
    if (fuzz_dir[0])
        nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process-wide app: config (data dir in a fresh temp dir), quiet logs,
 * auth (fixed key, no API rate limit: every input must reach the handler). */
static inline void fuzz_app_init(dn_app_t *app, int with_routes)
{
    char err[512] = "";
    /* tmpfs when there is one: the store's fsyncs would otherwise dominate a reset */
    snprintf(fuzz_dir, sizeof fuzz_dir, "/dev/shm/dn-fuzz-XXXXXX");
    if (mkdtemp(fuzz_dir) == NULL) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/dn-fuzz-XXXXXX");
        if (mkdtemp(fuzz_dir) == NULL)
            fuzz_die("mkdtemp", fuzz_dir);
    }
    atexit(fuzz_cleanup);
    dn_config_defaults(&app->config);
    snprintf(app->config.data_dir, sizeof app->config.data_dir, "%s", fuzz_dir);
    snprintf(fuzz_db_path, sizeof fuzz_db_path, "%s/fuzz.db", fuzz_dir);
    snprintf(fuzz_db_url, sizeof fuzz_db_url, "sqlite:%s", fuzz_db_path);
    snprintf(app->config.db_url, sizeof app->config.db_url, "%s", fuzz_db_url);
    dn_log_init(dn_log_level_parse("error"), "-", "");
    setenv("DNEVNIK_JWT_KEY", "66757a7a2d6b65792d6f662d646e6576", 1);
    setenv("DNEVNIK_RATE_LIMIT", "0", 1);
    setenv("DNEVNIK_ACCESS_TOKEN_TTL", "86400", 1);
    if (dn_auth_init(app, err, sizeof err) != 0)
        fuzz_die("auth", err);
    if (!with_routes)
        return;
    app->router = dn_router_new();
    if (app->router == NULL || dn_api_register(app) != 0)
        fuzz_die("routes", "dn_api_register failed");
    int n = dn_router_count(app->router);
    const char **names = calloc((size_t)n + 1, sizeof(char *));
    const char **methods = calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        names[i] = dn_router_get(app->router, i)->name;
        methods[i] = dn_method_name(dn_router_get(app->router, i)->method);
    }
    if (dn_metrics_init(n, names, methods) != 0)
        fuzz_die("metrics", "init");
    free(names);
    free(methods);
}

/* Create the migrated fixture store, keep its bytes, and return it open. */
static inline dn_db_t *fuzz_db_create(void)
{
    char err[512] = "";
    dn_db_t *db = NULL;
    if (dn_db_open(fuzz_db_url, &db, err, sizeof err) != 0)
        fuzz_die("open", err);
    if (dn_migrate_up(db, NULL, err, sizeof err) != 0)
        fuzz_die("migrate", err);
    if (dn_db_exec(db, FUZZ_FIXTURE) != 0)
        fuzz_die("fixture", dn_db_errmsg(db));
    dn_db_close(db); /* checkpoints the WAL: the main file is the whole store */
    fuzz_db_image = fuzz_read_file(fuzz_db_path, &fuzz_db_image_len);
    if (fuzz_db_image == NULL)
        fuzz_die("read", fuzz_db_path);
    if (dn_db_open(fuzz_db_url, &db, err, sizeof err) != 0)
        fuzz_die("reopen", err);
    return db;
}

/* Close db, put back the pristine store, drop uploaded blobs, reopen. */
static inline dn_db_t *fuzz_db_reset(dn_db_t *db)
{
    char err[512] = "", side[320];
    dn_db_close(db);
    snprintf(side, sizeof side, "%s-wal", fuzz_db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", fuzz_db_path);
    unlink(side);
    /* stdio, not <fcntl.h>: with _GNU_SOURCE that header defines DN_DELETE (dnotify) */
    FILE *f = fopen(fuzz_db_path, "wb");
    if (f == NULL || fwrite(fuzz_db_image, 1, fuzz_db_image_len, f) != fuzz_db_image_len || fclose(f) != 0)
        fuzz_die("reset", fuzz_db_path);
    snprintf(side, sizeof side, "%s/files", fuzz_dir);
    nftw(side, fuzz_rm_file, 16, FTW_PHYS);
    db = NULL;
    if (dn_db_open(fuzz_db_url, &db, err, sizeof err) != 0)
        fuzz_die("reset open", err);
    return db;
}

#endif
