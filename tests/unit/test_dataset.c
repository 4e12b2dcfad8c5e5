/* Dataset: folder scanning (sorted classes and files, hidden and non-regular
 * entries ignored), file lists, the stratified seeded split, class matching
 * for an explicit validation folder, lazy reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "tabtrain/dataset.h"
#include "tt_test.h"

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void scan_sorts_and_ignores_hidden_and_special(void **state) {
    (void)state;
    char *dir = tt_test_tmpdir("scan");
    tt_test_mkdir(dir, "zebra");
    tt_test_mkdir(dir, "Apple");
    tt_test_mkdir(dir, "mango");
    tt_test_mkdir(dir, ".git");     /* hidden class folder */
    tt_test_mkdir(dir, "zebra/sub"); /* a directory inside a class */
    const char *files[] = {"zebra/b.jpg", "zebra/a.png", "zebra/.DS_Store", "Apple/x", "Apple/10.jpg",
                           "Apple/9.jpg", ".git/HEAD", "top-level.txt"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) tt_test_put_file(dir, files[i], "x", 1);
#ifndef __EMSCRIPTEN__
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/zebra/pipe", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char link[4096], target[4096];
    snprintf(link, sizeof link, "%s/zebra/c-link.png", dir);
    snprintf(target, sizeof target, "%s/zebra/a.png", dir);
    assert_int_equal(symlink(target, link), 0); /* a symlink counts as its target */
#endif
    tt_dataset ds;
    tt_assert_ok(tt_dataset_scan_dir(&ds, dir));
    assert_int_equal(ds.n_classes, 3);
    assert_string_equal(ds.classes[0], "Apple"); /* byte order: upper case first */
    assert_string_equal(ds.classes[1], "mango");  /* empty class kept: it is a class */
    assert_string_equal(ds.classes[2], "zebra");
    const char *want[] = {"10.jpg", "9.jpg", "x", "a.png", "b.jpg", "c-link.png"};
    const int label[] = {0, 0, 0, 2, 2, 2};
#ifdef __EMSCRIPTEN__
    int n_want = 5;
#else
    int n_want = 6;
#endif
    assert_int_equal(ds.n, n_want);
    for (int i = 0; i < n_want; i++) {
        assert_string_equal(base_name(ds.items[i].path), want[i]);
        assert_int_equal(ds.items[i].label, label[i]);
    }
    assert_int_equal(tt_dataset_class_count(&ds, 1), 0);
    void *bytes;
    size_t len;
    tt_assert_ok(tt_dataset_read(&ds, 0, &bytes, &len));
    assert_int_equal(len, 1);
    free(bytes);
    tt_dataset_free(&ds);
    tt_test_rmtree(dir);

    assert_int_equal(tt_dataset_scan_dir(&ds, dir), TT_ERR_NOT_FOUND); /* gone */
    char *empty = tt_test_tmpdir("empty");
    assert_int_equal(tt_dataset_scan_dir(&ds, empty), TT_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_last_error(), "no class folders"));
    tt_test_rmtree(empty);
    free(empty);
    free(dir);
}

/* A dataset built in memory: counts[c] items of class c, paths "c<c>/<i>". */
static void make_dataset(tt_dataset *ds, int n_classes, const int *counts) {
    *ds = (tt_dataset){0};
    ds->n_classes = n_classes;
    ds->classes = tt_test_malloc((size_t)n_classes * sizeof(char *));
    int total = 0;
    for (int c = 0; c < n_classes; c++) total += counts[c];
    ds->items = tt_test_malloc((size_t)total * sizeof *ds->items);
    /* interleave classes so order preservation is visible */
    int left[16];
    memcpy(left, counts, (size_t)n_classes * sizeof(int));
    for (int c = 0; c < n_classes; c++) {
        ds->classes[c] = tt_test_malloc(8);
        sprintf(ds->classes[c], "c%d", c);
    }
    while (ds->n < total)
        for (int c = 0; c < n_classes; c++)
            if (left[c]) {
                char *p = tt_test_malloc(32);
                sprintf(p, "c%d/%03d", c, counts[c] - left[c]--);
                ds->items[ds->n++] = (tt_dataset_item){p, c};
            }
}

static int index_of(const tt_dataset *ds, const char *path) {
    for (int i = 0; i < ds->n; i++)
        if (!strcmp(ds->items[i].path, path)) return i;
    return -1;
}

static void split_is_stratified_seeded_and_order_keeping(void **state) {
    (void)state;
    static const struct {
        float frac;
        int counts[4], want_val[4];
    } cases[] = {
        {0.2f, {10, 7, 1, 2}, {2, 1, 0, 1}},   /* round(1.4)=1; 1 item: none; 2 items: at least 1 */
        {0.5f, {10, 7, 1, 2}, {5, 4, 0, 1}},   /* round(3.5)=4 (ties to even) */
        {0.9f, {10, 7, 1, 2}, {9, 6, 0, 1}},   /* never the whole class */
        {0.0f, {10, 7, 1, 2}, {0, 0, 0, 0}},
        {0.15f, {82, 77, 67, 73}, {12, 12, 10, 11}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tt_dataset ds, tr, va, tr2, va2;
        make_dataset(&ds, 4, cases[k].counts);
        tt_assert_ok(tt_dataset_split(&ds, cases[k].frac, 7, &tr, &va));
        assert_int_equal(tr.n + va.n, ds.n);
        assert_int_equal(tr.n_classes, 4);
        assert_int_equal(va.n_classes, 4);
        for (int c = 0; c < 4; c++) {
            if (tt_dataset_class_count(&va, c) != cases[k].want_val[c])
                fail_msg("case %zu class %d: %d in val, want %d", k, c, tt_dataset_class_count(&va, c),
                         cases[k].want_val[c]);
            assert_int_equal(tt_dataset_class_count(&tr, c), cases[k].counts[c] - cases[k].want_val[c]);
        }
        /* disjoint, and each part in the original order */
        int last = -1;
        for (int i = 0; i < va.n; i++) {
            int at = index_of(&ds, va.items[i].path);
            assert_true(at > last);
            assert_int_equal(ds.items[at].label, va.items[i].label);
            assert_int_equal(index_of(&tr, va.items[i].path), -1);
            last = at;
        }
        last = -1;
        for (int i = 0; i < tr.n; i++) {
            int at = index_of(&ds, tr.items[i].path);
            assert_true(at > last);
            last = at;
        }
        /* same seed: same split; another seed: another split (when there is a choice) */
        tt_assert_ok(tt_dataset_split(&ds, cases[k].frac, 7, &tr2, &va2));
        assert_int_equal(va2.n, va.n);
        for (int i = 0; i < va.n; i++) assert_string_equal(va.items[i].path, va2.items[i].path);
        tt_dataset_free(&tr2), tt_dataset_free(&va2);
        if (va.n) {
            int differs = 0;
            for (uint64_t seed = 8; seed < 12 && !differs; seed++) {
                tt_assert_ok(tt_dataset_split(&ds, cases[k].frac, seed, &tr2, &va2));
                for (int i = 0; i < va.n; i++) differs |= strcmp(va.items[i].path, va2.items[i].path) != 0;
                tt_dataset_free(&tr2), tt_dataset_free(&va2);
            }
            assert_true(differs);
        }
        tt_dataset_free(&tr), tt_dataset_free(&va), tt_dataset_free(&ds);
    }
    tt_dataset ds, tr, va;
    make_dataset(&ds, 1, (int[]){3});
    assert_int_equal(tt_dataset_split(&ds, 1.0f, 1, &tr, &va), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_dataset_split(&ds, -0.1f, 1, &tr, &va), TT_ERR_INVALID_ARG);
    tt_dataset_free(&ds);
}

static void validation_classes_must_be_training_classes(void **state) {
    (void)state;
    char *train_names[] = {"bird", "cat", "dog"};
    tt_dataset va;
    make_dataset(&va, 2, (int[]){2, 3});
    strcpy(va.classes[0], "cat"), strcpy(va.classes[1], "dog");
    tt_assert_ok(tt_dataset_match_classes(&va, 3, train_names));
    assert_int_equal(va.n_classes, 3);
    assert_string_equal(va.classes[0], "bird");
    for (int i = 0; i < va.n; i++) assert_int_equal(va.items[i].label, va.items[i].path[1] == '0' ? 1 : 2);
    tt_dataset_free(&va);

    make_dataset(&va, 3, (int[]){1, 1, 1});
    strcpy(va.classes[0], "cat"), strcpy(va.classes[1], "cow"), strcpy(va.classes[2], "eel");
    assert_int_equal(tt_dataset_match_classes(&va, 3, train_names), TT_ERR_MISMATCH);
    const char *msg = tt_last_error();
    assert_non_null(strstr(msg, "'cow', 'eel'"));
    assert_non_null(strstr(msg, "'bird', 'cat', 'dog'"));
    assert_null(strstr(msg, "'cat', 'cow'"));
    assert_int_equal(va.items[0].label, 0); /* untouched on error */
    tt_dataset_free(&va);
}

static void file_list_paths_classes_and_errors(void **state) {
    (void)state;
    char *dir = tt_test_tmpdir("list");
    const char *text = "# path<TAB>class\n"
                       "imgs/1.png\tdog\r\n"
                       "\n"
                       "/abs/2.jpg\tcat\n"
                       "imgs/3.png\tdog";
    tt_test_put_file(dir, "list.tsv", text, strlen(text));
    char path[4096];
    snprintf(path, sizeof path, "%s/list.tsv", dir);
    tt_dataset ds;
    tt_assert_ok(tt_dataset_load_list(&ds, path));
    assert_int_equal(ds.n_classes, 2);
    assert_string_equal(ds.classes[0], "cat");
    assert_int_equal(ds.n, 3);
    char want[4200];
    snprintf(want, sizeof want, "%s/imgs/1.png", dir);
    assert_string_equal(ds.items[0].path, want);
    assert_int_equal(ds.items[0].label, 1);
    assert_string_equal(ds.items[1].path, "/abs/2.jpg");
    assert_int_equal(ds.items[1].label, 0);
    assert_int_equal(ds.items[2].label, 1);
    tt_dataset_free(&ds);

    const char *bad[] = {"a.png dog\n", "a.png\t\n", "a.png\tdog\tcat\n", "\tdog\n", "# only a comment\n"};
    const tt_status want_st[] = {TT_ERR_FORMAT, TT_ERR_FORMAT, TT_ERR_FORMAT, TT_ERR_FORMAT, TT_ERR_NOT_FOUND};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[64];
        snprintf(body, sizeof body, "ok.png\tcat\n%s", bad[i]);
        if (want_st[i] == TT_ERR_NOT_FOUND) snprintf(body, sizeof body, "%s", bad[i]);
        tt_test_put_file(dir, "list.tsv", body, strlen(body));
        assert_int_equal(tt_dataset_load_list(&ds, path), want_st[i]);
        if (want_st[i] == TT_ERR_FORMAT) assert_non_null(strstr(tt_last_error(), "line 2"));
    }
    tt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_sorts_and_ignores_hidden_and_special),
        cmocka_unit_test(split_is_stratified_seeded_and_order_keeping),
        cmocka_unit_test(validation_classes_must_be_training_classes),
        cmocka_unit_test(file_list_paths_classes_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
