/* libFuzzer: the one safetensors reader (weights, checkpoints, exports), and
 * the writer on whatever it accepted: a file read back is written again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *file;
    size_t len;
    void *owned;
    if (fz_file(data, size, 0, &file, &len, &owned)) return 0;
    uint8_t *copy = malloc(len ? len : 1); /* exact size, and at any alignment the caller gives */
    if (!copy) return free(owned), 0;
    memcpy(copy, file, len);
    tt_st_file *f;
    if (!tt_st_open_memory(&f, copy, len)) {
        tt_st_builder *b;
        if (!tt_st_builder_new(&b)) {
            for (size_t i = 0; i < tt_st_count(f); i++) {
                const tt_st_tensor *t = tt_st_tensor_at(f, i);
                tt_st_add(b, t->name, t->dtype, t->ndim, t->shape, t->data);
                tt_st_find(f, t->name);
            }
            for (size_t i = 0; i < tt_st_metadata_count(f); i++) {
                const char *k, *v;
                tt_st_metadata_at(f, i, &k, &v);
                tt_st_set_metadata(b, k, v);
            }
            void *out;
            size_t n;
            if (!tt_st_write_memory(b, &out, &n)) free(out);
            tt_st_builder_free(b);
        }
        tt_st_close(f);
    }
    free(copy);
    free(owned);
    return 0;
}
