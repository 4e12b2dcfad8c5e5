/* tt_test.h — what every tabtrain unit test includes: cmocka, plus helpers
 * for seeded random data, tolerance checks that report where and by how much
 * two arrays differ, and paths to the shared material and the source tree. */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tabtrain/rng.h"
#include "tabtrain/status.h"

/* Setting TT_TEST_FILTER=PATTERN in the environment runs only the cases whose
 * names match PATTERN (cmocka's * and ? wildcards) in a test binary that uses
 * any helper below. */

/* Fill x[0..n) with uniform values in [lo, hi) from a seeded stream. */
void tt_test_fill(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Largest |a-b| / (atol + rtol*|b|) over n elements; <= 1 means "close".
 * On failure the caller's cmocka test fails with the index, both values and
 * `what` in the message. */
void tt_test_assert_close(const float *got, const float *want, size_t n, float atol, float rtol,
                          const char *what);

/* Checks a status and prints tt_last_error() when it is not TT_OK. */
#define tt_assert_ok(expr)                                                              \
    do {                                                                                \
        tt_status tt__st = (expr);                                                      \
        if (tt__st != TT_OK)                                                            \
            fail_msg("%s -> %s: %s", #expr, tt_status_name(tt__st), tt_last_error());    \
    } while (0)

/* $TT_SHARED_DIR/rel (the read-only ../shared folder), $TT_SOURCE_DIR/rel,
 * $TT_BINARY_DIR/rel; the returned buffer is static per call site kind. */
const char *tt_test_shared_path(const char *rel);
const char *tt_test_source_path(const char *rel);
const char *tt_test_binary_path(const char *rel);

/* Central differences: out[i] = (f(v+eps) - f(v-eps)) / 2eps for every v[i]
 * (v is restored). Objectives should sum in double so that float rounding of
 * O(1) values bounds the error by about 1e-7/eps. */
typedef double (*tt_test_objective)(void *ctx);
void tt_test_numeric_grad(float *v, size_t n, float eps, tt_test_objective f, void *ctx,
                          float *out);

/* Every tensor of tt_trainer_tensors() (parameters, optimizer state, best
 * weights) has the same name and the same bits in both trainers; `what`
 * names the case in the failure message. */
struct tt_trainer;
void tt_test_assert_same_tensors(struct tt_trainer *a, struct tt_trainer *b, const char *what);

/* Both safetensors files hold the same tensors (names, dtypes, sizes). rtol 0:
 * the same bytes. rtol > 0, for files written by other kernels (whose float
 * rounding differs): F32 tensors within rtol x the tensor's largest magnitude,
 * every other tensor still byte for byte. */
struct tt_st_file;
void tt_test_assert_same_st(const struct tt_st_file *a, const struct tt_st_file *b, double rtol);

/* A pool of `threads` threads kept for the whole test program (created on
 * first use). NULL for 1 thread, and in a build that has no threads (there
 * the thread-count tests compare the serial path with itself). */
struct tt_pool;
struct tt_pool *tt_test_pool(int threads);

/* malloc that fails the test instead of returning NULL. */
void *tt_test_malloc(size_t bytes);

#endif
