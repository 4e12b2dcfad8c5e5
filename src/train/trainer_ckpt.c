/* A trainer in a checkpoint file and back (tabtrain/trainer.h, "Checkpoints"):
 * train/ turns its state into the named tensors and JSON documents that the
 * checkpoint format of src/ckpt/ stores, and reads them back. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"
#include "tabtrain/trainer.h"

#define TT_PERM_TENSOR "state.perm"
#define TT_CKPT_MAX_BATCH 65536

/* A member "key" and its number: round-trip digits (17 for doubles, 9 for floats); NaN and ±inf as null. */
static void tt_sb_num(tt_strbuf *b, const char *key, double v, int digits) {
    tt_strbuf_printf(b, "%s", key);
    tt_strbuf_num(b, v, digits == 9);
}

/* ---- writing ------------------------------------------------------------ */

static const char *tt_optim_names[] = {"adam", "sgd"};
static const char *tt_sched_names[] = {"constant", "cosine", "step"};

static void tt_trainer_config_json(tt_strbuf *b, const tt_trainer_config *c) {
    tt_strbuf_printf(b, "{\"epochs\":%d,\"batch_size\":%d,\"optimizer\":\"%s\"", c->epochs,
                 c->batch_size, tt_optim_names[c->optimizer == TT_OPTIM_SGD]);
    tt_sb_num(b, ",\"lr\":", c->lr, 9);
    tt_strbuf_printf(b, ",\"schedule\":\"%s\",\"warmup_steps\":%d,\"step_epochs\":%d",
                 tt_sched_names[(unsigned)c->schedule < 3 ? c->schedule : 0], c->warmup_steps,
                 c->step_epochs);
    tt_sb_num(b, ",\"gamma\":", c->gamma, 9);
    tt_sb_num(b, ",\"weight_decay\":", c->weight_decay, 9);
    tt_sb_num(b, ",\"momentum\":", c->momentum, 9);
    tt_sb_num(b, ",\"label_smoothing\":", c->label_smoothing, 9);
    tt_strbuf_printf(b, ",\"hidden\":%d", c->hidden);
    tt_sb_num(b, ",\"dropout\":", c->dropout, 9);
    tt_strbuf_printf(b, ",\"patience\":%d,\"seed\":\"%" PRIu64 "\"", c->patience, c->seed);
    tt_sb_num(b, ",\"backbone_lr\":", c->backbone_lr, 9);
    tt_strbuf_printf(b, "}");
}

static void tt_rng_json(tt_strbuf *b, const char *key, const tt_rng *r) {
    tt_strbuf_printf(b, ",\"%s\":{\"state\":\"%" PRIu64 "\",\"inc\":\"%" PRIu64 "\"}", key, r->state,
                 r->inc);
}

static void tt_state_json(tt_strbuf *b, const tt_trainer_state *s) {
    tt_strbuf_printf(b,
                 "{\"n_train\":%d,\"dim\":%d,\"classes\":%d,\"unfreeze\":%d,\"epoch\":%d,"
                 "\"global_step\":%" PRId64 ",\"pos\":%d",
                 s->n_train, s->dim, s->classes, s->unfreeze, s->epoch, s->global_step, s->pos);
    tt_rng_json(b, "shuffle_rng", &s->shuffle_rng);
    tt_rng_json(b, "dropout_rng", &s->dropout_rng);
    tt_sb_num(b, ",\"epoch_loss_sum\":", s->epoch_loss_sum, 17);
    tt_strbuf_printf(b, ",\"epoch_correct\":%" PRId64, s->epoch_correct);
    tt_sb_num(b, ",\"epoch_seconds\":", s->epoch_seconds, 17);
    tt_strbuf_printf(b, ",\"best_epoch\":%d", s->best_epoch);
    tt_sb_num(b, ",\"best_loss\":", s->best_loss, 17);
    tt_strbuf_printf(b, ",\"bad_epochs\":%d,\"stopped\":%d}", s->bad_epochs, s->stopped);
}

static void tt_history_json(tt_strbuf *b, const tt_trainer_state *s) {
    tt_strbuf_printf(b, "[");
    for (int e = 0; e < s->n_history; e++) {
        size_t need = tt_epoch_metrics_json(&s->history[e], s->classes, NULL, 0);
        if (!tt_strbuf_reserve(b, need + 1)) return;
        if (e) b->s[b->len++] = ',';
        tt_epoch_metrics_json(&s->history[e], s->classes, b->s + b->len, need + 1);
        b->len += need;
    }
    tt_strbuf_printf(b, "]");
}

static tt_status tt_ckpt_build(tt_trainer *t, const tt_ckpt_meta *m, tt_st_builder **out) {
    static const tt_ckpt_meta none = {0};
    if (!m) m = &none;
    tt_trainer_state s;
    tt_trainer_get_state(t, &s);
    tt_trainer_config cfg = *tt_trainer_get_config(t);
    tt_strbuf sb[4] = {{0}}; /* head, trainer, history, state */
    /* The head's input: the features (of the tail, when fine-tuning), not the cached rows. */
    tt_strbuf_printf(&sb[0], "{\"in_dim\":%d,\"hidden\":%d,\"classes\":%d",
                 tt_trainer_head(t)->cfg.in, cfg.hidden, s.classes);
    tt_sb_num(&sb[0], ",\"dropout\":", cfg.dropout, 9);
    tt_strbuf_printf(&sb[0], ",\"unfreeze\":%d}", s.unfreeze);
    tt_trainer_config_json(&sb[1], &cfg);
    tt_history_json(&sb[2], &s);
    tt_state_json(&sb[3], &s);
    tt_status st = TT_OK;
    for (int i = 0; i < 4; i++)
        if (sb[i].oom) st = tt_error(TT_ERR_NOMEM, "checkpoint: no memory for the metadata");
    tt_ckpt_docs d = {sb[0].s, sb[1].s, sb[2].s, sb[3].s};
    tt_st_builder *b = NULL;
    if (!st) st = tt_ckpt_begin(&b, m, &d);
    for (int i = 0; i < 4; i++) free(sb[i].s);

    const tt_named_tensor *ts;
    int n = tt_trainer_tensors(t, &ts);
    for (int i = 0; !st && i < n; i++)
        st = tt_st_add(b, ts[i].name, TT_DTYPE_F32, ts[i].ndim, ts[i].shape, ts[i].data);
    int64_t pn = s.n_train;
    /* uint32 indices < n_train <= INT32_MAX: the same bits as I32. */
    if (!st) st = tt_st_add(b, TT_PERM_TENSOR, TT_DTYPE_I32, 1, &pn, s.perm);
    for (int i = 0; !st && i < m->n_extra; i++)
        st = tt_st_add(b, m->extra[i].name, TT_DTYPE_F32, m->extra[i].ndim, m->extra[i].shape,
                       m->extra[i].data);
    if (st) {
        tt_st_builder_free(b);
        return st;
    }
    *out = b;
    return TT_OK;
}

tt_status tt_ckpt_save_memory(tt_trainer *t, const tt_ckpt_meta *m, void **out, size_t *len) {
    tt_st_builder *b;
    tt_status st = tt_ckpt_build(t, m, &b);
    if (st) return st;
    st = tt_st_write_memory(b, out, len);
    tt_st_builder_free(b);
    return st;
}

tt_status tt_ckpt_save_file(tt_trainer *t, const tt_ckpt_meta *m, const char *path) {
    tt_st_builder *b;
    tt_status st = tt_ckpt_build(t, m, &b);
    if (st) return st;
    st = tt_st_write_file(b, path);
    tt_st_builder_free(b);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

tt_status tt_ckpt_trainer_config(const tt_st_file *f, tt_trainer_config *cfg, int *dim,
                                 int *classes) {
    tt_json j, h;
    tt_status st = tt_ckpt_json(&j, f, "tabtrain.trainer");
    if (st) return st;
    if ((st = tt_ckpt_json(&h, f, "tabtrain.head"))) {
        tt_json_free(&j);
        return st;
    }
    tt_trainer_config c = tt_trainer_defaults();
    double v[7] = {0};
    char opt[16] = "", sched[16] = "";
    int ok = tt_json_int(&j, tt_json_key(&j, 0, "epochs"), &c.epochs) &&
             tt_json_int(&j, tt_json_key(&j, 0, "batch_size"), &c.batch_size) &&
             tt_json_text(&j, tt_json_key(&j, 0, "optimizer"), opt, sizeof opt) &&
             tt_json_num(&j, tt_json_key(&j, 0, "lr"), &v[0], 1) &&
             tt_json_text(&j, tt_json_key(&j, 0, "schedule"), sched, sizeof sched) &&
             tt_json_int(&j, tt_json_key(&j, 0, "warmup_steps"), &c.warmup_steps) &&
             tt_json_int(&j, tt_json_key(&j, 0, "step_epochs"), &c.step_epochs) &&
             tt_json_num(&j, tt_json_key(&j, 0, "gamma"), &v[1], 1) &&
             tt_json_num(&j, tt_json_key(&j, 0, "weight_decay"), &v[2], 1) &&
             tt_json_num(&j, tt_json_key(&j, 0, "momentum"), &v[3], 1) &&
             tt_json_num(&j, tt_json_key(&j, 0, "label_smoothing"), &v[4], 1) &&
             tt_json_int(&j, tt_json_key(&j, 0, "hidden"), &c.hidden) &&
             tt_json_num(&j, tt_json_key(&j, 0, "dropout"), &v[5], 1) &&
             tt_json_int(&j, tt_json_key(&j, 0, "patience"), &c.patience) &&
             tt_json_u64(&j, tt_json_key(&j, 0, "seed"), &c.seed) &&
             tt_json_int(&h, tt_json_key(&h, 0, "in_dim"), dim) &&
             tt_json_int(&h, tt_json_key(&h, 0, "classes"), classes);
    /* Absent in checkpoints from before fine-tuning existed: the default. */
    int blr = tt_json_key(&j, 0, "backbone_lr");
    ok = ok && (blr < 0 || tt_json_num(&j, blr, &v[6], 1));
    tt_json_free(&j), tt_json_free(&h);
    c.optimizer = !strcmp(opt, "sgd") ? TT_OPTIM_SGD : TT_OPTIM_ADAM;
    c.schedule = !strcmp(sched, "cosine") ? TT_SCHED_COSINE
               : !strcmp(sched, "step")   ? TT_SCHED_STEP
                                          : TT_SCHED_CONSTANT;
    /* The batch sizes buffers before anything else is checked: the CLI's range. */
    ok = ok && c.batch_size >= 1 && c.batch_size <= TT_CKPT_MAX_BATCH && c.epochs >= 0;
    if (!ok || (strcmp(opt, "sgd") && strcmp(opt, "adam")) ||
        (c.schedule == TT_SCHED_CONSTANT && strcmp(sched, "constant")))
        return tt_error(TT_ERR_FORMAT, "checkpoint: tabtrain.trainer or tabtrain.head lacks a "
                                       "field or has one of the wrong type");
    c.lr = (float)v[0], c.gamma = (float)v[1], c.weight_decay = (float)v[2];
    c.momentum = (float)v[3], c.label_smoothing = (float)v[4], c.dropout = (float)v[5];
    c.backbone_lr = (float)v[6];
    *cfg = c;
    return TT_OK;
}

static int tt_rng_read(const tt_json *j, const char *key, tt_rng *r) {
    int o = tt_json_key(j, 0, key);
    return tt_json_u64(j, tt_json_key(j, o, "state"), &r->state) &&
           tt_json_u64(j, tt_json_key(j, o, "inc"), &r->inc);
}

/* One epoch record into e, its arrays into pc [C] and conf [C][C]. */
static int tt_history_read(const tt_json *j, int rec, int C, tt_epoch_metrics *e, float *pc,
                           int32_t *conf) {
    double lr = 0;
    int ok = tt_json_int(j, tt_json_key(j, rec, "epoch"), &e->epoch) &&
             tt_json_i64(j, tt_json_key(j, rec, "step"), &e->step) &&
             tt_json_num(j, tt_json_key(j, rec, "lr"), &lr, 1) &&
             tt_json_num(j, tt_json_key(j, rec, "train_loss"), &e->train_loss, 0) &&
             tt_json_num(j, tt_json_key(j, rec, "train_acc"), &e->train_acc, 0) &&
             tt_json_num(j, tt_json_key(j, rec, "val_loss"), &e->val_loss, 0) &&
             tt_json_num(j, tt_json_key(j, rec, "val_acc"), &e->val_acc, 0) &&
             tt_json_num(j, tt_json_key(j, rec, "seconds"), &e->seconds, 0);
    e->lr = (float)lr;
    int a = tt_json_key(j, rec, "per_class_acc"), m = tt_json_key(j, rec, "confusion");
    ok = ok && tt_json_len(j, a) == C && tt_json_len(j, m) == C;
    for (int c = 0; ok && c < C; c++) {
        double v = 0;
        ok = tt_json_num(j, tt_json_at(j, a, c), &v, 1);
        pc[c] = (float)v;
        int row = tt_json_at(j, m, c);
        ok = ok && tt_json_len(j, row) == C;
        for (int k = 0; ok && k < C; k++) {
            int x = 0;
            ok = tt_json_int(j, tt_json_at(j, row, k), &x);
            conf[c * C + k] = x;
        }
    }
    e->per_class_acc = pc, e->confusion = conf;
    return ok;
}

tt_status tt_epoch_history_read(tt_epoch_history *h, const tt_json *j, int arr, int C) {
    *h = (tt_epoch_history){0};
    int n = tt_json_len(j, arr);
    /* Each record holds C*C + C numbers, each a token of the JSON: the text's own
     * length bounds the arrays before they are allocated (and keeps E*C*C from
     * wrapping a 32-bit size_t). */
    if (n < 0 || C <= 0 || (uint64_t)n * ((uint64_t)C * C + C) > (uint64_t)j->n)
        return tt_error(TT_ERR_FORMAT, "tabtrain.history is not a list of epoch records for %d classes", C);
    if (!n) return TT_OK;
    size_t E = (size_t)n;
    h->epochs = calloc(E, sizeof *h->epochs);
    h->per_class_acc = calloc(E * C, sizeof *h->per_class_acc);
    h->confusion = calloc(E * C * C, sizeof *h->confusion);
    if (!h->epochs || !h->per_class_acc || !h->confusion) {
        tt_epoch_history_free(h);
        return tt_error(TT_ERR_NOMEM, "no memory for the training history");
    }
    int ok = 1;
    for (int e = 0; ok && e < n; e++)
        ok = tt_history_read(j, tt_json_at(j, arr, e), C, &h->epochs[e], h->per_class_acc + (size_t)e * C,
                             h->confusion + (size_t)e * C * C);
    if (!ok) {
        tt_epoch_history_free(h);
        return tt_error(TT_ERR_FORMAT, "tabtrain.history: an epoch record lacks a field or has one of the wrong type");
    }
    h->n = n;
    return TT_OK;
}

void tt_epoch_history_free(tt_epoch_history *h) {
    free(h->epochs), free(h->per_class_acc), free(h->confusion);
    *h = (tt_epoch_history){0};
}

tt_status tt_ckpt_restore(tt_trainer *t, const tt_st_file *f) {
    tt_trainer_state s;
    tt_trainer_get_state(t, &s); /* for the expected sizes */
    int n = s.n_train, C = s.classes;
    const tt_st_tensor *perm;
    tt_status st = tt_st_get(f, TT_PERM_TENSOR, TT_DTYPE_I32, &perm);
    if (st) return st;
    if (perm->ndim != 1 || perm->shape[0] != n)
        return tt_error(TT_ERR_MISMATCH,
                        "checkpoint holds the order of %lld training samples; this run has %d "
                        "(the data changed?)",
                        (long long)(perm->ndim == 1 ? perm->shape[0] : -1), n);
    tt_json js, jh;
    if ((st = tt_ckpt_json(&js, f, "tabtrain.state")))
        return st;
    if ((st = tt_ckpt_json(&jh, f, "tabtrain.history"))) {
        tt_json_free(&js);
        return st;
    }
    tt_trainer_state r = {0};
    int stopped = 0;
    int ok = tt_json_int(&js, tt_json_key(&js, 0, "n_train"), &r.n_train) &&
             tt_json_int(&js, tt_json_key(&js, 0, "dim"), &r.dim) &&
             tt_json_int(&js, tt_json_key(&js, 0, "classes"), &r.classes) &&
             tt_json_int(&js, tt_json_key(&js, 0, "epoch"), &r.epoch) &&
             tt_json_i64(&js, tt_json_key(&js, 0, "global_step"), &r.global_step) &&
             tt_json_int(&js, tt_json_key(&js, 0, "pos"), &r.pos) &&
             tt_rng_read(&js, "shuffle_rng", &r.shuffle_rng) &&
             tt_rng_read(&js, "dropout_rng", &r.dropout_rng) &&
             tt_json_num(&js, tt_json_key(&js, 0, "epoch_loss_sum"), &r.epoch_loss_sum, 0) &&
             tt_json_i64(&js, tt_json_key(&js, 0, "epoch_correct"), &r.epoch_correct) &&
             tt_json_num(&js, tt_json_key(&js, 0, "epoch_seconds"), &r.epoch_seconds, 0) &&
             tt_json_int(&js, tt_json_key(&js, 0, "best_epoch"), &r.best_epoch) &&
             tt_json_num(&js, tt_json_key(&js, 0, "best_loss"), &r.best_loss, 0) &&
             tt_json_int(&js, tt_json_key(&js, 0, "bad_epochs"), &r.bad_epochs) &&
             tt_json_int(&js, tt_json_key(&js, 0, "stopped"), &stopped);
    r.stopped = stopped;
    int uf = tt_json_key(&js, 0, "unfreeze"); /* absent before fine-tuning existed: 0 */
    ok = ok && (uf < 0 || tt_json_int(&js, uf, &r.unfreeze));
    /* best_loss is +inf until the first epoch ends (never NaN: a NaN loss never improves). */
    if (isnan(r.best_loss)) r.best_loss = INFINITY;
    r.perm = perm->data;
    tt_epoch_history hist = {0};
    ok = ok && r.classes == C && r.epoch >= 0 && !tt_epoch_history_read(&hist, &jh, 0, C) && hist.n == r.epoch;
    r.n_history = hist.n;
    r.history = hist.epochs;
    tt_json_free(&js), tt_json_free(&jh);
    if (!st && !ok)
        st = tt_error(TT_ERR_FORMAT, "checkpoint: tabtrain.state or tabtrain.history lacks a "
                                     "field or has one of the wrong type");
    /* Before the tensors, whose names would only say "backbone.* missing". */
    if (!st && r.unfreeze != s.unfreeze)
        st = tt_error(TT_ERR_MISMATCH,
                      "checkpoint was trained with --unfreeze %d; this run has --unfreeze %d",
                      r.unfreeze, s.unfreeze);
    const tt_named_tensor *ts;
    int nt = tt_trainer_tensors(t, &ts);
    if (!st) st = tt_ckpt_load_tensors(f, ts, nt);
    if (!st) st = tt_trainer_restore(t, &r);
    tt_epoch_history_free(&hist);
    return st;
}

/* ---- checkpoint directories ------------------------------------------------ */

static tt_ckpt_pos tt_position(const tt_trainer *t) {
    tt_trainer_progress pr;
    tt_trainer_progress_get(t, &pr);
    return (tt_ckpt_pos){pr.epoch, pr.global_step, pr.finished, tt_trainer_best_epoch(t)};
}

tt_status tt_ckpt_dir_step(tt_ckpt_dir *d, tt_trainer *t, const tt_ckpt_meta *m, int epoch_ended, int *saved) {
    if (saved) *saved = 0;
    tt_ckpt_pos p = tt_position(t);
    int due, best;
    tt_ckpt_dir_due(d, &p, epoch_ended, &due, &best);
    if (!due && !best) return TT_OK;
    void *bytes = NULL;
    size_t len;
    tt_status st = tt_ckpt_save_memory(t, m, &bytes, &len);
    if (!st) st = tt_ckpt_dir_write(d, &p, bytes, len, due, best);
    if (!st && due && saved) *saved = 1;
    free(bytes);
    return st;
}

tt_status tt_ckpt_dir_save(tt_ckpt_dir *d, tt_trainer *t, const tt_ckpt_meta *m) {
    tt_ckpt_pos p = tt_position(t);
    void *bytes;
    size_t len;
    tt_status st = tt_ckpt_save_memory(t, m, &bytes, &len);
    if (st) return st;
    st = tt_ckpt_dir_write(d, &p, bytes, len, 1, 0);
    free(bytes);
    return st;
}
