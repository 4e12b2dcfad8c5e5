/* 1×1 convolution / dense layer backward on top of tt_f32_gemm. Both
 * products split over their outputs (dx rows, dw rows = output channels),
 * never over M, the dimension dw and db sum over: each gradient element is
 * one sum in one order, whatever the thread count. */
#include "kernels/conv_common.h"

size_t tt_f32_dense_backward_work_size(int M, int Cin, int Cout) {
    size_t a = tt_f32_gemm_work_size(M, Cin, Cout);  /* dx = dy · w */
    size_t b = tt_f32_gemm_work_size(Cout, Cin, M);  /* dw += dyᵀ · x */
    return a > b ? a : b;
}

typedef struct db_job {
    int M, Cout;
    const float *dy;
    float *db;
} db_job;

/* Items are vectors of LANES bias-gradient columns (the last may be short). */
static void db_cols(void *arg, int begin, int end, int worker) {
    const db_job *j = arg;
    (void)worker;
    for (int i = begin; i < end; i++) {
        int c = i * TT_VF_LANES, tail = j->Cout - c < TT_VF_LANES ? j->Cout - c : 0;
        tt_vf s = tt_vf_zero();
        for (int m = 0; m < j->M; m++) s = tt_vf_add(s, tt_vf_ld(j->dy + (size_t)m * j->Cout + c, tail));
        tt_vf_st(j->db + c, tt_vf_add(tt_vf_ld(j->db + c, tail), s), tail);
    }
}

void tt_f32_dense_backward(tt_pool *pool, int M, int Cin, int Cout, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, float *db,
                           float *work) {
    if (dx) tt_f32_gemm(pool, TT_NO_TRANS, TT_NO_TRANS, M, Cin, Cout, dy, Cout, w, Cin, 0.0f, dx, Cin, NULL, work);
    if (dw) tt_f32_gemm(pool, TT_TRANS, TT_NO_TRANS, Cout, Cin, M, dy, Cout, x, Cin, 1.0f, dw, Cin, NULL, work);
    if (!db) return;
    db_job j = {M, Cout, dy, db};
    tt_pool_for(pool, (Cout + TT_VF_LANES - 1) / TT_VF_LANES, 1 + 4096 / (M + 1), db_cols, &j);
}
