/*
 * test_log.c - JSON lines as written: every line must parse with jansson
 * (which also rejects invalid UTF-8), strings must round-trip, a full queue
 * drops and counts, and shutdown writes out everything queued. Each test runs
 * in its own process (Criterion), so the logger's global state starts fresh.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/log.h"

static char app_path[64], access_path[64];

static void make_paths(void)
{
    strcpy(app_path, "/tmp/dn_log_app_XXXXXX");
    strcpy(access_path, "/tmp/dn_log_access_XXXXXX");
    int a = mkstemp(app_path), b = mkstemp(access_path);
    cr_assert(a >= 0 && b >= 0);
    close(a);
    close(b);
}

static void remove_paths(void)
{
    unlink(app_path);
    unlink(access_path);
}

/* Parse every line of a file as a JSON object; returns a JSON array of them. */
static json_t *read_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        cr_assert(n > 0 && line[n - 1] == '\n', "line %d not newline-terminated", lineno);
        json_error_t e;
        json_t *obj = json_loadb(line, (size_t)n, 0, &e);
        cr_assert_not_null(obj, "line %d is not valid JSON (%s): %s", lineno, e.text, line);
        cr_assert(json_is_object(obj));
        json_array_append_new(all, obj);
    }
    free(line);
    fclose(f);
    return all;
}

static const char *str_at(json_t *all, size_t i, const char *key)
{
    json_t *v = json_object_get(json_array_get(all, i), key);
    cr_assert(json_is_string(v), "line %zu: %s is not a string", i, key);
    return json_string_value(v);
}

Test(log, level_parse)
{
    cr_assert_eq(dn_log_level_parse("debug"), DN_LOG_DEBUG);
    cr_assert_eq(dn_log_level_parse("info"), DN_LOG_INFO);
    cr_assert_eq(dn_log_level_parse("WARN"), DN_LOG_WARN);
    cr_assert_eq(dn_log_level_parse("error"), DN_LOG_ERROR);
    cr_assert_eq(dn_log_level_parse("off"), DN_LOG_OFF);
    cr_assert_eq(dn_log_level_parse("verbose"), -1);
    cr_assert_eq(dn_log_level_parse(""), -1);
    cr_assert_eq(dn_log_level_parse(NULL), -1);
}

Test(log, json_escaping_round_trips, .init = make_paths, .fini = remove_paths)
{
    cr_assert_eq(dn_log_init(DN_LOG_DEBUG, app_path, access_path), 0);
    const char *tricky = "quote \" backslash \\ slash / nl \n cr \r tab \t bell \x01 esc \x1b del \x7f end";
    const char *utf8 = "Привет, мир ✓ 😀";
    dn_log_info("test", "%s", tricky);
    dn_log_warn("test", "%s", utf8);
    dn_log_error("te\"st", "bad: [\xff] [\xc3] [\xc0\xaf] [\xed\xa0\x80] [\xf4\x90\x80\x80] [\xe2\x82]");
    dn_log_debug("test", "debug shown at debug level");
    /* 2000 two-byte characters: cut at 1023 bytes must not split one */
    char *big = malloc(4001);
    for (int i = 0; i < 2000; i++)
        memcpy(big + 2 * i, "ж", 2);
    big[4000] = '\0';
    dn_log_info("test", "%s", big);

    dn_access_entry_t e = {.ts_ms = 1795331313123, .duration_us = 123, .status = 200, .bytes_sent = 45,
                           .method = "GET", .path = "/x/\"y\"\n", .route = "/x/{id}", .remote = "127.0.0.1",
                           .user_id = 42};
    dn_log_access(&e);
    dn_access_entry_t e2 = {.ts_ms = 0, .status = 404, .method = NULL, .path = big, .route = "unmatched",
                            .remote = NULL};
    dn_log_access(&e2);
    dn_log_shutdown();

    json_t *app = read_lines(app_path);
    cr_assert_eq(json_array_size(app), 5);
    cr_assert_str_eq(str_at(app, 0, "msg"), tricky);
    cr_assert_str_eq(str_at(app, 0, "level"), "info");
    cr_assert_str_eq(str_at(app, 0, "module"), "test");
    cr_assert_str_eq(str_at(app, 1, "msg"), utf8);
    cr_assert_str_eq(str_at(app, 1, "level"), "warn");
    cr_assert_str_eq(str_at(app, 2, "module"), "te\"st");
    cr_assert_str_eq(str_at(app, 2, "level"), "error");
    /* one U+FFFD per invalid byte */
    cr_assert_str_eq(str_at(app, 2, "msg"), "bad: [\xef\xbf\xbd] [\xef\xbf\xbd] [\xef\xbf\xbd\xef\xbf\xbd] "
                                            "[\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd] "
                                            "[\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd] "
                                            "[\xef\xbf\xbd\xef\xbf\xbd]");
    cr_assert_str_eq(str_at(app, 3, "level"), "debug");
    const char *cut = str_at(app, 4, "msg");
    cr_assert_eq(strlen(cut), 1022, "truncated to whole characters: %zu", strlen(cut));
    cr_assert_eq(strncmp(cut, big, 1022), 0);
    /* timestamp shape: 2026-11-22T07:08:33.123Z */
    const char *ts = str_at(app, 0, "ts");
    cr_assert_eq(strlen(ts), 24, "%s", ts);
    cr_assert(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z', "%s", ts);

    json_t *acc = read_lines(access_path);
    cr_assert_eq(json_array_size(acc), 2);
    json_t *a = json_array_get(acc, 0);
    cr_assert_str_eq(str_at(acc, 0, "ts"), "2026-11-22T07:08:33.123Z");
    cr_assert_str_eq(str_at(acc, 0, "type"), "access");
    cr_assert_str_eq(str_at(acc, 0, "method"), "GET");
    cr_assert_str_eq(str_at(acc, 0, "path"), "/x/\"y\"\n");
    cr_assert_str_eq(str_at(acc, 0, "route"), "/x/{id}");
    cr_assert_str_eq(str_at(acc, 0, "remote"), "127.0.0.1");
    cr_assert_eq(json_integer_value(json_object_get(a, "status")), 200);
    cr_assert_eq(json_integer_value(json_object_get(a, "duration_us")), 123);
    cr_assert_eq(json_integer_value(json_object_get(a, "bytes")), 45);
    cr_assert_eq(json_integer_value(json_object_get(a, "user_id")), 42);
    cr_assert_str_eq(str_at(acc, 1, "method"), "");
    cr_assert_str_eq(str_at(acc, 1, "remote"), "");
    cr_assert_str_eq(str_at(acc, 1, "ts"), "1970-01-01T00:00:00.000Z");
    cr_assert_lt(strlen(str_at(acc, 1, "path")), 512);
    cr_assert_eq(strlen(str_at(acc, 1, "path")) % 2, 0, "path cut between the bytes of a character");
    json_decref(app);
    json_decref(acc);
    free(big);
}

Test(log, level_filters_and_disabled_streams, .init = make_paths, .fini = remove_paths)
{
    cr_assert_eq(dn_log_init(DN_LOG_WARN, app_path, ""), 0);
    dn_log_debug("t", "no");
    dn_log_info("t", "no");
    dn_log_warn("t", "yes");
    dn_log__write(DN_LOG_INFO, "t", "direct call below the level: no");
    dn_access_entry_t e = {.method = "GET", .path = "/", .route = "/", .remote = "x", .status = 200};
    dn_log_access(&e); /* access log off */
    dn_log_shutdown();
    json_t *app = read_lines(app_path);
    cr_assert_eq(json_array_size(app), 1);
    cr_assert_str_eq(str_at(app, 0, "msg"), "yes");
    json_decref(app);
    json_t *acc = read_lines(access_path);
    cr_assert_eq(json_array_size(acc), 0);
    json_decref(acc);
}

Test(log, full_queue_drops_and_counts, .init = make_paths, .fini = remove_paths)
{
    dn_log_set_queue_size(4);
    cr_assert_eq(dn_log_init(DN_LOG_INFO, app_path, access_path), 0);
    dn_log__pause(1);
    uint64_t before = dn_log_dropped();
    for (int i = 0; i < 10; i++)
        dn_log_info("t", "message %d", i);
    cr_assert_eq(dn_log_dropped() - before, 6);
    dn_log__pause(0);
    dn_log_shutdown();
    json_t *app = read_lines(app_path);
    cr_assert_eq(json_array_size(app), 4);
    for (int i = 0; i < 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "message %d", i);
        cr_assert_str_eq(str_at(app, (size_t)i, "msg"), want);
    }
    json_decref(app);
}

Test(log, shutdown_while_paused_still_drains, .init = make_paths, .fini = remove_paths)
{
    dn_log_set_queue_size(16);
    cr_assert_eq(dn_log_init(DN_LOG_INFO, app_path, access_path), 0);
    dn_log__pause(1);
    for (int i = 0; i < 16; i++)
        dn_log_info("t", "m%d", i);
    dn_log_shutdown();
    json_t *app = read_lines(app_path);
    cr_assert_eq(json_array_size(app), 16);
    json_decref(app);
}

#define NTHREADS 4
#define PER_THREAD 5000

static void *spam(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (i % 2)
            dn_log_info("spam", "thread %d seq %d", t, i);
        else {
            dn_access_entry_t e = {.method = "POST", .path = "/p", .route = "/p", .remote = "::1",
                                   .status = 201, .user_id = t};
            dn_log_access(&e);
        }
    }
    return NULL;
}

Test(log, shutdown_flushes_everything, .init = make_paths, .fini = remove_paths, .timeout = 60)
{
    /* Room for every record, so nothing may be dropped and all must reach the files. */
    dn_log_set_queue_size(NTHREADS * PER_THREAD);
    cr_assert_eq(dn_log_init(DN_LOG_INFO, app_path, access_path), 0);
    uint64_t before = dn_log_dropped();
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, spam, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    dn_log_shutdown();
    cr_assert_eq(dn_log_dropped(), before);

    json_t *app = read_lines(app_path), *acc = read_lines(access_path);
    cr_assert_eq(json_array_size(app), NTHREADS * PER_THREAD / 2);
    cr_assert_eq(json_array_size(acc), NTHREADS * PER_THREAD / 2);
    /* per thread, records keep their order */
    int last[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        last[t] = -1;
    for (size_t i = 0; i < json_array_size(app); i++) {
        int t, seq;
        cr_assert_eq(sscanf(str_at(app, i, "msg"), "thread %d seq %d", &t, &seq), 2);
        cr_assert(t >= 0 && t < NTHREADS && seq > last[t]);
        last[t] = seq;
    }
    json_decref(app);
    json_decref(acc);
}

/* Before init and after shutdown, records go straight to stderr. */
Test(log, no_writer_goes_to_stderr, .init = make_paths, .fini = remove_paths)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *f = fopen(app_path, "w");
    cr_assert_not_null(f);
    dup2(fileno(f), STDERR_FILENO);
    dn_log_info("cli", "before init \"%d\"", 1);
    dn_access_entry_t e = {.method = "GET", .path = "/", .route = "/", .remote = "x", .status = 200};
    dn_log_access(&e);
    cr_assert_eq(dn_log_init(DN_LOG_INFO, "", ""), 0);
    dn_log_info("cli", "while running, app log off: dropped silently");
    dn_log_shutdown();
    dn_log_warn("cli", "after shutdown");
    dup2(saved, STDERR_FILENO);
    close(saved);
    fclose(f);

    json_t *all = read_lines(app_path);
    cr_assert_eq(json_array_size(all), 3);
    cr_assert_str_eq(str_at(all, 0, "msg"), "before init \"1\"");
    cr_assert_str_eq(str_at(all, 1, "type"), "access");
    cr_assert_str_eq(str_at(all, 2, "msg"), "after shutdown");
    cr_assert_str_eq(str_at(all, 2, "level"), "warn");
    json_decref(all);
}

Test(log, init_errors)
{
    cr_assert_lt(dn_log_init(DN_LOG_INFO, "/nonexistent-dir/x.log", "-"), 0);
    cr_assert_lt(dn_log_init((dn_log_level_t)7, "-", "-"), 0);
    cr_assert_eq(dn_log_init(DN_LOG_INFO, "", ""), 0);
    cr_assert_lt(dn_log_init(DN_LOG_INFO, "", ""), 0, "second init while running");
    dn_log_shutdown();
    dn_log_shutdown(); /* idempotent */
    cr_assert_eq(dn_log_init(DN_LOG_INFO, "", ""), 0, "init again after shutdown");
    dn_log_shutdown();
}
