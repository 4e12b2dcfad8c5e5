/* tabtrain — command-line entry: dispatches `tabtrain <command> [args]`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/simd.h"

typedef struct tt_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} tt_command;

#define TT_CLI_ENTRY(fn, name, summary) {name, summary, tt_cmd_##fn},
static const tt_command tt_commands[] = {TT_CLI_COMMANDS(TT_CLI_ENTRY)};
#undef TT_CLI_ENTRY

static void tt_usage(FILE *out) {
    fprintf(out,
            "usage: tabtrain <command> [options]\n"
            "       tabtrain <command> --help\n"
            "       tabtrain --version     the kernels this build runs (results are bit-exact per kernel set)\n"
            "\ncommands:\n");
    for (size_t i = 0; i < sizeof tt_commands / sizeof *tt_commands; i++)
        fprintf(out, "  %-12s %s\n", tt_commands[i].name, tt_commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        tt_usage(stderr);
        return TT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) {
        printf("tabtrain (kernels: %s)\n", TT_ISA_NAME);
        return TT_EXIT_OK;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (!strcmp(cmd, "help") && argc > 2) { /* `tabtrain help X` == `tabtrain X --help` */
            char help[] = "--help";
            char *sub[] = {argv[2], help, NULL};
            for (size_t i = 0; i < sizeof tt_commands / sizeof *tt_commands; i++)
                if (!strcmp(argv[2], tt_commands[i].name)) return tt_commands[i].run(2, sub);
            fprintf(stderr, "tabtrain: unknown command '%s'\n", argv[2]);
            return TT_EXIT_USAGE;
        }
        tt_usage(stdout);
        return TT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof tt_commands / sizeof *tt_commands; i++)
        if (!strcmp(cmd, tt_commands[i].name)) return tt_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tabtrain: unknown command '%s'\n\n", cmd);
    tt_usage(stderr);
    return TT_EXIT_USAGE;
}
