/* tabtrain/json.h — the JSON reading that metadata and API input need, and
 * the one JSON value tabtrain writes in several places (a list of names).
 * Other writing is tt_json_quote plus snprintf (or tabtrain/strbuf.h).
 *
 * One-call readers:
 *
 *   char **names; int n;
 *   tt_json_string_array("[\"cat\",\"dog\"]", &names, &n);   // unescaped copies
 *   tt_json_free_strings(names, n);
 *   double h; tt_json_number("{\"hidden\":128}", "hidden", &h);
 *   char *list = tt_json_string_list(names, n);              // "[\"cat\",\"dog\"]", malloc'd
 *
 * A walker for nested documents. A value is a token index (0 = the root,
 * -1 = absent); every lookup and reader accepts -1 (and answers -1 or 0),
 * so a chain of lookups needs one check at its end:
 *
 *   tt_json j;
 *   if (tt_json_parse(&j, "{\"rng\":{\"state\":\"42\"}}")) return ...;
 *   uint64_t s;
 *   int ok = tt_json_u64(&j, tt_json_key(&j, tt_json_key(&j, 0, "rng"), "state"), &s);
 *   tt_json_free(&j);
 *
 * Input is a NUL-terminated string, tokenized with jsmn (strict mode; it
 * still tolerates a trailing comma, harmless for metadata we wrote).
 * Escapes \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs joined) are
 * decoded to UTF-8 (tt_json_unescape, also for callers with their own
 * tokens). Errors: TT_ERR_FORMAT (not JSON / wrong shape), TT_ERR_NOT_FOUND
 * (key absent), TT_ERR_NOMEM.
 */
#ifndef TABTRAIN_JSON_H
#define TABTRAIN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes `s` as a quoted JSON string literal (quotes, backslashes and control
 * characters escaped; UTF-8 kept as is) into dst[0..cap), NUL-terminated when
 * cap > 0; returns the length it needs without the NUL, like snprintf. For
 * metadata values that are themselves JSON (class names, configs). */
size_t tt_json_quote(char *dst, size_t cap, const char *s);

/* Strict JSON syntax of s[0..n) (RFC 8259; nesting at most 16 deep): what
 * jsmn lets through (trailing commas, missing separators) is TT_ERR_FORMAT
 * with the byte offset. The safetensors reader runs it on every header. */
tt_status tt_json_validate(const char *s, size_t n);

tt_status tt_json_string_array(const char *js, char ***out, int *n);
void tt_json_free_strings(char **v, int n);
/* A number member of the top-level object (null gives NaN). */
tt_status tt_json_number(const char *js, const char *key, double *out);
/* ["n0","n1",...] with each name quoted by tt_json_quote; malloc'd, NULL when out of memory. */
char *tt_json_string_list(char *const *names, int n);

/* Decodes the text of a JSON string (what stands between its quotes,
 * s[0..n)) into out, which needs n + 1 bytes (decoding never lengthens),
 * and NUL-terminates it. Returns the decoded length, or (size_t)-1 on a
 * malformed escape: an unknown letter, \u without 4 hex digits, a surrogate
 * without its other half. \u0000 is decoded as a NUL byte: a length beyond
 * strlen(out) tells a caller that must refuse it. */
size_t tt_json_unescape(const char *s, size_t n, char *out);

typedef struct tt_json {
    const char *js; /* borrowed: keep it alive while walking */
    void *tok;      /* private: the tokens */
    int n;          /* token count */
} tt_json;

/* TT_ERR_FORMAT ("JSON: not a JSON value: ...") or TT_ERR_NOMEM; on error
 * *j needs no tt_json_free (calling it is harmless). */
tt_status tt_json_parse(tt_json *j, const char *js);
void tt_json_free(tt_json *j);
/* The value of `key` in the object at obj, or -1 (obj not an object, or no such key). */
int tt_json_key(const tt_json *j, int obj, const char *key);
/* Element k of the array at arr, or -1. */
int tt_json_at(const tt_json *j, int arr, int k);
/* The element count of the array at arr, or -1 when it is not an array. */
int tt_json_len(const tt_json *j, int arr);
/* The member count of the object at obj, or -1 when it is not an object. */
int tt_json_members(const tt_json *j, int obj);
/* The key of member k of the object at obj, or -1; its value is the next
 * index. With tt_json_members it walks every key (to refuse unknown ones). */
int tt_json_member(const tt_json *j, int obj, int k);
/* 1 when the value at i is the string s exactly (as written, escapes not decoded). */
int tt_json_eq(const tt_json *j, int i, const char *s);
/* true or false into *v; 0 when i is not a boolean. */
int tt_json_bool(const tt_json *j, int i, int *v);
/* A malloc'd, decoded copy of the string at i: TT_ERR_FORMAT when i is not
 * a string or has a malformed escape, TT_ERR_NOMEM. */
tt_status tt_json_string(const tt_json *j, int i, char **out);
/* The raw text of a primitive or string (escapes not decoded) into buf;
 * 0 when absent, of another type or not shorter than cap. */
int tt_json_text(const tt_json *j, int i, char *buf, size_t cap);
/* A number (null gives NaN), 0 when i is not one. is_float parses with
 * strtof, so a 9-digit float comes back to the same bits without double
 * rounding. */
int tt_json_num(const tt_json *j, int i, double *v, int is_float);
int tt_json_i64(const tt_json *j, int i, int64_t *v);
int tt_json_int(const tt_json *j, int i, int *v); /* within int32 */
/* A uint64 travels as a decimal string: readers in other languages lose bits above 2^53. */
int tt_json_u64(const tt_json *j, int i, uint64_t *v);

#ifdef __cplusplus
}
#endif
#endif
