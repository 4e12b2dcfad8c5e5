/* tabtrain/mobilenet.h — the frozen MobileNetV2 backbone (NHWC, f32, BN folded).
 *
 * Architecture (Sandler et al. 2018): 3×3 stride-2 stem conv + ReLU6, 17
 * inverted-residual blocks (1×1 expand + ReLU6, 3×3 depthwise + ReLU6, 1×1
 * linear project, residual add when stride 1 and channels match), 1×1 conv
 * to the feature width + ReLU6, global average pool → feature vector; an
 * optional 1×1 "logits" layer gives ImageNet scores.
 *
 * Weights come from a parsed safetensors handle (tabtrain/safetensors.h): the
 * model never touches files; the CLI opens one from disk, the browser from
 * downloaded bytes, tests build one in memory. Tensor names and layouts are
 * those documented in models/README.md:
 *
 *   stem.weight            [C0][3][3][3]   (OHWI)      stem.bias   [C0]
 *   block<i>.expand.weight [hid][1][1][cin]            (blocks 1..16)
 *   block<i>.depthwise.weight [1][3][3][hid]
 *   block<i>.project.weight   [cout][1][1][hid]        (+ .bias each)
 *   head.weight            [F][1][1][c16]              head.bias [F]
 *   logits.weight          [K][1][1][F]                (optional)
 *
 * Channel counts are read from the shapes, so any width multiplier works;
 * every shape is checked against the architecture (a tensor that does not fit
 * gives TT_ERR_SHAPE naming it). Strides and the block count are fixed.
 *
 * All buffers live in one workspace sized at init: forward passes never
 * allocate. A handle is not thread-safe; use one per thread.
 */
#ifndef TABTRAIN_MOBILENET_H
#define TABTRAIN_MOBILENET_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/nn_irb.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_MNV2_BLOCKS 17

typedef struct tt_mnv2 tt_mnv2;

typedef struct tt_mnv2_info {
    int input_size;   /* H = W of the input */
    int feature_dim;  /* F, 1280 for width 1.0 */
    int num_classes;  /* K of the logits layer, 0 when absent */
    size_t params;    /* weights + biases, logits included */
    double flops;     /* 2 × multiply-adds of the convolutions per image (the peers' count) */
    size_t workspace_bytes;
} tt_mnv2_info;

/* Copies (and packs) the weights; `weights` may be closed afterwards. */
tt_status tt_mnv2_init(tt_mnv2 **out, const tt_st_file *weights, int input_size);
void tt_mnv2_free(tt_mnv2 *m);
tt_mnv2_info tt_mnv2_get_info(const tt_mnv2 *m);

/* Runs the next passes on `pool`'s threads (tabtrain/threadpool.h; NULL:
 * the caller's thread): a batch of at least as many images as threads one
 * image per thread, fewer images with every layer split over the threads.
 * The results are bit-identical for every thread count. The pool must
 * outlive its use by the model; set it again (or NULL) before freeing it.
 * Allocates a workspace per extra thread (~8.5 MB each at 224): not for a
 * hot path. */
tt_status tt_mnv2_set_pool(tt_mnv2 *m, tt_pool *pool);

/* The depthwise stride of block `block` (0..16), fixed by the architecture
 * (what an ONNX writer needs without loading a network); 0 out of range. */
int tt_mnv2_block_stride(int block);

/* input: [n][S][S][3] (already preprocessed, normally in [-1, 1]);
 * features: [n][F] after global average pooling. */
tt_status tt_mnv2_features(tt_mnv2 *m, int n, const float *input, float *features);

/* logits: [n][K] = features · logitsᵀ + b (requires the logits layer). */
tt_status tt_mnv2_logits(tt_mnv2 *m, int n, const float *features, float *logits);

/* ---- activations inside the network, for fine-tuning (tabtrain/tail.h) ---- */

/* Geometry of inverted-residual block `block` (0..16): channels in, hidden
 * (expanded; = cin for block 0, which has no expansion), out; depthwise
 * stride; whether the block adds its input; input and output sides. */
typedef tt_irb_shape tt_mnv2_block_shape;

tt_status tt_mnv2_block_shape_get(const tt_mnv2 *m, int block, tt_mnv2_block_shape *out);

/* The activations entering block `block` (0..16) of each image: out
 * [n][h_in][w_in][cin] of that block, bit-identical to what
 * tt_mnv2_features computes there (so a trainable tail fed with them starts
 * exactly where the frozen network was). */
tt_status tt_mnv2_forward_until(tt_mnv2 *m, int n, const float *input, int block, float *out);

#ifdef __cplusplus
}
#endif
#endif
