/*
 * request.h - the request as an API handler sees it, and the response helpers.
 *
 * The HTTP glue copies what a handler needs out of h2o's request into a
 * dn_req_t whose memory lives in its own pool (req->pool). Handlers run on a
 * worker thread (routes marked inline run on the event loop) and never touch
 * h2o directly, so a handler can block on the store without stalling a loop.
 * Everything a handler allocates for the response comes from req->pool, which
 * is cleared at once when the response has been handed to h2o.
 *
 * A handler must set exactly one response (dn_res_*); if it sets none the
 * glue answers 500.
 */
#ifndef DN_HTTP_REQUEST_H
#define DN_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <h2o/memory.h>

#include "store/db.h"

typedef enum {
    DN_GET = 1 << 0,
    DN_POST = 1 << 1,
    DN_PUT = 1 << 2,
    DN_PATCH = 1 << 3,
    DN_DELETE = 1 << 4,
    DN_HEAD = 1 << 5,
    DN_OPTIONS = 1 << 6,
} dn_method_t;

typedef struct dn_str {
    const char *base; /* not NUL-terminated unless stated */
    size_t len;
} dn_str_t;

#define DN_MAX_PATH_PARAMS 8
#define DN_MAX_RES_HEADERS 12

typedef struct dn_header {
    const char *name; /* lowercase, static or pool memory */
    const char *value;
    size_t value_len;
} dn_header_t;

struct dn_route;
struct dn_app;

typedef struct dn_req {
    h2o_mem_pool_t pool;       /* per-request memory, freed when done */
    const struct dn_route *route;
    dn_method_t method;
    char *path;                /* NUL-terminated, without the query string */
    char *query;               /* NUL-terminated, after '?', "" when none */
    dn_str_t body;             /* request body, base NULL when none */
    char *content_type;        /* NULL when absent */
    char *authorization;       /* NULL when absent */
    char *if_none_match;       /* NULL when absent */
    char *idempotency_key;     /* NULL when absent */
    char *cookie;              /* NULL when absent */
    char *accept_encoding;     /* NULL when absent */
    char *range;               /* Range header (file downloads), NULL when absent */
    char remote_addr[48];      /* textual peer address */
    int nparams;
    struct {
        const char *name;
        char *value; /* NUL-terminated, percent-decoded */
    } params[DN_MAX_PATH_PARAMS];

    dn_db_t *db;               /* the worker's store connection (NULL inline) */
    struct dn_app *app;        /* process-wide state: config, caches, keys */
    void *auth;                /* set by the auth layer for handlers */
    int64_t user_id;           /* the authenticated caller, 0 when anonymous (access log) */

    /* response, filled by dn_res_* */
    int status;
    const char *res_content_type;
    dn_str_t res_body;
    int nres_headers;
    dn_header_t res_headers[DN_MAX_RES_HEADERS];
} dn_req_t;

/** Path parameter by name ({id} in the route pattern), NULL when absent. */
const char *dn_req_param(const dn_req_t *req, const char *name);
/**
 * Query-string parameter, percent-decoded into pool memory; NULL when absent.
 * "a=1&b" gives "1" for a and "" for b.
 */
const char *dn_req_query(dn_req_t *req, const char *name);
/**
 * Parse the body as a JSON object. On failure answers 400 problem+json
 * (invalid JSON or not an object) and returns NULL. The caller owns the
 * returned reference (json_decref).
 */
json_t *dn_req_json_body(dn_req_t *req);
/** Copy into pool memory. */
char *dn_req_strdup(dn_req_t *req, const char *s, size_t len);

/** Add a response header (name lowercase, both copied into the pool). */
void dn_res_header(dn_req_t *req, const char *name, const char *value);
/** Respond with a body already in pool or static memory (not copied). */
void dn_res_body(dn_req_t *req, int status, const char *content_type, const char *body, size_t len);
/** Respond with JSON. Steals the reference to body (may be NULL for 204). */
void dn_res_json(dn_req_t *req, int status, json_t *body);
/**
 * Respond with application/problem+json (RFC 9457). detail may be NULL.
 * title defaults to the reason phrase of status when NULL.
 */
void dn_res_problem(dn_req_t *req, int status, const char *title, const char *detail);
/**
 * 422 (or status) problem with field errors: errors is a JSON array of
 * {"field": ..., "message": ...}; stolen.
 */
void dn_res_problem_fields(dn_req_t *req, int status, const char *detail, json_t *errors);
/** Problem response for a DN_E* code, with detail. */
void dn_res_error(dn_req_t *req, int err, const char *detail);

/** Reason phrase of an HTTP status ("Not Found"). */
const char *dn_http_reason(int status);

#endif
