#include "tabtrain/crc32.h"

/* Slicing-by-4 tables: weight files are tens of MB and are checked on every
 * load, so the byte-at-a-time loop (about 4x slower) is worth avoiding. */
static uint32_t tt_crc_table[4][256];
static int tt_crc_ready;

static void tt_crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        tt_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            tt_crc_table[t][i] =
                (tt_crc_table[t - 1][i] >> 8) ^ tt_crc_table[0][tt_crc_table[t - 1][i] & 0xFF];
    tt_crc_ready = 1;
}

uint32_t tt_crc32(uint32_t crc, const void *data, size_t len) {
    if (!tt_crc_ready) tt_crc_init();
    const unsigned char *p = data;
    crc = ~crc;
    while (len >= 4) {
        crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        crc = tt_crc_table[3][crc & 0xFF] ^ tt_crc_table[2][(crc >> 8) & 0xFF] ^
              tt_crc_table[1][(crc >> 16) & 0xFF] ^ tt_crc_table[0][crc >> 24];
        p += 4;
        len -= 4;
    }
    while (len--) crc = tt_crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
