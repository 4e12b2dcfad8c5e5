/* cli.h — the `tabtrain` command line: one subcommand per src/cli/cmd_<name>.c.
 *
 * To add a command: write `int tt_cmd_<name>(int argc, char **argv)` in
 * src/cli/cmd_<name>.c and add one X(...) line to TT_CLI_COMMANDS below; main.c
 * builds its dispatch table and `tabtrain --help` from that list.
 *
 * A command receives argv[0] = its own name and argv[1..] = its arguments. It
 * must handle --help / -h itself (print usage to stdout, return 0) — the
 * tt_cli_* helpers below cover the common parts. Exit codes: 0 success,
 * 1 failure (message on stderr), 2 usage error.
 */
#ifndef TT_CLI_H
#define TT_CLI_H

#include "tabtrain/status.h"

/*  X(function suffix, command name, one-line summary) */
#define TT_CLI_COMMANDS(X)                                                                     \
    X(import_npy, "import-npy", "convert a directory of NPY weights (+ layers.tsv) to safetensors") \
    X(classify, "classify", "top-5 ImageNet labels of images (the pretrained classifier)")        \
    X(embed, "embed", "1280-d MobileNetV2 features of images, as an N x 1280 NPY file") \
    X(train, "train", "train a classifier head on folder-per-class images")                    \
    X(eval, "eval", "accuracy, per-class accuracy and confusion matrix of a model on a folder") \
    X(predict, "predict", "class and probabilities of images")                                 \
    X(export, "export", "backbone + trained head as one safetensors file + JSON (for PyTorch, the web)") \
    X(project, "project", "write DIR/project.json so the page opens the folder (zipped) as a project") \
    X(cache, "cache", "where the feature cache is and how big (--info), or free it (--clear)")

#define TT_CLI_DECLARE(fn, name, summary) int tt_cmd_##fn(int argc, char **argv);
TT_CLI_COMMANDS(TT_CLI_DECLARE)
#undef TT_CLI_DECLARE

enum { TT_EXIT_OK = 0, TT_EXIT_FAIL = 1, TT_EXIT_USAGE = 2 };

/* 1 when argv[1..] contains --help or -h. */
int tt_cli_wants_help(int argc, char **argv);

/* Prints "tabtrain <cmd>: <STATUS>: <last error>" to stderr; returns TT_EXIT_FAIL. */
int tt_cli_fail(const char *cmd, tt_status st);

/* Prints "tabtrain <cmd>: <message>" and a --help hint to stderr; returns TT_EXIT_USAGE. */
int tt_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* For `--opt VALUE` parsing: returns argv[++*i], or NULL after reporting a
 * usage error when the value is missing. */
const char *tt_cli_value(const char *cmd, int argc, char **argv, int *i);

#endif
