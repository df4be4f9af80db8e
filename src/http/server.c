/*
 * server.c - h2o glue: loops, listeners, the request path, graceful shutdown.
 *
 * Path of a request: h2o parses it on a loop thread and calls on_req(), which
 * copies what handlers need into a dn_job_t with its own memory pool, routes
 * it (404/405/413 answered right there), then either runs the handler inline
 * or queues the job to a worker pool. The worker runs the handler and posts
 * the job back to the owning loop's receiver; the loop turns the dn_req_t
 * response into an h2o response, records metrics and the access log, and
 * frees the job. If the client vanished meanwhile, h2o disposes the request
 * and a pool-shared slot tells us not to touch it.
 *
 * Signals are blocked in every thread; the main thread sigwait()s and drives
 * shutdown by posting control messages to each loop.
 */
#include "http/server.h"
#include "core/date.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1.h>

#include "cache/cache.h"
#include "cluster/cluster.h"
#include "core/error.h"
#include "http/idempotency.h"
#include "obs/log.h"
#include "obs/metrics.h"

typedef struct loop_thread loop_thread_t;
typedef struct dn_server dn_server_t;

/*
 * Open connections per client address (--max-connections-per-address): one
 * node per address with at least one open connection, so the table never
 * holds more nodes than open connections (bounded by --max-connections).
 */
#define ADDR_BUCKETS 4096

typedef struct addr_conn {
    struct addr_conn *next;
    dn_server_t *server;
    unsigned char addr[16];
    socklen_t len;
    int count;
} addr_conn_t;

typedef enum { CONTROL_STOP_ACCEPTING, CONTROL_EXIT } control_cmd_t;

typedef struct {
    h2o_multithread_message_t super;
    control_cmd_t cmd;
} control_msg_t;

struct loop_thread {
    int index;
    pthread_t tid;
    dn_server_t *server;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int listen_fd;
    h2o_socket_t *listener;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t done_receiver;
    h2o_multithread_receiver_t control_receiver;
    control_msg_t stop_msg, exit_msg;
    int exit_flag;
    dn_db_t *read_db; /* this loop's query_only SQLite connection for DN_RUN_READ routes; NULL = use workers */
};

struct dn_server {
    dn_app_t *app;
    h2o_globalconf_t globalconf;
    loop_thread_t *loops;
    int nloops;
    dn_workq_t **pools;
    atomic_int inflight;
    atomic_int connections;
    atomic_int *route_inflight; /* per route id, for routes with max_inflight */
    pthread_mutex_t addr_lock;  /* guards addr_buckets; taken once per accept and per close */
    struct addr_conn *addr_buckets[ADDR_BUCKETS];
    pthread_mutex_t ready_lock;  /* loops report here once set up */
    pthread_cond_t ready_cond;
    int nready;
};

typedef struct dn_job {
    dn_work_t work;
    h2o_multithread_message_t msg;
    loop_thread_t *owner;
    h2o_req_t *h2o_req;  /* NULL once h2o disposed the request */
    struct dn_job **slot; /* lives in h2o_req->pool, points back here */
    dn_handler_fn next;
    dn_pool_id_t next_pool;
    uint64_t start_ns;
    int64_t start_ms;
    int route_counted; /* counted in server->route_inflight */
    int stages;        /* handler stages run so far (dn_req_then adds more) */
    dn_req_t req;
} dn_job_t;

/* ------------------------------------------------------------------ */
/* responses                                                          */

static void job_free(dn_job_t *job)
{
    if (job->slot != NULL)
        *job->slot = NULL;
    h2o_mem_clear_pool(&job->req.pool);
    free(job);
}

static int has_res_header(const dn_req_t *r, const char *name)
{
    for (int i = 0; i < r->nres_headers; i++)
        if (strcmp(r->res_headers[i].name, name) == 0)
            return 1;
    return 0;
}

/*
 * Headers every response carries, whoever produced it (handlers, static
 * files, 304s, the router's 404/405, h2o's own early errors): no sniffing,
 * no framing, no referrer, and unless the response brings its own (the UI
 * page), a CSP that lets the response load and run nothing. HSTS only when
 * configured: clients reach us over TLS only through the balancer.
 */
static void add_security_headers(h2o_req_t *hreq, const dn_app_t *app, int has_csp, int has_xfo, int has_referrer)
{
    h2o_mem_pool_t *pool = &hreq->pool;
    h2o_headers_t *hs = &hreq->res.headers;
    h2o_add_header_by_str(pool, hs, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    if (!has_csp)
        h2o_add_header_by_str(pool, hs, H2O_STRLIT("content-security-policy"), 0, NULL,
                              H2O_STRLIT("default-src 'none'; frame-ancestors 'none'"));
    if (!has_xfo)
        h2o_add_header_by_str(pool, hs, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    if (!has_referrer)
        h2o_add_header_by_str(pool, hs, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
    if (app->config.hsts_max_age > 0) {
        char v[64];
        int n = snprintf(v, sizeof(v), "max-age=%d; includeSubDomains", app->config.hsts_max_age);
        h2o_iovec_t value = h2o_strdup(pool, v, (size_t)n);
        h2o_add_header_by_str(pool, hs, H2O_STRLIT("strict-transport-security"), 0, NULL, value.base, value.len);
    }
}

/* Hand the job's response to h2o (loop thread only), then free the job. */
static void finish_job(dn_job_t *job)
{
    dn_req_t *r = &job->req;
    h2o_req_t *hreq = job->h2o_req;
    dn_server_t *server = job->owner->server;

    if (r->status == 0)
        dn_res_problem(r, 500, NULL, "the handler produced no response");
    /* before the answer leaves: the writer's next read must not see a stale cache entry
     * (a 4xx changed nothing; a 5xx may have committed part of its work) */
    if (r->route != NULL && (r->method & (DN_GET | DN_HEAD | DN_OPTIONS)) == 0 && (r->status < 400 || r->status >= 500))
        dn_cache_after_write(server->app->cache, r->route->pattern);

    if (hreq != NULL) {
        hreq->res.status = r->status;
        hreq->res.reason = dn_http_reason(r->status);
        if (r->res_content_type != NULL)
            h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, r->res_content_type,
                           strlen(r->res_content_type));
        for (int i = 0; i < r->nres_headers; i++) {
            const dn_header_t *h = &r->res_headers[i];
            h2o_iovec_t name = h2o_strdup(&hreq->pool, h->name, strlen(h->name));
            h2o_iovec_t value = h2o_strdup(&hreq->pool, h->value, h->value_len);
            h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, name.base, name.len, 1, NULL, value.base,
                                  value.len);
        }
        /* Personal data by default must not be cached by anyone on the way. */
        if (!has_res_header(r, "cache-control"))
            h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        add_security_headers(hreq, server->app, has_res_header(r, "content-security-policy"),
                             has_res_header(r, "x-frame-options"), has_res_header(r, "referrer-policy"));
        if (server->app->draining)
            hreq->http1_is_persistent = 0; /* let clients reconnect elsewhere */
        hreq->res.content_length = r->res_body.len;
        h2o_send_inline(hreq, r->res_body.base, r->res_body.len);
    }

    uint64_t elapsed = dn_now_mono_ns() - job->start_ns;
    const char *method = dn_method_name(r->method);
    dn_metrics_request_done(r->route ? r->route->id : -1, method, r->status, elapsed);
    dn_access_entry_t entry = {
        .ts_ms = job->start_ms,
        .duration_us = elapsed / 1000,
        .status = r->status,
        .bytes_sent = r->res_body.len,
        .method = method,
        .path = r->path,
        .route = r->route ? r->route->name : "unmatched",
        .remote = r->remote_addr,
        .user_id = r->user_id,
    };
    dn_log_access(&entry);
    dn_metrics_inflight_add(-1);
    atomic_fetch_sub(&server->inflight, 1);
    if (job->route_counted)
        atomic_fetch_sub(&server->route_inflight[r->route->id], 1);
    job_free(job);
}

/* ------------------------------------------------------------------ */
/* dispatch                                                           */

static void run_on_worker(dn_work_t *work, void *thread_state);

static void schedule(dn_job_t *job, dn_pool_id_t pool)
{
    job->req.db = NULL;
    job->work.run = run_on_worker;
    job->next_pool = pool;
    dn_workq_push(job->owner->server->pools[pool], &job->work);
}

static void run_on_worker(dn_work_t *work, void *thread_state)
{
    dn_job_t *job = (dn_job_t *)((char *)work - offsetof(dn_job_t, work));
    dn_handler_fn fn = job->next;
    job->next = NULL;
    job->req.db = job->next_pool == DN_POOL_STORE ? thread_state : NULL;
    /* Idempotency-Key: the first store stage of a keyed write runs inside an
     * outer transaction that also records its answer (idempotency.h). */
    dn_idem_t idem = {0};
    int answered = 0;
    (void)dn_db_check(job->req.db); /* reconnect a session the server ended while idle (restart, failover) */
    if (job->stages++ == 0 && job->req.idempotency_key != NULL && job->req.db != NULL)
        answered = dn_idem_begin(&job->req, &idem);
    if (!answered)
        dn_cluster_run(&job->req, fn); /* replica choice, one re-run of a failed read (cluster.h) */
    if (idem.active)
        dn_idem_end(&job->req, &idem, job->next != NULL && job->req.status == 0);
    dn_db_release(job->req.db);
    job->req.db = NULL;
    if (job->next != NULL && job->req.status == 0) {
        schedule(job, job->next_pool);
        return;
    }
    h2o_multithread_send_message(&job->owner->done_receiver, &job->msg);
}

void dn_req_then(dn_req_t *req, dn_pool_id_t pool, dn_handler_fn next)
{
    dn_job_t *job = (dn_job_t *)((char *)req - offsetof(dn_job_t, req));
    job->next = next;
    job->next_pool = pool;
}

static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        finish_job(H2O_STRUCT_FROM_MEMBER(dn_job_t, msg, msg));
    }
}

/* h2o disposes the request's pool when the request is over or the client left. */
static void on_h2o_req_dispose(void *p)
{
    dn_job_t **slot = p;
    if (*slot != NULL) {
        (*slot)->h2o_req = NULL;
        (*slot)->slot = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* the request path                                                   */

static dn_method_t parse_method(h2o_iovec_t m)
{
    static const struct {
        const char *name;
        dn_method_t method;
    } methods[] = {{"GET", DN_GET},       {"POST", DN_POST}, {"PUT", DN_PUT},         {"PATCH", DN_PATCH},
                   {"DELETE", DN_DELETE}, {"HEAD", DN_HEAD}, {"OPTIONS", DN_OPTIONS}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (h2o_memis(m.base, m.len, methods[i].name, strlen(methods[i].name)))
            return methods[i].method;
    return 0;
}

static char *copy_header(dn_req_t *r, h2o_req_t *hreq, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&hreq->headers, token, -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = hreq->headers.entries[i].value;
    return dn_req_strdup(r, v.base, v.len);
}

static char *copy_header_by_name(dn_req_t *r, h2o_req_t *hreq, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&hreq->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = hreq->headers.entries[i].value;
    return dn_req_strdup(r, v.base, v.len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    (void)self;
    loop_thread_t *thread = H2O_STRUCT_FROM_MEMBER(loop_thread_t, ctx, hreq->conn->ctx);
    dn_server_t *server = thread->server;
    dn_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -1;
    dn_req_t *r = &job->req;
    job->owner = thread;
    job->h2o_req = hreq;
    job->start_ns = dn_now_mono_ns();
    job->start_ms = dn_now_ms();
    h2o_mem_init_pool(&r->pool);
    r->app = server->app;
    atomic_fetch_add(&server->inflight, 1);
    dn_metrics_inflight_add(1);

    size_t path_len = hreq->query_at != SIZE_MAX ? hreq->query_at : hreq->path.len;
    r->path = dn_req_strdup(r, hreq->path.base, path_len);
    r->query = hreq->query_at != SIZE_MAX
                   ? dn_req_strdup(r, hreq->path.base + hreq->query_at + 1, hreq->path.len - hreq->query_at - 1)
                   : "";
    r->method = parse_method(hreq->method);
    struct sockaddr_storage ss;
    socklen_t sslen = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
    if (sslen == 0 || h2o_socket_getnumerichost((struct sockaddr *)&ss, sslen, r->remote_addr) == SIZE_MAX)
        strcpy(r->remote_addr, "unknown");

    unsigned allowed = 0;
    dn_route_result_t match = r->method == 0 ? DN_ROUTE_NOT_FOUND
                                             : dn_router_match(server->app->router, r->method, r->path, path_len, r,
                                                               &allowed);
    if (r->method == 0) {
        dn_res_problem(r, 405, NULL, "unsupported HTTP method");
        dn_res_header(r, "allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
        goto respond_now;
    }
    if (match == DN_ROUTE_NOT_FOUND) {
        dn_res_problem(r, 404, NULL, "no such resource");
        goto respond_now;
    }
    if (match == DN_ROUTE_BAD_METHOD) {
        char allow[128];
        dn_methods_format(allowed, allow, sizeof(allow));
        dn_res_problem(r, 405, NULL, "this resource does not support the method");
        dn_res_header(r, "allow", allow);
        goto respond_now;
    }
    size_t max_body = r->route->max_body ? r->route->max_body : server->app->config.max_body;
    if (hreq->entity.base != NULL) {
        if (hreq->entity.len > max_body) {
            char detail[96];
            snprintf(detail, sizeof(detail), "the request body exceeds %zu bytes", max_body);
            dn_res_problem(r, 413, NULL, detail);
            hreq->http1_is_persistent = 0; /* do not read what is left */
            goto respond_now;
        }
        if (r->route->max_inflight > 0) {
            /* large bodies (uploads): refuse before copying, so at most max_inflight copies are held */
            if (atomic_fetch_add(&server->route_inflight[r->route->id], 1) >= r->route->max_inflight) {
                atomic_fetch_sub(&server->route_inflight[r->route->id], 1);
                dn_res_problem(r, 503, NULL, "too many of these requests in progress; retry shortly");
                dn_res_header(r, "retry-after", "1");
                goto respond_now;
            }
            job->route_counted = 1;
        }
        r->body.base = dn_req_strdup(r, hreq->entity.base, hreq->entity.len);
        r->body.len = hreq->entity.len;
    }
    r->content_type = copy_header(r, hreq, H2O_TOKEN_CONTENT_TYPE);
    r->authorization = copy_header(r, hreq, H2O_TOKEN_AUTHORIZATION);
    r->if_none_match = copy_header(r, hreq, H2O_TOKEN_IF_NONE_MATCH);
    r->cookie = copy_header(r, hreq, H2O_TOKEN_COOKIE);
    r->accept_encoding = copy_header(r, hreq, H2O_TOKEN_ACCEPT_ENCODING);
    r->range = copy_header(r, hreq, H2O_TOKEN_RANGE);
    r->idempotency_key = copy_header_by_name(r, hreq, "idempotency-key");

    if (r->route->run == DN_RUN_INLINE || (r->route->run == DN_RUN_READ && thread->read_db != NULL)) {
        r->db = r->route->run == DN_RUN_READ ? thread->read_db : NULL;
        r->route->handler(r);
        dn_db_release(r->db);
        r->db = NULL;
        if (r->status != 0 || job->next == NULL)
            goto respond_now;
        schedule(job, job->next_pool); /* an inline handler may hand off, e.g. to the CPU pool */
    } else {
        job->next = r->route->handler;
        schedule(job, DN_POOL_STORE);
    }
    job->slot = h2o_mem_alloc_shared(&hreq->pool, sizeof(dn_job_t *), on_h2o_req_dispose);
    *job->slot = job;
    return 0;

respond_now:
    finish_job(job);
    return 0;
}

/* ------------------------------------------------------------------ */
/* errors h2o answers itself                                          */
/*
 * h2o rejects some requests before any handler runs (Content-Length over
 * the limit: 413; broken chunked encoding: 400; unknown Expect: 417) with a
 * text/plain body. Those responses use the host's fallback path, so a filter
 * there rewrites them into problem+json: every error a client sees has the
 * same shape.
 */

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
    int sent;
} problem_ostream_t;

static void problem_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    problem_ostream_t *ostr = (problem_ostream_t *)self;
    (void)bufs;
    (void)bufcnt;
    if (ostr->sent || !h2o_send_state_is_in_progress(state)) {
        /* the original text body is dropped; ours goes out once, with the final state */
        h2o_iovec_t body = ostr->sent ? h2o_iovec_init(NULL, 0) : ostr->body;
        ostr->sent = 1;
        h2o_ostream_send_next(self, req, &body, body.len ? 1 : 0, state);
        return;
    }
    h2o_ostream_send_next(self, req, NULL, 0, state);
}

static void problem_on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status >= 400) {
        char detail[128];
        if (req->res.status == 413)
            snprintf(detail, sizeof(detail), "the request body exceeds %zu bytes",
                     req->conn->ctx->globalconf->max_request_entity_size);
        else
            snprintf(detail, sizeof(detail), "%s", req->res.reason);
        json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", dn_http_reason(req->res.status),
                              "status", req->res.status, "detail", detail);
        size_t len = json_dumpb(p, NULL, 0, JSON_COMPACT);
        char *buf = h2o_mem_alloc_pool(&req->pool, len);
        json_dumpb(p, buf, len, JSON_COMPACT);
        json_decref(p);
        memset(&req->res.headers, 0, sizeof(req->res.headers));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/problem+json; charset=utf-8"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        loop_thread_t *thread = H2O_STRUCT_FROM_MEMBER(loop_thread_t, ctx, req->conn->ctx);
        add_security_headers(req, thread->server->app, 0, 0, 0);
        req->res.content_length = len;
        problem_ostream_t *ostr = (problem_ostream_t *)h2o_add_ostream(req, sizeof(*ostr), slot);
        ostr->super.do_send = problem_do_send;
        ostr->body = h2o_iovec_init(buf, len);
        ostr->sent = 0;
        slot = &ostr->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

/* ------------------------------------------------------------------ */
/* connections and loops                                              */

static void on_connection_close(void *data)
{
    dn_server_t *server = data;
    atomic_fetch_sub(&server->connections, 1);
    dn_metrics_connections_add(-1);
}

/* The address bytes of a peer (4 for IPv4, 16 for IPv6); 0 when unknown. */
static socklen_t peer_key(h2o_socket_t *sock, unsigned char key[16])
{
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (len != 0 && ss.ss_family == AF_INET) {
        memcpy(key, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        return 4;
    }
    if (len != 0 && ss.ss_family == AF_INET6) {
        memcpy(key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

static size_t addr_bucket(const unsigned char *key, socklen_t len)
{
    uint32_t h = 2166136261u;
    for (socklen_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h % ADDR_BUCKETS;
}

/* Count one more connection from key; NULL when the address is at its limit (or out of memory). */
static addr_conn_t *addr_acquire(dn_server_t *server, const unsigned char *key, socklen_t len)
{
    addr_conn_t **head = &server->addr_buckets[addr_bucket(key, len)], *n;
    pthread_mutex_lock(&server->addr_lock);
    for (n = *head; n != NULL; n = n->next)
        if (n->len == len && memcmp(n->addr, key, len) == 0)
            break;
    if (n == NULL && (n = calloc(1, sizeof(*n))) != NULL) {
        n->server = server;
        memcpy(n->addr, key, len);
        n->len = len;
        n->next = *head;
        *head = n;
    }
    if (n != NULL && n->count >= server->app->config.max_conns_per_addr)
        n = NULL; /* a node at its limit has count >= 1, so it is never left empty here */
    else if (n != NULL)
        n->count++;
    pthread_mutex_unlock(&server->addr_lock);
    return n;
}

static void on_addr_connection_close(void *data)
{
    addr_conn_t *n = data;
    dn_server_t *server = n->server;
    pthread_mutex_lock(&server->addr_lock);
    if (--n->count == 0) {
        addr_conn_t **pp = &server->addr_buckets[addr_bucket(n->addr, n->len)];
        while (*pp != n)
            pp = &(*pp)->next;
        *pp = n->next;
        free(n);
    }
    pthread_mutex_unlock(&server->addr_lock);
    on_connection_close(server);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    loop_thread_t *thread = listener->data;
    dn_server_t *server = thread->server;
    if (err != NULL)
        return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        if (atomic_fetch_add(&server->connections, 1) >= server->app->config.max_connections) {
            atomic_fetch_sub(&server->connections, 1);
            h2o_socket_close(sock); /* over the limit: shed load rather than queue it */
            dn_metrics_connection_rejected("max_connections");
            continue;
        }
        dn_metrics_connections_add(1);
        sock->on_close.cb = on_connection_close;
        sock->on_close.data = server;
        if (server->app->config.max_conns_per_addr > 0) {
            /* One client (or a botnet node) must not hold every slot: close at once, no response. */
            unsigned char key[16];
            socklen_t len = peer_key(sock, key);
            addr_conn_t *n = len ? addr_acquire(server, key, len) : NULL;
            if (len != 0 && n == NULL) {
                h2o_socket_close(sock); /* runs on_connection_close */
                dn_metrics_connection_rejected("per_address");
                continue;
            }
            if (n != NULL) {
                sock->on_close.cb = on_addr_connection_close;
                sock->on_close.data = n;
            }
        }
        h2o_accept(&thread->accept_ctx, sock);
    }
}

static void close_listener(loop_thread_t *thread)
{
    if (thread->listener != NULL) {
        h2o_socket_read_stop(thread->listener);
        h2o_socket_close(thread->listener); /* closes listen_fd too */
        thread->listener = NULL;
    }
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    loop_thread_t *thread = H2O_STRUCT_FROM_MEMBER(loop_thread_t, control_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        control_msg_t *control = (control_msg_t *)msg;
        if (control->cmd == CONTROL_STOP_ACCEPTING) {
            close_listener(thread);
            h2o_context_request_shutdown(&thread->ctx);
        } else {
            thread->exit_flag = 1;
        }
    }
}

/*
 * Loop reads (--loop-reads, DN_RUN_READ): on the embedded store an everyday
 * page is a handful of index lookups in the page cache, cheaper than the two
 * thread switches of a hop to a store worker and back (13 % of the mix's CPU
 * in the profile of BENCHMARKS.md). Each loop then owns a connection of its
 * own, made query_only so a handler that tried to write would fail loudly
 * instead of fsyncing on the loop. Not with PostgreSQL (a network round trip
 * would stall the loop) nor with Redis (the rate limiter talks to it).
 */
static void open_read_db(loop_thread_t *t)
{
    const dn_config_t *cfg = &t->server->app->config;
    char err[256] = "";
    if (!cfg->loop_reads || cfg->redis_url[0] != '\0' || strncmp(cfg->db_url, "postgres", 8) == 0)
        return;
    if (dn_db_open(cfg->db_url, &t->read_db, err, sizeof(err)) != 0 || dn_db_backend(t->read_db) != DN_DB_SQLITE ||
        dn_db_exec(t->read_db, "PRAGMA query_only=1") != 0) {
        dn_log_warn("http", "loop %d: no read connection (%s); everyday pages use the store workers", t->index,
                    err[0] ? err : dn_db_errmsg(t->read_db));
        dn_db_close(t->read_db);
        t->read_db = NULL;
    }
}

/*
 * Everything of a loop is created on its own thread: h2o keeps per-thread
 * caches (socket buffer prototypes, memory recycle lists) and a socket
 * remembers the cache of the thread that created it. Sockets made on the main
 * thread would make every loop allocate from the main thread's cache at once
 * (that corrupted it under load).
 */
static void setup_loop(loop_thread_t *t)
{
    dn_server_t *server = t->server;
    t->loop = h2o_evloop_create();
    h2o_context_init(&t->ctx, t->loop, &server->globalconf);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = server->globalconf.hosts;
    t->queue = h2o_multithread_create_queue(t->loop);
    h2o_multithread_register_receiver(t->queue, &t->done_receiver, on_jobs_done);
    h2o_multithread_register_receiver(t->queue, &t->control_receiver, on_control);
    t->listener = h2o_evloop_socket_create(t->loop, t->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    open_read_db(t);
    t->stop_msg.cmd = CONTROL_STOP_ACCEPTING;
    t->exit_msg.cmd = CONTROL_EXIT;
}

static void *loop_main(void *p)
{
    loop_thread_t *thread = p;
    dn_server_t *server = thread->server;
    setup_loop(thread);
    pthread_mutex_lock(&server->ready_lock);
    server->nready++;
    pthread_cond_signal(&server->ready_cond);
    pthread_mutex_unlock(&server->ready_lock);
    while (!thread->exit_flag)
        h2o_evloop_run(thread->loop, 1000); /* returns -1 on EINTR too: our flag decides */
    close_listener(thread);
    dn_db_close(thread->read_db);
    thread->read_db = NULL;
    return NULL;
}

static int open_listener(const char *host, int port, int *out_fd, int *out_port, char *err, size_t errlen)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = -1, one = 1;
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "--listen: '%s' is not an IPv4 address", host);
        return DN_EINVAL;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1024) != 0)
        goto fail;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        goto fail;
    *out_fd = fd;
    *out_port = ntohs(addr.sin_port);
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return DN_EIO;
}

static int parse_listen(const char *listen, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= hostlen)
        return DN_EINVAL;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = atoi(colon + 1);
    return 0;
}

static void setup_globalconf(dn_server_t *server)
{
    dn_app_t *app = server->app;
    h2o_config_init(&server->globalconf);
    server->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("dnevnik"));
    size_t max_body = app->config.max_body;
    for (int i = 0; i < dn_router_count(app->router); i++) {
        const dn_route_t *route = dn_router_get(app->router, i);
        if (route->max_body > max_body)
            max_body = route->max_body;
    }
    /* h2o rejects a larger Content-Length before reading the body. */
    server->globalconf.max_request_entity_size = max_body;
    /* h2o 2.2.5 buffers whole bodies in the socket's input buffer: from 1 MiB on
     * (uploads) that buffer is a mapped temp file, page cache the kernel can
     * write back, instead of anonymous memory. */
    h2o_socket_buffer_mmap_settings.threshold = 1024 * 1024;
    server->globalconf.http1.req_timeout = (uint64_t)app->config.request_timeout_ms;
    server->globalconf.http1.upgrade_to_http2 = 0; /* HTTP/2 is the edge's job */
    h2o_hostconf_t *hostconf = h2o_config_register_host(&server->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
    h2o_filter_t *filter = h2o_create_filter(&hostconf->fallback_path, sizeof(*filter));
    filter->on_setup_ostream = problem_on_setup_ostream;
}

/* SIGHUP runs the app's reload hook on this (the main) thread and waits on. */
static int wait_for_signal(dn_app_t *app)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        sigwait(&set, &sig);
        if (sig != SIGHUP)
            return sig;
        if (app->on_sighup != NULL)
            app->on_sighup(app);
    }
}

int dn_server_run(dn_app_t *app, dn_workq_t *pools[DN_POOL_COUNT], char *err, size_t errlen)
{
    static dn_server_t server; /* lives until exit: see the end of this function */
    server = (dn_server_t){.app = app, .pools = pools};
    pthread_mutex_init(&server.ready_lock, NULL);
    pthread_cond_init(&server.ready_cond, NULL);
    pthread_mutex_init(&server.addr_lock, NULL);
    char host[64];
    int port, bound_port = 0, ret = 0, started = 0;
    sigset_t set, oldset;

    if (parse_listen(app->config.listen, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "--listen: expected HOST:PORT, got '%s'", app->config.listen);
        return DN_EINVAL;
    }
    server.nloops = app->threads;
    server.loops = calloc((size_t)server.nloops, sizeof(loop_thread_t));
    server.route_inflight = calloc((size_t)dn_router_count(app->router) + 1, sizeof(atomic_int));
    if (server.loops == NULL || server.route_inflight == NULL)
        return DN_ENOMEM;
    setup_globalconf(&server);

    /* The first bind resolves port 0; the rest share the port via SO_REUSEPORT. */
    for (int i = 0; i < server.nloops; i++) {
        server.loops[i].listen_fd = -1;
        if ((ret = open_listener(host, i == 0 ? port : bound_port, &server.loops[i].listen_fd, &bound_port, err,
                                 errlen)) != 0)
            goto cleanup;
    }

    /* Threads inherit the mask: only the main thread receives SIGTERM/SIGINT. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &oldset);

    for (int i = 0; i < server.nloops; i++) {
        loop_thread_t *t = &server.loops[i];
        t->index = i;
        t->server = &server;
        if (pthread_create(&t->tid, NULL, loop_main, t) != 0) {
            snprintf(err, errlen, "cannot start loop thread %d", i);
            ret = DN_EINTERNAL;
            break;
        }
        started++;
    }

    /* Control messages need every started loop's receivers: wait for them. */
    pthread_mutex_lock(&server.ready_lock);
    while (server.nready < started)
        pthread_cond_wait(&server.ready_cond, &server.ready_lock);
    pthread_mutex_unlock(&server.ready_lock);

    if (ret == 0) {
        dn_log_info("http", "listening on http://%s:%d (%d loops, %d store workers)", host, bound_port,
                    server.nloops, app->workers);
        int sig = wait_for_signal(app);
        dn_log_info("http", "%s received: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }

    /* Drain: fail readiness, stop accepting, let in-flight requests finish. */
    atomic_store(&app->draining, 1);
    for (int i = 0; i < started; i++)
        h2o_multithread_send_message(&server.loops[i].control_receiver, &server.loops[i].stop_msg.super);
    uint64_t deadline = dn_now_mono_ns() + (uint64_t)app->config.shutdown_timeout_ms * 1000000u;
    while (atomic_load(&server.inflight) > 0 && dn_now_mono_ns() < deadline)
        usleep(5000);
    int left = atomic_load(&server.inflight);
    if (left > 0)
        dn_log_warn("http", "shutdown deadline passed with %d requests in flight", left);
    for (int i = 0; i < started; i++)
        h2o_multithread_send_message(&server.loops[i].control_receiver, &server.loops[i].exit_msg.super);
    for (int i = 0; i < started; i++)
        pthread_join(server.loops[i].tid, NULL);
    /* Tear the loops down only when no worker can still post to them; after a
     * missed deadline the process is about to exit and the OS reclaims all. */
    /* The loops are not torn down: h2o 2.2 cannot close the idle keep-alive
     * connections of a context, and disposing a context that has any asserts.
     * The server state is static, so all of it stays reachable until exit. */
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);

cleanup:
    for (int i = started; i < server.nloops; i++)
        if (server.loops[i].listen_fd >= 0)
            close(server.loops[i].listen_fd);
    return ret;
}
