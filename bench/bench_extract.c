/* extract: feature extraction throughput on real photos, in three stages —
 * decode + preprocess (tt_image_training_copy, tt_image_to_input), backbone only
 * (tt_mnv2_features on ready inputs) and the whole pipeline as training runs
 * it (tt_featcache_run without a cache dir: hash, decode, preprocess,
 * batched backbone). One JSON line per stage.
 *   tabtrain-bench extract [--dir DIR] [--n 32] [--batch 16] [--runs 3] [--model FILE]
 * DIR defaults to /usr/share/qabcs/abcs/all/pics/animals (Debian qabcs-data),
 * else $TT_SHARED_DIR/images or ../shared/images; files are taken in name
 * order, encoded bytes preloaded so disk reads are not timed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "tabtrain/fileio.h"
#include "tabtrain/featcache.h"

#define TT_EXTRACT_MAX 512

static int tt_cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *tt_default_dir(char *buf, size_t cap) {
    struct stat sb;
    if (stat("/usr/share/qabcs/abcs/all/pics/animals", &sb) == 0) return "/usr/share/qabcs/abcs/all/pics/animals";
    const char *shared = getenv("TT_SHARED_DIR");
    snprintf(buf, cap, "%s/images", shared && *shared ? shared : "../shared");
    return buf;
}

int tt_bench_extract(int argc, char **argv) {
    const char *dir = NULL, *model = NULL;
    int n = 32, batch = 16, runs = 3, threads;
    tt_pool *pool;
    if (tt_bench_pool(argc, argv, &pool, &threads)) return 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) continue;
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "extract: unknown option %s (--dir --n --batch --runs --model --threads)\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || n > TT_EXTRACT_MAX || batch < 1 || runs < 1) {
        fprintf(stderr, "extract: need 1 <= --n <= %d, --batch >= 1, --runs >= 1\n", TT_EXTRACT_MAX);
        return 2;
    }
    char dbuf[4096];
    if (!dir) dir = tt_default_dir(dbuf, sizeof dbuf);
    if (!model) model = getenv("TT_MODEL");
    if (!model || !*model) model = "models/mobilenet_v2_1.0_224.safetensors";

    /* the photos, in name order, bytes in memory */
    char *names[TT_EXTRACT_MAX];
    int nn = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "extract: cannot open %s\n", dir);
        return 1;
    }
    for (struct dirent *e; (e = readdir(d)) && nn < TT_EXTRACT_MAX;) {
        if (e->d_name[0] == '.' || !(names[nn] = malloc(strlen(e->d_name) + 1))) continue;
        strcpy(names[nn++], e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, tt_cmp_name);
    tt_feat_request rq[TT_EXTRACT_MAX];
    void *bytes[TT_EXTRACT_MAX];
    int m = 0;
    for (int i = 0; i < nn; i++) {
        char path[4400];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        if (m >= n || tt_file_read(path, (size_t)64 << 20, &bytes[m], &len)) continue;
        tt_image probe;
        if (tt_image_decode(bytes[m], len, NULL, &probe)) { /* only images */
            free(bytes[m]);
            continue;
        }
        tt_image_free(&probe);
        rq[m] = (tt_feat_request){.bytes = bytes[m], .len = len};
        m++;
    }
    if (!m) {
        fprintf(stderr, "extract: no images in %s\n", dir);
        return 1;
    }

    tt_st_file *f;
    tt_mnv2 *net = NULL;
    tt_featcache *fc = NULL;
    tt_status st = tt_st_open_file(&f, model);
    if (!st) {
        st = tt_mnv2_init(&net, f, TT_IMAGE_DEFAULT_SIZE);
        if (!st) st = tt_mnv2_set_pool(net, pool);
        tt_st_close(f);
    }
    tt_featcache_config cfg = tt_featcache_defaults();
    cfg.batch = batch;
    if (!st) st = tt_featcache_open(&fc, net, "sha256:bench", &cfg);
    size_t px = (size_t)TT_IMAGE_DEFAULT_SIZE * TT_IMAGE_DEFAULT_SIZE * 3;
    float *in = malloc((size_t)batch * px * sizeof(float)), *feats = malloc((size_t)m * 1280 * sizeof(float));
    if (st || !in || !feats) {
        fprintf(stderr, "extract: %s\n", st ? tt_last_error() : "out of memory");
        return 1;
    }

    double t_dec[16], t_net[16], t_all[16];
    if (runs > 16) runs = 16;
    tt_featcache_run(fc, m, rq, 1, feats); /* warm-up: first touch of every buffer */
    for (int r = 0; r < runs; r++) {
        double t0 = tt_bench_now_ms();
        for (int i = 0; i < m; i++) {
            tt_image img;
            tt_image_training_copy(rq[i].bytes, rq[i].len, NULL, TT_IMAGE_DEFAULT_SIZE, &img);
            tt_image_to_input(&img, TT_IMAGE_DEFAULT_SIZE, in + (size_t)(i % batch) * px);
            tt_image_free(&img);
        }
        t_dec[r] = tt_bench_now_ms() - t0;
        t0 = tt_bench_now_ms();
        for (int i = 0; i < m; i += batch)
            tt_mnv2_features(net, m - i < batch ? m - i : batch, in, feats + (size_t)i * 1280);
        t_net[r] = tt_bench_now_ms() - t0;
        t0 = tt_bench_now_ms();
        tt_featcache_run(fc, m, rq, 1, feats);
        t_all[r] = tt_bench_now_ms() - t0;
    }
    const char *stage[3] = {"decode_preprocess", "backbone", "pipeline"};
    double med[3] = {tt_bench_median(t_dec, runs), tt_bench_median(t_net, runs), tt_bench_median(t_all, runs)};
    for (int s = 0; s < 3; s++)
        printf("{\"bench\":\"extract\",\"engine\":\"%s\",\"stage\":\"%s\",\"images\":%d,\"batch\":%d,\"threads\":%d,"
               "\"ms_per_image\":%.3f,\"images_per_s\":%.2f,\"runs\":%d,\"source\":\"%s\",\"where\":\"%s\"}\n",
               TT_ENGINE_NAME, stage[s], m, batch, threads, med[s] / m, 1000.0 * m / med[s], runs, dir, TT_BENCH_WHERE);
    fflush(stdout);
    for (int i = 0; i < m; i++) free(bytes[i]);
    free(in), free(feats);
    tt_featcache_free(fc);
    tt_mnv2_free(net);
    tt_pool_free(pool);
    return 0;
}
