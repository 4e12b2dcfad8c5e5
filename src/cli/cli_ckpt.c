/* Checkpoint options of `tabtrain train` (cli_ckpt.h). */
#include "cli/cli_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "tabtrain/json.h"
#include "tabtrain/run.h"

void tt_cli_ckpt_init(tt_cli_ckpt *c) { *c = (tt_cli_ckpt){.policy = tt_ckpt_policy_defaults()}; }

int tt_cli_ckpt_arg(tt_cli_ckpt *c, const char *cmd, int argc, char **argv, int *i) {
    const char *k = argv[*i];
    if (!strcmp(k, "--resume")) return c->resume = 1;
    if (!strcmp(k, "--fresh")) return c->fresh = 1;
    if (strcmp(k, "--ckpt-dir") && strcmp(k, "--ckpt-every") && strcmp(k, "--ckpt-steps") &&
        strcmp(k, "--ckpt-seconds") && strcmp(k, "--keep"))
        return 0;
    const char *v = tt_cli_value(cmd, argc, argv, i);
    if (!v) return -1;
    long long n = 0;
    double x = 0;
    int bad = 0;
    if (!strcmp(k, "--ckpt-dir")) c->dir = v;
    else if (!strcmp(k, "--ckpt-every")) bad = tt_cli_parse_int(v, 0, 1000000, &n), c->policy.every_epochs = (int)n;
    else if (!strcmp(k, "--ckpt-steps")) bad = tt_cli_parse_int(v, 0, INT64_MAX, &n), c->policy.every_steps = n;
    else if (!strcmp(k, "--ckpt-seconds")) bad = tt_cli_parse_num(v, 0, 1e9, &x), c->policy.every_seconds = x;
    else bad = tt_cli_parse_int(v, 1, 1000000, &n), c->policy.keep = (int)n;
    if (bad) {
        tt_cli_usage_error(cmd, "bad value '%s' for %s", v, k);
        return -1;
    }
    return 1;
}

int tt_cli_ckpt_check_args(const tt_cli_ckpt *c, const char *cmd) {
    if ((c->resume || c->fresh) && !c->dir)
        return tt_cli_usage_error(cmd, "%s needs --ckpt-dir D", c->resume ? "--resume" : "--fresh");
    if (c->resume && c->fresh) return tt_cli_usage_error(cmd, "--resume and --fresh exclude each other");
    return TT_EXIT_OK;
}

static tt_status tt_cli_ckpt_resume(tt_cli_ckpt *c, tt_trainer *t) {
    tt_st_file *f;
    char path[4200], note[4096];
    tt_status st = tt_ckpt_dir_resume(c->dir, &f, path, sizeof path, note, sizeof note);
    if (st) return st;
    if (!(st = tt_ckpt_check(f, c->meta.classes_json, c->meta.backbone)) &&
        /* Files from before data ids: the sample count is still checked on restore. */
        ((st = tt_run_check_file(f, c->cfg, c->data_id)) == TT_OK || st == TT_ERR_NOT_FOUND))
        st = tt_ckpt_restore(t, f);
    tt_st_close(f);
    if (st) {
        return tt_error(st, "cannot resume from %s: %s", path, tt_last_error());
    }
    tt_trainer_progress p;
    tt_trainer_progress_get(t, &p);
    if (c->json) {
        char qp[8500], qn[8300];
        printf("{\"event\":\"resume\",\"path\":%s,\"epoch\":%d,\"step\":%lld,\"note\":%s}\n",
               tt_cli_quote(qp, sizeof qp, path), p.epoch, (long long)p.global_step,
               tt_cli_quote(qn, sizeof qn, note));
        fflush(stdout);
    } else {
        if (note[0]) fprintf(stderr, "tabtrain train: warning: %s\n", note);
        fprintf(stderr, "resuming from %s (epoch %d done, step %lld)\n", path, p.epoch,
                (long long)p.global_step);
    }
    return TT_OK;
}

tt_status tt_cli_ckpt_begin(tt_cli_ckpt *c, tt_trainer *t, int n_classes, char *const *classes,
                            const char *backbone_id, const char *preprocess, const tt_config *cfg,
                            uint32_t data_id, const char *config_json, int json) {
    if (!c->dir) return TT_OK;
    if (!(c->classes_json = tt_json_string_list(classes, n_classes)))
        return tt_error(TT_ERR_NOMEM, "checkpoints: out of memory");
    c->meta = (tt_ckpt_meta){.classes_json = c->classes_json,
                             .backbone = backbone_id,
                             .preprocess_json = preprocess,
                             .config_json = config_json};
    c->json = json;
    c->cfg = cfg;
    c->data_id = data_id;
    tt_status st = tt_ckpt_dir_open(&c->d, c->dir, &c->policy);
    if (st) return st;
    if (c->resume) return tt_cli_ckpt_resume(c, t);
    int n;
    if ((st = tt_ckpt_dir_files(c->d, &n, c->fresh))) return st;
    if (n && !c->fresh)
        return tt_error(TT_ERR_INVALID_ARG,
                        "%s already holds %d checkpoint file%s: pass --resume to continue that "
                        "run or --fresh to discard them",
                        c->dir, n, n == 1 ? "" : "s");
    return TT_OK;
}

tt_status tt_cli_ckpt_step(tt_cli_ckpt *c, tt_trainer *t, int epoch_ended) {
    if (!c->d) return TT_OK;
    int saved;
    tt_status st = tt_ckpt_dir_step(c->d, t, &c->meta, epoch_ended, &saved);
    if (st || !saved || !c->json) return st;
    tt_trainer_progress p;
    tt_trainer_progress_get(t, &p);
    char q[8500];
    printf("{\"event\":\"checkpoint\",\"path\":%s,\"epoch\":%d,\"step\":%lld}\n",
           tt_cli_quote(q, sizeof q, tt_ckpt_dir_last(c->d)), p.epoch, (long long)p.global_step);
    fflush(stdout);
    return TT_OK;
}

void tt_cli_ckpt_free(tt_cli_ckpt *c) {
    tt_ckpt_dir_free(c->d);
    free(c->classes_json);
    c->d = NULL, c->classes_json = NULL;
}
