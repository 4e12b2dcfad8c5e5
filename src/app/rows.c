/* Rows of pictures from the feature cache and the project (tabtrain/rows.h). */
#include "tabtrain/rows.h"

#include <stdlib.h>
#include <string.h>

tt_status tt_rows_fill(const tt_rows_src *src, int n, const int *ids, const uint8_t (*hash)[TT_SHA256_SIZE], int views,
                       float *x, uint8_t *bad) {
    int dim = tt_featcache_dim(src->cache), misses = 0;
    size_t per = (size_t)views * dim;
    tt_feat_request *rq = calloc((size_t)n + 1, sizeof *rq);
    int *miss = malloc(((size_t)n + 1) * sizeof *miss);
    void **bytes = calloc((size_t)n + 1, sizeof *bytes);
    tt_status st = rq && miss && bytes ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory for the pictures' features");
    memset(bad, 0, (size_t)n);
    for (int j = 0; !st && j < n; j++) {
        int hits = 0;
        for (int v = 0; !st && v < views; v++) {
            int hit;
            st = tt_featcache_lookup(src->cache, hash[j], v, x + j * per + (size_t)v * dim, &hit);
            hits += hit;
        }
        if (st || hits == views) continue;
        tt_status rs = tt_project_picture(src->project, ids[j], &bytes[misses], &rq[misses].len);
        if (rs == TT_ERR_NOMEM) st = rs;
        else if (rs == TT_ERR_AGAIN) {
            if (src->need) *src->need = ids[j];
            st = rs;
        }
        else if (rs && src->skip) {
            src->skip(src->skip_ctx, ids[j], src->is_val, rs, tt_last_error());
            bad[j] = 1;
        } else if (rs) {
            st = tt_error(rs, "picture %d cannot be read back (%s); start training again", ids[j], tt_last_error());
        } else {
            /* the record's hash is the original's, whether the store gave it or its copy */
            rq[misses].bytes = bytes[misses];
            rq[misses].hashed = 1;
            memcpy(rq[misses].hash, hash[j], TT_SHA256_SIZE);
            miss[misses++] = j;
        }
    }
    float *computed = NULL;
    if (!st && misses && !(computed = malloc((size_t)misses * per * sizeof *computed)))
        st = tt_error(TT_ERR_NOMEM, "no memory for the pictures' features");
    if (!st && misses) st = tt_featcache_run(src->cache, misses, rq, views, computed);
    for (int m = 0; !st && m < misses; m++) {
        int j = miss[m];
        if (rq[m].status && src->skip) {
            src->skip(src->skip_ctx, ids[j], src->is_val, rq[m].status, rq[m].error);
            bad[j] = 1;
        } else if (rq[m].status) {
            st = tt_error(rq[m].status, "picture %d no longer decodes: %s", ids[j], rq[m].error);
        } else {
            memcpy(x + j * per, computed + m * per, per * sizeof *computed);
        }
    }
    for (int m = 0; m < misses; m++) free(bytes[m]);
    free(computed), free(rq), free(miss), free(bytes);
    return st;
}
