/* Encoders for what the app keeps of a picture besides its original: the
 * training copy as lossless PNG (its pixels must come back exactly: features
 * are computed from them) and the thumbnail as JPEG (only looked at). The
 * same libpng/zlib and libjpeg-turbo as the decoders (image.c). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "tabtrain/image.h"

/* zlib level 3: a copy is written once per picture added, so speed matters more
 * than the last percent of size (level 6 took ~2x the time for ~3 % less). */
#define TT_PNG_LEVEL 3

typedef struct tt_png_sink {
    uint8_t *p;
    size_t n, cap;
    int oom;
} tt_png_sink;

static void tt_png_write(png_structp ps, png_bytep src, size_t len) {
    tt_png_sink *s = png_get_io_ptr(ps);
    if (s->oom) return;
    if (s->n + len > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->n + len) cap *= 2;
        uint8_t *q = realloc(s->p, cap);
        if (!q) {
            s->oom = 1;
            return;
        }
        s->p = q, s->cap = cap;
    }
    memcpy(s->p + s->n, src, len);
    s->n += len;
}

static void tt_png_flush(png_structp ps) { (void)ps; }

static void tt_png_error(png_structp ps, png_const_charp msg) {
    (void)msg;
    png_longjmp(ps, 1);
}

static void tt_png_warning(png_structp ps, png_const_charp msg) { (void)ps, (void)msg; }

static int tt_check(const tt_image *img, void **bytes, size_t *len) {
    if (bytes) *bytes = NULL;
    if (len) *len = 0;
    return img && img->pixels && img->width > 0 && img->height > 0 && bytes && len;
}

tt_status tt_image_encode_png(const tt_image *img, void **bytes, size_t *len) {
    if (!tt_check(img, bytes, len)) return tt_error(TT_ERR_INVALID_ARG, "tt_image_encode_png: empty image");
    tt_png_sink sink = {0};
    png_structp ps = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, tt_png_error, tt_png_warning);
    png_infop info = ps ? png_create_info_struct(ps) : NULL;
    if (!info) {
        png_destroy_write_struct(&ps, NULL);
        return tt_error(TT_ERR_NOMEM, "encoding PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(ps))) {
        png_destroy_write_struct(&ps, &info);
        free(sink.p);
        return tt_error(TT_ERR_NOMEM, "encoding a %dx%d PNG failed", img->width, img->height);
    }
    png_set_write_fn(ps, &sink, tt_png_write, tt_png_flush);
    png_set_compression_level(ps, TT_PNG_LEVEL);
    png_set_IHDR(ps, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(ps, info);
    for (int y = 0; y < img->height; y++) png_write_row(ps, img->pixels + 3 * (size_t)img->width * y);
    png_write_end(ps, info);
    png_destroy_write_struct(&ps, &info);
    if (sink.oom) {
        free(sink.p);
        return tt_error(TT_ERR_NOMEM, "encoding PNG: out of memory");
    }
    *bytes = sink.p;
    *len = sink.n;
    return TT_OK;
}

typedef struct tt_jpeg_werr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
} tt_jpeg_werr;

static void tt_jpeg_werror(j_common_ptr c) { longjmp(((tt_jpeg_werr *)c->err)->jb, 1); }

/* Progressive, by spectral selection only: the DC of every component, then each
 * component's AC. Baseline JPEG goes through libjpeg-turbo's encode_one_block, 50 KB
 * of wasm unrolled by hand, and successive approximation through encode_mcu_AC_refine
 * (6 KB); a browser compiles whichever gets hot with its optimizing compiler, which on
 * the page's first pictures competes with them for the cores (0.3 s of compiling for
 * the 50 KB one). These scans use two functions of ~2 KB. Also smaller files: the
 * Huffman tables are optimized, as progressive mode requires. */
static const jpeg_scan_info tt_jpeg_scans[] = {
    {3, {0, 1, 2, 0}, 0, 0, 0, 0},
    {1, {0, 0, 0, 0}, 1, 63, 0, 0},
    {1, {1, 0, 0, 0}, 1, 63, 0, 0},
    {1, {2, 0, 0, 0}, 1, 63, 0, 0},
};

tt_status tt_image_encode_jpeg(const tt_image *img, int quality, void **bytes, size_t *len) {
    if (!tt_check(img, bytes, len) || quality < 1 || quality > 100)
        return tt_error(TT_ERR_INVALID_ARG, "tt_image_encode_jpeg: empty image or quality %d", quality);
    struct jpeg_compress_struct ci;
    tt_jpeg_werr je;
    unsigned char *volatile out = NULL;
    unsigned long out_len = 0;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = tt_jpeg_werror;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&ci);
        free(out);
        return tt_error(TT_ERR_NOMEM, "encoding a %dx%d JPEG failed", img->width, img->height);
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, (unsigned char **)&out, &out_len);
    ci.image_width = (JDIMENSION)img->width;
    ci.image_height = (JDIMENSION)img->height;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    ci.scan_info = tt_jpeg_scans;
    ci.num_scans = (int)(sizeof tt_jpeg_scans / sizeof *tt_jpeg_scans);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = img->pixels + 3 * (size_t)img->width * ci.next_scanline;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    *bytes = out;
    *len = out_len;
    return TT_OK;
}
