/* Backward kernels vs central finite differences of the scalar loss
 * L = Σ y·r (r random), for every element of every input: depthwise 3×3
 * (dx, dw, db; strides 1 and 2, even and odd sides, borders, channel tails),
 * dense / 1×1 (dx, dw, db, accumulation) and global average pooling, plus
 * ReLU6 through bias_act.
 *
 * The forward passes are the double-summing references, the layers are
 * linear in each input, so the central difference is exact up to the float
 * rounding of y: with eps = 1e-2 that leaves errors near 1e-4, and the
 * tolerance is 1e-3 + 1e-3·|g|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/conv.h"
#include "tt_test.h"

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))
#define EPS 1e-2f

static double dot(const float *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * r[i];
    return s;
}


typedef struct dw_ctx {
    int N, H, W, C, s, Ho, Wo;
    float *x, *w, *b, *y, *r;
} dw_ctx;

static double dw_loss(void *p) {
    const dw_ctx *c = p;
    tt_f32_dwconv3x3_ref(c->N, c->H, c->W, c->C, c->s, c->x, c->w, c->b, TT_ACT_NONE, c->y);
    return dot(c->y, c->r, (size_t)c->N * c->Ho * c->Wo * c->C);
}

static void dwconv_backward_matches_finite_differences(void **state) {
    (void)state;
    static const int shapes[][5] = {/* N, H, W, C, stride */
                                    {1, 5, 5, 3, 1}, {2, 4, 6, 2, 2}, {1, 5, 7, 3, 2}, {1, 1, 1, 2, 1},
                                    {1, 1, 2, 1, 2}, {1, 2, 3, 17, 2}, {2, 3, 3, 5, 2}, {1, 6, 9, 4, 1}};
    for (int i = 0; i < COUNT(shapes); i++) {
        dw_ctx c = {shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4], 0, 0,
                    NULL, NULL, NULL, NULL, NULL};
        c.Ho = tt_same_out(c.H, c.s);
        c.Wo = tt_same_out(c.W, c.s);
        size_t nx = (size_t)c.N * c.H * c.W * c.C, ny = (size_t)c.N * c.Ho * c.Wo * c.C;
        size_t nw = (size_t)9 * c.C, nb = (size_t)c.C;
        c.x = tt_test_malloc(nx * sizeof(float));
        c.w = tt_test_malloc(nw * sizeof(float));
        c.b = tt_test_malloc(nb * sizeof(float));
        c.y = tt_test_malloc(ny * sizeof(float));
        c.r = tt_test_malloc(ny * sizeof(float));
        float *dx = tt_test_malloc(nx * sizeof(float)), *gx = tt_test_malloc(nx * sizeof(float));
        float *dw = tt_test_malloc(nw * sizeof(float)), *gw = tt_test_malloc(nw * sizeof(float));
        float *db = tt_test_malloc(nb * sizeof(float)), *gb = tt_test_malloc(nb * sizeof(float));
        tt_test_fill(c.x, nx, 10 + i, -1, 1);
        tt_test_fill(c.w, nw, 20 + i, -1, 1);
        tt_test_fill(c.b, nb, 30 + i, -1, 1);
        tt_test_fill(c.r, ny, 40 + i, -1, 1);
        memset(dw, 0, nw * sizeof(float));
        memset(db, 0, nb * sizeof(float));
        tt_f32_dwconv3x3_backward(NULL, c.N, c.H, c.W, c.C, c.s, c.x, c.w, c.r, dx, dw, db);
        tt_test_numeric_grad(c.x, nx, EPS, dw_loss, &c, gx);
        tt_test_numeric_grad(c.w, nw, EPS, dw_loss, &c, gw);
        tt_test_numeric_grad(c.b, nb, EPS, dw_loss, &c, gb);
        char what[96];
        snprintf(what, sizeof what, "dwconv N%d %dx%dx%d s%d", c.N, c.H, c.W, c.C, c.s);
        tt_test_assert_close(dx, gx, nx, 1e-3f, 1e-3f, what);
        tt_test_assert_close(dw, gw, nw, 1e-3f, 1e-3f, what);
        tt_test_assert_close(db, gb, nb, 1e-3f, 1e-3f, what);
        free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
        free(dx), free(gx), free(dw), free(gw), free(db), free(gb);
    }
}

typedef struct dense_ctx {
    int M, Cin, Cout;
    float *x, *w, *b, *y, *r;
} dense_ctx;

static double dense_loss(void *p) {
    const dense_ctx *c = p;
    tt_epilogue ep = {c->b, TT_ACT_NONE, NULL, 0};
    tt_f32_gemm_ref(TT_NO_TRANS, TT_TRANS, c->M, c->Cout, c->Cin, c->x, c->Cin, c->w, c->Cin, 0.0f,
                    c->y, c->Cout, &ep);
    return dot(c->y, c->r, (size_t)c->M * c->Cout);
}

static void dense_backward_matches_finite_differences(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 17, 33}, {8, 20, 3}, {2, 3, 40}};
    for (int i = 0; i < COUNT(shapes); i++) {
        dense_ctx c = {shapes[i][0], shapes[i][1], shapes[i][2], NULL, NULL, NULL, NULL, NULL};
        size_t nx = (size_t)c.M * c.Cin, nw = (size_t)c.Cout * c.Cin, ny = (size_t)c.M * c.Cout;
        c.x = tt_test_malloc(nx * sizeof(float));
        c.w = tt_test_malloc(nw * sizeof(float));
        c.b = tt_test_malloc((size_t)c.Cout * sizeof(float));
        c.y = tt_test_malloc(ny * sizeof(float));
        c.r = tt_test_malloc(ny * sizeof(float));
        float *dx = tt_test_malloc(nx * sizeof(float)), *gx = tt_test_malloc(nx * sizeof(float));
        float *dw = tt_test_malloc(nw * sizeof(float)), *gw = tt_test_malloc(nw * sizeof(float));
        float *dw0 = tt_test_malloc(nw * sizeof(float));
        float *db = tt_test_malloc((size_t)c.Cout * sizeof(float));
        float *db0 = tt_test_malloc((size_t)c.Cout * sizeof(float));
        float *gb = tt_test_malloc((size_t)c.Cout * sizeof(float));
        float *work = tt_test_malloc(tt_f32_dense_backward_work_size(c.M, c.Cin, c.Cout) * sizeof(float));
        tt_test_fill(c.x, nx, 50 + i, -1, 1);
        tt_test_fill(c.w, nw, 60 + i, -1, 1);
        tt_test_fill(c.b, (size_t)c.Cout, 70 + i, -1, 1);
        tt_test_fill(c.r, ny, 80 + i, -1, 1);
        /* dw and db accumulate: start from nonzero values and subtract them. */
        tt_test_fill(dw0, nw, 90 + i, -1, 1);
        tt_test_fill(db0, (size_t)c.Cout, 95 + i, -1, 1);
        memcpy(dw, dw0, nw * sizeof(float));
        memcpy(db, db0, (size_t)c.Cout * sizeof(float));
        tt_f32_dense_backward(NULL, c.M, c.Cin, c.Cout, c.x, c.w, c.r, dx, dw, db, work);
        for (size_t j = 0; j < nw; j++) dw[j] -= dw0[j];
        for (int j = 0; j < c.Cout; j++) db[j] -= db0[j];
        tt_test_numeric_grad(c.x, nx, EPS, dense_loss, &c, gx);
        tt_test_numeric_grad(c.w, nw, EPS, dense_loss, &c, gw);
        tt_test_numeric_grad(c.b, (size_t)c.Cout, EPS, dense_loss, &c, gb);
        char what[64];
        snprintf(what, sizeof what, "dense M%d %d->%d", c.M, c.Cin, c.Cout);
        tt_test_assert_close(dx, gx, nx, 1e-3f, 1e-3f, what);
        tt_test_assert_close(dw, gw, nw, 1e-3f, 1e-3f, what);
        tt_test_assert_close(db, gb, (size_t)c.Cout, 1e-3f, 1e-3f, what);
        free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(gx), free(dw);
        free(gw), free(dw0), free(db), free(db0), free(gb), free(work);
    }
}

typedef struct pool_ctx {
    int N, HW, C;
    float *x, *y, *r;
} pool_ctx;

static double pool_loss(void *p) {
    const pool_ctx *c = p;
    tt_f32_global_avgpool_ref(c->N, c->HW, c->C, c->x, c->y);
    return dot(c->y, c->r, (size_t)c->N * c->C);
}

static void avgpool_backward_matches_finite_differences(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 1, 3}, {2, 9, 5}, {1, 49, 17}};
    for (int i = 0; i < COUNT(shapes); i++) {
        pool_ctx c = {shapes[i][0], shapes[i][1], shapes[i][2], NULL, NULL, NULL};
        size_t nx = (size_t)c.N * c.HW * c.C, ny = (size_t)c.N * c.C;
        c.x = tt_test_malloc(nx * sizeof(float));
        c.y = tt_test_malloc(ny * sizeof(float));
        c.r = tt_test_malloc(ny * sizeof(float));
        float *dx = tt_test_malloc(nx * sizeof(float)), *gx = tt_test_malloc(nx * sizeof(float));
        tt_test_fill(c.x, nx, 100 + i, -1, 1);
        tt_test_fill(c.r, ny, 110 + i, -1, 1);
        tt_f32_global_avgpool_backward(NULL, c.N, c.HW, c.C, c.r, dx);
        tt_test_numeric_grad(c.x, nx, EPS, pool_loss, &c, gx);
        tt_test_assert_close(dx, gx, nx, 1e-3f, 1e-3f, "avgpool backward");
        free(c.x), free(c.y), free(c.r), free(dx), free(gx);
    }
}

typedef struct act_ctx {
    int n;
    tt_act act;
    float *x, *y, *r;
} act_ctx;

static double act_loss(void *p) {
    const act_ctx *c = p;
    memcpy(c->y, c->x, (size_t)c->n * sizeof(float));
    tt_f32_bias_act(1, c->n, c->y, NULL, c->act);
    return dot(c->y, c->r, (size_t)c->n);
}

static void activation_backward_matches_finite_differences(void **state) {
    (void)state;
    enum { n = 64 };
    float x[n], y[n], r[n], dx[n], gx[n];
    tt_test_fill(r, n, 120, -1, 1);
    for (int a = TT_ACT_RELU; a <= TT_ACT_RELU6; a++) {
        /* Points at least 0.1 from the kinks at 0 and 6, so ±eps stays on one side. */
        tt_test_fill(x, n, 121, -3, 9);
        for (int i = 0; i < n; i++) {
            if (fabsf(x[i]) < 0.1f) x[i] += x[i] < 0.0f ? -0.2f : 0.2f;
            if (fabsf(x[i] - 6.0f) < 0.1f) x[i] += x[i] < 6.0f ? -0.2f : 0.2f;
        }
        act_ctx c = {n, (tt_act)a, x, y, r};
        act_loss(&c); /* y = act(x) */
        if (a == TT_ACT_RELU6)
            tt_f32_relu6_backward(NULL, n, y, r, dx);
        else
            tt_f32_relu_backward(n, y, r, dx);
        tt_test_numeric_grad(x, n, EPS, act_loss, &c, gx);
        tt_test_assert_close(dx, gx, n, 1e-3f, 1e-3f, a == TT_ACT_RELU6 ? "relu6" : "relu");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dwconv_backward_matches_finite_differences),
        cmocka_unit_test(dense_backward_matches_finite_differences),
        cmocka_unit_test(avgpool_backward_matches_finite_differences),
        cmocka_unit_test(activation_backward_matches_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
