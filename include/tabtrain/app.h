/* tabtrain/app.h — the application, once for both front ends: a project
 * (classes and pictures), a backbone, a feature cache, a run and an imported
 * model, as the browser's engine API (src/wasm/api.c) and `tabtrain train`
 * (src/cli/cmd_train.c) drive them. The front ends only translate: from
 * JSON or argv into these calls, and their results back into JSON or text.
 *
 *   tt_app_config c = {.root = "/tabtrain", .keep_features = 1, .policy = p};
 *   tt_app *a;
 *   tt_app_open(&a, &c, NULL);               // the project opens without weights
 *   tt_app_set_backbone(a, backbone);        // pictures, training, prediction from here on
 *   tt_app_class_add(a, "cats", &cats);
 *   tt_app_image_add(a, cats, bytes, len, "tom.jpg", &id);
 *   tt_app_train_begin(a, &(tt_app_train){.cfg = &cfg});
 *   while (!tt_app_train_step(a, 0.1, &ev, &saved) && ev != TT_RUN_FINISHED) ...;
 *   tt_app_free(a);
 *
 * With a root, everything lasts under it: root/project.json and
 * root/pictures (tabtrain/project.h), root/features (the feature cache),
 * root/ckpt (the run's checkpoints: tt_ckpt_dir, so rotation, best.safetensors,
 * `latest`, and after a damaged file the newest valid one). Without a root
 * the project is in memory and a run checkpoints where the caller says.
 *
 * A new run replaces the previous one and, once its trainer exists, deletes
 * the previous run's checkpoints. tt_app_resume continues the run of the
 * checkpoint directory; tt_app_load takes a file: a checkpoint of this
 * project's pictures continues its run, anything else that holds a head (a
 * checkpoint of other pictures, a model or an export file) is imported: it
 * predicts, and may start the next run (config init_from_model).
 *
 * Migration: a root/ckpt/latest.safetensors (the browser's one checkpoint
 * file before the checkpoint policy) becomes the directory's checkpoint
 * when tt_app_resume first looks there; the project migrates its own files.
 */
#ifndef TABTRAIN_APP_H
#define TABTRAIN_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/backbone.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/classifier.h"
#include "tabtrain/config.h"
#include "tabtrain/featcache.h"
#include "tabtrain/project.h"
#include "tabtrain/run.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_app_config {
    const char *root;      /* see above; NULL: in memory */
    const char *cache_dir; /* without a root: the feature cache's directory (NULL: none) */
    const char *copies_dir; /* without a root: where the cache keeps training copies (featcache.h; NULL: none) */
    int keep_features;     /* features also in memory (the browser adds pictures one at a time) */
    uint64_t max_pixels;   /* largest picture decoded; 0: TT_IMAGE_DEFAULT_MAX_PIXELS */
    int prepare_batch;     /* pictures per backbone call when preparing; 0: one per thread */
    tt_ckpt_policy policy; /* of runs under root/ckpt */
} tt_app_config;

typedef struct tt_app tt_app;

/* pics: where picture bytes go (NULL: root/pictures, or none in memory); taken over. */
tt_status tt_app_open(tt_app **out, const tt_app_config *c, const tt_picture_store *pics);
void tt_app_free(tt_app *a);

/* Takes the backbone over (a second one is refused). */
tt_status tt_app_set_backbone(tt_app *a, tt_backbone *b);
tt_backbone *tt_app_backbone(const tt_app *a);
/* Every computation on `threads` threads from the next one (same results). */
tt_status tt_app_set_threads(tt_app *a, int threads);

tt_project *tt_app_project(const tt_app *a);
/* The current name of class id, or fallback when it was deleted. */
const char *tt_app_class_name(const tt_app *a, int id, const char *fallback);

tt_status tt_app_class_add(tt_app *a, const char *name, int *id);
tt_status tt_app_class_rename(tt_app *a, int id, const char *name);
/* With its pictures and their cached features. */
tt_status tt_app_class_delete(tt_app *a, int id);
/* Decodes the picture once, into its training copy (the check that it is a
 * picture), caches its plain features from the copy, then stores the record
 * and the picture (the original, the copy and a thumbnail: tt_picture): a
 * record always has its features. */
tt_status tt_app_image_add(tt_app *a, int class_id, const void *bytes, size_t len, const char *name, int *id);

/* One picture of tt_app_images_add: the bytes and name in, the outcome out. */
typedef struct tt_app_new_image {
    const void *bytes;
    size_t len;
    const char *name;
    int id;           /* out: the new image's id, 0 when it was not added */
    tt_status status; /* out: why not (e.g. not a picture, already in this class) */
    char error[256];  /* out: the message of status */
} tt_app_new_image;

/* tt_app_image_add for n pictures, with the same ids, records and bytes as
 * adding them one by one in order (a repeat of an earlier one is refused the
 * same way), but decoded and encoded one picture per thread of the backbone's
 * pool and run through the backbone as one batch: what makes a second core
 * pay when a class's pictures arrive together. Each picture says its own
 * outcome; non-OK only when none could be tried (no such class, no backbone,
 * no memory, the feature cache failing). */
tt_status tt_app_images_add(tt_app *a, int class_id, int n, tt_app_new_image *im);

/* What the app keeps of a picture besides the original, for a backbone of
 * input size `size` (tt_image_training_copy): the training copy as lossless
 * PNG, only when the original is bigger than the copy's pixels (3 bytes each)
 * and the PNG is under half the original's size (a phone photo: 2-5 MB of JPEG
 * against ~0.3 MB of PNG; a smaller picture gives the same pixels at about the
 * same cost from its original, and storage holds no second copy), and
 * a thumbnail (JPEG, short side 96..191 px). *copy and *thumb are malloc'd
 * (*copy NULL when not kept). Without a backbone: migrating a profile. */
tt_status tt_app_picture_parts(const void *bytes, size_t len, uint64_t max_pixels, int size, void **copy,
                               size_t *copy_len, void **thumb, size_t *thumb_len);
/* With its cached views (unless another picture has the same bytes). */
tt_status tt_app_image_remove(tt_app *a, int id);
/* Creates the imported model's classes that the project lacks (by name). */
tt_status tt_app_import_classes(tt_app *a);

/* How to run a run. */
typedef struct tt_app_train {
    const tt_config *cfg;         /* tt_app_resume: NULL = the checkpoint's own */
    const char *ckpt_dir;         /* NULL: root/ckpt with a root, else no checkpoints */
    const tt_ckpt_policy *policy; /* NULL: the app's */
    const uint8_t *val;           /* [project images] 1 = validation picture; NULL: cfg's split */
    int all_classes;              /* every class, also empty ones (folders are classes); else those with pictures */
    tt_rows_skip_fn skip;          /* pictures that fail to decode are left out (NULL: an error) */
    void *skip_ctx;
} tt_app_train;

tt_status tt_app_train_begin(tt_app *a, const tt_app_train *t);

/* What a checkpoint became. */
typedef enum tt_app_loaded {
    TT_APP_LOADED_RUN = 0,   /* a checkpoint of this project's pictures: its run continues */
    TT_APP_LOADED_MODEL = 1, /* a model that predicts and may start the next run */
    TT_APP_LOADED_NONE = 2,  /* tt_app_resume: no checkpoint there */
} tt_app_loaded;

/* Continues the run of the checkpoint directory: `latest`, or the newest
 * valid file after a damaged one (note says which and why; empty when
 * `latest` was fine). t->cfg given (the CLI): the file must be of those
 * settings, classes and pictures, else an error; NULL (the browser): the
 * file's own settings and classes, and a file of other pictures is loaded
 * as a model. path receives the file's path. */
tt_status tt_app_resume(tt_app *a, const tt_app_train *t, tt_app_loaded *kind, char *path, size_t path_cap,
                        char *note, size_t note_cap);
/* A file (see above). */
tt_status tt_app_load(tt_app *a, const char *path, tt_app_loaded *kind);

/* Prepares in slices, then trains in slices (tt_run_step), checkpointing by
 * the policy. TT_RUN_NEED_PICTURE: the picture store has asked for picture
 * tt_app_needed_picture(); step again once it is given. */
tt_status tt_app_train_step(tt_app *a, double budget_s, tt_run_event *ev, int *saved);
/* The image id the run waits for (TT_RUN_NEED_PICTURE), else 0. */
int tt_app_needed_picture(const tt_app *a);
/* A checkpoint now (pause). */
tt_status tt_app_save(tt_app *a);

tt_run *tt_app_run(const tt_app *a);
/* The feature cache the run's rows come from. */
tt_featcache *tt_app_run_cache(const tt_app *a);
/* The imported model (NULL: none) and, per class of it, the project's class
 * id it was trained as (0: not a class of this project). */
const tt_classifier *tt_app_model(const tt_app *a, const int **class_ids);

/* Where training stands, for a front end to show. */
typedef struct tt_app_progress {
    int epoch, epochs;        /* finished epochs (while a resumed run prepares: its checkpoint's), planned */
    int64_t step, steps;      /* optimizer steps done, planned (== step once finished) */
    int prepared, to_prepare; /* rows of the run computed / needed */
    int finished;             /* also for an imported model without a run */
    int saved;                /* a checkpoint of the run exists: */
    int saved_epoch;          /*   the newest one's position */
    int64_t saved_step;
    const tt_epoch_metrics *last; /* the last finished epoch, NULL before */
} tt_app_progress;
void tt_app_progress_get(const tt_app *a, tt_app_progress *p);

/* The finished epochs a front end charts, each array in the label order of
 * class_ids: the run's, or without a run the loaded model's as its file
 * recorded them (a checkpoint whose pictures changed since keeps its charts:
 * a class deleted since keeps its id, 0 when the file has none). Valid until
 * the app changes; tt_app_history_free releases what the model's needed. */
typedef struct tt_app_history {
    int n;                          /* epochs */
    const tt_epoch_metrics *epochs; /* [n] */
    int n_classes, planned_epochs;  /* planned_epochs: 0 when unknown */
    const int *class_ids;           /* [n_classes] */
    char *const *class_names;       /* [n_classes], as recorded (tt_app_class_name: today's) */
    tt_epoch_history own;           /* the model's, parsed */
} tt_app_history;
tt_status tt_app_history_get(const tt_app *a, tt_app_history *h);
void tt_app_history_free(tt_app_history *h);

/* Whether bytes would be accepted, without storing or computing anything (a
 * project file is checked whole before any of it is imported): a picture
 * under the app's pixel limit; a checkpoint that verifies (every CRC) and was
 * trained on this backbone. */
tt_status tt_app_check_picture(const tt_app *a, const void *bytes, size_t len);
tt_status tt_app_check_checkpoint(const tt_app *a, const void *bytes, size_t len);

/* What predicts: the run once it can (its best epoch when finished), else the
 * imported model. n classes; ids per class (0: not a project class), names
 * as the files recorded them (see tt_app_class_name for today's). */
tt_status tt_app_labels(const tt_app *a, int *n, const int **ids, char *const **names);
/* probs [n] of one encoded picture (nothing cached). */
tt_status tt_app_predict(tt_app *a, const void *bytes, size_t len, float *probs);
/* The run's export (tt_export_write; json_path NULL: ONNX). */
tt_status tt_app_export(tt_app *a, const char *path, const char *json_path);

/* Forgets the run, the model, every class and picture, and deletes their
 * files under root (features and checkpoints too); the backbone stays. */
tt_status tt_app_reset(tt_app *a);

#ifdef __cplusplus
}
#endif
#endif
