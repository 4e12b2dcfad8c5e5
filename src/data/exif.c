/* EXIF orientation from a JPEG APP1 payload. Only IFD0 is read (the
 * orientation tag lives there), so no IFD chain is followed and a looping
 * or out-of-range structure can at worst make the tag unreadable. */
#include <string.h>

#include "tabtrain/image.h"

static unsigned rd16(const unsigned char *p, int big) {
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}
static unsigned long rd32(const unsigned char *p, int big) {
    return big ? (unsigned long)rd16(p, 1) << 16 | rd16(p + 2, 1)
               : (unsigned long)rd16(p + 2, 0) << 16 | rd16(p, 0);
}

int tt_exif_orientation(const void *app1, size_t len) {
    const unsigned char *p = app1;
    if (!p || len < 6 + 8 || memcmp(p, "Exif\0\0", 6)) return 1;
    const unsigned char *t = p + 6; /* TIFF header: offsets are relative to it */
    size_t n = len - 6;
    int big;
    if (!memcmp(t, "II*\0", 4)) big = 0;
    else if (!memcmp(t, "MM\0*", 4)) big = 1;
    else return 1;
    unsigned long ifd = rd32(t + 4, big);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = rd16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        size_t e = ifd + 2 + 12 * (size_t)i;
        if (e > n || n - e < 12) return 1;
        if (rd16(t + e, big) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, big);
        unsigned long v;
        if (type == 3) v = rd16(t + e + 8, big);       /* SHORT, as the standard says */
        else if (type == 4) v = rd32(t + e + 8, big);  /* LONG, from sloppy writers */
        else return 1;
        if (rd32(t + e + 4, big) != 1 || v < 1 || v > 8) return 1;
        return (int)v;
    }
    return 1;
}
