/* tabtrain/gemm.h — f32 matrix multiply with fused epilogues.
 *
 * Row-major, explicit leading dimensions (row strides, in floats).
 *
 *   C[M×N] = act(op(A)[M×K] · op(B)[K×N] + bias) + residual      (beta = 0)
 *   C[M×N] += op(A) · op(B)                                       (beta = 1)
 *
 * op(X) is X or Xᵀ (TT_TRANS): forward passes use A·B; training needs
 * Aᵀ·B (weight gradients, dW = Xᵀ·dY) and A·Bᵀ (input gradients).
 * The epilogue (bias over columns, ReLU/ReLU6, then a residual M×N matrix)
 * is applied only when beta = 0; accumulation (beta = 1) takes none.
 *
 * Inference reuses constant weights, so B can be packed once into the
 * micro-kernel's panel layout (tt_f32_gemm_pack_b) and multiplied many times
 * (tt_f32_gemm_packed). tt_f32_gemm() packs into caller-provided `work`
 * (tt_f32_gemm_work_size floats) so no call allocates.
 *
 * Every optimized entry point has a plain scalar reference with the same
 * contract (tt_f32_gemm_ref) that tests compare against.
 *
 * Threads: the entry points take a pool (tabtrain/threadpool.h; NULL runs
 * on the caller's thread) and split C into row tiles × column panels, never
 * K, so C is bit-identical for every thread count.
 */
#ifndef TABTRAIN_GEMM_H
#define TABTRAIN_GEMM_H

#include <stddef.h>

#include "tabtrain/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tt_act { TT_ACT_NONE = 0, TT_ACT_RELU, TT_ACT_RELU6 } tt_act;

typedef enum tt_trans { TT_NO_TRANS = 0, TT_TRANS = 1 } tt_trans;

typedef struct tt_epilogue {
    const float *bias;     /* [N], or NULL */
    tt_act act;            /* applied after the bias */
    const float *residual; /* [M×N] with row stride ldr, added after act; or NULL */
    int ldr;
} tt_epilogue;

/* Floats needed to hold op(B) (K×N) packed. */
size_t tt_f32_gemm_packed_size(int K, int N);
/* Pack op(B): trans_b = TT_NO_TRANS reads B[k*ldb + n] (K×N); TT_TRANS reads
 * B[n*ldb + k] (N×K, e.g. OHWI 1×1 conv weights [out][in]). */
void tt_f32_gemm_pack_b(tt_trans trans_b, int K, int N, const float *B, int ldb, float *packed);
/* The same packing split over `pool` by panels (weights that change every
 * step: the fine-tuned tail packs its layers once per forward). */
void tt_f32_gemm_pack(tt_pool *pool, tt_trans trans_b, int K, int N, const float *B, int ldb,
                      float *packed);
/* C = epilogue(A · packedB); A is M×K with stride lda. */
void tt_f32_gemm_packed(tt_pool *pool, int M, int N, int K, const float *A, int lda,
                        const float *packed, float *C, int ldc, const tt_epilogue *ep);

/* Floats of `work` tt_f32_gemm needs for these sizes. */
size_t tt_f32_gemm_work_size(int M, int N, int K);
/* General form; ep may be NULL; beta is 0 or 1. */
void tt_f32_gemm(tt_pool *pool, tt_trans trans_a, tt_trans trans_b, int M, int N, int K,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                 const tt_epilogue *ep, float *work);

/* Name of the micro-kernel this build runs, XNNPACK style
 * ("f32_gemm_6x8_wasmsimd"), for benchmark reports. */
const char *tt_f32_gemm_ukernel_name(void);

/* Scalar reference: same contract as tt_f32_gemm, no work buffer; sums in
 * double so it can serve as the tests' oracle. */
void tt_f32_gemm_ref(tt_trans trans_a, tt_trans trans_b, int M, int N, int K, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     const tt_epilogue *ep);

#ifdef __cplusplus
}
#endif
#endif
