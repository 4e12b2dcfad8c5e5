/* Keras-style augmentation as one inverse-affine bilinear pass from the
 * source image into the size×size input. See tabtrain/image.h. */
#include <math.h>
#include <string.h>

#include "tabtrain/image.h"

static int range_on(float lo, float hi) { return !(lo == 0.0f && hi == 0.0f) && !(lo == 1.0f && hi == 1.0f); }

static int augment_off(const tt_augment *a) {
    return !a || (!a->flip && !range_on(a->zoom_min, a->zoom_max) && a->shear_deg == 0.0f &&
                  !range_on(a->brightness_min, a->brightness_max));
}

static float lerp(float lo, float hi, float u) { return lo + (hi - lo) * u; }

tt_status tt_augment_parse(const char *list, tt_augment *out) {
    *out = (tt_augment){0};
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == 4 && !strncmp(p, "flip", n)) out->flip = 1;
        else if (n == 4 && !strncmp(p, "zoom", n)) out->zoom_min = 0.8f, out->zoom_max = 1.0f;
        else if (n == 5 && !strncmp(p, "shear", n)) out->shear_deg = 10.0f;
        else if (n == 10 && !strncmp(p, "brightness", n)) out->brightness_min = 0.8f, out->brightness_max = 1.2f;
        else return tt_error(TT_ERR_INVALID_ARG, "augmentation '%.*s' is not one of flip, zoom, shear, brightness",
                             (int)n, p);
        p += n + (p[n] == ',');
    }
    return TT_OK;
}

tt_status tt_augment_to_input(const tt_image *img, int size, const tt_augment *aug, tt_rng *rng,
                              float *out) {
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 || size <= 0 || !out || !rng)
        return tt_error(TT_ERR_INVALID_ARG, "tt_augment_to_input: empty image, size %d or null", size);
    /* A fixed number of draws, used or not, keeps later images' choices
     * independent of which options are on. */
    float u[TT_AUGMENT_DRAWS];
    for (int i = 0; i < TT_AUGMENT_DRAWS; i++) u[i] = tt_rng_uniform(rng);
    if (augment_off(aug)) return tt_image_to_input(img, size, out);
    if ((range_on(aug->zoom_min, aug->zoom_max) && !(aug->zoom_min > 0.0f && aug->zoom_max >= aug->zoom_min)) ||
        (range_on(aug->brightness_min, aug->brightness_max) &&
         !(aug->brightness_min >= 0.0f && aug->brightness_max >= aug->brightness_min)) ||
        !(fabsf(aug->shear_deg) < 90.0f))
        return tt_error(TT_ERR_INVALID_ARG, "tt_augment: zoom [%g, %g], shear %g, brightness [%g, %g]",
                        aug->zoom_min, aug->zoom_max, aug->shear_deg, aug->brightness_min,
                        aug->brightness_max);

    double flip = aug->flip && u[0] < 0.5f ? -1.0 : 1.0;
    double zoom = range_on(aug->zoom_min, aug->zoom_max) ? lerp(aug->zoom_min, aug->zoom_max, u[1]) : 1.0;
    double slack = zoom < 1.0 ? (1.0 - zoom) / 2 : 0.0; /* how far a zoomed-in window can move */
    double tx = (2.0 * u[2] - 1.0) * slack, ty = (2.0 * u[3] - 1.0) * slack;
    double shear = (2.0 * u[4] - 1.0) * aug->shear_deg * (3.14159265358979323846 / 180.0);
    float bright = range_on(aug->brightness_min, aug->brightness_max)
                       ? lerp(aug->brightness_min, aug->brightness_max, u[5]) : 1.0f;

    /* Output pixel centre o (relative to the output centre) maps to source
     * index coordinates  s = c + (side/size) * Z * Shear * Flip * o,  with
     * Keras' shear matrix [[1, -sin], [0, cos]]. Identity and the flip hit
     * pixel centres exactly, so those views are bit-exact copies. */
    int w = img->width, h = img->height, side = w < h ? w : h;
    double k = (double)side / size * zoom;
    double m00 = k * flip, m01 = -k * sin(shear), m11 = k * cos(shear);
    double cx = (w - side) / 2 + side * (0.5 + tx) - 0.5, cy = (h - side) / 2 + side * (0.5 + ty) - 0.5;
    double half = size / 2.0;
    const uint8_t *px = img->pixels;
    for (int oy = 0; oy < size; oy++) {
        double dy = oy + 0.5 - half;
        for (int ox = 0; ox < size; ox++) {
            double dx = ox + 0.5 - half;
            double fx = cx + m00 * dx + m01 * dy, fy = cy + m11 * dy;
            fx = fx < 0 ? 0 : fx > w - 1 ? w - 1 : fx; /* nearest fill */
            fy = fy < 0 ? 0 : fy > h - 1 ? h - 1 : fy;
            int x0 = (int)fx, y0 = (int)fy;
            int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
            float wx = (float)(fx - x0), wy = (float)(fy - y0);
            const uint8_t *a = px + 3 * ((size_t)y0 * w + x0), *b = px + 3 * ((size_t)y0 * w + x1);
            const uint8_t *c = px + 3 * ((size_t)y1 * w + x0), *d = px + 3 * ((size_t)y1 * w + x1);
            float *o = out + 3 * ((size_t)oy * size + ox);
            for (int ch = 0; ch < 3; ch++) {
                float v = (1.0f - wy) * ((1.0f - wx) * a[ch] + wx * b[ch]) +
                          wy * ((1.0f - wx) * c[ch] + wx * d[ch]);
                v *= bright;
                o[ch] = (v < 255.0f ? v : 255.0f) / 127.5f - 1.0f;
            }
        }
    }
    return TT_OK;
}
