/* Checkpoint directories: rotation, best model, `latest` pointer, resume. */
#include "tabtrain/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tabtrain/fileio.h"
#include "tabtrain/strbuf.h"

#define TT_PATH_MAX 4096
#define TT_LATEST "latest"
#define TT_BEST "best.safetensors"

struct tt_ckpt_dir {
    char dir[TT_PATH_MAX];
    tt_ckpt_policy p;
    double last_save;
    int best_written; /* epoch whose end best.safetensors holds */
    char last[TT_PATH_MAX];
};

typedef struct tt_ckpt_entry {
    char name[64];
    int epoch;
    long long step;
} tt_ckpt_entry;

tt_ckpt_policy tt_ckpt_policy_defaults(void) {
    return (tt_ckpt_policy){.every_epochs = 1, .every_steps = 0, .every_seconds = 0.0, .keep = 3};
}

static tt_status tt_join(char *out, const char *dir, const char *name) {
    int n = snprintf(out, TT_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= TT_PATH_MAX) return tt_error(TT_ERR_INVALID_ARG, "%s/%s: path too long", dir, name);
    return TT_OK;
}

/* "ckpt-e0005-s000420.safetensors" exactly (wider numbers allowed). */
static int tt_parse_name(const char *name, tt_ckpt_entry *e) {
    int n = 0;
    if (strlen(name) >= sizeof e->name ||
        sscanf(name, "ckpt-e%d-s%lld.safetensors%n", &e->epoch, &e->step, &n) != 2 ||
        name[n] != '\0' || e->epoch < 0 || e->step < 0)
        return 0;
    strcpy(e->name, name);
    return 1;
}

/* Newest first: by step, then epoch. */
static int tt_cmp_entry(const void *a, const void *b) {
    const tt_ckpt_entry *x = a, *y = b;
    if (x->step != y->step) return x->step > y->step ? -1 : 1;
    return (x->epoch < y->epoch) - (x->epoch > y->epoch);
}

/* The ckpt-* files of `dir`, newest first; *out is malloc'd (NULL when none). */
static tt_status tt_list(const char *dir, tt_ckpt_entry **out, int *n) {
    *out = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return tt_error(errno == ENOENT ? TT_ERR_NOT_FOUND : TT_ERR_IO,
                            "checkpoint directory %s: %s", dir, strerror(errno));
    int cap = 0;
    tt_status st = TT_OK;
    struct dirent *de;
    tt_ckpt_entry e;
    while ((de = readdir(d)))
        if (tt_parse_name(de->d_name, &e)) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 16;
                tt_ckpt_entry *p = realloc(*out, (size_t)cap * sizeof *p);
                if (!p) {
                    st = tt_error(TT_ERR_NOMEM, "checkpoint directory %s: no memory", dir);
                    break;
                }
                *out = p;
            }
            (*out)[(*n)++] = e;
        }
    closedir(d);
    if (st) {
        free(*out), *out = NULL, *n = 0;
        return st;
    }
    if (*n) qsort(*out, (size_t)*n, sizeof **out, tt_cmp_entry);
    return TT_OK;
}

tt_status tt_ckpt_dir_open(tt_ckpt_dir **out, const char *dir, const tt_ckpt_policy *p) {
    *out = NULL;
    tt_ckpt_policy def = tt_ckpt_policy_defaults();
    if (!p) p = &def;
    if (p->keep < 1 || p->every_epochs < 0 || p->every_steps < 0 || !(p->every_seconds >= 0.0))
        return tt_error(TT_ERR_INVALID_ARG,
                        "checkpoints: keep must be >= 1 and the intervals >= 0 (keep %d, every "
                        "%d epochs, %lld steps, %g s)",
                        p->keep, p->every_epochs, (long long)p->every_steps, p->every_seconds);
    if (!dir || !*dir || strlen(dir) >= TT_PATH_MAX - 80)
        return tt_error(TT_ERR_INVALID_ARG, "checkpoints: empty or too long directory name");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return tt_error(TT_ERR_IO, "cannot create checkpoint directory %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d) return tt_error(TT_ERR_IO, "cannot open checkpoint directory %s: %s", dir, strerror(errno));
    /* A writer killed between create and rename leaves "<name>.tmp-<pid>". */
    struct dirent *de;
    char path[TT_PATH_MAX];
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp-") && !tt_join(path, dir, de->d_name)) unlink(path);
    closedir(d);
    tt_ckpt_dir *c = calloc(1, sizeof *c);
    if (!c) return tt_error(TT_ERR_NOMEM, "checkpoints: no memory");
    strcpy(c->dir, dir);
    c->p = *p;
    c->last_save = tt_now_seconds();
    *out = c;
    return TT_OK;
}

void tt_ckpt_dir_free(tt_ckpt_dir *d) { free(d); }

const char *tt_ckpt_dir_last(const tt_ckpt_dir *d) { return d->last; }

tt_status tt_ckpt_dir_files(const tt_ckpt_dir *d, int *n, int clear) {
    *n = 0;
    tt_ckpt_entry *e;
    int ne;
    tt_status st = tt_list(d->dir, &e, &ne);
    if (st) return st;
    char path[TT_PATH_MAX];
    static const char *const fixed[] = {TT_LATEST, TT_BEST};
    for (int i = 0; i < ne + 2 && !st; i++) {
        if ((st = tt_join(path, d->dir, i < ne ? e[i].name : fixed[i - ne]))) break;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        ++*n;
        if (clear && unlink(path) != 0)
            st = tt_error(TT_ERR_IO, "cannot delete %s: %s", path, strerror(errno));
    }
    free(e);
    return st;
}

static tt_status tt_write_bytes(const char *path, const void *bytes, size_t len) {
    tt_chunk c = {bytes, len};
    return tt_file_write_atomic(path, &c, 1);
}

/* Deletes the ckpt-* files beyond the newest `keep` at or before `step`.
 * Files past `step` belong to a run that was rewound (resumed from an older
 * file because they failed verification) and go first. */
static tt_status tt_rotate(tt_ckpt_dir *d, long long step) {
    tt_ckpt_entry *e;
    int n;
    tt_status st = tt_list(d->dir, &e, &n);
    if (st) return st;
    int kept = 0;
    char path[TT_PATH_MAX];
    for (int i = 0; i < n; i++) {
        if (e[i].step <= step && kept < d->p.keep) {
            kept++;
            continue;
        }
        if (!tt_join(path, d->dir, e[i].name) && unlink(path) != 0 && errno != ENOENT) {
            st = tt_error(TT_ERR_IO, "cannot delete old checkpoint %s: %s", path, strerror(errno));
            break;
        }
    }
    free(e);
    return st;
}

/* The ckpt-* file of position p, verified, then `latest`, then rotation. */
static tt_status tt_save_bytes(tt_ckpt_dir *d, const tt_ckpt_pos *p, const void *bytes, size_t len) {
    char name[64], path[TT_PATH_MAX], line[80];
    snprintf(name, sizeof name, "ckpt-e%04d-s%06lld.safetensors", p->epoch, (long long)p->step);
    tt_status st = tt_join(path, d->dir, name);
    if (st) return st;
    /* The same step is the same training state (a save right after a resume):
     * keep a file that verifies rather than replace it. */
    tt_st_file *f;
    if (tt_ckpt_open_file(&f, path) == TT_OK) {
        tt_st_close(f);
    } else {
        if ((st = tt_write_bytes(path, bytes, len))) return st;
        /* Re-read what landed on disk before anything points at it. */
        if ((st = tt_ckpt_open_file(&f, path))) return st;
        tt_st_close(f);
    }
    int n = snprintf(line, sizeof line, "%s\n", name);
    char latest[TT_PATH_MAX];
    if ((st = tt_join(latest, d->dir, TT_LATEST)) ||
        (st = tt_write_bytes(latest, line, (size_t)n)))
        return st;
    strcpy(d->last, path);
    d->last_save = tt_now_seconds();
    return tt_rotate(d, (long long)p->step);
}

void tt_ckpt_dir_due(const tt_ckpt_dir *d, const tt_ckpt_pos *p, int epoch_ended, int *due, int *best) {
    const tt_ckpt_policy *c = &d->p;
    *due = p->finished || (epoch_ended && c->every_epochs > 0 && p->epoch % c->every_epochs == 0) ||
           (c->every_steps > 0 && p->step % c->every_steps == 0) ||
           (c->every_seconds > 0.0 && tt_now_seconds() - d->last_save >= c->every_seconds);
    *best = epoch_ended && p->epoch > 0 && p->best_epoch == p->epoch && d->best_written != p->epoch;
}

tt_status tt_ckpt_dir_write(tt_ckpt_dir *d, const tt_ckpt_pos *p, const void *bytes, size_t len, int due, int best) {
    tt_status st = TT_OK;
    if (best) {
        char path[TT_PATH_MAX];
        if (!(st = tt_join(path, d->dir, TT_BEST)) && !(st = tt_write_bytes(path, bytes, len)))
            d->best_written = p->epoch;
    }
    if (!st && due) st = tt_save_bytes(d, p, bytes, len);
    return st;
}

static void tt_appendf(char *buf, size_t cap, const char *fmt, const char *a, const char *b) {
    size_t n = strlen(buf);
    if (n + 1 < cap) snprintf(buf + n, cap - n, fmt, a, b);
}

static void tt_copy(char *dst, size_t cap, const char *src) {
    if (cap) snprintf(dst, cap, "%s", src);
}

tt_status tt_ckpt_dir_resume(const char *dir, tt_st_file **out, char *path, size_t path_cap,
                             char *note, size_t note_cap) {
    *out = NULL;
    tt_copy(path, path_cap, "");
    tt_copy(note, note_cap, "");
    char why[2048] = "", p[TT_PATH_MAX], tried[64] = "";
    tt_status st = tt_join(p, dir, TT_LATEST);
    if (st) return st;
    char *text = NULL;
    size_t len;
    st = tt_file_read(p, 4096, (void **)&text, &len);
    if (st == TT_OK) {
        text[strcspn(text, "\r\n")] = '\0';
        tt_ckpt_entry e;
        if (!tt_parse_name(text, &e)) {
            snprintf(why, sizeof why, "%.1000s does not name a checkpoint file", p);
        } else if (!(st = tt_join(p, dir, text)) && !(st = tt_ckpt_open_file(out, p))) {
            free(text);
            tt_copy(path, path_cap, p);
            return TT_OK;
        } else {
            snprintf(why, sizeof why, "%s names %.100s, which fails verification (%.1500s)", TT_LATEST,
                     text, tt_last_error());
            strcpy(tried, e.name);
        }
        free(text);
    } else {
        snprintf(why, sizeof why, "%.1000s is missing or unreadable (%.900s)", p, tt_last_error());
    }
    tt_ckpt_entry *e;
    int n;
    if ((st = tt_list(dir, &e, &n))) return st;
    char skipped[2048] = "";
    for (int i = 0; i < n; i++) {
        if (!strcmp(e[i].name, tried)) continue;
        if ((st = tt_join(p, dir, e[i].name))) break;
        if (tt_ckpt_open_file(out, p) == TT_OK) {
            tt_copy(path, path_cap, p);
            tt_copy(note, note_cap, why);
            tt_appendf(note, note_cap, "; resuming from %s%s instead", e[i].name,
                       skipped[0] ? " (newer files failed verification)" : "");
            free(e);
            return TT_OK;
        }
        tt_appendf(skipped, sizeof skipped, "%s%s", skipped[0] ? ", " : "", e[i].name);
    }
    free(e);
    if (st) return st;
    return tt_error(TT_ERR_NOT_FOUND,
                    "no valid checkpoint in %s: %s; %s%s — start a fresh run without --resume "
                    "if that is what you want",
                    dir, why, skipped[0] ? "also invalid: " : "no other ckpt-* files",
                    skipped);
}
