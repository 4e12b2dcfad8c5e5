/* The project store: classes and picture records (tabtrain/project.h). */
#include "tabtrain/project.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tabtrain/fileio.h"
#include "tabtrain/json.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/strbuf.h"

#define TT_PROJECT_FORMAT "tabtrain-project"
#define TT_PROJECT_VERSION 1
#define TT_PROJECT_PATH 4096

/* Where a record of a memory project reads its bytes from. */
typedef struct tt_source {
    const tt_dataset *ds;
    int item;
} tt_source;

struct tt_project {
    char *index; /* root/project.json, NULL in memory */
    tt_picture_store pics;
    tt_project_class *classes;
    int n_classes, cap_classes;
    tt_project_image *images; /* ascending ids */
    tt_source *src;           /* [cap_images], only once a dataset was added */
    int n_images, cap_images;
    int next_class_id, next_image_id;
};

/* ---- picture store: one file per image ------------------------------------------------- */

typedef struct tt_picdir {
    char dir[TT_PROJECT_PATH];
} tt_picdir;

/* The parts of a picture: "" the original, ".copy", ".thumb". */
static const char *const tt_picdir_parts[3] = {"", ".copy", ".thumb"};

static void tt_picdir_path(const tt_picdir *d, int id, int part, char *buf) {
    snprintf(buf, TT_PROJECT_PATH + 32, "%s/%d%s", d->dir, id, tt_picdir_parts[part]);
}

static tt_status tt_picdir_del(void *ctx, int id) {
    char path[TT_PROJECT_PATH + 32];
    for (int k = 0; k < 3; k++) {
        tt_picdir_path(ctx, id, k, path);
        if (unlink(path) && errno != ENOENT) return tt_error(TT_ERR_IO, "cannot delete %s: %s", path, strerror(errno));
    }
    return TT_OK;
}

/* The original last: a picture whose original is there is whole. */
static tt_status tt_picdir_put(void *ctx, int id, const tt_picture *pic) {
    char path[TT_PROJECT_PATH + 32];
    const void *b[3] = {pic->original, pic->copy, pic->thumb};
    size_t n[3] = {pic->original_len, pic->copy_len, pic->thumb_len};
    tt_status st = TT_OK;
    for (int k = 2; !st && k >= 0; k--) {
        if (!b[k]) continue;
        tt_picdir_path(ctx, id, k, path);
        tt_chunk c = {b[k], n[k]};
        st = tt_file_write_atomic(path, &c, 1);
    }
    if (st) tt_picdir_del(ctx, id);
    return st;
}

static tt_status tt_picdir_get(void *ctx, int id, void **bytes, size_t *len) {
    char path[TT_PROJECT_PATH + 32];
    tt_picdir_path(ctx, id, 1, path);
    if (!tt_file_read(path, TT_DATASET_MAX_FILE, bytes, len)) return TT_OK;
    tt_picdir_path(ctx, id, 0, path);
    return tt_file_read(path, TT_DATASET_MAX_FILE, bytes, len);
}

tt_status tt_picture_dir(tt_picture_store *s, const char *dir) {
    *s = (tt_picture_store){0};
    if (!dir || strlen(dir) >= TT_PROJECT_PATH) return tt_error(TT_ERR_INVALID_ARG, "picture directory: no or too long a path");
    if (mkdir(dir, 0755) && errno != EEXIST) return tt_error(TT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    tt_picdir *d = malloc(sizeof *d);
    if (!d) return tt_error(TT_ERR_NOMEM, "no memory for the picture store");
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    *s = (tt_picture_store){d, tt_picdir_put, tt_picdir_get, tt_picdir_del, free};
    return TT_OK;
}

/* ---- lists ----------------------------------------------------------------------------- */

static tt_status tt_grow(void **a, int *cap, int n, size_t size) {
    if (n < *cap) return TT_OK;
    int c = *cap ? *cap * 2 : 16;
    void *p = realloc(*a, (size_t)c * size);
    if (!p) return tt_error(TT_ERR_NOMEM, "no memory for the project");
    *a = p;
    *cap = c;
    return TT_OK;
}

/* Room for one more record; the source list (once there is one) grows along,
 * its new slot cleared. */
static tt_status tt_image_room(tt_project *p, int with_src) {
    int cap = p->cap_images;
    tt_status st = tt_grow((void **)&p->images, &p->cap_images, p->n_images, sizeof *p->images);
    if (st || (!with_src && !p->src)) return st;
    if (!p->src || cap != p->cap_images) {
        tt_source *src = realloc(p->src, (size_t)p->cap_images * sizeof *src);
        if (!src) return tt_error(TT_ERR_NOMEM, "no memory for the project");
        memset(src + (p->src ? cap : 0), 0, (size_t)(p->cap_images - (p->src ? cap : 0)) * sizeof *src);
        p->src = src;
    }
    p->src[p->n_images] = (tt_source){0};
    return TT_OK;
}

int tt_project_n_classes(const tt_project *p) { return p->n_classes; }
const tt_project_class *tt_project_class_at(const tt_project *p, int i) { return &p->classes[i]; }
int tt_project_n_images(const tt_project *p) { return p->n_images; }
const tt_project_image *tt_project_image_at(const tt_project *p, int i) { return &p->images[i]; }

int tt_project_class_index(const tt_project *p, int id) {
    for (int i = 0; i < p->n_classes; i++)
        if (p->classes[i].id == id) return i;
    return -1;
}

int tt_project_image_index(const tt_project *p, int id) {
    int lo = 0, hi = p->n_images - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, v = p->images[mid].id;
        if (v == id) return mid;
        if (v < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int tt_project_class_count(const tt_project *p, int id) {
    int n = 0;
    for (int i = 0; i < p->n_images; i++) n += p->images[i].class_id == id;
    return n;
}

int tt_project_hash_shared(const tt_project *p, int id) {
    int i = tt_project_image_index(p, id);
    for (int j = 0; i >= 0 && j < p->n_images; j++)
        if (j != i && !memcmp(p->images[j].hash, p->images[i].hash, TT_SHA256_SIZE)) return 1;
    return 0;
}

const char *tt_project_image_path(const tt_project *p, int id) {
    int i = tt_project_image_index(p, id);
    if (i < 0 || !p->src || !p->src[i].ds) return NULL;
    return p->src[i].ds->items[p->src[i].item].path;
}

/* ---- names ----------------------------------------------------------------------------- */

static int tt_fold(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int tt_same_name(const char *a, const char *b) {
    while (*a && tt_fold((unsigned char)*a) == tt_fold((unsigned char)*b)) a++, b++;
    return !*a && !*b;
}

int tt_project_class_find(const tt_project *p, const char *name) {
    for (int i = 0; i < p->n_classes; i++)
        if (tt_same_name(p->classes[i].name, name)) return i;
    return -1;
}

/* The name without surrounding white space, checked for class `self` (0: a new
 * class); malloc'd into *out. The words are for people: the page shows them. */
static tt_status tt_class_name(const tt_project *p, const char *name, int self, char **out) {
    *out = NULL;
    const char *s = name ? name : "";
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
    if (!n) return tt_error(TT_ERR_INVALID_ARG, "A class needs a name.");
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80; /* UTF-8 lead bytes */
    if (chars > TT_CLASS_NAME_MAX)
        return tt_error(TT_ERR_INVALID_ARG, "Class names can have at most %d characters; this one is longer than %d.",
                        TT_CLASS_NAME_MAX, TT_CLASS_NAME_MAX);
    char *t = malloc(n + 1);
    if (!t) return tt_error(TT_ERR_NOMEM, "no memory for a class name");
    memcpy(t, s, n);
    t[n] = 0;
    int same = tt_project_class_find(p, t);
    if (same >= 0 && p->classes[same].id != self) {
        free(t);
        return tt_error(TT_ERR_INVALID_ARG, "There is already a class named \"%s\"; choose another name.",
                        p->classes[same].name);
    }
    *out = t;
    return TT_OK;
}

/* ---- the index file -------------------------------------------------------------------- */

static tt_status tt_project_save(const tt_project *p) {
    if (!p->index) return TT_OK;
    tt_strbuf b = {0};
    tt_strbuf_printf(&b, "{\"format\":\"" TT_PROJECT_FORMAT "\",\"version\":%d,\"next_class_id\":%d,"
                         "\"next_image_id\":%d,\"classes\":[",
                     TT_PROJECT_VERSION, p->next_class_id, p->next_image_id);
    for (int i = 0; i < p->n_classes; i++) {
        tt_strbuf_printf(&b, "%s{\"id\":%d,\"name\":", i ? "," : "", p->classes[i].id);
        tt_strbuf_quote(&b, p->classes[i].name);
        tt_strbuf_printf(&b, "}");
    }
    tt_strbuf_printf(&b, "],\"images\":[");
    for (int i = 0; i < p->n_images; i++) {
        const tt_project_image *im = &p->images[i];
        char hex[TT_SHA256_HEX];
        tt_sha256_hex(im->hash, hex);
        tt_strbuf_printf(&b, "%s\n{\"id\":%d,\"class_id\":%d,\"name\":", i ? "," : "", im->id, im->class_id);
        tt_strbuf_quote(&b, im->name);
        tt_strbuf_printf(&b, ",\"sha256\":\"%s\"}", hex);
    }
    tt_strbuf_printf(&b, "]}\n");
    tt_status st = b.oom ? tt_error(TT_ERR_NOMEM, "no memory for the project index") : TT_OK;
    if (!st) {
        tt_chunk c = {b.s, b.len};
        st = tt_file_write_atomic(p->index, &c, 1);
    }
    tt_strbuf_free(&b);
    return st;
}

static int tt_unhex(const char *s, uint8_t *out, size_t n) {
    for (size_t i = 0; i < 2 * n; i++) {
        int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 0;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return s[2 * n] == 0;
}

static tt_status tt_project_load(tt_project *p, const char *text) {
    tt_json j;
    tt_status st = tt_json_parse(&j, text);
    if (st) return tt_error(TT_ERR_FORMAT, "%s: %s", p->index, tt_last_error());
    char fmt[32] = "";
    int version = 0;
    int cl = tt_json_key(&j, 0, "classes"), im = tt_json_key(&j, 0, "images");
    int ok = tt_json_text(&j, tt_json_key(&j, 0, "format"), fmt, sizeof fmt) && !strcmp(fmt, TT_PROJECT_FORMAT) &&
             tt_json_int(&j, tt_json_key(&j, 0, "version"), &version) &&
             tt_json_int(&j, tt_json_key(&j, 0, "next_class_id"), &p->next_class_id) &&
             tt_json_int(&j, tt_json_key(&j, 0, "next_image_id"), &p->next_image_id) && tt_json_len(&j, cl) >= 0 &&
             tt_json_len(&j, im) >= 0;
    if (ok && version > TT_PROJECT_VERSION) {
        tt_json_free(&j);
        return tt_error(TT_ERR_VERSION, "%s is of project version %d; this tabtrain reads up to %d", p->index, version,
                        TT_PROJECT_VERSION);
    }
    for (int k = 0; ok && !st && k < tt_json_len(&j, cl); k++) {
        int c = tt_json_at(&j, cl, k);
        if (!(st = tt_grow((void **)&p->classes, &p->cap_classes, p->n_classes, sizeof *p->classes))) {
            tt_project_class *x = &p->classes[p->n_classes];
            ok = tt_json_int(&j, tt_json_key(&j, c, "id"), &x->id) && !tt_json_string(&j, tt_json_key(&j, c, "name"), &x->name);
            p->n_classes += ok;
        }
    }
    for (int k = 0; ok && !st && k < tt_json_len(&j, im); k++) {
        int e = tt_json_at(&j, im, k);
        char hex[TT_SHA256_HEX + 1];
        if (!(st = tt_grow((void **)&p->images, &p->cap_images, p->n_images, sizeof *p->images))) {
            tt_project_image *x = &p->images[p->n_images];
            ok = tt_json_int(&j, tt_json_key(&j, e, "id"), &x->id) &&
                 tt_json_int(&j, tt_json_key(&j, e, "class_id"), &x->class_id) &&
                 tt_json_text(&j, tt_json_key(&j, e, "sha256"), hex, sizeof hex) && tt_unhex(hex, x->hash, TT_SHA256_SIZE) &&
                 (!p->n_images || x->id > p->images[p->n_images - 1].id) &&
                 !tt_json_string(&j, tt_json_key(&j, e, "name"), &x->name);
            p->n_images += ok;
        }
    }
    tt_json_free(&j);
    if (!st && !ok) st = tt_error(TT_ERR_FORMAT, "%s: not a tabtrain project index (a field is missing or wrong)", p->index);
    return st;
}

/* ---- migration from the engine's records (before the project store) ------------------- */

static int tt_cmp_image(const void *a, const void *b) {
    int x = ((const tt_project_image *)a)->id, y = ((const tt_project_image *)b)->id;
    return (x > y) - (x < y);
}

/* An old record's ids and name, and either its picture (*pic, pointing into
 * f) or the hash of a record whose picture already moved out (*pic NULL). */
static tt_status tt_record_parse(const tt_st_file *f, const char *what, tt_project_image *im, const tt_st_tensor **pic) {
    const char *kind = tt_st_metadata(f, "tabtrain.kind"), *id = tt_st_metadata(f, "tabtrain.image_id");
    const char *cid = tt_st_metadata(f, "tabtrain.class_id"), *name = tt_st_metadata(f, "tabtrain.name");
    *pic = NULL;
    if (!kind || strcmp(kind, "image") || !id || !cid || !name) return tt_error(TT_ERR_FORMAT, "%s: not an image record", what);
    const tt_st_tensor *hash = NULL;
    tt_status st = tt_st_get(f, "sha256", TT_DTYPE_U8, &hash);
    if (st == TT_ERR_NOT_FOUND) st = tt_st_get(f, "image", TT_DTYPE_U8, pic);
    else if (!st && hash->nbytes != TT_SHA256_SIZE) st = tt_error(TT_ERR_FORMAT, "%s: a hash of %zu bytes", what, hash->nbytes);
    if (st) return st;
    *im = (tt_project_image){atoi(id), atoi(cid), NULL, {0}};
    if (im->id <= 0) return tt_error(TT_ERR_FORMAT, "%s: image id %s", what, id);
    if (!(im->name = tt_strdup(name))) return tt_error(TT_ERR_NOMEM, "no memory");
    if (hash) memcpy(im->hash, hash->data, TT_SHA256_SIZE);
    else tt_sha256((*pic)->data, (*pic)->nbytes, im->hash);
    return TT_OK;
}

/* One old record: ids, name and bytes (into the picture store), the hash
 * computed; or a record that holds only the hash (the bytes moved already). */
static tt_status tt_migrate_record(tt_project *p, const char *path) {
    tt_st_file *f;
    tt_status st = tt_st_open_file(&f, path);
    if (st) return st;
    const tt_st_tensor *t;
    tt_project_image im = {0};
    st = tt_grow((void **)&p->images, &p->cap_images, p->n_images, sizeof *p->images);
    if (!st) st = tt_record_parse(f, path, &im, &t);
    if (!st && t && p->pics.put) st = p->pics.put(p->pics.ctx, im.id, &(tt_picture){.original = t->data, .original_len = t->nbytes});
    if (!st) p->images[p->n_images++] = im;
    else free(im.name);
    tt_st_close(f);
    return st;
}

tt_status tt_project_record_upgrade(const void *record, size_t len, int *id, const void **original,
                                    size_t *original_len, void **upgraded, size_t *upgraded_len) {
    *id = 0, *original = NULL, *original_len = 0, *upgraded = NULL, *upgraded_len = 0;
    tt_st_file *f;
    tt_status st = record && len ? tt_st_open_memory(&f, record, len) : tt_error(TT_ERR_FORMAT, "an empty record");
    if (st) return st;
    const tt_st_tensor *pic;
    tt_project_image im = {0};
    st = tt_record_parse(f, "image record", &im, &pic);
    tt_st_builder *b = NULL;
    if (!st && pic && !(st = tt_st_builder_new(&b))) {
        char num[32];
        int64_t shape[1] = {TT_SHA256_SIZE};
        st = tt_st_add(b, "sha256", TT_DTYPE_U8, 1, shape, im.hash);
        if (!st) st = tt_st_set_metadata(b, "tabtrain.kind", "image");
        snprintf(num, sizeof num, "%d", im.id);
        if (!st) st = tt_st_set_metadata(b, "tabtrain.image_id", num);
        snprintf(num, sizeof num, "%d", im.class_id);
        if (!st) st = tt_st_set_metadata(b, "tabtrain.class_id", num);
        if (!st) st = tt_st_set_metadata(b, "tabtrain.name", im.name);
        if (!st) st = tt_st_write_memory(b, upgraded, upgraded_len);
    }
    if (!st) {
        *id = im.id;
        /* U8 data is never copied for alignment: it points into record */
        if (pic) *original = pic->data, *original_len = pic->nbytes;
    }
    tt_st_builder_free(b);
    free(im.name);
    tt_st_close(f);
    return st;
}

/* root/dataset: the old class list and records. *found = 0 when there is none.
 * A damaged record is skipped (one bad file must not lose the others), as the
 * engine did when it opened them. */
static tt_status tt_migrate(tt_project *p, const char *root, int *found) {
    char dir[TT_PROJECT_PATH + 16], path[TT_PROJECT_PATH + 300];
    snprintf(dir, sizeof dir, "%s/dataset", root);
    *found = 0;
    DIR *d = opendir(dir);
    if (!d) return TT_OK;
    tt_status st = TT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (strncmp(e->d_name, "img-", 4) || !strstr(e->d_name, ".safetensors") || strstr(e->d_name, ".tmp")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        *found = 1;
        tt_status rs = tt_migrate_record(p, path);
        if (rs == TT_ERR_NOMEM || rs == TT_ERR_IO) st = rs;
    }
    closedir(d);
    if (p->n_images) qsort(p->images, (size_t)p->n_images, sizeof *p->images, tt_cmp_image);
    snprintf(path, sizeof path, "%s/classes.json", dir);
    char *text = NULL;
    size_t len;
    if (!st && !tt_file_read(path, TT_FILE_MAX, (void **)&text, &len)) {
        *found = 1;
        tt_json j;
        if (!tt_json_parse(&j, text)) {
            int cl = tt_json_key(&j, 0, "classes");
            tt_json_int(&j, tt_json_key(&j, 0, "nextId"), &p->next_class_id);
            for (int k = 0; !st && k < tt_json_len(&j, cl); k++) {
                int c = tt_json_at(&j, cl, k);
                tt_project_class x = {0};
                if (!tt_json_int(&j, tt_json_key(&j, c, "id"), &x.id) || x.id <= 0 ||
                    tt_json_string(&j, tt_json_key(&j, c, "name"), &x.name) || tt_project_class_index(p, x.id) >= 0) {
                    free(x.name);
                    continue;
                }
                if (!(st = tt_grow((void **)&p->classes, &p->cap_classes, p->n_classes, sizeof *p->classes)))
                    p->classes[p->n_classes++] = x;
                else free(x.name);
            }
            tt_json_free(&j);
        }
        free(text);
    }
    /* Pictures whose class the list lacks keep a class of their own. */
    for (int i = 0; !st && i < p->n_images; i++) {
        int cid = p->images[i].class_id;
        if (tt_project_class_index(p, cid) >= 0) continue;
        char name[64];
        snprintf(name, sizeof name, "Class %d", cid);
        for (int k = 2; tt_project_class_find(p, name) >= 0; k++) snprintf(name, sizeof name, "Class %d (%d)", cid, k);
        if (!(st = tt_grow((void **)&p->classes, &p->cap_classes, p->n_classes, sizeof *p->classes))) {
            tt_project_class *x = &p->classes[p->n_classes];
            if (!(x->name = tt_strdup(name))) st = tt_error(TT_ERR_NOMEM, "no memory");
            else x->id = cid, p->n_classes++;
        }
    }
    for (int i = 0; i < p->n_classes; i++)
        if (p->classes[i].id >= p->next_class_id) p->next_class_id = p->classes[i].id + 1;
    if (p->n_images) p->next_image_id = p->images[p->n_images - 1].id + 1;
    return st;
}

/* The old files go once project.json holds everything they held. */
static void tt_migrate_cleanup(const char *root) {
    char dir[TT_PROJECT_PATH + 16], path[TT_PROJECT_PATH + 300];
    snprintf(dir, sizeof dir, "%s/dataset", root);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "img-", 4) || !strcmp(e->d_name, "classes.json")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
}

/* ---- open / free ------------------------------------------------------------------------ */

tt_status tt_project_open(tt_project **out, const char *root, const tt_picture_store *pics) {
    *out = NULL;
    tt_project *p = calloc(1, sizeof *p);
    if (!p) {
        if (pics && pics->free) pics->free(pics->ctx);
        return tt_error(TT_ERR_NOMEM, "no memory for the project");
    }
    if (pics) p->pics = *pics;
    p->next_class_id = p->next_image_id = 1;
    tt_status st = TT_OK;
    if (root) {
        size_t n = strlen(root);
        if (n >= TT_PROJECT_PATH - 32) st = tt_error(TT_ERR_INVALID_ARG, "project root path too long");
        else if (!(p->index = malloc(n + 16))) st = tt_error(TT_ERR_NOMEM, "no memory");
        else snprintf(p->index, n + 16, "%s/project.json", root);
    }
    char *text = NULL;
    size_t len;
    tt_status rs = st || !root ? TT_ERR_NOT_FOUND : tt_file_read(p->index, TT_FILE_MAX, (void **)&text, &len);
    if (!st && !rs) st = tt_project_load(p, text);
    else if (!st && rs != TT_ERR_NOT_FOUND) st = rs;
    else if (!st && root) {
        int found;
        if (!(st = tt_migrate(p, root, &found)) && found && !(st = tt_project_save(p))) tt_migrate_cleanup(root);
    }
    free(text);
    if (st) {
        tt_project_free(p);
        return st;
    }
    *out = p;
    return TT_OK;
}

void tt_project_free(tt_project *p) {
    if (!p) return;
    for (int i = 0; i < p->n_classes; i++) free(p->classes[i].name);
    for (int i = 0; i < p->n_images; i++) free(p->images[i].name);
    free(p->classes);
    free(p->images);
    free(p->src);
    free(p->index);
    if (p->pics.free) p->pics.free(p->pics.ctx);
    free(p);
}

/* ---- changes ---------------------------------------------------------------------------- */

static tt_status tt_class_push(tt_project *p, int id, char *name) {
    tt_status st = tt_grow((void **)&p->classes, &p->cap_classes, p->n_classes, sizeof *p->classes);
    if (st) {
        free(name);
        return st;
    }
    p->classes[p->n_classes++] = (tt_project_class){id, name};
    if (id >= p->next_class_id) p->next_class_id = id + 1;
    return TT_OK;
}

tt_status tt_project_class_add(tt_project *p, const char *name, int *id) {
    char *n;
    tt_status st = tt_class_name(p, name, 0, &n);
    if (!st) st = tt_class_push(p, p->next_class_id, n);
    if (!st && (st = tt_project_save(p))) {
        free(p->classes[--p->n_classes].name);
        p->next_class_id--;
    }
    if (!st && id) *id = p->classes[p->n_classes - 1].id;
    return st;
}

tt_status tt_project_class_rename(tt_project *p, int id, const char *name) {
    int i = tt_project_class_index(p, id);
    if (i < 0) return tt_error(TT_ERR_INVALID_ARG, "no class with id %d", id);
    char *n;
    tt_status st = tt_class_name(p, name, id, &n);
    if (st) return st;
    char *old = p->classes[i].name;
    p->classes[i].name = n;
    if ((st = tt_project_save(p))) {
        p->classes[i].name = old;
        free(n);
        return st;
    }
    free(old);
    return TT_OK;
}

/* Drops record i from the list (not its bytes). */
static void tt_image_drop(tt_project *p, int i) {
    free(p->images[i].name);
    memmove(p->images + i, p->images + i + 1, (size_t)(p->n_images - i - 1) * sizeof *p->images);
    if (p->src) memmove(p->src + i, p->src + i + 1, (size_t)(p->n_images - i - 1) * sizeof *p->src);
    p->n_images--;
}

tt_status tt_project_class_delete(tt_project *p, int id) {
    int i = tt_project_class_index(p, id);
    if (i < 0) return tt_error(TT_ERR_INVALID_ARG, "no class with id %d", id);
    /* The index first: once it no longer lists them, the bytes are unreachable. */
    tt_project_class gone = p->classes[i];
    memmove(p->classes + i, p->classes + i + 1, (size_t)(p->n_classes - i - 1) * sizeof *p->classes);
    p->n_classes--;
    int n = 0, *ids = malloc(((size_t)p->n_images + 1) * sizeof *ids);
    if (!ids) {
        memmove(p->classes + i + 1, p->classes + i, (size_t)(p->n_classes - i) * sizeof *p->classes);
        p->classes[i] = gone, p->n_classes++;
        return tt_error(TT_ERR_NOMEM, "no memory");
    }
    for (int k = p->n_images - 1; k >= 0; k--)
        if (p->images[k].class_id == id) ids[n++] = p->images[k].id, tt_image_drop(p, k);
    free(gone.name);
    tt_status st = tt_project_save(p);
    for (int k = 0; !st && k < n && p->pics.del; k++) p->pics.del(p->pics.ctx, ids[k]);
    free(ids);
    return st;
}

tt_status tt_project_image_add(tt_project *p, int class_id, const char *name,
                               const uint8_t hash[TT_SHA256_SIZE], const tt_picture *pic, int *id) {
    if (tt_project_class_index(p, class_id) < 0) return tt_error(TT_ERR_INVALID_ARG, "no class with id %d", class_id);
    for (int i = 0; i < p->n_images; i++)
        if (p->images[i].class_id == class_id && !memcmp(p->images[i].hash, hash, TT_SHA256_SIZE))
            return tt_error(TT_ERR_INVALID_ARG, "the same picture as %s, already in this class", p->images[i].name);
    tt_status st = tt_image_room(p, 0);
    if (st) return st;
    tt_project_image im = {p->next_image_id, class_id, tt_strdup(name ? name : ""), {0}};
    if (!im.name) return tt_error(TT_ERR_NOMEM, "no memory for the picture's name");
    memcpy(im.hash, hash, TT_SHA256_SIZE);
    if (pic && !p->pics.put) st = tt_error(TT_ERR_UNSUPPORTED, "this project stores no pictures");
    if (!st && pic) st = p->pics.put(p->pics.ctx, im.id, pic);
    if (st) {
        free(im.name);
        return st;
    }
    p->images[p->n_images++] = im; /* ids only grow: the list stays sorted */
    p->next_image_id++;
    if ((st = tt_project_save(p))) {
        tt_image_drop(p, p->n_images - 1);
        p->next_image_id--;
        if (pic) p->pics.del(p->pics.ctx, im.id);
        return st;
    }
    if (id) *id = im.id;
    return TT_OK;
}

tt_status tt_project_image_remove(tt_project *p, int id) {
    int i = tt_project_image_index(p, id);
    if (i < 0) return tt_error(TT_ERR_NOT_FOUND, "no image with id %d", id);
    tt_project_image gone = p->images[i];
    gone.name = NULL;
    tt_image_drop(p, i);
    tt_status st = tt_project_save(p);
    if (!st && p->pics.del) st = p->pics.del(p->pics.ctx, gone.id);
    return st;
}

tt_status tt_project_picture(const tt_project *p, int id, void **bytes, size_t *len) {
    int i = tt_project_image_index(p, id);
    if (i < 0) return tt_error(TT_ERR_NOT_FOUND, "no image with id %d", id);
    if (p->src && p->src[i].ds) return tt_dataset_read(p->src[i].ds, p->src[i].item, bytes, len);
    if (!p->pics.get) return tt_error(TT_ERR_UNSUPPORTED, "this project stores no pictures");
    return p->pics.get(p->pics.ctx, id, bytes, len);
}

tt_status tt_project_add_dataset(tt_project *p, const tt_dataset *ds, tt_project_skip_fn skip, void *ctx,
                                 int *first) {
    tt_status st = TT_OK;
    int *cls = malloc(((size_t)ds->n_classes + 1) * sizeof *cls);
    if (!cls) return tt_error(TT_ERR_NOMEM, "no memory");
    /* Folder names are the classes as they are: exact matches, no rules for people. */
    for (int c = 0; !st && c < ds->n_classes; c++) {
        int k = 0;
        while (k < p->n_classes && strcmp(p->classes[k].name, ds->classes[c])) k++;
        if (k < p->n_classes) cls[c] = p->classes[k].id;
        else {
            char *n = tt_strdup(ds->classes[c]);
            st = n ? tt_class_push(p, cls[c] = p->next_class_id, n) : tt_error(TT_ERR_NOMEM, "no memory");
        }
    }
    if (first) *first = p->next_image_id;
    for (int i = 0; !st && i < ds->n; i++) {
        void *bytes;
        size_t len;
        tt_status rs = tt_dataset_read(ds, i, &bytes, &len);
        if (rs) {
            if (rs == TT_ERR_NOMEM) st = rs;
            else if (skip) skip(ctx, ds->items[i].path, rs, tt_last_error());
            continue;
        }
        st = tt_image_room(p, 1);
        tt_project_image im = {p->next_image_id, cls[ds->items[i].label], NULL, {0}};
        const char *base = strrchr(ds->items[i].path, '/');
        if (!st && !(im.name = tt_strdup(base ? base + 1 : ds->items[i].path))) st = tt_error(TT_ERR_NOMEM, "no memory");
        if (!st) {
            tt_sha256(bytes, len, im.hash);
            p->src[p->n_images] = (tt_source){ds, i};
            p->images[p->n_images++] = im;
            p->next_image_id++;
        }
        free(bytes);
    }
    free(cls);
    return st ? st : tt_project_save(p);
}
