#include "tabtrain/gemm.h"

static float tt_apply_act(float v, tt_act act) {
    if (act == TT_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (act == TT_ACT_RELU6) return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    return v;
}

void tt_f32_gemm_ref(tt_trans trans_a, tt_trans trans_b, int M, int N, int K, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     const tt_epilogue *ep) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            if (beta != 0.0f) {
                *c += (float)s;
                continue;
            }
            float v = (float)s;
            if (ep) {
                if (ep->bias) v += ep->bias[j];
                v = tt_apply_act(v, ep->act);
                if (ep->residual) v += ep->residual[(size_t)i * ep->ldr + j];
            }
            *c = v;
        }
    }
}
