/* tabtrain/onnx.h: the ONNX graph of an export, read back with protobuf-c.
 * (That ONNX Runtime computes tabtrain's probabilities from it is the
 * export_onnx CLI test; here the structure, the weight layouts and the
 * refusals, in every build including wasm.) */
#include <stdlib.h>
#include <string.h>

#include "mnv2_synth.h"
#include "onnx.pb-c.h"
#include "tabtrain/onnx.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

enum { C0 = 8, FEAT = 16, CLASSES = 3, HIDDEN = 5, SIZE = 32 };

/* An export of a random width-8 MobileNetV2 with a hidden layer: the backbone
 * tensors (but `skip`) plus head.hidden/logits and the export metadata. */
static void *export_bytes(const char *kind, const char *skip, size_t *len) {
    size_t blen;
    void *bb = tt_test_mnv2_synth(C0, FEAT, 0, NULL, NULL, &blen);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, bb, blen));
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    for (size_t i = 0; i < tt_st_count(f); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(f, i);
        if (!skip || strcmp(t->name, skip)) tt_assert_ok(tt_st_add(b, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    static float hk[HIDDEN * FEAT], hb[HIDDEN], lk[CLASSES * HIDDEN], lb[CLASSES];
    tt_test_fill(hk, HIDDEN * FEAT, 1, -1, 1), tt_test_fill(hb, HIDDEN, 2, -1, 1);
    tt_test_fill(lk, CLASSES * HIDDEN, 3, -1, 1), tt_test_fill(lb, CLASSES, 4, -1, 1);
    static const int64_t shapes[4][2] = {{HIDDEN, FEAT}, {HIDDEN}, {CLASSES, HIDDEN}, {CLASSES}};
    static const char *const names[4] = {"head.hidden.kernel", "head.hidden.bias", "head.logits.kernel",
                                         "head.logits.bias"};
    const float *data[4] = {hk, hb, lk, lb};
    for (int i = 0; i < 4; i++)
        if (!skip || strcmp(names[i], skip)) tt_assert_ok(tt_st_add(b, names[i], TT_DTYPE_F32, 2 - i % 2, shapes[i], data[i]));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.kind", kind));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.input_size", "32"));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.classes", "[\"a\",\"b\",\"c\"]"));
    void *out;
    tt_assert_ok(tt_st_write_memory(b, &out, len));
    tt_st_builder_free(b);
    tt_st_close(f);
    free(bb);
    return out;
}

static tt_status onnx_of(const char *kind, const char *skip, Onnx__ModelProto **model) {
    size_t len, onnx_len = 0;
    void *bytes = export_bytes(kind, skip, &len), *onnx = NULL;
    tt_st_file *ex;
    tt_assert_ok(tt_st_open_memory(&ex, bytes, len));
    tt_status st = tt_onnx_from_export(ex, &onnx, &onnx_len);
    *model = st ? NULL : onnx__model_proto__unpack(NULL, onnx_len, onnx);
    if (!st) assert_non_null(*model);
    else assert_null(onnx);
    tt_st_close(ex);
    free(bytes), free(onnx);
    return st;
}

static const Onnx__TensorProto *init_named(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    fail_msg("no initializer %s", name);
    return NULL;
}

static size_t count_op(const Onnx__GraphProto *g, const char *op) {
    size_t n = 0;
    for (size_t i = 0; i < g->n_node; i++) n += !strcmp(g->node[i]->op_type, op);
    return n;
}

static void graph_of_an_export(void **state) {
    (void)state;
    Onnx__ModelProto *m;
    tt_assert_ok(onnx_of("export", NULL, &m));
    assert_int_equal(m->ir_version, 8);
    assert_int_equal(m->n_opset_import, 1);
    assert_int_equal(m->opset_import[0]->version, 13);
    const Onnx__GraphProto *g = m->graph;
    /* Signature: input [batch][3][32][32], logits and probabilities [batch][3]. */
    assert_int_equal(g->n_input, 1);
    assert_string_equal(g->input[0]->name, "input");
    const Onnx__TensorShapeProto *in = g->input[0]->type->tensor_type->shape;
    assert_int_equal(in->n_dim, 4);
    assert_string_equal(in->dim[0]->dim_param, "batch");
    assert_int_equal(in->dim[1]->dim_value, 3);
    assert_int_equal(in->dim[3]->dim_value, SIZE);
    assert_int_equal(g->n_output, 2);
    assert_string_equal(g->output[1]->name, "probabilities");
    assert_int_equal(g->output[1]->type->tensor_type->shape->dim[1]->dim_value, CLASSES);
    /* stem + 17 depthwise + 17 project + 16 expand + the 1x1 head conv. */
    assert_int_equal(count_op(g, "Conv"), 1 + 17 + 17 + 16 + 1);
    assert_int_equal(count_op(g, "Clip"), 1 + 17 + 16 + 1);
    assert_int_equal(count_op(g, "Gemm"), 2);
    assert_int_equal(count_op(g, "Relu"), 1);
    assert_int_equal(count_op(g, "Softmax"), 1);
    assert_true(count_op(g, "Add") > 0);
    /* Weight layouts: OHWI stem -> OIHW, 1HWC depthwise -> C1HW, head kernels as stored. */
    size_t blen;
    void *bb = tt_test_mnv2_synth(C0, FEAT, 0, NULL, NULL, &blen);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, bb, blen));
    const tt_st_tensor *stem = tt_st_find(f, "stem.weight"), *dw = tt_st_find(f, "block1.depthwise.weight");
    const Onnx__TensorProto *os = init_named(g, "stem.weight"), *odw = init_named(g, "block1.depthwise.weight");
    assert_int_equal(os->n_dims, 4);
    assert_int_equal(os->dims[0], C0);
    assert_int_equal(os->dims[1], 3);
    const float *src = stem->data, *dst = (const float *)os->raw_data.data;
    for (int o = 0; o < C0; o++)
        for (int i = 0; i < 3; i++)
            for (int yx = 0; yx < 9; yx++) assert_true(dst[(o * 3 + i) * 9 + yx] == src[(o * 9 + yx) * 3 + i]);
    int hid = (int)dw->shape[3];
    assert_int_equal(odw->dims[0], hid);
    assert_int_equal(odw->dims[1], 1);
    src = dw->data, dst = (const float *)odw->raw_data.data;
    for (int c = 0; c < hid; c++)
        for (int yx = 0; yx < 9; yx++) assert_true(dst[c * 9 + yx] == src[yx * hid + c]);
    const Onnx__TensorProto *lk = init_named(g, "head.logits.kernel");
    assert_int_equal(lk->dims[0], CLASSES);
    assert_int_equal(lk->dims[1], HIDDEN);
    /* The class names travel with the model. */
    int found = 0;
    for (size_t i = 0; i < m->n_metadata_props; i++)
        found |= !strcmp(m->metadata_props[i]->key, "tabtrain.classes") &&
                 !strcmp(m->metadata_props[i]->value, "[\"a\",\"b\",\"c\"]");
    assert_true(found);
    tt_st_close(f);
    free(bb);
    onnx__model_proto__free_unpacked(m, NULL);
}

static void refusals(void **state) {
    (void)state;
    Onnx__ModelProto *m;
    assert_int_equal(onnx_of("model", NULL, &m), TT_ERR_FORMAT);
    assert_non_null(strstr(tt_last_error(), "need an export"));
    assert_int_equal(onnx_of("export", "block5.project.bias", &m), TT_ERR_FORMAT);
    assert_non_null(strstr(tt_last_error(), "block5.project.bias"));
    assert_int_equal(onnx_of("export", "head.logits.kernel", &m), TT_ERR_FORMAT);
    assert_non_null(strstr(tt_last_error(), "head.logits.kernel"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_of_an_export),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
