/* tabtrain/conv.h — convolution, pooling and activation kernels (f32, NHWC).
 *
 * Kernels take pointers, sizes and strides; they never allocate and know
 * nothing of layers or files. Padding is TensorFlow "SAME": the output is
 * ceil(H / stride) × ceil(W / stride) and the total padding
 * max((Ho-1)·stride + 3 - H, 0) is split floor before / ceil after (so a 3×3
 * stride-2 layer on an even input pads 0 before and 1 after).
 *
 * Weights follow the layouts of the pretrained files: full convolutions are
 * OHWI ([Cout][3][3][Cin]), depthwise 3×3 is [3][3][C]. Epilogues fuse
 * bias and activation (tt_act from gemm.h).
 *
 * Backward kernels take the gradient with respect to the layer's
 * pre-activation output (apply tt_f32_relu6_backward first) and ACCUMULATE
 * into dw/db (+=), so gradients of a batch can be summed in slices; dx is
 * overwritten. Every optimized kernel has a `_ref` scalar twin with the same
 * contract for tests.
 *
 * Threads: the kernels that take a `tt_pool *` (NULL = the caller's thread)
 * split their outputs over it, never a sum: the forward kernels by output
 * rows, the backward ones by channels (dw, db and dx of a channel are one
 * thread's), so every result is bit-identical for every thread count. The
 * stem's `work` holds one gather row per thread (the `threads` of its size).
 */
#ifndef TABTRAIN_CONV_H
#define TABTRAIN_CONV_H

#include <stddef.h>

#include "tabtrain/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output side of a SAME-padded 3×3 window. */
static inline int tt_same_out(int in, int stride) { return (in + stride - 1) / stride; }

/* 3×3 full convolution (the MobileNetV2 stem: Cin = 3, Cout = 32, stride 2).
 * x: [N][H][W][Cin], w: [Cout][3][3][Cin], y: [N][Ho][Wo][Cout]. `work`
 * holds tt_f32_conv3x3_work_size floats. */
size_t tt_f32_conv3x3_work_size(int W, int Cin, int Cout, int stride, int threads);
void tt_f32_conv3x3(tt_pool *pool, int N, int H, int W, int Cin, int Cout, int stride,
                    const float *x, const float *w, const float *bias, tt_act act, float *y,
                    float *work);
void tt_f32_conv3x3_ref(int N, int H, int W, int Cin, int Cout, int stride, const float *x,
                        const float *w, const float *bias, tt_act act, float *y);

/* 3×3 depthwise convolution, stride 1 or 2. x: [N][H][W][C], w: [3][3][C]. */
void tt_f32_dwconv3x3(tt_pool *pool, int N, int H, int W, int C, int stride, const float *x,
                      const float *w, const float *bias, tt_act act, float *y);
void tt_f32_dwconv3x3_ref(int N, int H, int W, int C, int stride, const float *x, const float *w,
                          const float *bias, tt_act act, float *y);
/* dy: [N][Ho][Wo][C] w.r.t. the pre-activation output. dx (may be NULL)
 * is overwritten; dw [3][3][C] and db [C] (either may be NULL) accumulate. */
void tt_f32_dwconv3x3_backward(tt_pool *pool, int N, int H, int W, int C, int stride,
                               const float *x, const float *w, const float *dy, float *dx,
                               float *dw, float *db);
void tt_f32_dwconv3x3_backward_ref(int N, int H, int W, int C, int stride, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *db);

/* 1×1 convolution / dense layer backward, via GEMM. Forward is
 * y[M][Cout] = x[M][Cin] · wᵀ + b with w: [Cout][Cin] (OHWI for 1×1, and
 * the dense layout). Given dy (pre-activation), dx = dy·w (overwritten, may
 * be NULL), dw += dyᵀ·x, db += Σ_rows dy (either may be NULL). `work` holds
 * tt_f32_gemm_work_size(max(M,Cin,Cout)...) floats, see
 * tt_f32_dense_backward_work_size. */
size_t tt_f32_dense_backward_work_size(int M, int Cin, int Cout);
void tt_f32_dense_backward(tt_pool *pool, int M, int Cin, int Cout, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, float *db,
                           float *work);

/* Global average pool: x [N][HW][C] -> y [N][C]; backward spreads dy/HW. */
void tt_f32_global_avgpool(tt_pool *pool, int N, int HW, int C, const float *x, float *y);
void tt_f32_global_avgpool_ref(int N, int HW, int C, const float *x, float *y);
void tt_f32_global_avgpool_backward(tt_pool *pool, int N, int HW, int C, const float *dy, float *dx);

/* Row-wise softmax of x [rows][cols] into y (may alias x); max-subtracted. */
void tt_f32_softmax(int rows, int cols, const float *x, float *y);
void tt_f32_softmax_ref(int rows, int cols, const float *x, float *y);

/* Activation backward from the activation's OUTPUT y: dx = dy where the
 * unit was in its linear range (0 < y < 6 for ReLU6, y > 0 for ReLU), else 0.
 * dx may alias dy. */
void tt_f32_relu6_backward(tt_pool *pool, size_t n, const float *y, const float *dy, float *dx);
void tt_f32_relu_backward(size_t n, const float *y, const float *dy, float *dx);

/* y[i] += x[i] (a skip connection's gradient). */
void tt_f32_add_inplace(tt_pool *pool, size_t n, const float *x, float *y);

/* In-place bias + activation over [rows][cols] (for layers whose producer
 * did not fuse them). */
void tt_f32_bias_act(int rows, int cols, float *x, const float *bias, tt_act act);

#ifdef __cplusplus
}
#endif
#endif
