/* Full 3×3 convolution, global average pool, softmax, activation backward
 * and bias+activation: optimized kernels vs scalar references (which sum in
 * double) or vs the definition.
 *
 * Tolerances: conv sums 9·Cin products of |x| <= 2, |w| <= 1 in float, so
 * 5e-5 + 1e-5·|y|; pooling means of values in [-1, 1]: 1e-6 + 1e-5·|y|;
 * softmax probabilities: 1e-6 + 1e-5·p. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/conv.h"
#include "tt_test.h"

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))
enum { GUARD = 19 };

typedef struct conv_case {
    int N, H, W, Cin, Cout, stride;
} conv_case;

static const conv_case k_conv[] = {
    {1, 224, 224, 3, 32, 2}, /* the MobileNetV2 stem */
    {2, 13, 13, 3, 32, 2},   {1, 1, 1, 1, 1, 1},   {1, 1, 1, 3, 5, 2},  {2, 2, 2, 3, 17, 2},
    {1, 3, 5, 5, 33, 1},     {1, 5, 3, 1, 70, 2},  {3, 7, 7, 3, 16, 1}, {1, 13, 7, 5, 65, 2},
    {1, 2, 13, 17, 3, 1},    {2, 6, 8, 4, 64, 2},  {1, 5, 5, 33, 1, 1},
};

static void conv3x3_matches_reference(void **state) {
    (void)state;
    for (int i = 0; i < COUNT(k_conv); i++)
        for (int a = 0; a < 3; a++) {
            const conv_case *k = &k_conv[i];
            if (i == 0 && a != TT_ACT_RELU6) continue; /* keep the big case to one run */
            int Ho = tt_same_out(k->H, k->stride), Wo = tt_same_out(k->W, k->stride);
            size_t nx = (size_t)k->N * k->H * k->W * k->Cin, ny = (size_t)k->N * Ho * Wo * k->Cout;
            size_t nw = (size_t)k->Cout * 9 * k->Cin;
            float *x = tt_test_malloc(nx * sizeof(float)), *w = tt_test_malloc(nw * sizeof(float));
            float *b = tt_test_malloc((size_t)k->Cout * sizeof(float));
            float *y = tt_test_malloc((ny + GUARD) * sizeof(float));
            float *yr = tt_test_malloc((ny + GUARD) * sizeof(float));
            size_t nwork = tt_f32_conv3x3_work_size(k->W, k->Cin, k->Cout, k->stride, 1);
            float *work = tt_test_malloc(nwork * sizeof(float));
            tt_test_fill(x, nx, 10 + i, -2, 2);
            tt_test_fill(w, nw, 20 + i, -1, 1);
            tt_test_fill(b, (size_t)k->Cout, 30 + i, -3, 3);
            tt_test_fill(yr, ny + GUARD, 40 + i, -1, 1);
            memcpy(y, yr, (ny + GUARD) * sizeof(float));
            for (size_t j = 0; j < ny; j++) y[j] = NAN;
            tt_f32_conv3x3(NULL, k->N, k->H, k->W, k->Cin, k->Cout, k->stride, x, w, b, (tt_act)a, y, work);
            tt_f32_conv3x3_ref(k->N, k->H, k->W, k->Cin, k->Cout, k->stride, x, w, b, (tt_act)a, yr);
            char what[128];
            snprintf(what, sizeof what, "conv3x3 N%d %dx%dx%d->%d s%d act%d", k->N, k->H, k->W,
                     k->Cin, k->Cout, k->stride, a);
            tt_test_assert_close(y, yr, ny + GUARD, 5e-5f, 1e-5f, what);
            free(x), free(w), free(b), free(y), free(yr), free(work);
        }
}

/* TF SAME, independent of the kernels' padding helper (see test_dwconv.c):
 * a one-hot 1→1 filter shifts the input. */
static void conv3x3_follows_tf_same_padding(void **state) {
    (void)state;
    for (int side = 4; side <= 5; side++)
        for (int s = 1; s <= 2; s++)
            for (int tap = 0; tap < 9; tap++)
                for (int impl = 0; impl < 2; impl++) {
                    int H = side + 1, W = side, Ho = (H + s - 1) / s, Wo = (W + s - 1) / s;
                    int pt = s == 1 ? 1 : H % 2, pl = s == 1 ? 1 : W % 2;
                    float x[6 * 5], w[9] = {0}, y[6 * 5], want[6 * 5], work[9 * 64];
                    assert_true(tt_f32_conv3x3_work_size(W, 1, 1, s, 1) <= 9 * 64);
                    tt_test_fill(x, (size_t)H * W, 600 + tap, -1, 1);
                    w[tap] = 1.0f;
                    for (int oy = 0; oy < Ho; oy++)
                        for (int ox = 0; ox < Wo; ox++) {
                            int iy = oy * s - pt + tap / 3, ix = ox * s - pl + tap % 3;
                            int in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                            want[oy * Wo + ox] = in ? x[iy * W + ix] : 0.0f;
                        }
                    if (impl)
                        tt_f32_conv3x3(NULL, 1, H, W, 1, 1, s, x, w, NULL, TT_ACT_NONE, y, work);
                    else
                        tt_f32_conv3x3_ref(1, H, W, 1, 1, s, x, w, NULL, TT_ACT_NONE, y);
                    tt_test_assert_close(y, want, (size_t)Ho * Wo, 0.0f, 0.0f,
                                         impl ? "conv3x3 SAME padding" : "conv3x3_ref SAME padding");
                }
}

static void avgpool_matches_reference(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 1, 1}, {2, 49, 1280}, {3, 49, 17}, {1, 5, 70}, {2, 196, 1283}, {1, 3, 64}};
    for (int i = 0; i < COUNT(shapes); i++) {
        int N = shapes[i][0], HW = shapes[i][1], C = shapes[i][2];
        size_t nx = (size_t)N * HW * C, ny = (size_t)N * C;
        float *x = tt_test_malloc(nx * sizeof(float));
        float *y = tt_test_malloc((ny + GUARD) * sizeof(float));
        float *yr = tt_test_malloc((ny + GUARD) * sizeof(float));
        tt_test_fill(x, nx, 50 + i, -1, 1);
        tt_test_fill(yr, ny + GUARD, 60 + i, -1, 1);
        memcpy(y, yr, (ny + GUARD) * sizeof(float));
        tt_f32_global_avgpool(NULL, N, HW, C, x, y);
        tt_f32_global_avgpool_ref(N, HW, C, x, yr);
        tt_test_assert_close(y, yr, ny + GUARD, 1e-6f, 1e-5f, "global avgpool");
        free(x), free(y), free(yr);
    }
}

static void softmax_matches_reference_and_aliases(void **state) {
    (void)state;
    static const int shapes[][2] = {{1, 1}, {1, 2}, {4, 10}, {3, 1000}, {7, 17}};
    for (int i = 0; i < COUNT(shapes); i++) {
        int rows = shapes[i][0], cols = shapes[i][1];
        size_t n = (size_t)rows * cols;
        float *x = tt_test_malloc(n * sizeof(float)), *y = tt_test_malloc(n * sizeof(float));
        float *yr = tt_test_malloc(n * sizeof(float));
        /* Logits up to ±90: exp without the max subtraction overflows. */
        tt_test_fill(x, n, 70 + i, -90, 90);
        tt_f32_softmax(rows, cols, x, y);
        tt_f32_softmax_ref(rows, cols, x, yr);
        tt_test_assert_close(y, yr, n, 1e-6f, 1e-5f, "softmax");
        for (int r = 0; r < rows; r++) {
            double s = 0.0;
            for (int j = 0; j < cols; j++) s += y[(size_t)r * cols + j];
            assert_true(fabs(s - 1.0) < 1e-5);
        }
        tt_f32_softmax(rows, cols, x, x); /* in place */
        tt_test_assert_close(x, y, n, 0.0f, 0.0f, "softmax in place");
        free(x), free(y), free(yr);
    }
}

static void activation_backward_masks_by_output(void **state) {
    (void)state;
    /* Includes the kink values 0 and 6 themselves: outside the linear range. */
    const float y[] = {-1.0f, 0.0f, 1e-7f, 3.0f, 5.999f, 6.0f, 7.0f, 0.5f, 2.0f, 6.0f, 0.0f};
    enum { n = sizeof y / sizeof y[0] };
    float dy[n], dx[n], want6[n], want[n];
    tt_test_fill(dy, n, 80, -1, 1);
    for (int i = 0; i < n; i++) {
        want6[i] = (y[i] > 0.0f && y[i] < 6.0f) ? dy[i] : 0.0f;
        want[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
    tt_f32_relu6_backward(NULL, n, y, dy, dx);
    tt_test_assert_close(dx, want6, n, 0.0f, 0.0f, "relu6 backward");
    tt_f32_relu_backward(n, y, dy, dx);
    tt_test_assert_close(dx, want, n, 0.0f, 0.0f, "relu backward");
    memcpy(dx, dy, sizeof dx); /* aliasing dx = dy */
    tt_f32_relu6_backward(NULL, n, y, dx, dx);
    tt_test_assert_close(dx, want6, n, 0.0f, 0.0f, "relu6 backward in place");
}

static void bias_act_matches_definition(void **state) {
    (void)state;
    static const int shapes[][2] = {{1, 1}, {3, 17}, {2, 64}, {5, 1281}};
    for (int i = 0; i < COUNT(shapes); i++)
        for (int a = 0; a < 3; a++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                int rows = shapes[i][0], cols = shapes[i][1];
                size_t n = (size_t)rows * cols;
                float *x = tt_test_malloc((n + GUARD) * sizeof(float));
                float *want = tt_test_malloc((n + GUARD) * sizeof(float));
                float *b = tt_test_malloc((size_t)cols * sizeof(float));
                tt_test_fill(x, n + GUARD, 90 + i, -8, 8);
                tt_test_fill(b, (size_t)cols, 95 + i, -2, 2);
                memcpy(want, x, (n + GUARD) * sizeof(float));
                for (size_t j = 0; j < n; j++) {
                    float v = want[j] + (with_bias ? b[j % cols] : 0.0f);
                    if (a == TT_ACT_RELU) v = fmaxf(v, 0.0f);
                    if (a == TT_ACT_RELU6) v = fminf(fmaxf(v, 0.0f), 6.0f);
                    want[j] = v;
                }
                tt_f32_bias_act(rows, cols, x, with_bias ? b : NULL, (tt_act)a);
                tt_test_assert_close(x, want, n + GUARD, 0.0f, 0.0f, "bias_act");
                free(x), free(want), free(b);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv3x3_follows_tf_same_padding),
        cmocka_unit_test(conv3x3_matches_reference),
        cmocka_unit_test(avgpool_matches_reference),
        cmocka_unit_test(softmax_matches_reference_and_aliases),
        cmocka_unit_test(activation_backward_masks_by_output),
        cmocka_unit_test(bias_act_matches_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
