/* tabtrain/image.h — image bytes to the backbone's input tensor.
 *
 *   tt_image img;
 *   if ((st = tt_image_decode(bytes, len, NULL, &img))) ...   // per-file status + message
 *   tt_image_to_input(&img, 224, input);                      // f32 NHWC [224][224][3] in [-1, 1]
 *   // or, for training:  tt_augment_to_input(&img, 224, &aug, &rng, input);
 *   tt_image_free(&img);
 *
 * Decoding accepts JPEG (baseline, progressive; libjpeg-turbo), PNG (1..16
 * bit, grey, grey+alpha, palette, RGB, RGBA; libpng), WebP (lossy, lossless,
 * alpha; libwebp; not animations), BMP (uncompressed 1..32 bit and bit
 * fields; read here) and GIF (first frame; giflib), and always yields 8-bit RGB:
 *   - the JPEG EXIF orientation (1..8) is applied, so pixels are upright as a
 *     viewer shows them; a malformed EXIF block is ignored, never an error;
 *   - alpha is composited over white (a transparent cut-out becomes an object
 *     on white, as a browser shows it on a white page);
 *   - 16-bit samples keep their high byte; PNG gamma is not applied.
 * The same library versions decode natively and in wasm, to the same pixels.
 * Other formats (TGA, PSD, HDR, PNM...) are refused: TGA has no magic number,
 * so accepting it would let random bytes "decode".
 * Before anything is allocated the container is walked and the header read:
 * empty, unrecognised and truncated files are TT_ERR_FORMAT / TT_ERR_CORRUPT,
 * malformed JPEG tables (DHT, DQT, SOF) TT_ERR_CORRUPT, and width*height
 * above opts->max_pixels is TT_ERR_LIMIT (a decompression bomb never
 * reaches the decoder). The message names the reason (the decoder's too).
 *
 * Preprocessing: center crop to the largest square, resize to S×S with
 * stb_image_resize's triangle filter, scale x/127.5 − 1. The triangle filter
 * is bilinear interpolation when enlarging and, when shrinking, bilinear with
 * its support widened by the scale factor (antialiased) — the same as PIL's
 * BILINEAR, which Keras' load_img(interpolation="bilinear") uses. A crop that
 * is already S×S is not resampled, so the result is bit-exact x/127.5 − 1.
 *
 * Augmentation follows Keras' ImageDataGenerator (horizontal flip, zoom,
 * shear, brightness) but composes flip/zoom/shift/shear into one inverse
 * affine map sampled bilinearly from the source straight into the S×S
 * output, then scales brightness (clipped to 255 as PIL does): one pass per
 * view. Samples outside the image take the nearest edge pixel (Keras'
 * fill_mode="nearest"). Every call draws exactly TT_AUGMENT_DRAWS uniforms from
 * the rng whatever options are on (in order: flip, zoom, window x, window y,
 * shear, brightness), so switching an option on or off never shifts the
 * random choices of later images. With every option off the output
 * equals tt_image_to_input. The sampler is point-bilinear: feed it images not
 * much larger than S (tt_image_reduce) or fine detail aliases.
 */
#ifndef TABTRAIN_IMAGE_H
#define TABTRAIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/rng.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_IMAGE_DEFAULT_MAX_PIXELS (40u * 1000u * 1000u)
#define TT_IMAGE_DEFAULT_SIZE 224
#define TT_AUGMENT_DRAWS 6

typedef struct tt_image {
    int width, height;
    uint8_t *pixels; /* RGB, rows top to bottom, 3*width bytes per row, malloc'ed */
} tt_image;

typedef struct tt_decode_opts {
    uint64_t max_pixels; /* width*height above this is TT_ERR_LIMIT; 0 = default */
    int min_side;        /* > 0: a JPEG is decoded at the smallest libjpeg scale n/8 (n = 1, 2, 4, 8) whose
                            short side is still >= min_side (DCT-domain scaling); 0 and the other
                            formats: full size. The limit above applies to the full size. */
} tt_decode_opts;

/* opts may be NULL. On error *out is zeroed and nothing stays allocated. */
tt_status tt_image_decode(const void *bytes, size_t len, const tt_decode_opts *opts,
                          tt_image *out);
void tt_image_free(tt_image *img);

/* Non-premultiplied RGBA pixels (a canvas's getImageData) as an image, alpha
 * composited over white exactly as tt_image_decode does. TT_ERR_LIMIT for an
 * empty picture or one above the default pixel limit. */
tt_status tt_image_from_rgba(const uint8_t *rgba, int width, int height, tt_image *out);

/* EXIF orientation (1..8) from the payload of a JPEG APP1 segment (the bytes
 * after the length, starting "Exif\0\0"); 1 when absent or malformed. */
int tt_exif_orientation(const void *app1, size_t len);

/* Center crop + resize to size×size + x/127.5 − 1 into out[size][size][3]. */
tt_status tt_image_to_input(const tt_image *img, int size, float *out);

/* The training copy: the picture as both front ends feed it to the backbone,
 * and small enough to keep. Decoded with opts->min_side = size (a JPEG
 * straight at a DCT scale), then box-shrunk by tt_image_reduce(size), so its
 * short side lies in [size, 2*size) (or is the picture's own, when smaller).
 * View 0 is tt_image_to_input(copy), augmented views tt_augment_to_input(copy).
 * A copy stored losslessly (tt_image_encode_png) is a fixed point: the copy of
 * its bytes is the same pixels, so features computed from either agree bit for
 * bit and the original never has to be decoded again. */
tt_status tt_image_training_copy(const void *bytes, size_t len, const tt_decode_opts *opts, int size,
                                 tt_image *out);

/* Lossless PNG (8-bit RGB) of an image into malloc'd *bytes: how training
 * copies are kept. */
tt_status tt_image_encode_png(const tt_image *img, void **bytes, size_t *len);
/* Baseline JPEG (4:2:0) at quality 1..100 into malloc'd *bytes: thumbnails. */
tt_status tt_image_encode_jpeg(const tt_image *img, int quality, void **bytes, size_t *len);

/* Box-shrinks by the largest integer factor that keeps the short side >= min_side
 * (a copy when the factor is 1), so the augmentation sampler sees an image
 * near its output size. */
tt_status tt_image_reduce(const tt_image *img, int min_side, tt_image *out);

typedef struct tt_augment {
    int flip;              /* mirror left-right with probability 0.5 */
    float zoom_min, zoom_max; /* side of the sampled window / side of the center crop,
                                 uniform in [min, max]; < 1 zooms in (the window moves at
                                 random inside the crop), > 1 zooms out (more of a
                                 non-square image's long side, then repeated edges);
                                 0,0 or 1,1 = off */
    float shear_deg;       /* shear angle uniform in [-shear_deg, shear_deg] (Keras' shear) */
    float brightness_min, brightness_max; /* pixel factor uniform in [min, max]; 0,0 or 1,1 = off */
} tt_augment;

/* The augmentation named by a comma list of flip, zoom (window 0.8–1.0 of
 * the crop), shear (±10°) and brightness (×0.8–1.2), the CLI's --augment
 * and the browser's "augment" ("" = none). TT_ERR_INVALID_ARG names an unknown word. */
tt_status tt_augment_parse(const char *list, tt_augment *out);

/* One augmented view. aug NULL or all-off gives tt_image_to_input's result. */
tt_status tt_augment_to_input(const tt_image *img, int size, const tt_augment *aug, tt_rng *rng,
                              float *out);

#ifdef __cplusplus
}
#endif
#endif
