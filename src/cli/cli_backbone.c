/* What the model-using commands share: opening the backbone, and turning an
 * image file into the backbone's input. */
#include <stdlib.h>

#include "cli/cli.h"
#include "tabtrain/fileio.h"
#include "tabtrain/image.h"

/* Encoded images larger than this are refused before decoding. */
#define TT_CLI_MAX_IMAGE_BYTES ((size_t)256 << 20)

tt_status tt_cli_backbone_open(tt_cli_backbone *b, const char *path) {
    b->file = NULL;
    b->model = NULL;
    if (!path || !*path) path = getenv("TT_MODEL");
    if (!path || !*path) path = TT_CLI_DEFAULT_MODEL;
    b->path = path;
    tt_status st = tt_st_open_file(&b->file, path);
    if (st) return tt_error(st, "%s: %s (scripts/fetch-model creates the default backbone)", path,
                            tt_last_error());
    st = tt_mnv2_init(&b->model, b->file, TT_IMAGE_DEFAULT_SIZE);
    if (st) {
        tt_st_close(b->file);
        b->file = NULL;
        return tt_error(st, "%s: %s", path, tt_last_error());
    }
    return TT_OK;
}

void tt_cli_backbone_close(tt_cli_backbone *b) {
    tt_mnv2_free(b->model);
    tt_st_close(b->file);
    b->model = NULL;
    b->file = NULL;
}

tt_status tt_cli_image_input(const char *path, int size, float *input) {
    void *bytes;
    size_t len;
    tt_status st = tt_file_read(path, TT_CLI_MAX_IMAGE_BYTES, &bytes, &len);
    if (st) return st;
    tt_image img;
    st = tt_image_decode(bytes, len, NULL, &img);
    free(bytes);
    if (st) return tt_error(st, "%s: %s", path, tt_last_error());
    st = tt_image_to_input(&img, size, input);
    tt_image_free(&img);
    return st;
}
