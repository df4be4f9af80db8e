/*
 * ratelimit.c - sharded, memory-bounded token buckets (see ratelimit.h).
 *
 * Each shard owns a fixed array of entries allocated up front, a chained hash
 * index over them and an LRU list; nothing is allocated after creation, so
 * memory stays bounded however many keys attackers invent. Invariant: an
 * entry is either on the free list or both in a hash chain and the LRU list.
 * Keys longer than the stored width are shortened with a hash suffix.
 * A refused take still marks its key most recently used: a key being
 * refused is an active key, and evicting it would hand it a full bucket.
 * When shared through Redis the Redis verdict wins while Redis answers.
 */
#include "auth/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/redis.h"
#include "core/error.h"

#define KEY_MAX 64
#define MAX_SHARDS 16

typedef struct entry {
    char key[KEY_MAX];
    uint64_t hash;
    double tokens;
    int64_t last_ms;
    int next;            /* hash chain, or the free list */
    int prev_lru, next_lru;
} entry_t;

typedef struct shard {
    pthread_mutex_t mu;
    entry_t *entries;
    int *buckets;        /* heads of hash chains, -1 = empty */
    size_t nbuckets;     /* power of two */
    int cap, used;
    int free_head;
    int lru_head, lru_tail; /* head = most recently used */
} shard_t;

struct dn_ratelimit {
    double rate, burst;
    int nshards;
    size_t max_entries;
    size_t bytes;
    dn_redis_t *redis; /* NULL = local only */
    char name[24];
    long long window_ms, limit;
    shard_t shards[MAX_SHARDS];
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* The stored form of key: itself, or a prefix plus the full key's hash. */
static void norm_key(const char *key, char out[KEY_MAX], uint64_t *hash)
{
    uint64_t h = fnv1a(key);
    size_t len = strlen(key);
    if (len < KEY_MAX) {
        memcpy(out, key, len + 1);
    } else {
        memcpy(out, key, 40);
        snprintf(out + 40, KEY_MAX - 40, "#%016llx", (unsigned long long)h);
    }
    *hash = fnv1a(out);
}

dn_ratelimit_t *dn_ratelimit_new(double rate, double burst, size_t max_entries)
{
    if (!(rate > 0) || !(burst >= 1) || max_entries == 0 || max_entries > (1u << 30))
        return NULL;
    dn_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->bytes = sizeof(*rl);
    rl->rate = rate;
    rl->burst = burst;
    rl->max_entries = max_entries;
    rl->nshards = max_entries < MAX_SHARDS ? (int)max_entries : MAX_SHARDS;
    for (int i = 0; i < rl->nshards; i++) {
        shard_t *s = &rl->shards[i];
        s->cap = (int)(max_entries / (size_t)rl->nshards);
        s->nbuckets = 1;
        while (s->nbuckets < (size_t)s->cap * 2)
            s->nbuckets <<= 1;
        s->entries = calloc((size_t)s->cap, sizeof(entry_t));
        s->buckets = malloc(s->nbuckets * sizeof(int));
        rl->bytes += (size_t)s->cap * sizeof(entry_t) + s->nbuckets * sizeof(int);
        pthread_mutex_init(&s->mu, NULL);
        if (s->entries == NULL || s->buckets == NULL) {
            rl->nshards = i + 1;
            dn_ratelimit_free(rl);
            return NULL;
        }
        for (size_t b = 0; b < s->nbuckets; b++)
            s->buckets[b] = -1;
        for (int e = 0; e < s->cap; e++)
            s->entries[e].next = e + 1 < s->cap ? e + 1 : -1;
        s->free_head = 0;
        s->lru_head = s->lru_tail = -1;
    }
    return rl;
}

void dn_ratelimit_free(dn_ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < rl->nshards; i++) {
        free(rl->shards[i].entries);
        free(rl->shards[i].buckets);
        pthread_mutex_destroy(&rl->shards[i].mu);
    }
    free(rl);
}

static void lru_unlink(shard_t *s, int i)
{
    entry_t *e = &s->entries[i];
    if (e->prev_lru >= 0)
        s->entries[e->prev_lru].next_lru = e->next_lru;
    else
        s->lru_head = e->next_lru;
    if (e->next_lru >= 0)
        s->entries[e->next_lru].prev_lru = e->prev_lru;
    else
        s->lru_tail = e->prev_lru;
}

static void lru_push_front(shard_t *s, int i)
{
    entry_t *e = &s->entries[i];
    e->prev_lru = -1;
    e->next_lru = s->lru_head;
    if (s->lru_head >= 0)
        s->entries[s->lru_head].prev_lru = i;
    s->lru_head = i;
    if (s->lru_tail < 0)
        s->lru_tail = i;
}

/* Remove entry i from its hash chain and the LRU list and free it. */
static void drop(shard_t *s, int i)
{
    entry_t *e = &s->entries[i];
    int *link = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*link != i)
        link = &s->entries[*link].next;
    *link = e->next;
    lru_unlink(s, i);
    e->next = s->free_head;
    s->free_head = i;
    s->used--;
}

static int find(shard_t *s, const char *key, uint64_t h)
{
    for (int i = s->buckets[h & (s->nbuckets - 1)]; i >= 0; i = s->entries[i].next)
        if (s->entries[i].hash == h && strcmp(s->entries[i].key, key) == 0)
            return i;
    return -1;
}

static shard_t *shard_for(dn_ratelimit_t *rl, uint64_t h)
{
    return &rl->shards[(h >> 32) % (uint64_t)rl->nshards];
}

static int take_or_check(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry, int consume)
{
    char k[KEY_MAX];
    uint64_t h;
    norm_key(key, k, &h);
    shard_t *s = shard_for(rl, h);
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    int i = find(s, k, h);
    double tokens = rl->burst;
    if (i >= 0) {
        entry_t *e = &s->entries[i];
        double elapsed = now_ms > e->last_ms ? (double)(now_ms - e->last_ms) : 0.0;
        tokens = fmin(rl->burst, e->tokens + elapsed * rl->rate / 1000.0);
    }
    if (tokens + 1e-9 < cost) {
        rc = DN_ERATELIMIT;
        if (retry != NULL)
            *retry = (int64_t)ceil((cost - tokens) * 1000.0 / rl->rate);
    } else if (retry != NULL) {
        *retry = 0;
    }
    if (consume && rc == 0) {
        if (i < 0) {
            if (s->free_head < 0)
                drop(s, s->lru_tail); /* full: forget the least recently used key */
            i = s->free_head;
            entry_t *e = &s->entries[i];
            s->free_head = e->next;
            memcpy(e->key, k, sizeof(k));
            e->hash = h;
            int *head = &s->buckets[h & (s->nbuckets - 1)];
            e->next = *head;
            *head = i;
            s->used++;
        } else {
            lru_unlink(s, i);
        }
        lru_push_front(s, i);
        s->entries[i].tokens = tokens - cost;
        s->entries[i].last_ms = now_ms;
    } else if (consume && i >= 0) {
        /* refused: keep the key (it is active), its tokens unchanged */
        lru_unlink(s, i);
        lru_push_front(s, i);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The shared verdict: 0 or DN_ERATELIMIT in *verdict; DN_EBUSY when Redis
 * did not answer (the caller keeps the local verdict). */
static int remote_verdict(dn_ratelimit_t *rl, const char *key, double cost, int consume, int64_t *retry,
                          int *verdict)
{
    char k[320], n[24], win[24];
    snprintf(k, sizeof(k), "dn:rl:%s:%s", rl->name, key);
    long long units = (long long)ceil(cost);
    snprintf(n, sizeof(n), "%lld", units);
    snprintf(win, sizeof(win), "%lld", rl->window_ms);
    const char *incr[] = {"INCRBY", k, n};
    const char *expire[] = {"PEXPIRE", k, win, "NX"};
    const char *get[] = {"GET", k};
    const char *pttl[] = {"PTTL", k};
    redisReply *reps[3];
    long long count;
    int64_t ttl;
    if (consume) {
        const int argc[] = {3, 4, 2};
        const char *const *argv[] = {incr, expire, pttl};
        if (dn_redis_pipeline(rl->redis, 3, argc, argv, reps) != 0)
            return DN_EBUSY;
        count = reps[0]->type == REDIS_REPLY_INTEGER ? reps[0]->integer : 0;
        ttl = reps[2]->type == REDIS_REPLY_INTEGER ? reps[2]->integer : -1;
        for (int i = 0; i < 3; i++)
            freeReplyObject(reps[i]);
    } else {
        const int argc[] = {2, 2};
        const char *const *argv[] = {get, pttl};
        if (dn_redis_pipeline(rl->redis, 2, argc, argv, reps) != 0)
            return DN_EBUSY;
        count = reps[0]->type == REDIS_REPLY_STRING ? strtoll(reps[0]->str, NULL, 10) : 0;
        count += units;
        ttl = reps[1]->type == REDIS_REPLY_INTEGER ? reps[1]->integer : -1;
        freeReplyObject(reps[0]);
        freeReplyObject(reps[1]);
    }
    *verdict = count > rl->limit ? DN_ERATELIMIT : 0;
    if (retry != NULL)
        *retry = *verdict == 0 ? 0 : (ttl > 0 ? ttl : rl->window_ms);
    return 0;
}

static int decide(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry, int consume)
{
    int verdict;
    if (rl->redis == NULL || !dn_redis_up(rl->redis) || remote_verdict(rl, key, cost, consume, retry, &verdict) != 0)
        return take_or_check(rl, key, cost, now_ms, retry, consume);
    /* Redis decided; the local bucket mirrors what was allowed, so that it
     * is warm if Redis goes away (its own verdict does not matter now). */
    if (consume && verdict == 0)
        (void)take_or_check(rl, key, cost, now_ms, NULL, 1);
    return verdict;
}

void dn_ratelimit_share(dn_ratelimit_t *rl, struct dn_redis *r, const char *name)
{
    if (rl == NULL)
        return;
    rl->redis = r;
    snprintf(rl->name, sizeof(rl->name), "%s", name);
    rl->limit = (long long)rl->burst;
    rl->window_ms = (long long)ceil(rl->burst * 1000.0 / rl->rate);
    if (rl->window_ms < 1)
        rl->window_ms = 1;
}

size_t dn_ratelimit_bytes(dn_ratelimit_t *rl)
{
    return rl->bytes;
}

int dn_ratelimit_take(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry_after_ms)
{
    return decide(rl, key, cost, now_ms, retry_after_ms, 1);
}

int dn_ratelimit_check(dn_ratelimit_t *rl, const char *key, double cost, int64_t now_ms, int64_t *retry_after_ms)
{
    return decide(rl, key, cost, now_ms, retry_after_ms, 0);
}

void dn_ratelimit_reset(dn_ratelimit_t *rl, const char *key)
{
    char k[KEY_MAX];
    uint64_t h;
    norm_key(key, k, &h);
    shard_t *s = shard_for(rl, h);
    pthread_mutex_lock(&s->mu);
    int i = find(s, k, h);
    if (i >= 0)
        drop(s, i);
    pthread_mutex_unlock(&s->mu);
    if (rl->redis != NULL) {
        char rk[320];
        snprintf(rk, sizeof(rk), "dn:rl:%s:%s", rl->name, key);
        const char *argv[] = {"DEL", rk};
        redisReply *rep = dn_redis_cmd(rl->redis, 2, argv);
        if (rep != NULL)
            freeReplyObject(rep);
    }
}

size_t dn_ratelimit_size(dn_ratelimit_t *rl)
{
    size_t n = 0;
    for (int i = 0; i < rl->nshards; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        n += (size_t)rl->shards[i].used;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return n;
}
