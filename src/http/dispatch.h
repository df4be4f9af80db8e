/*
 * dispatch.h - worker pools that run blocking work off the event loops.
 *
 * A pool is a fixed set of threads fed from one FIFO queue. Each thread owns
 * a state built by thread_init (a store connection, for the store pool) that
 * only it touches. The submitter gets its result back by whatever means the
 * work item carries (the HTTP glue posts to the originating loop with
 * h2o_multithread). Separate pools keep CPU-heavy work (password hashing)
 * from starving store work.
 */
#ifndef DN_HTTP_DISPATCH_H
#define DN_HTTP_DISPATCH_H

#include <stddef.h>

typedef struct dn_work {
    struct dn_work *next;
    /* Runs on a pool thread with that thread's state. */
    void (*run)(struct dn_work *work, void *thread_state);
} dn_work_t;

typedef struct dn_workq dn_workq_t;

typedef void *(*dn_workq_init_fn)(int index, void *arg, char *err, size_t errlen);
typedef void (*dn_workq_fini_fn)(void *thread_state);

/**
 * Start nthreads threads; each calls thread_init(index, arg) first (NULL
 * from it is a failure: the pool is stopped and NULL returned with err
 * filled). name labels the pool in /metrics.
 */
dn_workq_t *dn_workq_new(const char *name, int nthreads, dn_workq_init_fn thread_init, dn_workq_fini_fn thread_fini,
                         void *arg, char *err, size_t errlen);
/** Queue work; never blocks on the workers. The pool must be running. */
void dn_workq_push(dn_workq_t *q, dn_work_t *work);
/** Items queued or running right now. */
int dn_workq_pending(dn_workq_t *q);
/** Finish every queued item, stop the threads (calling thread_fini) and free the pool. */
void dn_workq_free(dn_workq_t *q);

#endif
