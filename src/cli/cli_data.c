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
#include "tabtrain/safetensors.h"
#include "tabtrain/strbuf.h"

#define TT_CLI_CHUNK 32

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

tt_status tt_cli_backbone_open(tt_cli_backbone *b, const char *path, int unfreeze, int max_batch,
                               int threads) {
    *b = (tt_cli_backbone){0};
    if (!path) path = getenv("TT_MODEL");
    if (!path || !*path) path = TT_CLI_DEFAULT_MODEL;
    snprintf(b->path, sizeof b->path, "%s", path);
    void *bytes;
    size_t len;
    tt_status st = tt_file_read(path, TT_FILE_MAX, &bytes, &len);
    if (st == TT_ERR_NOT_FOUND)
        return tt_error(st, "backbone %s not found (run scripts/fetch-model, or pass --model FILE / set TT_MODEL)", path);
    if (st) return st;
    tt_backbone_identity(bytes, len, b->id);
    tt_st_file *f;
    st = tt_st_open_memory(&f, bytes, len);
    if (!st) {
        const char *pp = tt_st_metadata(f, "tabtrain.preprocess");
        const char *lab = tt_st_metadata(f, "tabtrain.labels");
        if ((pp && !(b->preprocess = tt_strdup(pp))) || (lab && !(b->labels = tt_strdup(lab))))
            st = tt_error(TT_ERR_NOMEM, "out of memory");
        if (!st) st = tt_mnv2_init(&b->model, f, TT_IMAGE_DEFAULT_SIZE);
        if (!st && unfreeze > 0) st = tt_tail_init(&b->tail, b->model, f, unfreeze, max_batch);
        if (!st) st = tt_pool_init(&b->pool, threads ? threads : tt_pool_cores());
        if (!st) st = tt_mnv2_set_pool(b->model, b->pool);
        if (!st && b->tail) tt_tail_set_pool(b->tail, b->pool);
        tt_st_close(f);
    }
    free(bytes);
    if (st) {
        tt_cli_backbone_close(b);
        return tt_error(st, "backbone %s: %s", path, tt_last_error());
    }
    return TT_OK;
}

void tt_cli_backbone_close(tt_cli_backbone *b) {
    tt_tail_free(b->tail);
    tt_mnv2_free(b->model);
    tt_pool_free(b->pool);
    free(b->preprocess);
    free(b->labels);
    *b = (tt_cli_backbone){0};
}

tt_status tt_cli_model_backbone(tt_cli_backbone *b, const char *path, const tt_model *m, int max_batch,
                                int threads) {
    tt_status st = tt_cli_backbone_open(b, path, m->unfreeze, max_batch, threads);
    if (!st) st = tt_model_check_backbone(m, b->id);
    if (!st && b->tail) st = tt_model_load_tail(m, b->tail);
    return st;
}

tt_status tt_cli_predict(tt_cli_backbone *b, tt_head *head, int n, const float *x, float *probs) {
    if (!b->tail) {
        tt_head_predict(head, n, x, probs);
        return TT_OK;
    }
    float *feat = malloc(((size_t)n + 1) * tt_tail_get_info(b->tail).feature_dim * sizeof(float));
    if (!feat) return tt_error(TT_ERR_NOMEM, "out of memory");
    tt_tail_features(b->tail, n, x, feat);
    tt_head_predict(head, n, feat, probs);
    free(feat);
    return TT_OK;
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

static void tt_cli_skip(int json, const char *what, const char *path, tt_status st, const char *reason) {
    if (json) {
        char qp[4200], qr[600];
        printf("{\"event\":\"skipped\",\"set\":\"%s\",\"path\":%s,\"status\":\"%s\",\"reason\":%s}\n", what,
               tt_cli_quote(qp, sizeof qp, path), tt_status_name(st), tt_cli_quote(qr, sizeof qr, reason));
        fflush(stdout);
    } else {
        tt_cli_progress_clear(json);
        fprintf(stderr, "skipped %s: %s: %s\n", path, tt_status_name(st), reason);
    }
}

void tt_cli_feats_free(tt_cli_feats *f) {
    free(f->x), free(f->y), free(f->item), free(f->hash);
    *f = (tt_cli_feats){0};
}

tt_status tt_cli_extract(tt_featcache *fc, const tt_dataset *ds, int views, int json, const char *what,
                         tt_cli_feats *out) {
    *out = (tt_cli_feats){0};
    int dim = tt_featcache_dim(fc);
    size_t rows = (size_t)ds->n * views;
    out->x = malloc((rows ? rows : 1) * dim * sizeof(float));
    out->y = malloc((rows ? rows : 1) * sizeof(int32_t));
    out->item = malloc(((size_t)ds->n + 1) * sizeof(int));
    out->hash = malloc(((size_t)ds->n + 1) * sizeof *out->hash);
    out->views = views, out->dim = dim;
    tt_feat_request rq[TT_CLI_CHUNK];
    void *bufs[TT_CLI_CHUNK];
    int idx[TT_CLI_CHUNK];
    tt_status st = out->x && out->y && out->item && out->hash ? TT_OK : tt_error(TT_ERR_NOMEM, "out of memory");
    tt_cli_progress(json, what, 0, ds->n);
    for (int start = 0; !st && start < ds->n; start += TT_CLI_CHUNK) {
        int m = 0, end = start + TT_CLI_CHUNK < ds->n ? start + TT_CLI_CHUNK : ds->n;
        for (int i = start; i < end; i++) {
            size_t len;
            tt_status rs = tt_dataset_read(ds, i, &bufs[m], &len);
            if (rs) {
                tt_cli_skip(json, what, ds->items[i].path, rs, tt_last_error());
                out->skipped++;
                continue;
            }
            rq[m] = (tt_feat_request){.bytes = bufs[m], .len = len};
            idx[m++] = i;
        }
        /* Rows land at the compacted position directly: x grows in file order. */
        float *dst = out->x + (size_t)out->n * views * dim;
        st = tt_featcache_run(fc, m, rq, views, dst);
        for (int j = 0; j < m; j++) free(bufs[j]);
        for (int j = 0; !st && j < m; j++) {
            if (rq[j].status) {
                tt_cli_skip(json, what, ds->items[idx[j]].path, rq[j].status, rq[j].error);
                out->skipped++;
                continue;
            }
            size_t row = (size_t)out->n * views;
            if (dst + (size_t)j * views * dim != out->x + row * dim)
                memmove(out->x + row * dim, dst + (size_t)j * views * dim, (size_t)views * dim * sizeof(float));
            for (int v = 0; v < views; v++) out->y[row + v] = ds->items[idx[j]].label;
            memcpy(out->hash[out->n], rq[j].hash, TT_SHA256_SIZE);
            out->item[out->n++] = idx[j];
        }
        tt_cli_progress(json, what, end, ds->n);
    }
    if (st) tt_cli_feats_free(out);
    return st;
}
