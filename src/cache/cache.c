/*
 * cache.c - the hot-read cache (contract in cache.h).
 *
 * Entries live in a fixed, direct-mapped table (slot = hash of scope+key), so
 * memory is bounded by max_entries and a collision simply replaces the older
 * entry. Slots are guarded by striped mutexes. Scope generations live in a
 * fixed table of atomic counters indexed by a hash of the scope: two scopes
 * sharing a counter only cost extra misses, never a stale hit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/cache.h"

#define NSCOPES 4096
#define NLOCKS 64

typedef struct entry {
    char scope[DN_CACHE_SCOPE_MAX];
    char key[DN_CACHE_KEY_MAX];
    dn_cache_gen_t gen;
    uint64_t born_ms;
    size_t len;
    unsigned char val[DN_CACHE_VALUE_MAX];
    int used;
} entry_t;

struct dn_cache {
    size_t n;
    uint64_t ttl_ms;
    entry_t *slots;
    pthread_mutex_t locks[NLOCKS];
    atomic_uint_fast64_t global;
    atomic_uint_fast64_t scopes[NSCOPES];
    atomic_uint_fast64_t hits, misses, puts, invalidations;
    pthread_mutex_t bc_lock; /* guards the broadcaster pair */
    dn_cache_broadcast_fn bc;
    void *bc_arg;
};

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

dn_cache_t *dn_cache_new(size_t max_entries, uint64_t ttl_ms)
{
    if (max_entries == 0)
        max_entries = 1;
    dn_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slots = calloc(max_entries, sizeof(entry_t));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->n = max_entries;
    c->ttl_ms = ttl_ms;
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    pthread_mutex_init(&c->bc_lock, NULL);
    return c;
}

void dn_cache_free(dn_cache_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < NLOCKS; i++)
        pthread_mutex_destroy(&c->locks[i]);
    pthread_mutex_destroy(&c->bc_lock);
    free(c->slots);
    free(c);
}

static atomic_uint_fast64_t *scope_counter(dn_cache_t *c, const char *scope)
{
    return &c->scopes[fnv(1469598103934665603ULL, scope) % NSCOPES];
}

dn_cache_gen_t dn_cache_gen(dn_cache_t *c, const char *scope)
{
    dn_cache_gen_t g = {0, 0};
    if (c != NULL) {
        g.global = atomic_load(&c->global);
        g.scope = atomic_load(scope_counter(c, scope));
    }
    return g;
}

static size_t slot_of(const dn_cache_t *c, const char *scope, const char *key)
{
    return (size_t)(fnv(fnv(1469598103934665603ULL, scope) ^ 0x9e37u, key) % c->n);
}

int dn_cache_get(dn_cache_t *c, const char *scope, const char *key, void *out, size_t cap)
{
    if (c == NULL)
        return -1;
    dn_cache_gen_t now = dn_cache_gen(c, scope);
    size_t i = slot_of(c, scope, key);
    pthread_mutex_t *lock = &c->locks[i % NLOCKS];
    int len = -1;
    pthread_mutex_lock(lock);
    entry_t *e = &c->slots[i];
    if (e->used && e->gen.global == now.global && e->gen.scope == now.scope && e->len <= cap &&
        strcmp(e->scope, scope) == 0 && strcmp(e->key, key) == 0 &&
        (c->ttl_ms == 0 || now_ms() - e->born_ms < c->ttl_ms)) {
        memcpy(out, e->val, e->len);
        len = (int)e->len;
    }
    pthread_mutex_unlock(lock);
    atomic_fetch_add_explicit(len >= 0 ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return len;
}

void dn_cache_put(dn_cache_t *c, const char *scope, const char *key, dn_cache_gen_t gen, const void *val, size_t len)
{
    if (c == NULL || len > DN_CACHE_VALUE_MAX || strlen(scope) >= DN_CACHE_SCOPE_MAX ||
        strlen(key) >= DN_CACHE_KEY_MAX)
        return;
    size_t i = slot_of(c, scope, key);
    pthread_mutex_t *lock = &c->locks[i % NLOCKS];
    pthread_mutex_lock(lock);
    entry_t *e = &c->slots[i];
    strcpy(e->scope, scope);
    strcpy(e->key, key);
    e->gen = gen;
    e->born_ms = now_ms();
    e->len = len;
    memcpy(e->val, val, len);
    e->used = 1;
    pthread_mutex_unlock(lock);
    atomic_fetch_add_explicit(&c->puts, 1, memory_order_relaxed);
}

static void bump(dn_cache_t *c, const char *scope)
{
    if (strcmp(scope, "*") == 0)
        atomic_fetch_add(&c->global, 1);
    else
        atomic_fetch_add(scope_counter(c, scope), 1);
    atomic_fetch_add_explicit(&c->invalidations, 1, memory_order_relaxed);
}

void dn_cache_invalidate(dn_cache_t *c, const char *scope)
{
    if (c == NULL || scope == NULL)
        return;
    bump(c, scope);
    pthread_mutex_lock(&c->bc_lock);
    dn_cache_broadcast_fn fn = c->bc;
    void *arg = c->bc_arg;
    pthread_mutex_unlock(&c->bc_lock);
    if (fn != NULL)
        fn(scope, arg);
}

void dn_cache_apply_remote(dn_cache_t *c, const char *scope)
{
    if (c != NULL && scope != NULL)
        bump(c, scope);
}

void dn_cache_set_broadcaster(dn_cache_t *c, dn_cache_broadcast_fn fn, void *arg)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->bc_lock);
    c->bc = fn;
    c->bc_arg = arg;
    pthread_mutex_unlock(&c->bc_lock);
}

void dn_cache_stats(dn_cache_t *c, dn_cache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->puts = atomic_load(&c->puts);
    out->invalidations = atomic_load(&c->invalidations);
}

/* Write routes whose statements touch none of the tables behind cached
 * values (terms, classes, class_students, user_roles): the everyday writes of
 * a teacher and a student, and signing in. Checked against the domain code of
 * each route; anything not listed invalidates everything. */
static const char *const keeps[] = {
    "/api/v1/lessons/{lesson_id}", /* topic, homework: lessons are not cached */
    "/api/v1/lessons/{lesson_id}/marks",
    "/api/v1/lessons/{lesson_id}/attendance",
    "/api/v1/marks/{mark_id}",
    "/api/v1/checkpoints/{checkpoint_id}/marks",
    "/api/v1/checkpoints/{checkpoint_id}/works",
    "/api/v1/works/{work_id}/comments",
    "/api/v1/works/{work_id}/mark",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
};

int dn_cache_write_keeps(const char *pattern)
{
    if (pattern == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(keeps) / sizeof(keeps[0]); i++)
        if (strcmp(pattern, keeps[i]) == 0)
            return 1;
    return 0;
}

void dn_cache_after_write(dn_cache_t *c, const char *pattern)
{
    if (!dn_cache_write_keeps(pattern))
        dn_cache_invalidate(c, "*");
}
