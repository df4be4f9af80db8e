/*
 * server.h - the HTTP server: event loops, listeners, dispatch, shutdown.
 *
 * One h2o event loop per thread, each with its own SO_REUSEPORT listener, so
 * the kernel spreads connections and loops share nothing but the read-only
 * router. Handlers marked DN_RUN_INLINE run on the loop; all others are
 * queued to a worker pool and their response is posted back to the loop that
 * owns the connection (h2o_multithread). See ARCHITECTURE.md.
 */
#ifndef DN_HTTP_SERVER_H
#define DN_HTTP_SERVER_H

#include <stddef.h>

#include "app.h"
#include "http/dispatch.h"

/** Worker pools a handler can run on. */
typedef enum {
    DN_POOL_STORE = 0, /* thread state is a dn_db_t*: req->db is set */
    DN_POOL_CPU = 1,   /* CPU-heavy work (password hashing): req->db is NULL */
    DN_POOL_COUNT
} dn_pool_id_t;

/**
 * Continue this request on another pool once the current handler returns:
 * the handler must not set a response when it calls this. next runs with
 * req->db set when pool is DN_POOL_STORE. Lets a sign-in look the account up
 * on a store worker, hash on the CPU pool and come back, without ever
 * holding a store worker during hashing.
 */
void dn_req_then(dn_req_t *req, dn_pool_id_t pool, dn_handler_fn next);

/**
 * Bind, start app->threads loops and serve until SIGTERM/SIGINT, then drain:
 * /readyz fails, listeners close, in-flight requests finish (up to
 * config.shutdown_timeout_ms), loops stop. pools[] must be running; they are
 * not freed here. Returns 0 after a clean shutdown, negative with err on a
 * start-up failure (bind error).
 */
int dn_server_run(dn_app_t *app, dn_workq_t *pools[DN_POOL_COUNT], char *err, size_t errlen);

#endif
