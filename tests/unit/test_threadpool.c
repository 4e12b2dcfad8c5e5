/* Thread pool: every item of every job runs exactly once, on a valid
 * worker, for 1..8 threads and many short jobs in a row (the pattern of a
 * forward pass); a slow thread's share is taken over; nested calls run
 * serially; bad counts are errors. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tabtrain/threadpool.h"
#include "tt_test.h"

enum { ITEMS = 1000 };

typedef struct visit_ctx {
    atomic_int hits[ITEMS];
    atomic_int bad_worker, bad_range;
    int threads;
    tt_pool *pool; /* for the nested call */
} visit_ctx;

static void visit(void *arg, int b, int e, int worker) {
    visit_ctx *c = arg;
    if (worker < 0 || worker >= c->threads) atomic_fetch_add(&c->bad_worker, 1);
    if (b < 0 || e > ITEMS || b >= e) atomic_fetch_add(&c->bad_range, 1);
    for (int i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static int pool_counts[] = {1, 2, 3, 8};

static void every_item_once_for_every_thread_count(void **state) {
    (void)state;
    static visit_ctx c;
    for (size_t t = 0; t < sizeof pool_counts / sizeof *pool_counts; t++) {
        int threads = pool_counts[t];
        if (threads > 1 && !tt_pool_threads_supported()) continue;
        tt_pool *pool;
        tt_assert_ok(tt_pool_init(&pool, threads));
        assert_true((pool == NULL) == (threads == 1));
        assert_int_equal(tt_pool_threads(pool), threads);
        memset(&c, 0, sizeof c);
        c.threads = threads;
        /* Many short jobs in a row, with sizes around the chunking edges. */
        int jobs = 0;
        for (int rep = 0; rep < 100; rep++)
            for (int n = 1; n <= ITEMS; n = n * 3 + rep % 2, jobs++)
                tt_pool_for(pool, n, 1 + rep % 5, visit, &c);
        for (int i = 0; i < ITEMS; i++) {
            int want = 0;
            for (int rep = 0; rep < 100; rep++)
                for (int n = 1; n <= ITEMS; n = n * 3 + rep % 2) want += i < n;
            if (atomic_load(&c.hits[i]) != want)
                fail_msg("%d threads: item %d ran %d times, want %d", threads, i,
                         atomic_load(&c.hits[i]), want);
        }
        assert_int_equal(atomic_load(&c.bad_worker), 0);
        assert_int_equal(atomic_load(&c.bad_range), 0);
        tt_pool_for(pool, 0, 1, visit, &c); /* empty: no call */
        assert_true(jobs > 100);
        tt_pool_free(pool);
    }
}

static void nested(void *arg, int b, int e, int worker) {
    visit_ctx *c = arg;
    /* A pool call from inside a task runs on this thread only. */
    for (int i = b; i < e; i++) {
        visit_ctx inner;
        memset(&inner, 0, sizeof inner);
        inner.threads = 1; /* any worker other than 0 would count as bad */
        tt_pool_for(c->pool, ITEMS, 1, visit, &inner);
        if (atomic_load(&inner.bad_worker) || atomic_load(&inner.hits[ITEMS - 1]) != 1)
            atomic_fetch_add(&c->bad_worker, 1);
        atomic_fetch_add(&c->hits[i], 1);
    }
    (void)worker;
}

static void nested_calls_run_serially(void **state) {
    (void)state;
    if (!tt_pool_threads_supported()) skip();
    static visit_ctx c;
    memset(&c, 0, sizeof c);
    tt_assert_ok(tt_pool_init(&c.pool, 3));
    c.threads = 3;
    tt_pool_for(c.pool, 12, 1, nested, &c);
    for (int i = 0; i < 12; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    assert_int_equal(atomic_load(&c.bad_worker), 0);
    tt_pool_free(c.pool);
}

typedef struct slow_ctx {
    atomic_int hits[40];
    atomic_int by_caller;
} slow_ctx;

/* Worker 1 is slow (a descheduled or late thread): the caller, done with
 * its own share, takes over the rest of worker 1's. */
static void slow_worker(void *arg, int b, int e, int worker) {
    slow_ctx *c = arg;
    for (int i = b; i < e; i++) {
        if (worker == 1) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (worker == 0) atomic_fetch_add(&c->by_caller, 1);
        atomic_fetch_add(&c->hits[i], 1);
    }
}

static void a_slow_threads_share_is_stolen(void **state) {
    (void)state;
    if (!tt_pool_threads_supported()) skip();
    static slow_ctx c;
    memset(&c, 0, sizeof c);
    tt_pool *pool;
    tt_assert_ok(tt_pool_init(&pool, 2));
    tt_pool_for(pool, 40, 1, slow_worker, &c);
    for (int i = 0; i < 40; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    /* Worker 1 would need 400 ms for its 20 items; the caller needs none. */
    if (atomic_load(&c.by_caller) <= 20)
        fail_msg("the caller ran %d of 40 items: nothing was stolen from the slow worker",
                 atomic_load(&c.by_caller));
    tt_pool_free(pool);
}

static void bad_counts_are_errors(void **state) {
    (void)state;
    tt_pool *pool = (tt_pool *)&pool;
    assert_int_equal(tt_pool_init(&pool, 0), TT_ERR_INVALID_ARG);
    assert_null(pool);
    assert_int_equal(tt_pool_init(&pool, TT_POOL_MAX_THREADS + 1), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "threads must be in [1, 64]"));
    if (!tt_pool_threads_supported()) {
        assert_int_equal(tt_pool_init(&pool, 2), TT_ERR_UNSUPPORTED);
        assert_null(pool);
    }
    int cores = tt_pool_cores();
    assert_true(cores >= 1 && cores <= TT_POOL_MAX_THREADS);
    tt_pool_free(NULL);
    assert_int_equal(tt_pool_threads(NULL), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_once_for_every_thread_count),
        cmocka_unit_test(nested_calls_run_serially),
        cmocka_unit_test(a_slow_threads_share_is_stolen),
        cmocka_unit_test(bad_counts_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
