/* ckpt: checkpoint cost for the default head (1280 → 5 linear, Adam) after
 * one epoch on N synthetic features: size, serialisation to memory, atomic
 * file save (tmp + fsync + rename + dir fsync), a directory save (that plus
 * re-read verification, `latest` and rotation), and open + verify + restore.
 * One JSON line.
 *   tabtrain-bench ckpt [--n 1000] [--hidden 0] [--dir /tmp/tabtrain-bench-ckpt]
 *                       [--saves 20] [--ms 200] [--runs 5] [--warmup 1]
 * File timings are the median (and best) of --saves saves: fsync cost varies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/trainer.h"

typedef struct {
    tt_trainer *t, *fresh;
    const tt_ckpt_meta *m;
    void *bytes;
    size_t len;
    tt_status st;
} tt_ckpt_ctx;

static void tt_ckpt_serialise(void *p) {
    tt_ckpt_ctx *c = p;
    void *b;
    size_t n;
    if ((c->st = tt_ckpt_save_memory(c->t, c->m, &b, &n)) == TT_OK) free(b);
}

static void tt_ckpt_load(void *p) {
    tt_ckpt_ctx *c = p;
    tt_st_file *f;
    if ((c->st = tt_ckpt_open_memory(&f, c->bytes, c->len)) == TT_OK) {
        c->st = tt_ckpt_restore(c->fresh, f);
        tt_st_close(f);
    }
}

static int tt_fail(tt_status st) {
    fprintf(stderr, "ckpt: %s: %s\n", tt_status_name(st), tt_last_error());
    return 1;
}

int tt_bench_ckpt(int argc, char **argv) {
    tt_bench_opts opts = {200.0, 5, 1, NULL, 1};
    if (tt_bench_parse_opts(argc, argv, &opts)) return 2;
    int n = 1000, hidden = 0, saves = 20, dim = 1280, classes = 5;
    const char *dir = "/tmp/tabtrain-bench-ckpt";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--n")) n = atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = atoi(v);
        else if (!strcmp(k, "--dir")) dir = v;
        else if (!strcmp(k, "--saves")) saves = atoi(v);
        else if (strcmp(k, "--ms") && strcmp(k, "--runs") && strcmp(k, "--warmup")) {
            fprintf(stderr, "ckpt: unknown option %s (--n --hidden --dir --saves --ms --runs --warmup)\n", k);
            return 2;
        }
    }
    if (n < 1 || saves < 1 || saves > 1000 || hidden < 0) {
        fprintf(stderr, "ckpt: --n, --saves (<= 1000) must be >= 1, --hidden >= 0\n");
        return 2;
    }
    float *x = malloc((size_t)n * dim * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    double *ms = malloc(2 * (size_t)saves * sizeof(double));
    if (!x || !y || !ms) return fprintf(stderr, "ckpt: out of memory\n"), 1;
    tt_synthetic_features(n, dim, classes, 0.75f, 1, x, y);
    tt_trainer_config cfg = tt_trainer_defaults();
    cfg.hidden = hidden;
    tt_features train = {x, y, n};
    tt_ckpt_meta m = {.classes_json = "[\"a\",\"b\",\"c\",\"d\",\"e\"]",
                      .backbone = "sha256:0000000000000000000000000000000000000000000000000000000000000000"};
    tt_ckpt_ctx c = {.m = &m};
    tt_status st;
    int rc = 0;
    if ((st = tt_trainer_init(&c.t, &cfg, dim, classes, &train, NULL)) ||
        (st = tt_trainer_run_epoch(c.t)) ||
        (st = tt_trainer_init(&c.fresh, &cfg, dim, classes, &train, NULL)) ||
        (st = tt_ckpt_save_memory(c.t, &m, &c.bytes, &c.len))) {
        rc = tt_fail(st);
        goto done;
    }
    tt_bench_result ser = tt_bench_time(tt_ckpt_serialise, &c, &opts);
    tt_bench_result load = tt_bench_time(tt_ckpt_load, &c, &opts);
    if (c.st) {
        rc = tt_fail(c.st);
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/one.safetensors", dir);
    tt_ckpt_policy p = tt_ckpt_policy_defaults();
    tt_ckpt_dir *d;
    if ((st = tt_ckpt_dir_open(&d, dir, &p))) {
        rc = tt_fail(st);
        goto done;
    }
    double *file_ms = ms, *dir_ms = ms + saves;
    for (int i = 0; i < saves && !st; i++) {
        double t0 = tt_bench_now_ms();
        st = tt_ckpt_save_file(c.t, &m, path);
        file_ms[i] = tt_bench_now_ms() - t0;
        /* A new step each time so every directory save writes a new file and rotates. */
        if (!st) st = tt_trainer_step(c.t, NULL);
        t0 = tt_bench_now_ms();
        if (!st) st = tt_ckpt_dir_save(d, c.t, &m);
        dir_ms[i] = tt_bench_now_ms() - t0;
    }
    tt_ckpt_dir_free(d);
    if (st) {
        rc = tt_fail(st);
        goto done;
    }
    double file_best = file_ms[0], dir_best = dir_ms[0];
    for (int i = 1; i < saves; i++) {
        if (file_ms[i] < file_best) file_best = file_ms[i];
        if (dir_ms[i] < dir_best) dir_best = dir_ms[i];
    }
    printf("{\"bench\":\"ckpt\",\"engine\":\"%s\",\"dim\":%d,\"hidden\":%d,\"classes\":%d,"
           "\"optimizer\":\"adam\",\"n_train\":%d,\"bytes\":%zu,\"serialise_ms\":%.4f,"
           "\"save_file_ms\":%.3f,\"save_file_best_ms\":%.3f,\"dir_save_ms\":%.3f,"
           "\"dir_save_best_ms\":%.3f,\"open_restore_ms\":%.4f,\"saves\":%d,\"dir\":\"%s\","
           "\"where\":\"%s\"}\n",
           TT_ENGINE_NAME, dim, hidden, classes, n, c.len, ser.ms,
           tt_bench_median(file_ms, saves), file_best, tt_bench_median(dir_ms, saves), dir_best,
           load.ms, saves, dir, TT_BENCH_WHERE);
done:
    tt_trainer_free(c.t), tt_trainer_free(c.fresh);
    free(c.bytes), free(x), free(y), free(ms);
    return rc;
}
