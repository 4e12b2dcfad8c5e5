#include <math.h>

#include "tabtrain/trainer.h"

void tt_synthetic_features(int n, int dim, int classes, float sigma, uint64_t seed, float *x,
                           int32_t *labels) {
    tt_rng r;
    tt_rng_seed(&r, seed, TT_STREAM_TEST);
    for (int i = 0; i < n; i++) {
        int c = labels[i] = (int32_t)tt_rng_below(&r, (uint32_t)classes);
        /* Each class mean is its own seeded sequence, replayed per sample, so
         * no classes×dim table is needed. */
        tt_rng mean;
        tt_rng_seed(&mean, seed + 0x9E3779B97F4A7C15ull * (uint64_t)(c + 1), TT_STREAM_TEST);
        float *row = x + (size_t)i * dim;
        for (int d = 0; d < dim; d++) {
            double u1 = tt_rng_uniform(&r), u2 = tt_rng_uniform(&r);
            double z = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
            float v = 2.0f * tt_rng_uniform(&mean) + sigma * (float)z;
            row[d] = v > 0.0f ? v : 0.0f;
        }
    }
}
