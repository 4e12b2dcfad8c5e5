/* Inverted-residual block: forward and backward on the kernels (see
 * tabtrain/nn_irb.h). */
#include "tabtrain/nn_irb.h"

#include "tabtrain/conv.h"

/* Rows per backward GEMM call: dW = dYᵀ·X transposes dY into the scratch,
 * which therefore grows with the rows (block 1 at 224 has 112·112 rows per
 * image); gradients accumulate, so slices give the same sums in the same
 * order. */
enum { TT_PW_ROWS = 8192 };

static size_t tt_zmax(size_t a, size_t b) { return a > b ? a : b; }

size_t tt_pointwise_work_size(size_t rows, int cin, int cout) {
    int slice = rows < TT_PW_ROWS ? (int)rows : TT_PW_ROWS;
    return tt_zmax(tt_f32_gemm_packed_size(cin, cout), tt_f32_dense_backward_work_size(slice, cin, cout));
}

void tt_pointwise_forward(tt_pool *pool, int rows, int cin, int cout, const float *x,
                          const tt_irb_pw *L, tt_act act, const float *residual, float *y,
                          float *work) {
    const float *packed = L->packed;
    if (!packed) {
        tt_f32_gemm_pack(pool, TT_TRANS, cin, cout, L->w, cin, work);
        packed = work;
    }
    tt_epilogue ep = {L->b, act, residual, cout};
    tt_f32_gemm_packed(pool, rows, cout, cin, x, cin, packed, y, cout, &ep);
}

void tt_pointwise_backward(tt_pool *pool, int rows, int cin, int cout, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, float *db,
                           float *work) {
    for (int r = 0; r < rows; r += TT_PW_ROWS) {
        int m = rows - r < TT_PW_ROWS ? rows - r : TT_PW_ROWS;
        tt_f32_dense_backward(pool, m, cin, cout, x + (size_t)r * cin, w, dy + (size_t)r * cout,
                              dx ? dx + (size_t)r * cin : NULL, dw, db, work);
    }
}

static int tt_irb_has_expand(const tt_irb_params *p) { return p->expand.w || p->expand.packed; }

size_t tt_irb_work_size(const tt_irb_shape *s, int n) {
    size_t in = (size_t)n * s->h_in * s->w_in, out = (size_t)n * s->h_out * s->w_out;
    return tt_zmax(tt_pointwise_work_size(in, s->cin, s->hid), tt_pointwise_work_size(out, s->hid, s->cout));
}

void tt_irb_forward(tt_pool *pool, const tt_irb_shape *s, int n, const tt_irb_params *p,
                    const float *x, float *expanded, float *dwout, float *y, float *work) {
    int in_rows = n * s->h_in * s->w_in, out_rows = n * s->h_out * s->w_out;
    const float *dw_in = x;
    if (tt_irb_has_expand(p)) {
        tt_pointwise_forward(pool, in_rows, s->cin, s->hid, x, &p->expand, TT_ACT_RELU6, NULL,
                             expanded, work);
        dw_in = expanded;
    }
    tt_f32_dwconv3x3(pool, n, s->h_in, s->w_in, s->hid, s->stride, dw_in, p->dw_w, p->dw_b,
                     TT_ACT_RELU6, dwout);
    tt_pointwise_forward(pool, out_rows, s->hid, s->cout, dwout, &p->project, TT_ACT_NONE,
                         s->residual ? x : NULL, y, work);
}

void tt_irb_backward(tt_pool *pool, const tt_irb_shape *s, int n, const tt_irb_params *p,
                     const float *x, const float *expanded, const float *dwout, const float *dy,
                     float *dx, const tt_irb_grads *g, float *gmid, float *gexp, float *work) {
    size_t in_rows = (size_t)n * s->h_in * s->w_in, out_rows = (size_t)n * s->h_out * s->w_out;
    tt_pointwise_backward(pool, (int)out_rows, s->hid, s->cout, dwout, p->project.w, dy, gmid,
                          g->project_w, g->project_b, work);
    tt_f32_relu6_backward(pool, out_rows * s->hid, dwout, gmid, gmid);
    if (tt_irb_has_expand(p)) {
        tt_f32_dwconv3x3_backward(pool, n, s->h_in, s->w_in, s->hid, s->stride, expanded, p->dw_w,
                                  gmid, gexp, g->dw_w, g->dw_b);
        tt_f32_relu6_backward(pool, in_rows * s->hid, expanded, gexp, gexp);
        tt_pointwise_backward(pool, (int)in_rows, s->cin, s->hid, x, p->expand.w, gexp, dx,
                              g->expand_w, g->expand_b, work);
    } else {
        tt_f32_dwconv3x3_backward(pool, n, s->h_in, s->w_in, s->hid, s->stride, x, p->dw_w, gmid,
                                  dx, g->dw_w, g->dw_b);
    }
    /* The skip connection passes the output gradient straight through. */
    if (dx && s->residual) tt_f32_add_inplace(pool, in_rows * s->cin, dy, dx);
}
