/*
 * health.c - operational endpoints: liveness, readiness, metrics, ping, and
 * the test-only endpoints enabled by DNEVNIK_TEST_ENDPOINTS=1.
 *
 * /healthz and /metrics run inline (no store, no blocking). /readyz runs on a
 * store worker, so it proves that the workers can reach a migrated store,
 * which is exactly what a load balancer needs to know.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cluster/cluster.h"
#include "core/error.h"
#include "http/request.h"
#include "obs/metrics.h"
#include "store/migrate.h"

static void healthz(dn_req_t *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    dn_res_body(req, 200, "application/json; charset=utf-8", body, sizeof(body) - 1);
}

/* The benchmark's trivial endpoint: a constant JSON document. */
static void ping(dn_req_t *req)
{
    static const char body[] = "{\"pong\":true}";
    dn_res_body(req, 200, "application/json; charset=utf-8", body, sizeof(body) - 1);
}

static void readyz(dn_req_t *req)
{
    if (atomic_load(&req->app->draining)) {
        dn_res_problem(req, 503, NULL, "the server is shutting down");
        return;
    }
    int err = dn_db_ping(req->db);
    if (err == 0)
        err = dn_migrate_check(req->db);
    if (err != 0) {
        dn_res_problem(req, 503, NULL, err == DN_ESCHEMA ? "the database schema is not at this binary's version"
                                                         : "the store is not reachable");
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    dn_res_body(req, 200, "application/json; charset=utf-8", body, sizeof(body) - 1);
}

static void metrics(dn_req_t *req)
{
    size_t len = 0;
    char *text = dn_metrics_render(&len);
    if (text == NULL) {
        dn_res_error(req, DN_ENOMEM, NULL);
        return;
    }
    char extra[2048]; /* replica reads, retries, Redis state (src/cluster) */
    size_t elen = dn_cluster_metrics(req->app, extra, sizeof(extra));
    char *body = h2o_mem_alloc_pool(&req->pool, len + elen + 1);
    memcpy(body, text, len);
    memcpy(body + len, extra, elen);
    free(text);
    dn_res_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len + elen);
}

/* Test-only: hold a store worker for ?ms= milliseconds (graceful shutdown tests). */
static void debug_sleep(dn_req_t *req)
{
    const char *ms_text = dn_req_query(req, "ms");
    char *end = NULL;
    long ms = ms_text ? strtol(ms_text, &end, 10) : -1;
    if (ms_text == NULL || *end != '\0' || ms < 0 || ms > 60000) {
        json_t *errors = json_pack("[{s:s, s:s}]", "field", "ms", "message", "an integer from 0 to 60000 is required");
        dn_res_problem_fields(req, 422, "invalid query parameter", errors);
        return;
    }
    usleep((useconds_t)ms * 1000);
    dn_res_json(req, 200, json_pack("{s:I}", "slept_ms", (json_int_t)ms));
}

int dn_api_register_ops(dn_app_t *app)
{
    const dn_route_t routes[] = {
        {DN_GET, "/healthz", healthz, DN_RUN_INLINE},
        {DN_GET, "/readyz", readyz, DN_RUN_WORKER},
        {DN_GET, "/metrics", metrics, DN_RUN_INLINE},
        {DN_GET, "/api/v1/ping", ping, DN_RUN_INLINE},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (dn_router_add(app->router, &routes[i]) < 0)
            return DN_ENOMEM;
    if (app->test_endpoints) {
        dn_route_t sleep_route = {DN_POST, "/api/v1/debug/sleep", debug_sleep, DN_RUN_WORKER};
        if (dn_router_add(app->router, &sleep_route) < 0)
            return DN_ENOMEM;
    }
    return 0;
}
