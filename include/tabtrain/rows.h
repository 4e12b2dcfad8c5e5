/* tabtrain/rows.h — the rows a run or an evaluation computes from pictures:
 * views of each picture from the feature cache (featcache.h) by its hash,
 * and on a miss from its bytes, read back from the project (project.h).
 *
 *   tt_rows_src src = {cache, project, skip, ctx, 0};
 *   tt_rows_fill(&src, n, ids, hashes, views, x, bad);   // x [n][views][cache dim]
 *
 * The bytes of a picture are read only when some view is missing, and the
 * misses of one call go through the cache together (which batches the
 * backbone), so a caller that passes one picture per thread keeps every
 * thread busy. A picture that cannot be read or decoded is an error, or with
 * skip it is reported through it and marked in bad[]: a folder may hold
 * anything, a browser project only pictures that decoded once.
 */
#ifndef TABTRAIN_ROWS_H
#define TABTRAIN_ROWS_H

#include <stdint.h>

#include "tabtrain/featcache.h"
#include "tabtrain/project.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A picture left out: its image id, whether it was a
 * validation picture, and why. */
typedef void (*tt_rows_skip_fn)(void *ctx, int image_id, int is_val, tt_status st, const char *reason);

/* Where rows of pictures come from: the cache, and the project's bytes on a
 * miss; failures through skip (NULL: an error), told whether the pictures
 * are validation pictures. */
typedef struct tt_rows_src {
    tt_featcache *cache;
    const tt_project *project;
    tt_rows_skip_fn skip;
    void *skip_ctx;
    int is_val;
    int *need; /* on TT_ERR_AGAIN: the image id the picture store asked for (may be NULL) */
} tt_rows_src;

/* Views 0..views-1 of n pictures (ids[i], their hashes) into x [n][views][dim]:
 * cached ones by hash, the rest computed from their bytes in one call of the
 * cache (which batches the backbone). bad[i] = 1 for a picture left out
 * through skip (its rows are undefined). TT_ERR_AGAIN (never skipped): the
 * project's store asked for picture *src->need; nothing was computed. */
tt_status tt_rows_fill(const tt_rows_src *src, int n, const int *ids, const uint8_t (*hash)[TT_SHA256_SIZE], int views,
                       float *x, uint8_t *bad);

#ifdef __cplusplus
}
#endif
#endif
