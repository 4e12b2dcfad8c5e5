/* The browser engine's C API (src/wasm/api.c) driven as the worker drives it, with
 * the real MobileNetV2 weights and a root directory standing in for the IDBFS
 * mount: classes and records survive a new handle, bad input is a status with a
 * reason, a checkpoint taken mid-epoch resumes bit-identically, a changed dataset
 * or a foreign model loads for prediction only, and the checkpoints follow the
 * checkpoint policy: rotation, best, latest, and after a damaged newest file the
 * one before it. Runs natively, under ASan and in wasm. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/simd.h"
#include "support/image_fixtures.h"
#include "tabtrain/config.h"
#include "tabtrain/fileio.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/sha256.h"
#include "tabtrain/threadpool.h"
#include "tt_test.h"
#include "wasm/api.h"

#define PER_CLASS 4
/* make_dataset creates these first: red is class 1, blue class 2. */
static const char *CLASSES[2] = {"red", "blue"};
static const char *CONFIG = "{\"epochs\":4,\"batch_size\":2,\"learning_rate\":0.003,\"hidden_units\":16,"
                            "\"dropout\":0.25,\"val_fraction\":0.25,\"seed\":7}";

/* The config as given, and every setting it does not name at the value these tests
 * were written for (before the recommended settings became the defaults of every front
 * end, src/app/config.c): a change of the defaults does not change these runs. A config
 * that is not a JSON object goes as it is (the tests of refusals). */
static const char *plain(const char *json) {
    static const char *pinned[][2] = {{"epochs", "10"},   {"hidden", "0"},   {"dropout", "0"},   {"label_smoothing", "0"},
                                      {"patience", "0"}, {"augment", "\"\""}, {"unfreeze", "0"}};
    static char bufs[4][2048];
    static int next;
    tt_json j;
    if (tt_json_parse(&j, json)) return json;
    int n = tt_json_members(&j, 0);
    const char *end = strrchr(json, '}');
    if (n < 0 || !end) {
        tt_json_free(&j);
        return json;
    }
    char *out = bufs[next++ % 4];
    int len = snprintf(out, sizeof bufs[0], "%.*s", (int)(end - json), json);
    for (size_t p = 0; p < sizeof pinned / sizeof *pinned; p++) {
        int named = 0;
        for (int m = 0; m < n && !named; m++) {
            char key[64];
            if (tt_json_text(&j, tt_json_member(&j, 0, m), key, sizeof key))
                named = tt_config_find(key) == tt_config_find(pinned[p][0]);
        }
        if (!named) len += snprintf(out + len, sizeof bufs[0] - (size_t)len, "%s\"%s\":%s", n || p ? "," : "",
                                    pinned[p][0], pinned[p][1]);
    }
    snprintf(out + len, sizeof bufs[0] - (size_t)len, "}");
    tt_json_free(&j);
    return out;
}
static int train_begin(int h, const char *json) { return tt_wasm_train_begin(h, plain(json)); }

static void *g_weights;
static size_t g_weights_len;
static char g_root[512];

/* A 48x40 PNG: noise around a class colour (red for 0, blue for 1). */
static image_buf picture(int cls, int i) {
    uint8_t px[48 * 40 * 3];
    image_fx_noise(px, sizeof px, 100 * (uint64_t)cls + (uint64_t)i);
    for (size_t k = 0; k < sizeof px; k++) {
        int want = (int)(k % 3) == (cls ? 2 : 0);
        px[k] = (uint8_t)(want ? 160 + px[k] % 96 : px[k] % 64);
    }
    return image_fx_stb("png", px, 48, 40, 3);
}

/* Removes the files of a directory and makes sure it exists. */
static void clear_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    mkdir(dir, 0755);
}

/* The worker's side of the pictures (web/pictures.js), played by files: the
 * training copy each added picture came with (or the original, when there is
 * none) is kept as <root>/pictures/<id>, and given back whenever the engine
 * asks for it. */
static const char *g_handle_root[16];

static void picture_path(int h, int id, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/pictures/%d", g_handle_root[h], id);
}

static int add_bytes(int h, int class_id, const void *bytes, size_t len, const char *name) {
    int id = tt_wasm_add_image(h, class_id, bytes, (int)len, name);
    if (id <= 0) return id;
    char path[700];
    int n = 0;
    const uint8_t *copy = tt_wasm_part(h, 0, 0, &n);
    /* no copy when the original is no bigger: the worker keeps and gives that */
    tt_chunk c = {copy ? copy : bytes, copy ? (size_t)n : len};
    picture_path(h, id, path, sizeof path);
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
    return id;
}

/* tt_wasm_open, with root remembered for the pictures the test keeps. */
static int open_root(const char *root) {
    int h = tt_wasm_open(root);
    if (h > 0 && h < 16) g_handle_root[h] = root;
    return h;
}

/* An engine on the project under root, with the weights. */
static int open_at(const char *root) {
    int h = open_root(root);
    if (h <= 0) fail_msg("tt_wasm_open: %s", tt_wasm_last_error(0));
    if (tt_wasm_set_weights(h, g_weights, (int)g_weights_len)) fail_msg("tt_wasm_set_weights: %s", tt_wasm_last_error(h));
    return h;
}

static int open_engine(void) { return open_at(g_root); }

/* Leaves only one class of that name (every picture deleted); its id. */
static int only_class(int h, const char *name) {
    const char *js;
    while ((js = tt_wasm_dataset_json(h)) && strstr(js, "{\"id\":")) {
        int id = atoi(strstr(js, "{\"id\":") + 6);
        if (tt_wasm_class_delete(h, id)) fail_msg("delete class %d: %s", id, tt_wasm_last_error(h));
        if (strstr(js, "\"classes\":[]")) break;
    }
    int id = tt_wasm_class_create(h, name);
    if (id <= 0) fail_msg("create %s: %s", name, tt_wasm_last_error(h));
    return id;
}

/* The newest checkpoint of root/ckpt, as its `latest` names it. */
static void latest_of(const char *root, char *out, size_t cap) {
    char p[700], name[256] = "";
    snprintf(p, sizeof p, "%s/ckpt/latest", root);
    FILE *f = fopen(p, "r");
    if (!f) fail_msg("no %s", p);
    if (!fgets(name, sizeof name, f)) name[0] = 0;
    fclose(f);
    name[strcspn(name, "\n")] = 0;
    snprintf(out, cap, "%s/ckpt/%s", root, name);
}

/* A copy of root/ckpt's newest checkpoint at dst (rotation may delete the original later). */
static void copy_latest(const char *root, const char *dst) {
    char src[700];
    latest_of(root, src, sizeof src);
    void *b;
    size_t n;
    tt_assert_ok(tt_file_read(src, TT_FILE_MAX, &b, &n));
    tt_chunk c = {b, n};
    tt_assert_ok(tt_file_write_atomic(dst, &c, 1));
    free(b);
}

/* A fresh project under root: every file of an earlier one removed. */
static void fresh_root(const char *root) {
    char dir[600];
    mkdir(root, 0755);
    const char *subs[] = {"dataset", "features", "ckpt", "pictures"};
    for (int i = 0; i < 4; i++) {
        snprintf(dir, sizeof dir, "%s/%s", root, subs[i]);
        clear_dir(dir);
    }
    snprintf(dir, sizeof dir, "%s/project.json", root);
    unlink(dir);
}

static int add(int h, int class_id, const image_buf *b, const char *name) {
    return add_bytes(h, class_id, b->data, b->len, name);
}

/* Gives the engine the picture it asks for, as the worker does. */
static void give(int h) {
    int id = tt_wasm_needed_image(h);
    char path[700];
    void *bytes;
    size_t len;
    if (id <= 0) fail_msg("the engine needs no picture (%d)", id);
    picture_path(h, id, path, sizeof path);
    tt_assert_ok(tt_file_read(path, TT_FILE_MAX, &bytes, &len));
    assert_int_equal(tt_wasm_give_image(h, id, bytes, (int)len), 0);
    free(bytes);
}

/* tt_wasm_train_step with every picture it needs given. */
static int step(int h, int budget_ms) {
    int rc;
    while ((rc = tt_wasm_train_step(h, budget_ms)) == TT_WASM_STEP_NEED_IMAGE) give(h);
    return rc;
}

/* The dataset every test starts from: PER_CLASS pictures of each class under g_root. */
static int make_project(const char *first) {
    snprintf(g_root, sizeof g_root, "%s", tt_test_binary_path("test-wasm-api"));
    fresh_root(g_root);
    int h = open_root(g_root), base = first ? 2 : 1;
    if (h <= 0 || tt_wasm_set_weights(h, g_weights, (int)g_weights_len) || (first && tt_wasm_class_create(h, first) != 1) ||
        tt_wasm_class_create(h, CLASSES[0]) != base || tt_wasm_class_create(h, CLASSES[1]) != base + 1)
        return -1;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < PER_CLASS; i++) {
            image_buf b = picture(c, i);
            char name[32];
            snprintf(name, sizeof name, "%s-%d.png", c ? "blue" : "red", i);
            int id = add(h, base + c, &b, name);
            image_buf_free(&b);
            if (id <= 0) {
                fprintf(stderr, "add %s: %s\n", name, tt_wasm_last_error(h));
                return -1;
            }
        }
    tt_wasm_destroy(h);
    return 0;
}

static int make_dataset(void) { return make_project(NULL); }

static int setup(void **state) {
    const char *path = getenv("TT_MODEL");
    if (!path || !*path) path = tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
    tt_status st = tt_file_read(path, TT_FILE_MAX, &g_weights, &g_weights_len);
    if (st) {
        fprintf(stderr, "cannot read %s (%s); the import_npy_cli ctest fixture writes it\n", path, tt_last_error());
        return -1;
    }
    return make_dataset();
}

static int teardown(void **state) {
    free(g_weights);
    return 0;
}

static void test_create_refuses_bad_weights(void **state) {
    uint8_t junk[64] = {1, 2, 3};
    int h = tt_wasm_open(g_root);
    assert_true(h > 0);
    assert_true(tt_wasm_set_weights(h, junk, sizeof junk) < 0);
    assert_true(strlen(tt_wasm_last_error(h)) > 0);
    tt_wasm_destroy(h);
    assert_int_equal(tt_wasm_open(NULL), 0);
    assert_true(strlen(tt_wasm_last_error(0)) > 0);
    assert_int_equal(tt_wasm_abi_version(), 6);
}

/* FIPS 180-2 vectors, and the weights file's hash as the worker checks it. */
static void test_sha256_hex(void **state) {
    (void)state;
    assert_string_equal(tt_wasm_sha256_hex((const uint8_t *)"abc", 3),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(tt_wasm_sha256_hex(NULL, 0),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_null(tt_wasm_sha256_hex(NULL, 5));
    assert_null(tt_wasm_sha256_hex((const uint8_t *)"abc", -1));
    uint8_t d[TT_SHA256_SIZE];
    char hex[TT_SHA256_HEX];
    tt_sha256(g_weights, g_weights_len, d);
    tt_sha256_hex(d, hex);
    assert_string_equal(tt_wasm_sha256_hex(g_weights, (int)g_weights_len), hex);
}

/* The records written by setup come back in a new handle, in id order. */
static void test_dataset_persists(void **state) {
    int h = open_engine();
    const char *js = tt_wasm_dataset_json(h);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"classes\":[{\"id\":1,\"name\":\"red\",\"count\":4},{\"id\":2,\"name\":\"blue\",\"count\":4}]"));
    assert_non_null(strstr(js, "{\"id\":1,\"class\":1,\"name\":\"red-0.png\"}"));
    assert_non_null(strstr(js, "{\"id\":8,\"class\":2,\"name\":\"blue-3.png\"}"));
    /* The same picture twice in one class is refused; in another class it is welcome. */
    image_buf b = picture(0, 1);
    assert_true(add(h, 1, &b, "again.png") < 0);
    assert_non_null(strstr(tt_wasm_last_error(h), "red-1.png"));
    int id = add(h, 2, &b, "red-in-blue.png");
    assert_true(id > 0);
    assert_int_equal(tt_wasm_remove_image(h, id), 0);
    image_buf_free(&b);
    tt_wasm_destroy(h);
}

static void test_bad_files_are_statuses(void **state) {
    int h = open_engine();
    image_buf good = picture(0, 99);
    image_buf half = {good.data, good.len / 2, 0};
    const struct {
        const char *name;
        const uint8_t *bytes;
        int len, class_id;
        const char *reason;
    } cases[] = {
        {"notes.txt", (const uint8_t *)"just some text", 14, 1, "not a JPEG, PNG, BMP or GIF"},
        {"empty.png", (const uint8_t *)"", 0, 1, "empty"},
        {"half.png", half.data, (int)half.len, 1, ""},
        {"good.png", good.data, (int)good.len, 42, "no class with id 42"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = tt_wasm_add_image(h, cases[i].class_id, cases[i].bytes, cases[i].len, cases[i].name);
        if (rc >= 0) fail_msg("%s was accepted", cases[i].name);
        if (!strstr(tt_wasm_last_error(h), cases[i].reason) || !*tt_wasm_last_error(h))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].name, tt_wasm_last_error(h), cases[i].reason);
    }
    assert_non_null(strstr(tt_wasm_dataset_json(h), "{\"id\":1,\"name\":\"red\",\"count\":4}"));
    image_buf_free(&good);
    tt_wasm_destroy(h);
}

static int threads_or_1(int n) { return tt_pool_threads_supported() ? n : 1; }

/* Every file of dir a is in dir b with the same bytes, and as many files. */
static void same_files(const char *a, const char *b) {
    DIR *d = opendir(a);
    struct dirent *e;
    int n = 0, m = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        void *x, *y;
        size_t nx, ny;
        tt_assert_ok(tt_file_read(pa, TT_FILE_MAX, &x, &nx));
        if (tt_file_read(pb, TT_FILE_MAX, &y, &ny)) fail_msg("%s has no %s", b, e->d_name);
        if (nx != ny || memcmp(x, y, nx)) fail_msg("%s differs from %s", pb, pa);
        free(x), free(y);
        n++;
    }
    if (d) closedir(d);
    if (!(d = opendir(b))) fail_msg("no %s", b);
    while ((e = readdir(d))) m += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(n, m);
}

/* Pictures added together (a few per thread) get what adding them one by one
 * gives: the same ids, refusals and messages, records, parts and features. */
static void test_pictures_added_together_as_one_by_one(void **state) {
    image_buf p[4] = {picture(0, 40), picture(1, 41), picture(0, 42)};
    uint8_t *px = malloc(900 * 600 * 3);
    image_fx_noise(px, 900 * 600 * 3, 7);
    p[3] = image_fx_stb("jpg", px, 900, 600, 3); /* big enough to get a training copy */
    free(px);
    const uint8_t *bytes[] = {p[0].data, (const uint8_t *)"no picture", p[1].data, p[3].data, p[0].data, p[2].data};
    int lens[] = {(int)p[0].len, 10, (int)p[1].len, (int)p[3].len, (int)p[0].len, (int)p[2].len};
    const char *names[] = {"a.png", "notes.txt", "b.png", "photo.jpg", "a-again.png", "c.png"};
    enum { N = 6 };
    char roots[2][600];
    int h[2], cls[2], ids[2][N];
    char errors[2][N][256];
    for (int k = 0; k < 2; k++) {
        snprintf(roots[k], sizeof roots[k], "%s-%s", tt_test_binary_path("test-wasm-api"), k ? "together" : "one-by-one");
        fresh_root(roots[k]);
        h[k] = open_at(roots[k]);
        cls[k] = tt_wasm_class_create(h[k], "mixed");
    }
    void *parts[N][2] = {{0}};
    int part_len[N][2] = {{0}};
    for (int i = 0; i < N; i++) {
        ids[0][i] = tt_wasm_add_image(h[0], cls[0], bytes[i], lens[i], names[i]);
        snprintf(errors[0][i], 256, "%s", ids[0][i] > 0 ? "" : tt_wasm_last_error(h[0]));
        for (int which = 0; which < 2; which++) {
            const uint8_t *part = tt_wasm_part(h[0], 0, which, &part_len[i][which]);
            if (part) parts[i][which] = malloc((size_t)part_len[i][which]), memcpy(parts[i][which], part, (size_t)part_len[i][which]);
        }
    }
    assert_int_equal(tt_wasm_set_threads(h[1], threads_or_1(3)), 0);
    assert_int_equal(tt_wasm_add_images(h[1], cls[1], N, bytes, lens, names, ids[1]), 4);
    for (int i = 0; i < N; i++) {
        snprintf(errors[1][i], 256, "%s", tt_wasm_add_error(h[1], i));
        if (ids[0][i] != ids[1][i] || strcmp(errors[0][i], errors[1][i]))
            fail_msg("%s: %d \"%s\" together, %d \"%s\" one by one", names[i], ids[1][i], errors[1][i], ids[0][i], errors[0][i]);
        for (int which = 0; which < 2; which++) {
            int n = -1;
            const uint8_t *got = tt_wasm_part(h[1], i, which, &n);
            if (n != part_len[i][which] || (n && memcmp(got, parts[i][which], (size_t)n)))
                fail_msg("%s: part %d of %d bytes together, %d one by one", names[i], which, n, part_len[i][which]);
            free(parts[i][which]);
        }
    }
    assert_int_equal(ids[1][1], -TT_ERR_FORMAT);
    assert_non_null(strstr(errors[1][4], "a.png")); /* the repeat names the first */
    assert_true(part_len[3][0] > 0 && part_len[0][0] == 0 && part_len[0][1] > 0); /* only the photo has a copy */
    assert_string_equal(tt_wasm_dataset_json(h[0]), tt_wasm_dataset_json(h[1]));
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/features", roots[0]), snprintf(b, sizeof b, "%s/features", roots[1]);
    same_files(a, b);
    /* More than the engine takes at once is refused whole. */
    int many[65];
    assert_int_equal(tt_wasm_add_images(h[1], cls[1], 65, bytes, lens, names, many), -TT_ERR_INVALID_ARG);
    for (int k = 0; k < 2; k++) tt_wasm_destroy(h[k]);
    for (int i = 0; i < 4; i++) image_buf_free(&p[i]);
}

static void test_thread_counts(void **state) {
    (void)state;
    int h = open_engine();
    assert_int_equal(tt_wasm_set_threads(h, 0), -TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_wasm_last_error(h), "threads must be in [1, 64]"));
    assert_int_equal(tt_wasm_set_threads(h, 1), 0);
    if (tt_pool_threads_supported()) {
        assert_int_equal(tt_wasm_set_threads(h, 3), 0);
        assert_int_equal(tt_wasm_set_threads(h, 2), 0);
    } else {
        assert_int_equal(tt_wasm_set_threads(h, 2), -TT_ERR_UNSUPPORTED);
        assert_non_null(strstr(tt_wasm_last_error(h), "one thread"));
    }
    assert_int_equal(tt_wasm_set_threads(0, 1), -TT_ERR_INVALID_ARG);
    tt_wasm_destroy(h);
}

static void test_config_errors_name_the_key(void **state) {
    const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"bogus\":1}", "bogus"},
        {"{\"epochs\":0}", "epochs"},
        {"{\"optimizer\":\"rmsprop\"}", "optimizer"},
        {"{\"unfreeze\":6}", "unfreeze"},
        {"{\"backbone_lr\":0.1}", "unfreeze"},
        {"{\"augment_views\":9}", "augment_views"},
        {"{\"init_from_model\":true}", "no model was imported"},
        {"{\"val_fraction\":1}", "val_fraction"},
        {"{\"augment\":\"flip,rotate\"}", "rotate"},
        {"{\"augment\":{\"flip\":true}}", "augment"},
        {"[1]", "object"},
        {"not json", "JSON"},
    };
    int h = open_engine();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = train_begin(h, cases[i].json);
        if (rc >= 0) fail_msg("%s was accepted", cases[i].json);
        if (!strstr(tt_wasm_last_error(h), cases[i].want))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].json, tt_wasm_last_error(h), cases[i].want);
    }
    assert_int_equal(tt_wasm_class_delete(h, 2), 0); /* blue, with its pictures */
    assert_true(train_begin(h, CONFIG) < 0);
    assert_non_null(strstr(tt_wasm_last_error(h), "two classes"));
    tt_wasm_destroy(h);
    /* The blue records are gone from disk too: red's 4 pictures are all there is. */
    h = open_engine();
    const char *js = tt_wasm_dataset_json(h);
    assert_non_null(strstr(js, "\"classes\":[{\"id\":1,\"name\":\"red\",\"count\":4}]"));
    assert_null(strstr(js, "\"class\":2"));
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* The data section of an export: the backbone's and the head's weights. */
static void exported_head(int h, const char *path, void **data, size_t *len) {
    char json[700];
    snprintf(json, sizeof json, "%s.json", path);
    if (tt_wasm_export(h, path, json, "safetensors")) fail_msg("export: %s", tt_wasm_last_error(h));
    void *buf;
    size_t n;
    tt_assert_ok(tt_file_read(path, TT_FILE_MAX, &buf, &n));
    uint64_t hdr;
    memcpy(&hdr, buf, 8);
    *len = n - 8 - (size_t)hdr;
    *data = malloc(*len);
    memcpy(*data, (char *)buf + 8 + hdr, *len);
    free(buf);
}

/* Until the run's rows are prepared (no training step taken yet). */
static void prepare(int h) {
    int rc;
    while ((rc = step(h, 1000)) == TT_WASM_STEP_PREPARING) {}
    if (rc) fail_msg("preparing: %d %s", rc, tt_wasm_last_error(h));
}

static void run_to_end(int h) {
    int rc;
    while ((rc = step(h, 5)) != 2)
        if (rc < 0) fail_msg("train_step: %s", tt_wasm_last_error(h));
}

/* An engine whose run learned the dataset (15 epochs, no validation split), and the
 * paths its export goes to (out, json: 600 bytes each). */
static int trained_engine(char *out, char *json) {
    snprintf(out, 600, "%s/model.safetensors", g_root);
    snprintf(json, 600, "%s/model.json", g_root);
    int h = open_engine();
    assert_int_equal(train_begin(h, "{\"epochs\":15,\"batch_size\":2,\"learning_rate\":0.003,\"val_fraction\":0}"), 0);
    run_to_end(h);
    return h;
}

/* Thread counts for the parts of check_resume: 1, 2 and 3 where this build has
 * threads (the results must not change), else 1. */

/* A run of `config` saved after 4 steps (on 2 threads;
 * `mid`: the state then) and resumed by a new handle (on 3) from the checkpoint
 * directory ends with the same exported bytes as the whole run (on 1). Returns the
 * resumed handle; ckpt receives the path of the checkpoint it resumed from. */
static int check_resume(const char *config, const char *mid, char *ckpt, const char *out) {
    int h = open_engine();
    assert_int_equal(tt_wasm_set_threads(h, 1), 0);
    assert_int_equal(train_begin(h, config), 0);
    run_to_end(h);
    void *whole, *resumed;
    size_t whole_len, resumed_len;
    exported_head(h, out, &whole, &whole_len);
    const char *metrics = tt_wasm_metrics_json(h);
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "\"epochs\":4,\"class_ids\":[1,2],\"val_counts\":[1,1],\"epoch\":4"));

    assert_int_equal(tt_wasm_set_threads(h, threads_or_1(2)), 0); /* between runs */
    assert_int_equal(train_begin(h, config), 0);
    prepare(h);
    for (int i = 0; i < 4; i++) assert_true(step(h, 0) >= 0);
    assert_non_null(strstr(tt_wasm_train_state_json(h), mid));
    assert_int_equal(tt_wasm_save(h), 0);
    snprintf(ckpt, 600, "%s/resumed.safetensors", g_root);
    copy_latest(g_root, ckpt);
    tt_wasm_destroy(h);

    h = open_engine();
    assert_int_equal(tt_wasm_set_threads(h, threads_or_1(3)), 0);
    assert_int_equal(tt_wasm_resume(h), TT_WASM_LOAD_RUN);
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"step\":4,"));
    run_to_end(h);
    exported_head(h, out, &resumed, &resumed_len);
    assert_int_equal(resumed_len, whole_len);
    assert_memory_equal(resumed, whole, whole_len);
    free(resumed);
    free(whole);
    return h;
}

static void paths(char *ckpt, char *out) {
    ckpt[0] = 0;
    snprintf(out, 600, "%s/model.safetensors", g_root);
}

static void test_resume_is_bit_exact(void **state) {
    char ckpt[600], out[600];
    paths(ckpt, out);
    int h = check_resume(CONFIG, "\"epoch\":1,\"epochs\":4,\"step\":4,\"steps\":12", ckpt, out);
    /* Another picture in place of one of the run's: same count, other rows. */
    const char *ds = tt_wasm_dataset_json(h);
    assert_non_null(strstr(ds, "\"id\":1,"));
    assert_int_equal(tt_wasm_remove_image(h, 1), 0);
    image_buf b = picture(0, 50);
    assert_true(add(h, 1, &b, "red-50.png") > 0);
    image_buf_free(&b);
    assert_int_equal(tt_wasm_load(h, ckpt), 1);
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"finished\":true"));
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

static int count_files(const char *sub, const char *suffix) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", g_root, sub);
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strlen(e->d_name) > strlen(suffix) && !strcmp(e->d_name + strlen(e->d_name) - strlen(suffix), suffix);
    if (d) closedir(d);
    return n;
}

/* Augmented views and a fine-tuned tail: the rows are prepared from the records
 * (2 augmented views per training image, tail inputs of block 16), cached by
 * content, and the run resumes bit-identically too (the tail's weights and
 * optimizer state are in the checkpoint). */
static void test_augment_and_unfreeze(void **state) {
    static const char *config = "{\"epochs\":4,\"batch_size\":2,\"learning_rate\":0.003,\"val_fraction\":0.25,"
                                "\"seed\":7,\"augment\":\"flip,zoom,brightness\",\"augment_views\":2,\"unfreeze\":1}";
    char ckpt[600], out[600];
    paths(ckpt, out);
    assert_int_equal(count_files("features", ".feat"), 2 * PER_CLASS);
    int h = open_engine();
    assert_int_equal(train_begin(h, config), 0);
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"prepared\":0,\"to_prepare\":20,"));
    assert_int_equal(step(h, 0), 3); /* one image (3 rows) per call at least */
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"prepared\":3,\"to_prepare\":20,"));
    tt_wasm_destroy(h);
    /* plain views + 6 training images x 3 tail inputs + 2 validation images x 1 */
    h = check_resume(config, "\"epoch\":0,\"epochs\":4,\"step\":4,\"steps\":36", ckpt, out);
    assert_int_equal(count_files("features", ".feat"), 2 * PER_CLASS + 6 * 3 + 2);
    /* The finished run's checkpoint and its export, imported by an engine of other
     * classes, predict exactly as the run does: the fine-tuned block comes along
     * ("backbone.*" over this backbone, or the export's own tensors). */
    image_buf probe = picture(1, 55);
    char want[200], done[600];
    snprintf(done, sizeof done, "%s/done.safetensors", g_root);
    const char *js = tt_wasm_predict(h, probe.data, (int)probe.len);
    assert_non_null(js);
    snprintf(want, sizeof want, "%s", strstr(js, "\"probs\":"));
    assert_int_equal(tt_wasm_save(h), 0);
    copy_latest(g_root, done);
    /* Removing a picture drops its cached views: the plain one, and the run's tail
     * inputs (3 for a training picture, 1 for a validation one). */
    int before = count_files("features", ".feat");
    assert_int_equal(tt_wasm_remove_image(h, 1), 0);
    int gone = before - count_files("features", ".feat");
    if (gone != 2 && gone != 4) fail_msg("%d cache files removed with picture 1", gone);
    tt_wasm_destroy(h);
    const char *files[2] = {done, out};
    for (int i = 0; i < 2; i++) {
        h = open_engine();
        only_class(h, "other");
        assert_int_equal(tt_wasm_load(h, files[i]), 1);
        assert_non_null(strstr(tt_wasm_model_json(h), "\"hidden\":0,\"unfreeze\":1}"));
        js = tt_wasm_predict(h, probe.data, (int)probe.len);
        if (!js || strcmp(strstr(js, "\"probs\":"), want)) fail_msg("%s predicts %s, the run %s", files[i], js ? js : tt_wasm_last_error(h), want);
        tt_wasm_destroy(h);
    }
    image_buf_free(&probe);
    assert_int_equal(make_dataset(), 0);
    /* The fine-tuned block is in the export, under the backbone's own name. */
    tt_st_file *ex, *bb;
    tt_assert_ok(tt_st_open_file(&ex, out));
    tt_assert_ok(tt_st_open_memory(&bb, g_weights, g_weights_len));
    const tt_st_tensor *a, *b;
    tt_assert_ok(tt_st_get(ex, "head.weight", TT_DTYPE_F32, &a));
    tt_assert_ok(tt_st_get(bb, "head.weight", TT_DTYPE_F32, &b));
    assert_int_equal(a->nbytes, b->nbytes);
    assert_true(memcmp(a->data, b->data, a->nbytes) != 0);
    tt_st_close(bb);
    tt_st_close(ex);
}

/* Two pictures that share their first 120 KB are two pictures: the second is
 * added to the same class, not refused as "the same picture". */
static void test_pictures_with_a_shared_beginning_are_different(void **state) {
    int h = open_engine();
    image_buf twin[2];
    image_fx_twin_bmps(twin);
    int a = add(h, 1, &twin[0], "twin-a.bmp"), b = add(h, 1, &twin[1], "twin-b.bmp");
    if (a <= 0 || b <= 0) fail_msg("twin pictures refused: %s", tt_wasm_last_error(h));
    assert_non_null(strstr(tt_wasm_dataset_json(h), "{\"id\":1,\"name\":\"red\",\"count\":6}"));
    assert_int_equal(tt_wasm_remove_image(h, a), 0);
    assert_int_equal(tt_wasm_remove_image(h, b), 0);
    image_buf_free(&twin[0]), image_buf_free(&twin[1]);
    tt_wasm_destroy(h);
}

/* Reads `n` integers after `key` (an array of arrays is read flat). */
static void json_ints(const char *js, const char *key, int *out, int n) {
    const char *p = strstr(js, key);
    if (!p) fail_msg("no %s in %s", key, js);
    p += strlen(key);
    for (int i = 0; i < n; i++) {
        while (*p && !(*p >= '0' && *p <= '9')) p++;
        if (!*p) fail_msg("%s: fewer than %d numbers in %s", key, n, js);
        out[i] = (int)strtol(p, (char **)&p, 10);
    }
}

/* Per-class validation counts are the confusion matrix's rows (true class) and
 * each class's share of the split, also on a run that gets some wrong: four red
 * pictures labelled blue make blue twice as big as red and cannot all be right. */
static void test_val_counts_are_rows_of_the_confusion(void **state) {
    int h = open_engine();
    for (int i = 0; i < PER_CLASS; i++) {
        image_buf b = picture(0, 30 + i);
        char name[32];
        snprintf(name, sizeof name, "red-as-blue-%d.png", i);
        assert_true(add(h, 2, &b, name) > 0);
        image_buf_free(&b);
    }
    assert_int_equal(train_begin(h, "{\"epochs\":6,\"batch_size\":4,\"learning_rate\":0.003,"
                                            "\"val_fraction\":0.5,\"seed\":3}"), 0);
    run_to_end(h);
    const char *js = tt_wasm_metrics_json(h);
    assert_non_null(js);
    int counts[2], conf[4];
    json_ints(js, "\"val_counts\":", counts, 2);
    json_ints(js, "\"confusion\":", conf, 4);
    if (conf[1] + conf[2] == 0) fail_msg("the run got every validation picture right: %s", js);
    for (int c = 0; c < 2; c++)
        if (counts[c] != conf[2 * c] + conf[2 * c + 1])
            fail_msg("class %d: val count %d is not its confusion row %d+%d: %s", c, counts[c], conf[2 * c],
                     conf[2 * c + 1], js);
    /* Half of each class (4 red, 8 blue) is held out. */
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 4);
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* Through the engine: equal validation losses (a learning rate of 1e-12, the
 * settings table's floor, moves no logit by an ulp, as in cli_run_rules.sh) are
 * no improvement, so patience 2 ends a 10-epoch run after 3. */
static void test_equal_losses_stop_early(void **state) {
    int h = open_engine();
    assert_int_equal(train_begin(h, "{\"epochs\":10,\"batch_size\":2,\"learning_rate\":1e-12,"
                                            "\"val_fraction\":0.25,\"patience\":2}"), 0);
    run_to_end(h);
    const char *js = tt_wasm_train_state_json(h);
    if (!strstr(js, "\"epoch\":3,\"epochs\":10,") || !strstr(js, "\"finished\":true"))
        fail_msg("patience 2 on equal losses: %s", js);
    tt_wasm_destroy(h);
}

/* Probabilities by class name from a predict JSON: {"classes":[..],"probs":[..]}. */
static float prob_of(const char *js, const char *name) {
    char key[64];
    snprintf(key, sizeof key, "\"name\":\"%s\"}", name);
    const char *at = strstr(js, key), *probs = strstr(js, "\"probs\":[");
    if (!at || !probs) fail_msg("no class %s in %s", name, js);
    int index = 0;
    for (const char *p = strstr(js, "\"classes\":["); p < at; p++) index += *p == '{';
    index--;
    probs += 9;
    for (int i = 0; i < index; i++) probs = strchr(probs, ',') + 1;
    return strtof(probs, NULL);
}

/* An exported model is imported by a browser with other class ids in another
 * order, and training continues from it: with a vanishing learning rate the
 * continued model predicts what the import predicts (classes matched by name);
 * from scratch it does not. */
static void test_import_continues_training(void **state) {
    char out[600], json[600];
    int h = trained_engine(out, json);
    assert_int_equal(tt_wasm_export(h, out, json, "safetensors"), 0);
    tt_wasm_destroy(h);

    h = open_engine();
    int blue = only_class(h, "blue"), red = tt_wasm_class_create(h, "red"); /* other ids, in another order */
    assert_true(red > blue && blue > 2);
    assert_int_equal(tt_wasm_load(h, out), 1);
    const char *mj = tt_wasm_model_json(h);
    assert_non_null(mj);
    assert_string_equal(mj, "{\"kind\":\"export\",\"classes\":[\"red\",\"blue\"],\"hidden\":0,\"unfreeze\":0}");
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++) {
            image_buf b = picture(c, 20 + i);
            char name[32];
            snprintf(name, sizeof name, "p%d-%d.png", c, i);
            assert_true(add(h, c ? blue : red, &b, name) > 0);
            image_buf_free(&b);
        }
    image_buf probe = picture(1, 99);
    const char *js = tt_wasm_predict(h, probe.data, (int)probe.len);
    assert_non_null(js);
    float imported_blue = prob_of(js, "blue");
    assert_true(train_begin(h, "{\"init_from_model\":true,\"hidden_units\":8}") < 0);
    assert_non_null(strstr(tt_wasm_last_error(h), "hidden units"));
    static const char *cont = "{\"epochs\":1,\"batch_size\":4,\"learning_rate\":1e-9,\"val_fraction\":0,\"init_from_model\":true}";
    assert_int_equal(train_begin(h, cont), 0);
    run_to_end(h);
    js = tt_wasm_predict(h, probe.data, (int)probe.len);
    assert_non_null(js);
    char want[100];
    snprintf(want, sizeof want, "{\"classes\":[{\"id\":%d,\"name\":\"blue\"},{\"id\":%d,\"name\":\"red\"}]", blue, red);
    assert_non_null(strstr(js, want));
    assert_float_equal(prob_of(js, "blue"), imported_blue, 1e-4);
    assert_true(imported_blue > 0.9f);
    assert_int_equal(train_begin(h, "{\"epochs\":1,\"batch_size\":4,\"learning_rate\":1e-9,\"val_fraction\":0}"), 0);
    run_to_end(h);
    js = tt_wasm_predict(h, probe.data, (int)probe.len);
    assert_true(fabsf(prob_of(js, "blue") - imported_blue) > 0.05f);
    image_buf_free(&probe);
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* The export is `tabtrain export`'s (docs/export.md): kind "export", every backbone
 * tensor but the ImageNet logits with the backbone's bytes (frozen in the browser),
 * the head, and a sidecar naming the weights file. */
static void check_export(const char *path, const char *json) {
    tt_st_file *ex, *bb;
    tt_assert_ok(tt_st_open_file(&ex, path));
    tt_assert_ok(tt_st_open_memory(&bb, g_weights, g_weights_len));
    assert_string_equal(tt_st_metadata(ex, "tabtrain.kind"), "export");
    assert_string_equal(tt_st_metadata(ex, "tabtrain.classes"), "[\"red\",\"blue\"]");
    size_t backbone = 0;
    for (size_t i = 0; i < tt_st_count(bb); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(bb, i), *e = tt_st_find(ex, t->name);
        if (!strncmp(t->name, "logits.", 7)) {
            assert_null(e);
            continue;
        }
        if (!e) fail_msg("export lacks backbone tensor %s", t->name);
        assert_int_equal(e->nbytes, t->nbytes);
        assert_memory_equal(e->data, t->data, t->nbytes);
        backbone++;
    }
    assert_true(backbone > 100);
    assert_non_null(tt_st_find(ex, "head.logits.kernel"));
    assert_non_null(tt_st_find(ex, "head.logits.bias"));
    assert_int_equal(tt_st_count(ex), backbone + 2); /* a linear head */
    tt_st_close(bb);
    tt_st_close(ex);
    void *txt;
    size_t n;
    tt_assert_ok(tt_file_read(json, TT_FILE_MAX, &txt, &n));
    char *s = realloc(txt, n + 1);
    s[n] = 0;
    assert_non_null(strstr(s, "\"format\": \"tabtrain-export\""));
    assert_non_null(strstr(s, "\"weights\": \"model.safetensors\""));
    assert_non_null(strstr(s, "\"classes\": [\"red\",\"blue\"]"));
    free(s);
}

/* A trained model predicts its classes; its exported file loads for prediction in an
 * engine whose classes it does not know (ids 0, names from the file). */
static void test_predict_and_foreign_model(void **state) {
    char out[600], json[600];
    int h = trained_engine(out, json);
    for (int c = 0; c < 2; c++) {
        image_buf b = picture(c, 77);
        const char *js = tt_wasm_predict(h, b.data, (int)b.len);
        image_buf_free(&b);
        assert_non_null(js);
        float p0, p1;
        const char *probs = strstr(js, "\"probs\":[");
        assert_non_null(probs);
        assert_int_equal(sscanf(probs, "\"probs\":[%f,%f]", &p0, &p1), 2);
        assert_float_equal(p0 + p1, 1.0, 1e-5);
        if ((c == 0) != (p0 > p1)) fail_msg("class %d picture predicted %s", c, js);
    }
    assert_null(tt_wasm_predict(h, (const uint8_t *)"xx", 2));
    assert_int_equal(tt_wasm_export(h, out, json, "safetensors"), 0);
    char onnx[700];
    snprintf(onnx, sizeof onnx, "%s.onnx", out);
    assert_int_equal(tt_wasm_export(h, onnx, json, "onnx"), 0); /* main's ONNX export (h/travel) works here too */
    assert_true(tt_wasm_export(h, onnx, json, "pmml") < 0);
    tt_wasm_destroy(h);
    check_export(out, json);

    h = open_engine();
    only_class(h, "other");
    assert_int_equal(tt_wasm_load(h, out), 1);
    image_buf b = picture(1, 78);
    const char *js = tt_wasm_predict(h, b.data, (int)b.len);
    image_buf_free(&b);
    assert_non_null(js);
    assert_non_null(strstr(js, "{\"classes\":[{\"id\":0,\"name\":\"red\"},{\"id\":0,\"name\":\"blue\"}]"));
    assert_int_equal(tt_wasm_reset(h), 0);
    assert_null(tt_wasm_predict(h, (const uint8_t *)"xx", 2));
    assert_non_null(strstr(tt_wasm_dataset_json(h), "\"images\":[]"));
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* Metrics name their classes by id: a class without pictures first in the list is
 * not in the run (nothing shifts), a rename shows the new name, a deleted class keeps
 * the name the run recorded. */
static void test_metrics_labelled_by_class_id(void **state) {
    (void)state;
    assert_int_equal(make_project("EMPTY"), 0); /* EMPTY = 1, red = 2, blue = 3 */
    int h = open_engine();
    assert_int_equal(train_begin(h, "{\"epochs\":2,\"batch_size\":2,\"val_fraction\":0.5}"), 0);
    run_to_end(h);
    const char *m = tt_wasm_metrics_json(h);
    assert_non_null(m);
    assert_non_null(strstr(m, "{\"class_names\":[\"red\",\"blue\"],\"epochs\":2,\"class_ids\":[2,3],\"val_counts\":[2,2],"));
    assert_int_equal(tt_wasm_class_rename(h, 3, "navy"), 0);
    assert_non_null(strstr(tt_wasm_metrics_json(h), "{\"class_names\":[\"red\",\"navy\"],\"epochs\":2,\"class_ids\":[2,3],"));
    assert_int_equal(tt_wasm_class_delete(h, 2), 0); /* red, with its pictures */
    assert_non_null(strstr(tt_wasm_metrics_json(h), "{\"class_names\":[\"red\",\"navy\"],\"epochs\":2,\"class_ids\":[2,3],"));
    /* After a reload the run's pictures have changed (red is gone): its checkpoint only
     * predicts, and its epochs come back as the run reported them (the page's charts). */
    char *history = strdup(tt_wasm_history_json(h));
    assert_non_null(strstr(history, "\"epoch\":2,"));
    tt_wasm_destroy(h);
    h = open_engine();
    assert_int_equal(tt_wasm_resume(h), TT_WASM_LOAD_MODEL);
    assert_string_equal(tt_wasm_history_json(h), history);
    assert_non_null(strstr(tt_wasm_metrics_json(h), "{\"class_names\":[\"red\",\"navy\"],\"epochs\":2,\"class_ids\":[2,3],\"val_counts\":[2,2],\"epoch\":2,"));
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"finished\":true"));
    free(history);
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* The browser's checkpoints follow the checkpoint policy of tabtrain/ckpt.h: a run
 * saved at every epoch end keeps the newest 3 ckpt-* files, best.safetensors and
 * `latest`; with the newest file damaged, a new handle resumes from the one before
 * (saying so) and ends with the very bytes of the uninterrupted run, and its save
 * of that step replaces the damaged file. */
static void test_checkpoint_policy(void **state) {
    static const char *config = "{\"epochs\":5,\"batch_size\":2,\"learning_rate\":0.003,\"hidden_units\":16,"
                                "\"val_fraction\":0.25,\"seed\":7}";
    char out[600], ckpt[700], path[800];
    snprintf(out, sizeof out, "%s/model.safetensors", g_root);
    int h = open_engine();
    assert_int_equal(train_begin(h, config), 0);
    int rc;
    while ((rc = tt_wasm_train_step(h, 5)) != TT_WASM_STEP_FINISHED) {
        if (rc < 0) fail_msg("train_step: %s", tt_wasm_last_error(h));
        if (rc == TT_WASM_STEP_EPOCH) assert_int_equal(tt_wasm_save(h), 0);
    }
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"saved\":{\"epoch\":5,\"step\":15}"));
    void *whole, *resumed;
    size_t whole_len, resumed_len;
    exported_head(h, out, &whole, &whole_len);
    tt_wasm_destroy(h);
    assert_int_equal(count_files("ckpt", ".safetensors"), 4); /* 3 ckpt-* + best */
    snprintf(path, sizeof path, "%s/ckpt/best.safetensors", g_root);
    assert_int_equal(access(path, R_OK), 0);
    latest_of(g_root, ckpt, sizeof ckpt);
    assert_non_null(strstr(ckpt, "/ckpt-e0005-s000015.safetensors"));

    /* One flipped byte in the middle of the newest file. */
    void *b;
    size_t n;
    tt_assert_ok(tt_file_read(ckpt, TT_FILE_MAX, &b, &n));
    ((uint8_t *)b)[n / 2] ^= 0x40;
    tt_chunk c = {b, n};
    tt_assert_ok(tt_file_write_atomic(ckpt, &c, 1));
    free(b);
    h = open_engine();
    assert_int_equal(tt_wasm_resume(h), TT_WASM_LOAD_RUN);
    const char *js = tt_wasm_train_state_json(h);
    if (!strstr(js, "\"epoch\":4,") || !strstr(js, "fails verification") || !strstr(js, "ckpt-e0004-s000012"))
        fail_msg("resumed past the damaged file: %s", js);
    run_to_end(h);
    exported_head(h, out, &resumed, &resumed_len);
    assert_int_equal(resumed_len, whole_len);
    assert_memory_equal(resumed, whole, whole_len);
    free(resumed), free(whole);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_file(&f, ckpt)); /* rewritten whole */
    tt_st_close(f);
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* A profile of before the checkpoint policy kept one file, root/ckpt/latest.safetensors:
 * it resumes, and becomes the directory's checkpoint that `latest` names. */
static void test_single_checkpoint_file_migrates(void **state) {
    char ckpt[700], old[700], path[700];
    int h = open_engine();
    assert_int_equal(train_begin(h, CONFIG), 0);
    prepare(h);
    for (int i = 0; i < 5; i++) assert_true(tt_wasm_train_step(h, 0) >= 0);
    assert_int_equal(tt_wasm_save(h), 0);
    latest_of(g_root, ckpt, sizeof ckpt);
    tt_wasm_destroy(h);
    snprintf(old, sizeof old, "%s/ckpt/latest.safetensors", g_root);
    assert_int_equal(rename(ckpt, old), 0);
    snprintf(path, sizeof path, "%s/ckpt/latest", g_root);
    unlink(path);
    snprintf(path, sizeof path, "%s/ckpt/best.safetensors", g_root);
    unlink(path);
    assert_int_equal(count_files("ckpt", ".safetensors"), 1);

    h = open_engine();
    assert_int_equal(tt_wasm_resume(h), TT_WASM_LOAD_RUN);
    const char *js = tt_wasm_train_state_json(h);
    if (!strstr(js, "\"epoch\":1,\"epochs\":4,\"step\":5,") || !strstr(js, "\"note\":\"\""))
        fail_msg("single file: %s", js);
    assert_int_equal(access(old, F_OK), -1);
    latest_of(g_root, ckpt, sizeof ckpt);
    assert_non_null(strstr(ckpt, "/ckpt-e0001-s000005.safetensors"));
    run_to_end(h);
    tt_wasm_destroy(h);
    assert_int_equal(make_dataset(), 0);
}

/* A checkpoint the engine wrote before the application layer (tests/fixtures/v0:
 * classes blue = 1, red = 2, their 4 pictures each added in name order, config
 * {"epochs":2,"batch_size":2,"learning_rate":0.003,"hidden_units":4,
 * "val_fraction":0.25,"seed":7}, saved after epoch 1) restores the run, which
 * ends with the tensors that old run ended with. */
static void test_old_checkpoint_resumes(void **state) {
    char root[512], path[700], out[700];
    snprintf(root, sizeof root, "%s", tt_test_binary_path("test-wasm-api-v0"));
    fresh_root(root);
    int h = open_at(root);
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
            assert_true(add_bytes(h, c + 1, b, len, strrchr(rel, '/') + 1) > 0);
            free(b);
        }
    snprintf(path, sizeof path, "%s", tt_test_source_path("tests/fixtures/v0/engine-ckpt-e0001.safetensors"));
    assert_int_equal(tt_wasm_load(h, path), 0);
    assert_non_null(strstr(tt_wasm_train_state_json(h), "\"epoch\":1,\"epochs\":2,\"step\":3,"));
    run_to_end(h);
    assert_int_equal(tt_wasm_save(h), 0);
    latest_of(root, out, sizeof out);
    /* Bit for bit under the kernels the fixtures were written with; other kernels
     * round floats differently (tests/scripts/cli_old_ckpt.sh does the same). */
    void *kernels;
    size_t klen;
    tt_assert_ok(tt_file_read(tt_test_source_path("tests/fixtures/v0/KERNELS"), 64, &kernels, &klen));
    int same_kernels = klen == strlen(TT_ISA_NAME) + 1 && !memcmp(kernels, TT_ISA_NAME, klen - 1);
    free(kernels);
    tt_st_file *want, *got;
    tt_assert_ok(tt_st_open_file(&want, tt_test_source_path("tests/fixtures/v0/engine-ckpt-e0002.safetensors")));
    tt_assert_ok(tt_st_open_file(&got, out));
    tt_test_assert_same_st(want, got, same_kernels ? 0 : 1e-4);
    tt_st_close(want);
    tt_st_close(got);
}

/* A reproducer from ../shared/fuzz-repro (see its README), NULL when absent. */
static void *repro(const char *name, size_t *len) {
    const char *shared = getenv("TT_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/fuzz-repro/%s", shared ? shared : "../shared", name);
    void *bytes = NULL;
    if (tt_file_read(path, TT_FILE_MAX, &bytes, len)) return NULL;
    return bytes;
}

/* The fuzzing reproducers through the engine as the page drives it: each is a
 * status with a reason people can read (under ASan: no over-read, no leak),
 * the engine's classes and pictures stay as they were, and it goes on working. */
static void test_fuzz_reproducers_are_statuses(void **state) {
    size_t len;
    uint8_t *b = repro("wasm-set-classes-leak-1.bin", &len);
    if (!b) {
        fprintf(stderr, "skipped: ../shared/fuzz-repro not found\n");
        return;
    }
    int h = open_engine();
    const char *before = tt_wasm_dataset_json(h);
    char *was = malloc(strlen(before) + 1);
    strcpy(was, before);
    /* byte 0 is the harness's operation; the rest the class list with "name" twice that
     * the engine once took as JSON: what JSON the engine takes now (a training config)
     * refuses both a key without a value and a repeated key */
    char *json = calloc(len + 1, 1);
    memcpy(json, b + 1, len - 1);
    assert_int_not_equal(tt_wasm_train_begin(h, json), 0);
    assert_non_null(strstr(tt_wasm_last_error(h), "without a value"));
    assert_true(tt_wasm_train_begin(h, "{\"epochs\":1,\"epochs\":2}") < 0);
    assert_non_null(strstr(tt_wasm_last_error(h), "given twice"));
    assert_string_equal(tt_wasm_dataset_json(h), was);
    free(json), free(b);

    /* model files: the rest of the class_ids one, and two whole files */
    char path[600];
    snprintf(path, sizeof path, "%s/repro.safetensors", g_root);
    static const struct {
        const char *file;
        int skip;
        const char *reason;
    } models[] = {
        {"wasm-config-class-ids-leak-1.bin", 1, "head.logits.kernel"}, /* its config (repeated key) is ignored, not leaked */
        {"model-head-alloc-dos-1.safetensors", 0, "head.hidden.kernel"},
        {"model-head-json-oob-read-1.safetensors", 0, "without a value"},
        {"export-head-dtype-overread-1.safetensors", 0, ""},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        assert_non_null(b = repro(models[i].file, &len));
        tt_chunk c = {b + models[i].skip, len - models[i].skip};
        tt_assert_ok(tt_file_write_atomic(path, &c, 1));
        int rc = tt_wasm_load(h, path);
        if (rc == 0 || !strstr(tt_wasm_last_error(h), models[i].reason))
            fail_msg("%s: rc %d, message \"%s\" lacks \"%s\"", models[i].file, rc, tt_wasm_last_error(h), models[i].reason);
        free(b);
        unlink(path);
    }

    /* pictures: the DHT overflow, and one of 40 M pixels over the page's 16 M limit */
    static const struct {
        const char *file, *reason;
    } pics[] = {
        {"image-jpeg-dht-overflow-1.jpg", "Huffman table"},
        {"slow-jpeg-6324x6324.jpg", "exceeds the limit of 16.0 megapixels"},
        {"slow-png16-6324x6324.png", "exceeds the limit of 16.0 megapixels"},
    };
    for (size_t i = 0; i < sizeof pics / sizeof *pics; i++) {
        assert_non_null(b = repro(pics[i].file, &len));
        int rc = tt_wasm_add_image(h, 1, b, (int)len, pics[i].file);
        if (rc >= 0 || !strstr(tt_wasm_last_error(h), pics[i].reason))
            fail_msg("%s: rc %d, message \"%s\" lacks \"%s\"", pics[i].file, rc, tt_wasm_last_error(h), pics[i].reason);
        free(b);
    }
    assert_string_equal(tt_wasm_dataset_json(h), was);
    image_buf good = picture(0, 77);
    int id = add(h, 1, &good, "after.png");
    assert_true(id > 0);
    assert_int_equal(tt_wasm_remove_image(h, id), 0);
    image_buf_free(&good);
    free(was);
    tt_wasm_destroy(h);
}


/* Records hold no picture (the worker keeps the bytes); adding makes the training
 * copy (a lossless PNG of tt_image_training_copy) and a small JPEG thumbnail; a
 * run asks for pictures one at a time (never one it has cached views of) and
 * waits while given the wrong one; the original and its copy give the same run. */
static void test_pictures_stay_with_the_worker(void **state) {
    (void)state;
    char path[700];
    /* The engine's files hold the records, not the pictures: a line of project.json each. */
    snprintf(path, sizeof path, "%s/project.json", g_root);
    void *rec;
    size_t rec_len;
    tt_assert_ok(tt_file_read(path, TT_FILE_MAX, &rec, &rec_len));
    assert_true(rec_len < 200 * 2 * PER_CLASS);
    free(rec);

    int h = open_engine();
    /* a 1280x960 photo: gradients and a little sensor noise */
    uint8_t *px = malloc(1280 * 960 * 3);
    image_fx_noise(px, 1280 * 960 * 3, 31);
    for (int k = 0; k < 1280 * 960 * 3; k++) px[k] = (uint8_t)((k % 3 ? (k / 3) % 1280 / 6 : (k / 3840) / 5) + px[k] % 48);
    image_buf jpg = image_fx_stb("jpg", px, 1280, 960, 3);
    free(px);
    int id = add(h, 1, &jpg, "big.jpg");
    assert_true(id > 0);
    int n[2];
    const uint8_t *part[2] = {tt_wasm_part(h, 0, 0, &n[0]), tt_wasm_part(h, 0, 1, &n[1])};
    int none = -1;
    assert_null(tt_wasm_part(h, 0, 2, &none));
    assert_int_equal(none, 0);
    tt_image copy, want, thumb;
    if (!part[0] || 2 * (size_t)n[0] >= jpg.len) fail_msg("a copy of %d bytes for a JPEG of %zu", n[0], jpg.len);
    tt_assert_ok(tt_image_decode(part[0], (size_t)n[0], NULL, &copy));
    tt_assert_ok(tt_image_training_copy(jpg.data, jpg.len, NULL, 224, &want));
    assert_int_equal(copy.width, 320);
    assert_int_equal(copy.height, 240);
    assert_memory_equal(copy.pixels, want.pixels, 3 * 320 * 240);
    tt_assert_ok(tt_image_decode(part[1], (size_t)n[1], NULL, &thumb));
    assert_int_equal(thumb.height, 120); /* 240 / 2: a short side in [96, 192) */
    assert_true(n[1] < n[0] / 4);
    tt_image_free(&copy), tt_image_free(&want), tt_image_free(&thumb);
    assert_int_equal(tt_wasm_remove_image(h, id), 0);
    image_buf_free(&jpg);
    tt_wasm_destroy(h);

    /* Without cached features every picture of the run is asked for, once. */
    static const char *config = "{\"epochs\":2,\"batch_size\":2,\"learning_rate\":0.003,\"val_fraction\":0.25,"
                                "\"seed\":3,\"augment\":\"flip,zoom\",\"augment_views\":1}";
    char out[600];
    snprintf(out, sizeof out, "%s/model.safetensors", g_root);
    void *result[2];
    size_t result_len[2];
    for (int originals = 0; originals < 2; originals++) {
        snprintf(path, sizeof path, "%s/features", g_root);
        clear_dir(path);
        h = open_engine();
        assert_int_equal(train_begin(h, config), 0);
        int asked[2 * PER_CLASS + 1] = {0}, rc;
        while ((rc = tt_wasm_train_step(h, 0)) == TT_WASM_STEP_PREPARING || rc == TT_WASM_STEP_NEED_IMAGE) {
            if (rc == TT_WASM_STEP_PREPARING) continue;
            int need = tt_wasm_needed_image(h);
            assert_true(need >= 1 && need <= 2 * PER_CLASS);
            assert_int_equal(asked[need]++, 0);
            /* another picture than the one asked for changes nothing */
            image_buf other = picture(1, 9);
            assert_int_equal(tt_wasm_give_image(h, need == 1 ? 2 : 1, other.data, (int)other.len), 0);
            image_buf_free(&other);
            assert_int_equal(tt_wasm_train_step(h, 0), TT_WASM_STEP_NEED_IMAGE);
            assert_int_equal(tt_wasm_needed_image(h), need);
            if (originals) {
                image_buf b = picture(need > PER_CLASS, (need - 1) % PER_CLASS);
                assert_int_equal(tt_wasm_give_image(h, need, b.data, (int)b.len), 0);
                image_buf_free(&b);
            } else give(h);
        }
        assert_true(rc >= 0);
        for (int i = 1; i <= 2 * PER_CLASS; i++) assert_int_equal(asked[i], 1);
        run_to_end(h);
        exported_head(h, out, &result[originals], &result_len[originals]);
        tt_wasm_destroy(h);
    }
    assert_int_equal(result_len[0], result_len[1]);
    assert_memory_equal(result[0], result[1], result_len[0]);
    free(result[0]), free(result[1]);
    assert_int_equal(make_dataset(), 0);
}

/* A profile of before the project store: its record (at `root`) is migrated
 * into the project, "old.png" of class 2, whose hash stops the same picture
 * being added to that class again. */
static void open_old_profile(const char *root, const void *record, size_t len, const image_buf *pic) {
    char path[700];
    fresh_root(root);
    snprintf(path, sizeof path, "%s/dataset/img-00000042.safetensors", root);
    tt_chunk c = {record, len};
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
    int h = open_at(root);
    assert_non_null(strstr(tt_wasm_dataset_json(h), "{\"id\":42,\"class\":2,\"name\":\"old.png\"}"));
    assert_true(add(h, 2, pic, "again.png") < 0); /* the same picture: the hash the record gave */
    assert_non_null(strstr(tt_wasm_last_error(h), "old.png"));
    tt_wasm_destroy(h);
    assert_int_equal(access(path, F_OK), -1); /* migrated: project.json holds it */
}

/* A record written before the project store holds the picture: the engine
 * still migrates it (its hash from the bytes), and tt_wasm_upgrade_record
 * splits it into the original, a record holding only the hash (what the
 * worker leaves in IDBFS, which the project store migrates as well), the
 * training copy and the thumbnail. */
static void test_old_records_upgrade(void **state) {
    (void)state;
    image_buf pic = picture(1, 21);
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    int64_t shape[1] = {(int64_t)pic.len};
    tt_assert_ok(tt_st_add(b, "image", TT_DTYPE_U8, 1, shape, pic.data));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.kind", "image"));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.image_id", "42"));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.class_id", "2"));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.name", "old.png"));
    void *old;
    size_t old_len;
    tt_assert_ok(tt_st_write_memory(b, &old, &old_len));
    tt_st_builder_free(b);
    char root[512];
    snprintf(root, sizeof root, "%s", tt_test_binary_path("test-wasm-api-old"));
    open_old_profile(root, old, old_len, &pic);

    const char *js = tt_wasm_upgrade_record(old, (int)old_len);
    assert_non_null(js);
    unsigned long p[4];
    size_t n[4];
    int id = 0;
    assert_int_equal(sscanf(js, "{\"id\":%d,\"original\":[%lu,%zu],\"record\":[%lu,%zu],\"copy\":[%lu,%zu],\"thumb\":[%lu,%zu]}",
                            &id, &p[0], &n[0], &p[1], &n[1], &p[2], &n[2], &p[3], &n[3]), 9);
    assert_int_equal(id, 42);
    assert_int_equal(n[0], pic.len);
    assert_memory_equal((const void *)(uintptr_t)p[0], pic.data, pic.len);
    tt_st_file *f;
    const tt_st_tensor *t;
    tt_assert_ok(tt_st_open_memory(&f, (const void *)(uintptr_t)p[1], n[1]));
    tt_assert_ok(tt_st_get(f, "sha256", TT_DTYPE_U8, &t));
    uint8_t d[TT_SHA256_SIZE];
    tt_sha256(pic.data, pic.len, d);
    assert_memory_equal(t->data, d, TT_SHA256_SIZE);
    assert_string_equal(tt_st_metadata(f, "tabtrain.name"), "old.png");
    tt_st_close(f);
    /* a picture this small keeps no copy (its original is given back); the thumbnail
     * is the picture itself, a short side under 96 px */
    assert_int_equal(n[2], 0);
    tt_image thumb;
    tt_assert_ok(tt_image_decode((const void *)(uintptr_t)p[3], n[3], NULL, &thumb));
    assert_int_equal(thumb.width, 48);
    assert_int_equal(thumb.height, 40);
    tt_image_free(&thumb);
    /* the new record is current; damage is a status */
    void *rec = malloc(n[1]);
    memcpy(rec, (const void *)(uintptr_t)p[1], n[1]);
    js = tt_wasm_upgrade_record(rec, (int)n[1]);
    assert_non_null(js);
    assert_string_equal(js, "{\"id\":42,\"current\":true}");
    assert_null(tt_wasm_upgrade_record(rec, 20));
    assert_true(strlen(tt_wasm_last_error(0)) > 0);
    open_old_profile(root, rec, n[1], &pic);
    /* a picture's parts without a record: the same copy and thumbnail */
    js = tt_wasm_picture_parts(pic.data, (int)pic.len);
    assert_non_null(js);
    unsigned long q[2];
    size_t m[2];
    assert_int_equal(sscanf(js, "{\"copy\":[%lu,%zu],\"thumb\":[%lu,%zu]}", &q[0], &m[0], &q[1], &m[1]), 4);
    assert_int_equal(m[0], 0);
    assert_true(m[1] > 0);
    assert_int_equal(m[1], n[3]);
    assert_null(tt_wasm_picture_parts(NULL, 0));
    free(rec), free(old);
    image_buf_free(&pic);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses_bad_weights),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_dataset_persists),
        cmocka_unit_test(test_pictures_stay_with_the_worker),
        cmocka_unit_test(test_old_records_upgrade),
        cmocka_unit_test(test_bad_files_are_statuses),
        cmocka_unit_test(test_pictures_with_a_shared_beginning_are_different),
        cmocka_unit_test(test_val_counts_are_rows_of_the_confusion),
        cmocka_unit_test(test_equal_losses_stop_early),
        cmocka_unit_test(test_pictures_added_together_as_one_by_one),
        cmocka_unit_test(test_thread_counts),
        cmocka_unit_test(test_config_errors_name_the_key),
        cmocka_unit_test(test_resume_is_bit_exact),
        cmocka_unit_test(test_predict_and_foreign_model),
        cmocka_unit_test(test_augment_and_unfreeze),
        cmocka_unit_test(test_import_continues_training),
        cmocka_unit_test(test_metrics_labelled_by_class_id),
        cmocka_unit_test(test_checkpoint_policy),
        cmocka_unit_test(test_single_checkpoint_file_migrates),
        cmocka_unit_test(test_old_checkpoint_resumes),
        cmocka_unit_test(test_fuzz_reproducers_are_statuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
