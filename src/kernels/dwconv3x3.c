/* 3×3 depthwise convolution, NHWC, SAME padding, stride 1 or 2.
 *
 * Memory-bound, so the forward pass vectorizes over channels and, for the
 * interior of the output (every tap in range), computes 4 output pixels of
 * one channel tile per step with the 9 weight vectors held in registers:
 * at stride 1 the 4 pixels share 6 input columns per row instead of loading
 * 12. Border pixels (at most the first/last row and column) take a per-pixel
 * path whose tap ranges are computed once per pixel, outside the channel
 * loop. */
#include <string.h>

#include "kernels/conv_common.h"

typedef struct dw_geom {
    int Ho, Wo, pt, pl;
    int oy_lo, oy_hi, ox_lo, ox_hi; /* outputs whose 3×3 window is fully inside */
} dw_geom;

static void dw_interior(int in, int out, int pad, int s, int *lo, int *hi) {
    *lo = (pad + s - 1) / s;
    int last = in - 3 + pad; /* largest o·s with o·s - pad + 2 <= in - 1 */
    int h = last < 0 ? 0 : last / s + 1;
    if (h > out) h = out;
    *hi = h < *lo ? *lo : h;
}

static dw_geom dw_make_geom(int H, int W, int s) {
    dw_geom g;
    g.Ho = tt_same_out(H, s);
    g.Wo = tt_same_out(W, s);
    g.pt = tt_same_pad_before(H, g.Ho, s);
    g.pl = tt_same_pad_before(W, g.Wo, s);
    dw_interior(H, g.Ho, g.pt, s, &g.oy_lo, &g.oy_hi);
    dw_interior(W, g.Wo, g.pl, s, &g.ox_lo, &g.ox_hi);
    return g;
}

/* One window row (weights w0..w2) into the accumulators of 4 output pixels
 * (stride 1: 6 input columns; stride 2: 9) or of 1 pixel. Written out rather
 * than as loops over pixels and taps: clang does not fully unroll those for
 * wasm, leaving the weights in memory and a branch per tap. */
TT_INLINE void dw_row_s1x4(const float *p, size_t C, tt_vf w0, tt_vf w1, tt_vf w2, tt_vf a[4],
                           int tail) {
    tt_vf i0 = tt_vf_ld(p, tail), i1 = tt_vf_ld(p + C, tail), i2 = tt_vf_ld(p + 2 * C, tail);
    tt_vf i3 = tt_vf_ld(p + 3 * C, tail), i4 = tt_vf_ld(p + 4 * C, tail), i5 = tt_vf_ld(p + 5 * C, tail);
    a[0] = tt_vf_fmadd(i2, w2, tt_vf_fmadd(i1, w1, tt_vf_fmadd(i0, w0, a[0])));
    a[1] = tt_vf_fmadd(i3, w2, tt_vf_fmadd(i2, w1, tt_vf_fmadd(i1, w0, a[1])));
    a[2] = tt_vf_fmadd(i4, w2, tt_vf_fmadd(i3, w1, tt_vf_fmadd(i2, w0, a[2])));
    a[3] = tt_vf_fmadd(i5, w2, tt_vf_fmadd(i4, w1, tt_vf_fmadd(i3, w0, a[3])));
}

TT_INLINE void dw_row_s2x4(const float *p, size_t C, tt_vf w0, tt_vf w1, tt_vf w2, tt_vf a[4],
                           int tail) {
    tt_vf i0 = tt_vf_ld(p, tail), i1 = tt_vf_ld(p + C, tail), i2 = tt_vf_ld(p + 2 * C, tail);
    a[0] = tt_vf_fmadd(i2, w2, tt_vf_fmadd(i1, w1, tt_vf_fmadd(i0, w0, a[0])));
    tt_vf i3 = tt_vf_ld(p + 3 * C, tail), i4 = tt_vf_ld(p + 4 * C, tail);
    a[1] = tt_vf_fmadd(i4, w2, tt_vf_fmadd(i3, w1, tt_vf_fmadd(i2, w0, a[1])));
    tt_vf i5 = tt_vf_ld(p + 5 * C, tail), i6 = tt_vf_ld(p + 6 * C, tail);
    a[2] = tt_vf_fmadd(i6, w2, tt_vf_fmadd(i5, w1, tt_vf_fmadd(i4, w0, a[2])));
    tt_vf i7 = tt_vf_ld(p + 7 * C, tail), i8 = tt_vf_ld(p + 8 * C, tail);
    a[3] = tt_vf_fmadd(i8, w2, tt_vf_fmadd(i7, w1, tt_vf_fmadd(i6, w0, a[3])));
}

TT_INLINE tt_vf dw_row_x1(const float *p, size_t C, tt_vf w0, tt_vf w1, tt_vf w2, tt_vf a, int tail) {
    return tt_vf_fmadd(tt_vf_ld(p + 2 * C, tail), w2,
                       tt_vf_fmadd(tt_vf_ld(p + C, tail), w1, tt_vf_fmadd(tt_vf_ld(p, tail), w0, a)));
}

/* Interior columns [ox0, ox1) of one output row, one channel tile. xrow[r]
 * points at input row r of the window, channel c. */
TT_INLINE void dw_row(const float *const xrow[3], int C, int s, int pl, int ox0, int ox1,
                      const float *w, const float *bias, tt_act act, float *yrow, int tail) {
    const size_t Cz = (size_t)C;
    tt_vf w0 = tt_vf_ld(w, tail), w1 = tt_vf_ld(w + Cz, tail), w2 = tt_vf_ld(w + 2 * Cz, tail);
    tt_vf w3 = tt_vf_ld(w + 3 * Cz, tail), w4 = tt_vf_ld(w + 4 * Cz, tail), w5 = tt_vf_ld(w + 5 * Cz, tail);
    tt_vf w6 = tt_vf_ld(w + 6 * Cz, tail), w7 = tt_vf_ld(w + 7 * Cz, tail), w8 = tt_vf_ld(w + 8 * Cz, tail);
    tt_vf b = bias ? tt_vf_ld(bias, tail) : tt_vf_zero();
    int ox = ox0;
    for (; ox + 4 <= ox1; ox += 4) {
        size_t off = (size_t)(ox * s - pl) * Cz;
        tt_vf a[4] = {b, b, b, b};
        if (s == 1) {
            dw_row_s1x4(xrow[0] + off, Cz, w0, w1, w2, a, tail);
            dw_row_s1x4(xrow[1] + off, Cz, w3, w4, w5, a, tail);
            dw_row_s1x4(xrow[2] + off, Cz, w6, w7, w8, a, tail);
        } else {
            dw_row_s2x4(xrow[0] + off, Cz, w0, w1, w2, a, tail);
            dw_row_s2x4(xrow[1] + off, Cz, w3, w4, w5, a, tail);
            dw_row_s2x4(xrow[2] + off, Cz, w6, w7, w8, a, tail);
        }
        float *yp = yrow + (size_t)ox * Cz;
        tt_vf_st(yp, tt_vf_act(a[0], act), tail);
        tt_vf_st(yp + Cz, tt_vf_act(a[1], act), tail);
        tt_vf_st(yp + 2 * Cz, tt_vf_act(a[2], act), tail);
        tt_vf_st(yp + 3 * Cz, tt_vf_act(a[3], act), tail);
    }
    for (; ox < ox1; ox++) {
        size_t off = (size_t)(ox * s - pl) * Cz;
        tt_vf a = dw_row_x1(xrow[0] + off, Cz, w0, w1, w2, b, tail);
        a = dw_row_x1(xrow[1] + off, Cz, w3, w4, w5, a, tail);
        a = dw_row_x1(xrow[2] + off, Cz, w6, w7, w8, a, tail);
        tt_vf_st(yrow + (size_t)ox * Cz, tt_vf_act(a, act), tail);
    }
}

/* One output pixel whose window may cross the border: x is image n. */
static void dw_pixel(const float *x, int H, int W, int C, int iy, int ix, const float *w,
                     const float *bias, tt_act act, float *yp) {
    int ky0 = iy < 0 ? -iy : 0, ky1 = H - iy < 3 ? H - iy : 3;
    int kx0 = ix < 0 ? -ix : 0, kx1 = W - ix < 3 ? W - ix : 3;
    for (int c = 0; c < C; c += TT_VF_LANES) {
        int tail = C - c < TT_VF_LANES ? C - c : 0;
        tt_vf acc = bias ? tt_vf_ld(bias + c, tail) : tt_vf_zero();
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++)
                acc = tt_vf_fmadd(tt_vf_ld(x + ((size_t)(iy + ky) * W + (ix + kx)) * C + c, tail),
                                  tt_vf_ld(w + (size_t)(ky * 3 + kx) * C + c, tail), acc);
        tt_vf_st(yp + c, tt_vf_act(acc, act), tail);
    }
}

void tt_f32_dwconv3x3(int N, int H, int W, int C, int stride, const float *x, const float *w,
                      const float *bias, tt_act act, float *y) {
    const int s = stride;
    dw_geom g = dw_make_geom(H, W, s);
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * H * W * C;
        float *yn = y + (size_t)n * g.Ho * g.Wo * C;
        for (int oy = 0; oy < g.Ho; oy++) {
            int iy = oy * s - g.pt;
            float *yrow = yn + (size_t)oy * g.Wo * C;
            int inner = oy >= g.oy_lo && oy < g.oy_hi;
            int ox_lo = inner ? g.ox_lo : g.Wo, ox_hi = inner ? g.ox_hi : g.Wo;
            for (int ox = 0; ox < ox_lo; ox++)
                dw_pixel(xn, H, W, C, iy, ox * s - g.pl, w, bias, act, yrow + (size_t)ox * C);
            for (int ox = ox_hi; ox < g.Wo && inner; ox++)
                dw_pixel(xn, H, W, C, iy, ox * s - g.pl, w, bias, act, yrow + (size_t)ox * C);
            if (!inner || ox_lo == ox_hi) continue;
            const float *row0 = xn + (size_t)iy * W * C;
            int c = 0;
            if (s == 1) {
                for (; c + TT_VF_LANES <= C; c += TT_VF_LANES) {
                    const float *xr[3] = {row0 + c, row0 + (size_t)W * C + c, row0 + (size_t)2 * W * C + c};
                    dw_row(xr, C, 1, g.pl, ox_lo, ox_hi, w + c, bias ? bias + c : NULL, act, yrow + c, 0);
                }
            } else {
                for (; c + TT_VF_LANES <= C; c += TT_VF_LANES) {
                    const float *xr[3] = {row0 + c, row0 + (size_t)W * C + c, row0 + (size_t)2 * W * C + c};
                    dw_row(xr, C, 2, g.pl, ox_lo, ox_hi, w + c, bias ? bias + c : NULL, act, yrow + c, 0);
                }
            }
            if (c < C) {
                const float *xr[3] = {row0 + c, row0 + (size_t)W * C + c, row0 + (size_t)2 * W * C + c};
                dw_row(xr, C, s, g.pl, ox_lo, ox_hi, w + c, bias ? bias + c : NULL, act, yrow + c, C - c);
            }
        }
    }
}

void tt_f32_dwconv3x3_ref(int N, int H, int W, int C, int stride, const float *x, const float *w,
                          const float *bias, tt_act act, float *y) {
    int Ho = tt_same_out(H, stride), Wo = tt_same_out(W, stride);
    int pt = tt_same_pad_before(H, Ho, stride), pl = tt_same_pad_before(W, Wo, stride);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                for (int c = 0; c < C; c++) {
                    double s = bias ? bias[c] : 0.0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            s += (double)x[(((size_t)n * H + iy) * W + ix) * C + c] *
                                 w[(ky * 3 + kx) * C + c];
                        }
                    y[(((size_t)n * Ho + oy) * Wo + ox) * C + c] = tt_act_scalar((float)s, act);
                }
}

/* Backward. Per channel tile, the 9 weight-gradient sums stay in registers
 * over every interior pixel of the batch; border pixels add into dw directly.
 * dx is scattered: dx[window] += dy·w. */
TT_INLINE void dwb_tile(int N, int H, int W, int C, int s, const dw_geom *g, const float *x,
                        const float *w, const float *dy, float *dx, float *dw, float *db, int c,
                        int tail) {
    tt_vf wv[9], gw[9], gb = tt_vf_zero();
    for (int k = 0; k < 9; k++) {
        wv[k] = tt_vf_ld(w + (size_t)k * C + c, tail);
        gw[k] = tt_vf_zero();
    }
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * H * W * C + c;
        float *dxn = dx ? dx + (size_t)n * H * W * C + c : NULL;
        for (int oy = 0; oy < g->Ho; oy++) {
            int iy = oy * s - g->pt;
            int inner_row = oy >= g->oy_lo && oy < g->oy_hi;
            const float *dyr = dy + (((size_t)n * g->Ho + oy) * g->Wo) * C + c;
            for (int ox = 0; ox < g->Wo; ox++) {
                int ix = ox * s - g->pl;
                tt_vf d = tt_vf_ld(dyr + (size_t)ox * C, tail);
                gb = tt_vf_add(gb, d);
                if (inner_row && ox >= g->ox_lo && ox < g->ox_hi) {
                    _Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ky++) {
                        size_t off = ((size_t)(iy + ky) * W + ix) * C;
                        _Pragma("GCC unroll 3") for (int kx = 0; kx < 3; kx++) {
                            size_t o = off + (size_t)kx * C;
                            gw[ky * 3 + kx] = tt_vf_fmadd(d, tt_vf_ld(xn + o, tail), gw[ky * 3 + kx]);
                            if (dxn) tt_vf_st(dxn + o, tt_vf_fmadd(d, wv[ky * 3 + kx], tt_vf_ld(dxn + o, tail)), tail);
                        }
                    }
                    continue;
                }
                int ky0 = iy < 0 ? -iy : 0, ky1 = H - iy < 3 ? H - iy : 3;
                int kx0 = ix < 0 ? -ix : 0, kx1 = W - ix < 3 ? W - ix : 3;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        size_t o = ((size_t)(iy + ky) * W + (ix + kx)) * C;
                        float *dwk = dw ? dw + (size_t)(ky * 3 + kx) * C + c : NULL;
                        if (dwk) tt_vf_st(dwk, tt_vf_fmadd(d, tt_vf_ld(xn + o, tail), tt_vf_ld(dwk, tail)), tail);
                        if (dxn)
                            tt_vf_st(dxn + o,
                                     tt_vf_fmadd(d, tt_vf_ld(w + (size_t)(ky * 3 + kx) * C + c, tail),
                                                 tt_vf_ld(dxn + o, tail)),
                                     tail);
                    }
            }
        }
    }
    if (dw)
        for (int k = 0; k < 9; k++) {
            float *p = dw + (size_t)k * C + c;
            tt_vf_st(p, tt_vf_add(tt_vf_ld(p, tail), gw[k]), tail);
        }
    if (db) tt_vf_st(db + c, tt_vf_add(tt_vf_ld(db + c, tail), gb), tail);
}

void tt_f32_dwconv3x3_backward(int N, int H, int W, int C, int stride, const float *x,
                               const float *w, const float *dy, float *dx, float *dw, float *db) {
    dw_geom g = dw_make_geom(H, W, stride);
    if (dx) memset(dx, 0, (size_t)N * H * W * C * sizeof(float));
    int c = 0;
    for (; c + TT_VF_LANES <= C; c += TT_VF_LANES)
        dwb_tile(N, H, W, C, stride, &g, x, w, dy, dx, dw, db, c, 0);
    if (c < C) dwb_tile(N, H, W, C, stride, &g, x, w, dy, dx, dw, db, c, C - c);
}

/* Written as a gather over input pixels (not the scatter above) so the two
 * formulations check each other. */
void tt_f32_dwconv3x3_backward_ref(int N, int H, int W, int C, int stride, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *db) {
    int Ho = tt_same_out(H, stride), Wo = tt_same_out(W, stride);
    int pt = tt_same_pad_before(H, Ho, stride), pl = tt_same_pad_before(W, Wo, stride);
    for (int c = 0; c < C; c++) {
        double gw[9] = {0}, gb = 0.0;
        for (int n = 0; n < N; n++) {
            for (int iy = 0; iy < H; iy++)
                for (int ix = 0; ix < W; ix++) {
                    double sx = 0.0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int ty = iy + pt - ky, tx = ix + pl - kx;
                            if (ty < 0 || tx < 0 || ty % stride || tx % stride) continue;
                            int oy = ty / stride, ox = tx / stride;
                            if (oy >= Ho || ox >= Wo) continue;
                            double d = dy[(((size_t)n * Ho + oy) * Wo + ox) * C + c];
                            sx += d * w[(ky * 3 + kx) * C + c];
                            gw[ky * 3 + kx] += d * x[(((size_t)n * H + iy) * W + ix) * C + c];
                        }
                    if (dx) dx[(((size_t)n * H + iy) * W + ix) * C + c] = (float)sx;
                }
            for (size_t p = 0; p < (size_t)Ho * Wo; p++) gb += dy[((size_t)n * Ho * Wo + p) * C + c];
        }
        if (dw)
            for (int k = 0; k < 9; k++) dw[k * C + c] += (float)gw[k];
        if (db) db[c] += (float)gb;
    }
}
