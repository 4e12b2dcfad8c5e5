/* src/wasm/api.c — the C functions web/worker.js calls (docs/wasm-api.md).
 *
 * Handles, plain buffers and JSON over the application (tabtrain/app.h):
 * every call translates its arguments, calls the app, and turns the result
 * into a status or JSON. What the app does (the project, runs, checkpoints,
 * prediction, export) is not written here.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/app.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/sha256.h"
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
/* A picture's decode costs up to ~16 bytes a pixel at its peak, and wasm
 * memory never shrinks: the page decodes at most 16 M pixels (the CLI 40 M). */
#define TT_WASM_MAX_PIXELS (16u * 1000u * 1000u)

typedef struct tt_wasm {
    tt_app *app;
    char note[1024];  /* what the last resume says (a fallback past a damaged file) */
    tt_strbuf out;    /* last JSON returned */
    uint8_t *picture; /* last image bytes returned (tt_wasm_image) */
    char err[1024];
} tt_wasm;

static tt_wasm *g_handles[TT_WASM_MAX_HANDLES];
static char g_open_error[1024];

static tt_wasm *handle(int h) { return h > 0 && h <= TT_WASM_MAX_HANDLES ? g_handles[h - 1] : NULL; }
/* The handle's engine as `w`, or return `none` for a handle that is not one. */
#define TT_WASM_HANDLE(h, none) \
    tt_wasm *w = handle(h);     \
    if (!w) return none
/* The body of a call that is one app call: its status. */
#define TT_WASM_STATUS(call)                    \
    {                                           \
        TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG); \
        return status(w, call);                 \
    }

/* Captures the library's message into the handle; returns -(int)st. */
static int fail(tt_wasm *w, tt_status st) {
    const char *m = tt_last_error();
    snprintf(w ? w->err : g_open_error, sizeof w->err, "%s", *m ? m : tt_status_name(st));
    return -(int)st;
}

static int status(tt_wasm *w, tt_status st) { return st ? fail(w, st) : 0; }

/* A JSON answer: the handle's buffer, emptied for it. */
static tt_strbuf *jbegin(tt_wasm *w) {
    w->out.len = 0;
    w->out.oom = 0;
    return &w->out;
}

static const char *jdone(tt_wasm *w) {
    if (!w->out.oom && w->out.s) return w->out.s;
    snprintf(w->err, sizeof w->err, "out of memory building JSON");
    return NULL;
}

/* ,"key":[{"id","name"}...] of classes by id: today's name, or the one recorded. */
static void jclasses(tt_wasm *w, tt_strbuf *o, const char *key, int n, const int *ids, char *const *names) {
    tt_strbuf_printf(o, "\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        tt_strbuf_printf(o, "%s{\"id\":%d,\"name\":", i ? "," : "", ids[i]);
        tt_strbuf_quote(o, tt_app_class_name(w->app, ids[i], names[i]));
        tt_strbuf_printf(o, "}");
    }
    tt_strbuf_printf(o, "]");
}

/* ---- lifecycle ----------------------------------------------------------------------- */

TT_EXPORT int tt_wasm_abi_version(void) { return TT_WASM_ABI; }

/* The worker checks downloaded weights with the engine's own SHA-256: crypto.subtle
 * exists only in secure contexts, and a classroom serving the app on a LAN address
 * over http is not one. No handle: it runs before anything else. The result is a
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
    return w ? w->err : g_open_error;
}

TT_EXPORT void tt_wasm_destroy(int h) {
    tt_wasm *w = handle(h);
    if (!w) return;
    tt_app_free(w->app);
    tt_strbuf_free(&w->out);
    free(w->picture);
    free(w);
    g_handles[h - 1] = NULL;
}

/* The project under root (classes and pictures; checkpoints, features): usable
 * at once, before the weights arrive. */
TT_EXPORT int tt_wasm_open(const char *root) {
    g_open_error[0] = 0;
    int slot = 0;
    while (slot < TT_WASM_MAX_HANDLES && g_handles[slot]) slot++;
    if (slot == TT_WASM_MAX_HANDLES)
        return fail(NULL, tt_error(TT_ERR_LIMIT, "more than %d engine instances", TT_WASM_MAX_HANDLES)), 0;
    if (!root) return fail(NULL, tt_error(TT_ERR_INVALID_ARG, "tt_wasm_open: need a root path")), 0;
    tt_wasm *w = calloc(1, sizeof *w);
    if (!w) return fail(NULL, tt_error(TT_ERR_NOMEM, "no memory for the engine")), 0;
    /* Checkpoints every 2 s of training at most (and at the end, and on pause): a
     * browser tab may close at any moment, and each one is an IndexedDB write. */
    tt_app_config c = {.root = root, .keep_features = 1, .max_pixels = TT_WASM_MAX_PIXELS,
                       .policy = {.every_seconds = 2.0, .keep = 3}};
    tt_status st = tt_app_open(&w->app, &c, NULL);
    if (st) {
        fail(NULL, st);
        free(w);
        return 0;
    }
    g_handles[slot] = w;
    return slot + 1;
}

TT_EXPORT int tt_wasm_set_weights(int h, const uint8_t *weights, int len) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    tt_backbone *b;
    tt_status st = len > 0 ? tt_backbone_open(&b, weights, (size_t)len, 1)
                           : tt_error(TT_ERR_INVALID_ARG, "no weights given");
    if (!st) st = tt_app_set_backbone(w->app, b);
    return status(w, st);
}

TT_EXPORT int tt_wasm_set_threads(int h, int threads) TT_WASM_STATUS(tt_app_set_threads(w->app, threads))

/* ---- classes and pictures -------------------------------------------------------------- */

TT_EXPORT int tt_wasm_class_create(int h, const char *name) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    int id;
    tt_status st = tt_app_class_add(w->app, name, &id);
    return st ? fail(w, st) : id;
}

TT_EXPORT int tt_wasm_class_rename(int h, int id, const char *name)
    TT_WASM_STATUS(tt_app_class_rename(w->app, id, name))

TT_EXPORT int tt_wasm_class_delete(int h, int id) TT_WASM_STATUS(tt_app_class_delete(w->app, id))

TT_EXPORT int tt_wasm_import_classes(int h) TT_WASM_STATUS(tt_app_import_classes(w->app))

TT_EXPORT int tt_wasm_add_image(int h, int class_id, const uint8_t *bytes, int len, const char *name) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    int id;
    tt_status st = tt_app_image_add(w->app, class_id, bytes, len > 0 ? (size_t)len : 0, name, &id);
    return st ? fail(w, st) : id;
}

TT_EXPORT int tt_wasm_remove_image(int h, int image_id) TT_WASM_STATUS(tt_app_image_remove(w->app, image_id))

TT_EXPORT const char *tt_wasm_dataset_json(int h) {
    TT_WASM_HANDLE(h, NULL);
    const tt_project *p = tt_app_project(w->app);
    tt_strbuf *o = jbegin(w);
    tt_strbuf_printf(o, "{\"classes\":[");
    for (int c = 0; c < tt_project_n_classes(p); c++) {
        const tt_project_class *k = tt_project_class_at(p, c);
        tt_strbuf_printf(o, "%s{\"id\":%d,\"name\":", c ? "," : "", k->id);
        tt_strbuf_quote(o, k->name);
        tt_strbuf_printf(o, ",\"count\":%d}", tt_project_class_count(p, k->id));
    }
    tt_strbuf_printf(o, "],\"images\":[");
    for (int i = 0; i < tt_project_n_images(p); i++) {
        const tt_project_image *im = tt_project_image_at(p, i);
        tt_strbuf_printf(o, "%s{\"id\":%d,\"class\":%d,\"name\":", i ? "," : "", im->id, im->class_id);
        tt_strbuf_quote(o, im->name);
        tt_strbuf_printf(o, "}");
    }
    tt_strbuf_printf(o, "]}");
    return jdone(w);
}

/* The encoded bytes of an image, as added (thumbnails after a reload): valid
 * until the next call on the handle; *len receives their count. */
TT_EXPORT const uint8_t *tt_wasm_image(int h, int image_id, int *len) {
    tt_wasm *w = handle(h);
    if (!w || !len) return NULL;
    *len = 0;
    free(w->picture);
    w->picture = NULL;
    size_t n;
    tt_status st = tt_project_picture(tt_app_project(w->app), image_id, (void **)&w->picture, &n);
    if (st) return fail(w, st), NULL;
    *len = (int)n;
    return w->picture;
}

/* ---- training ---------------------------------------------------------------------------- */

TT_EXPORT int tt_wasm_train_begin(int h, const char *config) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    tt_config cfg = tt_config_defaults();
    tt_status st = tt_config_from_json(&cfg, config ? config : "{}", 0);
    if (!st) st = tt_config_validate(&cfg);
    if (!st) st = tt_app_train_begin(w->app, &(tt_app_train){.cfg = &cfg});
    if (!st) w->note[0] = 0;
    return status(w, st);
}

TT_EXPORT int tt_wasm_train_step(int h, int budget_ms) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    tt_run_event ev;
    tt_status st = tt_app_train_step(w->app, budget_ms / 1e3, &ev, NULL);
    return st ? fail(w, st) : (int)ev;
}

/* The run of root/ckpt, if there is one: TT_WASM_LOAD_RUN, _MODEL (its
 * pictures changed: it predicts), _NONE; the state's "note" says when a
 * damaged newer file was passed over. */
TT_EXPORT int tt_wasm_resume(int h) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    tt_app_loaded kind;
    char path[512];
    tt_status st = tt_app_resume(w->app, &(tt_app_train){0}, &kind, path, sizeof path, w->note, sizeof w->note);
    return st ? fail(w, st) : (int)kind;
}

TT_EXPORT int tt_wasm_save(int h) TT_WASM_STATUS(tt_app_save(w->app))

TT_EXPORT const char *tt_wasm_train_state_json(int h) {
    TT_WASM_HANDLE(h, NULL);
    tt_run *r = tt_app_run(w->app);
    tt_trainer *t = r ? tt_run_trainer(r) : NULL;
    int done = 0, total = 0, ready = 0, epoch = 0, finished = !r && tt_app_model(w->app, NULL), nh = 0, se = 0;
    int64_t step = 0, steps = 0, ss = 0;
    const tt_epoch_metrics *hist = t ? tt_trainer_history(t, &nh) : NULL;
    if (r) tt_run_prepared(r, &done, &total, &ready);
    if (t) {
        tt_trainer_progress pr;
        tt_trainer_progress_get(t, &pr);
        epoch = pr.epoch, step = pr.global_step, finished = pr.finished;
        steps = pr.finished ? pr.global_step : (int64_t)tt_run_config(r)->train.epochs * pr.steps_per_epoch;
    } else if (r) {
        tt_run_restore_position(r, &epoch, &step, &finished);
    }
    tt_strbuf *o = jbegin(w);
    tt_strbuf_printf(o, "{\"epoch\":%d,\"epochs\":%d,\"step\":%lld,\"steps\":%lld,\"train_loss\":", epoch,
                     r ? tt_run_config(r)->train.epochs : 0, (long long)step, (long long)steps);
    tt_strbuf_num(o, nh ? hist[nh - 1].train_loss : NAN, 0);
    tt_strbuf_printf(o, ",\"val_acc\":");
    tt_strbuf_num(o, nh ? hist[nh - 1].val_acc : NAN, 0);
    tt_strbuf_printf(o, ",\"prepared\":%d,\"to_prepare\":%d,\"finished\":%s,\"saved\":", done, total,
                     finished ? "true" : "false");
    if (r && tt_run_saved_position(r, &se, &ss)) tt_strbuf_printf(o, "{\"epoch\":%d,\"step\":%lld}", se, (long long)ss);
    else tt_strbuf_printf(o, "null");
    tt_strbuf_printf(o, ",\"note\":");
    tt_strbuf_quote(o, w->note);
    const int *ids = NULL;
    char *const *names = NULL;
    int C = r ? tt_run_classes(r, &ids, &names) : 0;
    tt_strbuf_printf(o, ",");
    jclasses(w, o, "run_classes", C, ids, names);
    tt_strbuf_printf(o, "}");
    return jdone(w);
}

/* One epoch's metrics: every array in the run's label order, named by class_ids;
 * a class without pictures is not in the run, and one deleted since keeps the
 * name the run recorded, so nothing is labelled by its position in today's list. */
static void metrics(tt_wasm *w, tt_strbuf *o, int C, const int *ids, char *const *names, int epochs,
                    const tt_epoch_metrics *m) {
    tt_strbuf_printf(o, "{\"class_names\":[");
    for (int i = 0; i < C; i++) {
        tt_strbuf_printf(o, "%s", i ? "," : "");
        tt_strbuf_quote(o, tt_app_class_name(w->app, ids[i], names[i]));
    }
    tt_strbuf_printf(o, "],\"epochs\":%d,\"class_ids\":[", epochs);
    for (int i = 0; i < C; i++) tt_strbuf_printf(o, "%s%d", i ? "," : "", ids[i]);
    tt_strbuf_printf(o, "],\"val_counts\":[");
    for (int i = 0; i < C; i++) {
        int n = 0;
        for (int j = 0; j < C; j++) n += m->confusion[i * C + j];
        tt_strbuf_printf(o, "%s%d", i ? "," : "", n);
    }
    tt_strbuf_printf(o, "],");
    size_t need = tt_epoch_metrics_json(m, C, NULL, 0);
    if (tt_strbuf_reserve(o, need + 1)) {
        tt_epoch_metrics_json(m, C, o->s + o->len, need + 1);
        memmove(o->s + o->len, o->s + o->len + 1, need); /* its fields after ours */
        o->len += need - 1;
    }
}

/* The last finished epoch's metrics (all = 0), or every epoch's as an array
 * (all = 1): the run's, or without one the loaded model's as its file recorded
 * them (a checkpoint whose pictures changed since keeps its charts and tables). */
static const char *history(int h, int all) {
    TT_WASM_HANDLE(h, NULL);
    tt_run *r = tt_app_run(w->app);
    int nh = 0, C = 0, epochs = 0, *model_ids = NULL;
    const int *ids = NULL;
    char *const *names = NULL;
    tt_epoch_history mh = {0};
    const tt_epoch_metrics *hist = NULL;
    if (r && tt_run_trainer(r)) {
        hist = tt_trainer_history(tt_run_trainer(r), &nh);
        C = tt_run_classes(r, &ids, &names);
        epochs = tt_run_config(r)->train.epochs;
    } else if (!r && tt_app_model(w->app, NULL)) {
        tt_status st = tt_app_model_history(w->app, &mh, &model_ids, &epochs);
        if (st) return fail(w, st), NULL;
        hist = mh.epochs, nh = mh.n, ids = model_ids;
        C = tt_app_model(w->app, NULL)->m.n_classes, names = tt_app_model(w->app, NULL)->m.classes;
    }
    const char *out = NULL;
    if (!nh && !all) snprintf(w->err, sizeof w->err, "no finished epoch yet");
    else {
        tt_strbuf *o = jbegin(w);
        if (all) tt_strbuf_printf(o, "[");
        for (int e = all ? 0 : nh - 1; e < nh; e++) {
            if (all && e) tt_strbuf_printf(o, ",");
            metrics(w, o, C, ids, names, epochs, &hist[e]);
        }
        if (all) tt_strbuf_printf(o, "]");
        out = jdone(w);
    }
    tt_epoch_history_free(&mh);
    free(model_ids);
    return out;
}

TT_EXPORT const char *tt_wasm_metrics_json(int h) { return history(h, 0); }
TT_EXPORT const char *tt_wasm_history_json(int h) { return history(h, 1); }

/* ---- checkpoints, import, export ------------------------------------------------------- */

/* A checkpoint of this project's pictures restores its run (0), which then
 * continues bit-identically; anything else that holds a head is imported (1). */
TT_EXPORT int tt_wasm_load(int h, const char *path) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    tt_app_loaded kind;
    tt_status st = tt_app_load(w->app, path, &kind);
    if (!st) w->note[0] = 0;
    return st ? fail(w, st) : (int)kind;
}

/* What an import brought: {"kind","classes":[names],"hidden","unfreeze"}. */
TT_EXPORT const char *tt_wasm_model_json(int h) {
    TT_WASM_HANDLE(h, NULL);
    const tt_classifier *c = tt_app_model(w->app, NULL);
    if (!c) return snprintf(w->err, sizeof w->err, "no imported model"), NULL;
    tt_strbuf *o = jbegin(w);
    tt_strbuf_printf(o, "{\"kind\":");
    tt_strbuf_quote(o, c->m.kind ? c->m.kind : "model");
    tt_strbuf_printf(o, ",\"classes\":[");
    for (int i = 0; i < c->m.n_classes; i++) {
        if (i) tt_strbuf_printf(o, ",");
        tt_strbuf_quote(o, c->m.classes[i]);
    }
    tt_strbuf_printf(o, "],\"hidden\":%d,\"unfreeze\":%d}", c->m.head.cfg.hidden, c->m.unfreeze);
    return jdone(w);
}

TT_EXPORT int tt_wasm_export(int h, const char *path, const char *json, const char *format) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    int onnx = format && !strcmp(format, "onnx");
    if (!format || (!onnx && strcmp(format, "safetensors")))
        return fail(w, tt_error(TT_ERR_UNSUPPORTED, "export format \"%s\" (\"safetensors\" or \"onnx\")",
                                format ? format : ""));
    if (!path || !json) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no path"));
    return status(w, tt_app_export(w->app, path, onnx ? NULL : json));
}

/* ---- use ------------------------------------------------------------------------------- */

/* Class probabilities of one picture: {"classes":[{"id","name"}],"probs":[..]}. */
TT_EXPORT const char *tt_wasm_predict(int h, const uint8_t *bytes, int len) {
    TT_WASM_HANDLE(h, NULL);
    int C;
    const int *ids;
    char *const *names;
    float *probs = NULL;
    tt_status st = tt_app_labels(w->app, &C, &ids, &names);
    if (!st && !(probs = malloc(((size_t)C + 1) * sizeof *probs))) st = tt_error(TT_ERR_NOMEM, "no memory");
    if (!st) st = tt_app_predict(w->app, bytes, len > 0 ? (size_t)len : 0, probs);
    if (st) {
        free(probs);
        return fail(w, st), NULL;
    }
    tt_strbuf *o = jbegin(w);
    tt_strbuf_printf(o, "{");
    jclasses(w, o, "classes", C, ids, names);
    tt_strbuf_printf(o, ",\"probs\":[");
    for (int i = 0; i < C; i++) {
        if (i) tt_strbuf_printf(o, ",");
        tt_strbuf_num(o, probs[i], 0);
    }
    tt_strbuf_printf(o, "]}");
    free(probs);
    return jdone(w);
}

TT_EXPORT int tt_wasm_reset(int h) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    w->note[0] = 0;
    return status(w, tt_app_reset(w->app));
}

/* ---- project files (web/project-file.js) --------------------------------------------------- */

/* Whether bytes decode as a picture the page would add (the same pixel limit),
 * without storing or computing anything: a project file is checked whole
 * before any of it is imported. 0 or a negative tt_status. */
TT_EXPORT int tt_wasm_check_image(int h, const uint8_t *bytes, int len) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    if (len <= 0 || !bytes) return fail(w, tt_error(TT_ERR_FORMAT, "not a picture: the file is empty"));
    tt_image img;
    tt_decode_opts o = {.max_pixels = TT_WASM_MAX_PIXELS};
    tt_status st = tt_image_decode(bytes, (size_t)len, &o, &img);
    if (!st) tt_image_free(&img);
    return status(w, st);
}

/* Whether bytes are a checkpoint that verifies (every CRC) and was trained on
 * this backbone: what resuming from it will check first. */
TT_EXPORT int tt_wasm_check_checkpoint(int h, const uint8_t *bytes, int len) {
    tt_wasm *w = handle(h);
    if (!w) return -TT_ERR_INVALID_ARG;
    const tt_backbone *bb = tt_app_backbone(w->app);
    if (!bb) return fail(w, tt_error(TT_ERR_INVALID_ARG, "the base model is not loaded yet"));
    tt_st_file *f = NULL;
    tt_status st = len > 0 && bytes ? tt_ckpt_open_memory(&f, bytes, (size_t)len) : tt_error(TT_ERR_FORMAT, "empty file");
    if (!st) st = tt_ckpt_check(f, NULL, bb->id);
    tt_st_close(f);
    return status(w, st);
}
