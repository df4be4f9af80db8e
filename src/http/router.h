/*
 * router.h - method + path routing with path parameters.
 *
 * Patterns are literal segments and {name} parameters:
 * "/api/v1/classes/{class_id}/students". Matching is exact per segment (no
 * prefix matches); trailing slashes are not significant. A path that exists
 * with another method gives 405 with an Allow header; no match gives 404.
 * Routes are registered at start-up only; lookups are lock-free and
 * read-only afterwards, so every loop thread shares one router.
 */
#ifndef DN_HTTP_ROUTER_H
#define DN_HTTP_ROUTER_H

#include <stddef.h>
#include "http/request.h"

typedef void (*dn_handler_fn)(dn_req_t *req);

/** Where a handler runs. */
typedef enum {
    DN_RUN_WORKER = 0, /* on a store worker thread, req->db set (default) */
    DN_RUN_INLINE = 1, /* on the event loop: must not block (no store, no CPU-heavy work) */
    /* A bounded read of an everyday page (one student's week, one class's
     * journal): on the embedded store with --loop-reads it runs on the event
     * loop with the loop's own read-only SQLite connection, saving the two
     * thread switches of a worker hop; otherwise exactly like DN_RUN_WORKER.
     * The handler must not write (the connection is query_only). */
    DN_RUN_READ = 2,
} dn_run_t;

typedef struct dn_route {
    dn_method_t method;
    const char *pattern;
    dn_handler_fn handler;
    dn_run_t run;
    size_t max_body;   /* bytes; 0 = the server default (--max-body) */
    const char *name;  /* metrics label; defaults to the pattern */
    int id;            /* index into the route table, set by the router */
    int max_inflight;  /* requests of this route held at once (each holds its body); beyond: 503 + Retry-After
                          before the body is copied; 0 = no limit */
    unsigned flags;    /* DN_ROUTE_* */
} dn_route_t;

/** Route flags. */
enum {
    DN_ROUTE_REPLICA = 1u << 0, /* a GET whose answer may lag the primary: may read from a replica (src/cluster) */
};

typedef struct dn_router dn_router_t;

dn_router_t *dn_router_new(void);
void dn_router_free(dn_router_t *r);
/** Register a route (copied). Returns its id, or a negative code. */
int dn_router_add(dn_router_t *r, const dn_route_t *route);
/** Number of routes, for metrics. */
int dn_router_count(const dn_router_t *r);
const dn_route_t *dn_router_get(const dn_router_t *r, int id);

typedef enum { DN_ROUTE_FOUND, DN_ROUTE_NOT_FOUND, DN_ROUTE_BAD_METHOD } dn_route_result_t;

/**
 * Find the route for method and path (path without query string, length
 * len). On FOUND, fills req->route and req->params (values decoded into
 * req->pool). On BAD_METHOD, *allowed gets the methods the path accepts.
 */
dn_route_result_t dn_router_match(const dn_router_t *r, dn_method_t method, const char *path, size_t len, dn_req_t *req,
                                  unsigned *allowed);

/** Comma-separated method list ("GET, POST") for an Allow header; static buffer per call site must be given. */
size_t dn_methods_format(unsigned methods, char *buf, size_t cap);
const char *dn_method_name(dn_method_t m);

#endif
