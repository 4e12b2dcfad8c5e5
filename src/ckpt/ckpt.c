/* Checkpoint files: named tensors and metadata in one safetensors file, with a
 * CRC over the metadata (what train/ stores in them is train/'s: trainer_ckpt.c). */
#include "tabtrain/ckpt.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

/* Keys covered by tabtrain.meta_crc32, in this order: the safetensors layer
 * checks tensor bytes, this checks the state that lives in the header. */
static const char *const tt_meta_keys[] = {
    "tabtrain.kind",   "tabtrain.classes", "tabtrain.head",    "tabtrain.backbone",
    "tabtrain.preprocess", "tabtrain.config", "tabtrain.trainer", "tabtrain.history",
    "tabtrain.state"};
#define TT_META_CRC_KEY "tabtrain.meta_crc32"

/* ---- JSON reading (tabtrain/json.h) --------------------------------------- */

tt_status tt_ckpt_json(tt_json *j, const tt_st_file *f, const char *what) {
    *j = (tt_json){0};
    const char *js = tt_st_metadata(f, what);
    if (!js) return tt_error(TT_ERR_FORMAT, "checkpoint: metadata %s is missing", what);
    tt_status st = tt_json_parse(j, js);
    if (st == TT_ERR_NOMEM) return tt_error(st, "checkpoint: no memory to parse %s", what);
    if (st) return tt_error(st, "checkpoint: metadata %s is not JSON", what);
    return TT_OK;
}

/* ---- writing ------------------------------------------------------------ */

static uint32_t tt_meta_crc(const char *const *values) {
    uint32_t crc = 0;
    for (size_t i = 0; i < sizeof tt_meta_keys / sizeof *tt_meta_keys; i++) {
        const char *v = values[i] ? values[i] : "";
        crc = tt_crc32(crc, v, strlen(v) + 1);
    }
    return crc;
}

tt_status tt_ckpt_begin(tt_st_builder **out, const tt_ckpt_meta *m, const tt_ckpt_docs *d) {
    *out = NULL;
    static const tt_ckpt_meta none = {0};
    if (!m) m = &none;
    const char *values[] = {"checkpoint",
                            m->classes_json ? m->classes_json : "[]",
                            d->head,
                            m->backbone ? m->backbone : "",
                            m->preprocess_json,
                            m->config_json ? m->config_json : d->trainer,
                            d->trainer,
                            d->history,
                            d->state};
    tt_st_builder *b = NULL;
    tt_status st = tt_st_builder_new(&b);
    for (size_t i = 0; !st && i < sizeof values / sizeof *values; i++)
        if (values[i]) st = tt_st_set_metadata(b, tt_meta_keys[i], values[i]);
    char crc[9];
    snprintf(crc, sizeof crc, "%08" PRIx32, tt_meta_crc(values));
    if (!st) st = tt_st_set_metadata(b, TT_META_CRC_KEY, crc);
    if (st) {
        tt_st_builder_free(b);
        return st;
    }
    *out = b;
    return TT_OK;
}

/* ---- reading ------------------------------------------------------------ */

static tt_status tt_ckpt_verify(tt_st_file *f, const char *what) {
    const char *kind = tt_st_metadata(f, "tabtrain.kind");
    if (!kind || strcmp(kind, "checkpoint"))
        return tt_error(TT_ERR_FORMAT, "%s: not a tabtrain checkpoint (tabtrain.kind is %s%s%s)",
                        what, kind ? "\"" : "", kind ? kind : "missing", kind ? "\"" : "");
    const char *values[sizeof tt_meta_keys / sizeof *tt_meta_keys];
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        values[i] = tt_st_metadata(f, tt_meta_keys[i]);
    const char *crc = tt_st_metadata(f, TT_META_CRC_KEY);
    char want[9];
    snprintf(want, sizeof want, "%08" PRIx32, tt_meta_crc(values));
    if (!crc || strcmp(crc, want))
        return tt_error(TT_ERR_CORRUPT,
                        "%s: checkpoint metadata fails its CRC (%s stored, %s computed): the "
                        "file is damaged or was modified",
                        what, crc ? crc : "none", want);
    if (!values[7] || !values[8] || !values[6] || !values[2])
        return tt_error(TT_ERR_FORMAT, "%s: checkpoint lacks its state metadata", what);
    return TT_OK;
}

static tt_status tt_ckpt_opened(tt_st_file **out, tt_st_file *f, const char *what) {
    tt_status st = tt_ckpt_verify(f, what);
    if (st) {
        tt_st_close(f);
        return st;
    }
    *out = f;
    return TT_OK;
}

tt_status tt_ckpt_open_file(tt_st_file **out, const char *path) {
    *out = NULL;
    tt_st_file *f;
    tt_status st = tt_st_open_file(&f, path);
    if (st) return st;
    return tt_ckpt_opened(out, f, path);
}

tt_status tt_ckpt_open_memory(tt_st_file **out, const void *bytes, size_t len) {
    *out = NULL;
    tt_st_file *f;
    tt_status st = tt_st_open_memory(&f, bytes, len);
    if (st) return st;
    return tt_ckpt_opened(out, f, "checkpoint");
}

tt_status tt_ckpt_check(const tt_st_file *f, const char *classes_json, const char *backbone) {
    if (backbone) {
        const char *have = tt_st_metadata(f, "tabtrain.backbone");
        if (!have || strcmp(have, backbone))
            return tt_error(TT_ERR_MISMATCH,
                            "checkpoint was trained on another backbone (%s); this run uses %s",
                            have && *have ? have : "unknown", backbone);
    }
    if (classes_json) {
        const char *have = tt_st_metadata(f, "tabtrain.classes");
        char **a = NULL, **b = NULL;
        int na = 0, nb = 0;
        tt_status st = tt_json_string_array(have ? have : "", &a, &na);
        if (st) return tt_error(st, "checkpoint: tabtrain.classes is not a JSON array of names");
        if ((st = tt_json_string_array(classes_json, &b, &nb))) {
            tt_json_free_strings(a, na);
            return st;
        }
        int same = na == nb;
        for (int i = 0; same && i < na; i++) same = !strcmp(a[i], b[i]);
        tt_json_free_strings(a, na), tt_json_free_strings(b, nb);
        if (!same)
            return tt_error(TT_ERR_MISMATCH,
                            "checkpoint was trained on the classes %.400s; this data has %.400s",
                            have, classes_json);
    }
    return TT_OK;
}

tt_status tt_ckpt_load_tensors(const tt_st_file *f, const tt_named_tensor *dst, int n) {
    /* Check every tensor before writing any, so a mismatch leaves dst untouched. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const tt_st_tensor *src;
            tt_status st = tt_st_get(f, dst[i].name, TT_DTYPE_F32, &src);
            if (st) return st == TT_ERR_NOT_FOUND
                               ? tt_error(TT_ERR_MISMATCH, "checkpoint lacks tensor %s (another "
                                                           "head or optimizer configuration?)",
                                          dst[i].name)
                               : st;
            int same = src->ndim == dst[i].ndim;
            for (int d = 0; same && d < src->ndim; d++) same = src->shape[d] == dst[i].shape[d];
            if (!same)
                return tt_error(TT_ERR_SHAPE, "checkpoint tensor %s has another shape than the "
                                              "model expects",
                                dst[i].name);
            if (pass) memcpy(dst[i].data, src->data, src->nbytes);
        }
    return TT_OK;
}
