/* One copy, one growable buffer, one clock (tabtrain/strbuf.h). */
#include "tabtrain/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tabtrain/json.h"

char *tt_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int tt_strbuf_reserve(tt_strbuf *b, size_t more) {
    if (b->oom) return 0;
    if (b->len + more + 1 <= b->cap) return 1;
    size_t cap = (b->len + more + 1) * 2;
    char *p = realloc(b->s, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->s = p;
    b->cap = cap;
    return 1;
}

void tt_strbuf_printf(tt_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (!tt_strbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tt_strbuf_quote(tt_strbuf *b, const char *s) {
    size_t n = tt_json_quote(NULL, 0, s);
    if (!tt_strbuf_reserve(b, n)) return;
    tt_json_quote(b->s + b->len, b->cap - b->len, s);
    b->len += n;
}

void tt_strbuf_num(tt_strbuf *b, double v, int is_float) {
    if (isfinite(v)) tt_strbuf_printf(b, is_float ? "%.9g" : "%.17g", v);
    else tt_strbuf_printf(b, "null");
}

char *tt_strbuf_take(tt_strbuf *b) {
    char *s = b->oom ? NULL : b->s ? b->s : tt_strdup("");
    if (b->oom) free(b->s);
    *b = (tt_strbuf){0};
    return s;
}

void tt_strbuf_free(tt_strbuf *b) {
    free(b->s);
    *b = (tt_strbuf){0};
}

double tt_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
