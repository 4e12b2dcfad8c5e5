/* Export: backbone + trained head in one safetensors file (ckpt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/json.h"

/* Backbone metadata an export carries over (what tt_mnv2_init and a
 * PyTorch rebuild need to know). */
static const char *const tt_backbone_keys[] = {"tabtrain.architecture", "tabtrain.width",
                                               "tabtrain.input_size", "tabtrain.preprocess",
                                               "tabtrain.source"};
/* Model keys an export carries over from the checkpoint or model file. */
static const char *const tt_model_keys[] = {"tabtrain.classes", "tabtrain.head",
                                            "tabtrain.config", "tabtrain.history"};

/* The head weights an export ships: the best epoch's for a checkpoint that
 * has one (what `train --out` writes too), else the current ones. */
static int tt_use_best(const tt_st_file *model) {
    const char *state = tt_st_metadata(model, "tabtrain.state");
    double best = 0;
    return state && tt_json_number(state, "best_epoch", &best) == TT_OK && best > 0 &&
           tt_st_find(model, "best.head.logits.kernel");
}

tt_status tt_ckpt_export(const tt_st_file *model, const tt_st_file *backbone,
                         const char *backbone_id, tt_st_builder **out) {
    *out = NULL;
    const char *kind = tt_st_metadata(model, "tabtrain.kind");
    if (!kind || (strcmp(kind, "checkpoint") && strcmp(kind, "model")))
        return tt_error(TT_ERR_FORMAT, "export: need a checkpoint or model file (tabtrain.kind is %s)",
                        kind ? kind : "missing");
    const char *want = tt_st_metadata(model, "tabtrain.backbone");
    if (want && *want && strcmp(want, backbone_id))
        return tt_error(TT_ERR_MISMATCH,
                        "export: the model was trained on backbone %s but the backbone file given "
                        "is %s",
                        want, backbone_id);
    tt_st_builder *b;
    tt_status st = tt_st_builder_new(&b);
    if (st) return st;
    char name[TT_TENSOR_NAME_MAX + 16];
    int best = tt_use_best(model);
    /* Backbone layers under the backbone file's own names (so tt_mnv2_init
     * reads an export as it reads a backbone), a fine-tuned "backbone.<layer>"
     * from the model file replacing the frozen one (its best epoch's copy
     * when the head is the best epoch's); ImageNet logits dropped. */
    for (size_t i = 0; !st && i < tt_st_count(backbone); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(backbone, i);
        if (!strncmp(t->name, "logits.", 7)) continue;
        snprintf(name, sizeof name, "backbone.%s", t->name);
        const tt_st_tensor *tuned = tt_st_find(model, name);
        if (tuned && best) {
            snprintf(name, sizeof name, "best.backbone.%s", t->name);
            if (!(tuned = tt_st_find(model, name))) {
                st = tt_error(TT_ERR_FORMAT, "export: checkpoint lacks %s", name);
                break;
            }
        }
        if (tuned && (tuned->ndim != t->ndim || tuned->dtype != t->dtype ||
                      memcmp(tuned->shape, t->shape, (size_t)t->ndim * sizeof *t->shape)))
            st = tt_error(TT_ERR_SHAPE, "export: %s has another shape than the backbone's %s", name,
                          t->name);
        else
            st = tt_st_add(b, t->name, t->dtype, t->ndim, t->shape, (tuned ? tuned : t)->data);
    }
    int heads = 0;
    for (size_t i = 0; !st && i < tt_st_count(model); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(model, i);
        if (strncmp(t->name, "head.", 5)) continue;
        snprintf(name, sizeof name, "best.%s", t->name);
        const tt_st_tensor *src = best ? tt_st_find(model, name) : t;
        /* The copy takes t's dtype and shape and src's bytes: both must agree,
         * or the writer reads past src's data into the export. */
        if (!src) st = tt_error(TT_ERR_FORMAT, "export: checkpoint lacks %s", name);
        else if (t->dtype != TT_DTYPE_F32 || src->dtype != TT_DTYPE_F32)
            st = tt_error(TT_ERR_FORMAT, "export: %s is %s, expected F32", src->dtype != TT_DTYPE_F32 ? name : t->name,
                          tt_dtype_name(src->dtype != TT_DTYPE_F32 ? src->dtype : t->dtype));
        else if (src != t && (src->ndim != t->ndim || memcmp(src->shape, t->shape, (size_t)t->ndim * sizeof *t->shape)))
            st = tt_error(TT_ERR_SHAPE, "export: %s has another shape than %s", name, t->name);
        else st = tt_st_add(b, t->name, t->dtype, t->ndim, t->shape, src->data);
        heads++;
    }
    if (!st && heads == 0) st = tt_error(TT_ERR_FORMAT, "export: the model file has no head.* tensors");
    if (!st) st = tt_st_set_metadata(b, "tabtrain.kind", "export");
    if (!st) st = tt_st_set_metadata(b, "tabtrain.backbone", backbone_id);
    if (!st) st = tt_st_set_metadata(b, "tabtrain.weights", best ? "best" : "current");
    for (size_t i = 0; !st && i < sizeof tt_backbone_keys / sizeof *tt_backbone_keys; i++) {
        const char *v = tt_st_metadata(backbone, tt_backbone_keys[i]);
        if (v) st = tt_st_set_metadata(b, tt_backbone_keys[i], v);
    }
    for (size_t i = 0; !st && i < sizeof tt_model_keys / sizeof *tt_model_keys; i++) {
        const char *v = tt_st_metadata(model, tt_model_keys[i]);
        if (v) st = tt_st_set_metadata(b, tt_model_keys[i], v);
        else if (i < 2) st = tt_error(TT_ERR_FORMAT, "export: model file lacks %s", tt_model_keys[i]);
    }
    if (st) {
        tt_st_builder_free(b);
        return st;
    }
    *out = b;
    return TT_OK;
}

/* A string that is JSON goes in as is; anything else quoted. */
static void tt_put_value(char **p, size_t *left, const char *key, const char *v, int is_json) {
    int n = snprintf(*p, *left, ",\n  \"%s\": ", key);
    if (n < 0 || (size_t)n >= *left) return;
    *p += n, *left -= (size_t)n;
    size_t m = is_json ? (size_t)snprintf(*p, *left, "%s", v) : tt_json_quote(*p, *left, v);
    if (m >= *left) m = *left ? *left - 1 : 0;
    *p += m, *left -= m;
}

tt_status tt_ckpt_export_json(const tt_st_file *exported, const char *weights_name, char **out) {
    *out = NULL;
    static const struct {
        const char *key, *field;
        int is_json;
    } fields[] = {{"tabtrain.classes", "classes", 1},           {"tabtrain.head", "head", 1},
                  {"tabtrain.preprocess", "preprocess", 1},     {"tabtrain.architecture", "architecture", 0},
                  {"tabtrain.width", "width", 0},               {"tabtrain.input_size", "input_size", 1},
                  {"tabtrain.backbone", "backbone", 0},         {"tabtrain.weights", "head_weights", 0}};
    static const char naming[] =
        "{\"layout\":\"NHWC input [n][S][S][3]; features [n][1280]\","
        "\"backbone\":\"<layer>.weight/.bias as in the backbone file: conv OHWI [O][kh][kw][I], "
        "depthwise [1][kh][kw][C], batch-norm folded, ReLU6 after every layer but *.project, "
        "TensorFlow SAME padding, residual add when stride 1 and channels match\","
        "\"head\":\"head.hidden.kernel [H][F] + head.hidden.bias (ReLU, only when hidden > 0), "
        "head.logits.kernel [C][H or F] + head.logits.bias; kernels are [out][in]; softmax\"}";
    size_t cap = 4096 + sizeof naming + (weights_name ? strlen(weights_name) : 0);
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = tt_st_metadata(exported, fields[i].key);
        cap += v ? 2 * strlen(v) + 64 : 0;
    }
    char *buf = malloc(cap), *p = buf;
    if (!buf) return tt_error(TT_ERR_NOMEM, "export: no memory for the JSON");
    size_t left = cap;
    int n = snprintf(p, left, "{\n  \"format\": \"tabtrain-export\",\n  \"version\": 1");
    p += n, left -= (size_t)n;
    tt_put_value(&p, &left, "weights", weights_name ? weights_name : "model.safetensors", 0);
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = tt_st_metadata(exported, fields[i].key);
        if (v) tt_put_value(&p, &left, fields[i].field, v, fields[i].is_json);
    }
    tt_put_value(&p, &left, "tensors", naming, 1);
    snprintf(p, left, "\n}\n");
    *out = buf;
    return TT_OK;
}
