/* Node roles, the replica route policy, JWT peeking, local revocations and
 * read-your-own-writes bookkeeping of src/cluster (no Redis: see test_redis.c). */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cluster/cluster.h"
#include "core/date.h"
#include "core/error.h"

static void nop(dn_req_t *req)
{
    (void)req;
}

static dn_app_t *new_app(const char *services, int ryw_ms)
{
    static dn_app_t app;
    char err[256] = "";
    memset(&app, 0, sizeof(app));
    dn_config_defaults(&app.config);
    snprintf(app.config.services, sizeof(app.config.services), "%s", services);
    app.config.read_your_writes_ms = ryw_ms;
    cr_assert_eq(dn_cluster_init(&app, err, sizeof(err)), 0, "%s", err);
    return &app;
}

Test(cluster, parses_services)
{
    cr_assert_eq(dn_cluster_parse_services("auth,diary,works"), DN_SERVICE_ALL);
    cr_assert_eq(dn_cluster_parse_services("works"), DN_SERVICE_WORKS);
    cr_assert_eq(dn_cluster_parse_services("auth,works"), DN_SERVICE_AUTH | DN_SERVICE_WORKS);
    cr_assert_lt(dn_cluster_parse_services(""), 0);
    cr_assert_lt(dn_cluster_parse_services("auth,,"), 0, "an empty item is refused");
    cr_assert_lt(dn_cluster_parse_services("journal"), 0);
    cr_assert_lt(dn_cluster_parse_services("auth diary"), 0);
}

Test(cluster, routes_belong_to_roles)
{
    struct {
        const char *pattern;
        int service;
    } cases[] = {
        {"/healthz", 0},
        {"/readyz", 0},
        {"/metrics", 0},
        {"/api/v1/ping", 0},
        {"/api/v1/auth/login", DN_SERVICE_AUTH},
        {"/api/v1/auth/password", DN_SERVICE_AUTH},
        {"/api/v1/me", DN_SERVICE_AUTH},
        {"/api/v1/invites/accept", DN_SERVICE_AUTH},
        {"/api/v1/me/lessons", DN_SERVICE_DIARY},
        {"/api/v1/works/{work_id}", DN_SERVICE_WORKS},
        {"/api/v1/files", DN_SERVICE_WORKS},
        {"/api/v1/checkpoints/{checkpoint_id}/works", DN_SERVICE_WORKS},
        {"/api/v1/lessons/{lesson_id}/attachments", DN_SERVICE_WORKS},
        {"/api/v1/checkpoints/{checkpoint_id}", DN_SERVICE_DIARY},
        {"/api/v1/classes/{class_id}/journal", DN_SERVICE_DIARY},
        {"/", DN_SERVICE_DIARY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dn_route_t r = {DN_GET, cases[i].pattern, nop};
        cr_assert_eq(dn_cluster_route_service(&r), cases[i].service, "%s", cases[i].pattern);
    }
}

Test(cluster, replica_policy_is_for_listed_gets_or_flagged_routes)
{
    dn_route_t week = {DN_GET, "/api/v1/students/{student_id}/week", nop};
    dn_route_t me = {DN_GET, "/api/v1/me", nop};
    dn_route_t readyz = {DN_GET, "/readyz", nop};
    dn_route_t post = {DN_POST, "/api/v1/students/{student_id}/week", nop};
    dn_route_t flagged = {DN_GET, "/api/v1/some/new/list", nop};
    flagged.flags = DN_ROUTE_REPLICA;
    cr_assert(dn_cluster_route_replica_ok(&week));
    cr_assert(dn_cluster_route_replica_ok(&flagged));
    cr_assert_not(dn_cluster_route_replica_ok(&me));
    cr_assert_not(dn_cluster_route_replica_ok(&readyz));
    cr_assert_not(dn_cluster_route_replica_ok(&post), "a write never goes to a replica");
}

Test(cluster, filter_keeps_only_the_roles_routes)
{
    dn_app_t *app = new_app("works", 5000);
    app->router = dn_router_new();
    const char *patterns[] = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/login", "/api/v1/works/{work_id}",
                              "/api/v1/classes/{class_id}/journal", "/api/v1/files"};
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        dn_route_t r = {DN_GET, patterns[i], nop};
        cr_assert_geq(dn_router_add(app->router, &r), 0);
    }
    cr_assert_eq(dn_cluster_filter_routes(app), 0);
    cr_assert_eq(dn_router_count(app->router), 5, "health, ready, metrics, works, files");
    for (int i = 0; i < dn_router_count(app->router); i++) {
        const char *p = dn_router_get(app->router, i)->pattern;
        cr_assert(strstr(p, "auth") == NULL && strstr(p, "journal") == NULL, "%s must be gone", p);
    }
    dn_router_free(app->router);
    dn_cluster_free(app);
}

Test(cluster, init_refuses_bad_options)
{
    static dn_app_t app;
    char err[256];
    dn_config_defaults(&app.config);
    snprintf(app.config.services, sizeof(app.config.services), "journal");
    cr_assert_lt(dn_cluster_init(&app, err, sizeof(err)), 0);
    cr_assert(strstr(err, "--services") != NULL, "%s", err);
    dn_config_defaults(&app.config);
    snprintf(app.config.db_replica, sizeof(app.config.db_replica), "postgresql://127.0.0.1:1/x");
    cr_assert_lt(dn_cluster_init(&app, err, sizeof(err)), 0, "a replica needs a PostgreSQL primary");
    dn_config_defaults(&app.config);
    snprintf(app.config.redis_url, sizeof(app.config.redis_url), "http://127.0.0.1:6379");
    cr_assert_lt(dn_cluster_init(&app, err, sizeof(err)), 0);
    cr_assert_null(app.cluster);
}

static void b64(const char *json, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, (const unsigned char *)json, strlen(json), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

Test(cluster, peeks_sub_and_iat)
{
    char h[64], p[128], tok[256];
    int64_t uid, iat;
    b64("{\"alg\":\"HS256\"}", h, sizeof(h));
    b64("{\"sub\":\"42\",\"iat\":1700000000,\"exp\":1700000900}", p, sizeof(p));
    snprintf(tok, sizeof(tok), "%s.%s.sig", h, p);
    cr_assert_eq(dn_cluster_jwt_peek(tok, &uid, &iat), 0);
    cr_assert_eq(uid, 42);
    cr_assert_eq(iat, 1700000000);
    b64("{\"sub\":\"x42\"}", p, sizeof(p));
    snprintf(tok, sizeof(tok), "%s.%s.sig", h, p);
    cr_assert_eq(dn_cluster_jwt_peek(tok, &uid, &iat), DN_EINVAL);
    cr_assert_eq(dn_cluster_jwt_peek("no-dots", &uid, &iat), DN_EINVAL);
    cr_assert_eq(dn_cluster_jwt_peek("a.!!!.c", &uid, &iat), DN_EINVAL);
}

Test(cluster, revocation_is_by_issue_time)
{
    dn_app_t *app = new_app("auth,diary,works", 5000);
    int64_t now_s = dn_now_ms() / 1000;
    cr_assert_eq(dn_cluster_token_revoked(app, 7, now_s - 60), 0);
    dn_cluster_revoke_user(app, 7);
    cr_assert_eq(dn_cluster_token_revoked(app, 7, now_s - 60), 1, "a token issued before the block");
    cr_assert_eq(dn_cluster_token_revoked(app, 7, now_s + 2), 0, "a token issued after it");
    cr_assert_eq(dn_cluster_token_revoked(app, 8, now_s - 60), 0, "other users are untouched");
    /* many revocations stay findable (open addressing with a probe window) */
    for (int64_t u = 1000; u < 3000; u++)
        dn_cluster_revoke_user(app, u);
    for (int64_t u = 1000; u < 3000; u++)
        cr_assert_eq(dn_cluster_token_revoked(app, u, now_s - 60), 1, "user %lld", (long long)u);
    cr_assert_eq(dn_cluster_token_revoked(app, 7, now_s - 60), 1);
    dn_cluster_free(app);
}

Test(cluster, read_your_own_writes_window)
{
    dn_app_t *app = new_app("auth,diary,works", 60000);
    cr_assert_eq(dn_cluster_recent_writer(app, 9), 0);
    dn_cluster_note_write(app, 9);
    cr_assert_eq(dn_cluster_recent_writer(app, 9), 1);
    cr_assert_eq(dn_cluster_recent_writer(app, 0), 0, "anonymous callers never wrote");
    dn_cluster_free(app);
    app = new_app("auth,diary,works", 0); /* 0 = off */
    dn_cluster_note_write(app, 9);
    cr_assert_eq(dn_cluster_recent_writer(app, 9), 0);
    dn_cluster_free(app);
}
