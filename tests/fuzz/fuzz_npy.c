/* libFuzzer: NPY parsing (the reference weights the importer reads). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (!copy) return 0;
    memcpy(copy, data, size);
    tt_npy a;
    static volatile uint8_t sink __attribute__((unused));
    if (!tt_npy_parse(copy, size, &a)) /* every byte it says is data must be readable */
        for (size_t i = 0; i < a.nbytes; i++) sink ^= ((const uint8_t *)a.data)[i];
    free(copy);
    return 0;
}
