/* tabtrain train — folder-per-class photos in, a self-contained model file out.
 * The folder is read into the app's project (tabtrain/project.h) and trained
 * by the app's run (tabtrain/run.h, app.h) — the same run the browser's
 * engine drives: features from the content-keyed cache (a second run over the
 * same photos skips the backbone), the split, the trainer, the checkpoint
 * policy. This file parses the options and prints what happens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_ckpt.h"
#include "cli/cli_data.h"
#include "tabtrain/app.h"
#include "tabtrain/config.h"
#include "tabtrain/npy.h"
#include "tabtrain/project_file.h"
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
    "  --cache-dir D         feature cache and training copies (default $XDG_CACHE_HOME/tabtrain,\n"
    "                        else ~/.cache/tabtrain; see `tabtrain cache`); 'none' = do not persist\n"
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
    unsigned char given[64]; /* [setting row] set on the command line */
    tt_cli_ckpt ckpt;
} tt_train_args;

/* Pictures read and computed per call of the feature cache while preparing. */
#define TT_CLI_PICTURES 32

static int tt_train_parse(int argc, char **argv, tt_train_args *a) {
    const char *cmd = argv[0];
    *a = (tt_train_args){.out = "model.safetensors"};
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
        int n_rows;
        a->given[s - tt_config_settings(&n_rows)] = 1;
    }
    if (!a->data == !a->files) return tt_cli_usage_error(cmd, "give exactly one of --data DIR and --files LIST");
    if (views_set && !a->cfg.augment[0]) return tt_cli_usage_error(cmd, "--augment-views needs --augment");
    if (a->val) { /* the split is given */
        a->cfg.val_fraction = 0;
        int n_rows;
        a->given[tt_config_find("val_fraction") - tt_config_settings(&n_rows)] = 1;
    }
    if (tt_config_validate(&a->cfg)) return tt_cli_usage_error(cmd, "%s", tt_last_error());
    return tt_cli_ckpt_check_args(&a->ckpt, cmd);
}

/* Everything one training run holds. */
typedef struct tt_train_run {
    tt_train_args args;
    tt_dataset all, va;
    tt_app *app;
    uint8_t *val; /* [project images] 1 = from --val */
    tt_cli_skips skips;
    double extract_seconds;
} tt_train_run;

static void tt_train_free(tt_train_run *r) {
    tt_app_free(r->app);
    tt_dataset_free(&r->all), tt_dataset_free(&r->va);
    free(r->val);
}

static tt_status tt_train_datasets(tt_train_run *r) {
    tt_train_args *a = &r->args;
    tt_status st = a->data ? tt_dataset_scan_dir(&r->all, a->data) : tt_dataset_load_list(&r->all, a->files);
    int project = 0;
    if (!st && a->data) st = tt_project_file_order(&r->all, a->data, &project);
    if (st) return st;
    if (project && !a->json)
        fprintf(stderr, "classes and pictures in the order of the project file next to %s\n", a->data);
    if (r->all.n_classes < 2)
        return tt_error(TT_ERR_INVALID_ARG, "%s: need at least 2 classes, found %d", a->data ? a->data : a->files,
                        r->all.n_classes);
    if (a->val) {
        if ((st = tt_dataset_scan_dir(&r->va, a->val))) return st;
        if ((st = tt_dataset_match_classes(&r->va, r->all.n_classes, r->all.classes))) {
            return tt_error(st, "validation folder %s: %s", a->val, tt_last_error());
        }
    }
    return TT_OK;
}

/* The folder (and --val's) as the app's project; the validation pictures marked. */
static tt_status tt_train_project(tt_train_run *r) {
    tt_project *p = tt_app_project(r->app);
    r->skips = (tt_cli_skips){r->args.json, p, 0};
    int first_val;
    tt_status st = tt_project_add_dataset(p, &r->all, tt_cli_skip_file, &r->skips, NULL);
    if (st || !r->args.val) return st;
    if ((st = tt_project_add_dataset(p, &r->va, tt_cli_skip_file, &r->skips, &first_val))) return st;
    int n = tt_project_n_images(p);
    if (!(r->val = malloc((size_t)n + 1))) return tt_error(TT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) r->val[i] = tt_project_image_at(p, i)->id >= first_val;
    return TT_OK;
}

static tt_status tt_train_dump(const tt_train_run *r) {
    const tt_run *run = tt_app_run(r->app);
    const char *which[2] = {"train", "val"};
    const float *x;
    const int32_t *labels;
    int dim, n_train, n_val;
    tt_run_rows(run, &x, &labels, &dim);
    tt_run_counts(run, &n_train, &n_val);
    int64_t rows[2] = {(int64_t)n_train * tt_run_views(run), n_val};
    for (int k = 0; k < 2; k++) {
        char path[4200];
        float *y = malloc(((size_t)rows[k] + 1) * sizeof(float));
        if (!y) return tt_error(TT_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < rows[k]; i++) y[i] = (float)labels[i];
        int64_t sx[2] = {rows[k], dim}, sy[1] = {rows[k]};
        snprintf(path, sizeof path, "%s-%s-x.npy", r->args.dump, which[k]);
        tt_status st = tt_npy_write_f32(path, rows[k] ? x : y, 2, sx);
        snprintf(path, sizeof path, "%s-%s-y.npy", r->args.dump, which[k]);
        if (!st) st = tt_npy_write_f32(path, y, 1, sy);
        free(y);
        if (st) return st;
        x += rows[k] * dim;
        labels += rows[k];
    }
    return TT_OK;
}

static void tt_train_print_epoch(const tt_train_run *r, const tt_epoch_metrics *m, int classes) {
    if (r->args.json) {
        char buf[1 << 16];
        size_t n = tt_epoch_metrics_json(m, classes, buf, sizeof buf);
        if (n < sizeof buf) printf("{\"event\":\"epoch\",%s\n", buf + 1);
        fflush(stdout);
        return;
    }
    if (m->epoch == 1) printf("%5s %7s %10s %9s %10s %9s %10s %8s\n", "epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds");
    printf("%5d %7lld %10.4f %9.4f %10.4f %9.4f %10.3g %8.3f\n", m->epoch, (long long)m->step, m->train_loss,
           m->train_acc, m->val_loss, m->val_acc, (double)m->lr, m->seconds);
    fflush(stdout);
}

/* The run's rows, with a bar; the summary line of the features. */
static tt_status tt_train_prepare(tt_train_run *r) {
    tt_run *run = tt_app_run(r->app);
    double t0 = tt_now_seconds();
    int done, total, ready = 0;
    tt_status st = TT_OK;
    while (!st && !ready) {
        tt_run_event ev;
        st = tt_app_train_step(r->app, 0, &ev, NULL);
        tt_run_prepared(run, &done, &total, &ready);
        tt_cli_progress(r->args.json, "features", done, total);
    }
    tt_cli_progress_clear(r->args.json);
    r->extract_seconds = tt_now_seconds() - t0;
    if (st) return st;
    tt_featcache_stats fs = tt_featcache_get_stats(tt_app_run_cache(r->app));
    int n_train, n_val;
    tt_run_counts(run, &n_train, &n_val);
    if (!r->args.json)
        fprintf(stderr, "features: %d train + %d val images, %lld views cached, %lld computed%s, %.1f s; %d file%s skipped\n",
                n_train, n_val, (long long)fs.hits, (long long)fs.computed,
                fs.recovered ? " (damaged cache entries recomputed)" : "", r->extract_seconds, r->skips.count,
                r->skips.count == 1 ? "" : "s");
    return r->args.dump ? tt_train_dump(r) : TT_OK;
}

static void tt_train_resumed(const tt_train_run *r, const char *path, const char *note) {
    tt_trainer_progress p;
    tt_trainer_progress_get(tt_run_trainer(tt_app_run(r->app)), &p);
    if (r->args.json) {
        char qp[8500], qn[8300];
        printf("{\"event\":\"resume\",\"path\":%s,\"epoch\":%d,\"step\":%lld,\"note\":%s}\n",
               tt_cli_quote(qp, sizeof qp, path), p.epoch, (long long)p.global_step, tt_cli_quote(qn, sizeof qn, note));
        fflush(stdout);
    } else {
        if (note[0]) fprintf(stderr, "tabtrain train: warning: %s\n", note);
        fprintf(stderr, "resuming from %s (epoch %d done, step %lld)\n", path, p.epoch, (long long)p.global_step);
    }
}

static tt_status tt_train_loop(tt_train_run *r) {
    tt_run *run = tt_app_run(r->app);
    tt_trainer *t = tt_run_trainer(run);
    int classes = tt_run_classes(run, NULL, NULL);
    tt_run_event ev = TT_RUN_STEPPED;
    while (ev != TT_RUN_FINISHED) {
        int saved;
        tt_status st = tt_app_train_step(r->app, 0, &ev, &saved);
        if (st) return st;
        tt_trainer_progress p;
        tt_trainer_progress_get(t, &p);
        if (saved && r->args.json) {
            char q[8500];
            printf("{\"event\":\"checkpoint\",\"path\":%s,\"epoch\":%d,\"step\":%lld}\n",
                   tt_cli_quote(q, sizeof q, tt_run_saved_path(run)), p.epoch, (long long)p.global_step);
            fflush(stdout);
        }
        if (ev == TT_RUN_STEPPED) {
            char what[32];
            snprintf(what, sizeof what, "epoch %d", p.epoch + 1);
            tt_cli_progress(r->args.json, what, p.step_in_epoch, p.steps_per_epoch);
            continue;
        }
        int n;
        const tt_epoch_metrics *h = tt_trainer_history(t, &n);
        tt_cli_progress_clear(r->args.json);
        tt_train_print_epoch(r, &h[n - 1], classes);
    }
    return TT_OK;
}

/* --resume: the settings not on the command line are the checkpoint's, so a
 * plain --resume continues any run (the page's too, whatever its settings);
 * those given must still match it, as tt_app_resume checks. */
static tt_status tt_train_resume_settings(tt_train_args *a) {
    tt_st_file *f = NULL;
    char path[4200], note[4096];
    tt_status st = tt_ckpt_dir_resume(a->ckpt.dir, &f, path, sizeof path, note, sizeof note);
    if (st) return st;
    tt_config saved = tt_config_defaults();
    st = tt_config_from_file(f, &saved);
    tt_st_close(f);
    if (st) return st;
    int n;
    const tt_setting *rows = tt_config_settings(&n);
    for (int i = 0; i < n && i < (int)sizeof a->given; i++)
        if (!a->given[i]) tt_config_copy_setting(&a->cfg, &saved, &rows[i]);
    return tt_config_validate(&a->cfg);
}

static tt_status tt_train_run_all(tt_train_run *r) {
    tt_train_args *a = &r->args;
    tt_status st = a->ckpt.resume ? tt_train_resume_settings(a) : TT_OK;
    if (!st) st = tt_train_datasets(r);
    if (!st) st = tt_cli_ckpt_check_dir(&a->ckpt);
    tt_cli_cache cache;
    if (!st && tt_cli_cache_resolve(a->cache_dir, &cache)) st = tt_error(TT_ERR_INVALID_ARG, "--cache-dir: path too long");
    tt_app_config ac = {.prepare_batch = TT_CLI_PICTURES, .policy = a->ckpt.policy};
    if (!st) tt_cli_cache_app(&cache, &ac);
    if (!st) st = tt_app_open(&r->app, &ac, NULL);
    tt_backbone *bb;
    if (!st && !(st = tt_cli_backbone(&bb, a->model, a->threads))) st = tt_app_set_backbone(r->app, bb);
    if (!st) st = tt_train_project(r);
    if (st) return st;
    tt_app_train t = {.cfg = &a->cfg, .ckpt_dir = a->ckpt.dir, .policy = &a->ckpt.policy, .val = r->val,
                      .all_classes = 1, .skip = tt_cli_skip_image, .skip_ctx = &r->skips};
    char path[4200], note[4096];
    tt_app_loaded kind;
    st = a->ckpt.resume ? tt_app_resume(r->app, &t, &kind, path, sizeof path, note, sizeof note)
                        : tt_app_train_begin(r->app, &t);
    if (!st) st = tt_train_prepare(r);
    if (st) return st;
    if (a->ckpt.resume) tt_train_resumed(r, path, note);
    if ((st = tt_train_loop(r))) return st;

    tt_run *run = tt_app_run(r->app);
    if ((st = tt_run_save_model(run, a->out))) return st;
    tt_trainer *tr = tt_run_trainer(run);
    int n_hist, n_train, n_val, classes = tt_run_classes(run, NULL, NULL);
    const tt_epoch_metrics *h = tt_trainer_history(tr, &n_hist);
    tt_run_counts(run, &n_train, &n_val);
    tt_featcache_stats fs = tt_featcache_get_stats(tt_app_run_cache(r->app));
    int best = tt_trainer_best_epoch(tr);
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
               tt_cli_quote(qo, sizeof qo, a->out), classes, n_train, n_val, r->skips.count, (long long)fs.hits,
               (long long)fs.computed, (long long)fs.recovered, r->extract_seconds, n_hist, best, va_s, a->cfg.unfreeze, rss_s);
    } else {
        printf("wrote %s (best epoch %d", a->out, best);
        if (b && !isnan(b->val_acc)) printf(", val_acc %.4f", b->val_acc);
        printf(")\n");
        if (r->skips.count) fprintf(stderr, "%d file%s skipped (see above)\n", r->skips.count, r->skips.count == 1 ? "" : "s");
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
