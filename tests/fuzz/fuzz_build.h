/* fuzz_build.h — the harnesses' way past the CRCs. A tabtrain file needs a
 * CRC per tensor (and a checkpoint one over its metadata), which random
 * mutations never get right, so the readers behind them would go unfuzzed.
 * A harness whose input starts with "!fz\n" therefore takes the rest as
 *
 *   METADATA_JSON \0 TENSORS_JSON
 *
 * METADATA_JSON: {"key":"value",...} (string values; others skipped)
 * TENSORS_JSON:  {"name":[dtype, dim0, dim1, ...],...} (dtype 0..4 = F32 F64 I32 I64 U8)
 *
 * and builds the file with the project's own writer (tt_st_builder), which
 * adds the CRCs; with ckpt_crc it also adds tabtrain.meta_crc32 the way a
 * checkpoint does. Tensor bytes are a fixed pattern, 4 MB at most in all.
 * Any other input is the file as is (so a real file, or a reproducer, is
 * an input too). */
#ifndef TT_FUZZ_BUILD_H
#define TT_FUZZ_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/json.h"
#include "tabtrain/safetensors.h"

#define FZ_MAX_TENSOR_BYTES ((size_t)4 << 20)

static char *fz_strndup(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) memcpy(s, p, n), s[n] = '\0';
    return s;
}

/* The checkpoint's metadata CRC (ckpt.c): each value of these keys, NUL included, "" when absent. */
static void fz_meta_crc(tt_st_builder *b, char **keys, char **vals, int n) {
    static const char *const ck[] = {"tabtrain.kind",       "tabtrain.classes", "tabtrain.head",
                                     "tabtrain.backbone",   "tabtrain.preprocess", "tabtrain.config",
                                     "tabtrain.trainer",    "tabtrain.history", "tabtrain.state"};
    uint32_t crc = 0;
    for (size_t k = 0; k < sizeof ck / sizeof *ck; k++) {
        const char *v = "";
        for (int i = 0; i < n; i++)
            if (keys[i] && vals[i] && !strcmp(keys[i], ck[k])) v = vals[i];
        crc = tt_crc32(crc, v, strlen(v) + 1);
    }
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
    tt_st_set_metadata(b, "tabtrain.meta_crc32", hex);
}

/* 0 and *out (malloc'd) on success; -1 when the input does not describe a file. */
static int fz_build(const uint8_t *data, size_t size, int ckpt_crc, void **out, size_t *len) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t ml = nul ? (size_t)(nul - data) : size;
    char *meta = fz_strndup(data, ml), *tens = fz_strndup(nul ? nul + 1 : data + size, nul ? size - ml - 1 : 0);
    tt_st_builder *b = NULL;
    tt_json jm = {0}, jt = {0};
    void *bufs[64] = {0};
    int nbufs = 0, rc = -1;
    char *keys[64] = {0}, *vals[64] = {0};
    int nkv = 0;
    if (!meta || !tens || tt_st_builder_new(&b)) goto done;
    if (!tt_json_parse(&jm, meta)) {
        int n = tt_json_members(&jm, 0);
        for (int k = 0; k < n && nkv < 64; k++) {
            int key = tt_json_member(&jm, 0, k);
            char *ks = NULL, *vs = NULL;
            if (!tt_json_string(&jm, key, &ks) && !tt_json_string(&jm, key + 1, &vs) && strlen(ks) && strlen(vs))
                tt_st_set_metadata(b, ks, vs);
            keys[nkv] = ks, vals[nkv] = vs, nkv++;
        }
    }
    if (ckpt_crc) fz_meta_crc(b, keys, vals, nkv);
    size_t total = 0;
    if (*tens && !tt_json_parse(&jt, tens)) {
        int n = tt_json_members(&jt, 0);
        for (int k = 0; k < n && nbufs < 64; k++) {
            int key = tt_json_member(&jt, 0, k), arr = key + 1, nd = tt_json_len(&jt, arr) - 1, dt;
            char *name = NULL;
            if (nd < 0 || nd > TT_ST_MAX_DIMS || !tt_json_int(&jt, tt_json_at(&jt, arr, 0), &dt) || dt < 0 ||
                dt >= TT_DTYPE_COUNT || tt_json_string(&jt, key, &name))
                continue;
            int64_t shape[TT_ST_MAX_DIMS];
            uint64_t bytes = tt_dtype_size((tt_dtype)dt);
            int ok = 1;
            for (int d = 0; d < nd && ok; d++) {
                int v;
                ok = tt_json_int(&jt, tt_json_at(&jt, arr, d + 1), &v) && v >= 0 && v <= 1 << 20;
                shape[d] = ok ? v : 0;
                bytes *= ok ? (uint64_t)v : 0;
                ok = ok && bytes <= FZ_MAX_TENSOR_BYTES;
            }
            if (ok && total + bytes <= FZ_MAX_TENSOR_BYTES) {
                uint8_t *buf = malloc(bytes + 1);
                if (buf) {
                    /* small finite values whatever the dtype is read as */
                    for (size_t i = 0; i < bytes; i++) buf[i] = (uint8_t)((i % 4 == 3) ? 0x3c : (i * 37) & 0x7f);
                    bufs[nbufs++] = buf;
                    total += bytes;
                    tt_st_add(b, name, (tt_dtype)dt, nd, shape, buf);
                }
            }
            free(name);
        }
    }
    rc = tt_st_write_memory(b, out, len) ? -1 : 0;
done:
    for (int i = 0; i < nkv; i++) free(keys[i]), free(vals[i]);
    for (int i = 0; i < nbufs; i++) free(bufs[i]);
    tt_json_free(&jm), tt_json_free(&jt);
    tt_st_builder_free(b);
    free(meta), free(tens);
    return rc;
}

/* The file a harness input stands for: built ("!fz\n" first) or as is. *owned is freed by the caller. */
static int fz_file(const uint8_t *data, size_t size, int ckpt_crc, const uint8_t **file, size_t *len, void **owned) {
    *owned = NULL;
    if (size >= 4 && !memcmp(data, "!fz\n", 4)) {
        if (fz_build(data + 4, size - 4, ckpt_crc, owned, len)) return -1;
        *file = *owned;
        return 0;
    }
    *file = data, *len = size;
    return 0;
}

#endif
