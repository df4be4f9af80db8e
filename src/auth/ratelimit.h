/*
 * ratelimit.h - token buckets keyed by strings (address, user id, login).
 *
 * A limiter holds at most max_entries buckets in memory whatever the number
 * of distinct keys: when full, the least recently used bucket of a shard is
 * dropped (an idle bucket refills to full anyway, so dropping it loses
 * little). Shards have their own mutex, so loop and worker threads rarely
 * contend. Time is passed in (ms) so the math is testable.
 *
 * Shared limits (dn_ratelimit_share): with Redis, the verdict comes from a
 * fixed-window counter in Redis (INCRBY + PEXPIRE NX + PTTL, pipelined: one
 * round trip), the same for every node; window = burst / rate seconds,
 * limit = burst. The local buckets are kept up to date all the same, and
 * decide alone whenever Redis is down or slow (a per-node limit then).
 */
#ifndef DN_AUTH_RATELIMIT_H
#define DN_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dn_ratelimit dn_ratelimit_t;

/** rate: tokens added per second (> 0); burst: bucket size (>= 1). NULL on bad args / no memory. */
dn_ratelimit_t *dn_ratelimit_new(double rate, double burst, size_t max_entries);
void dn_ratelimit_free(dn_ratelimit_t *rl);

/**
 * Take cost tokens from key's bucket at now_ms. 0 when allowed; DN_ERATELIMIT
 * when not (nothing taken), with *retry_after_ms (may be NULL) set to the wait
 * until cost tokens are available.
 */
int dn_ratelimit_take(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry_after_ms);
/** Like take, but only checks: never consumes. */
int dn_ratelimit_check(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry_after_ms);
/** Forget key (its bucket is full again). */
void dn_ratelimit_reset(dn_ratelimit_t *rl, const char *key);
/** Buckets held now (<= max_entries). */
size_t dn_ratelimit_size(dn_ratelimit_t *rl);
/** Bytes the limiter holds (fixed at creation: tables are never grown). */
size_t dn_ratelimit_bytes(dn_ratelimit_t *rl);

struct dn_redis;
/** Share this limiter's counters between nodes through Redis under "dn:rl:<name>:"; r NULL = local only. */
void dn_ratelimit_share(dn_ratelimit_t *rl, struct dn_redis *r, const char *name);

#endif
