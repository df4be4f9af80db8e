/*
 * app.h - process-wide state shared by every thread of a running server.
 *
 * Built once by main.c before the loops start and read-only afterwards,
 * except for the atomics. Modules that need process state (auth keys,
 * caches, rate limiters) hang it here through their own opaque pointers, so
 * no module reaches into another's internals.
 */
#ifndef DN_APP_H
#define DN_APP_H

#include <stdatomic.h>

#include "core/config.h"
#include "http/router.h"

typedef struct dn_app {
    dn_config_t config;
    dn_router_t *router;
    int threads;               /* event loops actually started */
    int workers;               /* store workers actually started */
    atomic_int draining;       /* set on SIGTERM: /readyz answers 503 */
    atomic_int store_ready;    /* last /readyz store check result */
    int test_endpoints;        /* DNEVNIK_TEST_ENDPOINTS=1: debug routes */
    struct dn_auth *auth;      /* src/auth: keys, hashing pool, limiters */
    struct dn_cache *cache;    /* hot-read cache */
    struct dn_cluster *cluster; /* src/cluster: replicas, roles, Redis-shared state */
    void (*on_sighup)(struct dn_app *app); /* main thread, on SIGHUP (re-read keys); NULL = ignore */
} dn_app_t;

#endif
