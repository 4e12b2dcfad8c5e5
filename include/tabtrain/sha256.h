/* tabtrain/sha256.h — SHA-256 (FIPS 180-4) for content keys: feature-cache
 * entries are keyed by the hash of an image's encoded bytes, and a backbone is
 * identified by the hash of its safetensors file ("sha256:<hex>").
 *
 *   uint8_t d[TT_SHA256_SIZE]; char hex[TT_SHA256_HEX];
 *   tt_sha256(bytes, len, d);                       // one shot
 *   tt_sha256_ctx c; tt_sha256_init(&c);            // or streamed
 *   tt_sha256_update(&c, part, n); ...; tt_sha256_final(&c, d);
 *   tt_sha256_hex(d, hex);                          // 64 lowercase digits + NUL
 */
#ifndef TABTRAIN_SHA256_H
#define TABTRAIN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_SHA256_SIZE 32
#define TT_SHA256_HEX 65

typedef struct tt_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes; /* total length so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
} tt_sha256_ctx;

void tt_sha256_init(tt_sha256_ctx *c);
void tt_sha256_update(tt_sha256_ctx *c, const void *data, size_t n);
void tt_sha256_final(tt_sha256_ctx *c, uint8_t out[TT_SHA256_SIZE]);
void tt_sha256(const void *data, size_t n, uint8_t out[TT_SHA256_SIZE]);
void tt_sha256_hex(const uint8_t digest[TT_SHA256_SIZE], char out[TT_SHA256_HEX]);

#ifdef __cplusplus
}
#endif
#endif
