/* tabtrain classify — the pretrained ImageNet classifier on image files:
 * the sanity check that the backbone, the weights and the preprocessing are
 * right before anything is trained on top of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/conv.h"
#include "tabtrain/image.h"
#include "tabtrain/json.h"

static const char tt_classify_usage[] =
    "usage: tabtrain classify [--model PATH] [--top K] [--json] [--threads N] IMAGE...\n"
    "\n"
    "Prints the top-K (default 5) ImageNet labels with probabilities for each image.\n"
    "  --model PATH  backbone with its logits layer and labels (default $TT_MODEL or\n"
    "                " TT_CLI_DEFAULT_MODEL ")\n"
    "  --json        one JSON object per image on stdout\n"
    "  --threads N   threads to compute on (default: every core; same results)\n"
    "An image that cannot be read is reported on stderr; the others are still\n"
    "classified and the exit status is 1.\n";

int tt_cmd_classify(int argc, char **argv) {
    const char *cmd = "classify", *model = NULL;
    int json = 0, top = 5, first = argc, threads = 0;
    if (tt_cli_wants_help(argc, argv)) return fputs(tt_classify_usage, stdout), TT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int th = tt_cli_threads_arg(cmd, argc, argv, &i, &threads);
        if (th) {
            if (th < 0) return TT_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--top")) {
            const char *v = tt_cli_value(cmd, argc, argv, &i);
            if (!v) return TT_EXIT_USAGE;
            top = atoi(v);
            if (top < 1) return tt_cli_usage_error(cmd, "--top needs a positive number");
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return tt_cli_usage_error(cmd, "unknown option %s", argv[i]);
        } else {
            first = i;
            break;
        }
    }
    if (first >= argc) return tt_cli_usage_error(cmd, "no images given");

    tt_backbone *b;
    tt_status st = tt_cli_backbone(&b, model, threads);
    if (st) return tt_cli_fail(cmd, st);
    const char *path = tt_cli_backbone_path(model);
    tt_mnv2_info info = tt_mnv2_get_info(b->net);
    char **labels = NULL;
    int nlabels = 0;
    const char *lj = b->labels;
    if (!info.num_classes) {
        st = tt_error(TT_ERR_UNSUPPORTED, "%s has no logits layer: it is a backbone without top", path);
    } else if (!lj) {
        st = tt_error(TT_ERR_FORMAT, "%s has no tabtrain.labels metadata", path);
    } else if ((st = tt_json_string_array(lj, &labels, &nlabels))) {
        st = tt_error(st, "%s: tabtrain.labels: %s", path, tt_last_error());
    } else if (nlabels != info.num_classes) {
        st = tt_error(TT_ERR_MISMATCH, "%s: %d labels for %d logits", path, nlabels,
                      info.num_classes);
    }
    float *feat = malloc((size_t)info.feature_dim * sizeof(float));
    float *prob = malloc((size_t)info.num_classes * sizeof(float) + 1);
    int *order = malloc((size_t)info.num_classes * sizeof(int) + 1);
    if (!st && (!feat || !prob || !order)) st = tt_error(TT_ERR_NOMEM, "out of memory");
    if (st) {
        tt_json_free_strings(labels, nlabels), free(feat), free(prob), free(order);
        tt_backbone_free(b);
        return tt_cli_fail(cmd, st);
    }
    if (top > info.num_classes) top = info.num_classes;
    int failed = 0;
    for (int i = first; i < argc; i++) {
        st = tt_cli_file_row(b, NULL, argv[i], feat);
        if (!st) st = tt_mnv2_logits(b->net, 1, feat, prob);
        if (st) {
            fprintf(stderr, "tabtrain classify: %s: %s\n", tt_status_name(st), tt_last_error());
            failed = 1;
            continue;
        }
        tt_f32_softmax(1, info.num_classes, prob, prob);
        /* Partial selection: K passes over C logits beats sorting 1001. */
        for (int k = 0; k < top; k++) {
            int best = -1;
            for (int c = 0; c < info.num_classes; c++) {
                int taken = 0;
                for (int j = 0; j < k && !taken; j++) taken = order[j] == c;
                if (!taken && (best < 0 || prob[c] > prob[best])) best = c;
            }
            order[k] = best;
        }
        if (json) {
            char q[1024];
            tt_json_quote(q, sizeof q, argv[i]);
            printf("{\"image\":%s,\"top\":[", q);
            for (int k = 0; k < top; k++) {
                tt_json_quote(q, sizeof q, labels[order[k]]);
                printf("%s{\"index\":%d,\"label\":%s,\"prob\":%.6f}", k ? "," : "", order[k], q,
                       prob[order[k]]);
            }
            printf("]}\n");
        } else {
            printf("%s\n", argv[i]);
            for (int k = 0; k < top; k++)
                printf("  %8.4f  %s\n", prob[order[k]], labels[order[k]]);
        }
        fflush(stdout);
    }
    tt_json_free_strings(labels, nlabels), free(feat), free(prob), free(order);
    tt_backbone_free(b);
    return failed ? TT_EXIT_FAIL : TT_EXIT_OK;
}
