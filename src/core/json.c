/* JSON reading on top of jsmn, and the list of names (see json.h). */
#include "tabtrain/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

/* ---- the walker ------------------------------------------------------------ */

typedef struct tt_key_ref {
    const char *s;
    int n;
} tt_key_ref;

static int tt_key_cmp(const void *a, const void *b) {
    const tt_key_ref *x = a, *y = b;
    int c = memcmp(x->s, y->s, (size_t)(x->n < y->n ? x->n : y->n));
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* jsmn (even strict) takes {"a"} and {"a":1,"b"}: a key without a value, which
 * every walk below would step past the last token for. And with a repeated
 * key, which value a reader sees depends on how it looks (first match here,
 * last assignment in a loop over members), and a loop that allocates per key
 * leaks. So every object must be string keys each with one value, all keys
 * distinct (compared as written). Linear in the tokens: next[] is each
 * token's next sibling, found with one stack pass over the pre-order. */
static tt_status tt_json_check_objects(const char *js, const jsmntok_t *tok, int n) {
    int *next = malloc(((size_t)n + 1) * sizeof *next), *stack = malloc(((size_t)n + 1) * sizeof *stack);
    tt_key_ref *keys = malloc(((size_t)n + 1) * sizeof *keys);
    tt_status st = next && stack && keys ? TT_OK : tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    int top = 0;
    for (int i = 0; !st && i <= n; i++) {
        while (top && (i == n || tok[stack[top - 1]].end <= tok[i].start)) next[stack[--top]] = i;
        if (i < n) stack[top++] = i;
    }
    for (int o = 0; !st && o < n; o++) {
        if (tok[o].type != JSMN_OBJECT) continue;
        int k = o + 1, m = 0;
        for (int q = 0; q < tok[o].size; q++, k = next[k + 1]) {
            if (k >= n || tok[k].type != JSMN_STRING || tok[k].size != 1 || k + 1 >= n) {
                st = tt_error(TT_ERR_FORMAT, "JSON: a key without a value in %.60s", js);
                break;
            }
            keys[m++] = (tt_key_ref){js + tok[k].start, tok[k].end - tok[k].start};
        }
        if (st) break;
        qsort(keys, (size_t)m, sizeof *keys, tt_key_cmp);
        for (int q = 1; q < m; q++)
            if (!tt_key_cmp(&keys[q - 1], &keys[q])) {
                st = tt_error(TT_ERR_FORMAT, "JSON: key \"%.*s\" given twice in %.60s",
                              keys[q].n > 40 ? 40 : keys[q].n, keys[q].s, js);
                break;
            }
    }
    free(next), free(stack), free(keys);
    return st;
}

/* Strict JSON syntax check before tokenizing: jsmn accepts some malformed
 * input (trailing commas, missing separators), and this also bounds nesting
 * so no later walk can be driven deep by a hostile header. */
#define TT_JSON_MAX_DEPTH 16

tt_status tt_json_validate(const char *s, size_t n) {
    enum { VALUE, VALUE_OR_END, KEY, KEY_OR_END, COLON, AFTER } state = VALUE;
    char stack[TT_JSON_MAX_DEPTH];
    int depth = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i == n) {
            if (state == AFTER && depth == 0) return TT_OK;
            return tt_error(TT_ERR_FORMAT, "JSON ends early");
        }
        char c = s[i];
        if (state == AFTER) {
            if (depth == 0) return tt_error(TT_ERR_FORMAT, "unexpected byte 0x%02x after the JSON object (byte %zu)", (unsigned char)c, i);
            if (c == ',') state = stack[depth - 1] == '{' ? KEY : VALUE;
            else if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '[')) depth--;
            else goto bad;
            i++;
            continue;
        }
        if (state == COLON) {
            if (c != ':') goto bad;
            state = VALUE;
            i++;
            continue;
        }
        if ((state == KEY_OR_END && c == '}') || (state == VALUE_OR_END && c == ']')) {
            depth--;
            state = AFTER;
            i++;
            continue;
        }
        if ((state == KEY || state == KEY_OR_END) && c != '"') goto bad;
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if ((unsigned char)s[i] < 0x20) goto bad;
                if (s[i] == '\\') {
                    if (++i >= n || !strchr("\"\\/bfnrtu", s[i])) goto bad;
                    if (s[i] == 'u') {
                        if (n - i < 5) goto bad;
                        for (int k = 1; k <= 4; k++)
                            if (!s[i + k] || !strchr("0123456789abcdefABCDEF", s[i + k])) goto bad;
                        i += 4;
                    }
                }
            }
            if (i >= n) goto bad;
            i++;
            state = state == KEY || state == KEY_OR_END ? COLON : AFTER;
        } else if (c == '{' || c == '[') {
            if (depth == TT_JSON_MAX_DEPTH)
                return tt_error(TT_ERR_LIMIT, "JSON nested deeper than %d", TT_JSON_MAX_DEPTH);
            stack[depth++] = c;
            state = c == '{' ? KEY_OR_END : VALUE_OR_END;
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (c == '-') i++;
            if (i < n && s[i] == '0') i++;
            else if (i < n && s[i] >= '1' && s[i] <= '9') while (i < n && s[i] >= '0' && s[i] <= '9') i++;
            else goto bad;
            if (i < n && s[i] == '.') {
                size_t d = ++i;
                while (i < n && s[i] >= '0' && s[i] <= '9') i++;
                if (i == d) goto bad;
            }
            if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
                size_t d = i;
                while (i < n && s[i] >= '0' && s[i] <= '9') i++;
                if (i == d) goto bad;
            }
            state = AFTER;
        } else {
            static const char *const lits[] = {"true", "false", "null"};
            size_t k = 0;
            for (; k < 3; k++)
                if (n - i >= strlen(lits[k]) && !memcmp(s + i, lits[k], strlen(lits[k]))) break;
            if (k == 3) goto bad;
            i += strlen(lits[k]);
            state = AFTER;
        }
    }
bad:
    return tt_error(TT_ERR_FORMAT, "invalid JSON at byte %zu", i);
}

size_t tt_json_quote(char *dst, size_t cap, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
#define TT_EMIT(ch) do { if (n + 1 < cap) dst[n] = (ch); n++; } while (0)
    TT_EMIT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
               : c == '\b' ? 'b' : c == '\f' ? 'f' : 0;
        if (e) {
            TT_EMIT('\\');
            TT_EMIT(e);
        } else if (c < 0x20) {
            TT_EMIT('\\'); TT_EMIT('u'); TT_EMIT('0'); TT_EMIT('0');
            TT_EMIT(hex[c >> 4]); TT_EMIT(hex[c & 15]);
        } else {
            TT_EMIT((char)c);
        }
    }
    TT_EMIT('"');
#undef TT_EMIT
    if (cap) dst[n < cap ? n : cap - 1] = '\0';
    return n;
}

tt_status tt_json_parse(tt_json *j, const char *js) {
    *j = (tt_json){.js = js};
    size_t len = strlen(js);
    jsmn_parser p;
    jsmn_init(&p);
    int count = jsmn_parse(&p, js, len, NULL, 0);
    if (count < 1) return tt_error(TT_ERR_FORMAT, "JSON: not a JSON value: %.60s", js);
    jsmntok_t *tok = malloc((size_t)count * sizeof *tok);
    if (!tok) return tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    jsmn_init(&p);
    if (jsmn_parse(&p, js, len, tok, (unsigned)count) != count) {
        free(tok);
        return tt_error(TT_ERR_FORMAT, "JSON: not a JSON value: %.60s", js);
    }
    tt_status st = tt_json_check_objects(js, tok, count);
    if (st) {
        free(tok);
        return st;
    }
    j->tok = tok, j->n = count;
    return TT_OK;
}

void tt_json_free(tt_json *j) {
    free(j->tok);
    j->tok = NULL, j->n = 0;
}

static const jsmntok_t *tt_json_tok(const tt_json *j, int i) {
    return i >= 0 && i < j->n ? (const jsmntok_t *)j->tok + i : NULL;
}

/* Index just past the value at i: tokens nested in it start before it ends
 * (a walk over positions, not a recursion a deep document could drive). */
static int tt_json_skip(const tt_json *j, int i) {
    const jsmntok_t *tok = j->tok;
    if (i < 0 || i >= j->n) return j->n;
    int end = tok[i].end;
    for (i++; i < j->n && tok[i].start < end; i++) {}
    return i;
}

int tt_json_eq(const tt_json *j, int i, const char *s) {
    const jsmntok_t *t = tt_json_tok(j, i);
    size_t n = t ? (size_t)(t->end - t->start) : 0;
    return t && t->type == JSMN_STRING && strlen(s) == n && !memcmp(j->js + t->start, s, n);
}

int tt_json_key(const tt_json *j, int obj, const char *key) {
    const jsmntok_t *o = tt_json_tok(j, obj);
    if (!o || o->type != JSMN_OBJECT) return -1;
    int i = obj + 1;
    for (int k = 0; k < o->size; k++) {
        if (tt_json_eq(j, i, key)) return i + 1;
        i = tt_json_skip(j, i + 1);
    }
    return -1;
}

int tt_json_members(const tt_json *j, int obj) {
    const jsmntok_t *o = tt_json_tok(j, obj);
    return o && o->type == JSMN_OBJECT ? o->size : -1;
}

int tt_json_member(const tt_json *j, int obj, int k) {
    if (k < 0 || k >= tt_json_members(j, obj)) return -1;
    int i = obj + 1;
    while (k--) i = tt_json_skip(j, i + 1);
    return i;
}

int tt_json_len(const tt_json *j, int arr) {
    const jsmntok_t *a = tt_json_tok(j, arr);
    return a && a->type == JSMN_ARRAY ? a->size : -1;
}

int tt_json_at(const tt_json *j, int arr, int k) {
    if (k < 0 || k >= tt_json_len(j, arr)) return -1;
    int i = arr + 1;
    while (k--) i = tt_json_skip(j, i);
    return i;
}

int tt_json_text(const tt_json *j, int i, char *buf, size_t cap) {
    const jsmntok_t *t = tt_json_tok(j, i);
    if (!t) return 0;
    size_t n = (size_t)(t->end - t->start);
    if ((t->type != JSMN_PRIMITIVE && t->type != JSMN_STRING) || n >= cap) return 0;
    memcpy(buf, j->js + t->start, n);
    buf[n] = '\0';
    return 1;
}

static int tt_json_is(const tt_json *j, int i, jsmntype_t type) {
    const jsmntok_t *t = tt_json_tok(j, i);
    return t && t->type == type;
}

int tt_json_num(const tt_json *j, int i, double *v, int is_float) {
    char buf[64], *end;
    if (!tt_json_is(j, i, JSMN_PRIMITIVE) || !tt_json_text(j, i, buf, sizeof buf)) return 0;
    if (!strcmp(buf, "null")) return *v = NAN, 1;
    *v = is_float ? (double)strtof(buf, &end) : strtod(buf, &end);
    return *end == '\0' && end != buf;
}

int tt_json_bool(const tt_json *j, int i, int *v) {
    char buf[8];
    if (!tt_json_is(j, i, JSMN_PRIMITIVE) || !tt_json_text(j, i, buf, sizeof buf)) return 0;
    if (strcmp(buf, "true") && strcmp(buf, "false")) return 0;
    return *v = buf[0] == 't', 1;
}

int tt_json_i64(const tt_json *j, int i, int64_t *v) {
    char buf[32], *end;
    if (!tt_json_is(j, i, JSMN_PRIMITIVE) || !tt_json_text(j, i, buf, sizeof buf)) return 0;
    *v = strtoll(buf, &end, 10);
    return *end == '\0' && end != buf;
}

int tt_json_int(const tt_json *j, int i, int *v) {
    int64_t w;
    if (!tt_json_i64(j, i, &w) || w < INT32_MIN || w > INT32_MAX) return 0;
    return *v = (int)w, 1;
}

int tt_json_u64(const tt_json *j, int i, uint64_t *v) {
    char buf[32], *end;
    if (!tt_json_is(j, i, JSMN_STRING) || !tt_json_text(j, i, buf, sizeof buf) || !buf[0]) return 0;
    *v = strtoull(buf, &end, 10);
    return *end == '\0';
}

/* ---- strings ----------------------------------------------------------------- */

static int tt_hex4(const char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16) return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

static size_t tt_utf8_put(char *o, unsigned c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t tt_json_unescape(const char *s, size_t n, char *out) {
    const char *e = s + n;
    char *o = out;
    while (s < e) {
        char c = *s++;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        if (s >= e) return (size_t)-1;
        char x = *s++;
        unsigned cp, lo;
        switch (x) {
            case '"': case '\\': case '/': *o++ = x; continue;
            case 'b': *o++ = '\b'; continue;
            case 'f': *o++ = '\f'; continue;
            case 'n': *o++ = '\n'; continue;
            case 'r': *o++ = '\r'; continue;
            case 't': *o++ = '\t'; continue;
            case 'u': break;
            default: return (size_t)-1;
        }
        if (e - s < 4 || !tt_hex4(s, &cp)) return (size_t)-1;
        s += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return (size_t)-1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || !tt_hex4(s + 2, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return (size_t)-1;
            s += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        o += tt_utf8_put(o, cp);
    }
    *o = '\0';
    return (size_t)(o - out);
}

tt_status tt_json_string(const tt_json *j, int i, char **out) {
    *out = NULL;
    const jsmntok_t *t = tt_json_tok(j, i);
    if (!t || t->type != JSMN_STRING) return tt_error(TT_ERR_FORMAT, "JSON: not a string");
    size_t n = (size_t)(t->end - t->start);
    char *d = malloc(n + 1);
    if (!d) return tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    if (tt_json_unescape(j->js + t->start, n, d) == (size_t)-1) {
        free(d);
        return tt_error(TT_ERR_FORMAT, "JSON: bad escape (a surrogate without its other half?)");
    }
    *out = d;
    return TT_OK;
}

void tt_json_free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

tt_status tt_json_string_array(const char *js, char ***out, int *n) {
    *out = NULL, *n = 0;
    tt_json j;
    tt_status st = tt_json_parse(&j, js);
    if (st) return st;
    const jsmntok_t *tok = j.tok;
    int count = tt_json_len(&j, 0);
    /* count == n - 1: no element has tokens of its own (no nested arrays or objects) */
    if (count != j.n - 1) st = tt_error(TT_ERR_FORMAT, "JSON: expected an array of strings: %.60s", js);
    char **v = st ? NULL : calloc((size_t)count + 1, sizeof *v);
    if (!st && !v) st = tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    for (int i = 0; !st && i < count; i++) {
        const jsmntok_t *t = &tok[i + 1];
        size_t len = (size_t)(t->end - t->start);
        if (t->type != JSMN_STRING)
            st = tt_error(TT_ERR_FORMAT, "JSON: expected an array of strings: %.60s", js);
        else if (!(v[i] = malloc(len + 1)))
            st = tt_error(TT_ERR_NOMEM, "JSON: out of memory");
        else if (tt_json_unescape(js + t->start, len, v[i]) == (size_t)-1)
            st = tt_error(TT_ERR_FORMAT, "JSON: bad escape in string %d of %.60s", i, js);
    }
    tt_json_free(&j);
    if (st) {
        tt_json_free_strings(v, count);
        return st;
    }
    *out = v, *n = count;
    return TT_OK;
}

tt_status tt_json_number(const char *js, const char *key, double *out) {
    tt_json j;
    tt_status st = tt_json_parse(&j, js);
    if (st) return st;
    const jsmntok_t *v = tt_json_tok(&j, tt_json_key(&j, 0, key));
    if (!tt_json_is(&j, 0, JSMN_OBJECT))
        st = tt_error(TT_ERR_FORMAT, "JSON: expected an object: %.60s", js);
    else if (!v)
        st = tt_error(TT_ERR_NOT_FOUND, "JSON: no \"%s\" in %.60s", key, js);
    else if (v->type != JSMN_PRIMITIVE || !strchr("-0123456789n", js[v->start]))
        st = tt_error(TT_ERR_FORMAT, "JSON: \"%s\" is not a number", key);
    else
        *out = js[v->start] == 'n' ? NAN : strtod(js + v->start, NULL);
    tt_json_free(&j);
    return st;
}

char *tt_json_string_list(char *const *names, int n) {
    size_t cap = 3; /* [ ] NUL */
    for (int i = 0; i < n; i++) cap += tt_json_quote(NULL, 0, names[i]) + 1;
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i) *p++ = ',';
        p += tt_json_quote(p, cap - (size_t)(p - s), names[i]);
    }
    strcpy(p, "]");
    return s;
}
