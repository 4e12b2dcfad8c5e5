/* tabtrain train — folder-per-class photos in, a self-contained model file out.
 * Features come from the content-keyed cache (featcache.h), so a second run
 * over the same photos skips the backbone; the head is trained by the
 * step-driven trainer (trainer.h), with a hook after every step where
 * checkpointing plugs in. With --unfreeze K the cache holds the activations
 * entering the last K blocks instead, and those blocks (tail.h) are trained
 * with the head and saved with it as "backbone.*". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_ckpt.h"
#include "cli/cli_data.h"
#include "tabtrain/config.h"
#include "tabtrain/model_file.h"
#include "tabtrain/npy.h"
#include "tabtrain/run.h"
#include "tabtrain/trainer.h"
#include "tabtrain/strbuf.h"

static const char tt_train_usage_head[] =
    "usage: tabtrain train --data DIR [options]\n"
    "\n"
    "Trains a classifier head on a frozen MobileNetV2. DIR holds one folder per class\n"
    "(class names = folder names); or --files LIST.tsv with path<TAB>class lines.\n"
    "  --data DIR            training images, DIR/<class>/<image>\n"
    "  --files LIST          instead of --data: a path<TAB>class list\n"
    "  --val DIR             validation images (classes must be training classes);\n"
    "                        else --val-fraction splits the training set\n"
    "  --model FILE          backbone (default $TT_MODEL or " TT_CLI_DEFAULT_MODEL ")\n"
    "  --out FILE            trained model (model.safetensors); best epoch's weights\n"
    "  --cache-dir D         feature cache (./.tabtrain-cache); 'none' = do not persist\n"
    "  --dump-features P     also write P-train-x.npy, P-train-y.npy, P-val-x.npy, P-val-y.npy\n"
    "  --json                one JSON object per line on stdout (epochs, skipped files, summary)\n"
    TT_CLI_THREADS_USAGE
    "  --preset NAME         start from a preset of the settings below (the page's menu):\n";

static void tt_train_usage(void) {
    char *settings = tt_config_usage();
    fputs(tt_train_usage_head, stdout);
    int n;
    const tt_preset *p = tt_config_presets(&n);
    for (int i = 0; i < n; i++) printf("                          %s: %s\n", p[i].key, p[i].help);
    fputs("training settings (docs/config.md; the same keys as the engine's JSON):\n", stdout);
    fputs(settings ? settings : "", stdout);
    fputs(TT_CLI_CKPT_USAGE, stdout);
    free(settings);
}

typedef struct tt_train_args {
    const char *data, *files, *val, *model, *out, *cache_dir, *dump;
    int json, threads;
    tt_config cfg;
    tt_cli_ckpt ckpt;
} tt_train_args;

static int tt_train_parse(int argc, char **argv, tt_train_args *a) {
    const char *cmd = argv[0];
    *a = (tt_train_args){.out = "model.safetensors", .cache_dir = ".tabtrain-cache"};
    a->cfg = tt_config_defaults();
    tt_cli_ckpt_init(&a->ckpt);
    /* A preset first, wherever it stands: the flags given with it change it. */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--preset") && tt_config_apply_preset(&a->cfg, argv[i + 1]))
            return tt_cli_usage_error(cmd, "--preset: %s", tt_last_error());
    int views_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--preset")) {
            if (!tt_cli_value(cmd, argc, argv, &i)) return TT_EXIT_USAGE;
            continue;
        }
        int ck = tt_cli_ckpt_arg(&a->ckpt, cmd, argc, argv, &i);
        if (ck) {
            if (ck < 0) return TT_EXIT_USAGE;
            continue;
        }
        if (!strcmp(k, "--json")) {
            a->json = 1;
            continue;
        }
        int th = tt_cli_threads_arg(cmd, argc, argv, &i, &a->threads);
        if (th < 0) return TT_EXIT_USAGE;
        if (th) continue;
        const char **str = !strcmp(k, "--data") ? &a->data : !strcmp(k, "--files") ? &a->files
                         : !strcmp(k, "--val") ? &a->val : !strcmp(k, "--model") ? &a->model
                         : !strcmp(k, "--out") ? &a->out : !strcmp(k, "--cache-dir") ? &a->cache_dir
                         : !strcmp(k, "--dump-features") ? &a->dump : NULL;
        const tt_setting *s = str || strncmp(k, "--", 2) ? NULL : tt_config_find(k);
        if (!str && (!s || !s->cli)) return tt_cli_usage_error(cmd, "unknown argument '%s'", k);
        const char *v = tt_cli_value(cmd, argc, argv, &i);
        if (!v) return TT_EXIT_USAGE;
        if (str) {
            *str = v;
            continue;
        }
        if (tt_config_set(&a->cfg, s, v)) {
            if (!strcmp(s->key, "unfreeze"))
                return tt_cli_usage_error(cmd,
                                          "--unfreeze %s: K must be a whole number from 0 (frozen backbone) to %d. "
                                          "Memory grows with K: the feature cache keeps the activations entering "
                                          "block 17-K per image and view (7,840 floats for K = 1..3, 18,816 for "
                                          "K = 4..5) and the tail's training workspace at batch 32 grows from "
                                          "~48 MB (K = 1) to ~142 MB (K = 5), more with every earlier block",
                                          v, TT_UNFREEZE_MAX);
            return tt_cli_usage_error(cmd, "bad value '%s' for %s: %s", v, k, tt_last_error());
        }
        views_set |= !strcmp(s->key, "augment_views");
    }
    if (!a->data == !a->files) return tt_cli_usage_error(cmd, "give exactly one of --data DIR and --files LIST");
    if (views_set && !a->cfg.augment[0]) return tt_cli_usage_error(cmd, "--augment-views needs --augment");
    if (a->val) a->cfg.val_fraction = 0; /* the split is given */
    if (tt_config_validate(&a->cfg)) return tt_cli_usage_error(cmd, "%s", tt_last_error());
    return tt_cli_ckpt_check_args(&a->ckpt, cmd);
}

/* Everything one training run holds. */
typedef struct tt_train_run {
    tt_train_args args;
    tt_cli_backbone bb;
    tt_featcache *fc;
    tt_dataset all, tr, va;
    tt_cli_feats ftr, fva;
    tt_trainer *t;
    char *config_json;
} tt_train_run;

/* Called after every optimizer step; the checkpoint hook goes here. */
static tt_status tt_train_after_step(tt_train_run *run, int epoch_ended) {
    return tt_cli_ckpt_step(&run->args.ckpt, run->t, epoch_ended);
}

static void tt_train_free(tt_train_run *r) {
    tt_cli_ckpt_free(&r->args.ckpt);
    tt_trainer_free(r->t);
    tt_cli_feats_free(&r->ftr), tt_cli_feats_free(&r->fva);
    tt_dataset_free(&r->all), tt_dataset_free(&r->tr), tt_dataset_free(&r->va);
    tt_featcache_free(r->fc);
    tt_cli_backbone_close(&r->bb);
    free(r->config_json);
}

static tt_status tt_train_datasets(tt_train_run *r) {
    tt_train_args *a = &r->args;
    tt_status st = a->data ? tt_dataset_scan_dir(&r->all, a->data) : tt_dataset_load_list(&r->all, a->files);
    if (st) return st;
    if (r->all.n_classes < 2)
        return tt_error(TT_ERR_INVALID_ARG, "%s: need at least 2 classes, found %d", a->data ? a->data : a->files,
                        r->all.n_classes);
    if (a->val) {
        if ((st = tt_dataset_scan_dir(&r->va, a->val))) return st;
        if ((st = tt_dataset_match_classes(&r->va, r->all.n_classes, r->all.classes))) {
            return tt_error(st, "validation folder %s: %s", a->val, tt_last_error());
        }
        tt_dataset none;
        st = tt_dataset_split(&r->all, 0.0f, a->cfg.train.seed, &r->tr, &none);
        tt_dataset_free(&none);
        return st;
    }
    return tt_dataset_split(&r->all, a->cfg.val_fraction, a->cfg.train.seed, &r->tr, &r->va);
}

/* History for the model file: per-epoch records without wall time, so the
 * same seed gives the same file bytes. */
static char *tt_train_history_json(const tt_epoch_metrics *h, int n, int classes) {
    size_t cap = 3, at = 0;
    for (int i = 0; i < n; i++) {
        tt_epoch_metrics m = h[i];
        m.seconds = NAN;
        cap += tt_epoch_metrics_json(&m, classes, NULL, 0) + 1;
    }
    char *s = malloc(cap);
    if (!s) return NULL;
    s[at++] = '[';
    for (int i = 0; i < n; i++) {
        tt_epoch_metrics m = h[i];
        m.seconds = NAN;
        if (i) s[at++] = ',';
        at += tt_epoch_metrics_json(&m, classes, s + at, cap - at);
    }
    s[at++] = ']', s[at] = 0;
    return s;
}

static tt_status tt_train_dump(const tt_train_run *r) {
    const char *which[2] = {"train", "val"};
    const tt_cli_feats *f[2] = {&r->ftr, &r->fva};
    for (int k = 0; k < 2; k++) {
        int64_t rows = (int64_t)f[k]->n * f[k]->views;
        char path[4200];
        float *y = malloc(((size_t)rows + 1) * sizeof(float));
        if (!y) return tt_error(TT_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < rows; i++) y[i] = (float)f[k]->y[i];
        int64_t sx[2] = {rows, f[k]->dim}, sy[1] = {rows};
        snprintf(path, sizeof path, "%s-%s-x.npy", r->args.dump, which[k]);
        tt_status st = tt_npy_write_f32(path, f[k]->x ? f[k]->x : y, 2, sx);
        snprintf(path, sizeof path, "%s-%s-y.npy", r->args.dump, which[k]);
        if (!st) st = tt_npy_write_f32(path, y, 1, sy);
        free(y);
        if (st) return st;
    }
    return TT_OK;
}

static void tt_train_print_epoch(const tt_train_run *r, const tt_epoch_metrics *m) {
    if (r->args.json) {
        char buf[1 << 16];
        size_t n = tt_epoch_metrics_json(m, r->all.n_classes, buf, sizeof buf);
        if (n < sizeof buf) printf("{\"event\":\"epoch\",%s\n", buf + 1);
        fflush(stdout);
        return;
    }
    if (m->epoch == 1) printf("%5s %7s %10s %9s %10s %9s %10s %8s\n", "epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds");
    printf("%5d %7lld %10.4f %9.4f %10.4f %9.4f %10.3g %8.3f\n", m->epoch, (long long)m->step, m->train_loss,
           m->train_acc, m->val_loss, m->val_acc, (double)m->lr, m->seconds);
    fflush(stdout);
}

static tt_status tt_train_run_all(tt_train_run *r) {
    tt_train_args *a = &r->args;
    tt_status st = tt_train_datasets(r);
    if (st) return st;
    if ((st = tt_cli_backbone_open(&r->bb, a->model, a->cfg.unfreeze, a->cfg.train.batch_size, a->threads))) return st;
    tt_featcache_config fcfg = tt_featcache_defaults();
    fcfg.unfreeze = a->cfg.unfreeze;
    fcfg.dir = a->cache_dir && strcmp(a->cache_dir, "none") ? a->cache_dir : NULL;
    if ((st = tt_augment_parse(a->cfg.augment, &fcfg.aug))) return st;
    if ((st = tt_featcache_open(&r->fc, r->bb.model, r->bb.id, &fcfg))) return st;

    double t0 = tt_now_seconds();
    if ((st = tt_cli_extract(r->fc, &r->tr, a->cfg.augment[0] ? 1 + a->cfg.augment_views : 1, a->json, "train", &r->ftr))) return st;
    if ((st = tt_cli_extract(r->fc, &r->va, 1, a->json, "val", &r->fva))) return st;
    tt_featcache_stats fs = tt_featcache_get_stats(r->fc);
    double t_extract = tt_now_seconds() - t0;
    int skipped = r->ftr.skipped + r->fva.skipped;
    if (!a->json)
        fprintf(stderr, "features: %d train + %d val images, %lld views cached, %lld computed%s, %.1f s; %d file%s skipped\n",
                r->ftr.n, r->fva.n, (long long)fs.hits, (long long)fs.computed,
                fs.recovered ? " (damaged cache entries recomputed)" : "", t_extract, skipped, skipped == 1 ? "" : "s");
    if (a->dump && (st = tt_train_dump(r))) return st;
    if (r->ftr.n == 0) return tt_error(TT_ERR_NOT_FOUND, "no usable training images");

    tt_features tr = {r->ftr.x, r->ftr.y, r->ftr.n * r->ftr.views}, va = {r->fva.x, r->fva.y, r->fva.n};
    st = r->bb.tail ? tt_trainer_init_tail(&r->t, &a->cfg.train, r->bb.tail, r->all.n_classes, &tr, &va)
                    : tt_trainer_init(&r->t, &a->cfg.train, r->ftr.dim, r->all.n_classes, &tr, &va);
    if (st) return st;
    uint32_t data_id = 0;
    for (int i = 0; i < r->ftr.n; i++) data_id = tt_run_data_id(data_id, r->ftr.hash[i], r->ftr.y[(size_t)i * r->ftr.views]);
    for (int i = 0; i < r->fva.n; i++) data_id = tt_run_data_id(data_id, r->fva.hash[i], r->fva.y[i]);
    if (!(r->config_json = tt_run_config_json(&a->cfg, data_id, NULL, 0))) return tt_error(TT_ERR_NOMEM, "out of memory");
    if ((st = tt_cli_ckpt_begin(&a->ckpt, r->t, r->all.n_classes, r->all.classes, r->bb.id,
                                r->bb.preprocess, &a->cfg, data_id, r->config_json, a->json)))
        return st;
    tt_trainer_progress p;
    while (!tt_trainer_finished(r->t)) {
        int ended;
        if ((st = tt_trainer_step(r->t, &ended))) return st;
        if ((st = tt_train_after_step(r, ended))) return st;
        tt_trainer_progress_get(r->t, &p);
        if (!ended) {
            char what[32];
            snprintf(what, sizeof what, "epoch %d", p.epoch + 1);
            tt_cli_progress(a->json, what, p.step_in_epoch, p.steps_per_epoch);
            continue;
        }
        int n;
        const tt_epoch_metrics *h = tt_trainer_history(r->t, &n);
        tt_cli_progress_clear(a->json);
        tt_train_print_epoch(r, &h[n - 1]);
    }
    tt_trainer_use_best(r->t);

    int n_hist;
    const tt_epoch_metrics *h = tt_trainer_history(r->t, &n_hist);
    char *history = tt_train_history_json(h, n_hist, r->all.n_classes);
    if (!history || !r->config_json) {
        free(history);
        return tt_error(TT_ERR_NOMEM, "out of memory");
    }
    tt_head *head = tt_trainer_head(r->t);
    tt_model_meta meta = {.kind = "model", .n_classes = r->all.n_classes, .classes = r->all.classes,
                          .head = head->cfg, .unfreeze = a->cfg.unfreeze, .backbone_id = r->bb.id,
                          .preprocess = r->bb.preprocess, .config = r->config_json, .history = history};
    st = tt_model_save(a->out, &meta, head, r->bb.tail);
    free(history);
    if (st) return st;

    int best = tt_trainer_best_epoch(r->t);
    const tt_epoch_metrics *b = best ? &h[best - 1] : NULL;
    double rss = tt_cli_peak_rss_mb();
    char qo[4200];
    if (a->json) {
        char rss_s[32] = "null", va_s[32] = "null";
        if (rss >= 0) snprintf(rss_s, sizeof rss_s, "%.1f", rss);
        if (b && !isnan(b->val_acc)) snprintf(va_s, sizeof va_s, "%.17g", b->val_acc);
        printf("{\"event\":\"done\",\"model\":%s,\"classes\":%d,\"train_images\":%d,\"val_images\":%d,"
               "\"skipped\":%d,\"cached\":%lld,\"computed\":%lld,\"recovered\":%lld,\"extract_seconds\":%.3f,"
               "\"epochs\":%d,\"best_epoch\":%d,\"best_val_acc\":%s,\"unfreeze\":%d,\"peak_rss_mb\":%s}\n",
               tt_cli_quote(qo, sizeof qo, a->out), r->all.n_classes, r->ftr.n, r->fva.n, skipped,
               (long long)fs.hits, (long long)fs.computed, (long long)fs.recovered, t_extract, n_hist, best, va_s, a->cfg.unfreeze, rss_s);
    } else {
        printf("wrote %s (best epoch %d", a->out, best);
        if (b && !isnan(b->val_acc)) printf(", val_acc %.4f", b->val_acc);
        printf(")\n");
        if (skipped) fprintf(stderr, "%d file%s skipped (see above)\n", skipped, skipped == 1 ? "" : "s");
        if (rss >= 0) fprintf(stderr, "peak RSS %.1f MiB\n", rss);
    }
    return TT_OK;
}

int tt_cmd_train(int argc, char **argv) {
    if (tt_cli_wants_help(argc, argv)) {
        tt_train_usage();
        return TT_EXIT_OK;
    }
    tt_train_run r = {0};
    int rc = tt_train_parse(argc, argv, &r.args);
    if (rc) return rc;
    tt_status st = tt_train_run_all(&r);
    tt_train_free(&r);
    return st ? tt_cli_fail(argv[0], st) : TT_EXIT_OK;
}
