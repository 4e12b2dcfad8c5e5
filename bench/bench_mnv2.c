/* `tabtrain-bench mnv2 [--model PATH] [--batch 1,32] [--runs N] [--warmup N] [--threads N]`
 * MobileNetV2 224 forward to the 1280-d features, in the
 * peers' line shape (../shared/peers/mnv2.mjs): ms_per_image is the median
 * timed run divided by the batch. Inputs are seeded uniform [0, 1) pixels,
 * made once outside the timing, as the peers do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/simd.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/rng.h"
#include "tabtrain/safetensors.h"

typedef struct mnv2_ctx {
    tt_mnv2 *m;
    int batch;
    const float *in;
    float *feat;
} mnv2_ctx;

static void mnv2_call(void *p) {
    mnv2_ctx *c = p;
    (void)tt_mnv2_features(c->m, c->batch, c->in, c->feat);
}

int tt_bench_mnv2(int argc, char **argv) {
    const char *model = "models/mobilenet_v2_1.0_224.safetensors";
    const char *batches = "1,32";
    int runs = -1, warmup = -1;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--model")) model = argv[++i];
        else if (!strcmp(argv[i], "--batch")) batches = argv[++i];
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[++i]);
    }
    tt_st_file *f;
    tt_mnv2 *m;
    tt_pool *pool;
    int threads;
    if (tt_bench_pool(argc, argv, &pool, &threads)) return 1;
    if (tt_st_open_file(&f, model) || tt_mnv2_init(&m, f, 224) || tt_mnv2_set_pool(m, pool)) {
        fprintf(stderr, "bench mnv2: %s\n", tt_last_error());
        return 1;
    }
    tt_st_close(f);
    tt_mnv2_info info = tt_mnv2_get_info(m);
    int rc = 0;
    for (const char *p = batches; *p && !rc;) {
        int batch = atoi(p);
        p += strcspn(p, ",");
        p += *p == ',';
        if (batch < 1) continue;
        size_t in_n = (size_t)batch * 224 * 224 * 3;
        float *in = malloc(in_n * sizeof(float));
        float *feat = malloc((size_t)batch * info.feature_dim * sizeof(float));
        if (!in || !feat) {
            fprintf(stderr, "bench mnv2: out of memory at batch %d\n", batch);
            rc = 1;
        } else {
            tt_rng r;
            tt_rng_seed(&r, 7, TT_STREAM_TEST);
            for (size_t i = 0; i < in_n; i++) in[i] = tt_rng_uniform(&r);
            /* The peers' defaults: 5 warm-up + 25 runs at batch 1, 2 + 7 above. */
            tt_bench_opts o = {.sample_ms = 0, .runs = runs > 0 ? runs : batch == 1 ? 25 : 7,
                               .warmup = warmup >= 0 ? warmup : batch == 1 ? 5 : 2};
            mnv2_ctx c = {m, batch, in, feat};
            tt_bench_result t = tt_bench_time(mnv2_call, &c, &o);
            double sum = 0;
            for (int k = 0; k < info.feature_dim; k++) sum += feat[k];
            double ms_img = t.ms / batch;
            printf("{\"bench\":\"mnv2\",\"engine\":\"%s\",\"impl\":\"fused\",\"isa\":\"%s\","
                   "\"simd\":%s,\"threads\":%d,\"batch\":%d,\"ms_per_image\":%.3f,"
                   "\"images_per_s\":%.3f,\"mflops_per_image\":%.3f,\"gflops\":%.3f,"
                   "\"ms_per_batch_median\":%.3f,\"ms_per_batch_min\":%.3f,\"runs\":%d,"
                   "\"feature_sum_img0\":%.2f,\"where\":\"%s\"}\n",
                   TT_ENGINE_NAME, TT_ISA_NAME, strcmp(TT_ISA_NAME, "scalar") ? "true" : "false",
                   threads, batch, ms_img, 1000.0 / ms_img, info.flops / 1e6, info.flops / ms_img / 1e6,
                   t.ms, t.best_ms, o.runs, sum, TT_BENCH_WHERE);
            fflush(stdout);
        }
        free(in);
        free(feat);
    }
    tt_mnv2_free(m);
    tt_pool_free(pool);
    return rc;
}
