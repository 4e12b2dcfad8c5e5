/* 3×3 depthwise convolution, NHWC, SAME padding, stride 1 or 2.
 *
 * Memory-bound, so the forward pass vectorizes over channels and walks one
 * output row per channel tile with the 9 weight vectors held in registers.
 * Interior pixels (every column tap in range) go 4 at a time: at stride 1
 * the 4 pixels share 6 input columns per window row instead of loading 12.
 * Borders cost no per-pixel tests in the interior: a window row that falls
 * outside the image is skipped for the whole output row, and only the first
 * and last output columns take the single-pixel path with column flags.
 * SAME padding is at most 1 on each side, so the window's middle row and
 * column are always inside. Threads split the forward pass over output rows
 * and the backward pass over channel tiles (see dwb_tiles). */
#include "kernels/conv_common.h"

typedef struct dw_geom {
    int Ho, Wo, pt, pl;
    int ox_lo, ox_hi; /* output columns whose 3 window columns are all inside */
} dw_geom;

static dw_geom dw_make_geom(int H, int W, int s) {
    dw_geom g;
    g.Ho = tt_same_out(H, s);
    g.Wo = tt_same_out(W, s);
    g.pt = tt_same_pad_before(H, g.Ho, s);
    g.pl = tt_same_pad_before(W, g.Wo, s);
    g.ox_lo = (g.pl + s - 1) / s;
    int last = W - 3 + g.pl; /* largest o·s with o·s - pl + 2 <= W - 1 */
    int hi = last < 0 ? 0 : last / s + 1;
    hi = hi > g.Wo ? g.Wo : hi;
    g.ox_hi = hi < g.ox_lo ? g.ox_lo : hi;
    return g;
}

/* One window row (weights w0..w2) into the accumulators of 4 output pixels
 * (stride 1: 6 input columns; stride 2: 9). Written out rather than as
 * loops over pixels and taps: clang does not fully unroll those for wasm,
 * leaving the weights in memory and a branch per tap. */
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

/* One window row into one pixel; p is the window's middle column, hl/hr
 * say whether the left/right columns are inside the image. */
TT_INLINE tt_vf dw_row_x1(const float *p, size_t C, tt_vf w0, tt_vf w1, tt_vf w2, tt_vf a, int hl,
                          int hr, int tail) {
    a = tt_vf_fmadd(tt_vf_ld(p, tail), w1, a);
    if (hl) a = tt_vf_fmadd(tt_vf_ld(p - C, tail), w0, a);
    if (hr) a = tt_vf_fmadd(tt_vf_ld(p + C, tail), w2, a);
    return a;
}

/* One output row of one channel tile. r0, r1, r2 point at the window's input
 * rows (channel c); r0 or r2 is NULL where that row is padding. */
TT_INLINE void dw_row(const float *r0, const float *r1, const float *r2, int W, int C, int s,
                      const dw_geom *g, const float *w, const float *bias, tt_act act,
                      float *yrow, int tail) {
    const size_t Cz = (size_t)C;
    tt_vf w0 = tt_vf_ld(w, tail), w1 = tt_vf_ld(w + Cz, tail), w2 = tt_vf_ld(w + 2 * Cz, tail);
    tt_vf w3 = tt_vf_ld(w + 3 * Cz, tail), w4 = tt_vf_ld(w + 4 * Cz, tail), w5 = tt_vf_ld(w + 5 * Cz, tail);
    tt_vf w6 = tt_vf_ld(w + 6 * Cz, tail), w7 = tt_vf_ld(w + 7 * Cz, tail), w8 = tt_vf_ld(w + 8 * Cz, tail);
    tt_vf b = bias ? tt_vf_ld(bias, tail) : tt_vf_zero();
    int ox = g->ox_lo;
    for (; ox + 4 <= g->ox_hi; ox += 4) {
        size_t off = (size_t)(ox * s - g->pl) * Cz;
        tt_vf a[4] = {b, b, b, b};
        if (s == 1) {
            if (r0) dw_row_s1x4(r0 + off, Cz, w0, w1, w2, a, tail);
            dw_row_s1x4(r1 + off, Cz, w3, w4, w5, a, tail);
            if (r2) dw_row_s1x4(r2 + off, Cz, w6, w7, w8, a, tail);
        } else {
            if (r0) dw_row_s2x4(r0 + off, Cz, w0, w1, w2, a, tail);
            dw_row_s2x4(r1 + off, Cz, w3, w4, w5, a, tail);
            if (r2) dw_row_s2x4(r2 + off, Cz, w6, w7, w8, a, tail);
        }
        float *yp = yrow + (size_t)ox * Cz;
        tt_vf_st(yp, tt_vf_act(a[0], act), tail);
        tt_vf_st(yp + Cz, tt_vf_act(a[1], act), tail);
        tt_vf_st(yp + 2 * Cz, tt_vf_act(a[2], act), tail);
        tt_vf_st(yp + 3 * Cz, tt_vf_act(a[3], act), tail);
    }
    /* Interior leftovers and the right border, then the left border. */
    for (int pass = 0; pass < 2; pass++)
        for (int o = pass ? 0 : ox; o < (pass ? g->ox_lo : g->Wo); o++) {
            int ix = o * s - g->pl; /* window's left column */
            int hl = ix >= 0, hr = ix + 2 < W;
            size_t off = (size_t)(ix + 1) * Cz;
            tt_vf a = b;
            if (r0) a = dw_row_x1(r0 + off, Cz, w0, w1, w2, a, hl, hr, tail);
            a = dw_row_x1(r1 + off, Cz, w3, w4, w5, a, hl, hr, tail);
            if (r2) a = dw_row_x1(r2 + off, Cz, w6, w7, w8, a, hl, hr, tail);
            tt_vf_st(yrow + (size_t)o * Cz, tt_vf_act(a, act), tail);
        }
}

typedef struct dw_job {
    int H, W, C, stride;
    dw_geom g;
    const float *x, *w, *bias;
    tt_act act;
    float *y;
} dw_job;

/* Items are output rows n·Ho + oy, every channel of the row. */
static void dw_rows(void *arg, int begin, int end, int worker) {
    const dw_job *j = arg;
    const int H = j->H, W = j->W, C = j->C, stride = j->stride;
    const dw_geom *g = &j->g;
    const float *w = j->w, *bias = j->bias;
    const tt_act act = j->act;
    const size_t rowlen = (size_t)W * C;
    (void)worker;
    for (int i = begin; i < end; i++) {
        int n = i / g->Ho, oy = i % g->Ho;
        int iy = oy * stride - g->pt; /* window's top row */
        const float *r1 = j->x + ((size_t)n * H + iy + 1) * rowlen;
        const float *r0 = iy >= 0 ? r1 - rowlen : NULL;
        const float *r2 = iy + 2 < H ? r1 + rowlen : NULL;
        float *yrow = j->y + (size_t)i * g->Wo * C;
        int c = 0;
#define TT_DW_ROW(s, tail)                                                                      \
    dw_row(r0 ? r0 + c : NULL, r1 + c, r2 ? r2 + c : NULL, W, C, s, g, w + c, bias ? bias + c : NULL, \
           act, yrow + c, tail)
        if (stride == 1)
            for (; c + TT_VF_LANES <= C; c += TT_VF_LANES) TT_DW_ROW(1, 0);
        else
            for (; c + TT_VF_LANES <= C; c += TT_VF_LANES) TT_DW_ROW(2, 0);
        if (c < C) TT_DW_ROW(stride, C - c);
#undef TT_DW_ROW
    }
}

void tt_f32_dwconv3x3(tt_pool *pool, int N, int H, int W, int C, int stride, const float *x,
                      const float *w, const float *bias, tt_act act, float *y) {
    dw_job j = {H, W, C, stride, dw_make_geom(H, W, stride), x, w, bias, act, y};
    tt_pool_for(pool, N * j.g.Ho, 1 + 8192 / (j.g.Wo * C + 1), dw_rows, &j);
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

/* Backward, one channel tile at a time: the 9 weight-gradient sums and the
 * bias-gradient sum stay in registers over the whole batch, and dx is
 * scattered (dx[window] += dy·w). Rows and columns outside the image are
 * skipped as in the forward pass. */
typedef struct dwb_acc {
    tt_vf g[9], gb;
} dwb_acc;

/* One window row of one pixel: p (x) and q (dx, or NULL) point at the
 * window's middle column; hl/hr say whether the side columns are inside. */
TT_INLINE void dwb_row(const float *p, float *q, size_t C, tt_vf d, const tt_vf *w, tt_vf *g, int hl,
                       int hr, int tail) {
    g[1] = tt_vf_fmadd(d, tt_vf_ld(p, tail), g[1]);
    if (q) tt_vf_st(q, tt_vf_fmadd(d, w[1], tt_vf_ld(q, tail)), tail);
    if (hl) {
        g[0] = tt_vf_fmadd(d, tt_vf_ld(p - C, tail), g[0]);
        if (q) tt_vf_st(q - C, tt_vf_fmadd(d, w[0], tt_vf_ld(q - C, tail)), tail);
    }
    if (hr) {
        g[2] = tt_vf_fmadd(d, tt_vf_ld(p + C, tail), g[2]);
        if (q) tt_vf_st(q + C, tt_vf_fmadd(d, w[2], tt_vf_ld(q + C, tail)), tail);
    }
}

/* Output pixel o of a row; r0/r2 (and q0/q2) are NULL where that window
 * row is padding. */
TT_INLINE void dwb_pixel(const float *r0, const float *r1, const float *r2, float *q0, float *q1,
                         float *q2, const float *dyrow, int o, int s, int pl, size_t C,
                         const tt_vf *w, dwb_acc *acc, int hl, int hr, int tail) {
    tt_vf d = tt_vf_ld(dyrow + (size_t)o * C, tail);
    acc->gb = tt_vf_add(acc->gb, d);
    size_t off = (size_t)(o * s - pl + 1) * C;
    if (r0) dwb_row(r0 + off, q0 ? q0 + off : NULL, C, d, w, acc->g, hl, hr, tail);
    dwb_row(r1 + off, q1 ? q1 + off : NULL, C, d, w + 3, acc->g + 3, hl, hr, tail);
    if (r2) dwb_row(r2 + off, q2 ? q2 + off : NULL, C, d, w + 6, acc->g + 6, hl, hr, tail);
}

TT_INLINE void dwb_tile(int N, int H, int W, int C, int s, const dw_geom *g, const float *x,
                        const float *w, const float *dy, float *dx, float *dw, float *db, int c,
                        int tail) {
    const size_t Cz = (size_t)C, rowlen = (size_t)W * Cz;
    tt_vf wv[9];
    dwb_acc acc;
    for (int k = 0; k < 9; k++) {
        wv[k] = tt_vf_ld(w + k * Cz + c, tail);
        acc.g[k] = tt_vf_zero();
    }
    acc.gb = tt_vf_zero();
    if (dx) /* this tile's channels of dx, before the scatter adds into them */
        for (size_t p = 0; p < (size_t)N * H * W; p++) tt_vf_st(dx + p * Cz + c, tt_vf_zero(), tail);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < g->Ho; oy++) {
            int iy = oy * s - g->pt; /* window's top row; iy + 1 is always inside */
            size_t mid = ((size_t)n * H + iy + 1) * rowlen + c;
            int has0 = iy >= 0, has2 = iy + 2 < H;
            const float *r1 = x + mid, *r0 = has0 ? r1 - rowlen : NULL, *r2 = has2 ? r1 + rowlen : NULL;
            float *q1 = dx ? dx + mid : NULL;
            float *q0 = q1 && has0 ? q1 - rowlen : NULL, *q2 = q1 && has2 ? q1 + rowlen : NULL;
            const float *dyrow = dy + ((size_t)n * g->Ho + oy) * g->Wo * Cz + c;
            for (int o = 0; o < g->ox_lo; o++)
                dwb_pixel(r0, r1, r2, q0, q1, q2, dyrow, o, s, g->pl, Cz, wv, &acc, o * s - g->pl >= 0,
                          o * s - g->pl + 2 < W, tail);
            for (int o = g->ox_lo; o < g->ox_hi; o++)
                dwb_pixel(r0, r1, r2, q0, q1, q2, dyrow, o, s, g->pl, Cz, wv, &acc, 1, 1, tail);
            for (int o = g->ox_hi; o < g->Wo; o++)
                dwb_pixel(r0, r1, r2, q0, q1, q2, dyrow, o, s, g->pl, Cz, wv, &acc, o * s - g->pl >= 0,
                          o * s - g->pl + 2 < W, tail);
        }
    if (dw)
        for (int k = 0; k < 9; k++) {
            float *p = dw + k * Cz + c;
            tt_vf_st(p, tt_vf_add(tt_vf_ld(p, tail), acc.g[k]), tail);
        }
    if (db) tt_vf_st(db + c, tt_vf_add(tt_vf_ld(db + c, tail), acc.gb), tail);
}

typedef struct dwb_job {
    int N, H, W, C, stride;
    dw_geom g;
    const float *x, *w, *dy;
    float *dx, *dw, *db;
} dwb_job;

/* Items are channel tiles: a tile owns its channels of dx, dw and db, and
 * sums its weight gradients over the whole batch in one fixed order, so the
 * partition over threads cannot change a bit. */
static void dwb_tiles(void *arg, int begin, int end, int worker) {
    const dwb_job *j = arg;
    (void)worker;
    for (int i = begin; i < end; i++) {
        int c = i * TT_VF_LANES, tail = j->C - c < TT_VF_LANES ? j->C - c : 0;
        if (tail)
            dwb_tile(j->N, j->H, j->W, j->C, j->stride, &j->g, j->x, j->w, j->dy, j->dx, j->dw, j->db, c, tail);
        else if (j->stride == 1)
            dwb_tile(j->N, j->H, j->W, j->C, 1, &j->g, j->x, j->w, j->dy, j->dx, j->dw, j->db, c, 0);
        else
            dwb_tile(j->N, j->H, j->W, j->C, 2, &j->g, j->x, j->w, j->dy, j->dx, j->dw, j->db, c, 0);
    }
}

void tt_f32_dwconv3x3_backward(tt_pool *pool, int N, int H, int W, int C, int stride,
                               const float *x, const float *w, const float *dy, float *dx,
                               float *dw, float *db) {
    dwb_job j = {N, H, W, C, stride, dw_make_geom(H, W, stride), x, w, dy, dx, dw, db};
    tt_pool_for(pool, (C + TT_VF_LANES - 1) / TT_VF_LANES, 1, dwb_tiles, &j);
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
