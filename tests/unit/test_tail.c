/* The trainable backbone tail (`--unfreeze K`): gradients of every unfrozen
 * layer type against central finite differences through the whole loss, the
 * head's input gradient, an untrained tail reproducing the frozen features
 * (small random networks and the pretrained one), and bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnv2_synth.h"
#include "tabtrain/head.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/nn.h"
#include "tabtrain/rng.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/tail.h"
#include "tt_test.h"

enum { CLASSES = 5 };

typedef struct net {
    void *bytes;
    tt_st_file *f;
    tt_mnv2 *m;
} net;

static net synth_net(int size, int feat) {
    net n;
    size_t len;
    n.bytes = tt_test_mnv2_synth(8, feat, 0, NULL, NULL, &len);
    tt_assert_ok(tt_st_open_memory(&n.f, n.bytes, len));
    tt_assert_ok(tt_mnv2_init(&n.m, n.f, size));
    return n;
}

static void free_net(net *n) {
    tt_mnv2_free(n->m);
    tt_st_close(n->f);
    free(n->bytes);
}

/* The activations entering the tail for `batch` seeded images. */
static float *tail_inputs(net *n, int size, int batch, const tt_tail_info *ti, uint64_t seed) {
    size_t in_n = (size_t)size * size * 3;
    float *img = tt_test_malloc((size_t)batch * in_n * sizeof(float));
    float *x = tt_test_malloc((size_t)batch * ti->in_dim * sizeof(float));
    tt_test_fill(img, (size_t)batch * in_n, seed, -1.0f, 1.0f);
    tt_assert_ok(tt_mnv2_forward_until(n->m, batch, img, ti->first_block, x));
    free(img);
    return x;
}

/* ---- gradients ---- */

typedef struct problem {
    tt_tail *tail;
    tt_head *head;
    int M;
    const float *x;
    const int32_t *labels;
    tt_rng drop; /* the same mask for every evaluation */
    float *probs, *dlogits, *dfeat;
} problem;

static double loss_of(problem *p) {
    const float *feat = tt_tail_forward(p->tail, p->M, p->x);
    tt_rng r = p->drop;
    const float *logits = tt_head_forward(p->head, p->M, feat, &r);
    return tt_softmax_xent(p->M, CLASSES, logits, p->labels, 0.0f, p->probs, NULL);
}

static void backward(problem *p) {
    tt_tail_zero_grad(p->tail);
    tt_head_zero_grad(p->head);
    const float *feat = tt_tail_forward(p->tail, p->M, p->x);
    tt_rng r = p->drop;
    const float *logits = tt_head_forward(p->head, p->M, feat, &r);
    tt_softmax_xent(p->M, CLASSES, logits, p->labels, 0.0f, p->probs, p->dlogits);
    tt_head_backward_dx(p->head, p->M, feat, p->dlogits, p->dfeat);
    tt_tail_backward(p->tail, p->M, p->x, p->dfeat);
}

/* Central differences at a few coordinates of a tensor whose analytic
 * gradient is `g` (a copy): the largest-gradient coordinate and `samples`
 * seeded ones. The loss is only piecewise smooth (every ReLU6 has two kinks
 * and a deep random net has many units near one), so a difference is trusted
 * only where the loss looks smooth: the one-sided slopes agree and halving
 * the step does not change the central difference. Steps shrink until that
 * holds; a coordinate where it never does is counted in *kinked instead of
 * judged. The tolerance is relative to the tensor's largest gradient, which
 * must not be zero (every parameter influences the loss). Returns the worst
 * error ratio of the judged coordinates. */
static double check_tensor(problem *p, const char *name, float *w, const float *g, size_t n,
                           int samples, tt_rng *pick, int *judged, int *kinked) {
    double gmax = 0;
    size_t imax = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]), imax = i;
    if (!(gmax > 0)) fail_msg("%s: gradient is zero everywhere", name);
    double worst = 0;
    for (int s = 0; s <= samples; s++) {
        size_t i = s ? (size_t)tt_rng_below(pick, (uint32_t)n) : imax;
        float w0 = w[i];
        double l0 = loss_of(p), tol = 2e-2 * gmax + 2e-2 * fabs(g[i]), fd = NAN, prev = NAN;
        for (int k = 0; k < 7 && isnan(fd); k++) {
            float h = 4e-3f * fmaxf(fabsf(w0), 0.3f) / (float)(1 << k);
            w[i] = w0 + h;
            double lp = loss_of(p);
            w[i] = w0 - h;
            double lm = loss_of(p);
            w[i] = w0;
            double hp = (double)(w0 + h) - w0, hm = w0 - (double)(w0 - h);
            double c = (lp - lm) / (hp + hm);
            int smooth = fabs((lp - l0) / hp - (l0 - lm) / hm) <= tol / 2;
            if (smooth && fabs(c - prev) <= tol / 2) fd = c;
            prev = smooth ? c : NAN;
        }
        if (isnan(fd)) {
            ++*kinked;
            continue;
        }
        ++*judged;
        double err = fabs(fd - g[i]) / tol;
        if (err > 1)
            fail_msg("%s[%zu]: analytic %.6g, finite difference %.6g (largest |grad| %.3g)", name,
                     i, g[i], fd, gmax);
        worst = fmax(worst, err);
    }
    return worst;
}

enum { HAS_EXPAND = 1, HAS_BLOCK0 = 2, HAS_DW_S1 = 4, HAS_DW_S2 = 8, HAS_RESIDUAL = 16 };

static void tail_gradients_match_finite_differences(void **state) {
    (void)state;
    /* Sides chosen so every layer still has a spatial extent > 1 where it
     * matters (a 1×1 map trains only the depthwise centre tap). */
    static const struct { int size, K, batch, hidden; float dropout; } cases[] = {
        {32, 1, 3, 0, 0.0f},   /* block 16: no residual */
        {51, 3, 2, 8, 0.0f},   /* blocks 14-16: residuals, odd input side */
        {64, 4, 2, 0, 0.25f},  /* block 13: stride 2; dropout on the features */
        {32, 17, 2, 6, 0.0f},  /* everything; block 0 has no expansion */
    };
    int seen = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        net n = synth_net(cases[c].size, 12);
        problem p = {.M = cases[c].batch};
        tt_assert_ok(tt_tail_init(&p.tail, n.m, n.f, cases[c].K, cases[c].batch));
        tt_tail_info ti = tt_tail_get_info(p.tail);
        assert_int_equal(ti.first_block, TT_MNV2_BLOCKS - cases[c].K);
        for (int b = ti.first_block; b < TT_MNV2_BLOCKS; b++) {
            tt_mnv2_block_shape s;
            tt_assert_ok(tt_mnv2_block_shape_get(n.m, b, &s));
            seen |= (b ? HAS_EXPAND : HAS_BLOCK0) | (s.residual ? HAS_RESIDUAL : 0) |
                    (s.stride == 1 ? HAS_DW_S1 : HAS_DW_S2);
        }
        float *x = tail_inputs(&n, cases[c].size, p.M, &ti, 50 + c);
        int32_t labels[8];
        for (int i = 0; i < p.M; i++) labels[i] = (int32_t)((i * 3 + (int)c) % CLASSES);
        tt_head head;
        tt_rng init;
        tt_rng_seed(&init, 3 + c, TT_STREAM_INIT);
        tt_rng_seed(&p.drop, 4 + c, TT_STREAM_DROPOUT);
        tt_head_config hc = {ti.feature_dim, cases[c].hidden, CLASSES, cases[c].dropout};
        tt_assert_ok(tt_head_init(&head, &hc, p.M, &init));
        p.head = &head, p.x = x, p.labels = labels;
        p.probs = tt_test_malloc((size_t)p.M * CLASSES * sizeof(float));
        p.dlogits = tt_test_malloc((size_t)p.M * CLASSES * sizeof(float));
        p.dfeat = tt_test_malloc((size_t)p.M * ti.feature_dim * sizeof(float));
        backward(&p);

        tt_named_tensor *tp, *hp;
        int ntp = tt_tail_params(p.tail, &tp), nhp = tt_head_params(&head, &hp);
        assert_int_equal(ntp, 6 * cases[c].K + 2 - (cases[c].K == 17 ? 2 : 0));
        tt_rng pick;
        tt_rng_seed(&pick, 9 + c, TT_STREAM_TEST);
        double worst = 0;
        int judged = 0, kinked = 0;
        for (int k = 0; k < ntp + nhp; k++) {
            tt_named_tensor *t = k < ntp ? &tp[k] : &hp[k - ntp];
            size_t numel = tt_named_tensor_numel(t);
            float *g = tt_test_malloc(numel * sizeof(float));
            memcpy(g, t->grad, numel * sizeof(float));
            worst = fmax(worst,
                         check_tensor(&p, t->name, t->data, g, numel, 3, &pick, &judged, &kinked));
            free(g);
        }
        print_message("case %zu (K=%d): %d tensors, %d coordinates judged (worst error %.2f of "
                      "the tolerance), %d on a kink\n",
                      c, cases[c].K, ntp + nhp, judged, worst, kinked);
        if (kinked * 4 > judged + kinked)
            fail_msg("case %zu: %d of %d coordinates on a kink", c, kinked, judged + kinked);
        tt_head_free(&head);
        tt_tail_free(p.tail);
        free(x), free(p.probs), free(p.dlogits), free(p.dfeat);
        free_net(&n);
    }
    assert_int_equal(seen, HAS_EXPAND | HAS_BLOCK0 | HAS_DW_S1 | HAS_DW_S2 | HAS_RESIDUAL);
}

/* The gradient the head passes down to the features, for every head shape. */
static void head_input_gradient_matches_finite_differences(void **state) {
    (void)state;
    static const struct { int in, hidden; float dropout; } cases[] = {
        {7, 0, 0.0f}, {7, 0, 0.4f}, {9, 5, 0.0f}, {9, 5, 0.3f}};
    enum { M = 4 };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tt_head h;
        tt_rng init, drop;
        tt_rng_seed(&init, 20 + c, TT_STREAM_INIT);
        tt_rng_seed(&drop, 30 + c, TT_STREAM_DROPOUT);
        tt_head_config hc = {cases[c].in, cases[c].hidden, CLASSES, cases[c].dropout};
        tt_assert_ok(tt_head_init(&h, &hc, M, &init));
        float x[M * 9], dx[M * 9], probs[M * CLASSES], dl[M * CLASSES];
        int32_t y[M] = {0, 3, 1, 4};
        size_t n = (size_t)M * cases[c].in;
        tt_test_fill(x, n, 40 + c, 0.0f, 2.0f);
        tt_rng r = drop;
        tt_head_zero_grad(&h);
        const float *logits = tt_head_forward(&h, M, x, &r);
        tt_softmax_xent(M, CLASSES, logits, y, 0.0f, probs, dl);
        tt_head_backward_dx(&h, M, x, dl, dx);
        double gmax = 0;
        for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(dx[i]));
        assert_true(gmax > 0);
        for (size_t i = 0; i < n; i++) {
            float x0 = x[i], step = 1e-2f;
            double l[2];
            for (int s = 0; s < 2; s++) {
                x[i] = s ? x0 - step : x0 + step;
                r = drop;
                l[s] = tt_softmax_xent(M, CLASSES, tt_head_forward(&h, M, x, &r), y, 0.0f, probs,
                                       NULL);
            }
            x[i] = x0;
            double fd = (l[0] - l[1]) / (2.0 * step);
            if (fabs(fd - dx[i]) > 1e-2 * gmax + 1e-2 * fabs(dx[i]))
                fail_msg("case %zu: dx[%zu] = %.6g, finite difference %.6g", c, i, dx[i], fd);
        }
        tt_head_free(&h);
    }
}

/* ---- an untrained tail is the frozen network ---- */

/* For every K: forward_until + tail == the frozen features, bit for bit. */
static void check_tail_reproduces_features(net *n, int size, int batch, int max_batch,
                                           const char *what) {
    tt_mnv2_info info = tt_mnv2_get_info(n->m);
    size_t in_n = (size_t)size * size * 3, F = (size_t)info.feature_dim;
    float *img = tt_test_malloc((size_t)batch * in_n * sizeof(float));
    float *want = tt_test_malloc((size_t)batch * F * sizeof(float));
    float *got = tt_test_malloc((size_t)batch * F * sizeof(float));
    tt_test_fill(img, (size_t)batch * in_n, 77, -1.0f, 1.0f);
    tt_assert_ok(tt_mnv2_features(n->m, batch, img, want));
    for (int K = 1; K <= TT_MNV2_BLOCKS; K++) {
        tt_tail *t;
        tt_assert_ok(tt_tail_init(&t, n->m, n->f, K, max_batch));
        tt_tail_info ti = tt_tail_get_info(t);
        tt_mnv2_block_shape s;
        tt_assert_ok(tt_mnv2_block_shape_get(n->m, ti.first_block, &s));
        assert_int_equal(ti.in_dim, s.h_in * s.w_in * s.cin);
        assert_int_equal(ti.feature_dim, info.feature_dim);
        float *x = tt_test_malloc((size_t)batch * ti.in_dim * sizeof(float));
        tt_assert_ok(tt_mnv2_forward_until(n->m, batch, img, ti.first_block, x));
        memset(got, 0, (size_t)batch * F * sizeof(float));
        tt_tail_features(t, batch, x, got);
        for (size_t i = 0; i < (size_t)batch * F; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)))
                fail_msg("%s, K=%d: feature %zu is %.9g, the frozen network gives %.9g", what, K,
                         i, got[i], want[i]);
        free(x);
        tt_tail_free(t);
    }
    free(img), free(want), free(got);
}

static void untrained_tail_reproduces_frozen_features(void **state) {
    (void)state;
    /* batch 5 over max_batch 2: chunks, and a partial last one */
    net n = synth_net(45, 20);
    check_tail_reproduces_features(&n, 45, 5, 2, "random network at 45");
    free_net(&n);
}

static void pretrained_tail_reproduces_frozen_features(void **state) {
    (void)state;
    const char *path = getenv("TT_MODEL");
    if (!path || !*path) path = tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
    net n = {0};
    tt_status st = tt_st_open_file(&n.f, path);
    if (st) fail_msg("cannot open %s (%s); the import_npy_cli ctest fixture writes it", path,
                     tt_last_error());
    tt_assert_ok(tt_mnv2_init(&n.m, n.f, 224));
    check_tail_reproduces_features(&n, 224, 2, 2, "pretrained network");
    free_net(&n);
}

/* ---- refusals ---- */

static void bad_arguments_and_weights_are_refused(void **state) {
    (void)state;
    net n = synth_net(32, 12);
    tt_tail *t = (tt_tail *)&t;
    static const struct { int K, batch; } bad[] = {{0, 4}, {18, 4}, {-1, 4}, {2, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tt_tail_init(&t, n.m, n.f, bad[i].K, bad[i].batch), TT_ERR_INVALID_ARG);
        assert_null(t);
    }
    /* A weights file that does not match the loaded backbone. */
    static const struct {
        const char *skip, *wrong, *expect;
        tt_status st;
        int k1_loads; /* only block 15 is bad: a K=1 tail does not read it */
    } cases[] = {
        {"block15.expand.bias", NULL, "block15.expand.bias", TT_ERR_NOT_FOUND, 1},
        {NULL, "block16.project.weight", "block16.project.weight", TT_ERR_SHAPE, 0},
        {NULL, "block15.depthwise.bias", "block15.depthwise.bias", TT_ERR_SHAPE, 1},
        {NULL, "head.weight", "head.weight", TT_ERR_SHAPE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        void *bytes = tt_test_mnv2_synth(8, 12, 0, cases[i].skip, cases[i].wrong, &len);
        tt_st_file *f;
        tt_assert_ok(tt_st_open_memory(&f, bytes, len));
        tt_clear_error();
        assert_int_equal(tt_tail_init(&t, n.m, f, 2, 4), cases[i].st);
        assert_null(t);
        if (!strstr(tt_last_error(), cases[i].expect))
            fail_msg("case %zu: message \"%s\" does not name %s", i, tt_last_error(),
                     cases[i].expect);
        if (cases[i].k1_loads) {
            tt_assert_ok(tt_tail_init(&t, n.m, f, 1, 4));
            tt_tail_free(t);
        } else {
            assert_int_equal(tt_tail_init(&t, n.m, f, 1, 4), cases[i].st);
        }
        tt_st_close(f);
        free(bytes);
    }
    float x[1];
    assert_int_equal(tt_mnv2_forward_until(n.m, 1, x, TT_MNV2_BLOCKS, x), TT_ERR_INVALID_ARG);
    tt_mnv2_block_shape s;
    assert_int_equal(tt_mnv2_block_shape_get(n.m, -1, &s), TT_ERR_INVALID_ARG);
    free_net(&n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tail_gradients_match_finite_differences),
        cmocka_unit_test(head_input_gradient_matches_finite_differences),
        cmocka_unit_test(untrained_tail_reproduces_frozen_features),
        cmocka_unit_test(pretrained_tail_reproduces_frozen_features),
        cmocka_unit_test(bad_arguments_and_weights_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
