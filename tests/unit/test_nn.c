/* Layers and the head: analytic gradients against central finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/conv.h"
#include "tabtrain/head.h"
#include "tabtrain/nn.h"
#include "tt_test.h"


/* ---- dense: objective Σ r ⊙ y, so dy = r ---------------------------------- */

typedef struct {
    int M, in, out;
    float *x, *w, *b, *r, *y, *work;
} dense_case;

static double dense_objective(void *ctx) {
    dense_case *c = ctx;
    tt_dense_forward(c->M, c->in, c->out, c->x, c->w, c->b, TT_ACT_NONE, c->y, c->work);
    double s = 0.0;
    for (int i = 0; i < c->M * c->out; i++) s += (double)c->r[i] * c->y[i];
    return s;
}

static void dense_gradients_match_finite_differences(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 2}, {7, 16, 9}, {32, 40, 5}, {2, 130, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        dense_case c = {.M = shapes[s][0], .in = shapes[s][1], .out = shapes[s][2]};
        size_t nx = (size_t)c.M * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.M * c.out;
        size_t nwork = tt_dense_work_size(c.M, c.in, c.out);
        c.x = tt_test_malloc(nx * 4), c.w = tt_test_malloc(nw * 4), c.b = tt_test_malloc(c.out * 4);
        c.r = tt_test_malloc(ny * 4), c.y = tt_test_malloc(ny * 4);
        c.work = tt_test_malloc(nwork * 4 + 4);
        float *dx = tt_test_malloc(nx * 4), *dw = tt_test_malloc(nw * 4),
              *db = tt_test_malloc(c.out * 4);
        float *num = tt_test_malloc((nx > nw ? nx : nw) * 4 + 64);
        tt_test_fill(c.x, nx, 1 + s, -1, 1);
        tt_test_fill(c.w, nw, 2 + s, -1, 1);
        tt_test_fill(c.b, c.out, 3 + s, -1, 1);
        tt_test_fill(c.r, ny, 4 + s, -1, 1);
        /* dw/db accumulate: start them at 1 and expect 1 + gradient. */
        for (size_t i = 0; i < nw; i++) dw[i] = 1.0f;
        for (int i = 0; i < c.out; i++) db[i] = 1.0f;
        tt_dense_forward(c.M, c.in, c.out, c.x, c.w, c.b, TT_ACT_NONE, c.y, c.work);
        tt_dense_backward(c.M, c.in, c.out, c.x, c.w, c.r, dx, dw, db, c.work);
        for (size_t i = 0; i < nw; i++) dw[i] -= 1.0f;
        for (int i = 0; i < c.out; i++) db[i] -= 1.0f;
        tt_test_numeric_grad(c.x, nx, 1e-2f, dense_objective, &c, num);
        tt_test_assert_close(dx, num, nx, 2e-3f, 1e-2f, "dense dx");
        tt_test_numeric_grad(c.w, nw, 1e-2f, dense_objective, &c, num);
        tt_test_assert_close(dw, num, nw, 2e-3f, 1e-2f, "dense dw");
        tt_test_numeric_grad(c.b, c.out, 1e-2f, dense_objective, &c, num);
        tt_test_assert_close(db, num, c.out, 2e-3f, 1e-2f, "dense db");
        free(c.x), free(c.w), free(c.b), free(c.r), free(c.y), free(c.work);
        free(dx), free(dw), free(db), free(num);
    }
}

/* ---- softmax cross-entropy ------------------------------------------------- */

typedef struct {
    int rows, C;
    float *z, *p, smoothing;
    int32_t *labels;
} xent_case;

static double xent_objective(void *ctx) {
    xent_case *c = ctx;
    return tt_softmax_xent(c->rows, c->C, c->z, c->labels, c->smoothing, c->p, NULL);
}

static void softmax_xent_gradient_matches_finite_differences(void **state) {
    (void)state;
    static const struct {
        int rows, C;
        float smoothing;
    } cases[] = {{1, 2, 0.0f}, {4, 5, 0.0f},   {4, 5, 0.1f},
                 {9, 3, 0.3f}, {16, 10, 0.0f}, {3, 37, 0.2f}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        xent_case c = {cases[k].rows, cases[k].C, NULL, NULL, cases[k].smoothing, NULL};
        size_t n = (size_t)c.rows * c.C;
        c.z = tt_test_malloc(n * 4), c.p = tt_test_malloc(n * 4);
        c.labels = tt_test_malloc(c.rows * 4);
        float *d = tt_test_malloc(n * 4), *num = tt_test_malloc(n * 4);
        tt_test_fill(c.z, n, 10 + k, -3, 3);
        tt_rng r;
        tt_rng_seed(&r, k, TT_STREAM_TEST);
        for (int i = 0; i < c.rows; i++) c.labels[i] = (int32_t)tt_rng_below(&r, (uint32_t)c.C);
        tt_softmax_xent(c.rows, c.C, c.z, c.labels, c.smoothing, c.p, d);
        for (int i = 0; i < c.rows; i++) {
            double s = 0.0;
            for (int j = 0; j < c.C; j++) s += c.p[i * c.C + j];
            assert_true(fabs(s - 1.0) < 1e-5);
        }
        tt_test_numeric_grad(c.z, n, 1e-3f, xent_objective, &c, num);
        tt_test_assert_close(d, num, n, 2e-4f, 1e-2f, "softmax xent dlogits");
        free(c.z), free(c.p), free(c.labels), free(d), free(num);
    }
}

static void softmax_xent_known_values(void **state) {
    (void)state;
    /* Equal logits: loss is log C whatever the targets. */
    float z[2 * 4] = {0}, p[8], d[8];
    int32_t y[2] = {0, 3};
    assert_float_equal(tt_softmax_xent(2, 4, z, y, 0.0f, p, d), logf(4.0f), 1e-6);
    assert_float_equal(tt_softmax_xent(2, 4, z, y, 0.5f, p, d), logf(4.0f), 1e-6);
    /* Gradient rows are (p - t)/rows: here (0.25 - 1)/2 at the label. */
    assert_float_equal(d[0], (0.25f - (0.5f + 0.125f)) / 2, 1e-7);
    assert_float_equal(d[1], (0.25f - 0.125f) / 2, 1e-7);
    /* A confident wrong answer costs its margin, not inf. */
    float big[2] = {0.0f, 1000.0f};
    int32_t y0 = 0;
    assert_float_equal(tt_softmax_xent(1, 2, big, &y0, 0.0f, p, NULL), 1000.0f, 1e-3);
    /* Smoothing ε with C = 2 and a confident right answer: ε/2 · margin. */
    int32_t y1 = 1;
    assert_float_equal(tt_softmax_xent(1, 2, big, &y1, 0.2f, p, NULL), 100.0f, 1e-3);
}

static void dropout_mask_and_apply(void **state) {
    (void)state;
    enum { N = 20000 };
    float *mask = tt_test_malloc(N * 4), *x = tt_test_malloc(N * 4), *y = tt_test_malloc(N * 4);
    tt_rng r;
    tt_rng_seed(&r, 5, TT_STREAM_DROPOUT);
    tt_dropout_mask(N, 0.25f, &r, mask);
    tt_test_fill(x, N, 6, -1, 1);
    tt_dropout_apply(N, mask, x, y);
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        if (mask[i] == 0.0f)
            zeros++, assert_true(y[i] == 0.0f);
        else
            assert_true(mask[i] == 1.0f / 0.75f && y[i] == x[i] * mask[i]);
    }
    assert_in_range(zeros, N / 4 - 300, N / 4 + 300);
    tt_rng_seed(&r, 5, TT_STREAM_DROPOUT);
    tt_dropout_mask(N, 0.0f, &r, mask);
    for (int i = 0; i < N; i++) assert_true(mask[i] == 1.0f);
    free(mask), free(x), free(y);
}

/* ---- the whole head -------------------------------------------------------- */

typedef struct {
    tt_head *h;
    int M;
    const float *x;
    const int32_t *labels;
    tt_rng drop; /* restarted for every evaluation: a fixed dropout mask */
} head_case;

static double head_objective(void *ctx) {
    head_case *c = ctx;
    tt_rng r = c->drop;
    float p[64 * 8];
    const float *logits = tt_head_forward(c->h, c->M, c->x, &r);
    return tt_softmax_xent(c->M, c->h->cfg.classes, logits, c->labels, 0.1f, p, NULL);
}

static void head_gradients_match_finite_differences(void **state) {
    (void)state;
    static const tt_head_config cfgs[] = {
        {.in = 6, .hidden = 5, .classes = 3, .dropout = 0.0f},
        {.in = 6, .hidden = 7, .classes = 4, .dropout = 0.4f},
        {.in = 9, .hidden = 0, .classes = 3, .dropout = 0.0f},
        {.in = 9, .hidden = 0, .classes = 5, .dropout = 0.3f},
    };
    for (size_t k = 0; k < sizeof cfgs / sizeof *cfgs; k++) {
        tt_head h;
        tt_rng init;
        tt_rng_seed(&init, 3 + k, TT_STREAM_INIT);
        enum { M = 6 };
        tt_assert_ok(tt_head_init(&h, &cfgs[k], M, &init));
        float x[M * 9], p[M * 8], d[M * 8];
        int32_t labels[M];
        tt_test_fill(x, (size_t)M * cfgs[k].in, 20 + k, 0, 2);
        for (int i = 0; i < M; i++) labels[i] = i % cfgs[k].classes;
        head_case c = {.h = &h, .M = M, .x = x, .labels = labels};
        tt_rng_seed(&c.drop, 11, TT_STREAM_DROPOUT);
        /* Biases get nonzero values so the check covers their use in forward. */
        tt_named_tensor *P;
        int np = tt_head_params(&h, &P);
        for (int i = 1; i < np; i += 2) tt_test_fill(P[i].data, P[i].shape[0], 30 + i, -0.5f, 0.5f);

        tt_head_zero_grad(&h);
        tt_rng r = c.drop;
        const float *logits = tt_head_forward(&h, M, x, &r);
        tt_softmax_xent(M, cfgs[k].classes, logits, labels, 0.1f, p, d);
        tt_head_backward(&h, M, x, d);
        for (int i = 0; i < np; i++) {
            size_t n = tt_named_tensor_numel(&P[i]);
            float *num = tt_test_malloc(n * 4);
            tt_test_numeric_grad(P[i].data, n, 1e-3f, head_objective, &c, num);
            /* A ReLU kink inside ±eps would spoil a coordinate; with these
             * seeds none is that close (the check fails loudly otherwise). */
            tt_test_assert_close(P[i].grad, num, n, 5e-4f, 2e-2f, P[i].name);
            free(num);
        }
        tt_head_free(&h);
    }
}

static void head_params_are_named_and_glorot_initialised(void **state) {
    (void)state;
    tt_head h;
    tt_rng init;
    tt_rng_seed(&init, 1, TT_STREAM_INIT);
    tt_head_config cfg = {.in = 1280, .hidden = 64, .classes = 5};
    tt_assert_ok(tt_head_init(&h, &cfg, 8, &init));
    tt_named_tensor *P;
    assert_int_equal(tt_head_params(&h, &P), 4);
    static const char *names[] = {"head.hidden.kernel", "head.hidden.bias", "head.logits.kernel",
                                  "head.logits.bias"};
    static const int64_t shapes[][2] = {{64, 1280}, {64, 0}, {5, 64}, {5, 0}};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(P[i].name, names[i]);
        assert_int_equal(P[i].ndim, i % 2 ? 1 : 2);
        assert_int_equal(P[i].shape[0], shapes[i][0]);
        if (P[i].ndim == 2) assert_int_equal(P[i].shape[1], shapes[i][1]);
        size_t n = tt_named_tensor_numel(&P[i]);
        double limit = i % 2 ? 0.0 : sqrt(6.0 / (double)(shapes[i][0] + shapes[i][1]));
        double maxabs = 0.0, mean = 0.0;
        for (size_t j = 0; j < n; j++) {
            maxabs = fmax(maxabs, fabs(P[i].data[j]));
            mean += P[i].data[j] / (double)n;
        }
        assert_true(maxabs <= limit);
        if (limit > 0) assert_true(maxabs > 0.95 * limit && fabs(mean) < 0.05 * limit);
    }
    tt_head_free(&h);
    cfg.hidden = 0;
    tt_assert_ok(tt_head_init(&h, &cfg, 8, &init));
    assert_int_equal(tt_head_params(&h, &P), 2);
    assert_string_equal(P[0].name, "head.logits.kernel");
    assert_int_equal(P[0].shape[1], 1280);
    tt_head_free(&h);
    cfg.classes = 1;
    assert_int_equal(tt_head_init(&h, &cfg, 8, &init), TT_ERR_INVALID_ARG);
    cfg.classes = 2, cfg.dropout = 1.0f;
    assert_int_equal(tt_head_init(&h, &cfg, 8, &init), TT_ERR_INVALID_ARG);
}

static void head_predict_matches_forward_in_any_chunking(void **state) {
    (void)state;
    tt_head h;
    tt_rng init;
    tt_rng_seed(&init, 2, TT_STREAM_INIT);
    tt_head_config cfg = {.in = 12, .hidden = 8, .classes = 3, .dropout = 0.5f};
    tt_assert_ok(tt_head_init(&h, &cfg, 4, &init)); /* 11 rows = 4 + 4 + 3 */
    float x[11 * 12], probs[11 * 3], want[3];
    tt_test_fill(x, sizeof x / 4, 9, 0, 1);
    tt_head_predict(&h, 11, x, probs);
    for (int i = 0; i < 11; i++) {
        /* Evaluation mode ignores dropout: one row alone gives the same answer. */
        tt_f32_softmax(1, 3, tt_head_forward(&h, 1, x + i * 12, NULL), want);
        tt_test_assert_close(probs + i * 3, want, 3, 1e-6f, 1e-5f, "predict row");
    }
    tt_head_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dense_gradients_match_finite_differences),
        cmocka_unit_test(softmax_xent_gradient_matches_finite_differences),
        cmocka_unit_test(softmax_xent_known_values),
        cmocka_unit_test(dropout_mask_and_apply),
        cmocka_unit_test(head_gradients_match_finite_differences),
        cmocka_unit_test(head_params_are_named_and_glorot_initialised),
        cmocka_unit_test(head_predict_matches_forward_in_any_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
