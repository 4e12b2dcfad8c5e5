/* `tabtrain classify` and `tabtrain embed`, called in-process as the CLI
 * calls them: the shared photos get the classes the shared README lists, and
 * embed of a 224x224 PNG equals a float64 reference computation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mnv2_ref.h"
#include "support/image_fixtures.h"
#include "tabtrain/fileio.h"
#include "tabtrain/npy.h"
#include "tt_test.h"

static const char *model_path(void) {
    const char *p = getenv("TT_MODEL");
    return p && *p ? p : tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
}

/* Runs a command with stdout sent to `out_path`; returns its exit code. */
static int run_captured(int (*cmd)(int, char **), int argc, char **argv, const char *out_path) {
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(out_path, "w");
    assert_non_null(f);
    dup2(fileno(f), 1);
    int rc = cmd(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    return rc;
}

static char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s", tt_test_binary_path(name));
    return p;
}

static void classify_shared_photos(void **state) {
    (void)state;
    static const struct { const char *file, *label; } photos[] = {
        {"cat.bmp", "Egyptian cat"}, {"parrot.jpg", "macaw"},     {"hot_dog.jpg", "hotdog"},
        {"bird.bmp", "chickadee"},   {"dragonfly.bmp", "dragonfly"},
    };
    enum { N = sizeof photos / sizeof photos[0] };
    char paths[N][512];
    char *argv[8 + N] = {"classify", "--model", (char *)model_path(), "--json", "--top", "1"};
    int argc = 6;
    for (int i = 0; i < N; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "images/%s", photos[i].file);
        snprintf(paths[i], sizeof paths[i], "%s", tt_test_shared_path(rel));
        argv[argc++] = paths[i];
    }
    const char *out = tmp_path("classify-out.jsonl");
    assert_int_equal(run_captured(tt_cmd_classify, argc, argv, out), TT_EXIT_OK);
    void *text;
    size_t len;
    tt_assert_ok(tt_file_read(out, 1 << 20, &text, &len));
    char *line = text;
    for (int i = 0; i < N; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_non_null(strstr(line, photos[i].file));
        const char *lab = strstr(line, "\"label\":\"");
        assert_non_null(lab);
        if (strncmp(lab + 9, photos[i].label, strlen(photos[i].label)))
            fail_msg("%s classified as %.60s, expected %s", photos[i].file, lab + 9, photos[i].label);
        line = nl + 1;
    }
    free(text);
}

static void classify_reports_bad_images_and_goes_on(void **state) {
    (void)state;
    const char *bad = tmp_path("not-an-image.jpg");
    const char *junk = "this is a text file, not a JPEG";
    tt_chunk c = {junk, strlen(junk)};
    tt_assert_ok(tt_file_write_atomic(bad, &c, 1));
    char good[512];
    snprintf(good, sizeof good, "%s", tt_test_shared_path("images/parrot.jpg"));
    char *argv[] = {"classify", "--model", (char *)model_path(), "--json", (char *)bad, good};
    const char *out = tmp_path("classify-bad.jsonl");
    assert_int_equal(run_captured(tt_cmd_classify, 6, argv, out), TT_EXIT_FAIL);
    void *text;
    size_t len;
    tt_assert_ok(tt_file_read(out, 1 << 20, &text, &len));
    assert_non_null(strstr(text, "macaw"));
    assert_null(strstr(text, "not-an-image"));
    free(text);
    /* embed refuses the whole batch, writes nothing. */
    const char *npy = tmp_path("embed-bad.npy");
    unlink(npy);
    char *eargv[] = {"embed", "--model", (char *)model_path(), "--out", (char *)npy, good,
                     (char *)bad};
    assert_int_equal(tt_cmd_embed(7, eargv), TT_EXIT_FAIL);
    assert_int_equal(access(npy, F_OK), -1);
}

static void embed_png_matches_float64_reference(void **state) {
    (void)state;
    /* A 224x224 photo (the shared test vector's input, which holds 0..255
     * values) as a PNG: 224x224 input is used without resampling, so the
     * reference sees exactly x/127.5 - 1 of the same bytes. */
    void *buf;
    tt_npy a;
    tt_assert_ok(tt_npy_read_file(
        tt_test_shared_path("models/mobilenet_v2_1.0_224/test_data_set/0/input_0.npy"), &buf, &a));
    enum { S = 224, F = 1280 };
    uint8_t *px = tt_test_malloc(S * S * 3);
    float *x = tt_test_malloc(S * S * 3 * sizeof(float));
    for (int i = 0; i < S * S * 3; i++) {
        float v = ((const float *)a.data)[i];
        px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        x[i] = px[i] / 127.5f - 1.0f;
    }
    free(buf);
    image_buf png = image_fx_stb("png", px, S, S, 3);
    const char *png_path = tmp_path("embed-in.png"), *npy = tmp_path("embed-out.npy");
    tt_chunk c = {png.data, png.len};
    tt_assert_ok(tt_file_write_atomic(png_path, &c, 1));
    image_buf_free(&png);
    char *argv[] = {"embed", "--model", (char *)model_path(), "--out", (char *)npy,
                    (char *)png_path, (char *)png_path};
    assert_int_equal(tt_cmd_embed(7, argv), TT_EXIT_OK);
    tt_npy e;
    tt_assert_ok(tt_npy_read_file(npy, &buf, &e));
    assert_int_equal(e.ndim, 2);
    assert_int_equal(e.shape[0], 2);
    assert_int_equal(e.shape[1], F);

    tt_st_file *f;
    tt_assert_ok(tt_st_open_file(&f, model_path()));
    double *ref = tt_test_malloc(F * sizeof(double));
    assert_int_equal(tt_mnv2_reference(f, S, x, ref, NULL), F);
    double peak = 0;
    for (int k = 0; k < F; k++) peak = fmax(peak, fabs(ref[k]));
    const float *got = e.data;
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < F; k++)
            if (fabs(got[r * F + k] - ref[k]) > 1e-4 * peak)
                fail_msg("row %d feature %d: %.7g vs float64 reference %.7g (peak %.4g)", r, k,
                         got[r * F + k], ref[k], peak);
    tt_st_close(f);
    free(ref), free(buf), free(px), free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_shared_photos),
        cmocka_unit_test(classify_reports_bad_images_and_goes_on),
        cmocka_unit_test(embed_png_matches_float64_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
