/* tabtrain/run.h — one training run, for both front ends: plan, prepare,
 * train, checkpoint; and what makes a checkpoint belong to a run.
 *
 *   tt_run_plan plan = {.cfg = &cfg};                   // every class with pictures
 *   tt_run_env env = {project, backbone, cache, .batch = 32};
 *   tt_run *r;
 *   tt_run_new(&r, &env, &plan);                        // classes, split, data id; nothing computed
 *   tt_run_save_to(r, ckpt_dir, 0);                     // tt_ckpt_dir: rotation, best, latest
 *   tt_run_event ev;
 *   do tt_run_step(r, 0.1, &ev, &saved);                // prepares in slices, then trains in slices
 *   while (ev != TT_RUN_FINISHED);
 *   tt_run_free(r);
 *
 * Plan. The run's classes (given ids, or every class of the project that has
 * pictures, in list order: an empty class cannot be learned) and their
 * pictures, split by labels alone (tt_split_labels: stratified, seeded by
 * cfg.train.seed) unless the plan gives the validation pictures. Training
 * pictures come first, then validation pictures, each in id order.
 *
 * Prepare. Each training picture gives 1 + augment_views rows (1 without
 * augment), each validation picture 1: the cache's view 0..V-1, pooled
 * features or (unfreeze K) the activations entering the tail. They are
 * looked up by the picture's hash; a miss reads the picture's bytes from the
 * project and runs the backbone, env.batch pictures per call. A picture store
 * that reads asynchronously (the browser's) says TT_ERR_AGAIN: the step ends
 * with TT_RUN_NEED_PICTURE, nothing of the batch kept, and the next step
 * after the picture was given tries the batch again. tt_run_step
 * prepares until its time budget is used (at least one batch) and takes no
 * training step in a call that prepares, so a browser can show the progress
 * and pause. A picture that no longer decodes is an error, or with env.skip
 * reported through it and left out (the CLI: a folder may hold anything).
 *
 * Start. Once every row is there: the trainer (with the tail when
 * unfreeze > 0), then the plan's checkpoint restored (bit-identical
 * continuation) or the plan's classifier copied in (warm start: the hidden
 * layer and tail as they are, the logit row of each class of the same name).
 *
 * Train. Steps until an epoch ends or the budget is used (at least one);
 * after every step the checkpoint directory's policy (tt_ckpt_dir_step)
 * saves when due, best.safetensors when the epoch was the best so far, and
 * always at the end. A finished run predicts with its best epoch's weights.
 *
 * A run is its settings (tabtrain/config.h) and its pictures in split order.
 * The pictures are identified by content, not by path or engine id: the
 * data id is the CRC-32 over (SHA-256 of the encoded bytes, label) of every
 * training picture, then every validation picture. `tabtrain train` and the
 * engine store the same config JSON (the settings, "data_id", and for the
 * engine the class ids of its class list), so a checkpoint written by either
 * resumes in the other when the settings and the pictures are the same.
 */
#ifndef TABTRAIN_RUN_H
#define TABTRAIN_RUN_H

#include <stdint.h>

#include "tabtrain/backbone.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/classifier.h"
#include "tabtrain/config.h"
#include "tabtrain/featcache.h"
#include "tabtrain/project.h"
#include "tabtrain/rows.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"
#include "tabtrain/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adds one picture to a data id (start from 0). */
uint32_t tt_run_data_id(uint32_t id, const uint8_t hash[TT_SHA256_SIZE], int32_t label);

/* The config JSON a checkpoint or model file stores: every setting, "data_id"
 * and (class_ids != NULL) "class_ids". malloc'd; NULL when out of memory. */
char *tt_run_config_json(const tt_config *c, uint32_t data_id, const int *class_ids, int n_ids);

/* Whether the checkpoint f may continue a run of `cfg` over pictures of
 * `data_id`: TT_ERR_MISMATCH naming the first setting that differs, or
 * saying the pictures differ; TT_ERR_NOT_FOUND when the settings agree but
 * the file does not say which pictures it saw (written before data ids). */
tt_status tt_run_check_file(const tt_st_file *f, const tt_config *cfg, uint32_t data_id);

/* ---- the run ---------------------------------------------------------------------- */

typedef struct tt_run tt_run;

/* What tt_run_step did; the engine API returns these numbers (src/wasm/api.h). */
typedef enum tt_run_event {
    TT_RUN_STEPPED = 0,   /* the budget ran out mid-epoch, or the rows became ready */
    TT_RUN_EPOCH = 1,     /* an epoch ended (its metrics are in the history) */
    TT_RUN_FINISHED = 2,  /* the run is over */
    TT_RUN_PREPARING = 3, /* still computing rows, no step taken */
    TT_RUN_NEED_PICTURE = 4, /* preparing waits for a picture the store asked for (tt_run_needed) */
} tt_run_event;

/* What the run works with, borrowed for its life. */
typedef struct tt_run_env {
    const tt_project *project; /* the pictures; their bytes on a cache miss */
    tt_backbone *backbone;
    tt_featcache *cache; /* of the run's augment and unfreeze settings */
    int batch;           /* pictures per backbone call while preparing (>= 1) */
    tt_rows_skip_fn skip; /* NULL: a picture that fails to decode is an error */
    void *skip_ctx;
} tt_run_env;

typedef struct tt_run_plan {
    const tt_config *cfg;
    const int *class_ids; /* the run's classes in label order; NULL: every class with pictures */
    int n_classes;
    const uint8_t *val;   /* [project images] 1 = validation picture; NULL: cfg's split */
    const void *restore;  /* a checkpoint of this run to continue (copied), or NULL */
    size_t restore_len;
    int fit;                  /* tt_run_fits flags checked when restoring (0: none) */
    const char *restore_name; /* the checkpoint's path, for messages */
    const tt_classifier *init; /* warm start from it (cfg->init_from_model), or NULL */
} tt_run_plan;

/* The plan (no feature is computed). TT_ERR_INVALID_ARG when fewer than two
 * classes have pictures; TT_ERR_MISMATCH when a given class id is not in the
 * project, or the warm-start classifier has another hidden width or K. */
tt_status tt_run_new(tt_run **out, const tt_run_env *env, const tt_run_plan *plan);
void tt_run_free(tt_run *r);

/* Checkpoints into dir (tt_ckpt_dir, policy p). The run's class ids go into
 * the stored config when `ids` (a project that lasts: the browser's), names
 * only otherwise. `fresh`: the directory's files are deleted when training
 * starts (a new run replaces the old one); else they are this run's own. */
tt_status tt_run_save_to(tt_run *r, const char *dir, const tt_ckpt_policy *p, int ids, int fresh);
/* A checkpoint now (pause), into the directory (policy or not). */
tt_status tt_run_save(tt_run *r);
/* The run's checkpoint as bytes (malloc'd), e.g. for an export. */
tt_status tt_run_checkpoint(tt_run *r, void **bytes, size_t *len);
/* The model file of the run (tabtrain/model_file.h): its head and tail as
 * they are (the best epoch's once finished), the class names, the config,
 * and the history without wall time, so the same seed gives the same bytes. */
tt_status tt_run_save_model(tt_run *r, const char *path);
/* The epoch and step of the newest checkpoint of the directory: 1 when this
 * run wrote one (or was resumed from it), else 0. */
int tt_run_saved_position(const tt_run *r, int *epoch, int64_t *step);
/* Path of the last checkpoint file written ("" before the first). */
const char *tt_run_saved_path(const tt_run *r);

tt_status tt_run_step(tt_run *r, double budget_s, tt_run_event *ev, int *saved);

/* TT_OK when the checkpoint f continues this run: the same backbone, the
 * same settings and pictures (tt_run_check_file, or the data CRC engine
 * checkpoints stored before data ids), with TT_RUN_FIT_NAMES the same class
 * names. A file that does not say which pictures it saw (the CLI's, before
 * data ids) fits unless TT_RUN_FIT_DATA: its sample count is still checked
 * on restore. */
enum { TT_RUN_FIT_NAMES = 1, TT_RUN_FIT_DATA = 2 };
tt_status tt_run_fits(const tt_run *r, const tt_st_file *f, int flags);

/* ---- what a front end shows ---- */
const tt_config *tt_run_config(const tt_run *r);
/* The run's classes in label order: ids and the names it recorded. */
int tt_run_classes(const tt_run *r, const int **ids, char *const **names);
/* A class renamed since the run was planned: the name its files get. */
tt_status tt_run_rename_class(tt_run *r, int id, const char *name);
/* Rows prepared (or left out) and rows in all; ready = the trainer exists. */
void tt_run_prepared(const tt_run *r, int *done, int *total, int *ready);
/* Pictures the run trains and validates on (after any left out). */
void tt_run_counts(const tt_run *r, int *n_train, int *n_val);
/* The trainer (NULL until every row is prepared) and the tail (NULL when frozen). */
tt_trainer *tt_run_trainer(tt_run *r);
tt_tail *tt_run_tail(tt_run *r);
/* Where a run that is still preparing will continue: the checkpoint's epoch
 * and step and whether it had finished (all 0 without one). */
void tt_run_restore_position(const tt_run *r, int *epoch, int64_t *step, int *finished);
/* The data id of the run's pictures (run.h). */
uint32_t tt_run_data(const tt_run *r);
/* Views per training picture (1 + augment_views, or 1). */
int tt_run_views(const tt_run *r);
/* The rows of the training and validation pictures, in plan order after any left out. */
void tt_run_rows(const tt_run *r, const float **x, const int32_t **y, int *dim);
/* The image id the last step waited for (TT_RUN_NEED_PICTURE), else 0. */
int tt_run_needed(const tt_run *r);
/* Image ids of the kept pictures: training first, then validation. */
const int *tt_run_image_ids(const tt_run *r);

#ifdef __cplusplus
}
#endif
#endif
