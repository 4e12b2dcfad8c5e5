/* 3×3 full convolution, NHWC, SAME padding (the MobileNetV2 stem).
 *
 * Direct kernel vectorized over output channels: the OHWI weights are
 * repacked into `work` as [3][3][Cin][Cout rounded up to the lane count]
 * (zero-filled), so each (tap, input channel) is one broadcast of x times
 * whole weight vectors. The stem has Cin = 3, too few for an im2col GEMM to
 * pay for its copy. Up to 4 output vectors are accumulated per pass. */
#include "kernels/conv_common.h"

static int conv_cout_padded(int Cout) { return (Cout + TT_VF_LANES - 1) / TT_VF_LANES * TT_VF_LANES; }

size_t tt_f32_conv3x3_work_size(int W, int Cin, int Cout, int stride) {
    return (size_t)9 * Cin * conv_cout_padded(Cout);
}

/* V output vectors (channels co..co+V·L) of one pixel; taps [ky0,ky1)×[kx0,kx1). */
TT_INLINE void conv_pixel_vecs(const float *xw, size_t row, int Cin, int Cp, const float *wp,
                               int ky0, int ky1, int kx0, int kx1, const float *bias, int Cout,
                               int co, tt_act act, float *yp, const int V) {
    tt_vf acc[4];
    _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) {
        int c = co + v * TT_VF_LANES;
        int tail = Cout - c < TT_VF_LANES ? Cout - c : 0;
        acc[v] = bias ? tt_vf_ld(bias + c, tail) : tt_vf_zero();
    }
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++) {
            const float *xp = xw + ky * row + (size_t)kx * Cin;
            const float *wt = wp + (size_t)(ky * 3 + kx) * Cin * Cp + co;
            for (int ci = 0; ci < Cin; ci++) {
                tt_vf xv = tt_vf_set1(xp[ci]);
                _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)
                    acc[v] = tt_vf_fmadd(xv, tt_vf_load(wt + (size_t)ci * Cp + v * TT_VF_LANES), acc[v]);
            }
        }
    _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) {
        int c = co + v * TT_VF_LANES;
        int tail = Cout - c < TT_VF_LANES ? Cout - c : 0;
        tt_vf_st(yp + c, tt_vf_act(acc[v], act), tail);
    }
}

void tt_f32_conv3x3(int N, int H, int W, int Cin, int Cout, int stride, const float *x,
                    const float *w, const float *bias, tt_act act, float *y, float *work) {
    const int Cp = conv_cout_padded(Cout);
    for (int t = 0; t < 9; t++)
        for (int ci = 0; ci < Cin; ci++)
            for (int co = 0; co < Cp; co++)
                work[((size_t)t * Cin + ci) * Cp + co] =
                    co < Cout ? w[((size_t)co * 9 + t) * Cin + ci] : 0.0f;
    int Ho = tt_same_out(H, stride), Wo = tt_same_out(W, stride);
    int pt = tt_same_pad_before(H, Ho, stride), pl = tt_same_pad_before(W, Wo, stride);
    const size_t row = (size_t)W * Cin;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++) {
            int iy = oy * stride - pt;
            int ky0 = iy < 0 ? -iy : 0, ky1 = H - iy < 3 ? H - iy : 3;
            for (int ox = 0; ox < Wo; ox++) {
                int ix = ox * stride - pl;
                int kx0 = ix < 0 ? -ix : 0, kx1 = W - ix < 3 ? W - ix : 3;
                /* Offsets are formed from the clipped window so no pointer
                 * ever points before x. */
                const float *xw = x + (size_t)n * H * row + (size_t)(iy + ky0) * row +
                                  (size_t)(ix + kx0) * Cin;
                const float *wp = work + ((size_t)ky0 * 3 + kx0) * Cin * Cp;
                float *yp = y + (((size_t)n * Ho + oy) * Wo + ox) * Cout;
                int co = 0;
                for (; co + 4 * TT_VF_LANES <= Cp; co += 4 * TT_VF_LANES)
                    conv_pixel_vecs(xw, row, Cin, Cp, wp, 0, ky1 - ky0, 0, kx1 - kx0, bias, Cout, co,
                                    act, yp, 4);
                for (; co < Cp; co += TT_VF_LANES)
                    conv_pixel_vecs(xw, row, Cin, Cp, wp, 0, ky1 - ky0, 0, kx1 - kx0, bias, Cout, co,
                                    act, yp, 1);
            }
        }
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
