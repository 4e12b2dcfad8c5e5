/* One training run, and what makes a checkpoint belong to it (tabtrain/run.h). */
#include "tabtrain/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

uint32_t tt_run_data_id(uint32_t id, const uint8_t hash[TT_SHA256_SIZE], int32_t label) {
    uint8_t row[TT_SHA256_SIZE + 4];
    memcpy(row, hash, TT_SHA256_SIZE);
    for (int i = 0; i < 4; i++) row[TT_SHA256_SIZE + i] = (uint8_t)((uint32_t)label >> (8 * i)); /* little endian */
    return tt_crc32(id, row, sizeof row);
}

char *tt_run_config_json(const tt_config *c, uint32_t data_id, const int *class_ids, int n_ids) {
    char *settings = tt_config_to_json(c);
    if (!settings) return NULL;
    tt_strbuf b = {0};
    tt_strbuf_printf(&b, "%.*s,\"data_id\":\"%08x\"", (int)strlen(settings) - 1, settings, (unsigned)data_id);
    free(settings);
    if (class_ids) {
        tt_strbuf_printf(&b, ",\"class_ids\":[");
        for (int i = 0; i < n_ids; i++) tt_strbuf_printf(&b, "%s%d", i ? "," : "", class_ids[i]);
        tt_strbuf_printf(&b, "]");
    }
    tt_strbuf_printf(&b, "}");
    return tt_strbuf_take(&b);
}

tt_status tt_run_check_file(const tt_st_file *f, const tt_config *cfg, uint32_t data_id) {
    tt_config saved;
    tt_status st = tt_config_from_file(f, &saved);
    if (!st) st = tt_config_compare(&saved, cfg);
    if (st) return st;
    tt_json j;
    const char *cj = tt_st_metadata(f, "tabtrain.config");
    char have[16];
    int known = cj && !tt_json_parse(&j, cj) && tt_json_text(&j, tt_json_key(&j, 0, "data_id"), have, sizeof have);
    if (cj) tt_json_free(&j);
    if (!known) return tt_error(TT_ERR_NOT_FOUND, "checkpoint does not say which pictures it was trained on");
    char want[16];
    snprintf(want, sizeof want, "%08x", (unsigned)data_id);
    if (strcmp(have, want))
        return tt_error(TT_ERR_MISMATCH, "checkpoint was trained on other pictures (or another split of them): "
                                         "the same pictures and settings are needed to continue it");
    return TT_OK;
}

/* ---- the run ------------------------------------------------------------------------- */

/* One picture of the run, copied at planning: the run outlives removals. */
typedef struct tt_run_item {
    int id;
    int32_t label;
    uint8_t hash[TT_SHA256_SIZE];
} tt_run_item;

struct tt_run {
    tt_run_env env;
    tt_config cfg;
    int n_classes;
    int *class_ids;     /* [n_classes] label index -> class id */
    char **class_names; /* the names the run's files record */
    tt_run_item *items; /* planned: [train_plan + val_plan]; kept ones compacted in place */
    int train_plan, val_plan;
    int next;             /* planned items consumed (prepared or left out) */
    int n_train, n_val;   /* kept */
    int rows_per_train;   /* 1 + augment_views with augment, else 1 */
    int dim;              /* floats per row */
    size_t rows;          /* rows filled */
    float *x;             /* [rows][dim]: training rows, then validation rows */
    int32_t *y;
    int *kept_ids;        /* image ids of the kept items (tt_run_image_ids) */
    tt_tail *tail;
    tt_trainer *trainer;  /* NULL until every row is prepared */
    void *restore;        /* the checkpoint to continue, until the trainer exists */
    size_t restore_len;
    int restore_fit;      /* tt_run_fits flags checked before restoring */
    char *restore_name;
    int restore_epoch, restore_finished;
    int64_t restore_step;
    const tt_classifier *init;
    uint32_t data_id;     /* tt_run_data_id of the kept pictures */
    uint32_t data_crc;    /* CRC-32 of the (image id, label) rows: what engine checkpoints stored before data ids */
    tt_ckpt_dir *ckpt;
    int ckpt_ids, ckpt_fresh;
    int need;             /* the picture the last step waited for (TT_RUN_NEED_PICTURE), else 0 */
    int has_saved, saved_epoch; /* the newest checkpoint in the directory */
    int64_t saved_step;
    char *classes_json, *config_json; /* the checkpoint metadata, rebuilt when a name changes */
};

static void tt_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

void tt_run_free(tt_run *r) {
    if (!r) return;
    tt_trainer_free(r->trainer);
    tt_tail_free(r->tail);
    tt_ckpt_dir_free(r->ckpt);
    free(r->class_ids);
    tt_names_free(r->class_names, r->n_classes);
    free(r->items);
    free(r->x);
    free(r->y);
    free(r->kept_ids);
    free(r->restore);
    free(r->restore_name);
    free(r->classes_json);
    free(r->config_json);
    free(r);
}

static void tt_run_ids(tt_run *r) {
    r->data_id = r->data_crc = 0;
    int n = r->next == r->train_plan + r->val_plan ? r->n_train + r->n_val : r->train_plan + r->val_plan;
    for (int k = 0; k < n; k++) {
        int32_t row[2] = {r->items[k].id, r->items[k].label};
        r->data_crc = tt_crc32(r->data_crc, row, sizeof row);
        r->data_id = tt_run_data_id(r->data_id, r->items[k].hash, r->items[k].label);
    }
}

/* The checkpoint's position (tabtrain.state) for a front end to show before the rows are ready. */
static void tt_run_restore_read(tt_run *r) {
    tt_st_file *f;
    if (tt_ckpt_open_memory(&f, r->restore, r->restore_len)) return;
    tt_json j;
    if (!tt_json_parse(&j, tt_st_metadata(f, "tabtrain.state"))) {
        int stopped = 0;
        tt_json_int(&j, tt_json_key(&j, 0, "epoch"), &r->restore_epoch);
        tt_json_i64(&j, tt_json_key(&j, 0, "global_step"), &r->restore_step);
        tt_json_int(&j, tt_json_key(&j, 0, "stopped"), &stopped);
        r->restore_finished = stopped || r->restore_epoch >= r->cfg.train.epochs;
        tt_json_free(&j);
    }
    tt_st_close(f);
}

static tt_status tt_run_classes_plan(tt_run *r, const tt_project *p, const tt_run_plan *plan) {
    int n = plan->class_ids ? plan->n_classes : tt_project_n_classes(p);
    r->class_ids = malloc(((size_t)n + 1) * sizeof *r->class_ids);
    r->class_names = calloc((size_t)n + 1, sizeof *r->class_names);
    if (!r->class_ids || !r->class_names) return tt_error(TT_ERR_NOMEM, "no memory for the run");
    for (int i = 0; i < n; i++) {
        int id = plan->class_ids ? plan->class_ids[i] : tt_project_class_at(p, i)->id;
        int k = tt_project_class_index(p, id);
        if (k < 0) return tt_error(TT_ERR_MISMATCH, "class id %d of the saved run no longer exists", id);
        if (!plan->class_ids && !tt_project_class_count(p, id)) continue; /* an empty class cannot be learned */
        r->class_ids[r->n_classes] = id;
        if (!(r->class_names[r->n_classes++] = tt_strdup(tt_project_class_at(p, k)->name)))
            return tt_error(TT_ERR_NOMEM, "no memory for the run");
    }
    if (r->n_classes < 2) return tt_error(TT_ERR_INVALID_ARG, "training needs at least two classes with images");
    return TT_OK;
}

/* The run's pictures and labels, split by labels alone (or as the plan says). */
static tt_status tt_run_split(tt_run *r, const tt_project *p, const tt_run_plan *plan) {
    int n = tt_project_n_images(p), n_run = 0;
    int *which = malloc(((size_t)n + 1) * sizeof *which);
    int32_t *labels = malloc(((size_t)n + 1) * sizeof *labels);
    uint8_t *to_val = malloc((size_t)n + 1);
    tt_status st = which && labels && to_val ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory for the run");
    for (int j = 0; !st && j < n; j++)
        for (int i = 0; i < r->n_classes; i++)
            if (r->class_ids[i] == tt_project_image_at(p, j)->class_id) which[n_run] = j, labels[n_run++] = i;
    if (!st && plan->val)
        for (int k = 0; k < n_run; k++) to_val[k] = plan->val[which[k]] != 0;
    else if (!st) st = tt_split_labels(labels, n_run, r->n_classes, r->cfg.val_fraction, r->cfg.train.seed, to_val);
    if (!st && !(r->items = malloc(((size_t)n_run + 1) * sizeof *r->items))) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st && !(r->kept_ids = malloc(((size_t)n_run + 1) * sizeof *r->kept_ids))) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int side = 0; !st && side < 2; side++) /* training pictures, then validation pictures, each in id order */
        for (int k = 0; k < n_run; k++) {
            if (to_val[k] != side) continue;
            const tt_project_image *im = tt_project_image_at(p, which[k]);
            tt_run_item *it = &r->items[side ? r->train_plan + r->val_plan++ : r->train_plan++];
            it->id = im->id;
            it->label = labels[k];
            memcpy(it->hash, im->hash, TT_SHA256_SIZE);
        }
    free(which), free(labels), free(to_val);
    return st;
}

tt_status tt_run_new(tt_run **out, const tt_run_env *env, const tt_run_plan *plan) {
    *out = NULL;
    tt_run *r = calloc(1, sizeof *r);
    if (!r) return tt_error(TT_ERR_NOMEM, "no memory for the run");
    r->env = *env;
    if (r->env.batch < 1) r->env.batch = 1;
    r->cfg = *plan->cfg;
    r->init = plan->init;
    r->rows_per_train = r->cfg.augment[0] ? 1 + r->cfg.augment_views : 1;
    tt_status st = tt_run_classes_plan(r, env->project, plan);
    if (!st) st = tt_run_split(r, env->project, plan);
    if (!st) tt_run_ids(r);
    if (!st && r->init) {
        const tt_model *m = &r->init->m;
        if (m->head.cfg.hidden != r->cfg.train.hidden)
            st = tt_error(TT_ERR_MISMATCH, "the imported model has %d hidden units, this run %d: set the same to continue it",
                          m->head.cfg.hidden, r->cfg.train.hidden);
        else if (m->unfreeze != r->cfg.unfreeze)
            st = tt_error(TT_ERR_MISMATCH, "the imported model fine-tuned %d backbone blocks, this run %d: set the same to "
                          "continue it", m->unfreeze, r->cfg.unfreeze);
    }
    /* A tail starts from the backbone file's weights; its input is what the cache stores. */
    r->dim = env->backbone->dim;
    if (!st && r->cfg.unfreeze && !(st = tt_backbone_tail(env->backbone, r->cfg.unfreeze, r->cfg.train.batch_size, &r->tail)))
        r->dim = tt_tail_get_info(r->tail).in_dim;
    if (!st && tt_featcache_dim(env->cache) != r->dim)
        st = tt_error(TT_ERR_INVALID_ARG, "the run's cache holds rows of %d floats, the run needs %d", tt_featcache_dim(env->cache), r->dim);
    if (!st) {
        size_t rows = (size_t)r->train_plan * r->rows_per_train + (size_t)r->val_plan;
        r->x = malloc(rows * (size_t)r->dim * sizeof *r->x + 1);
        r->y = malloc(rows * sizeof *r->y + 1);
        if (!r->x || !r->y)
            st = tt_error(TT_ERR_NOMEM, "no memory for %zu rows of %d floats (%.0f MB): use fewer augmented views "
                          "or unfreeze fewer blocks", rows, r->dim, rows * (double)r->dim * 4 / 1e6);
    }
    if (!st && plan->restore) {
        if (!(r->restore = malloc(plan->restore_len + 1))) st = tt_error(TT_ERR_NOMEM, "no memory for the checkpoint");
        else {
            memcpy(r->restore, plan->restore, plan->restore_len);
            r->restore_len = plan->restore_len;
            r->restore_fit = plan->fit;
            if (!(r->restore_name = tt_strdup(plan->restore_name ? plan->restore_name : "the checkpoint")))
                st = tt_error(TT_ERR_NOMEM, "no memory");
            tt_run_restore_read(r);
        }
    }
    if (st) {
        tt_run_free(r);
        return st;
    }
    *out = r;
    return TT_OK;
}

/* ---- prepare --------------------------------------------------------------------------- */

/* Rows of planned items [k0, k1), all on one side (so with one view count); kept
 * items are compacted to the next free rows. */
static tt_status tt_run_prepare_batch(tt_run *r, int k0, int k1) {
    int views = k0 < r->train_plan ? r->rows_per_train : 1, n = k1 - k0;
    size_t per = (size_t)views * r->dim;
    float *base = r->x + r->rows * r->dim; /* item k0 + j lands at base + j * per before compaction */
    int *ids = malloc((size_t)n * sizeof *ids);
    uint8_t(*hash)[TT_SHA256_SIZE] = malloc((size_t)n * sizeof *hash);
    uint8_t *bad = malloc((size_t)n);
    tt_status st = ids && hash && bad ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory to prepare the run");
    for (int j = 0; !st && j < n; j++) {
        ids[j] = r->items[k0 + j].id;
        memcpy(hash[j], r->items[k0 + j].hash, TT_SHA256_SIZE);
    }
    tt_rows_src src = {r->env.cache, r->env.project, r->env.skip, r->env.skip_ctx, k0 >= r->train_plan, &r->need};
    if (!st) st = tt_rows_fill(&src, n, ids, (const uint8_t(*)[TT_SHA256_SIZE])hash, views, base, bad);
    for (int j = 0; !st && j < n; j++) {
        if (bad[j]) continue;
        tt_run_item it = r->items[k0 + j];
        float *dst = r->x + r->rows * r->dim;
        if (dst != base + j * per) memmove(dst, base + j * per, per * sizeof *dst);
        for (int v = 0; v < views; v++) r->y[r->rows + v] = it.label;
        r->rows += (size_t)views;
        int kept = r->n_train + r->n_val;
        r->items[kept] = it;
        r->kept_ids[kept] = it.id;
        if (k0 < r->train_plan) r->n_train++;
        else r->n_val++;
    }
    if (!st) r->next = k1;
    free(ids), free(hash), free(bad);
    return st;
}

static tt_status tt_run_prepare(tt_run *r, double budget_s) {
    double t0 = tt_now_seconds();
    int total = r->train_plan + r->val_plan;
    tt_status st = TT_OK;
    for (int first = 1; !st && r->next < total && (first || budget_s < 0 || tt_now_seconds() - t0 < budget_s); first = 0) {
        int end = r->next < r->train_plan ? r->train_plan : total;
        int k1 = r->next + r->env.batch < end ? r->next + r->env.batch : end;
        st = tt_run_prepare_batch(r, r->next, k1);
    }
    if (!st && r->next == total && r->n_train + r->n_val < total) tt_run_ids(r); /* some were left out */
    return st;
}

/* ---- start ------------------------------------------------------------------------------- */

static tt_named_tensor *tt_find_tensor(tt_named_tensor *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name)) return &ts[i];
    return NULL;
}

/* The classifier's weights as the run's start: hidden layer and tail as they
 * are, and for every run class the logit row of its class of the same name
 * (new classes keep their fresh initialisation). */
static tt_status tt_run_warm_start(tt_run *r) {
    const tt_classifier *c = r->init;
    tt_head *h = tt_trainer_head(r->trainer);
    tt_named_tensor *mine = h->params, *theirs = (tt_named_tensor *)c->m.head.params;
    int np = h->n_params, matched = 0;
    if (r->cfg.train.hidden)
        for (int i = 0; i < 2; i++) memcpy(mine[i].data, theirs[i].data, tt_named_tensor_numel(&mine[i]) * sizeof(float));
    tt_named_tensor *k = tt_find_tensor(mine, np, "head.logits.kernel"), *b = tt_find_tensor(mine, np, "head.logits.bias");
    tt_named_tensor *mk = tt_find_tensor(theirs, c->m.head.n_params, "head.logits.kernel");
    tt_named_tensor *mb = tt_find_tensor(theirs, c->m.head.n_params, "head.logits.bias");
    size_t row = (size_t)k->shape[1];
    for (int i = 0; i < r->n_classes; i++)
        for (int j = 0; j < c->m.n_classes; j++)
            if (!strcmp(r->class_names[i], c->m.classes[j])) {
                memcpy(k->data + i * row, mk->data + j * row, row * sizeof(float));
                b->data[i] = mb->data[j];
                matched++;
                break;
            }
    if (!matched) return tt_error(TT_ERR_MISMATCH, "none of the imported model's classes is a class of this run");
    if (r->tail) {
        tt_named_tensor *src, *dst;
        tt_tail_params(c->tail, &src);
        tt_tail_params(r->tail, &dst);
        memcpy(dst[0].data, src[0].data, tt_tail_get_info(r->tail).params * sizeof(float));
    }
    return TT_OK;
}

/* Once every row is there: the trainer, then the saved state or the warm start. */
static tt_status tt_run_start(tt_run *r) {
    if (r->n_train == 0) return tt_error(TT_ERR_NOT_FOUND, "no usable training images");
    size_t train_rows = (size_t)r->n_train * r->rows_per_train;
    tt_features ftr = {r->x, r->y, (int)train_rows};
    tt_features fva = {r->x + train_rows * r->dim, r->y + train_rows, r->n_val};
    tt_status st = r->tail ? tt_trainer_init_tail(&r->trainer, &r->cfg.train, r->tail, r->n_classes, &ftr, &fva)
                           : tt_trainer_init(&r->trainer, &r->cfg.train, r->dim, r->n_classes, &ftr, &fva);
    if (!st && r->restore) {
        tt_st_file *f;
        if (!(st = tt_ckpt_open_memory(&f, r->restore, r->restore_len))) {
            if (r->restore_fit) st = tt_run_fits(r, f, r->restore_fit);
            if (!st) st = tt_ckpt_restore(r->trainer, f);
            tt_st_close(f);
        }
        if (st) st = tt_error(st, "cannot resume from %s: %s", r->restore_name, tt_last_error());
    } else if (!st && r->init) {
        st = tt_run_warm_start(r);
    }
    /* A new run replaces the directory's old files once it can save its own. */
    int n;
    if (!st && r->ckpt && r->ckpt_fresh) st = tt_ckpt_dir_files(r->ckpt, &n, 1);
    if (st) {
        tt_trainer_free(r->trainer);
        r->trainer = NULL;
        return st;
    }
    free(r->restore);
    r->restore = NULL;
    r->restore_fit = 0;
    r->ckpt_fresh = 0;
    if (tt_trainer_finished(r->trainer)) tt_trainer_use_best(r->trainer);
    return TT_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

static tt_status tt_run_meta(tt_run *r, tt_ckpt_meta *m) {
    if (!r->classes_json && !(r->classes_json = tt_json_string_list(r->class_names, r->n_classes)))
        return tt_error(TT_ERR_NOMEM, "no memory for the checkpoint metadata");
    if (!r->config_json &&
        !(r->config_json = tt_run_config_json(&r->cfg, r->data_id, r->ckpt_ids ? r->class_ids : NULL, r->n_classes)))
        return tt_error(TT_ERR_NOMEM, "no memory for the checkpoint metadata");
    *m = (tt_ckpt_meta){.classes_json = r->classes_json, .backbone = r->env.backbone->id,
                        .preprocess_json = r->env.backbone->preprocess, .config_json = r->config_json};
    return TT_OK;
}

tt_status tt_run_save_to(tt_run *r, const char *dir, const tt_ckpt_policy *p, int ids, int fresh) {
    tt_ckpt_dir_free(r->ckpt);
    r->ckpt = NULL;
    r->ckpt_ids = ids;
    r->ckpt_fresh = fresh;
    free(r->config_json);
    r->config_json = NULL;
    /* A run resumed from the directory: its checkpoint is the newest there. */
    r->has_saved = !fresh && r->restore;
    r->saved_epoch = r->restore_epoch;
    r->saved_step = r->restore_step;
    return tt_ckpt_dir_open(&r->ckpt, dir, p);
}

static void tt_run_mark_saved(tt_run *r) {
    tt_trainer_progress pr;
    tt_trainer_progress_get(r->trainer, &pr);
    r->has_saved = 1;
    r->saved_epoch = pr.epoch;
    r->saved_step = pr.global_step;
}

int tt_run_saved_position(const tt_run *r, int *epoch, int64_t *step) {
    *epoch = r->saved_epoch;
    *step = r->saved_step;
    return r->has_saved;
}

tt_status tt_run_save(tt_run *r) {
    if (!r->trainer) return tt_error(TT_ERR_INVALID_ARG, "the run is still preparing its features");
    if (!r->ckpt) return tt_error(TT_ERR_INVALID_ARG, "the run has no checkpoint directory");
    tt_ckpt_meta m;
    tt_status st = tt_run_meta(r, &m);
    if (!st) st = tt_ckpt_dir_save(r->ckpt, r->trainer, &m);
    if (!st) tt_run_mark_saved(r);
    return st;
}

tt_status tt_run_checkpoint(tt_run *r, void **bytes, size_t *len) {
    if (!r->trainer) return tt_error(TT_ERR_INVALID_ARG, "the run is still preparing its features");
    tt_ckpt_meta m;
    tt_status st = tt_run_meta(r, &m);
    return st ? st : tt_ckpt_save_memory(r->trainer, &m, bytes, len);
}

const char *tt_run_saved_path(const tt_run *r) { return r->ckpt ? tt_ckpt_dir_last(r->ckpt) : ""; }

/* History for a model file: per-epoch records without wall time. */
static char *tt_run_history_json(const tt_epoch_metrics *h, int n, int classes) {
    tt_strbuf b = {0};
    tt_strbuf_printf(&b, "[");
    for (int i = 0; i < n; i++) {
        tt_epoch_metrics m = h[i];
        m.seconds = NAN;
        size_t need = tt_epoch_metrics_json(&m, classes, NULL, 0);
        if (i) tt_strbuf_printf(&b, ",");
        if (tt_strbuf_reserve(&b, need + 1)) b.len += tt_epoch_metrics_json(&m, classes, b.s + b.len, need + 1);
    }
    tt_strbuf_printf(&b, "]");
    return tt_strbuf_take(&b);
}

tt_status tt_run_save_model(tt_run *r, const char *path) {
    if (!r->trainer) return tt_error(TT_ERR_INVALID_ARG, "the run is still preparing its features");
    int n;
    const tt_epoch_metrics *h = tt_trainer_history(r->trainer, &n);
    char *history = tt_run_history_json(h, n, r->n_classes);
    char *config = tt_run_config_json(&r->cfg, r->data_id, NULL, 0);
    tt_status st = history && config ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory for the model file");
    tt_head *head = tt_trainer_head(r->trainer);
    tt_model_meta meta = {.kind = "model", .n_classes = r->n_classes, .classes = r->class_names,
                          .head = head->cfg, .unfreeze = r->cfg.unfreeze, .backbone_id = r->env.backbone->id,
                          .preprocess = r->env.backbone->preprocess, .config = config, .history = history};
    if (!st) st = tt_model_save(path, &meta, head, r->tail);
    free(history), free(config);
    return st;
}

tt_status tt_run_fits(const tt_run *r, const tt_st_file *f, int flags) {
    tt_status st = tt_ckpt_check(f, NULL, r->env.backbone->id);
    if (!st && (flags & TT_RUN_FIT_NAMES)) {
        char *names = tt_json_string_list(r->class_names, r->n_classes);
        st = names ? tt_ckpt_check(f, names, NULL) : tt_error(TT_ERR_NOMEM, "no memory");
        free(names);
    }
    if (st) return st;
    /* Engine checkpoints from before data ids stored a CRC of (image id, label) rows. */
    double crc;
    if (!tt_json_number(tt_st_metadata(f, "tabtrain.config"), "data_crc", &crc) && crc == crc) {
        tt_config saved;
        if ((st = tt_config_from_file(f, &saved)) || (st = tt_config_compare(&saved, &r->cfg))) return st;
        if (crc != (double)r->data_crc)
            return tt_error(TT_ERR_MISMATCH, "checkpoint was trained on other pictures (or another split of them): "
                                             "the same pictures and settings are needed to continue it");
        return TT_OK;
    }
    st = tt_run_check_file(f, &r->cfg, r->data_id);
    /* Files from before data ids: the sample count is still checked on restore. */
    return st == TT_ERR_NOT_FOUND && !(flags & TT_RUN_FIT_DATA) ? TT_OK : st;
}

/* ---- train -------------------------------------------------------------------------------- */

tt_status tt_run_step(tt_run *r, double budget_s, tt_run_event *ev, int *saved) {
    *ev = TT_RUN_STEPPED;
    if (saved) *saved = 0;
    double t0 = tt_now_seconds();
    r->need = 0;
    if (!r->trainer) {
        tt_status st = tt_run_prepare(r, budget_s);
        if (st == TT_ERR_AGAIN) {
            tt_clear_error();
            *ev = TT_RUN_NEED_PICTURE;
            return TT_OK;
        }
        r->need = 0;
        if (!st && r->next == r->train_plan + r->val_plan) st = tt_run_start(r);
        if (!st && !r->trainer) *ev = TT_RUN_PREPARING;
        return st;
    }
    if (tt_trainer_finished(r->trainer)) {
        *ev = TT_RUN_FINISHED;
        return TT_OK;
    }
    tt_ckpt_meta m;
    tt_status st = r->ckpt ? tt_run_meta(r, &m) : TT_OK;
    int ended = 0;
    do {
        int s = 0;
        if (!st) st = tt_trainer_step(r->trainer, &ended);
        if (!st && r->ckpt) st = tt_ckpt_dir_step(r->ckpt, r->trainer, &m, ended, &s);
        if (s) tt_run_mark_saved(r);
        if (saved) *saved |= s;
    } while (!st && !ended && (budget_s < 0 || tt_now_seconds() - t0 < budget_s));
    if (st) return st;
    if (tt_trainer_finished(r->trainer)) {
        tt_trainer_use_best(r->trainer);
        *ev = TT_RUN_FINISHED;
    } else if (ended) {
        *ev = TT_RUN_EPOCH;
    }
    return TT_OK;
}

/* ---- what a front end shows -------------------------------------------------------------- */

const tt_config *tt_run_config(const tt_run *r) { return &r->cfg; }

int tt_run_classes(const tt_run *r, const int **ids, char *const **names) {
    if (ids) *ids = r->class_ids;
    if (names) *names = r->class_names;
    return r->n_classes;
}

tt_status tt_run_rename_class(tt_run *r, int id, const char *name) {
    for (int i = 0; i < r->n_classes; i++) {
        if (r->class_ids[i] != id) continue;
        char *n = tt_strdup(name);
        if (!n) return tt_error(TT_ERR_NOMEM, "no memory");
        free(r->class_names[i]);
        r->class_names[i] = n;
        free(r->classes_json);
        r->classes_json = NULL;
    }
    return TT_OK;
}

void tt_run_prepared(const tt_run *r, int *done, int *total, int *ready) {
    int next_train = r->next < r->train_plan ? r->next : r->train_plan;
    *done = next_train * r->rows_per_train + (r->next - next_train);
    *total = r->train_plan * r->rows_per_train + r->val_plan;
    *ready = r->trainer != NULL;
}

void tt_run_counts(const tt_run *r, int *n_train, int *n_val) {
    *n_train = r->n_train;
    *n_val = r->n_val;
}

tt_trainer *tt_run_trainer(tt_run *r) { return r->trainer; }
tt_tail *tt_run_tail(tt_run *r) { return r->tail; }

void tt_run_restore_position(const tt_run *r, int *epoch, int64_t *step, int *finished) {
    *epoch = r->restore ? r->restore_epoch : 0;
    *step = r->restore ? r->restore_step : 0;
    *finished = r->restore ? r->restore_finished : 0;
}

uint32_t tt_run_data(const tt_run *r) { return r->data_id; }
int tt_run_views(const tt_run *r) { return r->rows_per_train; }

void tt_run_rows(const tt_run *r, const float **x, const int32_t **y, int *dim) {
    *x = r->x, *y = r->y, *dim = r->dim;
}

const int *tt_run_image_ids(const tt_run *r) { return r->kept_ids; }

int tt_run_needed(const tt_run *r) { return r->need; }
