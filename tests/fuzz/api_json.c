/*
 * api_json.c - libFuzzer harness: whole API requests through the real
 * route table and handlers, so every JSON body validator (and the path
 * and query parsing in front of it) sees hostile input exactly as the server
 * hands it over.
 *
 * Input: byte 0 picks the caller (0 anonymous, 1..6 the fixture's teacher,
 * students, parent, admin, sysadmin: a real signed token each), byte 1 the
 * method, then "path[?query]" up to the first '\n', then the body.
 * Invariants checked: the handler answers (or hands on to another pool, see
 * below), and a problem+json answer is valid JSON with a numeric status.
 * The store is reset to the fixture after every request that changed a row.
 * Handlers that continue on another pool (argon2 for passwords) call
 * dn_req_then, which writes into the server's job record around the
 * request; here the request sits in the middle of a zeroed buffer, so those
 * writes land in it (ASan would flag anything outside) and the chain stops.
 * 5xx answers are counted per route and printed at exit (DN_FUZZ_ABORT_5XX=1
 * turns them into crashes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_app.h"

static dn_app_t app;
static dn_db_t *db;
static char *tokens[FUZZ_NUSERS + 1];
static int abort_5xx;
static unsigned long fivexx[512];

/* The request lives at the middle of this buffer (see the header comment). */
static _Alignas(64) unsigned char job_space[65536];

static void report(void)
{
    for (int i = 0; i < dn_router_count(app.router) && i < 512; i++)
        if (fivexx[i])
            fprintf(stderr, "api_json: %lu answers >= 500 from %s %s\n", fivexx[i],
                    dn_method_name(dn_router_get(app.router, i)->method), dn_router_get(app.router, i)->pattern);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app_init(&app, 1);
    db = fuzz_db_create();
    for (int uid = 1; uid <= FUZZ_NUSERS; uid++) {
        dn_principal_t p;
        int ttl = 0;
        if (dn_auth_load_principal(db, uid, &p) != 0 || dn_auth_issue_access(&app, &p, &tokens[uid], &ttl) != 0)
            fuzz_die("token", "cannot issue a token for a fixture user");
    }
    const char *v = getenv("DN_FUZZ_ABORT_5XX");
    abort_5xx = v != NULL && strcmp(v, "1") == 0;
    atexit(report);
    return 0;
}

static const dn_method_t methods[] = {DN_GET, DN_POST, DN_PUT, DN_PATCH, DN_DELETE, DN_HEAD};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int actor = data[0] % (FUZZ_NUSERS + 1);
    dn_method_t method = methods[data[1] % (sizeof methods / sizeof methods[0])];
    const char *rest = (const char *)data + 2;
    size_t rlen = size - 2;
    const char *nl = memchr(rest, '\n', rlen);
    size_t tlen = nl ? (size_t)(nl - rest) : rlen;
    if (memchr(rest, '\0', tlen) != NULL)
        return 0; /* h2o never hands over a path with a NUL byte */

    memset(job_space, 0, sizeof job_space);
    dn_req_t *req = (dn_req_t *)(job_space + sizeof job_space / 2);
    h2o_mem_init_pool(&req->pool);
    req->method = method;
    req->app = &app;
    req->db = db;
    snprintf(req->remote_addr, sizeof req->remote_addr, "127.0.0.1");
    char *target = dn_req_strdup(req, rest, tlen);
    char *q = strchr(target, '?');
    req->query = q ? q + 1 : "";
    if (q)
        *q = '\0';
    req->path = target;
    if (nl != NULL) {
        size_t blen = rlen - tlen - 1;
        /* a copy of exactly the body's bytes, so ASan sees any read past them */
        char *body = malloc(blen ? blen : 1);
        memcpy(body, nl + 1, blen);
        req->body.base = body;
        req->body.len = blen;
    }
    if (actor > 0) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Bearer %s", tokens[actor]);
        req->authorization = dn_req_strdup(req, auth, strlen(auth));
    }

    unsigned allowed = 0;
    dn_route_result_t r = dn_router_match(app.router, method, req->path, strlen(req->path), req, &allowed);
    if (r == DN_ROUTE_FOUND) {
        req->route->handler(req);
        if (req->status >= 500 && req->route->id < 512) {
            fivexx[req->route->id]++;
            if (abort_5xx) {
                fprintf(stderr, "api_json: %d from %s\n", req->status, req->route->pattern);
                abort();
            }
        }
        if (req->res_content_type != NULL && strncmp(req->res_content_type, "application/problem+json", 24) == 0) {
            json_t *p = json_loadb(req->res_body.base, req->res_body.len, 0, NULL);
            if (p == NULL || !json_is_integer(json_object_get(p, "status")) ||
                json_integer_value(json_object_get(p, "status")) != req->status) {
                fprintf(stderr, "api_json: malformed problem+json from %s\n", req->route->pattern);
                abort();
            }
            json_decref(p);
        }
    }
    free((void *)req->body.base);
    h2o_mem_clear_pool(&req->pool);
    /* total_changes() counts rows this connection changed since it was opened:
     * most inputs are refused before writing and need no (costly) reset */
    static dn_query_t q_changes = {"SELECT total_changes()"};
    int64_t changes = 1;
    if (method != DN_GET && method != DN_HEAD && (dn_db_scalar(db, &q_changes, &changes, "") != 0 || changes > 0))
        db = fuzz_db_reset(db);
    return 0;
}
