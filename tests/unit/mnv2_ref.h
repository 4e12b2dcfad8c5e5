/* A float64 MobileNetV2 forward pass written as plain loops, independent of
 * the optimized kernels and of src/model: the oracle for the model tests. */
#ifndef TT_MNV2_REF_H
#define TT_MNV2_REF_H

#include "tabtrain/mobilenet.h"

/* input [S][S][3] -> features [F]; returns F, or -1 (with a cmocka failure)
 * when a tensor is missing. logits (may be NULL) receives K values when
 * the source has a logits layer. */
int tt_mnv2_reference(const tt_st_file *weights, int size, const float *input, double *features,
                      double *logits);

#endif
