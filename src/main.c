/*
 * main.c - the dnevnik command line: the composition root.
 *
 * Subcommands are one table. `serve` wires the modules together: config ->
 * logging -> store (migrations) -> routes -> metrics -> worker pools -> HTTP
 * loops, and tears them down in reverse order. Nothing else in the tree knows
 * how the pieces are assembled.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/api.h"
#include "cache/cache.h"
#include "cluster/cluster.h"
#include "app.h"
#include "core/config.h"
#include "core/error.h"
#include "http/server.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/db.h"
#include "store/migrate.h"
#include "domain/seed.h"
#include "auth/auth.h"
#include "core/date.h"
#include "domain/backup.h"
#include "domain/files.h"
#include "files/files.h"

typedef int (*command_fn)(int argc, char **argv);

static int cmd_serve(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_seed_demo(int argc, char **argv);
static int cmd_gen(int argc, char **argv);
static int cmd_purge(int argc, char **argv);
static int cmd_backup(int argc, char **argv);
static int cmd_restore(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct {
    const char *name;
    command_fn fn;
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "run the HTTP server (applies pending migrations first)"},
    {"migrate", cmd_migrate, "apply pending database migrations and exit"},
    {"seed-demo", cmd_seed_demo, "load the demo school into an empty store and print its logins"},
    {"gen", cmd_gen, "generate a region-scale data set for benchmarks (--schools N --students N --seed S --logins-out F)"},
    {"purge", cmd_purge, "delete uploaded files older than --files-retention-days (--dry-run lists them)"},
    {"backup", cmd_backup, "online backup of the SQLite store and its files into a new directory (--out DIR)"},
    {"restore", cmd_restore, "verify a backup and restore it into an empty store (--from DIR [--force] [--verify-only])"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show this help, or `dnevnik help COMMAND` for a command's options"},
};

static void usage(FILE *out)
{
    fprintf(out, "dnevnik %s - electronic school diary\n\nUsage: dnevnik COMMAND [OPTIONS]\n\nCommands:\n", DN_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `dnevnik COMMAND --help` for the options of a command.\n"
                 "Options come from flags, DNEVNIK_* environment variables and --config FILE, in that order.\n");
}

/* Shared by every command: load the configuration or explain why not. */
static int load_config(dn_config_t *cfg, const char *command, int argc, char **argv)
{
    char err[512] = "";
    dn_config_defaults(cfg);
    int rc = dn_config_load(cfg, command, argc, argv, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "dnevnik %s: %s\n", command, err);
    return rc;
}

/*
 * A store URL fit for a log line: the password of "scheme://user:pw@host"
 * and any "password=..." parameter become "***". Secrets never reach a log.
 */
static void redact_url(const char *url, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", url);
    char *auth = strstr(out, "://");
    if (auth != NULL) {
        auth += 3;
        size_t n = strcspn(auth, "/?#");
        char *at = memchr(auth, '@', n);
        char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL)
            memmove(colon + 4, at, strlen(at) + 1), memcpy(colon + 1, "***", 3);
    }
    for (char *p = strstr(out, "password="); p != NULL; p = strstr(p + 1, "password=")) {
        char *v = p + 9, *end = v + strcspn(v, "& ");
        if (strlen(out) + 4 < outlen) {
            memmove(v + 3, end, strlen(end) + 1);
            memcpy(v, "***", 3);
        }
    }
}

/* Open the store and bring its schema up to date. */
static int open_and_migrate(const char *url, dn_db_t **out)
{
    char err[512] = "", shown[1100];
    dn_db_t *db = NULL;
    int applied = 0, rc;
    if ((rc = dn_db_open(url, &db, err, sizeof(err))) != 0) {
        redact_url(url, shown, sizeof(shown));
        dn_log_error("store", "cannot open the store %s: %s", shown, err);
        return rc;
    }
    if ((rc = dn_migrate_up(db, &applied, err, sizeof(err))) != 0) {
        dn_log_error("store", "migration failed: %s", err);
        dn_db_close(db);
        return rc;
    }
    if (applied > 0)
        dn_log_info("store", "applied %d migration(s); schema at version %d", applied,
                    dn_migrate_latest(dn_db_backend(db)));
    *out = db;
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    dn_config_t cfg;
    dn_db_t *db = NULL;
    int rc = load_config(&cfg, "migrate", argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (open_and_migrate(cfg.db_url, &db) != 0)
        return 1;
    dn_db_close(db);
    return 0;
}

/* Store pool threads each own one connection. */
static void *store_thread_init(int index, void *arg, char *err, size_t errlen)
{
    (void)index;
    const char *url = arg;
    dn_db_t *db = NULL;
    if (dn_db_open(url, &db, err, errlen) != 0)
        return NULL;
    return db;
}

/*
 * Password hashing (argon2id, tens of ms of CPU each) runs under
 * SCHED_IDLE: in a 1 September sign-in storm the hashing threads take only
 * the CPU the loops and store workers leave idle, and a waking loop thread
 * preempts them at once, so the rest of the traffic keeps its latency and
 * the sign-ins absorb the wait (BENCHMARKS.md, scenario 3). nice 10 was the
 * first try: it still gave the hashing threads ~10 % of a busy core and
 * full time slices, and the others' p99 rose 6x during a storm. Where
 * SCHED_IDLE is refused (a seccomp'd container), nice 19 is the fallback.
 * Linux applies both per thread. SCHED_IDLE alone was not enough: each hash
 * streams through 19 MiB, and with a hashing thread on every core the
 * others' p99 still doubled (memory traffic and caches, not CPU time); with
 * hashing on half the cores (--hash-threads, default) it rose 1.0-1.3x, for
 * ~30 % fewer sign-ins per second (BENCHMARKS.md, scenario 3).
 */
#define CPU_POOL_FALLBACK_NICE 19

static void *cpu_thread_init(int index, void *arg, char *err, size_t errlen)
{
    (void)index;
    (void)err;
    (void)errlen;
    struct sched_param param = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0 &&
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CPU_POOL_FALLBACK_NICE) != 0)
        dn_log_warn("main", "cannot lower the priority of a password-hashing thread; sign-ins compete equally");
    return arg; /* no per-thread state; non-NULL means started */
}

static void store_thread_fini(void *state)
{
    dn_cluster_thread_fini(); /* this worker's replica session */
    dn_db_close(state);
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* SIGHUP: re-read the JWT keys (docs/security.md, rotation); a bad file keeps the old keys. */
static void reload_on_sighup(dn_app_t *app)
{
    char msg[512] = "";
    if (dn_auth_reload_keys(app, msg, sizeof(msg)) != 0)
        dn_log_error("auth", "SIGHUP: keys not reloaded, the previous keys stay in use: %s", msg);
    else
        dn_log_info("auth", "SIGHUP: reloaded %s", msg);
}

static int cmd_serve(int argc, char **argv)
{
    static dn_app_t app; /* static: reachable for the whole process lifetime */
    dn_workq_t *pools[DN_POOL_COUNT] = {0};
    dn_db_t *db = NULL;
    char err[512] = "";
    int status = 1;
    const char *env;

    int rc = load_config(&app.config, "serve", argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    {
        /* Block the signals the server sigwait()s for before any thread starts
         * (log writer, worker pools): threads inherit the mask, so a SIGHUP or
         * SIGTERM can only ever reach the main thread's sigwait. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    if (dn_log_init(dn_log_level_parse(app.config.log_level), app.config.log_file, app.config.access_log) != 0) {
        fprintf(stderr, "dnevnik serve: cannot open the log files\n");
        return 1;
    }
    env = getenv("DNEVNIK_TEST_ENDPOINTS");
    app.test_endpoints = env != NULL && strcmp(env, "1") == 0;
    app.threads = app.config.threads > 0 ? app.config.threads : default_threads();
    app.workers = app.config.workers;
    if (app.workers <= 0)
        /* SQLite: writers share fsyncs (group commit), so more concurrent
         * writers make bigger groups (measured: 4 workers ~2,000 marks/s,
         * 12 workers ~4,100 on 2 cores); the everyday reads run on the loops. */
        app.workers = (strncmp(app.config.db_url, "postgres", 8) == 0 ? 4 : 6) * default_threads();

    if (dn_cluster_init(&app, err, sizeof(err)) != 0) { /* before auth: its limiters share Redis */
        dn_log_error("cluster", "%s", err);
        goto done;
    }
    if (open_and_migrate(app.config.db_url, &db) != 0)
        goto done;
    if (dn_auth_init(&app, err, sizeof(err)) != 0) {
        dn_log_error("auth", "%s", err);
        goto done;
    }
    dn_log_info("auth", "%s", err); /* the kids in use, never the keys */
    app.on_sighup = reload_on_sighup;
    if (dn_auth_bootstrap(db, err, sizeof(err)) != 0) {
        dn_log_error("auth", "%s", err);
        goto done;
    }
    if (app.config.demo && !dn_seed_has_data(db)) {
        dn_log_info("main", "loading the demo school (first start)");
        if (dn_seed_demo(db, stdout) != 0) {
            dn_log_error("main", "cannot load the demo school: %s", dn_db_errmsg(db));
            goto done;
        }
        fflush(stdout); /* the logins before the access log, which writes to the same fd */
    }
    {
        /* interrupted uploads of a previous run: temp files, and blobs no row names */
        dn_blobstore_t *bs = dn_blobstore_open(&app.config, err, sizeof(err));
        int removed = 0;
        if (bs == NULL) {
            dn_log_error("files", "%s", err);
            goto done;
        }
        /* a local store belongs to this process; a bucket may be shared with nodes uploading right now */
        rc = dn_files_clean_orphans(db, bs, strcmp(bs->kind, "local") == 0 ? 0 : 3600, &removed);
        dn_blobstore_close(bs);
        if (rc != 0)
            dn_log_warn("files", "orphan clean-up failed: %s", dn_strerror(rc));
        else if (removed > 0)
            dn_log_info("files", "removed %d orphaned file(s) of interrupted uploads", removed);
    }
    dn_db_close(db);
    db = NULL;

    app.router = dn_router_new();
    if (app.router == NULL || dn_api_register(&app) != 0 || dn_cluster_filter_routes(&app) != 0) {
        dn_log_error("main", "cannot build the route table");
        goto done;
    }
    {
        int n = dn_router_count(app.router);
        const char **names = calloc((size_t)n + 1, sizeof(char *));
        const char **methods = calloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; names && methods && i < n; i++) {
            names[i] = dn_router_get(app.router, i)->name;
            methods[i] = dn_method_name(dn_router_get(app.router, i)->method);
        }
        rc = names && methods ? dn_metrics_init(n, names, methods) : DN_ENOMEM;
        free(names);
        free(methods);
        if (rc != 0)
            goto done;
    }

    dn_db_set_observer(dn_metrics_store_query); /* every statement's latency into /metrics */
    dn_db_set_wait_limit(app.config.db_timeout_ms);
    pools[DN_POOL_STORE] = dn_workq_new("store", app.workers, store_thread_init, store_thread_fini,
                                        app.config.db_url, err, sizeof(err));
    if (pools[DN_POOL_STORE] == NULL) {
        dn_log_error("main", "cannot start store workers: %s", err);
        goto done;
    }
    int hash_threads = app.config.hash_threads > 0 ? app.config.hash_threads : (default_threads() + 1) / 2;
    pools[DN_POOL_CPU] = dn_workq_new("cpu", hash_threads, cpu_thread_init, NULL, &app, err, sizeof(err));
    if (pools[DN_POOL_CPU] == NULL) {
        dn_log_error("main", "cannot start CPU workers: %s", err);
        goto done;
    }

    /* before the cluster starts: it connects the cache's invalidations to the bus */
    if (app.config.cache_entries > 0 &&
        (app.cache = dn_cache_new((size_t)app.config.cache_entries, DN_CACHE_TTL_MS)) == NULL) {
        dn_log_error("main", "cannot allocate the hot-read cache");
        goto done;
    }
    if (dn_cluster_start(&app) != 0) {
        dn_log_error("cluster", "cannot start the invalidation bus");
        goto done;
    }
    if (dn_server_run(&app, pools, err, sizeof(err)) != 0) {
        dn_log_error("main", "%s", err);
        goto done;
    }
    status = 0;

done:
    for (int i = DN_POOL_COUNT - 1; i >= 0; i--)
        dn_workq_free(pools[i]); /* finishes queued work, closes store connections */
    dn_db_close(db); /* still open only when start-up failed early */
    dn_router_free(app.router);
    app.router = NULL;
    dn_auth_free(&app);
    dn_cluster_free(&app); /* after auth: the limiters use its Redis client */
    dn_cache_free(app.cache); /* after the cluster: it held the cache's broadcaster */
    app.cache = NULL;
    dn_metrics_free();
    if (status == 0)
        dn_log_info("main", "stopped");
    dn_log_shutdown();
    return status;
}

static int cmd_seed_demo(int argc, char **argv)
{
    dn_config_t cfg;
    dn_db_t *db = NULL;
    int rc = load_config(&cfg, "seed-demo", argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (open_and_migrate(cfg.db_url, &db) != 0)
        return 1;
    if (dn_seed_has_data(db)) {
        fprintf(stderr, "dnevnik seed-demo: the store already has data; nothing done\n");
        dn_db_close(db);
        return 1;
    }
    rc = dn_seed_demo(db, stdout);
    if (rc != 0)
        fprintf(stderr, "dnevnik seed-demo: %s (%s)\n", dn_strerror(rc), dn_db_errmsg(db));
    dn_db_close(db);
    return rc == 0 ? 0 : 1;
}

/* Parse a positive integer option value of gen; -1 on error. */
static long parse_count(const char *name, const char *value)
{
    char *end = NULL;
    long v = value ? strtol(value, &end, 10) : -1;
    if (value == NULL || *end != '\0' || v <= 0) {
        fprintf(stderr, "dnevnik gen: %s needs a positive integer, got '%s'\n", name, value ? value : "");
        return -1;
    }
    return v;
}

static int cmd_gen(int argc, char **argv)
{
    dn_config_t cfg;
    dn_db_t *db = NULL;
    dn_seed_options_t opt = {.schools = 100, .students = 100000, .seed = 1, .progress = stderr};
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc;
    if (rest == NULL)
        return 1;
    rest[nrest++] = argv[0];
    /* gen's own options are taken out here; the rest are the common ones (--db ...). */
    for (int i = 1; i < argc; i++) {
        long v;
        if (i + 1 < argc && strcmp(argv[i], "--schools") == 0) {
            if ((v = parse_count("--schools", argv[++i])) < 0)
                goto usage_error;
            opt.schools = (int)v;
        } else if (i + 1 < argc && strcmp(argv[i], "--students") == 0) {
            if ((v = parse_count("--students", argv[++i])) < 0)
                goto usage_error;
            opt.students = (int)v;
        } else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0) {
            if ((v = parse_count("--seed", argv[++i])) < 0)
                goto usage_error;
            opt.seed = (unsigned)v;
        } else if (i + 1 < argc && strcmp(argv[i], "--logins-out") == 0) {
            opt.logins_out = argv[++i];
        } else {
            rest[nrest++] = argv[i];
        }
    }
    rc = load_config(&cfg, "gen", nrest, rest);
    free(rest);
    rest = NULL;
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (open_and_migrate(cfg.db_url, &db) != 0)
        return 1;
    rc = dn_seed_generate(db, &opt);
    if (rc != 0)
        fprintf(stderr, "dnevnik gen: %s (%s)\n", dn_strerror(rc), dn_db_errmsg(db));
    dn_db_close(db);
    return rc == 0 ? 0 : 1;

usage_error:
    free(rest);
    return 2;
}

/* Retention: files older than --files-retention-days lose their bytes, keep their records. */
static int cmd_purge(int argc, char **argv)
{
    dn_config_t cfg;
    dn_db_t *db = NULL;
    dn_blobstore_t *bs = NULL;
    char err[512] = "";
    int dry_run = 0, nrest = 0, count = 0, removed = 0, rc;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (rest == NULL)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--dry-run") == 0)
            dry_run = 1;
        else
            rest[nrest++] = argv[i];
    }
    rc = load_config(&cfg, "purge", nrest, rest);
    free(rest);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (open_and_migrate(cfg.db_url, &db) != 0)
        return 1;
    if ((bs = dn_blobstore_open(&cfg, err, sizeof(err))) == NULL) {
        fprintf(stderr, "dnevnik purge: %s\n", err);
        dn_db_close(db);
        return 1;
    }
    int64_t cutoff = dn_now_ms() - (int64_t)cfg.files_retention_days * 86400000;
    rc = dn_files_purge(db, bs, cutoff, dry_run, stdout, &count);
    /* servers may be uploading meanwhile: only blobs unnamed for an hour are orphans */
    if (rc == 0 && !dry_run)
        rc = dn_files_clean_orphans(db, bs, 3600, &removed);
    if (rc != 0)
        fprintf(stderr, "dnevnik purge: %s (%s)\n", dn_strerror(rc), dn_db_errmsg(db));
    else
        printf("%s %d file(s)%s\n", dry_run ? "would purge" : "purged", count,
               removed > 0 ? " (and removed orphaned blobs)" : "");
    dn_blobstore_close(bs);
    dn_db_close(db);
    return rc == 0 ? 0 : 1;
}

/*
 * Split a command's own options off argv: "--out DIR" style values go into
 * vals[i] for names[i], flags ("--force") set vals[i] to "1"; the rest (argv[0]
 * included) are left in rest for load_config. -1 on a value missing.
 */
static int split_own_options(const char *cmd, int argc, char **argv, const char *const *names, const int *takes_value,
                             const char **vals, size_t n, char **rest, int *nrest)
{
    *nrest = 0;
    rest[(*nrest)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < n && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == n) {
            rest[(*nrest)++] = argv[i];
        } else if (!takes_value[k]) {
            vals[k] = "1";
        } else if (i + 1 < argc) {
            vals[k] = argv[++i];
        } else {
            fprintf(stderr, "dnevnik %s: %s needs a value\n", cmd, names[k]);
            return -1;
        }
    }
    return 0;
}

/* DNEVNIK_TEST_BACKUP_PAUSE_MS (tests only): hold the backup between its snapshot and the file copy. */
static void backup_test_pause(void *arg)
{
    long ms = strtol((const char *)arg, NULL, 10);
    fprintf(stderr, "dnevnik backup: snapshot taken; pausing %ld ms (DNEVNIK_TEST_BACKUP_PAUSE_MS)\n", ms);
    if (ms > 0 && ms <= 60000)
        usleep((useconds_t)ms * 1000);
}

/* A command with options of its own (names/takes/vals) besides the config
 * options: split them off, then load the config from the rest. Returns as
 * load_config does: 0, > 0 after --help, < 0 on an error (already printed). */
static int load_config_with_own(const char *cmd, int argc, char **argv, const char *const *names, const int *takes,
                                const char **vals, int nown, dn_config_t *cfg)
{
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc;
    if (rest == NULL)
        return -1;
    rc = split_own_options(cmd, argc, argv, names, takes, vals, nown, rest, &nrest);
    if (rc == 0)
        rc = load_config(cfg, cmd, nrest, rest);
    free(rest);
    return rc;
}

/* Online backup of the embedded store and its files (src/domain/backup.h). */
static int cmd_backup(int argc, char **argv)
{
    static const char *const names[] = {"--out"};
    static const int takes[] = {1};
    const char *vals[1] = {NULL};
    dn_config_t cfg;
    dn_backup_report_t rep;
    char err[1024] = "";
    int rc = load_config_with_own("backup", argc, argv, names, takes, vals, 1, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (vals[0] == NULL || vals[0][0] == '\0') {
        fprintf(stderr, "dnevnik backup: --out DIR is required (a new directory)\n");
        return 2;
    }
    const char *pause = getenv("DNEVNIK_TEST_BACKUP_PAUSE_MS");
    rc = dn_backup_create(&cfg, vals[0], pause ? backup_test_pause : NULL, (void *)pause, &rep, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "dnevnik backup: %s\n", err);
        return rc == DN_EINVAL || rc == DN_EEXIST ? 2 : 1;
    }
    printf("backup %s: database %lld bytes (schema %d), %lld file(s) %lld bytes%s, %.2f s\n", vals[0],
           (long long)rep.db_bytes, rep.schema_version, (long long)rep.files, (long long)rep.file_bytes,
           rep.purged_during > 0 ? " (some purged meanwhile: marked purged in the copy)" : "", rep.seconds);
    return 0;
}

/* Verify a backup and restore it into an empty store (src/domain/backup.h). */
static int cmd_restore(int argc, char **argv)
{
    static const char *const names[] = {"--from", "--force", "--verify-only"};
    static const int takes[] = {1, 0, 0};
    const char *vals[3] = {NULL, NULL, NULL};
    dn_config_t cfg;
    dn_backup_report_t rep;
    char err[1024] = "";
    int rc = load_config_with_own("restore", argc, argv, names, takes, vals, 3, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (vals[0] == NULL || vals[0][0] == '\0') {
        fprintf(stderr, "dnevnik restore: --from DIR is required (a directory made by dnevnik backup)\n");
        return 2;
    }
    rc = dn_backup_restore(&cfg, vals[0], vals[1] != NULL, vals[2] != NULL, &rep, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "dnevnik restore: %s\n", err);
        return rc == DN_EINVAL || rc == DN_EEXIST ? 2 : 1;
    }
    printf("%s %s: database %lld bytes (schema %d), %lld file(s) %lld bytes, checksums ok, %.2f s\n",
           vals[2] ? "verified" : "restored", vals[0], (long long)rep.db_bytes, rep.schema_version,
           (long long)rep.files, (long long)rep.file_bytes, rep.seconds);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("dnevnik %s\n", DN_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        dn_config_usage(stdout, argv[1]);
        return 0;
    }
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "dnevnik: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
