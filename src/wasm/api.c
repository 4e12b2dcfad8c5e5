/* src/wasm/api.c — the C functions web/worker.js calls (docs/wasm-api.md).
 *
 * Handles, plain buffers and JSON over the public headers. What the library
 * does (decode, backbone, feature cache, trainer, files) stays in the library;
 * this file keeps the per-handle bookkeeping the browser needs (class ids,
 * image ids and their records under root, the run's split and its rows) and
 * turns it into JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/config.h"
#include "tabtrain/run.h"
#include "tabtrain/crc32.h"
#include "tabtrain/dataset.h"
#include "tabtrain/featcache.h"
#include "tabtrain/fileio.h"
#include "tabtrain/head.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/model_file.h"
#include "tabtrain/onnx.h"
#include "tabtrain/rng.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"
#include "tabtrain/threadpool.h"
#include "tabtrain/trainer.h"
#include "tabtrain/strbuf.h"
#include "wasm/api.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
#define TT_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define TT_EXPORT
#endif

#define TT_WASM_ABI 4
#define TT_WASM_MAX_HANDLES 8
#define TT_WASM_PATH 512
/* A picture's decode costs up to ~16 bytes a pixel at its peak, and wasm
 * memory never shrinks: the page decodes at most 16 M pixels (the CLI 40 M). */
#define TT_WASM_MAX_PIXELS (16u * 1000u * 1000u)

typedef struct wclass {
    int id;
    char *name;
} wclass;

/* An image of the dataset. Its encoded bytes live in its record file
 * (root/dataset/img-<id>.safetensors) and are read back only when a feature
 * the cache lacks must be computed (an augmented view, a tail input). */
typedef struct wimage {
    int id, class_id;
    char *name;
    uint8_t hash[TT_SHA256_SIZE]; /* of the encoded bytes: the feature cache's key */
} wimage;

/* One image of a run, copied at train_begin: the run outlives removals. */
typedef struct witem {
    int id;
    int32_t label;
    uint8_t hash[TT_SHA256_SIZE];
} witem;

/* A run: its config, its split and the rows it trains on. The rows are filled
 * ("prepared") in budgeted slices of tt_wasm_train_step before the trainer
 * exists, so extracting augmented views or tail inputs shows progress and can
 * be paused. */
typedef struct wrun {
    tt_trainer *trainer; /* NULL until every row is prepared */
    tt_config cfg;
    int n_classes;
    int *class_ids; /* [n_classes], label index -> class id */
    char **class_names;
    witem *items; /* [n_train + n_val]: train images, then val images */
    int n_train, n_val, prepared;
    int rows_per_train; /* 1 + aug_views with augment, else 1; val images give 1 row */
    int dim;            /* floats per row: features, or the tail's input */
    float *x;           /* [rows][dim] */
    int32_t *y;
    tt_featcache *fc; /* the run's own cache (augment or unfreeze), else NULL: the engine's */
    tt_tail *tail;
    void *restore; /* a checkpoint to restore once prepared (tt_wasm_load) */
    size_t restore_len;
    uint32_t data_id;  /* tt_run_data_id of its pictures: which data the run trains on */
    uint32_t data_crc; /* CRC-32 of the (image id, label) rows: what checkpoints before data_id stored */
} wrun;

/* An imported model (a model, export or foreign checkpoint file): predicts, and
 * may start the next run (config "init_from_model"). */
typedef struct wmodel {
    int loaded;
    tt_model m;
    int *class_ids; /* [m.n_classes]; 0 = not a class of this browser */
    tt_tail *tail;  /* m.unfreeze > 0: the fine-tuned blocks */
} wmodel;

typedef struct tt_wasm {
    tt_mnv2 *net;
    tt_pool *pool; /* threads of the backbone and of every tail; NULL = one */
    int dim, size;
    float *input; /* [size][size][3] */
    char *preprocess; /* backbone metadata, copied into checkpoints */
    /* The backbone file's bytes, kept because a tail (--unfreeze) is
     * initialised from the file and an export carries the whole backbone. */
    void *weights;
    size_t weights_len;
    char backbone[TT_BACKBONE_ID_SIZE]; /* "sha256:<hex>" of the weights file */
    char root[TT_WASM_PATH];
    tt_featcache *fc; /* view 0 features, memory + root/features */
    wclass *classes;
    int n_classes;
    wimage *images; /* ordered by id */
    int n_images, cap_images, next_image_id;
    wrun run;     /* run.items != NULL while a run (or its result) is loaded */
    wmodel model;
    char *out; /* last JSON returned */
    size_t out_cap;
    uint8_t *picture; /* last image bytes returned (tt_wasm_image) */
    char err[1024];
} tt_wasm;

static tt_wasm *g_handles[TT_WASM_MAX_HANDLES];
static char g_create_error[1024];

static tt_wasm *handle(int h) {
    return h > 0 && h <= TT_WASM_MAX_HANDLES ? g_handles[h - 1] : NULL;
}

/* Captures the library's message into the handle; returns -(int)st. */
static int fail(tt_wasm *w, tt_status st) {
    const char *m = tt_last_error();
    snprintf(w ? w->err : g_create_error, sizeof w->err, "%s", *m ? m : tt_status_name(st));
    return -(int)st;
}

static double now_ms(void) { return tt_now_seconds() * 1e3; }

/* ---- JSON out: one growable buffer per handle ---------------------------------------- */

typedef struct jout {
    tt_wasm *w;
    size_t len;
    int oom;
} jout;

static void jput(jout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jput(jout *o, const char *fmt, ...) {
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = o->w->out_cap - o->len;
        int n = vsnprintf(o->w->out ? o->w->out + o->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) { o->oom = 1; return; }
        if ((size_t)n < room) { o->len += (size_t)n; return; }
        size_t cap = (o->w->out_cap + (size_t)n + 1) * 2;
        char *p = realloc(o->w->out, cap);
        if (!p) { o->oom = 1; return; }
        o->w->out = p;
        o->w->out_cap = cap;
    }
}

static void jstr(jout *o, const char *s) {
    size_t n = tt_json_quote(NULL, 0, s);
    char *q = malloc(n + 1);
    if (!q) { o->oom = 1; return; }
    tt_json_quote(q, n + 1, s);
    jput(o, "%s", q);
    free(q);
}

/* NaN/inf are "not known": null, as docs/wasm-api.md promises. */
static void jnum(jout *o, double v) {
    if (isfinite(v)) jput(o, "%.17g", v);
    else jput(o, "null");
}

static const char *jdone(jout *o) {
    if (o->oom) {
        snprintf(o->w->err, sizeof o->w->err, "out of memory building JSON");
        return NULL;
    }
    return o->w->out;
}

/* ---- JSON in (tabtrain/json.h): values checked, errors naming the key ----------------- */

/* tt_json_parse's error, else TT_ERR_INVALID_ARG unless the root is `want`
 * ("object" or "array"). */
static tt_status jparse(tt_json *j, const char *js, const char *what, const char *want) {
    tt_status st = tt_json_parse(j, js);
    if (st) return st;
    int ok = !strcmp(want, "object") ? tt_json_members(j, 0) >= 0 : tt_json_len(j, 0) >= 0;
    if (ok) return TT_OK;
    tt_json_free(j);
    return tt_error(TT_ERR_INVALID_ARG, "%s must be a JSON %s", what, want);
}

/* A finite number (null and strings refused). */
static tt_status jnumber(const tt_json *j, int i, const char *key, double *out) {
    if (!tt_json_num(j, i, out, 0) || !isfinite(*out)) return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be a number", key);
    return TT_OK;
}

static tt_status jint(const tt_json *j, int i, const char *key, double lo, double hi, int *out) {
    double v = 0;
    tt_status st = jnumber(j, i, key, &v);
    if (st) return st;
    if (v != floor(v) || v < lo || v > hi)
        return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be an integer in [%g, %g], got %g", key, lo, hi, v);
    *out = (int)v;
    return TT_OK;
}

static tt_status jstring(const tt_json *j, int i, const char *key, char **out) {
    tt_status st = tt_json_string(j, i, out);
    return st == TT_ERR_FORMAT ? tt_error(TT_ERR_INVALID_ARG, "\"%s\": %s", key, tt_last_error()) : st;
}

/* A key as written, for "unknown key" messages. */
static const char *jkey(const tt_json *j, int i, char buf[64]) {
    return tt_json_text(j, i, buf, 64) ? buf : "(too long)";
}

/* ---- image records under root/dataset ------------------------------------------------ */

static void record_path(const tt_wasm *w, int id, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/dataset/img-%08d.safetensors", w->root, id);
}

static tt_status images_reserve(tt_wasm *w) {
    if (w->n_images < w->cap_images) return TT_OK;
    int cap = w->cap_images ? w->cap_images * 2 : 64;
    wimage *p = realloc(w->images, (size_t)cap * sizeof *p);
    if (!p) return tt_error(TT_ERR_NOMEM, "no memory for the image list");
    w->images = p;
    w->cap_images = cap;
    return TT_OK;
}

/* One file per image: tensor "image" (the encoded bytes, U8) and its ids and
 * name. Atomic (tmp + rename), so a record is whole or absent. */
static tt_status record_write(const tt_wasm *w, const wimage *im, const uint8_t *bytes, size_t len) {
    char path[TT_WASM_PATH + 64], num[32];
    tt_st_builder *b;
    tt_status st = tt_st_builder_new(&b);
    if (st) return st;
    int64_t shape[1] = {(int64_t)len};
    if (!(st = tt_st_add(b, "image", TT_DTYPE_U8, 1, shape, bytes)) &&
        !(st = tt_st_set_metadata(b, "tabtrain.kind", "image"))) {
        snprintf(num, sizeof num, "%d", im->id);
        st = tt_st_set_metadata(b, "tabtrain.image_id", num);
    }
    if (!st) {
        snprintf(num, sizeof num, "%d", im->class_id);
        st = tt_st_set_metadata(b, "tabtrain.class_id", num);
    }
    if (!st) st = tt_st_set_metadata(b, "tabtrain.name", im->name);
    if (!st) {
        record_path(w, im->id, path, sizeof path);
        st = tt_st_write_file(b, path);
    }
    tt_st_builder_free(b);
    return st;
}

/* Opens a record; *bytes points into *f (close it after use). */
static tt_status record_open(const char *path, tt_st_file **f, const tt_st_tensor **bytes) {
    tt_status st = tt_st_open_file(f, path);
    if (st) return st;
    const char *kind = tt_st_metadata(*f, "tabtrain.kind");
    if (!kind || strcmp(kind, "image")) st = tt_error(TT_ERR_FORMAT, "%s: not an image record", path);
    if (!st) st = tt_st_get(*f, "image", TT_DTYPE_U8, bytes);
    if (st) tt_st_close(*f), *f = NULL;
    return st;
}

static tt_status record_read(const char *path, wimage *im) {
    tt_st_file *f;
    const tt_st_tensor *t;
    tt_status st = record_open(path, &f, &t);
    if (st) return st;
    const char *id = tt_st_metadata(f, "tabtrain.image_id"), *cid = tt_st_metadata(f, "tabtrain.class_id");
    const char *name = tt_st_metadata(f, "tabtrain.name");
    if (!id || !cid || !name) st = tt_error(TT_ERR_FORMAT, "%s: image record without ids", path);
    if (!st && !(im->name = tt_strdup(name))) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st) {
        im->id = atoi(id);
        im->class_id = atoi(cid);
        tt_sha256(t->data, t->nbytes, im->hash);
    }
    tt_st_close(f);
    return st;
}

static int cmp_image(const void *a, const void *b) {
    int x = ((const wimage *)a)->id, y = ((const wimage *)b)->id;
    return (x > y) - (x < y);
}

/* Loads every record under root/dataset (a missing dir is an empty dataset).
 * A damaged record is skipped: one bad file must not lose the others. */
static tt_status dataset_open(tt_wasm *w) {
    char dir[TT_WASM_PATH + 64], path[TT_WASM_PATH + 400];
    snprintf(dir, sizeof dir, "%s/dataset", w->root);
    DIR *d = opendir(dir);
    if (!d) return TT_OK;
    struct dirent *e;
    tt_status st = TT_OK;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "img-", 4) || !strstr(e->d_name, ".safetensors") || strstr(e->d_name, ".tmp"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((st = images_reserve(w))) break;
        if (record_read(path, &w->images[w->n_images])) continue;
        if (w->images[w->n_images].id >= w->next_image_id) w->next_image_id = w->images[w->n_images].id + 1;
        w->n_images++;
    }
    closedir(d);
    if (w->n_images) qsort(w->images, (size_t)w->n_images, sizeof *w->images, cmp_image);
    return st;
}

static int image_index(const tt_wasm *w, int id) {
    for (int i = 0; i < w->n_images; i++)
        if (w->images[i].id == id) return i;
    return -1;
}

/* Removes the image, its record and (unless another image has the same bytes)
 * its cached views. */
static void image_drop(tt_wasm *w, int i) {
    char path[TT_WASM_PATH + 64];
    record_path(w, w->images[i].id, path, sizeof path);
    unlink(path);
    int shared = 0;
    for (int j = 0; j < w->n_images; j++)
        shared |= j != i && !memcmp(w->images[j].hash, w->images[i].hash, TT_SHA256_SIZE);
    if (!shared && w->fc) tt_featcache_forget(w->fc, w->images[i].hash, 1);
    /* The views the current run computed too (augmented, tail inputs); those of
     * older runs' settings stay until a reset. */
    if (!shared && w->run.fc) tt_featcache_forget(w->run.fc, w->images[i].hash, w->run.rows_per_train);
    free(w->images[i].name);
    memmove(w->images + i, w->images + i + 1, (size_t)(w->n_images - i - 1) * sizeof *w->images);
    w->n_images--;
}

/* Removes every file of a directory under root (not the directory itself). */
static void dir_clear(const tt_wasm *w, const char *sub) {
    char dir[TT_WASM_PATH + 64], path[TT_WASM_PATH + 400];
    snprintf(dir, sizeof dir, "%s/%s", w->root, sub);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void names_free(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void run_free(wrun *r) {
    tt_trainer_free(r->trainer);
    tt_tail_free(r->tail);
    tt_featcache_free(r->fc);
    free(r->class_ids);
    names_free(r->class_names, r->n_classes);
    free(r->items);
    free(r->x);
    free(r->y);
    free(r->restore);
    memset(r, 0, sizeof *r);
}

static void model_free(wmodel *m) {
    if (m->loaded) tt_model_free(&m->m);
    tt_tail_free(m->tail);
    free(m->class_ids);
    memset(m, 0, sizeof *m);
}

static void classes_free(tt_wasm *w) {
    for (int i = 0; i < w->n_classes; i++) free(w->classes[i].name);
    free(w->classes);
    w->classes = NULL;
    w->n_classes = 0;
}

TT_EXPORT int tt_wasm_abi_version(void) { return TT_WASM_ABI; }

/* The worker checks downloaded weights with the engine's own SHA-256: crypto.subtle
 * exists only in secure contexts, and a classroom serving the app on a LAN address
 * over http is not one. No handle: it runs before tt_wasm_create. The result is a
 * static buffer, valid until the next call. */
TT_EXPORT const char *tt_wasm_sha256_hex(const uint8_t *bytes, int len) {
    static char hex[TT_SHA256_HEX];
    uint8_t digest[TT_SHA256_SIZE];
    if (len < 0 || (!bytes && len > 0)) return NULL;
    tt_sha256(bytes, (size_t)len, digest);
    tt_sha256_hex(digest, hex);
    return hex;
}

/* The settings table as JSON (tabtrain/config.h): the page's form and defaults. */
TT_EXPORT const char *tt_wasm_config_schema(void) {
    static char *schema;
    if (!schema) schema = tt_config_schema_json();
    return schema;
}

TT_EXPORT const char *tt_wasm_last_error(int h) {
    tt_wasm *w = handle(h);
    return w ? w->err : g_create_error;
}

TT_EXPORT void tt_wasm_destroy(int h) {
    tt_wasm *w = handle(h);
    if (!w) return;
    run_free(&w->run);
    model_free(&w->model);
    for (int i = 0; i < w->n_images; i++) free(w->images[i].name);
    free(w->images);
    classes_free(w);
    tt_featcache_free(w->fc);
    tt_mnv2_free(w->net);
    tt_pool_free(w->pool);
    free(w->input);
    free(w->preprocess);
    free(w->weights);
    free(w->out);
    free(w->picture);
    free(w);
    g_handles[h - 1] = NULL;
}

/* A feature cache of this backbone under root/features; `keep` = also in memory. */
static tt_status cache_open(tt_wasm *w, const tt_augment *aug, int unfreeze, int keep, tt_featcache **out) {
    char dir[TT_WASM_PATH + 64];
    snprintf(dir, sizeof dir, "%s/features", w->root);
    tt_featcache_config c = tt_featcache_defaults();
    c.max_pixels = TT_WASM_MAX_PIXELS;
    c.dir = dir;
    c.keep_in_memory = keep;
    c.unfreeze = unfreeze;
    if (aug) c.aug = *aug;
    return tt_featcache_open(out, w->net, w->backbone, &c);
}

TT_EXPORT int tt_wasm_create(const uint8_t *weights, int len, const char *root) {
    g_create_error[0] = 0;
    int slot = 0;
    while (slot < TT_WASM_MAX_HANDLES && g_handles[slot]) slot++;
    if (slot == TT_WASM_MAX_HANDLES) {
        fail(NULL, tt_error(TT_ERR_LIMIT, "more than %d engine instances", TT_WASM_MAX_HANDLES));
        return 0;
    }
    if (!weights || len <= 0 || !root || strlen(root) >= TT_WASM_PATH - 64) {
        fail(NULL, tt_error(TT_ERR_INVALID_ARG, "tt_wasm_create: need the weights bytes and a root path"));
        return 0;
    }
    tt_wasm *w = calloc(1, sizeof *w);
    if (!w) {
        fail(NULL, tt_error(TT_ERR_NOMEM, "no memory for the engine"));
        return 0;
    }
    snprintf(w->root, sizeof w->root, "%s", root);
    w->next_image_id = 1;
    tt_backbone_identity(weights, (size_t)len, w->backbone);
    tt_st_file *f = NULL;
    tt_status st = (w->weights = malloc((size_t)len)) ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory for the weights");
    if (!st) {
        memcpy(w->weights, weights, (size_t)len);
        w->weights_len = (size_t)len;
        st = tt_st_open_memory(&f, w->weights, w->weights_len);
    }
    if (!st) st = tt_mnv2_init(&w->net, f, TT_IMAGE_DEFAULT_SIZE);
    if (!st) {
        const char *pp = tt_st_metadata(f, "tabtrain.preprocess");
        w->preprocess = tt_strdup(pp ? pp : "{}");
        tt_mnv2_info info = tt_mnv2_get_info(w->net);
        w->dim = info.feature_dim;
        w->size = info.input_size;
        w->input = malloc((size_t)w->size * w->size * 3 * sizeof *w->input);
        if (!w->input || !w->preprocess) st = tt_error(TT_ERR_NOMEM, "no memory for the engine");
    }
    tt_st_close(f);
    g_handles[slot] = w; /* so destroy can clean up on the error paths below */
    if (!st) st = cache_open(w, NULL, 0, 1, &w->fc);
    if (!st) st = dataset_open(w);
    if (st) {
        fail(NULL, st);
        tt_wasm_destroy(slot + 1);
        return 0;
    }
    return slot + 1;
}

/* ---- classes and images -------------------------------------------------------------- */

static int class_index(const tt_wasm *w, int id) {
    for (int i = 0; i < w->n_classes; i++)
        if (w->classes[i].id == id) return i;
    return -1;
}

static const char *class_name(const tt_wasm *w, int id, const char *fallback) {
    int i = class_index(w, id);
    return i >= 0 ? w->classes[i].name : fallback;
}

TT_EXPORT int tt_wasm_set_threads(int h, int threads) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (threads == tt_pool_threads(w->pool)) return 0;
    if (threads < 1 || threads > TT_POOL_MAX_THREADS)
        return fail(w, tt_error(TT_ERR_INVALID_ARG, "threads must be in [1, %d] (got %d)", TT_POOL_MAX_THREADS, threads));
    /* The old threads go first (nothing may point at them then): in the
     * browser the new ones come from the same pre-started workers. On
     * failure the engine is left on one thread. */
    tt_mnv2_set_pool(w->net, NULL);
    if (w->run.tail) tt_tail_set_pool(w->run.tail, NULL);
    if (w->model.tail) tt_tail_set_pool(w->model.tail, NULL);
    tt_pool_free(w->pool);
    w->pool = NULL;
    tt_pool *pool;
    tt_status st = tt_pool_init(&pool, threads);
    if (!st && (st = tt_mnv2_set_pool(w->net, pool))) tt_pool_free(pool);
    if (st) return fail(w, st);
    if (w->run.tail) tt_tail_set_pool(w->run.tail, pool);
    if (w->model.tail) tt_tail_set_pool(w->model.tail, pool);
    w->pool = pool;
    return 0;
}

TT_EXPORT int tt_wasm_set_classes(int h, const char *json) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    tt_json p;
    tt_status st = json ? jparse(&p, json, "class list", "array") : tt_error(TT_ERR_INVALID_ARG, "NULL class list");
    if (st) return fail(w, st);
    wclass *list = calloc((size_t)tt_json_len(&p, 0) + 1, sizeof *list);
    int n = 0;
    char name[64];
    if (!list) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int k = 0; !st && k < tt_json_len(&p, 0); k++) {
        int c = tt_json_at(&p, 0, k), fields = tt_json_members(&p, c), have_id = 0;
        if (fields < 0) { st = tt_error(TT_ERR_INVALID_ARG, "class %d is not an object", k); break; }
        for (int f = 0; !st && f < fields; f++) {
            int i = tt_json_member(&p, c, f);
            if (tt_json_eq(&p, i, "id")) { st = jint(&p, i + 1, "id", 1, 1e9, &list[n].id); have_id = 1; }
            else if (tt_json_eq(&p, i, "name")) st = jstring(&p, i + 1, "name", &list[n].name);
            else st = tt_error(TT_ERR_INVALID_ARG, "class %d: unknown key %s", k, jkey(&p, i, name));
        }
        if (!st && (!have_id || !list[n].name)) st = tt_error(TT_ERR_INVALID_ARG, "class %d needs an id and a name", k);
        for (int j = 0; !st && j < n; j++)
            if (list[j].id == list[n].id) st = tt_error(TT_ERR_INVALID_ARG, "class id %d listed twice", list[n].id);
        n++;
    }
    tt_json_free(&p);
    if (st) {
        for (int i = 0; i < n; i++) free(list[i].name);
        free(list);
        return fail(w, st);
    }
    classes_free(w);
    w->classes = list;
    w->n_classes = n;
    for (int i = w->n_images - 1; i >= 0; i--)
        if (class_index(w, w->images[i].class_id) < 0) image_drop(w, i);
    for (int i = 0; w->model.loaded && i < w->model.m.n_classes; i++)
        if (class_index(w, w->model.class_ids[i]) < 0) w->model.class_ids[i] = 0;
    return 0;
}

/* Decodes (the check that the file is an image), caches the plain view's
 * features, then writes the record: a record always has its features. */
TT_EXPORT int tt_wasm_add_image(int h, int class_id, const uint8_t *bytes, int len, const char *name) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (class_index(w, class_id) < 0) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no class with id %d", class_id));
    if (!bytes || len <= 0) return fail(w, tt_error(TT_ERR_FORMAT, "empty file"));
    if (!w->fc) return fail(w, tt_error(TT_ERR_IO, "the feature cache could not be reopened after a reset"));
    tt_feat_request rq = {.bytes = bytes, .len = (size_t)len};
    float *feat = malloc((size_t)w->dim * sizeof *feat);
    tt_status st = feat ? tt_featcache_run(w->fc, 1, &rq, 1, feat) : tt_error(TT_ERR_NOMEM, "no memory");
    free(feat);
    if (!st && rq.status) st = tt_error(rq.status, "%s", rq.error);
    for (int i = 0; !st && i < w->n_images; i++)
        if (w->images[i].class_id == class_id && !memcmp(w->images[i].hash, rq.hash, TT_SHA256_SIZE))
            st = tt_error(TT_ERR_INVALID_ARG, "the same picture as %s, already in this class", w->images[i].name);
    if (!st) st = images_reserve(w);
    if (st) return fail(w, st);
    wimage im = {w->next_image_id, class_id, tt_strdup(name ? name : ""), {0}};
    memcpy(im.hash, rq.hash, TT_SHA256_SIZE);
    st = im.name ? record_write(w, &im, bytes, (size_t)len) : tt_error(TT_ERR_NOMEM, "no memory for the image");
    if (st) {
        free(im.name);
        return fail(w, st);
    }
    w->next_image_id++;
    w->images[w->n_images++] = im; /* ids only grow: the list stays sorted */
    return im.id;
}

TT_EXPORT int tt_wasm_remove_image(int h, int image_id) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    int i = image_index(w, image_id);
    if (i < 0) return fail(w, tt_error(TT_ERR_NOT_FOUND, "no image with id %d", image_id));
    image_drop(w, i);
    return 0;
}

TT_EXPORT const char *tt_wasm_dataset_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    jout o = {w, 0, 0};
    jput(&o, "{\"classes\":[");
    for (int c = 0; c < w->n_classes; c++) {
        int count = 0;
        for (int i = 0; i < w->n_images; i++) count += w->images[i].class_id == w->classes[c].id;
        jput(&o, "%s{\"id\":%d,\"count\":%d}", c ? "," : "", w->classes[c].id, count);
    }
    jput(&o, "],\"images\":[");
    for (int i = 0; i < w->n_images; i++) {
        jput(&o, "%s{\"id\":%d,\"class\":%d,\"name\":", i ? "," : "", w->images[i].id, w->images[i].class_id);
        jstr(&o, w->images[i].name);
        jput(&o, "}");
    }
    jput(&o, "]}");
    return jdone(&o);
}

/* The encoded bytes of an image, as added (thumbnails after a reload): valid
 * until the next call on the handle; *len receives their count. */
TT_EXPORT const uint8_t *tt_wasm_image(int h, int image_id, int *len) {
    tt_wasm *w = handle(h);
    if (!w || !len) return NULL;
    *len = 0;
    if (image_index(w, image_id) < 0) {
        fail(w, tt_error(TT_ERR_NOT_FOUND, "no image with id %d", image_id));
        return NULL;
    }
    char path[TT_WASM_PATH + 64];
    tt_st_file *f;
    const tt_st_tensor *t;
    record_path(w, image_id, path, sizeof path);
    tt_status st = record_open(path, &f, &t);
    if (st) {
        fail(w, st);
        return NULL;
    }
    free(w->picture);
    if ((w->picture = malloc(t->nbytes + 1))) {
        memcpy(w->picture, t->data, t->nbytes);
        *len = (int)t->nbytes;
    } else fail(w, tt_error(TT_ERR_NOMEM, "no memory for image %d", image_id));
    tt_st_close(f);
    return w->picture;
}

/* ---- training config -------------------------------------------------------------------- */

/* The engine config: the settings table (tabtrain/config.h). A checkpoint
 * stores it with the run's class ids and data CRC added, so a reload rebuilds
 * the same rows. */
typedef struct wconfig {
    tt_config cfg;
    int n_ids;
    int *class_ids;  /* only from a checkpoint */
    double data_crc; /* only from a checkpoint; -1 = absent */
} wconfig;

static void config_free(wconfig *c) {
    free(c->class_ids);
    c->class_ids = NULL;
}

static tt_status config_parse(const char *json, int from_ckpt, wconfig *c) {
    memset(c, 0, sizeof *c);
    c->cfg = tt_config_defaults();
    c->data_crc = -1;
    tt_status st = tt_config_from_json(&c->cfg, json, from_ckpt);
    if (!st) st = tt_config_validate(&c->cfg);
    if (st || !from_ckpt) return st;
    tt_json p;
    if (tt_json_parse(&p, json)) return TT_OK;
    int k = tt_json_key(&p, 0, "class_ids");
    tt_json_num(&p, tt_json_key(&p, 0, "data_crc"), &c->data_crc, 0);
    if (tt_json_len(&p, k) >= 0) {
        c->n_ids = tt_json_len(&p, k);
        c->class_ids = malloc(((size_t)c->n_ids + 1) * sizeof *c->class_ids);
        if (!c->class_ids) st = tt_error(TT_ERR_NOMEM, "no memory");
        for (int j = 0; !st && j < c->n_ids; j++) st = jint(&p, tt_json_at(&p, k, j), "class_ids", 1, 1e9, &c->class_ids[j]);
    }
    tt_json_free(&p);
    if (st) config_free(c);
    return st;
}

/* The class ids a checkpoint's run had: its own list (written by an engine),
 * else this engine's classes of the same names (written by `tabtrain train`);
 * 0 when some class is not here (the file is then only a model). */
static int ckpt_class_ids(const tt_wasm *w, const tt_st_file *f, wconfig *c) {
    if (c->class_ids) return 1;
    char **names = NULL;
    int n = 0, ok = !tt_json_string_array(tt_st_metadata(f, "tabtrain.classes"), &names, &n) && n > 0;
    if (ok && !(c->class_ids = malloc((size_t)n * sizeof *c->class_ids))) ok = 0;
    for (int i = 0; ok && i < n; i++) {
        int k = 0;
        while (k < w->n_classes && strcmp(w->classes[k].name, names[i])) k++;
        if (k == w->n_classes) ok = 0;
        else c->class_ids[i] = w->classes[k].id;
    }
    if (ok) c->n_ids = n;
    tt_json_free_strings(names, n);
    return ok;
}

/* ---- the run: plan, prepare, train ------------------------------------------------------ */

static float *run_row(const wrun *r, int item) {
    size_t row = item < r->n_train ? (size_t)item * r->rows_per_train
                                   : (size_t)r->n_train * r->rows_per_train + (size_t)(item - r->n_train);
    return r->x + row * r->dim;
}

/* The run's classes (given ids, or every current class with images), the split
 * of their images (tt_dataset_split: stratified, seeded) and room for the rows.
 * Nothing is computed yet: run_prepare fills the rows. */
static tt_status run_build(tt_wasm *w, const wconfig *c, wrun *r) {
    memset(r, 0, sizeof *r);
    r->cfg = c->cfg;
    r->rows_per_train = c->cfg.augment[0] ? 1 + c->cfg.augment_views : 1;
    tt_status st = TT_OK;
    int n = c->class_ids ? c->n_ids : w->n_classes;
    r->class_ids = malloc(((size_t)n + 1) * sizeof *r->class_ids);
    r->class_names = calloc((size_t)n + 1, sizeof *r->class_names);
    if (!st && (!r->class_ids || !r->class_names)) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int i = 0; !st && i < n; i++) {
        int id = c->class_ids ? c->class_ids[i] : w->classes[i].id, count = 0;
        if (class_index(w, id) < 0) { st = tt_error(TT_ERR_MISMATCH, "class id %d of the saved run no longer exists", id); break; }
        for (int j = 0; j < w->n_images; j++) count += w->images[j].class_id == id;
        if (!count && !c->class_ids) continue; /* an empty class cannot be learned: leave it out */
        r->class_ids[r->n_classes] = id;
        if (!(r->class_names[r->n_classes++] = tt_strdup(class_name(w, id, "")))) st = tt_error(TT_ERR_NOMEM, "no memory");
    }
    if (!st && r->n_classes < 2) st = tt_error(TT_ERR_INVALID_ARG, "training needs at least two classes with images");
    /* The run's images (those of its classes) and their labels, split by labels alone. */
    int *which = malloc(((size_t)w->n_images + 1) * sizeof *which), n_run = 0;
    int32_t *labels = malloc(((size_t)w->n_images + 1) * sizeof *labels);
    uint8_t *to_val = malloc((size_t)w->n_images + 1);
    if (!st && (!which || !labels || !to_val)) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int j = 0; !st && j < w->n_images; j++)
        for (int i = 0; i < r->n_classes; i++)
            if (r->class_ids[i] == w->images[j].class_id) which[n_run] = j, labels[n_run++] = i;
    if (!st) st = tt_split_labels(labels, n_run, r->n_classes, r->cfg.val_fraction, r->cfg.train.seed, to_val);
    if (!st && !(r->items = malloc(((size_t)n_run + 1) * sizeof *r->items))) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int side = 0; !st && side < 2; side++) /* training images, then validation images, each in id order */
        for (int k = 0; k < n_run; k++) {
            if (to_val[k] != side) continue;
            const wimage *im = &w->images[which[k]];
            witem *it = &r->items[side ? r->n_train + r->n_val++ : r->n_train++];
            it->id = im->id;
            it->label = labels[k];
            memcpy(it->hash, im->hash, TT_SHA256_SIZE);
        }
    for (int k = 0; !st && k < r->n_train + r->n_val; k++) {
        int32_t row[2] = {r->items[k].id, r->items[k].label};
        r->data_crc = tt_crc32(r->data_crc, row, sizeof row);
        r->data_id = tt_run_data_id(r->data_id, r->items[k].hash, r->items[k].label);
    }
    free(which), free(labels), free(to_val);
    /* A tail starts from the backbone file's weights; its input is what the cache stores. */
    r->dim = w->dim;
    if (!st && r->cfg.unfreeze) {
        tt_st_file *f;
        if (!(st = tt_st_open_memory(&f, w->weights, w->weights_len))) {
            st = tt_tail_init(&r->tail, w->net, f, r->cfg.unfreeze, r->cfg.train.batch_size);
            if (r->tail) tt_tail_set_pool(r->tail, w->pool);
            tt_st_close(f);
        }
        if (!st) r->dim = tt_tail_get_info(r->tail).in_dim;
    }
    if (!st && (r->cfg.unfreeze || r->cfg.augment[0])) {
        tt_augment aug;
        if (!(st = tt_augment_parse(r->cfg.augment, &aug))) st = cache_open(w, &aug, r->cfg.unfreeze, 0, &r->fc);
    }
    if (!st) {
        size_t rows = (size_t)r->n_train * r->rows_per_train + (size_t)r->n_val;
        r->x = malloc(rows * (size_t)r->dim * sizeof *r->x + 1);
        r->y = malloc(rows * sizeof *r->y + 1);
        if (!r->x || !r->y)
            st = tt_error(TT_ERR_NOMEM, "no memory for %zu rows of %d floats (%.0f MB): use fewer augmented views "
                          "or unfreeze fewer blocks", rows, r->dim, rows * (double)r->dim * 4 / 1e6);
    }
    if (st) run_free(r);
    return st;
}

/* Fills rows until they are all there or budget_ms has passed (< 0: no limit;
 * at least one image per call).
 * Cached views are looked up by hash; a miss reads the image's record back and
 * runs the cache (decode, augment, backbone). */
static tt_status run_prepare(tt_wasm *w, wrun *r, int budget_ms) {
    tt_featcache *fc = r->fc ? r->fc : w->fc;
    double t0 = now_ms();
    tt_status st = TT_OK;
    for (int first = 1; !st && r->prepared < r->n_train + r->n_val && (first || budget_ms < 0 || now_ms() - t0 < budget_ms);
         first = 0) {
        const witem *it = &r->items[r->prepared];
        int views = r->prepared < r->n_train ? r->rows_per_train : 1, hits = 0;
        float *dst = run_row(r, r->prepared);
        for (int v = 0; !st && v < views; v++) {
            int hit;
            st = tt_featcache_lookup(fc, it->hash, v, dst + (size_t)v * r->dim, &hit);
            hits += hit;
        }
        if (!st && hits < views) {
            char path[TT_WASM_PATH + 64];
            tt_st_file *f;
            const tt_st_tensor *bytes;
            record_path(w, it->id, path, sizeof path);
            if ((st = record_open(path, &f, &bytes))) {
                st = tt_error(st, "image %d of the run cannot be read back (%s); start training again", it->id,
                              tt_last_error());
                break;
            }
            tt_feat_request rq = {.bytes = bytes->data, .len = bytes->nbytes};
            st = tt_featcache_run(fc, 1, &rq, views, dst);
            if (!st && rq.status) st = tt_error(rq.status, "image %d no longer decodes: %s", it->id, rq.error);
            tt_st_close(f);
        }
        for (int v = 0; v < views; v++) r->y[(dst - r->x) / r->dim + v] = it->label;
        if (!st) r->prepared++;
    }
    return st;
}

/* The finished run predicts with the weights of its best epoch. */
static void run_finish(wrun *r) {
    if (r->trainer && tt_trainer_finished(r->trainer)) tt_trainer_use_best(r->trainer);
}

static tt_named_tensor *find_tensor(tt_named_tensor *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name)) return &ts[i];
    return NULL;
}

/* Whether a run of config c can start from the imported model. */
static tt_status warm_start_check(const tt_wasm *w, const wconfig *c) {
    const wmodel *m = &w->model;
    if (!m->loaded) return tt_error(TT_ERR_INVALID_ARG, "\"init_from_model\": no model was imported");
    if (m->m.head.cfg.hidden != c->cfg.train.hidden)
        return tt_error(TT_ERR_MISMATCH, "the imported model has %d hidden units, this run %d: set the same to continue it",
                        m->m.head.cfg.hidden, c->cfg.train.hidden);
    if (m->m.unfreeze != c->cfg.unfreeze)
        return tt_error(TT_ERR_MISMATCH, "the imported model fine-tuned %d backbone blocks, this run %d: set the same to "
                        "continue it", m->m.unfreeze, c->cfg.unfreeze);
    return TT_OK;
}

/* Starts the run from the imported model: the hidden layer and the tail as
 * they are, and for every run class the logit row of the model's class of the
 * same name (new classes keep their fresh initialisation). */
static tt_status run_warm_start(tt_wasm *w, wrun *r) {
    wmodel *m = &w->model;
    tt_head *h = tt_trainer_head(r->trainer);
    tt_named_tensor *mine = h->params, *theirs = m->m.head.params;
    int np = h->n_params, matched = 0;
    if (r->cfg.train.hidden) {
        for (int i = 0; i < 2; i++)
            memcpy(mine[i].data, theirs[i].data, tt_named_tensor_numel(&mine[i]) * sizeof(float));
    }
    tt_named_tensor *k = find_tensor(mine, np, "head.logits.kernel"), *b = find_tensor(mine, np, "head.logits.bias");
    tt_named_tensor *mk = find_tensor(theirs, m->m.head.n_params, "head.logits.kernel");
    tt_named_tensor *mb = find_tensor(theirs, m->m.head.n_params, "head.logits.bias");
    size_t row = (size_t)k->shape[1];
    for (int i = 0; i < r->n_classes; i++)
        for (int j = 0; j < m->m.n_classes; j++)
            if (!strcmp(class_name(w, r->class_ids[i], r->class_names[i]), m->m.classes[j])) {
                memcpy(k->data + i * row, mk->data + j * row, row * sizeof(float));
                b->data[i] = mb->data[j];
                matched++;
                break;
            }
    if (!matched) return tt_error(TT_ERR_MISMATCH, "none of the imported model's classes is a class of this run");
    if (r->tail) {
        tt_named_tensor *src, *dst;
        tt_tail_params(m->tail, &src);
        tt_tail_params(r->tail, &dst);
        memcpy(dst[0].data, src[0].data, tt_tail_get_info(r->tail).params * sizeof(float));
    }
    return TT_OK;
}

/* Once every row is there: the trainer, then the saved state or the imported start. */
static tt_status run_start(tt_wasm *w, wrun *r) {
    size_t train_rows = (size_t)r->n_train * r->rows_per_train;
    tt_features ftr = {r->x, r->y, (int)train_rows};
    tt_features fva = {r->x + train_rows * r->dim, r->y + train_rows, r->n_val};
    tt_status st = r->tail ? tt_trainer_init_tail(&r->trainer, &r->cfg.train, r->tail, r->n_classes, &ftr, &fva)
                           : tt_trainer_init(&r->trainer, &r->cfg.train, r->dim, r->n_classes, &ftr, &fva);
    if (!st && r->restore) {
        tt_st_file *f;
        if (!(st = tt_ckpt_open_memory(&f, r->restore, r->restore_len))) {
            st = tt_ckpt_restore(r->trainer, f);
            tt_st_close(f);
        }
        free(r->restore);
        r->restore = NULL;
    } else if (!st && r->cfg.init_from_model) {
        st = run_warm_start(w, r);
    }
    if (st) {
        tt_trainer_free(r->trainer);
        r->trainer = NULL;
    }
    run_finish(r);
    return st;
}

static int run_ready(const wrun *r) { return r->trainer != NULL; }

TT_EXPORT int tt_wasm_train_begin(int h, const char *config) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    wconfig c;
    tt_status st = config_parse(config ? config : "{}", 0, &c);
    if (st) return fail(w, st);
    if (c.cfg.init_from_model) st = warm_start_check(w, &c);
    wrun r;
    if (!st) st = run_build(w, &c, &r);
    config_free(&c);
    if (st) return fail(w, st);
    run_free(&w->run);
    w->run = r;
    return 0;
}

TT_EXPORT int tt_wasm_train_step(int h, int budget_ms) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    wrun *r = &w->run;
    if (!r->items) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no training run: call train_begin first"));
    double t0 = now_ms();
    if (!run_ready(r)) {
        tt_status st = run_prepare(w, r, budget_ms);
        if (!st && r->prepared == r->n_train + r->n_val) st = run_start(w, r);
        if (st) return fail(w, st);
        return run_ready(r) ? TT_WASM_STEP_DONE : TT_WASM_STEP_PREPARING;
    }
    if (tt_trainer_finished(r->trainer)) return TT_WASM_STEP_FINISHED;
    int ended = 0;
    do {
        tt_status st = tt_trainer_step(r->trainer, &ended);
        if (st) return fail(w, st);
    } while (!ended && now_ms() - t0 < budget_ms);
    if (tt_trainer_finished(r->trainer)) {
        run_finish(r);
        return TT_WASM_STEP_FINISHED;
    }
    return ended ? TT_WASM_STEP_EPOCH : TT_WASM_STEP_DONE;
}

TT_EXPORT const char *tt_wasm_train_state_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    const wrun *r = &w->run;
    jout o = {w, 0, 0};
    if (!run_ready(r)) {
        int total = r->n_train * r->rows_per_train + r->n_val;
        int done = r->prepared <= r->n_train ? r->prepared * r->rows_per_train
                                             : r->n_train * r->rows_per_train + r->prepared - r->n_train;
        jput(&o, "{\"epoch\":0,\"epochs\":%d,\"step\":0,\"steps\":0,\"train_loss\":null,\"val_acc\":null,"
                 "\"prepared\":%d,\"to_prepare\":%d,\"finished\":%s}",
             r->items ? r->cfg.train.epochs : 0, done, total, !r->items && w->model.loaded ? "true" : "false");
        return jdone(&o);
    }
    tt_trainer_progress pr;
    tt_trainer_progress_get(r->trainer, &pr);
    int nh;
    const tt_epoch_metrics *hist = tt_trainer_history(r->trainer, &nh);
    int64_t steps = (int64_t)r->cfg.train.epochs * pr.steps_per_epoch;
    if (pr.finished) steps = pr.global_step; /* early stopping ends the plan */
    int rows = r->n_train * r->rows_per_train + r->n_val;
    jput(&o, "{\"epoch\":%d,\"epochs\":%d,\"step\":%lld,\"steps\":%lld,\"train_loss\":", pr.epoch, r->cfg.train.epochs,
         (long long)pr.global_step, (long long)steps);
    jnum(&o, nh ? hist[nh - 1].train_loss : NAN);
    jput(&o, ",\"val_acc\":");
    jnum(&o, nh ? hist[nh - 1].val_acc : NAN);
    jput(&o, ",\"prepared\":%d,\"to_prepare\":%d,\"finished\":%s}", rows, rows, pr.finished ? "true" : "false");
    return jdone(&o);
}

TT_EXPORT const char *tt_wasm_metrics_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    int nh = 0;
    const tt_epoch_metrics *hist = run_ready(&w->run) ? tt_trainer_history(w->run.trainer, &nh) : NULL;
    if (!nh) {
        snprintf(w->err, sizeof w->err, "no finished epoch yet");
        return NULL;
    }
    const tt_epoch_metrics *m = &hist[nh - 1];
    int C = w->run.n_classes;
    jout o = {w, 0, 0};
    /* Every array below is in the run's label order, named by class_ids: a class
     * without pictures is not in the run, and one deleted since keeps the name
     * the run recorded, so nothing is labelled by its position in today's list. */
    jput(&o, "{\"class_names\":[");
    for (int i = 0; i < C; i++) {
        jput(&o, "%s", i ? "," : "");
        jstr(&o, class_name(w, w->run.class_ids[i], w->run.class_names[i]));
    }
    jput(&o, "],\"epochs\":%d,\"class_ids\":[", w->run.cfg.train.epochs);
    for (int i = 0; i < C; i++) jput(&o, "%s%d", i ? "," : "", w->run.class_ids[i]);
    jput(&o, "],\"val_counts\":[");
    for (int i = 0; i < C; i++) {
        int n = 0;
        for (int j = 0; j < C; j++) n += m->confusion[i * C + j];
        jput(&o, "%s%d", i ? "," : "", n);
    }
    jput(&o, "],");
    size_t need = tt_epoch_metrics_json(m, C, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf) o.oom = 1;
    else {
        tt_epoch_metrics_json(m, C, buf, need + 1);
        jput(&o, "%s", buf + 1); /* splice its fields after ours */
        free(buf);
    }
    return jdone(&o);
}

/* ---- checkpoints, import, export ------------------------------------------------------- */

/* JSON array of the names (current names: renames after training are kept). */
static char *names_json(const tt_wasm *w, int n, const int *ids, char *const *fallback) {
    char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return NULL;
    for (int i = 0; i < n; i++) names[i] = (char *)class_name(w, ids[i], fallback[i]);
    char *s = tt_json_string_list(names, n);
    free(names);
    return s;
}

/* The run's checkpoint: written to `path`, or (path NULL) into malloc'd *bytes. */
static tt_status run_checkpoint(tt_wasm *w, const char *path, void **bytes, size_t *len) {
    if (!run_ready(&w->run))
        return tt_error(TT_ERR_INVALID_ARG, w->run.items ? "the run is still preparing its features" : "nothing trained to save");
    char *cfg_copy = tt_run_config_json(&w->run.cfg, w->run.data_id, w->run.class_ids, w->run.n_classes);
    char *classes = names_json(w, w->run.n_classes, w->run.class_ids, w->run.class_names);
    tt_status st = TT_OK;
    if (!cfg_copy || !classes) st = tt_error(TT_ERR_NOMEM, "no memory for the checkpoint metadata");
    tt_ckpt_meta m = {.classes_json = classes, .backbone = w->backbone, .preprocess_json = w->preprocess,
                      .config_json = cfg_copy};
    if (!st) st = path ? tt_ckpt_save_file(w->run.trainer, &m, path) : tt_ckpt_save_memory(w->run.trainer, &m, bytes, len);
    free(cfg_copy);
    free(classes);
    return st;
}

TT_EXPORT int tt_wasm_save(int h, const char *path) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    tt_status st = path ? run_checkpoint(w, path, NULL, NULL) : tt_error(TT_ERR_INVALID_ARG, "no path");
    return st ? fail(w, st) : 0;
}

/* An imported model: the head of a model, export or foreign checkpoint file and,
 * when it fine-tuned K blocks, those blocks — an export holds them under the
 * backbone's own names (so its tail is built from the file itself), a model or
 * checkpoint as "backbone.*" over this engine's backbone. */
static tt_status model_load(tt_wasm *w, const tt_st_file *f, const wconfig *c) {
    wmodel nm = {0};
    tt_status st = tt_model_load(&nm.m, f, 16);
    if (st) return st;
    nm.loaded = 1;
    if (!(st = tt_model_check_backbone(&nm.m, w->backbone)) && nm.m.head.cfg.in != w->dim)
        st = tt_error(TT_ERR_MISMATCH, "model expects %d features, this backbone gives %d", nm.m.head.cfg.in, w->dim);
    if (!st && !(nm.class_ids = calloc((size_t)nm.m.n_classes + 1, sizeof *nm.class_ids))) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st && nm.m.unfreeze) {
        int is_export = nm.m.kind && !strcmp(nm.m.kind, "export");
        tt_st_file *bb = NULL;
        if (!is_export) st = tt_st_open_memory(&bb, w->weights, w->weights_len);
        if (!st) st = tt_tail_init(&nm.tail, w->net, is_export ? f : bb, nm.m.unfreeze, 16);
        if (nm.tail) tt_tail_set_pool(nm.tail, w->pool);
        if (!st && !is_export) st = tt_model_load_tail(&nm.m, nm.tail);
        tt_st_close(bb);
    }
    if (st) {
        model_free(&nm);
        return st;
    }
    /* Class ids only mean something in the browser that trained the model. */
    for (int i = 0; c->class_ids && i < nm.m.n_classes && i < c->n_ids; i++)
        nm.class_ids[i] = class_index(w, c->class_ids[i]) >= 0 ? c->class_ids[i] : 0;
    model_free(&w->model);
    w->model = nm;
    return TT_OK;
}

/* A checkpoint of this browser's dataset restores the run (0), which then continues
 * bit-identically; anything else that holds a head (a checkpoint of other data, a
 * model or export file) is imported (1): it predicts and may start the next run. */
TT_EXPORT int tt_wasm_load(int h, const char *path) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    tt_st_file *f = NULL;
    tt_status st = path ? tt_st_open_file(&f, path) : tt_error(TT_ERR_INVALID_ARG, "no path");
    if (st) return fail(w, st);
    const char *kind = tt_st_metadata(f, "tabtrain.kind");
    const char *cj = tt_st_metadata(f, "tabtrain.config");
    wconfig c = {0};
    wrun r;
    int rc = TT_WASM_LOAD_MODEL;
    if (kind && !strcmp(kind, "checkpoint")) {
        tt_st_close(f);
        if ((st = tt_ckpt_open_file(&f, path))) return fail(w, st); /* its own checks */
        if ((st = tt_ckpt_check(f, NULL, w->backbone))) {
            tt_st_close(f);
            return fail(w, st);
        }
        cj = tt_st_metadata(f, "tabtrain.config");
        /* Same classes and the very same pictures, or the run is not this dataset's any more. */
        if (cj && !config_parse(cj, 1, &c) && !tt_config_from_file(f, &c.cfg) && ckpt_class_ids(w, f, &c) &&
            !run_build(w, &c, &r)) {
            int fits = c.data_crc >= 0 ? c.data_crc == r.data_crc : !tt_run_check_file(f, &r.cfg, r.data_id);
            if (fits && !tt_file_read(path, TT_FILE_MAX, &r.restore, &r.restore_len) &&
                !run_prepare(w, &r, -1) && !run_start(w, &r))
                rc = TT_WASM_LOAD_RUN;
            else
                run_free(&r);
        }
    } else if (cj) config_parse(cj, 1, &c); /* only for the class ids; a foreign config is fine */
    if (rc == TT_WASM_LOAD_RUN) {
        run_free(&w->run);
        w->run = r;
    } else if (!(st = model_load(w, f, &c))) run_free(&w->run);
    config_free(&c);
    tt_st_close(f);
    return st ? fail(w, st) : rc;
}

/* What an import brought: {"kind","classes":[names],"hidden","unfreeze"}. */
TT_EXPORT const char *tt_wasm_model_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    if (!w->model.loaded) {
        snprintf(w->err, sizeof w->err, "no imported model");
        return NULL;
    }
    const tt_model *m = &w->model.m;
    jout o = {w, 0, 0};
    jput(&o, "{\"kind\":");
    jstr(&o, m->kind ? m->kind : "model");
    jput(&o, ",\"classes\":[");
    for (int i = 0; i < m->n_classes; i++) {
        if (i) jput(&o, ",");
        jstr(&o, m->classes[i]);
    }
    jput(&o, "],\"hidden\":%d,\"unfreeze\":%d}", m->head.cfg.hidden, m->unfreeze);
    return jdone(&o);
}

/* The export of tabtrain/ckpt.h (docs/export.md), built as `tabtrain export` builds it:
 * from a checkpoint of the run (so its best epoch's head once there is one, the
 * current weights before) and the backbone this engine runs. `json` receives the
 * sidecar that names `path`'s file as its weights; with `onnx`, `path` receives the
 * ONNX model of tabtrain/onnx.h instead and `json` is not written. */
static tt_status run_export(tt_wasm *w, const char *path, const char *json, int onnx) {
    void *ckpt = NULL;
    size_t ckpt_len = 0;
    tt_st_file *model = NULL, *bb = NULL, *ex = NULL;
    tt_st_builder *b = NULL;
    char *sidecar = NULL;
    tt_status st = run_checkpoint(w, NULL, &ckpt, &ckpt_len);
    if (!st) st = tt_st_open_memory(&model, ckpt, ckpt_len);
    if (!st) st = tt_st_open_memory(&bb, w->weights, w->weights_len);
    if (!st) st = tt_ckpt_export(model, bb, w->backbone, &b);
    if (!st && onnx) {
        st = tt_onnx_write_file(b, path, NULL);
        goto done;
    }
    if (!st) st = tt_st_write_file(b, path);
    /* The JSON describes what was written, read back (and CRC-checked). */
    if (!st) st = tt_st_open_file(&ex, path);
    const char *base = strrchr(path, '/');
    if (!st) st = tt_ckpt_export_json(ex, base ? base + 1 : path, &sidecar);
    if (!st) {
        tt_chunk c = {sidecar, strlen(sidecar)};
        st = tt_file_write_atomic(json, &c, 1);
    }
done:
    tt_st_builder_free(b);
    tt_st_close(ex), tt_st_close(bb), tt_st_close(model);
    free(ckpt), free(sidecar);
    return st;
}

TT_EXPORT int tt_wasm_export(int h, const char *path, const char *json, const char *format) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    int onnx = format && !strcmp(format, "onnx");
    if (!format || (!onnx && strcmp(format, "safetensors")))
        return fail(w, tt_error(TT_ERR_UNSUPPORTED, "export format \"%s\" (\"safetensors\" or \"onnx\")", format ? format : ""));
    tt_status st = path && json ? run_export(w, path, json, onnx) : tt_error(TT_ERR_INVALID_ARG, "no path");
    return st ? fail(w, st) : 0;
}

/* ---- use ------------------------------------------------------------------------------- */

/* Class probabilities of one image with the run's model (its best epoch once
 * finished) or the imported one. Nothing is cached: a webcam frame is seen once. */
TT_EXPORT const char *tt_wasm_predict(int h, const uint8_t *bytes, int len) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    int from_run = run_ready(&w->run);
    tt_head *head = from_run ? tt_trainer_head(w->run.trainer) : w->model.loaded ? &w->model.m.head : NULL;
    tt_tail *tail = from_run ? w->run.tail : w->model.tail;
    int C = from_run ? w->run.n_classes : w->model.m.n_classes;
    if (!head) {
        fail(w, tt_error(TT_ERR_INVALID_ARG, "no trained model yet"));
        return NULL;
    }
    tt_image img;
    tt_status st = bytes && len > 0 ? tt_image_decode(bytes, (size_t)len, &(tt_decode_opts){TT_WASM_MAX_PIXELS}, &img) : tt_error(TT_ERR_FORMAT, "empty file");
    if (st) {
        fail(w, st);
        return NULL;
    }
    st = tt_image_to_input(&img, w->size, w->input);
    tt_image_free(&img);
    tt_tail_info ti = tail ? tt_tail_get_info(tail) : (tt_tail_info){0};
    float *feat = malloc((size_t)(w->dim + C + ti.in_dim) * sizeof *feat);
    if (!st && !feat) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st && tail) {
        float *act = feat + w->dim + C;
        if (!(st = tt_mnv2_forward_until(w->net, 1, w->input, ti.first_block, act))) tt_tail_features(tail, 1, act, feat);
    } else if (!st) {
        st = tt_mnv2_features(w->net, 1, w->input, feat);
    }
    if (st) {
        free(feat);
        fail(w, st);
        return NULL;
    }
    float *probs = feat + w->dim;
    tt_head_predict(head, 1, feat, probs);
    jout o = {w, 0, 0};
    jput(&o, "{\"classes\":[");
    for (int i = 0; i < C; i++) {
        int id = from_run ? w->run.class_ids[i] : w->model.class_ids[i];
        const char *fb = from_run ? w->run.class_names[i] : w->model.m.classes[i];
        jput(&o, "%s{\"id\":%d,\"name\":", i ? "," : "", id);
        jstr(&o, class_name(w, id, fb));
        jput(&o, "}");
    }
    jput(&o, "],\"probs\":[");
    for (int i = 0; i < C; i++) {
        if (i) jput(&o, ",");
        jnum(&o, probs[i]);
    }
    jput(&o, "]}");
    free(feat);
    return jdone(&o);
}

/* Forgets everything but the backbone, and removes the engine's files under root. */
TT_EXPORT int tt_wasm_reset(int h) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    run_free(&w->run);
    model_free(&w->model);
    for (int i = 0; i < w->n_images; i++) free(w->images[i].name);
    w->n_images = 0;
    classes_free(w);
    tt_featcache_free(w->fc);
    w->fc = NULL;
    dir_clear(w, "ckpt");
    dir_clear(w, "dataset");
    dir_clear(w, "features");
    tt_status st = cache_open(w, NULL, 0, 1, &w->fc);
    return st ? fail(w, st) : 0;
}
