/* Dataset scanning, file lists, the stratified split and lazy reads. */
#include "tabtrain/dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tabtrain/fileio.h"
#include "tabtrain/rng.h"
#include "tabtrain/strbuf.h"

typedef struct tt_strlist {
    char **v;
    int n, cap;
} tt_strlist;


static char *tt_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

static tt_status tt_strlist_push(tt_strlist *l, char *s) {
    if (!s) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(s);
            return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
        }
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = s;
    return TT_OK;
}

static void tt_strlist_free(tt_strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (tt_strlist){0};
}

static int tt_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Visible subdirectories (dirs = 1) or regular files (dirs = 0) of `dir`, sorted. */
static tt_status tt_list_dir(const char *dir, int dirs, tt_strlist *out) {
    DIR *d = opendir(dir);
    if (!d) return tt_error(TT_ERR_NOT_FOUND, "dataset: cannot open directory %s", dir);
    tt_status st = TT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = tt_join(dir, e->d_name);
        struct stat sb;
        if (!p) st = tt_error(TT_ERR_NOMEM, "dataset: out of memory");
        else if (stat(p, &sb) == 0 && (dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode))) st = tt_strlist_push(out, tt_strdup(e->d_name));
        free(p);
    }
    closedir(d);
    if (!st && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, tt_cmp_str);
    return st;
}

void tt_dataset_free(tt_dataset *ds) {
    for (int c = 0; c < ds->n_classes; c++) free(ds->classes[c]);
    for (int i = 0; i < ds->n; i++) free(ds->items[i].path);
    free(ds->classes);
    free(ds->items);
    *ds = (tt_dataset){0};
}

static tt_status tt_dataset_push(tt_dataset *ds, int *cap, char *path, int32_t label) {
    if (!path) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    if (ds->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        tt_dataset_item *v = realloc(ds->items, (size_t)nc * sizeof *v);
        if (!v) {
            free(path);
            return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
        }
        ds->items = v, *cap = nc;
    }
    ds->items[ds->n++] = (tt_dataset_item){path, label};
    return TT_OK;
}

tt_status tt_dataset_scan_dir(tt_dataset *ds, const char *dir) {
    *ds = (tt_dataset){0};
    tt_strlist classes = {0};
    tt_status st = tt_list_dir(dir, 1, &classes);
    if (!st && classes.n == 0) st = tt_error(TT_ERR_NOT_FOUND, "dataset: %s has no class folders (expected %s/<class>/<image>)", dir, dir);
    int cap = 0;
    for (int c = 0; !st && c < classes.n; c++) {
        char *cdir = tt_join(dir, classes.v[c]);
        tt_strlist files = {0};
        st = cdir ? tt_list_dir(cdir, 0, &files) : tt_error(TT_ERR_NOMEM, "dataset: out of memory");
        for (int i = 0; !st && i < files.n; i++) st = tt_dataset_push(ds, &cap, tt_join(cdir, files.v[i]), c);
        tt_strlist_free(&files);
        free(cdir);
    }
    if (st) {
        tt_strlist_free(&classes);
        tt_dataset_free(ds);
        return st;
    }
    ds->n_classes = classes.n;
    ds->classes = classes.v;
    return TT_OK;
}

static int tt_find_class(char *const *classes, int n, const char *name) {
    for (int c = 0; c < n; c++)
        if (!strcmp(classes[c], name)) return c;
    return -1;
}

tt_status tt_dataset_load_list(tt_dataset *ds, const char *list_path) {
    *ds = (tt_dataset){0};
    char *text;
    size_t len;
    tt_status st = tt_file_read(list_path, (size_t)64 << 20, (void **)&text, &len);
    if (st) return st;
    const char *slash = strrchr(list_path, '/');
    char *base = slash ? tt_strdup(list_path) : tt_strdup(".");
    if (base && slash) base[slash - list_path] = 0;
    tt_strlist classes = {0}, paths = {0}, labels = {0};
    int line = 0;
    if (!base) st = tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    for (char *p = text; !st && *p;) {
        char *end = strchr(p, '\n');
        if (end) *end = 0;
        line++;
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r') p[--n] = 0;
        if (n && p[0] != '#') {
            char *tab = strchr(p, '\t');
            if (!tab || tab == p || !tab[1] || strchr(tab + 1, '\t'))
                st = tt_error(TT_ERR_FORMAT, "%s line %d: expected path<TAB>class", list_path, line);
            else {
                *tab = 0;
                st = tt_strlist_push(&paths, p[0] == '/' ? tt_strdup(p) : tt_join(base, p));
                if (!st) st = tt_strlist_push(&labels, tt_strdup(tab + 1));
                if (!st && tt_find_class(classes.v, classes.n, tab + 1) < 0)
                    st = tt_strlist_push(&classes, tt_strdup(tab + 1));
            }
        }
        p = end ? end + 1 : p + n;
    }
    if (!st && paths.n == 0) st = tt_error(TT_ERR_NOT_FOUND, "%s lists no files", list_path);
    if (!st) {
        qsort(classes.v, (size_t)classes.n, sizeof *classes.v, tt_cmp_str);
        ds->items = malloc((size_t)paths.n * sizeof *ds->items);
        if (!ds->items) st = tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    }
    if (!st) {
        for (int i = 0; i < paths.n; i++)
            ds->items[i] = (tt_dataset_item){paths.v[i], tt_find_class(classes.v, classes.n, labels.v[i])};
        ds->n = paths.n;
        ds->n_classes = classes.n;
        ds->classes = classes.v;
        free(paths.v);
        paths = (tt_strlist){0}, classes = (tt_strlist){0};
    }
    tt_strlist_free(&paths);
    tt_strlist_free(&labels);
    tt_strlist_free(&classes);
    free(base);
    free(text);
    return st;
}

int tt_dataset_class_count(const tt_dataset *ds, int c) {
    int n = 0;
    for (int i = 0; i < ds->n; i++) n += ds->items[i].label == c;
    return n;
}

static tt_status tt_copy_classes(tt_dataset *d, int n, char *const *classes) {
    d->classes = calloc((size_t)n ? (size_t)n : 1, sizeof *d->classes);
    if (!d->classes) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    d->n_classes = n;
    for (int c = 0; c < n; c++)
        if (!(d->classes[c] = tt_strdup(classes[c]))) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    return TT_OK;
}

tt_status tt_split_labels(const int32_t *labels, int n, int n_classes, float frac, uint64_t seed, uint8_t *to_val) {
    if (!(frac >= 0.0f && frac < 1.0f))
        return tt_error(TT_ERR_INVALID_ARG, "validation split %g is not in [0, 1)", (double)frac);
    memset(to_val, 0, (size_t)n);
    uint32_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
    if (!idx) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    tt_rng rng;
    tt_rng_seed(&rng, seed, TT_STREAM_SPLIT);
    for (int c = 0; c < n_classes; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == c) idx[m++] = (uint32_t)i;
        int k = (int)lrint((double)frac * m);
        if (frac > 0 && m >= 2 && k < 1) k = 1;
        if (k >= m) k = m - 1;
        if (k <= 0) continue;
        tt_rng_shuffle_u32(&rng, idx, (size_t)m);
        for (int j = 0; j < k; j++) to_val[idx[j]] = 1;
    }
    free(idx);
    return TT_OK;
}

tt_status tt_dataset_split(const tt_dataset *ds, float frac, uint64_t seed, tt_dataset *tr,
                           tt_dataset *va) {
    *tr = (tt_dataset){0}, *va = (tt_dataset){0};
    uint8_t *to_val = calloc((size_t)ds->n + 1, 1);
    int32_t *labels = malloc(((size_t)ds->n + 1) * sizeof *labels);
    tt_status st = to_val && labels ? TT_OK : tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    for (int i = 0; !st && i < ds->n; i++) labels[i] = ds->items[i].label;
    if (!st) st = tt_split_labels(labels, ds->n, ds->n_classes, frac, seed, to_val);
    int cap_t = 0, cap_v = 0;
    if (!st) st = tt_copy_classes(tr, ds->n_classes, ds->classes);
    if (!st) st = tt_copy_classes(va, ds->n_classes, ds->classes);
    for (int i = 0; !st && i < ds->n; i++)
        st = tt_dataset_push(to_val[i] ? va : tr, to_val[i] ? &cap_v : &cap_t, tt_strdup(ds->items[i].path),
                             ds->items[i].label);
    free(to_val);
    free(labels);
    if (st) tt_dataset_free(tr), tt_dataset_free(va);
    return st;
}

tt_status tt_dataset_match_classes(tt_dataset *ds, int n_classes, char *const *classes) {
    char unknown[512] = "", known[512] = "";
    size_t nu = 0, nk = 0;
    int *map = malloc(((size_t)ds->n_classes + 1) * sizeof *map), bad = 0;
    if (!map) return tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    for (int c = 0; c < ds->n_classes; c++) {
        map[c] = tt_find_class(classes, n_classes, ds->classes[c]);
        if (map[c] < 0 && nu < sizeof unknown)
            nu += (size_t)snprintf(unknown + nu, sizeof unknown - nu, "%s'%s'", bad++ ? ", " : "", ds->classes[c]);
    }
    if (bad) {
        for (int c = 0; c < n_classes && nk < sizeof known; c++)
            nk += (size_t)snprintf(known + nk, sizeof known - nk, "%s'%s'", c ? ", " : "", classes[c]);
        free(map);
        return tt_error(TT_ERR_MISMATCH, "class%s %s not among the model's classes (%s)", bad > 1 ? "es" : "",
                        unknown, known);
    }
    char **copy = calloc((size_t)n_classes + 1, sizeof *copy);
    tt_status st = copy ? TT_OK : tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    for (int c = 0; !st && c < n_classes; c++)
        if (!(copy[c] = tt_strdup(classes[c]))) st = tt_error(TT_ERR_NOMEM, "dataset: out of memory");
    if (st) {
        for (int c = 0; copy && c < n_classes; c++) free(copy[c]);
        free(copy);
        free(map);
        return st;
    }
    for (int i = 0; i < ds->n; i++) ds->items[i].label = map[ds->items[i].label];
    for (int c = 0; c < ds->n_classes; c++) free(ds->classes[c]);
    free(ds->classes);
    ds->classes = copy;
    ds->n_classes = n_classes;
    free(map);
    return TT_OK;
}

tt_status tt_dataset_read(const tt_dataset *ds, int i, void **bytes, size_t *len) {
    if (i < 0 || i >= ds->n) return tt_error(TT_ERR_INVALID_ARG, "dataset: item %d out of range", i);
    return tt_file_read(ds->items[i].path, TT_DATASET_MAX_FILE, bytes, len);
}
