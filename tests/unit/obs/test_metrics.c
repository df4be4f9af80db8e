/*
 * test_metrics.c - counters, histogram buckets, escaping and the exposition
 * format (checked by promtool when installed), plus concurrent updates.
 * Criterion runs each test in its own process, so the global tables start
 * empty in every test.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obs/metrics.h"

static const char *const names[] = {"/api/v1/a", "/api/v1/b/{id}", "/q\"x\\y\nz"};
static const char *const methods[] = {"GET", "POST", "GET"};

static char *render(void)
{
    size_t len = 0;
    char *out = dn_metrics_render(&len);
    cr_assert_not_null(out);
    cr_assert_eq(strlen(out), len);
    return out;
}

static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    cr_assert_fail("missing line: %s\n--- output ---\n%s", line, text);
}

static void assert_no_substr(const char *text, const char *s)
{
    cr_assert_null(strstr(text, s), "unexpected '%s' in output", s);
}

static void init3(void)
{
    cr_assert_eq(dn_metrics_init(3, names, methods), 0);
}

Test(metrics, request_counts_and_statuses, .init = init3, .fini = dn_metrics_free)
{
    for (int i = 0; i < 3; i++)
        dn_metrics_request_done(0, "GET", 200, 30000);
    dn_metrics_request_done(0, "GET", 404, 2000000);
    dn_metrics_request_done(1, "POST", 201, 700000000);
    dn_metrics_request_done(1, "POST", 503, 1000);
    dn_metrics_request_done(1, "POST", 42, 1000);  /* outside 100..599 */
    dn_metrics_request_done(-1, "GET", 404, 1000);
    dn_metrics_request_done(-1, "BREW", 404, 1000);   /* unknown method */
    dn_metrics_request_done(99, "DELETE", 404, 1000); /* out-of-range id counts as unmatched */

    char *out = render();
    assert_line(out, "dnevnik_http_requests_total{route=\"/api/v1/a\",method=\"GET\",status=\"200\"} 3");
    assert_line(out, "dnevnik_http_requests_total{route=\"/api/v1/a\",method=\"GET\",status=\"404\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"/api/v1/b/{id}\",method=\"POST\",status=\"201\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"/api/v1/b/{id}\",method=\"POST\",status=\"503\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"/api/v1/b/{id}\",method=\"POST\",status=\"other\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1");
    assert_line(out, "dnevnik_http_requests_total{route=\"unmatched\",method=\"DELETE\",status=\"404\"} 1");
    assert_line(out, "dnevnik_http_errors_total 1");
    /* zero series are not rendered */
    assert_no_substr(out, "status=\"500\"");
    assert_no_substr(out, "route=\"/q");
    free(out);
}

Test(metrics, histogram_buckets, .init = init3, .fini = dn_metrics_free)
{
    dn_metrics_request_done(0, "GET", 200, 30000);      /* 30us  -> le 0.00005 */
    dn_metrics_request_done(0, "GET", 200, 50000);      /* on the bound: le is inclusive */
    dn_metrics_request_done(0, "GET", 200, 2000000);    /* 2ms   -> le 0.0025 */
    dn_metrics_request_done(0, "GET", 200, 20000000000); /* 20s  -> only +Inf */

    char *out = render();
#define B(le, n) "dnevnik_http_request_duration_seconds_bucket{route=\"/api/v1/a\",method=\"GET\",le=\"" le "\"} " #n
    assert_line(out, B("0.00005", 2));
    assert_line(out, B("0.0001", 2));
    assert_line(out, B("0.001", 2));
    assert_line(out, B("0.0025", 3));
    assert_line(out, B("5", 3));
    assert_line(out, B("10", 3));
    assert_line(out, B("+Inf", 4));
#undef B
    assert_line(out, "dnevnik_http_request_duration_seconds_count{route=\"/api/v1/a\",method=\"GET\"} 4");
    assert_line(out, "dnevnik_http_request_duration_seconds_sum{route=\"/api/v1/a\",method=\"GET\"} 20.002080000");
    /* routes without requests have no histogram */
    assert_no_substr(out, "_bucket{route=\"/api/v1/b/{id}\"");
    free(out);
}

Test(metrics, label_escaping, .init = init3, .fini = dn_metrics_free)
{
    dn_metrics_request_done(2, "GET", 200, 1000);
    dn_metrics_pool_set_total("we\"ird\\pool\n", 2);
    char *out = render();
    assert_line(out, "dnevnik_http_requests_total{route=\"/q\\\"x\\\\y\\nz\",method=\"GET\",status=\"200\"} 1");
    assert_line(out, "dnevnik_workers{pool=\"we\\\"ird\\\\pool\\n\",state=\"total\"} 2");
    free(out);
}

Test(metrics, store_pools_process_build, .init = init3, .fini = dn_metrics_free)
{
    dn_metrics_store_query(1000000, 0);
    dn_metrics_store_query(2000000000, 1);
    dn_metrics_pool_set_total("store", 4);
    dn_metrics_pool_busy_add("store", 1);
    dn_metrics_pool_busy_add("store", 1);
    dn_metrics_pool_busy_add("store", -1);
    dn_metrics_pool_queue_add("store", 3);
    dn_metrics_pool_queue_add("inline", 1);
    dn_metrics_inflight_add(2);
    dn_metrics_inflight_add(-1);

    char *out = render();
    assert_line(out, "dnevnik_store_query_duration_seconds_bucket{le=\"0.001\"} 1");
    assert_line(out, "dnevnik_store_query_duration_seconds_bucket{le=\"1\"} 1");
    assert_line(out, "dnevnik_store_query_duration_seconds_bucket{le=\"2.5\"} 2");
    assert_line(out, "dnevnik_store_query_duration_seconds_bucket{le=\"+Inf\"} 2");
    assert_line(out, "dnevnik_store_query_duration_seconds_sum 2.001000000");
    assert_line(out, "dnevnik_store_query_duration_seconds_count 2");
    assert_line(out, "dnevnik_store_errors_total 1");
    assert_line(out, "dnevnik_workers{pool=\"store\",state=\"busy\"} 1");
    assert_line(out, "dnevnik_workers{pool=\"store\",state=\"total\"} 4");
    assert_line(out, "dnevnik_worker_queue_length{pool=\"store\"} 3");
    assert_line(out, "dnevnik_worker_queue_length{pool=\"inline\"} 1");
    assert_line(out, "dnevnik_http_requests_in_flight 1");
    assert_line(out, "dnevnik_log_dropped_total 0");
    assert_line(out, "dnevnik_build_info{version=\"" DN_VERSION "\"} 1");
    cr_assert_not_null(strstr(out, "\nprocess_cpu_seconds_total "));
    cr_assert_not_null(strstr(out, "\nprocess_resident_memory_bytes "));
    cr_assert_not_null(strstr(out, "\nprocess_start_time_seconds "));
    cr_assert_not_null(strstr(out, "\nprocess_open_fds "));
    free(out);
}

Test(metrics, before_init_counts_unmatched)
{
    dn_metrics_request_done(0, "GET", 200, 1000);
    char *out = render();
    assert_line(out, "dnevnik_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"200\"} 1");
    free(out);
}

/* Every family: HELP then TYPE exactly once, and its samples contiguous after them. */
Test(metrics, help_and_type_once, .init = init3, .fini = dn_metrics_free)
{
    dn_metrics_request_done(0, "GET", 200, 1000);
    dn_metrics_request_done(-1, "GET", 404, 1000);
    dn_metrics_pool_set_total("store", 1);
    dn_metrics_store_query(1000, 0);
    char *out = render();
    char seen[64][96];
    int nseen = 0;
    char current[96] = "";
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[96];
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%95s", name), 1);
            for (int i = 0; i < nseen; i++)
                cr_assert_str_neq(seen[i], name, "family %s has two HELP lines", name);
            cr_assert_lt(nseen, 64);
            strcpy(seen[nseen++], name);
            strcpy(current, name);
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            cr_assert_eq(sscanf(line + 7, "%95s", name), 1);
            cr_assert_str_eq(name, current, "TYPE %s does not follow its HELP", name);
        } else {
            cr_assert_eq(strncmp(line, current, strlen(current)), 0, "sample '%s' outside family %s", line, current);
        }
    }
    cr_assert_geq(nseen, 14);
    free(out);
}

Test(metrics, promtool_accepts_output, .init = init3, .fini = dn_metrics_free)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        cr_skip_test("/usr/bin/promtool not installed");
    }
    dn_metrics_request_done(0, "GET", 200, 30000);
    dn_metrics_request_done(1, "POST", 422, 3000000);
    dn_metrics_request_done(2, "GET", 500, 1000);
    dn_metrics_request_done(-1, "PATCH", 404, 1000);
    dn_metrics_request_done(1, "POST", 7, 1000);
    dn_metrics_store_query(4000, 1);
    dn_metrics_pool_set_total("store", 4);
    dn_metrics_pool_queue_add("store", 1);

    char path[] = "/tmp/dn_metrics_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len;
    char *out = dn_metrics_render(&len);
    cr_assert_not_null(out);
    cr_assert_eq(write(fd, out, len), (ssize_t)len);
    close(fd);

    char cmd[256], report[4096] = "";
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(report, 1, sizeof report - 1, p);
    report[n] = '\0';
    int status = pclose(p);
    unlink(path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "promtool rejected the output:\n%s\n--- output ---\n%s",
              report, out);
    free(out);
}

#define NTHREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        dn_metrics_inflight_add(1);
        dn_metrics_request_done(i % 2, i % 2 ? "POST" : "GET", i % 4 ? 200 : 500, (uint64_t)(i % 7) * 100000);
        dn_metrics_store_query(1000, 0);
        dn_metrics_pool_busy_add(t % 2 ? "store" : "inline", 1);
        dn_metrics_pool_busy_add(t % 2 ? "store" : "inline", -1);
        dn_metrics_inflight_add(-1);
        if (i % 10000 == 0)
            free(dn_metrics_render(NULL)); /* a scrape racing the updates */
    }
    return NULL;
}

Test(metrics, concurrent_updates_sum, .init = init3, .fini = dn_metrics_free, .timeout = 60)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    char *out = render();
    /* per thread: i even -> route 0; i%4==0 -> 500 (half of route 0) */
    char line[256];
    snprintf(line, sizeof line, "dnevnik_http_requests_total{route=\"/api/v1/a\",method=\"GET\",status=\"200\"} %d",
             NTHREADS * PER_THREAD / 4);
    assert_line(out, line);
    snprintf(line, sizeof line, "dnevnik_http_requests_total{route=\"/api/v1/a\",method=\"GET\",status=\"500\"} %d",
             NTHREADS * PER_THREAD / 4);
    assert_line(out, line);
    snprintf(line, sizeof line,
             "dnevnik_http_requests_total{route=\"/api/v1/b/{id}\",method=\"POST\",status=\"200\"} %d",
             NTHREADS * PER_THREAD / 2);
    assert_line(out, line);
    snprintf(line, sizeof line, "dnevnik_http_request_duration_seconds_count{route=\"/api/v1/a\",method=\"GET\"} %d",
             NTHREADS * PER_THREAD / 2);
    assert_line(out, line);
    snprintf(line, sizeof line, "dnevnik_http_errors_total %d", NTHREADS * PER_THREAD / 4);
    assert_line(out, line);
    snprintf(line, sizeof line, "dnevnik_store_query_duration_seconds_count %d", NTHREADS * PER_THREAD);
    assert_line(out, line);
    assert_line(out, "dnevnik_http_requests_in_flight 0");
    assert_line(out, "dnevnik_workers{pool=\"store\",state=\"busy\"} 0");
    assert_line(out, "dnevnik_workers{pool=\"inline\",state=\"busy\"} 0");
    free(out);
}

/* Registration races: many threads naming the same new pools must create each once. */
static void *register_pools(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        dn_metrics_pool_queue_add("p1", 1);
        dn_metrics_pool_queue_add("p2", 1);
    }
    return NULL;
}

Test(metrics, pool_registration_race)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, register_pools, NULL);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    char *out = render();
    assert_line(out, "dnevnik_worker_queue_length{pool=\"p1\"} 4000");
    assert_line(out, "dnevnik_worker_queue_length{pool=\"p2\"} 4000");
    const char *first = strstr(out, "pool=\"p1\"} 4000");
    cr_assert_null(strstr(first + 1, "dnevnik_worker_queue_length{pool=\"p1\"}"), "pool p1 registered twice");
    free(out);
}

Test(metrics, connections_open_and_rejected, .init = init3, .fini = dn_metrics_free)
{
    /* process-wide counters: assert on the change, not on absolute values */
    dn_metrics_connections_add(3);
    dn_metrics_connections_add(-1);
    dn_metrics_connection_rejected("per_address");
    dn_metrics_connection_rejected("per_address");
    dn_metrics_connection_rejected("max_connections");
    dn_metrics_connection_rejected("made-up\"reason"); /* no new series from a caller's string */
    char *out = render();
    assert_line(out, "dnevnik_http_connections_open 2");
    assert_line(out, "dnevnik_http_connections_rejected_total{reason=\"per_address\"} 2");
    assert_line(out, "dnevnik_http_connections_rejected_total{reason=\"max_connections\"} 1");
    assert_line(out, "dnevnik_http_connections_rejected_total{reason=\"other\"} 1");
    assert_no_substr(out, "made-up");
    assert_line(out, "# TYPE dnevnik_http_connections_rejected_total counter");
    free(out);
    dn_metrics_connections_add(-2);
}
