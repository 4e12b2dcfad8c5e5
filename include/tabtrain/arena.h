/* tabtrain/arena.h — workspace allocator for allocation-free hot paths.
 *
 * An arena is one 64-byte-aligned block obtained once (at model load, or when
 * the batch size changes). Hot paths carve buffers from it with
 * tt_arena_alloc() and give them back in bulk with tt_arena_reset() to a
 * mark taken earlier; nothing is freed individually and malloc is never
 * called after init.
 *
 *     tt_arena *ws; if ((st = tt_arena_init(&ws, bytes))) return st;
 *     size_t m = tt_arena_mark(ws);
 *     float *tmp = tt_arena_alloc(ws, n * sizeof(float));  // NULL when full
 *     ...
 *     tt_arena_reset(ws, m);
 *     tt_arena_free(ws);
 *
 * A failed tt_arena_alloc() returns NULL and records a TT_ERR_NOMEM message
 * naming the request and the space left, so callers can
 * `if (!p) return TT_ERR_NOMEM;`. tt_arena_high_water() reports the most
 * ever in use, which is how callers size an arena exactly.
 */
#ifndef TABTRAIN_ARENA_H
#define TABTRAIN_ARENA_H

#include <stddef.h>

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_ARENA_ALIGN 64

typedef struct tt_arena tt_arena;

tt_status tt_arena_init(tt_arena **out, size_t capacity);
void tt_arena_free(tt_arena *a);

void *tt_arena_alloc(tt_arena *a, size_t bytes);
size_t tt_arena_mark(const tt_arena *a);
void tt_arena_reset(tt_arena *a, size_t mark);

size_t tt_arena_used(const tt_arena *a);
size_t tt_arena_capacity(const tt_arena *a);
size_t tt_arena_high_water(const tt_arena *a);

/* Bytes `bytes` occupies inside an arena (rounded up to TT_ARENA_ALIGN);
 * sum these to size an arena before creating it. */
size_t tt_arena_size_of(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
