/* bench.h — shared pieces of tabtrain-bench: a monotonic clock, a timer that
 * calibrates how many calls make one sample and reports the median and best
 * of several samples, and the one-JSON-line-per-measurement conventions.
 *
 * Each benchmark is `int tt_bench_<name>(int argc, char **argv)`, listed in
 * bench.c's table; argv[0] is the benchmark's name, the rest its options.
 */
#ifndef TT_BENCH_H
#define TT_BENCH_H

#include "tabtrain/threadpool.h"

#ifndef TT_ENGINE_NAME
#define TT_ENGINE_NAME "tabtrain"
#endif
#if defined(TT_BENCH_WHERE_BROWSER)
#define TT_BENCH_WHERE "chromium"
#elif defined(__EMSCRIPTEN__)
#define TT_BENCH_WHERE "node"
#else
#define TT_BENCH_WHERE "native"
#endif

typedef struct tt_bench_opts {
    double sample_ms; /* target duration of one timed sample */
    int runs;         /* timed samples (median reported) */
    int warmup;       /* untimed samples after calibration */
    tt_pool *pool;    /* --threads (tt_bench_pool), for the kernel benchmarks */
    int threads;
} tt_bench_opts;

typedef struct tt_bench_result {
    double ms;      /* median per call */
    double best_ms; /* fastest sample, per call */
    int reps;       /* calls per sample */
} tt_bench_result;

/* Milliseconds from a monotonic clock. */
double tt_bench_now_ms(void);
/* Sorts x[0..n) and returns its median. */
double tt_bench_median(double *x, int n);
/* Times fn(ctx): one call to calibrate, reps calls per sample so a sample
 * lasts about opts->sample_ms, opts->warmup untimed samples, then opts->runs
 * timed ones. */
tt_bench_result tt_bench_time(void (*fn)(void *), void *ctx, const tt_bench_opts *opts);
/* Parses the common options --ms X, --runs N, --warmup N from argv[1..);
 * leaves others for the caller. Returns 0, or -1 on a bad value. */
int tt_bench_parse_opts(int argc, char **argv, tt_bench_opts *opts);

/* `--threads N` of every benchmark (default 1): the pool to pass down (NULL
 * for 1) and its count in *threads, reported as "threads" in each line.
 * Returns -1 after printing an error. */
int tt_bench_pool(int argc, char **argv, tt_pool **pool, int *threads);

int tt_bench_gemm(int argc, char **argv);
int tt_bench_dwconv(int argc, char **argv);
int tt_bench_mnv2(int argc, char **argv);
int tt_bench_head(int argc, char **argv);
int tt_bench_tune(int argc, char **argv);
int tt_bench_ckpt(int argc, char **argv);
int tt_bench_photos(int argc, char **argv);
int tt_bench_extract(int argc, char **argv);

#endif
