/* tabtrain/featcache.h — backbone features of encoded images, computed once
 * and kept on disk keyed by content.
 *
 *   tt_featcache *fc;
 *   tt_featcache_config cfg = tt_featcache_defaults();
 *   cfg.dir = "/home/me/.cache/tabtrain/features"; // NULL: memory only (nothing persisted)
 *   cfg.aug = aug;  cfg.views = 4;         // view 0 plain, views 1..4 augmented
 *   tt_featcache_open(&fc, backbone, "sha256:<hex of the backbone file>", &cfg);
 *   tt_feat_request rq[16] = {{bytes, len}, ...};
 *   tt_featcache_run(fc, 16, rq, views, feats);  // feats [16][views][dim]; rq[i].status per image
 *   tt_featcache_free(fc);
 *
 * What is cached per view: the pooled backbone features (dim = the feature
 * width, 1280), or with cfg.unfreeze = K in 1..17 the activations entering
 * block 17-K (tt_mnv2_forward_until; dim = that block's h·w·cin floats), the
 * input of a trainable tail (tail.h).
 *
 * Per image the SHA-256 of its encoded bytes is taken (rq.hash). View v of
 * an image has the key SHA-256("tabtrain-feature 2", backbone id, input
 * size, for K > 0 the block the activations enter, image hash, v, and for
 * v > 0 the augmentation config as text): the
 * same bytes under the same backbone give the same features whatever their
 * file name, class or dataset, so re-adding an image is free; another
 * backbone or augmentation setting never sees stale entries. Every view is
 * computed from the image's training copy (tt_image_training_copy: a JPEG
 * decoded at a DCT scale, box-shrunk to a short side in [S, 2S)): view 0 is
 * tt_image_to_input(copy); view v >= 1 is tt_augment_to_input(copy) with a
 * PCG32 stream (TT_STREAM_AUGMENT) seeded from SHA-256(image hash, v) —
 * deterministic and independent of the run's seed and of the image's
 * position, hence reusable across runs. ("tabtrain-feature 1" keys were
 * computed from the full-size decode; they are never read again.)
 *
 * A request gives the original's bytes, or (rq.hashed = 1, rq.hash set to
 * the original's SHA-256) the copy's bytes or its decoded pixels (rq.image):
 * all three give the same features. With cfg.copies set, the first decode
 * of a picture writes its copy there as "<hash hex>.png" and later misses
 * decode that small file instead (the CLI); the browser keeps its copies
 * itself (tabtrain/project.h) and passes them back as rq.image / bytes.
 *
 * Lookups go memory first, then `dir`/<key hex>.feat: 16-byte header
 * ("TTFEAT1\0", u32 dim, u32 CRC-32 of the rest), the 32-byte key, dim f32.
 * Entries are written to a temp file and renamed into place (atomic, but not
 * fsync'd: an entry lost or torn by a crash is simply recomputed, and an
 * fsync per entry costs about as much as the backbone). A file that is
 * short, has another magic, key or dim, or fails its CRC (a torn write, a
 * bit flip) is counted
 * in stats.recovered, recomputed and rewritten — never an error. Write
 * failures (full disk, read-only dir) only lose persistence: stats.write_errors
 * counts them and the features are still returned.
 *
 * Misses are decoded one image at a time (pixels freed as soon as its views
 * are rendered into the batch) and run through the backbone cfg.batch inputs
 * at a time, so memory is bounded by the batch, not by n. A bad image
 * (tt_image_decode's error: empty, truncated, not an image, too many pixels)
 * sets rq.status and rq.error and leaves its rows zero; the others go on.
 * tt_featcache_run returns non-OK only when it cannot go on at all (out of
 * memory, backbone failure).
 *
 * Memory-resident entries: every feature computed or loaded is also kept in
 * memory (dim floats + key per view) until tt_featcache_free, so a browser
 * adding images one at a time never re-reads the disk (the wasm layer keeps
 * its cache dir in an IDBFS mount). tt_featcache_forget(hash) drops an
 * image's entries from memory and disk (removing an image from a project).
 */
#ifndef TABTRAIN_FEATCACHE_H
#define TABTRAIN_FEATCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/image.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_FEATCACHE_MAX_VIEWS 64

typedef struct tt_featcache_config {
    const char *dir;     /* persistent store (created if missing); NULL = memory only */
    tt_augment aug;      /* used for views >= 1 */
    int batch;           /* backbone inputs per call: 16 */
    uint64_t max_pixels; /* decode limit: TT_IMAGE_DEFAULT_MAX_PIXELS */
    int keep_in_memory;  /* 1: keep every entry in memory too (browser); 0: disk only (CLI) */
    int unfreeze;        /* 0: pooled features; K in 1..17: activations entering block 17-K */
    const char *copies;  /* training copies "<hash hex>.png" (created if missing); NULL = none */
} tt_featcache_config;

typedef struct tt_feat_request {
    const void *bytes;    /* encoded image: the original, or its training copy when hashed */
    size_t len;
    const tt_image *image; /* or the decoded training copy (hashed must be 1); NULL: bytes */
    /* with image: its plain view (tt_image_to_input at the cache's size), made by the
     * caller (so on its threads); NULL: made here, on the calling thread */
    const float *input;
    int hashed;           /* 1: hash below is given (the original's); 0: computed from bytes */
    /* results */
    uint8_t hash[TT_SHA256_SIZE];
    tt_status status; /* TT_OK or the decode error */
    char error[200];  /* tt_last_error() of a failed decode */
    int hits;         /* views served from the cache */
} tt_feat_request;

typedef struct tt_featcache_stats {
    int64_t hits, computed; /* views */
    int64_t recovered;      /* damaged files recomputed */
    int64_t write_errors;
    int64_t failed; /* images that did not decode */
} tt_featcache_stats;

typedef struct tt_featcache tt_featcache;

tt_featcache_config tt_featcache_defaults(void);
/* `model` is borrowed (must outlive the cache); backbone_id is copied. */
tt_status tt_featcache_open(tt_featcache **out, tt_mnv2 *model, const char *backbone_id,
                            const tt_featcache_config *cfg);
void tt_featcache_free(tt_featcache *fc);
int tt_featcache_dim(const tt_featcache *fc);
tt_featcache_stats tt_featcache_get_stats(const tt_featcache *fc);

/* Features of views 0..views-1 of n images into feats [n][views][dim]. */
tt_status tt_featcache_run(tt_featcache *fc, int n, tt_feat_request *rq, int views, float *feats);

/* View `view` of an image known by its hash alone (memory, then disk): *hit = 1
 * and dst [dim] filled, or *hit = 0 — then only tt_featcache_run with the
 * encoded bytes can compute it. Lets a caller keep hashes instead of bytes and
 * read an image back only on a miss. Non-OK only when out of memory. */
tt_status tt_featcache_lookup(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int view, float *dst, int *hit);

/* Removes the entries of views 0..views-1 of an image (memory and disk). */
tt_status tt_featcache_forget(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int views);

/* The key and on-disk path of one view (for tests and tools); path may be NULL. */
void tt_featcache_key(const tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int view,
                      uint8_t key[TT_SHA256_SIZE]);
/* "<dir>/<key hex>.feat" into buf (cap >= strlen(dir) + 72); NULL without a dir. */
const char *tt_featcache_path(const tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], char *buf,
                              size_t cap);

/* Identity of a backbone file: "sha256:" + hex of its bytes (72 bytes with NUL). */
#define TT_BACKBONE_ID_SIZE 72
void tt_backbone_identity(const void *bytes, size_t len, char out[TT_BACKBONE_ID_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
