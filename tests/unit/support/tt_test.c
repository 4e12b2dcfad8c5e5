#include "tt_test.h"

#include <string.h>

#include "tabtrain/safetensors.h"
#include "tabtrain/threadpool.h"
#include "tabtrain/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* TT_TEST_FILTER=PATTERN runs only the cases whose names match (cmocka's * and
 * ? wildcards): scripts/mutants runs just the cases a planted bug concerns. */
__attribute__((constructor)) static void tt_test_filter_from_env(void) {
    const char *p = getenv("TT_TEST_FILTER");
    if (p && *p) cmocka_set_test_filter(p);
}

void tt_test_fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    tt_rng r;
    tt_rng_seed(&r, seed, TT_STREAM_TEST);
    for (size_t i = 0; i < n; i++) x[i] = tt_rng_range(&r, lo, hi);
}

void tt_test_assert_close(const float *got, const float *want, size_t n, float atol, float rtol,
                          const char *what) {
    for (size_t i = 0; i < n; i++) {
        float g = got[i], w = want[i];
        float tol = atol + rtol * fabsf(w);
        if (!(fabsf(g - w) <= tol))  /* written so that NaN fails */
            fail_msg("%s: element %zu of %zu: got %.9g, want %.9g (|diff| %.3g > tol %.3g)", what, i,
                     n, g, w, fabsf(g - w), tol);
    }
}

static const char *tt_env_path(const char *var, const char *fallback, const char *rel, char *buf,
                               size_t cap) {
    const char *base = getenv(var);
    if (!base || !*base) base = fallback;
    snprintf(buf, cap, "%s/%s", base, rel);
    return buf;
}

const char *tt_test_shared_path(const char *rel) {
    static char buf[4096];
    return tt_env_path("TT_SHARED_DIR", "../shared", rel, buf, sizeof buf);
}

const char *tt_test_source_path(const char *rel) {
    static char buf[4096];
    return tt_env_path("TT_SOURCE_DIR", ".", rel, buf, sizeof buf);
}

const char *tt_test_binary_path(const char *rel) {
    static char buf[4096];
    return tt_env_path("TT_BINARY_DIR", ".", rel, buf, sizeof buf);
}

struct tt_pool *tt_test_pool(int threads) {
    static tt_pool *pools[TT_POOL_MAX_THREADS + 1];
    if (threads < 2 || threads > TT_POOL_MAX_THREADS || !tt_pool_threads_supported()) return NULL;
    if (!pools[threads]) tt_assert_ok(tt_pool_init(&pools[threads], threads));
    return pools[threads];
}

void *tt_test_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) fail_msg("out of memory allocating %zu bytes", bytes);
    return p;
}

void tt_test_numeric_grad(float *v, size_t n, float eps, tt_test_objective f, void *ctx,
                          float *out) {
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + eps;
        double fp = f(ctx);
        v[i] = keep - eps;
        double fm = f(ctx);
        v[i] = keep;
        out[i] = (float)((fp - fm) / (2.0 * eps));
    }
}

void tt_test_assert_same_tensors(tt_trainer *a, tt_trainer *b, const char *what) {
    const tt_named_tensor *ta, *tb;
    int n = tt_trainer_tensors(a, &ta);
    assert_int_equal(tt_trainer_tensors(b, &tb), n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(ta[i].name, tb[i].name);
        if (memcmp(ta[i].data, tb[i].data, tt_named_tensor_numel(&ta[i]) * sizeof(float)))
            fail_msg("%s: tensor %s differs", what, ta[i].name);
    }
}

void tt_test_assert_same_st(const tt_st_file *a, const tt_st_file *b, double rtol) {
    size_t n = tt_st_count(a);
    assert_int_equal(n, tt_st_count(b));
    for (size_t i = 0; i < n; i++) {
        const tt_st_tensor *x = tt_st_tensor_at(a, i), *y = tt_st_find(b, x->name);
        if (!y) fail_msg("tensor %s is missing from the second file", x->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->nbytes, y->nbytes);
        if (!memcmp(x->data, y->data, x->nbytes)) continue;
        if (rtol <= 0 || x->dtype != TT_DTYPE_F32) fail_msg("tensor %s differs", x->name);
        const float *u = x->data, *v = y->data;
        size_t m = x->nbytes / sizeof(float);
        double scale = 0, diff = 0;
        for (size_t k = 0; k < m; k++) {
            scale = fmax(scale, fabs(u[k]));
            diff = fmax(diff, isfinite(v[k]) ? fabs((double)u[k] - v[k]) : INFINITY);
        }
        if (diff > rtol * scale) fail_msg("tensor %s differs by %g (scale %g, rtol %g)", x->name, diff, scale, rtol);
    }
}
