#include "image_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/crc32.h"
#include "tabtrain/rng.h"
#include "tt_test.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include "data/stb_quiet.h"
TT_STB_QUIET_BEGIN
#include "stb_image_write.h"
TT_STB_QUIET_END

void image_buf_free(image_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void image_buf_put(image_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) fail_msg("out of memory");
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put8(image_buf *b, unsigned v) {
    uint8_t c = (uint8_t)v;
    image_buf_put(b, &c, 1);
}
static void put16le(image_buf *b, unsigned v) { put8(b, v), put8(b, v >> 8); }
static void put32be(image_buf *b, uint32_t v) { put8(b, v >> 24), put8(b, v >> 16), put8(b, v >> 8), put8(b, v); }

static void stb_sink(void *ctx, void *data, int size) { image_buf_put(ctx, data, (size_t)size); }

image_buf image_fx_stb(const char *fmt, const uint8_t *px, int w, int h, int comp) {
    image_buf b = {0};
    int ok = !strcmp(fmt, "png") ? stbi_write_png_to_func(stb_sink, &b, w, h, comp, px, w * comp)
           : !strcmp(fmt, "bmp") ? stbi_write_bmp_to_func(stb_sink, &b, w, h, comp, px)
           : !strcmp(fmt, "jpg") ? stbi_write_jpg_to_func(stb_sink, &b, w, h, comp, px, 95)
           : !strcmp(fmt, "jpg80") ? stbi_write_jpg_to_func(stb_sink, &b, w, h, comp, px, 80)
           : !strcmp(fmt, "tga") ? stbi_write_tga_to_func(stb_sink, &b, w, h, comp, px)
                                 : 0;
    if (!ok) fail_msg("stb_image_write cannot write %s %dx%dx%d", fmt, w, h, comp);
    return b;
}

void image_fx_twin_bmps(image_buf out[2]) {
    enum { W = 256, H = 256, TOP = 96 };
    uint8_t *px = tt_test_malloc(W * H * 3);
    for (int k = 0; k < 2; k++) {
        image_fx_noise(px, W * H * 3, 4242);
        for (size_t i = 0; i < (size_t)W * TOP * 3; i++)
            px[i] = (uint8_t)((int)(i % 3) == (k ? 2 : 0) ? 200 + px[i] % 56 : px[i] % 40);
        out[k] = image_fx_stb("bmp", px, W, H, 3);
    }
    free(px);
}

static void png_chunk(image_buf *b, const char *type, const uint8_t *data, size_t n) {
    put32be(b, (uint32_t)n);
    size_t at = b->len;
    image_buf_put(b, type, 4);
    if (n) image_buf_put(b, data, n);
    put32be(b, tt_crc32(0, b->data + at, n + 4));
}

image_buf image_fx_png_raw(int w, int h, int depth, int colortype, const uint8_t *rows,
                           size_t rowbytes, const uint8_t *plte, int nplte, const uint8_t *trns,
                           int ntrns) {
    image_buf raw = {0}, z = {0}, b = {0};
    for (int y = 0; y < h; y++) {
        put8(&raw, 0); /* filter: none */
        image_buf_put(&raw, rows + (size_t)y * rowbytes, rowbytes);
    }
    put8(&z, 0x78), put8(&z, 0x01);
    for (size_t at = 0; at < raw.len;) { /* stored deflate blocks */
        size_t n = raw.len - at < 65535 ? raw.len - at : 65535;
        put8(&z, at + n == raw.len);
        put16le(&z, (unsigned)n), put16le(&z, (unsigned)~n & 0xFFFF);
        image_buf_put(&z, raw.data + at, n);
        at += n;
    }
    uint32_t s1 = 1, s2 = 0; /* adler32 */
    for (size_t i = 0; i < raw.len; i++) s1 = (s1 + raw.data[i]) % 65521, s2 = (s2 + s1) % 65521;
    put32be(&z, s2 << 16 | s1);
    image_buf_put(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                        (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                        (uint8_t)depth, (uint8_t)colortype, 0, 0, 0};
    png_chunk(&b, "IHDR", ihdr, 13);
    if (plte) png_chunk(&b, "PLTE", plte, 3 * (size_t)nplte);
    if (trns) png_chunk(&b, "tRNS", trns, (size_t)ntrns);
    png_chunk(&b, "IDAT", z.data, z.len);
    png_chunk(&b, "IEND", NULL, 0);
    image_buf_free(&raw);
    image_buf_free(&z);
    return b;
}

image_buf image_fx_gif(int w, int h, const uint8_t *idx, const uint8_t pal[128][3], int transparent) {
    image_buf b = {0}, codes = {0};
    image_buf_put(&b, "GIF89a", 6);
    put16le(&b, (unsigned)w), put16le(&b, (unsigned)h);
    put8(&b, 0x80 | 0x70 | 6), put8(&b, 0), put8(&b, 0); /* global table of 2^(6+1) colours */
    image_buf_put(&b, pal, 128 * 3);
    if (transparent >= 0) {
        uint8_t gce[] = {0x21, 0xF9, 4, 1, 0, 0, (uint8_t)transparent, 0};
        image_buf_put(&b, gce, sizeof gce);
    }
    put8(&b, 0x2C), put16le(&b, 0), put16le(&b, 0), put16le(&b, (unsigned)w), put16le(&b, (unsigned)h);
    put8(&b, 0);
    put8(&b, 7); /* minimum code size: literals 0..127, clear 128, end 129 */
    for (size_t i = 0; i < (size_t)w * h; i++) {
        if (i % 100 == 0) put8(&codes, 128);
        put8(&codes, idx[i] & 127);
    }
    put8(&codes, 129);
    for (size_t at = 0; at < codes.len;) {
        size_t n = codes.len - at < 255 ? codes.len - at : 255;
        put8(&b, (unsigned)n);
        image_buf_put(&b, codes.data + at, n);
        at += n;
    }
    put8(&b, 0);
    put8(&b, 0x3B);
    image_buf_free(&codes);
    return b;
}

image_buf image_fx_exif(int big_endian, unsigned orientation) {
    image_buf b = {0};
    image_buf_put(&b, "Exif\0\0", 6);
    uint8_t t[26];
    size_t n = 0;
#define W16(v) (big_endian ? (t[n] = (uint8_t)((v) >> 8), t[n + 1] = (uint8_t)(v)) \
                           : (t[n] = (uint8_t)(v), t[n + 1] = (uint8_t)((v) >> 8)), n += 2)
#define W32(v) (big_endian ? (W16((v) >> 16), W16((v) & 0xFFFF)) : (W16((v) & 0xFFFF), W16((v) >> 16)))
    memcpy(t, big_endian ? "MM\0*" : "II*\0", 4), n = 4;
    W32(8u);           /* IFD0 offset */
    W16(1u);           /* one entry */
    W16(0x0112u), W16(3u), W32(1u), W16(orientation), W16(0u);
    W32(0u);           /* no next IFD */
#undef W16
#undef W32
    image_buf_put(&b, t, n);
    return b;
}

image_buf image_fx_insert_app1(const image_buf *jpeg, const uint8_t *payload, size_t n) {
    image_buf b = {0};
    image_buf_put(&b, jpeg->data, 2);
    uint8_t hdr[4] = {0xFF, 0xE1, (uint8_t)((n + 2) >> 8), (uint8_t)(n + 2)};
    image_buf_put(&b, hdr, 4);
    image_buf_put(&b, payload, n);
    image_buf_put(&b, jpeg->data + 2, jpeg->len - 2);
    return b;
}

void image_fx_noise(uint8_t *px, size_t n, uint64_t seed) {
    tt_rng r;
    tt_rng_seed(&r, seed, TT_STREAM_TEST);
    for (size_t i = 0; i < n; i++) px[i] = (uint8_t)tt_rng_u32(&r);
}

image_buf image_fx_read_file(const char *path) {
    image_buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) image_buf_put(&b, chunk, n);
    fclose(f);
    return b;
}

image_buf image_fx_codec_file(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/codecs/%s", name);
    image_buf b = image_fx_read_file(tt_test_source_path(rel));
    if (!b.data) fail_msg("cannot read the fixture %s (TT_SOURCE_DIR is the checkout)", tt_test_source_path(rel));
    return b;
}

uint8_t image_fx_codec_value(int x, int y, int c) {
    return (uint8_t)((x * 5 + y * 3 * (c + 1) + ((x * y) % 7) * 9 + 40 * c) & 255);
}

uint8_t image_fx_progressive_value(int x, int y, int c) {
    return (uint8_t)(c == 0 ? x * 6 : c == 1 ? y * 10 : 128 + (x - y) * 2);
}

image_buf image_fx_png_header_only(uint32_t w, uint32_t h) {
    uint8_t row[1] = {0};
    image_buf b = image_fx_png_raw(1, 1, 8, 0, row, 1, NULL, 0, NULL, 0);
    uint8_t *ihdr = b.data + 16;
    for (int i = 0; i < 4; i++) ihdr[i] = (uint8_t)(w >> (24 - 8 * i)), ihdr[4 + i] = (uint8_t)(h >> (24 - 8 * i));
    uint32_t crc = tt_crc32(0, b.data + 12, 17);
    for (int i = 0; i < 4; i++) b.data[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
    return b;
}
