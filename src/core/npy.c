#include "tabtrain/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/fileio.h"

static const char tt_npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct tt_lex {
    const char *s, *e;
} tt_lex;

static void tt_ws(tt_lex *x) {
    while (x->s < x->e && (*x->s == ' ' || *x->s == '\t' || *x->s == '\n' || *x->s == '\r')) x->s++;
}

static int tt_eat(tt_lex *x, char c) {
    tt_ws(x);
    if (x->s < x->e && *x->s == c) { x->s++; return 1; }
    return 0;
}

/* A Python string literal in single or double quotes, without escapes. */
static int tt_pystr(tt_lex *x, const char **s, size_t *n) {
    tt_ws(x);
    if (x->s >= x->e || (*x->s != '\'' && *x->s != '"')) return 0;
    char q = *x->s++;
    const char *b = x->s;
    while (x->s < x->e && *x->s != q && *x->s != '\\') x->s++;
    if (x->s >= x->e || *x->s != q) return 0;
    *s = b, *n = (size_t)(x->s - b);
    x->s++;
    return 1;
}

static int tt_word(tt_lex *x, const char *w) {
    tt_ws(x);
    size_t n = strlen(w);
    if ((size_t)(x->e - x->s) < n || memcmp(x->s, w, n) != 0) return 0;
    x->s += n;
    return 1;
}

static tt_status tt_bad(const char *what) { return tt_error(TT_ERR_FORMAT, "NPY header: %s", what); }

static tt_status tt_npy_dict(tt_lex *x, tt_npy *a) {
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!tt_eat(x, '{')) return tt_bad("not a dict");
    while (!tt_eat(x, '}')) {
        const char *k;
        size_t kn;
        if (!tt_pystr(x, &k, &kn) || !tt_eat(x, ':')) return tt_bad("expected 'key':");
        if (kn == 5 && !memcmp(k, "descr", 5) && !have_descr) {
            const char *d;
            size_t dn;
            if (!tt_pystr(x, &d, &dn)) return tt_bad("descr must be a string");
            static const struct { const char *s; tt_dtype dt; } map[] = {
                {"<f4", TT_DTYPE_F32}, {"<f8", TT_DTYPE_F64}, {"<i4", TT_DTYPE_I32},
                {"<i8", TT_DTYPE_I64}, {"|u1", TT_DTYPE_U8},  {"<u1", TT_DTYPE_U8},
            };
            have_descr = -1;
            for (size_t i = 0; i < sizeof map / sizeof *map; i++)
                if (dn == 3 && !memcmp(d, map[i].s, 3)) a->dtype = map[i].dt, have_descr = 1;
            if (have_descr < 0)
                return tt_error(TT_ERR_UNSUPPORTED, "NPY dtype '%.*s' not supported (want '<f4', '<f8', '<i4', '<i8' or '|u1')",
                                dn > 16 ? 16 : (int)dn, d);
        } else if (kn == 13 && !memcmp(k, "fortran_order", 13) && !have_order) {
            have_order = 1;
            if (tt_word(x, "True")) return tt_error(TT_ERR_UNSUPPORTED, "NPY fortran_order True is not supported (save C order)");
            if (!tt_word(x, "False")) return tt_bad("fortran_order must be True or False");
        } else if (kn == 5 && !memcmp(k, "shape", 5) && !have_shape) {
            have_shape = 1;
            if (!tt_eat(x, '(')) return tt_bad("shape must be a tuple");
            a->ndim = 0;
            while (!tt_eat(x, ')')) {
                if (a->ndim == TT_NPY_MAX_DIMS) return tt_error(TT_ERR_UNSUPPORTED, "NPY: more than %d dims", TT_NPY_MAX_DIMS);
                tt_ws(x);
                uint64_t v = 0;
                const char *b = x->s;
                while (x->s < x->e && *x->s >= '0' && *x->s <= '9' && x->s - b < 18) v = v * 10 + (uint64_t)(*x->s++ - '0');
                if (x->s == b || (x->s < x->e && *x->s >= '0' && *x->s <= '9')) return tt_bad("shape entries must be non-negative integers");
                a->shape[a->ndim++] = (int64_t)v;
                if (!tt_eat(x, ',')) {
                    if (!tt_eat(x, ')')) return tt_bad("unterminated shape tuple");
                    break;
                }
            }
        } else {
            return tt_bad("unexpected or repeated key");
        }
        if (!tt_eat(x, ',')) {
            if (!tt_eat(x, '}')) return tt_bad("expected ',' or '}'");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape) return tt_bad("missing descr, fortran_order or shape");
    tt_ws(x);
    if (x->s != x->e) return tt_bad("trailing characters after the dict");
    return TT_OK;
}

tt_status tt_npy_parse(const void *bytes, size_t len, tt_npy *a) {
    if (!a || (!bytes && len)) return tt_error(TT_ERR_INVALID_ARG, "tt_npy_parse: null argument");
    memset(a, 0, sizeof *a);
    const unsigned char *b = bytes;
    if (len < 10 || memcmp(b, tt_npy_magic, 6) != 0) return tt_error(TT_ERR_FORMAT, "not an NPY file (no \\x93NUMPY magic)");
    unsigned major = b[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return tt_error(TT_ERR_FORMAT, "NPY v%u: truncated preamble", major);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        return tt_error(TT_ERR_UNSUPPORTED, "NPY format version %u.%u not supported (1, 2 or 3)", major, b[7]);
    }
    if (hlen > len - hstart) return tt_error(TT_ERR_FORMAT, "NPY header length %zu exceeds the file (%zu bytes): truncated?", hlen, len);
    tt_lex x = {(const char *)b + hstart, (const char *)b + hstart + hlen};
    tt_status st = tt_npy_dict(&x, a);
    if (st) return st;
    size_t esize = tt_dtype_size(a->dtype), numel = 1;
    for (int d = 0; d < a->ndim; d++) {
        size_t dim = (size_t)a->shape[d];
        if (dim && numel > SIZE_MAX / esize / dim) return tt_error(TT_ERR_LIMIT, "NPY shape too large");
        numel *= dim;
    }
    size_t have = len - hstart - hlen;
    if (have != numel * esize)
        return tt_error(TT_ERR_FORMAT, "NPY data is %zu bytes but the shape needs %zu (%s)", have, numel * esize,
                        have < numel * esize ? "truncated" : "trailing bytes");
    a->numel = numel;
    a->nbytes = numel * esize;
    a->data = b + hstart + hlen;
    return TT_OK;
}

tt_status tt_npy_read_file(const char *path, void **buf, tt_npy *out) {
    if (!path || !buf || !out) return tt_error(TT_ERR_INVALID_ARG, "tt_npy_read_file: null argument");
    size_t len;
    tt_status st = tt_file_read(path, TT_FILE_MAX, buf, &len);
    if (st) return st;
    st = tt_npy_parse(*buf, len, out);
    if (st) {
        free(*buf);
        *buf = NULL;
        return tt_error(st, "%s: %s", path, tt_last_error());
    }
    return TT_OK;
}

tt_status tt_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape) {
    if (!path || ndim < 0 || ndim > TT_NPY_MAX_DIMS || (ndim && !shape))
        return tt_error(TT_ERR_INVALID_ARG, "tt_npy_write_f32: bad argument");
    char h[128 + 32 * TT_NPY_MAX_DIMS];
    size_t numel = 1;
    int n = snprintf(h + 10, sizeof h - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return tt_error(TT_ERR_INVALID_ARG, "tt_npy_write_f32: negative dim");
        numel *= (size_t)shape[d];
        n += snprintf(h + 10 + n, sizeof h - 10 - (size_t)n, ndim == 1 ? "%lld," : d ? ", %lld" : "%lld", (long long)shape[d]);
    }
    n += snprintf(h + 10 + n, sizeof h - 10 - (size_t)n, "), }");
    if (numel && !data) return tt_error(TT_ERR_INVALID_ARG, "tt_npy_write_f32: null data");
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64; /* +1: the closing newline */
    memset(h + 10 + n, ' ', total - 10 - (size_t)n);
    h[total - 1] = '\n';
    memcpy(h, tt_npy_magic, 6);
    h[6] = 1, h[7] = 0;
    h[8] = (char)((total - 10) & 0xFF), h[9] = (char)((total - 10) >> 8);
    tt_chunk c[2] = {{h, total}, {data, numel * sizeof(float)}};
    return tt_file_write_atomic(path, c, 2);
}
