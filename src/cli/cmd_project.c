/* tabtrain project — describes a folder the command line trained as a project
 * file (docs/project-file.md), so the page's "Open project" takes it zipped. */
#include <stdio.h>

#include "cli/cli.h"
#include "tabtrain/project_file.h"

static const char tt_project_usage[] =
    "usage: tabtrain project DIR\n"
    "\n"
    "Writes DIR/project.json for DIR/images/<class>/<picture> and the run in DIR/checkpoints\n"
    "(tabtrain train --data DIR/images --ckpt-dir DIR/checkpoints): the classes and pictures in\n"
    "the order that run trains them, its settings, epoch and step. Zip DIR's contents, e.g.\n"
    "  (cd DIR && zip -r ../project.zip project.json images checkpoints)\n"
    "and the page's \"Open project\" continues the run. An existing project.json keeps its\n"
    "order and class names (a folder made from a project file).\n";

int tt_cmd_project(int argc, char **argv) {
    if (tt_cli_wants_help(argc, argv)) {
        fputs(tt_project_usage, stdout);
        return TT_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') return tt_cli_usage_error(argv[0], "give one project folder");
    tt_status st = tt_project_file_write(argv[1]);
    if (st) return tt_cli_fail(argv[0], st);
    printf("wrote %s/project.json\n", argv[1]);
    return TT_EXIT_OK;
}
