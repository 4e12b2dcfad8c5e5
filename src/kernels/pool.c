/* Global average pooling over NHWC feature maps. */
#include "kernels/conv_common.h"

void tt_f32_global_avgpool(int N, int HW, int C, const float *x, float *y) {
    tt_vf inv = tt_vf_set1(1.0f / (float)HW);
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * HW * C;
        float *yn = y + (size_t)n * C;
        int c = 0;
        /* Four independent channel vectors per pass hide the add latency. */
        for (; c + 4 * TT_VF_LANES <= C; c += 4 * TT_VF_LANES) {
            tt_vf s0 = tt_vf_zero(), s1 = tt_vf_zero(), s2 = tt_vf_zero(), s3 = tt_vf_zero();
            for (int p = 0; p < HW; p++) {
                const float *q = xn + (size_t)p * C + c;
                s0 = tt_vf_add(s0, tt_vf_load(q));
                s1 = tt_vf_add(s1, tt_vf_load(q + TT_VF_LANES));
                s2 = tt_vf_add(s2, tt_vf_load(q + 2 * TT_VF_LANES));
                s3 = tt_vf_add(s3, tt_vf_load(q + 3 * TT_VF_LANES));
            }
            tt_vf_store(yn + c, tt_vf_mul(s0, inv));
            tt_vf_store(yn + c + TT_VF_LANES, tt_vf_mul(s1, inv));
            tt_vf_store(yn + c + 2 * TT_VF_LANES, tt_vf_mul(s2, inv));
            tt_vf_store(yn + c + 3 * TT_VF_LANES, tt_vf_mul(s3, inv));
        }
        for (; c < C; c += TT_VF_LANES) {
            int tail = C - c < TT_VF_LANES ? C - c : 0;
            tt_vf s = tt_vf_zero();
            for (int p = 0; p < HW; p++) s = tt_vf_add(s, tt_vf_ld(xn + (size_t)p * C + c, tail));
            tt_vf_st(yn + c, tt_vf_mul(s, inv), tail);
        }
    }
}

void tt_f32_global_avgpool_ref(int N, int HW, int C, const float *x, float *y) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int p = 0; p < HW; p++) s += x[((size_t)n * HW + p) * C + c];
            y[(size_t)n * C + c] = (float)(s / HW);
        }
}

void tt_f32_global_avgpool_backward(int N, int HW, int C, const float *dy, float *dx) {
    const float inv = 1.0f / (float)HW;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            float *d = dx + ((size_t)n * HW + p) * C;
            const float *g = dy + (size_t)n * C;
            for (int c = 0; c < C; c++) d[c] = g[c] * inv;
        }
}
