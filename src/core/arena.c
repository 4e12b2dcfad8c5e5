#include "tabtrain/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct tt_arena {
    unsigned char *base;
    size_t capacity, used, high;
};

size_t tt_arena_size_of(size_t bytes) {
    return (bytes + TT_ARENA_ALIGN - 1) & ~(size_t)(TT_ARENA_ALIGN - 1);
}

tt_status tt_arena_init(tt_arena **out, size_t capacity) {
    if (!out) return tt_error(TT_ERR_INVALID_ARG, "tt_arena_init: out is NULL");
    *out = NULL;
    tt_arena *a = calloc(1, sizeof *a);
    if (!a) return tt_error(TT_ERR_NOMEM, "tt_arena_init: no memory for the arena handle");
    capacity = tt_arena_size_of(capacity);
    if (capacity) {
        a->base = aligned_alloc(TT_ARENA_ALIGN, capacity);
        if (!a->base) {
            free(a);
            return tt_error(TT_ERR_NOMEM, "tt_arena_init: cannot allocate %zu bytes", capacity);
        }
    }
    a->capacity = capacity;
    *out = a;
    return TT_OK;
}

void tt_arena_free(tt_arena *a) {
    if (!a) return;
    free(a->base);
    free(a);
}

void *tt_arena_alloc(tt_arena *a, size_t bytes) {
    size_t need = tt_arena_size_of(bytes);
    if (need < bytes || need > a->capacity - a->used) {
        tt_error(TT_ERR_NOMEM, "arena exhausted: asked %zu bytes, %zu of %zu left", bytes,
                 a->capacity - a->used, a->capacity);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->high) a->high = a->used;
    return p;
}

size_t tt_arena_mark(const tt_arena *a) { return a->used; }

void tt_arena_reset(tt_arena *a, size_t mark) {
    if (mark <= a->used) a->used = mark;
}

size_t tt_arena_used(const tt_arena *a) { return a->used; }
size_t tt_arena_capacity(const tt_arena *a) { return a->capacity; }
size_t tt_arena_high_water(const tt_arena *a) { return a->high; }
