/* cli_data.h — what train, eval and predict share: finding and opening the
 * backbone, turning a dataset into feature rows through the feature cache
 * (reporting and skipping bad files), progress bars and peak memory. */
#ifndef TT_CLI_DATA_H
#define TT_CLI_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "tabtrain/dataset.h"
#include "tabtrain/featcache.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/model_file.h"
#include "tabtrain/sha256.h"
#include "tabtrain/tail.h"

#define TT_CLI_DEFAULT_MODEL "models/mobilenet_v2_1.0_224.safetensors"

typedef struct tt_cli_backbone {
    tt_mnv2 *model;
    tt_pool *pool;  /* the threads model and tail run on; NULL for one */
    tt_tail *tail; /* the last `unfreeze` blocks, trainable (tail.h); NULL when frozen */
    char id[TT_BACKBONE_ID_SIZE];
    char *preprocess; /* tabtrain.preprocess of the file, or NULL */
    char *labels;     /* tabtrain.labels (JSON array, ImageNet classes), or NULL */
    char path[4096];
} tt_cli_backbone;

/* path NULL: $TT_MODEL, else TT_CLI_DEFAULT_MODEL. With unfreeze K > 0 also
 * the tail of the last K blocks, for batches of up to max_batch. Both run on
 * `threads` threads (0: every core, tt_pool_cores). */
tt_status tt_cli_backbone_open(tt_cli_backbone *b, const char *path, int unfreeze, int max_batch,
                               int threads);
void tt_cli_backbone_close(tt_cli_backbone *b);

/* The backbone a trained model (or checkpoint) needs: checks its identity
 * and, for a fine-tuned model, builds the tail and loads the saved weights. */
tt_status tt_cli_model_backbone(tt_cli_backbone *b, const char *path, const tt_model *m, int max_batch,
                                int threads);

/* `--threads N` of every command that computes: 1 when argv[*i] was it
 * (value stored in *threads, 0 = every core), -1 after a usage error, 0 when
 * it is another argument. Results do not depend on N. */
#define TT_CLI_THREADS_USAGE "  --threads N           threads to compute on (default: every core; same results)\n"
int tt_cli_threads_arg(const char *cmd, int argc, char **argv, int *i, int *threads);

/* Probabilities [n][C] of feature-cache rows x [n][cache dim]: through the
 * backbone's tail first when it has one. */
tt_status tt_cli_predict(tt_cli_backbone *b, tt_head *head, int n, const float *x, float *probs);

/* Reads and decodes an image file and preprocesses it for the backbone
 * (center crop, bilinear resize, [-1, 1]) into input[size][size][3]. */
tt_status tt_cli_image_input(const char *path, int size, float *input);

/* Feature rows of a dataset: x [n * views][dim] (an image's views adjacent),
 * labels per row, item[i] = the dataset index of image i. */
typedef struct tt_cli_feats {
    float *x;
    int32_t *y;
    int *item;
    uint8_t (*hash)[TT_SHA256_SIZE]; /* [n] SHA-256 of image i's encoded bytes */
    int n, views, dim;
    int skipped;
} tt_cli_feats;

/* Runs every item through fc (chunks of 32 files read lazily), prints one
 * line per bad file (stderr, or a {"event":"skipped",...} JSON line on
 * stdout) and drops it. `what` names the set in messages and the bar. */
tt_status tt_cli_extract(tt_featcache *fc, const tt_dataset *ds, int views, int json, const char *what,
                         tt_cli_feats *out);
void tt_cli_feats_free(tt_cli_feats *f);

/* The feature cache's place (--cache-dir D, or NULL for the default):
 * D, else $XDG_CACHE_HOME/tabtrain, else $HOME/.cache/tabtrain — never the
 * working directory. on = 0 for "none" or when neither variable is set (then
 * nothing persists). Features go to <root>/features, training copies to
 * <root>/copies (featcache.h). -1 when the path is too long. */
typedef struct tt_cli_cache {
    char root[4096], features[4200], copies[4200];
    int on;
} tt_cli_cache;
int tt_cli_cache_resolve(const char *arg, tt_cli_cache *c);
void tt_cli_cache_apply(const tt_cli_cache *c, tt_featcache_config *cfg);

/* A one-line bar on stderr, only when stderr is a terminal and !json; it
 * erases itself when done reaches total. _clear erases it early (before
 * printing other lines). */
void tt_cli_progress(int json, const char *what, int done, int total);
void tt_cli_progress_clear(int json);

/* JSON string literal of s into a static-free caller buffer (truncates). */
const char *tt_cli_quote(char *buf, size_t cap, const char *s);

/* Peak resident set size in MiB (getrusage); negative where unknown (wasm). */
double tt_cli_peak_rss_mb(void);

/* Whole-string numbers within [lo, hi]; 0 when valid. */
int tt_cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int tt_cli_parse_num(const char *s, double lo, double hi, double *out);

#endif
