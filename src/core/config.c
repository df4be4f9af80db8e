/*
 * config.c - one option table drives defaults, parsing and --help.
 *
 * Each option is one line in `options[]`: long name (also the config-file
 * key), type, field of dn_config_t, default (a string parsed by the same code
 * as user input, so defaults are validated too), range or choices, and help.
 * The environment variable is derived from the name (max-body ->
 * DNEVNIK_MAX_BODY), so flag, env and file names cannot drift apart.
 * Sources are applied file, env, flags, each overriding the last, into a copy
 * of the caller's config: on error the caller's config is left untouched.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"

typedef enum { T_INT, T_SIZE, T_STR, T_BOOL } opt_type_t;

/* Option flags. */
#define F_NOFLAG 1u /* secrets: environment or file only, never argv (visible in ps) */
#define F_NOFILE 2u /* not accepted in the config file (--config itself) */

typedef struct opt {
    const char *name;
    opt_type_t type;
    size_t offset, size; /* field in dn_config_t; size is the buffer size for strings */
    const char *def;
    long long min, max;           /* T_INT, T_SIZE; T_STR: min 1 = must not be empty */
    const char *const *choices;   /* T_STR: NULL-terminated allowed values, or NULL */
    int (*check)(const char *value, char *why, size_t whylen); /* extra validation, or NULL */
    const char *commands;         /* space-separated commands it applies to; NULL = all */
    unsigned flags;
    const char *metavar;
    const char *help;
} opt_t;

/*
 * Field descriptors that fail to compile when the field has the wrong type:
 * sizeof of a negative-size array is an error.
 */
#define FIELD_OF(f, T) offsetof(dn_config_t, f) + 0 * sizeof(char[_Generic(((dn_config_t *)0)->f, T : 1, default : -1)])
#define INT_FIELD(f) FIELD_OF(f, int), sizeof(int)
#define SIZE_FIELD(f) FIELD_OF(f, size_t), sizeof(size_t)
#define STR_FIELD(f) FIELD_OF(f, char *), sizeof(((dn_config_t *)0)->f)

static int check_listen(const char *v, char *why, size_t whylen);

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const files_backends[] = {"local", "s3", NULL};

#define MiB (1024LL * 1024)
#define GiB (1024LL * MiB)

/* clang-format off */
static const opt_t options[] = {
    /* name, type, field, default, min, max, choices, check, commands, flags, metavar, help */
    {"config", T_STR, STR_FIELD(config_file), "", 0, 0, NULL, NULL, NULL, F_NOFILE, "FILE",
     "read options from FILE (key = value lines)"},
    {"listen", T_STR, STR_FIELD(listen), "127.0.0.1:8080", 1, 0, NULL, check_listen, NULL, 0, "HOST:PORT",
     "address to listen on; port 0 picks a free port"},
    {"threads", T_INT, INT_FIELD(threads), "0", 0, 256, NULL, NULL, NULL, 0, "N",
     "event-loop threads; 0 = one per online CPU"},
    {"workers", T_INT, INT_FIELD(workers), "0", 0, 1024, NULL, NULL, NULL, 0, "N",
     "store worker threads; 0 = auto (2x CPUs sqlite, 4x postgres)"},
    {"hash-threads", T_INT, INT_FIELD(hash_threads), "0", 0, 256, NULL, NULL, "serve", 0, "N",
     "password-hashing threads (sign-ins); 0 = half the online CPUs, at least 1"},
    {"db", T_STR, STR_FIELD(db_url), "sqlite:dnevnik.db", 1, 0, NULL, NULL, NULL, 0, "URL",
     "store: sqlite:PATH or postgresql://..."},
    {"max-body", T_SIZE, SIZE_FIELD(max_body), "1m", 1, GiB, NULL, NULL, NULL, 0, "SIZE",
     "largest request body accepted (k/m/g suffixes)"},
    {"request-timeout", T_INT, INT_FIELD(request_timeout_ms), "10000", 1, 3600000, NULL, NULL, NULL, 0, "MS",
     "header, body and idle timeout in milliseconds"},
    {"shutdown-timeout", T_INT, INT_FIELD(shutdown_timeout_ms), "10000", 0, 3600000, NULL, NULL, NULL, 0, "MS",
     "grace period for in-flight requests on shutdown, ms"},
    {"max-connections", T_INT, INT_FIELD(max_connections), "10000", 1, 1000000, NULL, NULL, NULL, 0, "N",
     "open connections accepted per process"},
    {"log-level", T_STR, STR_FIELD(log_level), "info", 1, 0, log_levels, NULL, NULL, 0, "LEVEL",
     "debug, info, warn, error or off"},
    {"log-file", T_STR, STR_FIELD(log_file), "-", 0, 0, NULL, NULL, NULL, 0, "PATH",
     "application log; - = stderr, empty = off"},
    {"access-log", T_STR, STR_FIELD(access_log), "-", 0, 0, NULL, NULL, NULL, 0, "PATH",
     "access log; - = stdout, empty = off"},
    {"data-dir", T_STR, STR_FIELD(data_dir), "./data", 1, 0, NULL, NULL, NULL, 0, "DIR",
     "directory for uploaded files and keys"},
    {"web-dir", T_STR, STR_FIELD(web_dir), "", 0, 0, NULL, NULL, NULL, 0, "DIR",
     "built web UI (tools/build-web.mjs); empty = web/ next to the binary"},
    {"db-timeout", T_INT, INT_FIELD(db_timeout_ms), "8000", 0, 3600000, NULL, NULL, NULL, 0, "MS",
     "serve: a PostgreSQL statement without an answer in MS is abandoned and its session reopened (0 = wait forever)"},
    {"loop-reads", T_BOOL, INT_FIELD(loop_reads), "true", 0, 1, NULL, NULL, NULL, 0, NULL,
     "on SQLite without --redis: run the everyday pages' reads on the event loops (no worker hop)"},
    {"demo", T_BOOL, INT_FIELD(demo), "false", 0, 1, NULL, NULL, NULL, 0, NULL,
     "seed a demo school on first start"},
    {"files-backend", T_STR, STR_FIELD(files_backend), "local", 1, 0, files_backends, NULL, NULL, 0, "KIND", "where uploaded files live: local or s3"},
    {"files-dir", T_STR, STR_FIELD(files_dir), "", 0, 0, NULL, NULL, NULL, 0, "DIR", "local file store; empty = <data-dir>/files"},
    {"file-max-size", T_SIZE, SIZE_FIELD(file_max_size), "20m", 1, GiB, NULL, NULL, NULL, 0, "SIZE", "largest uploaded file (k/m/g suffixes)"},
    {"upload-quota", T_SIZE, SIZE_FIELD(upload_quota), "100m", 0, 1024 * GiB, NULL, NULL, NULL, 0, "SIZE", "bytes one student may upload per day; 0 = no limit"},
    {"cache-entries", T_INT, INT_FIELD(cache_entries), "65536", 0, 16777216, NULL, NULL, "serve", 0, "N", "hot-read cache slots (~200 bytes each; terms, class and school lookups); 0 = off"},
    {"upload-concurrency", T_INT, INT_FIELD(upload_concurrency), "4", 1, 1024, NULL, NULL, NULL, 0, "N", "uploads held (queued or running) at once; more get 503 + Retry-After"},
    {"files-retention-days", T_INT, INT_FIELD(files_retention_days), "365", 1, 36500, NULL, NULL, NULL, 0, "DAYS", "dnevnik purge deletes files older than this"},
    {"s3-endpoint", T_STR, STR_FIELD(s3_endpoint), "", 0, 0, NULL, NULL, NULL, 0, "URL", "S3-compatible endpoint (http(s)://host:port); keys from DNEVNIK_S3_ACCESS_KEY/SECRET_KEY"},
    {"s3-bucket", T_STR, STR_FIELD(s3_bucket), "", 0, 0, NULL, NULL, NULL, 0, "NAME", "S3 bucket for files"},
    {"s3-region", T_STR, STR_FIELD(s3_region), "us-east-1", 1, 0, NULL, NULL, NULL, 0, "REGION", "S3 region used in signatures"},
    {"jwt-keys-file", T_STR, STR_FIELD(jwt_keys_file), "", 0, 0, NULL, NULL, "serve", 0, "FILE", "JWT keys, \"kid secret\" lines, the first signs; reread on SIGHUP (docs/security.md)"},
    {"max-connections-per-address", T_INT, INT_FIELD(max_conns_per_addr), "256", 0, 1000000, NULL, NULL, "serve", 0, "N", "open connections from one client address; more are closed at once; 0 = no limit"},
    {"hsts-max-age", T_INT, INT_FIELD(hsts_max_age), "0", 0, 315360000, NULL, NULL, "serve", 0, "SECONDS", "send Strict-Transport-Security with this max-age (only when clients reach us over TLS); 0 = off"},
    {"db-replica", T_STR, STR_FIELD(db_replica), "", 0, 0, NULL, NULL, NULL, 0, "URL", "read-only PostgreSQL replica (pool) for GET routes that tolerate staleness; empty = none"},
    {"read-your-writes", T_INT, INT_FIELD(read_your_writes_ms), "5000", 0, 600000, NULL, NULL, NULL, 0, "MS", "after a user's write, that user's reads use the primary for MS"},
    {"redis", T_STR, STR_FIELD(redis_url), "", 0, 0, NULL, NULL, NULL, 0, "URL", "redis://HOST:PORT/DB shared by nodes (rate limits, revocations, invalidation); empty = none"},
    {"services", T_STR, STR_FIELD(services), "auth,diary,works", 1, 0, NULL, NULL, NULL, 0, "LIST", "roles this node serves: any of auth, diary, works (comma-separated)"},
};
/* clang-format on */
#define NOPTIONS (sizeof options / sizeof options[0])

/* ---- helpers ---- */

static void env_name(const opt_t *o, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "DNEVNIK_%s", o->name);
    for (size_t i = 8; i < n && i < cap; i++)
        buf[i] = buf[i] == '-' ? '_' : (char)toupper((unsigned char)buf[i]);
}

static int applies_to(const opt_t *o, const char *command)
{
    if (!o->commands || !command)
        return 1;
    size_t n = strlen(command);
    for (const char *p = o->commands; (p = strstr(p, command)); p += n)
        if ((p == o->commands || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Look up by name; '_' and '-' are the same so file keys may use either. */
static const opt_t *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *n = options[i].name;
        if (strlen(n) != len)
            continue;
        size_t j = 0;
        while (j < len && (n[j] == name[j] || (n[j] == '-' && name[j] == '_')))
            j++;
        if (j == len)
            return &options[i];
    }
    return NULL;
}

static int parse_ll(const char *v, long long *out)
{
    if (!*v || isspace((unsigned char)*v))
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return -1;
    *out = x;
    return 0;
}

/* "1048576", "512k", "1m", "2G": binary multiples. */
static int parse_size(const char *v, long long *out)
{
    if (!isdigit((unsigned char)*v))
        return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno)
        return -1;
    unsigned long long mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k': mul = 1ull << 10; break;
        case 'm': mul = 1ull << 20; break;
        case 'g': mul = 1ull << 30; break;
        default: return -1;
        }
        if (end[1])
            return -1;
    }
    if (x > (unsigned long long)LLONG_MAX / mul)
        return -1;
    *out = (long long)(x * mul);
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int check_listen(const char *v, char *why, size_t whylen)
{
    const char *colon = strrchr(v, ':');
    size_t hostlen = colon ? (size_t)(colon - v) : 0;
    if (!colon || hostlen == 0) {
        snprintf(why, whylen, "expected HOST:PORT");
        return -1;
    }
    if (v[0] == '[' ? v[hostlen - 1] != ']' || hostlen < 3 : memchr(v, ':', hostlen) != NULL) {
        snprintf(why, whylen, "expected HOST:PORT (IPv6 as [addr]:port)");
        return -1;
    }
    long long port;
    if (parse_ll(colon + 1, &port) < 0 || colon[1] == '-' || colon[1] == '+') {
        snprintf(why, whylen, "port is not a number");
        return -1;
    }
    if (port < 0 || port > 65535) {
        snprintf(why, whylen, "port out of range 0..65535");
        return -1;
    }
    return 0;
}

/*
 * Parse value for option o into cfg. src names where it came from
 * ("--threads", "DNEVNIK_THREADS", "dnevnik.conf:3: threads").
 */
static int set_opt(dn_config_t *cfg, const opt_t *o, const char *value, const char *src, char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    long long x;
    switch (o->type) {
    case T_INT:
    case T_SIZE:
        if ((o->type == T_INT ? parse_ll(value, &x) : parse_size(value, &x)) < 0) {
            snprintf(err, errlen, "%s: not a %s: '%s'", src, o->type == T_INT ? "number" : "size", value);
            return DN_EINVAL;
        }
        if (x < o->min || x > o->max) {
            snprintf(err, errlen, "%s: out of range %lld..%lld: '%s'", src, o->min, o->max, value);
            return DN_EINVAL;
        }
        if (o->type == T_INT)
            *(int *)field = (int)x;
        else
            *(size_t *)field = (size_t)x;
        return 0;
    case T_BOOL:
        if (parse_bool(value, (int *)field) < 0) {
            snprintf(err, errlen, "%s: not a boolean (true/false): '%s'", src, value);
            return DN_EINVAL;
        }
        return 0;
    case T_STR:
        break;
    }
    if (strlen(value) >= o->size) {
        snprintf(err, errlen, "%s: too long (at most %zu bytes)", src, o->size - 1);
        return DN_EINVAL;
    }
    if (o->min > 0 && !value[0]) {
        snprintf(err, errlen, "%s: must not be empty", src);
        return DN_EINVAL;
    }
    if (o->choices) {
        size_t i = 0;
        while (o->choices[i] && strcmp(o->choices[i], value) != 0)
            i++;
        if (!o->choices[i]) {
            int n = snprintf(err, errlen, "%s: '%s' is not one of", src, value);
            for (i = 0; o->choices[i] && n >= 0 && (size_t)n < errlen; i++)
                n += snprintf(err + n, errlen - (size_t)n, " %s", o->choices[i]);
            return DN_EINVAL;
        }
    }
    char why[128];
    if (o->check && o->check(value, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s: '%s'", src, why, value);
        return DN_EINVAL;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

void dn_config_defaults(dn_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < NOPTIONS; i++)
        if (set_opt(cfg, &options[i], options[i].def, options[i].name, err, sizeof err) < 0)
            abort(); /* a default that fails its own validation is a bug in the table */
    cfg->threads = online_cpus();
}

/* ---- sources ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*
 * "key = value" lines; '#' starts a comment line. A value may be wrapped in
 * double quotes to keep surrounding spaces or to be empty. Keys of options
 * that do not apply to this command are accepted and ignored, so one file
 * can serve every command.
 */
static int load_file(dn_config_t *cfg, const char *path, const char *command, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config file '%s': %s", path, strerror(errno));
        return DN_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = DN_EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const opt_t *o = find_opt(key, strlen(key));
        if (!o || (o->flags & F_NOFILE)) {
            snprintf(err, errlen, o ? "%s:%d: '%s' cannot be set in a config file" : "%s:%d: unknown option '%s'",
                     path, lineno, key);
            rc = DN_EINVAL;
            break;
        }
        if (!applies_to(o, command))
            continue;
        char src[600];
        snprintf(src, sizeof src, "%s:%d: %s", path, lineno, o->name);
        rc = set_opt(cfg, o, value, src, err, errlen);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "config file '%s': read error", path);
        rc = DN_EIO;
    }
    free(line);
    fclose(f);
    return rc;
}

static int load_env(dn_config_t *cfg, const char *command, char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt_t *o = &options[i];
        char name[64];
        env_name(o, name, sizeof name);
        const char *v = getenv(name);
        if (!v || !applies_to(o, command))
            continue;
        int rc = set_opt(cfg, o, v, name, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct {
    const opt_t *opt;
    const char *value;
} flag_t;

/* "scheme://user:secret@host/..." or a "password=" parameter: a secret that must not be a flag. */
static int url_has_password(const char *v)
{
    const char *auth = strstr(v, "://");
    if (strstr(v, "password=") != NULL)
        return 1;
    if (auth == NULL)
        return 0;
    auth += 3;
    size_t n = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', n);
    return at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL;
}

/*
 * Syntax pass over argv[1..]: every argument must be --name, --name=value or
 * --name value; nothing is applied yet because the config file, read next,
 * ranks below flags.
 */
static int scan_flags(const char *command, int argc, char **argv, flag_t *flags, int *nflags, char *err,
                      size_t errlen)
{
    *nflags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            snprintf(err, errlen, "unexpected argument '%s' (options are --name value)", a);
            return DN_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = NULL;
        for (size_t j = 0; j < NOPTIONS && !o; j++) /* flags use the exact spelling, dashes only */
            if (strlen(options[j].name) == len && strncmp(options[j].name, name, len) == 0)
                o = &options[j];
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s'", (int)len, name);
            return DN_EINVAL;
        }
        if ((o->flags & F_NOFLAG) || !applies_to(o, command)) {
            char env[64];
            env_name(o, env, sizeof env);
            if (o->flags & F_NOFLAG)
                snprintf(err, errlen, "--%s: not accepted on the command line; use %s or the config file", o->name,
                         env);
            else
                snprintf(err, errlen, "--%s: not an option of '%s'", o->name, command);
            return DN_EINVAL;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (o->type == T_BOOL)
            value = "true";
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            value = argv[++i];
        else {
            snprintf(err, errlen, "--%s: missing value", o->name);
            return DN_EINVAL;
        }
        if (strcmp(o->name, "db") == 0 && url_has_password(value)) {
            snprintf(err, errlen, "--db: a password on the command line is visible to every user (ps); put the URL in "
                                  "DNEVNIK_DB or the config file, or the password in PGPASSFILE/PGPASSWORD");
            return DN_EINVAL;
        }
        flags[(*nflags)++] = (flag_t){o, value};
    }
    return 0;
}

int dn_config_load(dn_config_t *cfg, const char *command, int argc, char **argv, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (!command)
        command = argc > 0 && argv[0] ? argv[0] : "";

    /* --help wins over any error elsewhere on the line. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            dn_config_usage(stdout, command);
            return 1;
        }
    }

    flag_t *flags = calloc(argc > 0 ? (size_t)argc : 1, sizeof *flags);
    if (!flags) {
        snprintf(err, errlen, "out of memory");
        return DN_ENOMEM;
    }
    int nflags;
    dn_config_t tmp = *cfg;
    int rc = scan_flags(command, argc, argv, flags, &nflags, err, errlen);

    /* The config file's own path: flag > env > whatever cfg already holds. */
    if (rc == 0) {
        const char *env = getenv("DNEVNIK_CONFIG");
        if (env)
            rc = set_opt(&tmp, find_opt("config", 6), env, "DNEVNIK_CONFIG", err, errlen);
        for (int i = 0; i < nflags && rc == 0; i++)
            if (strcmp(flags[i].opt->name, "config") == 0)
                rc = set_opt(&tmp, flags[i].opt, flags[i].value, "--config", err, errlen);
    }
    if (rc == 0 && tmp.config_file[0]) {
        char path[sizeof tmp.config_file]; /* load_file writes into tmp; keep the path apart */
        memcpy(path, tmp.config_file, sizeof path);
        rc = load_file(&tmp, path, command, err, errlen);
    }
    if (rc == 0)
        rc = load_env(&tmp, command, err, errlen);
    for (int i = 0; i < nflags && rc == 0; i++) {
        char src[64];
        snprintf(src, sizeof src, "--%s", flags[i].opt->name);
        rc = set_opt(&tmp, flags[i].opt, flags[i].value, src, err, errlen);
    }
    free(flags);
    if (rc < 0)
        return rc;
    if (tmp.threads == 0)
        tmp.threads = online_cpus();
    *cfg = tmp;
    return 0;
}

/* ---- usage ---- */

void dn_config_usage(FILE *out, const char *command)
{
    if (!command)
        command = "COMMAND";
    char flag[NOPTIONS][64], env[NOPTIONS][64], def[NOPTIONS][64];
    int wflag = (int)strlen("OPTION"), wenv = (int)strlen("ENVIRONMENT"), wdef = (int)strlen("DEFAULT");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt_t *o = &options[i];
        if (o->flags & F_NOFLAG)
            snprintf(flag[i], sizeof flag[i], "(no flag)");
        else if (o->metavar)
            snprintf(flag[i], sizeof flag[i], "--%s %s", o->name, o->metavar);
        else
            snprintf(flag[i], sizeof flag[i], "--%s", o->name);
        env_name(o, env[i], sizeof env[i]);
        snprintf(def[i], sizeof def[i], o->def[0] ? "%s" : "\"\"", o->def);
        if (!applies_to(o, command))
            continue;
        int n;
        if ((n = (int)strlen(flag[i])) > wflag)
            wflag = n;
        if ((n = (int)strlen(env[i])) > wenv)
            wenv = n;
        if ((n = (int)strlen(def[i])) > wdef)
            wdef = n;
    }
    fprintf(out, "Usage: dnevnik %s [--option value | --option=value]...\n\n", command);
    fprintf(out, "Precedence: flag > environment > config file > default. Sizes take k/m/g suffixes.\n\n");
    fprintf(out, "  %-*s  %-*s  %-*s  %s\n", wflag, "OPTION", wenv, "ENVIRONMENT", wdef, "DEFAULT", "DESCRIPTION");
    for (size_t i = 0; i < NOPTIONS; i++)
        if (applies_to(&options[i], command))
            fprintf(out, "  %-*s  %-*s  %-*s  %s\n", wflag, flag[i], wenv, env[i], wdef, def[i], options[i].help);
    fprintf(out, "  %-*s  %-*s  %-*s  %s\n", wflag, "--help, -h", wenv, "", wdef, "", "show this text");
}
