/* Depthwise 3×3 forward and backward: optimized kernels vs their scalar
 * references over every MobileNetV2 depthwise shape plus odd/prime sizes.
 *
 * Tolerance: the references sum in double and round once; the kernels sum
 * 9 float products (|x| <= 2, |w| <= 1, |b| <= 3), so forward outputs agree
 * within 2e-5 + 1e-5·|y|. Weight gradients sum up to N·Ho·Wo products and get
 * 1e-4 + 1e-4·|want|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/conv.h"
#include "tt_test.h"

typedef struct dw_case {
    int N, H, W, C, stride;
} dw_case;

/* Every depthwise layer of MobileNetV2 (224×224 input). */
static const dw_case k_mnv2[] = {
    {1, 112, 112, 32, 1}, {1, 112, 112, 96, 2}, {1, 56, 56, 144, 1}, {1, 56, 56, 144, 2},
    {1, 28, 28, 192, 1},  {1, 28, 28, 192, 2},  {1, 14, 14, 384, 1}, {1, 14, 14, 576, 1},
    {1, 14, 14, 576, 2},  {1, 7, 7, 960, 1},
};
static const int k_sides[] = {1, 2, 3, 5, 7, 13};
static const int k_chans[] = {1, 3, 5, 17, 33};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

enum { GUARD = 19 }; /* floats after each output that must stay untouched */

static float *alloc_filled(size_t n, uint64_t seed, float lo, float hi) {
    float *p = tt_test_malloc((n + GUARD) * sizeof(float));
    tt_test_fill(p, n + GUARD, seed, lo, hi);
    return p;
}

static void check_guard(const float *got, const float *want, size_t n, const char *what) {
    tt_test_assert_close(got + n, want + n, GUARD, 0.0f, 0.0f, what);
}

static void run_forward(const dw_case *k, tt_act act, uint64_t seed) {
    int Ho = tt_same_out(k->H, k->stride), Wo = tt_same_out(k->W, k->stride);
    size_t nx = (size_t)k->N * k->H * k->W * k->C, ny = (size_t)k->N * Ho * Wo * k->C;
    float *x = alloc_filled(nx, seed, -2.0f, 2.0f);
    float *w = alloc_filled((size_t)9 * k->C, seed + 1, -1.0f, 1.0f);
    float *b = alloc_filled((size_t)k->C, seed + 2, -3.0f, 3.0f);
    float *y = alloc_filled(ny, seed + 3, -1.0f, 1.0f);
    float *yr = tt_test_malloc((ny + GUARD) * sizeof(float));
    memcpy(yr, y, (ny + GUARD) * sizeof(float));
    for (size_t i = 0; i < ny; i++) y[i] = NAN; /* every output must be written */
    tt_f32_dwconv3x3(NULL, k->N, k->H, k->W, k->C, k->stride, x, w, b, act, y);
    tt_f32_dwconv3x3_ref(k->N, k->H, k->W, k->C, k->stride, x, w, b, act, yr);
    char what[128];
    snprintf(what, sizeof what, "dwconv N%d %dx%dx%d s%d act%d", k->N, k->H, k->W, k->C, k->stride,
             (int)act);
    tt_test_assert_close(y, yr, ny, 2e-5f, 1e-5f, what);
    check_guard(y, yr, ny, what);
    free(x), free(w), free(b), free(y), free(yr);
}

static void dwconv_forward_mobilenetv2_shapes(void **state) {
    (void)state;
    for (int i = 0; i < COUNT(k_mnv2); i++) run_forward(&k_mnv2[i], (tt_act)(i % 3), 100 + i);
    /* A batch of 3 at a late, small layer. */
    run_forward(&(dw_case){3, 14, 14, 576, 2}, TT_ACT_RELU6, 7);
    run_forward(&(dw_case){2, 7, 7, 960, 1}, TT_ACT_NONE, 8);
}

static void dwconv_forward_odd_shapes(void **state) {
    (void)state;
    int t = 0;
    for (int h = 0; h < COUNT(k_sides); h++)
        for (int w = 0; w < COUNT(k_sides); w++)
            for (int c = 0; c < COUNT(k_chans); c++)
                for (int s = 1; s <= 2; s++, t++) {
                    dw_case k = {1 + t % 2, k_sides[h], k_sides[w], k_chans[c], s};
                    run_forward(&k, (tt_act)(t % 3), 1000 + t);
                }
    /* Wide rows with channel tails exercise the 4-pixel blocks' tails too. */
    run_forward(&(dw_case){2, 6, 37, 35, 1}, TT_ACT_RELU6, 5);
    run_forward(&(dw_case){1, 9, 38, 19, 2}, TT_ACT_RELU, 6);
}

static void dwconv_forward_without_bias(void **state) {
    (void)state;
    dw_case k = {1, 5, 6, 20, 1};
    size_t nx = 5 * 6 * 20, ny = nx;
    float *x = alloc_filled(nx, 1, -1, 1), *w = alloc_filled(9 * 20, 2, -1, 1);
    float *y = alloc_filled(ny, 3, 0, 1), *yr = alloc_filled(ny, 3, 0, 1);
    tt_f32_dwconv3x3(NULL, k.N, k.H, k.W, k.C, 1, x, w, NULL, TT_ACT_NONE, y);
    tt_f32_dwconv3x3_ref(k.N, k.H, k.W, k.C, 1, x, w, NULL, TT_ACT_NONE, yr);
    tt_test_assert_close(y, yr, ny + GUARD, 2e-5f, 1e-5f, "dwconv without bias");
    free(x), free(w), free(y), free(yr);
}

/* TF SAME, stated independently of the kernels' padding helper: a one-hot
 * filter (tap ky,kx) makes the output a shifted copy of the input,
 * y[oy][ox] = x[oy·s - pad + ky][ox·s - pad + kx] (0 outside), with
 * pad = 1 at stride 1, and at stride 2 pad = 0 for even sides and 1 for odd. */
static void dwconv_follows_tf_same_padding(void **state) {
    (void)state;
    for (int side = 4; side <= 5; side++)
        for (int s = 1; s <= 2; s++)
            for (int tap = 0; tap < 9; tap++)
                for (int impl = 0; impl < 2; impl++) {
                    enum { C = 2 };
                    int H = side, W = side + 2, Ho = (H + s - 1) / s, Wo = (W + s - 1) / s;
                    int pt = s == 1 ? 1 : H % 2, pl = s == 1 ? 1 : W % 2;
                    float x[7 * 7 * C], w[9 * C] = {0}, y[7 * 7 * C], want[7 * 7 * C];
                    tt_test_fill(x, (size_t)H * W * C, 500 + tap, -1, 1);
                    w[tap * C] = w[tap * C + 1] = 1.0f;
                    for (int oy = 0; oy < Ho; oy++)
                        for (int ox = 0; ox < Wo; ox++)
                            for (int c = 0; c < C; c++) {
                                int iy = oy * s - pt + tap / 3, ix = ox * s - pl + tap % 3;
                                int in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                                want[(oy * Wo + ox) * C + c] = in ? x[(iy * W + ix) * C + c] : 0.0f;
                            }
                    if (impl)
                        tt_f32_dwconv3x3(NULL, 1, H, W, C, s, x, w, NULL, TT_ACT_NONE, y);
                    else
                        tt_f32_dwconv3x3_ref(1, H, W, C, s, x, w, NULL, TT_ACT_NONE, y);
                    tt_test_assert_close(y, want, (size_t)Ho * Wo * C, 0.0f, 0.0f,
                                         impl ? "dwconv SAME padding" : "dwconv_ref SAME padding");
                }
}

static void run_backward(const dw_case *k, uint64_t seed, int want_dx, int want_dw, int want_db) {
    int Ho = tt_same_out(k->H, k->stride), Wo = tt_same_out(k->W, k->stride);
    size_t nx = (size_t)k->N * k->H * k->W * k->C, ny = (size_t)k->N * Ho * Wo * k->C;
    size_t nw = (size_t)9 * k->C, nb = (size_t)k->C;
    float *x = alloc_filled(nx, seed, -1, 1), *w = alloc_filled(nw, seed + 1, -1, 1);
    float *dy = alloc_filled(ny, seed + 2, -1, 1);
    float *dx = alloc_filled(nx, seed + 3, -1, 1), *dxr = alloc_filled(nx, seed + 3, -1, 1);
    float *dw = alloc_filled(nw, seed + 4, -1, 1), *dwr = alloc_filled(nw, seed + 4, -1, 1);
    float *db = alloc_filled(nb, seed + 5, -1, 1), *dbr = alloc_filled(nb, seed + 5, -1, 1);
    tt_f32_dwconv3x3_backward(NULL, k->N, k->H, k->W, k->C, k->stride, x, w, dy, want_dx ? dx : NULL,
                              want_dw ? dw : NULL, want_db ? db : NULL);
    tt_f32_dwconv3x3_backward_ref(k->N, k->H, k->W, k->C, k->stride, x, w, dy,
                                  want_dx ? dxr : NULL, want_dw ? dwr : NULL,
                                  want_db ? dbr : NULL);
    char what[128];
    snprintf(what, sizeof what, "dwconv backward N%d %dx%dx%d s%d", k->N, k->H, k->W, k->C,
             k->stride);
    /* NULL outputs must stay untouched: both sides then hold the same fill. */
    tt_test_assert_close(dx, dxr, nx + GUARD, 1e-5f, 1e-5f, what);
    tt_test_assert_close(dw, dwr, nw + GUARD, 1e-4f, 1e-4f, what);
    tt_test_assert_close(db, dbr, nb + GUARD, 1e-4f, 1e-4f, what);
    free(x), free(w), free(dy), free(dx), free(dxr), free(dw), free(dwr), free(db), free(dbr);
}

static void dwconv_backward_matches_reference(void **state) {
    (void)state;
    /* The layers fine-tuning reaches, batch 1 and 2. */
    for (int i = 6; i < COUNT(k_mnv2); i++) {
        dw_case k = k_mnv2[i];
        run_backward(&k, 200 + i, 1, 1, 1);
        k.N = 2;
        run_backward(&k, 300 + i, 1, 1, 1);
    }
    int t = 0;
    for (int h = 0; h < COUNT(k_sides); h += 1)
        for (int w = 0; w < COUNT(k_sides); w += 2)
            for (int c = 0; c < COUNT(k_chans); c++)
                for (int s = 1; s <= 2; s++, t++) {
                    dw_case k = {1 + t % 3, k_sides[h], k_sides[w + (t % 2)], k_chans[c], s};
                    run_backward(&k, 2000 + t, 1, 1, 1);
                }
    dw_case k = {2, 7, 6, 21, 2};
    run_backward(&k, 11, 0, 1, 1);
    run_backward(&k, 12, 1, 0, 0);
    run_backward(&k, 13, 0, 0, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dwconv_follows_tf_same_padding),
        cmocka_unit_test(dwconv_forward_mobilenetv2_shapes),
        cmocka_unit_test(dwconv_forward_odd_shapes),
        cmocka_unit_test(dwconv_forward_without_bias),
        cmocka_unit_test(dwconv_backward_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
