/* 1×1 convolution / dense layer backward on top of tt_f32_gemm. */
#include "kernels/conv_common.h"

size_t tt_f32_dense_backward_work_size(int M, int Cin, int Cout) {
    size_t a = tt_f32_gemm_work_size(M, Cin, Cout);  /* dx = dy · w */
    size_t b = tt_f32_gemm_work_size(Cout, Cin, M);  /* dw += dyᵀ · x */
    return a > b ? a : b;
}

void tt_f32_dense_backward(int M, int Cin, int Cout, const float *x, const float *w,
                           const float *dy, float *dx, float *dw, float *db, float *work) {
    if (dx) tt_f32_gemm(TT_NO_TRANS, TT_NO_TRANS, M, Cin, Cout, dy, Cout, w, Cin, 0.0f, dx, Cin, NULL, work);
    if (dw) tt_f32_gemm(TT_TRANS, TT_NO_TRANS, Cout, Cin, M, dy, Cout, x, Cin, 1.0f, dw, Cin, NULL, work);
    if (!db) return;
    int c = 0;
    for (; c + TT_VF_LANES <= Cout; c += TT_VF_LANES) {
        tt_vf s = tt_vf_zero();
        for (int m = 0; m < M; m++) s = tt_vf_add(s, tt_vf_load(dy + (size_t)m * Cout + c));
        tt_vf_store(db + c, tt_vf_add(tt_vf_load(db + c), s));
    }
    for (; c < Cout; c++) {
        float s = 0.0f;
        for (int m = 0; m < M; m++) s += dy[(size_t)m * Cout + c];
        db[c] += s;
    }
}
