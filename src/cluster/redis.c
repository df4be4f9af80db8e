/*
 * redis.c - per-thread hiredis connections with short timeouts and a
 * process-wide "down" mark (see redis.h).
 *
 * Invariant: a thread's context is either NULL or connected and healthy; any
 * I/O error or timeout frees it (hiredis contexts are unusable after one)
 * and sets down_until, so calls in the next second return at once instead of
 * each paying the timeout. The thread-specific key's destructor closes a
 * worker's connection when the worker exits.
 */
#include "cluster/redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/error.h"
#include "obs/log.h"

#define DOWN_BACKOFF_MS 1000

struct dn_redis {
    char host[128];
    int port;
    int db;
    int timeout_ms;
    pthread_key_t key;
    atomic_int_fast64_t down_until; /* monotonic ms; 0 = up */
    atomic_uint_fast64_t failures;
    atomic_int logged_down; /* one warning per outage */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_ctx(void *ctx)
{
    if (ctx != NULL)
        redisFree(ctx);
}

static int parse_url(const char *url, char *host, size_t hostlen, int *port, int *db)
{
    if (url == NULL || strncmp(url, "redis://", 8) != 0)
        return DN_EINVAL;
    const char *h = url + 8;
    const char *at = strchr(h, '@');
    if (at != NULL) /* credentials are not supported: refuse rather than ignore them */
        return DN_EINVAL;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= hostlen)
        return DN_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    const char *p = h + hl;
    *port = 6379;
    *db = 0;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535)
            return DN_EINVAL;
        *port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1] != '\0') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != '\0' || v < 0 || v > 1000)
            return DN_EINVAL;
        *db = (int)v;
        p = end;
    } else if (*p == '/') {
        p++;
    }
    return *p == '\0' ? 0 : DN_EINVAL;
}

int dn_redis_url_valid(const char *url)
{
    char host[128];
    int port, db;
    return parse_url(url, host, sizeof(host), &port, &db) == 0;
}

dn_redis_t *dn_redis_new(const char *url, int timeout_ms, char *err, size_t errlen)
{
    dn_redis_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_url(url, r->host, sizeof(r->host), &r->port, &r->db) != 0) {
        snprintf(err, errlen, "--redis: expected redis://HOST:PORT[/DB] (no credentials in the URL)");
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 50;
    if (pthread_key_create(&r->key, close_ctx) != 0) {
        snprintf(err, errlen, "cannot create a thread key");
        free(r);
        return NULL;
    }
    return r;
}

void dn_redis_free(dn_redis_t *r)
{
    if (r == NULL)
        return;
    close_ctx(pthread_getspecific(r->key));
    pthread_setspecific(r->key, NULL);
    pthread_key_delete(r->key);
    free(r);
}

int dn_redis_up(dn_redis_t *r)
{
    int64_t until = atomic_load(&r->down_until);
    return until == 0 || mono_ms() >= until;
}

uint64_t dn_redis_failures(dn_redis_t *r)
{
    return atomic_load(&r->failures);
}

static void mark_down(dn_redis_t *r, const char *why)
{
    atomic_store(&r->down_until, mono_ms() + DOWN_BACKOFF_MS);
    atomic_fetch_add(&r->failures, 1);
    if (atomic_exchange(&r->logged_down, 1) == 0)
        dn_log_warn("redis", "redis %s:%d unavailable (%s): falling back to node-local state", r->host, r->port,
                    why);
}

static void mark_up(dn_redis_t *r)
{
    atomic_store(&r->down_until, 0);
    if (atomic_exchange(&r->logged_down, 0) == 1)
        dn_log_info("redis", "redis %s:%d is back", r->host, r->port);
}

redisContext *dn_redis_connect(dn_redis_t *r, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (c == NULL || c->err) {
        close_ctx(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    if (r->db != 0) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->db);
        int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
        if (rep != NULL)
            freeReplyObject(rep);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* This thread's connection, connecting it if needed; NULL when down. */
static redisContext *thread_ctx(dn_redis_t *r)
{
    redisContext *c = pthread_getspecific(r->key);
    if (c != NULL)
        return c;
    if (!dn_redis_up(r))
        return NULL;
    c = dn_redis_connect(r, r->timeout_ms);
    if (c == NULL) {
        mark_down(r, "connect failed");
        return NULL;
    }
    pthread_setspecific(r->key, c);
    return c;
}

static void drop_ctx(dn_redis_t *r, redisContext *c, const char *why)
{
    char reason[128]; /* why may point into c */
    snprintf(reason, sizeof(reason), "%s", why);
    redisFree(c);
    pthread_setspecific(r->key, NULL);
    mark_down(r, reason);
}

int dn_redis_pipeline(dn_redis_t *r, int ncmd, const int *argc, const char *const *const *argv, redisReply **replies)
{
    redisContext *c = thread_ctx(r);
    int i, bad = 0;
    for (i = 0; i < ncmd; i++)
        replies[i] = NULL;
    if (c == NULL)
        return DN_EBUSY;
    for (i = 0; i < ncmd; i++)
        if (redisAppendCommandArgv(c, argc[i], (const char **)argv[i], NULL) != REDIS_OK) {
            drop_ctx(r, c, "out of memory");
            return DN_EBUSY;
        }
    for (i = 0; i < ncmd; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK || rep == NULL) {
            drop_ctx(r, c, c->errstr[0] ? c->errstr : "no reply");
            for (int j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            return DN_EBUSY;
        }
        replies[i] = rep;
        if (replies[i]->type == REDIS_REPLY_ERROR)
            bad = 1;
    }
    if (bad) {
        /* An error reply (e.g. a replica that refuses writes) is as good as down for us. */
        for (i = 0; i < ncmd; i++) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
        mark_down(r, "error reply");
        return DN_EBUSY;
    }
    mark_up(r);
    return 0;
}

redisReply *dn_redis_cmd(dn_redis_t *r, int argc, const char *const *argv)
{
    redisReply *rep = NULL;
    return dn_redis_pipeline(r, 1, &argc, &argv, &rep) == 0 ? rep : NULL;
}
