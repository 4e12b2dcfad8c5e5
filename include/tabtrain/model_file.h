/* tabtrain/model_file.h — the trained model file: a safetensors file holding
 * the head and everything `predict` needs besides the backbone weights.
 *
 *   tt_model_meta meta = {.kind = "model", .n_classes = C, .classes = names,
 *                         .head = head->cfg, .backbone_id = "sha256:...",
 *                         .preprocess = "{...}", .config = "{...}", .history = "[...]"};
 *   tt_model_save("model.safetensors", &meta, head, NULL);  // atomic; frozen backbone
 *
 *   tt_model m;
 *   tt_model_load_file(&m, "model.safetensors", 32);         // m.head ready for tt_head_predict
 *   tt_model_check_backbone(&m, backbone_id);                // TT_ERR_MISMATCH names both ids
 *   tt_model_free(&m);
 *
 * Fine-tuned models (`--unfreeze K`, tail.h) also hold the trained tail as
 * "backbone.<layer>.weight/bias" (the tail's parameter names) and say K in
 * tabtrain.head: save with the tail (meta.unfreeze = its K), and to predict
 * build a tail of m.unfreeze blocks from the backbone file, then
 *   tt_model_load_tail(&m, tail);   // its weights := the saved ones
 *   tt_tail_features(tail, n, cached_inputs, features); tt_head_predict(&m.head, ...);
 *
 * Conventions (shared with checkpoints, which are a superset): tensors
 * "head.*" exactly as tt_head_params() names them; metadata
 *   tabtrain.kind       "model" | "checkpoint" | "export"
 *   tabtrain.classes    JSON array of class names (label order)
 *   tabtrain.head       {"in_dim":1280,"hidden":H,"classes":C,"dropout":P,"unfreeze":K}
 *   tabtrain.preprocess JSON copied from the backbone file's metadata
 *   tabtrain.backbone   "sha256:<hex of the backbone file bytes>"
 *   tabtrain.config     JSON training config (optional)
 *   tabtrain.history    JSON array of epoch records (optional)
 * Loading ignores tensors and keys it does not know (optimizer state, best.*),
 * so a checkpoint loads as a model; it keeps a copy of the "backbone.*"
 * tensors. The head's shapes are checked against tabtrain.head and the class
 * count (TT_ERR_SHAPE), the tail's against the backbone by tt_model_load_tail.
 *
 * tt_model_meta_write puts the metadata into a builder without writing, so
 * the checkpoint writer adds its own tensors and keys to the same file.
 */
#ifndef TABTRAIN_MODEL_FILE_H
#define TABTRAIN_MODEL_FILE_H

#include "tabtrain/head.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_model_meta {
    const char *kind; /* NULL = "model" */
    int n_classes;
    char *const *classes;
    tt_head_config head;
    int unfreeze; /* K of the tail passed to tt_model_save, 0 without one */
    const char *backbone_id;
    const char *preprocess; /* JSON or NULL */
    const char *config;     /* JSON or NULL */
    const char *history;    /* JSON or NULL */
} tt_model_meta;

tt_status tt_model_meta_write(tt_st_builder *b, const tt_model_meta *meta);
/* Adds the head's parameters (by reference) to b. */
tt_status tt_model_add_head(tt_st_builder *b, tt_head *head);
/* Adds the tail's parameters "backbone.*" (by reference) to b. */
tt_status tt_model_add_tail(tt_st_builder *b, tt_tail *tail);
/* tail NULL for a frozen backbone; else meta->unfreeze must be its K. */
tt_status tt_model_save(const char *path, const tt_model_meta *meta, tt_head *head, tt_tail *tail);

typedef struct tt_model {
    char *kind;
    int n_classes;
    char **classes;
    int unfreeze;
    char *backbone_id, *preprocess, *config, *history; /* NULL when absent */
    tt_head head; /* initialised for max_batch rows, weights loaded */
    int n_backbone;             /* "backbone.*" tensors of the file (copies) */
    tt_named_tensor *backbone;
} tt_model;

tt_status tt_model_load(tt_model *m, const tt_st_file *f, int max_batch);
tt_status tt_model_load_file(tt_model *m, const char *path, int max_batch);
void tt_model_free(tt_model *m);
/* TT_ERR_MISMATCH when the model was trained on another backbone. */
tt_status tt_model_check_backbone(const tt_model *m, const char *backbone_id);
/* Sets every parameter of `tail` to the model's "backbone.*" tensor of that
 * name. TT_ERR_MISMATCH when the tail has another K than m->unfreeze,
 * TT_ERR_FORMAT when a tensor is missing or left over, TT_ERR_SHAPE naming
 * a tensor whose shape differs; the tail is unchanged on error. */
tt_status tt_model_load_tail(const tt_model *m, tt_tail *tail);

#ifdef __cplusplus
}
#endif
#endif
