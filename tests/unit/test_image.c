/* Decoding (formats, EXIF orientation, alpha, limits, truncation, real
 * photos) and preprocessing (center crop, resize, [-1, 1]). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/image_fixtures.h"
#include "tabtrain/crc32.h"
#include "tabtrain/image.h"
#include "tabtrain/sha256.h"
#include "tt_test.h"

static const int shapes[][2] = {{1, 1}, {7, 5}, {64, 48}, {300, 2}, {2, 300}, {1, 257}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* Alpha over white, computed in float; the decoder may round differently by 1. */
static double over_white(double c, double a) { return c * a + 255.0 * (1.0 - a); }

static void assert_pixels_near(const tt_image *img, const double *want, int w, int h, double tol,
                               const char *what) {
    assert_int_equal(img->width, w);
    assert_int_equal(img->height, h);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        if (fabs(img->pixels[i] - want[i]) > tol)
            fail_msg("%s %dx%d: byte %zu (pixel %zu ch %zu) got %d want %.2f", what, w, h, i, i / 3,
                     i % 3, img->pixels[i], want[i]);
}

static void decode_ok(const image_buf *b, tt_image *img) {
    tt_assert_ok(tt_image_decode(b->data, b->len, NULL, img));
}

/* stb_image_write PNG (grey, grey+alpha, RGB, RGBA) and BMP (grey, RGB). */
static void lossless_formats_roundtrip(void **state) {
    (void)state;
    static const struct { const char *fmt; int comp; } cases[] = {
        {"png", 1}, {"png", 2}, {"png", 3}, {"png", 4}, {"bmp", 1}, {"bmp", 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t s = 0; s < NSHAPES; s++) {
            int w = shapes[s][0], h = shapes[s][1], comp = cases[c].comp;
            size_t n = (size_t)w * h;
            uint8_t *px = tt_test_malloc(n * comp);
            image_fx_noise(px, n * comp, 100 + s);
            if (comp == 2 || comp == 4) { /* make sure both extremes of alpha occur */
                px[comp - 1] = 0;
                if (n > 1) px[2 * comp - 1] = 255;
            }
            double *want = tt_test_malloc(n * 3 * sizeof *want);
            for (size_t i = 0; i < n; i++) {
                const uint8_t *p = px + i * comp;
                double a = comp == 2 || comp == 4 ? p[comp - 1] / 255.0 : 1.0;
                for (int ch = 0; ch < 3; ch++) want[3 * i + ch] = over_white(p[comp < 3 ? 0 : ch], a);
            }
            image_buf b = image_fx_stb(cases[c].fmt, px, w, h, comp);
            tt_image img;
            decode_ok(&b, &img);
            char what[32];
            snprintf(what, sizeof what, "%s comp %d", cases[c].fmt, comp);
            assert_pixels_near(&img, want, w, h, 0.51, what);
            if (comp == 2 || comp == 4) { /* transparent -> white, opaque -> unchanged */
                for (int ch = 0; ch < 3; ch++) assert_int_equal(img.pixels[ch], 255);
                if (n > 1)
                    for (int ch = 0; ch < 3; ch++)
                        assert_int_equal(img.pixels[3 + ch], px[comp + (comp < 3 ? 0 : ch)]);
            }
            tt_image_free(&img);
            assert_null(img.pixels);
            image_buf_free(&b);
            free(px);
            free(want);
        }
}

static void png_16bit_all_colour_types(void **state) {
    (void)state;
    static const int types[][2] = {{0, 1}, {2, 3}, {4, 2}, {6, 4}}; /* colour type, samples */
    for (size_t t = 0; t < 4; t++)
        for (size_t s = 0; s < NSHAPES; s++) {
            int w = shapes[s][0], h = shapes[s][1], comp = types[t][1];
            size_t n = (size_t)w * h, rowbytes = (size_t)w * comp * 2;
            uint8_t *rows = tt_test_malloc(rowbytes * h);
            image_fx_noise(rows, rowbytes * h, 200 + s);
            if (comp == 2 || comp == 4) rows[2 * (comp - 1)] = rows[2 * (comp - 1) + 1] = 0;
            image_buf b = image_fx_png_raw(w, h, 16, types[t][0], rows, rowbytes, NULL, 0, NULL, 0);
            double *want = tt_test_malloc(n * 3 * sizeof *want);
            for (size_t i = 0; i < n; i++) {
                const uint8_t *p = rows + i * comp * 2;
                double a = comp == 2 || comp == 4 ? (p[2 * (comp - 1)] << 8 | p[2 * (comp - 1) + 1]) / 65535.0 : 1.0;
                for (int ch = 0; ch < 3; ch++) {
                    const uint8_t *v = p + 2 * (comp < 3 ? 0 : ch);
                    want[3 * i + ch] = over_white((v[0] << 8 | v[1]) / 257.0, a);
                }
            }
            tt_image img;
            decode_ok(&b, &img);
            assert_pixels_near(&img, want, w, h, 2.0, "16-bit png");
            if (comp == 2 || comp == 4) assert_int_equal(img.pixels[0], 255);
            tt_image_free(&img);
            image_buf_free(&b);
            free(rows);
            free(want);
        }
}

static void png_palette_and_gif(void **state) {
    (void)state;
    uint8_t pal[128][3], trns[128];
    image_fx_noise(&pal[0][0], sizeof pal, 300);
    for (int i = 0; i < 128; i++) trns[i] = i == 5 ? 0 : i == 6 ? 128 : 255;
    for (size_t s = 0; s < NSHAPES; s++) {
        int w = shapes[s][0], h = shapes[s][1];
        size_t n = (size_t)w * h;
        uint8_t *idx = tt_test_malloc(n);
        image_fx_noise(idx, n, 301 + s);
        for (size_t i = 0; i < n; i++) idx[i] &= 127;
        idx[0] = 5;
        if (n > 1) idx[n - 1] = 6;
        double *want = tt_test_malloc(n * 3 * sizeof *want);
        /* 8-bit palette with tRNS: 5 transparent, 6 half */
        for (size_t i = 0; i < n; i++)
            for (int ch = 0; ch < 3; ch++) want[3 * i + ch] = over_white(pal[idx[i]][ch], trns[idx[i]] / 255.0);
        image_buf b = image_fx_png_raw(w, h, 8, 3, idx, (size_t)w, &pal[0][0], 128, trns, 128);
        tt_image img;
        decode_ok(&b, &img);
        assert_pixels_near(&img, want, w, h, 0.51, "palette png + tRNS");
        assert_int_equal(img.pixels[0], 255);
        tt_image_free(&img);
        image_buf_free(&b);
        /* GIF: index 5 transparent */
        for (size_t i = 0; i < n; i++)
            for (int ch = 0; ch < 3; ch++) want[3 * i + ch] = idx[i] == 5 ? 255 : pal[idx[i]][ch];
        b = image_fx_gif(w, h, idx, (const uint8_t(*)[3])pal, 5);
        decode_ok(&b, &img);
        assert_pixels_near(&img, want, w, h, 0, "gif");
        tt_image_free(&img);
        image_buf_free(&b);
        /* 4-bit palette, no transparency: two pixels per byte */
        size_t rowbytes = ((size_t)w + 1) / 2;
        uint8_t *packed = calloc(rowbytes * h, 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t v = idx[(size_t)y * w + x] & 15;
                packed[y * rowbytes + x / 2] |= (uint8_t)(x % 2 ? v : v << 4);
                for (int ch = 0; ch < 3; ch++) want[3 * ((size_t)y * w + x) + ch] = pal[v][ch];
            }
        b = image_fx_png_raw(w, h, 4, 3, packed, rowbytes, &pal[0][0], 16, NULL, 0);
        decode_ok(&b, &img);
        assert_pixels_near(&img, want, w, h, 0, "4-bit palette png");
        tt_image_free(&img);
        image_buf_free(&b);
        free(packed);
        free(idx);
        free(want);
    }
}

/* A smooth pattern: JPEG keeps it within a few levels. */
static uint8_t smooth(int x, int y, int w, int h, int c) {
    return (uint8_t)(c == 0 ? 255 * x / (w > 1 ? w - 1 : 1) : c == 1 ? 255 * y / (h > 1 ? h - 1 : 1) : 96);
}

static void jpeg_baseline_and_progressive(void **state) {
    (void)state;
    for (size_t s = 0; s < NSHAPES; s++)
        for (int comp = 1; comp <= 3; comp += 2) {
            int w = shapes[s][0], h = shapes[s][1];
            size_t n = (size_t)w * h;
            uint8_t *px = tt_test_malloc(n * comp);
            double *want = tt_test_malloc(n * 3 * sizeof *want);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int ch = 0; ch < 3; ch++) {
                        if (ch < comp) px[((size_t)y * w + x) * comp + ch] = smooth(x, y, w, h, ch);
                        want[3 * ((size_t)y * w + x) + ch] = smooth(x, y, w, h, comp == 1 ? 0 : ch);
                    }
            image_buf b = image_fx_stb("jpg", px, w, h, comp);
            tt_image img;
            decode_ok(&b, &img);
            assert_pixels_near(&img, want, w, h, 24, "baseline jpeg");
            tt_image_free(&img);
            image_buf_free(&b);
            free(px);
            free(want);
        }
    tt_image img;
    image_buf prog = image_fx_codec_file("progressive.jpg");
    tt_assert_ok(tt_image_decode(prog.data, prog.len, NULL, &img));
    image_buf_free(&prog);
    assert_int_equal(img.width, 40);
    assert_int_equal(img.height, 24);
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 40; x++)
            for (int c = 0; c < 3; c++)
                assert_true(abs(img.pixels[3 * (y * 40 + x) + c] - image_fx_progressive_value(x, y, c)) <= 6);
    tt_image_free(&img);
}

/* The EXIF standard's wording, built from two primitives applied forward:
 * 2 mirror, 3 rotate 180, 4 mirror vertical (mirror + rotate 180),
 * 5 mirror + rotate 270 CW, 6 rotate 90 CW, 7 mirror + rotate 90 CW, 8 rotate 270 CW. */
static void mirror(tt_image *m) {
    for (int y = 0; y < m->height; y++)
        for (int x = 0; x < m->width / 2; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t *a = m->pixels + 3 * ((size_t)y * m->width + x) + c;
                uint8_t *b = m->pixels + 3 * ((size_t)y * m->width + m->width - 1 - x) + c;
                uint8_t t = *a;
                *a = *b, *b = t;
            }
}
static void rotate_cw(tt_image *m) {
    int w = m->width, h = m->height;
    uint8_t *d = tt_test_malloc(3 * (size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) /* (x, y) lands in column h-1-y, row x of an h-wide image */
            memcpy(d + 3 * ((size_t)x * h + (h - 1 - y)), m->pixels + 3 * ((size_t)y * w + x), 3);
    free(m->pixels);
    m->pixels = d, m->width = h, m->height = w;
}
static void exif_expected(tt_image *m, int o) {
    static const int mirrors[9] = {0, 0, 1, 0, 1, 1, 0, 1, 0}, turns[9] = {0, 0, 0, 2, 2, 3, 1, 1, 3};
    if (mirrors[o]) mirror(m);
    for (int i = 0; i < turns[o]; i++) rotate_cw(m);
}

static void exif_orientations_1_to_8(void **state) {
    (void)state;
    int w = 24, h = 16;
    uint8_t px[24 * 16 * 3];
    image_fx_noise(px, sizeof px, 400); /* asymmetric by construction */
    image_buf plain = image_fx_stb("jpg", px, w, h, 3);
    tt_image ref;
    decode_ok(&plain, &ref);
    for (int big = 0; big < 2; big++)
        for (int o = 1; o <= 8; o++) {
            image_buf app1 = image_fx_exif(big, (unsigned)o);
            assert_int_equal(tt_exif_orientation(app1.data, app1.len), o);
            image_buf tagged = image_fx_insert_app1(&plain, app1.data, app1.len);
            tt_image got, want = {ref.width, ref.height, tt_test_malloc(3 * (size_t)w * h)};
            memcpy(want.pixels, ref.pixels, 3 * (size_t)w * h);
            exif_expected(&want, o);
            decode_ok(&tagged, &got);
            assert_int_equal(got.width, want.width);
            assert_int_equal(got.height, want.height);
            if (memcmp(got.pixels, want.pixels, 3 * (size_t)w * h))
                fail_msg("orientation %d (%s endian): pixels differ from the expected transform", o,
                         big ? "big" : "little");
            tt_image_free(&got);
            tt_image_free(&want);
            image_buf_free(&tagged);
            image_buf_free(&app1);
        }
    tt_image_free(&ref);
    image_buf_free(&plain);
}

static int exif_of(const uint8_t *p, size_t n) { /* an exact-size copy, so asan sees overreads */
    uint8_t *c = tt_test_malloc(n);
    if (n) memcpy(c, p, n);
    int o = tt_exif_orientation(c, n);
    free(c);
    return o;
}

static void exif_malformed_is_ignored(void **state) {
    (void)state;
    image_buf good = image_fx_exif(0, 6);
    const size_t entry_end = 6 + 8 + 2 + 12; /* Exif\0\0, TIFF header, count, one entry */
    for (size_t n = 0; n <= good.len; n++) {
        int o = exif_of(good.data, n);
        assert_int_equal(o, n < entry_end ? 1 : 6);
    }
    static const struct { size_t at; uint8_t v[4]; size_t n; const char *what; } bad[] = {
        {6 + 4, {0xF0, 0xFF, 0xFF, 0xFF}, 4, "IFD0 offset far out"},
        {6 + 4, {4, 0, 0, 0}, 4, "IFD0 offset inside header"},
        {6 + 4, {25, 0, 0, 0}, 4, "IFD0 offset at the last byte"},
        {6 + 8, {0xFF, 0xFF, 0x13, 0x01}, 4, "entry count 65535, no orientation tag"},
        {6 + 10, {0x13, 0x01}, 2, "no orientation tag (IFD loops to itself below)"},
        {6 + 12, {2, 0}, 2, "type ASCII"},
        {6 + 14, {2, 0, 0, 0}, 4, "count 2"},
        {6 + 18, {0, 0}, 2, "value 0"},
        {6 + 18, {9, 0}, 2, "value 9"},
        {6 + 18, {0xFF, 0xFF}, 2, "value 65535"},
        {6, {'I', 'X'}, 2, "bad byte order"},
        {5, {1}, 1, "not Exif\\0\\0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        image_buf b = image_fx_exif(0, 6);
        memcpy(b.data + bad[i].at, bad[i].v, bad[i].n);
        if (i == 4) memcpy(b.data + 6 + 22, "\x08\0\0\0", 4); /* next IFD = IFD0 */
        if (exif_of(b.data, b.len) != 1) fail_msg("malformed EXIF '%s' not ignored", bad[i].what);
        image_buf_free(&b);
    }
    /* Random corruption: any answer in 1..8, never a crash or overread. */
    tt_rng r;
    tt_rng_seed(&r, 5, TT_STREAM_TEST);
    for (int t = 0; t < 5000; t++) {
        image_buf b = image_fx_exif(t & 1, 3);
        for (int k = 0; k < 3; k++) b.data[6 + tt_rng_below(&r, (uint32_t)b.len - 6)] = (uint8_t)tt_rng_u32(&r);
        int o = exif_of(b.data, b.len - tt_rng_below(&r, 4));
        assert_in_range(o, 1, 8);
        image_buf_free(&b);
    }
    /* A JPEG carrying broken EXIF decodes, unrotated. */
    uint8_t px[20 * 10 * 3];
    image_fx_noise(px, sizeof px, 401);
    image_buf plain = image_fx_stb("jpg", px, 20, 10, 3);
    tt_image ref, got;
    decode_ok(&plain, &ref);
    for (size_t cut = 6; cut < good.len; cut += 5) {
        image_buf tagged = image_fx_insert_app1(&plain, good.data, cut < entry_end ? cut : 9);
        decode_ok(&tagged, &got);
        assert_int_equal(got.width, 20);
        assert_memory_equal(got.pixels, ref.pixels, sizeof px);
        tt_image_free(&got);
        image_buf_free(&tagged);
    }
    tt_image_free(&ref);
    image_buf_free(&plain);
    image_buf_free(&good);
}

/* A well-formed PNG whose IHDR claims w×h but whose IDAT holds one pixel. */
static void rejects_bad_files_with_a_reason(void **state) {
    (void)state;
    uint8_t px[16 * 12 * 3];
    image_fx_noise(px, sizeof px, 500);
    image_buf random = {0}, text = {0}, jpeg_huge = {0}, bmp_huge = {0}, gif_huge = {0}, gif_text = {0};
    image_buf_put(&random, px, sizeof px);
    const char *txt = "label,path\ncat,images/cat.jpg\n";
    image_buf_put(&text, txt, strlen(txt));
    image_buf jpg = image_fx_stb("jpg", px, 16, 12, 3), bmp = image_fx_stb("bmp", px, 16, 12, 3);
    image_buf_put(&jpeg_huge, jpg.data, jpg.len); /* SOF0 height/width -> 60000 x 60000 */
    for (size_t i = 2; i + 9 < jpeg_huge.len; i++)
        if (jpeg_huge.data[i] == 0xFF && jpeg_huge.data[i + 1] == 0xC0) {
            memcpy(jpeg_huge.data + i + 5, "\xEA\x60\xEA\x60", 4);
            break;
        }
    image_buf_put(&bmp_huge, bmp.data, bmp.len);
    memcpy(bmp_huge.data + 18, "\x20\x4E\0\0\x20\x4E\0\0", 8); /* 20000 x 20000 */
    uint8_t idx[4] = {0}, pal[128][3] = {{0}};
    gif_huge = image_fx_gif(2, 2, idx, (const uint8_t(*)[3])pal, -1);
    memcpy(gif_huge.data + 6, "\xFF\xFF\xFF\xFF", 4);
    const char *fake = "GIF89a but not really a picture"; /* its "canvas" reads as 25120x29813 */
    image_buf_put(&gif_text, fake, strlen(fake));
    struct { const char *what; image_buf b; tt_status st; const char *msg; } cases[] = {
        {"zero-length", {0}, TT_ERR_FORMAT, "empty"},
        {"random bytes", random, TT_ERR_FORMAT, "not a JPEG, PNG, BMP or GIF"},
        {"text file", text, TT_ERR_FORMAT, "not a JPEG"},
        {"TGA", image_fx_stb("tga", px, 16, 12, 3), TT_ERR_FORMAT, "not a JPEG"},
        {"PNG 100000x100000", image_fx_png_header_only(100000, 100000), TT_ERR_LIMIT, "exceeds the limit"},
        {"PNG 8000x6000", image_fx_png_header_only(8000, 6000), TT_ERR_LIMIT, "exceeds the limit"},
        {"PNG 0x10", image_fx_png_header_only(0, 10), TT_ERR_FORMAT, "zero-sized"},
        {"PNG 5x5 holding 1 pixel", image_fx_png_header_only(5, 5), TT_ERR_CORRUPT, "libpng: "}, /* the decoder's reason */
        {"JPEG 60000x60000", jpeg_huge, TT_ERR_LIMIT, "exceeds the limit"},
        {"BMP 20000x20000", bmp_huge, TT_ERR_LIMIT, "exceeds the limit"},
        {"GIF 65535x65535", gif_huge, TT_ERR_LIMIT, "exceeds the limit"},
        {"text after a GIF signature", gif_text, TT_ERR_CORRUPT, "GIF: unknown block"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_image img = {7, 7, (uint8_t *)px};
        tt_clear_error();
        tt_status st = tt_image_decode(cases[i].b.data, cases[i].b.len, NULL, &img);
        if (st != cases[i].st || !strstr(tt_last_error(), cases[i].msg))
            fail_msg("%s: got %s '%s', want %s '%s'", cases[i].what, tt_status_name(st), tt_last_error(),
                     tt_status_name(cases[i].st), cases[i].msg);
        assert_null(img.pixels);
        assert_int_equal(img.width, 0);
        image_buf_free(&cases[i].b);
    }
    /* The limit is configurable, and inclusive. */
    tt_decode_opts opts = {.max_pixels = 16 * 12};
    tt_image img;
    tt_assert_ok(tt_image_decode(bmp.data, bmp.len, &opts, &img));
    tt_image_free(&img);
    opts.max_pixels--;
    assert_int_equal(tt_image_decode(bmp.data, bmp.len, &opts, &img), TT_ERR_LIMIT);
    /* A flipped bit inside PNG data is caught by the chunk CRC. */
    image_buf png = image_fx_stb("png", px, 16, 12, 3);
    png.data[png.len - 20] ^= 1;
    assert_int_equal(tt_image_decode(png.data, png.len, NULL, &img), TT_ERR_CORRUPT);
    assert_non_null(strstr(tt_last_error(), "CRC"));
    image_buf_free(&png);
    image_buf_free(&jpg);
    image_buf_free(&bmp);
}

static void truncated_files_are_rejected(void **state) {
    (void)state;
    uint8_t px[16 * 12 * 6], idx[16 * 12], pal[128][3];
    image_fx_noise(px, sizeof px, 600);
    image_fx_noise(idx, sizeof idx, 601);
    image_fx_noise(&pal[0][0], sizeof pal, 602);
    for (size_t i = 0; i < sizeof idx; i++) idx[i] &= 127;
    image_buf app1 = image_fx_exif(1, 6), jpg = image_fx_stb("jpg", px, 16, 12, 3);
    image_buf prog = image_fx_codec_file("progressive.jpg");
    struct { const char *what; image_buf b; size_t complete_from; } cases[] = {
        {"PNG RGBA", image_fx_stb("png", px, 16, 12, 4), 0},
        {"PNG 16-bit", image_fx_png_raw(16, 12, 16, 2, px, 16 * 6, NULL, 0, NULL, 0), 0},
        {"PNG palette", image_fx_png_raw(16, 12, 8, 3, idx, 16, &pal[0][0], 128, NULL, 0), 0},
        {"BMP", image_fx_stb("bmp", px, 16, 12, 3), 0},
        {"JPEG baseline", jpg, 0},
        {"JPEG + EXIF", image_fx_insert_app1(&jpg, app1.data, app1.len), 0},
        {"JPEG progressive", prog, 0},
        /* Only the first frame is decoded: a GIF cut just before its trailer is whole. */
        {"GIF", image_fx_gif(16, 12, idx, (const uint8_t(*)[3])pal, -1), 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        image_buf *b = &cases[i].b;
        tt_image img;
        decode_ok(b, &img);
        tt_image_free(&img);
        for (size_t n = 1; n + cases[i].complete_from < b->len; n++) {
            uint8_t *cut = tt_test_malloc(n); /* exact size: asan catches overreads */
            memcpy(cut, b->data, n);
            tt_clear_error();
            tt_status st = tt_image_decode(cut, n, NULL, &img);
            if (st != TT_ERR_FORMAT && st != TT_ERR_CORRUPT)
                fail_msg("%s cut to %zu of %zu bytes: %s '%s'", cases[i].what, n, b->len,
                         tt_status_name(st), tt_last_error());
            assert_true(strlen(tt_last_error()) > 0);
            assert_null(img.pixels);
            free(cut);
        }
        if (i != 4) image_buf_free(b);
    }
    image_buf_free(&jpg);
    image_buf_free(&app1);
}

/* WebP (libwebp): lossy near the pattern, lossless with alpha exact over white. */
static void webp_lossy_and_lossless(void **state) {
    (void)state;
    tt_image img;
    image_buf lossy = image_fx_codec_file("lossy.webp"), lossless = image_fx_codec_file("lossless-alpha.webp");
    tt_assert_ok(tt_image_decode(lossy.data, lossy.len, NULL, &img));
    assert_int_equal(img.width, 64);
    assert_int_equal(img.height, 48);
    double err = 0;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++) err += abs(img.pixels[3 * (y * 64 + x) + c] - image_fx_codec_value(x, y, c));
    /* the pattern wraps at 255 (sharp edges) and has fine noise: quality 80 keeps it within ~25 levels */
    if (err / (64 * 48 * 3) > 30) fail_msg("lossy webp: mean error %.2f", err / (64 * 48 * 3));
    tt_image_free(&img);
    double *want = tt_test_malloc(64 * 48 * 3 * sizeof *want);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++)
                want[3 * (y * 64 + x) + c] = over_white(image_fx_codec_value(x, y, c), ((x * 4 + y * 2) & 255) / 255.0);
    tt_assert_ok(tt_image_decode(lossless.data, lossless.len, NULL, &img));
    assert_pixels_near(&img, want, 64, 48, 0.51, "lossless webp");
    tt_image_free(&img);
    free(want);
    /* cut short: the RIFF size says more than there is */
    assert_int_equal(tt_image_decode(lossy.data, lossy.len - 1, NULL, &img), TT_ERR_CORRUPT);
    assert_non_null(strstr(tt_last_error(), "WebP truncated"));
    image_buf_free(&lossy), image_buf_free(&lossless);
}

/* The same bytes decode to the same pixels in every build: this test runs
 * natively (libjpeg-turbo with its x86 SIMD), under ASan and in wasm (the C
 * paths), and all are held to one SHA-256 per fixture. libjpeg-turbo's
 * SIMD islow IDCT, fancy upsampling and colour conversion are bit-exact
 * with its C code (natively, JSIMD_FORCENONE=1 gives the same digests);
 * WebP lossy matches Pillow's decode of the same bytes. A project trains
 * the same in the CLI and the page. */
static void decoders_give_the_same_pixels_everywhere(void **state) {
    (void)state;
    uint8_t px[64 * 48 * 3], idx[64 * 48], pal[128][3];
    image_fx_noise(px, sizeof px, 900);
    image_fx_noise(&pal[0][0], sizeof pal, 901);
    for (size_t i = 0; i < sizeof idx; i++) idx[i] = px[i] & 15;
    image_buf jpg444 = image_fx_stb("jpg", px, 64, 48, 3), png = image_fx_stb("png", px, 64, 48, 3),
              bmp = image_fx_stb("bmp", px, 64, 48, 3), gif = image_fx_gif(64, 48, idx, (const uint8_t(*)[3])pal, 3),
              grey = image_fx_stb("jpg", px, 64, 48, 1);
    image_buf j420 = image_fx_codec_file("420.jpg"), j422 = image_fx_codec_file("422.jpg"),
              prog = image_fx_codec_file("progressive.jpg"), lossy = image_fx_codec_file("lossy.webp"),
              lossless = image_fx_codec_file("lossless-alpha.webp");
    const struct {
        const char *what;
        const uint8_t *bytes;
        size_t len;
        const char *sha256;
    } cases[] = { /* PNG and BMP hold the same pixels losslessly: one digest */
        {"JPEG 4:4:4 (stb_image_write)", jpg444.data, jpg444.len, 
         "8230ab456ad4c26408d376d885de629450ffbfd4d7ed6f423061fc7bc29ac6a7"},
        {"JPEG grey", grey.data, grey.len, 
         "36353d008961fa7f0a40d60eba0a7108c323f7653426bcf065e35fc50f9371cd"},
        {"JPEG 4:2:0", j420.data, j420.len, 
         "93f41ab0b9ca7c65dd428c5e037791453daa58fcd4587c348b1431134acbeef0"},
        {"JPEG 4:2:2", j422.data, j422.len, 
         "1c3adace7053805605927f4462805884fe97bed3cd50e0233573e03536c37a23"},
        {"JPEG progressive", prog.data, prog.len, 
         "84b0a9159fd0b8e99e27b87603bbc6b06e26c63968763bbdb6858ea458c681a5"},
        {"WebP lossy", lossy.data, lossy.len, 
         "4cb58f0b9d73a8cadb7c885e43360babdbb96182d1757064cad149f7aa7143b0"},
        {"WebP lossless + alpha", lossless.data, lossless.len, 
         "97403edde2967dc0b831a5f24bfe28357a0cbfa679f1f2752d15ffc791e5e5d0"},
        {"PNG", png.data, png.len, 
         "df5cbb8cb62dd549f585e968d6b90869c52922c8c5da3fc8f78761254d0ac97e"},
        {"BMP", bmp.data, bmp.len, 
         "df5cbb8cb62dd549f585e968d6b90869c52922c8c5da3fc8f78761254d0ac97e"},
        {"GIF", gif.data, gif.len, 
         "9bcceb7eb195fee46731ad7f1f0da48e44b163d62fbef38f92d0240d937ff4d9"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_image img;
        tt_assert_ok(tt_image_decode(cases[i].bytes, cases[i].len, NULL, &img));
        uint8_t d[TT_SHA256_SIZE];
        char hex[TT_SHA256_HEX];
        tt_sha256(img.pixels, 3 * (size_t)img.width * img.height, d);
        tt_sha256_hex(d, hex);
        if (strcmp(hex, cases[i].sha256)) {
            fprintf(stderr, "%s: pixels %s, want %s\n", cases[i].what, hex, cases[i].sha256);
            bad++;
        }
        tt_image_free(&img);
    }
    image_buf_free(&jpg444), image_buf_free(&png), image_buf_free(&bmp), image_buf_free(&gif), image_buf_free(&grey);
    image_buf_free(&j420), image_buf_free(&j422), image_buf_free(&prog), image_buf_free(&lossy), image_buf_free(&lossless);
    assert_int_equal(bad, 0);
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void check_photo(const char *path, const char *name, int *white_share) {
    image_buf b = image_fx_read_file(path);
    if (!b.data) fail_msg("cannot read %s", path);
    tt_image img;
    double t0 = seconds();
    tt_status st = tt_image_decode(b.data, b.len, NULL, &img);
    double dt = seconds() - t0;
    if (st) fail_msg("%s: %s %s", name, tt_status_name(st), tt_last_error());
    assert_in_range(img.width, 100, 10000);
    assert_in_range(img.height, 100, 10000);
    size_t n = (size_t)img.width * img.height * 3, white = 0;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) sum += img.pixels[i], sq += (double)img.pixels[i] * img.pixels[i];
    for (size_t i = 0; i < n; i += 3) white += img.pixels[i] == 255 && img.pixels[i + 1] == 255 && img.pixels[i + 2] == 255;
    double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    if (white_share) *white_share = (int)(100 * white / (n / 3));
    print_message("  %-22s %5zu KB  %4dx%-4d  mean %5.1f sd %5.1f  decode %6.2f ms\n", name, b.len / 1024,
                  img.width, img.height, mean, sd, dt * 1e3);
    assert_true(mean > 20 && mean < 235);
    assert_true(sd > 10);
    static const double cuts[] = {0.5, 0.9, 0.999};
    for (size_t c = 0; c < 3; c++) { /* cut short, a real file must be refused too */
        tt_image part;
        size_t n = (size_t)(b.len * cuts[c]);
        tt_status pst = tt_image_decode(b.data, n, NULL, &part);
        if (pst != TT_ERR_CORRUPT || !strstr(tt_last_error(), "truncated"))
            fail_msg("%s cut to %zu of %zu bytes: %s '%s'", name, n, b.len, tt_status_name(pst), tt_last_error());
    }
    float *in = tt_test_malloc(224 * 224 * 3 * sizeof *in);
    tt_assert_ok(tt_image_to_input(&img, 224, in));
    for (size_t i = 0; i < 224 * 224 * 3; i++) assert_true(in[i] >= -1.0f && in[i] <= 1.0f);
    free(in);
    tt_image_free(&img);
    image_buf_free(&b);
}

static void real_photos_decode(void **state) {
    (void)state;
    const char *dir = tt_test_shared_path("images");
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s", dir);
    int count = 0;
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".jpg") && !has_suffix(e->d_name, ".bmp")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_photo(path, e->d_name, NULL);
        count++;
    }
    closedir(d);
    assert_true(count >= 2);
    static const char *const cutouts[] = {"bear.png", "cat.png", "albatross.png", "angelfish.png"};
    const char *qabcs = "/usr/share/qabcs/abcs/all/pics/animals";
    if (!(d = opendir(qabcs))) {
        print_message("  SKIP PNG cut-outs: %s is absent (Debian package qabcs-data)\n", qabcs);
        return;
    }
    closedir(d);
    for (size_t i = 0; i < sizeof cutouts / sizeof cutouts[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", qabcs, cutouts[i]);
        int white;
        check_photo(path, cutouts[i], &white);
        /* transparent background composited over white */
        if (white < 5) fail_msg("%s: only %d%% white pixels after compositing", cutouts[i], white);
    }
}

/* --- preprocessing --- */

static tt_image noise_image(int w, int h, uint64_t seed) {
    tt_image m = {w, h, tt_test_malloc(3 * (size_t)w * h)};
    image_fx_noise(m.pixels, 3 * (size_t)w * h, seed);
    return m;
}

static void input_of_exact_size_passes_through(void **state) {
    (void)state;
    static const int cases[][3] = {{224, 224, 224}, {300, 224, 224}, {224, 401, 224}, {96, 97, 96}, {1, 1, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int w = cases[c][0], h = cases[c][1], s = cases[c][2];
        tt_image m = noise_image(w, h, 700 + c);
        float *out = tt_test_malloc(3 * (size_t)s * s * sizeof *out);
        tt_assert_ok(tt_image_to_input(&m, s, out));
        int x0 = (w - s) / 2, y0 = (h - s) / 2; /* centre crop */
        for (int y = 0; y < s; y++)
            for (int x = 0; x < 3 * s; x++) {
                float want = m.pixels[3 * ((size_t)(y + y0) * w + x0) + x] / 127.5f - 1.0f;
                if (out[3 * (size_t)y * s + x] != want)
                    fail_msg("%dx%d -> %d: (%d, %d) got %.9g want %.9g", w, h, s, x / 3, y,
                             out[3 * (size_t)y * s + x], want);
            }
        free(out);
        tt_image_free(&m);
    }
}

/* Ramps: R rises with x, G with y, B constant. After crop + resize the
 * output must keep that orientation and land where the crop says. */
static void resize_keeps_orientation_and_range(void **state) {
    (void)state;
    static const int cases[][3] = {{448, 448, 224}, {600, 300, 224}, {300, 600, 224}, {50, 40, 224}, {1000, 997, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int w = cases[c][0], h = cases[c][1], s = cases[c][2];
        int side = w < h ? w : h, x0 = (w - side) / 2, y0 = (h - side) / 2;
        tt_image m = {w, h, tt_test_malloc(3 * (size_t)w * h)};
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = m.pixels + 3 * ((size_t)y * w + x);
                p[0] = (uint8_t)(255 * x / (w - 1)), p[1] = (uint8_t)(255 * y / (h - 1)), p[2] = 77;
            }
        float *out = tt_test_malloc(3 * (size_t)s * s * sizeof *out);
        tt_assert_ok(tt_image_to_input(&m, s, out));
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                const float *o = out + 3 * ((size_t)y * s + x);
                for (int ch = 0; ch < 3; ch++) assert_true(o[ch] >= -1.0f && o[ch] <= 1.0f);
                /* the source position this output pixel centre samples */
                double sx = x0 + (x + 0.5) * side / s - 0.5, sy = y0 + (y + 0.5) * side / s - 0.5;
                sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
                sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
                double r = 255.0 * sx / (w - 1), g = 255.0 * sy / (h - 1);
                double tol = 2.0 + 255.0 * side / s / (w < h ? w : h); /* a pixel of the ramp plus rounding */
                if (fabs((o[0] + 1) * 127.5 - r) > tol || fabs((o[1] + 1) * 127.5 - g) > tol ||
                    fabs((o[2] + 1) * 127.5 - 77) > 0.01)
                    fail_msg("%dx%d -> %d at (%d, %d): got %.1f %.1f %.1f want %.1f %.1f 77", w, h, s, x, y,
                             (o[0] + 1) * 127.5, (o[1] + 1) * 127.5, (o[2] + 1) * 127.5, r, g);
            }
        free(out);
        tt_image_free(&m);
    }
}

static void reduce_box_filters(void **state) {
    (void)state;
    tt_image m = noise_image(1000, 601, 800), r;
    tt_assert_ok(tt_image_reduce(&m, 224, &r)); /* factor 2 */
    assert_int_equal(r.width, 500);
    assert_int_equal(r.height, 300);
    for (int y = 0; y < 300; y += 37)
        for (int x = 0; x < 500; x += 41)
            for (int c = 0; c < 3; c++) {
                int sum = 0;
                for (int j = 0; j < 2; j++)
                    for (int i = 0; i < 2; i++) sum += m.pixels[3 * ((size_t)(2 * y + j) * 1000 + 2 * x + i) + c];
                assert_true(abs(r.pixels[3 * ((size_t)y * 500 + x) + c] * 4 - sum) <= 2);
            }
    tt_image_free(&r);
    tt_assert_ok(tt_image_reduce(&m, 601, &r)); /* factor 1: a copy */
    assert_int_equal(r.width, 1000);
    assert_memory_equal(r.pixels, m.pixels, 3 * 1000 * 601);
    tt_image_free(&r);
    float out[12];
    assert_int_equal(tt_image_to_input(&m, 0, out), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_image_to_input(NULL, 2, out), TT_ERR_INVALID_ARG);
    tt_image_free(&m);
}

/* Canvas pixels (tt_image_from_rgba) and the same pixels as a PNG file give
 * the same RGB: transparent, half and opaque alpha over white alike. */

/* A 640x480 photo-like picture: gradients, stripes and a little noise. */
static tt_image photo_like(void) {
    enum { W = 640, H = 480 };
    tt_image m = {W, H, tt_test_malloc(3 * (size_t)W * H)};
    image_fx_noise(m.pixels, 3 * (size_t)W * H, 5);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = m.pixels + 3 * ((size_t)y * W + x);
            int stripe = (x / 23 + y / 31) % 2 ? 40 : 0;
            p[0] = (uint8_t)(x * 200 / W + stripe + p[0] % 8);
            p[1] = (uint8_t)(y * 200 / H + p[1] % 8);
            p[2] = (uint8_t)(90 + stripe + p[2] % 8);
        }
    return m;
}

static void sha_hex(const tt_image *img, char hex[TT_SHA256_HEX]) {
    uint8_t d[TT_SHA256_SIZE];
    tt_sha256(img->pixels, 3 * (size_t)img->width * img->height, d);
    tt_sha256_hex(d, hex);
}

/* A JPEG decodes at the smallest DCT scale n/8 that keeps the short side >=
 * min_side, to the same pixels in every build (libjpeg-turbo's SIMD and C
 * paths, wasm), and close to a box-shrunk full decode (the same picture). */
static void jpeg_decodes_at_a_dct_scale(void **state) {
    (void)state;
    tt_image m = photo_like();
    image_buf q80 = image_fx_stb("jpg80", m.pixels, m.width, m.height, 3), q95 = image_fx_stb("jpg", m.pixels, m.width, m.height, 3);
    static const struct {
        int q95, min_side, w, h;
        const char *sha256;
    } cases[] = {
        {0, 0, 640, 480, "9139e44283c3a16dbd5727a55a42f78adfd52513f989009613a4a3c66aa49804"},
        {0, 224, 320, 240, "42daae74fb73f6157c83c348f628efe4a1d5dea7250c64e22eebc3550959df65"},
        {0, 100, 160, 120, "b548f6c6fca82f788bf4e7290fb2ea457c70d26acf19563a65df0cfcb91a9243"},
        {0, 1, 80, 60, "6d4622bf460a7730ca9509aeaa596320237806b0742bc7ae0fe2d274a66d3df3"},
        {0, 300, 640, 480, "9139e44283c3a16dbd5727a55a42f78adfd52513f989009613a4a3c66aa49804"}, /* 5/8 is no power of 2 */
        {1, 224, 320, 240, "54c64b40599a0b64b28dacd5f849381137b324b7194fa654f589ec15d451f513"},
        {1, 480, 640, 480, "ffba1bb4718f987cfecf8fd3f3733920244540b5e629f5f2b06cb2c0645d715b"},
        {1, 479, 640, 480, "ffba1bb4718f987cfecf8fd3f3733920244540b5e629f5f2b06cb2c0645d715b"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const image_buf *b = cases[i].q95 ? &q95 : &q80;
        tt_image img, full, boxed;
        tt_decode_opts o = {0, cases[i].min_side};
        tt_assert_ok(tt_image_decode(b->data, b->len, &o, &img));
        assert_int_equal(img.width, cases[i].w);
        assert_int_equal(img.height, cases[i].h);
        char hex[TT_SHA256_HEX];
        sha_hex(&img, hex);
        if (strcmp(hex, cases[i].sha256)) {
            fprintf(stderr, "case %zu (q%d, min_side %d): pixels %s, want %s\n", i, cases[i].q95 ? 95 : 80,
                    cases[i].min_side, hex, cases[i].sha256);
            bad++;
        }
        /* the same picture as a full decode shrunk by the same factor */
        if (cases[i].w == 320) {
            tt_assert_ok(tt_image_decode(b->data, b->len, NULL, &full));
            tt_assert_ok(tt_image_reduce(&full, 240, &boxed));
            assert_int_equal(boxed.width, 320);
            double sum = 0;
            for (size_t k = 0; k < 3 * (size_t)320 * 240; k++) sum += fabs((double)img.pixels[k] - boxed.pixels[k]);
            assert_true(sum / (3.0 * 320 * 240) < 4.0);
            tt_image_free(&full), tt_image_free(&boxed);
        }
        tt_image_free(&img);
    }
    assert_int_equal(bad, 0);
    image_buf_free(&q80), image_buf_free(&q95);
    tt_image_free(&m);
}

/* The training copy: a JPEG at its DCT scale, then box-shrunk to a short side
 * in [size, 2 size). Kept as PNG it is a fixed point: its own copy is the same
 * pixels, so features computed from it equal those from the original. */
static void training_copy_is_a_fixed_point(void **state) {
    (void)state;
    tt_image m = photo_like();
    image_buf jpg = image_fx_stb("jpg80", m.pixels, m.width, m.height, 3), png = image_fx_stb("png", m.pixels, m.width, m.height, 3);
    static const struct {
        int png, size, w, h;
    } cases[] = {{0, 224, 320, 240}, {0, 64, 160, 120}, {0, 16, 26, 20}, {1, 224, 320, 240}, {1, 100, 160, 120}, {0, 500, 640, 480}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const image_buf *b = cases[i].png ? &png : &jpg;
        tt_image copy, again, dec;
        tt_assert_ok(tt_image_training_copy(b->data, b->len, NULL, cases[i].size, &copy));
        assert_int_equal(copy.width, cases[i].w);
        assert_int_equal(copy.height, cases[i].h);
        void *bytes;
        size_t len;
        tt_assert_ok(tt_image_encode_png(&copy, &bytes, &len));
        tt_assert_ok(tt_image_decode(bytes, len, NULL, &dec));
        tt_assert_ok(tt_image_training_copy(bytes, len, NULL, cases[i].size, &again));
        assert_int_equal(again.width, copy.width);
        assert_int_equal(again.height, copy.height);
        assert_memory_equal(again.pixels, copy.pixels, 3 * (size_t)copy.width * copy.height);
        assert_memory_equal(dec.pixels, copy.pixels, 3 * (size_t)copy.width * copy.height);
        free(bytes);
        tt_image_free(&copy), tt_image_free(&again), tt_image_free(&dec);
    }
    /* a thumbnail JPEG decodes back to its size and close to its pixels */
    void *bytes;
    size_t len;
    tt_image dec;
    tt_assert_ok(tt_image_encode_jpeg(&m, 82, &bytes, &len));
    assert_true(len < 3 * (size_t)m.width * m.height / 4);
    /* progressive by spectral selection only (encode.c says why): a SOF2 frame, and
     * scans whose successive-approximation bits (the byte before each SOS's end) are 0 */
    const uint8_t *jb = bytes;
    int sof2 = 0, scans = 0;
    for (size_t k = 2; k + 4 <= len && jb[k] == 0xFF;) {
        uint8_t marker = jb[k + 1];
        size_t seg = (size_t)jb[k + 2] << 8 | jb[k + 3];
        assert_true(marker != 0xC0 && marker != 0xC1);
        sof2 |= marker == 0xC2;
        if (marker == 0xDA) {
            assert_int_equal(jb[k + 2 + seg - 1], 0);
            scans++;
            /* the entropy-coded data runs to the next marker that is not a stuffed 0 or RST */
            for (k += 2 + seg; k + 1 < len && !(jb[k] == 0xFF && jb[k + 1] && (jb[k + 1] < 0xD0 || jb[k + 1] > 0xD7)); k++) {}
        } else {
            k += 2 + seg;
        }
    }
    assert_true(sof2);
    assert_int_equal(scans, 4);
    tt_assert_ok(tt_image_decode(bytes, len, NULL, &dec));
    assert_int_equal(dec.width, m.width);
    assert_int_equal(dec.height, m.height);
    double sum = 0;
    for (size_t k = 0; k < 3 * (size_t)m.width * m.height; k++) sum += fabs((double)dec.pixels[k] - m.pixels[k]);
    assert_true(sum / (3.0 * m.width * m.height) < 8.0);
    free(bytes);
    tt_image_free(&dec);
    assert_int_equal(tt_image_encode_jpeg(&m, 0, &bytes, &len), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_image_encode_png(NULL, &bytes, &len), TT_ERR_INVALID_ARG);
    image_buf_free(&jpg), image_buf_free(&png);
    tt_image_free(&m);
}

static void rgba_pixels_match_the_decoder(void **state) {
    (void)state;
    enum { W = 13, H = 7 };
    uint8_t px[W * H * 4];
    image_fx_noise(px, sizeof px, 99);
    for (int i = 0; i < W * H; i += 3) px[4 * i + 3] = (uint8_t)(i % 2 ? 0 : 255);
    image_buf png = image_fx_stb("png", px, W, H, 4);
    tt_image a, b;
    tt_assert_ok(tt_image_decode(png.data, png.len, NULL, &a));
    tt_assert_ok(tt_image_from_rgba(px, W, H, &b));
    assert_int_equal(b.width, W);
    assert_int_equal(b.height, H);
    assert_memory_equal(a.pixels, b.pixels, (size_t)W * H * 3);
    tt_image_free(&a), tt_image_free(&b);
    image_buf_free(&png);
    assert_int_equal(tt_image_from_rgba(px, 0, H, &b), TT_ERR_LIMIT);
    assert_null(b.pixels);
    assert_int_equal(tt_image_from_rgba(px, 100000, 100000, &b), TT_ERR_LIMIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lossless_formats_roundtrip),
        cmocka_unit_test(rgba_pixels_match_the_decoder),
        cmocka_unit_test(png_16bit_all_colour_types),
        cmocka_unit_test(png_palette_and_gif),
        cmocka_unit_test(jpeg_baseline_and_progressive),
        cmocka_unit_test(exif_orientations_1_to_8),
        cmocka_unit_test(exif_malformed_is_ignored),
        cmocka_unit_test(rejects_bad_files_with_a_reason),
        cmocka_unit_test(truncated_files_are_rejected),
        cmocka_unit_test(webp_lossy_and_lossless),
        cmocka_unit_test(decoders_give_the_same_pixels_everywhere),
        cmocka_unit_test(real_photos_decode),
        cmocka_unit_test(input_of_exact_size_passes_through),
        cmocka_unit_test(resize_keeps_orientation_and_range),
        cmocka_unit_test(reduce_box_filters),
        cmocka_unit_test(jpeg_decodes_at_a_dct_scale),
        cmocka_unit_test(training_copy_is_a_fixed_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
