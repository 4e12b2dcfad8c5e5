/* tabtrain/classifier.h — a trained classifier (backbone + tuned tail +
 * head): opening one from a file, predicting, exporting. Both front ends
 * call these; a run in progress predicts through the same functions with
 * its trainer's head and tail.
 *
 *   tt_classifier c;
 *   tt_classifier_load(&c, f, backbone, 16);      // model, export or checkpoint file
 *   tt_predict_picture(backbone, &c.m.head, c.tail, bytes, len, max_pixels, probs);
 *   tt_predict_rows(&c.m.head, c.tail, n, cached_rows, probs);   // rows of the feature cache
 *   tt_classifier_free(&c);
 *
 *   tt_st_builder *ex;
 *   tt_export_build(model_or_ckpt, backbone_bytes, backbone_len, &ex);   // docs/export.md
 *   tt_export_write(ex, "out/model.safetensors", "out/model.json", &info);  // or .onnx, json NULL
 *
 * A file's fine-tuned blocks (--unfreeze K) come along: an export holds them
 * under the backbone's own names (so the tail is built from the file
 * itself), a model or checkpoint as "backbone.*" over the given backbone.
 */
#ifndef TABTRAIN_CLASSIFIER_H
#define TABTRAIN_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/backbone.h"
#include "tabtrain/head.h"
#include "tabtrain/model_file.h"
#include "tabtrain/rows.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_classifier {
    tt_model m;    /* head, class names, config, history */
    tt_tail *tail; /* m.unfreeze > 0: the fine-tuned blocks */
} tt_classifier;

/* TT_ERR_MISMATCH when the file was trained on another backbone or expects
 * another feature width. max_batch: rows per head/tail pass. */
tt_status tt_classifier_load(tt_classifier *c, const tt_st_file *f, const tt_backbone *b, int max_batch);
tt_status tt_classifier_load_file(tt_classifier *c, const char *path, const tt_backbone *b, int max_batch);
void tt_classifier_free(tt_classifier *c);

/* The row the feature cache would hold for one encoded picture, decoded with
 * at most max_pixels: its pooled features [b->dim], or (tail != NULL) the
 * activations entering the tail [in_dim]. Nothing is cached. */
tt_status tt_picture_row(const tt_backbone *b, tt_tail *tail, const void *bytes, size_t len, uint64_t max_pixels,
                         float *x);
/* Probabilities [n][classes] of feature-cache rows x: the pooled features, or
 * (tail != NULL) the activations entering the tail. */
tt_status tt_predict_rows(tt_head *head, tt_tail *tail, int n, const float *x, float *probs);
/* Probabilities [classes] of one encoded picture, decoded with at most
 * max_pixels; nothing is cached (a webcam frame is seen once). */
tt_status tt_predict_picture(const tt_backbone *b, tt_head *head, tt_tail *tail, const void *bytes, size_t len,
                             uint64_t max_pixels, float *probs);

/* The confusion matrix [classes][classes] (rows: the true class) of the
 * classifier on every picture of src's project, each labelled by the
 * classifier's class of its class's name (TT_ERR_MISMATCH naming a class the
 * classifier lacks). Rows come from src's cache (of the classifier's
 * unfreeze), `batch` pictures at a time; *n receives the pictures used (those
 * src->skip left out are not). */
tt_status tt_classifier_evaluate(tt_classifier *c, const tt_rows_src *src, int batch, int32_t *confusion, int *n);

/* The export of a checkpoint (its best epoch's head when it has one) or a
 * model file over the backbone file it was trained on (tt_ckpt_export). */
tt_status tt_export_build(const tt_st_file *model, const void *backbone, size_t backbone_len,
                          tt_st_builder **out);

typedef struct tt_export_info {
    size_t bytes;   /* of the file written */
    size_t tensors; /* safetensors: its tensor count */
    char weights[32]; /* safetensors: its tabtrain.weights ("best" or "last") */
} tt_export_info;

/* Writes the export to `path`: safetensors, and the JSON sidecar that names
 * it (docs/export.md) to json_path; or, json_path NULL, the ONNX model of
 * tabtrain/onnx.h. info may be NULL. */
tt_status tt_export_write(tt_st_builder *ex, const char *path, const char *json_path, tt_export_info *info);

#ifdef __cplusplus
}
#endif
#endif
