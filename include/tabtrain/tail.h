/* tabtrain/tail.h — the trainable end of the backbone, for `--unfreeze K`.
 *
 * With K in 1..17 the last K inverted-residual blocks (17-K .. 16), the final
 * 1×1 "head" conv (+ ReLU6) and the global average pool are trained together
 * with the classification head. Everything below block 17-K stays frozen, so
 * the feature cache stores the activations ENTERING block 17-K
 * (tt_mnv2_forward_until) instead of the pooled features, and every step runs
 * the tail forward from them:
 *
 *     x [M][h][w][c] → block(17-K) … block16 → head conv (ReLU6) → avg pool → [M][F]
 *
 * The geometry (channels, sides, strides, residuals) comes from a loaded
 * tt_mnv2, the initial weights from the same safetensors file (copied,
 * unpacked, so they can change every step); a tensor whose shape differs from
 * the backbone's is TT_ERR_SHAPE naming it.
 *
 * Parameters are named tensors "backbone.<layer>.weight/bias" with the layer
 * names and shapes of models/README.md, block by block (expand, depthwise,
 * project; block 0 has no expand) and then "backbone.head.*". Their data (and
 * their gradients) lie consecutively in one slab of tt_tail_info.params floats
 * starting at params[0].data (.grad), so a caller can copy all of them at once.
 *
 * tt_tail_forward stores every activation backward needs in a workspace sized
 * at init for max_batch samples (no allocation per step). tt_tail_backward
 * takes the gradient w.r.t. the pooled features and ACCUMULATES parameter
 * gradients (tt_tail_zero_grad first); the tail's input is cached data, so no
 * gradient w.r.t. it is formed.
 *
 *     tt_mnv2 *m;  tt_mnv2_init(&m, weights, 224);
 *     tt_tail *t;  tt_tail_init(&t, m, weights, 2, 32);
 *     tt_tail_info ti = tt_tail_get_info(t);            // ti.in_dim floats per sample
 *     tt_mnv2_forward_until(m, n, images, ti.first_block, cache);   // once per image
 *     tt_tail_zero_grad(t);
 *     const float *feat = tt_tail_forward(t, M, cache_batch);       // [M][F]
 *     ... head forward / loss / head backward with dx = dfeat ...
 *     tt_tail_backward(t, M, cache_batch, dfeat);
 *
 * A handle is not thread-safe; use one per thread.
 */
#ifndef TABTRAIN_TAIL_H
#define TABTRAIN_TAIL_H

#include <stddef.h>

#include "tabtrain/mobilenet.h"
#include "tabtrain/nn.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest K the CLI and the browser offer. Memory grows with K: the
 * feature cache keeps the activations entering block 17-K per image and view
 * (7,840 floats for K = 1..3, 18,816 for K = 4..5) and the training workspace
 * at batch 32 grows from ~48 MB (K = 1) to ~142 MB (K = 5). */
#define TT_UNFREEZE_MAX 5

typedef struct tt_tail tt_tail;

typedef struct tt_tail_info {
    int unfreeze;         /* K */
    int first_block;      /* 17 - K: the cache holds the activations entering it */
    int in_h, in_w, in_c; /* shape of one cached sample */
    int in_dim;           /* in_h·in_w·in_c floats per sample */
    int feature_dim;      /* F of the pooled output */
    int max_batch;
    size_t params;          /* trainable floats, head conv included */
    size_t workspace_bytes; /* activations, gradients and GEMM scratch */
} tt_tail_info;

/* unfreeze in [1, 17], max_batch >= 1. `weights` may be closed afterwards. */
tt_status tt_tail_init(tt_tail **out, const tt_mnv2 *backbone, const tt_st_file *weights,
                       int unfreeze, int max_batch);
void tt_tail_free(tt_tail *t);
tt_tail_info tt_tail_get_info(const tt_tail *t);
int tt_tail_params(tt_tail *t, tt_named_tensor **out);
void tt_tail_zero_grad(tt_tail *t);
/* Runs forward and backward on `pool`'s threads (NULL: the caller's); the
 * features and every gradient are bit-identical for every thread count. */
void tt_tail_set_pool(tt_tail *t, tt_pool *pool);

/* x: [M][in_dim] with M <= max_batch. Returns the pooled features [M][F]
 * (the tail's buffer, valid until the next forward). */
const float *tt_tail_forward(tt_tail *t, int M, const float *x);
/* Backward of the last forward on the same x; dfeatures [M][F]. */
void tt_tail_backward(tt_tail *t, int M, const float *x, const float *dfeatures);
/* Features [n][F] for any n, in max_batch chunks (evaluation, prediction). */
void tt_tail_features(tt_tail *t, int n, const float *x, float *features);

#ifdef __cplusplus
}
#endif
#endif
