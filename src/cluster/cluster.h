/*
 * cluster.h - what one app node needs to run among many: store connection
 * health and replica reads, service roles, and state shared through Redis.
 *
 * - Store: before every store request the node checks its primary session
 *   and reconnects it if the server ended it (restart, failover); a read
 *   (GET/HEAD) that fails on a lost session or on the replica is run once
 *   more on a fresh primary session; a write is never re-run (the client
 *   retries it with its Idempotency-Key).
 * - Replicas (--db-replica): GET routes that tolerate staleness read from a
 *   replica, except for a user who wrote within --read-your-writes ms (their
 *   reads go to the primary); a replica that is down is skipped for a second.
 * - Roles (--services): a node registers only its roles' routes.
 * - Redis (--redis): rate-limit counters, revoked users, the invalidation bus
 *   and the last-write time of users, shared by all nodes; without Redis
 *   each falls back to node-local state (docs/cluster.md says what degrades).
 */
#ifndef DN_CLUSTER_CLUSTER_H
#define DN_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "cluster/bus.h"
#include "cluster/redis.h"
#include "http/request.h"
#include "http/router.h"

typedef struct dn_cluster dn_cluster_t;

/** Service roles of --services. */
enum { DN_SERVICE_AUTH = 1, DN_SERVICE_DIARY = 2, DN_SERVICE_WORKS = 4, DN_SERVICE_ALL = 7 };

/** Parse "auth,diary,works" into DN_SERVICE_* bits; negative on an unknown or empty list. */
int dn_cluster_parse_services(const char *list);
/** The role a route belongs to (0 = always on: health, readiness, metrics, ping, debug). */
int dn_cluster_route_service(const dn_route_t *route);
/** True when a GET route may read from a replica (route flag or the built-in list). */
int dn_cluster_route_replica_ok(const dn_route_t *route);

/**
 * Build app->cluster from the configuration (replica URL, Redis, roles) and
 * start the bus subscriber when Redis is configured. Call before
 * dn_auth_init (the limiters are shared through it). 0 or negative with err.
 */
int dn_cluster_init(dn_app_t *app, char *err, size_t errlen);
/** Start the bus subscriber (after every dn_bus_on registration). 0 or negative code. */
int dn_cluster_start(dn_app_t *app);
/** Keep only the routes of this node's roles in app->router (call after dn_api_register). */
int dn_cluster_filter_routes(dn_app_t *app);
void dn_cluster_free(dn_app_t *app);

/** Redis client of the node, or NULL without --redis. */
dn_redis_t *dn_cluster_redis(const dn_app_t *app);
/** The invalidation bus, or NULL without --redis (register handlers before serving). */
dn_bus_t *dn_cluster_bus(const dn_app_t *app);

/**
 * Run a handler on a store worker (the HTTP glue calls this with req->db set
 * to the worker's primary connection, or NULL on other pools): checks the
 * session, picks the replica when allowed, re-runs a failed read once, and
 * records the writer for read-your-own-writes. req->db is the primary again
 * when it returns.
 */
void dn_cluster_run(dn_req_t *req, dn_handler_fn fn);
/** Close this thread's replica connection (store worker exit). */
void dn_cluster_thread_fini(void);

/** Record that user_id wrote now (locally, and in Redis when configured). */
void dn_cluster_note_write(dn_app_t *app, int64_t user_id);
/** 1 when user_id wrote within --read-your-writes ms (or when that cannot be known: Redis down). */
int dn_cluster_recent_writer(dn_app_t *app, int64_t user_id);

/**
 * Revoke every access token of user_id issued up to now (a block), on this
 * node at once and, through Redis, on every node. Without Redis other nodes
 * learn it only when the user's refresh fails (the DB check) - within the
 * access-token lifetime.
 */
void dn_cluster_revoke_user(dn_app_t *app, int64_t user_id);
/** 1 when a token of user_id issued at iat_s (seconds) is revoked. */
int dn_cluster_token_revoked(dn_app_t *app, int64_t user_id, int64_t iat_s);
/** Read sub and iat from a JWT's payload without verifying it (routing, and iat after verification). 0 or DN_EINVAL. */
int dn_cluster_jwt_peek(const char *token, int64_t *user_id, int64_t *iat_s);

/** Statistics for tests and /metrics. */
typedef struct dn_cluster_stats {
    uint64_t replica_reads, primary_reads, read_retries, replica_fallbacks, reconnects;
} dn_cluster_stats_t;
void dn_cluster_stats(const dn_app_t *app, dn_cluster_stats_t *out);
/** Prometheus text of those counters and of Redis (up, failures) into buf; its length (0 when it does not fit). */
size_t dn_cluster_metrics(const dn_app_t *app, char *buf, size_t cap);

#endif
