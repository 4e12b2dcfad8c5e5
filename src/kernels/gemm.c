/* f32 GEMM: B packed into NR-wide panels, MR×NR register-blocked
 * micro-kernels with the epilogue fused into the store.
 *
 * Packed B layout: ceil(N/NR) panels; panel p holds K rows of NR floats,
 * columns p*NR .. p*NR+NR-1 of op(B), zero-padded past N. A micro-kernel walks
 * one panel contiguously, so its inner loop is NR/LANES vector loads, MR
 * broadcasts of A and MR*NR/LANES multiply-adds per k ("loadsplat" in
 * XNNPACK's terms).
 *
 * Tile shapes per ISA: the accumulators must stay in registers. SSE2 has 16
 * vector registers: 6x8 uses 12 accumulators + 2 B + 1 A + 1 product. Under
 * V8 (x64) only 15 are allocatable for wasm and every f32x4.mul+add pair
 * needs a temporary, so 6x8 spills; 4x8 (8 accumulators) measured faster
 * in Node, and so did loadsplat (v128.load32_splat per A element) over
 * loading 4 A values and shuffling lanes out (the shuffles and the extra
 * live registers cost more than the loads they save). AVX2 keeps 6 rows of 2
 * ymm. AVX-512 has 32 registers: 8 rows of 2 zmm (16 accumulators).
 * The micro-kernel loops over all the panels of an N block for its MR rows
 * (one call per row tile), as XNNPACK's do: with K = 16 a call per 4x8 tile
 * cost a large share of the tile's work. (An earlier measurement found this
 * slower, but then the accumulators still went through the shadow stack.)
 * The epilogue is fused: the bias seeds the accumulators, the act is a
 * compile-time choice (plain and minmax kernels, as in XNNPACK), the
 * residual one test per tile.
 *
 * Loop order: N is cut into blocks whose packed panels fit in L2; within a
 * block, each MR-row tile of A (MR×K, in L1) is reused across all the
 * block's panels. A is read in place, not packed: packing each row tile as
 * [k][MR] saves V8 an address add per row per k (+2-4% on K >= 32 with many
 * panels) but the copy costs more than that when N has few panels (-25% on
 * 12544x32x16), measured in Node. K is not blocked: MobileNetV2 has
 * K <= 960 and an MR×K tile of A plus one K×NR panel stay within L1/L2 for
 * the sizes we run.
 */

#include <math.h>

#include "core/simd.h"
#include "tabtrain/gemm.h"
#include "tabtrain/threadpool.h"

/* Tile rows per ISA, and the micro-kernel names: TT_GEMM_FN(4) is
 * tt_f32_gemm_4x8_wasmsimd. Every mr in 1..MR gets its own kernel so edge
 * tiles (M % MR rows) compute only the rows they store. */
#if TT_SIMD_WASM
#define TT_GEMM_MR 4
#define TT_GEMM_FN_(mr) tt_f32_gemm_##mr##x8_wasmsimd
#define TT_GEMM_MINMAX_FN_(mr) tt_f32_gemm_minmax_##mr##x8_wasmsimd
#elif TT_SIMD_AVX512
#define TT_GEMM_MR 8
#define TT_GEMM_FN_(mr) tt_f32_gemm_##mr##x32_avx512
#define TT_GEMM_MINMAX_FN_(mr) tt_f32_gemm_minmax_##mr##x32_avx512
#elif TT_SIMD_AVX2
#define TT_GEMM_MR 6
#define TT_GEMM_FN_(mr) tt_f32_gemm_##mr##x16_avx2
#define TT_GEMM_MINMAX_FN_(mr) tt_f32_gemm_minmax_##mr##x16_avx2
#elif TT_SIMD_SSE2
#define TT_GEMM_MR 6
#define TT_GEMM_FN_(mr) tt_f32_gemm_##mr##x8_sse2
#define TT_GEMM_MINMAX_FN_(mr) tt_f32_gemm_minmax_##mr##x8_sse2
#else
#define TT_GEMM_MR 6
#define TT_GEMM_FN_(mr) tt_f32_gemm_##mr##x8_scalar
#define TT_GEMM_MINMAX_FN_(mr) tt_f32_gemm_minmax_##mr##x8_scalar
#endif
#define TT_GEMM_FN(mr) TT_GEMM_FN_(mr)
#define TT_GEMM_MINMAX_FN(mr) TT_GEMM_MINMAX_FN_(mr)
#define TT_GEMM_STR_(x) #x
#define TT_GEMM_STR(x) TT_GEMM_STR_(x)

#define TT_GEMM_NV 2 /* vectors per tile row */
#define TT_GEMM_NR (TT_GEMM_NV * TT_VF_LANES)
/* Bytes of packed B one N block may occupy: half of a 1 MB L2, leaving room for A and C. */
#define TT_GEMM_L2_BYTES (512 * 1024)

/* What stays fixed over one GEMM call. The bias is not here: it seeds the
 * accumulators (one load per tile instead of an add per vector). Beta = 1
 * needs no kernel of its own either: C += A·B is the residual epilogue with
 * the residual being C itself. */
typedef struct tt_gemm_params {
    int kc;
    size_t lda, ldc, ldr;
    size_t bias_step;      /* NR, or 0 when the bias is all zeros */
    const float *bias_tail; /* the last, partial panel's bias, zero-padded to NR */
    float vmin, vmax; /* the minmax kernels' clamp: ReLU [0, inf], ReLU6 [0, 6] */
} tt_gemm_params;

/* One mr×NR tile: C[mr×nc] = clamp(A[mr×kc] · W + bias) + res, W one packed
 * panel, bias NR floats (zeros when there is none), res NULL or the tile's
 * first residual element. Inlined with constant mr and clamp so every loop
 * over rows and vectors unrolls and the accumulators stay in registers
 * (a loop the compiler cannot unroll, e.g. one with a break, puts them in
 * the wasm shadow stack: a store and a load per accumulator per tile, which
 * cost ~15% on K = 16). */
TT_INLINE void tt_gemm_tile(const int mr, const int clamp, int nc, const float *a, const float *w,
                            const float *bias, float *c, const float *res,
                            const tt_gemm_params *p) {
  for (;;) {
    const float *ar[TT_GEMM_MR];
    for (int i = 0; i < mr; i++) ar[i] = a + (size_t)i * p->lda;

    tt_vf acc[TT_GEMM_MR][TT_GEMM_NV];
    const float *bp = nc >= TT_GEMM_NR ? bias : p->bias_tail;
    for (int v = 0; v < TT_GEMM_NV; v++) acc[0][v] = tt_vf_load(bp + v * TT_VF_LANES);
    for (int i = 1; i < mr; i++)
        for (int v = 0; v < TT_GEMM_NV; v++) acc[i][v] = acc[0][v];

    for (int k = p->kc; k > 0; k--) {
        tt_vf b[TT_GEMM_NV];
        for (int v = 0; v < TT_GEMM_NV; v++) b[v] = tt_vf_load(w + v * TT_VF_LANES);
        w += TT_GEMM_NR;
        for (int i = 0; i < mr; i++) {
            tt_vf ai = tt_vf_set1(*ar[i]++);
            for (int v = 0; v < TT_GEMM_NV; v++) acc[i][v] = tt_vf_fmadd(ai, b[v], acc[i][v]);
        }
    }

    if (clamp) {
        tt_vf lo = tt_vf_set1(p->vmin), hi = tt_vf_set1(p->vmax);
        for (int i = 0; i < mr; i++)
            for (int v = 0; v < TT_GEMM_NV; v++)
                acc[i][v] = tt_vf_min(tt_vf_max(acc[i][v], lo), hi);
    }
    if (nc >= TT_GEMM_NR) {
        /* Full tile: straight-line code, one test for the residual. */
        if (res) {
            for (int i = 0; i < mr; i++)
                for (int v = 0; v < TT_GEMM_NV; v++)
                    acc[i][v] = tt_vf_add(acc[i][v], tt_vf_load(res + (size_t)i * p->ldr + v * TT_VF_LANES));
        }
        for (int i = 0; i < mr; i++)
            for (int v = 0; v < TT_GEMM_NV; v++)
                tt_vf_store(c + (size_t)i * p->ldc + v * TT_VF_LANES, acc[i][v]);
    } else {
        /* The last panel of an N that is not a multiple of NR, through a
         * buffer. No accumulator may be live across a call here (memcpy):
         * V8 then spills every accumulator where it is defined, on the full
         * tiles' path too. */
        float t[TT_GEMM_MR][TT_GEMM_NR];
        for (int i = 0; i < mr; i++)
            for (int v = 0; v < TT_GEMM_NV; v++) tt_vf_store(&t[i][v * TT_VF_LANES], acc[i][v]);
        for (int i = 0; i < mr; i++) {
            float *ci = c + (size_t)i * p->ldc;
            if (res) {
                const float *ri = res + (size_t)i * p->ldr;
                for (int j = 0; j < nc; j++) ci[j] = t[i][j] + ri[j];
            } else {
                for (int j = 0; j < nc; j++) ci[j] = t[i][j];
            }
        }
    }
    nc -= TT_GEMM_NR;
    if (nc <= 0) break;
    bias += p->bias_step;
    c += TT_GEMM_NR;
    if (res) res += TT_GEMM_NR;
  }
}

typedef void (*tt_gemm_ukernel)(int nc, const float *a, const float *w, const float *bias,
                                float *c, const float *res, const tt_gemm_params *p);
/* Two kernels per row count, as XNNPACK has: plain, and "minmax" with the
 * activation's clamp. */
#define TT_GEMM_DEFINE(mr)                                                                         \
    static void TT_GEMM_FN(mr)(int nc, const float *a, const float *w, const float *bias, float *c, \
                               const float *res, const tt_gemm_params *p) {                        \
        tt_gemm_tile(mr, 0, nc, a, w, bias, c, res, p);                                            \
    }                                                                                              \
    static void TT_GEMM_MINMAX_FN(mr)(int nc, const float *a, const float *w, const float *bias,   \
                                      float *c, const float *res, const tt_gemm_params *p) {       \
        tt_gemm_tile(mr, 1, nc, a, w, bias, c, res, p);                                            \
    }
TT_GEMM_DEFINE(1)
TT_GEMM_DEFINE(2)
TT_GEMM_DEFINE(3)
TT_GEMM_DEFINE(4)
#if TT_GEMM_MR >= 6
TT_GEMM_DEFINE(5)
TT_GEMM_DEFINE(6)
#endif
#if TT_GEMM_MR >= 8
TT_GEMM_DEFINE(7)
TT_GEMM_DEFINE(8)
#endif
#undef TT_GEMM_DEFINE

/* Indexed by [clamp][the tile's row count]. */
static const tt_gemm_ukernel tt_gemm_ukernels[2][TT_GEMM_MR + 1] = {
    {NULL, TT_GEMM_FN(1), TT_GEMM_FN(2), TT_GEMM_FN(3), TT_GEMM_FN(4),
#if TT_GEMM_MR >= 6
     TT_GEMM_FN(5), TT_GEMM_FN(6),
#endif
#if TT_GEMM_MR >= 8
     TT_GEMM_FN(7), TT_GEMM_FN(8),
#endif
    },
    {NULL, TT_GEMM_MINMAX_FN(1), TT_GEMM_MINMAX_FN(2), TT_GEMM_MINMAX_FN(3), TT_GEMM_MINMAX_FN(4),
#if TT_GEMM_MR >= 6
     TT_GEMM_MINMAX_FN(5), TT_GEMM_MINMAX_FN(6),
#endif
#if TT_GEMM_MR >= 8
     TT_GEMM_MINMAX_FN(7), TT_GEMM_MINMAX_FN(8),
#endif
    },
};

/* "f32_gemm_4x8_wasmsimd": the full-tile kernel's name without the tt_ prefix. */
const char *tt_f32_gemm_ukernel_name(void) { return &TT_GEMM_STR(TT_GEMM_FN(TT_GEMM_MR))[3]; }

size_t tt_f32_gemm_packed_size(int K, int N) {
    size_t panels = ((size_t)N + TT_GEMM_NR - 1) / TT_GEMM_NR;
    return panels * TT_GEMM_NR * (size_t)K;
}

void tt_f32_gemm_pack_b(tt_trans trans_b, int K, int N, const float *B, int ldb, float *packed) {
    for (int n0 = 0; n0 < N; n0 += TT_GEMM_NR) {
        int nc = N - n0 < TT_GEMM_NR ? N - n0 : TT_GEMM_NR;
        for (int k = 0; k < K; k++) {
            float *dst = packed + (size_t)k * TT_GEMM_NR;
            if (trans_b) {
                for (int j = 0; j < nc; j++) dst[j] = B[(size_t)(n0 + j) * ldb + k];
            } else {
                memcpy(dst, B + (size_t)k * ldb + n0, (size_t)nc * sizeof(float));
            }
            for (int j = nc; j < TT_GEMM_NR; j++) dst[j] = 0.0f;
        }
        packed += (size_t)K * TT_GEMM_NR;
    }
}

/* One GEMM split into items: item i is row tile (i % mtiles) of N block
 * (i / mtiles). Tiles start at multiples of MR whatever the thread count, and
 * K is never split, so every element of C comes out of the same kernel with
 * the same summation order: the result is bit-identical for any pool. */
typedef struct tt_gemm_job {
    int M, N, K, nb, mtiles;
    const float *A, *packed, *bias, *res;
    float *C;
    tt_gemm_params p;
    const tt_gemm_ukernel *kernels;
} tt_gemm_job;

static void tt_gemm_items(void *arg, int begin, int end, int worker) {
    static const float zeros[TT_GEMM_NR];
    const tt_gemm_job *j = arg;
    const tt_gemm_params *p = &j->p;
    (void)worker;
    for (int i = begin; i < end; i++) {
        int n0 = i / j->mtiles * j->nb, m0 = i % j->mtiles * TT_GEMM_MR;
        int nc = (j->N - n0 < j->nb ? j->N : n0 + j->nb) - n0;
        int mr = j->M - m0 < TT_GEMM_MR ? j->M - m0 : TT_GEMM_MR;
        const float *b = j->bias ? j->bias + n0 : zeros;
        const float *w = j->packed + (size_t)(n0 / TT_GEMM_NR) * TT_GEMM_NR * (size_t)j->K;
        const float *r = j->res ? j->res + (size_t)m0 * p->ldr + n0 : NULL;
        j->kernels[mr](nc, j->A + (size_t)m0 * p->lda, w, b, j->C + (size_t)m0 * p->ldc + n0, r, p);
    }
}

static void tt_gemm_run(tt_pool *pool, int M, int N, int K, const float *A, size_t lda,
                        const float *packed, float *C, size_t ldc, const tt_epilogue *ep,
                        int accumulate) {
    if (M <= 0 || N <= 0) return;
    /* Packed panels per N block so the block stays in L2. */
    size_t panel_bytes = (size_t)(K > 0 ? K : 1) * TT_GEMM_NR * sizeof(float);
    int block_panels = (int)(TT_GEMM_L2_BYTES / panel_bytes);
    if (block_panels < 1) block_panels = 1;
    /* With threads, small-M products (late layers: 7×7 = 49 rows) would
     * have fewer row tiles than threads; narrower N blocks give them work. */
    int threads = tt_pool_threads(pool), mtiles = (M + TT_GEMM_MR - 1) / TT_GEMM_MR;
    int panels = (N + TT_GEMM_NR - 1) / TT_GEMM_NR;
    if (threads > 1 && mtiles < 4 * threads) {
        int want = (panels * mtiles + 4 * threads - 1) / (4 * threads);
        if (want < block_panels) block_panels = want < 1 ? 1 : want;
    }

    tt_gemm_job j = {M, N, K, block_panels * TT_GEMM_NR, mtiles, A, packed, NULL, NULL, C,
                     {K, lda, ldc, 0, TT_GEMM_NR, NULL, 0.0f, 0.0f}, NULL};
    float bias_tail[TT_GEMM_NR] = {0};
    j.p.bias_tail = bias_tail;
    int clamp = 0;
    if (accumulate) {
        j.res = C;
        j.p.ldr = ldc;
    } else if (ep) {
        j.bias = ep->bias;
        j.res = ep->residual;
        j.p.ldr = (size_t)ep->ldr;
        clamp = ep->act != TT_ACT_NONE;
        j.p.vmax = ep->act == TT_ACT_RELU6 ? 6.0f : INFINITY;
    }
    if (j.bias && N % TT_GEMM_NR)
        memcpy(bias_tail, j.bias + N / TT_GEMM_NR * TT_GEMM_NR, (size_t)(N % TT_GEMM_NR) * sizeof(float));
    if (!j.bias) j.p.bias_step = 0;
    j.kernels = tt_gemm_ukernels[clamp];

    /* Items of at least ~32k multiply-adds, so claiming one is noise. */
    long item_macs = (long)TT_GEMM_MR * (N < j.nb ? N : j.nb) * (K > 0 ? K : 1);
    int grain = (int)(32768 / item_macs) + 1;
    int nblocks = (N + j.nb - 1) / j.nb;
    tt_pool_for(pool, nblocks * mtiles, grain, tt_gemm_items, &j);
}

void tt_f32_gemm_packed(tt_pool *pool, int M, int N, int K, const float *A, int lda,
                        const float *packed, float *C, int ldc, const tt_epilogue *ep) {
    tt_gemm_run(pool, M, N, K, A, (size_t)lda, packed, C, (size_t)ldc, ep, 0);
}

/* Aᵀ is materialized as M×K after the packed B, so the one micro-kernel
 * (which reads rows of A) serves every transpose combination. */
size_t tt_f32_gemm_work_size(int M, int N, int K) {
    return tt_f32_gemm_packed_size(K, N) + (size_t)M * (size_t)K;
}

typedef struct tt_gemm_prep {
    tt_trans trans_b;
    int M, N, K, lda, ldb, panels;
    const float *A, *B;
    float *packed, *at;
} tt_gemm_prep;

/* Items [0, panels) pack one B panel each; items past them transpose a
 * block of 64 rows of Aᵀ. */
static void tt_gemm_prep_items(void *arg, int begin, int end, int worker) {
    const tt_gemm_prep *g = arg;
    (void)worker;
    for (int i = begin; i < end; i++) {
        if (i < g->panels) {
            int n0 = i * TT_GEMM_NR, nc = g->N - n0 < TT_GEMM_NR ? g->N - n0 : TT_GEMM_NR;
            const float *b = g->trans_b ? g->B + (size_t)n0 * g->ldb : g->B + n0;
            tt_f32_gemm_pack_b(g->trans_b, g->K, nc, b, g->ldb, g->packed + (size_t)i * TT_GEMM_NR * g->K);
            continue;
        }
        int r0 = (i - g->panels) * 64, r1 = g->M - r0 < 64 ? g->M : r0 + 64;
        for (int k = 0; k < g->K; k++)
            for (int r = r0; r < r1; r++) g->at[(size_t)r * g->K + k] = g->A[(size_t)k * g->lda + r];
    }
}

void tt_f32_gemm_pack(tt_pool *pool, tt_trans trans_b, int K, int N, const float *B, int ldb,
                      float *packed) {
    tt_gemm_prep g = {trans_b, 0, N, K, 0, ldb, (N + TT_GEMM_NR - 1) / TT_GEMM_NR, NULL, B, packed, NULL};
    tt_pool_for(pool, g.panels, 1 + 16384 / (K * TT_GEMM_NR + 1), tt_gemm_prep_items, &g);
}

void tt_f32_gemm(tt_pool *pool, tt_trans trans_a, tt_trans trans_b, int M, int N, int K,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                 const tt_epilogue *ep, float *work) {
    if (M <= 0 || N <= 0) return;
    tt_gemm_prep g = {trans_b, M, N, K, lda, ldb, (N + TT_GEMM_NR - 1) / TT_GEMM_NR, A, B, work,
                      work + tt_f32_gemm_packed_size(K, N)};
    int items = g.panels + (trans_a ? (M + 63) / 64 : 0);
    tt_pool_for(pool, items, 1 + 16384 / (K * TT_GEMM_NR + 1), tt_gemm_prep_items, &g);
    size_t a_ld = (size_t)lda;
    if (trans_a) {
        A = g.at;
        a_ld = (size_t)K;
    }
    tt_gemm_run(pool, M, N, K, A, a_ld, g.packed, C, (size_t)ldc, ep, beta != 0.0f);
}
