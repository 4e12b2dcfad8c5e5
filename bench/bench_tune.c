/* `tabtrain-bench tune [--model PATH] [--unfreeze 1,2] [--batch 32] [--steps 10] [--warmup 2] [--threads N]`
 * Fine-tuning step time: the last K blocks + head conv of the pretrained
 * MobileNetV2 trained with a linear 5-class head (Adam) through the real
 * trainer, on cached activations of seeded random images. One JSON line per
 * K: the median and fastest step (gather, tail forward, head, loss, backward
 * through both, two optimizer updates) and, separately, the tail's forward
 * alone at the same batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/simd.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/rng.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/tail.h"
#include "tabtrain/trainer.h"

typedef struct tune_ctx {
    tt_tail *tail;
    int batch;
    const float *x;
} tune_ctx;

static void tune_forward(void *p) {
    tune_ctx *c = p;
    (void)tt_tail_forward(c->tail, c->batch, c->x);
}

static int tune_one(tt_pool *pool, tt_mnv2 *m, const tt_st_file *f, int K, int batch, int steps,
                    int warmup) {
    enum { CLASSES = 5 };
    int n = 2 * batch;
    tt_tail *tail = NULL;
    tt_trainer *t = NULL;
    float *img = NULL, *x = NULL;
    int32_t *y = NULL;
    double *ms = malloc((size_t)steps * sizeof(double));
    tt_status st = tt_tail_init(&tail, m, f, K, batch);
    if (st) goto done;
    tt_tail_set_pool(tail, pool);
    tt_tail_info ti = tt_tail_get_info(tail);
    size_t px = (size_t)224 * 224 * 3;
    img = malloc((size_t)n * px * sizeof(float));
    x = malloc((size_t)n * ti.in_dim * sizeof(float));
    y = malloc((size_t)n * sizeof(int32_t));
    if (!ms || !img || !x || !y) {
        st = tt_error(TT_ERR_NOMEM, "out of memory");
        goto done;
    }
    tt_rng r;
    tt_rng_seed(&r, 7, TT_STREAM_TEST);
    for (size_t i = 0; i < (size_t)n * px; i++) img[i] = tt_rng_range(&r, -1.0f, 1.0f);
    for (int i = 0; i < n; i++) y[i] = i % CLASSES;
    if ((st = tt_mnv2_forward_until(m, n, img, ti.first_block, x))) goto done;
    tt_trainer_config cfg = tt_trainer_defaults();
    cfg.batch_size = batch;
    cfg.hidden = 0, cfg.dropout = 0.0f, cfg.label_smoothing = 0.0f, cfg.patience = 0; /* the tail's cost, a linear head */
    cfg.epochs = (steps + warmup) / 2 + 2;
    tt_features train = {x, y, n};
    if ((st = tt_trainer_init_tail(&t, &cfg, tail, CLASSES, &train, NULL))) goto done;
    for (int s = 0; s < warmup && !st; s++) st = tt_trainer_step(t, NULL);
    for (int s = 0; s < steps && !st; s++) {
        double t0 = tt_bench_now_ms();
        st = tt_trainer_step(t, NULL);
        ms[s] = tt_bench_now_ms() - t0;
    }
    if (st) goto done;
    tune_ctx c = {tail, batch, x};
    tt_bench_opts o = {.sample_ms = 0, .runs = steps, .warmup = 1};
    tt_bench_result fwd = tt_bench_time(tune_forward, &c, &o);
    int ne;
    tt_trainer_history(t, &ne);
    double med = tt_bench_median(ms, steps);
    printf("{\"bench\":\"tune_step\",\"engine\":\"%s\",\"isa\":\"%s\",\"threads\":%d,"
           "\"unfreeze\":%d,\"batch\":%d,\"classes\":%d,\"cached_floats_per_image\":%d,"
           "\"tail_params\":%zu,\"tail_workspace_mb\":%.1f,\"ms_per_step\":%.2f,"
           "\"ms_per_step_min\":%.2f,\"tail_forward_ms\":%.2f,\"steps\":%d,\"where\":\"%s\"}\n",
           TT_ENGINE_NAME, TT_ISA_NAME, tt_pool_threads(pool), K, batch, CLASSES, ti.in_dim, ti.params,
           (double)ti.workspace_bytes / (1 << 20), med, ms[0], fwd.ms, steps, TT_BENCH_WHERE);
    fflush(stdout);
done:
    if (st) fprintf(stderr, "bench tune: K=%d: %s: %s\n", K, tt_status_name(st), tt_last_error());
    tt_trainer_free(t);
    tt_tail_free(tail);
    free(img), free(x), free(y), free(ms);
    return st ? 1 : 0;
}

int tt_bench_tune(int argc, char **argv) {
    const char *model = "models/mobilenet_v2_1.0_224.safetensors", *ks = "1,2";
    int batch = 32, steps = 10, warmup = 2;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--model")) model = argv[++i];
        else if (!strcmp(argv[i], "--unfreeze")) ks = argv[++i];
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[++i]);
    }
    if (batch < 1 || steps < 1 || warmup < 0) {
        fprintf(stderr, "bench tune: --batch and --steps must be >= 1\n");
        return 2;
    }
    tt_st_file *f;
    tt_mnv2 *m;
    tt_pool *pool;
    int threads;
    if (tt_bench_pool(argc, argv, &pool, &threads)) return 1;
    if (tt_st_open_file(&f, model) || tt_mnv2_init(&m, f, 224) || tt_mnv2_set_pool(m, pool)) {
        fprintf(stderr, "bench tune: %s\n", tt_last_error());
        return 1;
    }
    int rc = 0;
    for (const char *p = ks; *p && !rc;) {
        int K = atoi(p);
        p += strcspn(p, ",");
        p += *p == ',';
        rc = tune_one(pool, m, f, K, batch, steps, warmup);
    }
    tt_mnv2_free(m);
    tt_st_close(f);
    tt_pool_free(pool);
    return rc;
}
