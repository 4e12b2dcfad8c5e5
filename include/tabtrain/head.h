/* tabtrain/head.h — the classification head trained on backbone features.
 *
 *   x [M][in] → Dense(hidden, ReLU) → Dropout(rate) → Dense(classes) → logits
 *
 * hidden = 0 gives a linear head, x → Dropout(rate) → Dense(classes) (the
 * dropout then acts on the features, as in the usual Keras transfer-learning
 * head). Kernels are stored [out][in], Glorot-uniform initialised from the
 * given tt_rng (U(±√(6/(in+out)))); biases start at zero.
 *
 * Parameters are listed as named tensors (tt_head_params) with gradient
 * buffers, in a fixed order:
 *     head.hidden.kernel [hidden][in]   head.hidden.bias [hidden]   (hidden > 0)
 *     head.logits.kernel [classes][hidden or in]   head.logits.bias [classes]
 *
 * Every activation buffer is sized at init for up to max_batch rows, so
 * forward/backward never allocate. Training forward draws a fresh dropout
 * mask from `dropout_rng` (skipped when rate = 0); backward reuses it, and
 * ACCUMULATES into the gradients (tt_head_zero_grad first).
 *
 *     tt_head h; tt_head_config hc = {.in = 1280, .hidden = 0, .classes = 5};
 *     if ((st = tt_head_init(&h, &hc, 32, &init_rng))) return st;
 *     tt_head_zero_grad(&h);
 *     const float *logits = tt_head_forward(&h, M, x, &drop_rng);   // training
 *     ... dlogits from tt_softmax_xent ...
 *     tt_head_backward(&h, M, x, dlogits);
 *     tt_head_predict(&h, n, x, probs);                               // any n
 */
#ifndef TABTRAIN_HEAD_H
#define TABTRAIN_HEAD_H

#include "tabtrain/nn.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_head_config {
    int in, hidden, classes;
    float dropout; /* in [0, 1) */
} tt_head_config;

typedef struct tt_head {
    tt_head_config cfg;
    int max_batch;
    tt_named_tensor params[4];
    int n_params;
    float *params_slab, *grads_slab; /* all parameters / gradients, contiguous */
    size_t n_floats;
    /* activations for max_batch rows, carved from one block `acts` */
    float *acts, *hid, *drop, *mask, *logits, *dlogits_in, *work;
} tt_head;

tt_status tt_head_init(tt_head *h, const tt_head_config *cfg, int max_batch, tt_rng *init_rng);
void tt_head_free(tt_head *h);
int tt_head_params(tt_head *h, tt_named_tensor **out);
/* The parameters a head of this configuration has (names, ndim, shapes; data
 * and grad NULL), without allocating: what a reader checks a file against
 * before tt_head_init sizes anything from it. Returns the count (2 or 4). */
int tt_head_layout(const tt_head_config *cfg, tt_named_tensor out[4]);
void tt_head_zero_grad(tt_head *h);

/* M <= max_batch rows. dropout_rng = NULL is evaluation mode. Returns the
 * head's logits buffer [M][classes], valid until the next call. */
const float *tt_head_forward(tt_head *h, int M, const float *x, tt_rng *dropout_rng);
/* Backward of the last training forward on the same x. */
void tt_head_backward(tt_head *h, int M, const float *x, const float *dlogits);
/* The same, and also writes the gradient w.r.t. x to dx [M][in] (for a
 * trainable layer below the head, tabtrain/tail.h). */
void tt_head_backward_dx(tt_head *h, int M, const float *x, const float *dlogits, float *dx);
/* Softmax probabilities [n][classes] for any n, in max_batch chunks. */
void tt_head_predict(tt_head *h, int n, const float *x, float *probs);

#ifdef __cplusplus
}
#endif
#endif
