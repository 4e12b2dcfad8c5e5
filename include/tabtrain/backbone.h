/* tabtrain/backbone.h — the backbone file as both front ends hold it: the
 * network, the threads it runs on, and the file itself.
 *
 *   tt_backbone *b;
 *   tt_backbone_load(&b, "models/mobilenet_v2_1.0_224.safetensors", 0);  // 0 threads: every core
 *   tt_backbone_open(&b, bytes, len, 1);                                   // from memory (copied)
 *   tt_tail *tail; tt_backbone_tail(b, 2, 32, &tail);                      // last 2 blocks, trainable
 *   tt_backbone_free(b);
 *
 * The file's bytes stay with the backbone: a trainable tail (--unfreeze) is
 * built from them and an export carries every backbone tensor. Its identity
 * is "sha256:<hex of the bytes>" (featcache.h), which checkpoints, models and
 * feature-cache keys record.
 */
#ifndef TABTRAIN_BACKBONE_H
#define TABTRAIN_BACKBONE_H

#include <stddef.h>

#include "tabtrain/featcache.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"
#include "tabtrain/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_backbone {
    tt_mnv2 *net;
    tt_pool *pool; /* NULL: one thread */
    void *file;    /* the backbone file's bytes */
    size_t file_len;
    char id[TT_BACKBONE_ID_SIZE];
    char *preprocess; /* tabtrain.preprocess of the file, or NULL */
    char *labels;     /* tabtrain.labels (JSON array of ImageNet classes), or NULL */
    int dim, size;    /* feature width, input size */
} tt_backbone;

/* From bytes (copied). threads: 0 = every core (tt_pool_cores). */
tt_status tt_backbone_open(tt_backbone **out, const void *bytes, size_t len, int threads);
/* From a file; the message names it. */
tt_status tt_backbone_load(tt_backbone **out, const char *path, int threads);
void tt_backbone_free(tt_backbone *b);

/* The network on `threads` threads from the next pass (results do not depend
 * on it). Tails built by tt_backbone_tail must be re-pointed by the caller
 * (tt_tail_set_pool(tail, b->pool)); on failure the backbone runs on one. */
tt_status tt_backbone_set_threads(tt_backbone *b, int threads);

/* The trainable last `unfreeze` blocks, initialised from the file, on the
 * backbone's threads, for batches of up to max_batch. */
tt_status tt_backbone_tail(const tt_backbone *b, int unfreeze, int max_batch, tt_tail **out);

#ifdef __cplusplus
}
#endif
#endif
