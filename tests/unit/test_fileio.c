/* fileio: bounded whole-file reads and atomic chunked writes. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tabtrain/fileio.h"
#include "tt_test.h"

static const char *tmp_path(const char *name) {
    static char buf[4096];
    const char *dir = tt_test_binary_path("tmp-fileio");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", dir, strerror(errno));
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void assert_file_is(const char *path, const char *want) {
    void *buf;
    size_t n;
    tt_assert_ok(tt_file_read(path, 1 << 20, &buf, &n));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    assert_int_equal(((char *)buf)[n], '\0');
    free(buf);
}

static int temp_files_left(void) {
    DIR *d = opendir(tt_test_binary_path("tmp-fileio"));
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static void read_reports_each_failure(void **state) {
    (void)state;
    void *buf = (void *)1;
    size_t n = 7;
    assert_int_equal(tt_file_read(tmp_path("does-not-exist"), 100, &buf, &n), TT_ERR_NOT_FOUND);
    assert_null(buf);
    assert_non_null(strstr(tt_last_error(), "does-not-exist"));
    const char *p = tmp_path("ten-bytes");
    put_file(p, "0123456789");
    assert_int_equal(tt_file_read(p, 9, &buf, &n), TT_ERR_LIMIT);
    assert_non_null(strstr(tt_last_error(), "limit"));
    assert_int_equal(tt_file_read(tt_test_binary_path("tmp-fileio"), 100, &buf, &n), TT_ERR_IO);
    assert_file_is(p, "0123456789"); /* exactly at the limit is fine too */
    tt_assert_ok(tt_file_read(p, 10, &buf, &n));
    free(buf);
    put_file(p, "");
    assert_file_is(p, "");
}

static void atomic_write_replaces_from_chunks(void **state) {
    (void)state;
    const char *p = tmp_path("target");
    put_file(p, "the old contents, longer than the new ones");
    const tt_chunk parts[] = {{"new ", 4}, {NULL, 0}, {"data", 4}, {"!", 1}};
    tt_assert_ok(tt_file_write_atomic(p, parts, 4));
    assert_file_is(p, "new data!");
    tt_assert_ok(tt_file_write_atomic(p, NULL, 0));
    assert_file_is(p, "");
    assert_int_equal(temp_files_left(), 0);
}

static void failed_write_leaves_old_file(void **state) {
    (void)state;
    const char *p = tmp_path("keep");
    put_file(p, "precious");
    /* A bad chunk after a good one: the temp file exists when the write fails. */
    const tt_chunk bad[] = {{"partial", 7}, {NULL, 5}};
    assert_int_equal(tt_file_write_atomic(p, bad, 2), TT_ERR_INVALID_ARG);
    assert_file_is(p, "precious");
    assert_int_equal(temp_files_left(), 0);
    /* The directory does not exist. */
    char missing[4096];
    snprintf(missing, sizeof missing, "%s", tmp_path("no-such-dir/out.bin"));
    const tt_chunk ok[] = {{"x", 1}};
    assert_int_equal(tt_file_write_atomic(missing, ok, 1), TT_ERR_IO);
    assert_non_null(strstr(tt_last_error(), "no-such-dir"));
    /* The target is a directory: the rename fails, the directory stays. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tmp_path("a-dir"));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) fail_msg("mkdir: %s", strerror(errno));
    assert_int_equal(tt_file_write_atomic(dir, ok, 1), TT_ERR_IO);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(temp_files_left(), 0);
}

/* fsync and rename as tt_file_write_atomic calls them, seen through the
 * linker's --wrap=fsync,--wrap=rename (cmake/tests.cmake): what was synced is
 * recorded by inode, so the file's fsync still matches after its rename. */
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);

typedef struct {
    char what;      /* 'f' fsync, 'r' rename */
    dev_t dev;      /* fsync: the synced file or directory */
    ino_t ino;
    char to[4096];  /* rename: the target */
} io_call;

static io_call g_calls[8];
static int g_n_calls, g_watching;

int __wrap_fsync(int fd) {
    struct stat sb;
    if (g_watching && g_n_calls < 8 && fstat(fd, &sb) == 0)
        g_calls[g_n_calls++] = (io_call){.what = 'f', .dev = sb.st_dev, .ino = sb.st_ino};
    return __real_fsync(fd);
}

int __wrap_rename(const char *from, const char *to) {
    if (g_watching && g_n_calls < 8) {
        g_calls[g_n_calls] = (io_call){.what = 'r'};
        snprintf(g_calls[g_n_calls++].to, sizeof g_calls[0].to, "%s", to);
    }
    return __real_rename(from, to);
}

static void assert_synced(int call, const char *path, const char *what) {
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if (call >= g_n_calls || g_calls[call].what != 'f' || g_calls[call].dev != sb.st_dev ||
        g_calls[call].ino != sb.st_ino)
        fail_msg("call %d of %d is not the fsync of %s (%s)", call + 1, g_n_calls, what, path);
}

/* Durable replace: the data reaches the disk before the rename makes it
 * visible, and the rename itself is made durable by syncing the target's
 * parent directory (a crash after returning cannot bring the old file back). */
static void atomic_write_syncs_file_then_renames_then_syncs_dir(void **state) {
    (void)state;
    const char *p = tmp_path("durable");
    char path[4096], dir[4096];
    snprintf(path, sizeof path, "%s", p);
    snprintf(dir, sizeof dir, "%s", tt_test_binary_path("tmp-fileio"));
    const tt_chunk c[] = {{"durable", 7}};
    g_n_calls = 0, g_watching = 1;
    tt_status st = tt_file_write_atomic(path, c, 1);
    g_watching = 0;
    tt_assert_ok(st);
    assert_file_is(path, "durable");
    assert_synced(0, path, "the file");
    if (g_n_calls < 2 || g_calls[1].what != 'r' || strcmp(g_calls[1].to, path))
        fail_msg("call 2 of %d is not the rename onto %s", g_n_calls, path);
#ifdef __EMSCRIPTEN__
    assert_int_equal(g_n_calls, 2); /* its file systems have no directory fsync (fileio.h) */
#else
    assert_synced(2, dir, "the target's directory");
    assert_int_equal(g_n_calls, 3);
#endif
}

/* Each run starts from an empty directory, so leftovers of an earlier
 * (possibly broken) run cannot decide this one. */
static int clean_tmp_dir(void **state) {
    (void)state;
    const char *dir = tt_test_binary_path("tmp-fileio");
    DIR *d = opendir(dir);
    if (!d) return 0;
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (remove(path) != 0) return -1;
    }
    closedir(d);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_reports_each_failure),
        cmocka_unit_test(atomic_write_replaces_from_chunks),
        cmocka_unit_test(failed_write_leaves_old_file),
        cmocka_unit_test(atomic_write_syncs_file_then_renames_then_syncs_dir),
    };
    return cmocka_run_group_tests(tests, clean_tmp_dir, NULL);
}
