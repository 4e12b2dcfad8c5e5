/* `tabtrain-bench dwconv [--batch N] [--ms X] [--runs N] [--warmup N]`
 * The depthwise 3×3 kernel at every MobileNetV2 layer shape, the stem
 * convolution, and the depthwise backward pass (dx, dw, db) at the 14×14 and
 * 7×7 shapes fine-tuning reaches. One JSON line per (op, shape); "gflops"
 * counts 2 flops per multiply-add (the backward pass does two per tap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/simd.h"
#include "tabtrain/conv.h"
#include "tabtrain/rng.h"

enum { OP_STEM, OP_DW, OP_DW_BACKWARD };
static const char *const k_op_names[] = {"conv3x3", "dwconv3x3", "dwconv3x3_backward"};

static const struct {
    int op, H, W, Cin, Cout, stride; /* depthwise: Cin == Cout */
} k_shapes[] = {
    {OP_STEM, 224, 224, 3, 32, 2},
    {OP_DW, 112, 112, 32, 32, 1},          {OP_DW, 112, 112, 96, 96, 2},
    {OP_DW, 56, 56, 144, 144, 1},          {OP_DW, 56, 56, 144, 144, 2},
    {OP_DW, 28, 28, 192, 192, 1},          {OP_DW, 28, 28, 192, 192, 2},
    {OP_DW, 14, 14, 384, 384, 1},          {OP_DW, 14, 14, 576, 576, 1},
    {OP_DW, 14, 14, 576, 576, 2},          {OP_DW, 7, 7, 960, 960, 1},
    {OP_DW_BACKWARD, 14, 14, 576, 576, 2}, {OP_DW_BACKWARD, 7, 7, 960, 960, 1},
};

typedef struct conv_ctx {
    tt_pool *pool;
    int op, N, H, W, Cin, Cout, stride;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db, *work;
} conv_ctx;

static void conv_call(void *p) {
    const conv_ctx *c = p;
    if (c->op == OP_STEM)
        tt_f32_conv3x3(c->pool, c->N, c->H, c->W, c->Cin, c->Cout, c->stride, c->x, c->w, c->b,
                       TT_ACT_RELU6, c->y, c->work);
    else if (c->op == OP_DW)
        tt_f32_dwconv3x3(c->pool, c->N, c->H, c->W, c->Cin, c->stride, c->x, c->w, c->b, TT_ACT_RELU6, c->y);
    else
        tt_f32_dwconv3x3_backward(c->pool, c->N, c->H, c->W, c->Cin, c->stride, c->x, c->w, c->dy, c->dx,
                                  c->dw, c->db);
}

static float *random_buf(size_t n, tt_rng *r) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = tt_rng_range(r, -1.0f, 1.0f);
    return x;
}

int tt_bench_dwconv(int argc, char **argv) {
    tt_bench_opts opts = {100.0, 7, 1, NULL, 1};
    int batch = 1;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[++i]);
    if (tt_bench_pool(argc, argv, &opts.pool, &opts.threads)) return 1;
    if (tt_bench_parse_opts(argc, argv, &opts) || batch < 1) {
        fprintf(stderr, "bench dwconv: bad --batch/--ms/--runs/--warmup\n");
        return 2;
    }
    int status = 0;
    for (size_t s = 0; s < sizeof k_shapes / sizeof k_shapes[0]; s++) {
        conv_ctx c = {.pool = opts.pool, .op = k_shapes[s].op, .N = batch, .H = k_shapes[s].H, .W = k_shapes[s].W,
                      .Cin = k_shapes[s].Cin, .Cout = k_shapes[s].Cout, .stride = k_shapes[s].stride};
        int Ho = tt_same_out(c.H, c.stride), Wo = tt_same_out(c.W, c.stride);
        size_t nx = (size_t)batch * c.H * c.W * c.Cin, ny = (size_t)batch * Ho * Wo * c.Cout;
        size_t nw = c.op == OP_STEM ? (size_t)c.Cout * 9 * c.Cin : (size_t)9 * c.Cin;
        size_t nwork = c.op == OP_STEM ? tt_f32_conv3x3_work_size(c.W, c.Cin, c.Cout, c.stride, opts.threads) : 0;
        int back = c.op == OP_DW_BACKWARD;
        tt_rng r;
        tt_rng_seed(&r, 5, TT_STREAM_TEST);
        float *x = random_buf(nx, &r), *w = random_buf(nw, &r), *b = random_buf((size_t)c.Cout, &r);
        float *y = random_buf(ny, &r), *work = random_buf(nwork, &r);
        float *dx = random_buf(back ? nx : 0, &r), *dw = random_buf(back ? nw : 0, &r);
        int ok = x && w && b && y && work && dx && dw;
        if (ok) {
            c.x = x, c.w = w, c.b = b, c.y = y, c.work = work;
            c.dy = y, c.dx = dx, c.dw = dw, c.db = b; /* backward: y plays dy */
            tt_bench_result t = tt_bench_time(conv_call, &c, &opts);
            double flop = 2.0 * ny * 9 * (c.op == OP_STEM ? c.Cin : back ? 2 : 1);
            double bytes = (double)(nx + ny) * sizeof(float) * (back ? 2 : 1);
            printf("{\"bench\":\"dwconv\",\"engine\":\"%s\",\"isa\":\"%s\",\"threads\":%d,"
                   "\"op\":\"%s\",\"shape\":\"%dx%dx%d\",\"cout\":%d,\"stride\":%d,\"batch\":%d,"
                   "\"ms\":%.4g,\"best_ms\":%.4g,\"gflops\":%.2f,\"best_gflops\":%.2f,"
                   "\"gbytes_per_s\":%.2f,\"reps\":%d,\"where\":\"%s\"}\n",
                   TT_ENGINE_NAME, TT_ISA_NAME, opts.threads, k_op_names[c.op], c.H, c.W, c.Cin, c.Cout, c.stride,
                   batch, t.ms, t.best_ms, flop / t.ms / 1e6, flop / t.best_ms / 1e6,
                   bytes / t.ms / 1e6, t.reps, TT_BENCH_WHERE);
            fflush(stdout);
        } else {
            fprintf(stderr, "bench dwconv: out of memory at %s %dx%dx%d\n", k_op_names[c.op], c.H,
                    c.W, c.Cin);
            status = 1;
        }
        free(x), free(w), free(b), free(y), free(work), free(dx), free(dw);
    }
    return status;
}
