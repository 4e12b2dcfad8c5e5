#include "tabtrain/nn.h"

void tt_dropout_mask(size_t n, float rate, tt_rng *rng, float *mask) {
    float keep = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) mask[i] = tt_rng_uniform(rng) < rate ? 0.0f : keep;
}

void tt_dropout_apply(size_t n, const float *mask, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}
