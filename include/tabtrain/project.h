/* tabtrain/project.h — a project: its classes and the records of its
 * pictures, for both front ends.
 *
 *   tt_picture_store pics;
 *   tt_picture_dir(&pics, "root/pictures");          // picture bytes: one file per image id
 *   tt_project *p;
 *   tt_project_open(&p, "root", &pics);              // root/project.json, or the old layout migrated
 *   int cats, img;
 *   tt_project_class_add(p, "cats", &cats);
 *   tt_project_image_add(p, cats, "tom.jpg", hash, &(tt_picture){bytes, len}, &img);  // record + bytes
 *   tt_project_picture(p, img, &bytes, &len);        // the bytes back, when a feature is missing
 *   tt_project_free(p);
 *
 * A class is an id (never reused) and a name: not empty after trimming
 * white space, at most TT_CLASS_NAME_MAX characters, unique ignoring ASCII
 * case (results and exports could not tell two "Cats" apart). An image
 * record is an id (never reused, ascending), its class id, the name it was
 * added under, and the SHA-256 of its encoded bytes: the feature cache's key
 * (featcache.h) and the data id of a run (run.h) come from the record, so
 * opening a project never reads a picture.
 *
 * The bytes themselves are behind tt_picture_store (put/get/del by image id):
 * files under a directory here; the browser keeps them outside the engine's
 * files (web/pictures.js: OPFS or IndexedDB) and gives a picture back when a
 * run asks for it (get says TT_ERR_AGAIN until then). Besides the original a
 * store keeps what the app made of it once (tt_picture): the training copy,
 * which is what get returns when there is one, and a thumbnail. With a
 * root the class list and the records are one JSON file, root/project.json,
 * rewritten atomically after every change (a change is whole or absent):
 *   {"format":"tabtrain-project","version":1,"next_class_id":3,"next_image_id":9,
 *    "classes":[{"id":1,"name":"cats"},...],
 *    "images":[{"id":1,"class_id":1,"name":"tom.jpg","sha256":"<hex>"},...]}
 * Without a root (the CLI) the project lives in memory: a folder of pictures
 * is read into it (tt_project_add_dataset) and its picture store reads the
 * folder's files.
 *
 * Migration: a browser profile from before the project store kept the class
 * list in root/dataset/classes.json ({"nextId":N,"classes":[{id,name}]},
 * written by the worker) and each picture as root/dataset/img-<id>.safetensors
 * (tensor "image" = the bytes; metadata tabtrain.image_id, .class_id, .name).
 * tt_project_open finds that layout when root/project.json is absent and
 * moves it over with the same ids: bytes into the picture store, hashes
 * computed once, project.json written, then the old files deleted (a crash
 * in between repeats the migration, which overwrites what it wrote). A
 * record may also hold only the picture's hash (tensor "sha256", U8[32]):
 * the browser moves each picture out of its record into its own store
 * before the engine's files are loaded (tt_project_record_upgrade), so such
 * a record's bytes are already where they belong.
 * Pictures of a class that is not in classes.json get a class of their own
 * ("Class <id>"), so nothing a user added is lost.
 */
#ifndef TABTRAIN_PROJECT_H
#define TABTRAIN_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "tabtrain/dataset.h"
#include "tabtrain/sha256.h"
#include "tabtrain/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_CLASS_NAME_MAX 64

/* What is kept of a picture: the original as the user gave it, and what the
 * app made of it when it was added (tt_app_picture_parts). */
typedef struct tt_picture {
    const void *original;
    size_t original_len;
    const void *copy;  /* the training copy as lossless PNG; NULL: the original gives it as cheaply */
    size_t copy_len;
    const void *thumb; /* a small JPEG for a page's tiles; NULL: none */
    size_t thumb_len;
} tt_picture;

/* Where the bytes of the pictures are: put/get/del by image id. get returns
 * what the training copy is made from (the copy when there is one, else the
 * original: both give the same pixels), malloc'd (free it), or TT_ERR_AGAIN
 * when the store has asked for it and it is not at hand yet. free releases
 * ctx (may be NULL). */
typedef struct tt_picture_store {
    void *ctx;
    tt_status (*put)(void *ctx, int id, const tt_picture *pic);
    tt_status (*get)(void *ctx, int id, void **bytes, size_t *len);
    tt_status (*del)(void *ctx, int id);
    void (*free)(void *ctx);
} tt_picture_store;

/* Files per picture: dir/<id> (the original), dir/<id>.copy, dir/<id>.thumb
 * (the directory is created when missing). */
tt_status tt_picture_dir(tt_picture_store *s, const char *dir);

typedef struct tt_project_class {
    int id;
    char *name;
} tt_project_class;

typedef struct tt_project_image {
    int id, class_id;
    char *name;
    uint8_t hash[TT_SHA256_SIZE]; /* of the encoded bytes */
} tt_project_image;

typedef struct tt_project tt_project;

/* root NULL: in memory. The project takes over `pics` (NULL: no bytes can be
 * stored or read). */
tt_status tt_project_open(tt_project **out, const char *root, const tt_picture_store *pics);
void tt_project_free(tt_project *p);

/* Classes in list order (the order they were added in). */
int tt_project_n_classes(const tt_project *p);
const tt_project_class *tt_project_class_at(const tt_project *p, int i);
/* The index of class `id`, or -1. */
int tt_project_class_index(const tt_project *p, int id);
/* The class of that name (ASCII case ignored), or -1. */
int tt_project_class_find(const tt_project *p, const char *name);
/* Pictures of class `id`. */
int tt_project_class_count(const tt_project *p, int id);

/* TT_ERR_INVALID_ARG with the reason a person can act on for a bad name. */
tt_status tt_project_class_add(tt_project *p, const char *name, int *id);
tt_status tt_project_class_rename(tt_project *p, int id, const char *name);
/* Deletes the class and every picture of it (records and bytes). */
tt_status tt_project_class_delete(tt_project *p, int id);

/* Images in id order. */
int tt_project_n_images(const tt_project *p);
const tt_project_image *tt_project_image_at(const tt_project *p, int i);
/* The index of image `id`, or -1. */
int tt_project_image_index(const tt_project *p, int id);

/* A new record (and, when pic != NULL, its bytes into the picture store).
 * The same bytes twice in one class is TT_ERR_INVALID_ARG naming the picture
 * already there; in another class it is welcome. */
tt_status tt_project_image_add(tt_project *p, int class_id, const char *name,
                               const uint8_t hash[TT_SHA256_SIZE], const tt_picture *pic, int *id);
tt_status tt_project_image_remove(tt_project *p, int id);
/* What the picture's training copy is made from (the store's get; a folder
 * read by tt_project_add_dataset: its file), malloc'd (free them). */
tt_status tt_project_picture(const tt_project *p, int id, void **bytes, size_t *len);

/* A record of the old layout (see migration above) holding its picture,
 * turned into one holding only the hash: *id its image id; *original points
 * into `record` (the picture); *upgraded (malloc'd) the new record. A record
 * that holds no picture: *original and *upgraded NULL. */
tt_status tt_project_record_upgrade(const void *record, size_t len, int *id, const void **original,
                                    size_t *original_len, void **upgraded, size_t *upgraded_len);
/* 1 when another image than `id` has the same bytes (their features are shared). */
int tt_project_hash_shared(const tt_project *p, int id);

/* Reads a folder-per-class dataset (dataset.h) into the project: its
 * classes by name (added when missing, in the dataset's order), every file a
 * record hashed from its bytes, in the dataset's order; the bytes are read
 * back from the dataset's files (`ds` must outlive the project). A file that
 * cannot be read is reported through skip(ctx, path, status, reason) and
 * left out. *first receives the id the first record got (ids are consecutive). */
typedef void (*tt_project_skip_fn)(void *ctx, const char *path, tt_status st, const char *reason);
tt_status tt_project_add_dataset(tt_project *p, const tt_dataset *ds, tt_project_skip_fn skip, void *ctx,
                                 int *first);
/* The file an image was read from by tt_project_add_dataset, else NULL. */
const char *tt_project_image_path(const tt_project *p, int id);

#ifdef __cplusplus
}
#endif
#endif
