/* A trained classifier: opening, predicting, exporting (tabtrain/classifier.h). */
#include "tabtrain/classifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/fileio.h"
#include "tabtrain/image.h"
#include "tabtrain/onnx.h"
#include "tabtrain/trainer.h"

/* A file that is not a model says which file it is (`name`, or nothing). */
static tt_status tt_classifier_open(tt_classifier *c, const tt_st_file *f, const char *name, const tt_backbone *b,
                                    int max_batch) {
    *c = (tt_classifier){0};
    tt_status st = tt_model_load(&c->m, f, max_batch);
    if (st) return name ? tt_error(st, "%s: %s", name, tt_last_error()) : st;
    if (!(st = tt_model_check_backbone(&c->m, b->id)) && c->m.head.cfg.in != b->dim)
        st = tt_error(TT_ERR_MISMATCH, "model expects %d features, this backbone gives %d", c->m.head.cfg.in, b->dim);
    if (!st && c->m.unfreeze) {
        const char *kind = tt_st_metadata(f, "tabtrain.kind");
        if (kind && !strcmp(kind, "export")) { /* the tuned blocks under the backbone's names */
            if (!(st = tt_tail_init(&c->tail, b->net, f, c->m.unfreeze, max_batch))) tt_tail_set_pool(c->tail, b->pool);
        } else if (!(st = tt_backbone_tail(b, c->m.unfreeze, max_batch, &c->tail))) {
            st = tt_model_load_tail(&c->m, c->tail);
        }
    }
    if (st) tt_classifier_free(c);
    return st;
}

tt_status tt_classifier_load(tt_classifier *c, const tt_st_file *f, const tt_backbone *b, int max_batch) {
    return tt_classifier_open(c, f, NULL, b, max_batch);
}

tt_status tt_classifier_load_file(tt_classifier *c, const char *path, const tt_backbone *b, int max_batch) {
    *c = (tt_classifier){0};
    tt_st_file *f;
    tt_status st = tt_st_open_file(&f, path);
    if (st) return st;
    st = tt_classifier_open(c, f, path, b, max_batch);
    tt_st_close(f);
    return st;
}

void tt_classifier_free(tt_classifier *c) {
    tt_tail_free(c->tail);
    tt_model_free(&c->m);
    *c = (tt_classifier){0};
}

tt_status tt_predict_rows(tt_head *head, tt_tail *tail, int n, const float *x, float *probs) {
    if (!tail) {
        tt_head_predict(head, n, x, probs);
        return TT_OK;
    }
    float *feat = malloc(((size_t)n + 1) * tt_tail_get_info(tail).feature_dim * sizeof *feat);
    if (!feat) return tt_error(TT_ERR_NOMEM, "no memory to predict");
    tt_tail_features(tail, n, x, feat);
    tt_head_predict(head, n, feat, probs);
    free(feat);
    return TT_OK;
}

tt_status tt_picture_row(const tt_backbone *b, tt_tail *tail, const void *bytes, size_t len, uint64_t max_pixels,
                         float *x) {
    tt_image img;
    /* The training copy, as every cached row was computed from (featcache.h). */
    tt_status st = bytes && len ? tt_image_training_copy(bytes, len, &(tt_decode_opts){max_pixels, 0}, b->size, &img)
                                : tt_error(TT_ERR_FORMAT, "empty file");
    if (st) return st;
    float *input = malloc((size_t)b->size * b->size * 3 * sizeof *input);
    if (!input) st = tt_error(TT_ERR_NOMEM, "no memory for the picture");
    if (!st) st = tt_image_to_input(&img, b->size, input);
    tt_image_free(&img);
    if (!st)
        st = tail ? tt_mnv2_forward_until(b->net, 1, input, tt_tail_get_info(tail).first_block, x)
                  : tt_mnv2_features(b->net, 1, input, x);
    free(input);
    return st;
}

tt_status tt_predict_picture(const tt_backbone *b, tt_head *head, tt_tail *tail, const void *bytes, size_t len,
                             uint64_t max_pixels, float *probs) {
    size_t row = tail ? (size_t)tt_tail_get_info(tail).in_dim : (size_t)b->dim;
    float *x = malloc(row * sizeof *x);
    tt_status st = x ? tt_picture_row(b, tail, bytes, len, max_pixels, x) : tt_error(TT_ERR_NOMEM, "no memory to predict");
    if (!st) st = tt_predict_rows(head, tail, 1, x, probs);
    free(x);
    return st;
}

tt_status tt_classifier_evaluate(tt_classifier *c, const tt_rows_src *src, int batch, int32_t *confusion, int *n) {
    const tt_project *p = src->project;
    int C = c->m.n_classes, N = tt_project_n_images(p), dim = tt_featcache_dim(src->cache);
    *n = 0;
    memset(confusion, 0, (size_t)C * C * sizeof *confusion);
    int *label = malloc(((size_t)tt_project_n_classes(p) + 1) * sizeof *label);
    if (!label) return tt_error(TT_ERR_NOMEM, "no memory to evaluate");
    tt_status st = TT_OK;
    for (int k = 0; !st && k < tt_project_n_classes(p); k++) {
        const char *name = tt_project_class_at(p, k)->name;
        for (label[k] = 0; label[k] < C && strcmp(c->m.classes[label[k]], name); label[k]++) {}
        if (label[k] == C) st = tt_error(TT_ERR_MISMATCH, "class '%s' is not among the model's classes", name);
    }
    if (batch < 1) batch = 1;
    float *x = malloc((size_t)batch * dim * sizeof *x), *probs = malloc((size_t)batch * C * sizeof *probs);
    int *ids = malloc((size_t)batch * sizeof *ids);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    uint8_t(*hash)[TT_SHA256_SIZE] = malloc((size_t)batch * sizeof *hash), *bad = malloc((size_t)batch);
    if (!st && (!x || !probs || !ids || !y || !hash || !bad)) st = tt_error(TT_ERR_NOMEM, "no memory to evaluate");
    for (int i0 = 0; !st && i0 < N; i0 += batch) {
        int m = N - i0 < batch ? N - i0 : batch, kept = 0;
        for (int j = 0; j < m; j++) {
            const tt_project_image *im = tt_project_image_at(p, i0 + j);
            ids[j] = im->id;
            memcpy(hash[j], im->hash, TT_SHA256_SIZE);
        }
        st = tt_rows_fill(src, m, ids, (const uint8_t(*)[TT_SHA256_SIZE])hash, 1, x, bad);
        for (int j = 0; !st && j < m; j++) {
            if (bad[j]) continue;
            if (kept != j) memmove(x + (size_t)kept * dim, x + (size_t)j * dim, (size_t)dim * sizeof *x);
            y[kept++] = label[tt_project_class_index(p, tt_project_image_at(p, i0 + j)->class_id)];
        }
        if (!st) st = tt_predict_rows(&c->m.head, c->tail, kept, x, probs);
        if (!st) tt_confusion_add(C, kept, probs, y, confusion);
        *n += kept;
    }
    free(label), free(x), free(probs), free(ids), free(y), free(hash), free(bad);
    return st;
}

tt_status tt_export_build(const tt_st_file *model, const void *backbone, size_t backbone_len, tt_st_builder **out) {
    *out = NULL;
    char id[TT_BACKBONE_ID_SIZE];
    tt_backbone_identity(backbone, backbone_len, id);
    tt_st_file *bb;
    tt_status st = tt_st_open_memory(&bb, backbone, backbone_len);
    if (st) return st;
    /* Its tensors point into both files: the backbone's bytes outlive the builder
     * (the caller keeps them), the model file too. */
    st = tt_ckpt_export(model, bb, id, out);
    tt_st_close(bb);
    return st;
}

tt_status tt_export_write(tt_st_builder *ex, const char *path, const char *json_path, tt_export_info *info) {
    tt_export_info none;
    if (!info) info = &none;
    *info = (tt_export_info){0};
    if (!json_path) return tt_onnx_write_file(ex, path, &info->bytes);
    tt_status st = tt_st_write_file(ex, path);
    /* The JSON describes what landed on disk, read back (and CRC-checked). */
    tt_st_file *f = NULL;
    char *sidecar = NULL;
    const char *base = strrchr(path, '/');
    if (!st) st = tt_st_open_file(&f, path);
    if (!st) st = tt_ckpt_export_json(f, base ? base + 1 : path, &sidecar);
    if (!st) {
        tt_chunk c = {sidecar, strlen(sidecar)};
        st = tt_file_write_atomic(json_path, &c, 1);
        info->tensors = tt_st_count(f);
        snprintf(info->weights, sizeof info->weights, "%s", tt_st_metadata(f, "tabtrain.weights"));
    }
    tt_st_close(f);
    free(sidecar);
    return st;
}
