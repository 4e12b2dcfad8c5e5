/* tabtrain/safetensors.h — the one reader/writer for weights, checkpoints and
 * exports (https://github.com/huggingface/safetensors format).
 *
 * File layout: u64 little-endian N, N bytes of UTF-8 JSON header, raw
 * little-endian tensor data. The header maps each tensor name to
 * {"dtype":"F32","shape":[...],"data_offsets":[begin,end]} (offsets relative to
 * the data section) and may hold "__metadata__": a string->string object.
 *
 * Reading
 *   tt_st_file *f;
 *   if (tt_st_open_file(&f, "model.safetensors")) puts(tt_last_error());
 *   const tt_st_tensor *w;
 *   tt_st_get(f, "stem.weight", TT_DTYPE_F32, &w);   // w->data, w->shape, w->ndim
 *   const char *labels = tt_st_metadata(f, "tabtrain.labels");
 *   tt_st_close(f);
 *
 *   tt_st_open_file reads the whole file (up to TT_FILE_MAX) into memory it owns.
 *   tt_st_open_memory borrows `bytes`: tensor data points into that buffer,
 *   which must outlive the handle — unless some tensor would land at an
 *   address not aligned to its element size, in which case the data section is
 *   copied once into an owned 64-byte aligned buffer. So `data` is always
 *   naturally aligned (an F32 tensor can be read as float*), and no copy is
 *   made when the buffer is 8-aligned and the file follows the usual layout
 *   (header padded to a multiple of 8, tensors ordered by element size), as
 *   every writer including ours does. Hosts must be little-endian (x86, wasm).
 *
 *   Everything is validated before the handle is returned: header length
 *   against the file size and TT_ST_MAX_HEADER, strictly well-formed JSON
 *   nested at most 16 deep (then tokenized by jsmn) and following the schema
 *   (unknown fields in a tensor entry are refused), required fields, known dtype,
 *   at most TT_ST_MAX_DIMS non-negative dims, shape product x element size ==
 *   data_offsets span, unique names, and tensors tiling the data section
 *   exactly (no overlap, no gap, nothing after the last tensor) — the same rule
 *   the reference implementation enforces.
 *
 * tabtrain metadata (written by tt_st_write_*, checked on open)
 *   "tabtrain.format_version"  decimal integer; a file newer than
 *                              TT_ST_FORMAT_VERSION is refused (TT_ERR_VERSION).
 *   "tabtrain.crc32.<name>"    CRC-32 (zlib polynomial) of tensor <name>'s bytes
 *                              as 8 lowercase hex digits, one key per tensor
 *                              (per-key so no JSON-in-JSON parsing is needed).
 *                              A mismatch is TT_ERR_CORRUPT naming the tensor.
 *   A file with any "tabtrain.*" key is tabtrain's: it must carry the format
 *   version and a CRC for every tensor (deleting the version key does not
 *   turn the checks off). A plain third-party file (no "tabtrain.*" key)
 *   loads; CRCs are then only checked for the tensors that have one, usually
 *   none. CRCs find damage, not tampering: anyone can recompute one, so a
 *   mismatch says "damaged or modified" and nothing more.
 *   Tensor names are at most TT_ST_MAX_NAME bytes (TT_ERR_LIMIT).
 *
 * Writing
 *   tt_st_builder *b; tt_st_builder_new(&b);
 *   int64_t shape[2] = {10, 1280};
 *   tt_st_add(b, "head.weight", TT_DTYPE_F32, 2, shape, weights);  // by reference
 *   tt_st_set_metadata(b, "tabtrain.labels", "[\"cat\",\"dog\"]");  // copied, escaped on write
 *   tt_st_write_file(b, "head.safetensors");                        // atomic (fileio.h)
 *   tt_st_builder_free(b);
 *
 *   Tensor data is not copied by tt_st_add and must stay valid until the last
 *   write call. Tensors are laid out by decreasing element size (stable
 *   otherwise), so each is naturally aligned without gaps; the header is padded
 *   with spaces to a multiple of 8. Keys "tabtrain.format_version" and
 *   "tabtrain.crc32.*" are reserved: the writer sets them.
 */
#ifndef TABTRAIN_SAFETENSORS_H
#define TABTRAIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_ST_FORMAT_VERSION 1
#define TT_ST_MAX_DIMS 8
#define TT_ST_MAX_NAME 256 /* bytes of a tensor name, reading and writing */
#define TT_ST_MAX_HEADER ((uint64_t)100 << 20)

typedef enum tt_dtype {
    TT_DTYPE_F32,
    TT_DTYPE_F64,
    TT_DTYPE_I32,
    TT_DTYPE_I64,
    TT_DTYPE_U8,
    TT_DTYPE_COUNT
} tt_dtype;

/* "F32", "F64", "I32", "I64", "U8" (the safetensors spellings); bytes per element. */
const char *tt_dtype_name(tt_dtype dt);
size_t tt_dtype_size(tt_dtype dt);

typedef struct tt_st_tensor {
    const char *name;
    tt_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[TT_ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const void *data; /* naturally aligned, see above */
} tt_st_tensor;

typedef struct tt_st_file tt_st_file;

tt_status tt_st_open_memory(tt_st_file **out, const void *bytes, size_t len);
tt_status tt_st_open_file(tt_st_file **out, const char *path);
void tt_st_close(tt_st_file *f);

/* Tensors in data-section order; i < tt_st_count(f). */
size_t tt_st_count(const tt_st_file *f);
const tt_st_tensor *tt_st_tensor_at(const tt_st_file *f, size_t i);
/* NULL when absent. */
const tt_st_tensor *tt_st_find(const tt_st_file *f, const char *name);
/* Like tt_st_find but an error: TT_ERR_NOT_FOUND, or TT_ERR_UNSUPPORTED on another dtype. */
tt_status tt_st_get(const tt_st_file *f, const char *name, tt_dtype dtype, const tt_st_tensor **out);

/* Unescaped metadata value, NULL when absent; iteration in header order. */
const char *tt_st_metadata(const tt_st_file *f, const char *key);
size_t tt_st_metadata_count(const tt_st_file *f);
void tt_st_metadata_at(const tt_st_file *f, size_t i, const char **key, const char **value);

typedef struct tt_st_builder tt_st_builder;

tt_status tt_st_builder_new(tt_st_builder **out);
void tt_st_builder_free(tt_st_builder *b);
tt_status tt_st_add(tt_st_builder *b, const char *name, tt_dtype dtype, int ndim,
                    const int64_t *shape, const void *data);
/* Sets or replaces a key. Key and value must be valid UTF-8 without NUL. */
tt_status tt_st_set_metadata(tt_st_builder *b, const char *key, const char *value);

/* *out is malloc'd (free it); 8-aligned like any malloc block. */
tt_status tt_st_write_memory(tt_st_builder *b, void **out, size_t *len);
tt_status tt_st_write_file(tt_st_builder *b, const char *path);

#ifdef __cplusplus
}
#endif
#endif
