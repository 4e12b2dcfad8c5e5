/* A random MobileNetV2 of any width, built in memory as safetensors bytes:
 * for tests of the backbone and of its trainable tail. */
#ifndef TT_MNV2_SYNTH_H
#define TT_MNV2_SYNTH_H

#include <stddef.h>

/* Stem c0 channels, expansion 3, block outputs 4..24 channels, head `feat`,
 * `classes` logits (0 = none). `skip` names a tensor left out and `wrong` one
 * given a channel too many (both may be NULL). Returns malloc'ed bytes. */
void *tt_test_mnv2_synth(int c0, int feat, int classes, const char *skip, const char *wrong,
                         size_t *len);

#endif
