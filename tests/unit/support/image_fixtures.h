/* image_fixtures.h — image files built in memory for test_image / test_augment:
 * stb_image_write for ordinary 8-bit PNG/BMP/JPEG/TGA, hand-assembled bytes
 * for what it cannot write (16-bit and palette PNG, GIF, EXIF APP1). */
#ifndef IMAGE_FIXTURES_H
#define IMAGE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

typedef struct image_buf {
    uint8_t *data;
    size_t len, cap;
} image_buf;

void image_buf_free(image_buf *b);
void image_buf_put(image_buf *b, const void *p, size_t n);

/* fmt: "png", "bmp", "jpg" (quality 95: 4:4:4 as stb writes it), "jpg80" (quality 80:
 * 4:2:0) or "tga". */
image_buf image_fx_stb(const char *fmt, const uint8_t *px, int w, int h, int comp);

/* PNG from unfiltered scanlines of `rowbytes` bytes (16-bit samples big
 * endian), compressed with stored deflate blocks; plte/trns may be NULL. */
image_buf image_fx_png_raw(int w, int h, int depth, int colortype, const uint8_t *rows,
                           size_t rowbytes, const uint8_t *plte, int nplte, const uint8_t *trns,
                           int ntrns);

/* A 1x1 grey PNG whose IHDR (CRC fixed up) claims w x h: a decompression
 * bomb's header, or a truncated image when the claim is larger than 1x1. */
image_buf image_fx_png_header_only(uint32_t w, uint32_t h);

/* GIF89a with a 128-colour table, each LZW code one literal byte (a clear
 * code every 100 pixels keeps the code width at 8 bits); transparent < 0: none. */
image_buf image_fx_gif(int w, int h, const uint8_t *idx, const uint8_t pal[128][3], int transparent);

/* "Exif\0\0" + a TIFF header and IFD0 holding only the orientation tag. */
image_buf image_fx_exif(int big_endian, unsigned orientation);

/* A copy of `jpeg` with an APP1 segment carrying `payload` after the SOI. */
image_buf image_fx_insert_app1(const image_buf *jpeg, const uint8_t *payload, size_t n);

/* Two 256x256 24-bit BMPs whose bottom 160 rows are the same noise and whose
 * top 96 rows differ (reddish, bluish). BMP stores rows bottom-up, so the two
 * files share their first TWIN_BMP_SHARED bytes (more than 64 KiB) and differ
 * after that: a content key must read the whole file to tell them apart. */
#define TWIN_BMP_SHARED (54 + 160 * 256 * 3)
void image_fx_twin_bmps(image_buf out[2]);

/* Random 8-bit pixels from a seeded stream. */
void image_fx_noise(uint8_t *px, size_t n, uint64_t seed);

/* Whole file, or data == NULL when it cannot be read. */
image_buf image_fx_read_file(const char *path);

/* Encoded fixtures the tests cannot write themselves (stb_image_write writes
 * neither WebP, chroma subsampling nor progressive JPEG), in
 * tests/fixtures/codecs/ (fails the test when missing):
 *   420.jpg, 422.jpg       image_fx_codec_value() at 64x48, quality 85 (Pillow 9.4,
 *                          libjpeg-turbo 2.1.5)
 *   lossy.webp             the same, quality 80 (libwebp 1.2.4)
 *   lossless-alpha.webp    the same with alpha (4x + 2y) & 255
 *   progressive.jpg        image_fx_progressive_value() at 40x24 (cjpeg -progressive
 *                          -quality 98 -sample 1x1 -optimize) */
image_buf image_fx_codec_file(const char *name);
uint8_t image_fx_codec_value(int x, int y, int c);
uint8_t image_fx_progressive_value(int x, int y, int c);

#endif
