/* One application for both front ends: the same folder of pictures and the
 * same settings, trained once through `tabtrain train` (in process) and once
 * through the engine API as web/worker.js drives it (src/wasm/api.c, built
 * natively), end with bit-identical tensors (head, optimizer state, best
 * weights, the data order), the same validation split, the same checkpoint
 * metadata (settings, data id, classes, history but wall time); and the
 * epoch-1 checkpoint of either resumes in the other to that same end. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tabtrain/config.h"
#include "tabtrain/fileio.h"
#include "tabtrain/json.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"
#include "wasm/api.h"

#define EPOCHS "3"
/* Every setting whose default is not what this test runs is named (src/app/config.c). */
static const char *CONFIG = "{\"epochs\":" EPOCHS ",\"batch_size\":2,\"lr\":0.003,\"hidden\":4,\"dropout\":0.25,"
                            "\"val_fraction\":0.25,\"seed\":7,\"augment\":\"flip,brightness\",\"augment_views\":1,"
                            "\"label_smoothing\":0,\"patience\":0,\"unfreeze\":0}";

static const char *model_path(void) {
    const char *p = getenv("TT_MODEL");
    return p && *p ? p : tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
}

static void path_in(char *buf, size_t cap, const char *sub) {
    snprintf(buf, cap, "%s/%s", tt_test_binary_path("test-cli-engine"), sub);
}

/* An empty directory (files removed; one level). */
static void fresh_dir(const char *dir) {
    mkdir(tt_test_binary_path("test-cli-engine"), 0755);
    mkdir(dir, 0755);
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

/* `tabtrain train` over the fixture folder; extra args appended (NULL-terminated). */
static void cli_train(const char *ckpt_dir, const char *out, const char *extra) {
    char *argv[40] = {"train", "--data", (char *)tt_test_source_path("tests/fixtures/v0/data"), "--model",
                      (char *)model_path(), "--epochs", EPOCHS, "--batch-size", "2", "--lr", "0.003", "--hidden",
                      "4", "--dropout", "0.25", "--val-fraction", "0.25", "--seed", "7", "--augment",
                      "flip,brightness", "--augment-views", "1", "--label-smoothing", "0", "--patience", "0",
                      "--unfreeze", "0", "--cache-dir", "none", "--ckpt-dir", (char *)ckpt_dir, "--keep", "5",
                      "--out", (char *)out, "--json"};
    int argc = 37;
    if (extra) argv[argc++] = (char *)extra;
    fflush(stdout);
    int saved = dup(1);
    FILE *sink = fopen("/dev/null", "w");
    dup2(fileno(sink), 1);
    int rc = tt_cmd_train(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(sink);
    assert_int_equal(rc, TT_EXIT_OK);
}

/* A fresh engine under root with the fixture's classes and pictures, added as the CLI reads them. */
static int engine_with_pictures(const char *root, void *weights, size_t weights_len) {
    char sub[700];
    const char *subs[] = {"", "/dataset", "/features", "/ckpt", "/pictures"};
    for (int i = 0; i < 5; i++) {
        snprintf(sub, sizeof sub, "%s%s", root, subs[i]);
        fresh_dir(sub);
    }
    snprintf(sub, sizeof sub, "%s/project.json", root);
    unlink(sub);
    int h = tt_wasm_open(root);
    if (h <= 0) fail_msg("tt_wasm_open: %s", tt_wasm_last_error(0));
    if (tt_wasm_set_weights(h, weights, (int)weights_len)) fail_msg("tt_wasm_set_weights: %s", tt_wasm_last_error(h));
    assert_int_equal(tt_wasm_class_create(h, "blue"), 1);
    assert_int_equal(tt_wasm_class_create(h, "red"), 2);
    const char *names[2] = {"blue", "red"};
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 4; i++) {
            char rel[100];
            snprintf(rel, sizeof rel, "tests/fixtures/v0/data/%s/%s-%d.png", names[c], names[c], i);
            void *b;
            size_t len;
            tt_assert_ok(tt_file_read(tt_test_source_path(rel), TT_FILE_MAX, &b, &len));
            assert_true(tt_wasm_add_image(h, c + 1, b, (int)len, strrchr(rel, '/') + 1) > 0);
            free(b);
        }
    return h;
}

/* The newest checkpoint of a directory (its `latest`). */
static void latest(const char *dir, char *out, size_t cap) {
    char p[800], name[256] = "";
    snprintf(p, sizeof p, "%s/latest", dir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(name, sizeof name, f));
    fclose(f);
    name[strcspn(name, "\n")] = 0;
    snprintf(out, cap, "%s/%s", dir, name);
}

/* A copy of the newest checkpoint of the engine's checkpoint directory (root/ckpt) at dst. */
static void engine_ckpt(const char *root, const char *dst) {
    char dir[700], src[900];
    snprintf(dir, sizeof dir, "%s/ckpt", root);
    latest(dir, src, sizeof src);
    void *b;
    size_t len;
    tt_assert_ok(tt_file_read(src, TT_FILE_MAX, &b, &len));
    tt_chunk c = {b, len};
    tt_assert_ok(tt_file_write_atomic(dst, &c, 1));
    free(b);
}

/* The picture the engine asks for, as the worker gives it back: here the
 * original file (image id 1..8 = blue-0..3, red-0..3, the order they were
 * added in), which gives the features its training copy would. */
static void give(int h) {
    int id = tt_wasm_needed_image(h);
    assert_true(id >= 1 && id <= 8);
    char rel[100];
    const char *name = id <= 4 ? "blue" : "red";
    snprintf(rel, sizeof rel, "tests/fixtures/v0/data/%s/%s-%d.png", name, name, (id - 1) % 4);
    void *b;
    size_t len;
    tt_assert_ok(tt_file_read(tt_test_source_path(rel), TT_FILE_MAX, &b, &len));
    assert_int_equal(tt_wasm_give_image(h, id, b, (int)len), 0);
    free(b);
}

/* Runs the engine's run to its end, saving after epoch 1 (a copy to `e1`, if not
 * NULL) and at the end (a copy to `end`); pictures asked for are given back. */
static void engine_run(int h, const char *root, const char *e1, const char *end) {
    int rc, epoch = 0;
    while ((rc = tt_wasm_train_step(h, 1000)) != TT_WASM_STEP_FINISHED) {
        if (rc < 0) fail_msg("train_step: %s", tt_wasm_last_error(h));
        if (rc == TT_WASM_STEP_NEED_IMAGE) give(h);
        if (rc == TT_WASM_STEP_EPOCH && ++epoch == 1 && e1) {
            assert_int_equal(tt_wasm_save(h), 0);
            engine_ckpt(root, e1);
        }
    }
    if (tt_wasm_save(h)) fail_msg("save: %s", tt_wasm_last_error(h));
    engine_ckpt(root, end);
}

/* s without the wall-clock members ("seconds", "epoch_seconds" and their values). */
static char *without_seconds(const char *s) {
    char *out = malloc(strlen(s) + 1), *o = out;
    assert_non_null(out);
    while (*s) {
        const char *k = !strncmp(s, "\"seconds\":", 10) ? s + 10 : !strncmp(s, "\"epoch_seconds\":", 16) ? s + 16 : NULL;
        if (k) {
            s = k + strcspn(k, ",}");
            if (*s == ',') s++;
            continue;
        }
        *o++ = *s++;
    }
    *o = 0;
    return out;
}

static void assert_same_meta(const tt_st_file *a, const tt_st_file *b, const char *key) {
    const char *x = tt_st_metadata(a, key), *y = tt_st_metadata(b, key);
    assert_non_null(x);
    assert_non_null(y);
    char *sx = without_seconds(x), *sy = without_seconds(y);
    if (strcmp(sx, sy)) fail_msg("%s differs:\n%s\n%s", key, sx, sy);
    free(sx), free(sy);
}

static void data_id(const tt_st_file *f, char *out) {
    tt_json j;
    tt_assert_ok(tt_json_parse(&j, tt_st_metadata(f, "tabtrain.config")));
    assert_true(tt_json_text(&j, tt_json_key(&j, 0, "data_id"), out, 16));
    tt_json_free(&j);
}

/* Every tensor byte-identical, the same metadata but wall time, the same settings and pictures. */
static void assert_same_run(const char *a, const char *b) {
    tt_st_file *fa, *fb;
    tt_assert_ok(tt_st_open_file(&fa, a));
    tt_assert_ok(tt_st_open_file(&fb, b));
    tt_test_assert_same_st(fa, fb, 0);
    assert_non_null(tt_st_find(fa, "head.hidden.kernel"));
    assert_non_null(tt_st_find(fa, "state.perm"));
    const char *keys[] = {"tabtrain.classes", "tabtrain.head", "tabtrain.backbone", "tabtrain.preprocess",
                          "tabtrain.trainer", "tabtrain.history", "tabtrain.state"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) assert_same_meta(fa, fb, keys[i]);
    tt_config ca, cb;
    tt_assert_ok(tt_config_from_file(fa, &ca));
    tt_assert_ok(tt_config_from_file(fb, &cb));
    tt_assert_ok(tt_config_compare(&ca, &cb));
    assert_int_equal(ca.train.epochs, cb.train.epochs);
    char ia[16], ib[16];
    data_id(fa, ia), data_id(fb, ib);
    assert_string_equal(ia, ib);
    tt_st_close(fa);
    tt_st_close(fb);
}

static void test_same_model_both_ways(void **state) {
    void *weights;
    size_t wlen;
    tt_assert_ok(tt_file_read(model_path(), TT_FILE_MAX, &weights, &wlen));
    char cli_dir[700], cli_out[700], cli_end[900], cli_e1[900], root[700], e1[800], end[800];

    /* 1. The CLI's run, checkpointing every epoch. */
    path_in(cli_dir, sizeof cli_dir, "cli");
    path_in(cli_out, sizeof cli_out, "cli.safetensors");
    fresh_dir(cli_dir);
    cli_train(cli_dir, cli_out, NULL);
    latest(cli_dir, cli_end, sizeof cli_end);
    snprintf(cli_e1, sizeof cli_e1, "%s/ckpt-e0001-s000006.safetensors", cli_dir);
    assert_int_equal(access(cli_e1, R_OK), 0);

    /* 2. The engine's run of the same pictures and settings. */
    path_in(root, sizeof root, "engine");
    int h = engine_with_pictures(root, weights, wlen);
    assert_int_equal(tt_wasm_train_begin(h, CONFIG), 0);
    snprintf(e1, sizeof e1, "%s/e1.safetensors", root);
    snprintf(end, sizeof end, "%s/end.safetensors", root);
    engine_run(h, root, e1, end);
    const char *metrics = tt_wasm_metrics_json(h);
    assert_non_null(strstr(metrics, "\"val_counts\":[1,1]")); /* the split: one of each class held out */
    tt_wasm_destroy(h);
    assert_same_run(cli_end, end);

    /* 3. The engine continues the CLI's epoch-1 checkpoint. */
    path_in(root, sizeof root, "engine2");
    h = engine_with_pictures(root, weights, wlen);
    assert_int_equal(tt_wasm_load(h, cli_e1), TT_WASM_LOAD_RUN);
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"epoch\":1,"));
    snprintf(end, sizeof end, "%s/end.safetensors", root);
    engine_run(h, root, NULL, end);
    tt_wasm_destroy(h);
    assert_same_run(cli_end, end);

    /* 4. The CLI continues the engine's epoch-1 checkpoint. */
    char dir2[700], out2[700], p[900], end2[900];
    path_in(dir2, sizeof dir2, "cli2");
    path_in(out2, sizeof out2, "cli2.safetensors");
    fresh_dir(dir2);
    void *b;
    size_t len;
    tt_assert_ok(tt_file_read(e1, TT_FILE_MAX, &b, &len));
    snprintf(p, sizeof p, "%s/ckpt-e0001-s000006.safetensors", dir2);
    tt_chunk c = {b, len};
    tt_assert_ok(tt_file_write_atomic(p, &c, 1));
    free(b);
    snprintf(p, sizeof p, "%s/latest", dir2);
    tt_chunk l = {"ckpt-e0001-s000006.safetensors\n", 31};
    tt_assert_ok(tt_file_write_atomic(p, &l, 1));
    cli_train(dir2, out2, "--resume");
    latest(dir2, end2, sizeof end2);
    assert_same_run(cli_end, end2);

    /* 5. Other pictures (one left out) are refused by name, not resumed. */
    path_in(root, sizeof root, "engine3");
    h = engine_with_pictures(root, weights, wlen);
    assert_int_equal(tt_wasm_remove_image(h, 8), 0);
    void *extra;
    tt_assert_ok(tt_file_read(tt_test_source_path("tests/fixtures/v0/data/blue/blue-0.png"), TT_FILE_MAX, &extra, &len));
    assert_true(tt_wasm_add_image(h, 2, extra, (int)len, "blue-as-red.png") > 0);
    free(extra);
    assert_int_equal(tt_wasm_load(h, cli_e1), TT_WASM_LOAD_MODEL);
    tt_wasm_destroy(h);
    free(weights);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_model_both_ways)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
