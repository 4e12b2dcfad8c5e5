/* libFuzzer: picture bytes to the backbone's input, as a dataset folder or
 * the page gives them (the limit lowered so the fuzzer spends its time on
 * parsing, not on decoding huge canvases). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (!copy) return 0;
    memcpy(copy, data, size);
    tt_decode_opts opts = {.max_pixels = 1u << 20};
    tt_image img;
    if (!tt_image_decode(copy, size, &opts, &img)) {
        static float input[32 * 32 * 3];
        tt_image_to_input(&img, 32, input);
        tt_image_free(&img);
    }
    free(copy);
    return 0;
}
