/* Small JSON readers on top of jsmn (see json.h). */
#include "tabtrain/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

/* Tokens of js, malloc'd; count in *n. */
static tt_status tt_json_tokens(const char *js, jsmntok_t **out, int *n) {
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
    *out = tok, *n = count;
    return TT_OK;
}

static int tt_hexval(const char *s, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d == 16) return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

/* Unescaped copy of the string token's text (output never longer than input). */
static char *tt_json_unescape(const char *s, size_t n) {
    char *o = malloc(n + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            *w++ = s[i];
            continue;
        }
        char c = s[++i];
        const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", c);
        if (c != 'u') {
            *w++ = map ? map[1] : c;
            continue;
        }
        unsigned u = 0, lo;
        if (i + 4 < n && tt_hexval(s + i + 1, &u)) i += 4;
        if (u >= 0xd800 && u < 0xdc00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u' &&
            tt_hexval(s + i + 3, &lo) && lo >= 0xdc00 && lo < 0xe000)
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00), i += 6;
        if (u < 0x80) *w++ = (char)u;
        else if (u < 0x800) *w++ = (char)(0xc0 | u >> 6), *w++ = (char)(0x80 | (u & 63));
        else if (u < 0x10000) *w++ = (char)(0xe0 | u >> 12), *w++ = (char)(0x80 | ((u >> 6) & 63)), *w++ = (char)(0x80 | (u & 63));
        else *w++ = (char)(0xf0 | u >> 18), *w++ = (char)(0x80 | ((u >> 12) & 63)), *w++ = (char)(0x80 | ((u >> 6) & 63)), *w++ = (char)(0x80 | (u & 63));
    }
    *w = 0;
    return o;
}

void tt_json_free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

tt_status tt_json_string_array(const char *js, char ***out, int *n) {
    *out = NULL, *n = 0;
    jsmntok_t *tok;
    int nt;
    tt_status st = tt_json_tokens(js, &tok, &nt);
    if (st) return st;
    if (tok[0].type != JSMN_ARRAY || tok[0].size != nt - 1) {
        free(tok);
        return tt_error(TT_ERR_FORMAT, "JSON: expected an array of strings: %.60s", js);
    }
    char **v = calloc((size_t)nt, sizeof *v);
    if (!v) st = tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    for (int i = 1; !st && i < nt; i++) {
        if (tok[i].type != JSMN_STRING) st = tt_error(TT_ERR_FORMAT, "JSON: expected an array of strings: %.60s", js);
        else if (!(v[i - 1] = tt_json_unescape(js + tok[i].start, (size_t)(tok[i].end - tok[i].start))))
            st = tt_error(TT_ERR_NOMEM, "JSON: out of memory");
    }
    free(tok);
    if (st) {
        tt_json_free_strings(v, nt - 1);
        return st;
    }
    *out = v, *n = nt - 1;
    return TT_OK;
}

tt_status tt_json_number(const char *js, const char *key, double *out) {
    jsmntok_t *tok;
    int nt;
    tt_status st = tt_json_tokens(js, &tok, &nt);
    if (st) return st;
    if (tok[0].type != JSMN_OBJECT) st = tt_error(TT_ERR_FORMAT, "JSON: expected an object: %.60s", js);
    size_t klen = strlen(key);
    /* Walk the top-level members, skipping nested values by their token span. */
    for (int i = 1, m = 0; !st && m < tok[0].size; m++) {
        const jsmntok_t *k = &tok[i], *v = &tok[i + 1];
        if (k->type == JSMN_STRING && (size_t)(k->end - k->start) == klen && !memcmp(js + k->start, key, klen)) {
            if (v->type != JSMN_PRIMITIVE || !strchr("-0123456789n", js[v->start]))
                st = tt_error(TT_ERR_FORMAT, "JSON: \"%s\" is not a number", key);
            else *out = js[v->start] == 'n' ? NAN : strtod(js + v->start, NULL);
            free(tok);
            return st;
        }
        int j = i + 1;
        while (j < nt && tok[j].start < v->end) j++;
        i = j;
    }
    free(tok);
    return st ? st : tt_error(TT_ERR_NOT_FOUND, "JSON: no \"%s\" in %.60s", key, js);
}
