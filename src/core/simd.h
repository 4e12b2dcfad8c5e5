/* simd.h — the one portable f32 vector type every optimized kernel is
 * written against. The ISA is chosen at build time from the compiler's
 * target macros:
 *
 *   wasm SIMD128 (-msimd128)        4 lanes, mul+add (SIMD128 has no FMA)
 *   AVX-512F                       16 lanes, FMA
 *   AVX2 + FMA                      8 lanes, FMA
 *   SSE2 (any x86-64)               4 lanes, mul+add
 *   plain C (or -DTT_FORCE_SCALAR)  4 lanes in a struct, loops the compiler
 *                                   may auto-vectorize
 *
 * Kernels use TT_VF_LANES to size their tiles, so one source gives an 8x8
 * tile on SSE/wasm and an 8x32 tile on AVX-512 without #ifdefs of its own.
 * All loads and stores are unaligned; tails shorter than a vector are the
 * kernel's business (tt_vf_load_partial / tt_vf_store_partial help).
 */
#ifndef TT_SIMD_H
#define TT_SIMD_H

#include <string.h>

#if defined(TT_FORCE_SCALAR)
#define TT_SIMD_SCALAR 1
#elif defined(__wasm_simd128__)
#define TT_SIMD_WASM 1
#include <wasm_simd128.h>
#elif defined(__AVX512F__)
#define TT_SIMD_AVX512 1
#include <immintrin.h>
#elif defined(__AVX2__) && defined(__FMA__)
#define TT_SIMD_AVX2 1
#include <immintrin.h>
#elif defined(__SSE2__)
#define TT_SIMD_SSE2 1
#include <emmintrin.h>
#else
#define TT_SIMD_SCALAR 1
#endif

#define TT_INLINE static inline __attribute__((always_inline))

#if TT_SIMD_WASM
#ifdef __wasm_relaxed_simd__
#define TT_ISA_NAME "wasmrelaxed"
#else
#define TT_ISA_NAME "wasmsimd"
#endif
#define TT_VF_LANES 4
typedef v128_t tt_vf;
TT_INLINE tt_vf tt_vf_zero(void) { return wasm_f32x4_splat(0.0f); }
TT_INLINE tt_vf tt_vf_set1(float x) { return wasm_f32x4_splat(x); }
TT_INLINE tt_vf tt_vf_load(const float *p) { return wasm_v128_load(p); }
TT_INLINE void tt_vf_store(float *p, tt_vf v) { wasm_v128_store(p, v); }
TT_INLINE tt_vf tt_vf_add(tt_vf a, tt_vf b) { return wasm_f32x4_add(a, b); }
TT_INLINE tt_vf tt_vf_sub(tt_vf a, tt_vf b) { return wasm_f32x4_sub(a, b); }
TT_INLINE tt_vf tt_vf_mul(tt_vf a, tt_vf b) { return wasm_f32x4_mul(a, b); }
#ifdef __wasm_relaxed_simd__
/* Relaxed SIMD (clang -mrelaxed-simd): fused where the CPU has FMA. */
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { return wasm_f32x4_relaxed_madd(a, b, c); }
#else
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }
#endif
/* pmin/pmax lower to single instructions; NaN handling is irrelevant here. */
TT_INLINE tt_vf tt_vf_min(tt_vf a, tt_vf b) { return wasm_f32x4_pmin(a, b); }
TT_INLINE tt_vf tt_vf_max(tt_vf a, tt_vf b) { return wasm_f32x4_pmax(a, b); }
TT_INLINE float tt_vf_hsum(tt_vf v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}
#elif TT_SIMD_AVX512
#define TT_ISA_NAME "avx512"
#define TT_VF_LANES 16
typedef __m512 tt_vf;
TT_INLINE tt_vf tt_vf_zero(void) { return _mm512_setzero_ps(); }
TT_INLINE tt_vf tt_vf_set1(float x) { return _mm512_set1_ps(x); }
TT_INLINE tt_vf tt_vf_load(const float *p) { return _mm512_loadu_ps(p); }
TT_INLINE void tt_vf_store(float *p, tt_vf v) { _mm512_storeu_ps(p, v); }
TT_INLINE tt_vf tt_vf_add(tt_vf a, tt_vf b) { return _mm512_add_ps(a, b); }
TT_INLINE tt_vf tt_vf_sub(tt_vf a, tt_vf b) { return _mm512_sub_ps(a, b); }
TT_INLINE tt_vf tt_vf_mul(tt_vf a, tt_vf b) { return _mm512_mul_ps(a, b); }
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { return _mm512_fmadd_ps(a, b, c); }
TT_INLINE tt_vf tt_vf_min(tt_vf a, tt_vf b) { return _mm512_min_ps(a, b); }
TT_INLINE tt_vf tt_vf_max(tt_vf a, tt_vf b) { return _mm512_max_ps(a, b); }
TT_INLINE float tt_vf_hsum(tt_vf v) { return _mm512_reduce_add_ps(v); }
#elif TT_SIMD_AVX2
#define TT_ISA_NAME "avx2"
#define TT_VF_LANES 8
typedef __m256 tt_vf;
TT_INLINE tt_vf tt_vf_zero(void) { return _mm256_setzero_ps(); }
TT_INLINE tt_vf tt_vf_set1(float x) { return _mm256_set1_ps(x); }
TT_INLINE tt_vf tt_vf_load(const float *p) { return _mm256_loadu_ps(p); }
TT_INLINE void tt_vf_store(float *p, tt_vf v) { _mm256_storeu_ps(p, v); }
TT_INLINE tt_vf tt_vf_add(tt_vf a, tt_vf b) { return _mm256_add_ps(a, b); }
TT_INLINE tt_vf tt_vf_sub(tt_vf a, tt_vf b) { return _mm256_sub_ps(a, b); }
TT_INLINE tt_vf tt_vf_mul(tt_vf a, tt_vf b) { return _mm256_mul_ps(a, b); }
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { return _mm256_fmadd_ps(a, b, c); }
TT_INLINE tt_vf tt_vf_min(tt_vf a, tt_vf b) { return _mm256_min_ps(a, b); }
TT_INLINE tt_vf tt_vf_max(tt_vf a, tt_vf b) { return _mm256_max_ps(a, b); }
TT_INLINE float tt_vf_hsum(tt_vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#elif TT_SIMD_SSE2
#define TT_ISA_NAME "sse2"
#define TT_VF_LANES 4
typedef __m128 tt_vf;
TT_INLINE tt_vf tt_vf_zero(void) { return _mm_setzero_ps(); }
TT_INLINE tt_vf tt_vf_set1(float x) { return _mm_set1_ps(x); }
TT_INLINE tt_vf tt_vf_load(const float *p) { return _mm_loadu_ps(p); }
TT_INLINE void tt_vf_store(float *p, tt_vf v) { _mm_storeu_ps(p, v); }
TT_INLINE tt_vf tt_vf_add(tt_vf a, tt_vf b) { return _mm_add_ps(a, b); }
TT_INLINE tt_vf tt_vf_sub(tt_vf a, tt_vf b) { return _mm_sub_ps(a, b); }
TT_INLINE tt_vf tt_vf_mul(tt_vf a, tt_vf b) { return _mm_mul_ps(a, b); }
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
TT_INLINE tt_vf tt_vf_min(tt_vf a, tt_vf b) { return _mm_min_ps(a, b); }
TT_INLINE tt_vf tt_vf_max(tt_vf a, tt_vf b) { return _mm_max_ps(a, b); }
TT_INLINE float tt_vf_hsum(tt_vf v) {
    float t[4];
    _mm_storeu_ps(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
}
#else
#define TT_ISA_NAME "scalar"
#define TT_VF_LANES 4
typedef struct { float v[4]; } tt_vf;
#define TT_VF_MAP(expr)                          \
    tt_vf r;                                     \
    for (int i = 0; i < 4; i++) r.v[i] = (expr); \
    return r
TT_INLINE tt_vf tt_vf_zero(void) { TT_VF_MAP(0.0f); }
TT_INLINE tt_vf tt_vf_set1(float x) { TT_VF_MAP(x); }
TT_INLINE tt_vf tt_vf_load(const float *p) { TT_VF_MAP(p[i]); }
TT_INLINE void tt_vf_store(float *p, tt_vf v) { memcpy(p, v.v, sizeof v.v); }
TT_INLINE tt_vf tt_vf_add(tt_vf a, tt_vf b) { TT_VF_MAP(a.v[i] + b.v[i]); }
TT_INLINE tt_vf tt_vf_sub(tt_vf a, tt_vf b) { TT_VF_MAP(a.v[i] - b.v[i]); }
TT_INLINE tt_vf tt_vf_mul(tt_vf a, tt_vf b) { TT_VF_MAP(a.v[i] * b.v[i]); }
TT_INLINE tt_vf tt_vf_fmadd(tt_vf a, tt_vf b, tt_vf c) { TT_VF_MAP(a.v[i] * b.v[i] + c.v[i]); }
TT_INLINE tt_vf tt_vf_min(tt_vf a, tt_vf b) { TT_VF_MAP(a.v[i] < b.v[i] ? a.v[i] : b.v[i]); }
TT_INLINE tt_vf tt_vf_max(tt_vf a, tt_vf b) { TT_VF_MAP(a.v[i] > b.v[i] ? a.v[i] : b.v[i]); }
TT_INLINE float tt_vf_hsum(tt_vf v) { return (v.v[0] + v.v[1]) + (v.v[2] + v.v[3]); }
#undef TT_VF_MAP
#endif

/* Tails: move n < TT_VF_LANES floats through a zero-padded vector. */
TT_INLINE tt_vf tt_vf_load_partial(const float *p, int n) {
    float t[TT_VF_LANES] = {0};
    memcpy(t, p, (size_t)n * sizeof(float));
    return tt_vf_load(t);
}
TT_INLINE void tt_vf_store_partial(float *p, tt_vf v, int n) {
    float t[TT_VF_LANES];
    tt_vf_store(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
TT_INLINE tt_vf tt_vf_relu6(tt_vf v) { return tt_vf_min(tt_vf_max(v, tt_vf_zero()), tt_vf_set1(6.0f)); }

#endif
