/*
 * cluster.c - store health, replica reads, roles and Redis-shared state of
 * an app node (see cluster.h).
 *
 * Invariants: a store worker owns its replica connection (thread-local,
 * opened lazily, skipped for REPLICA_RETRY_MS after a failure); when
 * dn_cluster_run returns, req->db is the worker's primary connection and the
 * replica connection has been released. The last-write table is indexed by
 * a hash of the user id with no collision check: a collision can only send
 * a user's reads to the primary too early... never to a stale replica too
 * early. Revocations live in a small open-addressed table under a rwlock
 * (writes are rare: blocks), entries older than a day are dead.
 */
#include "cluster/cluster.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cache/cache.h"
#include "core/date.h"
#include "core/error.h"
#include "obs/log.h"

#define REPLICA_RETRY_MS 1000
#define LW_SLOTS 65536 /* power of two */
#define REV_SLOTS 4096 /* power of two */
#define REV_PROBE 16
#define REV_KEEP_MS ((int64_t)24 * 3600 * 1000) /* longest access-token lifetime */
#define REDIS_TIMEOUT_MS 50
#define BUS_CHANNEL "dnevnik:bus"

struct dn_cluster {
    int services;
    int ryw_ms;
    char replica_url[1024];
    dn_redis_t *redis;
    dn_bus_t *bus;
    _Atomic int64_t last_write[LW_SLOTS]; /* wall ms of the latest write of users hashing here */
    pthread_rwlock_t rev_lock;
    struct {
        int64_t user_id; /* 0 = free */
        int64_t at_ms;
    } rev[REV_SLOTS];
    atomic_int nrev;
    atomic_uint_fast64_t replica_reads, primary_reads, read_retries, replica_fallbacks, reconnects;
};

/* ------------------------------------------------------------------ */
/* roles and route policy                                             */

int dn_cluster_parse_services(const char *list)
{
    int bits = 0;
    const char *p = list;
    if (list == NULL)
        return DN_EINVAL;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 4 && strncmp(p, "auth", 4) == 0)
            bits |= DN_SERVICE_AUTH;
        else if (n == 5 && strncmp(p, "diary", 5) == 0)
            bits |= DN_SERVICE_DIARY;
        else if (n == 5 && strncmp(p, "works", 5) == 0)
            bits |= DN_SERVICE_WORKS;
        else if (n == 3 && strncmp(p, "all", 3) == 0)
            bits |= DN_SERVICE_ALL;
        else
            return DN_EINVAL;
        p += n;
        if (*p == ',')
            p++;
    }
    return bits ? bits : DN_EINVAL;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int dn_cluster_route_service(const dn_route_t *route)
{
    const char *p = route->pattern;
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 || strcmp(p, "/metrics") == 0 ||
        strcmp(p, "/api/v1/ping") == 0 || starts(p, "/api/v1/debug/"))
        return 0;
    /* sign-in and registration: sessions, passwords, invitations, who am I */
    if (starts(p, "/api/v1/auth/") || strcmp(p, "/api/v1/me") == 0 || starts(p, "/api/v1/invites/"))
        return DN_SERVICE_AUTH;
    /* student works: works, their files, attachments, the works of a checkpoint */
    if (starts(p, "/api/v1/works") || starts(p, "/api/v1/files") || ends(p, "/attachments") ||
        (starts(p, "/api/v1/checkpoints/") && ends(p, "/works")))
        return DN_SERVICE_WORKS;
    /* timetable, people, journal, checkpoints, the web UI: everything else */
    return DN_SERVICE_DIARY;
}

/* GET routes whose answer may lag the primary by the replication delay: the
 * everyday pages and lists. Not here: /readyz (it must see the primary),
 * /api/v1/me (sign-in state), file downloads (a file is read right after
 * its upload by other people than the uploader). */
static const char *const replica_routes[] = {
    "/api/v1/students/{student_id}/week",
    "/api/v1/students/{student_id}/marks",
    "/api/v1/classes/{class_id}/journal",
    "/api/v1/me/lessons",
    "/api/v1/classes/{class_id}/timetable",
    "/api/v1/lessons/{lesson_id}",
    "/api/v1/classes/{class_id}/subjects/{subject_id}/term-marks",
    "/api/v1/classes/{class_id}/checkpoints",
    "/api/v1/checkpoints/{checkpoint_id}",
    "/api/v1/regions",
    "/api/v1/schools",
    "/api/v1/schools/{school_id}",
    "/api/v1/schools/{school_id}/terms",
    "/api/v1/schools/{school_id}/holidays",
    "/api/v1/schools/{school_id}/subjects",
    "/api/v1/schools/{school_id}/classes",
    "/api/v1/classes/{class_id}",
    "/api/v1/classes/{class_id}/students",
    "/api/v1/schools/{school_id}/users",
    "/api/v1/schools/{school_id}/assignments",
    "/api/v1/students/{student_id}/history",
    "/api/v1/checkpoints/{checkpoint_id}/works",
    "/api/v1/works/{work_id}",
    "/api/v1/lessons/{lesson_id}/attachments",
};

int dn_cluster_route_replica_ok(const dn_route_t *route)
{
    if (route == NULL || (route->method != DN_GET && route->method != DN_HEAD))
        return 0;
    if (route->flags & DN_ROUTE_REPLICA)
        return 1;
    for (size_t i = 0; i < sizeof(replica_routes) / sizeof(replica_routes[0]); i++)
        if (strcmp(route->pattern, replica_routes[i]) == 0)
            return 1;
    return 0;
}

int dn_cluster_filter_routes(dn_app_t *app)
{
    int services = app->cluster ? app->cluster->services : DN_SERVICE_ALL;
    if (services == DN_SERVICE_ALL)
        return 0;
    dn_router_t *mine = dn_router_new();
    if (mine == NULL)
        return DN_ENOMEM;
    for (int i = 0; i < dn_router_count(app->router); i++) {
        const dn_route_t *r = dn_router_get(app->router, i);
        int s = dn_cluster_route_service(r);
        if ((s == 0 || (s & services)) && dn_router_add(mine, r) < 0) {
            dn_router_free(mine);
            return DN_ENOMEM;
        }
    }
    dn_router_free(app->router);
    app->router = mine;
    return 0;
}

/* ------------------------------------------------------------------ */
/* JWT peek                                                           */

int dn_cluster_jwt_peek(const char *token, int64_t *user_id, int64_t *iat_s)
{
    const char *dot1 = token ? strchr(token, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char buf[2048];
    size_t len = 0;
    int rc = DN_EINVAL;
    *user_id = 0;
    if (iat_s)
        *iat_s = 0;
    if (dot2 == NULL || (size_t)(dot2 - dot1 - 1) > sizeof(buf) * 4 / 3)
        return DN_EINVAL;
    if (sodium_base642bin(buf, sizeof(buf), dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return DN_EINVAL;
    json_t *claims = json_loadb((const char *)buf, len, 0, NULL);
    if (claims == NULL)
        return DN_EINVAL;
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (sub != NULL) {
        char *end = NULL;
        long long uid = strtoll(sub, &end, 10);
        if (*sub && *end == '\0' && uid > 0) {
            *user_id = uid;
            rc = 0;
        }
    }
    if (iat_s)
        *iat_s = json_integer_value(json_object_get(claims, "iat"));
    json_decref(claims);
    return rc;
}

static int64_t caller_id(const dn_req_t *req)
{
    int64_t uid = 0;
    const char *h = req->authorization;
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return dn_cluster_jwt_peek(h, &uid, NULL) == 0 ? uid : 0;
}

/* ------------------------------------------------------------------ */
/* read-your-own-writes                                               */

static size_t lw_slot(int64_t user_id)
{
    uint64_t h = (uint64_t)user_id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 48) & (LW_SLOTS - 1);
}

void dn_cluster_note_write(dn_app_t *app, int64_t user_id)
{
    dn_cluster_t *c = app->cluster;
    if (c == NULL || user_id <= 0 || c->ryw_ms == 0)
        return;
    int64_t now = dn_now_ms();
    _Atomic int64_t *slot = &c->last_write[lw_slot(user_id)];
    int64_t old = atomic_load(slot);
    while (old < now && !atomic_compare_exchange_weak(slot, &old, now))
        ;
    if (c->redis != NULL && c->replica_url[0]) {
        char key[48], ms[24], px[24];
        snprintf(key, sizeof(key), "dn:lw:%" PRId64, user_id);
        snprintf(ms, sizeof(ms), "%" PRId64, now);
        snprintf(px, sizeof(px), "%d", c->ryw_ms);
        const char *argv[] = {"SET", key, ms, "PX", px};
        redisReply *rep = dn_redis_cmd(c->redis, 5, argv);
        if (rep != NULL)
            freeReplyObject(rep);
    }
}

int dn_cluster_recent_writer(dn_app_t *app, int64_t user_id)
{
    dn_cluster_t *c = app->cluster;
    if (c == NULL || user_id <= 0 || c->ryw_ms == 0)
        return 0;
    if (dn_now_ms() - atomic_load(&c->last_write[lw_slot(user_id)]) < c->ryw_ms)
        return 1;
    if (c->redis == NULL)
        return 0;
    char key[48];
    snprintf(key, sizeof(key), "dn:lw:%" PRId64, user_id);
    const char *argv[] = {"EXISTS", key};
    redisReply *rep = dn_redis_cmd(c->redis, 2, argv);
    if (rep == NULL)
        return 1; /* another node may have taken the write: be safe, read the primary */
    int recent = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    freeReplyObject(rep);
    return recent;
}

/* ------------------------------------------------------------------ */
/* revocations                                                        */

static void rev_put(dn_cluster_t *c, int64_t user_id, int64_t at_ms)
{
    uint64_t h = (uint64_t)user_id * 0x9E3779B97F4A7C15ull;
    int64_t now = dn_now_ms();
    size_t best = SIZE_MAX;
    pthread_rwlock_wrlock(&c->rev_lock);
    for (size_t i = 0; i < REV_PROBE; i++) {
        size_t s = (size_t)(h + i) & (REV_SLOTS - 1);
        if (c->rev[s].user_id == user_id) {
            best = s;
            break;
        }
        if (best == SIZE_MAX && (c->rev[s].user_id == 0 || now - c->rev[s].at_ms > REV_KEEP_MS))
            best = s;
    }
    if (best == SIZE_MAX) /* a full window of live revocations: replace the oldest */
        for (size_t i = 0; i < REV_PROBE; i++) {
            size_t s = (size_t)(h + i) & (REV_SLOTS - 1);
            if (best == SIZE_MAX || c->rev[s].at_ms < c->rev[best].at_ms)
                best = s;
        }
    if (c->rev[best].user_id == 0)
        atomic_fetch_add(&c->nrev, 1);
    if (c->rev[best].user_id != user_id || c->rev[best].at_ms < at_ms) {
        c->rev[best].user_id = user_id;
        c->rev[best].at_ms = at_ms;
    }
    pthread_rwlock_unlock(&c->rev_lock);
}

int dn_cluster_token_revoked(dn_app_t *app, int64_t user_id, int64_t iat_s)
{
    dn_cluster_t *c = app->cluster;
    int revoked = 0;
    if (c == NULL || atomic_load(&c->nrev) == 0)
        return 0;
    uint64_t h = (uint64_t)user_id * 0x9E3779B97F4A7C15ull;
    pthread_rwlock_rdlock(&c->rev_lock);
    for (size_t i = 0; i < REV_PROBE; i++) {
        size_t s = (size_t)(h + i) & (REV_SLOTS - 1);
        if (c->rev[s].user_id == user_id) {
            /* iat has whole seconds: a token of the revoking second counts as before it */
            revoked = iat_s * 1000 <= c->rev[s].at_ms;
            break;
        }
    }
    pthread_rwlock_unlock(&c->rev_lock);
    return revoked;
}

void dn_cluster_revoke_user(dn_app_t *app, int64_t user_id)
{
    dn_cluster_t *c = app->cluster;
    if (c == NULL || user_id <= 0)
        return;
    int64_t now = dn_now_ms();
    rev_put(c, user_id, now);
    if (c->redis == NULL)
        return;
    char uid[24], ms[24], payload[48], cutoff[24];
    snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    snprintf(ms, sizeof(ms), "%" PRId64, now);
    snprintf(cutoff, sizeof(cutoff), "%" PRId64, now - REV_KEEP_MS);
    snprintf(payload, sizeof(payload), "%s %s", uid, ms);
    /* the set survives a node's restart or a missed message; the publish is the fast path */
    const char *zadd[] = {"ZADD", "dn:revoked", ms, uid};
    const char *trim[] = {"ZREMRANGEBYSCORE", "dn:revoked", "-inf", cutoff};
    const int argc[] = {4, 4};
    const char *const *argv[] = {zadd, trim};
    redisReply *reps[2];
    if (dn_redis_pipeline(c->redis, 2, argc, argv, reps) == 0) {
        freeReplyObject(reps[0]);
        freeReplyObject(reps[1]);
    }
    if (c->bus != NULL && dn_bus_publish(c->bus, "revoke", payload) != 0)
        dn_log_warn("cluster", "revocation of user %" PRId64 " not published (redis down): other nodes learn it "
                               "at the user's next refresh", user_id);
}

/* Bus handler: one revocation, or (payload NULL) reload the whole set. */
static void on_revoke(void *arg, const char *topic, const char *payload)
{
    dn_cluster_t *c = arg;
    (void)topic;
    if (payload != NULL) {
        long long uid = 0, ms = 0;
        if (sscanf(payload, "%lld %lld", &uid, &ms) == 2 && uid > 0)
            rev_put(c, uid, ms);
        return;
    }
    char cutoff[24];
    snprintf(cutoff, sizeof(cutoff), "%" PRId64, dn_now_ms() - REV_KEEP_MS);
    const char *argv[] = {"ZRANGEBYSCORE", "dn:revoked", cutoff, "+inf", "WITHSCORES"};
    redisReply *rep = dn_redis_cmd(c->redis, 5, argv);
    if (rep == NULL)
        return;
    if (rep->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < rep->elements; i += 2)
            if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i + 1]->type == REDIS_REPLY_STRING)
                rev_put(c, strtoll(rep->element[i]->str, NULL, 10), strtoll(rep->element[i + 1]->str, NULL, 10));
    freeReplyObject(rep);
}

/* ------------------------------------------------------------------ */
/* init                                                               */

int dn_cluster_init(dn_app_t *app, char *err, size_t errlen)
{
    const dn_config_t *cfg = &app->config;
    int services = dn_cluster_parse_services(cfg->services);
    if (services < 0) {
        snprintf(err, errlen, "--services: expected a comma-separated list of auth, diary, works; got '%s'",
                 cfg->services);
        return DN_EINVAL;
    }
    if (cfg->db_replica[0] && (strncmp(cfg->db_replica, "postgres", 8) != 0 || !dn_db_url_valid(cfg->db_replica))) {
        snprintf(err, errlen, "--db-replica: expected a postgresql:// URL");
        return DN_EINVAL;
    }
    if (cfg->db_replica[0] && strncmp(cfg->db_url, "postgres", 8) != 0) {
        snprintf(err, errlen, "--db-replica needs a PostgreSQL --db");
        return DN_EINVAL;
    }
    dn_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return DN_ENOMEM;
    c->services = services;
    c->ryw_ms = cfg->read_your_writes_ms;
    snprintf(c->replica_url, sizeof(c->replica_url), "%s", cfg->db_replica);
    pthread_rwlock_init(&c->rev_lock, NULL);
    if (cfg->redis_url[0]) {
        if ((c->redis = dn_redis_new(cfg->redis_url, REDIS_TIMEOUT_MS, err, errlen)) == NULL)
            goto fail;
        if ((c->bus = dn_bus_new(c->redis, BUS_CHANNEL)) == NULL || dn_bus_on(c->bus, "revoke", on_revoke, c) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    app->cluster = c;
    return 0;
fail:
    dn_bus_free(c->bus);
    dn_redis_free(c->redis);
    pthread_rwlock_destroy(&c->rev_lock);
    free(c);
    return DN_EINVAL;
}

/* Cache invalidation between nodes: a local invalidation is queued for the
 * bus (the caller may be an event loop: never wait on Redis there); a remote
 * one bumps the local generation; after a (re)subscription everything is
 * dropped, since invalidations may have been missed meanwhile. */
static void cache_broadcast(const char *scope, void *arg)
{
    (void)dn_bus_publish_async(arg, "cache", scope);
}

static void on_cache(void *arg, const char *topic, const char *payload)
{
    (void)topic;
    dn_cache_apply_remote(arg, payload != NULL ? payload : "*");
}

int dn_cluster_start(dn_app_t *app)
{
    dn_cluster_t *c = app->cluster;
    if (c == NULL || c->bus == NULL)
        return 0;
    if (app->cache != NULL) {
        int rc = dn_bus_on(c->bus, "cache", on_cache, app->cache);
        if (rc != 0)
            return rc;
        dn_cache_set_broadcaster(app->cache, cache_broadcast, c->bus);
    }
    return dn_bus_start(c->bus);
}

void dn_cluster_free(dn_app_t *app)
{
    dn_cluster_t *c = app->cluster;
    if (c == NULL)
        return;
    if (app->cache != NULL && c->bus != NULL)
        dn_cache_set_broadcaster(app->cache, NULL, NULL);
    dn_bus_free(c->bus);
    dn_redis_free(c->redis);
    pthread_rwlock_destroy(&c->rev_lock);
    free(c);
    app->cluster = NULL;
}

dn_redis_t *dn_cluster_redis(const dn_app_t *app)
{
    return app->cluster ? app->cluster->redis : NULL;
}

dn_bus_t *dn_cluster_bus(const dn_app_t *app)
{
    return app->cluster ? app->cluster->bus : NULL;
}

void dn_cluster_stats(const dn_app_t *app, dn_cluster_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    dn_cluster_t *c = app->cluster;
    if (c == NULL)
        return;
    out->replica_reads = atomic_load(&c->replica_reads);
    out->primary_reads = atomic_load(&c->primary_reads);
    out->read_retries = atomic_load(&c->read_retries);
    out->replica_fallbacks = atomic_load(&c->replica_fallbacks);
    out->reconnects = atomic_load(&c->reconnects);
}

size_t dn_cluster_metrics(const dn_app_t *app, char *buf, size_t cap)
{
    dn_cluster_stats_t s;
    dn_cluster_stats(app, &s);
    dn_redis_t *r = dn_cluster_redis(app);
    int n = snprintf(buf, cap,
                     "# HELP dnevnik_store_reads_total Store requests that only read, by the server that answered.\n"
                     "# TYPE dnevnik_store_reads_total counter\n"
                     "dnevnik_store_reads_total{server=\"replica\"} %llu\n"
                     "dnevnik_store_reads_total{server=\"primary\"} %llu\n"
                     "# HELP dnevnik_store_read_retries_total Reads run again on a fresh primary session.\n"
                     "# TYPE dnevnik_store_read_retries_total counter\n"
                     "dnevnik_store_read_retries_total %llu\n"
                     "# HELP dnevnik_store_replica_failures_total Times a worker found the replica down.\n"
                     "# TYPE dnevnik_store_replica_failures_total counter\n"
                     "dnevnik_store_replica_failures_total %llu\n"
                     "# HELP dnevnik_redis_up 1 when Redis answers (or is not configured: -1), 0 when down.\n"
                     "# TYPE dnevnik_redis_up gauge\n"
                     "dnevnik_redis_up %d\n"
                     "# HELP dnevnik_redis_failures_total Redis calls that failed or timed out.\n"
                     "# TYPE dnevnik_redis_failures_total counter\n"
                     "dnevnik_redis_failures_total %llu\n",
                     (unsigned long long)s.replica_reads, (unsigned long long)s.primary_reads,
                     (unsigned long long)s.read_retries, (unsigned long long)s.replica_fallbacks,
                     r == NULL ? -1 : dn_redis_up(r), r == NULL ? 0ull : (unsigned long long)dn_redis_failures(r));
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ------------------------------------------------------------------ */
/* the request path on a store worker                                 */

static _Thread_local dn_db_t *tl_replica;
static _Thread_local int64_t tl_replica_retry_at; /* monotonic ms */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dn_cluster_thread_fini(void)
{
    dn_db_close(tl_replica);
    tl_replica = NULL;
}

static void replica_failed(dn_cluster_t *c)
{
    dn_cluster_thread_fini();
    tl_replica_retry_at = mono_ms() + REPLICA_RETRY_MS;
    atomic_fetch_add(&c->replica_fallbacks, 1);
}

/* This worker's replica session, or NULL (none configured, or down lately). */
static dn_db_t *replica(dn_cluster_t *c)
{
    char err[256];
    if (!c->replica_url[0] || mono_ms() < tl_replica_retry_at)
        return NULL;
    if (tl_replica == NULL && dn_db_open(c->replica_url, &tl_replica, err, sizeof(err)) != 0) {
        tl_replica = NULL;
        replica_failed(c);
        dn_log_warn("cluster", "replica unavailable, reading from the primary: %s", err);
        return NULL;
    }
    if (dn_db_check(tl_replica) != 0) {
        replica_failed(c);
        return NULL;
    }
    return tl_replica;
}

static void reset_response(dn_req_t *req)
{
    req->status = 0;
    req->res_content_type = NULL;
    req->res_body.base = NULL;
    req->res_body.len = 0;
    req->nres_headers = 0;
    req->auth = NULL;
    req->user_id = 0;
}

void dn_cluster_run(dn_req_t *req, dn_handler_fn fn)
{
    dn_cluster_t *c = req->app->cluster;
    dn_db_t *primary = req->db;
    if (primary == NULL || c == NULL) {
        fn(req);
        return;
    }
    if (dn_db_lost(primary))
        atomic_fetch_add(&c->reconnects, 1);
    (void)dn_db_check(primary); /* a failed reconnect shows as the handler's 503 */
    int read = req->method == DN_GET || req->method == DN_HEAD;
    dn_db_t *rep = NULL;
    if (read && c->replica_url[0] && dn_cluster_route_replica_ok(req->route) &&
        !dn_cluster_recent_writer(req->app, caller_id(req)))
        rep = replica(c);
    req->db = rep ? rep : primary;
    if (read)
        atomic_fetch_add(rep ? &c->replica_reads : &c->primary_reads, 1);
    fn(req);
    if (read && req->status >= 500) {
        /* A read is safe to run again: on a fresh primary session when the
         * session was lost, on the primary when the replica failed (down,
         * or a GET that writes refused by a read-only replica). */
        int again = 0;
        if (rep != NULL) {
            dn_db_release(rep);
            if (dn_db_lost(rep))
                replica_failed(c);
            again = 1;
        } else if (dn_db_lost(primary)) {
            dn_db_release(primary);
            again = dn_db_check(primary) == 0;
        }
        if (again) {
            atomic_fetch_add(&c->read_retries, 1);
            dn_log_info("cluster", "re-running %s on a fresh primary session", req->path);
            reset_response(req);
            req->db = primary;
            fn(req);
        }
    }
    if (req->db != primary) {
        dn_db_release(req->db);
        req->db = primary;
    }
    if (!read && req->status >= 200 && req->status < 400 && req->user_id > 0)
        dn_cluster_note_write(req->app, req->user_id);
}
