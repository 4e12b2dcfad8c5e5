#include "tmpdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_test.h"

char *tt_test_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *p = tt_test_malloc(strlen(base) + strlen(tag) + 16);
    sprintf(p, "%s/tt-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) fail_msg("mkdtemp %s failed", p);
    return p;
}

void tt_test_rmtree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *c = tt_test_malloc(strlen(path) + strlen(e->d_name) + 2);
            sprintf(c, "%s/%s", path, e->d_name);
            tt_test_rmtree(c);
            free(c);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *tt_test_join(const char *dir, const char *rel) {
    char *p = tt_test_malloc(strlen(dir) + strlen(rel) + 2);
    sprintf(p, "%s/%s", dir, rel);
    return p;
}

void tt_test_put_file(const char *dir, const char *rel, const void *data, size_t n) {
    char *p = tt_test_join(dir, rel);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) fail_msg("cannot write %s", p);
    free(p);
}

void tt_test_mkdir(const char *dir, const char *rel) {
    char *p = tt_test_join(dir, rel);
    if (mkdir(p, 0777) != 0) fail_msg("cannot create %s", p);
    free(p);
}
