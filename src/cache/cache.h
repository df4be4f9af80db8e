/*
 * cache.h - the hot-read cache (app->cache): small values that change
 * rarely (a school's terms, which school and class a student is in, which
 * school a class belongs to), kept in process memory so the everyday pages
 * skip those statements.
 *
 * Exactness comes from generation counters, not from expiry: every entry is
 * filed under a scope ("school:12", "student:345", ...) and records the
 * generation of its scope and the global generation it was read under
 * (dn_cache_gen, taken BEFORE the store is read). A write that may change
 * cached data calls dn_cache_invalidate(scope) AFTER its commit; it bumps the
 * counter, so every entry built before the bump misses from then on. Scope
 * "*" bumps the global generation and drops everything. A reader racing a
 * write can at worst store an entry that is already stale by generation:
 * it is never served. The TTL only bounds what the process cannot see
 * (another process writing the same database without telling this one).
 *
 * Multi-node (H7): dn_cache_set_broadcaster registers a callback that
 * dn_cache_invalidate calls with each scope after the local bump (publish it
 * to the other nodes; it runs on the calling thread - an event loop or a
 * store worker - so it must not block). A scope received from another node
 * goes to dn_cache_apply_remote, which bumps without re-broadcasting.
 *
 * Thread-safe: any thread may call any function. Values are copied in and
 * out (at most DN_CACHE_VALUE_MAX bytes), so nothing returned is shared.
 */
#ifndef DN_CACHE_CACHE_H
#define DN_CACHE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define DN_CACHE_KEY_MAX 64   /* bytes of a key, NUL included */
#define DN_CACHE_SCOPE_MAX 32 /* bytes of a scope, NUL included */
#define DN_CACHE_VALUE_MAX 64 /* bytes of a value */
/* The server's TTL: a bound on staleness from writers outside this process
 * (another `dnevnik` command on the same database, a node without the bus). */
#define DN_CACHE_TTL_MS 60000

typedef struct dn_cache dn_cache_t;

/** Called by dn_cache_invalidate after the local bump (never by apply_remote). */
typedef void (*dn_cache_broadcast_fn)(const char *scope, void *arg);

/** A cache of up to max_entries values, each trusted for at most ttl_ms
 *  (0: no expiry). NULL on out of memory. */
dn_cache_t *dn_cache_new(size_t max_entries, uint64_t ttl_ms);
void dn_cache_free(dn_cache_t *c);

/** Generation stamp of scope; take it BEFORE reading the store for a put. */
typedef struct dn_cache_gen {
    uint64_t global, scope;
} dn_cache_gen_t;
dn_cache_gen_t dn_cache_gen(dn_cache_t *c, const char *scope);

/** Copy the value of key (filed under scope) into out (cap bytes): its
 *  length, or -1 on a miss (absent, stale generation, expired, too big).
 *  A NULL cache always misses. */
int dn_cache_get(dn_cache_t *c, const char *scope, const char *key, void *out, size_t cap);

/** Store a value of len bytes read under gen (see dn_cache_gen). Silently
 *  does nothing for a NULL cache or oversized key/scope/value. */
void dn_cache_put(dn_cache_t *c, const char *scope, const char *key, dn_cache_gen_t gen, const void *val,
                  size_t len);

/** Make every entry of scope ("*": all entries) miss from now on, then
 *  broadcast scope. Call after the write's commit. NULL cache: no-op. */
void dn_cache_invalidate(dn_cache_t *c, const char *scope);

/** The same bump for a scope another node invalidated; not re-broadcast. */
void dn_cache_apply_remote(dn_cache_t *c, const char *scope);

/** Register (or clear, fn NULL) the broadcaster of local invalidations. */
void dn_cache_set_broadcaster(dn_cache_t *c, dn_cache_broadcast_fn fn, void *arg);

/** Counters for reports and tests. */
typedef struct dn_cache_stats {
    uint64_t hits, misses, puts, invalidations;
} dn_cache_stats_t;
void dn_cache_stats(dn_cache_t *c, dn_cache_stats_t *out);

/** True when a successful write through the route pattern cannot change
 *  anything this cache holds (marks, attendance, works, comments, sign-in),
 *  so the HTTP glue need not invalidate after it. Every other write route
 *  invalidates "*" (dn_cache_after_write): new routes are safe by default. */
int dn_cache_write_keeps(const char *route_pattern);

/** The glue's hook after a write request that did not fail with a 4xx (a
 *  5xx may have committed part): invalidates "*" unless the route keeps. */
void dn_cache_after_write(dn_cache_t *c, const char *route_pattern);

#endif
