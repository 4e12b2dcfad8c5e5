/* tabtrain/dataset.h — which files make up a training set, and the split.
 *
 *   tt_dataset all, tr, va;
 *   if ((st = tt_dataset_scan_dir(&all, "photos"))) ...;    // photos/<class>/<file>
 *   // or tt_dataset_load_list(&all, "list.tsv");            // path<TAB>class lines
 *   tt_dataset_split(&all, 0.15f, seed, &tr, &va);          // stratified, seeded
 *   for (i..) tt_dataset_read(&tr, i, &bytes, &len);         // lazily, one file at a time
 *   tt_dataset_free(&all); ...
 *
 * A dataset is only names: paths and integer labels, never pixels. Encoded
 * bytes are read when a batch needs them (tt_dataset_read), decoded and
 * dropped by the caller (see featcache.h).
 *
 * Folder per class (Keras' flow_from_directory): every visible subdirectory
 * of DIR is a class, class names are the folder names in byte order (strcmp),
 * files inside a class are taken in byte order of their names. Names starting
 * with '.' and anything that is not a regular file (directories inside a
 * class, sockets, FIFOs...) are ignored; symlinks count as what they point
 * to. Files are not opened here: whether a file is an image is decided by its
 * content when it is decoded, so a PNG named .jpg is fine and a text file
 * named .jpg is reported then.
 *
 * File list: a UTF-8 text file, one "path<TAB>class" per line; relative paths
 * are relative to the list's directory; empty lines and lines starting with
 * '#' are skipped. Classes are the distinct names sorted like folders; items
 * keep the order of the list. A malformed line is TT_ERR_FORMAT naming it.
 *
 * Split: for each class separately its items are shuffled by a PCG32 stream
 * (seed, TT_STREAM_SPLIT; classes in label order) and the first
 * round(frac * n_c) go to validation — at least one when frac > 0 and the
 * class has two or more items, never all of them. Both parts keep the
 * original item order, so the result depends only on (dataset, frac, seed).
 *
 * An explicit validation folder is scanned the same way and then mapped onto
 * the training classes with tt_dataset_match_classes: every class of the
 * validation set must be a training class (TT_ERR_MISMATCH names the unknown
 * ones and lists the known ones); training classes missing from it are fine.
 */
#ifndef TABTRAIN_DATASET_H
#define TABTRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest encoded file tt_dataset_read accepts (a 40 Mpx photo is ~20 MB). */
#define TT_DATASET_MAX_FILE ((size_t)256 << 20)

typedef struct tt_dataset_item {
    char *path;
    int32_t label;
} tt_dataset_item;

typedef struct tt_dataset {
    int n_classes;
    char **classes; /* [n_classes], sorted */
    int n;
    tt_dataset_item *items; /* [n] */
} tt_dataset;

tt_status tt_dataset_scan_dir(tt_dataset *ds, const char *dir);
tt_status tt_dataset_load_list(tt_dataset *ds, const char *list_path);
void tt_dataset_free(tt_dataset *ds);

/* Items of class c (0 when none). */
int tt_dataset_class_count(const tt_dataset *ds, int c);

/* frac in [0, 1). tr and va get their own copies of names and paths. */
/* The split itself, over labels alone (in [0, n_classes)): to_val[i] = 1 for the
 * items held out — per class round(frac * count) of them (at least 1 when frac > 0
 * and the class has 2, never all), drawn from the TT_STREAM_SPLIT stream of seed.
 * tt_dataset_split keeps the items' order within each side. */
tt_status tt_split_labels(const int32_t *labels, int n, int n_classes, float frac, uint64_t seed, uint8_t *to_val);
tt_status tt_dataset_split(const tt_dataset *ds, float frac, uint64_t seed, tt_dataset *tr,
                           tt_dataset *va);

/* Relabels `ds` to the class list `classes` (ds->classes is replaced by a copy
 * of it). TT_ERR_MISMATCH when ds has a class not in the list. */
tt_status tt_dataset_match_classes(tt_dataset *ds, int n_classes, char *const *classes);

/* The encoded bytes of item i (malloc'd, free them); fileio.h errors. */
tt_status tt_dataset_read(const tt_dataset *ds, int i, void **bytes, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
