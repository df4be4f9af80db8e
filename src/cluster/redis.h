/*
 * redis.h - the Redis client shared state of a node runs on (hiredis).
 *
 * Redis is an accelerator, never a dependency: every call has a short
 * timeout (--redis: 50 ms by default), and a failure marks Redis down for a
 * second so that no request waits on it again meanwhile; callers then fall
 * back to their local behaviour (see docs/cluster.md). Each thread has its
 * own connection (created on first use, closed when the thread exits), so no
 * lock is held around network I/O. Replies are hiredis redisReply trees the
 * caller frees with freeReplyObject().
 */
#ifndef DN_CLUSTER_REDIS_H
#define DN_CLUSTER_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

typedef struct dn_redis dn_redis_t;

/** Parse url (redis://HOST:PORT[/DB]) and make a client; nothing is connected yet. NULL with err on a bad URL. */
dn_redis_t *dn_redis_new(const char *url, int timeout_ms, char *err, size_t errlen);
/** Free the client; connections of other threads close when those threads exit. */
void dn_redis_free(dn_redis_t *r);
/** True when url is a redis:// URL dn_redis_new accepts. */
int dn_redis_url_valid(const char *url);

/**
 * Run ncmd commands (each an argv of strings) pipelined on this thread's
 * connection: one round trip. On success fills replies[0..ncmd-1] (free
 * each) and returns 0; DN_EBUSY when Redis is down, slow or answered an
 * error reply to any command (all replies are then freed and NULL).
 */
int dn_redis_pipeline(dn_redis_t *r, int ncmd, const int *argc, const char *const *const *argv,
                      redisReply **replies);
/** One command; NULL when Redis is down or slow (or answered an error). */
redisReply *dn_redis_cmd(dn_redis_t *r, int argc, const char *const *argv);
/** 1 unless a recent failure marked Redis down. */
int dn_redis_up(dn_redis_t *r);
/** Connect a dedicated blocking connection (for SUBSCRIBE), NULL on failure. */
redisContext *dn_redis_connect(dn_redis_t *r, int timeout_ms);
/** Count of failed calls (for /metrics and tests). */
uint64_t dn_redis_failures(dn_redis_t *r);

#endif
