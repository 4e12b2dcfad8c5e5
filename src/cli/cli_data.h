/* cli_data.h — what the commands share: finding the backbone file, reading
 * image files for the app's functions, reporting a skipped file, progress
 * bars, peak memory and number parsing. The work itself is the app's
 * (tabtrain/app.h, run.h, classifier.h). */
#ifndef TT_CLI_DATA_H
#define TT_CLI_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "tabtrain/app.h"
#include "tabtrain/backbone.h"
#include "tabtrain/featcache.h"
#include "tabtrain/project.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"

#define TT_CLI_DEFAULT_MODEL "models/mobilenet_v2_1.0_224.safetensors"

/* The backbone at path (NULL: $TT_MODEL, else TT_CLI_DEFAULT_MODEL) on
 * `threads` threads (0: every core); a missing file says how to get one. */
tt_status tt_cli_backbone(tt_backbone **b, const char *path, int threads);
/* The path tt_cli_backbone reads for `path`. */
const char *tt_cli_backbone_path(const char *path);

/* `--threads N` of every command that computes: 1 when argv[*i] was it
 * (value stored in *threads, 0 = every core), -1 after a usage error, 0 when
 * it is another argument. Results do not depend on N. */
#define TT_CLI_THREADS_USAGE "  --threads N           threads to compute on (default: every core; same results)\n"
int tt_cli_threads_arg(const char *cmd, int argc, char **argv, int *i, int *threads);

/* The cache row of an image file (tt_picture_row): its features, or with a
 * tail the activations entering it; errors name the file. */
tt_status tt_cli_file_row(const tt_backbone *b, tt_tail *tail, const char *path, float *x);

/* Files left out: one line each (stderr, or a {"event":"skipped",...} JSON
 * line on stdout), counted. The callbacks of tt_project_add_dataset and of
 * tt_rows_src report through it. */
typedef struct tt_cli_skips {
    int json;
    const tt_project *project; /* names the file of an image id */
    int count;
} tt_cli_skips;
void tt_cli_skip_file(void *skips, const char *path, tt_status st, const char *reason);
void tt_cli_skip_image(void *skips, int image_id, int is_val, tt_status st, const char *reason);

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
/* The cache into a feature cache's config, or into the app's (train). */
void tt_cli_cache_apply(const tt_cli_cache *c, tt_featcache_config *cfg);
void tt_cli_cache_app(const tt_cli_cache *c, tt_app_config *cfg);

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
