/* tabtrain/nn.h — layers as forward/backward pairs, and named tensors.
 *
 * Layers are stateless functions over caller-owned buffers; none allocates.
 * Shapes are row-major [rows][features].
 *
 * Dense: y[M][out] = act(x[M][in] · Wᵀ + b), W stored [out][in] (the "OI"
 * layout of a 1×1 OHWI convolution, which the backward kernel shares).
 * tt_dense_backward takes dy w.r.t. the PRE-activation output (run
 * tt_f32_relu_backward first), overwrites dx (may be NULL) and ACCUMULATES
 * into dw/db, so a step zeroes gradients once and layers add to them.
 *
 *     float *work = ...tt_dense_work_size(M, in, out) floats...;
 *     tt_dense_forward(M, in, out, x, w, b, TT_ACT_RELU, y, work);
 *     tt_f32_relu_backward((size_t)M * out, y, dy, dy);
 *     tt_dense_backward(M, in, out, x, w, dy, dx, dw, db, work);
 *
 * Dropout is inverted: training multiplies by a mask holding 0 or
 * 1/(1-rate), evaluation is the identity. tt_dropout_mask draws the mask from
 * a tt_rng (its own stream, TT_STREAM_DROPOUT); tt_dropout_apply is both the
 * forward (x→y) and the backward (dy→dx) pass.
 *
 * Softmax cross-entropy from logits, averaged over rows, with optional label
 * smoothing ε (targets (1-ε)·onehot + ε/C, as in Keras). The loss uses
 * log-sum-exp so a confident wrong prediction gives a large finite loss,
 * never inf. Its gradient w.r.t. the logits is (p - target) / rows.
 *
 * tt_named_tensor describes one f32 tensor that a checkpoint writer can save
 * and a loader can fill in place: name, shape, data (and, for trainable
 * parameters, a gradient buffer of the same shape).
 */
#ifndef TABTRAIN_NN_H
#define TABTRAIN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/gemm.h"
#include "tabtrain/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_TENSOR_NAME_MAX 64
#define TT_TENSOR_MAX_DIMS 4

typedef struct tt_named_tensor {
    char name[TT_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[TT_TENSOR_MAX_DIMS];
    float *data; /* numel floats, owned by whoever listed the tensor */
    float *grad; /* trainable parameters: gradient of the same shape; else NULL */
} tt_named_tensor;

size_t tt_named_tensor_numel(const tt_named_tensor *t);

/* Floats of `work` the dense forward and backward need for these sizes. */
size_t tt_dense_work_size(int M, int in, int out);
void tt_dense_forward(int M, int in, int out, const float *x, const float *w, const float *b,
                      tt_act act, float *y, float *work);
void tt_dense_backward(int M, int in, int out, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, float *work);

/* mask[0..n) = 0 with probability `rate`, else 1/(1-rate); 0 <= rate < 1. */
void tt_dropout_mask(size_t n, float rate, tt_rng *rng, float *mask);
/* y = x ⊙ mask (y may alias x). */
void tt_dropout_apply(size_t n, const float *mask, const float *x, float *y);

/* Mean softmax cross-entropy of logits [rows][C] against labels in [0, C).
 * Writes the probabilities to `probs` and, when `dlogits` is not NULL, the
 * gradient of the mean loss w.r.t. the logits. Returns the mean loss. */
float tt_softmax_xent(int rows, int C, const float *logits, const int32_t *labels, float smoothing,
                      float *probs, float *dlogits);

#ifdef __cplusplus
}
#endif
#endif
