/* tabtrain/crc32.h — CRC-32 (IEEE 802.3, the zlib/PNG/gzip polynomial).
 *
 * Incremental: crc = tt_crc32(0, a, n); crc = tt_crc32(crc, b, m); equals the
 * CRC of a||b, and matches Python's zlib.crc32 and binascii.crc32, so files we
 * write can be checked by other tools.
 */
#ifndef TABTRAIN_CRC32_H
#define TABTRAIN_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t tt_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
