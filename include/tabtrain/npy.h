/* tabtrain/npy.h — NumPy .npy arrays: the shared pretrained weights come as
 * NPY files, and `tabtrain embed --out FILE.npy` writes one.
 *
 *   void *buf; tt_npy a;
 *   if (tt_npy_read_file("Const_90.npy", &buf, &a)) puts(tt_last_error());
 *   // a.dtype == TT_DTYPE_F32, a.ndim, a.shape[], a.numel, a.data
 *   free(buf);
 *
 * Reads format versions 1.0 (header length: u16 at bytes 8-9), 2.0 and 3.0
 * (u32 at bytes 8-11). Accepted dtypes: '<f4' '<f8' '<i4' '<i8' '|u1' (and
 * '<u1'); big-endian data and fortran_order True are TT_ERR_UNSUPPORTED, since
 * every consumer here wants little-endian C order. The data must be exactly
 * numel * element size bytes. tt_npy_parse borrows `bytes`: a.data points
 * into it at the header's end (a multiple of 64 bytes in files numpy writes,
 * so data is aligned when the buffer is; other writers may not align — check
 * before casting, or memcpy).
 *
 * tt_npy_write_f32 writes a v1.0 '<f4' C-order file atomically (fileio.h),
 * header padded to 64 bytes as numpy does, with the data written in place.
 */
#ifndef TABTRAIN_NPY_H
#define TABTRAIN_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_NPY_MAX_DIMS TT_ST_MAX_DIMS

typedef struct tt_npy {
    tt_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[TT_NPY_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const void *data;
} tt_npy;

tt_status tt_npy_parse(const void *bytes, size_t len, tt_npy *out);
/* *buf receives the malloc'd file (free it when done with out->data). */
tt_status tt_npy_read_file(const char *path, void **buf, tt_npy *out);
tt_status tt_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
