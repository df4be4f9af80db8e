/*
 * idempotency.h - exactly-once writes with the Idempotency-Key header.
 *
 * A client may send `Idempotency-Key: <1..200 visible ASCII>` on any POST,
 * PUT, PATCH or DELETE. The glue (server.c run_on_worker) wraps the first
 * store stage of such a request, when its bearer token is valid, in an outer
 * write transaction: the handler's own transactions nest inside it as
 * savepoints, and when the handler answers 2xx the answer (status, body,
 * content type, headers) is stored under (user id, key) with a hash of
 * method, path, query and body IN THE SAME TRANSACTION before it commits.
 * A commit whose acknowledgment was lost is therefore never applied twice:
 * the retry finds the stored answer and gets it again with
 * `idempotent-replayed: true`. See docs/idempotency.md for the rules.
 */
#ifndef DN_HTTP_IDEMPOTENCY_H
#define DN_HTTP_IDEMPOTENCY_H

#include <stdint.h>

#include "http/request.h"

#define DN_IDEM_KEY_MAX 200
#define DN_IDEM_TTL_MS (24LL * 3600 * 1000) /* a stored answer is replayed for 24 h */

typedef struct dn_idem {
    int active;      /* the handler runs inside our outer write transaction */
    int64_t user_id;
    char hash[65];   /* SHA-256 hex of method, path, query, body */
} dn_idem_t;

/**
 * Before the handler's first store stage. Returns 1 when the request is
 * already answered (malformed key 400, replay, key reused for another
 * request 422, store unavailable), 0 when the handler should run; then
 * st->active says whether it runs inside the outer transaction (no key, not
 * a write method, or no valid bearer token: not active, nothing changes).
 */
int dn_idem_begin(dn_req_t *req, dn_idem_t *st);

/**
 * After the handler, when st->active. handed_off: the handler continues on
 * another pool (dn_req_then: sign-in, password changes); its first stage is
 * committed as it would be without a key and the key is not recorded.
 * Otherwise a 2xx answer is stored and committed (a failed commit replaces
 * the answer with an error); any other answer rolls everything back.
 */
void dn_idem_end(dn_req_t *req, dn_idem_t *st, int handed_off);

/** 1 when key is a well-formed Idempotency-Key value. */
int dn_idem_key_valid(const char *key);

#endif
