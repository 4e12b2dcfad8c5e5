/* tabtrain-bench: `tabtrain-bench <name> [options]` runs one benchmark and
 * prints one JSON line per measurement (the peers' shape, see
 * ../shared/peers/README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} tt_benches[] = {
    {"gemm", tt_bench_gemm, "f32 GEMM GFLOP/s: squares and MobileNetV2 pointwise shapes"},
    {"dwconv", tt_bench_dwconv, "depthwise and stem conv at MobileNetV2 shapes, and depthwise backward"},
    {"mnv2", tt_bench_mnv2, "MobileNetV2 224 features, ms/image at batch 1 and 32"},
    {"head", tt_bench_head, "dense head 1280->5 training, Adam, batch 32 (the peers' head_train)"},
    {"tune", tt_bench_tune, "fine-tuning step with the last K blocks unfrozen (--unfreeze 1,2), batch 32"},
    {"ckpt", tt_bench_ckpt, "checkpoint size, save (atomic file, directory) and restore time, default head"},
    {"extract", tt_bench_extract, "feature extraction images/s on real photos: decode+preprocess, backbone, pipeline"},
    {"photos", tt_bench_photos, "writes synthetic 4000x3000 JPEG photos (--out DIR --n N) for the web benchmarks"},
};

double tt_bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int tt_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tt_bench_median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, tt_cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double tt_bench_sample(void (*fn)(void *), void *ctx, int reps) {
    double t0 = tt_bench_now_ms();
    for (int r = 0; r < reps; r++) fn(ctx);
    return tt_bench_now_ms() - t0;
}

tt_bench_result tt_bench_time(void (*fn)(void *), void *ctx, const tt_bench_opts *opts) {
    enum { MAX_RUNS = 101 };
    double t[MAX_RUNS];
    int runs = opts->runs < 1 ? 1 : opts->runs > MAX_RUNS ? MAX_RUNS : opts->runs;
    fn(ctx); /* first touch of the buffers */
    double once = tt_bench_sample(fn, ctx, 1);
    int reps = (int)(opts->sample_ms / (once > 1e-3 ? once : 1e-3) + 0.5);
    if (reps < 1) reps = 1;
    for (int w = 0; w < opts->warmup; w++) tt_bench_sample(fn, ctx, reps);
    for (int i = 0; i < runs; i++) t[i] = tt_bench_sample(fn, ctx, reps);
    tt_bench_result r;
    r.ms = tt_bench_median(t, runs) / reps;
    r.best_ms = t[0] / reps; /* sorted by tt_bench_median */
    r.reps = reps;
    return r;
}

int tt_bench_parse_opts(int argc, char **argv, tt_bench_opts *opts) {
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--ms")) opts->sample_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runs")) opts->runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) opts->warmup = atoi(argv[++i]);
    }
    return opts->sample_ms > 0 && opts->runs > 0 && opts->warmup >= 0 ? 0 : -1;
}

int tt_bench_pool(int argc, char **argv, tt_pool **pool, int *threads) {
    *threads = 1;
    *pool = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--threads")) *threads = atoi(argv[++i]);
    if (!tt_pool_init(pool, *threads)) return 0;
    fprintf(stderr, "tabtrain-bench: --threads %d: %s\n", *threads, tt_last_error());
    return -1;
}

static void tt_usage(void) {
    fprintf(stderr, "usage: tabtrain-bench <name> [--threads N] [--ms X] [--runs N] [--warmup N] [...]\n");
    for (size_t i = 0; i < sizeof tt_benches / sizeof tt_benches[0]; i++)
        fprintf(stderr, "  %-8s %s\n", tt_benches[i].name, tt_benches[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        tt_usage();
        return 2;
    }
    for (size_t i = 0; i < sizeof tt_benches / sizeof tt_benches[0]; i++)
        if (!strcmp(argv[1], tt_benches[i].name)) return tt_benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tabtrain-bench: unknown benchmark '%s'\n", argv[1]);
    tt_usage();
    return 2;
}
