/* The project store (src/app/project.c): the rules a class name follows, ids
 * that are never reused, records and picture bytes that survive reopening, the
 * migration of a browser profile written before the store existed, and a
 * folder of pictures read into a memory project. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tabtrain/dataset.h"
#include "tabtrain/fileio.h"
#include "tabtrain/project.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

static char g_root[600];

static void clear(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1200];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%.900s/%.255s", dir, e->d_name);
            clear(p);
            unlink(p);
            rmdir(p);
        }
    if (d) closedir(d);
}

static void fresh(void) {
    snprintf(g_root, sizeof g_root, "%s", tt_test_binary_path("test-project"));
    mkdir(g_root, 0755);
    clear(g_root);
}

static tt_project *open_root(void) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/pictures", g_root);
    tt_picture_store pics;
    tt_assert_ok(tt_picture_dir(&pics, dir));
    tt_project *p;
    tt_assert_ok(tt_project_open(&p, g_root, &pics));
    return p;
}

static void hash_of(const char *s, uint8_t h[TT_SHA256_SIZE]) { tt_sha256(s, strlen(s), h); }

static void assert_refused(tt_status st, const char *want) {
    assert_int_equal(st, TT_ERR_INVALID_ARG);
    if (!strstr(tt_last_error(), want)) fail_msg("\"%s\" lacks \"%s\"", tt_last_error(), want);
}

static void test_class_names(void **state) {
    (void)state;
    fresh();
    tt_project *p = open_root();
    int cats, dogs, id;
    tt_assert_ok(tt_project_class_add(p, "  cats \n", &cats));
    assert_string_equal(tt_project_class_at(p, 0)->name, "cats");
    assert_refused(tt_project_class_add(p, " \t ", &id), "A class needs a name.");
    assert_refused(tt_project_class_add(p, "Cats", &id), "There is already a class named \"cats\"; choose another name.");
    char long_name[100];
    memset(long_name, 'y', 65);
    long_name[65] = 0;
    assert_refused(tt_project_class_add(p, long_name, &id), "at most 64 characters; this one is longer than 64");
    /* 64 characters of two bytes each are 64 characters. */
    char wide[200] = "";
    for (int i = 0; i < 64; i++) strcat(wide, "\xc3\xa9");
    tt_assert_ok(tt_project_class_add(p, wide, &dogs));
    tt_assert_ok(tt_project_class_rename(p, cats, "CATS")); /* its own name, other case */
    assert_refused(tt_project_class_rename(p, dogs, "cats"), "already a class named \"CATS\"");
    assert_int_equal(tt_project_class_rename(p, 99, "x"), TT_ERR_INVALID_ARG);
    /* Ids are never reused, also after reopening. */
    tt_assert_ok(tt_project_class_delete(p, dogs));
    tt_project_free(p);
    p = open_root();
    assert_int_equal(tt_project_n_classes(p), 1);
    assert_string_equal(tt_project_class_at(p, 0)->name, "CATS");
    tt_assert_ok(tt_project_class_add(p, "birds", &id));
    assert_int_equal(id, dogs + 1);
    tt_project_free(p);
}

static void test_pictures_persist(void **state) {
    (void)state;
    fresh();
    tt_project *p = open_root();
    int a, b, one, two, three;
    tt_assert_ok(tt_project_class_add(p, "a", &a));
    tt_assert_ok(tt_project_class_add(p, "b", &b));
    uint8_t h1[TT_SHA256_SIZE], h2[TT_SHA256_SIZE];
    hash_of("first picture", h1);
    hash_of("second picture", h2);
    /* one comes with a training copy and a thumbnail: the copy is what it is read back as */
    tt_assert_ok(tt_project_image_add(p, a, "one.png", h1, &(tt_picture){"first picture", 13, "its copy", 8, "thumb", 5}, &one));
    tt_assert_ok(tt_project_image_add(p, a, "two \"quoted\".png", h2, &(tt_picture){.original = "second picture", .original_len = 14}, &two));
    assert_refused(tt_project_image_add(p, a, "again.png", h1, &(tt_picture){.original = "first picture", .original_len = 13}, &three),
                   "the same picture as one.png");
    tt_assert_ok(tt_project_image_add(p, b, "one-in-b.png", h1, &(tt_picture){.original = "first picture", .original_len = 13}, &three)); /* another class: welcome */
    assert_true(one < two && two < three);
    assert_true(tt_project_hash_shared(p, one) && !tt_project_hash_shared(p, two));
    tt_project_free(p);

    /* Reopened: records with their hashes, bytes from the picture store, nothing re-hashed. */
    p = open_root();
    assert_int_equal(tt_project_n_images(p), 3);
    const tt_project_image *im = tt_project_image_at(p, 1);
    assert_int_equal(im->id, two);
    assert_string_equal(im->name, "two \"quoted\".png");
    assert_memory_equal(im->hash, h2, TT_SHA256_SIZE);
    assert_int_equal(tt_project_class_count(p, a), 2);
    void *bytes;
    size_t len;
    tt_assert_ok(tt_project_picture(p, two, &bytes, &len));
    assert_int_equal(len, 14);
    assert_memory_equal(bytes, "second picture", 14);
    free(bytes);
    tt_assert_ok(tt_project_picture(p, one, &bytes, &len));
    assert_int_equal(len, 8);
    assert_memory_equal(bytes, "its copy", 8);
    free(bytes);
    tt_assert_ok(tt_project_image_remove(p, two));
    assert_int_equal(tt_project_picture(p, two, &bytes, &len), TT_ERR_NOT_FOUND);
    /* A class goes with its pictures' bytes. */
    tt_assert_ok(tt_project_class_delete(p, a));
    tt_project_free(p);
    p = open_root();
    assert_int_equal(tt_project_n_images(p), 1);
    assert_int_equal(tt_project_image_at(p, 0)->id, three);
    char path[700];
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/pictures/%d%s", g_root, one, (const char *[]){"", ".copy", ".thumb"}[k]);
        assert_int_equal(access(path, F_OK), -1);
    }
    snprintf(path, sizeof path, "%s/pictures/%d", g_root, three);
    assert_int_equal(access(path, F_OK), 0);
    tt_project_free(p);
}

/* An image record as the engine wrote it before the project store
 * (src/wasm/api.c until then: record_write). */
static void old_record(int id, int class_id, const char *name, const char *bytes) {
    char path[700], num[16];
    snprintf(path, sizeof path, "%s/dataset/img-%08d.safetensors", g_root, id);
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    int64_t shape[1] = {(int64_t)strlen(bytes)};
    tt_assert_ok(tt_st_add(b, "image", TT_DTYPE_U8, 1, shape, bytes));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.kind", "image"));
    snprintf(num, sizeof num, "%d", id);
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.image_id", num));
    snprintf(num, sizeof num, "%d", class_id);
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.class_id", num));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.name", name));
    tt_assert_ok(tt_st_write_file(b, path));
    tt_st_builder_free(b);
}

/* The same record once the browser moved its picture to its own store: the hash only. */
static void moved_record(int id, int class_id, const char *name, const char *bytes) {
    char path[700], num[16];
    snprintf(path, sizeof path, "%s/dataset/img-%08d.safetensors", g_root, id);
    uint8_t h[TT_SHA256_SIZE];
    tt_sha256(bytes, strlen(bytes), h);
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    int64_t shape[1] = {TT_SHA256_SIZE};
    tt_assert_ok(tt_st_add(b, "sha256", TT_DTYPE_U8, 1, shape, h));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.kind", "image"));
    snprintf(num, sizeof num, "%d", id);
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.image_id", num));
    snprintf(num, sizeof num, "%d", class_id);
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.class_id", num));
    tt_assert_ok(tt_st_set_metadata(b, "tabtrain.name", name));
    tt_assert_ok(tt_st_write_file(b, path));
    tt_st_builder_free(b);
}

static void put(const char *rel, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    tt_chunk c = {text, strlen(text)};
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
}

/* A browser profile of before: the worker's class list (classes.json) and the
 * engine's records. Everything comes over with its ids; a picture whose class
 * the list lacks keeps a class of its own; a damaged record is skipped; a
 * record whose picture the browser moved to its store already comes with the
 * hash it holds (the store keeps the bytes). */
static void test_old_profile_migrates(void **state) {
    (void)state;
    fresh();
    char dir[700];
    snprintf(dir, sizeof dir, "%s/dataset", g_root);
    mkdir(dir, 0755);
    put("dataset/classes.json", "{\"version\":1,\"nextId\":7,\"classes\":[{\"id\":3,\"name\":\"cats\"},{\"id\":5,\"name\":\"dogs\"}]}");
    old_record(2, 3, "tom.jpg", "tom's bytes");
    old_record(4, 5, "rex.jpg", "rex's bytes");
    old_record(9, 6, "orphan.jpg", "orphan's bytes");
    put("dataset/img-00000011.safetensors", "not a record at all");
    moved_record(12, 5, "moved.jpg", "moved bytes");
    snprintf(dir, sizeof dir, "%s/pictures", g_root);
    mkdir(dir, 0755);
    put("pictures/12", "moved bytes");
    tt_project *p = open_root();
    assert_int_equal(tt_project_n_classes(p), 3);
    assert_string_equal(tt_project_class_at(p, 0)->name, "cats");
    assert_int_equal(tt_project_class_at(p, 1)->id, 5);
    assert_int_equal(tt_project_class_at(p, 2)->id, 6);
    assert_string_equal(tt_project_class_at(p, 2)->name, "Class 6");
    assert_int_equal(tt_project_n_images(p), 4);
    const int ids[4] = {2, 4, 9, 12}, classes[4] = {3, 5, 6, 5};
    const char *bytes_of[4] = {"tom's bytes", "rex's bytes", "orphan's bytes", "moved bytes"};
    for (int i = 0; i < 4; i++) {
        const tt_project_image *im = tt_project_image_at(p, i);
        assert_int_equal(im->id, ids[i]);
        assert_int_equal(im->class_id, classes[i]);
        uint8_t h[TT_SHA256_SIZE];
        hash_of(bytes_of[i], h);
        assert_memory_equal(im->hash, h, TT_SHA256_SIZE);
        void *b;
        size_t n;
        tt_assert_ok(tt_project_picture(p, ids[i], &b, &n));
        assert_int_equal(n, strlen(bytes_of[i]));
        assert_memory_equal(b, bytes_of[i], n);
        free(b);
    }
    int id;
    tt_assert_ok(tt_project_class_add(p, "birds", &id));
    assert_int_equal(id, 7); /* the old list's next id */
    tt_project_free(p);
    /* The old files are gone (the damaged one too: nothing could read it), and the
     * project opens from its own index. */
    char path[700];
    snprintf(path, sizeof path, "%s/dataset/img-00000002.safetensors", g_root);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/dataset/classes.json", g_root);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/dataset/img-00000012.safetensors", g_root);
    assert_int_equal(access(path, F_OK), -1);
    p = open_root();
    assert_int_equal(tt_project_n_classes(p), 4);
    assert_int_equal(tt_project_n_images(p), 4);
    tt_project_free(p);
}

static void skipped(void *ctx, const char *path, tt_status st, const char *reason) { ++*(int *)ctx; }

/* A folder of pictures read into a memory project: its classes in order, ids in
 * the dataset's order, hashes of the files, bytes read back from the files. */
static void test_folder_into_memory(void **state) {
    (void)state;
    tt_dataset ds;
    tt_assert_ok(tt_dataset_scan_dir(&ds, tt_test_source_path("tests/fixtures/v0/data")));
    tt_project *p;
    tt_assert_ok(tt_project_open(&p, NULL, NULL));
    int first, n_skipped = 0;
    tt_assert_ok(tt_project_add_dataset(p, &ds, skipped, &n_skipped, &first));
    assert_int_equal(n_skipped, 0);
    assert_int_equal(first, 1);
    assert_int_equal(tt_project_n_classes(p), 2);
    assert_string_equal(tt_project_class_at(p, 0)->name, "blue");
    assert_int_equal(tt_project_n_images(p), ds.n);
    for (int i = 0; i < ds.n; i++) {
        const tt_project_image *im = tt_project_image_at(p, i);
        assert_int_equal(im->id, i + 1);
        assert_int_equal(im->class_id, tt_project_class_at(p, ds.items[i].label)->id);
        assert_string_equal(tt_project_image_path(p, im->id), ds.items[i].path);
        void *a, *b;
        size_t na, nb;
        tt_assert_ok(tt_dataset_read(&ds, i, &a, &na));
        tt_assert_ok(tt_project_picture(p, im->id, &b, &nb));
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
        uint8_t h[TT_SHA256_SIZE];
        tt_sha256(a, na, h);
        assert_memory_equal(im->hash, h, TT_SHA256_SIZE);
        free(a), free(b);
    }
    /* A class a person adds follows the rules: "BLUE" is the folder's "blue" again. */
    int id;
    assert_int_equal(tt_project_class_add(p, "BLUE", &id), TT_ERR_INVALID_ARG);
    tt_project_free(p);
    tt_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_pictures_persist),
        cmocka_unit_test(test_old_profile_migrates),
        cmocka_unit_test(test_folder_into_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
