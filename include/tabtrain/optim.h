/* tabtrain/optim.h — optimizers and learning-rate schedules.
 *
 * Adam follows Keras/TF.js exactly (defaults lr 1e-3, β1 0.9, β2 0.999,
 * ε 1e-7), with ε outside the bias correction:
 *     m ← β1·m + (1-β1)·g        v ← β2·v + (1-β2)·g²
 *     w ← w - lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)
 * SGD with momentum also follows Keras: u ← μ·u - lr·g; w ← w + u
 * (μ = 0 is plain SGD).
 *
 * Weight decay is DECOUPLED (AdamW / SGDW): before the update,
 * w ← w - lr·λ·w. It is applied to kernels only (tensors of rank ≥ 2), never
 * to biases, and is not part of the loss. We chose decoupled over L2 because
 * with Adam an L2 term is rescaled per coordinate by √v and stops acting as a
 * decay; decoupled decay behaves the same under both optimizers.
 *
 * A tt_optim updates a list of tt_named_tensor parameters (data + grad) and
 * owns their state: Adam m and v, or SGD velocity u, and the step count t.
 * tt_optim_state_tensors() lists that state (names "<slot>.<param name>",
 * slot = adam_m, adam_v or sgd_u) so a checkpoint can save it and a loader
 * can fill it in place; restore the step count with tt_optim_set_step().
 *
 *     tt_optim opt; tt_optim_config oc = tt_optim_defaults(TT_OPTIM_ADAM);
 *     if ((st = tt_optim_init(&opt, &oc, params, n_params))) return st;
 *     ... each step: zero grads, backward, then
 *     tt_optim_step(&opt, tt_schedule_lr(&sched, opt.step));
 *     tt_optim_free(&opt);
 *
 * Schedules map the 0-based index of the upcoming update to a learning rate:
 *   constant  lr
 *   cosine    linear warmup lr·(s+1)/W for s < W, then
 *             lr·½(1 + cos(π·(s-W)/(T-W))) over the remaining T-W steps
 *             (T = total steps; reaches 0 at s = T)
 *   step      lr·γ^⌊epoch/N⌋ with epoch = ⌊s / steps_per_epoch⌋
 */
#ifndef TABTRAIN_OPTIM_H
#define TABTRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/nn.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tt_optim_kind { TT_OPTIM_ADAM = 0, TT_OPTIM_SGD } tt_optim_kind;

typedef struct tt_optim_config {
    tt_optim_kind kind;
    float beta1, beta2, eps; /* Adam */
    float momentum;          /* SGD */
    float weight_decay;      /* decoupled, kernels only; 0 = off */
} tt_optim_config;

typedef struct tt_optim {
    tt_optim_config cfg;
    int n;
    tt_named_tensor *params;
    tt_named_tensor *state; /* Adam: [m0..mn-1, v0..vn-1]; SGD: [u0..un-1] */
    int n_state;
    float *slab;
    int64_t step; /* updates taken */
} tt_optim;

tt_optim_config tt_optim_defaults(tt_optim_kind kind);
/* Checks the config (finite, β in [0,1), ε > 0, momentum in [0,1), decay ≥ 0)
 * and allocates zeroed state for `params` (kept by pointer). */
tt_status tt_optim_init(tt_optim *o, const tt_optim_config *cfg, tt_named_tensor *params, int n);
void tt_optim_free(tt_optim *o);
/* One update of every parameter from its grad with learning rate lr. */
void tt_optim_step(tt_optim *o, float lr);
int tt_optim_state_tensors(tt_optim *o, tt_named_tensor **out);
tt_status tt_optim_set_step(tt_optim *o, int64_t step);

/* The per-tensor updates tt_optim_step applies; t is the 1-based step. */
void tt_adam_update(size_t n, float *w, const float *g, float *m, float *v, float lr, float decay,
                    const tt_optim_config *cfg, int64_t t);
void tt_sgd_update(size_t n, float *w, const float *g, float *u, float lr, float decay,
                   const tt_optim_config *cfg);

typedef enum tt_schedule_kind {
    TT_SCHED_CONSTANT = 0,
    TT_SCHED_COSINE,
    TT_SCHED_STEP
} tt_schedule_kind;

typedef struct tt_schedule {
    tt_schedule_kind kind;
    float lr;
    int64_t total_steps;     /* cosine */
    int64_t warmup_steps;    /* cosine; < total_steps */
    int64_t steps_per_epoch; /* step */
    int step_epochs;         /* step: decay every N epochs */
    float gamma;             /* step: factor */
} tt_schedule;

tt_status tt_schedule_check(const tt_schedule *s);
float tt_schedule_lr(const tt_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
