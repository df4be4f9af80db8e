/*
 * bus.h - the invalidation bus between app nodes (Redis PUBLISH/SUBSCRIBE).
 *
 * A node publishes "topic payload" messages (a cache key to drop, a user
 * whose tokens are revoked); every other node's subscriber thread delivers
 * them to the handlers registered for the topic. Delivery is best effort:
 * while Redis is down, messages are lost, so after every (re)subscription
 * each handler is called once with payload NULL, meaning "you may have
 * missed messages: resynchronise" (a cache drops everything or relies on
 * its short TTLs; the revocation list reloads from Redis). A node never
 * receives its own messages (they carry the sender's random node id).
 *
 * Handlers run on the subscriber thread and must not block for long.
 */
#ifndef DN_CLUSTER_BUS_H
#define DN_CLUSTER_BUS_H

#include <stddef.h>

#include "cluster/redis.h"

typedef struct dn_bus dn_bus_t;

/** payload is NULL on (re)subscription: resynchronise. */
typedef void (*dn_bus_fn)(void *arg, const char *topic, const char *payload);

/** Make a bus on Redis channel `channel`; not started. NULL on no memory. */
dn_bus_t *dn_bus_new(dn_redis_t *redis, const char *channel);
/** Register fn for topic (a word without spaces). Only before dn_bus_start. 0 or negative code. */
int dn_bus_on(dn_bus_t *bus, const char *topic, dn_bus_fn fn, void *arg);
/** Start the subscriber thread (it connects, and reconnects, by itself). 0 or negative code. */
int dn_bus_start(dn_bus_t *bus);
/** Publish to every other node: 0, or DN_EBUSY when Redis is down (the message is lost). */
int dn_bus_publish(dn_bus_t *bus, const char *topic, const char *payload);
/**
 * Queue a message for the bus's publisher thread and return at once (for
 * callers on an event loop, which must not wait on Redis). 0, or DN_EBUSY
 * when the queue (1024 messages) is full: the message is dropped.
 */
int dn_bus_publish_async(dn_bus_t *bus, const char *topic, const char *payload);
/** True once the subscriber is subscribed and its handlers have resynchronised (tests wait for it). */
int dn_bus_subscribed(dn_bus_t *bus);
/** Stop the subscriber thread and free the bus. NULL is allowed. */
void dn_bus_free(dn_bus_t *bus);

#endif
