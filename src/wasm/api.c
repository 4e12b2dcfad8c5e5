/* src/wasm/api.c — the C functions web/worker.js calls (docs/wasm-api.md).
 *
 * Handles, plain buffers and JSON over the public headers. What the library
 * does (decode, backbone, trainer, files) stays in the library; this file keeps
 * the per-handle bookkeeping the browser needs (class ids, image ids, the
 * feature files under root, the run's split) and turns it into JSON.
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

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/crc32.h"
#include "tabtrain/dataset.h"
#include "tabtrain/featcache.h"
#include "tabtrain/fileio.h"
#include "tabtrain/head.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/model_file.h"
#include "tabtrain/rng.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/trainer.h"
#include "wasm/api.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
#define TT_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define TT_EXPORT
#endif

#define TT_WASM_ABI 2
#define TT_WASM_MAX_HANDLES 8
#define TT_WASM_PATH 512

typedef struct wclass {
    int id;
    char *name;
} wclass;

typedef struct wimage {
    int id, class_id;
    char *name;
    float *feat; /* [dim] */
} wimage;

/* The run: its config, the split it trains on and the classes it was begun with. */
typedef struct wrun {
    tt_trainer *trainer;
    tt_trainer_config cfg;
    float val_fraction;
    int augment_flip, augment_crop, augment_jitter;
    int n_classes;
    int *class_ids; /* [n_classes], label index -> class id */
    char **class_names;
    float *x;      /* [n][dim]: train rows, then val rows */
    int32_t *y;    /* [n] */
    int n_train, n_val;
    uint32_t data_crc; /* CRC-32 of the (image id, label) rows: which data the run trains on */
} wrun;

typedef struct tt_wasm {
    tt_mnv2 *net;
    int dim, size;
    float *input; /* [size][size][3] */
    char *preprocess; /* backbone metadata, copied into checkpoints */
    void *weights;    /* the backbone file's bytes: an export carries the whole backbone */
    size_t weights_len;
    char backbone[TT_BACKBONE_ID_SIZE]; /* "sha256:<hex>" of the weights file */
    char root[TT_WASM_PATH];
    wclass *classes;
    int n_classes;
    wimage *images; /* ordered by id */
    int n_images, cap_images, next_image_id;
    wrun run;    /* run.trainer != NULL while a run (or its result) is loaded */
    tt_model model; /* predict-only: a model file, or a checkpoint whose run cannot be rebuilt */
    int has_model;
    int *model_class_ids; /* [model.n_classes]; 0 = not a class of this browser */
    char *out; /* last JSON returned */
    size_t out_cap;
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

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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

/* ---- JSON in (jsmn) ------------------------------------------------------------------ */

typedef struct jin {
    const char *js;
    jsmntok_t *tok;
    int n;
} jin;

static tt_status jparse(jin *p, const char *js) {
    jsmn_parser ps;
    jsmn_init(&ps);
    size_t len = strlen(js);
    int n = jsmn_parse(&ps, js, len, NULL, 0);
    if (n < 1) return tt_error(TT_ERR_FORMAT, "malformed JSON");
    p->tok = malloc((size_t)n * sizeof *p->tok);
    if (!p->tok) return tt_error(TT_ERR_NOMEM, "no memory for JSON");
    jsmn_init(&ps);
    p->n = jsmn_parse(&ps, js, len, p->tok, (unsigned)n);
    p->js = js;
    return TT_OK;
}

/* Index of the token after the value at i (skips nested values). */
static int jskip(const jin *p, int i) {
    int end = p->tok[i].end;
    for (i++; i < p->n && p->tok[i].start < end; i++) {}
    return i;
}

static int jeq(const jin *p, int i, const char *s) {
    const jsmntok_t *t = &p->tok[i];
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == strlen(s) &&
           !memcmp(p->js + t->start, s, strlen(s));
}

static tt_status jnumber(const jin *p, int i, const char *key, double *out) {
    const jsmntok_t *t = &p->tok[i];
    char buf[64];
    int n = t->end - t->start;
    if (t->type != JSMN_PRIMITIVE || n <= 0 || n >= (int)sizeof buf || !strchr("-0123456789", p->js[t->start]))
        return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be a number", key);
    memcpy(buf, p->js + t->start, (size_t)n);
    buf[n] = 0;
    char *end;
    *out = strtod(buf, &end);
    if (*end) return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be a number", key);
    return TT_OK;
}

static tt_status jint(const jin *p, int i, const char *key, double lo, double hi, int *out) {
    double v = 0;
    tt_status st = jnumber(p, i, key, &v);
    if (st) return st;
    if (v != floor(v) || v < lo || v > hi)
        return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be an integer in [%g, %g], got %g", key, lo, hi, v);
    *out = (int)v;
    return TT_OK;
}

static tt_status jbool(const jin *p, int i, const char *key, int *out) {
    const jsmntok_t *t = &p->tok[i];
    if (t->type == JSMN_PRIMITIVE && p->js[t->start] == 't') *out = 1;
    else if (t->type == JSMN_PRIMITIVE && p->js[t->start] == 'f') *out = 0;
    else return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be true or false", key);
    return TT_OK;
}

/* Unescaped copy of a JSON string token (\" \\ \/ \n \t \uXXXX). */
static tt_status jstring(const jin *p, int i, const char *key, char **out) {
    const jsmntok_t *t = &p->tok[i];
    if (t->type != JSMN_STRING) return tt_error(TT_ERR_INVALID_ARG, "\"%s\" must be a string", key);
    const char *s = p->js + t->start;
    int n = t->end - t->start;
    char *d = malloc((size_t)n * 3 + 1), *o = d;
    if (!d) return tt_error(TT_ERR_NOMEM, "no memory");
    for (int k = 0; k < n; k++) {
        if (s[k] != '\\') { *o++ = s[k]; continue; }
        char c = s[++k];
        if (c == 'u' && k + 4 < n) {
            unsigned u = (unsigned)strtoul((char[5]){s[k + 1], s[k + 2], s[k + 3], s[k + 4], 0}, NULL, 16);
            k += 4;
            /* Surrogates cannot be represented alone; names are from the page's JSON.stringify,
               which escapes only controls, so this is never hit by real input. */
            if (u < 0x80) *o++ = (char)u;
            else if (u < 0x800) { *o++ = (char)(0xC0 | u >> 6); *o++ = (char)(0x80 | (u & 63)); }
            else { *o++ = (char)(0xE0 | u >> 12); *o++ = (char)(0x80 | (u >> 6 & 63)); *o++ = (char)(0x80 | (u & 63)); }
        } else {
            *o++ = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
        }
    }
    *o = 0;
    *out = d;
    return TT_OK;
}

/* ---- files under root ---------------------------------------------------------------- */

static void feature_path(const tt_wasm *w, int id, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/features/img-%08d.safetensors", w->root, id);
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

/* One feature file per image: tensor "feature" [dim] and the image's ids and name. */
static tt_status feature_write(const tt_wasm *w, const wimage *im) {
    char path[TT_WASM_PATH + 64], num[32];
    tt_st_builder *b;
    tt_status st = tt_st_builder_new(&b);
    if (st) return st;
    int64_t shape[1] = {w->dim};
    if (!(st = tt_st_add(b, "feature", TT_DTYPE_F32, 1, shape, im->feat)) &&
        !(st = tt_st_set_metadata(b, "tabtrain.kind", "feature"))) {
        snprintf(num, sizeof num, "%d", im->id);
        st = tt_st_set_metadata(b, "tabtrain.image_id", num);
    }
    if (!st) {
        snprintf(num, sizeof num, "%d", im->class_id);
        st = tt_st_set_metadata(b, "tabtrain.class_id", num);
    }
    if (!st) st = tt_st_set_metadata(b, "tabtrain.name", im->name);
    if (!st) {
        feature_path(w, im->id, path, sizeof path);
        st = tt_st_write_file(b, path);
    }
    tt_st_builder_free(b);
    return st;
}

static tt_status feature_read(tt_wasm *w, const char *path, wimage *im) {
    tt_st_file *f;
    tt_status st = tt_st_open_file(&f, path);
    if (st) return st;
    const tt_st_tensor *t;
    const char *id = tt_st_metadata(f, "tabtrain.image_id"), *cid = tt_st_metadata(f, "tabtrain.class_id");
    const char *name = tt_st_metadata(f, "tabtrain.name");
    if (!(st = tt_st_get(f, "feature", TT_DTYPE_F32, &t))) {
        if (t->numel != (size_t)w->dim || !id || !cid || !name)
            st = tt_error(TT_ERR_FORMAT, "%s: not a feature file of this backbone", path);
    }
    if (!st) {
        im->id = atoi(id);
        im->class_id = atoi(cid);
        im->name = dupstr(name);
        im->feat = malloc((size_t)w->dim * sizeof *im->feat);
        if (!im->name || !im->feat) {
            free(im->name);
            free(im->feat);
            st = tt_error(TT_ERR_NOMEM, "no memory");
        } else memcpy(im->feat, t->data, t->nbytes);
    }
    tt_st_close(f);
    return st;
}

static int cmp_image(const void *a, const void *b) {
    int x = ((const wimage *)a)->id, y = ((const wimage *)b)->id;
    return (x > y) - (x < y);
}

/* Loads every feature file under root/features (a missing dir is an empty dataset).
 * A damaged file is skipped: one bad image must not lose the others. */
static tt_status dataset_open(tt_wasm *w) {
    char dir[TT_WASM_PATH + 64], path[TT_WASM_PATH + 400];
    snprintf(dir, sizeof dir, "%s/features", w->root);
    DIR *d = opendir(dir);
    if (!d) return TT_OK;
    struct dirent *e;
    tt_status st = TT_OK;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "img-", 4) || !strstr(e->d_name, ".safetensors") || strstr(e->d_name, ".tmp"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((st = images_reserve(w))) break;
        if (feature_read(w, path, &w->images[w->n_images])) continue;
        if (w->images[w->n_images].id >= w->next_image_id) w->next_image_id = w->images[w->n_images].id + 1;
        w->n_images++;
    }
    closedir(d);
    if (w->n_images) qsort(w->images, (size_t)w->n_images, sizeof *w->images, cmp_image);
    return st;
}

static void image_drop(tt_wasm *w, int i) {
    char path[TT_WASM_PATH + 64];
    feature_path(w, w->images[i].id, path, sizeof path);
    unlink(path);
    free(w->images[i].name);
    free(w->images[i].feat);
    memmove(w->images + i, w->images + i + 1, (size_t)(w->n_images - i - 1) * sizeof *w->images);
    w->n_images--;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void names_free(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void run_free(wrun *r) {
    tt_trainer_free(r->trainer);
    free(r->class_ids);
    names_free(r->class_names, r->n_classes);
    free(r->x);
    free(r->y);
    memset(r, 0, sizeof *r);
}

static void model_free(tt_wasm *w) {
    if (w->has_model) tt_model_free(&w->model);
    free(w->model_class_ids);
    w->has_model = 0;
    w->model_class_ids = NULL;
}

static void classes_free(tt_wasm *w) {
    for (int i = 0; i < w->n_classes; i++) free(w->classes[i].name);
    free(w->classes);
    w->classes = NULL;
    w->n_classes = 0;
}

TT_EXPORT int tt_wasm_abi_version(void) { return TT_WASM_ABI; }

TT_EXPORT const char *tt_wasm_last_error(int h) {
    tt_wasm *w = handle(h);
    return w ? w->err : g_create_error;
}

TT_EXPORT void tt_wasm_destroy(int h) {
    tt_wasm *w = handle(h);
    if (!w) return;
    run_free(&w->run);
    model_free(w);
    for (int i = 0; i < w->n_images; i++) {
        free(w->images[i].name);
        free(w->images[i].feat);
    }
    free(w->images);
    classes_free(w);
    tt_mnv2_free(w->net);
    free(w->input);
    free(w->preprocess);
    free(w->weights);
    free(w->out);
    free(w);
    g_handles[h - 1] = NULL;
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
        w->preprocess = dupstr(pp ? pp : "{}");
        tt_mnv2_info info = tt_mnv2_get_info(w->net);
        w->dim = info.feature_dim;
        w->size = info.input_size;
        w->input = malloc((size_t)w->size * w->size * 3 * sizeof *w->input);
        if (!w->input || !w->preprocess) st = tt_error(TT_ERR_NOMEM, "no memory for the engine");
    }
    tt_st_close(f);
    g_handles[slot] = w; /* so destroy can clean up on the error paths below */
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

TT_EXPORT int tt_wasm_set_classes(int h, const char *json) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    jin p = {0};
    tt_status st = json ? jparse(&p, json) : tt_error(TT_ERR_INVALID_ARG, "NULL class list");
    if (st) return fail(w, st);
    wclass *list = NULL;
    int n = 0;
    if (p.tok[0].type != JSMN_ARRAY) st = tt_error(TT_ERR_INVALID_ARG, "class list must be a JSON array");
    else if (!(list = calloc((size_t)p.tok[0].size + 1, sizeof *list))) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int i = 1, k = 0; !st && k < p.tok[0].size; k++) {
        if (p.tok[i].type != JSMN_OBJECT) { st = tt_error(TT_ERR_INVALID_ARG, "class %d is not an object", k); break; }
        int fields = p.tok[i].size, have_id = 0;
        i++;
        for (int f = 0; !st && f < fields; f++, i = jskip(&p, i + 1)) {
            if (jeq(&p, i, "id")) { st = jint(&p, i + 1, "id", 1, 1e9, &list[n].id); have_id = 1; }
            else if (jeq(&p, i, "name")) st = jstring(&p, i + 1, "name", &list[n].name);
            else st = tt_error(TT_ERR_INVALID_ARG, "class %d: unknown key %.*s", k, p.tok[i].end - p.tok[i].start, p.js + p.tok[i].start);
        }
        if (!st && (!have_id || !list[n].name)) st = tt_error(TT_ERR_INVALID_ARG, "class %d needs an id and a name", k);
        for (int j = 0; !st && j < n; j++)
            if (list[j].id == list[n].id) st = tt_error(TT_ERR_INVALID_ARG, "class id %d listed twice", list[n].id);
        n++;
    }
    free(p.tok);
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
    return 0;
}

TT_EXPORT int tt_wasm_add_image(int h, int class_id, const uint8_t *bytes, int len, const char *name) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (class_index(w, class_id) < 0) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no class with id %d", class_id));
    if (!bytes || len < 0) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no image bytes"));
    tt_image img;
    tt_status st = tt_image_decode(bytes, (size_t)len, NULL, &img);
    if (st) return fail(w, st);
    st = tt_image_to_input(&img, w->size, w->input);
    tt_image_free(&img);
    if (!st) st = images_reserve(w);
    if (st) return fail(w, st);
    wimage im = {w->next_image_id, class_id, dupstr(name ? name : ""), malloc((size_t)w->dim * sizeof(float))};
    if (!im.name || !im.feat) st = tt_error(TT_ERR_NOMEM, "no memory for the image");
    if (!st) st = tt_mnv2_features(w->net, 1, w->input, im.feat);
    if (!st) st = feature_write(w, &im);
    if (st) {
        free(im.name);
        free(im.feat);
        return fail(w, st);
    }
    w->next_image_id++;
    w->images[w->n_images++] = im; /* ids only grow: the list stays sorted */
    return im.id;
}

TT_EXPORT int tt_wasm_remove_image(int h, int image_id) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    for (int i = 0; i < w->n_images; i++)
        if (w->images[i].id == image_id) {
            image_drop(w, i);
            return 0;
        }
    return fail(w, tt_error(TT_ERR_NOT_FOUND, "no image with id %d", image_id));
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

/* ---- training -------------------------------------------------------------------------- */

/* The engine config (docs/wasm-api.md). A checkpoint stores it with the run's
 * class ids added, so a reload rebuilds the same split from the same images. */
typedef struct wconfig {
    tt_trainer_config t;
    float val_fraction;
    int flip, crop, jitter, unfreeze;
    int n_ids;
    int *class_ids; /* only from a checkpoint */
    double data_crc; /* only from a checkpoint; -1 = absent */
} wconfig;

static tt_status config_parse(const char *json, int from_ckpt, wconfig *c) {
    memset(c, 0, sizeof *c);
    c->t = tt_trainer_defaults();
    c->t.seed = 42;
    c->val_fraction = 0.2f;
    c->data_crc = -1;
    jin p = {0};
    tt_status st = jparse(&p, json);
    if (st) return st;
    if (p.tok[0].type != JSMN_OBJECT) st = tt_error(TT_ERR_INVALID_ARG, "training config must be a JSON object");
    int fields = st ? 0 : p.tok[0].size;
    double v = 0;
    for (int f = 0, i = 1; !st && f < fields; f++, i = jskip(&p, i + 1)) {
        int k = i + 1;
        if (jeq(&p, i, "batch_size")) st = jint(&p, k, "batch_size", 1, 4096, &c->t.batch_size);
        else if (jeq(&p, i, "epochs")) st = jint(&p, k, "epochs", 1, 100000, &c->t.epochs);
        else if (jeq(&p, i, "learning_rate")) { if (!(st = jnumber(&p, k, "learning_rate", &v))) c->t.lr = (float)v; }
        else if (jeq(&p, i, "optimizer")) {
            if (jeq(&p, k, "adam")) c->t.optimizer = TT_OPTIM_ADAM;
            else if (jeq(&p, k, "sgd")) c->t.optimizer = TT_OPTIM_SGD;
            else st = tt_error(TT_ERR_INVALID_ARG, "\"optimizer\" must be \"adam\" or \"sgd\"");
        } else if (jeq(&p, i, "val_fraction")) {
            if (!(st = jnumber(&p, k, "val_fraction", &v))) {
                if (!(v >= 0 && v < 1)) st = tt_error(TT_ERR_INVALID_ARG, "\"val_fraction\" must be in [0, 1)");
                c->val_fraction = (float)v;
            }
        } else if (jeq(&p, i, "augment")) {
            if (p.tok[k].type != JSMN_OBJECT) { st = tt_error(TT_ERR_INVALID_ARG, "\"augment\" must be an object"); break; }
            int af = p.tok[k].size;
            for (int g = 0, j = k + 1; !st && g < af; g++, j = jskip(&p, j + 1)) {
                if (jeq(&p, j, "flip")) st = jbool(&p, j + 1, "flip", &c->flip);
                else if (jeq(&p, j, "crop")) st = jbool(&p, j + 1, "crop", &c->crop);
                else if (jeq(&p, j, "color_jitter")) st = jbool(&p, j + 1, "color_jitter", &c->jitter);
                else st = tt_error(TT_ERR_INVALID_ARG, "unknown augment key %.*s", p.tok[j].end - p.tok[j].start, p.js + p.tok[j].start);
            }
        } else if (jeq(&p, i, "unfreeze")) st = jint(&p, k, "unfreeze", 0, 0, &c->unfreeze);
        else if (jeq(&p, i, "hidden_units")) st = jint(&p, k, "hidden_units", 0, 4096, &c->t.hidden);
        else if (jeq(&p, i, "dropout")) { if (!(st = jnumber(&p, k, "dropout", &v))) c->t.dropout = (float)v; }
        else if (jeq(&p, i, "label_smoothing")) { if (!(st = jnumber(&p, k, "label_smoothing", &v))) c->t.label_smoothing = (float)v; }
        else if (jeq(&p, i, "patience")) st = jint(&p, k, "patience", 0, 100000, &c->t.patience);
        else if (jeq(&p, i, "seed")) { int s; if (!(st = jint(&p, k, "seed", 0, 2147483647, &s))) c->t.seed = (uint64_t)s; }
        else if (from_ckpt && jeq(&p, i, "data_crc")) st = jnumber(&p, k, "data_crc", &c->data_crc);
        else if (from_ckpt && jeq(&p, i, "class_ids") && p.tok[k].type == JSMN_ARRAY) {
            c->n_ids = p.tok[k].size;
            c->class_ids = malloc(((size_t)c->n_ids + 1) * sizeof *c->class_ids);
            if (!c->class_ids) st = tt_error(TT_ERR_NOMEM, "no memory");
            for (int j = 0; !st && j < c->n_ids; j++) st = jint(&p, k + 1 + j, "class_ids", 1, 1e9, &c->class_ids[j]);
        } else st = tt_error(TT_ERR_INVALID_ARG, "unknown training config key %.*s", p.tok[i].end - p.tok[i].start, p.js + p.tok[i].start);
    }
    free(p.tok);
    if (st) free(c->class_ids), c->class_ids = NULL;
    return st;
}

/* The config as stored in a checkpoint: every key explicit, plus the class ids. */
static const char *config_json(tt_wasm *w, const wrun *r) {
    jout o = {w, 0, 0};
    const tt_trainer_config *t = &r->cfg;
    jput(&o, "{\"batch_size\":%d,\"epochs\":%d,\"learning_rate\":%.9g,\"optimizer\":\"%s\",\"val_fraction\":%.9g,"
             "\"augment\":{\"flip\":%s,\"crop\":%s,\"color_jitter\":%s},\"unfreeze\":0,\"hidden_units\":%d,"
             "\"dropout\":%.9g,\"label_smoothing\":%.9g,\"patience\":%d,\"seed\":%llu,\"class_ids\":[",
         t->batch_size, t->epochs, (double)t->lr, t->optimizer == TT_OPTIM_SGD ? "sgd" : "adam", (double)r->val_fraction,
         r->augment_flip ? "true" : "false", r->augment_crop ? "true" : "false", r->augment_jitter ? "true" : "false",
         t->hidden, (double)t->dropout, (double)t->label_smoothing, t->patience, (unsigned long long)t->seed);
    for (int i = 0; i < r->n_classes; i++) jput(&o, "%s%d", i ? "," : "", r->class_ids[i]);
    jput(&o, "],\"data_crc\":%u}", (unsigned)r->data_crc);
    return jdone(&o);
}

static const char *class_name(const tt_wasm *w, int id, const char *fallback) {
    int i = class_index(w, id);
    return i >= 0 ? w->classes[i].name : fallback;
}

/* The run's classes (given ids, or every current class with images) and the
 * split of their images (tt_dataset_split: stratified, seeded), features copied
 * into train rows then val rows. */
static tt_status run_build(tt_wasm *w, const wconfig *c, wrun *r) {
    memset(r, 0, sizeof *r);
    r->cfg = c->t;
    r->val_fraction = c->val_fraction;
    r->augment_flip = c->flip, r->augment_crop = c->crop, r->augment_jitter = c->jitter;
    tt_status st = TT_OK;
    int n = c->class_ids ? c->n_ids : w->n_classes;
    r->class_ids = malloc(((size_t)n + 1) * sizeof *r->class_ids);
    r->class_names = calloc((size_t)n + 1, sizeof *r->class_names);
    if (!r->class_ids || !r->class_names) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int i = 0; !st && i < n; i++) {
        int id = c->class_ids ? c->class_ids[i] : w->classes[i].id, count = 0;
        if (class_index(w, id) < 0) { st = tt_error(TT_ERR_MISMATCH, "class id %d of the saved run no longer exists", id); break; }
        for (int j = 0; j < w->n_images; j++) count += w->images[j].class_id == id;
        if (!count && !c->class_ids) continue; /* an empty class cannot be learned: leave it out */
        r->class_ids[r->n_classes] = id;
        if (!(r->class_names[r->n_classes++] = dupstr(class_name(w, id, "")))) st = tt_error(TT_ERR_NOMEM, "no memory");
    }
    if (!st && r->n_classes < 2) st = tt_error(TT_ERR_INVALID_ARG, "training needs at least two classes with images");
    /* The split sees items named by their index into w->images. */
    tt_dataset all = {0}, tr = {0}, va = {0};
    all.n_classes = r->n_classes;
    all.classes = r->class_names;
    if (!st && !(all.items = calloc((size_t)w->n_images + 1, sizeof *all.items))) st = tt_error(TT_ERR_NOMEM, "no memory");
    for (int j = 0; !st && j < w->n_images; j++) {
        int label = -1;
        for (int i = 0; i < r->n_classes; i++)
            if (r->class_ids[i] == w->images[j].class_id) label = i;
        if (label < 0) continue;
        char num[16];
        snprintf(num, sizeof num, "%d", j);
        all.items[all.n].label = label;
        if (!(all.items[all.n++].path = dupstr(num))) st = tt_error(TT_ERR_NOMEM, "no memory");
    }
    if (!st) st = tt_dataset_split(&all, r->val_fraction, r->cfg.seed, &tr, &va);
    if (!st) {
        size_t rows = (size_t)tr.n + (size_t)va.n;
        r->x = malloc(rows * (size_t)w->dim * sizeof *r->x + 1);
        r->y = malloc(rows * sizeof *r->y + 1);
        if (!r->x || !r->y) st = tt_error(TT_ERR_NOMEM, "no memory for %zu feature rows", rows);
        for (int k = 0; !st && k < tr.n + va.n; k++) {
            const tt_dataset_item *it = k < tr.n ? &tr.items[k] : &va.items[k - tr.n];
            const wimage *im = &w->images[atoi(it->path)];
            memcpy(r->x + (size_t)k * w->dim, im->feat, (size_t)w->dim * sizeof *r->x);
            r->y[k] = it->label;
            int32_t row[2] = {im->id, it->label};
            r->data_crc = tt_crc32(r->data_crc, row, sizeof row);
        }
        r->n_train = tr.n;
        r->n_val = va.n;
    }
    for (int j = 0; j < all.n; j++) free(all.items[j].path);
    free(all.items);
    tt_dataset_free(&tr);
    tt_dataset_free(&va);
    if (!st) {
        tt_features ftr = {r->x, r->y, r->n_train};
        tt_features fva = {r->x + (size_t)r->n_train * w->dim, r->y + r->n_train, r->n_val};
        st = tt_trainer_init(&r->trainer, &r->cfg, w->dim, r->n_classes, &ftr, &fva);
    }
    if (st) run_free(r);
    return st;
}

TT_EXPORT int tt_wasm_train_begin(int h, const char *config) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    wconfig c;
    tt_status st = config_parse(config ? config : "{}", 0, &c);
    if (st) return fail(w, st);
    wrun r;
    if ((st = run_build(w, &c, &r))) return fail(w, st);
    run_free(&w->run);
    model_free(w);
    w->run = r;
    return 0;
}

/* The finished run predicts with the weights of its best epoch. */
static void run_finish(wrun *r) {
    if (tt_trainer_finished(r->trainer)) tt_trainer_use_best(r->trainer);
}

TT_EXPORT int tt_wasm_train_step(int h, int budget_ms) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (!w->run.trainer) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no training run: call train_begin first"));
    if (tt_trainer_finished(w->run.trainer)) return 2;
    double t0 = now_ms();
    int ended = 0;
    do {
        tt_status st = tt_trainer_step(w->run.trainer, &ended);
        if (st) return fail(w, st);
    } while (!ended && now_ms() - t0 < budget_ms);
    if (tt_trainer_finished(w->run.trainer)) {
        run_finish(&w->run);
        return 2;
    }
    return ended;
}

TT_EXPORT const char *tt_wasm_train_state_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    jout o = {w, 0, 0};
    if (!w->run.trainer) {
        jput(&o, "{\"epoch\":0,\"epochs\":0,\"step\":0,\"steps\":0,\"train_loss\":null,\"val_acc\":null,\"finished\":%s}",
             w->has_model ? "true" : "false");
        return jdone(&o);
    }
    tt_trainer_progress pr;
    tt_trainer_progress_get(w->run.trainer, &pr);
    int nh;
    const tt_epoch_metrics *hist = tt_trainer_history(w->run.trainer, &nh);
    int64_t steps = (int64_t)w->run.cfg.epochs * pr.steps_per_epoch;
    if (pr.finished) steps = pr.global_step; /* early stopping ends the plan */
    jput(&o, "{\"epoch\":%d,\"epochs\":%d,\"step\":%lld,\"steps\":%lld,\"train_loss\":", pr.epoch, w->run.cfg.epochs,
         (long long)pr.global_step, (long long)steps);
    jnum(&o, nh ? hist[nh - 1].train_loss : NAN);
    jput(&o, ",\"val_acc\":");
    jnum(&o, nh ? hist[nh - 1].val_acc : NAN);
    jput(&o, ",\"finished\":%s}", pr.finished ? "true" : "false");
    return jdone(&o);
}

TT_EXPORT const char *tt_wasm_metrics_json(int h) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    int nh = 0;
    const tt_epoch_metrics *hist = w->run.trainer ? tt_trainer_history(w->run.trainer, &nh) : NULL;
    if (!nh) {
        snprintf(w->err, sizeof w->err, "no finished epoch yet");
        return NULL;
    }
    const tt_epoch_metrics *m = &hist[nh - 1];
    int C = w->run.n_classes;
    jout o = {w, 0, 0};
    jput(&o, "{\"epochs\":%d,\"class_ids\":[", w->run.cfg.epochs);
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
    size_t cap = 3, len = 0;
    for (int i = 0; i < n; i++) cap += tt_json_quote(NULL, 0, class_name(w, ids[i], fallback[i])) + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[len++] = '[';
    for (int i = 0; i < n; i++) {
        if (i) s[len++] = ',';
        len += tt_json_quote(s + len, cap - len, class_name(w, ids[i], fallback[i]));
    }
    s[len++] = ']';
    s[len] = 0;
    return s;
}

/* The run's checkpoint: written to `path`, or (path NULL) into malloc'd *bytes. */
static tt_status run_checkpoint(tt_wasm *w, const char *path, void **bytes, size_t *len) {
    if (!w->run.trainer) return tt_error(TT_ERR_INVALID_ARG, "nothing trained to save");
    const char *cfg = config_json(w, &w->run);
    char *cfg_copy = cfg ? dupstr(cfg) : NULL;
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

/* Predict-only: the head of a model file or of a checkpoint whose run cannot be
 * rebuilt here (another browser's classes, a changed dataset). */
static tt_status model_load(tt_wasm *w, const tt_st_file *f, const wconfig *c) {
    tt_model m;
    tt_status st = tt_model_load(&m, f, 16);
    if (st) return st;
    if (!(st = tt_model_check_backbone(&m, w->backbone)) && m.head.cfg.in != w->dim)
        st = tt_error(TT_ERR_MISMATCH, "model expects %d features, this backbone gives %d", m.head.cfg.in, w->dim);
    int *ids = calloc((size_t)m.n_classes + 1, sizeof *ids);
    if (!st && !ids) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (st) {
        free(ids);
        tt_model_free(&m);
        return st;
    }
    /* Class ids only mean something in the browser that trained the model. */
    for (int i = 0; c->class_ids && i < m.n_classes && i < c->n_ids; i++)
        ids[i] = class_index(w, c->class_ids[i]) >= 0 ? c->class_ids[i] : 0;
    model_free(w);
    w->model = m;
    w->model_class_ids = ids;
    w->has_model = 1;
    return TT_OK;
}

/* A checkpoint of this browser's dataset restores the run (0), which then continues
 * bit-identically; anything else that holds a head (a checkpoint of other data, a
 * model or export file) is loaded for prediction only (1). */
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
    int rc = 1;
    if (kind && !strcmp(kind, "checkpoint")) {
        tt_st_close(f);
        if ((st = tt_ckpt_open_file(&f, path))) return fail(w, st); /* its own checks */
        if ((st = tt_ckpt_check(f, NULL, w->backbone))) {
            tt_st_close(f);
            return fail(w, st);
        }
        cj = tt_st_metadata(f, "tabtrain.config");
        int dim, C;
        /* Same classes and the very same rows, or the run is not this dataset's any more. */
        if (cj && !config_parse(cj, 1, &c) && !tt_ckpt_trainer_config(f, &c.t, &dim, &C) && c.class_ids &&
            !run_build(w, &c, &r)) {
            if (c.data_crc != r.data_crc || tt_ckpt_restore(r.trainer, f)) run_free(&r);
            else rc = 0;
        }
    } else if (cj) config_parse(cj, 1, &c); /* only for the class ids; a foreign config is fine */
    if (rc == 0) {
        run_free(&w->run);
        model_free(w);
        w->run = r;
        run_finish(&w->run);
    } else if (!(st = model_load(w, f, &c))) run_free(&w->run);
    free(c.class_ids);
    tt_st_close(f);
    return st ? fail(w, st) : rc;
}

/* The export of tabtrain/ckpt.h (docs/export.md), built as `tabtrain export` builds it:
 * from a checkpoint of the run (so its best epoch's head once there is one, the
 * current weights before) and the backbone this engine runs. `json` receives the
 * sidecar that names `path`'s file as its weights. */
static tt_status run_export(tt_wasm *w, const char *path, const char *json) {
    if (!w->run.trainer) return tt_error(TT_ERR_INVALID_ARG, "nothing trained to export");
    void *ckpt = NULL;
    size_t ckpt_len = 0;
    tt_st_file *model = NULL, *bb = NULL, *ex = NULL;
    tt_st_builder *b = NULL;
    char *sidecar = NULL;
    tt_status st = run_checkpoint(w, NULL, &ckpt, &ckpt_len);
    if (!st) st = tt_st_open_memory(&model, ckpt, ckpt_len);
    if (!st) st = tt_st_open_memory(&bb, w->weights, w->weights_len);
    if (!st) st = tt_ckpt_export(model, bb, w->backbone, &b);
    if (!st) st = tt_st_write_file(b, path);
    /* The JSON describes what was written, read back (and CRC-checked). */
    if (!st) st = tt_st_open_file(&ex, path);
    const char *base = strrchr(path, '/');
    if (!st) st = tt_ckpt_export_json(ex, base ? base + 1 : path, &sidecar);
    if (!st) {
        tt_chunk c = {sidecar, strlen(sidecar)};
        st = tt_file_write_atomic(json, &c, 1);
    }
    tt_st_builder_free(b);
    tt_st_close(ex), tt_st_close(bb), tt_st_close(model);
    free(ckpt), free(sidecar);
    return st;
}

TT_EXPORT int tt_wasm_export(int h, const char *path, const char *json, const char *format) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (!format || strcmp(format, "safetensors"))
        return fail(w, tt_error(TT_ERR_UNSUPPORTED, "export format \"%s\" (only \"safetensors\")", format ? format : ""));
    tt_status st = path && json ? run_export(w, path, json) : tt_error(TT_ERR_INVALID_ARG, "no path");
    return st ? fail(w, st) : 0;
}

/* ---- use ------------------------------------------------------------------------------- */

TT_EXPORT const char *tt_wasm_predict(int h, const uint8_t *bytes, int len) {
    tt_wasm *w = handle(h);
    if (!w) return NULL;
    tt_head *head = w->run.trainer ? tt_trainer_head(w->run.trainer) : w->has_model ? &w->model.head : NULL;
    int C = w->run.trainer ? w->run.n_classes : w->model.n_classes;
    if (!head) {
        fail(w, tt_error(TT_ERR_INVALID_ARG, "no trained model yet"));
        return NULL;
    }
    tt_image img;
    tt_status st = bytes && len > 0 ? tt_image_decode(bytes, (size_t)len, NULL, &img) : tt_error(TT_ERR_FORMAT, "empty file");
    if (st) {
        fail(w, st);
        return NULL;
    }
    st = tt_image_to_input(&img, w->size, w->input);
    tt_image_free(&img);
    float *feat = malloc((size_t)(w->dim + C) * sizeof *feat);
    if (!st && !feat) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st) st = tt_mnv2_features(w->net, 1, w->input, feat);
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
        int id = w->run.trainer ? w->run.class_ids[i] : w->model_class_ids[i];
        const char *fb = w->run.trainer ? w->run.class_names[i] : w->model.classes[i];
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
    model_free(w);
    while (w->n_images) image_drop(w, w->n_images - 1);
    classes_free(w);
    char dir[TT_WASM_PATH + 64], path[TT_WASM_PATH + 400];
    snprintf(dir, sizeof dir, "%s/ckpt", w->root);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    return 0;
}
