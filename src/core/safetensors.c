#include "tabtrain/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/fileio.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#define TT_ST_MAX_TOKENS ((size_t)1 << 22)
#define TT_META_VERSION "tabtrain.format_version"
#define TT_META_CRC "tabtrain.crc32."

static const struct {
    const char *name;
    size_t size;
} tt_dtypes[TT_DTYPE_COUNT] = {
    [TT_DTYPE_F32] = {"F32", 4}, [TT_DTYPE_F64] = {"F64", 8}, [TT_DTYPE_I32] = {"I32", 4},
    [TT_DTYPE_I64] = {"I64", 8}, [TT_DTYPE_U8] = {"U8", 1},
};

const char *tt_dtype_name(tt_dtype dt) {
    return (unsigned)dt < TT_DTYPE_COUNT ? tt_dtypes[dt].name : "?";
}

size_t tt_dtype_size(tt_dtype dt) { return (unsigned)dt < TT_DTYPE_COUNT ? tt_dtypes[dt].size : 0; }

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int tt_utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, c &= 0x07;
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            c = c << 6 | (s[i + j] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}


/* ---------------------------------------------------------------- reader */

struct tt_st_file {
    void *file_bytes;  /* owned copy of the file (tt_st_open_file) */
    void *data_copy;   /* owned aligned data section, when the input was misaligned */
    char *strings;     /* unescaped names, keys and values */
    tt_st_tensor *tensors;
    size_t ntensors;
    const tt_st_tensor **by_name; /* into tensors, sorted by name */
    const char **meta_key, **meta_val;
    size_t nmeta;
};

typedef struct tt_parse {
    const char *js;
    jsmntok_t *tok;
    int ntok;
    char *str;   /* next free byte of the strings buffer */
    uint64_t data_len;
} tt_parse;

static int tt_skip(const tt_parse *p, int i) {
    int end = p->tok[i].end;
    for (i++; i < p->ntok && p->tok[i].start < end; i++) {}
    return i;
}

/* Unescapes JSON string token i into the strings buffer (tt_json_validate
 * has refused raw control characters and malformed \u already). */
static tt_status tt_st_string(tt_parse *p, int i, const char **out, const char *what) {
    const jsmntok_t *t = &p->tok[i];
    if (t->type != JSMN_STRING) return tt_error(TT_ERR_FORMAT, "safetensors header: %s must be a string (byte %d)", what, t->start);
    size_t n = tt_json_unescape(p->js + t->start, (size_t)(t->end - t->start), p->str);
    if (n == (size_t)-1)
        return tt_error(TT_ERR_FORMAT, "safetensors header: bad escape in %s (byte %d)", what, t->start);
    if (strlen(p->str) != n) return tt_error(TT_ERR_FORMAT, "safetensors header: NUL character in %s", what);
    if (!tt_utf8_valid((const unsigned char *)p->str, n))
        return tt_error(TT_ERR_FORMAT, "safetensors header: %s is not valid UTF-8 (byte %d)", what, t->start);
    *out = p->str;
    p->str += n + 1;
    return TT_OK;
}

static int tt_tok_is(const tt_parse *p, int i, const char *lit) {
    const jsmntok_t *t = &p->tok[i];
    size_t n = strlen(lit);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && memcmp(p->js + t->start, lit, n) == 0;
}

static tt_status tt_json_uint(const tt_parse *p, int i, uint64_t *v, const char *name, const char *what) {
    const jsmntok_t *t = &p->tok[i];
    const char *s = p->js + t->start;
    int n = t->end - t->start;
    if (t->type != JSMN_PRIMITIVE || n < 1 || n > 19 || (n > 1 && s[0] == '0')) goto bad;
    *v = 0;
    for (int k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') goto bad;
        *v = *v * 10 + (uint64_t)(s[k] - '0');
    }
    return TT_OK;
bad:
    return tt_error(TT_ERR_FORMAT, "tensor '%s': %s must hold non-negative integers (byte %d)", name, what, t->start);
}

typedef struct tt_span {
    uint64_t begin, end;
} tt_span;

static tt_status tt_parse_tensor(tt_parse *p, int i, tt_st_tensor *t, tt_span *span) {
    const jsmntok_t *obj = &p->tok[i];
    if (obj->type != JSMN_OBJECT) return tt_error(TT_ERR_FORMAT, "tensor '%s': entry must be an object", t->name);
    int have_dtype = 0, have_shape = 0, have_off = 0;
    int k = i + 1;
    for (int f = 0; f < obj->size; f++) {
        int v = k + 1;
        if (v >= p->ntok) return tt_error(TT_ERR_FORMAT, "tensor '%s': truncated entry", t->name);
        if (tt_tok_is(p, k, "dtype") && !have_dtype) {
            have_dtype = 1;
            const jsmntok_t *d = &p->tok[v];
            int n = d->end - d->start, found = 0;
            for (int dt = 0; dt < TT_DTYPE_COUNT && d->type == JSMN_STRING; dt++)
                if ((int)strlen(tt_dtypes[dt].name) == n && memcmp(p->js + d->start, tt_dtypes[dt].name, (size_t)n) == 0)
                    t->dtype = (tt_dtype)dt, found = 1;
            if (!found)
                return tt_error(TT_ERR_UNSUPPORTED, "tensor '%s': unsupported dtype %.*s (supported: F32 F64 I32 I64 U8)",
                                t->name, n > 16 ? 16 : n, p->js + d->start);
        } else if (tt_tok_is(p, k, "shape") && !have_shape) {
            have_shape = 1;
            const jsmntok_t *a = &p->tok[v];
            if (a->type != JSMN_ARRAY) return tt_error(TT_ERR_FORMAT, "tensor '%s': shape must be an array", t->name);
            if (a->size > TT_ST_MAX_DIMS)
                return tt_error(TT_ERR_UNSUPPORTED, "tensor '%s': %d dims (at most %d)", t->name, a->size, TT_ST_MAX_DIMS);
            t->ndim = a->size;
            for (int d = 0; d < a->size; d++) {
                uint64_t dim;
                if (v + 1 + d >= p->ntok) return tt_error(TT_ERR_FORMAT, "tensor '%s': truncated shape", t->name);
                tt_status st = tt_json_uint(p, v + 1 + d, &dim, t->name, "shape");
                if (st) return st;
                if (dim > (uint64_t)INT64_MAX) return tt_error(TT_ERR_LIMIT, "tensor '%s': dim too large", t->name);
                t->shape[d] = (int64_t)dim;
            }
        } else if (tt_tok_is(p, k, "data_offsets") && !have_off) {
            have_off = 1;
            const jsmntok_t *a = &p->tok[v];
            if (a->type != JSMN_ARRAY || a->size != 2 || v + 2 >= p->ntok)
                return tt_error(TT_ERR_FORMAT, "tensor '%s': data_offsets must be [begin, end]", t->name);
            tt_status st = tt_json_uint(p, v + 1, &span->begin, t->name, "data_offsets");
            if (!st) st = tt_json_uint(p, v + 2, &span->end, t->name, "data_offsets");
            if (st) return st;
        } else {
            return tt_error(TT_ERR_FORMAT, "tensor '%s': unexpected or repeated field %.*s", t->name,
                            p->tok[k].end - p->tok[k].start > 32 ? 32 : p->tok[k].end - p->tok[k].start, p->js + p->tok[k].start);
        }
        k = tt_skip(p, v);
    }
    if (!have_dtype || !have_shape || !have_off)
        return tt_error(TT_ERR_FORMAT, "tensor '%s': missing %s", t->name, !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    uint64_t numel = 1, esize = tt_dtypes[t->dtype].size;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t dim = (uint64_t)t->shape[d];
        if (dim && numel > UINT64_MAX / dim) return tt_error(TT_ERR_LIMIT, "tensor '%s': element count overflows", t->name);
        numel *= dim;
    }
    if (numel > SIZE_MAX / esize) return tt_error(TT_ERR_LIMIT, "tensor '%s': too large", t->name);
    if (span->end < span->begin || span->end > p->data_len)
        return tt_error(TT_ERR_CORRUPT, "tensor '%s': data_offsets [%llu, %llu] outside the %llu-byte data section", t->name,
                        (unsigned long long)span->begin, (unsigned long long)span->end, (unsigned long long)p->data_len);
    if (numel * esize != span->end - span->begin)
        return tt_error(TT_ERR_CORRUPT, "tensor '%s': shape needs %llu bytes of %s but data_offsets span %llu", t->name,
                        (unsigned long long)(numel * esize), tt_dtypes[t->dtype].name,
                        (unsigned long long)(span->end - span->begin));
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(numel * esize);
    return TT_OK;
}

typedef struct tt_order {
    uint64_t begin, end;
    size_t idx;
} tt_order;

static int tt_cmp_order(const void *a, const void *b) {
    const tt_order *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int tt_cmp_name(const void *a, const void *b) {
    return strcmp((*(const tt_st_tensor *const *)a)->name, (*(const tt_st_tensor *const *)b)->name);
}

void tt_st_close(tt_st_file *f) {
    if (!f) return;
    free(f->file_bytes);
    free(f->data_copy);
    free(f->strings);
    free(f->tensors);
    free(f->by_name);
    free(f->meta_key);
    free(f->meta_val);
    free(f);
}

/* Any "tabtrain.*" key makes a file tabtrain's: then every tensor needs its
 * CRC, whatever the version key says, so deleting that key cannot turn the
 * checks off. A CRC finds damage, and a careless edit; it cannot prove who
 * wrote the file (anyone can recompute one), so messages say no more. */
static tt_status tt_check_tabtrain_meta(tt_st_file *f) {
    const char *ver = tt_st_metadata(f, TT_META_VERSION);
    int tabtrain = 0;
    for (size_t m = 0; m < f->nmeta && !tabtrain; m++) tabtrain = !strncmp(f->meta_key[m], "tabtrain.", 9);
    if (ver) {
        size_t n = strlen(ver);
        if (n == 0 || n > 9 || strspn(ver, "0123456789") != n)
            return tt_error(TT_ERR_FORMAT, "metadata %s is \"%.32s\", not an integer", TT_META_VERSION, ver);
        if (atol(ver) > TT_ST_FORMAT_VERSION)
            return tt_error(TT_ERR_VERSION, "file written by tabtrain format version %s; this build reads up to version %d — upgrade tabtrain",
                            ver, TT_ST_FORMAT_VERSION);
    }
    const size_t plen = strlen(TT_META_CRC);
    for (size_t m = 0; m < f->nmeta; m++) {
        if (strncmp(f->meta_key[m], TT_META_CRC, plen) != 0) continue;
        const char *name = f->meta_key[m] + plen;
        if (!tt_st_find(f, name)) return tt_error(TT_ERR_CORRUPT, "metadata has a CRC for tensor '%.80s', which the file does not contain", name);
    }
    /* Names are at most TT_ST_MAX_NAME bytes, so no key is cut short. */
    char key[sizeof TT_META_CRC + TT_ST_MAX_NAME];
    for (size_t i = 0; i < f->ntensors; i++) {
        const tt_st_tensor *t = &f->tensors[i];
        snprintf(key, sizeof key, "%s%s", TT_META_CRC, t->name);
        const char *v = tt_st_metadata(f, key);
        if (!v) {
            if (!tabtrain) continue; /* a third-party file: nothing to check against */
            return tt_error(TT_ERR_CORRUPT, "tensor '%s' has no CRC in a tabtrain file: the file is damaged or was modified", t->name);
        }
        if (strlen(v) != 8 || strspn(v, "0123456789abcdefABCDEF") != 8)
            return tt_error(TT_ERR_CORRUPT, "tensor '%s': CRC metadata \"%.16s\" is not 8 hex digits", t->name, v);
        uint32_t want = (uint32_t)strtoul(v, NULL, 16);
        uint32_t got = tt_crc32(0, t->data, t->nbytes);
        if (got != want)
            return tt_error(TT_ERR_CORRUPT, "tensor '%s': CRC32 mismatch (stored %08x, computed %08x): the file is damaged or was modified",
                            t->name, want, got);
    }
    if (!ver && tabtrain)
        return tt_error(TT_ERR_CORRUPT, "a tabtrain file without %s: the file is damaged or was modified", TT_META_VERSION);
    return TT_OK;
}

static tt_status tt_st_parse(tt_st_file *f, const unsigned char *bytes, size_t len) {
    {
        const uint16_t probe = 1;
        if (*(const unsigned char *)&probe != 1) return tt_error(TT_ERR_UNSUPPORTED, "safetensors: big-endian hosts are not supported");
    }
    if (len < 8) return tt_error(TT_ERR_FORMAT, "not a safetensors file: %zu bytes, shorter than the 8-byte header length", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
    if (n > TT_ST_MAX_HEADER)
        return tt_error(TT_ERR_LIMIT, "not a safetensors file? header length %llu exceeds the %llu-byte limit",
                        (unsigned long long)n, (unsigned long long)TT_ST_MAX_HEADER);
    if (n > len - 8)
        return tt_error(TT_ERR_CORRUPT, "safetensors header length %llu exceeds the %zu bytes after it (truncated file?)",
                        (unsigned long long)n, len - 8);
    if (n < 2 || bytes[8] != '{') return tt_error(TT_ERR_FORMAT, "not a safetensors file: header does not start with '{'");
    tt_parse p = {.js = (const char *)bytes + 8, .data_len = len - 8 - n};
    tt_status vst = tt_json_validate(p.js, (size_t)n);
    if (vst) return tt_error(vst, "safetensors header: %s", tt_last_error());
    jsmn_parser jp;
    jsmn_init(&jp);
    int cnt = jsmn_parse(&jp, p.js, (size_t)n, NULL, 0);
    if (cnt == JSMN_ERROR_PART) return tt_error(TT_ERR_FORMAT, "safetensors header: JSON ends early");
    if (cnt < 0) return tt_error(TT_ERR_FORMAT, "safetensors header: invalid JSON near byte %u", jp.pos);
    if ((size_t)cnt > TT_ST_MAX_TOKENS) return tt_error(TT_ERR_LIMIT, "safetensors header: %d JSON tokens exceed the limit", cnt);
    p.tok = malloc(sizeof *p.tok * (size_t)(cnt ? cnt : 1));
    f->strings = malloc((size_t)n + 1);
    if (!p.tok || !f->strings) { free(p.tok); return tt_error(TT_ERR_NOMEM, "safetensors: out of memory for the header"); }
    p.str = f->strings;
    jsmn_init(&jp);
    p.ntok = jsmn_parse(&jp, p.js, (size_t)n, p.tok, (unsigned)cnt);
    tt_status st = TT_OK;
    tt_order *order = NULL;
    tt_span *spans = NULL;
    if (p.ntok != cnt) { st = tt_error(TT_ERR_FORMAT, "safetensors header: invalid JSON near byte %u", jp.pos); goto done; }
    if (p.ntok < 1 || p.tok[0].type != JSMN_OBJECT) { st = tt_error(TT_ERR_FORMAT, "safetensors header: not a JSON object"); goto done; }
    int top = p.tok[0].size;
    f->tensors = calloc((size_t)top + 1, sizeof *f->tensors);
    spans = calloc((size_t)top + 1, sizeof *spans);
    f->meta_key = calloc((size_t)(cnt / 2) + 1, sizeof *f->meta_key);
    f->meta_val = calloc((size_t)(cnt / 2) + 1, sizeof *f->meta_val);
    if (!f->tensors || !spans || !f->meta_key || !f->meta_val) { st = tt_error(TT_ERR_NOMEM, "safetensors: out of memory"); goto done; }
    int have_meta = 0;
    for (int e = 0, i = 1; e < top; e++) {
        if (i + 1 >= p.ntok) { st = tt_error(TT_ERR_FORMAT, "safetensors header: truncated JSON"); goto done; }
        if (tt_tok_is(&p, i, "__metadata__")) {
            const jsmntok_t *m = &p.tok[i + 1];
            if (have_meta++ || m->type != JSMN_OBJECT) { st = tt_error(TT_ERR_FORMAT, "safetensors header: bad or repeated __metadata__"); goto done; }
            int j = i + 2;
            for (int q = 0; q < m->size; q++, j += 2) {
                if (j + 1 >= p.ntok) { st = tt_error(TT_ERR_FORMAT, "safetensors header: truncated __metadata__"); goto done; }
                if ((st = tt_st_string(&p, j, &f->meta_key[f->nmeta], "metadata key")) ||
                    (st = tt_st_string(&p, j + 1, &f->meta_val[f->nmeta], "metadata value")))
                    goto done;
                for (size_t r = 0; r < f->nmeta; r++)
                    if (strcmp(f->meta_key[r], f->meta_key[f->nmeta]) == 0) {
                        st = tt_error(TT_ERR_FORMAT, "safetensors header: metadata key '%s' repeated", f->meta_key[r]);
                        goto done;
                    }
                f->nmeta++;
            }
        } else {
            tt_st_tensor *t = &f->tensors[f->ntensors];
            if ((st = tt_st_string(&p, i, &t->name, "tensor name"))) goto done;
            if (!*t->name) { st = tt_error(TT_ERR_FORMAT, "safetensors header: empty tensor name"); goto done; }
            if (strlen(t->name) > TT_ST_MAX_NAME) {
                st = tt_error(TT_ERR_LIMIT, "safetensors header: a tensor name of %zu bytes (at most %d)", strlen(t->name), TT_ST_MAX_NAME);
                goto done;
            }
            if ((st = tt_parse_tensor(&p, i + 1, t, &spans[f->ntensors]))) goto done;
            f->ntensors++;
        }
        i = tt_skip(&p, i + 1);
    }
    /* Unique names, then the tensors must tile the data section exactly. */
    f->by_name = malloc(sizeof *f->by_name * (f->ntensors + 1));
    order = malloc(sizeof *order * (f->ntensors + 1));
    if (!f->by_name || !order) { st = tt_error(TT_ERR_NOMEM, "safetensors: out of memory"); goto done; }
    for (size_t i = 0; i < f->ntensors; i++) {
        f->by_name[i] = &f->tensors[i];
        order[i] = (tt_order){spans[i].begin, spans[i].end, i};
    }
    qsort(f->by_name, f->ntensors, sizeof *f->by_name, tt_cmp_name);
    for (size_t i = 1; i < f->ntensors; i++)
        if (strcmp(f->by_name[i]->name, f->by_name[i - 1]->name) == 0) {
            st = tt_error(TT_ERR_FORMAT, "safetensors header: tensor '%s' appears twice", f->by_name[i]->name);
            goto done;
        }
    qsort(order, f->ntensors, sizeof *order, tt_cmp_order);
    uint64_t cursor = 0;
    int misaligned = 0;
    const unsigned char *data = bytes + 8 + n;
    for (size_t i = 0; i < f->ntensors; i++) {
        const tt_st_tensor *t = &f->tensors[order[i].idx];
        if (order[i].begin < cursor) { st = tt_error(TT_ERR_CORRUPT, "tensor '%s': data overlaps the previous tensor", t->name); goto done; }
        if (order[i].begin > cursor) {
            st = tt_error(TT_ERR_CORRUPT, "tensor '%s': %llu-byte gap before its data", t->name, (unsigned long long)(order[i].begin - cursor));
            goto done;
        }
        cursor = order[i].end;
        misaligned |= (uintptr_t)(data + order[i].begin) % tt_dtypes[t->dtype].size != 0;
    }
    if (cursor != p.data_len) {
        st = tt_error(TT_ERR_CORRUPT, "safetensors: %llu bytes after the last tensor's data", (unsigned long long)(p.data_len - cursor));
        goto done;
    }
    if (misaligned) {
        void *copy = NULL;
        if (posix_memalign(&copy, 64, (size_t)p.data_len + 1) != 0) { st = tt_error(TT_ERR_NOMEM, "safetensors: out of memory"); goto done; }
        memcpy(copy, data, (size_t)p.data_len);
        f->data_copy = copy;
        data = copy;
    }
    /* Reorder the tensors into data order; by_name is rebuilt to match. */
    tt_st_tensor *sorted = malloc(sizeof *sorted * (f->ntensors + 1));
    if (!sorted) { st = tt_error(TT_ERR_NOMEM, "safetensors: out of memory"); goto done; }
    for (size_t i = 0; i < f->ntensors; i++) {
        sorted[i] = f->tensors[order[i].idx];
        sorted[i].data = data + order[i].begin;
        f->by_name[i] = &sorted[i];
    }
    free(f->tensors);
    f->tensors = sorted;
    qsort(f->by_name, f->ntensors, sizeof *f->by_name, tt_cmp_name);
    st = tt_check_tabtrain_meta(f);
done:
    free(p.tok);
    free(spans);
    free(order);
    return st;
}

tt_status tt_st_open_memory(tt_st_file **out, const void *bytes, size_t len) {
    if (!out || (!bytes && len)) return tt_error(TT_ERR_INVALID_ARG, "tt_st_open_memory: null argument");
    *out = NULL;
    tt_st_file *f = calloc(1, sizeof *f);
    if (!f) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
    tt_status st = tt_st_parse(f, bytes, len);
    if (st) { tt_st_close(f); return st; }
    *out = f;
    return TT_OK;
}

tt_status tt_st_open_file(tt_st_file **out, const char *path) {
    if (!out || !path) return tt_error(TT_ERR_INVALID_ARG, "tt_st_open_file: null argument");
    *out = NULL;
    void *buf;
    size_t len;
    tt_status st = tt_file_read(path, TT_FILE_MAX, &buf, &len);
    if (st) return st;
    st = tt_st_open_memory(out, buf, len);
    if (st) {
        /* Prefix the file name; the reason is already in the message. */
        free(buf);
        return tt_error(st, "%s: %s", path, tt_last_error());
    }
    (*out)->file_bytes = buf;
    return TT_OK;
}

size_t tt_st_count(const tt_st_file *f) { return f ? f->ntensors : 0; }

const tt_st_tensor *tt_st_tensor_at(const tt_st_file *f, size_t i) {
    return f && i < f->ntensors ? &f->tensors[i] : NULL;
}

const tt_st_tensor *tt_st_find(const tt_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

tt_status tt_st_get(const tt_st_file *f, const char *name, tt_dtype dtype, const tt_st_tensor **out) {
    const tt_st_tensor *t = tt_st_find(f, name);
    if (!t) return tt_error(TT_ERR_NOT_FOUND, "tensor '%s' not found", name ? name : "(null)");
    if (t->dtype != dtype)
        return tt_error(TT_ERR_UNSUPPORTED, "tensor '%s' is %s, expected %s", name, tt_dtype_name(t->dtype), tt_dtype_name(dtype));
    *out = t;
    return TT_OK;
}

const char *tt_st_metadata(const tt_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}

size_t tt_st_metadata_count(const tt_st_file *f) { return f ? f->nmeta : 0; }

void tt_st_metadata_at(const tt_st_file *f, size_t i, const char **key, const char **value) {
    *key = *value = NULL;
    if (f && i < f->nmeta) *key = f->meta_key[i], *value = f->meta_val[i];
}

/* ---------------------------------------------------------------- writer */

typedef struct tt_st_entry {
    char *name;
    tt_dtype dtype;
    int ndim;
    int64_t shape[TT_ST_MAX_DIMS];
    size_t nbytes;
    const void *data;
} tt_st_entry;

struct tt_st_builder {
    tt_st_entry *t;
    size_t n, cap;
    char **key, **val;
    size_t nmeta, metacap;
};

tt_status tt_st_builder_new(tt_st_builder **out) {
    if (!out) return tt_error(TT_ERR_INVALID_ARG, "tt_st_builder_new: null argument");
    *out = calloc(1, sizeof **out);
    return *out ? TT_OK : tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
}

void tt_st_builder_free(tt_st_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) free(b->t[i].name);
    for (size_t i = 0; i < b->nmeta; i++) free(b->key[i]), free(b->val[i]);
    free(b->t);
    free(b->key);
    free(b->val);
    free(b);
}


tt_status tt_st_add(tt_st_builder *b, const char *name, tt_dtype dtype, int ndim, const int64_t *shape,
                    const void *data) {
    if (!b || !name || (ndim > 0 && !shape)) return tt_error(TT_ERR_INVALID_ARG, "tt_st_add: null argument");
    if (!*name || strlen(name) > TT_ST_MAX_NAME || strcmp(name, "__metadata__") == 0 ||
        !tt_utf8_valid((const unsigned char *)name, strlen(name)))
        return tt_error(TT_ERR_INVALID_ARG, "tt_st_add: invalid tensor name '%s'", name);
    if ((unsigned)dtype >= TT_DTYPE_COUNT) return tt_error(TT_ERR_INVALID_ARG, "tensor '%s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > TT_ST_MAX_DIMS) return tt_error(TT_ERR_INVALID_ARG, "tensor '%s': %d dims", name, ndim);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->t[i].name, name) == 0) return tt_error(TT_ERR_INVALID_ARG, "tensor '%s' added twice", name);
    size_t nbytes = tt_dtypes[dtype].size;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return tt_error(TT_ERR_INVALID_ARG, "tensor '%s': negative dim", name);
        if (shape[d] && nbytes > SIZE_MAX / (uint64_t)shape[d]) return tt_error(TT_ERR_LIMIT, "tensor '%s': too large", name);
        nbytes *= (size_t)shape[d];
    }
    if (nbytes && !data) return tt_error(TT_ERR_INVALID_ARG, "tensor '%s': null data", name);
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        tt_st_entry *t = realloc(b->t, cap * sizeof *t);
        if (!t) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
        b->t = t, b->cap = cap;
    }
    tt_st_entry *e = &b->t[b->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = tt_strdup(name))) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
    e->dtype = dtype, e->ndim = ndim, e->nbytes = nbytes, e->data = data;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    b->n++;
    return TT_OK;
}

static tt_status tt_set_meta(tt_st_builder *b, const char *key, const char *value) {
    for (size_t i = 0; i < b->nmeta; i++)
        if (strcmp(b->key[i], key) == 0) {
            char *v = tt_strdup(value);
            if (!v) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
            free(b->val[i]);
            b->val[i] = v;
            return TT_OK;
        }
    if (b->nmeta == b->metacap) {
        size_t cap = b->metacap ? 2 * b->metacap : 16;
        char **k = realloc(b->key, cap * sizeof *k);
        if (!k) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
        b->key = k;
        char **v = realloc(b->val, cap * sizeof *v);
        if (!v) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
        b->val = v, b->metacap = cap;
    }
    char *k = tt_strdup(key), *v = tt_strdup(value);
    if (!k || !v) { free(k); free(v); return tt_error(TT_ERR_NOMEM, "safetensors: out of memory"); }
    b->key[b->nmeta] = k, b->val[b->nmeta] = v, b->nmeta++;
    return TT_OK;
}

tt_status tt_st_set_metadata(tt_st_builder *b, const char *key, const char *value) {
    if (!b || !key || !value) return tt_error(TT_ERR_INVALID_ARG, "tt_st_set_metadata: null argument");
    if (strcmp(key, TT_META_VERSION) == 0 || strncmp(key, TT_META_CRC, strlen(TT_META_CRC)) == 0)
        return tt_error(TT_ERR_INVALID_ARG, "metadata key '%s' is reserved: the writer sets it", key);
    if (!tt_utf8_valid((const unsigned char *)key, strlen(key)) || !tt_utf8_valid((const unsigned char *)value, strlen(value)))
        return tt_error(TT_ERR_INVALID_ARG, "metadata '%.64s': key or value is not valid UTF-8", key);
    return tt_set_meta(b, key, value);
}

typedef struct tt_buf {
    char *p;
    size_t n, cap;
    int oom;
} tt_buf;

/* Room for n more bytes plus a NUL; 0 (and b->oom set) when out of memory. */
static int tt_reserve(tt_buf *b, size_t n) {
    if (b->oom) return 0;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return 0; }
        b->p = p, b->cap = cap;
    }
    return 1;
}

static void tt_put(tt_buf *b, const char *s, size_t n) {
    if (!tt_reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void tt_puts(tt_buf *b, const char *s) { tt_put(b, s, strlen(s)); }


static void tt_put_json_string(tt_buf *b, const char *s) {
    size_t need = tt_json_quote(NULL, 0, s);
    if (!tt_reserve(b, need)) return;
    tt_json_quote(b->p + b->n, need + 1, s);
    b->n += need;
}

/* Header bytes (8-byte length first, padded to a multiple of 8) and the
 * order in which the tensors' data follows it. */
static tt_status tt_st_layout(const tt_st_builder *b, tt_buf *h, size_t *order) {
    size_t k = 0;
    for (size_t sz = 8; sz >= 1; sz /= 2)
        for (size_t i = 0; i < b->n; i++)
            if (tt_dtypes[b->t[i].dtype].size == sz) order[k++] = i;
    char num[96];
    tt_put(h, "\0\0\0\0\0\0\0\0", 8);
    snprintf(num, sizeof num, "{\"__metadata__\":{\"%s\":\"%d\"", TT_META_VERSION, TT_ST_FORMAT_VERSION);
    tt_puts(h, num);
    for (size_t i = 0; i < b->nmeta; i++) {
        tt_put(h, ",", 1);
        tt_put_json_string(h, b->key[i]);
        tt_put(h, ":", 1);
        tt_put_json_string(h, b->val[i]);
    }
    for (size_t i = 0; i < b->n; i++) {
        const tt_st_entry *e = &b->t[order[i]];
        size_t n = strlen(TT_META_CRC) + strlen(e->name) + 1;
        char *key = malloc(n);
        if (!key) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
        snprintf(key, n, "%s%s", TT_META_CRC, e->name);
        tt_put(h, ",", 1);
        tt_put_json_string(h, key);
        free(key);
        snprintf(num, sizeof num, ":\"%08x\"", (unsigned)tt_crc32(0, e->data, e->nbytes));
        tt_puts(h, num);
    }
    tt_put(h, "}", 1);
    unsigned long long off = 0;
    for (size_t i = 0; i < b->n; i++) {
        const tt_st_entry *e = &b->t[order[i]];
        tt_put(h, ",", 1);
        tt_put_json_string(h, e->name);
        snprintf(num, sizeof num, ":{\"dtype\":\"%s\",\"shape\":[", tt_dtypes[e->dtype].name);
        tt_puts(h, num);
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e->shape[d]);
            tt_puts(h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", off, off + e->nbytes);
        tt_puts(h, num);
        off += e->nbytes;
    }
    tt_put(h, "}", 1);
    while (h->n % 8) tt_put(h, " ", 1);
    if (h->oom) return tt_error(TT_ERR_NOMEM, "safetensors: out of memory for the header");
    uint64_t hn = h->n - 8;
    for (int i = 0; i < 8; i++) h->p[i] = (char)(hn >> (8 * i));
    return TT_OK;
}

/* The file as chunks: header, then each tensor where it lives. */
static tt_status tt_st_serialize(tt_st_builder *b, tt_chunk **chunks, size_t *nchunks, tt_buf *h) {
    if (!b) return tt_error(TT_ERR_INVALID_ARG, "safetensors writer: null builder");
    size_t *order = malloc(sizeof *order * (b->n + 1));
    *chunks = malloc(sizeof **chunks * (b->n + 1));
    tt_status st = order && *chunks ? tt_st_layout(b, h, order) : tt_error(TT_ERR_NOMEM, "safetensors: out of memory");
    if (!st) {
        (*chunks)[0] = (tt_chunk){h->p, h->n};
        for (size_t i = 0; i < b->n; i++) (*chunks)[i + 1] = (tt_chunk){b->t[order[i]].data, b->t[order[i]].nbytes};
        *nchunks = b->n + 1;
    }
    free(order);
    return st;
}

tt_status tt_st_write_memory(tt_st_builder *b, void **out, size_t *len) {
    if (!out || !len) return tt_error(TT_ERR_INVALID_ARG, "tt_st_write_memory: null argument");
    *out = NULL;
    *len = 0;
    tt_buf h = {0};
    tt_chunk *c = NULL;
    size_t nc = 0;
    tt_status st = tt_st_serialize(b, &c, &nc, &h);
    size_t total = 0;
    for (size_t i = 0; !st && i < nc; i++) total += c[i].len;
    char *p = st ? NULL : malloc(total ? total : 1);
    if (!st && !p) st = tt_error(TT_ERR_NOMEM, "safetensors: cannot allocate %zu bytes", total);
    if (!st) {
        size_t at = 0;
        for (size_t i = 0; i < nc; i++) {
            if (c[i].len) memcpy(p + at, c[i].data, c[i].len);
            at += c[i].len;
        }
        *out = p;
        *len = total;
    }
    free(c);
    free(h.p);
    return st;
}

tt_status tt_st_write_file(tt_st_builder *b, const char *path) {
    if (!path) return tt_error(TT_ERR_INVALID_ARG, "tt_st_write_file: null path");
    tt_buf h = {0};
    tt_chunk *c = NULL;
    size_t nc = 0;
    tt_status st = tt_st_serialize(b, &c, &nc, &h);
    if (!st) st = tt_file_write_atomic(path, c, nc);
    free(c);
    free(h.p);
    return st;
}
