/* The application both front ends drive (tabtrain/app.h). */
#include "tabtrain/app.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tabtrain/fileio.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

#define TT_APP_PATH 4096
/* Rows per head and tail pass of an imported model (prediction needs no big batches). */
#define TT_APP_MODEL_BATCH 16
/* A thumbnail is the training copy shrunk to a short side of 96..191 px (the
 * page draws 72-px tiles, 144 device pixels on a 2x screen), as a JPEG. */
#define TT_APP_THUMB_SIDE 96
#define TT_APP_THUMB_QUALITY 82

struct tt_app {
    tt_app_config cfg;
    char *root;     /* NULL in memory */
    char *features; /* the feature cache's directory, or NULL */
    char *copies;   /* where the feature cache keeps training copies, or NULL */
    tt_project *project;
    tt_backbone *bb;
    tt_featcache *fc;     /* plain features (view 0): what adding a picture computes */
    tt_featcache *run_fc; /* the run's own cache (augment or unfreeze), else NULL: fc */
    tt_run *run;
    tt_classifier model;
    int model_loaded;
    int *model_ids;         /* [model classes] project class ids, 0 = none */
    int *model_trained_ids; /* [model classes] the ids its file records (also of classes deleted since), 0 = none */
};

/* "<root>/<sub>" (malloc'd), NULL without a root. */
static char *tt_app_path(const tt_app *a, const char *sub) {
    if (!a->root) return NULL;
    size_t n = strlen(a->root) + strlen(sub) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a->root, sub);
    return p;
}

tt_status tt_app_open(tt_app **out, const tt_app_config *c, const tt_picture_store *pics) {
    *out = NULL;
    tt_app *a = calloc(1, sizeof *a);
    tt_picture_store own = {0};
    tt_status st = a ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory for the application");
    if (!st) {
        a->cfg = *c;
        if (!a->cfg.max_pixels) a->cfg.max_pixels = TT_IMAGE_DEFAULT_MAX_PIXELS;
        if (c->root && (strlen(c->root) >= TT_APP_PATH - 64 || !(a->root = tt_strdup(c->root))))
            st = tt_error(TT_ERR_INVALID_ARG, "no memory or too long a root path");
    }
    if (!st && a->root && mkdir(a->root, 0755) && errno != EEXIST)
        st = tt_error(TT_ERR_IO, "cannot create %s: %s", a->root, strerror(errno));
    const char *cache = c->root ? "features" : NULL;
    if (!st && (cache ? !(a->features = tt_app_path(a, cache)) : c->cache_dir && !(a->features = tt_strdup(c->cache_dir))))
        st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st && !c->root && c->copies_dir && !(a->copies = tt_strdup(c->copies_dir))) st = tt_error(TT_ERR_NOMEM, "no memory");
    char *picdir = NULL;
    if (!st && a->root && !pics) {
        if (!(picdir = tt_app_path(a, "pictures"))) st = tt_error(TT_ERR_NOMEM, "no memory");
        else if (!(st = tt_picture_dir(&own, picdir))) pics = &own;
    }
    free(picdir);
    if (!st) st = tt_project_open(&a->project, a->root, pics);
    else if (pics && pics->free) pics->free(pics->ctx);
    if (st) {
        tt_app_free(a);
        return st;
    }
    *out = a;
    return TT_OK;
}

static void tt_app_model_free(tt_app *a) {
    if (a->model_loaded) tt_classifier_free(&a->model);
    free(a->model_ids);
    free(a->model_trained_ids);
    a->model_ids = a->model_trained_ids = NULL;
    a->model_loaded = 0;
}

static void tt_app_run_free(tt_app *a) {
    tt_run_free(a->run);
    tt_featcache_free(a->run_fc);
    a->run = NULL;
    a->run_fc = NULL;
}

void tt_app_free(tt_app *a) {
    if (!a) return;
    tt_app_run_free(a);
    tt_app_model_free(a);
    tt_featcache_free(a->fc);
    tt_project_free(a->project);
    tt_backbone_free(a->bb);
    free(a->root);
    free(a->features);
    free(a->copies);
    free(a);
}

/* A feature cache of the backbone; `keep`: also in memory. */
static tt_status tt_app_cache(tt_app *a, const tt_augment *aug, int unfreeze, int keep, tt_featcache **out) {
    tt_featcache_config c = tt_featcache_defaults();
    c.max_pixels = a->cfg.max_pixels;
    c.dir = a->features;
    c.copies = a->copies;
    c.keep_in_memory = keep;
    c.unfreeze = unfreeze;
    if (aug) c.aug = *aug;
    return tt_featcache_open(out, a->bb->net, a->bb->id, &c);
}

tt_status tt_app_set_backbone(tt_app *a, tt_backbone *b) {
    if (a->bb) {
        tt_backbone_free(b);
        return tt_error(TT_ERR_INVALID_ARG, "the backbone is already loaded");
    }
    a->bb = b;
    tt_status st = tt_app_cache(a, NULL, 0, a->cfg.keep_features, &a->fc);
    if (st) {
        a->bb = NULL;
        tt_backbone_free(b);
    }
    return st;
}

tt_backbone *tt_app_backbone(const tt_app *a) { return a->bb; }
tt_project *tt_app_project(const tt_app *a) { return a->project; }
tt_run *tt_app_run(const tt_app *a) { return a->run; }
tt_featcache *tt_app_run_cache(const tt_app *a) { return a->run_fc ? a->run_fc : a->fc; }

static tt_status tt_need_backbone(const tt_app *a) {
    return a->bb ? TT_OK : tt_error(TT_ERR_INVALID_ARG, "the base model is not loaded yet");
}

tt_status tt_app_set_threads(tt_app *a, int threads) {
    tt_status st = tt_need_backbone(a);
    if (st) return st;
    tt_tail *tails[2] = {a->run ? tt_run_tail(a->run) : NULL, a->model.tail};
    for (int i = 0; i < 2; i++)
        if (tails[i]) tt_tail_set_pool(tails[i], NULL); /* nothing may point at the old threads */
    st = tt_backbone_set_threads(a->bb, threads);
    for (int i = 0; i < 2; i++)
        if (tails[i]) tt_tail_set_pool(tails[i], a->bb->pool);
    return st;
}

const char *tt_app_class_name(const tt_app *a, int id, const char *fallback) {
    int i = tt_project_class_index(a->project, id);
    return i >= 0 ? tt_project_class_at(a->project, i)->name : fallback;
}

/* ---- classes and pictures ---------------------------------------------------------------- */

/* The training copy as PNG when worth keeping, and the thumbnail (app.h). */
static tt_status tt_app_parts(const tt_image *copy, size_t original_len, void **png, size_t *png_len, void **jpeg,
                              size_t *jpeg_len) {
    tt_image thumb;
    tt_status st = TT_OK;
    *png = NULL, *png_len = 0;
    /* An original no bigger than the copy's pixels decodes about as fast as the copy
     * would: no copy, and no PNG encode (which costs about as much as the backbone). */
    if ((size_t)copy->width * copy->height * 3 < original_len) st = tt_image_encode_png(copy, png, png_len);
    if (!st && *png && 2 * *png_len >= original_len) free(*png), *png = NULL, *png_len = 0;
    if (!st && !(st = tt_image_reduce(copy, TT_APP_THUMB_SIDE, &thumb))) {
        st = tt_image_encode_jpeg(&thumb, TT_APP_THUMB_QUALITY, jpeg, jpeg_len);
        tt_image_free(&thumb);
    }
    if (st) free(*png), *png = NULL, *png_len = 0;
    return st;
}

tt_status tt_app_class_add(tt_app *a, const char *name, int *id) { return tt_project_class_add(a->project, name, id); }

tt_status tt_app_class_rename(tt_app *a, int id, const char *name) {
    tt_status st = tt_project_class_rename(a->project, id, name);
    if (!st && a->run) st = tt_run_rename_class(a->run, id, tt_app_class_name(a, id, name));
    return st;
}

/* Drops the cached views of image i unless another picture has the same bytes:
 * the plain one, and those the current run computed (augmented, tail inputs);
 * views of older runs' settings stay until a reset. */
static void tt_app_forget(tt_app *a, int id) {
    const tt_project *p = a->project;
    int i = tt_project_image_index(p, id);
    if (i < 0 || tt_project_hash_shared(p, id)) return;
    const uint8_t *hash = tt_project_image_at(p, i)->hash;
    if (a->fc) tt_featcache_forget(a->fc, hash, 1);
    if (a->run_fc) tt_featcache_forget(a->run_fc, hash, tt_run_views(a->run));
}

tt_status tt_app_class_delete(tt_app *a, int id) {
    const tt_project *p = a->project;
    for (int i = 0; i < tt_project_n_images(p); i++) {
        const tt_project_image *im = tt_project_image_at(p, i);
        if (im->class_id != id) continue;
        int shared = 0; /* with a picture of another class, which keeps them */
        for (int j = 0; j < tt_project_n_images(p); j++)
            shared |= tt_project_image_at(p, j)->class_id != id && !memcmp(tt_project_image_at(p, j)->hash, im->hash, TT_SHA256_SIZE);
        if (!shared && a->fc) tt_featcache_forget(a->fc, im->hash, 1);
        if (!shared && a->run_fc) tt_featcache_forget(a->run_fc, im->hash, tt_run_views(a->run));
    }
    tt_status st = tt_project_class_delete(a->project, id);
    for (int i = 0; !st && a->model_loaded && i < a->model.m.n_classes; i++)
        if (a->model_ids[i] == id) a->model_ids[i] = 0;
    return st;
}

/* What adding one picture makes before its record: decoded on a pool thread. */
typedef struct tt_app_adding {
    tt_image copy;
    float *input; /* the copy's plain view: made here, where the threads are */
    tt_feat_request rq;
    void *png, *jpeg;
    size_t png_len, jpeg_len;
} tt_app_adding;

typedef struct tt_app_add_job {
    const tt_app *a;
    tt_app_new_image *im;
    tt_app_adding *ad;
} tt_app_add_job;

static void tt_app_note(tt_app_new_image *im, tt_status st) {
    im->status = st;
    snprintf(im->error, sizeof im->error, "%s", *tt_last_error() ? tt_last_error() : tt_status_name(st));
}

/* Pictures [i0, i1): the training copy, its input, hash, PNG and thumbnail. Independent
 * pictures, disjoint outputs, error messages thread-local: any split gives the same. */
static void tt_app_add_decode(void *ctx, int i0, int i1, int worker) {
    (void)worker;
    const tt_app_add_job *j = ctx;
    for (int i = i0; i < i1; i++) {
        tt_app_new_image *im = &j->im[i];
        tt_app_adding *ad = &j->ad[i];
        tt_status st = !im->bytes || !im->len ? tt_error(TT_ERR_FORMAT, "empty file")
                                              : tt_image_training_copy(im->bytes, im->len,
                                                                       &(tt_decode_opts){j->a->cfg.max_pixels, 0},
                                                                       j->a->bb->size, &ad->copy);
        if (!st) st = tt_app_parts(&ad->copy, im->len, &ad->png, &ad->png_len, &ad->jpeg, &ad->jpeg_len);
        if (!st) {
            size_t size = (size_t)j->a->bb->size;
            ad->input = malloc(size * size * 3 * sizeof(float));
            st = ad->input ? tt_image_to_input(&ad->copy, (int)size, ad->input) : tt_error(TT_ERR_NOMEM, "no memory for the picture's input");
        }
        if (st) {
            tt_app_note(im, st);
            continue;
        }
        ad->rq = (tt_feat_request){.image = &ad->copy, .input = ad->input, .hashed = 1};
        tt_sha256(im->bytes, im->len, ad->rq.hash);
    }
}

tt_status tt_app_images_add(tt_app *a, int class_id, int n, tt_app_new_image *im) {
    if (tt_project_class_index(a->project, class_id) < 0) return tt_error(TT_ERR_INVALID_ARG, "no class with id %d", class_id);
    if (n < 0 || (n && !im)) return tt_error(TT_ERR_INVALID_ARG, "bad picture list (%d)", n);
    tt_status st = tt_need_backbone(a);
    if (!st && !a->fc) st = tt_error(TT_ERR_IO, "the feature cache could not be reopened after a reset");
    if (st) return st;
    for (int i = 0; i < n; i++) im[i].id = 0, im[i].status = TT_OK, im[i].error[0] = 0;
    tt_app_adding *ad = calloc(n ? (size_t)n : 1, sizeof *ad);
    tt_feat_request *rq = calloc(n ? (size_t)n : 1, sizeof *rq);
    float *feat = malloc(((size_t)n + 1) * (size_t)a->bb->dim * sizeof *feat);
    if (!ad || !rq || !feat) {
        free(ad), free(rq), free(feat);
        return tt_error(TT_ERR_NOMEM, "no memory for %d pictures", n);
    }
    /* Decoding and encoding one picture per thread, then the backbone over the batch
     * (one image per thread), then the records in order: the ids and every byte are
     * those of adding the pictures one at a time. */
    tt_pool_for(a->bb->pool, n, 1, tt_app_add_decode, &(tt_app_add_job){a, im, ad});
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!im[i].status) rq[m++] = ad[i].rq;
    st = tt_featcache_run(a->fc, m, rq, 1, feat);
    for (int i = 0, k = 0; !st && i < n; i++) {
        if (im[i].status) continue;
        tt_feat_request *r = &rq[k++];
        tt_status s = r->status ? tt_error(r->status, "%s", r->error) : TT_OK;
        tt_picture pic = {.original = im[i].bytes, .original_len = im[i].len, .copy = ad[i].png,
                          .copy_len = ad[i].png_len, .thumb = ad[i].jpeg, .thumb_len = ad[i].jpeg_len};
        if (!s) s = tt_project_image_add(a->project, class_id, im[i].name, r->hash, &pic, &im[i].id);
        if (s) tt_app_note(&im[i], s);
    }
    for (int i = 0; i < n; i++) {
        tt_image_free(&ad[i].copy);
        free(ad[i].input), free(ad[i].png), free(ad[i].jpeg);
    }
    free(ad), free(rq), free(feat);
    return st;
}

tt_status tt_app_image_add(tt_app *a, int class_id, const void *bytes, size_t len, const char *name, int *id) {
    tt_app_new_image im = {.bytes = bytes, .len = len, .name = name};
    *id = 0;
    tt_status st = tt_app_images_add(a, class_id, 1, &im);
    if (st) return st;
    if (im.status) return tt_error(im.status, "%s", im.error);
    *id = im.id;
    return TT_OK;
}

tt_status tt_app_picture_parts(const void *bytes, size_t len, uint64_t max_pixels, int size, void **copy,
                               size_t *copy_len, void **thumb, size_t *thumb_len) {
    *copy = *thumb = NULL, *copy_len = *thumb_len = 0;
    tt_image img;
    tt_status st = tt_image_training_copy(bytes, len, &(tt_decode_opts){max_pixels, 0}, size, &img);
    if (st) return st;
    st = tt_app_parts(&img, len, copy, copy_len, thumb, thumb_len);
    tt_image_free(&img);
    return st;
}

int tt_app_needed_picture(const tt_app *a) { return a->run ? tt_run_needed(a->run) : 0; }

tt_status tt_app_image_remove(tt_app *a, int id) {
    if (tt_project_image_index(a->project, id) < 0) return tt_error(TT_ERR_NOT_FOUND, "no image with id %d", id);
    tt_app_forget(a, id);
    return tt_project_image_remove(a->project, id);
}

tt_status tt_app_import_classes(tt_app *a) {
    tt_status st = TT_OK;
    for (int i = 0; !st && a->model_loaded && i < a->model.m.n_classes; i++)
        if (tt_project_class_find(a->project, a->model.m.classes[i]) < 0)
            st = tt_project_class_add(a->project, a->model.m.classes[i], NULL);
    return st;
}

/* ---- runs ----------------------------------------------------------------------------------- */

/* The rows' cache for cfg: the plain one, or (augment, unfreeze) one of its own. */
static tt_status tt_app_run_cache_for(tt_app *a, const tt_config *cfg, tt_featcache **fc) {
    *fc = NULL;
    if (!cfg->unfreeze && !cfg->augment[0]) return TT_OK;
    tt_augment aug;
    tt_status st = tt_augment_parse(cfg->augment, &aug);
    return st ? st : tt_app_cache(a, &aug, cfg->unfreeze, 0, fc);
}

/* A run of t's settings (plan as given), replacing the current one on success. */
static tt_status tt_app_plan(tt_app *a, const tt_app_train *t, const tt_config *cfg, tt_run_plan *plan, int fresh) {
    tt_status st = tt_need_backbone(a);
    tt_featcache *fc = NULL;
    if (!st) st = tt_app_run_cache_for(a, cfg, &fc);
    if (st) return st;
    int n = tt_project_n_classes(a->project), *all = NULL;
    if (t->all_classes && !plan->class_ids) {
        if (!(all = malloc(((size_t)n + 1) * sizeof *all))) st = tt_error(TT_ERR_NOMEM, "no memory");
        for (int i = 0; !st && i < n; i++) all[i] = tt_project_class_at(a->project, i)->id;
        plan->class_ids = all, plan->n_classes = n;
    }
    plan->cfg = cfg;
    plan->val = t->val;
    int batch = a->cfg.prepare_batch ? a->cfg.prepare_batch : tt_pool_threads(a->bb->pool);
    tt_run_env env = {a->project, a->bb, fc ? fc : a->fc, batch, t->skip, t->skip_ctx};
    tt_run *r = NULL;
    if (!st) st = tt_run_new(&r, &env, plan);
    free(all);
    char *dir = NULL;
    if (!st && (t->ckpt_dir || a->root)) {
        dir = t->ckpt_dir ? tt_strdup(t->ckpt_dir) : tt_app_path(a, "ckpt");
        st = dir ? tt_run_save_to(r, dir, t->policy ? t->policy : &a->cfg.policy, a->root != NULL, fresh)
                 : tt_error(TT_ERR_NOMEM, "no memory");
    }
    free(dir);
    if (st) {
        tt_run_free(r);
        tt_featcache_free(fc);
        return st;
    }
    tt_app_run_free(a);
    a->run = r;
    a->run_fc = fc;
    return TT_OK;
}

tt_status tt_app_train_begin(tt_app *a, const tt_app_train *t) {
    if (t->cfg->init_from_model && !a->model_loaded)
        return tt_error(TT_ERR_INVALID_ARG, "\"init_from_model\": no model was imported");
    tt_run_plan plan = {.init = t->cfg->init_from_model ? &a->model : NULL};
    return tt_app_plan(a, t, t->cfg, &plan, 1);
}

/* The class ids a checkpoint's run had. Its own id list (written by an engine
 * with a lasting project) when those classes still have the names it recorded;
 * else the project's classes of the same names (written by `tabtrain train`, or
 * by another profile: an opened project file gets new ids); else its ids when
 * they all exist (classes renamed since). NULL when neither fits: the file is
 * then only a model. */
static int *tt_app_ckpt_classes(const tt_app *a, const tt_st_file *f, int *n) {
    *n = 0;
    char **names = NULL;
    int m = 0, *ids = NULL, *by_id = NULL, id_ok = 0, name_ok = 0, same = 0;
    if (tt_json_string_array(tt_st_metadata(f, "tabtrain.classes"), &names, &m) || m <= 0) return NULL;
    if (!(ids = malloc((size_t)m * sizeof *ids)) || !(by_id = malloc((size_t)m * sizeof *by_id))) {
        free(ids);
        tt_json_free_strings(names, m);
        return NULL;
    }
    const char *cj = tt_st_metadata(f, "tabtrain.config");
    tt_json j;
    if (cj && !tt_json_parse(&j, cj)) {
        int k = tt_json_key(&j, 0, "class_ids");
        id_ok = tt_json_len(&j, k) == m;
        same = id_ok;
        for (int i = 0; id_ok && i < m; i++) {
            int c = -1;
            id_ok = tt_json_int(&j, tt_json_at(&j, k, i), &by_id[i]) &&
                    (c = tt_project_class_index(a->project, by_id[i])) >= 0;
            same = same && id_ok && !strcmp(tt_project_class_at(a->project, c)->name, names[i]);
        }
        tt_json_free(&j);
    }
    name_ok = 1;
    for (int i = 0; name_ok && i < m; i++) {
        int k = 0;
        while (k < tt_project_n_classes(a->project) && strcmp(tt_project_class_at(a->project, k)->name, names[i])) k++;
        if (k == tt_project_n_classes(a->project)) name_ok = 0;
        else ids[i] = tt_project_class_at(a->project, k)->id;
    }
    tt_json_free_strings(names, m);
    if (same || (!name_ok && id_ok)) {
        free(ids);
        *n = m;
        return by_id;
    }
    free(by_id);
    if (!name_ok) {
        free(ids);
        return NULL;
    }
    *n = m;
    return ids;
}

/* The imported model: f's head (and tuned blocks), its class ids where they
 * are this project's (only the browser that trained it knows them). */
static tt_status tt_app_model_load(tt_app *a, const tt_st_file *f) {
    tt_classifier c;
    tt_status st = tt_classifier_load(&c, f, a->bb, TT_APP_MODEL_BATCH);
    if (st) return st;
    int *ids = calloc((size_t)c.m.n_classes + 1, sizeof *ids), *trained = calloc((size_t)c.m.n_classes + 1, sizeof *trained);
    if (!ids || !trained) {
        free(ids), free(trained);
        tt_classifier_free(&c);
        return tt_error(TT_ERR_NOMEM, "no memory");
    }
    tt_json j;
    const char *cj = tt_st_metadata(f, "tabtrain.config");
    if (cj && !tt_json_parse(&j, cj)) {
        int k = tt_json_key(&j, 0, "class_ids"), n = tt_json_len(&j, k);
        for (int i = 0; i < c.m.n_classes && i < n; i++)
            if (tt_json_int(&j, tt_json_at(&j, k, i), &trained[i]) && tt_project_class_index(a->project, trained[i]) >= 0)
                ids[i] = trained[i];
        tt_json_free(&j);
    }
    tt_app_model_free(a);
    a->model = c;
    a->model_ids = ids;
    a->model_trained_ids = trained;
    a->model_loaded = 1;
    return TT_OK;
}

/* A checkpoint f (verified, of this backbone) continues its run when it fits
 * this project's pictures: with t->cfg, as the CLI asked (checked when the rows
 * are ready; a misfit is an error); without, its own settings and classes, and
 * a file of other pictures becomes the imported model. */
static tt_status tt_app_adopt(tt_app *a, const tt_st_file *f, const char *path, const tt_app_train *t, int fresh,
                              tt_app_loaded *kind) {
    void *bytes = NULL;
    size_t len = 0;
    tt_status st = tt_file_read(path, TT_FILE_MAX, &bytes, &len);
    if (st) return st;
    if (t->cfg) {
        tt_run_plan plan = {.restore = bytes, .restore_len = len, .fit = TT_RUN_FIT_NAMES, .restore_name = path};
        st = tt_app_plan(a, t, t->cfg, &plan, fresh);
        free(bytes);
        if (!st) *kind = TT_APP_LOADED_RUN;
        return st;
    }
    tt_config cfg = tt_config_defaults();
    int n, *ids = tt_app_ckpt_classes(a, f, &n), fits = 0;
    if (ids && !tt_config_from_file(f, &cfg) && !tt_config_validate(&cfg)) {
        tt_run_plan plan = {.class_ids = ids, .n_classes = n, .restore = bytes, .restore_len = len,
                            .fit = TT_RUN_FIT_DATA, .restore_name = path};
        tt_run *old = a->run;
        tt_featcache *old_fc = a->run_fc;
        a->run = NULL, a->run_fc = NULL; /* kept until the new one fits */
        if (!tt_app_plan(a, t, &cfg, &plan, fresh) && !tt_run_fits(a->run, f, TT_RUN_FIT_DATA)) fits = 1;
        if (fits) {
            tt_run_free(old);
            tt_featcache_free(old_fc);
        } else {
            tt_app_run_free(a);
            a->run = old, a->run_fc = old_fc;
        }
    }
    free(ids);
    free(bytes);
    if (fits) {
        *kind = TT_APP_LOADED_RUN;
        return TT_OK;
    }
    if ((st = tt_app_model_load(a, f))) return st;
    tt_app_run_free(a);
    *kind = TT_APP_LOADED_MODEL;
    return TT_OK;
}

tt_status tt_app_load(tt_app *a, const char *path, tt_app_loaded *kind) {
    tt_status st = tt_need_backbone(a);
    tt_st_file *f = NULL;
    if (!st) st = path ? tt_st_open_file(&f, path) : tt_error(TT_ERR_INVALID_ARG, "no path");
    if (st) return st;
    const char *k = tt_st_metadata(f, "tabtrain.kind");
    if (k && !strcmp(k, "checkpoint")) {
        tt_st_close(f);
        if ((st = tt_ckpt_open_file(&f, path))) return st; /* its own checks */
        if (!(st = tt_ckpt_check(f, NULL, a->bb->id))) st = tt_app_adopt(a, f, path, &(tt_app_train){0}, 1, kind);
    } else if (!(st = tt_app_model_load(a, f))) {
        tt_app_run_free(a);
        *kind = TT_APP_LOADED_MODEL;
    }
    tt_st_close(f);
    return st;
}

/* The browser's single checkpoint file of before becomes the directory's
 * newest checkpoint, named by its position, with `latest` naming it. */
static void tt_app_migrate_ckpt(const char *dir) {
    char old[TT_APP_PATH], latest[TT_APP_PATH], name[64], path[TT_APP_PATH + 64];
    snprintf(old, sizeof old, "%s/latest.safetensors", dir);
    snprintf(latest, sizeof latest, "%s/latest", dir);
    struct stat sb;
    if (stat(old, &sb) || !stat(latest, &sb)) return;
    tt_st_file *f;
    if (tt_ckpt_open_file(&f, old)) return; /* damaged: left for nobody, as before */
    double epoch = 0, step = 0;
    const char *state = tt_st_metadata(f, "tabtrain.state");
    int ok = !tt_json_number(state, "epoch", &epoch) && !tt_json_number(state, "global_step", &step);
    tt_st_close(f);
    if (!ok) return;
    int n = snprintf(name, sizeof name, "ckpt-e%04d-s%06lld.safetensors\n", (int)epoch, (long long)step);
    snprintf(path, sizeof path, "%s/%.*s", dir, n - 1, name);
    tt_chunk c = {name, (size_t)n};
    if (!rename(old, path)) tt_file_write_atomic(latest, &c, 1);
}

tt_status tt_app_resume(tt_app *a, const tt_app_train *t, tt_app_loaded *kind, char *path, size_t path_cap,
                        char *note, size_t note_cap) {
    *kind = TT_APP_LOADED_NONE;
    if (path_cap) path[0] = 0;
    if (note_cap) note[0] = 0;
    tt_status st = tt_need_backbone(a);
    char *dir = t->ckpt_dir ? tt_strdup(t->ckpt_dir) : tt_app_path(a, "ckpt");
    if (st || (!t->ckpt_dir && !a->root)) {
        free(dir);
        return st;
    }
    if (!dir) return tt_error(TT_ERR_NOMEM, "no memory");
    if (a->root) tt_app_migrate_ckpt(dir);
    tt_ckpt_dir *d = NULL;
    int files = 0;
    st = tt_ckpt_dir_open(&d, dir, t->policy ? t->policy : &a->cfg.policy);
    if (!st) st = tt_ckpt_dir_files(d, &files, 0);
    tt_ckpt_dir_free(d);
    tt_st_file *f = NULL;
    if (!st && (files || t->cfg)) st = tt_ckpt_dir_resume(dir, &f, path, path_cap, note, note_cap);
    if (!st && f) {
        if ((st = tt_ckpt_check(f, NULL, a->bb->id))) st = tt_error(st, "cannot resume from %s: %s", path, tt_last_error());
        else {
            tt_app_train own = *t;
            own.ckpt_dir = dir;
            st = tt_app_adopt(a, f, path, &own, 0, kind);
        }
        tt_st_close(f);
    }
    free(dir);
    return st;
}

tt_status tt_app_train_step(tt_app *a, double budget_s, tt_run_event *ev, int *saved) {
    if (!a->run) return tt_error(TT_ERR_INVALID_ARG, "no training run: call train_begin first");
    return tt_run_step(a->run, budget_s, ev, saved);
}

tt_status tt_app_save(tt_app *a) {
    if (!a->run) return tt_error(TT_ERR_INVALID_ARG, "nothing trained to save");
    return tt_run_save(a->run);
}

const tt_classifier *tt_app_model(const tt_app *a, const int **class_ids) {
    if (class_ids) *class_ids = a->model_ids;
    return a->model_loaded ? &a->model : NULL;
}

void tt_app_progress_get(const tt_app *a, tt_app_progress *p) {
    *p = (tt_app_progress){0};
    tt_run *r = a->run;
    tt_trainer *t = r ? tt_run_trainer(r) : NULL;
    if (!r) {
        p->finished = a->model_loaded;
        return;
    }
    int ready;
    tt_run_prepared(r, &p->prepared, &p->to_prepare, &ready);
    p->epochs = tt_run_config(r)->train.epochs;
    p->saved = tt_run_saved_position(r, &p->saved_epoch, &p->saved_step);
    if (!t) {
        tt_run_restore_position(r, &p->epoch, &p->step, &p->finished);
        return;
    }
    tt_trainer_progress pr;
    tt_trainer_progress_get(t, &pr);
    int nh;
    const tt_epoch_metrics *hist = tt_trainer_history(t, &nh);
    p->epoch = pr.epoch, p->step = pr.global_step, p->finished = pr.finished;
    p->steps = pr.finished ? pr.global_step : (int64_t)p->epochs * pr.steps_per_epoch;
    p->last = nh ? &hist[nh - 1] : NULL;
}

tt_status tt_app_history_get(const tt_app *a, tt_app_history *h) {
    *h = (tt_app_history){0};
    tt_run *r = a->run;
    if (r && tt_run_trainer(r)) {
        h->epochs = tt_trainer_history(tt_run_trainer(r), &h->n);
        h->n_classes = tt_run_classes(r, &h->class_ids, &h->class_names);
        h->planned_epochs = tt_run_config(r)->train.epochs;
        return TT_OK;
    }
    if (r || !a->model_loaded || !a->model.m.history) return TT_OK;
    const tt_model *m = &a->model.m;
    int C = m->n_classes;
    tt_config cfg = tt_config_defaults();
    if (m->config && !tt_config_from_json(&cfg, m->config, 1)) h->planned_epochs = cfg.train.epochs;
    tt_json j;
    tt_status st = tt_json_parse(&j, m->history);
    if (!st) {
        st = tt_epoch_history_read(&h->own, &j, 0, C);
        tt_json_free(&j);
    }
    if (st) return st;
    h->n = h->own.n, h->epochs = h->own.epochs;
    h->n_classes = C, h->class_ids = a->model_trained_ids, h->class_names = m->classes;
    return TT_OK;
}

void tt_app_history_free(tt_app_history *h) {
    tt_epoch_history_free(&h->own);
    *h = (tt_app_history){0};
}

tt_status tt_app_check_picture(const tt_app *a, const void *bytes, size_t len) {
    if (!len || !bytes) return tt_error(TT_ERR_FORMAT, "not a picture: the file is empty");
    tt_image img;
    /* as adding it would decode it: into the training copy (a JPEG at a DCT scale) */
    tt_decode_opts o = {.max_pixels = a->cfg.max_pixels};
    tt_status st = tt_image_training_copy(bytes, len, &o, a->bb ? a->bb->size : TT_IMAGE_DEFAULT_SIZE, &img);
    if (!st) tt_image_free(&img);
    return st;
}

tt_status tt_app_check_checkpoint(const tt_app *a, const void *bytes, size_t len) {
    if (!a->bb) return tt_error(TT_ERR_INVALID_ARG, "the base model is not loaded yet");
    tt_st_file *f = NULL;
    tt_status st = len && bytes ? tt_ckpt_open_memory(&f, bytes, len) : tt_error(TT_ERR_FORMAT, "empty file");
    if (!st) st = tt_ckpt_check(f, NULL, a->bb->id);
    tt_st_close(f);
    return st;
}

/* ---- use -------------------------------------------------------------------------------------- */

tt_status tt_app_labels(const tt_app *a, int *n, const int **ids, char *const **names) {
    if (a->run && tt_run_trainer(a->run)) {
        *n = tt_run_classes(a->run, ids, names);
        return TT_OK;
    }
    if (!a->model_loaded) return tt_error(TT_ERR_INVALID_ARG, "no trained model yet");
    *n = a->model.m.n_classes;
    *ids = a->model_ids;
    *names = a->model.m.classes;
    return TT_OK;
}

tt_status tt_app_predict(tt_app *a, const void *bytes, size_t len, float *probs) {
    tt_trainer *t = a->run ? tt_run_trainer(a->run) : NULL;
    if (!t && !a->model_loaded) return tt_error(TT_ERR_INVALID_ARG, "no trained model yet");
    tt_head *head = t ? tt_trainer_head(t) : &a->model.m.head;
    tt_tail *tail = t ? tt_run_tail(a->run) : a->model.tail;
    return tt_predict_picture(a->bb, head, tail, bytes, len, a->cfg.max_pixels, probs);
}

tt_status tt_app_export(tt_app *a, const char *path, const char *json_path) {
    if (!a->run) return tt_error(TT_ERR_INVALID_ARG, "nothing trained to save");
    void *ckpt = NULL;
    size_t len = 0;
    tt_st_file *model = NULL;
    tt_st_builder *ex = NULL;
    tt_status st = tt_run_checkpoint(a->run, &ckpt, &len);
    if (!st) st = tt_st_open_memory(&model, ckpt, len);
    if (!st) st = tt_export_build(model, a->bb->file, a->bb->file_len, &ex);
    if (!st) st = tt_export_write(ex, path, json_path, NULL);
    tt_st_builder_free(ex);
    tt_st_close(model);
    free(ckpt);
    return st;
}

/* Removes every file of root/sub (not the directory itself). */
static void tt_app_clear(const tt_app *a, const char *sub) {
    char *dir = tt_app_path(a, sub), path[TT_APP_PATH + 300];
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    free(dir);
}

tt_status tt_app_reset(tt_app *a) {
    tt_app_run_free(a);
    tt_app_model_free(a);
    tt_status st = TT_OK;
    while (!st && tt_project_n_classes(a->project))
        st = tt_project_class_delete(a->project, tt_project_class_at(a->project, 0)->id);
    tt_featcache_free(a->fc);
    a->fc = NULL;
    tt_app_clear(a, "ckpt");
    tt_app_clear(a, "features");
    if (!st && a->bb) st = tt_app_cache(a, NULL, 0, a->cfg.keep_features, &a->fc);
    return st;
}
