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

#define TT_WASM_ABI 6
#define TT_WASM_MAX_HANDLES 8
/* A picture's decode costs up to ~16 bytes a pixel at its peak, and wasm
 * memory never shrinks: the page decodes at most 16 M pixels (the CLI 40 M). */
#define TT_WASM_MAX_PIXELS (16u * 1000u * 1000u)
/* Pictures given back and kept until the step that needed them is past: a
 * batch of the run needs one per thread at most. */
#define TT_WASM_MAX_GIVEN 64
/* Pictures per tt_wasm_add_images call (the worker sends a few per thread). */
#define TT_WASM_MAX_ADD 64

/* What adding a picture made besides its record, for the worker to store. */
typedef struct tt_parts {
    int id;
    void *part[2]; /* the training copy (PNG), the thumbnail (JPEG) */
    size_t len[2];
} tt_parts;

/* A picture the worker gave back (tt_wasm_give_image). */
typedef struct tt_given {
    int id, used; /* used: read by the current step */
    void *bytes;
    size_t len;
} tt_given;

typedef struct tt_wasm {
    tt_app *app;
    char note[1024]; /* what the last resume says (a fallback past a damaged file) */
    tt_strbuf out;   /* last JSON returned */
    /* The engine's picture store (picture_store): the worker keeps the bytes
     * (web/pictures.js, outside the engine's files, which IDBFS mirrors in
     * memory). What the last tt_wasm_add_images made besides the records
     * waits in parts[] for the worker to store (tt_wasm_part: the training
     * copy, the thumbnail), each picture's outcome in added[]; a picture a run
     * needs is asked for and given back (given[]). */
    tt_parts parts[TT_WASM_MAX_ADD];
    int n_parts;
    tt_app_new_image added[TT_WASM_MAX_ADD];
    int n_added;
    tt_given given[TT_WASM_MAX_GIVEN];
    int n_given;
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

/* ---- the picture store: the worker's -------------------------------------------------- */

static void parts_free(tt_wasm *w) {
    for (int k = 0; k < w->n_parts; k++)
        for (int i = 0; i < 2; i++) free(w->parts[k].part[i]);
    w->n_parts = 0;
}

/* After a step: every picture once it no longer waits for one, else those it did not read
 * (the ones it read are the batch it tries again). */
static void given_free(tt_wasm *w, int all) {
    int n = 0;
    for (int i = 0; i < w->n_given; i++) {
        if (all || !w->given[i].used) free(w->given[i].bytes);
        else w->given[i].used = 0, w->given[n++] = w->given[i];
    }
    w->n_given = n;
}

/* The original stays with the worker (it has it); the parts wait for it. */
static tt_status picture_put(void *ctx, int id, const tt_picture *pic) {
    tt_wasm *w = ctx;
    /* An id whose record could not be written comes again with the next picture. */
    int k = 0;
    while (k < w->n_parts && w->parts[k].id != id) k++;
    if (k == TT_WASM_MAX_ADD) return tt_error(TT_ERR_LIMIT, "more than %d pictures at once", TT_WASM_MAX_ADD);
    tt_parts *p = &w->parts[k];
    if (k < w->n_parts) free(p->part[0]), free(p->part[1]);
    else w->n_parts++;
    const void *src[2] = {pic->copy, pic->thumb};
    size_t n[2] = {pic->copy_len, pic->thumb_len};
    *p = (tt_parts){.id = id};
    for (int i = 0; i < 2; i++) {
        if (!src[i]) continue;
        if (!(p->part[i] = malloc(n[i]))) {
            free(p->part[0]);
            *p = (tt_parts){.id = id};
            return tt_error(TT_ERR_NOMEM, "no memory for picture %d", id);
        }
        memcpy(p->part[i], src[i], n[i]);
        p->len[i] = n[i];
    }
    return TT_OK;
}

/* A picture given back, else asked for: the run says TT_RUN_NEED_PICTURE. */
static tt_status picture_get(void *ctx, int id, void **bytes, size_t *len) {
    tt_wasm *w = ctx;
    for (int i = 0; i < w->n_given; i++) {
        if (w->given[i].id != id) continue;
        w->given[i].used = 1;
        if (!(*bytes = malloc(w->given[i].len))) return tt_error(TT_ERR_NOMEM, "no memory for picture %d", id);
        memcpy(*bytes, w->given[i].bytes, w->given[i].len);
        *len = w->given[i].len;
        return TT_OK;
    }
    return tt_error(TT_ERR_AGAIN, "picture %d is with the worker", id);
}

/* The worker deletes its files of the picture after the engine's record. */
static tt_status picture_del(void *ctx, int id) {
    (void)ctx, (void)id;
    return TT_OK;
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
    parts_free(w);
    given_free(w, 1);
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
    tt_picture_store pics = {w, picture_put, picture_get, picture_del, NULL};
    tt_status st = tt_app_open(&w->app, &c, &pics);
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

/* n pictures into class_id at once (tt_app_images_add): ids[i] gets picture i's
 * id, or -status (its message: tt_wasm_add_error); their training copies and
 * thumbnails wait in tt_wasm_part. The number added, or -status when none could
 * be tried. */
TT_EXPORT int tt_wasm_add_images(int h, int class_id, int n, const uint8_t *const *bytes, const int *lens,
                                 const char *const *names, int *ids) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    parts_free(w);
    w->n_added = 0;
    if (n < 0 || n > TT_WASM_MAX_ADD || (n && (!bytes || !lens || !names || !ids)))
        return fail(w, tt_error(TT_ERR_INVALID_ARG, "from 0 to %d pictures at once, not %d", TT_WASM_MAX_ADD, n));
    for (int i = 0; i < n; i++)
        w->added[i] = (tt_app_new_image){.bytes = bytes[i], .len = lens[i] > 0 ? (size_t)lens[i] : 0, .name = names[i]};
    tt_status st = tt_app_images_add(w->app, class_id, n, w->added);
    if (st) {
        parts_free(w);
        return fail(w, st);
    }
    w->n_added = n;
    int added = 0;
    for (int i = 0; i < n; i++) {
        ids[i] = w->added[i].status ? -(int)w->added[i].status : w->added[i].id;
        added += ids[i] > 0;
    }
    return added;
}

/* Why picture i of the last tt_wasm_add_images was not added ("" when it was). */
TT_EXPORT const char *tt_wasm_add_error(int h, int i) {
    tt_wasm *w = handle(h);
    return w && i >= 0 && i < w->n_added ? w->added[i].error : "";
}

/* One picture: its id, or the status with its message in tt_wasm_last_error. */
TT_EXPORT int tt_wasm_add_image(int h, int class_id, const uint8_t *bytes, int len, const char *name) {
    int id = 0;
    int rc = tt_wasm_add_images(h, class_id, 1, &bytes, &len, &name, &id);
    if (rc < 0 || id > 0) return rc < 0 ? rc : id;
    tt_wasm *w = handle(h);
    snprintf(w->err, sizeof w->err, "%s", w->added[0].error);
    return id;
}

/* Part `which` (0: training copy, PNG; 1: thumbnail, JPEG) of picture i of
 * the last tt_wasm_add_images (0 for tt_wasm_add_image), valid until the next
 * add; NULL (*len 0) for none: the original is as small as a copy
 * (tt_app_picture_parts), or the picture was not added. */
TT_EXPORT const uint8_t *tt_wasm_part(int h, int i, int which, int *len) {
    tt_wasm *w = handle(h);
    if (len) *len = 0;
    if (!w || !len || which < 0 || which > 1 || i < 0 || i >= w->n_added || !w->added[i].id) return NULL;
    for (int k = 0; k < w->n_parts; k++) {
        if (w->parts[k].id != w->added[i].id) continue;
        *len = (int)w->parts[k].len[which];
        return w->parts[k].part[which];
    }
    return NULL;
}

/* The picture a run waits for (tt_wasm_train_step said TT_WASM_STEP_NEED_IMAGE), else 0. */
TT_EXPORT int tt_wasm_needed_image(int h) {
    TT_WASM_HANDLE(h, 0);
    return tt_app_needed_picture(w->app);
}

/* The worker gives back image `image_id`'s training copy (or its original:
 * both give the same features); kept while the steps read it, until one no
 * longer waits for a picture. */
TT_EXPORT int tt_wasm_give_image(int h, int image_id, const uint8_t *bytes, int len) {
    TT_WASM_HANDLE(h, -TT_ERR_INVALID_ARG);
    if (!bytes || len <= 0) return fail(w, tt_error(TT_ERR_INVALID_ARG, "no bytes for image %d", image_id));
    if (w->n_given == TT_WASM_MAX_GIVEN) return fail(w, tt_error(TT_ERR_LIMIT, "more than %d pictures given at once", TT_WASM_MAX_GIVEN));
    void *p = malloc((size_t)len);
    if (!p) return fail(w, tt_error(TT_ERR_NOMEM, "no memory for image %d", image_id));
    memcpy(p, bytes, (size_t)len);
    w->given[w->n_given++] = (tt_given){image_id, 0, p, (size_t)len};
    return 0;
}

/* What a picture's parts and a record of the old layout become, without a
 * handle (no weights needed): the worker moves a profile's pictures out of
 * the engine's files before the engine opens them (web/migrate.js). The
 * answer is JSON with [pointer, length] pairs into buffers valid until the
 * next of these two calls; NULL on error (tt_wasm_last_error(0)). */
static void *g_made[3];
static size_t g_made_len[3];
static char g_made_json[320];

static void made_free(void) {
    for (int i = 0; i < 3; i++) free(g_made[i]), g_made[i] = NULL, g_made_len[i] = 0;
    g_open_error[0] = 0;
}

#define TT_WASM_SPAN(p, n) (unsigned long)(uintptr_t)(p), (size_t)(n)

/* {"copy":[p,n],"thumb":[p,n]} of a picture (tt_app_picture_parts; copy [0,0]
 * when not kept). A picture that no longer decodes has neither ([0,0] both):
 * its original still moves, and training says what is wrong with it. */
TT_EXPORT const char *tt_wasm_picture_parts(const uint8_t *bytes, int len) {
    made_free();
    if (!bytes || len <= 0) return fail(NULL, tt_error(TT_ERR_INVALID_ARG, "no picture")), NULL;
    tt_app_picture_parts(bytes, (size_t)len, TT_WASM_MAX_PIXELS, TT_IMAGE_DEFAULT_SIZE, &g_made[1], &g_made_len[1],
                         &g_made[2], &g_made_len[2]);
    snprintf(g_made_json, sizeof g_made_json, "{\"copy\":[%lu,%zu],\"thumb\":[%lu,%zu]}", TT_WASM_SPAN(g_made[1], g_made_len[1]),
             TT_WASM_SPAN(g_made[2], g_made_len[2]));
    return g_made_json;
}

/* A record of before the project store (root/dataset/img-<id>.safetensors)
 * with its picture inside: {"id","original":[p,n] (inside `record`),"record"
 * (the same record holding only the hash),"copy","thumb"}; one that holds no
 * picture: {"id","current":true}. */
TT_EXPORT const char *tt_wasm_upgrade_record(const uint8_t *record, int len) {
    made_free();
    int id;
    const void *orig;
    size_t orig_len;
    tt_status st = tt_project_record_upgrade(record, len > 0 ? (size_t)len : 0, &id, &orig, &orig_len, &g_made[0],
                                             &g_made_len[0]);
    if (st) return fail(NULL, st), NULL;
    if (!orig) {
        snprintf(g_made_json, sizeof g_made_json, "{\"id\":%d,\"current\":true}", id);
        return g_made_json;
    }
    tt_app_picture_parts(orig, orig_len, TT_WASM_MAX_PIXELS, TT_IMAGE_DEFAULT_SIZE, &g_made[1], &g_made_len[1],
                         &g_made[2], &g_made_len[2]);
    snprintf(g_made_json, sizeof g_made_json,
             "{\"id\":%d,\"original\":[%lu,%zu],\"record\":[%lu,%zu],\"copy\":[%lu,%zu],\"thumb\":[%lu,%zu]}", id,
             TT_WASM_SPAN(orig, orig_len), TT_WASM_SPAN(g_made[0], g_made_len[0]), TT_WASM_SPAN(g_made[1], g_made_len[1]),
             TT_WASM_SPAN(g_made[2], g_made_len[2]));
    return g_made_json;
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
    given_free(w, st || ev != TT_RUN_NEED_PICTURE); /* the batch that needed them is past */
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
    tt_app_progress p;
    tt_app_progress_get(w->app, &p);
    tt_strbuf *o = jbegin(w);
    tt_strbuf_printf(o, "{\"epoch\":%d,\"epochs\":%d,\"step\":%lld,\"steps\":%lld,\"train_loss\":", p.epoch,
                     p.epochs, (long long)p.step, (long long)p.steps);
    tt_strbuf_num(o, p.last ? p.last->train_loss : NAN, 0);
    tt_strbuf_printf(o, ",\"val_acc\":");
    tt_strbuf_num(o, p.last ? p.last->val_acc : NAN, 0);
    tt_strbuf_printf(o, ",\"prepared\":%d,\"to_prepare\":%d,\"finished\":%s,\"saved\":", p.prepared, p.to_prepare,
                     p.finished ? "true" : "false");
    if (p.saved) tt_strbuf_printf(o, "{\"epoch\":%d,\"step\":%lld}", p.saved_epoch, (long long)p.saved_step);
    else tt_strbuf_printf(o, "null");
    tt_strbuf_printf(o, ",\"note\":");
    tt_strbuf_quote(o, w->note);
    const int *ids = NULL;
    char *const *names = NULL;
    tt_run *r = tt_app_run(w->app);
    int C = r ? tt_run_classes(r, &ids, &names) : 0;
    tt_strbuf_printf(o, ",");
    jclasses(w, o, "run_classes", C, ids, names);
    tt_strbuf_printf(o, "}");
    return jdone(w);
}

/* One epoch's metrics: every array in the run's label order, named by class_ids;
 * a class without pictures is not in the run, and one deleted since keeps the
 * name the run recorded, so nothing is labelled by its position in today's list. */
static void metrics(tt_wasm *w, tt_strbuf *o, const tt_app_history *hi, const tt_epoch_metrics *m) {
    int C = hi->n_classes;
    tt_strbuf_printf(o, "{\"class_names\":[");
    for (int i = 0; i < C; i++) {
        tt_strbuf_printf(o, "%s", i ? "," : "");
        tt_strbuf_quote(o, tt_app_class_name(w->app, hi->class_ids[i], hi->class_names[i]));
    }
    tt_strbuf_printf(o, "],\"epochs\":%d,\"class_ids\":[", hi->planned_epochs);
    for (int i = 0; i < C; i++) tt_strbuf_printf(o, "%s%d", i ? "," : "", hi->class_ids[i]);
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

/* The last finished epoch's metrics (all = 0), or every epoch's as an array (all = 1). */
static const char *history(int h, int all) {
    TT_WASM_HANDLE(h, NULL);
    tt_app_history hi;
    tt_status st = tt_app_history_get(w->app, &hi);
    if (st) return fail(w, st), NULL;
    const char *out = NULL;
    if (!hi.n && !all) snprintf(w->err, sizeof w->err, "no finished epoch yet");
    else {
        tt_strbuf *o = jbegin(w);
        tt_strbuf_printf(o, all ? "[" : "");
        for (int e = all ? 0 : hi.n - 1; e < hi.n; e++) {
            tt_strbuf_printf(o, e > 0 && all ? "," : "");
            metrics(w, o, &hi, &hi.epochs[e]);
        }
        tt_strbuf_printf(o, all ? "]" : "");
        out = jdone(w);
    }
    tt_app_history_free(&hi);
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

/* Whether bytes are a picture the page would add, or a checkpoint that
 * verifies on this backbone, storing nothing: a project file is checked whole
 * before any of it is imported. 0 or a negative tt_status. */
TT_EXPORT int tt_wasm_check_image(int h, const uint8_t *bytes, int len)
    TT_WASM_STATUS(tt_app_check_picture(w->app, bytes, len > 0 ? (size_t)len : 0))

TT_EXPORT int tt_wasm_check_checkpoint(int h, const uint8_t *bytes, int len)
    TT_WASM_STATUS(tt_app_check_checkpoint(w->app, bytes, len > 0 ? (size_t)len : 0))
