/* tabtrain cache — shows or frees the CLI's feature cache and training copies. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_data.h"

static const char tt_cache_usage[] =
    "usage: tabtrain cache --info|--clear [--cache-dir D] [--json]\n"
    "\n"
    "The feature cache of train and eval: backbone features (features/*.feat) and\n"
    "training copies (copies/*.png, each picture decoded once at the size training\n"
    "needs), keyed by the pictures' content. It lives in $XDG_CACHE_HOME/tabtrain,\n"
    "else ~/.cache/tabtrain, unless --cache-dir says otherwise.\n"
    "  --info         where it is, and how many entries and bytes it holds\n"
    "  --clear        deletes those entries (only tabtrain's own files)\n"
    "  --cache-dir D  the cache to look at (as given to train/eval)\n"
    "  --json         one JSON object on stdout\n";

typedef struct tt_cache_count {
    long long files, bytes, removed;
} tt_cache_count;

/* Counts (and with `clear` removes) the files of `dir` that end in `suffix`,
 * and the temp files an interrupted write left ("<name>.tmp-<pid>"). */
static int tt_cache_walk(const char *dir, const char *suffix, int clear, tt_cache_count *c) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char path[8400];
    int bad = 0;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        int ours = (n > sl && !strcmp(e->d_name + n - sl, suffix)) || strstr(e->d_name, ".tmp-");
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!ours || stat(path, &sb) || !S_ISREG(sb.st_mode)) continue;
        c->files++;
        c->bytes += (long long)sb.st_size;
        if (clear) {
            if (unlink(path) == 0) c->removed++;
            else bad = -1;
        }
    }
    closedir(d);
    if (clear) rmdir(dir); /* only when empty: anything else in it stays */
    return bad;
}

int tt_cmd_cache(int argc, char **argv) {
    const char *cmd = argv[0], *dir = NULL;
    int info = 0, clear = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(tt_cache_usage, stdout);
            return TT_EXIT_OK;
        } else if (!strcmp(argv[i], "--info")) info = 1;
        else if (!strcmp(argv[i], "--clear")) clear = 1;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--cache-dir")) {
            if (!(dir = tt_cli_value(cmd, argc, argv, &i))) return TT_EXIT_USAGE;
        } else return tt_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
    if (info == clear) return tt_cli_usage_error(cmd, "give one of --info and --clear");
    tt_cli_cache c;
    if (tt_cli_cache_resolve(dir, &c)) return tt_cli_usage_error(cmd, "--cache-dir: path too long");
    if (!c.on) {
        if (json) printf("{\"dir\":null,\"features\":0,\"copies\":0,\"bytes\":0}\n");
        else printf("no cache: %s\n", dir ? "--cache-dir none" : "neither XDG_CACHE_HOME nor HOME is set");
        return TT_EXIT_OK;
    }
    tt_cache_count f = {0}, p = {0};
    int bad = tt_cache_walk(c.features, ".feat", clear, &f) | tt_cache_walk(c.copies, ".png", clear, &p);
    if (clear) rmdir(c.root);
    char q[8400];
    if (json)
        printf("{\"dir\":%s,\"features\":%lld,\"copies\":%lld,\"bytes\":%lld,\"removed\":%lld}\n",
               tt_cli_quote(q, sizeof q, c.root), f.files, p.files, f.bytes + p.bytes, f.removed + p.removed);
    else if (clear)
        printf("%s: removed %lld entries (%.1f MB)\n", c.root, f.removed + p.removed, (double)(f.bytes + p.bytes) / 1e6);
    else
        printf("%s: %lld features, %lld training copies, %.1f MB\n", c.root, f.files, p.files,
               (double)(f.bytes + p.bytes) / 1e6);
    if (bad) {
        fprintf(stderr, "tabtrain %s: %s: %s\n", cmd, c.root, clear ? "some entries could not be removed" : "cannot be read");
        return TT_EXIT_FAIL;
    }
    return TT_EXIT_OK;
}
