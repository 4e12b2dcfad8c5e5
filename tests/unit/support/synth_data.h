/* synth_data.h — seeded synthetic features (tt_synthetic_features) split into
 * a training and a validation set, and a trainer on them: what the trainer
 * and checkpoint tests start from.
 *
 *   tt_test_data d = tt_test_data_make(48, 3, 150, 40, 1.5f, 1);
 *   tt_trainer *t = tt_test_trainer(&cfg, &d);
 *   ...
 *   tt_trainer_free(t);
 *   tt_test_data_free(&d);
 */
#ifndef TT_TEST_SYNTH_DATA_H
#define TT_TEST_SYNTH_DATA_H

#include <stdint.h>

#include "tabtrain/trainer.h"

typedef struct tt_test_data {
    float *x;   /* [n_train + n_val][dim], owned */
    int32_t *y; /* [n_train + n_val], owned */
    int dim, classes;
    tt_features train, val; /* the first n_train rows, then the n_val others */
} tt_test_data;

/* sigma is the noise around each class centre; fails the test when out of memory. */
tt_test_data tt_test_data_make(int dim, int classes, int n_train, int n_val, float sigma,
                               uint64_t seed);
void tt_test_data_free(tt_test_data *d);
/* tt_trainer_init on d's two sets; fails the test (with the error) when it fails. */
tt_trainer *tt_test_trainer(const tt_trainer_config *cfg, const tt_test_data *d);

#endif
