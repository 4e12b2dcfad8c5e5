/* `tabtrain-bench gemm [--sizes 256,512,1024] [--no-pw] [--shapes MxKxN,...] [--ms X] [--runs N]`
 * f32 GEMM throughput on the peers' shapes (../shared/peers/gemm.mjs): squares,
 * then every distinct MobileNetV2 pointwise convolution as M=H·W, K=Cin,
 * N=Cout. --shapes runs only the listed shapes (for quick A/B runs). B is packed once outside the timing (TF.js packs on its first call),
 * then tt_f32_gemm_packed is timed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/simd.h"
#include "tabtrain/gemm.h"
#include "tabtrain/rng.h"

typedef struct gemm_ctx {
    tt_pool *pool;
    int M, K, N;
    const float *A, *packed;
    float *C;
} gemm_ctx;

static void gemm_call(void *p) {
    gemm_ctx *g = p;
    tt_f32_gemm_packed(g->pool, g->M, g->N, g->K, g->A, g->K, g->packed, g->C, g->N, NULL);
}

static float *random_matrix(size_t n, tt_rng *r) {
    float *x = malloc(n * sizeof(float));
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = (float)tt_rng_u32(r) * (1.0f / 4294967296.0f) - 0.5f;
    return x;
}

static int bench_one(const char *label, int M, int K, int N, const tt_bench_opts *opts) {
    tt_rng r;
    tt_rng_seed(&r, 3, TT_STREAM_TEST);
    float *A = random_matrix((size_t)M * K, &r), *B = random_matrix((size_t)K * N, &r);
    float *packed = malloc(tt_f32_gemm_packed_size(K, N) * sizeof(float));
    float *C = malloc((size_t)M * N * sizeof(float));
    int ok = A && B && packed && C;
    if (ok) {
        tt_f32_gemm_pack_b(TT_NO_TRANS, K, N, B, N, packed);
        gemm_ctx g = {opts->pool, M, K, N, A, packed, C};
        tt_bench_result t = tt_bench_time(gemm_call, &g, opts);
        double flop = 2.0 * M * K * N;
        printf("{\"bench\":\"gemm\",\"engine\":\"%s\",\"isa\":\"%s\",\"kernel\":\"%s\",\"threads\":%d,"
               "\"op\":\"matMul\",\"label\":\"%s\",\"M\":%d,\"K\":%d,\"N\":%d,\"ms\":%.4g,"
               "\"gflops\":%.2f,\"best_gflops\":%.2f,\"reps\":%d,\"where\":\"%s\"}\n",
               TT_ENGINE_NAME, TT_ISA_NAME, tt_f32_gemm_ukernel_name(), opts->threads, label, M, K, N, t.ms,
               flop / t.ms / 1e6, flop / t.best_ms / 1e6, t.reps, TT_BENCH_WHERE);
        fflush(stdout);
    } else {
        fprintf(stderr, "bench gemm: out of memory at %s\n", label);
    }
    free(A), free(B), free(packed), free(C);
    return ok ? 0 : 1;
}

/* MobileNetV2 pointwise convolutions, labelled as gemm.mjs labels them. */
static const struct {
    const char *block;
    int hw, cin, cout;
} pw_shapes[] = {
    {"block0_0", 112, 32, 16}, {"block1_0", 112, 16, 96}, {"block1_0", 56, 96, 24},
    {"block1_1", 56, 24, 144}, {"block1_1", 56, 144, 24}, {"block2_0", 28, 144, 32},
    {"block2_1", 28, 32, 192}, {"block2_1", 28, 192, 32}, {"block3_0", 14, 192, 64},
    {"block3_1", 14, 64, 384}, {"block3_1", 14, 384, 64}, {"block4_0", 14, 384, 96},
    {"block4_1", 14, 96, 576}, {"block4_1", 14, 576, 96}, {"block5_0", 7, 576, 160},
    {"block5_1", 7, 160, 960}, {"block5_1", 7, 960, 160}, {"block6_0", 7, 960, 320},
    {"head", 7, 320, 1280},
};

int tt_bench_gemm(int argc, char **argv) {
    tt_bench_opts opts = {200.0, 5, 1, NULL, 1};
    const char *sizes = "256,512,1024", *shapes = NULL;
    int pw = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes = argv[++i];
        else if (!strcmp(argv[i], "--no-pw")) pw = 0;
    }
    if (tt_bench_pool(argc, argv, &opts.pool, &opts.threads)) return 1;
    if (tt_bench_parse_opts(argc, argv, &opts)) {
        fprintf(stderr, "bench gemm: bad --ms/--runs/--warmup\n");
        return 2;
    }
    int status = 0;
    if (shapes) {
        for (const char *s = shapes; *s;) {
            int M, K, N, len = 0;
            if (sscanf(s, "%dx%dx%d%n", &M, &K, &N, &len) != 3 || M <= 0 || K <= 0 || N <= 0) {
                fprintf(stderr, "bench gemm: bad --shapes '%s'\n", shapes);
                return 2;
            }
            char label[48];
            snprintf(label, sizeof label, "%dx%dx%d", M, K, N);
            status |= bench_one(label, M, K, N, &opts);
            s += len;
            if (*s == ',') s++;
        }
        return status;
    }
    for (const char *s = sizes; *s;) {
        char *end;
        long n = strtol(s, &end, 10);
        if (end == s || n <= 0) {
            fprintf(stderr, "bench gemm: bad --sizes '%s'\n", sizes);
            return 2;
        }
        char label[32];
        snprintf(label, sizeof label, "square %ld", n);
        status |= bench_one(label, (int)n, (int)n, (int)n, &opts);
        s = *end == ',' ? end + 1 : end;
    }
    for (size_t i = 0; pw && i < sizeof pw_shapes / sizeof pw_shapes[0]; i++) {
        char label[64];
        int hw = pw_shapes[i].hw;
        snprintf(label, sizeof label, "pw %s %dx%d %d->%d", pw_shapes[i].block, hw, hw,
                 pw_shapes[i].cin, pw_shapes[i].cout);
        status |= bench_one(label, hw * hw, pw_shapes[i].cin, pw_shapes[i].cout, &opts);
    }
    return status;
}
