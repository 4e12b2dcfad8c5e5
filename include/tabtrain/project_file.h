/* tabtrain/project_file.h — the unzipped project file (docs/project-file.md) as
 * the command line sees it:
 *
 *   P/project.json                  classes and pictures in the project's order, settings, run
 *   P/images/<class folder>/<file>  every picture as given
 *   P/checkpoints/                  latest, ckpt-*.safetensors, best.safetensors (tt_ckpt_dir)
 *
 * `tabtrain train --data P/images --ckpt-dir P/checkpoints --resume` continues
 * the page's run. A run is its pictures in the project's order (run.h: the
 * split and the data id follow it), so the folder scan alone, which sorts, is
 * not enough: tt_project_file_order puts the scanned dataset in the order
 * project.json gives, with the class names it records (a folder name is a
 * class name made safe for file systems). The other way, tt_project_file_write
 * describes a folder the CLI trained, so the page opens it zipped.
 */
#ifndef TABTRAIN_PROJECT_FILE_H
#define TABTRAIN_PROJECT_FILE_H

#include "tabtrain/dataset.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_PROJECT_FILE_FORMAT "tabtrain-project-file"
#define TT_PROJECT_FILE_VERSION 1

/* ds was scanned from images_dir. When images_dir/../project.json exists and
 * is a project file: its classes first, in its order and under its names,
 * then folders it does not list (sorted); its pictures first, in its order,
 * then files it does not list (folder order); listed files that are gone are
 * left out. *found = 1 then, 0 when there is no project.json (ds unchanged).
 * A project.json of a newer version is TT_ERR_VERSION; a damaged one
 * TT_ERR_FORMAT. */
tt_status tt_project_file_order(tt_dataset *ds, const char *images_dir, int *found);

/* Writes root/project.json for root/images and root/checkpoints: the classes
 * and pictures in the order `tabtrain train --data root/images` trains them
 * (an existing project.json's order kept), the settings and position of the
 * run in root/checkpoints (its `latest`, or the newest valid checkpoint), or
 * the default settings and no run. */
tt_status tt_project_file_write(const char *root);

#ifdef __cplusplus
}
#endif
#endif
