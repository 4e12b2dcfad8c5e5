/* tabtrain eval — a trained model (or checkpoint) against a labelled folder:
 * accuracy, per-class accuracy (recall) and the confusion matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/model_file.h"
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

/* Rows per tail pass of a fine-tuned model: its workspace grows with the
 * batch (~142 MB at 32 for --unfreeze 5), evaluation needs no big batches. */
#define TT_EVAL_TAIL_BATCH 8

static tt_status tt_eval_run(const char *ckpt, const char *data, const char *model, const char *cache, int json,
                             int threads) {
    tt_model m = {0};
    tt_dataset ds = {0};
    tt_cli_backbone bb = {0};
    tt_featcache *fc = NULL;
    tt_cli_feats f = {0};
    float *probs = NULL, *acc = NULL;
    int32_t *conf = NULL;
    tt_status st = tt_model_load_file(&m, ckpt, 64);
    if (!st) st = tt_dataset_scan_dir(&ds, data);
    if (!st && (st = tt_dataset_match_classes(&ds, m.n_classes, m.classes))) {
        st = tt_error(st, "%s: %s", data, tt_last_error());
    }
    if (!st) st = tt_cli_model_backbone(&bb, model, &m, TT_EVAL_TAIL_BATCH, threads);
    tt_featcache_config fcfg = tt_featcache_defaults();
    tt_cli_cache where = {0};
    if (!st && tt_cli_cache_resolve(cache, &where)) st = tt_error(TT_ERR_INVALID_ARG, "--cache-dir: path too long");
    tt_cli_cache_apply(&where, &fcfg);
    fcfg.unfreeze = m.unfreeze;
    if (!st) st = tt_featcache_open(&fc, bb.model, bb.id, &fcfg);
    if (!st) st = tt_cli_extract(fc, &ds, 1, json, "eval", &f);
    int C = m.n_classes;
    if (!st) {
        probs = malloc(((size_t)f.n + 1) * C * sizeof(float));
        conf = calloc((size_t)C * C, sizeof *conf);
        acc = malloc((size_t)C * sizeof *acc);
        if (!probs || !conf || !acc) st = tt_error(TT_ERR_NOMEM, "out of memory");
    }
    if (!st && f.n == 0) st = tt_error(TT_ERR_NOT_FOUND, "%s: no usable images", data);
    if (!st) st = tt_cli_predict(&bb, &m.head, f.n, f.x, probs);
    if (!st) {
        tt_confusion_add(C, f.n, probs, f.y, conf);
        tt_confusion_per_class(C, conf, acc);
        double total = tt_confusion_accuracy(C, conf);
        if (json) {
            char q[1024];
            printf("{\"event\":\"eval\",\"images\":%d,\"skipped\":%d,\"accuracy\":%.17g,\"classes\":[", f.n, f.skipped, total);
            for (int c = 0; c < C; c++) printf("%s%s", c ? "," : "", tt_cli_quote(q, sizeof q, m.classes[c]));
            printf("],\"per_class_acc\":[");
            for (int c = 0; c < C; c++) {
                if (isnan(acc[c])) printf("%snull", c ? "," : "");
                else printf("%s%.9g", c ? "," : "", (double)acc[c]);
            }
            printf("],\"confusion\":[");
            for (int i = 0; i < C; i++) {
                printf("%s[", i ? "," : "");
                for (int j = 0; j < C; j++) printf("%s%d", j ? "," : "", conf[i * C + j]);
                printf("]");
            }
            printf("]}\n");
        } else {
            printf("accuracy %.4f on %d images (%d skipped)\n\n%-20s %8s %6s\n", total, f.n, f.skipped, "class", "accuracy", "n");
            for (int c = 0; c < C; c++) {
                int n = 0;
                for (int j = 0; j < C; j++) n += conf[c * C + j];
                printf("%-20s %8.4f %6d\n", m.classes[c], (double)acc[c], n);
            }
            printf("\nconfusion (rows: true class, columns: predicted)\n%-20s", "");
            for (int j = 0; j < C; j++) printf(" %6.6s", m.classes[j]);
            printf("\n");
            for (int i = 0; i < C; i++) {
                printf("%-20s", m.classes[i]);
                for (int j = 0; j < C; j++) printf(" %6d", conf[i * C + j]);
                printf("\n");
            }
        }
    }
    free(probs), free(conf), free(acc);
    tt_cli_feats_free(&f);
    tt_featcache_free(fc);
    tt_cli_backbone_close(&bb);
    tt_dataset_free(&ds);
    tt_model_free(&m);
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
