/* Redis-shared state against a real redis-server started on a free port:
 * rate limits shared by two limiters (two nodes), their fallback to local
 * buckets when Redis dies, the bus, revocations and last-write times seen
 * by another "node" (a second dn_app_t). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "auth/ratelimit.h"
#include "cluster/bus.h"
#include "cluster/cluster.h"
#include "cluster/redis.h"
#include "core/date.h"
#include "core/error.h"

static pid_t redis_pid = -1;
static char redis_url[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void start_redis(void)
{
    char port[16];
    int p = free_port();
    snprintf(port, sizeof(port), "%d", p);
    snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d/0", p);
    redis_pid = fork();
    cr_assert_geq(redis_pid, 0);
    if (redis_pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    char err[128];
    dn_redis_t *r = dn_redis_new(redis_url, 200, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    for (int i = 0; i < 100; i++) { /* up to 10 s for the server to listen */
        const char *argv[] = {"PING"};
        redisReply *rep = dn_redis_cmd(r, 1, argv);
        if (rep != NULL) {
            freeReplyObject(rep);
            dn_redis_free(r);
            return;
        }
        usleep(100000);
    }
    dn_redis_free(r);
    cr_assert_fail("redis-server did not start (is it installed?)");
}

static void stop_redis(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

TestSuite(redis, .init = start_redis, .fini = stop_redis, .timeout = 60);

static int wait_for(int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 100; i++) {
        if (cond(arg))
            return 1;
        usleep(50000);
    }
    return 0;
}

Test(redis, limits_are_shared_and_fall_back_to_local)
{
    char err[128], name[32];
    dn_redis_t *r = dn_redis_new(redis_url, 50, err, sizeof(err));
    cr_assert_not_null(r);
    dn_ratelimit_t *a = dn_ratelimit_new(1.0, 5.0, 1024), *b = dn_ratelimit_new(1.0, 5.0, 1024);
    snprintf(name, sizeof(name), "t%d", getpid());
    dn_ratelimit_share(a, r, name);
    dn_ratelimit_share(b, r, name);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(dn_ratelimit_take(a, "a:198.51.100.1", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, NULL), 0);
    /* node b has used only 2 of its local 5, but the shared count is 5 */
    cr_assert_eq(dn_ratelimit_check(b, "a:198.51.100.1", 1, 0, NULL), DN_ERATELIMIT);
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, &retry), DN_ERATELIMIT);
    cr_assert_gt(retry, 0);
    cr_assert_leq(retry, 5000, "retry within the 5 s window, got %lld", (long long)retry);
    /* reset clears the shared counter too */
    dn_ratelimit_reset(a, "a:198.51.100.1");
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.2", 1, 0, NULL), 0);

    /* Redis dies: each node decides with its own buckets, and answers at once */
    stop_redis();
    uint64_t f0 = dn_redis_failures(r);
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, NULL), 0, "b's local bucket still has tokens");
    cr_assert_gt(dn_redis_failures(r), f0);
    cr_assert_eq(dn_redis_up(r), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(b, "a:198.51.100.1", 1, 0, NULL), DN_ERATELIMIT, "local limit of 5");
    dn_ratelimit_free(a);
    dn_ratelimit_free(b);
    dn_redis_free(r);
}

/* Redis answers nothing for a second (CLIENT PAUSE): a call gives up after its short timeout and the limiter
 * decides locally; the failure marks Redis down so the next calls do not wait at all. */
Test(redis, slow_redis_falls_back_to_local)
{
    char err[128], name[32];
    dn_redis_t *admin = dn_redis_new(redis_url, 1000, err, sizeof(err));
    dn_redis_t *r = dn_redis_new(redis_url, 50, err, sizeof(err));
    dn_ratelimit_t *rl = dn_ratelimit_new(1.0, 2.0, 64);
    snprintf(name, sizeof(name), "slow%d", getpid());
    dn_ratelimit_share(rl, r, name);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 0, NULL), 0);
    cr_assert_eq(dn_redis_up(r), 1);
    const char *pause[] = {"CLIENT", "PAUSE", "1500", "ALL"};
    redisReply *rep = dn_redis_cmd(admin, 4, pause);
    cr_assert_not_null(rep);
    freeReplyObject(rep);
    uint64_t f0 = dn_redis_failures(r);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 0, NULL), 0, "the local bucket has one more token");
    cr_assert_gt(dn_redis_failures(r), f0, "the call timed out");
    cr_assert_eq(dn_redis_up(r), 0);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 0, NULL), DN_ERATELIMIT, "local limit of 2");
    dn_ratelimit_free(rl);
    dn_redis_free(r);
    dn_redis_free(admin);
}

typedef struct {
    pthread_mutex_t mu;
    char last[128];
    int resyncs, messages;
} sink_t;

static void on_msg(void *arg, const char *topic, const char *payload)
{
    sink_t *s = arg;
    pthread_mutex_lock(&s->mu);
    if (payload == NULL) {
        s->resyncs++;
    } else {
        s->messages++;
        snprintf(s->last, sizeof(s->last), "%s %s", topic, payload);
    }
    pthread_mutex_unlock(&s->mu);
}

static int subscribed(void *b)
{
    return dn_bus_subscribed(b);
}

static int got_message(void *p)
{
    sink_t *s = p;
    pthread_mutex_lock(&s->mu);
    int n = s->messages;
    pthread_mutex_unlock(&s->mu);
    return n > 0;
}

Test(redis, bus_delivers_to_other_nodes_only)
{
    char err[128];
    dn_redis_t *r = dn_redis_new(redis_url, 200, err, sizeof(err));
    sink_t sa = {.mu = PTHREAD_MUTEX_INITIALIZER}, sb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    dn_bus_t *a = dn_bus_new(r, "test:bus"), *b = dn_bus_new(r, "test:bus");
    cr_assert_eq(dn_bus_on(a, "cache", on_msg, &sa), 0);
    cr_assert_eq(dn_bus_on(b, "cache", on_msg, &sb), 0);
    cr_assert_eq(dn_bus_on(b, "bad topic", on_msg, &sb), DN_EINVAL);
    cr_assert_eq(dn_bus_start(a), 0);
    cr_assert_eq(dn_bus_start(b), 0);
    cr_assert(wait_for(subscribed, a) && wait_for(subscribed, b));
    cr_assert_eq(dn_bus_publish(a, "cache", "school:12"), 0);
    cr_assert_eq(dn_bus_publish_async(a, "other", "ignored"), 0);
    cr_assert(wait_for(got_message, &sb), "b never got a's message");
    pthread_mutex_lock(&sb.mu);
    cr_assert_str_eq(sb.last, "cache school:12");
    cr_assert_geq(sb.resyncs, 1, "a subscription starts with a resync");
    pthread_mutex_unlock(&sb.mu);
    cr_assert_eq(dn_bus_publish_async(b, "cache", "student:5"), 0);
    cr_assert(wait_for(got_message, &sa));
    pthread_mutex_lock(&sa.mu);
    cr_assert_str_eq(sa.last, "cache student:5");
    pthread_mutex_unlock(&sa.mu);
    usleep(200000);
    pthread_mutex_lock(&sb.mu);
    cr_assert_eq(sb.messages, 1, "b must not receive its own message nor other topics");
    pthread_mutex_unlock(&sb.mu);
    dn_bus_free(a);
    dn_bus_free(b);
    dn_redis_free(r);
}

static dn_app_t apps[2];

static dn_app_t *node(int i)
{
    char err[256] = "";
    dn_app_t *app = &apps[i];
    memset(app, 0, sizeof(*app));
    dn_config_defaults(&app->config);
    snprintf(app->config.redis_url, sizeof(app->config.redis_url), "%s", redis_url);
    /* a replica URL turns on the shared last-write times; nothing connects to it here */
    snprintf(app->config.db_url, sizeof(app->config.db_url), "postgresql://127.0.0.1:1/none");
    snprintf(app->config.db_replica, sizeof(app->config.db_replica), "postgresql://127.0.0.1:1/none");
    app->config.read_your_writes_ms = 60000;
    cr_assert_eq(dn_cluster_init(app, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_cluster_start(app), 0);
    cr_assert(wait_for(subscribed, dn_cluster_bus(app)));
    return app;
}

static int revoked_on_b(void *p)
{
    int64_t *iat = p;
    return dn_cluster_token_revoked(&apps[1], 4242, *iat);
}

Test(redis, revocation_and_last_write_reach_the_other_node)
{
    dn_app_t *a = node(0), *b = node(1);
    int64_t iat = dn_now_ms() / 1000 - 5;
    cr_assert_eq(dn_cluster_token_revoked(b, 4242, iat), 0);
    dn_cluster_revoke_user(a, 4242);
    cr_assert(wait_for(revoked_on_b, &iat), "node b never learnt the revocation");

    cr_assert_eq(dn_cluster_recent_writer(b, 77), 0);
    dn_cluster_note_write(a, 77);
    cr_assert_eq(dn_cluster_recent_writer(b, 77), 1, "b sees a's write through Redis");

    /* a node started later loads the revocations from Redis */
    dn_cluster_free(b);
    b = node(1);
    cr_assert_eq(dn_cluster_token_revoked(b, 4242, iat), 1);

    /* Redis down: the last-write time is unknown, so reads go to the primary */
    stop_redis();
    cr_assert_eq(dn_cluster_recent_writer(b, 78), 1);
    dn_cluster_free(a);
    dn_cluster_free(b);
}
