/* tabtrain/fileio.h — whole-file reads with a size limit, and atomic writes.
 *
 *   void *buf; size_t n;
 *   if (tt_file_read("w.safetensors", TT_FILE_MAX, &buf, &n)) ...;   free(buf) after
 *   tt_chunk parts[] = {{hdr, hdr_len}, {weights, weights_len}};
 *   tt_file_write_atomic("out.safetensors", parts, 2);
 *
 * tt_file_read returns a malloc'd buffer (aligned as malloc aligns, i.e. at
 * least 8 bytes on every target we build) holding the file plus one extra NUL
 * byte not counted in *len, so text files can be used as C strings. Errors:
 * TT_ERR_NOT_FOUND (no such file), TT_ERR_LIMIT (larger than max_bytes),
 * TT_ERR_IO (not a regular file, read error), TT_ERR_NOMEM.
 *
 * tt_file_write_atomic writes the concatenation of the chunks (so large
 * tensors are written from where they live, never copied into one buffer) to
 * "<path>.tmp-<pid>", flushes and fsyncs it, renames it over `path`, then
 * fsyncs the directory so the rename itself is durable. A crash or an error
 * at any step before the rename leaves the previous `path` untouched and the
 * temp file removed; readers only ever see the old or the new complete file.
 * Under Emscripten the directory fsync is skipped (its file systems have no
 * such notion), and on native file systems that refuse fsync on a directory
 * (EINVAL) it is treated as done.
 */
#ifndef TABTRAIN_FILEIO_H
#define TABTRAIN_FILEIO_H

#include <stddef.h>

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default read limit for model and checkpoint files: 1 GiB. */
#define TT_FILE_MAX ((size_t)1 << 30)

typedef struct tt_chunk {
    const void *data;
    size_t len;
} tt_chunk;

tt_status tt_file_read(const char *path, size_t max_bytes, void **out, size_t *len);

tt_status tt_file_write_atomic(const char *path, const tt_chunk *chunks, size_t nchunks);

#ifdef __cplusplus
}
#endif
#endif
