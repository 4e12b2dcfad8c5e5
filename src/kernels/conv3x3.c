/* 3×3 full convolution, NHWC, SAME padding (the MobileNetV2 stem).
 *
 * One output row at a time: its 3×3×Cin windows are gathered (im2col, zeros
 * for the padding) into `work`, then multiplied by the packed OHWI weights
 * with the GEMM micro-kernels, bias and activation fused into their store.
 * OHWI [Cout][3][3][Cin] is exactly Bᵀ for K = 9·Cin in (ky, kx, ci) order,
 * the order the gather writes, so the weights pack as they are. With Cin = 3
 * the gather copies 27 floats per output pixel, small next to the 27·Cout
 * multiply-adds it feeds, and the GEMM tiles keep every register busy where
 * a direct kernel over Cout has too few accumulators for wasm's 16
 * registers. With a pool, output rows are spread over the threads, each
 * gathering into its own slice of `work`. */
#include <string.h>

#include "kernels/conv_common.h"

size_t tt_f32_conv3x3_work_size(int W, int Cin, int Cout, int stride, int threads) {
    int K = 9 * Cin;
    return tt_f32_gemm_packed_size(K, Cout) + (size_t)threads * tt_same_out(W, stride) * K;
}

/* The windows of output row oy, one K-float row per output pixel. */
static void conv_gather_row(const float *x, int H, int W, int Cin, int stride, int oy, int pt,
                            int pl, int Wo, float *col) {
    const size_t K = (size_t)9 * Cin, cbytes = (size_t)Cin * sizeof(float);
    for (int ox = 0; ox < Wo; ox++) {
        float *dst = col + (size_t)ox * K;
        for (int ky = 0; ky < 3; ky++) {
            int iy = oy * stride - pt + ky;
            for (int kx = 0; kx < 3; kx++, dst += Cin) {
                int ix = ox * stride - pl + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                    memset(dst, 0, cbytes);
                else
                    memcpy(dst, x + ((size_t)iy * W + ix) * Cin, cbytes);
            }
        }
    }
}

typedef struct conv_job {
    int H, W, Cin, Cout, stride, K, Ho, Wo, pt, pl;
    const float *x, *packed;
    float *y, *col;
    tt_epilogue ep;
} conv_job;

/* Items are output rows n·Ho + oy. */
static void conv_rows(void *arg, int begin, int end, int worker) {
    const conv_job *j = arg;
    float *col = j->col + (size_t)worker * j->Wo * j->K;
    for (int i = begin; i < end; i++) {
        int n = i / j->Ho, oy = i % j->Ho;
        conv_gather_row(j->x + (size_t)n * j->H * j->W * j->Cin, j->H, j->W, j->Cin, j->stride, oy,
                        j->pt, j->pl, j->Wo, col);
        tt_f32_gemm_packed(NULL, j->Wo, j->Cout, j->K, col, j->K, j->packed,
                           j->y + (size_t)i * j->Wo * j->Cout, j->Cout, &j->ep);
    }
}

void tt_f32_conv3x3(tt_pool *pool, int N, int H, int W, int Cin, int Cout, int stride,
                    const float *x, const float *w, const float *bias, tt_act act, float *y,
                    float *work) {
    const int K = 9 * Cin, Ho = tt_same_out(H, stride), Wo = tt_same_out(W, stride);
    conv_job j = {H, W, Cin, Cout, stride, K, Ho, Wo, tt_same_pad_before(H, Ho, stride),
                  tt_same_pad_before(W, Wo, stride), x, work, y,
                  work + tt_f32_gemm_packed_size(K, Cout), {bias, act, NULL, 0}};
    tt_f32_gemm_pack_b(TT_TRANS, K, Cout, w, K, work);
    tt_pool_for(pool, N * Ho, 1, conv_rows, &j);
}

void tt_f32_conv3x3_ref(int N, int H, int W, int Cin, int Cout, int stride, const float *x,
                        const float *w, const float *bias, tt_act act, float *y) {
    int Ho = tt_same_out(H, stride), Wo = tt_same_out(W, stride);
    int pt = tt_same_pad_before(H, Ho, stride), pl = tt_same_pad_before(W, Wo, stride);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                for (int co = 0; co < Cout; co++) {
                    double s = bias ? bias[co] : 0.0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            for (int ci = 0; ci < Cin; ci++)
                                s += (double)x[(((size_t)n * H + iy) * W + ix) * Cin + ci] *
                                     w[(((size_t)co * 3 + ky) * 3 + kx) * Cin + ci];
                        }
                    y[(((size_t)n * Ho + oy) * Wo + ox) * Cout + co] = tt_act_scalar((float)s, act);
                }
}
