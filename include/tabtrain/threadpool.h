/* tabtrain/threadpool.h — a fixed set of worker threads and a parallel-for.
 *
 * Created once with N threads (the caller's thread counts as one: N - 1
 * workers are started), then handed down to whatever computes (models,
 * kernels), ggml/XNNPACK style: a function that takes a `tt_pool *` splits its
 * independent outputs into ranges and runs them through tt_pool_for. A NULL
 * pool is one thread: tt_pool_for then calls the task once over the whole
 * range on the caller's thread, which is exactly the serial code path.
 *
 *     tt_pool *pool;                                  // NULL when threads == 1
 *     if ((st = tt_pool_init(&pool, tt_pool_cores()))) return st;
 *     tt_pool_for(pool, rows, 4, row_task, &ctx);     // row_task(ctx, r0, r1, worker)
 *     tt_pool_free(pool);
 *
 * Determinism is the callers' contract, not the pool's: tasks must write
 * disjoint outputs and never reduce across ranges, so the result does not
 * depend on how the range was cut (which varies with the thread count and
 * with timing). tt_pool_for never allocates. A tt_pool_for issued from inside
 * a task runs serially on that thread (no nested parallelism, no deadlock).
 * One tt_pool_for runs at a time per pool: a pool belongs to one caller
 * thread, like the handles it is given to.
 *
 * Natively the workers are pthreads; in WebAssembly they are Emscripten
 * pthreads (web workers over shared memory), which exist only in the
 * threaded build (-pthread): there tt_pool_threads_supported() is 1 and
 * tt_pool_init with threads > 1 fails with TT_ERR_UNSUPPORTED otherwise.
 */
#ifndef TABTRAIN_THREADPOOL_H
#define TABTRAIN_THREADPOOL_H

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound on threads per pool (kernels size per-thread scratch by it). */
#define TT_POOL_MAX_THREADS 64

typedef struct tt_pool tt_pool;

/* Runs items [begin, end) on worker `worker` (0 = the caller's thread,
 * 1..threads-1 the pool's workers; an index into per-thread scratch). */
typedef void (*tt_pool_task)(void *ctx, int begin, int end, int worker);

/* threads in [1, TT_POOL_MAX_THREADS]; *out is NULL for 1 (no threads
 * started). */
tt_status tt_pool_init(tt_pool **out, int threads);
/* Stops and joins the workers; NULL is a no-op. */
void tt_pool_free(tt_pool *pool);
/* Threads that run a tt_pool_for: 1 for NULL. */
int tt_pool_threads(const tt_pool *pool);

/* Calls task over [0, n) cut into ranges of at least `grain` items (>= 1),
 * on every thread of the pool, and returns when all ranges are done. */
void tt_pool_for(tt_pool *pool, int n, int grain, tt_pool_task task, void *ctx);

/* Cores this machine (or browser) reports, at least 1, at most
 * TT_POOL_MAX_THREADS: the default thread count of the front ends. */
int tt_pool_cores(void);
/* 1 when this build can start threads. */
int tt_pool_threads_supported(void);

#ifdef __cplusplus
}
#endif
#endif
