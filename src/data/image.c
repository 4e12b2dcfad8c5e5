/* Decoding (stb_image) with container checks, EXIF orientation, alpha over
 * white; center crop + resize to the backbone input. See tabtrain/image.h. */
#include "tabtrain/image.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "stb_image.h"
#include "stb_image_resize.h"
#include "tabtrain/crc32.h"

typedef enum { FMT_JPEG, FMT_PNG, FMT_BMP, FMT_GIF } tt_format;
static const char *const tt_format_names[] = {"JPEG", "PNG", "BMP", "GIF"};

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

static int sniff(const uint8_t *p, size_t n, tt_format *f) {
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) *f = FMT_JPEG;
    else if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) *f = FMT_PNG;
    else if (n >= 2 && p[0] == 'B' && p[1] == 'M') *f = FMT_BMP;
    else if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) *f = FMT_GIF;
    else return 0;
    return 1;
}

/* stb's decoders read zeros past the end of the buffer, so a cut-off file
 * would "decode" with a black or grey tail. Walking each container to its
 * end marker catches truncation first. The walks also read the dimensions
 * (stbi_info would do, but it tries every format in turn and so reports a
 * huge PNG as "unknown image type") and the JPEG walk finds the EXIF. */
typedef struct walk {
    uint64_t w, h;
    const uint8_t *exif;
    size_t exif_len;
} walk;

/* The tables a decoder sizes arrays from, checked against what the standard
 * allows (ITU T.81 B.2.4): a second line behind the decoder's own checks,
 * and the first one for decoders that had none (stb_image before 2.28 wrote
 * past its 256-entry Huffman value table on a DHT whose counts add up to more). */
static tt_status check_jpeg_tables(uint8_t m, const uint8_t *s, size_t len, size_t at) {
    size_t i = 0;
    if (m == 0xC4) { /* DHT: one or more tables, each class/id, 16 counts, the values */
        while (i < len) {
            if (len - i < 17 || (s[i] >> 4) > 1 || (s[i] & 15) > 3) goto bad;
            size_t codes = 0;
            for (int k = 1; k <= 16; k++) codes += s[i + k];
            if (codes > 256 || codes > len - i - 17) goto bad;
            i += 17 + codes;
        }
    } else if (m == 0xDB) { /* DQT: precision/id, then 64 bytes or 64 words */
        while (i < len) {
            size_t size = (s[i] >> 4) ? 129 : 65;
            if ((s[i] >> 4) > 1 || (s[i] & 15) > 3 || len - i < size) goto bad;
            i += size;
        }
    } else { /* SOFn: precision, height, width, components of 3 bytes each */
        if (len < 6 || s[5] < 1 || s[5] > 4 || len != 6 + 3 * (size_t)s[5]) goto bad;
        for (int c = 0; c < s[5]; c++) {
            const uint8_t *q = s + 6 + 3 * c;
            if ((q[1] >> 4) < 1 || (q[1] >> 4) > 4 || (q[1] & 15) < 1 || (q[1] & 15) > 4 || q[2] > 3) goto bad;
        }
    }
    return TT_OK;
bad:
    return tt_error(TT_ERR_CORRUPT, "JPEG: malformed %s segment at byte %zu",
                    m == 0xC4 ? "Huffman table (DHT)" : m == 0xDB ? "quantization table (DQT)" : "frame header (SOF)", at);
}

static tt_status walk_jpeg(const uint8_t *p, size_t n, walk *wk) {
    size_t pos = 2;
    int scans = 0;
    while (pos < n) {
        if (p[pos] != 0xFF) return tt_error(TT_ERR_CORRUPT, "JPEG: no marker at byte %zu", pos);
        while (pos < n && p[pos] == 0xFF) pos++; /* fill bytes */
        if (pos >= n) break;
        uint8_t m = p[pos++];
        if (m == 0xD9) {
            if (!scans) return tt_error(TT_ERR_CORRUPT, "JPEG: end of image before any scan");
            return TT_OK;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* no payload */
        if (n - pos < 2) break;
        size_t seg = (size_t)p[pos] << 8 | p[pos + 1];
        if (seg < 2) return tt_error(TT_ERR_CORRUPT, "JPEG: segment length %zu at byte %zu", seg, pos);
        if (seg > n - pos) break;
        if (m == 0xE1 && !wk->exif && seg - 2 >= 6 && !memcmp(p + pos + 2, "Exif\0\0", 6)) {
            wk->exif = p + pos + 2;
            wk->exif_len = seg - 2;
        }
        int sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof && seg >= 7 && !wk->w) {
            wk->h = be16(p + pos + 3); /* start of frame: precision, height, width */
            wk->w = be16(p + pos + 5);
        }
        if (sof || m == 0xC4 || m == 0xDB) {
            tt_status st = check_jpeg_tables(m, p + pos + 2, seg - 2, pos - 1);
            if (st) return st;
        }
        pos += seg;
        if (m != 0xDA) continue;
        scans++;
        /* Entropy-coded data runs to the next marker that is not a stuffed
         * 0xFF00 or a restart marker. */
        for (;;) {
            const uint8_t *ff = memchr(p + pos, 0xFF, n - pos);
            if (!ff || (size_t)(ff - p) + 1 >= n) { pos = n; break; }
            pos = (size_t)(ff - p);
            uint8_t next = p[pos + 1];
            if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) pos += 2;
            else if (next == 0xFF) pos++;
            else break;
        }
    }
    return tt_error(TT_ERR_CORRUPT, "JPEG truncated: %zu bytes and no end-of-image marker", n);
}

static tt_status walk_png(const uint8_t *p, size_t n, walk *wk) {
    size_t pos = 8;
    if (n < 24 || memcmp(p + 12, "IHDR", 4)) return tt_error(TT_ERR_CORRUPT, "PNG without IHDR header");
    wk->w = be32(p + 16), wk->h = be32(p + 20);
    while (n - pos >= 12) {
        size_t len = be32(p + pos);
        if (len > n - pos - 12) break;
        uint32_t crc = tt_crc32(0, p + pos + 4, len + 4);
        if (crc != be32(p + pos + 8 + len))
            return tt_error(TT_ERR_CORRUPT, "PNG chunk %.4s at byte %zu: CRC mismatch",
                            (const char *)p + pos + 4, pos);
        if (!memcmp(p + pos + 4, "IEND", 4)) return TT_OK;
        pos += 12 + len;
    }
    return tt_error(TT_ERR_CORRUPT, "PNG truncated: %zu bytes and no IEND chunk", n);
}

static tt_status walk_bmp(const uint8_t *p, size_t n, walk *wk) {
    if (n < 26) return tt_error(TT_ERR_CORRUPT, "BMP truncated: %zu-byte header", n);
    uint64_t off = le32(p + 10), w, h, bpp, comp = 0, image_size = 0;
    if (le32(p + 14) == 12) {
        w = le16(p + 18), h = le16(p + 20), bpp = le16(p + 24);
    } else {
        if (n < 38) return tt_error(TT_ERR_CORRUPT, "BMP truncated: %zu-byte header", n);
        int32_t sw = (int32_t)le32(p + 18), sh = (int32_t)le32(p + 22);
        w = sw < 0 ? -(int64_t)sw : sw;
        h = sh < 0 ? -(int64_t)sh : sh;
        bpp = le16(p + 28), comp = le32(p + 30), image_size = le32(p + 34);
    }
    wk->w = w, wk->h = h;
    uint64_t row = (w * bpp + 31) / 32 * 4; /* rows pad to 4 bytes */
    int truncated = n < off;
    if (comp == 0 || comp == 3 || comp == 6) truncated |= h && row > (n - off) / h; /* no overflow */
    else if (comp == 1 || comp == 2) truncated |= n - off < image_size;                /* RLE */
    if (truncated)
        return tt_error(TT_ERR_CORRUPT, "BMP truncated: %zu bytes for %llux%llu at %llu bit", n,
                        (unsigned long long)w, (unsigned long long)h, (unsigned long long)bpp);
    return TT_OK;
}

static tt_status walk_gif(const uint8_t *p, size_t n, walk *wk) {
    size_t pos = 13;
    if (n < pos) return tt_error(TT_ERR_CORRUPT, "GIF truncated: %zu-byte header", n);
    wk->w = le16(p + 6), wk->h = le16(p + 8); /* the canvas stb allocates */
    if (p[10] & 0x80) pos += 3u << ((p[10] & 7) + 1); /* global colour table */
    while (pos < n) {
        uint8_t block = p[pos++];
        if (block == 0x3B) return tt_error(TT_ERR_FORMAT, "GIF has no image");
        if (block == 0x2C) {
            if (n - pos < 10) break;
            uint8_t flags = p[pos + 8];
            pos += 9;
            if (flags & 0x80) pos += 3u << ((flags & 7) + 1); /* local colour table */
            pos++;                                          /* LZW minimum code size */
        } else if (block == 0x21) {
            pos++; /* extension label */
        } else {
            return tt_error(TT_ERR_CORRUPT, "GIF: unknown block 0x%02x at byte %zu", block, pos - 1);
        }
        for (;;) { /* data sub-blocks up to the empty one */
            if (pos >= n) goto truncated;
            uint8_t len = p[pos++];
            if (!len) break;
            pos += len;
        }
        if (block == 0x2C) return TT_OK; /* only the first frame is decoded */
    }
truncated:
    return tt_error(TT_ERR_CORRUPT, "GIF truncated: %zu bytes, first frame incomplete", n);
}

/* Byte offsets, in pixels, of output (0,0) and of one step in x and in y,
 * for each EXIF orientation (rows of the stored image become columns for 5..8). */
static void orient(const uint8_t *src, int w, int h, int o, uint8_t *dst) {
    ptrdiff_t W = w, H = h, base, dx, dy;
    switch (o) {
    case 2: base = W - 1, dx = -1, dy = W; break;           /* mirror horizontal */
    case 3: base = H * W - 1, dx = -1, dy = -W; break;      /* rotate 180 */
    case 4: base = (H - 1) * W, dx = 1, dy = -W; break;     /* mirror vertical */
    case 5: base = 0, dx = W, dy = 1; break;                /* transpose */
    case 6: base = (H - 1) * W, dx = -W, dy = 1; break;     /* rotate 90 CW */
    case 7: base = H * W - 1, dx = -W, dy = -1; break;      /* transverse */
    case 8: base = W - 1, dx = W, dy = -1; break;           /* rotate 270 CW */
    default: base = 0, dx = 1, dy = W; break;
    }
    int ow = o >= 5 ? h : w, oh = o >= 5 ? w : h;
    for (int y = 0; y < oh; y++) {
        const uint8_t *s = src + 3 * (base + y * dy);
        for (int x = 0; x < ow; x++, s += 3 * dx) {
            *dst++ = s[0];
            *dst++ = s[1];
            *dst++ = s[2];
        }
    }
}

tt_status tt_image_decode(const void *bytes, size_t len, const tt_decode_opts *opts,
                          tt_image *out) {
    if (!out || (!bytes && len)) return tt_error(TT_ERR_INVALID_ARG, "tt_image_decode: null argument");
    memset(out, 0, sizeof *out);
    const uint8_t *p = bytes;
    if (len == 0) return tt_error(TT_ERR_FORMAT, "empty file (0 bytes)");
    if (len > INT_MAX) return tt_error(TT_ERR_LIMIT, "image file of %zu bytes is too large", len);
    tt_format fmt;
    if (!sniff(p, len, &fmt))
        return tt_error(TT_ERR_FORMAT, "not a JPEG, PNG, BMP or GIF file (first bytes %02x %02x %02x %02x)",
                        p[0], len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
    const char *name = tt_format_names[fmt];
    walk wk = {0};
    tt_status st = fmt == FMT_JPEG ? walk_jpeg(p, len, &wk)
                 : fmt == FMT_PNG  ? walk_png(p, len, &wk)
                 : fmt == FMT_BMP  ? walk_bmp(p, len, &wk)
                                   : walk_gif(p, len, &wk);
    /* The limit first: a bomb's header is the clearest reason even when the
     * rest is cut short. Both dimensions fit 32 bits, so the product cannot wrap. */
    uint64_t max = opts && opts->max_pixels ? opts->max_pixels : TT_IMAGE_DEFAULT_MAX_PIXELS;
    if (wk.w * wk.h > max)
        return tt_error(TT_ERR_LIMIT, "%s of %llux%llu (%.1f megapixels) exceeds the limit of %.1f megapixels", name,
                        (unsigned long long)wk.w, (unsigned long long)wk.h, (double)(wk.w * wk.h) / 1e6, (double)max / 1e6);
    if (st) return st;
    if (!wk.w || !wk.h)
        return tt_error(TT_ERR_FORMAT, "%s is zero-sized (%llux%llu)", name, (unsigned long long)wk.w,
                        (unsigned long long)wk.h);
    int w, h, comp;

    /* Always RGBA: one path covers alpha, tRNS keys and GIF transparency. */
    uint8_t *px = stbi_load_from_memory(p, (int)len, &w, &h, &comp, 4);
    if (!px) {
        const char *why = stbi_failure_reason();
        if (why && !strcmp(why, "outofmem"))
            return tt_error(TT_ERR_NOMEM, "decoding %s of %llux%llu: out of memory", name, (unsigned long long)wk.w,
                            (unsigned long long)wk.h);
        return tt_error(TT_ERR_CORRUPT, "cannot decode %s (stb: %s)", name, why ? why : "?");
    }
    size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++) { /* over white, in place: 3i <= 4i */
        unsigned a = px[4 * i + 3], k = 255 - a;
        for (int c = 0; c < 3; c++) px[3 * i + c] = (uint8_t)((px[4 * i + c] * a + 255 * k + 127) / 255);
    }
    int o = wk.exif ? tt_exif_orientation(wk.exif, wk.exif_len) : 1;
    uint8_t *rgb;
    if (o == 1) { /* stb allocates with malloc, so its buffer is ours to shrink */
        rgb = realloc(px, 3 * n);
        if (!rgb) rgb = px;
    } else {
        rgb = malloc(3 * n);
        if (rgb) orient(px, w, h, o, rgb);
        stbi_image_free(px);
        if (!rgb) return tt_error(TT_ERR_NOMEM, "decoding %s of %dx%d: out of memory", name, w, h);
    }
    out->width = o >= 5 ? h : w;
    out->height = o >= 5 ? w : h;
    out->pixels = rgb;
    return TT_OK;
}

void tt_image_free(tt_image *img) {
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

static tt_status check_image(const tt_image *img, const char *fn) {
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return tt_error(TT_ERR_INVALID_ARG, "%s: empty image", fn);
    return TT_OK;
}

tt_status tt_image_to_input(const tt_image *img, int size, float *out) {
    tt_status st = check_image(img, "tt_image_to_input");
    if (st) return st;
    if (size <= 0 || !out) return tt_error(TT_ERR_INVALID_ARG, "tt_image_to_input: size %d", size);
    int w = img->width, side = w < img->height ? w : img->height;
    const uint8_t *crop = img->pixels + 3 * ((size_t)((img->height - side) / 2) * w + (w - side) / 2);
    size_t row = 3 * (size_t)size, n = row * size;
    if (side == size) {
        for (int y = 0; y < size; y++)
            for (size_t i = 0; i < row; i++) out[y * row + i] = crop[y * 3 * (size_t)w + i] / 127.5f - 1.0f;
        return TT_OK;
    }
    /* The 8-bit resize result goes into the last quarter of `out`; converting
     * front to back never overwrites a byte not yet read (4i+3 < 3n+i+1). */
    uint8_t *tmp = (uint8_t *)out + 3 * n;
    if (!stbir_resize_uint8_generic(crop, side, side, 3 * w, tmp, size, size, (int)row, 3,
                                    STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                                    STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, NULL))
        return tt_error(TT_ERR_NOMEM, "resizing %dx%d to %dx%d: out of memory", side, side, size, size);
    for (size_t i = 0; i < n; i++) out[i] = tmp[i] / 127.5f - 1.0f;
    return TT_OK;
}

tt_status tt_image_reduce(const tt_image *img, int min_side, tt_image *out) {
    tt_status st = check_image(img, "tt_image_reduce");
    if (st) return st;
    if (min_side <= 0 || !out) return tt_error(TT_ERR_INVALID_ARG, "tt_image_reduce: min_side %d", min_side);
    int w = img->width, h = img->height, side = w < h ? w : h;
    int k = side / min_side > 1 ? side / min_side : 1;
    int ow = w / k, oh = h / k;
    uint8_t *dst = malloc(3 * (size_t)ow * oh);
    if (!dst) return tt_error(TT_ERR_NOMEM, "tt_image_reduce: %dx%d", ow, oh);
    uint64_t kk = (uint64_t)k * k;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int c = 0; c < 3; c++) {
                uint64_t sum = 0;
                for (int j = 0; j < k; j++) {
                    const uint8_t *s = img->pixels + 3 * ((size_t)(y * k + j) * w + (size_t)x * k) + c;
                    for (int i = 0; i < k; i++) sum += s[3 * i];
                }
                dst[3 * ((size_t)y * ow + x) + c] = (uint8_t)((sum + kk / 2) / kk);
            }
    out->width = ow;
    out->height = oh;
    out->pixels = dst;
    return TT_OK;
}
