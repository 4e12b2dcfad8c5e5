/* tabtrain/nn_irb.h — MobileNetV2's inverted-residual block as a layer:
 * forward and backward over caller-owned buffers, and the 1×1 layers it is
 * made of. The frozen backbone (tabtrain/mobilenet.h) runs its forward; the
 * fine-tuned tail (tabtrain/tail.h) both, so the two compute the same bits.
 *
 *     x [n][h_in][w_in][cin]
 *       → 1×1 expand + ReLU6   → expanded [n][h_in][w_in][hid]   (not in block 0)
 *       → 3×3 depthwise + ReLU6 (stride) → dwout [n][h_out][w_out][hid]
 *       → 1×1 project (linear) (+ x when `residual`) → y [n][h_out][w_out][cout]
 *
 * Weights are in the pretrained files' layouts: 1×1 [cout][cin], depthwise
 * [3][3][hid]. A 1×1 layer given `packed` (tt_f32_gemm_pack_b of w, what a
 * frozen network does once) multiplies with it; one without packs w into
 * `work` first (weights that change every step). Backward takes dy w.r.t. y,
 * overwrites dx (NULL: not needed) and ACCUMULATES the parameter gradients.
 * Every kernel splits its outputs over `pool` (NULL: the caller's thread),
 * never a sum, so every result is bit-identical for every thread count.
 * Nothing allocates.
 */
#ifndef TABTRAIN_NN_IRB_H
#define TABTRAIN_NN_IRB_H

#include <stddef.h>

#include "tabtrain/gemm.h"
#include "tabtrain/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One block's geometry for one image. hid = cin when there is no expansion;
 * residual when stride 1 and cin = cout. */
typedef struct tt_irb_shape {
    int cin, hid, cout, stride, residual;
    int h_in, w_in, h_out, w_out;
} tt_irb_shape;

/* A 1×1 layer: w [cout][cin], b [cout], packed NULL or w packed. */
typedef struct tt_irb_pw {
    const float *w, *packed, *b;
} tt_irb_pw;

/* expand.w and expand.packed both NULL: no expansion (block 0). */
typedef struct tt_irb_params {
    tt_irb_pw expand, project;
    const float *dw_w, *dw_b;
} tt_irb_params;

/* Gradients, same shapes as the parameters (expand_* unused without one). */
typedef struct tt_irb_grads {
    float *expand_w, *expand_b, *dw_w, *dw_b, *project_w, *project_b;
} tt_irb_grads;

/* Floats of `work` for a 1×1 layer over `rows` rows: packing its weights
 * (forward) and the backward GEMMs, which run in slices of at most 8192 rows
 * so the scratch stays bounded for large feature maps. */
size_t tt_pointwise_work_size(size_t rows, int cin, int cout);
/* y [rows][cout] = act(x · wᵀ + b) (+ residual [rows][cout]). */
void tt_pointwise_forward(tt_pool *pool, int rows, int cin, int cout, const float *x,
                          const tt_irb_pw *L, tt_act act, const float *residual, float *y,
                          float *work);
/* dy w.r.t. the pre-activation output; dx (may be NULL) is overwritten, dw
 * and db accumulate. */
void tt_pointwise_backward(tt_pool *pool, int rows, int cin, int cout, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, float *db,
                           float *work);

/* Floats of `work` for n images, forward and backward. */
size_t tt_irb_work_size(const tt_irb_shape *s, int n);

/* expanded is unused (may be NULL) without an expansion. */
void tt_irb_forward(tt_pool *pool, const tt_irb_shape *s, int n, const tt_irb_params *p,
                    const float *x, float *expanded, float *dwout, float *y, float *work);

/* x, expanded and dwout as the forward left them; dy [n][h_out][w_out][cout].
 * gmid [n·h_out·w_out·hid] and gexp [n·h_in·w_in·hid] (unused without an
 * expansion) are scratch; dy is not modified. */
void tt_irb_backward(tt_pool *pool, const tt_irb_shape *s, int n, const tt_irb_params *p,
                     const float *x, const float *expanded, const float *dwout, const float *dy,
                     float *dx, const tt_irb_grads *g, float *gmid, float *gexp, float *work);

#ifdef __cplusplus
}
#endif
#endif
