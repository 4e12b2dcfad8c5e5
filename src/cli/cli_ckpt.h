/* cli_ckpt.h — checkpoint options of `tabtrain train`, kept apart from the
 * training command: --ckpt-dir and the policy (tt_ckpt_policy), --resume and
 * --fresh. The checkpoints themselves are the run's (tabtrain/run.h, app.h):
 * --resume continues from the directory's `latest` (or the newest valid
 * checkpoint, saying so), refusing other classes, backbone or training
 * options; without --resume a directory that already holds checkpoints is
 * refused unless --fresh discards them, so a run never silently starts over
 * nor silently overwrites. */
#ifndef TT_CLI_CKPT_H
#define TT_CLI_CKPT_H

#include "tabtrain/ckpt.h"

#define TT_CLI_CKPT_USAGE                                                                     \
    "  --ckpt-dir D          write checkpoints to D (ckpt-eEEEE-sSSSSSS.safetensors, best,\n" \
    "                        latest); see docs/checkpoints.md\n"                               \
    "  --ckpt-every N        every N epochs (1; 0 = off)  --ckpt-steps N  every N steps\n"      \
    "  --ckpt-seconds S      every S seconds              --keep N        keep N (3)\n"         \
    "  --resume              continue from D/latest (or the newest valid checkpoint)\n"        \
    "  --fresh               discard D's checkpoints and start over\n"

typedef struct tt_cli_ckpt {
    const char *dir;
    int resume, fresh;
    tt_ckpt_policy policy;
} tt_cli_ckpt;

void tt_cli_ckpt_init(tt_cli_ckpt *c);
/* 1 when argv[*i] was a checkpoint option (its value consumed), 0 when it is
 * not one, -1 after reporting a usage error. */
int tt_cli_ckpt_arg(tt_cli_ckpt *c, const char *cmd, int argc, char **argv, int *i);
/* Usage errors between options (--resume without --ckpt-dir ...): 0 or the exit code. */
int tt_cli_ckpt_check_args(const tt_cli_ckpt *c, const char *cmd);
/* Before a run without --resume: the directory (created when missing) must hold
 * no checkpoints unless --fresh says they go. */
tt_status tt_cli_ckpt_check_dir(const tt_cli_ckpt *c);

#endif
