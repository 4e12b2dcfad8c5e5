/* An image file turned into the backbone's input, for the commands that
 * run images straight through the backbone (classify, embed). */
#include <stdlib.h>

#include "cli/cli_data.h"
#include "tabtrain/fileio.h"
#include "tabtrain/image.h"

/* Encoded images larger than this are refused before decoding. */
#define TT_CLI_MAX_IMAGE_BYTES ((size_t)256 << 20)

tt_status tt_cli_image_input(const char *path, int size, float *input) {
    void *bytes;
    size_t len;
    tt_status st = tt_file_read(path, TT_CLI_MAX_IMAGE_BYTES, &bytes, &len);
    if (st) return st;
    tt_image img;
    st = tt_image_training_copy(bytes, len, NULL, size, &img);
    free(bytes);
    if (st) return tt_error(st, "%s: %s", path, tt_last_error());
    st = tt_image_to_input(&img, size, input);
    tt_image_free(&img);
    return st;
}
