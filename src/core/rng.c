#include "tabtrain/rng.h"

#define PCG_MULT 6364136223846793005ULL

void tt_rng_seed(tt_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    (void)tt_rng_u32(r);
    r->state += seed;
    (void)tt_rng_u32(r);
}

uint32_t tt_rng_u32(tt_rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t tt_rng_below(tt_rng *r, uint32_t n) {
    /* Rejecting the low remainder of 2^32 mod n removes modulo bias. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = tt_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float tt_rng_uniform(tt_rng *r) { return (float)(tt_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float tt_rng_range(tt_rng *r, float lo, float hi) { return lo + (hi - lo) * tt_rng_uniform(r); }

void tt_rng_shuffle_u32(tt_rng *r, uint32_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        uint32_t j = tt_rng_below(r, (uint32_t)i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
