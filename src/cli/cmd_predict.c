/* tabtrain predict — class and probabilities of each image with a trained
 * model. A bad image is reported and the others are still predicted; the
 * exit code is 1 if any failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/fileio.h"
#include "tabtrain/classifier.h"
#include "tabtrain/image.h"

static const char tt_predict_usage[] =
    "usage: tabtrain predict --ckpt MODEL [--json] [--top K] [--model BACKBONE] [--threads N] IMAGE...\n"
    "\n"
    "Prints the most likely class of each image and the top K probabilities (default 3).\n"
    "  --json   one JSON object per image: path, class, prob, top [[class, p]...],\n"
    "           probabilities (model class order); or path, status, error for a bad image\n"
    "  --threads N  threads to compute on (default: every core; same results)\n";

static void tt_predict_print(const tt_model *m, const char *path, const float *p, int top, int json) {
    int C = m->n_classes, order[256] = {0}, k = top < C ? top : C;
    if (k > 256) k = 256;
    for (int j = 0; j < k; j++) { /* top k by repeated selection: C is small */
        int best = -1;
        for (int c = 0; c < C; c++) {
            int used = 0;
            for (int u = 0; u < j; u++) used |= order[u] == c;
            if (!used && (best < 0 || p[c] > p[best])) best = c;
        }
        order[j] = best;
    }
    char q[4200], qc[1024];
    if (json) {
        printf("{\"path\":%s,\"class\":%s,\"prob\":%.9g,\"top\":[", tt_cli_quote(q, sizeof q, path),
               tt_cli_quote(qc, sizeof qc, m->classes[order[0]]), (double)p[order[0]]);
        for (int j = 0; j < k; j++)
            printf("%s[%s,%.9g]", j ? "," : "", tt_cli_quote(qc, sizeof qc, m->classes[order[j]]), (double)p[order[j]]);
        printf("],\"probabilities\":[");
        for (int c = 0; c < C; c++) printf("%s%.9g", c ? "," : "", (double)p[c]);
        printf("]}\n");
    } else {
        printf("%s\t%s\t", path, m->classes[order[0]]);
        for (int j = 0; j < k; j++) printf("%s%s %.4f", j ? ", " : "", m->classes[order[j]], (double)p[order[j]]);
        printf("\n");
    }
}

int tt_cmd_predict(int argc, char **argv) {
    const char *cmd = argv[0], *ckpt = NULL, *model = NULL;
    int json = 0, top = 3, first_image = argc, threads = 0;
    if (tt_cli_wants_help(argc, argv)) {
        fputs(tt_predict_usage, stdout);
        return TT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int th = tt_cli_threads_arg(cmd, argc, argv, &i, &threads);
        if (th < 0) return TT_EXIT_USAGE;
        if (th) continue;
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--ckpt") || !strcmp(argv[i], "--model")) {
            const char **slot = argv[i][2] == 'c' ? &ckpt : &model;
            if (!(*slot = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--top")) {
            const char *v = tt_cli_value(cmd, argc, argv, &i);
            long long n;
            if (!v) return TT_EXIT_USAGE;
            if (tt_cli_parse_int(v, 1, 1000, &n)) return tt_cli_usage_error(cmd, "bad value '%s' for --top", v);
            top = (int)n;
        } else if (!strncmp(argv[i], "--", 2)) {
            return tt_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
        } else {
            first_image = i;
            break;
        }
    }
    if (!ckpt) return tt_cli_usage_error(cmd, "--ckpt is required");
    if (first_image >= argc) return tt_cli_usage_error(cmd, "no images given");
    tt_backbone *bb = NULL;
    tt_classifier c = {0};
    tt_status st = tt_cli_backbone(&bb, model, threads);
    if (!st) st = tt_classifier_load_file(&c, ckpt, bb, 1);
    int failed = 0;
    float *probs = malloc(((size_t)c.m.n_classes + 1) * sizeof(float));
    if (!st && !probs) st = tt_error(TT_ERR_NOMEM, "out of memory");
    for (int i = first_image; !st && i < argc; i++) {
        const char *path = argv[i];
        void *bytes = NULL;
        size_t len = 0;
        tt_status fs = tt_file_read(path, TT_DATASET_MAX_FILE, &bytes, &len);
        if (!fs) fs = tt_predict_picture(bb, &c.m.head, c.tail, bytes, len, TT_IMAGE_DEFAULT_MAX_PIXELS, probs);
        free(bytes);
        if (fs == TT_ERR_NOMEM) st = fs;
        if (st) break;
        if (fs) {
            failed++;
            char q[4200], qr[700];
            if (json)
                printf("{\"path\":%s,\"status\":\"%s\",\"error\":%s}\n", tt_cli_quote(q, sizeof q, path),
                       tt_status_name(fs), tt_cli_quote(qr, sizeof qr, tt_last_error()));
            else fprintf(stderr, "tabtrain predict: %s: %s: %s\n", path, tt_status_name(fs), tt_last_error());
            continue;
        }
        tt_predict_print(&c.m, path, probs, top, json);
    }
    fflush(stdout);
    free(probs);
    tt_classifier_free(&c);
    tt_backbone_free(bb);
    if (st) return tt_cli_fail(cmd, st);
    return failed ? TT_EXIT_FAIL : TT_EXIT_OK;
}
