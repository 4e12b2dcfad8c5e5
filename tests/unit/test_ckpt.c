/* Checkpoints: round trip, bit-exact resume through a file, corruption and
 * refusal cases, directory rotation/best/latest, fallback on resume, failed
 * saves, and a fixture file for the Python format check (test_ckpt_python). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/synth_data.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/config.h"
#include "tabtrain/fileio.h"
#include "tt_test.h"

enum { D = 48, C = 3 };

static const char *classes = "[\"cat\",\"dog\",\"caf\\u00e9 \\\"x\\\"\"]";
static const char *backbone = "sha256:0123456789abcdef";

static tt_trainer_config base_config(void) {
    tt_trainer_config cfg = tt_trainer_defaults();
    cfg.epochs = 4, cfg.batch_size = 16, cfg.hidden = 8, cfg.dropout = 0.2f;
    cfg.schedule = TT_SCHED_COSINE, cfg.warmup_steps = 2, cfg.weight_decay = 1e-3f;
    cfg.label_smoothing = 0.05f, cfg.patience = 10, cfg.seed = 11;
    return cfg;
}

static tt_ckpt_meta the_meta(void) {
    return (tt_ckpt_meta){.classes_json = classes,
                          .backbone = backbone,
                          .preprocess_json = "{\"mean\":[127.5],\"scale\":[0.0078125]}"};
}

/* Removes dir's entries (files, and empty subdirectories). */
static void empty_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[4300];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(path, sizeof path, "%.4000s/%.255s", dir, de->d_name);
            if (unlink(path) != 0) rmdir(path);
        }
    closedir(d);
}

/* A scratch directory (or file path) under the build tree, emptied first. */
static const char *scratch(const char *name) {
    static char path[4096];
    mkdir(tt_test_binary_path("test-ckpt"), 0755);
    snprintf(path, sizeof path, "%s/%s", tt_test_binary_path("test-ckpt"), name);
    empty_dir(path);
    return path;
}

/* Entries of dir that start with `prefix` and end with `suffix`. */
static int count_files(const char *dir, const char *prefix, const char *suffix) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), ls = strlen(suffix);
        n += !strncmp(de->d_name, prefix, strlen(prefix)) && l >= ls &&
             !strcmp(de->d_name + l - ls, suffix);
    }
    closedir(d);
    return n;
}

static void assert_same_trainer(tt_trainer *a, tt_trainer *b, const char *what) {
    tt_test_assert_same_tensors(a, b, what);
    tt_trainer_state sa, sb;
    tt_trainer_get_state(a, &sa), tt_trainer_get_state(b, &sb);
    assert_int_equal(sa.epoch, sb.epoch);
    assert_int_equal(sa.global_step, sb.global_step);
    assert_int_equal(sa.pos, sb.pos);
    if (sa.pos) assert_memory_equal(sa.perm, sb.perm, (size_t)sa.n_train * sizeof *sa.perm);
    assert_memory_equal(&sa.shuffle_rng, &sb.shuffle_rng, sizeof sa.shuffle_rng);
    assert_memory_equal(&sa.dropout_rng, &sb.dropout_rng, sizeof sa.dropout_rng);
    assert_memory_equal(&sa.epoch_loss_sum, &sb.epoch_loss_sum, sizeof(double));
    assert_int_equal(sa.epoch_correct, sb.epoch_correct);
    assert_int_equal(sa.best_epoch, sb.best_epoch);
    assert_memory_equal(&sa.best_loss, &sb.best_loss, sizeof(double));
    assert_int_equal(sa.bad_epochs, sb.bad_epochs);
    assert_int_equal(sa.stopped, sb.stopped);
    assert_int_equal(sa.n_history, sb.n_history);
    for (int e = 0; e < sa.n_history; e++) {
        const tt_epoch_metrics *x = &sa.history[e], *y = &sb.history[e];
        assert_int_equal(x->epoch, y->epoch);
        assert_int_equal(x->step, y->step);
        assert_memory_equal(&x->lr, &y->lr, sizeof(float));
        assert_memory_equal(&x->train_loss, &y->train_loss, sizeof(double));
        assert_memory_equal(&x->train_acc, &y->train_acc, sizeof(double));
        assert_memory_equal(&x->val_loss, &y->val_loss, sizeof(double));
        assert_memory_equal(&x->val_acc, &y->val_acc, sizeof(double));
        for (int c = 0; c < C; c++)
            if (memcmp(&x->per_class_acc[c], &y->per_class_acc[c], sizeof(float)) &&
                !(isnan(x->per_class_acc[c]) && isnan(y->per_class_acc[c])))
                fail_msg("%s: per-class accuracy %d of epoch %d differs", what, c, e + 1);
        assert_memory_equal(x->confusion, y->confusion, C * C * sizeof(int32_t));
    }
}

/* Builds a fresh trainer from the checkpoint's own config and restores it. */
static tt_trainer *restore_from(tt_st_file *f, const tt_test_data *d) {
    tt_trainer_config cfg;
    int dim, cls;
    tt_assert_ok(tt_ckpt_trainer_config(f, &cfg, &dim, &cls));
    assert_int_equal(dim, D);
    assert_int_equal(cls, C);
    tt_trainer *t = tt_test_trainer(&cfg, d);
    tt_assert_ok(tt_ckpt_restore(t, f));
    return t;
}

/* Field by field: the struct has padding, whose bytes a copy need not keep. */
static void assert_same_config(const tt_trainer_config *a, const tt_trainer_config *b) {
#define SAME(f) assert_memory_equal(&a->f, &b->f, sizeof a->f)
    SAME(epochs), SAME(batch_size), SAME(optimizer), SAME(lr), SAME(schedule), SAME(warmup_steps);
    SAME(step_epochs), SAME(gamma), SAME(weight_decay), SAME(momentum), SAME(label_smoothing);
    SAME(hidden), SAME(dropout), SAME(patience), SAME(seed), SAME(backbone_lr);
#undef SAME
}

static void round_trip_is_bit_identical(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 150, 40, 1.5f, 1);
    static const struct {
        tt_optim_kind opt;
        int hidden, steps; /* steps taken before the save */
    } cases[] = {{TT_OPTIM_ADAM, 8, 0}, {TT_OPTIM_ADAM, 8, 13}, {TT_OPTIM_SGD, 0, 10},
                 {TT_OPTIM_SGD, 4, 30}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tt_trainer_config cfg = base_config();
        cfg.optimizer = cases[k].opt, cfg.hidden = cases[k].hidden;
        cfg.schedule = k == 3 ? TT_SCHED_STEP : cfg.schedule, cfg.seed = 0xfedcba9876543210ull;
        cfg.patience = (int)k;
        cfg.backbone_lr = k == 2 ? 3e-4f : 0.0f;
        tt_trainer *t = tt_test_trainer(&cfg, &d);
        for (int s = 0; s < cases[k].steps; s++) tt_assert_ok(tt_trainer_step(t, NULL));
        tt_ckpt_meta m = the_meta();
        void *bytes;
        size_t len;
        tt_assert_ok(tt_ckpt_save_memory(t, &m, &bytes, &len));
        tt_st_file *f;
        tt_assert_ok(tt_ckpt_open_memory(&f, bytes, len));
        assert_string_equal(tt_st_metadata(f, "tabtrain.kind"), "checkpoint");
        assert_string_equal(tt_st_metadata(f, "tabtrain.classes"), classes);
        assert_string_equal(tt_st_metadata(f, "tabtrain.backbone"), backbone);
        tt_assert_ok(tt_ckpt_check(f, classes, backbone));
        tt_trainer_config back;
        int dim, cls;
        tt_assert_ok(tt_ckpt_trainer_config(f, &back, &dim, &cls));
        assert_same_config(&back, &cfg);
        tt_trainer *r = restore_from(f, &d);
        assert_same_trainer(t, r, "round trip");
        tt_st_close(f);
        free(bytes);
        tt_trainer_free(t), tt_trainer_free(r);
    }
    tt_test_data_free(&d);
}

/* 2 epochs (+ some steps) → file → new trainer → rest == uninterrupted. */
static void resume_through_a_file_is_bit_exact(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 203, 50, 1.5f, 2); /* 203 = 12×16 + 11: a partial batch */
    static const struct {
        tt_optim_kind opt;
        int epochs_first, extra_steps, hidden;
        float dropout;
    } cases[] = {{TT_OPTIM_ADAM, 2, 0, 8, 0.2f}, {TT_OPTIM_ADAM, 2, 5, 8, 0.2f},
                 {TT_OPTIM_SGD, 1, 7, 0, 0.5f},  {TT_OPTIM_ADAM, 0, 3, 0, 0.0f},
                 {TT_OPTIM_SGD, 3, 12, 16, 0.0f}};
    const char *path = scratch("resume.safetensors");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tt_trainer_config cfg = base_config();
        cfg.optimizer = cases[k].opt, cfg.hidden = cases[k].hidden;
        cfg.dropout = cases[k].dropout, cfg.seed = 100 + k;
        tt_trainer *whole = tt_test_trainer(&cfg, &d);
        while (!tt_trainer_finished(whole)) tt_assert_ok(tt_trainer_run_epoch(whole));

        tt_trainer *first = tt_test_trainer(&cfg, &d);
        for (int e = 0; e < cases[k].epochs_first; e++) tt_assert_ok(tt_trainer_run_epoch(first));
        for (int s = 0; s < cases[k].extra_steps; s++) tt_assert_ok(tt_trainer_step(first, NULL));
        tt_ckpt_meta m = the_meta();
        tt_assert_ok(tt_ckpt_save_file(first, &m, path));
        tt_trainer_free(first);

        tt_st_file *f;
        tt_assert_ok(tt_ckpt_open_file(&f, path));
        tt_trainer *second = restore_from(f, &d);
        tt_st_close(f);
        while (!tt_trainer_finished(second)) tt_assert_ok(tt_trainer_step(second, NULL));
        assert_same_trainer(whole, second, "resume");
        tt_trainer_free(whole), tt_trainer_free(second);
    }
    tt_test_data_free(&d);
}

typedef struct {
    unsigned char *bytes;
    size_t len;
} blob;

/* A checkpoint of a run 1 epoch + 1 step in; *keep (if given) gets the trainer. */
static blob saved_blob(const tt_test_data *d, tt_trainer **keep) {
    tt_trainer_config cfg = base_config();
    tt_trainer *t = tt_test_trainer(&cfg, d);
    tt_assert_ok(tt_trainer_run_epoch(t));
    tt_assert_ok(tt_trainer_step(t, NULL));
    tt_ckpt_meta m = the_meta();
    blob b;
    tt_assert_ok(tt_ckpt_save_memory(t, &m, (void **)&b.bytes, &b.len));
    if (keep)
        *keep = t;
    else
        tt_trainer_free(t);
    return b;
}

/* Replaces the first occurrence of `from` in the header by `to` (same length). */
static void patch_header(blob *b, const char *from, const char *to) {
    assert_int_equal(strlen(from), strlen(to));
    size_t n = strlen(from);
    for (size_t i = 8; i + n <= b->len; i++)
        if (!memcmp(b->bytes + i, from, n)) {
            memcpy(b->bytes + i, to, n);
            return;
        }
    fail_msg("header lacks %s", from);
}

static void damaged_files_are_refused(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 60, 20, 1.5f, 3);
    blob good = saved_blob(&d, NULL);
    tt_st_file *f;
    tt_assert_ok(tt_ckpt_open_memory(&f, good.bytes, good.len));
    /* The byte to flip: inside one named tensor's data. */
    static const char *victims[] = {"adam_v.head.logits.kernel", "best.head.hidden.bias",
                                    "head.hidden.kernel", "state.perm"};
    size_t offs[4];
    for (int i = 0; i < 4; i++) {
        const tt_st_tensor *t = tt_st_find(f, victims[i]);
        assert_non_null(t);
        offs[i] = (size_t)((const unsigned char *)t->data - good.bytes) + t->nbytes / 2;
        assert_true(offs[i] < good.len);
    }
    tt_st_close(f);
    for (int i = 0; i < 4; i++) {
        blob b = {tt_test_malloc(good.len), good.len};
        memcpy(b.bytes, good.bytes, good.len);
        b.bytes[offs[i]] ^= 0x10;
        assert_int_equal(tt_ckpt_open_memory(&f, b.bytes, b.len), TT_ERR_CORRUPT);
        if (!strstr(tt_last_error(), victims[i]))
            fail_msg("CRC error does not name %s: %s", victims[i], tt_last_error());
        free(b.bytes);
    }
    static const struct {
        const char *from, *to;
        tt_status st;
        const char *says;
    } headers[] = {
        {"\"tabtrain.format_version\":\"1\"", "\"tabtrain.format_version\":\"7\"", TT_ERR_VERSION,
         "version 7"},
        {"\\\"global_step\\\":", "\\\"global_step\\\" ", TT_ERR_CORRUPT, "metadata"},
        {"\\\"epoch\\\":1,", "\\\"epoch\\\":2,", TT_ERR_CORRUPT, "metadata"},
        {"\"tabtrain.kind\":\"checkpoint\"", "\"tabtrain.kind\":\"checkpoinx\"", TT_ERR_FORMAT,
         "not a tabtrain checkpoint"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
        blob b = {tt_test_malloc(good.len), good.len};
        memcpy(b.bytes, good.bytes, good.len);
        patch_header(&b, headers[i].from, headers[i].to);
        tt_status st = tt_ckpt_open_memory(&f, b.bytes, b.len);
        if (st != headers[i].st || !strstr(tt_last_error(), headers[i].says))
            fail_msg("header patch %zu: %s: %s", i, tt_status_name(st), tt_last_error());
        free(b.bytes);
    }
    for (size_t cut = 1; cut < good.len; cut += good.len / 7)
        assert_int_not_equal(tt_ckpt_open_memory(&f, good.bytes, good.len - cut), TT_OK);
    free(good.bytes);
    tt_test_data_free(&d);
}

static void other_classes_or_backbone_are_refused(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 60, 20, 1.5f, 3);
    blob b = saved_blob(&d, NULL);
    tt_st_file *f;
    tt_assert_ok(tt_ckpt_open_memory(&f, b.bytes, b.len));
    tt_assert_ok(tt_ckpt_check(f, "[ \"cat\", \"dog\", \"caf\\u00e9 \\\"x\\\"\" ]", NULL));
    /* Decoded names are compared: \u00e9 and a raw UTF-8 e-acute are the same class. */
    tt_assert_ok(tt_ckpt_check(f, "[\"cat\",\"dog\",\"caf\xc3\xa9 \\\"x\\\"\"]", NULL));
    static const char *other[] = {"[\"cat\",\"dog\"]", "[\"cat\",\"dog\",\"bird\"]",
                                  "[\"dog\",\"cat\",\"caf\\u00e9 \\\"x\\\"\"]"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tt_ckpt_check(f, other[i], backbone), TT_ERR_MISMATCH);
        assert_non_null(strstr(tt_last_error(), "classes"));
    }
    assert_int_equal(tt_ckpt_check(f, classes, "sha256:ffff"), TT_ERR_MISMATCH);
    assert_non_null(strstr(tt_last_error(), "sha256:ffff"));
    tt_assert_ok(tt_ckpt_check(f, classes, backbone));
    /* Other data: a trainer with another sample count cannot take this state. */
    tt_trainer_config cfg;
    d.train.n = 59;
    int dim, cls;
    tt_assert_ok(tt_ckpt_trainer_config(f, &cfg, &dim, &cls));
    /* Training options (the settings table, tabtrain/config.h): only the epoch count may change. */
    tt_config saved, o;
    tt_assert_ok(tt_config_from_file(f, &saved));
    o = saved;
    o.train.epochs += 5;
    tt_assert_ok(tt_config_compare(&saved, &o));
    o = saved;
    o.train.lr *= 2;
    assert_int_equal(tt_config_compare(&saved, &o), TT_ERR_MISMATCH);
    assert_non_null(strstr(tt_last_error(), "lr"));
    o = saved;
    o.train.seed++;
    assert_int_equal(tt_config_compare(&saved, &o), TT_ERR_MISMATCH);
    assert_non_null(strstr(tt_last_error(), "seed"));
    tt_trainer *t = tt_test_trainer(&cfg, &d);
    assert_int_equal(tt_ckpt_restore(t, f), TT_ERR_MISMATCH);
    tt_trainer_free(t);
    /* Another head shape: the tensors do not fit. */
    d.train.n = 60, cfg.hidden = 9;
    t = tt_test_trainer(&cfg, &d);
    assert_int_not_equal(tt_ckpt_restore(t, f), TT_OK);
    tt_trainer_free(t);
    tt_test_data_free(&d);
    tt_st_close(f);
    free(b.bytes);
}

static void file_exists(const char *dir, const char *name, int want) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    if ((stat(path, &sb) == 0) != want) fail_msg("%s should %sexist", path, want ? "" : "not ");
}

static char *read_latest(const char *dir) {
    char path[4300];
    snprintf(path, sizeof path, "%s/latest", dir);
    void *text;
    size_t len;
    tt_assert_ok(tt_file_read(path, 4096, &text, &len));
    return text;
}

/* Trains on cfg with a directory; returns the trainer (finished). */
static tt_trainer *train_cfg_with_dir(const char *dir, const tt_ckpt_policy *p, const tt_test_data *d,
                                      const tt_trainer_config *cfg) {
    tt_trainer *t = tt_test_trainer(cfg, d);
    tt_ckpt_dir *cd;
    tt_assert_ok(tt_ckpt_dir_open(&cd, dir, p));
    tt_ckpt_meta m = the_meta();
    while (!tt_trainer_finished(t)) {
        int ended, saved;
        tt_assert_ok(tt_trainer_step(t, &ended));
        tt_assert_ok(tt_ckpt_dir_step(cd, t, &m, ended, &saved));
    }
    tt_ckpt_dir_free(cd);
    return t;
}

/* The same on base_config() run for `epochs`. */
static tt_trainer *train_with_dir(const char *dir, const tt_ckpt_policy *p, const tt_test_data *d,
                                  int epochs) {
    tt_trainer_config cfg = base_config();
    cfg.epochs = epochs;
    return train_cfg_with_dir(dir, p, d, &cfg);
}

/* f holds the trainer's kept best head (its 4 "best.*" tensors) under the
 * plain names, bit for bit. */
static void assert_best_head(const tt_st_file *f, tt_trainer *t) {
    const tt_named_tensor *ts;
    int n = tt_trainer_tensors(t, &ts), heads = 0;
    for (int i = 0; i < n; i++)
        if (!strncmp(ts[i].name, "best.", 5)) {
            const tt_st_tensor *h = tt_st_find(f, ts[i].name + 5);
            assert_non_null(h);
            assert_memory_equal(h->data, ts[i].data, h->nbytes);
            heads++;
        }
    assert_int_equal(heads, 4);
}

static void directory_rotates_and_tracks_best(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 64, 30, 1.5f, 4); /* 4 steps per epoch */
    static const struct {
        int keep, every_epochs, every_steps;
        double every_seconds;
        int files;
    } cases[] = {{3, 1, 0, 0, 3},  {2, 1, 0, 0, 2},     {1, 0, 3, 0, 1},
                 {5, 2, 3, 0, 5},  {50, 0, 1, 0, 24},   {50, 2, 0, 0, 3},
                 {50, 0, 0, 1e-9, 24}, {50, 0, 0, 1e6, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *dir = scratch("rotate");
        tt_ckpt_policy p = {.every_epochs = cases[k].every_epochs,
                            .every_steps = cases[k].every_steps,
                            .every_seconds = cases[k].every_seconds,
                            .keep = cases[k].keep};
        tt_trainer *t = train_with_dir(dir, &p, &d, 6);
        assert_int_equal(count_files(dir, "ckpt-", ".safetensors"), cases[k].files);
        file_exists(dir, "ckpt-e0006-s000024.safetensors", 1); /* the final save */
        char *latest = read_latest(dir);
        assert_string_equal(latest, "ckpt-e0006-s000024.safetensors\n");
        free(latest);
        /* best.safetensors: the state at the end of the best epoch, so its
         * head equals the trainer's kept best weights. */
        char path[4300];
        snprintf(path, sizeof path, "%s/best.safetensors", dir);
        tt_st_file *f;
        tt_assert_ok(tt_ckpt_open_file(&f, path));
        assert_best_head(f, t);
        tt_trainer_state s;
        tt_trainer_get_state(t, &s);
        char want[64];
        snprintf(want, sizeof want, "\"best_epoch\":%d", s.best_epoch);
        assert_non_null(strstr(tt_st_metadata(f, "tabtrain.state"), want));
        tt_st_close(f);
        tt_trainer_free(t);
        /* What a fresh start has to discard, then discarding it. */
        tt_ckpt_dir *cd;
        int nf;
        tt_assert_ok(tt_ckpt_dir_open(&cd, dir, &p));
        tt_assert_ok(tt_ckpt_dir_files(cd, &nf, 0));
        assert_int_equal(nf, cases[k].files + 2);
        tt_assert_ok(tt_ckpt_dir_files(cd, &nf, 1));
        tt_assert_ok(tt_ckpt_dir_files(cd, &nf, 0));
        assert_int_equal(nf, 0);
        tt_ckpt_dir_free(cd);
    }
    tt_test_data_free(&d);
}

/* When later epochs are worse (a small noisy training set overfits; early
 * stopping ends the run), best.safetensors still holds the best epoch's state,
 * not the last epoch's. */
static void best_file_keeps_the_best_epoch_not_the_last(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 30, 200, 6.0f, 3);
    const char *dir = scratch("best");
    tt_trainer_config cfg = base_config();
    cfg.epochs = 300, cfg.patience = 4, cfg.lr = 1e-2f, cfg.batch_size = 8, cfg.schedule = TT_SCHED_CONSTANT;
    tt_ckpt_policy p = {.every_epochs = 1, .keep = 1};
    tt_trainer *t = train_cfg_with_dir(dir, &p, &d, &cfg);
    int n, best = tt_trainer_best_epoch(t);
    tt_trainer_history(t, &n);
    if (!(best > 0 && best < n)) fail_msg("the run's best epoch %d is not before its last %d", best, n);
    char path[4300];
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    tt_st_file *f;
    tt_assert_ok(tt_ckpt_open_file(&f, path));
    assert_best_head(f, t);
    tt_trainer *r = restore_from(f, &d);
    tt_trainer_progress pr;
    tt_trainer_progress_get(r, &pr);
    assert_int_equal(pr.epoch, best);
    tt_trainer_free(r);
    tt_st_close(f);
    tt_trainer_free(t);
    tt_test_data_free(&d);
}

static void corrupt_file(const char *path) {
    void *buf;
    size_t len;
    tt_assert_ok(tt_file_read(path, TT_FILE_MAX, &buf, &len));
    ((unsigned char *)buf)[len - 5] ^= 0xff; /* inside the last tensor's data */
    tt_chunk c = {buf, len};
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
    free(buf);
}

static void resume_falls_back_and_says_so(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 64, 30, 1.5f, 5);
    const char *dir = scratch("fallback");
    tt_ckpt_policy p = {.every_steps = 2, .keep = 3};
    tt_trainer *t = train_with_dir(dir, &p, &d, 3); /* keeps s8, s10, s12 */
    tt_trainer_free(t);
    char path[4300], note[1024], target[4300];
    tt_st_file *f;

    /* latest fine: no note. */
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_string_equal(note, "");
    assert_non_null(strstr(path, "ckpt-e0003-s000012.safetensors"));
    tt_st_close(f);

    /* latest points to a corrupt file: the next older one, with a note. */
    snprintf(target, sizeof target, "%s/ckpt-e0003-s000012.safetensors", dir);
    corrupt_file(target);
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_non_null(strstr(path, "ckpt-e0002-s000010.safetensors"));
    assert_non_null(strstr(note, "fails verification"));
    assert_non_null(strstr(note, "ckpt-e0002-s000010.safetensors"));
    tt_trainer *r = restore_from(f, &d);
    tt_trainer_progress pr;
    tt_trainer_progress_get(r, &pr);
    assert_int_equal(pr.global_step, 10);
    tt_trainer_free(r);
    tt_st_close(f);

    /* latest missing: the newest valid file, with a note. */
    snprintf(target, sizeof target, "%s/latest", dir);
    assert_int_equal(unlink(target), 0);
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_non_null(strstr(path, "ckpt-e0002-s000010.safetensors"));
    assert_non_null(strstr(note, "missing"));
    assert_non_null(strstr(note, "newer files failed verification"));
    tt_st_close(f);

    /* latest names garbage: fallback too. */
    tt_chunk c = {"../../etc/passwd\n", 17};
    tt_assert_ok(tt_file_write_atomic(target, &c, 1));
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_non_null(strstr(note, "does not name a checkpoint"));
    tt_st_close(f);

    /* Nothing valid: an error, never a silent fresh start. */
    snprintf(target, sizeof target, "%s/ckpt-e0002-s000010.safetensors", dir);
    corrupt_file(target);
    snprintf(target, sizeof target, "%s/ckpt-e0002-s000008.safetensors", dir);
    corrupt_file(target);
    assert_int_equal(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note),
                     TT_ERR_NOT_FOUND);
    assert_null(f);
    assert_non_null(strstr(tt_last_error(), "no valid checkpoint"));
    const char *empty = scratch("empty");
    mkdir(empty, 0755);
    assert_int_equal(tt_ckpt_dir_resume(empty, &f, path, sizeof path, note, sizeof note),
                     TT_ERR_NOT_FOUND);
    /* A run killed before its first save never made its directory: the same answer. */
    const char *never = scratch("never-made");
    rmdir(never);
    assert_int_equal(tt_ckpt_dir_resume(never, &f, path, sizeof path, note, sizeof note),
                     TT_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_last_error(), "no valid checkpoint"));
    tt_test_data_free(&d);
}

/* After a fallback resume (the newest file is damaged), the next save deletes
 * the damaged newer file, keeps the one just written and points `latest` at
 * it, so the resume after that finds it. Rotation by "newest N by step" would
 * keep the damaged file and, with few enough kept, delete the new one. */
static void save_after_a_fallback_rotates_out_the_damaged_file(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 64, 30, 1.5f, 5);
    const char *dir = scratch("fallback-save");
    tt_ckpt_policy p = {.every_steps = 2, .keep = 2};
    tt_trainer_free(train_with_dir(dir, &p, &d, 3)); /* keeps s10, s12 */
    char path[4300], note[1024], target[4300];
    snprintf(target, sizeof target, "%s/ckpt-e0003-s000012.safetensors", dir);
    corrupt_file(target);
    tt_st_file *f;
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_non_null(strstr(path, "ckpt-e0002-s000010.safetensors"));
    tt_trainer *t = restore_from(f, &d);
    tt_st_close(f);
    tt_ckpt_dir *cd;
    tt_assert_ok(tt_ckpt_dir_open(&cd, dir, &p));
    tt_ckpt_meta m = the_meta();
    int ended, saved;
    tt_assert_ok(tt_trainer_step(t, &ended));
    tt_assert_ok(tt_ckpt_dir_save(cd, t, &m)); /* s11 */
    file_exists(dir, "ckpt-e0003-s000012.safetensors", 0);
    file_exists(dir, "ckpt-e0002-s000011.safetensors", 1);
    file_exists(dir, "ckpt-e0002-s000010.safetensors", 1);
    char *latest = read_latest(dir);
    assert_string_equal(latest, "ckpt-e0002-s000011.safetensors\n");
    free(latest);
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_string_equal(note, "");
    assert_non_null(strstr(path, "ckpt-e0002-s000011.safetensors"));
    tt_st_close(f);
    /* Training on writes a good s12 and rotates s10 out. */
    tt_assert_ok(tt_trainer_step(t, &ended));
    tt_assert_ok(tt_ckpt_dir_step(cd, t, &m, ended, &saved));
    assert_int_equal(saved, 1);
    assert_int_equal(count_files(dir, "ckpt-", ".safetensors"), 2);
    file_exists(dir, "ckpt-e0002-s000010.safetensors", 0);
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_string_equal(note, "");
    assert_non_null(strstr(path, "ckpt-e0003-s000012.safetensors"));
    tt_st_close(f);
    tt_ckpt_dir_free(cd);
    tt_trainer_free(t);
    tt_test_data_free(&d);
}

/* A save that cannot land (the target name is taken by a directory) fails
 * cleanly: `latest` still names the previous file, which still verifies. */
static void failed_save_keeps_the_previous_checkpoint(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 64, 30, 1.5f, 6);
    const char *dir = scratch("failed");
    tt_trainer_config cfg = base_config();
    tt_trainer *t = tt_test_trainer(&cfg, &d);
    tt_ckpt_policy p = {.every_steps = 1, .keep = 2};
    tt_ckpt_dir *cd;
    tt_assert_ok(tt_ckpt_dir_open(&cd, dir, &p));
    tt_ckpt_meta m = the_meta();
    int ended, saved;
    for (int s = 0; s < 3; s++) {
        tt_assert_ok(tt_trainer_step(t, &ended));
        tt_assert_ok(tt_ckpt_dir_step(cd, t, &m, ended, &saved));
        assert_int_equal(saved, 1);
    }
    char blocker[4300];
    snprintf(blocker, sizeof blocker, "%s/ckpt-e0001-s000004.safetensors", dir);
    assert_int_equal(mkdir(blocker, 0755), 0);
    tt_assert_ok(tt_trainer_step(t, &ended));
    assert_int_equal(tt_ckpt_dir_step(cd, t, &m, ended, &saved), TT_ERR_IO);
    assert_int_equal(saved, 0);
    char *latest = read_latest(dir);
    assert_string_equal(latest, "ckpt-e0000-s000003.safetensors\n");
    free(latest);
    file_exists(dir, "ckpt-e0000-s000002.safetensors", 1); /* rotation did not run */
    tt_st_file *f;
    char path[4300], note[256];
    tt_assert_ok(tt_ckpt_dir_resume(dir, &f, path, sizeof path, note, sizeof note));
    assert_string_equal(note, "");
    tt_st_close(f);
    /* No temp file is left behind. */
    assert_int_equal(rmdir(blocker), 0);
    tt_ckpt_dir_free(cd);
    snprintf(blocker, sizeof blocker, "%s/ckpt-e0000-s000009.safetensors.tmp-12345", dir);
    tt_chunk c = {"partial", 7};
    tt_assert_ok(tt_file_write_atomic(blocker, &c, 1));
    tt_assert_ok(tt_ckpt_dir_open(&cd, dir, &p));
    file_exists(dir, "ckpt-e0000-s000009.safetensors.tmp-12345", 0);
    tt_ckpt_dir_free(cd);
    tt_trainer_free(t);
    tt_test_data_free(&d);
}

/* The file tests/scripts/read_ckpt.py reads with Debian's numpy, plus the raw
 * f32 bytes of one tensor to compare against. */
static void writes_fixture_for_python(void **state) {
    (void)state;
    tt_test_data d = tt_test_data_make(D, C, 60, 20, 1.5f, 3);
    tt_trainer *t;
    blob b = saved_blob(&d, &t);
    char path[4300];
    snprintf(path, sizeof path, "%s/fixture.safetensors", tt_test_binary_path("test-ckpt"));
    mkdir(tt_test_binary_path("test-ckpt"), 0755);
    tt_chunk c = {b.bytes, b.len};
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
    const tt_named_tensor *ts;
    int n = tt_trainer_tensors(t, &ts);
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, "adam_m.head.hidden.kernel")) {
            snprintf(path, sizeof path, "%s/fixture.adam_m.head.hidden.kernel.f32",
                     tt_test_binary_path("test-ckpt"));
            tt_chunk v = {ts[i].data, tt_named_tensor_numel(&ts[i]) * sizeof(float)};
            tt_assert_ok(tt_file_write_atomic(path, &v, 1));
        }
    tt_trainer_free(t);
    free(b.bytes);
    tt_test_data_free(&d);
}

/* Export from a checkpoint: backbone tensors under their own names (logits
 * dropped, a fine-tuned "backbone.<layer>" replacing the frozen one), the
 * best epoch's head as "head.*", kind "export", and a refusal for another
 * backbone. The backbone here is a stand-in with two layers. */
static void export_combines_backbone_and_best_head(void **state) {
    (void)state;
    float stem[2 * 3 * 3 * 3], tuned[2 * 3 * 3 * 3], logits[4 * 2];
    tt_test_fill(stem, 54, 1, -1, 1), tt_test_fill(tuned, 54, 2, -1, 1), tt_test_fill(logits, 8, 3, -1, 1);
    int64_t s4[4] = {2, 3, 3, 3}, s2[2] = {4, 2};
    tt_st_builder *bb;
    tt_assert_ok(tt_st_builder_new(&bb));
    tt_assert_ok(tt_st_add(bb, "stem.weight", TT_DTYPE_F32, 4, s4, stem));
    tt_assert_ok(tt_st_add(bb, "logits.weight", TT_DTYPE_F32, 2, s2, logits));
    tt_assert_ok(tt_st_set_metadata(bb, "tabtrain.preprocess", "{\"range\":[-1,1]}"));
    tt_assert_ok(tt_st_set_metadata(bb, "tabtrain.input_size", "224"));
    void *bbytes;
    size_t blen;
    tt_assert_ok(tt_st_write_memory(bb, &bbytes, &blen));
    tt_st_builder_free(bb);
    tt_st_file *bbf;
    tt_assert_ok(tt_st_open_memory(&bbf, bbytes, blen));

    tt_test_data d = tt_test_data_make(D, C, 60, 20, 1.5f, 7);
    tt_trainer_config cfg = base_config();
    tt_trainer *t = tt_test_trainer(&cfg, &d);
    for (int e = 0; e < 3; e++) tt_assert_ok(tt_trainer_run_epoch(t));
    tt_assert_ok(tt_trainer_step(t, NULL)); /* head != best now */
    /* The current tuned layer and its best epoch's copy: the export takes the
     * copy of the same epoch as the head. */
    float current[2 * 3 * 3 * 3];
    tt_test_fill(current, 54, 4, -1, 1);
    tt_named_tensor extra[2] = {
        {.name = "backbone.stem.weight", .ndim = 4, .shape = {2, 3, 3, 3}, .data = current},
        {.name = "best.backbone.stem.weight", .ndim = 4, .shape = {2, 3, 3, 3}, .data = tuned}};
    tt_ckpt_meta m = the_meta();
    m.extra = extra, m.n_extra = 1;
    blob nobest;
    tt_assert_ok(tt_ckpt_save_memory(t, &m, (void **)&nobest.bytes, &nobest.len));
    tt_st_file *ck1;
    tt_assert_ok(tt_ckpt_open_memory(&ck1, nobest.bytes, nobest.len));
    tt_st_builder *out;
    assert_int_equal(tt_ckpt_export(ck1, bbf, backbone, &out), TT_ERR_FORMAT);
    assert_non_null(strstr(tt_last_error(), "best.backbone.stem.weight"));
    tt_st_close(ck1);
    free(nobest.bytes);
    m.n_extra = 2;
    blob b;
    tt_assert_ok(tt_ckpt_save_memory(t, &m, (void **)&b.bytes, &b.len));
    tt_st_file *ck;
    tt_assert_ok(tt_ckpt_open_memory(&ck, b.bytes, b.len));

    assert_int_equal(tt_ckpt_export(ck, bbf, "sha256:other", &out), TT_ERR_MISMATCH);
    tt_assert_ok(tt_ckpt_export(ck, bbf, backbone, &out));
    void *ebytes;
    size_t elen;
    tt_assert_ok(tt_st_write_memory(out, &ebytes, &elen));
    tt_st_builder_free(out);
    tt_st_file *ex;
    tt_assert_ok(tt_st_open_memory(&ex, ebytes, elen));
    assert_string_equal(tt_st_metadata(ex, "tabtrain.kind"), "export");
    assert_string_equal(tt_st_metadata(ex, "tabtrain.weights"), "best");
    assert_string_equal(tt_st_metadata(ex, "tabtrain.classes"), classes);
    assert_string_equal(tt_st_metadata(ex, "tabtrain.input_size"), "224");
    assert_null(tt_st_find(ex, "logits.weight"));
    assert_null(tt_st_find(ex, "adam_m.head.logits.kernel"));
    assert_memory_equal(tt_st_find(ex, "stem.weight")->data, tuned, sizeof tuned);
    assert_best_head(ex, t);
    assert_int_equal(tt_st_count(ex), 5);
    char *json;
    tt_assert_ok(tt_ckpt_export_json(ex, "model.safetensors", &json));
    assert_non_null(strstr(json, "\"classes\": [\"cat\""));
    assert_non_null(strstr(json, "\"input_size\": 224"));
    assert_non_null(strstr(json, "\"preprocess\": {\"range\":[-1,1]}"));
    free(json);
    tt_st_close(ex), tt_st_close(ck), tt_st_close(bbf);
    free(ebytes), free(b.bytes), free(bbytes);
    tt_trainer_free(t);
    tt_test_data_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_is_bit_identical),
        cmocka_unit_test(resume_through_a_file_is_bit_exact),
        cmocka_unit_test(damaged_files_are_refused),
        cmocka_unit_test(other_classes_or_backbone_are_refused),
        cmocka_unit_test(directory_rotates_and_tracks_best),
        cmocka_unit_test(best_file_keeps_the_best_epoch_not_the_last),
        cmocka_unit_test(resume_falls_back_and_says_so),
        cmocka_unit_test(save_after_a_fallback_rotates_out_the_damaged_file),
        cmocka_unit_test(failed_save_keeps_the_previous_checkpoint),
        cmocka_unit_test(export_combines_backbone_and_best_head),
        cmocka_unit_test(writes_fixture_for_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
