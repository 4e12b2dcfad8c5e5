/* Model files: save/load round trip of the head and metadata (class names
 * with quotes, backslashes, UTF-8), checkpoints (extra tensors and keys) load
 * as models, missing metadata and wrong shapes are refused, the backbone
 * identity is checked; a fine-tuned tail ("backbone.*") round-trips and is
 * refused with a wrong K, a missing tensor or a wrong shape; the JSON readers
 * underneath. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnv2_synth.h"
#include "support/tmpdir.h"
#include "tabtrain/json.h"
#include "tabtrain/model_file.h"
#include "tt_test.h"

static char *names[] = {"cat", "say \"hi\"", "back\\slash", "\xc3\xa9t\xc3\xa9", "tab\there"};
enum { C = 5 };

static void make_head(tt_head *h, int hidden) {
    tt_head_config hc = {.in = 16, .hidden = hidden, .classes = C, .dropout = 0.25f};
    tt_rng r;
    tt_rng_seed(&r, 3, TT_STREAM_INIT);
    tt_assert_ok(tt_head_init(h, &hc, 8, &r));
    tt_named_tensor *p;
    int n = tt_head_params(h, &p);
    for (int i = 0; i < n; i++) /* biases non-zero too */
        tt_test_fill(p[i].data, tt_named_tensor_numel(&p[i]), 10 + (uint64_t)i, -1, 1);
}

static void round_trip(void **state) {
    (void)state;
    char *dir = tt_test_tmpdir("model");
    char path[4200];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    for (int hidden = 0; hidden <= 7; hidden += 7) {
        tt_head h;
        make_head(&h, hidden);
        tt_model_meta meta = {.n_classes = C, .classes = names, .head = h.cfg, .backbone_id = "sha256:abc",
                              .preprocess = "{\"input_size\":224}", .config = "{\"epochs\":3}", .history = "[]"};
        tt_assert_ok(tt_model_save(path, &meta, &h, NULL));
        tt_model m;
        tt_assert_ok(tt_model_load_file(&m, path, 4));
        assert_string_equal(m.kind, "model");
        assert_int_equal(m.n_classes, C);
        for (int c = 0; c < C; c++) assert_string_equal(m.classes[c], names[c]);
        assert_int_equal(m.head.cfg.in, 16);
        assert_int_equal(m.head.cfg.hidden, hidden);
        assert_true(m.head.cfg.dropout == 0.25f);
        assert_string_equal(m.backbone_id, "sha256:abc");
        assert_string_equal(m.preprocess, "{\"input_size\":224}");
        assert_string_equal(m.config, "{\"epochs\":3}");
        /* same weights: same predictions (also beyond max_batch rows) */
        float x[10 * 16], p1[10 * C], p2[10 * C];
        tt_test_fill(x, 10 * 16, 5, 0, 2);
        tt_head_predict(&h, 10, x, p1);
        tt_head_predict(&m.head, 10, x, p2);
        assert_memory_equal(p1, p2, sizeof p1);
        tt_assert_ok(tt_model_check_backbone(&m, "sha256:abc"));
        assert_int_equal(tt_model_check_backbone(&m, "sha256:abd"), TT_ERR_MISMATCH);
        assert_non_null(strstr(tt_last_error(), "sha256:abc"));
        assert_non_null(strstr(tt_last_error(), "sha256:abd"));
        tt_model_free(&m);
        tt_head_free(&h);
    }
    tt_test_rmtree(dir);
    free(dir);
}

static void checkpoint_superset_and_refusals(void **state) {
    (void)state;
    tt_head h;
    make_head(&h, 0);
    tt_model_meta meta = {.kind = "checkpoint", .n_classes = C, .classes = names, .head = h.cfg,
                          .backbone_id = "sha256:abc", .unfreeze = 2};
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    tt_assert_ok(tt_model_meta_write(b, &meta));
    tt_assert_ok(tt_model_add_head(b, &h));
    float extra[C * 16] = {0};
    int64_t shape[2] = {C, 16};
    tt_assert_ok(tt_st_add(b, "adam_m.head.logits.kernel", TT_DTYPE_F32, 2, shape, extra));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.trainer", "{\"epoch\":3}"));
    void *bytes;
    size_t len;
    tt_assert_ok(tt_st_write_memory(b, &bytes, &len));
    tt_st_builder_free(b);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, bytes, len));
    tt_model m;
    tt_assert_ok(tt_model_load(&m, f, 2));
    assert_string_equal(m.kind, "checkpoint");
    assert_int_equal(m.unfreeze, 2);
    assert_null(m.preprocess);
    tt_model_free(&m);
    tt_st_close(f);
    free(bytes);

    /* refusals: each a file missing something or disagreeing */
    static const struct {
        const char *drop_key, *head_json, *classes_json;
        int drop_tensor;
        tt_status want;
        const char *msg;
    } bad[] = {
        {"tabtrain.classes", NULL, NULL, 0, TT_ERR_FORMAT, "tabtrain.classes"},
        {"tabtrain.backbone", NULL, NULL, 0, TT_ERR_FORMAT, "tabtrain.backbone"},
        {NULL, "{\"in_dim\":16,\"hidden\":0,\"classes\":4}", NULL, 0, TT_ERR_SHAPE, "4 classes"},
        {NULL, "{\"in_dim\":17,\"hidden\":0,\"classes\":5}", NULL, 0, TT_ERR_SHAPE, "head.logits.kernel"},
        {NULL, "{\"hidden\":0,\"classes\":5}", NULL, 0, TT_ERR_NOT_FOUND, "in_dim"},
        {NULL, NULL, "[\"a\",2]", 0, TT_ERR_FORMAT, "array of strings"},
        {NULL, NULL, NULL, 1, TT_ERR_NOT_FOUND, ""},
        /* a head of 10^14 parameters claimed by a small file: refused before anything is sized from it */
        {NULL, "{\"in_dim\":10000000,\"hidden\":10000000,\"classes\":5}", NULL, 0, TT_ERR_NOT_FOUND, "head.hidden.kernel"},
        {NULL, "{\"in_dim\":16,\"hidden\":0,\"classes\":5,\"x\"}", NULL, 0, TT_ERR_FORMAT, "without a value"},
        {NULL, "{\"in_dim\":16,\"hidden\":0,\"classes\":5,\"in_dim\":17}", NULL, 0, TT_ERR_FORMAT, "given twice"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        tt_assert_ok(tt_st_builder_new(&b));
        tt_assert_ok(tt_st_set_metadata(b, "tabtrain.kind", "model"));
        if (!bad[k].drop_key || strcmp(bad[k].drop_key, "tabtrain.classes"))
            tt_assert_ok(tt_st_set_metadata(b, "tabtrain.classes", bad[k].classes_json ? bad[k].classes_json
                                                 : "[\"a\",\"b\",\"c\",\"d\",\"e\"]"));
        tt_assert_ok(tt_st_set_metadata(b, "tabtrain.head", bad[k].head_json ? bad[k].head_json
                                            : "{\"in_dim\":16,\"hidden\":0,\"classes\":5}"));
        if (!bad[k].drop_key || strcmp(bad[k].drop_key, "tabtrain.backbone"))
            tt_assert_ok(tt_st_set_metadata(b, "tabtrain.backbone", "sha256:abc"));
        tt_named_tensor *p;
        int n = tt_head_params(&h, &p);
        for (int i = bad[k].drop_tensor; i < n; i++)
            tt_assert_ok(tt_st_add(b, p[i].name, TT_DTYPE_F32, p[i].ndim, p[i].shape, p[i].data));
        tt_assert_ok(tt_st_write_memory(b, &bytes, &len));
        tt_st_builder_free(b);
        tt_assert_ok(tt_st_open_memory(&f, bytes, len));
        tt_status st = tt_model_load(&m, f, 2);
        if (st != bad[k].want || !strstr(tt_last_error(), bad[k].msg))
            fail_msg("case %zu: %s '%s', want %s '%s'", k, tt_status_name(st), tt_last_error(),
                     tt_status_name(bad[k].want), bad[k].msg);
        tt_st_close(f);
        free(bytes);
    }
    tt_head_free(&h);
}

/* A tail of K blocks on a small random backbone. */
typedef struct tail_net {
    void *bytes;
    tt_st_file *f;
    tt_mnv2 *m;
} tail_net;

static tail_net make_tail_net(void) {
    tail_net n;
    size_t len;
    n.bytes = tt_test_mnv2_synth(8, 16, 0, NULL, NULL, &len);
    tt_assert_ok(tt_st_open_memory(&n.f, n.bytes, len));
    tt_assert_ok(tt_mnv2_init(&n.m, n.f, 32));
    return n;
}

static void free_tail_net(tail_net *n) {
    tt_mnv2_free(n->m);
    tt_st_close(n->f);
    free(n->bytes);
}

static float *tail_slab(tt_tail *t) {
    tt_named_tensor *p;
    tt_tail_params(t, &p);
    return p[0].data;
}

/* A model file of `head` and `tail`'s tensors, tensor `skip` left out and
 * tensor `transpose` saved with its first and last dims swapped. */
static void *model_bytes(tt_head *h, tt_tail *tail, int unfreeze, const char *skip, const char *transpose,
                         size_t *len) {
    tt_model_meta meta = {.n_classes = C, .classes = names, .head = h->cfg, .backbone_id = "sha256:abc",
                          .unfreeze = unfreeze};
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    tt_assert_ok(tt_model_meta_write(b, &meta));
    tt_assert_ok(tt_model_add_head(b, h));
    tt_named_tensor *p;
    int n = tt_tail_params(tail, &p);
    for (int i = 0; i < n; i++) {
        if (skip && !strcmp(p[i].name, skip)) continue;
        int64_t shape[TT_TENSOR_MAX_DIMS];
        memcpy(shape, p[i].shape, sizeof shape);
        if (transpose && !strcmp(p[i].name, transpose))
            shape[0] = p[i].shape[p[i].ndim - 1], shape[p[i].ndim - 1] = p[i].shape[0];
        tt_assert_ok(tt_st_add(b, p[i].name, TT_DTYPE_F32, p[i].ndim, shape, p[i].data));
    }
    void *bytes;
    tt_assert_ok(tt_st_write_memory(b, &bytes, len));
    tt_st_builder_free(b);
    return bytes;
}

static void fine_tuned_tail_round_trip_and_refusals(void **state) {
    (void)state;
    tail_net n = make_tail_net();
    tt_head h;
    tt_head_config hc = {.in = 16, .hidden = 0, .classes = C};
    tt_rng r;
    tt_rng_seed(&r, 3, TT_STREAM_INIT);
    tt_assert_ok(tt_head_init(&h, &hc, 4, &r));
    tt_tail *trained, *fresh;
    tt_assert_ok(tt_tail_init(&trained, n.m, n.f, 2, 4));
    tt_assert_ok(tt_tail_init(&fresh, n.m, n.f, 2, 4));
    size_t nf = tt_tail_get_info(trained).params;
    tt_test_fill(tail_slab(trained), nf, 21, -0.5f, 0.5f); /* "trained": differs from the backbone */
    float *orig = tt_test_malloc(nf * sizeof(float));
    memcpy(orig, tail_slab(fresh), nf * sizeof(float));

    char *dir = tt_test_tmpdir("model-tail");
    char path[4200];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    tt_model_meta meta = {.n_classes = C, .classes = names, .head = h.cfg, .backbone_id = "sha256:abc",
                          .unfreeze = 1};
    assert_int_equal(tt_model_save(path, &meta, &h, trained), TT_ERR_INVALID_ARG); /* K disagrees */
    meta.unfreeze = 2;
    tt_assert_ok(tt_model_save(path, &meta, &h, trained));
    tt_model m;
    tt_assert_ok(tt_model_load_file(&m, path, 4));
    assert_int_equal(m.unfreeze, 2);
    assert_int_equal(m.n_backbone, tt_tail_params(trained, &(tt_named_tensor *){0}));
    tt_assert_ok(tt_model_load_tail(&m, fresh));
    assert_memory_equal(tail_slab(fresh), tail_slab(trained), nf * sizeof(float));
    tt_tail *k1;
    tt_assert_ok(tt_tail_init(&k1, n.m, n.f, 1, 4));
    assert_int_equal(tt_model_load_tail(&m, k1), TT_ERR_MISMATCH);
    tt_tail_free(k1);
    tt_model_free(&m);

    /* Damaged files leave the tail as the backbone made it. */
    static const struct {
        const char *skip, *transpose;
        tt_status want;
    } bad[] = {
        {"backbone.block15.project.weight", NULL, TT_ERR_FORMAT},
        {NULL, "backbone.block16.expand.weight", TT_ERR_SHAPE},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memcpy(tail_slab(fresh), orig, nf * sizeof(float));
        size_t len;
        void *bytes = model_bytes(&h, trained, 2, bad[k].skip, bad[k].transpose, &len);
        tt_st_file *f;
        tt_assert_ok(tt_st_open_memory(&f, bytes, len));
        tt_assert_ok(tt_model_load(&m, f, 4));
        tt_status st = tt_model_load_tail(&m, fresh);
        const char *name = bad[k].skip ? bad[k].skip : bad[k].transpose;
        if (st != bad[k].want || (bad[k].transpose && !strstr(tt_last_error(), name)))
            fail_msg("case %zu: %s '%s', want %s naming %s", k, tt_status_name(st), tt_last_error(),
                     tt_status_name(bad[k].want), name);
        assert_memory_equal(tail_slab(fresh), orig, nf * sizeof(float));
        tt_model_free(&m);
        tt_st_close(f);
        free(bytes);
    }
    free(orig);
    tt_tail_free(trained), tt_tail_free(fresh);
    tt_head_free(&h);
    free_tail_net(&n);
    tt_test_rmtree(dir);
    free(dir);
}

static void json_readers(void **state) {
    (void)state;
    char **v;
    int n;
    tt_assert_ok(tt_json_string_array("[\"a\\\"b\", \"\\u00e9\\n\", \"\\ud83d\\ude00\", \"\"]", &v, &n));
    assert_int_equal(n, 4);
    assert_string_equal(v[0], "a\"b");
    assert_string_equal(v[1], "\xc3\xa9\n");
    assert_string_equal(v[2], "\xf0\x9f\x98\x80");
    assert_string_equal(v[3], "");
    tt_json_free_strings(v, n);
    tt_assert_ok(tt_json_string_array("[]", &v, &n));
    assert_int_equal(n, 0);
    tt_json_free_strings(v, n);
    const char *bad[] = {"", "[", "{\"a\":1}", "[[\"x\"]]", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tt_json_string_array(bad[i], &v, &n) != TT_ERR_FORMAT) fail_msg("accepted %s", bad[i]);
    double x;
    const char *obj = "{\"nested\":{\"hidden\":99,\"l\":[1,2]},\"hidden\":128,\"d\":-2.5e-1,\"z\":null,\"s\":\"7\"}";
    tt_assert_ok(tt_json_number(obj, "hidden", &x));
    assert_true(x == 128);
    tt_assert_ok(tt_json_number(obj, "d", &x));
    assert_true(x == -0.25);
    tt_assert_ok(tt_json_number(obj, "z", &x));
    assert_true(isnan(x));
    assert_int_equal(tt_json_number(obj, "s", &x), TT_ERR_FORMAT);
    assert_int_equal(tt_json_number(obj, "l", &x), TT_ERR_NOT_FOUND); /* only top-level members */
    assert_int_equal(tt_json_number("[1]", "a", &x), TT_ERR_FORMAT);
    /* a lone surrogate: jsmn lets it through, the decoder refuses it */
    assert_int_equal(tt_json_string_array("[\"\\ud800x\"]", &v, &n), TT_ERR_FORMAT);
    char buf[16];
    assert_int_equal(tt_json_unescape("a\\u0000b", 8, buf), 3); /* NUL decoded: 3 > strlen */
    assert_int_equal(tt_json_unescape("\\ude00", 6, buf), (size_t)-1);
    assert_int_equal(tt_json_unescape("\\q", 2, buf), (size_t)-1);

    /* the walker: nested objects and arrays, absent values chain to -1 */
    tt_json j;
    tt_assert_ok(tt_json_parse(&j, obj));
    int64_t i64;
    int nested = tt_json_key(&j, 0, "nested"), list = tt_json_key(&j, nested, "l");
    assert_true(tt_json_num(&j, tt_json_key(&j, nested, "hidden"), &x, 0) && x == 99);
    assert_int_equal(tt_json_len(&j, list), 2);
    assert_true(tt_json_i64(&j, tt_json_at(&j, list, 1), &i64) && i64 == 2);
    assert_int_equal(tt_json_at(&j, list, 2), -1);
    assert_int_equal(tt_json_key(&j, tt_json_key(&j, 0, "none"), "l"), -1);
    assert_false(tt_json_num(&j, tt_json_key(&j, 0, "s"), &x, 0)); /* a string, not a number */
    /* every member in order: keys, and values at the next index */
    int members = tt_json_members(&j, 0), seen_nested = 0;
    assert_true(members >= 2);
    for (int k = 0; k < members; k++) {
        int key = tt_json_member(&j, 0, k);
        assert_true(key > 0);
        seen_nested += tt_json_eq(&j, key, "nested") && key + 1 == nested;
    }
    assert_int_equal(seen_nested, 1);
    assert_int_equal(tt_json_member(&j, 0, members), -1);
    assert_int_equal(tt_json_members(&j, list), -1); /* an array, not an object */
    tt_json_free(&j);
    int b = -1;
    char *str;
    tt_assert_ok(tt_json_parse(&j, "[true,false,\"t\",\"caf\\u00e9\",\"\\ud800\",1]"));
    assert_true(tt_json_bool(&j, tt_json_at(&j, 0, 0), &b) && b == 1);
    assert_true(tt_json_bool(&j, tt_json_at(&j, 0, 1), &b) && b == 0);
    assert_false(tt_json_bool(&j, tt_json_at(&j, 0, 2), &b)); /* the string "t" */
    tt_assert_ok(tt_json_string(&j, tt_json_at(&j, 0, 3), &str));
    assert_string_equal(str, "caf\xc3\xa9");
    free(str);
    assert_int_equal(tt_json_string(&j, tt_json_at(&j, 0, 4), &str), TT_ERR_FORMAT); /* lone surrogate */
    assert_int_equal(tt_json_string(&j, tt_json_at(&j, 0, 5), &str), TT_ERR_FORMAT); /* a number */
    assert_null(str);
    tt_json_free(&j);

    /* jsmn takes a key without a value and a repeated key; the walker refuses
     * both, at any depth, so no reader steps past the last token or sees two
     * values for one name (the same key in two objects is fine) */
    const char *refused[] = {"{\"\"}", "{\"a\"}", "{\"a\":1,\"b\"}", "[{\"name\"\"\"\"name\"}]",
                             "{\"a\":1,\"a\":2}", "{\"x\":{\"k\":1,\"j\":[{\"k\":1,\"k\":1}]}}",
                             "[{\"id\":1,\"name\":\"a\",\"name\":\"b\"}]"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        j.n = -1;
        tt_status st = tt_json_parse(&j, refused[i]);
        if (st != TT_ERR_FORMAT || !(strstr(tt_last_error(), "without a value") || strstr(tt_last_error(), "twice")))
            fail_msg("%s: %s '%s'", refused[i], tt_status_name(st), tt_last_error());
        assert_int_equal(j.n, 0);
        tt_json_free(&j);
    }
    tt_assert_ok(tt_json_parse(&j, "{\"a\":{\"a\":1,\"b\":{}},\"b\":[{\"a\":2},{\"a\":3}],\"ab\":0}"));
    assert_int_equal(tt_json_members(&j, 0), 3);
    tt_json_free(&j);
    assert_int_equal(tt_json_number("{\"\"}", "x", &x), TT_ERR_FORMAT);

    /* names out and back in */
    char *const names[] = {"cat", "caf\xc3\xa9 \"x\"", ""};
    char *list_js = tt_json_string_list(names, 3);
    assert_non_null(list_js);
    tt_assert_ok(tt_json_string_array(list_js, &v, &n));
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) assert_string_equal(v[i], names[i]);
    tt_json_free_strings(v, n);
    free(list_js);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(checkpoint_superset_and_refusals),
        cmocka_unit_test(fine_tuned_tail_round_trip_and_refusals),
        cmocka_unit_test(json_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
