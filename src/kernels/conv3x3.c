/* 3×3 full convolution, NHWC, SAME padding (the MobileNetV2 stem).
 *
 * Direct kernel vectorized over output channels: the OHWI weights are
 * repacked into `work` as [3][3][Cin][Cp] with Cp = Cout rounded up to two
 * vectors (zero-filled), so each (tap, input channel) is one broadcast of x
 * times whole weight vectors. The stem has Cin = 3, too few for an im2col
 * GEMM to pay for its copy. Interior pixels go 4 at a time × 2 output
 * vectors, so each weight load feeds 4 FMAs; in NHWC the 3 taps of one
 * window row are 3·Cin contiguous floats, walked as one run. Border pixels
 * take a per-pixel path over the clipped window. */
#include "kernels/conv_common.h"

static int conv_cout_padded(int Cout) {
    return (Cout + 2 * TT_VF_LANES - 1) / (2 * TT_VF_LANES) * (2 * TT_VF_LANES);
}

size_t tt_f32_conv3x3_work_size(int W, int Cin, int Cout, int stride) {
    return (size_t)9 * Cin * conv_cout_padded(Cout);
}

/* Store output vector c of a pixel, clipped to Cout (vectors past it are padding). */
TT_INLINE void conv_store(float *yp, int c, int Cout, tt_vf v, tt_act act) {
    if (c >= Cout) return;
    tt_vf_st(yp + c, tt_vf_act(v, act), Cout - c < TT_VF_LANES ? Cout - c : 0);
}

TT_INLINE tt_vf conv_bias(const float *bias, int c, int Cout) {
    if (!bias || c >= Cout) return tt_vf_zero();
    return tt_vf_ld(bias + c, Cout - c < TT_VF_LANES ? Cout - c : 0);
}

/* One pixel, clipped window: xw is its top-left in-range input pixel and
 * wp the packed weights of that tap; nky × nkx taps. */
static void conv_pixel(const float *xw, size_t row, int Cin, int Cp, const float *wp, int nky,
                       int nkx, const float *bias, int Cout, tt_act act, float *yp) {
    for (int c = 0; c < Cout; c += TT_VF_LANES) {
        tt_vf acc = conv_bias(bias, c, Cout);
        for (int ky = 0; ky < nky; ky++)
            for (int j = 0; j < nkx * Cin; j++)
                acc = tt_vf_fmadd(tt_vf_set1(xw[ky * row + j]),
                                  tt_vf_load(wp + ((size_t)ky * 3 * Cin + j) * Cp + c), acc);
        conv_store(yp, c, Cout, acc, act);
    }
}

/* 4 interior pixels (input windows px floats apart) × output vectors c, c+L. */
TT_INLINE void conv_4x2(const float *x, size_t px, size_t row, int Cin, int Cp, const float *wp,
                        const float *bias, int Cout, int c, tt_act act, float *y) {
    tt_vf b0 = conv_bias(bias, c, Cout), b1 = conv_bias(bias, c + TT_VF_LANES, Cout);
    tt_vf a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    for (int ky = 0; ky < 3; ky++) {
        const float *xr = x + ky * row;
        const float *wr = wp + (size_t)ky * 3 * Cin * Cp + c;
        for (int j = 0; j < 3 * Cin; j++) {
            tt_vf w0 = tt_vf_load(wr + (size_t)j * Cp), w1 = tt_vf_load(wr + (size_t)j * Cp + TT_VF_LANES);
            tt_vf x0 = tt_vf_set1(xr[j]), x1 = tt_vf_set1(xr[px + j]);
            tt_vf x2 = tt_vf_set1(xr[2 * px + j]), x3 = tt_vf_set1(xr[3 * px + j]);
            a00 = tt_vf_fmadd(x0, w0, a00), a01 = tt_vf_fmadd(x0, w1, a01);
            a10 = tt_vf_fmadd(x1, w0, a10), a11 = tt_vf_fmadd(x1, w1, a11);
            a20 = tt_vf_fmadd(x2, w0, a20), a21 = tt_vf_fmadd(x2, w1, a21);
            a30 = tt_vf_fmadd(x3, w0, a30), a31 = tt_vf_fmadd(x3, w1, a31);
        }
    }
    const int c1 = c + TT_VF_LANES;
    conv_store(y, c, Cout, a00, act), conv_store(y, c1, Cout, a01, act);
    conv_store(y + Cout, c, Cout, a10, act), conv_store(y + Cout, c1, Cout, a11, act);
    conv_store(y + 2 * (size_t)Cout, c, Cout, a20, act), conv_store(y + 2 * (size_t)Cout, c1, Cout, a21, act);
    conv_store(y + 3 * (size_t)Cout, c, Cout, a30, act), conv_store(y + 3 * (size_t)Cout, c1, Cout, a31, act);
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
    const size_t row = (size_t)W * Cin, px = (size_t)stride * Cin;
    /* Interior columns: ox·s - pl >= 0 and ox·s - pl + 2 <= W - 1. */
    int ox_lo = (pl + stride - 1) / stride;
    int ox_hi = W - 3 + pl < 0 ? 0 : (W - 3 + pl) / stride + 1;
    if (ox_hi > Wo) ox_hi = Wo;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++) {
            int iy = oy * stride - pt;
            int ky0 = iy < 0 ? -iy : 0, ky1 = H - iy < 3 ? H - iy : 3;
            const float *xrow = x + (size_t)n * H * row + (size_t)(iy + ky0) * row;
            float *yrow = y + ((size_t)n * Ho + oy) * Wo * Cout;
            int ox = 0;
            if (ky0 == 0 && ky1 == 3)
                for (ox = ox_lo; ox + 4 <= ox_hi; ox += 4) {
                    const float *xp = xrow + (size_t)(ox * stride - pl) * Cin;
                    for (int c = 0; c < Cout; c += 2 * TT_VF_LANES)
                        conv_4x2(xp, px, row, Cin, Cp, work, bias, Cout, c, act, yrow + (size_t)ox * Cout);
                }
            /* Everything the 4-pixel blocks did not cover, clipped per pixel. */
            int done_lo = ky0 == 0 && ky1 == 3 ? ox_lo : 0, done_hi = ox;
            for (ox = 0; ox < Wo; ox++) {
                if (ox >= done_lo && ox < done_hi) continue;
                int ix = ox * stride - pl;
                int kx0 = ix < 0 ? -ix : 0, kx1 = W - ix < 3 ? W - ix : 3;
                conv_pixel(xrow + (size_t)(ix + kx0) * Cin, row, Cin, Cp,
                           work + ((size_t)ky0 * 3 + kx0) * Cin * Cp, ky1 - ky0, kx1 - kx0, bias,
                           Cout, act, yrow + (size_t)ox * Cout);
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
