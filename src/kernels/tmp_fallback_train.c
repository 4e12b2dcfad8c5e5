/* TEMPORARY naive stand-ins for kernels other helpers are implementing, so the
 * training code builds and is testable on this branch. Drop at merge. */
#include <math.h>

#include "tabtrain/conv.h"
#include "tabtrain/gemm.h"

size_t tt_f32_gemm_work_size(int M, int N, int K) { return 0; }

void tt_f32_gemm(tt_trans trans_a, tt_trans trans_b, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, const tt_epilogue *ep,
                 float *work) {
    tt_f32_gemm_ref(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, ep);
}

size_t tt_f32_dense_backward_work_size(int M, int Cin, int Cout) { return 0; }

void tt_f32_dense_backward(int M, int Cin, int Cout, const float *x, const float *w,
                           const float *dy, float *dx, float *dw, float *db, float *work) {
    if (dx) tt_f32_gemm_ref(TT_NO_TRANS, TT_NO_TRANS, M, Cin, Cout, dy, Cout, w, Cin, 0.0f, dx, Cin, NULL);
    if (dw) tt_f32_gemm_ref(TT_TRANS, TT_NO_TRANS, Cout, Cin, M, dy, Cout, x, Cin, 1.0f, dw, Cin, NULL);
    if (db)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < Cout; j++) db[j] += dy[(size_t)i * Cout + j];
}

void tt_f32_softmax(int rows, int cols, const float *x, float *y) {
    for (int i = 0; i < rows; i++) {
        const float *xr = x + (size_t)i * cols;
        float *yr = y + (size_t)i * cols;
        float m = xr[0];
        for (int j = 1; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) s += yr[j] = expf(xr[j] - m);
        for (int j = 0; j < cols; j++) yr[j] /= s;
    }
}

void tt_f32_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
