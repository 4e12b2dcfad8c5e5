/* conv_common.h — helpers shared by the conv, depthwise, pool and activation
 * kernels (private to src/kernels). */
#ifndef TT_CONV_COMMON_H
#define TT_CONV_COMMON_H

#include "core/simd.h"
#include "tabtrain/conv.h"

/* Padding before the first row/column of a SAME 3×3 window (floor half of
 * the total, so the extra pixel of an odd total pads the far side). */
static inline int tt_same_pad_before(int in, int out, int stride) {
    int total = (out - 1) * stride + 3 - in;
    return total > 0 ? total / 2 : 0;
}

static inline float tt_act_scalar(float v, tt_act act) {
    if (act == TT_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (act == TT_ACT_RELU6) return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    return v;
}

TT_INLINE tt_vf tt_vf_act(tt_vf v, tt_act act) {
    if (act == TT_ACT_RELU6) return tt_vf_relu6(v);
    if (act == TT_ACT_RELU) return tt_vf_max(v, tt_vf_zero());
    return v;
}

/* n == 0 means a full vector; otherwise the n-float tail of a channel row.
 * Kernels pass a literal 0 on the main path so the branch folds away. */
TT_INLINE tt_vf tt_vf_ld(const float *p, int n) { return n ? tt_vf_load_partial(p, n) : tt_vf_load(p); }
TT_INLINE void tt_vf_st(float *p, tt_vf v, int n) {
    if (n)
        tt_vf_store_partial(p, v, n);
    else
        tt_vf_store(p, v);
}

#endif
