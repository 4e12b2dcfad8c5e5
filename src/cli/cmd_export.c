/* tabtrain export — a checkpoint or model file + its backbone → one
 * safetensors file with the whole classifier and a JSON description
 * (docs/export.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/classifier.h"
#include "tabtrain/fileio.h"

static const char tt_export_usage[] =
    "usage: tabtrain export --ckpt FILE --out DIR [--model BACKBONE] [--format safetensors|onnx]\n"
    "\n"
    "Writes DIR/model.safetensors (backbone + trained head, tabtrain.kind \"export\") and\n"
    "DIR/model.json (classes, preprocessing, input size, tensor naming); see docs/export.md.\n"
    "With --format onnx, writes DIR/model.onnx instead: the same classifier as a standard\n"
    "ONNX model (NCHW input \"input\", outputs \"logits\" and \"probabilities\").\n"
    "  --ckpt FILE     a checkpoint (its best epoch's head) or a model file from train --out\n"
    "  --out DIR       created if missing\n"
    "  --format F      safetensors (default) or onnx\n"
    "  --model FILE    the backbone it was trained on (default $TT_MODEL or " TT_CLI_DEFAULT_MODEL ")\n";

static tt_status tt_export_run(const char *ckpt, const char *out, const char *model, int onnx) {
    model = tt_cli_backbone_path(model);
    tt_st_file *m = NULL;
    tt_st_builder *b = NULL;
    void *bytes = NULL;
    char path[4200], json[4200];
    size_t len;
    tt_status st = tt_st_open_file(&m, ckpt);
    if (!st && (st = tt_file_read(model, TT_FILE_MAX, &bytes, &len)) == TT_ERR_NOT_FOUND)
        st = tt_error(st, "backbone %s not found (pass --model FILE or set TT_MODEL)", model);
    if (!st) st = tt_export_build(m, bytes, len, &b);
    /* Only once the export is built: a refused file leaves no directory behind. */
    struct stat sb;
    if (!st && mkdir(out, 0755) != 0 && (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        st = tt_error(TT_ERR_IO, "cannot create output directory %s", out);
    snprintf(path, sizeof path, "%s/model.%s", out, onnx ? "onnx" : "safetensors");
    snprintf(json, sizeof json, "%s/model.json", out);
    tt_export_info info;
    if (!st) st = tt_export_write(b, path, onnx ? NULL : json, &info);
    if (!st && onnx) printf("wrote %s (%zu bytes)\n", path, info.bytes);
    else if (!st)
        printf("wrote %s/model.safetensors (%zu tensors, head weights: %s) and %s/model.json\n", out, info.tensors,
               info.weights, out);
    tt_st_builder_free(b);
    tt_st_close(m);
    free(bytes);
    return st;
}

int tt_cmd_export(int argc, char **argv) {
    const char *cmd = argv[0], *ckpt = NULL, *out = NULL, *model = NULL, *format = "safetensors";
    if (tt_cli_wants_help(argc, argv)) {
        fputs(tt_export_usage, stdout);
        return TT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--ckpt")    ? &ckpt
                          : !strcmp(argv[i], "--out")     ? &out
                          : !strcmp(argv[i], "--model")   ? &model
                          : !strcmp(argv[i], "--format")  ? &format
                                                          : NULL;
        if (!slot) return tt_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
        if (!(*slot = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
    }
    if (!ckpt || !out) return tt_cli_usage_error(cmd, "--ckpt FILE and --out DIR are required");
    int onnx = !strcmp(format, "onnx");
    if (!onnx && strcmp(format, "safetensors"))
        return tt_cli_usage_error(cmd, "--format is safetensors or onnx, not '%s'", format);
    tt_status st = tt_export_run(ckpt, out, model, onnx);
    return st ? tt_cli_fail(cmd, st) : TT_EXIT_OK;
}
