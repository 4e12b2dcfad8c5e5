/* The backbone both front ends hold (tabtrain/backbone.h). */
#include "tabtrain/backbone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/fileio.h"
#include "tabtrain/image.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/strbuf.h"

/* Takes the bytes over (freed on error too). */
static tt_status tt_backbone_from(tt_backbone **out, void *bytes, size_t len, int threads) {
    *out = NULL;
    tt_backbone *b = calloc(1, sizeof *b);
    if (!b) {
        free(bytes);
        return tt_error(TT_ERR_NOMEM, "no memory for the backbone");
    }
    b->file = bytes;
    b->file_len = len;
    tt_backbone_identity(bytes, len, b->id);
    tt_st_file *f;
    tt_status st = tt_st_open_memory(&f, bytes, len);
    if (!st) {
        const char *pp = tt_st_metadata(f, "tabtrain.preprocess"), *lab = tt_st_metadata(f, "tabtrain.labels");
        if ((pp && !(b->preprocess = tt_strdup(pp))) || (lab && !(b->labels = tt_strdup(lab))))
            st = tt_error(TT_ERR_NOMEM, "no memory for the backbone");
        if (!st) st = tt_mnv2_init(&b->net, f, TT_IMAGE_DEFAULT_SIZE);
        tt_st_close(f);
    }
    if (!st) {
        tt_mnv2_info info = tt_mnv2_get_info(b->net);
        b->dim = info.feature_dim;
        b->size = info.input_size;
        st = tt_backbone_set_threads(b, threads ? threads : tt_pool_cores());
    }
    if (st) {
        tt_backbone_free(b);
        return st;
    }
    *out = b;
    return TT_OK;
}

tt_status tt_backbone_open(tt_backbone **out, const void *bytes, size_t len, int threads) {
    *out = NULL;
    if (!bytes || !len) return tt_error(TT_ERR_INVALID_ARG, "no backbone weights given");
    void *copy = malloc(len);
    if (!copy) return tt_error(TT_ERR_NOMEM, "no memory for the weights");
    memcpy(copy, bytes, len);
    return tt_backbone_from(out, copy, len, threads);
}

tt_status tt_backbone_load(tt_backbone **out, const char *path, int threads) {
    *out = NULL;
    void *bytes;
    size_t len;
    tt_status st = tt_file_read(path, TT_FILE_MAX, &bytes, &len);
    if (!st) st = tt_backbone_from(out, bytes, len, threads);
    return st ? tt_error(st, "backbone %s: %s", path, tt_last_error()) : TT_OK;
}

void tt_backbone_free(tt_backbone *b) {
    if (!b) return;
    tt_mnv2_free(b->net);
    tt_pool_free(b->pool);
    free(b->file);
    free(b->preprocess);
    free(b->labels);
    free(b);
}

tt_status tt_backbone_set_threads(tt_backbone *b, int threads) {
    if (threads < 1 || threads > TT_POOL_MAX_THREADS)
        return tt_error(TT_ERR_INVALID_ARG, "threads must be in [1, %d] (got %d)", TT_POOL_MAX_THREADS, threads);
    if (threads == tt_pool_threads(b->pool)) return TT_OK;
    /* The old threads go first (nothing may point at them then): in the
     * browser the new ones come from the same pre-started workers. */
    tt_mnv2_set_pool(b->net, NULL);
    tt_pool_free(b->pool);
    b->pool = NULL;
    tt_pool *pool;
    tt_status st = tt_pool_init(&pool, threads);
    if (!st && (st = tt_mnv2_set_pool(b->net, pool))) tt_pool_free(pool);
    if (!st) b->pool = pool;
    return st;
}

tt_status tt_backbone_tail(const tt_backbone *b, int unfreeze, int max_batch, tt_tail **out) {
    tt_st_file *f;
    tt_status st = tt_st_open_memory(&f, b->file, b->file_len);
    if (st) return st;
    st = tt_tail_init(out, b->net, f, unfreeze, max_batch);
    tt_st_close(f);
    if (!st) tt_tail_set_pool(*out, b->pool);
    return st;
}
