/* tabtrain/trainer.h — step-driven, resumable training of the head on
 * cached feature vectors, plus evaluation metrics.
 *
 * The caller owns the features ([n][dim] f32, row-major) and labels (int32 in
 * [0, classes)); the trainer keeps pointers and never copies the set. Every
 * buffer the hot path needs is allocated in tt_trainer_init; a step does not
 * allocate.
 *
 *     tt_trainer_config cfg = tt_trainer_defaults();
 *     cfg.epochs = 20; cfg.patience = 3;
 *     tt_trainer *t;
 *     tt_features tr = {x, y, n}, va = {vx, vy, nv};
 *     if ((st = tt_trainer_init(&t, &cfg, 1280, classes, &tr, &va))) return st;
 *     while (!tt_trainer_finished(t)) {
 *         int ended;
 *         if ((st = tt_trainer_step(t, &ended))) break;   // one mini-batch
 *         if (ended) print(tt_trainer_history(t, &n)[n - 1]);
 *     }
 *     tt_trainer_use_best(t);                 // weights of the lowest val loss
 *     tt_head_predict(tt_trainer_head(t), n, x, probs);
 *     tt_trainer_free(t);
 *
 * Progress is polled: a step reports whether it ended an epoch, the history
 * holds one record per finished epoch, tt_trainer_progress() says where the
 * current epoch is. A browser Worker can run steps in slices and stop between
 * any two.
 *
 * Epochs visit every training sample once in an order reshuffled at the
 * start of the epoch (identity, then Fisher–Yates from the TT_STREAM_SHUFFLE
 * stream); the last partial batch is included. Dropout draws from
 * TT_STREAM_DROPOUT, initialisation from TT_STREAM_INIT, all seeded by
 * cfg.seed, so a seed fixes every bit. The train loss/accuracy of an epoch are
 * averaged over its samples (with dropout active). At the end of an epoch the
 * validation set is evaluated (loss with the same label smoothing as training,
 * accuracy, per-class accuracy = recall, confusion matrix; rows are the true
 * class). With no validation set the train loss is monitored instead.
 * The epoch with the lowest monitored loss is the best epoch and its weights
 * are kept; with patience P > 0 training stops after P epochs without a
 * strict improvement.
 *
 * Resume. The complete state is (a) the named f32 tensors of
 * tt_trainer_tensors(): parameters "head.*", optimizer state "adam_m.head.*",
 * "adam_v.head.*" or "sgd_u.head.*", best weights "best.head.*" — pointers
 * into the trainer that a loader fills in place; and (b) tt_trainer_state:
 * scalars and arrays for JSON (doubles need 17 significant digits, floats 9,
 * to round-trip). Restoring = build a trainer with the same config and data,
 * fill the tensors, call tt_trainer_restore(); the continued run is
 * bit-identical to an uninterrupted one, also from the middle of an epoch.
 * `seconds` (wall time) is the only value that is not reproducible.
 *
 * Fine-tuning (`--unfreeze K`). tt_trainer_init_tail trains a tt_tail (the
 * last K backbone blocks and the head conv, tabtrain/tail.h) together with
 * the head: the sets then hold the cached activations entering the tail
 * ([n][tt_tail_info.in_dim], from tt_mnv2_forward_until), each step runs
 * tail → head → loss and back through both, and a second optimizer of the
 * same kind updates the tail on the same schedule with backbone_lr in place
 * of lr (backbone_lr = 0 means lr / 10). The trainer borrows the
 * tail (free it after the trainer). The tensor list then holds the head's and
 * the tail's parameters ("backbone.*"), the optimizer state of both
 * ("adam_m.backbone.*", ...) and the best weights of both ("best.backbone.*"),
 * and the state records `unfreeze`; resuming needs a fresh tail of the same K
 * (its weights come from the tensors). To predict, run tt_tail_features and
 * give its output to tt_head_predict. Without a tail (tt_trainer_init)
 * nothing of this exists and training is bit-for-bit what it was.
 */
#ifndef TABTRAIN_TRAINER_H
#define TABTRAIN_TRAINER_H

#include <stdint.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/head.h"
#include "tabtrain/optim.h"
#include "tabtrain/rng.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_trainer_config {
    int epochs;                /* 30 (defaults: the settings table's, src/app/config.c) */
    int batch_size;            /* 32 */
    tt_optim_kind optimizer;   /* TT_OPTIM_ADAM */
    float lr;                  /* 1e-3 */
    tt_schedule_kind schedule; /* TT_SCHED_CONSTANT */
    int warmup_steps;          /* cosine: 0 */
    int step_epochs;           /* step: decay every N epochs (10) */
    float gamma;               /* step: factor (0.1) */
    float weight_decay;        /* decoupled, kernels only: 0 */
    float momentum;            /* SGD: 0.9 */
    float label_smoothing;     /* [0, 1): 0.1 */
    int hidden;                /* 256; 0 = linear head */
    float dropout;             /* [0, 1): 0.5 */
    int patience;              /* early stopping: 6; 0 = off */
    uint64_t seed;             /* 42 (the settings table's default) */
    float backbone_lr;         /* with a tail: its base lr; 0 = lr / 10 */
} tt_trainer_config;

typedef struct tt_features {
    const float *x;        /* [n][dim] */
    const int32_t *labels; /* [n] */
    int n;
} tt_features;

typedef struct tt_epoch_metrics {
    int epoch;    /* 1-based */
    int64_t step; /* global step at the end of the epoch */
    float lr;     /* learning rate of the epoch's last update */
    double train_loss, train_acc;
    double val_loss, val_acc;   /* NaN without a validation set */
    double seconds;             /* compute time of the epoch, evaluation included */
    const float *per_class_acc; /* [classes]; NaN for a class with no val samples */
    const int32_t *confusion;   /* [classes][classes] val counts, [true][predicted] */
} tt_epoch_metrics;

typedef struct tt_trainer_progress {
    int epoch; /* completed epochs */
    int step_in_epoch, steps_per_epoch;
    int64_t global_step;
    double train_loss, train_acc; /* running averages of the current epoch */
    int finished;
} tt_trainer_progress;

/* Everything that is not a tensor. Arrays point into the trainer (valid until
 * the next step) when read, and are copied when restored. */
typedef struct tt_trainer_state {
    int n_train, dim, classes; /* checked against the trainer on restore */
    int unfreeze;              /* K of the tail, 0 without one; checked too */
    int epoch;                 /* completed epochs */
    int64_t global_step;       /* optimizer updates taken (= the optimizer step t) */
    int pos;                   /* samples of the current epoch consumed */
    const uint32_t *perm;      /* [n_train] order of the current epoch (read if pos > 0) */
    tt_rng shuffle_rng, dropout_rng;
    double epoch_loss_sum; /* Σ per-sample loss so far this epoch */
    int64_t epoch_correct;
    double epoch_seconds;
    int best_epoch; /* 1-based; 0 = none yet */
    double best_loss;
    int bad_epochs; /* epochs since the best one */
    int stopped;    /* early stopping fired */
    int n_history;  /* == epoch */
    const tt_epoch_metrics *history;
} tt_trainer_state;

typedef struct tt_trainer tt_trainer;

tt_trainer_config tt_trainer_defaults(void);
/* Validates everything (config values, shapes, labels) with a message naming
 * the offending value. `val` may be NULL or have n = 0. */
tt_status tt_trainer_init(tt_trainer **out, const tt_trainer_config *cfg, int dim, int classes,
                          const tt_features *train, const tt_features *val);
/* The same over cached tail inputs: train/val x are [n][in_dim] of `tail`,
 * whose max_batch must hold a batch. */
tt_status tt_trainer_init_tail(tt_trainer **out, const tt_trainer_config *cfg, tt_tail *tail,
                               int classes, const tt_features *train, const tt_features *val);
void tt_trainer_free(tt_trainer *t);

/* One mini-batch: forward, loss, backward, update. *epoch_ended (may be NULL)
 * is set when this step finished an epoch (and evaluated it). */
tt_status tt_trainer_step(tt_trainer *t, int *epoch_ended);
/* Steps until the current epoch ends. */
tt_status tt_trainer_run_epoch(tt_trainer *t);
/* All epochs run, or early stopping fired. */
int tt_trainer_finished(const tt_trainer *t);
void tt_trainer_progress_get(const tt_trainer *t, tt_trainer_progress *p);
const tt_epoch_metrics *tt_trainer_history(const tt_trainer *t, int *n);
int tt_trainer_best_epoch(const tt_trainer *t);
/* Copies the best epoch's weights into the head (no-op before epoch 1). */
void tt_trainer_use_best(tt_trainer *t);
tt_head *tt_trainer_head(tt_trainer *t);
/* The config the trainer was built with (checkpoints save it). */
const tt_trainer_config *tt_trainer_get_config(const tt_trainer *t);

int tt_trainer_tensors(tt_trainer *t, const tt_named_tensor **out);
void tt_trainer_get_state(const tt_trainer *t, tt_trainer_state *s);
tt_status tt_trainer_restore(tt_trainer *t, const tt_trainer_state *s);

/* Metrics over probabilities [n][C]. Index of the largest value (first on ties). */
int tt_argmax(const float *v, int n);
/* confusion[label][argmax] += 1 for each row. */
void tt_confusion_add(int C, int n, const float *probs, const int32_t *labels, int32_t *confusion);
double tt_confusion_accuracy(int C, const int32_t *confusion);
/* acc[c] = confusion[c][c] / Σ confusion[c][·]; NaN when the row is empty. */
void tt_confusion_per_class(int C, const int32_t *confusion, float *acc);

/* A run's epoch records read back: tabtrain.history of a checkpoint or model
 * file (an array of tt_epoch_metrics_json records for C classes) at token arr
 * of j (tabtrain/json.h). Each record's per_class_acc and confusion point into
 * the arrays h owns; tt_epoch_history_free releases them. A record that lacks
 * a field, or arrays of another class count, are TT_ERR_FORMAT. */
typedef struct tt_epoch_history {
    int n;
    tt_epoch_metrics *epochs; /* [n] */
    float *per_class_acc;     /* [n][C] */
    int32_t *confusion;       /* [n][C][C] */
} tt_epoch_history;
struct tt_json;
tt_status tt_epoch_history_read(tt_epoch_history *h, const struct tt_json *j, int arr, int C);
void tt_epoch_history_free(tt_epoch_history *h);

/* One epoch record as a one-line JSON object (no newline) with the fields of
 * tt_epoch_metrics: {"epoch":1,"step":25,"lr":0.001,"train_loss":..,
 * "train_acc":..,"val_loss":..,"val_acc":..,"seconds":..,
 * "per_class_acc":[..],"confusion":[[..],..]}. Numbers round-trip (17
 * significant digits for doubles, 9 for floats); NaN and ±inf are written as
 * null. Returns the length like snprintf: >= cap means it was truncated. */
size_t tt_epoch_metrics_json(const tt_epoch_metrics *m, int classes, char *buf, size_t cap);

/* Seeded synthetic features like ../shared/peers/head_train.mjs: one mean
 * per class drawn from U(0, 2) per dimension, samples max(0, mean + σ·N(0,1)),
 * labels uniform. For tests and benchmarks. */
void tt_synthetic_features(int n, int dim, int classes, float sigma, uint64_t seed, float *x,
                           int32_t *labels);

/* ---- Checkpoints: a trainer in the files of tabtrain/ckpt.h ----
 *
 *   tt_ckpt_meta m = {.classes_json = "[\"cat\",\"dog\"]", .backbone = id};
 *   tt_ckpt_save_file(t, &m, "run/ckpt.safetensors");   // tmp + fsync + rename + dir fsync
 *   tt_ckpt_save_memory(t, &m, &bytes, &len);            // browser; free(bytes)
 *
 *   tt_st_file *f;
 *   tt_ckpt_open_file(&f, path);          // CRC + version + kind "checkpoint"
 *   tt_ckpt_trainer_config(f, &cfg, &dim, &classes);
 *   tt_trainer_init(&t, &cfg, dim, classes, &train, &val);   // same data
 *   tt_ckpt_restore(t, f);                // continues bit-identically
 *   tt_st_close(f);
 *
 * On a tt_ckpt_restore error the trainer may be partly overwritten: free it.
 * In a checkpoint directory, tt_ckpt_dir_step after every step saves what
 * the directory's policy asks for (a ckpt-* file, best.safetensors, always
 * the end), tt_ckpt_dir_save a ckpt-* file now. */
tt_status tt_ckpt_save_file(tt_trainer *t, const tt_ckpt_meta *m, const char *path);
/* *out is malloc'd; free it. */
tt_status tt_ckpt_save_memory(tt_trainer *t, const tt_ckpt_meta *m, void **out, size_t *len);
/* The trainer config, the head's input width and the class count the
 * checkpoint was saved with. */
tt_status tt_ckpt_trainer_config(const tt_st_file *f, tt_trainer_config *cfg, int *dim, int *classes);
/* Fills the trainer's tensors and state from the file. The trainer must be
 * built with the same config and data (checked: shapes, sample count). */
tt_status tt_ckpt_restore(tt_trainer *t, const tt_st_file *f);
/* *saved (may be NULL) is set to 1 when a ckpt-* file was written. */
tt_status tt_ckpt_dir_step(tt_ckpt_dir *d, tt_trainer *t, const tt_ckpt_meta *m, int epoch_ended, int *saved);
tt_status tt_ckpt_dir_save(tt_ckpt_dir *d, tt_trainer *t, const tt_ckpt_meta *m);

#ifdef __cplusplus
}
#endif
#endif
