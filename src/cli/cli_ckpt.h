/* cli_ckpt.h — checkpoint options of `tabtrain train`, kept apart from the
 * training command: parse the options, then around the training loop
 *
 *     tt_cli_ckpt_begin(&c, t, classes..., json);  // after tt_trainer_init: --resume restores
 *     ... after every step: tt_cli_ckpt_step(&c, t, ended);
 *     tt_cli_ckpt_free(&c);
 *
 * --resume continues from the directory's `latest` (or the newest valid
 * checkpoint, saying so), refusing other classes, backbone or training
 * options; without --resume a directory that already holds checkpoints is
 * refused unless --fresh discards them, so a run never silently starts over
 * nor silently overwrites. With --json every save is a
 * {"event":"checkpoint","path":..,"epoch":..,"step":..} line and the resume
 * a {"event":"resume",...} line. */
#ifndef TT_CLI_CKPT_H
#define TT_CLI_CKPT_H

#include "tabtrain/ckpt.h"
#include "tabtrain/config.h"

#define TT_CLI_CKPT_USAGE                                                                     \
    "  --ckpt-dir D          write checkpoints to D (ckpt-eEEEE-sSSSSSS.safetensors, best,\n" \
    "                        latest); see docs/checkpoints.md\n"                               \
    "  --ckpt-every N        every N epochs (1; 0 = off)  --ckpt-steps N  every N steps\n"      \
    "  --ckpt-seconds S      every S seconds              --keep N        keep N (3)\n"         \
    "  --resume              continue from D/latest (or the newest valid checkpoint)\n"        \
    "  --fresh               discard D's checkpoints and start over\n"

typedef struct tt_cli_ckpt {
    const char *dir;
    int resume, fresh, json;
    tt_ckpt_policy policy;
    tt_ckpt_dir *d;
    tt_ckpt_meta meta;
    const tt_config *cfg; /* the run's settings and pictures, checked against the checkpoint's on resume */
    uint32_t data_id;
    char *classes_json;
} tt_cli_ckpt;

void tt_cli_ckpt_init(tt_cli_ckpt *c);
/* 1 when argv[*i] was a checkpoint option (its value consumed), 0 when it is
 * not one, -1 after reporting a usage error. */
int tt_cli_ckpt_arg(tt_cli_ckpt *c, const char *cmd, int argc, char **argv, int *i);
/* Usage errors between options (--resume without --ckpt-dir ...): 0 or the exit code. */
int tt_cli_ckpt_check_args(const tt_cli_ckpt *c, const char *cmd);
/* After tt_trainer_init. The strings are kept by pointer and must outlive the run. */
tt_status tt_cli_ckpt_begin(tt_cli_ckpt *c, tt_trainer *t, int n_classes, char *const *classes,
                            const char *backbone_id, const char *preprocess, const tt_config *cfg,
                            uint32_t data_id, const char *config_json, int json);
tt_status tt_cli_ckpt_step(tt_cli_ckpt *c, tt_trainer *t, int epoch_ended);
void tt_cli_ckpt_free(tt_cli_ckpt *c);

#endif
