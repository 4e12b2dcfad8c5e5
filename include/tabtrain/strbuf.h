/* tabtrain/strbuf.h — the string helpers every layer needs once: a copy, a
 * growable buffer for building JSON and text, and a monotonic clock.
 *
 *     tt_strbuf b = {0};
 *     tt_strbuf_printf(&b, "{\"name\":");
 *     tt_strbuf_quote(&b, name);            // a JSON string literal
 *     tt_strbuf_printf(&b, "}");
 *     if (b.oom) ...;                       // sticky: later appends are no-ops
 *     use(b.s); tt_strbuf_free(&b);         // b.s is "" until something is appended
 */
#ifndef TABTRAIN_STRBUF_H
#define TABTRAIN_STRBUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* malloc'd copy, NULL when out of memory (or s is NULL). */
char *tt_strdup(const char *s);

typedef struct tt_strbuf {
    char *s; /* NUL-terminated once anything was appended */
    size_t len, cap;
    int oom; /* an append ran out of memory */
} tt_strbuf;

void tt_strbuf_printf(tt_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Room for `more` bytes and a NUL after b->len (for a writer that sizes
 * first, like snprintf): 1, or 0 after running out of memory. */
int tt_strbuf_reserve(tt_strbuf *b, size_t more);
/* s as a JSON string literal (tt_json_quote). */
void tt_strbuf_quote(tt_strbuf *b, const char *s);
/* A finite number with 17 significant digits (9 with is_float), else null. */
void tt_strbuf_num(tt_strbuf *b, double v, int is_float);
/* Hands the string over (the caller frees it); NULL after an out-of-memory
 * append. The buffer is empty afterwards. */
char *tt_strbuf_take(tt_strbuf *b);
void tt_strbuf_free(tt_strbuf *b);

/* Seconds of a monotonic clock (CLOCK_MONOTONIC): for budgets and durations. */
double tt_now_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
