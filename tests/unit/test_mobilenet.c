/* MobileNetV2 backbone: a small random network against the float64
 * reference, the pretrained network against the shared test vectors and the
 * reference, and weights that do not fit the architecture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnv2_ref.h"
#include "mnv2_synth.h"
#include "tabtrain/conv.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/npy.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

/* Features and logits of the optimized model vs the float64 reference, for
 * every image of a batch; tolerance relative to the largest feature. */
static void check_against_reference(const tt_st_file *f, int size, int batch, float rel_tol) {
    tt_mnv2 *m;
    tt_assert_ok(tt_mnv2_init(&m, f, size));
    tt_mnv2_info info = tt_mnv2_get_info(m);
    size_t in_n = (size_t)size * size * 3;
    float *in = tt_test_malloc((size_t)batch * in_n * sizeof(float));
    float *feat = tt_test_malloc((size_t)batch * info.feature_dim * sizeof(float));
    float *logits = tt_test_malloc((size_t)batch * (info.num_classes + 1) * sizeof(float));
    double *rf = tt_test_malloc((size_t)info.feature_dim * sizeof(double));
    double *rl = tt_test_malloc((size_t)(info.num_classes + 1) * sizeof(double));
    tt_test_fill(in, (size_t)batch * in_n, 77, -1.0f, 1.0f);
    tt_assert_ok(tt_mnv2_features(m, batch, in, feat));
    if (info.num_classes) tt_assert_ok(tt_mnv2_logits(m, batch, feat, logits));
    for (int b = 0; b < batch; b++) {
        int fd = tt_mnv2_reference(f, size, in + b * in_n, rf, info.num_classes ? rl : NULL);
        assert_int_equal(fd, info.feature_dim);
        double peak = 0;
        for (int k = 0; k < fd; k++) peak = fmax(peak, fabs(rf[k]));
        assert_true(peak > 0);
        for (int k = 0; k < fd; k++) {
            double d = fabs(feat[(size_t)b * fd + k] - rf[k]);
            if (d > rel_tol * peak)
                fail_msg("image %d feature %d: got %.7g, reference %.7g (|diff| %.3g > %.3g)", b, k,
                         feat[(size_t)b * fd + k], rf[k], d, rel_tol * peak);
        }
        for (int k = 0; k < info.num_classes; k++) {
            double d = fabs(logits[(size_t)b * info.num_classes + k] - rl[k]);
            if (d > rel_tol * 10 * (1 + fabs(rl[k])))
                fail_msg("image %d logit %d: got %.7g, reference %.7g", b, k,
                         logits[(size_t)b * info.num_classes + k], rl[k]);
        }
    }
    free(in), free(feat), free(logits), free(rf), free(rl);
    tt_mnv2_free(m);
}

static void synthetic_network_matches_reference(void **state) {
    (void)state;
    /* Odd input sides exercise SAME padding's asymmetric split at every
     * stride-2 layer; batch 3 checks that images do not leak into each other. */
    static const struct { int size, c0, feat, classes, batch; } cases[] = {
        {32, 8, 64, 10, 1}, {45, 8, 40, 0, 3}, {64, 5, 33, 7, 2}, {97, 3, 17, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        void *bytes = tt_test_mnv2_synth(cases[i].c0, cases[i].feat, cases[i].classes, NULL, NULL, &len);
        tt_st_file *f;
        tt_assert_ok(tt_st_open_memory(&f, bytes, len));
        check_against_reference(f, cases[i].size, cases[i].batch, 1e-4f);
        tt_st_close(f);
        free(bytes);
    }
}

static void weights_that_do_not_fit_are_refused(void **state) {
    (void)state;
    static const struct { const char *skip, *wrong, *expect; tt_status st; } cases[] = {
        {"block7.depthwise.weight", NULL, "block7.depthwise.weight", TT_ERR_NOT_FOUND},
        {"head.bias", NULL, "head.bias", TT_ERR_NOT_FOUND},
        {NULL, "block3.project.weight", "block3.project.weight", TT_ERR_SHAPE},
        {NULL, "block9.depthwise.bias", "block9.depthwise.bias", TT_ERR_SHAPE},
        {NULL, "stem.weight", "stem.weight", TT_ERR_SHAPE},
        {NULL, "logits.weight", "logits.weight", TT_ERR_SHAPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        void *bytes = tt_test_mnv2_synth(8, 32, 5, cases[i].skip, cases[i].wrong, &len);
        tt_st_file *f;
        tt_mnv2 *m = (tt_mnv2 *)&m;
        tt_assert_ok(tt_st_open_memory(&f, bytes, len));
        tt_clear_error();
        assert_int_equal(tt_mnv2_init(&m, f, 64), cases[i].st);
        assert_null(m);
        if (!strstr(tt_last_error(), cases[i].expect))
            fail_msg("case %zu: message \"%s\" does not name %s", i, tt_last_error(), cases[i].expect);
        tt_st_close(f);
        free(bytes);
    }
    /* Logits are optional: a backbone without top loads and refuses logits. */
    size_t len;
    void *bytes = tt_test_mnv2_synth(8, 32, 0, NULL, NULL, &len);
    tt_st_file *f;
    tt_mnv2 *m;
    tt_assert_ok(tt_st_open_memory(&f, bytes, len));
    tt_assert_ok(tt_mnv2_init(&m, f, 64));
    float feat[32], logits[4];
    assert_int_equal(tt_mnv2_logits(m, 1, feat, logits), TT_ERR_UNSUPPORTED);
    tt_mnv2_free(m);
    assert_int_equal(tt_mnv2_init(&m, f, 7), TT_ERR_INVALID_ARG);
    tt_st_close(f);
    free(bytes);
}

/* ---- the pretrained network ---- */

static tt_st_file *pretrained(void) {
    const char *path = getenv("TT_MODEL");
    if (!path || !*path) path = tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
    tt_st_file *f = NULL;
    tt_status st = tt_st_open_file(&f, path);
    if (st) fail_msg("cannot open %s (%s: %s); the import_npy_cli ctest fixture writes it", path,
                     tt_status_name(st), tt_last_error());
    return f;
}

static void pretrained_matches_shared_test_vectors(void **state) {
    (void)state;
    tt_st_file *f = pretrained();
    tt_mnv2 *m;
    tt_assert_ok(tt_mnv2_init(&m, f, 224));
    tt_mnv2_info info = tt_mnv2_get_info(m);
    assert_int_equal(info.feature_dim, 1280);
    assert_int_equal(info.num_classes, 1001);
    float feat[1280], probs[1001];
    for (int t = 0; t < 3; t++) {
        char rel[128];
        void *ib, *ob;
        tt_npy in, out;
        snprintf(rel, sizeof rel, "models/mobilenet_v2_1.0_224/test_data_set/%d/input_0.npy", t);
        tt_assert_ok(tt_npy_read_file(tt_test_shared_path(rel), &ib, &in));
        snprintf(rel, sizeof rel, "models/mobilenet_v2_1.0_224/test_data_set/%d/output_0.npy", t);
        tt_assert_ok(tt_npy_read_file(tt_test_shared_path(rel), &ob, &out));
        assert_int_equal(in.numel, 224 * 224 * 3);
        assert_int_equal(out.numel, 1001);
        tt_assert_ok(tt_mnv2_features(m, 1, in.data, feat));
        tt_assert_ok(tt_mnv2_logits(m, 1, feat, probs));
        tt_f32_softmax(1, 1001, probs, probs);
        /* The shared README: a correct forward pass matches within ~3e-3. */
        tt_test_assert_close(probs, out.data, 1001, 3e-3f, 0.0f, rel);
        free(ib);
        free(ob);
    }
    tt_mnv2_free(m);
    tt_st_close(f);
}

static void pretrained_matches_float64_reference(void **state) {
    (void)state;
    tt_st_file *f = pretrained();
    /* The bound for `embed`: within 1e-4 of the largest feature. */
    check_against_reference(f, 224, 1, 1e-4f);
    tt_st_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synthetic_network_matches_reference),
        cmocka_unit_test(weights_that_do_not_fit_are_refused),
        cmocka_unit_test(pretrained_matches_shared_test_vectors),
        cmocka_unit_test(pretrained_matches_float64_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
