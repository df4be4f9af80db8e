/*
 * dispatch.c - fixed thread pools over a mutex-protected FIFO.
 *
 * A mutex and a condition variable are enough here: a push is a few dozen
 * nanoseconds under the lock, far below the cost of the store work it
 * schedules (measured in BENCHMARKS.md). Items are intrusive (dn_work_t is
 * embedded by the caller), so queueing allocates nothing.
 */
#include "http/dispatch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics.h"

struct dn_workq {
    char name[32];
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    dn_work_t *head, *tail;
    int pending; /* queued + running */
    int stopping;
    int nthreads;
    pthread_t *threads;
    dn_workq_init_fn init;
    dn_workq_fini_fn fini;
    void *arg;
    /* start-up handshake */
    int started, failed;
    pthread_cond_t started_cond;
    char err[256];
};

typedef struct {
    dn_workq_t *q;
    int index;
} thread_arg_t;

static void *worker_main(void *p)
{
    thread_arg_t targ = *(thread_arg_t *)p;
    dn_workq_t *q = targ.q;
    char err[256] = "";
    free(p);

    void *state = q->init ? q->init(targ.index, q->arg, err, sizeof(err)) : NULL;
    pthread_mutex_lock(&q->lock);
    if (q->init && state == NULL) {
        q->failed = 1;
        snprintf(q->err, sizeof(q->err), "%s", err[0] ? err : "worker initialisation failed");
    }
    q->started++;
    pthread_cond_broadcast(&q->started_cond);
    pthread_mutex_unlock(&q->lock);
    if (q->init && state == NULL)
        return NULL;

    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->head == NULL && !q->stopping)
            pthread_cond_wait(&q->nonempty, &q->lock);
        dn_work_t *w = q->head;
        if (w == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&q->lock);
            break;
        }
        q->head = w->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);

        dn_metrics_pool_queue_add(q->name, -1);
        dn_metrics_pool_busy_add(q->name, 1);
        w->run(w, state);
        dn_metrics_pool_busy_add(q->name, -1);

        pthread_mutex_lock(&q->lock);
        q->pending--;
        pthread_mutex_unlock(&q->lock);
    }
    if (q->fini)
        q->fini(state);
    return NULL;
}

static void stop_threads(dn_workq_t *q, int n)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < n; i++)
        pthread_join(q->threads[i], NULL);
}

dn_workq_t *dn_workq_new(const char *name, int nthreads, dn_workq_init_fn thread_init, dn_workq_fini_fn thread_fini,
                         void *arg, char *err, size_t errlen)
{
    dn_workq_t *q = calloc(1, sizeof(*q));
    int created = 0;
    if (q == NULL)
        goto fail;
    snprintf(q->name, sizeof(q->name), "%s", name);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->started_cond, NULL);
    q->init = thread_init;
    q->fini = thread_fini;
    q->arg = arg;
    q->nthreads = nthreads;
    q->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (q->threads == NULL)
        goto fail;
    for (; created < nthreads; created++) {
        thread_arg_t *targ = malloc(sizeof(*targ));
        if (targ == NULL)
            goto fail;
        targ->q = q;
        targ->index = created;
        if (pthread_create(&q->threads[created], NULL, worker_main, targ) != 0) {
            free(targ);
            goto fail;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->started < nthreads)
        pthread_cond_wait(&q->started_cond, &q->lock);
    int failed = q->failed;
    pthread_mutex_unlock(&q->lock);
    if (failed) {
        snprintf(err, errlen, "%s", q->err);
        stop_threads(q, created);
        created = 0;
        goto fail_quiet;
    }
    dn_metrics_pool_set_total(q->name, nthreads);
    return q;

fail:
    snprintf(err, errlen, "cannot start the %s pool", name);
fail_quiet:
    if (q != NULL) {
        if (created > 0) {
            pthread_mutex_lock(&q->lock);
            while (q->started < created)
                pthread_cond_wait(&q->started_cond, &q->lock);
            pthread_mutex_unlock(&q->lock);
            stop_threads(q, created);
        }
        free(q->threads);
        free(q);
    }
    return NULL;
}

void dn_workq_push(dn_workq_t *q, dn_work_t *work)
{
    work->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = work;
    else
        q->head = work;
    q->tail = work;
    q->pending++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    dn_metrics_pool_queue_add(q->name, 1);
}

int dn_workq_pending(dn_workq_t *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->pending;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void dn_workq_free(dn_workq_t *q)
{
    if (q == NULL)
        return;
    stop_threads(q, q->nthreads);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->started_cond);
    free(q->threads);
    free(q);
}
