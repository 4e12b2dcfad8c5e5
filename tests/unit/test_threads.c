/* Thread-count determinism: every kernel that takes a pool, the backbone's
 * features and the tail's forward and backward give the same bits on 1, 2
 * and 3 threads (the serial results are checked against the scalar
 * references and finite differences by the kernel and tail tests). Shapes
 * are picked to cut the work in every way the kernels do: few row tiles and
 * many panels, partial tiles, channel tails. */
#include <stdlib.h>
#include <string.h>

#include "mnv2_synth.h"
#include "tabtrain/conv.h"
#include "tabtrain/gemm.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/tail.h"
#include "tabtrain/threadpool.h"
#include "tt_test.h"

static const int thread_counts[] = {2, 3};
#define FOR_POOLS(p)                                                                        \
    for (size_t tc_ = 0; tc_ < sizeof thread_counts / sizeof *thread_counts; tc_++)         \
        for (tt_pool *p = tt_test_pool(thread_counts[tc_]); p; p = NULL)

static float *rnd(size_t n, uint64_t seed, float lo, float hi) {
    float *x = tt_test_malloc(n * sizeof(float));
    tt_test_fill(x, n, seed, lo, hi);
    return x;
}

static void same_bits(const float *got, const float *want, size_t n, tt_pool *pool, const char *what) {
    if (!memcmp(got, want, n * sizeof(float))) return;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)))
            fail_msg("%s on %d threads: element %zu is %.9g, on 1 thread %.9g", what,
                     tt_pool_threads(pool), i, got[i], want[i]);
}

static void gemm_same_bits_on_any_thread_count(void **state) {
    (void)state;
    static const struct {
        int M, N, K, ta, tb, beta, act, res;
    } cases[] = {
        {49, 1280, 320, 0, 1, 0, TT_ACT_RELU6, 0}, /* few row tiles, many panels */
        {301, 96, 16, 0, 0, 0, TT_ACT_NONE, 1},    /* many row tiles, partial last */
        {7, 203, 33, 0, 1, 0, TT_ACT_RELU, 0},     /* one row tile, partial panel */
        {45, 24, 300, 1, 0, 1, TT_ACT_NONE, 0},    /* dW = dYᵀ·X, accumulating */
        {300, 24, 45, 0, 0, 0, TT_ACT_NONE, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int M = cases[k].M, N = cases[k].N, K = cases[k].K;
        float *A = rnd((size_t)M * K, 1 + k, -1, 1), *B = rnd((size_t)K * N, 2 + k, -1, 1);
        float *bias = rnd(N, 3 + k, -1, 1), *res = rnd((size_t)M * N, 4 + k, -1, 1);
        float *want = rnd((size_t)M * N, 5 + k, -1, 1), *got = tt_test_malloc((size_t)M * N * sizeof(float));
        float *work = tt_test_malloc(tt_f32_gemm_work_size(M, N, K) * sizeof(float));
        float *packed = tt_test_malloc(tt_f32_gemm_packed_size(K, N) * sizeof(float));
        size_t bytes = (size_t)M * N * sizeof(float);
        memcpy(got, want, bytes);
        tt_epilogue ep = {bias, (tt_act)cases[k].act, cases[k].res ? res : NULL, N};
        int lda = cases[k].ta ? M : K, ldb = cases[k].tb ? K : N;
        float *C0 = tt_test_malloc(bytes);
        memcpy(C0, want, bytes);
        tt_f32_gemm(NULL, cases[k].ta, cases[k].tb, M, N, K, A, lda, B, ldb, (float)cases[k].beta,
                    want, N, &ep, work);
        FOR_POOLS(pool) {
            memcpy(got, C0, bytes);
            tt_f32_gemm(pool, cases[k].ta, cases[k].tb, M, N, K, A, lda, B, ldb,
                        (float)cases[k].beta, got, N, &ep, work);
            same_bits(got, want, (size_t)M * N, pool, "tt_f32_gemm");
            if (cases[k].ta || cases[k].beta) continue;
            tt_f32_gemm_pack_b(cases[k].tb, K, N, B, ldb, packed);
            memset(got, 0, bytes);
            tt_f32_gemm_packed(pool, M, N, K, A, lda, packed, got, N, &ep);
            same_bits(got, want, (size_t)M * N, pool, "tt_f32_gemm_packed");
        }
        free(A), free(B), free(bias), free(res), free(want), free(got), free(work), free(packed), free(C0);
    }
}

static void conv_kernels_same_bits_on_any_thread_count(void **state) {
    (void)state;
    enum { N = 2, H = 17, W = 15, C = 37, CO = 32 };
    for (int s = 1; s <= 2; s++) {
        int Ho = tt_same_out(H, s), Wo = tt_same_out(W, s);
        size_t nin = (size_t)N * H * W * C, nout = (size_t)N * Ho * Wo * C;
        float *x = rnd(nin, 10 + s, -1, 1), *w = rnd(9 * C, 11, -1, 1), *b = rnd(C, 12, -1, 1);
        float *dy = rnd(nout, 13, -1, 1);
        float *y0 = tt_test_malloc(nout * sizeof(float)), *y = tt_test_malloc(nout * sizeof(float));
        tt_f32_dwconv3x3(NULL, N, H, W, C, s, x, w, b, TT_ACT_RELU6, y0);
        float *dx0 = tt_test_malloc(nin * sizeof(float)), *dx = tt_test_malloc(nin * sizeof(float));
        float *g0 = rnd(10 * C, 14, -1, 1), *g = tt_test_malloc(10 * C * sizeof(float));
        memcpy(g, g0, 10 * C * sizeof(float));
        tt_f32_dwconv3x3_backward(NULL, N, H, W, C, s, x, w, dy, dx0, g0, g0 + 9 * C);
        /* the stem: Cin = 3 */
        size_t sout = (size_t)N * Ho * Wo * CO;
        float *sw = rnd((size_t)CO * 27, 15, -1, 1), *s0 = tt_test_malloc(sout * sizeof(float));
        float *sy = tt_test_malloc(sout * sizeof(float));
        float *work = tt_test_malloc(tt_f32_conv3x3_work_size(W, 3, CO, s, 3) * sizeof(float));
        tt_f32_conv3x3(NULL, N, H, W, 3, CO, s, x, sw, b, TT_ACT_RELU6, s0, work);
        FOR_POOLS(pool) {
            tt_f32_dwconv3x3(pool, N, H, W, C, s, x, w, b, TT_ACT_RELU6, y);
            same_bits(y, y0, nout, pool, "tt_f32_dwconv3x3");
            float *gi = rnd(10 * C, 14, -1, 1);
            memset(dx, 0x7f, nin * sizeof(float)); /* dx is overwritten, not accumulated */
            tt_f32_dwconv3x3_backward(pool, N, H, W, C, s, x, w, dy, dx, gi, gi + 9 * C);
            same_bits(dx, dx0, nin, pool, "dwconv backward dx");
            same_bits(gi, g0, 10 * C, pool, "dwconv backward dw, db");
            free(gi);
            tt_f32_conv3x3(pool, N, H, W, 3, CO, s, x, sw, b, TT_ACT_RELU6, sy, work);
            same_bits(sy, s0, sout, pool, "tt_f32_conv3x3");
        }
        free(x), free(w), free(b), free(dy), free(y0), free(y), free(dx0), free(dx), free(g0), free(g);
        free(sw), free(s0), free(sy), free(work);
    }
}

static void backward_and_pool_kernels_same_bits_on_any_thread_count(void **state) {
    (void)state;
    enum { M = 300, CIN = 24, COUT = 45, HW = 49, PC = 70, PN = 3, NR = 50001 };
    float *x = rnd(M * CIN, 20, -1, 1), *w = rnd(COUT * CIN, 21, -1, 1), *dy = rnd(M * COUT, 22, -1, 1);
    float *work = tt_test_malloc(tt_f32_dense_backward_work_size(M, CIN, COUT) * sizeof(float));
    float *dx0 = tt_test_malloc(M * CIN * sizeof(float)), *dx = tt_test_malloc(M * CIN * sizeof(float));
    float *g0 = rnd(COUT * CIN + COUT, 23, -1, 1);
    tt_f32_dense_backward(NULL, M, CIN, COUT, x, w, dy, dx0, g0, g0 + COUT * CIN, work);
    float *px = rnd(PN * HW * PC, 24, -1, 1), *p0 = tt_test_malloc(PN * PC * sizeof(float));
    float *p = tt_test_malloc(PN * PC * sizeof(float));
    tt_f32_global_avgpool(NULL, PN, HW, PC, px, p0);
    float *ry = rnd(NR, 25, -1, 7), *rd = rnd(NR, 26, -1, 1);
    float *r0 = tt_test_malloc(NR * sizeof(float)), *r = tt_test_malloc(NR * sizeof(float));
    tt_f32_relu6_backward(NULL, NR, ry, rd, r0);
    FOR_POOLS(pool) {
        float *g = rnd(COUT * CIN + COUT, 23, -1, 1);
        tt_f32_dense_backward(pool, M, CIN, COUT, x, w, dy, dx, g, g + COUT * CIN, work);
        same_bits(dx, dx0, M * CIN, pool, "dense backward dx");
        same_bits(g, g0, COUT * CIN + COUT, pool, "dense backward dw, db");
        free(g);
        tt_f32_global_avgpool(pool, PN, HW, PC, px, p);
        same_bits(p, p0, PN * PC, pool, "tt_f32_global_avgpool");
        tt_f32_relu6_backward(pool, NR, ry, rd, r);
        same_bits(r, r0, NR, pool, "tt_f32_relu6_backward");
    }
    free(x), free(w), free(dy), free(work), free(dx0), free(dx), free(g0);
    free(px), free(p0), free(p), free(ry), free(rd), free(r0), free(r);
}

/* The backbone and a K = 3 tail, forward and backward, per thread count. */
static void model_and_tail_same_bits_on_any_thread_count(void **state) {
    (void)state;
    enum { SIDE = 64, N = 3, K = 3 };
    size_t len;
    void *bytes = tt_test_mnv2_synth(8, 24, 0, NULL, NULL, &len);
    tt_st_file *f;
    tt_mnv2 *m;
    tt_tail *t;
    tt_assert_ok(tt_st_open_memory(&f, bytes, len));
    tt_assert_ok(tt_mnv2_init(&m, f, SIDE));
    tt_assert_ok(tt_tail_init(&t, m, f, K, N));
    tt_tail_info ti = tt_tail_get_info(t);
    int F = ti.feature_dim;
    float *img = rnd((size_t)N * SIDE * SIDE * 3, 30, -1, 1);
    float *feat0 = tt_test_malloc((size_t)N * F * sizeof(float)), *feat = tt_test_malloc((size_t)N * F * sizeof(float));
    float *in0 = tt_test_malloc((size_t)N * ti.in_dim * sizeof(float)), *in = tt_test_malloc((size_t)N * ti.in_dim * sizeof(float));
    float *df = rnd((size_t)N * F, 31, -1, 1);
    tt_assert_ok(tt_mnv2_features(m, N, img, feat0));
    tt_assert_ok(tt_mnv2_forward_until(m, N, img, ti.first_block, in0));
    tt_named_tensor *params;
    tt_tail_params(t, &params);
    float *grad0 = tt_test_malloc(ti.params * sizeof(float));
    float *tf0 = tt_test_malloc((size_t)N * F * sizeof(float));
    tt_tail_zero_grad(t);
    memcpy(tf0, tt_tail_forward(t, N, in0), (size_t)N * F * sizeof(float));
    tt_tail_backward(t, N, in0, df);
    memcpy(grad0, params[0].grad, ti.params * sizeof(float));
    FOR_POOLS(pool) {
        tt_assert_ok(tt_mnv2_set_pool(m, pool));
        tt_assert_ok(tt_mnv2_features(m, N, img, feat)); /* one image per thread */
        same_bits(feat, feat0, (size_t)N * F, pool, "backbone features");
        tt_assert_ok(tt_mnv2_features(m, 1, img, feat)); /* every layer split */
        same_bits(feat, feat0, F, pool, "backbone features of one image");
        tt_assert_ok(tt_mnv2_forward_until(m, N, img, ti.first_block, in));
        same_bits(in, in0, (size_t)N * ti.in_dim, pool, "activations entering the tail");
        tt_assert_ok(tt_mnv2_forward_until(m, 1, img + SIDE * SIDE * 3, ti.first_block, in));
        same_bits(in, in0 + ti.in_dim, ti.in_dim, pool, "activations of one image entering the tail");
        tt_tail_set_pool(t, pool);
        tt_tail_zero_grad(t);
        same_bits(tt_tail_forward(t, N, in0), tf0, (size_t)N * F, pool, "tail features");
        tt_tail_backward(t, N, in0, df);
        same_bits(params[0].grad, grad0, ti.params, pool, "tail gradients");
    }
    tt_assert_ok(tt_mnv2_set_pool(m, NULL));
    tt_tail_set_pool(t, NULL);
    free(img), free(feat0), free(feat), free(in0), free(in), free(df), free(grad0), free(tf0);
    tt_tail_free(t);
    tt_mnv2_free(m);
    tt_st_close(f);
    free(bytes);
}

int main(void) {
    if (!tt_pool_threads_supported())
        print_message("this build has no threads: the thread-count comparisons are skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_same_bits_on_any_thread_count),
        cmocka_unit_test(conv_kernels_same_bits_on_any_thread_count),
        cmocka_unit_test(backward_and_pool_kernels_same_bits_on_any_thread_count),
        cmocka_unit_test(model_and_tail_same_bits_on_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
