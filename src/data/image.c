/* Decoding with container checks, EXIF orientation, alpha over white; center
 * crop + resize to the backbone input. See tabtrain/image.h.
 *
 * The decoders are libjpeg-turbo, libpng (on zlib), libwebp and giflib:
 * current, maintained and fuzzed upstream (OSS-Fuzz), the same Debian
 * versions natively and in wasm (scripts/setup builds them from Debian's
 * source packages for the browser). BMP, a few lines of layout, is read
 * here. Every decoder runs behind the container walk below, which has
 * already checked lengths, the pixel limit and the JPEG tables. */
#include "tabtrain/image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>

#include "stb_image_resize.h"
#include "tabtrain/crc32.h"

typedef enum { FMT_JPEG, FMT_PNG, FMT_WEBP, FMT_BMP, FMT_GIF } tt_format;
static const char *const tt_format_names[] = {"JPEG", "PNG", "WebP", "BMP", "GIF"};

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

static int sniff(const uint8_t *p, size_t n, tt_format *f) {
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) *f = FMT_JPEG;
    else if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) *f = FMT_PNG;
    else if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) *f = FMT_WEBP;
    else if (n >= 2 && p[0] == 'B' && p[1] == 'M') *f = FMT_BMP;
    else if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) *f = FMT_GIF;
    else return 0;
    return 1;
}

/* Decoders pad a cut-off file (libjpeg with grey, giflib and libpng not
 * always at all), so a truncated file could "decode" with a grey tail.
 * Walking each container to its end marker catches truncation first. The
 * walks also read the dimensions the decoders will allocate for, before
 * any decoder runs, and the JPEG walk finds the EXIF. */
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
            /* Not a GIF's structure: its canvas size is four bytes of anything, so the
             * pixel limit must not be the reason given (a 31-byte text would be "749 megapixels"). */
            wk->w = wk->h = 0;
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

/* RIFF size within the file; the dimensions from libwebp's header parser
 * (VP8, VP8L and VP8X layouts). */
static tt_status walk_webp(const uint8_t *p, size_t n, walk *wk) {
    uint64_t riff = le32(p + 4);
    if (riff < 4 || riff + 8 > n)
        return tt_error(TT_ERR_CORRUPT, "WebP truncated: %zu bytes, the header says %llu", n, (unsigned long long)riff + 8);
    int w, h;
    if (!WebPGetInfo(p, (size_t)riff + 8, &w, &h)) return tt_error(TT_ERR_CORRUPT, "WebP: unreadable header");
    wk->w = (uint64_t)w, wk->h = (uint64_t)h;
    return TT_OK;
}

/* ---- decoders: each gives w*h RGBA (malloc'd) or a status ---------------- */

typedef struct tt_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} tt_jpeg_err;

static void tt_jpeg_fail(j_common_ptr c) {
    tt_jpeg_err *e = (tt_jpeg_err *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void tt_jpeg_quiet(j_common_ptr c, int level) { (void)c, (void)level; }

/* A progressive JPEG may hold any number of scans, each a pass over the
 * whole image: a small file could keep the decoder busy for minutes
 * (libjpeg-turbo's own fuzzers stop at 500 too). */
#define TT_JPEG_MAX_SCANS 500

static void tt_jpeg_progress(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > TT_JPEG_MAX_SCANS) {
        snprintf(((tt_jpeg_err *)c->err)->msg, JMSG_LENGTH_MAX, "more than %d scans", TT_JPEG_MAX_SCANS);
        longjmp(((tt_jpeg_err *)c->err)->jb, 2);
    }
}

/* The smallest n of 1, 2, 4, 8 such that the image decoded at scale n/8 keeps
 * a short side of at least min_side (8: full size). libjpeg-turbo scales in
 * the DCT domain: at 1/8 it needs only each block's DC coefficient, so a
 * 12-megapixel photo decodes several times faster and into 1/64 of the
 * pixels. Powers of two only: they are the scales other libjpeg users offer
 * too (PIL's Image.draft), so docs/export.md can reproduce the pixels. */
static int jpeg_scale(uint64_t w, uint64_t h, int min_side) {
    uint64_t side = w < h ? w : h;
    int n = 1;
    while (min_side > 0 && n < 8 && (side * (uint64_t)n + 7) / 8 < (uint64_t)min_side) n *= 2;
    return min_side > 0 ? n : 8;
}

static tt_status decode_jpeg(const uint8_t *p, size_t n, int scale, int *pw, int *ph, uint8_t **out) {
    struct jpeg_decompress_struct ci;
    tt_jpeg_err je;
    struct jpeg_progress_mgr pm = {.progress_monitor = tt_jpeg_progress};
    uint8_t *volatile px = NULL;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = tt_jpeg_fail;
    je.pub.emit_message = tt_jpeg_quiet; /* warnings (extraneous bytes...) are not errors, as in browsers */
    int code = setjmp(je.jb);
    if (code) {
        jpeg_destroy_decompress(&ci);
        free(px);
        if (code == 3 || (code == 1 && je.pub.msg_code == JERR_OUT_OF_MEMORY))
            return tt_error(TT_ERR_NOMEM, "decoding JPEG: out of memory");
        return tt_error(TT_ERR_CORRUPT, "cannot decode JPEG (libjpeg: %s)", je.msg);
    }
    jpeg_create_decompress(&ci);
    ci.progress = &pm;
    jpeg_mem_src(&ci, p, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);
    int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    ci.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    ci.scale_num = (unsigned)scale;
    ci.scale_denom = 8;
    jpeg_start_decompress(&ci);
    size_t w = ci.output_width, h = ci.output_height;
    if (!(px = malloc(4 * w * h))) longjmp(je.jb, 3);
    while (ci.output_scanline < h) {
        JSAMPROW row = px + 4 * w * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    if (cmyk) /* Adobe's CMYK is stored inverted; multiply by K */
        for (size_t i = 0; i < w * h; i++) {
            uint8_t *q = px + 4 * i;
            unsigned k = ci.saw_Adobe_marker ? q[3] : 255u - q[3];
            for (int c = 0; c < 3; c++) q[c] = (uint8_t)(((ci.saw_Adobe_marker ? q[c] : 255u - q[c]) * k + 127) / 255);
            q[3] = 255;
        }
    jpeg_destroy_decompress(&ci);
    *pw = (int)w, *ph = (int)h, *out = px;
    return TT_OK;
}

typedef struct tt_png_src {
    const uint8_t *p;
    size_t n, pos;
    char msg[128];
} tt_png_src;

static void tt_png_read(png_structp ps, png_bytep dst, size_t len) {
    tt_png_src *s = png_get_io_ptr(ps);
    if (len > s->n - s->pos) png_error(ps, "unexpected end of file");
    memcpy(dst, s->p + s->pos, len);
    s->pos += len;
}

static void tt_png_fail(png_structp ps, png_const_charp msg) {
    tt_png_src *s = png_get_error_ptr(ps);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(ps, 1);
}

static void tt_png_quiet(png_structp ps, png_const_charp msg) { (void)ps, (void)msg; }

static tt_status decode_png(const uint8_t *p, size_t n, int *pw, int *ph, uint8_t **out) {
    tt_png_src src = {p, n, 0, ""};
    png_structp ps = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, tt_png_fail, tt_png_quiet);
    png_infop pi = ps ? png_create_info_struct(ps) : NULL;
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (!pi) {
        png_destroy_read_struct(ps ? &ps : NULL, NULL, NULL);
        return tt_error(TT_ERR_NOMEM, "decoding PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(ps))) {
        png_destroy_read_struct(&ps, &pi, NULL);
        free(px), free(rows);
        return tt_error(TT_ERR_CORRUPT, "cannot decode PNG (libpng: %s)", src.msg[0] ? src.msg : "out of memory");
    }
    png_set_read_fn(ps, &src, tt_png_read);
    png_set_chunk_malloc_max(ps, (png_alloc_size_t)8 << 20); /* ancillary chunks (text, ICC) */
    png_read_info(ps, pi);
    /* Always 8-bit RGBA, as the other decoders: palette and grey expanded,
     * tRNS to alpha, 16-bit samples keep their high byte; gamma not applied. */
    png_set_expand(ps);
    png_set_strip_16(ps);
    png_set_gray_to_rgb(ps);
    png_set_add_alpha(ps, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(ps);
    png_read_update_info(ps, pi);
    size_t w = png_get_image_width(ps, pi), h = png_get_image_height(ps, pi);
    if (png_get_rowbytes(ps, pi) != 4 * w) png_error(ps, "unexpected row layout");
    if (!(px = malloc(4 * w * h)) || !(rows = malloc(h * sizeof *rows))) png_error(ps, "out of memory");
    for (size_t y = 0; y < h; y++) rows[y] = px + 4 * w * y;
    png_read_image(ps, rows);
    png_destroy_read_struct(&ps, &pi, NULL);
    free(rows);
    *pw = (int)w, *ph = (int)h, *out = px;
    return TT_OK;
}

static tt_status decode_webp(const uint8_t *p, size_t n, const walk *wk, int *pw, int *ph, uint8_t **out) {
    size_t w = (size_t)wk->w, h = (size_t)wk->h;
    uint8_t *px = malloc(4 * w * h);
    if (!px) return tt_error(TT_ERR_NOMEM, "decoding WebP of %zux%zu: out of memory", w, h);
    if (!WebPDecodeRGBAInto(p, n, px, 4 * w * h, (int)(4 * w))) {
        free(px);
        return tt_error(TT_ERR_CORRUPT, "cannot decode WebP (libwebp: damaged, or an animation)");
    }
    *pw = (int)w, *ph = (int)h, *out = px;
    return TT_OK;
}

typedef struct tt_gif_src {
    const uint8_t *p;
    size_t n, pos;
} tt_gif_src;

static int tt_gif_read(GifFileType *g, GifByteType *dst, int len) {
    tt_gif_src *s = g->UserData;
    size_t k = len < 0 ? 0 : (size_t)len < s->n - s->pos ? (size_t)len : s->n - s->pos;
    memcpy(dst, s->p + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* The first frame on a transparent canvas of the logical screen's size
 * (what a browser shows before any animation), its transparent index
 * from the graphic control extension before it. */
static tt_status decode_gif(const uint8_t *p, size_t n, int *pw, int *ph, uint8_t **out) {
    tt_gif_src src = {p, n, 0};
    int err = 0, trans = -1, type;
    GifFileType *g = DGifOpen(&src, tt_gif_read, &err);
    if (!g) return tt_error(TT_ERR_CORRUPT, "cannot decode GIF (giflib: %s)", GifErrorString(err));
    uint8_t *px = NULL, *line = NULL;
    const char *why = NULL;
    for (;;) {
        if (DGifGetRecordType(g, (GifRecordType *)&type) == GIF_ERROR) break;
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) break;
            while (ext) {
                if (code == GRAPHICS_EXT_FUNC_CODE && ext[0] >= 4) trans = ext[1] & 1 ? ext[4] : -1;
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) goto done;
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) {
            why = "no image";
            break;
        }
        if (DGifGetImageDesc(g) == GIF_ERROR) break;
        size_t W = (size_t)g->SWidth, H = (size_t)g->SHeight;
        int fx = g->Image.Left, fy = g->Image.Top, fw = g->Image.Width, fh = g->Image.Height;
        const ColorMapObject *cm = g->Image.ColorMap ? g->Image.ColorMap : g->SColorMap;
        if (!cm) {
            why = "no colour table";
            break;
        }
        if (fw < 1 || fh < 1 || !W || !H) {
            why = "empty frame";
            break;
        }
        px = calloc(4 * W * H, 1);
        line = malloc((size_t)fw);
        if (!px || !line) {
            free(px), free(line);
            DGifCloseFile(g, &err);
            return tt_error(TT_ERR_NOMEM, "decoding GIF of %zux%zu: out of memory", W, H);
        }
        static const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
        int passes = g->Image.Interlace ? 4 : 1;
        for (int pass = 0; pass < passes; pass++)
            for (int y = passes > 1 ? start[pass] : 0; y < fh; y += passes > 1 ? step[pass] : 1) {
                if (DGifGetLine(g, line, fw) == GIF_ERROR) goto done;
                size_t cy = (size_t)fy + (size_t)y;
                for (int x = 0; x < fw && cy < H; x++) {
                    size_t cx = (size_t)fx + (size_t)x;
                    if (cx >= W || line[x] == trans) continue;
                    uint8_t *q = px + 4 * (cy * W + cx);
                    if (line[x] < cm->ColorCount) {
                        const GifColorType *c = &cm->Colors[line[x]];
                        q[0] = c->Red, q[1] = c->Green, q[2] = c->Blue;
                    }
                    q[3] = 255;
                }
            }
        free(line);
        DGifCloseFile(g, &err);
        *pw = (int)W, *ph = (int)H, *out = px;
        return TT_OK;
    }
done:
    if (!why) why = GifErrorString(g->Error);
    free(px), free(line);
    tt_status st = tt_error(TT_ERR_CORRUPT, "cannot decode GIF (giflib: %s)", why ? why : "?");
    DGifCloseFile(g, &err);
    return st;
}

/* One channel from a bit mask, scaled to 8 bits (a 5-bit 31 is 255). */
static uint8_t bmp_channel(uint32_t v, uint32_t mask) {
    if (!mask) return 0;
    int shift = 0, bits = 0;
    while (!(mask >> shift & 1)) shift++;
    while (shift + bits < 32 && mask >> (shift + bits) & 1) bits++;
    uint32_t x = (v & mask) >> shift, max = bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    return (uint8_t)((uint64_t)x * 255 / max);
}

/* Uncompressed BMP of 1, 4, 8 (palette), 16, 24 or 32 bits, or bit fields;
 * walk_bmp has checked that the rows fit in the file. */
static tt_status decode_bmp(const uint8_t *p, size_t n, int *pw, int *ph, uint8_t **out) {
    uint32_t off = le32(p + 10), hs = le32(p + 14), comp = 0, ncol = 0, mask[4] = {0};
    int64_t w, h;
    unsigned bpp;
    int top_down = 0;
    if (hs == 12) {
        w = le16(p + 18), h = le16(p + 20), bpp = le16(p + 24);
    } else if (hs >= 40 && n >= 54) {
        int32_t sw = (int32_t)le32(p + 18), sh = (int32_t)le32(p + 22);
        w = sw, h = sh < 0 ? -(int64_t)sh : sh, top_down = sh < 0;
        bpp = le16(p + 28), comp = le32(p + 30), ncol = le32(p + 46);
        /* masks inside a V2+ header, else right after the 40-byte one */
        size_t mo = 54, nm = comp == 6 || hs >= 56 ? 4 : 3;
        if ((comp == 3 || comp == 6) && mo + 4 * nm <= n)
            for (size_t i = 0; i < nm; i++) mask[i] = le32(p + mo + 4 * i);
    } else {
        return tt_error(TT_ERR_FORMAT, "BMP: unsupported header of %u bytes", hs);
    }
    if (w < 1 || h < 1) return tt_error(TT_ERR_FORMAT, "BMP is zero-sized");
    if (comp == 1 || comp == 2) return tt_error(TT_ERR_UNSUPPORTED, "BMP: RLE compression is not supported");
    if (!((comp == 0 && (bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32)) ||
          ((comp == 3 || comp == 6) && (bpp == 16 || bpp == 32))))
        return tt_error(TT_ERR_UNSUPPORTED, "BMP: %u bits per pixel with compression %u is not supported", bpp, comp);
    if (comp == 0 && bpp == 16) mask[0] = 0x7C00, mask[1] = 0x03E0, mask[2] = 0x001F;
    if (comp == 0 && bpp == 32) mask[0] = 0xFF0000, mask[1] = 0xFF00, mask[2] = 0xFF, mask[3] = 0xFF000000u;
    size_t stride = ((size_t)w * bpp + 31) / 32 * 4, W = (size_t)w, H = (size_t)h;
    if (off > n || stride * H > n - off) return tt_error(TT_ERR_CORRUPT, "BMP truncated: pixel rows past the end");
    /* palette: 4 bytes an entry (3 in the old 12-byte header), between header and pixels */
    size_t pal_at = 14 + (size_t)hs, esz = hs == 12 ? 3 : 4, npal = 0;
    if (bpp <= 8) {
        npal = ncol && ncol <= 256 ? ncol : 1u << bpp;
        if (pal_at > off || npal > (off - pal_at) / esz) npal = off > pal_at ? (off - pal_at) / esz : 0;
    }
    uint8_t *px = malloc(4 * W * H);
    if (!px) return tt_error(TT_ERR_NOMEM, "decoding BMP of %zux%zu: out of memory", W, H);
    int any_alpha = 0;
    for (size_t y = 0; y < H; y++) {
        const uint8_t *r = p + off + stride * (top_down ? y : H - 1 - y);
        uint8_t *q = px + 4 * W * y;
        for (size_t x = 0; x < W; x++, q += 4) {
            if (bpp <= 8) {
                unsigned i = bpp == 8 ? r[x] : bpp == 4 ? (r[x / 2] >> (x % 2 ? 0 : 4)) & 15 : (r[x / 8] >> (7 - x % 8)) & 1;
                const uint8_t *e = p + pal_at + esz * i;
                if (i < npal) q[0] = e[2], q[1] = e[1], q[2] = e[0];
                else q[0] = q[1] = q[2] = 0;
                q[3] = 255;
            } else if (bpp == 24) {
                q[0] = r[3 * x + 2], q[1] = r[3 * x + 1], q[2] = r[3 * x], q[3] = 255;
            } else {
                uint32_t v = bpp == 16 ? le16(r + 2 * x) : le32(r + 4 * x);
                q[0] = bmp_channel(v, mask[0]), q[1] = bmp_channel(v, mask[1]), q[2] = bmp_channel(v, mask[2]);
                q[3] = mask[3] ? bmp_channel(v, mask[3]) : 255;
                any_alpha |= q[3] != 0;
            }
        }
    }
    /* 32-bit files whose fourth byte is all zero mean "no alpha" (what readers have always done) */
    if (bpp > 24 || (bpp == 16 && mask[3]))
        if (!any_alpha)
            for (size_t i = 0; i < W * H; i++) px[4 * i + 3] = 255;
    *pw = (int)W, *ph = (int)H, *out = px;
    return TT_OK;
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

/* RGBA -> RGB with alpha composited over white; works in place (rgb == rgba:
 * pixel i is read at 4i.. before 3i.. is written). */
static void tt_over_white(const uint8_t *rgba, size_t n, uint8_t *rgb) {
    for (size_t i = 0; i < n; i++) {
        unsigned a = rgba[4 * i + 3], k = 255 - a;
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)((rgba[4 * i + c] * a + 255 * k + 127) / 255);
    }
}

tt_status tt_image_from_rgba(const uint8_t *rgba, int width, int height, tt_image *out) {
    memset(out, 0, sizeof *out);
    if (!rgba || width <= 0 || height <= 0 || (uint64_t)width * (uint64_t)height > TT_IMAGE_DEFAULT_MAX_PIXELS)
        return tt_error(TT_ERR_LIMIT, "picture of %dx%d pixels", width, height);
    size_t n = (size_t)width * (size_t)height;
    if (!(out->pixels = malloc(3 * n))) return tt_error(TT_ERR_NOMEM, "no memory for a %dx%d picture", width, height);
    tt_over_white(rgba, n, out->pixels);
    out->width = width, out->height = height;
    return TT_OK;
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
        return tt_error(TT_ERR_FORMAT, "not a JPEG, PNG, BMP or GIF file, nor WebP (first bytes %02x %02x %02x %02x)",
                        p[0], len > 1 ? p[1] : 0, len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
    const char *name = tt_format_names[fmt];
    walk wk = {0};
    tt_status st = fmt == FMT_JPEG ? walk_jpeg(p, len, &wk)
                 : fmt == FMT_PNG  ? walk_png(p, len, &wk)
                 : fmt == FMT_WEBP ? walk_webp(p, len, &wk)
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
    int w = 0, h = 0, scale = fmt == FMT_JPEG ? jpeg_scale(wk.w, wk.h, opts ? opts->min_side : 0) : 8;
    uint8_t *px = NULL;
    st = fmt == FMT_JPEG ? decode_jpeg(p, len, scale, &w, &h, &px)
       : fmt == FMT_PNG  ? decode_png(p, len, &w, &h, &px)
       : fmt == FMT_WEBP ? decode_webp(p, len, &wk, &w, &h, &px)
       : fmt == FMT_BMP  ? decode_bmp(p, len, &w, &h, &px)
                         : decode_gif(p, len, &w, &h, &px);
    if (st) return st;
    /* The decoder must have decoded what the walk measured (and the limit allowed),
     * scaled as asked (libjpeg rounds the scaled size up). */
    if ((uint64_t)w != (wk.w * (uint64_t)scale + 7) / 8 || (uint64_t)h != (wk.h * (uint64_t)scale + 7) / 8) {
        free(px);
        return tt_error(TT_ERR_CORRUPT, "%s: the header says %llux%llu, the data %dx%d", name,
                        (unsigned long long)wk.w, (unsigned long long)wk.h, w, h);
    }
    size_t n = (size_t)w * (size_t)h;
    tt_over_white(px, n, px);
    int o = wk.exif ? tt_exif_orientation(wk.exif, wk.exif_len) : 1;
    uint8_t *rgb;
    if (o == 1) { /* our own malloc'd buffer: shrink it to RGB */
        rgb = realloc(px, 3 * n);
        if (!rgb) rgb = px;
    } else {
        rgb = malloc(3 * n);
        if (rgb) orient(px, w, h, o, rgb);
        free(px);
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

tt_status tt_image_training_copy(const void *bytes, size_t len, const tt_decode_opts *opts, int size,
                                 tt_image *out) {
    if (size <= 0 || !out) return tt_error(TT_ERR_INVALID_ARG, "tt_image_training_copy: size %d", size);
    tt_decode_opts o = opts ? *opts : (tt_decode_opts){0};
    o.min_side = size;
    tt_image full;
    tt_status st = tt_image_decode(bytes, len, &o, &full);
    if (st) return st;
    int side = full.width < full.height ? full.width : full.height;
    if (side < 2 * size) { /* already a copy: nothing to shrink (the common case of a stored copy) */
        *out = full;
        return TT_OK;
    }
    st = tt_image_reduce(&full, size, out);
    tt_image_free(&full);
    return st;
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
