/* tabtrain/model_file.h — the trained model file: a safetensors file holding
 * the head and everything `predict` needs besides the backbone weights.
 *
 *   tt_model_meta meta = {.kind = "model", .n_classes = C, .classes = names,
 *                         .head = head->cfg, .backbone_id = "sha256:...",
 *                         .preprocess = "{...}", .config = "{...}", .history = "[...]"};
 *   tt_model_save("model.safetensors", &meta, head);        // atomic
 *
 *   tt_model m;
 *   tt_model_load_file(&m, "model.safetensors", 32);         // m.head ready for tt_head_predict
 *   tt_model_check_backbone(&m, backbone_id);                // TT_ERR_MISMATCH names both ids
 *   tt_model_free(&m);
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
 * Loading ignores tensors and keys it does not know (optimizer state, best.*,
 * backbone.*), so a checkpoint loads as a model. The head's shapes are
 * checked against tabtrain.head and the class count (TT_ERR_SHAPE).
 *
 * tt_model_meta_write puts the metadata into a builder without writing, so
 * the checkpoint writer adds its own tensors and keys to the same file.
 */
#ifndef TABTRAIN_MODEL_FILE_H
#define TABTRAIN_MODEL_FILE_H

#include "tabtrain/head.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_model_meta {
    const char *kind; /* NULL = "model" */
    int n_classes;
    char *const *classes;
    tt_head_config head;
    int unfreeze;
    const char *backbone_id;
    const char *preprocess; /* JSON or NULL */
    const char *config;     /* JSON or NULL */
    const char *history;    /* JSON or NULL */
} tt_model_meta;

tt_status tt_model_meta_write(tt_st_builder *b, const tt_model_meta *meta);
/* Adds the head's parameters (by reference) to b. */
tt_status tt_model_add_head(tt_st_builder *b, tt_head *head);
tt_status tt_model_save(const char *path, const tt_model_meta *meta, tt_head *head);

typedef struct tt_model {
    char *kind;
    int n_classes;
    char **classes;
    int unfreeze;
    char *backbone_id, *preprocess, *config, *history; /* NULL when absent */
    tt_head head; /* initialised for max_batch rows, weights loaded */
} tt_model;

tt_status tt_model_load(tt_model *m, const tt_st_file *f, int max_batch);
tt_status tt_model_load_file(tt_model *m, const char *path, int max_batch);
void tt_model_free(tt_model *m);
/* TT_ERR_MISMATCH when the model was trained on another backbone. */
tt_status tt_model_check_backbone(const tt_model *m, const char *backbone_id);

#ifdef __cplusplus
}
#endif
#endif
