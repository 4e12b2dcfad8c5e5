/* Thread pool: N - 1 parked workers plus the caller, one job at a time.
 *
 * A job is (task, ctx, n, chunk). The caller publishes it by bumping a
 * generation counter; every thread then claims chunks from one atomic
 * cursor until the range is exhausted (dynamic scheduling: on a shared or
 * throttled machine a slow thread takes fewer chunks instead of holding the
 * others up), and the last worker to finish wakes the caller. Waiting spins
 * briefly before sleeping on a condition variable: a MobileNetV2 image is
 * ~55 jobs of 50 µs – 1 ms each, and a futex wake-up per job would cost a
 * noticeable share of that, while spinning for long steals the core from
 * whatever else runs (the machine, or the page). */
#include "tabtrain/threadpool.h"

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define TT_POOL_HAVE_THREADS 0
#else
#define TT_POOL_HAVE_THREADS 1
#endif

#if TT_POOL_HAVE_THREADS
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#endif
#ifdef __EMSCRIPTEN__
#include <emscripten/threading.h>
#endif

/* Polls of a shared counter before a thread sleeps: ~20-60 µs. */
#define TT_POOL_SPIN 20000

int tt_pool_threads_supported(void) { return TT_POOL_HAVE_THREADS; }

int tt_pool_cores(void) {
    long n;
#ifdef __EMSCRIPTEN__
    n = emscripten_num_logical_cores();
#else
    n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (n < 1) n = 1;
    return n > TT_POOL_MAX_THREADS ? TT_POOL_MAX_THREADS : (int)n;
}

#if TT_POOL_HAVE_THREADS

/* Set on the pool's workers (and on a caller while it runs a job): a
 * tt_pool_for issued from inside a task runs serially. */
static _Thread_local int tt_pool_busy;

typedef struct tt_pool_worker {
    struct tt_pool *pool;
    int id;
    pthread_t thread;
} tt_pool_worker;

struct tt_pool {
    int threads, started;
    tt_pool_worker workers[TT_POOL_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint gen;  /* bumped once per job (and once to stop) */
    atomic_int stop;
    /* the current job, written before gen is bumped */
    tt_pool_task task;
    void *ctx;
    int n, chunk;
    atomic_int next;    /* first unclaimed item */
    atomic_int pending; /* workers that have not finished the job */
};

static void tt_pool_run_chunks(struct tt_pool *p, int worker) {
    for (;;) {
        int b = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        if (b >= p->n) return;
        int e = p->n - b < p->chunk ? p->n : b + p->chunk;
        p->task(p->ctx, b, e, worker);
    }
}

static void *tt_pool_worker_main(void *arg) {
    tt_pool_worker *w = arg;
    struct tt_pool *p = w->pool;
    unsigned seen = 0;
    tt_pool_busy = 1;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int s = 0; g == seen && s < TT_POOL_SPIN; s++)
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        tt_pool_run_chunks(p, w->id);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Publishes a new generation (a job, or the stop request) to the workers. */
static void tt_pool_publish(struct tt_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

tt_status tt_pool_init(tt_pool **out, int threads) {
    if (!out) return tt_error(TT_ERR_INVALID_ARG, "tt_pool_init: out is NULL");
    *out = NULL;
    if (threads < 1 || threads > TT_POOL_MAX_THREADS)
        return tt_error(TT_ERR_INVALID_ARG, "threads must be in [1, %d] (got %d)",
                        TT_POOL_MAX_THREADS, threads);
    if (threads == 1) return TT_OK;
    struct tt_pool *p = calloc(1, sizeof *p);
    if (!p) return tt_error(TT_ERR_NOMEM, "thread pool: no memory");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].id = i;
        if (pthread_create(&p->workers[i].thread, NULL, tt_pool_worker_main, &p->workers[i])) {
            tt_pool_free(p);
            return tt_error(TT_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i + 1,
                            threads);
        }
        p->started = i;
    }
    *out = p;
    return TT_OK;
}

void tt_pool_free(tt_pool *p) {
    if (!p) return;
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    tt_pool_publish(p);
    for (int i = 1; i <= p->started; i++) pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int tt_pool_threads(const tt_pool *p) { return p ? p->threads : 1; }

void tt_pool_for(tt_pool *p, int n, int grain, tt_pool_task task, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!p || tt_pool_busy || n <= grain) {
        task(ctx, 0, n, 0);
        return;
    }
    /* About four chunks per thread: enough to even out a slow thread, few
     * enough that claiming them costs nothing next to the work. */
    int chunk = (n + 4 * p->threads - 1) / (4 * p->threads);
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk < grain ? grain : chunk;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->threads - 1, memory_order_relaxed);
    tt_pool_publish(p);
    tt_pool_busy = 1;
    tt_pool_run_chunks(p, 0);
    tt_pool_busy = 0;
    for (int s = 0; s < TT_POOL_SPIN; s++)
        if (!atomic_load_explicit(&p->pending, memory_order_acquire)) return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire))
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

#else /* single-threaded WebAssembly build */

tt_status tt_pool_init(tt_pool **out, int threads) {
    if (!out) return tt_error(TT_ERR_INVALID_ARG, "tt_pool_init: out is NULL");
    *out = NULL;
    if (threads == 1) return TT_OK;
    if (threads < 1 || threads > TT_POOL_MAX_THREADS)
        return tt_error(TT_ERR_INVALID_ARG, "threads must be in [1, %d] (got %d)",
                        TT_POOL_MAX_THREADS, threads);
    return tt_error(TT_ERR_UNSUPPORTED, "this build runs on one thread (asked for %d)", threads);
}

void tt_pool_free(tt_pool *p) { (void)p; }

int tt_pool_threads(const tt_pool *p) {
    (void)p;
    return 1;
}

void tt_pool_for(tt_pool *p, int n, int grain, tt_pool_task task, void *ctx) {
    (void)p;
    (void)grain;
    if (n > 0) task(ctx, 0, n, 0);
}

#endif
