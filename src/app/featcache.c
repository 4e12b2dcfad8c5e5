/* Feature cache: content-keyed backbone features, batched misses, atomic
 * per-entry files that are verified on read (see featcache.h). */
#include "tabtrain/featcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tabtrain/crc32.h"
#include "tabtrain/fileio.h"

#define TT_FEAT_MAGIC "TTFEAT1"
#define TT_FEAT_HEADER 16

struct tt_featcache {
    tt_mnv2 *model;
    tt_featcache_config cfg;
    char backbone[TT_BACKBONE_ID_SIZE + 64];
    char *dir, *copies;
    char augtext[256];
    int dim, size, first_block; /* first_block < 0: pooled features */
    /* one backbone batch */
    float *in, *out, **dest;
    uint8_t (*keys)[TT_SHA256_SIZE];
    int pending;
    tt_featcache_stats stats;
    /* memory-resident entries: open addressing on the key's first bytes */
    size_t mcap, mused; /* hash slots (a power of two), slots in use */
    uint8_t (*mkeys)[TT_SHA256_SIZE];
    uint8_t *mstate; /* 0 empty, 1 full, 2 deleted */
    uint32_t *mrow;  /* [mcap] the slot's row */
    /* Rows are dense and separate from the slots, so the table's half-empty
     * headroom costs 37 bytes a slot, not a feature row (5 KB) a slot. They
     * live in slabs of TT_MSLAB rows that never move: one growing array would
     * be copied on every growth and leave its old blocks as holes no later
     * growth fits in, so the heap grew ~3x the features (seen in the threaded
     * browser build: 29 MB for 990 pictures). */
    float **mslab;   /* [mrows_cap / TT_MSLAB] of [TT_MSLAB][dim] */
    size_t mrows, mrows_cap;
    uint32_t *mfree; /* [mrows_cap] rows of forgotten entries, reused first */
    size_t nfree;
};

enum { TT_MSLAB = 256 };

static float *tt_mrow_at(const tt_featcache *fc, uint32_t row) {
    return fc->mslab[row / TT_MSLAB] + (size_t)(row % TT_MSLAB) * (size_t)fc->dim;
}

tt_featcache_config tt_featcache_defaults(void) {
    tt_featcache_config c = {0};
    c.batch = 16;
    c.max_pixels = TT_IMAGE_DEFAULT_MAX_PIXELS;
    return c;
}

void tt_backbone_identity(const void *bytes, size_t len, char out[TT_BACKBONE_ID_SIZE]) {
    uint8_t d[TT_SHA256_SIZE];
    tt_sha256(bytes, len, d);
    memcpy(out, "sha256:", 7);
    tt_sha256_hex(d, out + 7);
}

/* mkdir -p */
static tt_status tt_mkdirs(const char *dir) {
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            tt_status st = tt_error(TT_ERR_IO, "feature cache: cannot create %s: %s", p, strerror(errno));
            free(p);
            return st;
        }
        p[i] = c;
    }
    free(p);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tt_error(TT_ERR_IO, "feature cache: %s is not a directory", dir);
    return TT_OK;
}

tt_status tt_featcache_open(tt_featcache **out, tt_mnv2 *model, const char *backbone_id,
                            const tt_featcache_config *cfg) {
    *out = NULL;
    if (!model || !backbone_id || !cfg || cfg->batch < 1 || strlen(backbone_id) >= TT_BACKBONE_ID_SIZE + 64)
        return tt_error(TT_ERR_INVALID_ARG, "feature cache: model, backbone id and batch >= 1 required");
    if (cfg->unfreeze < 0 || cfg->unfreeze > TT_MNV2_BLOCKS)
        return tt_error(TT_ERR_INVALID_ARG, "feature cache: unfreeze must be in 0..%d (got %d)", TT_MNV2_BLOCKS,
                        cfg->unfreeze);
    tt_featcache *fc = calloc(1, sizeof *fc);
    if (!fc) return tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
    fc->model = model;
    fc->cfg = *cfg;
    if (!fc->cfg.max_pixels) fc->cfg.max_pixels = TT_IMAGE_DEFAULT_MAX_PIXELS;
    snprintf(fc->backbone, sizeof fc->backbone, "%s", backbone_id);
    tt_mnv2_info info = tt_mnv2_get_info(model);
    fc->dim = info.feature_dim, fc->size = info.input_size, fc->first_block = -1;
    if (cfg->unfreeze > 0) {
        tt_mnv2_block_shape bs;
        fc->first_block = TT_MNV2_BLOCKS - cfg->unfreeze;
        tt_status st = tt_mnv2_block_shape_get(model, fc->first_block, &bs);
        if (st) {
            free(fc);
            return st;
        }
        fc->dim = bs.h_in * bs.w_in * bs.cin;
    }
    const tt_augment *a = &cfg->aug;
    snprintf(fc->augtext, sizeof fc->augtext, "flip=%d zoom=%.9g:%.9g shear=%.9g brightness=%.9g:%.9g", a->flip,
             (double)a->zoom_min, (double)a->zoom_max, (double)a->shear_deg, (double)a->brightness_min,
             (double)a->brightness_max);
    size_t px = (size_t)fc->size * fc->size * 3, B = (size_t)cfg->batch;
    fc->in = malloc(B * px * sizeof(float));
    fc->out = malloc(B * (size_t)fc->dim * sizeof(float));
    fc->dest = malloc(B * sizeof *fc->dest);
    fc->keys = malloc(B * sizeof *fc->keys);
    tt_status st = fc->in && fc->out && fc->dest && fc->keys ? TT_OK : tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
    if (!st && cfg->dir) {
        size_t n = strlen(cfg->dir) + 1;
        if (!(fc->dir = malloc(n))) st = tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
        else memcpy(fc->dir, cfg->dir, n), fc->cfg.dir = fc->dir, st = tt_mkdirs(fc->dir);
    }
    if (!st && cfg->copies) {
        size_t n = strlen(cfg->copies) + 1;
        if (!(fc->copies = malloc(n))) st = tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
        else memcpy(fc->copies, cfg->copies, n), fc->cfg.copies = fc->copies, st = tt_mkdirs(fc->copies);
    }
    if (st) {
        tt_featcache_free(fc);
        return st;
    }
    *out = fc;
    return TT_OK;
}

void tt_featcache_free(tt_featcache *fc) {
    if (!fc) return;
    free(fc->in), free(fc->out), free(fc->dest), free(fc->keys), free(fc->dir), free(fc->copies);
    free(fc->mkeys), free(fc->mstate), free(fc->mrow), free(fc->mfree);
    for (size_t i = 0; i < fc->mrows_cap / TT_MSLAB; i++) free(fc->mslab[i]);
    free(fc->mslab);
    free(fc);
}

int tt_featcache_dim(const tt_featcache *fc) { return fc->dim; }
tt_featcache_stats tt_featcache_get_stats(const tt_featcache *fc) { return fc->stats; }

static void tt_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t tt_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tt_featcache_key(const tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int view,
                      uint8_t key[TT_SHA256_SIZE]) {
    char head[sizeof fc->backbone + 96];
    int n = snprintf(head, sizeof head, "tabtrain-feature 2\n%s\nsize=%d\n", fc->backbone, fc->size);
    /* Pooled features have no "until" line (the key they had before tail inputs existed). */
    if (fc->first_block >= 0)
        n += snprintf(head + n, sizeof head - (size_t)n, "until=block%d\n", fc->first_block);
    uint8_t v[4];
    tt_put_u32(v, (uint32_t)view);
    tt_sha256_ctx c;
    tt_sha256_init(&c);
    tt_sha256_update(&c, head, (size_t)n);
    tt_sha256_update(&c, hash, TT_SHA256_SIZE);
    tt_sha256_update(&c, v, 4);
    if (view > 0) tt_sha256_update(&c, fc->augtext, strlen(fc->augtext));
    tt_sha256_final(&c, key);
}

const char *tt_featcache_path(const tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], char *buf,
                              size_t cap) {
    if (!fc->dir) return NULL;
    char hex[TT_SHA256_HEX];
    tt_sha256_hex(key, hex);
    snprintf(buf, cap, "%s/%s.feat", fc->dir, hex);
    return buf;
}

/* ---- memory-resident entries ---- */

static size_t tt_mslot(const tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], int *found) {
    size_t mask = fc->mcap - 1, i = (size_t)tt_get_u32(key) & mask, tomb = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        if (fc->mstate[i] == 0) {
            *found = 0;
            return tomb != SIZE_MAX ? tomb : i;
        }
        if (fc->mstate[i] == 2) {
            if (tomb == SIZE_MAX) tomb = i;
        } else if (!memcmp(fc->mkeys[i], key, TT_SHA256_SIZE)) {
            *found = 1;
            return i;
        }
    }
}

static int tt_mem_get(const tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], float *dst) {
    int found = 0;
    if (!fc->mcap) return 0;
    size_t i = tt_mslot(fc, key, &found);
    if (found) memcpy(dst, tt_mrow_at(fc, fc->mrow[i]), (size_t)fc->dim * sizeof(float));
    return found;
}

/* Doubles the slot table (dropping tombstones) once it is half full. */
static tt_status tt_mem_grow_slots(tt_featcache *fc) {
    size_t cap = fc->mcap ? 2 * fc->mcap : 256;
    tt_featcache old = *fc;
    fc->mkeys = malloc(cap * sizeof *fc->mkeys);
    fc->mstate = calloc(cap, 1);
    fc->mrow = malloc(cap * sizeof *fc->mrow);
    if (!fc->mkeys || !fc->mstate || !fc->mrow) {
        free(fc->mkeys), free(fc->mstate), free(fc->mrow);
        fc->mkeys = old.mkeys, fc->mstate = old.mstate, fc->mrow = old.mrow;
        return tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
    }
    fc->mcap = cap, fc->mused = 0;
    for (size_t i = 0; i < old.mcap; i++)
        if (old.mstate[i] == 1) {
            int found;
            size_t j = tt_mslot(fc, old.mkeys[i], &found);
            memcpy(fc->mkeys[j], old.mkeys[i], TT_SHA256_SIZE);
            fc->mrow[j] = old.mrow[i];
            fc->mstate[j] = 1, fc->mused++;
        }
    free(old.mkeys), free(old.mstate), free(old.mrow);
    return TT_OK;
}

/* A free row: a forgotten one, or the next one (a new slab when all are full). */
static tt_status tt_mem_row(tt_featcache *fc, uint32_t *row) {
    if (fc->nfree) {
        *row = fc->mfree[--fc->nfree];
        return TT_OK;
    }
    if (fc->mrows == fc->mrows_cap) {
        size_t n = fc->mrows_cap / TT_MSLAB, cap = fc->mrows_cap + TT_MSLAB;
        if (cap > UINT32_MAX) return tt_error(TT_ERR_NOMEM, "feature cache: too many entries");
        float **sl = realloc(fc->mslab, (n + 1) * sizeof *sl);
        if (sl) fc->mslab = sl;
        uint32_t *f = sl ? realloc(fc->mfree, cap * sizeof *f) : NULL; /* room to free every row */
        if (f) fc->mfree = f;
        float *slab = f ? malloc((size_t)TT_MSLAB * (size_t)fc->dim * sizeof(float)) : NULL;
        if (!slab) return tt_error(TT_ERR_NOMEM, "feature cache: out of memory");
        fc->mslab[n] = slab;
        fc->mrows_cap = cap;
    }
    *row = (uint32_t)fc->mrows++;
    return TT_OK;
}

static tt_status tt_mem_put(tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], const float *src) {
    tt_status st;
    if (2 * (fc->mused + 1) > fc->mcap && (st = tt_mem_grow_slots(fc))) return st;
    int found;
    size_t i = tt_mslot(fc, key, &found);
    if (!found) {
        uint32_t row = 0;
        if ((st = tt_mem_row(fc, &row))) return st;
        if (fc->mstate[i] == 0) fc->mused++;
        memcpy(fc->mkeys[i], key, TT_SHA256_SIZE);
        fc->mstate[i] = 1;
        fc->mrow[i] = row;
    }
    memcpy(tt_mrow_at(fc, fc->mrow[i]), src, (size_t)fc->dim * sizeof(float));
    return TT_OK;
}

/* ---- disk entries ---- */

static int tt_disk_get(tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], float *dst) {
    char path[4200];
    if (!tt_featcache_path(fc, key, path, sizeof path)) return 0;
    void *buf;
    size_t len, want = TT_FEAT_HEADER + TT_SHA256_SIZE + (size_t)fc->dim * sizeof(float);
    tt_status st = tt_file_read(path, want, &buf, &len);
    if (st == TT_ERR_NOT_FOUND) return 0;
    const uint8_t *p = buf;
    int ok = !st && len == want && !memcmp(p, TT_FEAT_MAGIC, 8) && tt_get_u32(p + 8) == (uint32_t)fc->dim &&
             tt_get_u32(p + 12) == tt_crc32(0, p + TT_FEAT_HEADER, want - TT_FEAT_HEADER) &&
             !memcmp(p + TT_FEAT_HEADER, key, TT_SHA256_SIZE);
    if (ok) memcpy(dst, p + TT_FEAT_HEADER + TT_SHA256_SIZE, (size_t)fc->dim * sizeof(float));
    else fc->stats.recovered++;
    if (!st) free(buf);
    return ok;
}

/* Temp file + rename, without fsync: a reader sees the old file, no file or
 * the new one, and a crash that loses or tears an unsynced entry is caught by
 * the CRC/key check and recomputed. Durability is not worth an fsync per
 * entry: file + directory fsync measured ~6 ms per entry on the dev machine,
 * about what the backbone takes per image. */
static void tt_disk_put(tt_featcache *fc, const uint8_t key[TT_SHA256_SIZE], const float *src) {
    char path[4200], tmp[4300];
    if (!tt_featcache_path(fc, key, path, sizeof path)) return;
    uint8_t head[TT_FEAT_HEADER];
    size_t nf = (size_t)fc->dim * sizeof(float);
    memcpy(head, TT_FEAT_MAGIC, 8);
    tt_put_u32(head + 8, (uint32_t)fc->dim);
    tt_put_u32(head + 12, tt_crc32(tt_crc32(0, key, TT_SHA256_SIZE), src, nf));
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(head, 1, sizeof head, f) == sizeof head && fwrite(key, 1, TT_SHA256_SIZE, f) == TT_SHA256_SIZE &&
             fwrite(src, 1, nf, f) == nf;
    if (f && fclose(f)) ok = 0;
    if (ok && rename(tmp, path) == 0) return;
    if (f) remove(tmp);
    fc->stats.write_errors++;
}

/* ---- the batch ---- */

static tt_status tt_flush(tt_featcache *fc) {
    if (!fc->pending) return TT_OK;
    tt_status st = fc->first_block < 0 ? tt_mnv2_features(fc->model, fc->pending, fc->in, fc->out)
                                       : tt_mnv2_forward_until(fc->model, fc->pending, fc->in, fc->first_block, fc->out);
    if (st) return st;
    for (int b = 0; b < fc->pending; b++) {
        const float *f = fc->out + (size_t)b * fc->dim;
        memcpy(fc->dest[b], f, (size_t)fc->dim * sizeof(float));
        tt_disk_put(fc, fc->keys[b], f);
        if (fc->cfg.keep_in_memory && (st = tt_mem_put(fc, fc->keys[b], f))) return st;
    }
    fc->stats.computed += fc->pending;
    fc->pending = 0;
    return TT_OK;
}

static uint64_t tt_view_seed(const uint8_t hash[TT_SHA256_SIZE], int view) {
    uint8_t buf[sizeof "tabtrain-augment 1" + TT_SHA256_SIZE + 4], d[TT_SHA256_SIZE];
    size_t n = sizeof "tabtrain-augment 1" - 1;
    memcpy(buf, "tabtrain-augment 1", n);
    memcpy(buf + n, hash, TT_SHA256_SIZE);
    tt_put_u32(buf + n + TT_SHA256_SIZE, (uint32_t)view);
    tt_sha256(buf, n + TT_SHA256_SIZE + 4, d);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) s |= (uint64_t)d[i] << (8 * i);
    return s;
}

tt_status tt_featcache_lookup(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int view, float *dst, int *hit) {
    uint8_t key[TT_SHA256_SIZE];
    tt_featcache_key(fc, hash, view, key);
    *hit = tt_mem_get(fc, key, dst);
    if (!*hit && (*hit = tt_disk_get(fc, key, dst)) && fc->cfg.keep_in_memory) {
        tt_status st = tt_mem_put(fc, key, dst);
        if (st) return st;
    }
    fc->stats.hits += *hit;
    return TT_OK;
}

/* ---- training copies (cfg.copies) ---- */

static const char *tt_copy_path(const tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], char *buf, size_t cap) {
    char hex[TT_SHA256_HEX];
    tt_sha256_hex(hash, hex);
    snprintf(buf, cap, "%s/%s.png", fc->copies, hex);
    return buf;
}

/* The stored copy of an image, if there is one that decodes (a damaged one is
 * recomputed from the original and rewritten, like a damaged feature). */
static int tt_copy_get(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], tt_image *img) {
    char path[4200];
    void *buf;
    size_t len;
    if (!fc->copies || tt_file_read(tt_copy_path(fc, hash, path, sizeof path), TT_FILE_MAX, &buf, &len)) return 0;
    tt_decode_opts o = {fc->cfg.max_pixels, 0};
    tt_status st = tt_image_training_copy(buf, len, &o, fc->size, img);
    free(buf);
    if (st) fc->stats.recovered++;
    return !st;
}

/* Temp file + rename, as features are: a torn copy fails to decode and is redone. */
static void tt_copy_put(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], const tt_image *img) {
    char path[4200], tmp[4300];
    void *png;
    size_t len;
    if (!fc->copies) return;
    if (tt_image_encode_png(img, &png, &len)) {
        fc->stats.write_errors++;
        return;
    }
    tt_copy_path(fc, hash, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(png, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    free(png);
    if (ok && rename(tmp, path) == 0) return;
    if (f) remove(tmp);
    fc->stats.write_errors++;
}

/* The training copy of request r: given, stored, or decoded from its bytes. */
static tt_status tt_request_copy(tt_featcache *fc, tt_feat_request *r, tt_image *img, const tt_image **copy) {
    if (r->image) {
        *copy = r->image;
        return TT_OK;
    }
    *copy = img;
    if (tt_copy_get(fc, r->hash, img)) return TT_OK;
    tt_decode_opts dopts = {fc->cfg.max_pixels, 0};
    tt_status st = tt_image_training_copy(r->bytes, r->len, &dopts, fc->size, img);
    if (!st) tt_copy_put(fc, r->hash, img);
    return st;
}

tt_status tt_featcache_run(tt_featcache *fc, int n, tt_feat_request *rq, int views, float *feats) {
    if (n < 0 || views < 1 || views > TT_FEATCACHE_MAX_VIEWS || (n && (!rq || !feats)))
        return tt_error(TT_ERR_INVALID_ARG, "feature cache: bad request (n %d, views %d)", n, views);
    for (int i = 0; i < n; i++)
        if (rq[i].image ? !rq[i].hashed : !rq[i].bytes && rq[i].len)
            return tt_error(TT_ERR_INVALID_ARG, "feature cache: request %d: a decoded copy needs its hash", i);
    size_t px = (size_t)fc->size * fc->size * 3;
    tt_status st = TT_OK;
    for (int i = 0; i < n && !st; i++) {
        tt_feat_request *r = &rq[i];
        if (!r->hashed) tt_sha256(r->bytes, r->len, r->hash);
        r->status = TT_OK, r->error[0] = 0, r->hits = 0;
        tt_image img = {0};
        const tt_image *copy = NULL;
        for (int v = 0; v < views && !st; v++) {
            float *dst = feats + ((size_t)i * views + v) * fc->dim;
            int hit;
            if ((st = tt_featcache_lookup(fc, r->hash, v, dst, &hit))) break;
            if (hit) {
                r->hits++;
                continue;
            }
            uint8_t key[TT_SHA256_SIZE];
            tt_featcache_key(fc, r->hash, v, key);
            if (!copy) {
                tt_status ds = tt_request_copy(fc, r, &img, &copy);
                if (ds) {
                    r->status = ds;
                    snprintf(r->error, sizeof r->error, "%s", tt_last_error());
                    memset(feats + (size_t)i * views * fc->dim, 0, (size_t)views * fc->dim * sizeof(float));
                    fc->stats.failed++;
                    break;
                }
            }
            float *in = fc->in + (size_t)fc->pending * px;
            if (v == 0 && r->image && r->input) {
                memcpy(in, r->input, px * sizeof(float));
            } else if (v == 0) {
                st = tt_image_to_input(copy, fc->size, in);
            } else {
                tt_rng rng;
                tt_rng_seed(&rng, tt_view_seed(r->hash, v), TT_STREAM_AUGMENT);
                st = tt_augment_to_input(copy, fc->size, &fc->cfg.aug, &rng, in);
            }
            if (st) break;
            fc->dest[fc->pending] = dst;
            memcpy(fc->keys[fc->pending], key, TT_SHA256_SIZE);
            if (++fc->pending == fc->cfg.batch) st = tt_flush(fc);
        }
        tt_image_free(&img);
    }
    if (!st) st = tt_flush(fc);
    fc->pending = 0;
    return st;
}

tt_status tt_featcache_forget(tt_featcache *fc, const uint8_t hash[TT_SHA256_SIZE], int views) {
    for (int v = 0; v < views; v++) {
        uint8_t key[TT_SHA256_SIZE];
        tt_featcache_key(fc, hash, v, key);
        int found = 0;
        if (fc->mcap) {
            size_t i = tt_mslot(fc, key, &found);
            if (found) fc->mstate[i] = 2, fc->mfree[fc->nfree++] = fc->mrow[i];
        }
        char path[4200];
        if (tt_featcache_path(fc, key, path, sizeof path) && remove(path) != 0 && errno != ENOENT)
            return tt_error(TT_ERR_IO, "feature cache: cannot remove %s: %s", path, strerror(errno));
    }
    return TT_OK;
}
