/* Shared pieces of train / eval / predict (cli_data.h). */
#include "cli/cli_data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tabtrain/json.h"
#include "tabtrain/fileio.h"
#include "tabtrain/classifier.h"
#include "tabtrain/dataset.h"
#include "tabtrain/image.h"
#include "tabtrain/strbuf.h"

int tt_cli_threads_arg(const char *cmd, int argc, char **argv, int *i, int *threads) {
    if (strcmp(argv[*i], "--threads")) return 0;
    const char *v = tt_cli_value(cmd, argc, argv, i);
    long long n;
    if (!v) return -1;
    if (tt_cli_parse_int(v, 1, TT_POOL_MAX_THREADS, &n)) {
        tt_cli_usage_error(cmd, "--threads %s: give a whole number from 1 to %d", v, TT_POOL_MAX_THREADS);
        return -1;
    }
    *threads = (int)n;
    return 1;
}

const char *tt_cli_backbone_path(const char *path) {
    if (!path) path = getenv("TT_MODEL");
    return path && *path ? path : TT_CLI_DEFAULT_MODEL;
}

tt_status tt_cli_backbone(tt_backbone **b, const char *path, int threads) {
    path = tt_cli_backbone_path(path);
    tt_status st = tt_backbone_load(b, path, threads);
    if (st == TT_ERR_NOT_FOUND)
        return tt_error(st, "backbone %s not found (run scripts/fetch-model, or pass --model FILE / set TT_MODEL)", path);
    return st;
}

tt_status tt_cli_file_row(const tt_backbone *b, tt_tail *tail, const char *path, float *x) {
    void *bytes;
    size_t len;
    tt_status st = tt_file_read(path, TT_DATASET_MAX_FILE, &bytes, &len);
    if (st) return st;
    st = tt_picture_row(b, tail, bytes, len, TT_IMAGE_DEFAULT_MAX_PIXELS, x);
    free(bytes);
    return st ? tt_error(st, "%s: %s", path, tt_last_error()) : TT_OK;
}

const char *tt_cli_quote(char *buf, size_t cap, const char *s) {
    if (tt_json_quote(buf, cap, s) >= cap && cap > 2) buf[cap - 2] = '"';
    return buf;
}


int tt_cli_parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int tt_cli_parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

double tt_cli_peak_rss_mb(void) {
#ifdef __EMSCRIPTEN__
    return -1.0;
#else
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
#endif
}

static int tt_cli_tty(void) {
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    return tty;
}

void tt_cli_progress_clear(int json) {
    if (!json && tt_cli_tty()) fputs("\r\033[K", stderr);
}

void tt_cli_progress(int json, const char *what, int done, int total) {
    if (json || !tt_cli_tty() || total <= 0) return;
    int w = 30, fill = (int)((long long)w * done / total);
    char bar[31];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r%-10s [%s] %d/%d", what, bar, done, total);
    if (done >= total) tt_cli_progress_clear(json);
    fflush(stderr);
}

/* `set`: where it was found ("data" while reading the folder, "train" or "val" while preparing). */
static void tt_cli_skip(tt_cli_skips *k, const char *set, const char *path, tt_status st, const char *reason) {
    k->count++;
    if (k->json) {
        char qp[4200], qr[600];
        printf("{\"event\":\"skipped\",\"set\":\"%s\",\"path\":%s,\"status\":\"%s\",\"reason\":%s}\n", set,
               tt_cli_quote(qp, sizeof qp, path), tt_status_name(st), tt_cli_quote(qr, sizeof qr, reason));
        fflush(stdout);
    } else {
        tt_cli_progress_clear(k->json);
        fprintf(stderr, "skipped %s: %s: %s\n", path, tt_status_name(st), reason);
    }
}

void tt_cli_skip_file(void *skips, const char *path, tt_status st, const char *reason) {
    tt_cli_skip(skips, "data", path, st, reason);
}

void tt_cli_skip_image(void *skips, int image_id, int is_val, tt_status st, const char *reason) {
    const char *path = tt_project_image_path(((tt_cli_skips *)skips)->project, image_id);
    tt_cli_skip(skips, is_val ? "val" : "train", path ? path : "?", st, reason);
}
