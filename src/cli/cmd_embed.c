/* tabtrain embed — MobileNetV2 features (global-average-pooled, 1280-d for
 * width 1.0) of image files, as an N x F float32 NPY file that NumPy,
 * PyTorch or scikit-learn read directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/npy.h"

static const char tt_embed_usage[] =
    "usage: tabtrain embed [--model PATH] [--threads N] --out FILE.npy IMAGE...\n"
    "\n"
    "Writes the backbone features of the images as an N x F float32 NPY (row i =\n"
    "image i, in the order given). Preprocessing: decode, alpha over white,\n"
    "center crop, bilinear resize to the input size, x/127.5 - 1.\n"
    "  --model PATH  backbone (default $TT_MODEL or " TT_CLI_DEFAULT_MODEL ")\n"
    "  --out FILE    the NPY file, written atomically\n"
    "  --threads N   threads to compute on (default: every core; same results)\n"
    "Any unreadable image fails the command and nothing is written, so rows\n"
    "always line up with the arguments.\n";

int tt_cmd_embed(int argc, char **argv) {
    const char *cmd = "embed", *model = NULL, *out = NULL;
    int first = argc, threads = 0;
    if (tt_cli_wants_help(argc, argv)) return fputs(tt_embed_usage, stdout), TT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int th = tt_cli_threads_arg(cmd, argc, argv, &i, &threads);
        if (th) {
            if (th < 0) return TT_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--out")) {
            if (!(out = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return tt_cli_usage_error(cmd, "unknown option %s", argv[i]);
        } else {
            first = i;
            break;
        }
    }
    if (!out) return tt_cli_usage_error(cmd, "--out FILE.npy is required");
    if (first >= argc) return tt_cli_usage_error(cmd, "no images given");
    int n = argc - first;

    tt_backbone *b;
    tt_status st = tt_cli_backbone(&b, model, threads);
    if (st) return tt_cli_fail(cmd, st);
    int dim = b->dim;
    float *feat = malloc((size_t)n * dim * sizeof(float));
    if (!feat) st = tt_error(TT_ERR_NOMEM, "out of memory for %d images", n);
    /* One image at a time: only the features of all images are kept. */
    for (int i = 0; !st && i < n; i++) st = tt_cli_file_row(b, NULL, argv[first + i], feat + (size_t)i * dim);
    if (!st) st = tt_npy_write_f32(out, feat, 2, (int64_t[]){n, dim});
    free(feat);
    tt_backbone_free(b);
    if (st) return tt_cli_fail(cmd, st);
    fprintf(stderr, "tabtrain embed: wrote %s (%d x %d)\n", out, n, dim);
    return TT_EXIT_OK;
}
