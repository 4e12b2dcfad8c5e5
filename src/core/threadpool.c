/* Thread pool: N - 1 parked workers plus the caller, one job at a time.
 *
 * A job is (task, ctx, n, chunk): n items cut into chunks. Every thread owns
 * a contiguous share of the chunks, the same share in every job of the same
 * size, and takes its chunks front to back; a thread that runs out steals
 * chunks from the back of the others' shares (pthreadpool's scheme). Fixed
 * shares keep data in the core that wrote it: in a forward pass at batch 1,
 * thread t computes the same rows of the expansion, the depthwise and the
 * projection layers, which at 28×28 and below fit its L2. Stealing keeps a
 * thread that starts late or is descheduled (the page, other processes)
 * from holding the others up: its chunks are taken over one at a time.
 *
 * Who waits for whom: the caller publishes a job by bumping a generation in
 * `state`, runs its share, steals what is left, then closes the job and
 * waits only for the workers that joined it (the active count in `state`)
 * to finish the chunks they hold. A worker that wakes after the job closed
 * never touches it, so a late worker costs the caller nothing.
 *
 * Waiting spins briefly before sleeping on a condition variable: a
 * MobileNetV2 image at batch 1 is ~55 jobs of 20 µs – 1 ms each, and a futex
 * wake-up per job would cost a noticeable share of that, while spinning for
 * long steals the core from whatever else runs. A condition variable is
 * touched only when someone sleeps on it. */
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
#include <string.h>
#include <unistd.h>
#endif
#ifdef __EMSCRIPTEN__
#include <emscripten/threading.h>
#endif

/* Polls of a shared word before a thread sleeps: ~20-60 µs. */
#define TT_POOL_SPIN 20000
/* At most this many chunks per thread and job: claiming one is two atomics
 * on a line of its own, noise next to the chunk's work. */
#define TT_POOL_CHUNKS_PER_THREAD 64

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

/* `state`: bits 0-7 the workers in the current job, bit 8 "open" (workers
 * may still join), bits 9-31 the generation. */
#define TT_POOL_ACTIVE 0xffu
#define TT_POOL_OPEN 0x100u
#define TT_POOL_GEN_SHIFT 9

/* One thread's share of a job's chunks, on a cache line of its own:
 * [start, end) not yet claimed, `left` = end - start as reservations. The
 * owner claims at start, thieves at end; a claim is valid only if it
 * reserved one of `left` first, so the two ends never cross. */
typedef struct tt_pool_share {
    _Alignas(64) atomic_int start;
    atomic_int end, left;
} tt_pool_share;

typedef struct tt_pool_worker {
    struct tt_pool *pool;
    int id;
    pthread_t thread;
} tt_pool_worker;

struct tt_pool {
    tt_pool_share share[TT_POOL_MAX_THREADS];
    _Alignas(64) atomic_uint state;
    atomic_int sleepers, caller_sleeps, stop;
    /* the current job, written before the generation is bumped */
    tt_pool_task task;
    void *ctx;
    int n, chunk;
    int threads, started;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    tt_pool_worker workers[TT_POOL_MAX_THREADS];
};

static unsigned tt_pool_gen(unsigned s) { return s >> TT_POOL_GEN_SHIFT; }

/* Runs chunks of share s until it is empty: from the front for its owner,
 * from the back for a thief. */
static void tt_pool_drain(struct tt_pool *p, tt_pool_share *s, int worker, int steal) {
    while (atomic_fetch_sub_explicit(&s->left, 1, memory_order_relaxed) > 0) {
        int c = steal ? atomic_fetch_sub_explicit(&s->end, 1, memory_order_relaxed) - 1
                      : atomic_fetch_add_explicit(&s->start, 1, memory_order_relaxed);
        int b = c * p->chunk, e = p->n - b < p->chunk ? p->n : b + p->chunk;
        p->task(p->ctx, b, e, worker);
    }
}

static void tt_pool_work(struct tt_pool *p, int worker) {
    tt_pool_drain(p, &p->share[worker], worker, 0);
    for (int k = 1; k < p->threads; k++) {
        int v = worker + k < p->threads ? worker + k : worker + k - p->threads;
        tt_pool_drain(p, &p->share[v], worker, 1);
    }
}

static void *tt_pool_worker_main(void *arg) {
    tt_pool_worker *w = arg;
    struct tt_pool *p = w->pool;
    unsigned seen = 0;
    tt_pool_busy = 1;
    for (;;) {
        unsigned s = atomic_load_explicit(&p->state, memory_order_acquire);
        for (int k = 0; tt_pool_gen(s) == seen && k < TT_POOL_SPIN; k++)
            s = atomic_load_explicit(&p->state, memory_order_acquire);
        if (tt_pool_gen(s) == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (tt_pool_gen(s = atomic_load(&p->state)) == seen) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        /* Join the job if it is still open; a closed one is over. */
        while ((s & TT_POOL_OPEN) &&
               !atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acquire,
                                                      memory_order_acquire)) {
        }
        seen = tt_pool_gen(s);
        if (!(s & TT_POOL_OPEN)) continue;
        tt_pool_work(p, w->id);
        s = atomic_fetch_sub(&p->state, 1);
        if ((s & (TT_POOL_ACTIVE | TT_POOL_OPEN)) == 1 && atomic_load(&p->caller_sleeps)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Publishes the next generation (a job, or the stop request), open. */
static void tt_pool_publish(struct tt_pool *p) {
    unsigned s = atomic_load_explicit(&p->state, memory_order_relaxed);
    atomic_store(&p->state, ((tt_pool_gen(s) + 1) << TT_POOL_GEN_SHIFT) | TT_POOL_OPEN);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

tt_status tt_pool_init(tt_pool **out, int threads) {
    if (!out) return tt_error(TT_ERR_INVALID_ARG, "tt_pool_init: out is NULL");
    *out = NULL;
    if (threads < 1 || threads > TT_POOL_MAX_THREADS)
        return tt_error(TT_ERR_INVALID_ARG, "threads must be in [1, %d] (got %d)",
                        TT_POOL_MAX_THREADS, threads);
    if (threads == 1) return TT_OK;
    struct tt_pool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
    if (!p) return tt_error(TT_ERR_NOMEM, "thread pool: no memory");
    memset(p, 0, sizeof *p);
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
    const int T = p->threads;
    int most = T * TT_POOL_CHUNKS_PER_THREAD;
    int chunk = n / most >= grain ? (n + most - 1) / most : grain;
    int chunks = (n + chunk - 1) / chunk;
    p->task = task;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    for (int t = 0; t < T; t++) {
        int b = (int)((long)chunks * t / T), e = (int)((long)chunks * (t + 1) / T);
        atomic_store_explicit(&p->share[t].start, b, memory_order_relaxed);
        atomic_store_explicit(&p->share[t].end, e, memory_order_relaxed);
        atomic_store_explicit(&p->share[t].left, e - b, memory_order_relaxed);
    }
    tt_pool_publish(p);
    tt_pool_busy = 1;
    tt_pool_work(p, 0);
    tt_pool_busy = 0;
    /* Every chunk is claimed: close the job and wait for the workers that
     * hold one. */
    unsigned s = atomic_fetch_and(&p->state, ~TT_POOL_OPEN);
    for (int k = 0; (s & TT_POOL_ACTIVE) && k < TT_POOL_SPIN; k++)
        s = atomic_load_explicit(&p->state, memory_order_acquire);
    if (!(s & TT_POOL_ACTIVE)) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeps, 1);
    while (atomic_load(&p->state) & TT_POOL_ACTIVE) pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->caller_sleeps, 0);
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
