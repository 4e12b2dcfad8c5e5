/* tmpdir.h — scratch directories for tests that need real files (datasets,
 * caches): created under $TMPDIR (or /tmp), removed recursively afterwards.
 * Under Emscripten the tests run with NODERAWFS, so these are host paths. */
#ifndef TT_TEST_TMPDIR_H
#define TT_TEST_TMPDIR_H

#include <stddef.h>

/* A fresh empty directory "<tmp>/tt-<tag>-XXXXXX"; malloc'd path (fails the test on error). */
char *tt_test_tmpdir(const char *tag);
/* rm -rf, never following symlinks. */
void tt_test_rmtree(const char *path);
/* Writes bytes to dir/rel (creating no directories); fails the test on error. */
void tt_test_put_file(const char *dir, const char *rel, const void *data, size_t n);
void tt_test_mkdir(const char *dir, const char *rel);

#endif
