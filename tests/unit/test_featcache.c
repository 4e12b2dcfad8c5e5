/* Feature cache on the real backbone: misses computed in batches equal the
 * backbone on tt_image_to_input; hits come back bit-identical from disk and
 * across instances; damaged entries are recomputed; keys separate views,
 * backbones and augmentation settings; bad images fail alone. With
 * `unfreeze` K the cache holds the activations entering block 17-K, keyed by
 * that block too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/image_fixtures.h"
#include "support/tmpdir.h"
#include "tabtrain/featcache.h"
#include "tabtrain/fileio.h"
#include "tt_test.h"

#define N_IMG 5
#define VIEWS 3
/* The real weights at a 64x64 input: a twelfth of the work of 224 (the
 * cache does not care), so the asan and wasm runs stay short. */
#define SIZE 64

static tt_mnv2 *g_model;

static int setup(void **state) {
    (void)state;
    const char *path = getenv("TT_MODEL");
    if (!path || !*path) path = tt_test_binary_path("test-import/mobilenet_v2_1.0_224.safetensors");
    tt_st_file *f;
    if (tt_st_open_file(&f, path)) {
        fprintf(stderr, "cannot open %s: %s (the import_npy_cli fixture writes it)\n", path, tt_last_error());
        return -1;
    }
    tt_status st = tt_mnv2_init(&g_model, f, SIZE);
    tt_st_close(f);
    return st ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    tt_mnv2_free(g_model);
    return 0;
}

/* N_IMG small photos-to-be: noise of different sizes and formats. */
static void make_images(image_buf *img) {
    static const struct {
        const char *fmt;
        int w, h;
    } spec[N_IMG] = {{"png", 40, 30}, {"jpg", 64, 64}, {"bmp", 30, 50}, {"png", 300, 260}, {"jpg", 17, 9}};
    for (int i = 0; i < N_IMG; i++) {
        uint8_t *px = tt_test_malloc((size_t)spec[i].w * spec[i].h * 3);
        image_fx_noise(px, (size_t)spec[i].w * spec[i].h * 3, 100 + (uint64_t)i);
        img[i] = image_fx_stb(spec[i].fmt, px, spec[i].w, spec[i].h, 3);
        free(px);
    }
}

static tt_featcache_config config(const char *dir) {
    tt_featcache_config c = tt_featcache_defaults();
    c.dir = dir;
    c.batch = 4; /* smaller than N_IMG * VIEWS: several backbone calls, one partial */
    c.aug = (tt_augment){.flip = 1, .zoom_min = 0.8f, .zoom_max = 1.0f, .shear_deg = 10.0f,
                         .brightness_min = 0.8f, .brightness_max = 1.2f};
    return c;
}

static void run(tt_featcache *fc, const image_buf *img, tt_feat_request *rq, float *feats) {
    for (int i = 0; i < N_IMG; i++) rq[i] = (tt_feat_request){.bytes = img[i].data, .len = img[i].len};
    tt_assert_ok(tt_featcache_run(fc, N_IMG, rq, VIEWS, feats));
    for (int i = 0; i < N_IMG; i++) assert_int_equal(rq[i].status, TT_OK);
}

/* What the run tests share: the images, a scratch cache dir (none: memory
 * only), the config on it, and two buffers of N_IMG * VIEWS feature rows. */
typedef struct fixture {
    image_buf img[N_IMG];
    char *dir;
    tt_featcache_config cfg;
    tt_feat_request rq[N_IMG];
    float *f1, *f2;
} fixture;

/* Fills fx and opens a cache on fx->cfg (on disk under a fresh dir named
 * after tag; tag NULL: in memory only) that has computed every view into f1. */
static tt_featcache *fixture_start(fixture *fx, const char *tag, const char *backbone) {
    make_images(fx->img);
    fx->dir = tag ? tt_test_tmpdir(tag) : NULL;
    fx->cfg = config(fx->dir);
    fx->cfg.keep_in_memory = !tag;
    fx->f1 = tt_test_malloc(sizeof(float) * N_IMG * VIEWS * 1280);
    fx->f2 = tt_test_malloc(sizeof(float) * N_IMG * VIEWS * 1280);
    tt_featcache *fc;
    tt_assert_ok(tt_featcache_open(&fc, g_model, backbone, &fx->cfg));
    run(fc, fx->img, fx->rq, fx->f1);
    return fc;
}

static void fixture_free(fixture *fx) {
    free(fx->f1), free(fx->f2);
    for (int i = 0; i < N_IMG; i++) image_buf_free(&fx->img[i]);
    if (fx->dir) tt_test_rmtree(fx->dir);
    free(fx->dir);
}

static void misses_hits_and_persistence(void **state) {
    (void)state;
    const int dim = 1280;
    fixture fx;
    tt_featcache *fc = fixture_start(&fx, "fc", "sha256:aaaa");
    tt_featcache_stats s = tt_featcache_get_stats(fc);
    assert_int_equal(s.computed, N_IMG * VIEWS);
    assert_int_equal(s.hits, 0);
    for (int i = 0; i < N_IMG; i++) assert_int_equal(fx.rq[i].hits, 0);

    /* View 0 is the backbone on the plain preprocessed training copy. */
    float *in = tt_test_malloc(sizeof(float) * SIZE * SIZE * 3), ref[1280];
    for (int i = 0; i < N_IMG; i++) {
        tt_image im;
        tt_assert_ok(tt_image_training_copy(fx.img[i].data, fx.img[i].len, NULL, SIZE, &im));
        tt_assert_ok(tt_image_to_input(&im, SIZE, in));
        tt_image_free(&im);
        tt_assert_ok(tt_mnv2_features(g_model, 1, in, ref));
        tt_test_assert_close(fx.f1 + (size_t)i * VIEWS * dim, ref, dim, 1e-5f, 1e-5f, "view 0 vs backbone");
        /* augmented views really are other inputs */
        for (int v = 1; v < VIEWS; v++) {
            const float *fv = fx.f1 + ((size_t)i * VIEWS + v) * dim;
            double diff = 0;
            for (int d = 0; d < dim; d++) diff += (fv[d] - ref[d]) * (fv[d] - ref[d]);
            if (diff < 1e-6) fail_msg("image %d view %d equals view 0", i, v);
        }
    }
    free(in);

    /* Same instance (disk only): every view a hit, same bits. */
    run(fc, fx.img, fx.rq, fx.f2);
    s = tt_featcache_get_stats(fc);
    assert_int_equal(s.computed, N_IMG * VIEWS);
    assert_int_equal(s.hits, N_IMG * VIEWS);
    assert_memory_equal(fx.f1, fx.f2, sizeof(float) * N_IMG * VIEWS * dim);
    tt_featcache_free(fc);

    /* A new instance (a second run) on the same dir: no backbone call. */
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:aaaa", &fx.cfg));
    memset(fx.f2, 0, sizeof(float) * N_IMG * VIEWS * dim);
    run(fc, fx.img, fx.rq, fx.f2);
    s = tt_featcache_get_stats(fc);
    assert_int_equal(s.computed, 0);
    assert_int_equal(s.recovered, 0);
    assert_memory_equal(fx.f1, fx.f2, sizeof(float) * N_IMG * VIEWS * dim);
    for (int i = 0; i < N_IMG; i++) assert_int_equal(fx.rq[i].hits, VIEWS);

    /* The same bytes under another name or position are the same entry. */
    tt_feat_request one = {.bytes = fx.img[3].data, .len = fx.img[3].len};
    float row[VIEWS * 1280];
    tt_assert_ok(tt_featcache_run(fc, 1, &one, VIEWS, row));
    assert_int_equal(one.hits, VIEWS);
    assert_memory_equal(row, fx.f1 + (size_t)3 * VIEWS * dim, sizeof row);
    tt_featcache_free(fc);

    /* Forget: the entries are gone from disk, the next run recomputes them. */
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:aaaa", &fx.cfg));
    tt_assert_ok(tt_featcache_forget(fc, fx.rq[1].hash, VIEWS));
    run(fc, fx.img, fx.rq, fx.f2);
    s = tt_featcache_get_stats(fc);
    assert_int_equal(s.computed, VIEWS);
    assert_int_equal(fx.rq[1].hits, 0);
    assert_memory_equal(fx.f1, fx.f2, sizeof(float) * N_IMG * VIEWS * dim);
    tt_featcache_free(fc);

    fixture_free(&fx);
}

/* A decoded copy given with its plain view (made by the caller, on its threads)
 * gives the bits of the bytes' run; the given view is what view 0 is computed
 * from (a wrong one shows), the augmented views still come from the copy. */
static void a_copy_with_its_input(void **state) {
    (void)state;
    const size_t dim = 1280, px = (size_t)SIZE * SIZE * 3;
    fixture fx;
    tt_featcache_free(fixture_start(&fx, NULL, "sha256:aaaa"));
    tt_image im[N_IMG];
    float *in = tt_test_malloc(sizeof(float) * N_IMG * px), *zeros = tt_test_malloc(sizeof(float) * px);
    memset(zeros, 0, sizeof(float) * px);
    tt_feat_request rq[N_IMG];
    for (int i = 0; i < N_IMG; i++) {
        tt_assert_ok(tt_image_training_copy(fx.img[i].data, fx.img[i].len, NULL, SIZE, &im[i]));
        tt_assert_ok(tt_image_to_input(&im[i], SIZE, in + i * px));
    }
    for (int wrong = 0; wrong < 2; wrong++) {
        tt_featcache *fc;
        tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:aaaa", &fx.cfg));
        for (int i = 0; i < N_IMG; i++) {
            rq[i] = (tt_feat_request){.image = &im[i], .input = wrong && i == 2 ? zeros : in + i * px, .hashed = 1};
            memcpy(rq[i].hash, fx.rq[i].hash, sizeof rq[i].hash);
        }
        tt_assert_ok(tt_featcache_run(fc, N_IMG, rq, VIEWS, fx.f2));
        for (int i = 0; i < N_IMG; i++)
            for (int v = 0; v < VIEWS; v++) {
                size_t at = ((size_t)i * VIEWS + v) * dim;
                int same = !memcmp(fx.f1 + at, fx.f2 + at, dim * sizeof(float));
                if (same != !(wrong && i == 2 && v == 0)) fail_msg("wrong input %d: image %d view %d %s", wrong, i, v, same ? "unchanged" : "changed");
            }
        tt_featcache_free(fc);
    }
    for (int i = 0; i < N_IMG; i++) tt_image_free(&im[i]);
    free(in), free(zeros);
    fixture_free(&fx);
}

static void damaged_entries_are_recomputed(void **state) {
    (void)state;
    const int dim = 1280;
    fixture fx;
    tt_featcache *fc = fixture_start(&fx, "fc-torn", "sha256:bbbb");

    /* Torn (half written), a flipped bit in the data, zero length, another key's file. */
    enum { TORN, FLIP, EMPTY, SWAPPED, N_DAMAGE };
    char path[N_DAMAGE][4200];
    for (int k = 0; k < N_DAMAGE; k++) {
        uint8_t key[TT_SHA256_SIZE];
        tt_featcache_key(fc, fx.rq[k].hash, k % VIEWS, key);
        assert_non_null(tt_featcache_path(fc, key, path[k], sizeof path[k]));
    }
    void *bytes;
    size_t len;
    tt_assert_ok(tt_file_read(path[TORN], TT_FILE_MAX, &bytes, &len));
    tt_chunk half = {bytes, len / 2};
    tt_assert_ok(tt_file_write_atomic(path[TORN], &half, 1));
    free(bytes);
    tt_assert_ok(tt_file_read(path[FLIP], TT_FILE_MAX, &bytes, &len));
    ((uint8_t *)bytes)[len - 100] ^= 0x10;
    tt_chunk all = {bytes, len};
    tt_assert_ok(tt_file_write_atomic(path[FLIP], &all, 1));
    free(bytes);
    tt_chunk none = {"", 0};
    tt_assert_ok(tt_file_write_atomic(path[EMPTY], &none, 1));
    /* a valid entry file copied under another key: CRC fine, key wrong */
    uint8_t other_key[TT_SHA256_SIZE];
    char other[4200];
    tt_featcache_key(fc, fx.rq[4].hash, 0, other_key);
    tt_featcache_path(fc, other_key, other, sizeof other);
    tt_assert_ok(tt_file_read(other, TT_FILE_MAX, &bytes, &len));
    all = (tt_chunk){bytes, len};
    tt_assert_ok(tt_file_write_atomic(path[SWAPPED], &all, 1));
    free(bytes);
    tt_featcache_free(fc);

    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:bbbb", &fx.cfg));
    run(fc, fx.img, fx.rq, fx.f2);
    tt_featcache_stats s = tt_featcache_get_stats(fc);
    assert_int_equal(s.recovered, N_DAMAGE);
    assert_int_equal(s.computed, N_DAMAGE);
    assert_int_equal(s.hits, N_IMG * VIEWS - N_DAMAGE);
    assert_memory_equal(fx.f1, fx.f2, sizeof(float) * N_IMG * VIEWS * dim);
    tt_featcache_free(fc);
    /* and they were rewritten whole */
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:bbbb", &fx.cfg));
    run(fc, fx.img, fx.rq, fx.f2);
    s = tt_featcache_get_stats(fc);
    assert_int_equal(s.recovered, 0);
    assert_int_equal(s.computed, 0);
    tt_featcache_free(fc);

    fixture_free(&fx);
}

static void keys_separate_views_backbones_and_augmentation(void **state) {
    (void)state;
    tt_featcache_config a = config(NULL), b = config(NULL);
    b.aug.shear_deg = 5.0f;
    tt_featcache *fa, *fa2, *fb, *fother;
    tt_assert_ok(tt_featcache_open(&fa, g_model, "sha256:1111", &a));
    tt_assert_ok(tt_featcache_open(&fa2, g_model, "sha256:1111", &a));
    tt_assert_ok(tt_featcache_open(&fb, g_model, "sha256:1111", &b));
    tt_assert_ok(tt_featcache_open(&fother, g_model, "sha256:2222", &a));
    uint8_t h[TT_SHA256_SIZE], h2[TT_SHA256_SIZE];
    tt_sha256("image", 5, h);
    tt_sha256("imagf", 5, h2);
    uint8_t k[8][TT_SHA256_SIZE];
    tt_featcache_key(fa, h, 0, k[0]);
    tt_featcache_key(fa, h, 1, k[1]);
    tt_featcache_key(fa, h, 2, k[2]);
    tt_featcache_key(fa, h2, 0, k[3]);
    tt_featcache_key(fother, h, 0, k[4]);
    tt_featcache_key(fb, h, 1, k[5]);
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (!memcmp(k[i], k[j], TT_SHA256_SIZE)) fail_msg("keys %d and %d collide", i, j);
    tt_featcache_key(fa2, h, 1, k[6]);
    assert_memory_equal(k[6], k[1], TT_SHA256_SIZE); /* deterministic across instances */
    tt_featcache_key(fb, h, 0, k[7]);
    assert_memory_equal(k[7], k[0], TT_SHA256_SIZE); /* the plain view ignores augmentation */
    char buf[64];
    assert_null(tt_featcache_path(fa, k[0], buf, sizeof buf)); /* memory only */
    tt_featcache_free(fa), tt_featcache_free(fa2), tt_featcache_free(fb), tt_featcache_free(fother);

    char id[TT_BACKBONE_ID_SIZE];
    tt_backbone_identity("abc", 3, id);
    assert_string_equal(id, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The key covers the whole file: two pictures whose first 120 KB are the same
 * bytes get different hashes, different keys and their own features (hashing a
 * prefix would hand the second the first one's features). */
static void the_key_covers_the_whole_file(void **state) {
    (void)state;
    image_buf twin[2];
    image_fx_twin_bmps(twin);
    assert_int_equal(twin[0].len, twin[1].len);
    assert_true(TWIN_BMP_SHARED > 65536);
    assert_memory_equal(twin[0].data, twin[1].data, TWIN_BMP_SHARED);
    tt_featcache_config c = config(NULL);
    c.keep_in_memory = 1;
    tt_featcache *fc;
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:1111", &c));
    tt_feat_request rq[2];
    float *f = tt_test_malloc(2 * 1280 * sizeof(float)), *g = tt_test_malloc(1280 * sizeof(float));
    for (int i = 0; i < 2; i++) rq[i] = (tt_feat_request){.bytes = twin[i].data, .len = twin[i].len};
    tt_assert_ok(tt_featcache_run(fc, 2, rq, 1, f));
    assert_int_equal(rq[0].status, TT_OK);
    assert_int_equal(rq[1].status, TT_OK);
    if (!memcmp(rq[0].hash, rq[1].hash, TT_SHA256_SIZE)) fail_msg("the two pictures have the same hash");
    uint8_t k0[TT_SHA256_SIZE], k1[TT_SHA256_SIZE];
    tt_featcache_key(fc, rq[0].hash, 0, k0);
    tt_featcache_key(fc, rq[1].hash, 0, k1);
    if (!memcmp(k0, k1, TT_SHA256_SIZE)) fail_msg("the two pictures have the same key");
    assert_int_equal(rq[1].hits, 0); /* computed, not found under the first one's key */
    if (!memcmp(f, f + 1280, 1280 * sizeof(float))) fail_msg("the two pictures got the same features");
    /* Each one's features are its own: a fresh cache computes the second alone. */
    tt_featcache *fresh;
    tt_assert_ok(tt_featcache_open(&fresh, g_model, "sha256:1111", &c));
    tt_assert_ok(tt_featcache_run(fresh, 1, &rq[1], 1, g));
    assert_memory_equal(g, f + 1280, 1280 * sizeof(float));
    tt_featcache_free(fresh);
    tt_featcache_free(fc);
    free(f), free(g);
    image_buf_free(&twin[0]), image_buf_free(&twin[1]);
}

static void memory_mode_keeps_entries(void **state) {
    (void)state;
    fixture fx;
    tt_featcache *fc = fixture_start(&fx, NULL, "sha256:cccc");
    run(fc, fx.img, fx.rq, fx.f2);
    tt_featcache_stats s = tt_featcache_get_stats(fc);
    assert_int_equal(s.computed, N_IMG * VIEWS);
    assert_int_equal(s.hits, N_IMG * VIEWS);
    assert_memory_equal(fx.f1, fx.f2, sizeof(float) * N_IMG * VIEWS * 1280);
    tt_assert_ok(tt_featcache_forget(fc, fx.rq[2].hash, VIEWS));
    run(fc, fx.img, fx.rq, fx.f2);
    assert_int_equal(fx.rq[2].hits, 0);
    assert_int_equal(fx.rq[3].hits, VIEWS);
    assert_int_equal(tt_featcache_get_stats(fc).computed, N_IMG * VIEWS + VIEWS);
    tt_featcache_free(fc);
    fixture_free(&fx);
}

/* Hundreds of memory entries: the slot table and the dense rows both grow,
 * forgotten rows are reused, and lookups by hash see exactly what run computed. */
static void memory_table_grows_and_reuses_rows(void **state) {
    (void)state;
    enum { V = 60 }; /* 5 images x 60 views = 300 entries: past the first 256-slot table */
    image_buf img[N_IMG];
    make_images(img);
    tt_featcache_config cfg = config(NULL);
    cfg.keep_in_memory = 1;
    tt_featcache *fc;
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:dddd", &cfg));
    int dim = tt_featcache_dim(fc);
    size_t n = (size_t)N_IMG * V * dim;
    float *f1 = tt_test_malloc(n * sizeof(float)), *f2 = tt_test_malloc(n * sizeof(float));
    float *one = tt_test_malloc((size_t)dim * sizeof(float));
    tt_feat_request rq[N_IMG];
    for (int i = 0; i < N_IMG; i++) rq[i] = (tt_feat_request){.bytes = img[i].data, .len = img[i].len};
    tt_assert_ok(tt_featcache_run(fc, N_IMG, rq, V, f1));
    tt_assert_ok(tt_featcache_forget(fc, rq[2].hash, V));
    int hit = -1;
    tt_assert_ok(tt_featcache_lookup(fc, rq[2].hash, 7, one, &hit));
    assert_int_equal(hit, 0);
    tt_assert_ok(tt_featcache_run(fc, 1, &rq[2], V, f2)); /* recomputed into reused rows */
    assert_int_equal(rq[2].hits, 0);
    assert_memory_equal(f2, f1 + (size_t)2 * V * dim, (size_t)V * dim * sizeof(float));
    tt_assert_ok(tt_featcache_run(fc, N_IMG, rq, V, f2));
    for (int i = 0; i < N_IMG; i++) assert_int_equal(rq[i].hits, V);
    assert_memory_equal(f1, f2, n * sizeof(float));
    for (int i = 0; i < N_IMG; i++)
        for (int v = 0; v < V; v += 13) {
            tt_assert_ok(tt_featcache_lookup(fc, rq[i].hash, v, one, &hit));
            assert_int_equal(hit, 1);
            assert_memory_equal(one, f1 + ((size_t)i * V + v) * dim, (size_t)dim * sizeof(float));
        }
    uint8_t unknown[TT_SHA256_SIZE] = {1, 2, 3};
    tt_assert_ok(tt_featcache_lookup(fc, unknown, 0, one, &hit));
    assert_int_equal(hit, 0);
    assert_int_equal(tt_featcache_get_stats(fc).computed, (N_IMG + 1) * V);
    tt_featcache_free(fc);
    free(f1), free(f2), free(one);
    for (int i = 0; i < N_IMG; i++) image_buf_free(&img[i]);
}

static void bad_images_fail_alone(void **state) {
    (void)state;
    image_buf good[N_IMG];
    make_images(good);
    image_buf trunc = {0}, text = {0}, empty = {0}, renamed = {0};
    image_buf_put(&trunc, good[1].data, good[1].len / 2); /* a JPEG cut in half */
    const char *t = "this is not an image, whatever its .jpg name says\n";
    image_buf_put(&text, t, strlen(t));
    image_buf huge = image_fx_png_header_only(100000, 100000);
    image_buf corrupt = image_fx_png_header_only(5, 5); /* claims 25 pixels, holds 1 */
    image_buf_put(&renamed, good[0].data, good[0].len);  /* a PNG (as if named .jpg): fine */
    struct {
        const image_buf *b;
        tt_status want;
        const char *reason;
    } cases[] = {
        {&good[0], TT_OK, ""},
        {&empty, TT_ERR_FORMAT, "empty"},
        {&trunc, TT_ERR_CORRUPT, ""},
        {&good[2], TT_OK, ""},
        {&text, TT_ERR_FORMAT, ""},
        {&huge, TT_ERR_LIMIT, "exceeds the limit"},
        {&corrupt, TT_ERR_CORRUPT, ""},
        {&renamed, TT_OK, ""},
    };
    enum { N = sizeof cases / sizeof *cases };
    tt_featcache_config cfg = config(NULL);
    tt_featcache *fc;
    tt_assert_ok(tt_featcache_open(&fc, g_model, "sha256:dddd", &cfg));
    tt_feat_request rq[N];
    float *f = tt_test_malloc(sizeof(float) * N * 2 * 1280), *ref = tt_test_malloc(sizeof(float) * 2 * 1280);
    for (int i = 0; i < N; i++) rq[i] = (tt_feat_request){.bytes = cases[i].b->data, .len = cases[i].b->len};
    tt_assert_ok(tt_featcache_run(fc, N, rq, 2, f));
    for (int i = 0; i < N; i++) {
        if (rq[i].status != cases[i].want)
            fail_msg("case %d: %s (%s), want %s", i, tt_status_name(rq[i].status), rq[i].error, tt_status_name(cases[i].want));
        if (cases[i].want) {
            assert_true(rq[i].error[0] != 0);
            assert_non_null(strstr(rq[i].error, cases[i].reason));
            for (int d = 0; d < 2 * 1280; d++) assert_true(f[(size_t)i * 2 * 1280 + d] == 0.0f);
        } else {
            /* the good ones are unaffected by their bad neighbours */
            tt_feat_request one = {.bytes = cases[i].b->data, .len = cases[i].b->len};
            tt_featcache *fresh;
            tt_assert_ok(tt_featcache_open(&fresh, g_model, "sha256:dddd", &cfg));
            tt_assert_ok(tt_featcache_run(fresh, 1, &one, 2, ref));
            tt_featcache_free(fresh);
            tt_test_assert_close(f + (size_t)i * 2 * 1280, ref, 2 * 1280, 1e-5f, 1e-5f, "good image among bad ones");
        }
    }
    assert_int_equal(tt_featcache_get_stats(fc).failed, 5);
    tt_featcache_free(fc);
    free(f), free(ref);
    image_buf_free(&trunc), image_buf_free(&text), image_buf_free(&huge), image_buf_free(&corrupt);
    image_buf_free(&renamed);
    for (int i = 0; i < N_IMG; i++) image_buf_free(&good[i]);
}

/* --unfreeze K caches the tail's input: the activations entering block 17-K,
 * dim = that block's h·w·cin, under keys that include the block, so entries
 * of another K (or the pooled features) are never served. */
static void tail_inputs_are_keyed_by_unfreeze(void **state) {
    (void)state;
    image_buf img[N_IMG];
    make_images(img);
    char *dir = tt_test_tmpdir("fc-unfreeze");
    static const int ks[] = {0, 1, 2, 5};
    enum { NK = sizeof ks / sizeof *ks };
    tt_featcache *fc[NK];
    uint8_t h[TT_SHA256_SIZE], key[NK][TT_SHA256_SIZE];
    tt_sha256("image", 5, h);
    for (int i = 0; i < NK; i++) {
        tt_featcache_config cfg = config(dir);
        cfg.unfreeze = ks[i];
        tt_assert_ok(tt_featcache_open(&fc[i], g_model, "sha256:dddd", &cfg));
        int want = 1280;
        if (ks[i]) {
            tt_mnv2_block_shape bs;
            tt_assert_ok(tt_mnv2_block_shape_get(g_model, TT_MNV2_BLOCKS - ks[i], &bs));
            want = bs.h_in * bs.w_in * bs.cin;
        }
        assert_int_equal(tt_featcache_dim(fc[i]), want);
        tt_featcache_key(fc[i], h, 0, key[i]);
        for (int j = 0; j < i; j++)
            if (!memcmp(key[i], key[j], TT_SHA256_SIZE)) fail_msg("unfreeze %d and %d share a key", ks[i], ks[j]);
    }
    /* The pooled-feature key is what it was before `unfreeze` existed. */
    tt_featcache_config plain = config(NULL);
    tt_featcache *f0;
    uint8_t k0[TT_SHA256_SIZE];
    tt_assert_ok(tt_featcache_open(&f0, g_model, "sha256:dddd", &plain));
    tt_featcache_key(f0, h, 0, k0);
    assert_memory_equal(k0, key[0], TT_SHA256_SIZE);
    tt_featcache_free(f0);

    /* K = 1: view 0 equals tt_mnv2_forward_until on the plain input; a second
     * pass is all hits; K = 2 on the same directory computes its own. */
    int dim = tt_featcache_dim(fc[1]);
    tt_feat_request rq[N_IMG];
    float *f1 = tt_test_malloc(sizeof(float) * N_IMG * VIEWS * dim), *f2 = tt_test_malloc(sizeof(float) * N_IMG * VIEWS * dim);
    float *in = tt_test_malloc(sizeof(float) * SIZE * SIZE * 3), *ref = tt_test_malloc(sizeof(float) * dim);
    run(fc[1], img, rq, f1);
    tt_image im;
    tt_assert_ok(tt_image_training_copy(img[0].data, img[0].len, NULL, SIZE, &im));
    tt_assert_ok(tt_image_to_input(&im, SIZE, in));
    tt_image_free(&im);
    tt_assert_ok(tt_mnv2_forward_until(g_model, 1, in, TT_MNV2_BLOCKS - 1, ref));
    tt_test_assert_close(f1, ref, dim, 1e-5f, 1e-5f, "view 0 vs forward_until");
    run(fc[1], img, rq, f2);
    assert_int_equal(tt_featcache_get_stats(fc[1]).hits, N_IMG * VIEWS);
    assert_memory_equal(f1, f2, sizeof(float) * N_IMG * VIEWS * dim);
    float *f3 = tt_test_malloc(sizeof(float) * N_IMG * VIEWS * tt_featcache_dim(fc[2]));
    run(fc[2], img, rq, f3);
    tt_featcache_stats s2 = tt_featcache_get_stats(fc[2]);
    assert_int_equal(s2.hits, 0);
    assert_int_equal(s2.computed, N_IMG * VIEWS);
    free(f1), free(f2), free(f3), free(in), free(ref);
    for (int i = 0; i < NK; i++) tt_featcache_free(fc[i]);

    static const int bad[] = {-1, TT_MNV2_BLOCKS + 1};
    for (int i = 0; i < 2; i++) {
        tt_featcache_config cfg = config(NULL);
        cfg.unfreeze = bad[i];
        tt_featcache *x;
        assert_int_equal(tt_featcache_open(&x, g_model, "sha256:dddd", &cfg), TT_ERR_INVALID_ARG);
    }
    for (int i = 0; i < N_IMG; i++) image_buf_free(&img[i]);
    tt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misses_hits_and_persistence),
        cmocka_unit_test(a_copy_with_its_input),
        cmocka_unit_test(damaged_entries_are_recomputed),
        cmocka_unit_test(keys_separate_views_backbones_and_augmentation),
        cmocka_unit_test(the_key_covers_the_whole_file),
        cmocka_unit_test(memory_mode_keeps_entries),
        cmocka_unit_test(memory_table_grows_and_reuses_rows),
        cmocka_unit_test(bad_images_fail_alone),
        cmocka_unit_test(tail_inputs_are_keyed_by_unfreeze),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
