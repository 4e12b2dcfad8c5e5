/* Row softmax, activation backward, standalone bias + activation, and an add. */
#include <math.h>

#include "kernels/conv_common.h"

void tt_f32_softmax(int rows, int cols, const float *x, float *y) {
    if (cols <= 0) return;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        float m = xr[0];
        for (int j = 1; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) {
            yr[j] = expf(xr[j] - m);
            s += yr[j];
        }
        float inv = 1.0f / s;
        for (int j = 0; j < cols; j++) yr[j] *= inv;
    }
}

void tt_f32_softmax_ref(int rows, int cols, const float *x, float *y) {
    if (cols <= 0) return;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        double m = xr[0], s = 0.0;
        for (int j = 1; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        for (int j = 0; j < cols; j++) s += exp(xr[j] - m);
        for (int j = 0; j < cols; j++) yr[j] = (float)(exp(xr[j] - m) / s);
    }
}

/* Plain loops: the compiler vectorizes these compare-selects on every ISA. */
typedef struct relu6b_job {
    size_t n;
    const float *y, *dy;
    float *dx;
} relu6b_job;

enum { TT_ACT_BLOCK = 4096 };

/* Items are blocks of TT_ACT_BLOCK elements. */
static void relu6b_blocks(void *arg, int begin, int end, int worker) {
    const relu6b_job *j = arg;
    size_t i0 = (size_t)begin * TT_ACT_BLOCK, i1 = (size_t)end * TT_ACT_BLOCK;
    if (i1 > j->n) i1 = j->n;
    const float *y = j->y, *dy = j->dy;
    float *dx = j->dx;
    (void)worker;
    for (size_t i = i0; i < i1; i++) dx[i] = (y[i] > 0.0f && y[i] < 6.0f) ? dy[i] : 0.0f;
}

void tt_f32_relu6_backward(tt_pool *pool, size_t n, const float *y, const float *dy, float *dx) {
    relu6b_job j = {n, y, dy, dx};
    tt_pool_for(pool, (int)((n + TT_ACT_BLOCK - 1) / TT_ACT_BLOCK), 4, relu6b_blocks, &j);
}

typedef struct add_job {
    size_t n;
    const float *x;
    float *y;
} add_job;

static void add_blocks(void *arg, int begin, int end, int worker) {
    const add_job *j = arg;
    size_t i0 = (size_t)begin * TT_ACT_BLOCK, i1 = (size_t)end * TT_ACT_BLOCK;
    if (i1 > j->n) i1 = j->n;
    (void)worker;
    for (size_t i = i0; i < i1; i++) j->y[i] += j->x[i];
}

void tt_f32_add_inplace(tt_pool *pool, size_t n, const float *x, float *y) {
    add_job j = {n, x, y};
    tt_pool_for(pool, (int)((n + TT_ACT_BLOCK - 1) / TT_ACT_BLOCK), 4, add_blocks, &j);
}

void tt_f32_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void tt_f32_bias_act(int rows, int cols, float *x, const float *bias, tt_act act) {
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * cols;
        for (int c = 0; c < cols; c += TT_VF_LANES) {
            int tail = cols - c < TT_VF_LANES ? cols - c : 0;
            tt_vf v = tt_vf_ld(xr + c, tail);
            if (bias) v = tt_vf_add(v, tt_vf_ld(bias + c, tail));
            tt_vf_st(xr + c, tt_vf_act(v, act), tail);
        }
    }
}
