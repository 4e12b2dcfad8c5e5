/* An export as an ONNX model (tabtrain/onnx.h), encoded by protobuf-c. */
#include "tabtrain/onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "tabtrain/arena.h"
#include "tabtrain/conv.h"
#include "tabtrain/fileio.h"
#include "tabtrain/mobilenet.h"

#define TT_ONNX_IR_VERSION 8 /* ONNX 1.12, what Debian's onnx.proto describes */
#define TT_ONNX_OPSET 13
/* Stem + 17 blocks of at most 3 convs, a clip each, a residual add, head conv,
 * pool, flatten, classifier: 128 nodes fit any MobileNetV2, with room. */
#define TT_ONNX_MAX_NODES 192
#define TT_ONNX_MAX_INITS 192
#define TT_ONNX_MAX_ATTRS 5
#define TT_ONNX_MESSAGES_BYTES (4u << 20)

/* Every message, string and transposed weight lives in one arena, freed at
 * once when the bytes are packed. The first error sticks in `st`, so the
 * graph code reads as a list of layers, checked once at the end. */
typedef struct tt_onnx_graph {
    tt_arena *a;
    const tt_st_file *ex;
    tt_status st;
    Onnx__NodeProto *nodes[TT_ONNX_MAX_NODES];
    size_t n_nodes;
    Onnx__TensorProto *inits[TT_ONNX_MAX_INITS];
    size_t n_inits;
} tt_onnx_graph;

static const float tt_onnx_relu6_bounds[2] = {0.0f, 6.0f};

static void *g_alloc(tt_onnx_graph *g, size_t bytes) {
    if (g->st) return NULL;
    void *p = tt_arena_alloc(g->a, bytes);
    if (!p) g->st = TT_ERR_NOMEM;
    else memset(p, 0, bytes);
    return p;
}

static char *g_str(tt_onnx_graph *g, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *s = g_alloc(g, strlen(tmp) + 1);
    return s ? strcpy(s, tmp) : NULL;
}

/* A float initializer; `data` is little-endian f32 (safetensors' byte order,
 * and ONNX raw_data's), kept by reference until the model is packed. */
static void g_init(tt_onnx_graph *g, const char *name, int ndim, const int64_t *dims, const void *data,
                   size_t bytes) {
    Onnx__TensorProto *t = g_alloc(g, sizeof *t);
    int64_t *d = g_alloc(g, sizeof *d * (ndim ? (size_t)ndim : 1));
    if (!t || !d) return;
    if (g->n_inits == TT_ONNX_MAX_INITS) {
        g->st = tt_error(TT_ERR_LIMIT, "onnx: more than %d weight tensors", TT_ONNX_MAX_INITS);
        return;
    }
    onnx__tensor_proto__init(t);
    memcpy(d, dims, sizeof *d * (size_t)ndim);
    t->n_dims = (size_t)ndim, t->dims = d;
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = (char *)name;
    t->has_raw_data = 1, t->raw_data.len = bytes, t->raw_data.data = (uint8_t *)data;
    g->inits[g->n_inits++] = t;
}

static Onnx__NodeProto *g_node(tt_onnx_graph *g, const char *op, const char *out, int n_in, ...) {
    Onnx__NodeProto *n = g_alloc(g, sizeof *n);
    char **in = g_alloc(g, sizeof *in * (size_t)n_in);
    char **outs = g_alloc(g, sizeof *outs);
    Onnx__AttributeProto **attrs = g_alloc(g, sizeof *attrs * TT_ONNX_MAX_ATTRS);
    if (!n || !in || !outs || !attrs) return NULL;
    if (g->n_nodes == TT_ONNX_MAX_NODES) {
        g->st = tt_error(TT_ERR_LIMIT, "onnx: more than %d nodes", TT_ONNX_MAX_NODES);
        return NULL;
    }
    onnx__node_proto__init(n);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) in[i] = va_arg(ap, char *);
    va_end(ap);
    outs[0] = (char *)out;
    n->n_input = (size_t)n_in, n->input = in;
    n->n_output = 1, n->output = outs;
    n->name = (char *)out;
    n->op_type = (char *)op;
    n->attribute = attrs;
    g->nodes[g->n_nodes++] = n;
    return n;
}

/* An INT or INTS attribute (n < 0: the single int v[0]). */
static void g_attr(tt_onnx_graph *g, Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = g_alloc(g, sizeof *a);
    int64_t *ints = count > 0 ? g_alloc(g, sizeof *ints * (size_t)count) : NULL;
    if (!n || !a || (count > 0 && !ints)) return;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    if (count < 0) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1, a->i = v[0];
    } else {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        memcpy(ints, v, sizeof *ints * (size_t)count);
        a->n_ints = (size_t)count, a->ints = ints;
    }
    n->attribute[n->n_attribute++] = a;
}

static const tt_st_tensor *g_tensor(tt_onnx_graph *g, const char *name, int ndim) {
    if (g->st) return NULL;
    const tt_st_tensor *t = tt_st_find(g->ex, name);
    if (!t) g->st = tt_error(TT_ERR_FORMAT, "onnx: the export lacks %s", name);
    else if (t->dtype != TT_DTYPE_F32 || t->ndim != ndim)
        g->st = tt_error(TT_ERR_SHAPE, "onnx: %s is not a %d-d float tensor", name, ndim);
    return g->st ? NULL : t;
}

/* One conv layer `layer` (+ ReLU6) on x [n][*c][*h][*h]; returns its output
 * name and updates *c and *h. The weights go from OHWI (depthwise 1HWC) to
 * OIHW (depthwise C1HW); TensorFlow SAME padding puts the odd pixel after. */
static const char *g_conv(tt_onnx_graph *g, const char *x, int *c, int *h, const char *layer, int stride,
                          int depthwise, int relu6) {
    char *wname = g_str(g, "%s.weight", layer), *bname = g_str(g, "%s.bias", layer);
    const tt_st_tensor *w = wname ? g_tensor(g, wname, 4) : NULL;
    const tt_st_tensor *b = bname ? g_tensor(g, bname, 1) : NULL;
    if (!w || !b) return NULL;
    int64_t o = depthwise ? w->shape[3] : w->shape[0], i = depthwise ? 1 : w->shape[3];
    int64_t k = w->shape[1];
    if (w->shape[2] != k || (depthwise ? w->shape[0] != 1 || o != *c : i != *c) || b->shape[0] != o) {
        g->st = tt_error(TT_ERR_SHAPE, "onnx: %s does not fit a %d-channel input", wname, *c);
        return NULL;
    }
    const float *src = w->data;
    const void *data = src;
    size_t count = (size_t)(o * i * k * k);
    if (depthwise || k > 1) { /* a 1x1 OHWI kernel is already OIHW */
        float *dst = g_alloc(g, count * sizeof *dst);
        if (!dst) return NULL;
        for (int64_t oo = 0; oo < o; oo++)
            for (int64_t ii = 0; ii < i; ii++)
                for (int64_t yx = 0; yx < k * k; yx++)
                    dst[(oo * i + ii) * k * k + yx] = depthwise ? src[yx * o + oo] : src[(oo * k * k + yx) * i + ii];
        data = dst;
    }
    int64_t dims[4] = {o, i, k, k};
    g_init(g, wname, 4, dims, data, count * sizeof(float));
    g_init(g, bname, 1, &o, b->data, (size_t)o * sizeof(float));
    int out = tt_same_out(*h, stride);
    int total = (out - 1) * stride + (int)k - *h;
    total = total > 0 ? total : 0;
    int64_t pads[4] = {total / 2, total / 2, total - total / 2, total - total / 2};
    int64_t ks[2] = {k, k}, strides[2] = {stride, stride}, group = depthwise ? o : 1;
    const char *y = g_str(g, "%s.conv", layer);
    Onnx__NodeProto *n = g_node(g, "Conv", y, 3, x, wname, bname);
    g_attr(g, n, "kernel_shape", 2, ks);
    g_attr(g, n, "strides", 2, strides);
    g_attr(g, n, "pads", 4, pads);
    g_attr(g, n, "group", -1, &group);
    *c = (int)o, *h = out;
    if (!relu6) return y;
    const char *r = g_str(g, "%s.relu6", layer);
    g_node(g, "Clip", r, 3, y, "relu6.min", "relu6.max");
    return r;
}

/* A Gemm y = x · kernelᵀ + bias (tabtrain kernels are [out][in]). */
static const char *g_dense(tt_onnx_graph *g, const char *x, int *width, const char *layer, const char *y) {
    char *kname = g_str(g, "%s.kernel", layer), *bname = g_str(g, "%s.bias", layer);
    const tt_st_tensor *k = kname ? g_tensor(g, kname, 2) : NULL;
    const tt_st_tensor *b = bname ? g_tensor(g, bname, 1) : NULL;
    if (!k || !b) return NULL;
    if (k->shape[1] != *width || b->shape[0] != k->shape[0]) {
        g->st = tt_error(TT_ERR_SHAPE, "onnx: %s does not fit a %d-wide input", kname, *width);
        return NULL;
    }
    int64_t dims[2] = {k->shape[0], k->shape[1]}, one = 1;
    g_init(g, kname, 2, dims, k->data, (size_t)(dims[0] * dims[1]) * sizeof(float));
    g_init(g, bname, 1, dims, b->data, (size_t)dims[0] * sizeof(float));
    g_attr(g, g_node(g, "Gemm", y, 3, x, kname, bname), "transB", -1, &one);
    *width = (int)dims[0];
    return y;
}

/* A float tensor value [batch][d1][d2][d3] (ndim dims after the batch). */
static Onnx__ValueInfoProto *g_value(tt_onnx_graph *g, const char *name, int ndim, const int64_t *dims) {
    Onnx__ValueInfoProto *v = g_alloc(g, sizeof *v);
    Onnx__TypeProto *type = g_alloc(g, sizeof *type);
    Onnx__TypeProto__Tensor *tensor = g_alloc(g, sizeof *tensor);
    Onnx__TensorShapeProto *shape = g_alloc(g, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = g_alloc(g, sizeof *dim * (size_t)(ndim + 1));
    for (int i = 0; dim && i <= ndim; i++) {
        if (!(dim[i] = g_alloc(g, sizeof **dim))) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (i == 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = "batch";
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i - 1];
        }
    }
    if (!v || !type || !tensor || !shape || !dim) return NULL;
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)ndim + 1, shape->dim = dim;
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1, tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tensor->shape = shape;
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, type->tensor_type = tensor;
    onnx__value_info_proto__init(v);
    v->name = (char *)name, v->type = type;
    return v;
}

/* The whole classifier; returns the class count (0 on error). */
static int g_classifier(tt_onnx_graph *g, int size) {
    int64_t scalar_dims[1] = {0};
    g_init(g, "relu6.min", 0, scalar_dims, &tt_onnx_relu6_bounds[0], sizeof(float));
    g_init(g, "relu6.max", 0, scalar_dims, &tt_onnx_relu6_bounds[1], sizeof(float));
    int c = 3, h = size;
    const char *x = g_conv(g, "input", &c, &h, "stem", 2, 0, 1);
    for (int i = 0; i < TT_MNV2_BLOCKS && !g->st; i++) {
        char *expand = g_str(g, "block%d.expand.weight", i);
        if (!expand) break;
        int cin = c, stride = tt_mnv2_block_stride(i);
        const char *y = x;
        if (tt_st_find(g->ex, expand)) y = g_conv(g, y, &c, &h, g_str(g, "block%d.expand", i), 1, 0, 1);
        y = g_conv(g, y, &c, &h, g_str(g, "block%d.depthwise", i), stride, 1, 1);
        y = g_conv(g, y, &c, &h, g_str(g, "block%d.project", i), 1, 0, 0);
        if (stride == 1 && c == cin) {
            const char *sum = g_str(g, "block%d.add", i);
            g_node(g, "Add", sum, 2, x, y);
            y = sum;
        }
        x = y;
    }
    x = g_conv(g, x, &c, &h, "head", 1, 0, 1);
    g_node(g, "GlobalAveragePool", "pooled", 1, x);
    int64_t axis = 1;
    g_attr(g, g_node(g, "Flatten", "features", 1, "pooled"), "axis", -1, &axis);
    x = "features";
    if (tt_st_find(g->ex, "head.hidden.kernel")) {
        x = g_dense(g, x, &c, "head.hidden", "hidden");
        g_node(g, "Relu", "hidden.relu", 1, x);
        x = "hidden.relu";
    }
    g_dense(g, x, &c, "head.logits", "logits");
    g_attr(g, g_node(g, "Softmax", "probabilities", 1, "logits"), "axis", -1, &axis);
    return g->st ? 0 : c;
}

static tt_status tt_onnx_input_size(const tt_st_file *ex, int *size) {
    const char *v = tt_st_metadata(ex, "tabtrain.input_size");
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || *end || n < 32 || n > 4096)
        return tt_error(TT_ERR_FORMAT, "onnx: the export's tabtrain.input_size is %s",
                        v ? v : "missing");
    *size = (int)n;
    return TT_OK;
}

tt_status tt_onnx_from_export(const tt_st_file *exported, void **out, size_t *len) {
    *out = NULL, *len = 0;
    const char *kind = tt_st_metadata(exported, "tabtrain.kind");
    if (!kind || strcmp(kind, "export"))
        return tt_error(TT_ERR_FORMAT, "onnx: need an export (tabtrain.kind is %s)", kind ? kind : "missing");
    int size = 0;
    tt_status st = tt_onnx_input_size(exported, &size);
    if (st) return st;
    /* Room for the transposed kernels (those wider than 1x1) and the messages. */
    size_t cap = TT_ONNX_MESSAGES_BYTES;
    for (size_t i = 0; i < tt_st_count(exported); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(exported, i);
        if (t->ndim == 4 && t->shape[1] > 1) cap += tt_arena_size_of(t->nbytes);
    }
    tt_onnx_graph *g = calloc(1, sizeof *g);
    if (!g) return tt_error(TT_ERR_NOMEM, "onnx: no memory");
    g->ex = exported;
    if ((st = tt_arena_init(&g->a, cap))) {
        free(g);
        return st;
    }
    int classes = g_classifier(g, size);
    int64_t in_dims[3] = {3, size, size}, out_dims[1] = {classes};
    Onnx__ValueInfoProto *inputs[1] = {g_value(g, "input", 3, in_dims)};
    Onnx__ValueInfoProto *outputs[2] = {g_value(g, "logits", 1, out_dims),
                                        g_value(g, "probabilities", 1, out_dims)};
    static const char *const meta_keys[] = {"tabtrain.classes", "tabtrain.preprocess", "tabtrain.head",
                                            "tabtrain.backbone", "tabtrain.input_size",
                                            "tabtrain.weights"};
    Onnx__StringStringEntryProto props[6], *prop_list[6];
    size_t n_props = 0;
    for (size_t i = 0; i < sizeof meta_keys / sizeof *meta_keys; i++) {
        const char *v = tt_st_metadata(exported, meta_keys[i]);
        if (!v) continue;
        onnx__string_string_entry_proto__init(&props[n_props]);
        props[n_props].key = (char *)meta_keys[i], props[n_props].value = (char *)v;
        prop_list[n_props] = &props[n_props];
        n_props++;
    }
    if (!g->st) {
        Onnx__GraphProto graph;
        onnx__graph_proto__init(&graph);
        graph.name = "tabtrain_classifier";
        graph.n_node = g->n_nodes, graph.node = g->nodes;
        graph.n_initializer = g->n_inits, graph.initializer = g->inits;
        graph.n_input = 1, graph.input = inputs;
        graph.n_output = 2, graph.output = outputs;
        Onnx__OperatorSetIdProto opset, *opsets[1] = {&opset};
        onnx__operator_set_id_proto__init(&opset);
        opset.domain = "", opset.has_version = 1, opset.version = TT_ONNX_OPSET;
        Onnx__ModelProto model;
        onnx__model_proto__init(&model);
        model.has_ir_version = 1, model.ir_version = TT_ONNX_IR_VERSION;
        model.n_opset_import = 1, model.opset_import = opsets;
        model.producer_name = "tabtrain";
        model.graph = &graph;
        model.n_metadata_props = n_props, model.metadata_props = prop_list;
        size_t n = onnx__model_proto__get_packed_size(&model);
        if (!(*out = malloc(n))) g->st = tt_error(TT_ERR_NOMEM, "onnx: no memory for %zu bytes", n);
        else *len = onnx__model_proto__pack(&model, *out);
    }
    st = g->st;
    if (st == TT_ERR_NOMEM) st = tt_error(st, "onnx: out of memory building the graph");
    tt_arena_free(g->a);
    free(g);
    return st;
}

tt_status tt_onnx_write_file(tt_st_builder *exported, const char *path, size_t *bytes) {
    void *st_bytes = NULL, *onnx = NULL;
    size_t st_len = 0, onnx_len = 0;
    tt_st_file *ex = NULL;
    tt_status st = tt_st_write_memory(exported, &st_bytes, &st_len);
    if (!st) st = tt_st_open_memory(&ex, st_bytes, st_len);
    if (!st) st = tt_onnx_from_export(ex, &onnx, &onnx_len);
    if (!st) {
        tt_chunk c = {onnx, onnx_len};
        st = tt_file_write_atomic(path, &c, 1);
    }
    if (!st && bytes) *bytes = onnx_len;
    tt_st_close(ex);
    free(st_bytes), free(onnx);
    return st;
}
