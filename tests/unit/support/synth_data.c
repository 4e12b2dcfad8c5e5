#include "support/synth_data.h"

#include <stdlib.h>

#include "tt_test.h"

tt_test_data tt_test_data_make(int dim, int classes, int n_train, int n_val, float sigma,
                               uint64_t seed) {
    tt_test_data d = {.dim = dim, .classes = classes};
    int n = n_train + n_val;
    d.x = tt_test_malloc((size_t)n * dim * sizeof(float));
    d.y = tt_test_malloc((size_t)n * sizeof(int32_t));
    tt_synthetic_features(n, dim, classes, sigma, seed, d.x, d.y);
    d.train = (tt_features){d.x, d.y, n_train};
    d.val = (tt_features){d.x + (size_t)n_train * dim, d.y + n_train, n_val};
    return d;
}

void tt_test_data_free(tt_test_data *d) { free(d->x), free(d->y); }

tt_trainer *tt_test_trainer(const tt_trainer_config *cfg, const tt_test_data *d) {
    tt_trainer *t;
    tt_assert_ok(tt_trainer_init(&t, cfg, d->dim, d->classes, &d->train, &d->val));
    return t;
}
