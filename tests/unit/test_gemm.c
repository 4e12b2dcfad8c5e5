/* f32 GEMM: every entry point against the double-accumulating reference,
 * over shapes around the tile edges, primes, squares and every MobileNetV2
 * pointwise convolution, all transpose combinations, beta 0/1, each
 * epilogue, and leading dimensions wider than the matrices.
 *
 * Tolerance: A in [-2,2), B in [-1,1), so |a·b| <= 2 and a float sum of K
 * such products errs by at most about K·eps·2 (eps = FLT_EPSILON), far less
 * in practice; we allow atol = 4·eps·2·(K+4) (the +4 covers bias, residual
 * and beta = 1's C term) plus rtol = 1e-5. Kernels that drop or double a
 * single product, or misplace a column, are off by O(0.1) and fail. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/gemm.h"
#include "tt_test.h"

typedef struct shape {
    int M, K, N;
} shape;

/* Around the tile edges (MR is 6 or 8, NR 8/16/32 by ISA), primes, squares. */
static const shape small_shapes[] = {
    {1, 1, 1},   {1, 7, 1},   {2, 3, 5},    {5, 4, 7},    {6, 8, 8},    {7, 9, 9},
    {8, 16, 16}, {9, 17, 17}, {13, 13, 13}, {12, 31, 33}, {17, 5, 32},  {31, 2, 31},
    {7, 97, 13}, {97, 7, 3},  {16, 1, 48},  {25, 33, 65}, {64, 64, 64}, {97, 97, 97},
    {3, 0, 5},
    /* K large enough that N is cut into several L2 blocks (per ISA), the
     * last one ending in a partial panel. */
    {13, 700, 203},
};

/* M×K×N of every distinct MobileNetV2 1×1 convolution (M = H·W, K = Cin, N = Cout). */
static const shape mnv2_shapes[] = {
    {12544, 32, 16}, {12544, 16, 96}, {3136, 96, 24}, {3136, 24, 144}, {3136, 144, 24},
    {784, 144, 32},  {784, 32, 192},  {784, 192, 32}, {196, 192, 64},  {196, 64, 384},
    {196, 384, 64},  {196, 384, 96},  {196, 96, 576}, {196, 576, 96},  {49, 576, 160},
    {49, 160, 960},  {49, 960, 160},  {49, 960, 320}, {49, 320, 1280},
};

enum { EP_NONE, EP_BIAS, EP_BIAS_RELU, EP_RELU6_RES, EP_BIAS_RELU6_RES, EP_COUNT };

/* One problem's buffers, with padded leading dimensions. */
typedef struct problem {
    int M, K, N, lda, ldb, ldc, ldr;
    tt_trans ta, tb;
    float *A, *B, *C0, *bias, *res;
    size_t a_len, b_len, c_len;
} problem;

static void problem_init(problem *p, shape s, tt_trans ta, tt_trans tb, int pad, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->M = s.M, p->K = s.K, p->N = s.N, p->ta = ta, p->tb = tb;
    int a_rows = ta ? s.K : s.M, a_cols = ta ? s.M : s.K;
    int b_rows = tb ? s.N : s.K, b_cols = tb ? s.K : s.N;
    p->lda = a_cols + pad;
    p->ldb = b_cols + 2 * pad;
    p->ldc = s.N + pad;
    p->ldr = s.N + 3 * pad;
    p->a_len = (size_t)a_rows * p->lda + 1;
    p->b_len = (size_t)b_rows * p->ldb + 1;
    p->c_len = (size_t)s.M * p->ldc;
    p->A = tt_test_malloc(p->a_len * sizeof(float));
    p->B = tt_test_malloc(p->b_len * sizeof(float));
    p->C0 = tt_test_malloc(p->c_len * sizeof(float) + 1);
    p->bias = tt_test_malloc((size_t)s.N * sizeof(float) + 1);
    p->res = tt_test_malloc((size_t)s.M * p->ldr * sizeof(float) + 1);
    tt_test_fill(p->A, p->a_len, seed, -2.0f, 2.0f);
    tt_test_fill(p->B, p->b_len, seed + 1, -1.0f, 1.0f);
    /* C's padding must survive: it starts non-zero and is compared too. */
    tt_test_fill(p->C0, p->c_len, seed + 2, -1.0f, 1.0f);
    tt_test_fill(p->bias, (size_t)s.N, seed + 3, -3.0f, 3.0f);
    tt_test_fill(p->res, (size_t)s.M * p->ldr, seed + 4, -1.0f, 1.0f);
}

static void problem_free(problem *p) {
    free(p->A), free(p->B), free(p->C0), free(p->bias), free(p->res);
}

static tt_epilogue make_epilogue(const problem *p, int kind) {
    tt_epilogue ep = {0};
    if (kind == EP_BIAS || kind == EP_BIAS_RELU || kind == EP_BIAS_RELU6_RES) ep.bias = p->bias;
    if (kind == EP_BIAS_RELU) ep.act = TT_ACT_RELU;
    if (kind == EP_RELU6_RES || kind == EP_BIAS_RELU6_RES) {
        ep.act = TT_ACT_RELU6;
        ep.residual = p->res;
        ep.ldr = p->ldr;
    }
    return ep;
}

static float tolerance(int K) { return 4.0f * FLT_EPSILON * 2.0f * (float)(K + 4); }

/* Runs tt_f32_gemm (and, when A is not transposed and beta = 0,
 * tt_f32_gemm_pack_b + tt_f32_gemm_packed) and compares with the reference. */
static void check(const problem *p, float beta, int ep_kind, int also_packed) {
    char what[160];
    snprintf(what, sizeof what, "M=%d K=%d N=%d ta=%d tb=%d beta=%g ep=%d", p->M, p->K, p->N, p->ta,
             p->tb, beta, ep_kind);
    tt_epilogue ep = make_epilogue(p, ep_kind);
    const tt_epilogue *epp = ep_kind == EP_NONE ? NULL : &ep;

    float *want = tt_test_malloc(p->c_len * sizeof(float) + 1);
    float *got = tt_test_malloc(p->c_len * sizeof(float) + 1);
    memcpy(want, p->C0, p->c_len * sizeof(float));
    tt_f32_gemm_ref(p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, beta, want, p->ldc,
                    epp);

    /* Exactly work_size floats, so an overrun shows under ASan. */
    size_t work_n = tt_f32_gemm_work_size(p->M, p->N, p->K);
    float *work = tt_test_malloc(work_n * sizeof(float) + 1);
    memcpy(got, p->C0, p->c_len * sizeof(float));
    tt_f32_gemm(NULL, p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, beta, got, p->ldc, epp,
                work);
    tt_test_assert_close(got, want, p->c_len, tolerance(p->K), 1e-5f, what);
    free(work);

    if (also_packed && !p->ta && beta == 0.0f) {
        size_t packed_n = tt_f32_gemm_packed_size(p->K, p->N);
        assert_true(packed_n >= (size_t)p->K * p->N);
        float *packed = tt_test_malloc(packed_n * sizeof(float) + 1);
        tt_f32_gemm_pack_b(p->tb, p->K, p->N, p->B, p->ldb, packed);
        memcpy(got, p->C0, p->c_len * sizeof(float));
        tt_f32_gemm_packed(NULL, p->M, p->N, p->K, p->A, p->lda, packed, got, p->ldc, epp);
        strncat(what, " packed", sizeof what - strlen(what) - 1);
        tt_test_assert_close(got, want, p->c_len, tolerance(p->K), 1e-5f, what);
        free(packed);
    }
    free(want);
    free(got);
}

static void small_shapes_all_variants(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof small_shapes / sizeof small_shapes[0]; s++) {
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                for (int pad = 0; pad <= 3; pad += 3) {
                    problem p;
                    problem_init(&p, small_shapes[s], (tt_trans)ta, (tt_trans)tb, pad, 100 + s);
                    for (int e = 0; e < EP_COUNT; e++) check(&p, 0.0f, e, 1);
                    check(&p, 1.0f, EP_NONE, 0);
                    /* beta = 1 ignores the epilogue. */
                    check(&p, 1.0f, EP_BIAS_RELU6_RES, 0);
                    problem_free(&p);
                }
            }
        }
    }
}

/* The forward pass's form: OHWI weights packed with trans_b, fused bias +
 * ReLU6 (+ residual), padded strides; plus beta = 1 with Aᵀ as in dW. */
static void mnv2_pointwise_shapes(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof mnv2_shapes / sizeof mnv2_shapes[0]; s++) {
        problem p;
        problem_init(&p, mnv2_shapes[s], TT_NO_TRANS, TT_TRANS, (int)(s % 3), 200 + s);
        check(&p, 0.0f, s % 2 ? EP_BIAS_RELU6_RES : EP_BIAS_RELU, 1);
        problem_free(&p);
    }
    /* A few big ones through the transposed and accumulating paths. */
    static const int picks[] = {0, 5, 14, 18};
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
        shape sh = mnv2_shapes[picks[i]];
        problem p;
        problem_init(&p, sh, (tt_trans)(i % 2), (tt_trans)(i / 2 % 2), 1, 300 + i);
        check(&p, 1.0f, EP_NONE, 0);
        check(&p, 0.0f, EP_BIAS_RELU, 0);
        problem_free(&p);
    }
}

/* Bias indexes columns and the residual uses its own stride: a kernel that
 * mixed them up would still match on square, unpadded problems, so this
 * checks one value by hand on a tall, narrow, padded one. */
static void epilogue_order_bias_act_residual(void **state) {
    (void)state;
    enum { M = 9, K = 3, N = 11, LDR = 13 };
    float A[M * K], B[K * N], bias[N], res[M * LDR], C[M * N];
    for (int i = 0; i < M * K; i++) A[i] = 1.0f;
    for (int i = 0; i < K * N; i++) B[i] = 1.0f; /* every dot product is 3 */
    for (int j = 0; j < N; j++) bias[j] = (float)j;
    for (int i = 0; i < M * LDR; i++) res[i] = 0.5f;
    float *work = tt_test_malloc(tt_f32_gemm_work_size(M, N, K) * sizeof(float));
    tt_epilogue ep = {bias, TT_ACT_RELU6, res, LDR};
    tt_f32_gemm(NULL, TT_NO_TRANS, TT_NO_TRANS, M, N, K, A, K, B, N, 0.0f, C, N, &ep, work);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float v = 3.0f + (float)j;
            assert_float_equal(C[i * N + j], (v > 6.0f ? 6.0f : v) + 0.5f, 0.0f);
        }
    free(work);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_shapes_all_variants),
        cmocka_unit_test(mnv2_pointwise_shapes),
        cmocka_unit_test(epilogue_order_bias_act_residual),
    };
    printf("# micro-kernel: %s\n", tt_f32_gemm_ukernel_name());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
