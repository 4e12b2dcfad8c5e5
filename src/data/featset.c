/* Feature sets: images added and removed one at a time (featcache.h). */
#include <stdlib.h>
#include <string.h>

#include "tabtrain/featcache.h"

void tt_featset_init(tt_featset *s, int dim, int views) { *s = (tt_featset){.dim = dim, .views = views}; }

void tt_featset_free(tt_featset *s) {
    free(s->hash), free(s->labels), free(s->x);
    *s = (tt_featset){0};
}

static tt_status tt_featset_reserve(tt_featset *s, int n) {
    if (n <= s->cap) return TT_OK;
    int cap = s->cap ? 2 * s->cap : 64;
    while (cap < n) cap *= 2;
    size_t rows = (size_t)cap * s->views;
    void *h = realloc(s->hash, (size_t)cap * sizeof *s->hash);
    if (h) s->hash = h;
    void *l = realloc(s->labels, rows * sizeof *s->labels);
    if (l) s->labels = l;
    void *x = realloc(s->x, rows * s->dim * sizeof *s->x);
    if (x) s->x = x;
    if (!h || !l || !x) return tt_error(TT_ERR_NOMEM, "feature set: out of memory at %d images", n);
    s->cap = cap;
    return TT_OK;
}

tt_status tt_featset_add(tt_featset *s, tt_featcache *fc, int32_t label, const void *bytes, size_t len,
                         tt_feat_request *rq) {
    if (tt_featcache_dim(fc) != s->dim)
        return tt_error(TT_ERR_SHAPE, "feature set of width %d, cache of width %d", s->dim, tt_featcache_dim(fc));
    tt_status st = tt_featset_reserve(s, s->n + 1);
    if (st) return st;
    *rq = (tt_feat_request){.bytes = bytes, .len = len};
    size_t row = (size_t)s->n * s->views;
    if ((st = tt_featcache_run(fc, 1, rq, s->views, s->x + row * s->dim)) || rq->status) return st;
    memcpy(s->hash[s->n], rq->hash, TT_SHA256_SIZE);
    for (int v = 0; v < s->views; v++) s->labels[row + v] = label;
    s->n++;
    return TT_OK;
}

int tt_featset_find(const tt_featset *s, const uint8_t hash[TT_SHA256_SIZE]) {
    for (int i = 0; i < s->n; i++)
        if (!memcmp(s->hash[i], hash, TT_SHA256_SIZE)) return i;
    return -1;
}

void tt_featset_remove(tt_featset *s, int index) {
    if (index < 0 || index >= s->n) return;
    size_t V = (size_t)s->views, tail = (size_t)(s->n - index - 1);
    memmove(s->hash[index], s->hash[index + 1], tail * TT_SHA256_SIZE);
    memmove(s->labels + index * V, s->labels + (index + 1) * V, tail * V * sizeof *s->labels);
    memmove(s->x + index * V * s->dim, s->x + (index + 1) * V * s->dim, tail * V * s->dim * sizeof *s->x);
    s->n--;
}
