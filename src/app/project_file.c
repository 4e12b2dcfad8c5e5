/* The unzipped project file for the command line (tabtrain/project_file.h,
 * docs/project-file.md). The page writes and reads the zip itself
 * (web/project-file.js); this side reads project.json for the order of a run
 * and writes it for a folder the CLI trained. */
#include "tabtrain/project_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tabtrain/ckpt.h"
#include "tabtrain/config.h"
#include "tabtrain/fileio.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"

#define TT_PF_MAX_BYTES ((size_t)16 << 20) /* web/project-file.js LIMITS.manifest */

/* "folder/file": the last two components of a dataset item's path. */
static const char *tt_pf_rel(const char *path) {
    const char *end = path + strlen(path), *p = end;
    int slashes = 0;
    while (p > path && slashes < 2) {
        p--;
        if (*p == '/' && ++slashes == 2) return p + 1;
    }
    return path;
}

/* dir's parent + "/" + name (dir may end in slashes). */
static char *tt_pf_sibling(const char *dir, const char *name) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    while (n > 0 && dir[n - 1] != '/') n--;
    tt_strbuf b = {0};
    if (n == 0) tt_strbuf_printf(&b, "./%s", name);
    else tt_strbuf_printf(&b, "%.*s%s", (int)n, dir, name);
    return tt_strbuf_take(&b);
}

typedef struct tt_pf_key {
    const char *rel;
    int item;
} tt_pf_key;

static int tt_pf_cmp(const void *a, const void *b) {
    return strcmp(((const tt_pf_key *)a)->rel, ((const tt_pf_key *)b)->rel);
}

static void tt_pf_free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* tt_project_file_order, also giving each new class's folder (malloc'd, ds->n_classes). */
static tt_status tt_pf_order(tt_dataset *ds, const char *images_dir, int *found, char ***folders_out) {
    *found = 0;
    *folders_out = NULL;
    char *path = tt_pf_sibling(images_dir, "project.json");
    if (!path) return tt_error(TT_ERR_NOMEM, "out of memory");
    struct stat sb;
    if (stat(path, &sb)) {
        free(path);
        return TT_OK;
    }
    char *text = NULL;
    size_t len = 0;
    tt_json j = {0};
    tt_status st = tt_file_read(path, TT_PF_MAX_BYTES, (void **)&text, &len);
    if (!st && tt_json_parse(&j, text)) st = tt_error(TT_ERR_FORMAT, "%s is not valid JSON", path);
    int version = 0, classes = -1, images = -1;
    if (!st) {
        classes = tt_json_key(&j, 0, "classes");
        images = tt_json_key(&j, 0, "images");
        if (!tt_json_eq(&j, tt_json_key(&j, 0, "format"), TT_PROJECT_FILE_FORMAT))
            st = tt_error(TT_ERR_FORMAT, "%s is not a tabtrain project file", path);
        else if (!tt_json_int(&j, tt_json_key(&j, 0, "version"), &version) || version < 1)
            st = tt_error(TT_ERR_FORMAT, "%s has no valid version", path);
        else if (version > TT_PROJECT_FILE_VERSION)
            st = tt_error(TT_ERR_VERSION, "%s is project file version %d; this tabtrain reads version %d", path, version,
                          TT_PROJECT_FILE_VERSION);
        else if (tt_json_len(&j, classes) < 0 || tt_json_len(&j, images) < 0)
            st = tt_error(TT_ERR_FORMAT, "%s lacks its classes or images", path);
    }
    int nc = ds->n_classes, nm = st ? 0 : tt_json_len(&j, classes), n_new = 0;
    char **names = calloc((size_t)nc + 1, sizeof *names), **folders = calloc((size_t)nc + 1, sizeof *folders);
    int *map = malloc(((size_t)nc + 1) * sizeof *map); /* old class -> new */
    if (!st && (!names || !folders || !map)) st = tt_error(TT_ERR_NOMEM, "out of memory");
    for (int c = 0; !st && c < nc; c++) map[c] = -1;
    /* Its classes, in its order, that have a folder here. */
    for (int k = 0; !st && k < nm; k++) {
        int o = tt_json_at(&j, classes, k), fk = tt_json_key(&j, o, "folder");
        char *name = NULL, *folder = NULL;
        if (tt_json_string(&j, tt_json_key(&j, o, "name"), &name) || !*name ||
            tt_json_string(&j, fk >= 0 ? fk : tt_json_key(&j, o, "name"), &folder)) {
            free(name);
            st = tt_error(TT_ERR_FORMAT, "%s: class %d has no name", path, k + 1);
            break;
        }
        for (int c = 0; c < nc && name; c++)
            if (map[c] < 0 && !strcmp(ds->classes[c], folder)) {
                map[c] = n_new;
                names[n_new] = name;
                folders[n_new++] = folder;
                name = folder = NULL;
            }
        free(name);
        free(folder);
    }
    for (int c = 0; !st && c < nc; c++)
        if (map[c] < 0) {
            map[c] = n_new;
            names[n_new] = tt_strdup(ds->classes[c]);
            folders[n_new] = tt_strdup(ds->classes[c]);
            if (!names[n_new] || !folders[n_new]) st = tt_error(TT_ERR_NOMEM, "out of memory");
            n_new++;
        }
    /* Its pictures, in its order, then the others in folder order. */
    tt_pf_key *keys = st ? NULL : malloc(((size_t)ds->n + 1) * sizeof *keys);
    tt_dataset_item *items = st ? NULL : malloc(((size_t)ds->n + 1) * sizeof *items);
    uint8_t *used = st ? NULL : calloc((size_t)ds->n + 1, 1);
    if (!st && (!keys || !items || !used)) st = tt_error(TT_ERR_NOMEM, "out of memory");
    int at = 0;
    if (!st) {
        for (int i = 0; i < ds->n; i++) keys[i] = (tt_pf_key){tt_pf_rel(ds->items[i].path), i};
        qsort(keys, (size_t)ds->n, sizeof *keys, tt_pf_cmp);
        int ni = tt_json_len(&j, images);
        for (int k = 0; !st && k < ni; k++) {
            char *p = NULL;
            if (tt_json_string(&j, tt_json_key(&j, tt_json_at(&j, images, k), "path"), &p) || strncmp(p, "images/", 7)) {
                free(p);
                continue; /* the page refuses such a file; here it only orders nothing */
            }
            tt_pf_key want = {p + 7, 0}, *hit = bsearch(&want, keys, (size_t)ds->n, sizeof *keys, tt_pf_cmp);
            free(p);
            if (!hit || used[hit->item]) continue;
            used[hit->item] = 1;
            items[at++] = (tt_dataset_item){ds->items[hit->item].path, map[ds->items[hit->item].label]};
        }
        for (int i = 0; i < ds->n; i++)
            if (!used[i]) items[at++] = (tt_dataset_item){ds->items[i].path, map[ds->items[i].label]};
    }
    if (!st) {
        tt_pf_free_strings(ds->classes, nc);
        free(ds->items);
        ds->classes = names, ds->items = items;
        names = NULL, items = NULL;
        *folders_out = folders;
        folders = NULL;
        *found = 1;
    }
    tt_pf_free_strings(names, n_new);
    tt_pf_free_strings(folders, n_new);
    free(items);
    free(keys);
    free(used);
    free(map);
    tt_json_free(&j);
    free(text);
    free(path);
    return st;
}

tt_status tt_project_file_order(tt_dataset *ds, const char *images_dir, int *found) {
    char **folders;
    tt_status st = tt_pf_order(ds, images_dir, found, &folders);
    tt_pf_free_strings(folders, *found ? ds->n_classes : 0);
    return st;
}

/* The run of root/checkpoints as project.json's "settings" and "run" members. */
static tt_status tt_pf_run(tt_strbuf *o, const char *root) {
    char dir[4096], path[4200], note[4096], best[4300];
    snprintf(dir, sizeof dir, "%s/checkpoints", root);
    snprintf(best, sizeof best, "%s/best.safetensors", dir);
    tt_config cfg = tt_config_defaults();
    tt_st_file *f = NULL;
    struct stat sb;
    tt_status st = stat(dir, &sb) ? TT_ERR_NOT_FOUND : tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note);
    if (st && st != TT_ERR_NOT_FOUND) return st;
    if (f) st = tt_config_from_file(f, &cfg);
    char *settings = st && f ? NULL : tt_config_to_json(&cfg);
    if (!settings) {
        tt_st_close(f);
        return st ? st : tt_error(TT_ERR_NOMEM, "out of memory");
    }
    tt_strbuf_printf(o, ",\n \"settings\": %s,\n \"run\": ", settings);
    free(settings);
    if (!f) {
        tt_strbuf_printf(o, "null");
        return TT_OK;
    }
    const char *state = tt_st_metadata(f, "tabtrain.state"), *name = strrchr(path, '/');
    double epoch = 0, step = 0, stopped = 0;
    tt_json_number(state, "epoch", &epoch);
    tt_json_number(state, "global_step", &step);
    tt_json j;
    if (state && !tt_json_parse(&j, state)) {
        int v = 0;
        if (tt_json_bool(&j, tt_json_key(&j, 0, "stopped"), &v)) stopped = v;
        tt_json_free(&j);
    }
    tt_strbuf_printf(o, "{\"epoch\": %d, \"step\": %lld, \"finished\": %s, \"checkpoint\": ", (int)epoch, (long long)step,
                     stopped || (int)epoch >= cfg.train.epochs ? "true" : "false");
    snprintf(path, sizeof path, "checkpoints/%s", name ? name + 1 : "");
    tt_strbuf_quote(o, path);
    tt_strbuf_printf(o, ", \"best\": %s}", stat(best, &sb) ? "null" : "\"checkpoints/best.safetensors\"");
    tt_st_close(f);
    return TT_OK;
}

tt_status tt_project_file_write(const char *root) {
    char images[4096], out[4200];
    snprintf(images, sizeof images, "%s/images", root);
    snprintf(out, sizeof out, "%s/project.json", root);
    tt_dataset ds;
    tt_status st = tt_dataset_scan_dir(&ds, images);
    if (st) return st;
    int found = 0;
    char **folders = NULL;
    st = tt_pf_order(&ds, images, &found, &folders);
    tt_strbuf o = {0};
    if (!st) {
        tt_strbuf_printf(&o, "{\n \"format\": \"%s\",\n \"version\": %d,\n \"app\": \"tabtrain %s\",\n \"classes\": [",
                         TT_PROJECT_FILE_FORMAT, TT_PROJECT_FILE_VERSION, "command line");
        for (int c = 0; c < ds.n_classes; c++) {
            tt_strbuf_printf(&o, "%s\n  {\"name\": ", c ? "," : "");
            tt_strbuf_quote(&o, ds.classes[c]);
            tt_strbuf_printf(&o, ", \"folder\": ");
            tt_strbuf_quote(&o, found ? folders[c] : ds.classes[c]);
            tt_strbuf_printf(&o, "}");
        }
        tt_strbuf_printf(&o, "\n ],\n \"images\": [");
        for (int i = 0; i < ds.n; i++) {
            const char *rel = tt_pf_rel(ds.items[i].path), *file = strchr(rel, '/');
            char p[4200];
            snprintf(p, sizeof p, "images/%s", rel);
            tt_strbuf_printf(&o, "%s\n  {\"path\": ", i ? "," : "");
            tt_strbuf_quote(&o, p);
            tt_strbuf_printf(&o, ", \"class\": %d, \"name\": ", ds.items[i].label);
            tt_strbuf_quote(&o, file ? file + 1 : rel);
            tt_strbuf_printf(&o, "}");
        }
        tt_strbuf_printf(&o, "\n ]");
        st = tt_pf_run(&o, root);
    }
    if (!st) {
        tt_strbuf_printf(&o, "\n}\n");
        if (o.oom) st = tt_error(TT_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        tt_chunk c = {o.s, o.len};
        st = tt_file_write_atomic(out, &c, 1);
    }
    tt_strbuf_free(&o);
    tt_pf_free_strings(folders, found ? ds.n_classes : 0);
    tt_dataset_free(&ds);
    return st;
}
