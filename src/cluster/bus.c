/*
 * bus.c - Redis pub/sub between nodes (see bus.h).
 *
 * One subscriber thread per bus owns a dedicated connection: it polls the
 * socket in 200 ms steps (so a stop request is noticed quickly), drains
 * every reply hiredis has buffered after each read, and reconnects after
 * any error. Wire format of a message: "<node-id> <topic> <payload>".
 * Publishing uses the calling thread's ordinary connection (redis.h).
 */
#include "cluster/bus.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/error.h"
#include "obs/log.h"

#define MAX_HANDLERS 8
#define QUEUE_LEN 1024
#define QMSG_MAX 160

struct dn_bus {
    dn_redis_t *redis;
    char channel[64];
    char node[17]; /* random hex id of this process's bus */
    struct {
        char topic[32];
        dn_bus_fn fn;
        void *arg;
    } handlers[MAX_HANDLERS];
    int nhandlers;
    pthread_t tid, pub_tid;
    int started;
    atomic_int stop;
    atomic_int subscribed;
    /* async publishing: a ring of formatted messages, guarded by qlock */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    char (*queue)[QMSG_MAX];
    int qhead, qlen;
};

dn_bus_t *dn_bus_new(dn_redis_t *redis, const char *channel)
{
    dn_bus_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->queue = calloc(QUEUE_LEN, QMSG_MAX);
    if (b->queue == NULL) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->qlock, NULL);
    pthread_cond_init(&b->qcond, NULL);
    b->redis = redis;
    snprintf(b->channel, sizeof(b->channel), "%s", channel);
    unsigned char id[8];
    randombytes_buf(id, sizeof(id));
    sodium_bin2hex(b->node, sizeof(b->node), id, sizeof(id));
    return b;
}

int dn_bus_on(dn_bus_t *b, const char *topic, dn_bus_fn fn, void *arg)
{
    if (b->started || b->nhandlers == MAX_HANDLERS || strlen(topic) >= sizeof(b->handlers[0].topic) ||
        strchr(topic, ' ') != NULL)
        return DN_EINVAL;
    snprintf(b->handlers[b->nhandlers].topic, sizeof(b->handlers[0].topic), "%s", topic);
    b->handlers[b->nhandlers].fn = fn;
    b->handlers[b->nhandlers].arg = arg;
    b->nhandlers++;
    return 0;
}

static void deliver(dn_bus_t *b, const char *msg, size_t len)
{
    char buf[1024];
    if (len >= sizeof(buf))
        return;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    char *topic = strchr(buf, ' ');
    if (topic == NULL)
        return;
    *topic++ = '\0';
    if (strcmp(buf, b->node) == 0) /* our own message */
        return;
    char *payload = strchr(topic, ' ');
    if (payload == NULL)
        return;
    *payload++ = '\0';
    for (int i = 0; i < b->nhandlers; i++)
        if (strcmp(b->handlers[i].topic, topic) == 0)
            b->handlers[i].fn(b->handlers[i].arg, topic, payload);
}

static void handle_reply(dn_bus_t *b, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING)
        deliver(b, rep->element[2]->str, rep->element[2]->len);
}

static void nap(dn_bus_t *b, int ms)
{
    for (int i = 0; i < ms / 50 && !atomic_load(&b->stop); i++)
        usleep(50000);
}

static void *subscriber(void *p)
{
    dn_bus_t *b = p;
    sigset_t all;
    sigfillset(&all); /* signals belong to the main thread's sigwait() */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&b->stop)) {
        redisContext *c = dn_redis_connect(b->redis, 1000);
        if (c == NULL) {
            nap(b, 500);
            continue;
        }
        redisReply *rep = redisCommand(c, "SUBSCRIBE %s", b->channel);
        int ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY;
        if (rep != NULL)
            freeReplyObject(rep);
        if (!ok) {
            redisFree(c);
            nap(b, 500);
            continue;
        }
        for (int i = 0; i < b->nhandlers; i++) /* whatever was sent while we were away is lost */
            b->handlers[i].fn(b->handlers[i].arg, b->handlers[i].topic, NULL);
        atomic_store(&b->subscribed, 1); /* after the resync: "subscribed" means up to date */
        while (!atomic_load(&b->stop)) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int n = poll(&pfd, 1, 200);
            if (n == 0)
                continue;
            void *r = NULL;
            if (n < 0 || redisGetReply(c, &r) != REDIS_OK || r == NULL)
                break;
            do {
                handle_reply(b, r);
                freeReplyObject(r);
                r = NULL;
            } while (redisReaderGetReply(c->reader, &r) == REDIS_OK && r != NULL);
        }
        atomic_store(&b->subscribed, 0);
        redisFree(c);
        if (!atomic_load(&b->stop))
            dn_log_warn("redis", "bus subscription lost; reconnecting");
    }
    return NULL;
}

static int publish_raw(dn_bus_t *b, const char *msg)
{
    const char *argv[] = {"PUBLISH", b->channel, msg};
    redisReply *rep = dn_redis_cmd(b->redis, 3, argv);
    if (rep == NULL)
        return DN_EBUSY;
    freeReplyObject(rep);
    return 0;
}

static void *publisher(void *p)
{
    dn_bus_t *b = p;
    char msg[QMSG_MAX];
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&b->qlock);
    for (;;) {
        while (b->qlen == 0 && !atomic_load(&b->stop))
            pthread_cond_wait(&b->qcond, &b->qlock);
        if (b->qlen == 0) /* stopping with nothing left */
            break;
        memcpy(msg, b->queue[b->qhead], QMSG_MAX);
        b->qhead = (b->qhead + 1) % QUEUE_LEN;
        b->qlen--;
        pthread_mutex_unlock(&b->qlock);
        (void)publish_raw(b, msg); /* down: lost; the other nodes' TTLs bound the staleness */
        pthread_mutex_lock(&b->qlock);
    }
    pthread_mutex_unlock(&b->qlock);
    return NULL;
}

int dn_bus_start(dn_bus_t *b)
{
    if (b->started)
        return 0;
    if (pthread_create(&b->tid, NULL, subscriber, b) != 0)
        return DN_EINTERNAL;
    if (pthread_create(&b->pub_tid, NULL, publisher, b) != 0) {
        atomic_store(&b->stop, 1);
        pthread_join(b->tid, NULL);
        return DN_EINTERNAL;
    }
    b->started = 1;
    return 0;
}

int dn_bus_publish_async(dn_bus_t *b, const char *topic, const char *payload)
{
    char msg[QMSG_MAX];
    int n = snprintf(msg, sizeof(msg), "%s %s %s", b->node, topic, payload);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return DN_EINVAL;
    pthread_mutex_lock(&b->qlock);
    int rc = DN_EBUSY;
    if (b->qlen < QUEUE_LEN) {
        memcpy(b->queue[(b->qhead + b->qlen) % QUEUE_LEN], msg, QMSG_MAX);
        b->qlen++;
        rc = 0;
        pthread_cond_signal(&b->qcond);
    }
    pthread_mutex_unlock(&b->qlock);
    return rc;
}

int dn_bus_subscribed(dn_bus_t *b)
{
    return atomic_load(&b->subscribed);
}

int dn_bus_publish(dn_bus_t *b, const char *topic, const char *payload)
{
    char msg[1024];
    int n = snprintf(msg, sizeof(msg), "%s %s %s", b->node, topic, payload);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return DN_EINVAL;
    return publish_raw(b, msg);
}

void dn_bus_free(dn_bus_t *b)
{
    if (b == NULL)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->qlock);
        atomic_store(&b->stop, 1);
        pthread_cond_signal(&b->qcond);
        pthread_mutex_unlock(&b->qlock);
        pthread_join(b->tid, NULL);
        pthread_join(b->pub_tid, NULL);
    }
    pthread_mutex_destroy(&b->qlock);
    pthread_cond_destroy(&b->qcond);
    free(b->queue);
    free(b);
}
