/* The option and error helpers every command uses (see cli.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int tt_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int tt_cli_fail(const char *cmd, tt_status st) {
    fprintf(stderr, "tabtrain %s: %s: %s\n", cmd, tt_status_name(st), tt_last_error());
    return TT_EXIT_FAIL;
}

int tt_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tabtrain %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: tabtrain %s --help)\n", cmd);
    return TT_EXIT_USAGE;
}

const char *tt_cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        tt_cli_usage_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
