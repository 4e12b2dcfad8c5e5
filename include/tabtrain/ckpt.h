/* tabtrain/ckpt.h — checkpoint files: atomic, verified, in a directory with
 * rotation, `best` and `latest`. This layer stores named tensors and
 * metadata; what a trainer puts in them is the trainer's (tabtrain/trainer.h,
 * "Checkpoints": tt_ckpt_save_*, tt_ckpt_restore, tt_ckpt_dir_step), and
 * ckpt/ includes nothing of train/.
 *
 * A checkpoint is one safetensors file (tabtrain/safetensors.h, so every
 * tensor is CRC-protected and the format version is checked on open). A
 * trainer's holds every tensor tt_trainer_tensors() lists — parameters
 * "head.*", optimizer state "adam_m.*"/"adam_v.*" or "sgd_u.*", best weights
 * "best.head.*"; with a fine-tuned tail (--unfreeze K) also
 * "backbone.<layer>.*" and their "adam_m.backbone.*", ..., "best.backbone.*" —
 * plus the current epoch's data order as the I32 tensor "state.perm"
 * [n_train], plus any extra tensors the caller passes. Metadata (all strings;
 * JSON where noted; doubles with 17 significant digits, floats with 9,
 * NaN/inf as null, u64 as decimal strings), with tabtrain.meta_crc32 over
 * them all:
 *   tabtrain.kind        "checkpoint"
 *   tabtrain.classes     JSON array of class names
 *   tabtrain.head        {"in_dim","hidden","classes","dropout","unfreeze"}: in_dim is
 *                        the head's input width, unfreeze the trainer's tail K
 *   tabtrain.backbone    "sha256:<hex>" identity of the backbone file ("" if none)
 *   tabtrain.preprocess  JSON copied from the backbone file (when given)
 *   tabtrain.config      the caller's full training config JSON (CLI options);
 *                        the trainer config when the caller gives none
 *   tabtrain.trainer     the tt_trainer_config as JSON (what restore rebuilds from)
 *   tabtrain.history     JSON array of epoch records (tt_epoch_metrics_json)
 *   tabtrain.state       JSON: position, RNG words, running sums, early stopping
 * docs/checkpoints.md documents every field for other tools.
 *
 * Writing and reading one file
 *   tt_st_builder *b;
 *   tt_ckpt_begin(&b, &meta, &docs);     // the metadata and its CRC
 *   tt_st_add(b, ...);                   // the tensors, by reference
 *   tt_st_write_memory(b, &bytes, &len);
 *
 *   tt_st_file *f;
 *   tt_ckpt_open_file(&f, path);          // CRC + version + kind "checkpoint"
 *   tt_ckpt_check(f, classes_json, id);   // TT_ERR_MISMATCH: other classes/backbone
 *   tt_json j; tt_ckpt_json(&j, f, "tabtrain.state");   // tabtrain/json.h
 *   tt_ckpt_load_tensors(f, tensors, n);  // shapes checked first
 *
 * Directory management (native files, or Emscripten's MEMFS/IDBFS)
 *   dir/ckpt-e0005-s000420.safetensors   epoch 5 completed, global step 420
 *   dir/best.safetensors   a full checkpoint (a copy, written atomically) taken
 *                          at the end of the epoch with the lowest monitored
 *                          loss so far (Keras save_best_only); a model file
 *                          for eval/predict.
 *   dir/latest             one line: the file name of the newest checkpoint,
 *                          written atomically after that checkpoint is durable
 *                          and verified (re-read from disk).
 *   Only the newest `keep` ckpt-* files are kept; older ones are deleted only
 *   after the new one and `latest` are durable. Leftover "*.tmp-<pid>" files of
 *   a killed writer are removed on open. One writer per directory.
 *
 *   tt_ckpt_policy p = tt_ckpt_policy_defaults();   // every epoch, keep 3
 *   tt_ckpt_dir *d; tt_ckpt_dir_open(&d, "run", &p);
 *   after every step at position pos:
 *       tt_ckpt_dir_due(d, &pos, ended, &due, &best);
 *       if (due || best) tt_ckpt_dir_write(d, &pos, bytes, len, due, best);
 *   tt_ckpt_dir_free(d);
 *
 *   Resume: tt_ckpt_dir_resume(dir, &f, path, cap, note, note_cap) opens the
 *   file `latest` names; if `latest` is missing or its target fails
 *   verification it falls back to the newest valid ckpt-* file and explains
 *   why in `note` (empty when `latest` was fine) — print it. No valid
 *   checkpoint at all is TT_ERR_NOT_FOUND with a message listing what was
 *   tried; it never silently starts over.
 */
#ifndef TABTRAIN_CKPT_H
#define TABTRAIN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/nn.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-side facts the trainer does not know. All strings may be NULL
 * (written as "[]", "", omitted, the trainer config, 0 respectively). */
typedef struct tt_ckpt_meta {
    const char *classes_json;    /* JSON array of class names */
    const char *backbone;        /* "sha256:<hex>" */
    const char *preprocess_json; /* from the backbone file's metadata */
    const char *config_json;     /* full training config (CLI options) */
    const tt_named_tensor *extra; /* extra f32 tensors saved by name (a trainer with a
                                     tail lists its "backbone.*" itself) */
    int n_extra;
} tt_ckpt_meta;

/* The JSON documents a trainer's checkpoint carries (train/ writes them). */
typedef struct tt_ckpt_docs {
    const char *head, *trainer, *history, *state; /* tabtrain.head, .trainer, .history, .state */
} tt_ckpt_docs;

/* A builder with a checkpoint's metadata: kind "checkpoint", the caller's
 * facts m (may be NULL), the documents d (the config falls back to
 * d->trainer) and the CRC over them. The tensors are added to it, then it is
 * written (tt_st_write_*) and freed. */
tt_status tt_ckpt_begin(tt_st_builder **out, const tt_ckpt_meta *m, const tt_ckpt_docs *d);

/* tt_st_open_* plus: "tabtrain.kind" must be "checkpoint" and the state
 * metadata must be present. Errors: TT_ERR_CORRUPT (CRC, naming the tensor),
 * TT_ERR_FORMAT (truncated, not a checkpoint), TT_ERR_VERSION (newer format). */
tt_status tt_ckpt_open_file(tt_st_file **out, const char *path);
tt_status tt_ckpt_open_memory(tt_st_file **out, const void *bytes, size_t len);

/* TT_ERR_MISMATCH when the file's class list or backbone identity differs
 * from the expected ones (NULL = don't check). */
tt_status tt_ckpt_check(const tt_st_file *f, const char *classes_json, const char *backbone);

/* Metadata value `key` of f as a JSON document (tabtrain/json.h), with errors that name it. */
struct tt_json;
tt_status tt_ckpt_json(struct tt_json *j, const tt_st_file *f, const char *key);

/* Copies the extra tensors named in `dst` (shapes must match) from the file. */
tt_status tt_ckpt_load_tensors(const tt_st_file *f, const tt_named_tensor *dst, int n);

/* Export: the trained classifier as one file (docs/export.md). `model` is a
 * checkpoint (its best epoch's head when it has one) or a model file;
 * `backbone` the backbone file it was trained on, `backbone_id` that file's
 * "sha256:<hex>" (TT_ERR_MISMATCH when the model names another). The builder
 * gets every backbone tensor but the ImageNet "logits.*" under the backbone's
 * own names (a fine-tuned "backbone.<layer>" replacing it), the "head.*"
 * tensors, and metadata kind "export", classes, head, preprocess,
 * architecture, width, input_size, backbone, config, history. Tensors are by
 * reference: keep both files open until the builder is written. */
tt_status tt_ckpt_export(const tt_st_file *model, const tt_st_file *backbone,
                         const char *backbone_id, tt_st_builder **out);
/* The sidecar JSON of an opened export file: format, weights file name,
 * classes, head, preprocess, architecture, input size, tensor naming.
 * *out is malloc'd. */
tt_status tt_ckpt_export_json(const tt_st_file *exported, const char *weights_name, char **out);

typedef struct tt_ckpt_policy {
    int every_epochs;     /* at the end of every N-th epoch; 0 = off (default 1) */
    int64_t every_steps;  /* after every N-th global step; 0 = off */
    double every_seconds; /* when S seconds passed since the last save; 0 = off */
    int keep;             /* ckpt-* files kept, >= 1 (default 3) */
} tt_ckpt_policy;

tt_ckpt_policy tt_ckpt_policy_defaults(void);

typedef struct tt_ckpt_dir tt_ckpt_dir;

/* Creates the directory if needed (one level) and removes stale temp files. */
tt_status tt_ckpt_dir_open(tt_ckpt_dir **out, const char *dir, const tt_ckpt_policy *p);
void tt_ckpt_dir_free(tt_ckpt_dir *d);

/* Where a run stands when a checkpoint of it is taken. */
typedef struct tt_ckpt_pos {
    int epoch;      /* completed epochs */
    int64_t step;   /* global step */
    int finished;   /* the run is over (always saved) */
    int best_epoch; /* the best epoch so far (1-based; 0 = none) */
} tt_ckpt_pos;

/* What the policy asks after a step that left the run at p (epoch_ended: the
 * step finished an epoch): a ckpt-* file (*due: the policy's interval, or the
 * end), best.safetensors (*best: the epoch that just ended is the best so far). */
void tt_ckpt_dir_due(const tt_ckpt_dir *d, const tt_ckpt_pos *p, int epoch_ended, int *due, int *best);
/* Writes the checkpoint bytes of position p: best.safetensors when `best`;
 * when `due` ckpt-eEEEE-sSSSSSS (kept if a verified file of that step is
 * there), verified, then `latest`, then rotation. */
tt_status tt_ckpt_dir_write(tt_ckpt_dir *d, const tt_ckpt_pos *p, const void *bytes, size_t len, int due, int best);
/* *n = checkpoint files in the directory (ckpt-*, best, latest); with
 * `clear` they are deleted too (a deliberate fresh start). */
tt_status tt_ckpt_dir_files(const tt_ckpt_dir *d, int *n, int clear);
/* Path of the last file written by this handle ("" before the first). */
const char *tt_ckpt_dir_last(const tt_ckpt_dir *d);

/* See above. `path` receives the chosen file's path, `note` the fallback
 * explanation (both NUL-terminated, truncated to their caps). */
tt_status tt_ckpt_dir_resume(const char *dir, tt_st_file **out, char *path, size_t path_cap,
                             char *note, size_t note_cap);

#ifdef __cplusplus
}
#endif
#endif
