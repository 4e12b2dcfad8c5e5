#include "tabtrain/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

tt_status tt_file_read(const char *path, size_t max_bytes, void **out, size_t *len) {
    if (!path || !out || !len) return tt_error(TT_ERR_INVALID_ARG, "tt_file_read: null argument");
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) return tt_error(TT_ERR_NOT_FOUND, "%s: no such file", path);
        return tt_error(TT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tt_error(TT_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > max_bytes) {
        close(fd);
        return tt_error(TT_ERR_LIMIT, "%s: %lld bytes exceeds the %zu-byte limit", path,
                        (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return tt_error(TT_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            if (r == 0) return tt_error(TT_ERR_IO, "%s: file shrank while reading (%zu of %zu bytes)", path, got, n);
            return tt_error(TT_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TT_OK;
}

static tt_status tt_write_all(int fd, const char *tmp, const tt_chunk *chunks, size_t nchunks) {
    for (size_t i = 0; i < nchunks; i++) {
        const char *p = chunks[i].data;
        size_t left = chunks[i].len;
        if (left && !p) return tt_error(TT_ERR_INVALID_ARG, "tt_file_write_atomic: chunk %zu is null", i);
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return tt_error(TT_ERR_IO, "%s: write failed: %s", tmp, w < 0 ? strerror(errno) : "no progress");
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0) return tt_error(TT_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    return TT_OK;
}

static tt_status tt_sync_dir(const char *path) {
#ifdef __EMSCRIPTEN__
    (void)path;
    return TT_OK;
#else
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) return tt_error(TT_ERR_INVALID_ARG, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return tt_error(TT_ERR_IO, "%s: cannot open directory to sync: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL)
        return tt_error(TT_ERR_IO, "%s: directory fsync failed: %s", dir, strerror(e));
    return TT_OK;
#endif
}

tt_status tt_file_write_atomic(const char *path, const tt_chunk *chunks, size_t nchunks) {
    if (!path || (nchunks && !chunks))
        return tt_error(TT_ERR_INVALID_ARG, "tt_file_write_atomic: null argument");
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return tt_error(TT_ERR_INVALID_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return tt_error(TT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    tt_status st = tt_write_all(fd, tmp, chunks, nchunks);
    if (close(fd) != 0 && st == TT_OK) st = tt_error(TT_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == TT_OK && rename(tmp, path) != 0)
        st = tt_error(TT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != TT_OK) {
        unlink(tmp);
        return st;
    }
    return tt_sync_dir(path);
}
