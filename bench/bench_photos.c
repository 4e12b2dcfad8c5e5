/* `tabtrain-bench photos --out DIR [--n 300] [--classes 3] [--width 4000]
 * [--height 3000] [--quality 90] [--first 0]`: writes synthetic phone photos,
 * DIR/<class>/photo-<i>.jpg, for the browser benchmark and end-to-end test
 * of big pictures (scripts/bench-web.mjs --photos, tests/e2e/photos.test.mjs),
 * so nothing large is committed. Each class has its own colour and stripe
 * direction (a classifier can tell them apart), each photo its own phase,
 * shapes and sensor-like noise: the noise is what makes a 12-megapixel JPEG
 * weigh 2-3 MB as a phone's does, and every photo's bytes differ. Pictures
 * i in [first, first + n) are deterministic in i, so two processes can share
 * the work. Prints one JSON line: pictures, bytes, seconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "tabtrain/image.h"

static uint32_t tt_xs(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return *s = x;
}

static void tt_photo(tt_image *img, int cls, int i) {
    static const uint8_t base[6][3] = {{200, 70, 60}, {60, 150, 80}, {70, 90, 200},
                                       {210, 190, 70}, {150, 70, 170}, {60, 170, 180}};
    int w = img->width, h = img->height;
    uint32_t s = 0x9e3779b9u ^ (uint32_t)(i + 1) * 2654435761u;
    for (int k = 0; k < 4; k++) tt_xs(&s);
    int period = 40 + (int)(tt_xs(&s) % 80), phase = (int)(tt_xs(&s) % 256);
    int cx = (int)(tt_xs(&s) % (uint32_t)w), cy = (int)(tt_xs(&s) % (uint32_t)h), r = h / 6 + (int)(tt_xs(&s) % (uint32_t)(h / 4));
    const uint8_t *b = base[cls % 6];
    for (int y = 0; y < h; y++) {
        uint8_t *row = img->pixels + 3 * (size_t)w * y;
        int dy = y - cy;
        for (int x = 0; x < w; x++) {
            /* stripes along x, y or the diagonal, by class */
            int t = cls % 3 == 0 ? x : cls % 3 == 1 ? y : x + y;
            int stripe = ((t + phase) / period) & 1 ? 40 : -40;
            int dx = x - cx, disc = dx * dx + dy * dy < r * r ? 50 : 0;
            uint32_t n = tt_xs(&s);
            for (int c = 0; c < 3; c++) {
                int v = b[c] + stripe + disc + (int)((n >> (8 * c)) & 15) - 8;
                row[3 * x + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

int tt_bench_photos(int argc, char **argv) {
    const char *out = NULL;
    int n = 300, classes = 3, w = 4000, h = 3000, q = 90, first = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--out")) out = v;
        else if (!strcmp(k, "--n")) n = atoi(v);
        else if (!strcmp(k, "--classes")) classes = atoi(v);
        else if (!strcmp(k, "--width")) w = atoi(v);
        else if (!strcmp(k, "--height")) h = atoi(v);
        else if (!strcmp(k, "--quality")) q = atoi(v);
        else if (!strcmp(k, "--first")) first = atoi(v);
        else {
            fprintf(stderr, "photos: unknown option %s\n", k);
            return 2;
        }
    }
    if (!out || n < 0 || classes < 1 || classes > 6 || w < 16 || h < 16 || first < 0) {
        fprintf(stderr, "usage: tabtrain-bench photos --out DIR [--n N] [--classes 1..6] [--width W] [--height H] "
                        "[--quality Q] [--first I]\n");
        return 2;
    }
    tt_image img = {w, h, malloc(3 * (size_t)w * h)};
    if (!img.pixels) return 1;
    char path[4400];
    long long bytes = 0;
    double t0 = tt_bench_now_ms();
    mkdir(out, 0777);
    for (int i = first; i < first + n; i++) {
        int cls = i % classes;
        snprintf(path, sizeof path, "%s/class%d", out, cls + 1);
        if (mkdir(path, 0777) && errno != EEXIST) return perror(path), 1;
        tt_photo(&img, cls, i);
        void *jpg;
        size_t len;
        if (tt_image_encode_jpeg(&img, q, &jpg, &len)) return fprintf(stderr, "photos: %s\n", tt_last_error()), 1;
        snprintf(path, sizeof path, "%s/class%d/photo-%04d.jpg", out, cls + 1, i);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(jpg, 1, len, f) == len;
        if (f && fclose(f)) ok = 0;
        free(jpg);
        if (!ok) return perror(path), 1;
        bytes += (long long)len;
    }
    free(img.pixels);
    printf("{\"bench\":\"photos\",\"engine\":\"%s\",\"where\":\"%s\",\"pictures\":%d,\"width\":%d,\"height\":%d,"
           "\"bytes\":%lld,\"seconds\":%.2f}\n",
           TT_ENGINE_NAME, TT_BENCH_WHERE, n, w, h, bytes, (tt_bench_now_ms() - t0) / 1e3);
    return 0;
}
