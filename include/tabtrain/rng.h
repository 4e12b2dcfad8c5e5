/* tabtrain/rng.h — seedable, serializable random numbers.
 *
 * PCG32 (XSH-RR, 64-bit state, selectable stream). The whole state is the
 * two public words of tt_rng, so saving a checkpoint stores them and restoring
 * them continues the exact same sequence. Every purpose (split, shuffle,
 * augmentation, dropout, init) owns its own stream: tt_rng_seed(&r, seed,
 * TT_STREAM_SHUFFLE) gives independent sequences from one user seed.
 *
 * Only integer arithmetic and exact float conversions are used, so the native
 * and wasm builds produce identical bits for identical seeds.
 */
#ifndef TABTRAIN_RNG_H
#define TABTRAIN_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_rng {
    uint64_t state;
    uint64_t inc; /* always odd; encodes the stream */
} tt_rng;

enum {
    TT_STREAM_INIT = 1,
    TT_STREAM_SPLIT,
    TT_STREAM_SHUFFLE,
    TT_STREAM_AUGMENT,
    TT_STREAM_DROPOUT,
    TT_STREAM_TEST = 99
};

void tt_rng_seed(tt_rng *r, uint64_t seed, uint64_t stream);
uint32_t tt_rng_u32(tt_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint32_t tt_rng_below(tt_rng *r, uint32_t n);
/* Uniform float in [0, 1) with 24 random bits. */
float tt_rng_uniform(tt_rng *r);
/* Uniform float in [lo, hi). */
float tt_rng_range(tt_rng *r, float lo, float hi);
/* Fisher–Yates shuffle of v[0..n). */
void tt_rng_shuffle_u32(tt_rng *r, uint32_t *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
