#include "tabtrain/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tabtrain/arena.h"
#include "tabtrain/tail.h"
#include "tabtrain/strbuf.h"

struct tt_trainer {
    tt_trainer_config cfg;
    int dim, classes, steps_per_epoch;
    tt_features train, val;
    tt_head head;
    tt_optim optim;
    tt_schedule sched;
    tt_rng shuffle_rng, dropout_rng;

    /* fine-tuning (tt_trainer_init_tail): NULL when the backbone is frozen */
    tt_tail *tail;
    tt_optim tail_optim;
    tt_schedule tail_sched; /* the head's schedule over the backbone lr */
    float *tail_best;    /* copy of the tail's parameter slab */
    float *dfeat;        /* [B][F] gradient w.r.t. the tail's features */

    /* position */
    int epoch, pos;
    int64_t global_step;
    double epoch_loss_sum, epoch_seconds;
    int64_t epoch_correct;

    /* early stopping */
    int best_epoch, bad_epochs, stopped;
    double best_loss;
    float *best; /* copy of the head's parameter slab */

    tt_named_tensor *tensors;
    int n_tensors;

    /* everything below comes from `arena`, sized once at init */
    tt_arena *arena;
    uint32_t *perm;
    float *xb, *probs, *dlogits;
    int32_t *yb;
    tt_epoch_metrics *history; /* [epochs] */
    float *per_class;          /* [epochs][classes] */
    int32_t *confusion;        /* [epochs][classes][classes] */
};

/* The settings table's defaults (src/app/config.c, test_config keeps them equal): what
 * a new user of any front end gets, measured by scripts/measure-defaults. */
tt_trainer_config tt_trainer_defaults(void) {
    tt_trainer_config c = {
        .epochs = 30,
        .batch_size = 32,
        .optimizer = TT_OPTIM_ADAM,
        .lr = 1e-3f,
        .schedule = TT_SCHED_CONSTANT,
        .warmup_steps = 0,
        .step_epochs = 10,
        .gamma = 0.1f,
        .weight_decay = 0.0f,
        .momentum = 0.9f,
        .label_smoothing = 0.1f,
        .hidden = 256,
        .dropout = 0.5f,
        .patience = 6,
        .seed = 42,
        .backbone_lr = 0.0f,
    };
    return c;
}

static tt_status tt_check_features(const char *which, const tt_features *f, int dim, int classes) {
    if (f->n < 0 || (f->n > 0 && (!f->x || !f->labels)))
        return tt_error(TT_ERR_INVALID_ARG, "trainer: %s set has n = %d and %s", which, f->n,
                        f->n < 0 ? "a negative size" : "NULL features or labels");
    for (int i = 0; i < f->n; i++)
        if (f->labels[i] < 0 || f->labels[i] >= classes)
            return tt_error(TT_ERR_INVALID_ARG,
                            "trainer: %s label %d of sample %d is not in [0, %d)", which,
                            (int)f->labels[i], i, classes);
    return TT_OK;
}

static tt_status tt_check_config(const tt_trainer_config *c, int dim, int classes) {
    if (c->epochs < 1)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: epochs must be >= 1 (got %d)", c->epochs);
    if (c->batch_size < 1)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: batch_size must be >= 1 (got %d)",
                        c->batch_size);
    if (classes < 2)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: need at least 2 classes (got %d)", classes);
    if (dim < 1)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: feature dim must be >= 1 (got %d)", dim);
    if (!isfinite(c->lr) || c->lr <= 0.0f)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: lr must be a finite number > 0 (got %g)",
                        c->lr);
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing < 1.0f))
        return tt_error(TT_ERR_INVALID_ARG, "trainer: label_smoothing must be in [0, 1) (got %g)",
                        c->label_smoothing);
    if (c->hidden < 0)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: hidden must be >= 0 (got %d)", c->hidden);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return tt_error(TT_ERR_INVALID_ARG, "trainer: dropout must be in [0, 1) (got %g)",
                        c->dropout);
    if (c->patience < 0)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: patience must be >= 0 (got %d)", c->patience);
    if (!isfinite(c->backbone_lr) || c->backbone_lr < 0.0f)
        return tt_error(TT_ERR_INVALID_ARG,
                        "trainer: backbone_lr must be a finite number >= 0 (got %g)",
                        c->backbone_lr);
    return TT_OK;
}

static tt_status tt_add_tensor(tt_trainer *t, const tt_named_tensor *src, const char *prefix,
                               float *data) {
    tt_named_tensor *d = &t->tensors[t->n_tensors++];
    *d = *src;
    d->grad = NULL;
    if (prefix) {
        if ((size_t)snprintf(d->name, sizeof d->name, "%s.%s", prefix, src->name) >= sizeof d->name)
            return tt_error(TT_ERR_LIMIT, "trainer: tensor name %s.%s too long", prefix, src->name);
        d->data = data;
    }
    return TT_OK;
}

/* The parameters, optimizer state and best copy of the tail, after the
 * head's: the tensor list is then head, backbone, optimizer state of both,
 * best of both. */
static tt_status tt_trainer_attach_tail(tt_trainer *t, tt_tail *tail, int B) {
    tt_tail_info ti = tt_tail_get_info(tail);
    if (ti.max_batch < B)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: the tail holds batches of %d, training uses %d",
                        ti.max_batch, B);
    t->tail = tail;
    t->tail_sched = t->sched;
    t->tail_sched.lr = t->cfg.backbone_lr > 0.0f ? t->cfg.backbone_lr : t->cfg.lr / 10.0f;
    tt_optim_config oc = t->optim.cfg;
    tt_named_tensor *params;
    int np = tt_tail_params(tail, &params);
    return tt_optim_init(&t->tail_optim, &oc, params, np);
}

static tt_status tt_trainer_create(tt_trainer **out, const tt_trainer_config *cfg, int dim,
                                   int classes, const tt_features *train, const tt_features *val,
                                   tt_tail *tail) {
    *out = NULL;
    tt_status st = tt_check_config(cfg, dim, classes);
    if (st) return st;
    tt_features none = {0};
    if (!val) val = &none;
    if (!train || train->n < 1)
        return tt_error(TT_ERR_INVALID_ARG, "trainer: the training set is empty");
    if ((st = tt_check_features("training", train, dim, classes)) ||
        (st = tt_check_features("validation", val, dim, classes)))
        return st;

    tt_trainer *t = calloc(1, sizeof *t);
    if (!t) return tt_error(TT_ERR_NOMEM, "trainer: no memory");
    t->cfg = *cfg;
    t->dim = dim;
    t->classes = classes;
    t->train = *train;
    t->val = *val;
    int B = cfg->batch_size < train->n ? cfg->batch_size : train->n;
    t->steps_per_epoch = (train->n + B - 1) / B;
    t->sched = (tt_schedule){.kind = cfg->schedule,
                             .lr = cfg->lr,
                             .total_steps = (int64_t)cfg->epochs * t->steps_per_epoch,
                             .warmup_steps = cfg->warmup_steps,
                             .steps_per_epoch = t->steps_per_epoch,
                             .step_epochs = cfg->step_epochs,
                             .gamma = cfg->gamma};
    if ((st = tt_schedule_check(&t->sched))) goto fail;

    tt_rng init_rng;
    tt_rng_seed(&init_rng, cfg->seed, TT_STREAM_INIT);
    tt_rng_seed(&t->shuffle_rng, cfg->seed, TT_STREAM_SHUFFLE);
    tt_rng_seed(&t->dropout_rng, cfg->seed, TT_STREAM_DROPOUT);
    int in = tail ? tt_tail_get_info(tail).feature_dim : dim;
    tt_head_config hc = {
        .in = in, .hidden = cfg->hidden, .classes = classes, .dropout = cfg->dropout};
    if ((st = tt_head_init(&t->head, &hc, B, &init_rng))) goto fail;
    tt_optim_config oc = tt_optim_defaults(cfg->optimizer);
    oc.momentum = cfg->momentum;
    oc.weight_decay = cfg->weight_decay;
    tt_named_tensor *params;
    int np = tt_head_params(&t->head, &params);
    if ((st = tt_optim_init(&t->optim, &oc, params, np))) goto fail;
    if (tail && (st = tt_trainer_attach_tail(t, tail, B))) goto fail;
    tt_named_tensor *tparams = NULL;
    int ntp = tail ? tt_tail_params(tail, &tparams) : 0;
    size_t tail_nf = tail ? tt_tail_get_info(tail).params : 0;

    size_t nf = t->head.n_floats, C = (size_t)classes, E = (size_t)cfg->epochs;
    size_t sizes[] = {
        nf * sizeof(float),                  /* best */
        (size_t)train->n * sizeof(uint32_t), /* perm */
        (size_t)B * dim * sizeof(float),     /* xb */
        (size_t)B * C * sizeof(float) * 2,   /* probs, dlogits */
        (size_t)B * sizeof(int32_t),         /* yb */
        E * sizeof(tt_epoch_metrics),        /* history */
        E * C * sizeof(float),               /* per_class */
        E * C * C * sizeof(int32_t),         /* confusion */
        tail_nf * sizeof(float),             /* tail_best */
        (size_t)B * in * sizeof(float),      /* dfeat (with a tail) */
    };
    size_t n_sizes = tail ? 10 : 8;
    size_t bytes = 0;
    for (size_t i = 0; i < n_sizes; i++) bytes += tt_arena_size_of(sizes[i]);
    if ((st = tt_arena_init(&t->arena, bytes))) goto fail;
    t->best = tt_arena_alloc(t->arena, sizes[0]);
    t->perm = tt_arena_alloc(t->arena, sizes[1]);
    t->xb = tt_arena_alloc(t->arena, sizes[2]);
    t->probs = tt_arena_alloc(t->arena, sizes[3]);
    t->dlogits = t->probs + (size_t)B * C;
    t->yb = tt_arena_alloc(t->arena, sizes[4]);
    t->history = tt_arena_alloc(t->arena, sizes[5]);
    t->per_class = tt_arena_alloc(t->arena, sizes[6]);
    t->confusion = tt_arena_alloc(t->arena, sizes[7]);
    memcpy(t->best, t->head.params_slab, sizes[0]);
    if (tail) {
        t->tail_best = tt_arena_alloc(t->arena, sizes[8]);
        t->dfeat = tt_arena_alloc(t->arena, sizes[9]);
        memcpy(t->tail_best, tparams[0].data, sizes[8]);
    }
    for (int i = 0; i < train->n; i++) t->perm[i] = (uint32_t)i;

    tt_named_tensor *ostate, *tstate = NULL;
    int ns = tt_optim_state_tensors(&t->optim, &ostate);
    int nts = tail ? tt_optim_state_tensors(&t->tail_optim, &tstate) : 0;
    t->tensors = calloc((size_t)(2 * np + ns + 2 * ntp + nts), sizeof *t->tensors);
    if (!t->tensors) {
        st = tt_error(TT_ERR_NOMEM, "trainer: no memory for the tensor list");
        goto fail;
    }
    for (int i = 0; i < np; i++) tt_add_tensor(t, &params[i], NULL, NULL);
    for (int i = 0; i < ntp; i++) tt_add_tensor(t, &tparams[i], NULL, NULL);
    for (int i = 0; i < ns; i++) tt_add_tensor(t, &ostate[i], NULL, NULL);
    for (int i = 0; i < nts; i++) tt_add_tensor(t, &tstate[i], NULL, NULL);
    for (int i = 0; i < np; i++)
        if ((st = tt_add_tensor(t, &params[i], "best",
                                t->best + (params[i].data - t->head.params_slab))))
            goto fail;
    for (int i = 0; i < ntp; i++)
        if ((st = tt_add_tensor(t, &tparams[i], "best",
                                t->tail_best + (tparams[i].data - tparams[0].data))))
            goto fail;
    t->best_loss = INFINITY;
    *out = t;
    return TT_OK;
fail:
    tt_trainer_free(t);
    return st;
}

tt_status tt_trainer_init(tt_trainer **out, const tt_trainer_config *cfg, int dim, int classes,
                          const tt_features *train, const tt_features *val) {
    return tt_trainer_create(out, cfg, dim, classes, train, val, NULL);
}

tt_status tt_trainer_init_tail(tt_trainer **out, const tt_trainer_config *cfg, tt_tail *tail,
                               int classes, const tt_features *train, const tt_features *val) {
    if (!tail) {
        *out = NULL;
        return tt_error(TT_ERR_INVALID_ARG, "tt_trainer_init_tail: NULL tail");
    }
    return tt_trainer_create(out, cfg, tt_tail_get_info(tail).in_dim, classes, train, val, tail);
}

void tt_trainer_free(tt_trainer *t) {
    if (!t) return;
    tt_optim_free(&t->optim);
    if (t->tail) tt_optim_free(&t->tail_optim);
    tt_head_free(&t->head);
    tt_arena_free(t->arena);
    free(t->tensors);
    free(t);
}

int tt_trainer_finished(const tt_trainer *t) { return t->stopped || t->epoch >= t->cfg.epochs; }

/* Loss sum and confusion matrix of the head on a feature set, in batches. */
static double tt_evaluate(tt_trainer *t, const tt_features *f, int32_t *confusion) {
    int C = t->classes, B = t->head.max_batch;
    double loss = 0.0;
    for (int i = 0; i < f->n; i += B) {
        int m = f->n - i < B ? f->n - i : B;
        const float *x = f->x + (size_t)i * t->dim;
        if (t->tail) x = tt_tail_forward(t->tail, m, x);
        const float *logits = tt_head_forward(&t->head, m, x, NULL);
        loss += (double)tt_softmax_xent(m, C, logits, f->labels + i, t->cfg.label_smoothing,
                                        t->probs, NULL) *
                m;
        tt_confusion_add(C, m, t->probs, f->labels + i, confusion);
    }
    return loss;
}

/* tail_best <- tail parameters (to_tail = 0) or back (1). */
static void tt_trainer_copy_tail(tt_trainer *t, float *best, int to_tail) {
    tt_named_tensor *p;
    tt_tail_params(t->tail, &p);
    size_t bytes = tt_tail_get_info(t->tail).params * sizeof(float);
    if (to_tail) memcpy(p[0].data, best, bytes);
    else memcpy(best, p[0].data, bytes);
}

static void tt_end_epoch(tt_trainer *t, float lr, double t0) {
    int C = t->classes, n = t->train.n;
    tt_epoch_metrics *e = &t->history[t->epoch];
    float *pc = t->per_class + (size_t)t->epoch * C;
    int32_t *conf = t->confusion + (size_t)t->epoch * C * C;
    memset(conf, 0, (size_t)C * C * sizeof *conf);
    *e = (tt_epoch_metrics){.epoch = t->epoch + 1,
                            .step = t->global_step,
                            .lr = lr,
                            .train_loss = t->epoch_loss_sum / n,
                            .train_acc = (double)t->epoch_correct / n,
                            .val_loss = NAN,
                            .val_acc = NAN,
                            .per_class_acc = pc,
                            .confusion = conf};
    if (t->val.n > 0) {
        e->val_loss = tt_evaluate(t, &t->val, conf) / t->val.n;
        e->val_acc = tt_confusion_accuracy(C, conf);
    }
    tt_confusion_per_class(C, conf, pc);
    double monitored = t->val.n > 0 ? e->val_loss : e->train_loss;
    if (monitored < t->best_loss) {
        t->best_loss = monitored;
        t->best_epoch = e->epoch;
        t->bad_epochs = 0;
        memcpy(t->best, t->head.params_slab, t->head.n_floats * sizeof(float));
        if (t->tail) tt_trainer_copy_tail(t, t->tail_best, 0);
    } else {
        t->bad_epochs++;
        if (t->cfg.patience > 0 && t->bad_epochs >= t->cfg.patience) t->stopped = 1;
    }
    e->seconds = t->epoch_seconds + (tt_now_seconds() - t0);
    t->epoch++;
    t->pos = 0;
    t->epoch_seconds = 0.0;
    t->epoch_loss_sum = 0.0;
    t->epoch_correct = 0;
}

tt_status tt_trainer_step(tt_trainer *t, int *epoch_ended) {
    if (epoch_ended) *epoch_ended = 0;
    if (tt_trainer_finished(t))
        return tt_error(TT_ERR_INVALID_ARG, "trainer: training already finished after epoch %d%s",
                        t->epoch, t->stopped ? " (early stopping)" : "");
    double t0 = tt_now_seconds();
    int n = t->train.n, D = t->dim, C = t->classes;
    if (t->pos == 0) {
        for (int i = 0; i < n; i++) t->perm[i] = (uint32_t)i;
        tt_rng_shuffle_u32(&t->shuffle_rng, t->perm, (size_t)n);
    }
    int m = n - t->pos < t->head.max_batch ? n - t->pos : t->head.max_batch;
    for (int i = 0; i < m; i++) {
        uint32_t s = t->perm[t->pos + i];
        memcpy(t->xb + (size_t)i * D, t->train.x + (size_t)s * D, (size_t)D * sizeof(float));
        t->yb[i] = t->train.labels[s];
    }
    const float *x = t->xb;
    if (t->tail) {
        tt_tail_zero_grad(t->tail);
        x = tt_tail_forward(t->tail, m, t->xb);
    }
    tt_head_zero_grad(&t->head);
    const float *logits = tt_head_forward(&t->head, m, x, &t->dropout_rng);
    float loss = tt_softmax_xent(m, C, logits, t->yb, t->cfg.label_smoothing, t->probs, t->dlogits);
    if (t->tail) {
        tt_head_backward_dx(&t->head, m, x, t->dlogits, t->dfeat);
        tt_tail_backward(t->tail, m, t->xb, t->dfeat);
    } else {
        tt_head_backward(&t->head, m, t->xb, t->dlogits);
    }
    float lr = tt_schedule_lr(&t->sched, t->global_step);
    tt_optim_step(&t->optim, lr);
    if (t->tail) tt_optim_step(&t->tail_optim, tt_schedule_lr(&t->tail_sched, t->global_step));
    t->global_step++;
    t->pos += m;
    t->epoch_loss_sum += (double)loss * m;
    for (int i = 0; i < m; i++)
        t->epoch_correct += tt_argmax(t->probs + (size_t)i * C, C) == t->yb[i];
    int ended = t->pos == n;
    if (ended)
        tt_end_epoch(t, lr, t0);
    else
        t->epoch_seconds += tt_now_seconds() - t0;
    if (epoch_ended) *epoch_ended = ended;
    return TT_OK;
}

tt_status tt_trainer_run_epoch(tt_trainer *t) {
    int ended = 0;
    tt_status st;
    while (!ended)
        if ((st = tt_trainer_step(t, &ended))) return st;
    return TT_OK;
}

void tt_trainer_progress_get(const tt_trainer *t, tt_trainer_progress *p) {
    int B = t->head.max_batch;
    *p = (tt_trainer_progress){.epoch = t->epoch,
                               .step_in_epoch = (t->pos + B - 1) / B,
                               .steps_per_epoch = t->steps_per_epoch,
                               .global_step = t->global_step,
                               .train_loss = t->pos ? t->epoch_loss_sum / t->pos : NAN,
                               .train_acc = t->pos ? (double)t->epoch_correct / t->pos : NAN,
                               .finished = tt_trainer_finished(t)};
}

const tt_epoch_metrics *tt_trainer_history(const tt_trainer *t, int *n) {
    *n = t->epoch;
    return t->history;
}

int tt_trainer_best_epoch(const tt_trainer *t) { return t->best_epoch; }

void tt_trainer_use_best(tt_trainer *t) {
    if (!t->best_epoch) return;
    memcpy(t->head.params_slab, t->best, t->head.n_floats * sizeof(float));
    if (t->tail) tt_trainer_copy_tail(t, t->tail_best, 1);
}

tt_head *tt_trainer_head(tt_trainer *t) { return &t->head; }

const tt_trainer_config *tt_trainer_get_config(const tt_trainer *t) { return &t->cfg; }

int tt_trainer_tensors(tt_trainer *t, const tt_named_tensor **out) {
    *out = t->tensors;
    return t->n_tensors;
}

/* The progress scalars tt_trainer and tt_trainer_state both hold under the
 * same names: one list, so that saving and restoring cannot drift apart. */
#define TT_PROGRESS_FIELDS(X)                                                                  \
    X(epoch) X(global_step) X(pos) X(shuffle_rng) X(dropout_rng) X(epoch_loss_sum)             \
    X(epoch_correct) X(epoch_seconds) X(best_epoch) X(best_loss) X(bad_epochs) X(stopped)

void tt_trainer_get_state(const tt_trainer *t, tt_trainer_state *s) {
    *s = (tt_trainer_state){.n_train = t->train.n,
                            .dim = t->dim,
                            .classes = t->classes,
                            .unfreeze = t->tail ? tt_tail_get_info(t->tail).unfreeze : 0,
                            .perm = t->perm,
                            .n_history = t->epoch,
                            .history = t->history};
#define TT_GET(field) s->field = t->field;
    TT_PROGRESS_FIELDS(TT_GET)
#undef TT_GET
}

static tt_status tt_check_state(const tt_trainer *t, const tt_trainer_state *s) {
    int B = t->head.max_batch, n = t->train.n;
    if (s->n_train != n || s->dim != t->dim || s->classes != t->classes)
        return tt_error(TT_ERR_MISMATCH,
                        "resume: state is for %d samples × %d features, %d classes; "
                        "trainer has %d × %d, %d",
                        s->n_train, s->dim, s->classes, n, t->dim, t->classes);
    int unfreeze = t->tail ? tt_tail_get_info(t->tail).unfreeze : 0;
    if (s->unfreeze != unfreeze)
        return tt_error(TT_ERR_MISMATCH,
                        "resume: state is for %d unfrozen backbone blocks, trainer has %d",
                        s->unfreeze, unfreeze);
    if (s->epoch < 0 || s->epoch > t->cfg.epochs || s->n_history != s->epoch ||
        (s->epoch > 0 && !s->history))
        return tt_error(TT_ERR_CORRUPT, "resume: epoch %d with %d history records (max %d epochs)",
                        s->epoch, s->n_history, t->cfg.epochs);
    if (s->pos < 0 || s->pos >= n || s->pos % B ||
        s->global_step != (int64_t)s->epoch * t->steps_per_epoch + s->pos / B)
        return tt_error(TT_ERR_CORRUPT,
                        "resume: position %d in epoch %d and global step %lld disagree "
                        "(batch %d, %d steps per epoch)",
                        s->pos, s->epoch, (long long)s->global_step, B, t->steps_per_epoch);
    if (!(s->shuffle_rng.inc & 1) || !(s->dropout_rng.inc & 1))
        return tt_error(TT_ERR_CORRUPT, "resume: rng stream words must be odd");
    if (s->best_epoch < 0 || s->best_epoch > s->epoch || s->bad_epochs < 0 ||
        s->bad_epochs > s->epoch || (s->stopped != 0 && s->stopped != 1) || s->epoch_correct < 0 ||
        s->epoch_correct > s->pos)
        return tt_error(TT_ERR_CORRUPT,
                        "resume: inconsistent counters (best epoch %d, bad epochs %d, stopped %d, "
                        "correct %lld of %d)",
                        s->best_epoch, s->bad_epochs, s->stopped, (long long)s->epoch_correct,
                        s->pos);
    for (int e = 0; e < s->n_history; e++)
        if (!s->history[e].per_class_acc || !s->history[e].confusion)
            return tt_error(TT_ERR_CORRUPT, "resume: history record %d lacks per-class arrays", e);
    if (s->pos > 0) {
        if (!s->perm)
            return tt_error(TT_ERR_CORRUPT, "resume: mid-epoch state without permutation");
        /* Not a hot path, and s->perm may be t->perm itself: use fresh scratch. */
        unsigned char *seen = calloc((size_t)n, 1);
        if (!seen) return tt_error(TT_ERR_NOMEM, "resume: no memory to check the permutation");
        tt_status st = TT_OK;
        for (int i = 0; i < n && !st; i++) {
            uint32_t v = s->perm[i];
            if (v >= (uint32_t)n || seen[v]++)
                st = tt_error(TT_ERR_CORRUPT, "resume: permutation entry %d (%u) is %s", i,
                              (unsigned)v, v >= (uint32_t)n ? "out of range" : "repeated");
        }
        free(seen);
        if (st) return st;
    }
    return TT_OK;
}

tt_status tt_trainer_restore(tt_trainer *t, const tt_trainer_state *s) {
    tt_status st = tt_check_state(t, s);
    if (st) return st;
    int C = t->classes;
    if (s->pos > 0) memmove(t->perm, s->perm, (size_t)t->train.n * sizeof *t->perm);
    for (int e = 0; e < s->n_history; e++) {
        float *pc = t->per_class + (size_t)e * C;
        int32_t *conf = t->confusion + (size_t)e * C * C;
        memmove(pc, s->history[e].per_class_acc, (size_t)C * sizeof *pc);
        memmove(conf, s->history[e].confusion, (size_t)C * C * sizeof *conf);
        t->history[e] = s->history[e];
        t->history[e].per_class_acc = pc;
        t->history[e].confusion = conf;
    }
    if ((st = tt_optim_set_step(&t->optim, s->global_step))) return st;
    if (t->tail && (st = tt_optim_set_step(&t->tail_optim, s->global_step))) return st;
#define TT_SET(field) t->field = s->field;
    TT_PROGRESS_FIELDS(TT_SET)
#undef TT_SET
    return TT_OK;
}
