/* Global average pooling over NHWC feature maps. */
#include "kernels/conv_common.h"

/* Channel blocks of 4 vectors: four independent sums hide the add latency. */
#define TT_POOL_CB (4 * TT_VF_LANES)

typedef struct gap_job {
    int HW, C, blocks;
    const float *x;
    float *y;
    tt_vf inv;
} gap_job;

/* Items are (image, channel block) pairs. */
static void gap_items(void *arg, int begin, int end, int worker) {
    const gap_job *j = arg;
    const int HW = j->HW, C = j->C;
    const tt_vf inv = j->inv;
    (void)worker;
    for (int i = begin; i < end; i++) {
        int n = i / j->blocks, c = i % j->blocks * TT_POOL_CB;
        const float *xn = j->x + (size_t)n * HW * C;
        float *yn = j->y + (size_t)n * C;
        if (c + TT_POOL_CB <= C) {
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
            continue;
        }
        for (; c < C; c += TT_VF_LANES) {
            int tail = C - c < TT_VF_LANES ? C - c : 0;
            tt_vf s = tt_vf_zero();
            for (int p = 0; p < HW; p++) s = tt_vf_add(s, tt_vf_ld(xn + (size_t)p * C + c, tail));
            tt_vf_st(yn + c, tt_vf_mul(s, inv), tail);
        }
    }
}

void tt_f32_global_avgpool(tt_pool *pool, int N, int HW, int C, const float *x, float *y) {
    gap_job j = {HW, C, (C + TT_POOL_CB - 1) / TT_POOL_CB, x, y, tt_vf_set1(1.0f / (float)HW)};
    tt_pool_for(pool, N * j.blocks, 1 + 16384 / (HW * TT_POOL_CB + 1), gap_items, &j);
}

void tt_f32_global_avgpool_ref(int N, int HW, int C, const float *x, float *y) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int p = 0; p < HW; p++) s += x[((size_t)n * HW + p) * C + c];
            y[(size_t)n * C + c] = (float)(s / HW);
        }
}

typedef struct gapb_job {
    int HW, C;
    const float *dy;
    float *dx;
    float inv;
} gapb_job;

/* Items are rows (image, pixel) of dx. */
static void gapb_rows(void *arg, int begin, int end, int worker) {
    const gapb_job *j = arg;
    (void)worker;
    for (int r = begin; r < end; r++) {
        float *d = j->dx + (size_t)r * j->C;
        const float *g = j->dy + (size_t)(r / j->HW) * j->C;
        for (int c = 0; c < j->C; c++) d[c] = g[c] * j->inv;
    }
}

void tt_f32_global_avgpool_backward(tt_pool *pool, int N, int HW, int C, const float *dy, float *dx) {
    gapb_job j = {HW, C, dy, dx, 1.0f / (float)HW};
    tt_pool_for(pool, N * HW, 1 + 4096 / (C + 1), gapb_rows, &j);
}
