/* Checkpoint options of `tabtrain train` (cli_ckpt.h). */
#include "cli/cli_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"

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

tt_status tt_cli_ckpt_check_dir(const tt_cli_ckpt *c) {
    if (!c->dir || c->resume) return TT_OK;
    tt_ckpt_dir *d;
    tt_status st = tt_ckpt_dir_open(&d, c->dir, &c->policy);
    int n = 0;
    if (!st) st = tt_ckpt_dir_files(d, &n, 0);
    tt_ckpt_dir_free(d);
    if (!st && n && !c->fresh)
        st = tt_error(TT_ERR_INVALID_ARG,
                      "%s already holds %d checkpoint file%s: pass --resume to continue that "
                      "run or --fresh to discard them",
                      c->dir, n, n == 1 ? "" : "s");
    return st;
}
