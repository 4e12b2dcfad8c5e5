/* tabtrain import-npy — converts the float32 MobileNetV2 NPY set (one weight
 * and one bias file per layer, listed in layers.tsv) into one safetensors file
 * with the metadata the model loader expects (see models/README.md).
 * Architecture shape checks are the model loader's job; this only refuses
 * what cannot be converted faithfully: missing files, non-f32 or
 * Fortran-order arrays, and a label list that disagrees with the logits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tabtrain/json.h"
#include "tabtrain/fileio.h"
#include "tabtrain/npy.h"
#include "tabtrain/safetensors.h"

#define TT_IMPORT_MAX_LAYERS 1024
#define TT_IMPORT_MAX_TEXT ((size_t)16 << 20)

static const char tt_import_usage[] =
    "usage: tabtrain import-npy --dir DIR --labels FILE --out FILE [--layers FILE] [--source TEXT]\n"
    "\n"
    "Converts a MobileNetV2 given as NPY files into a safetensors backbone.\n"
    "  --dir DIR       directory holding the weight and bias .npy files\n"
    "  --layers FILE   TSV: layer op weight_file bias_file stride activation residual_add\n"
    "                  (default DIR/layers.tsv; '#' lines are comments)\n"
    "  --labels FILE   class names, one per line (ImageNet: 1001 lines, \"background\" first)\n"
    "  --out FILE      output .safetensors, written atomically\n"
    "  --source TEXT   provenance stored as tabtrain.source (default: the --dir path)\n"
    "Tensors are named <layer>.weight and <layer>.bias, layouts kept (OHWI, depthwise 1HWC).\n";

static const char tt_preprocess[] =
    "{\"color\":\"RGB\",\"layout\":\"NHWC\",\"range\":[-1,1],\"scale\":\"x/127.5-1\","
    "\"resize\":\"bilinear\",\"crop\":\"center\",\"input_size\":224}";

typedef struct tt_import {
    char *names[2 * TT_IMPORT_MAX_LAYERS]; /* "<layer>.weight", "<layer>.bias" */
    void *bufs[2 * TT_IMPORT_MAX_LAYERS];
    tt_npy arrays[2 * TT_IMPORT_MAX_LAYERS];
    size_t n;
    char *layers_text, *labels_text, *labels_json;
    size_t nlabels;
} tt_import;

static void tt_import_free(tt_import *im) {
    for (size_t i = 0; i < im->n; i++) free(im->names[i]), free(im->bufs[i]);
    free(im->layers_text);
    free(im->labels_text);
    free(im->labels_json);
}

static int tt_plain_name(const char *s) {
    return *s && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") && strcmp(s, "..");
}

static tt_status tt_import_array(tt_import *im, const char *dir, const char *file, const char *layer,
                                 const char *suffix, int line) {
    char path[4096], name[512];
    if (!tt_plain_name(file))
        return tt_error(TT_ERR_FORMAT, "layers file line %d: '%s' is not a plain file name", line, file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    size_t i = im->n;
    tt_status st = tt_npy_read_file(path, &im->bufs[i], &im->arrays[i]);
    if (st) {
        return tt_error(st, "layers file line %d (%s): %s", line, name, tt_last_error());
    }
    im->n++; /* owns bufs[i] from here on */
    if (im->arrays[i].dtype != TT_DTYPE_F32)
        return tt_error(TT_ERR_UNSUPPORTED, "%s (%s): dtype %s, expected float32 ('<f4')", path, name,
                        tt_dtype_name(im->arrays[i].dtype));
    size_t n = strlen(name) + 1;
    if (!(im->names[i] = malloc(n))) return tt_error(TT_ERR_NOMEM, "out of memory");
    memcpy(im->names[i], name, n);
    return TT_OK;
}

static tt_status tt_import_layers(tt_import *im, const char *dir, const char *layers_path) {
    size_t len;
    tt_status st = tt_file_read(layers_path, TT_IMPORT_MAX_TEXT, (void **)&im->layers_text, &len);
    if (st) return st;
    int line = 0, rows = 0;
    for (char *s = im->layers_text, *next; s && *s; s = next) {
        next = strchr(s, '\n');
        if (next) *next++ = '\0';
        line++;
        s[strcspn(s, "\r")] = '\0';
        if (*s == '#' || *s == '\0') continue;
        char *col[4];
        int k = 0;
        for (char *c = s; k < 4 && c; k++) {
            col[k] = c;
            c = strchr(c, '\t');
            if (c) *c++ = '\0';
        }
        if (k < 4) return tt_error(TT_ERR_FORMAT, "%s line %d: expected at least 4 tab-separated columns", layers_path, line);
        if (!*col[0] || strlen(col[0]) > 400) return tt_error(TT_ERR_FORMAT, "%s line %d: bad layer name", layers_path, line);
        if (++rows > TT_IMPORT_MAX_LAYERS) return tt_error(TT_ERR_LIMIT, "%s: more than %d layers", layers_path, TT_IMPORT_MAX_LAYERS);
        if ((st = tt_import_array(im, dir, col[2], col[0], "weight", line)) ||
            (st = tt_import_array(im, dir, col[3], col[0], "bias", line)))
            return st;
    }
    if (!rows) return tt_error(TT_ERR_FORMAT, "%s: no layers", layers_path);
    return TT_OK;
}

/* The label file as a JSON array of strings. */
static tt_status tt_import_labels(tt_import *im, const char *path) {
    size_t len;
    tt_status st = tt_file_read(path, TT_IMPORT_MAX_TEXT, (void **)&im->labels_text, &len);
    if (st) return st;
    size_t cap = 2 * len * 6 + 16, n = 0; /* worst case: every byte \u00XX-escaped, plus quotes */
    if (!(im->labels_json = malloc(cap))) return tt_error(TT_ERR_NOMEM, "out of memory");
    im->labels_json[n++] = '[';
    int line = 0;
    for (char *s = im->labels_text, *next; s && *s; s = next) {
        next = strchr(s, '\n');
        if (next) *next++ = '\0';
        line++;
        s[strcspn(s, "\r")] = '\0';
        if (!*s) return tt_error(TT_ERR_FORMAT, "%s line %d: empty label", path, line);
        if (im->nlabels++) im->labels_json[n++] = ',';
        n += tt_json_quote(im->labels_json + n, cap - n, s);
    }
    im->labels_json[n++] = ']';
    im->labels_json[n] = '\0';
    if (!im->nlabels) return tt_error(TT_ERR_FORMAT, "%s: no labels", path);
    return TT_OK;
}

int tt_cmd_import_npy(int argc, char **argv) {
    const char *cmd = argv[0], *dir = NULL, *layers = NULL, *labels = NULL, *out = NULL, *source = NULL;
    if (tt_cli_wants_help(argc, argv)) {
        fputs(tt_import_usage, stdout);
        return TT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--dir") ? &dir : !strcmp(argv[i], "--layers") ? &layers
                          : !strcmp(argv[i], "--labels") ? &labels : !strcmp(argv[i], "--out") ? &out
                          : !strcmp(argv[i], "--source") ? &source : NULL;
        if (!slot) return tt_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
        if (!(*slot = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
    }
    if (!dir || !labels || !out) return tt_cli_usage_error(cmd, "--dir, --labels and --out are required");
    char layers_default[4096];
    if (!layers) {
        snprintf(layers_default, sizeof layers_default, "%s/layers.tsv", dir);
        layers = layers_default;
    }

    static tt_import im; /* large: file-scope storage, one import per process */
    tt_st_builder *b = NULL;
    tt_status st = tt_import_layers(&im, dir, layers);
    if (!st) st = tt_import_labels(&im, labels);
    for (size_t i = 0; !st && i < im.n; i++)
        if (!strcmp(im.names[i], "logits.weight") && im.arrays[i].ndim >= 1 &&
            (size_t)im.arrays[i].shape[0] != im.nlabels)
            st = tt_error(TT_ERR_MISMATCH, "%s has %zu labels but logits.weight has %lld outputs", labels,
                          im.nlabels, (long long)im.arrays[i].shape[0]);
    if (!st) st = tt_st_builder_new(&b);
    for (size_t i = 0; !st && i < im.n; i++)
        st = tt_st_add(b, im.names[i], TT_DTYPE_F32, im.arrays[i].ndim, im.arrays[i].shape, im.arrays[i].data);
    const char *meta[][2] = {
        {"tabtrain.kind", "backbone"},      {"tabtrain.architecture", "mobilenet_v2"},
        {"tabtrain.width", "1.0"},          {"tabtrain.input_size", "224"},
        {"tabtrain.preprocess", tt_preprocess}, {"tabtrain.labels", im.labels_json},
        {"tabtrain.source", source ? source : dir},
    };
    for (size_t i = 0; !st && i < sizeof meta / sizeof *meta; i++) st = tt_st_set_metadata(b, meta[i][0], meta[i][1]);
    if (!st) st = tt_st_write_file(b, out);
    if (!st) printf("wrote %s: %zu tensors, %zu labels\n", out, im.n, im.nlabels);
    tt_st_builder_free(b);
    tt_import_free(&im);
    return st ? tt_cli_fail(cmd, st) : TT_EXIT_OK;
}
