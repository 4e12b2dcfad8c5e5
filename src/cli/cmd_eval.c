/* tabtrain eval — a trained model (or checkpoint) against a labelled folder:
 * accuracy, per-class accuracy (recall) and the confusion matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/classifier.h"
#include "tabtrain/dataset.h"
#include "tabtrain/trainer.h"

static const char tt_eval_usage[] =
    "usage: tabtrain eval --ckpt MODEL --data DIR [--json] [--model BACKBONE] [--cache-dir D] [--threads N]\n"
    "\n"
    "Evaluates MODEL (a model or checkpoint file from `tabtrain train`) on DIR/<class>/<image>.\n"
    "Class folders must be classes of the model; the backbone must be the one it was trained on.\n"
    "  --cache-dir D   feature cache (default: train's, $XDG_CACHE_HOME/tabtrain else\n"
    "                  ~/.cache/tabtrain); 'none' = do not persist\n"
    "  --json          one JSON object: accuracy, per_class_acc, confusion [true][predicted]\n"
    "  --threads N     threads to compute on (default: every core; same results)\n";

/* Rows per head and tail pass of the model: a fine-tuned model's workspace grows
 * with the batch (~142 MB at 32 for --unfreeze 5), evaluation needs no big batches. */
#define TT_EVAL_TAIL_BATCH 8
/* Pictures read and computed per call of the feature cache. */
#define TT_EVAL_PICTURES 32

static tt_status tt_eval_run(const char *ckpt, const char *data, const char *model, const char *cache, int json,
                             int threads) {
    tt_dataset ds = {0};
    tt_backbone *bb = NULL;
    tt_classifier c = {0};
    tt_project *p = NULL;
    tt_featcache *fc = NULL;
    float *acc = NULL;
    int32_t *conf = NULL;
    tt_cli_skips skips = {.json = json};
    int n = 0;
    tt_status st = tt_cli_backbone(&bb, model, threads);
    if (!st) st = tt_classifier_load_file(&c, ckpt, bb, TT_EVAL_TAIL_BATCH);
    if (!st) st = tt_dataset_scan_dir(&ds, data);
    if (!st && (st = tt_dataset_match_classes(&ds, c.m.n_classes, c.m.classes))) {
        st = tt_error(st, "%s: %s", data, tt_last_error());
    }
    if (!st) st = tt_project_open(&p, NULL, NULL);
    skips.project = p;
    if (!st) st = tt_project_add_dataset(p, &ds, tt_cli_skip_file, &skips, NULL);
    tt_featcache_config fcfg = tt_featcache_defaults();
    tt_cli_cache where = {0};
    if (!st && tt_cli_cache_resolve(cache, &where)) st = tt_error(TT_ERR_INVALID_ARG, "--cache-dir: path too long");
    tt_cli_cache_apply(&where, &fcfg);
    fcfg.unfreeze = c.m.unfreeze;
    if (!st) st = tt_featcache_open(&fc, bb->net, bb->id, &fcfg);
    int C = c.m.n_classes;
    if (!st) {
        conf = calloc((size_t)C * C, sizeof *conf);
        acc = malloc((size_t)C * sizeof *acc);
        if (!conf || !acc) st = tt_error(TT_ERR_NOMEM, "out of memory");
    }
    tt_rows_src src = {fc, p, tt_cli_skip_image, &skips, 1, NULL};
    if (!st) st = tt_classifier_evaluate(&c, &src, TT_EVAL_PICTURES, conf, &n);
    if (!st && n == 0) st = tt_error(TT_ERR_NOT_FOUND, "%s: no usable images", data);
    if (!st) {
        tt_confusion_per_class(C, conf, acc);
        double total = tt_confusion_accuracy(C, conf);
        if (json) {
            char q[1024];
            printf("{\"event\":\"eval\",\"images\":%d,\"skipped\":%d,\"accuracy\":%.17g,\"classes\":[", n, skips.count, total);
            for (int k = 0; k < C; k++) printf("%s%s", k ? "," : "", tt_cli_quote(q, sizeof q, c.m.classes[k]));
            printf("],\"per_class_acc\":[");
            for (int k = 0; k < C; k++) {
                if (isnan(acc[k])) printf("%snull", k ? "," : "");
                else printf("%s%.9g", k ? "," : "", (double)acc[k]);
            }
            printf("],\"confusion\":[");
            for (int i = 0; i < C; i++) {
                printf("%s[", i ? "," : "");
                for (int j = 0; j < C; j++) printf("%s%d", j ? "," : "", conf[i * C + j]);
                printf("]");
            }
            printf("]}\n");
        } else {
            printf("accuracy %.4f on %d images (%d skipped)\n\n%-20s %8s %6s\n", total, n, skips.count, "class", "accuracy", "n");
            for (int k = 0; k < C; k++) {
                int m = 0;
                for (int j = 0; j < C; j++) m += conf[k * C + j];
                printf("%-20s %8.4f %6d\n", c.m.classes[k], (double)acc[k], m);
            }
            printf("\nconfusion (rows: true class, columns: predicted)\n%-20s", "");
            for (int j = 0; j < C; j++) printf(" %6.6s", c.m.classes[j]);
            printf("\n");
            for (int i = 0; i < C; i++) {
                printf("%-20s", c.m.classes[i]);
                for (int j = 0; j < C; j++) printf(" %6d", conf[i * C + j]);
                printf("\n");
            }
        }
    }
    free(conf), free(acc);
    tt_featcache_free(fc);
    tt_project_free(p);
    tt_classifier_free(&c);
    tt_backbone_free(bb);
    tt_dataset_free(&ds);
    return st;
}

int tt_cmd_eval(int argc, char **argv) {
    const char *cmd = argv[0], *ckpt = NULL, *data = NULL, *model = NULL, *cache = NULL;
    int json = 0, threads = 0;
    if (tt_cli_wants_help(argc, argv)) {
        fputs(tt_eval_usage, stdout);
        return TT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        int th = tt_cli_threads_arg(cmd, argc, argv, &i, &threads);
        if (th < 0) return TT_EXIT_USAGE;
        if (th) continue;
        const char **slot = !strcmp(argv[i], "--ckpt") ? &ckpt : !strcmp(argv[i], "--data") ? &data
                          : !strcmp(argv[i], "--model") ? &model : !strcmp(argv[i], "--cache-dir") ? &cache : NULL;
        if (!slot) return tt_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
        if (!(*slot = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
    }
    if (!ckpt || !data) return tt_cli_usage_error(cmd, "--ckpt and --data are required");
    tt_status st = tt_eval_run(ckpt, data, model, cache, json, threads);
    return st ? tt_cli_fail(cmd, st) : TT_EXIT_OK;
}
