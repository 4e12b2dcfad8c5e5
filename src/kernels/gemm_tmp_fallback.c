/* TEMPORARY: naive tt_f32_gemm* on top of tt_f32_gemm_ref so the conv branch
 * builds before the optimized GEMM lands. Dropped at merge. */
#include "tabtrain/gemm.h"

size_t tt_f32_gemm_packed_size(int K, int N) { return (size_t)K * N; }

void tt_f32_gemm_pack_b(tt_trans trans_b, int K, int N, const float *B, int ldb, float *packed) {
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            packed[(size_t)k * N + n] = trans_b ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
}

void tt_f32_gemm_packed(int M, int N, int K, const float *A, int lda, const float *packed, float *C,
                        int ldc, const tt_epilogue *ep) {
    tt_f32_gemm_ref(TT_NO_TRANS, TT_NO_TRANS, M, N, K, A, lda, packed, N, 0.0f, C, ldc, ep);
}

size_t tt_f32_gemm_work_size(int M, int N, int K) { return 1; }

void tt_f32_gemm(tt_trans trans_a, tt_trans trans_b, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const tt_epilogue *ep,
                 float *work) {
    tt_f32_gemm_ref(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, ep);
}
