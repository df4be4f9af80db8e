/*
 * test_config.c - defaults, precedence (flag > env > file > default), every
 * kind of error with the source it names, size suffixes and --help. Each
 * test runs in its own process and starts by clearing DNEVNIK_* variables,
 * so the developer's environment cannot leak in.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"

extern char **environ;

static char conf_path[64];
static char err[512];
static dn_config_t cfg;

static void clean_env(void)
{
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "DNEVNIK_", 8) != 0)
            e++;
        if (!*e)
            break;
        char name[128];
        size_t n = strcspn(*e, "=");
        snprintf(name, sizeof name, "%.*s", (int)n, *e);
        unsetenv(name);
    }
    conf_path[0] = '\0';
    dn_config_defaults(&cfg);
    err[0] = '\0';
}

static void cleanup(void)
{
    if (conf_path[0])
        unlink(conf_path);
}

static const char *write_conf(const char *text)
{
    strcpy(conf_path, "/tmp/dn_conf_XXXXXX");
    int fd = mkstemp(conf_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return conf_path;
}

/* Load with argv given as a NULL-terminated list after the command. */
#define LOAD(...)                                                                                                      \
    ({                                                                                                                 \
        char *argv_[] = {"serve", __VA_ARGS__};                                                                        \
        dn_config_load(&cfg, "serve", (int)(sizeof argv_ / sizeof argv_[0]), argv_, err, sizeof err);                 \
    })
#define LOAD0() dn_config_load(&cfg, "serve", 1, (char *[]){"serve"}, err, sizeof err)

static long cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

TestSuite(config, .init = clean_env, .fini = cleanup);

Test(config, defaults)
{
    cr_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    cr_assert_eq(cfg.threads, cpus());
    cr_assert_eq(cfg.workers, 0);
    cr_assert_str_eq(cfg.db_url, "sqlite:dnevnik.db");
    cr_assert_eq(cfg.max_body, 1024 * 1024);
    cr_assert_eq(cfg.request_timeout_ms, 10000);
    cr_assert_eq(cfg.shutdown_timeout_ms, 10000);
    cr_assert_eq(cfg.max_connections, 10000);
    cr_assert_str_eq(cfg.log_level, "info");
    cr_assert_str_eq(cfg.log_file, "-");
    cr_assert_str_eq(cfg.access_log, "-");
    cr_assert_str_eq(cfg.data_dir, "./data");
    cr_assert_str_eq(cfg.config_file, "");
    cr_assert_eq(cfg.demo, 0);
    /* nothing given: still the defaults */
    cr_assert_eq(LOAD0(), 0, "%s", err);
    cr_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    cr_assert_eq(cfg.threads, cpus());
}

Test(config, precedence_flag_env_file_default)
{
    write_conf("# dnevnik test config\n"
               "\n"
               "threads = 3\n"
               "workers = 5\n"
               "  db = sqlite:/tmp/file.db  \n"
               "max_body = 2m\n" /* underscores accepted in files */
               "access-log = \"\"\n"
               "log-file = \" spaced \"\n");
    setenv("DNEVNIK_THREADS", "4", 1);
    setenv("DNEVNIK_WORKERS", "6", 1);
    setenv("DNEVNIK_DEMO", "yes", 1);
    int rc = LOAD("--config", conf_path, "--threads", "7", "--listen=0.0.0.0:0");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(cfg.threads, 7);                      /* flag beats env and file */
    cr_assert_eq(cfg.workers, 6);                      /* env beats file */
    cr_assert_str_eq(cfg.db_url, "sqlite:/tmp/file.db"); /* file beats default */
    cr_assert_eq(cfg.max_body, 2 * 1024 * 1024);
    cr_assert_str_eq(cfg.access_log, "");
    cr_assert_str_eq(cfg.log_file, " spaced ");
    cr_assert_str_eq(cfg.listen, "0.0.0.0:0");
    cr_assert_eq(cfg.demo, 1);
    cr_assert_eq(cfg.request_timeout_ms, 10000); /* default */
    cr_assert_str_eq(cfg.config_file, conf_path);
}

Test(config, config_path_from_env_and_flag_override)
{
    write_conf("workers = 9\n");
    setenv("DNEVNIK_CONFIG", conf_path, 1);
    cr_assert_eq(LOAD0(), 0, "%s", err);
    cr_assert_eq(cfg.workers, 9);

    dn_config_defaults(&cfg);
    int rc = LOAD("--config", "/nonexistent/dnevnik.conf");
    cr_assert_eq(rc, DN_EIO);
    cr_assert(strstr(err, "/nonexistent/dnevnik.conf"), "%s", err);
}

Test(config, later_flag_wins_and_bools)
{
    setenv("DNEVNIK_DEMO", "true", 1);
    cr_assert_eq(LOAD("--threads", "2", "--threads=5", "--demo=false"), 0, "%s", err);
    cr_assert_eq(cfg.threads, 5);
    cr_assert_eq(cfg.demo, 0);
    unsetenv("DNEVNIK_DEMO");
    cr_assert_eq(LOAD("--demo"), 0, "%s", err);
    cr_assert_eq(cfg.demo, 1);
    cr_assert_eq(LOAD("--demo=off"), 0, "%s", err);
    cr_assert_eq(cfg.demo, 0);
    cr_assert_eq(LOAD("--demo=maybe"), DN_EINVAL);
    cr_assert_str_eq(err, "--demo: not a boolean (true/false): 'maybe'");
}

Test(config, threads_zero_means_cpus)
{
    cr_assert_eq(LOAD("--threads", "0"), 0, "%s", err);
    cr_assert_eq(cfg.threads, cpus());
    cr_assert_eq(LOAD("--threads", "256"), 0, "%s", err);
    cr_assert_eq(cfg.threads, 256);
}

Test(config, size_suffixes)
{
    static const struct {
        const char *in;
        size_t want;
    } ok[] = {{"1", 1}, {"4096", 4096}, {"512k", 512 * 1024}, {"512K", 512 * 1024}, {"1m", 1 << 20},
              {"3M", 3 << 20}, {"1g", 1 << 30}, {"1G", 1 << 30}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(LOAD("--max-body", (char *)ok[i].in), 0, "%s: %s", ok[i].in, err);
        cr_assert_eq(cfg.max_body, ok[i].want, "%s", ok[i].in);
    }
    static const char *const bad[] = {"", "k", "1x", "1mb", "-1", "+1", " 1", "1 ", "1.5m",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(LOAD("--max-body", (char *)bad[i]), DN_EINVAL, "'%s' accepted", bad[i]);
        char want[128];
        snprintf(want, sizeof want, "--max-body: not a size: '%s'", bad[i]);
        cr_assert_str_eq(err, want);
    }
    cr_assert_eq(LOAD("--max-body", "2g"), DN_EINVAL);
    cr_assert(strstr(err, "--max-body: out of range"), "%s", err);
    cr_assert_eq(LOAD("--max-body", "0"), DN_EINVAL);
}

Test(config, errors_name_option_and_source)
{
    dn_config_t before = cfg;

    setenv("DNEVNIK_THREADS", "abc", 1);
    cr_assert_eq(LOAD0(), DN_EINVAL);
    cr_assert_str_eq(err, "DNEVNIK_THREADS: not a number: 'abc'");
    unsetenv("DNEVNIK_THREADS");

    cr_assert_eq(LOAD("--threads", "300"), DN_EINVAL);
    cr_assert_str_eq(err, "--threads: out of range 0..256: '300'");
    cr_assert_eq(LOAD("--threads", "-1"), DN_EINVAL);
    cr_assert_eq(LOAD("--threads", "4x"), DN_EINVAL);
    cr_assert_str_eq(err, "--threads: not a number: '4x'");

    cr_assert_eq(LOAD("--bogus", "1"), DN_EINVAL);
    cr_assert_str_eq(err, "unknown option '--bogus'");
    cr_assert_eq(LOAD("--bogus=1"), DN_EINVAL);
    cr_assert_str_eq(err, "unknown option '--bogus'");
    cr_assert_eq(LOAD("--max_body", "1"), DN_EINVAL, "flags use dashes only");

    cr_assert_eq(LOAD("--threads"), DN_EINVAL);
    cr_assert_str_eq(err, "--threads: missing value");
    cr_assert_eq(LOAD("--db", "--threads", "2"), DN_EINVAL);
    cr_assert_str_eq(err, "--db: missing value");

    cr_assert_eq(LOAD("stray"), DN_EINVAL);
    cr_assert(strstr(err, "'stray'"), "%s", err);
    cr_assert_eq(LOAD("-x"), DN_EINVAL);

    cr_assert_eq(LOAD("--log-level", "loud"), DN_EINVAL);
    cr_assert(strstr(err, "--log-level: 'loud' is not one of debug info warn error off"), "%s", err);
    cr_assert_eq(LOAD("--db", ""), DN_EINVAL);
    cr_assert_str_eq(err, "--db: must not be empty");

    char longv[2000];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    cr_assert_eq(LOAD("--db", longv), DN_EINVAL);
    cr_assert_str_eq(err, "--db: too long (at most 1023 bytes)");

    /* a failed load leaves the config as it was */
    cr_assert_eq(LOAD("--threads", "3", "--workers", "x"), DN_EINVAL);
    cr_assert_eq(memcmp(&before, &cfg, sizeof cfg), 0);
}

Test(config, listen_validation)
{
    static const char *const ok[] = {"127.0.0.1:8080", "0.0.0.0:0", "localhost:65535", "[::1]:8080", "[::]:1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(LOAD("--listen", (char *)ok[i]), 0, "%s: %s", ok[i], err);
        cr_assert_str_eq(cfg.listen, ok[i]);
    }
    static const char *const bad[] = {"localhost", "8080", ":8080", "host:", "host:65536", "host:-1", "host:+1",
                                      "host:http", "::1:8080", "[::1:8080", "[]:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(LOAD("--listen", (char *)bad[i]), DN_EINVAL, "'%s' accepted", bad[i]);
        cr_assert_eq(strncmp(err, "--listen: ", 10), 0, "%s", err);
    }
    setenv("DNEVNIK_LISTEN", "x:99999", 1);
    cr_assert_eq(LOAD0(), DN_EINVAL);
    cr_assert_str_eq(err, "DNEVNIK_LISTEN: port out of range 0..65535: 'x:99999'");
}

Test(config, file_errors)
{
    write_conf("threads = 2\n# fine\nthreads = lots\n");
    cr_assert_eq(LOAD("--config", conf_path), DN_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s:3: threads: not a number: 'lots'", conf_path);
    cr_assert_str_eq(err, want);
    unlink(conf_path);

    write_conf("colour = blue\n");
    cr_assert_eq(LOAD("--config", conf_path), DN_EINVAL);
    snprintf(want, sizeof want, "%s:1: unknown option 'colour'", conf_path);
    cr_assert_str_eq(err, want);
    unlink(conf_path);

    write_conf("\n\njust words\n");
    cr_assert_eq(LOAD("--config", conf_path), DN_EINVAL);
    snprintf(want, sizeof want, "%s:3: expected 'key = value'", conf_path);
    cr_assert_str_eq(err, want);
    unlink(conf_path);

    write_conf("config = /etc/other.conf\n"); /* the file cannot redirect itself */
    cr_assert_eq(LOAD("--config", conf_path), DN_EINVAL);
    cr_assert(strstr(err, ":1: 'config' cannot be set in a config file"), "%s", err);
}

Test(config, help_returns_1, .init = clean_env)
{
    cr_redirect_stdout();
    cr_assert_eq(LOAD("--help"), 1);
    cr_assert_eq(LOAD("--threads", "bad", "-h"), 1, "--help wins over errors");
    fflush(stdout);
    FILE *out = cr_get_redirected_stdout();
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    cr_assert(strstr(buf, "Usage: dnevnik serve"), "%s", buf);
    cr_assert(strstr(buf, "--max-body SIZE"), "%s", buf);
    cr_assert(strstr(buf, "DNEVNIK_MAX_BODY"), "%s", buf);
    cr_assert(strstr(buf, "DNEVNIK_REQUEST_TIMEOUT"), "%s", buf);
    cr_assert(strstr(buf, "127.0.0.1:8080"), "%s", buf);
}

Test(config, usage_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dn_config_usage(f, "migrate");
    fclose(f);
    static const char *const flags[] = {"--config", "--listen", "--threads", "--workers", "--db", "--max-body",
                                        "--request-timeout", "--shutdown-timeout", "--max-connections",
                                        "--log-level", "--log-file", "--access-log", "--data-dir", "--demo"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert(strstr(text, flags[i]), "%s missing:\n%s", flags[i], text);
    cr_assert(strstr(text, "Usage: dnevnik migrate"));
    cr_assert(strstr(text, "DNEVNIK_LOG_LEVEL"));
    free(text);
}
