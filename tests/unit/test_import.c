/* End to end: `tabtrain import-npy` (run by the import_npy_cli ctest fixture,
 * cmake/import.cmake) converted the shared NPY set; check the result against
 * layers.tsv and the NPY files byte for byte, and its metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/fileio.h"
#include "tabtrain/npy.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

#define MODEL_DIR "models/mobilenet_v2_1.0_224/"

static tt_st_file *open_imported(void) {
    tt_st_file *f;
    const char *path = tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
    tt_status st = tt_st_open_file(&f, path);
    if (st) fail_msg("%s (produced by the import_npy_cli test; run the whole ctest suite): %s", path, tt_last_error());
    return f;
}

static void compare_with_npy(const tt_st_file *f, const char *tensor, const char *file) {
    const tt_st_tensor *t;
    tt_assert_ok(tt_st_get(f, tensor, TT_DTYPE_F32, &t));
    char path[4096];
    snprintf(path, sizeof path, "%s", tt_test_shared_path(MODEL_DIR));
    strncat(path, file, sizeof path - strlen(path) - 1);
    void *buf;
    tt_npy a;
    tt_assert_ok(tt_npy_read_file(path, &buf, &a));
    if (t->ndim != a.ndim) fail_msg("%s: %d dims, NPY has %d", tensor, t->ndim, a.ndim);
    for (int d = 0; d < a.ndim; d++) assert_int_equal(t->shape[d], a.shape[d]);
    assert_int_equal(t->nbytes, a.nbytes);
    if (memcmp(t->data, a.data, a.nbytes) != 0) fail_msg("%s differs from %s", tensor, file);
    free(buf);
}

static void every_layer_matches_its_npy(void **state) {
    (void)state;
    tt_st_file *f = open_imported();
    char *tsv;
    size_t len;
    tt_assert_ok(tt_file_read(tt_test_shared_path(MODEL_DIR "layers.tsv"), 1 << 20, (void **)&tsv, &len));
    size_t rows = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char layer[64], op[32], wfile[128], bfile[128], name[96];
        if (sscanf(line, "%63s %31s %127s %127s", layer, op, wfile, bfile) != 4) fail_msg("bad row: %s", line);
        snprintf(name, sizeof name, "%s.weight", layer);
        compare_with_npy(f, name, wfile);
        snprintf(name, sizeof name, "%s.bias", layer);
        compare_with_npy(f, name, bfile);
        rows++;
    }
    assert_int_equal(tt_st_count(f), 2 * rows);
    assert_int_equal(tt_st_count(f), 106);
    free(tsv);

    /* A few shapes spelled out, so a layout change cannot go unnoticed. */
    static const struct {
        const char *name;
        int64_t shape[4];
        int ndim;
    } shapes[] = {
        {"stem.weight", {32, 3, 3, 3}, 4},        {"stem.bias", {32}, 1},
        {"block0.depthwise.weight", {1, 3, 3, 32}, 4}, {"block1.expand.weight", {96, 1, 1, 16}, 4},
        {"head.weight", {1280, 1, 1, 320}, 4},    {"logits.weight", {1001, 1, 1, 1280}, 4},
        {"logits.bias", {1001}, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const tt_st_tensor *t = tt_st_find(f, shapes[i].name);
        if (!t) fail_msg("%s missing", shapes[i].name);
        assert_int_equal(t->ndim, shapes[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], shapes[i].shape[d]);
    }
    tt_st_close(f);
}

/* Counts the strings of a flat JSON array and returns the first one. */
static size_t json_array_strings(const char *s, char *first, size_t cap) {
    size_t n = 0;
    while (*s && *s != '[') s++;
    for (int in = 0; *s; s++) {
        if (in) {
            if (*s == '\\') s++;
            else if (*s == '"') in = 0;
            else if (n == 1 && strlen(first) + 1 < cap) strncat(first, s, 1);
        } else if (*s == '"') {
            in = 1;
            n++;
        }
    }
    return n;
}

static void metadata_describes_the_backbone(void **state) {
    (void)state;
    tt_st_file *f = open_imported();
    static const char *const want[][2] = {
        {"tabtrain.format_version", "1"}, {"tabtrain.kind", "backbone"}, {"tabtrain.architecture", "mobilenet_v2"},
        {"tabtrain.width", "1.0"},        {"tabtrain.input_size", "224"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *v = tt_st_metadata(f, want[i][0]);
        if (!v || strcmp(v, want[i][1])) fail_msg("%s = %s, want %s", want[i][0], v ? v : "(absent)", want[i][1]);
    }
    char first[64] = "";
    assert_int_equal(json_array_strings(tt_st_metadata(f, "tabtrain.labels"), first, sizeof first), 1001);
    assert_string_equal(first, "background");
    const char *pre = tt_st_metadata(f, "tabtrain.preprocess");
    assert_non_null(pre);
    assert_non_null(strstr(pre, "\"range\":[-1,1]"));
    assert_non_null(strstr(pre, "\"color\":\"RGB\""));
    assert_non_null(tt_st_metadata(f, "tabtrain.source"));
    assert_non_null(tt_st_metadata(f, "tabtrain.crc32.logits.weight"));
    tt_st_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_layer_matches_its_npy),
        cmocka_unit_test(metadata_describes_the_backbone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
