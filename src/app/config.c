/* The training settings table and everything generated from it (tabtrain/config.h). */
#include "tabtrain/config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/image.h"
#include "tabtrain/json.h"
#include "tabtrain/strbuf.h"
#include "tabtrain/tail.h"

#define TT_MAX_VIEWS 8            /* augmented views: memory grows with each (browser) */
#define TT_SEED_MAX 9007199254740991.0 /* 2^53 - 1: exact in a JSON number */

/* X(key, TYPE, field, default, min, max, choices, alias, may_change, cli, group, label, help)
 * CHOICE defaults are the index into choices; TEXT is a list of some of its choices,
 * comma-separated, its default a string. The defaults are what a new user gets, in the
 * page and on the command line: measured by scripts/measure-defaults (README, "Default
 * settings"). group places a setting in the page's form: "basic" in view, "advanced"
 * under Advanced, "import" only when a model was imported; label is its name there. */
#define TT_CONFIG_SETTINGS(X)                                                                                  \
    X(epochs, INT, train.epochs, 30, 1, 1000000, NULL, NULL, 1, 1, "basic", "Epochs",                          \
      "passes over the training pictures (at most: early stopping may end the run sooner)")                    \
    X(batch_size, INT, train.batch_size, 32, 1, 65536, NULL, NULL, 0, 1, "basic", "Batch size",                \
      "pictures per optimizer step")                                                                           \
    X(optimizer, CHOICE, train.optimizer, 0, 0, 1, "adam|sgd", NULL, 0, 1, "advanced", "Optimizer",            \
      "adam or sgd")                                                                                           \
    X(lr, FLOAT, train.lr, 1e-3, 1e-12, 1e3, NULL, "learning_rate", 0, 1, "basic", "Learning rate",            \
      "step size of the optimizer")                                                                            \
    X(momentum, FLOAT, train.momentum, 0.9, 0, 0.999999, NULL, NULL, 0, 1, "advanced", "Momentum", "sgd only") \
    X(weight_decay, FLOAT, train.weight_decay, 0, 0, 100, NULL, NULL, 0, 1, "advanced", "Weight decay",        \
      "shrinks the weights a little at each step (decoupled, weights only, not biases)")                       \
    X(schedule, CHOICE, train.schedule, 0, 0, 2, "constant|cosine|step", NULL, 0, 1, "advanced",               \
      "Learning-rate schedule", "constant, cosine decay, or step decay")                                       \
    X(warmup_steps, INT, train.warmup_steps, 0, 0, 1e9, NULL, NULL, 0, 1, "advanced", "Warm-up steps",         \
      "cosine: steps of linear warm-up")                                                                       \
    X(step_epochs, INT, train.step_epochs, 10, 1, 1000000, NULL, NULL, 0, 1, "advanced", "Decay every",        \
      "step: decay the rate every N epochs")                                                                   \
    X(gamma, FLOAT, train.gamma, 0.1, 0, 1, NULL, NULL, 0, 1, "advanced", "Decay factor",                      \
      "step: factor of each decay")                                                                            \
    X(label_smoothing, FLOAT, train.label_smoothing, 0.1, 0, 0.999, NULL, NULL, 0, 1, "advanced",              \
      "Label smoothing", "share of the target spread over the other classes, against overconfidence")          \
    X(hidden, INT, train.hidden, 256, 0, 65536, NULL, "hidden_units", 0, 1, "advanced", "Hidden units",        \
      "units of a hidden layer in the head; 0 = no hidden layer")                                              \
    X(dropout, FLOAT, train.dropout, 0.5, 0, 0.99, NULL, NULL, 0, 1, "advanced", "Dropout",                    \
      "share of the hidden units switched off at random in each step, against overfitting")                    \
    X(patience, INT, train.patience, 6, 0, 1000000, NULL, NULL, 0, 1, "advanced", "Early stopping patience",   \
      "stop after N epochs without a better validation loss and keep the best epoch; 0 = never")               \
    X(seed, U64, train.seed, 42, 0, TT_SEED_MAX, NULL, NULL, 0, 1, "advanced", "Seed",                         \
      "fixes the split, the order, augmentation, dropout and initialisation")                                  \
    X(backbone_lr, FLOAT, train.backbone_lr, 0, 0, 1e3, NULL, NULL, 0, 1, "advanced",                          \
      "Base model learning rate", "with fine-tuned blocks: their learning rate; 0 = a tenth of the learning rate") \
    X(val_fraction, FLOAT, val_fraction, 0.2, 0, 0.95, NULL, "val_split", 0, 1, "advanced", "Validation share", \
      "share of each class held out for validation (stratified, seeded); 0 = none")                            \
    X(augment, TEXT, augment, "flip,zoom", 0, 0, "flip|zoom|shear|brightness", NULL, 0, 1, "basic",            \
      "Augmentation", "each training picture also gets randomly transformed copies: some of flip,zoom,shear,"  \
      "brightness; none = off")                                                                                \
    X(augment_views, INT, augment_views, 3, 0, TT_MAX_VIEWS, NULL, NULL, 0, 1, "basic", "Copies per picture",  \
      "transformed copies of each training picture (with augmentation), computed once")                        \
    X(unfreeze, INT, unfreeze, 1, 0, TT_UNFREEZE_MAX, NULL, NULL, 0, 1, "advanced",                            \
      "Fine-tuned blocks of the base model",                                                                   \
      "also fine-tune the last K blocks of the base model and its final 1x1 convolution; slower, more memory; " \
      "0 = base model frozen")                                                                                 \
    X(init_from_model, BOOL, init_from_model, 0, 0, 1, NULL, NULL, 0, 0, "import",                             \
      "Continue from the imported model", "the imported model's weights start the run")

#define TT_NUMDEF_INT(v) (double)(v)
#define TT_NUMDEF_FLOAT(v) (double)(v)
#define TT_NUMDEF_U64(v) (double)(v)
#define TT_NUMDEF_CHOICE(v) (double)(v)
#define TT_NUMDEF_BOOL(v) (double)(v)
#define TT_NUMDEF_TEXT(v) 0.0
#define TT_TEXTDEF_INT(v) NULL
#define TT_TEXTDEF_FLOAT(v) NULL
#define TT_TEXTDEF_U64(v) NULL
#define TT_TEXTDEF_CHOICE(v) NULL
#define TT_TEXTDEF_BOOL(v) NULL
#define TT_TEXTDEF_TEXT(v) v

#define TT_ROW(key, T, field, def, lo, hi, choices, alias, may, cli, group, label, help)                          \
    {#key, TT_SETTING_##T, offsetof(tt_config, field), TT_NUMDEF_##T(def), lo, hi, TT_TEXTDEF_##T(def),    \
     choices, alias, may, cli, group, label, help},
static const tt_setting tt_settings[] = {TT_CONFIG_SETTINGS(TT_ROW)};
#undef TT_ROW
#define TT_N_SETTINGS ((int)(sizeof tt_settings / sizeof *tt_settings))

const tt_setting *tt_config_settings(int *n) {
    *n = TT_N_SETTINGS;
    return tt_settings;
}

/* name as key, alias or flag: dashes and underscores are the same letter. */
static int tt_name_is(const char *name, const char *key) {
    if (!key) return 0;
    for (; *name && *key; name++, key++)
        if (*name != *key && !(*name == '-' && *key == '_')) return 0;
    return !*name && !*key;
}

const tt_setting *tt_config_find(const char *name) {
    if (!name) return NULL;
    if (!strncmp(name, "--", 2)) name += 2;
    for (int i = 0; i < TT_N_SETTINGS; i++)
        if (tt_name_is(name, tt_settings[i].key) || tt_name_is(name, tt_settings[i].alias)) return &tt_settings[i];
    return NULL;
}

const char *tt_config_flag(const tt_setting *s, char *buf, size_t cap) {
    snprintf(buf, cap, "--%s", s->key);
    for (char *q = buf; *q; q++)
        if (*q == '_') *q = '-';
    return buf;
}

static void *tt_field(tt_config *c, const tt_setting *s) { return (char *)c + s->offset; }
static const void *tt_cfield(const tt_config *c, const tt_setting *s) { return (const char *)c + s->offset; }

/* The choice index of `text`, -1 when it is none of them. */
static int tt_choice(const tt_setting *s, const char *text, size_t n) {
    const char *p = s->choices;
    for (int k = 0; p; k++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, text, n)) return k;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

static const char *tt_choice_name(const tt_setting *s, int k, char *buf, size_t cap) {
    const char *p = s->choices;
    for (int i = 0; i < k && p; i++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
    size_t len = p ? (strchr(p, '|') ? (size_t)(strchr(p, '|') - p) : strlen(p)) : 0;
    snprintf(buf, cap, "%.*s", (int)len, p ? p : "");
    return buf;
}

static tt_status tt_range_error(const tt_setting *s, const char *got) {
    switch (s->type) {
    case TT_SETTING_INT:
    case TT_SETTING_U64:
        return tt_error(TT_ERR_INVALID_ARG, "%s must be a whole number from %.17g to %.17g, got %s", s->key, s->lo,
                        s->hi, got);
    case TT_SETTING_FLOAT:
        return tt_error(TT_ERR_INVALID_ARG, "%s must be a number from %g to %g, got %s", s->key, s->lo, s->hi, got);
    case TT_SETTING_CHOICE:
        return tt_error(TT_ERR_INVALID_ARG, "%s must be one of %s, got %s", s->key, s->choices, got);
    case TT_SETTING_BOOL:
        return tt_error(TT_ERR_INVALID_ARG, "%s must be true or false, got %s", s->key, got);
    case TT_SETTING_TEXT:
        break;
    }
    return tt_error(TT_ERR_INVALID_ARG, "%s: at most %d characters", s->key, TT_CONFIG_TEXT - 1);
}

/* A number for a numeric row: range and (INT, U64) wholeness checked, stored. */
static tt_status tt_store_number(tt_config *c, const tt_setting *s, double v, const char *got) {
    int whole = s->type != TT_SETTING_FLOAT;
    if (!isfinite(v) || v < s->lo || v > s->hi || (whole && v != floor(v))) return tt_range_error(s, got);
    void *f = tt_field(c, s);
    if (s->type == TT_SETTING_INT || s->type == TT_SETTING_CHOICE || s->type == TT_SETTING_BOOL) *(int *)f = (int)v;
    else if (s->type == TT_SETTING_U64) *(uint64_t *)f = (uint64_t)v;
    else *(float *)f = (float)v;
    return TT_OK;
}

static tt_status tt_store_text(tt_config *c, const tt_setting *s, const char *text) {
    if (strlen(text) >= TT_CONFIG_TEXT) return tt_range_error(s, text);
    snprintf((char *)tt_field(c, s), TT_CONFIG_TEXT, "%s", text);
    return TT_OK;
}

tt_config tt_config_defaults(void) {
    tt_config c;
    memset(&c, 0, sizeof c);
    c.train = tt_trainer_defaults();
    for (int i = 0; i < TT_N_SETTINGS; i++) {
        const tt_setting *s = &tt_settings[i];
        if (s->type == TT_SETTING_TEXT) tt_store_text(&c, s, s->text_def);
        else tt_store_number(&c, s, s->def, "");
    }
    return c;
}

tt_status tt_config_set(tt_config *c, const tt_setting *s, const char *text) {
    /* A list is on by default (augment): "none" turns it off on a command line. */
    if (s->type == TT_SETTING_TEXT) return tt_store_text(c, s, strcmp(text, "none") ? text : "");
    if (s->type == TT_SETTING_CHOICE) {
        int k = tt_choice(s, text, strlen(text));
        return k < 0 ? tt_range_error(s, text) : tt_store_number(c, s, k, text);
    }
    if (s->type == TT_SETTING_BOOL) {
        int v = !strcmp(text, "true") || !strcmp(text, "1") ? 1 : !strcmp(text, "false") || !strcmp(text, "0") ? 0 : -1;
        return v < 0 ? tt_range_error(s, text) : tt_store_number(c, s, v, text);
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno) return tt_range_error(s, text);
    return tt_store_number(c, s, v, text);
}

/* One JSON member value into its row. */
static tt_status tt_set_json(tt_config *c, const tt_setting *s, const tt_json *j, int i) {
    char got[64];
    if (!tt_json_text(j, i, got, sizeof got)) snprintf(got, sizeof got, "a value of another type");
    if (s->type == TT_SETTING_TEXT) {
        char *v;
        tt_status st = tt_json_string(j, i, &v);
        if (st) return st == TT_ERR_FORMAT ? tt_error(TT_ERR_INVALID_ARG, "%s must be a string", s->key) : st;
        st = tt_store_text(c, s, v);
        free(v);
        return st;
    }
    if (s->type == TT_SETTING_BOOL) {
        int v;
        return tt_json_bool(j, i, &v) ? tt_store_number(c, s, v, got) : tt_range_error(s, got);
    }
    if (s->type == TT_SETTING_CHOICE) {
        for (int k = 0; s->choices && k < 8; k++) {
            char name[32];
            tt_choice_name(s, k, name, sizeof name);
            if (*name && tt_json_eq(j, i, name)) return tt_store_number(c, s, k, got);
        }
        return tt_range_error(s, got);
    }
    double v;
    uint64_t u;
    /* A seed may also come as a decimal string (the trainer's own record writes it so). */
    if (s->type == TT_SETTING_U64 && tt_json_u64(j, i, &u) && (double)u <= s->hi) {
        *(uint64_t *)tt_field(c, s) = u;
        return TT_OK;
    }
    if (!tt_json_num(j, i, &v, 0)) return tt_range_error(s, got);
    return tt_store_number(c, s, v, got);
}

tt_status tt_config_from_json(tt_config *c, const char *json, int lenient) {
    tt_json j;
    tt_status st = tt_json_parse(&j, json ? json : "");
    if (st) return tt_error(TT_ERR_INVALID_ARG, "training config: %s", tt_last_error());
    int n = tt_json_members(&j, 0);
    if (n < 0) st = tt_error(TT_ERR_INVALID_ARG, "training config must be a JSON object");
    tt_config out = *c;
    for (int m = 0; !st && m < n; m++) {
        int k = tt_json_member(&j, 0, m);
        char key[64];
        if (!tt_json_text(&j, k, key, sizeof key)) snprintf(key, sizeof key, "(a long key)");
        const tt_setting *s = strchr(key, '-') ? NULL : tt_config_find(key);
        if (s) st = tt_set_json(&out, s, &j, k + 1);
        else if (!lenient) st = tt_error(TT_ERR_INVALID_ARG, "unknown training config key %s", key);
    }
    tt_json_free(&j);
    if (!st) *c = out;
    return st;
}

tt_status tt_config_validate(const tt_config *c) {
    if (c->train.backbone_lr != 0 && !c->unfreeze)
        return tt_error(TT_ERR_INVALID_ARG, "backbone_lr needs unfreeze > 0");
    tt_augment a;
    if (tt_augment_parse(c->augment, &a))
        return tt_error(TT_ERR_INVALID_ARG, "augment: %s", tt_last_error());
    return TT_OK;
}

/* json: a JSON value whose floats round-trip (%.9g); else text for people (%g). */
static void tt_put_value(tt_strbuf *b, const tt_config *c, const tt_setting *s, int json) {
    const void *f = tt_cfield(c, s);
    char name[32];
    switch (s->type) {
    case TT_SETTING_INT: tt_strbuf_printf(b, "%d", *(const int *)f); break;
    case TT_SETTING_U64: tt_strbuf_printf(b, "%llu", (unsigned long long)*(const uint64_t *)f); break;
    case TT_SETTING_FLOAT: tt_strbuf_printf(b, json ? "%.9g" : "%g", (double)*(const float *)f); break;
    case TT_SETTING_BOOL: tt_strbuf_printf(b, "%s", *(const int *)f ? "true" : "false"); break;
    case TT_SETTING_CHOICE:
        tt_choice_name(s, *(const int *)f, name, sizeof name);
        if (json) tt_strbuf_quote(b, name);
        else tt_strbuf_printf(b, "%s", name);
        break;
    case TT_SETTING_TEXT:
        if (json) tt_strbuf_quote(b, (const char *)f);
        else tt_strbuf_printf(b, "\"%s\"", (const char *)f);
        break;
    }
}

char *tt_config_to_json(const tt_config *c) {
    tt_strbuf b = {0};
    for (int i = 0; i < TT_N_SETTINGS; i++) {
        tt_strbuf_printf(&b, "%s\"%s\":", i ? "," : "{", tt_settings[i].key);
        tt_put_value(&b, c, &tt_settings[i], 1);
    }
    tt_strbuf_printf(&b, "}");
    return tt_strbuf_take(&b);
}

static size_t tt_field_size(const tt_setting *s) {
    switch (s->type) {
    case TT_SETTING_U64: return sizeof(uint64_t);
    case TT_SETTING_FLOAT: return sizeof(float);
    case TT_SETTING_TEXT: return TT_CONFIG_TEXT;
    default: return sizeof(int);
    }
}

void tt_config_copy_setting(tt_config *dst, const tt_config *src, const tt_setting *s) {
    memcpy((char *)dst + s->offset, (const char *)src + s->offset, tt_field_size(s));
}

tt_status tt_config_compare(const tt_config *saved, const tt_config *run) {
    for (int i = 0; i < TT_N_SETTINGS; i++) {
        const tt_setting *s = &tt_settings[i];
        if (s->may_change) continue;
        /* Views only exist with an augment list; a fresh start flag is not part of the state. */
        if (!strcmp(s->key, "augment_views") && !saved->augment[0] && !run->augment[0]) continue;
        if (s->type == TT_SETTING_BOOL) continue;
        int same = s->type == TT_SETTING_TEXT ? !strcmp(tt_cfield(saved, s), tt_cfield(run, s))
                                              : !memcmp(tt_cfield(saved, s), tt_cfield(run, s), tt_field_size(s));
        if (same) continue;
        tt_strbuf a = {0}, b = {0};
        tt_put_value(&a, saved, s, 0);
        tt_put_value(&b, run, s, 0);
        char flag[64];
        tt_config_flag(s, flag, sizeof flag);
        tt_status st = tt_error(TT_ERR_MISMATCH,
                                "checkpoint was trained with %s %s; this run has %s %s (only the epoch count may "
                                "change on resume)",
                                flag, a.s ? a.s : "?", flag, b.s ? b.s : "?");
        tt_strbuf_free(&a), tt_strbuf_free(&b);
        return st;
    }
    return TT_OK;
}

tt_status tt_config_from_file(const tt_st_file *f, tt_config *c) {
    tt_config out = tt_config_defaults();
    const char *keys[2] = {"tabtrain.trainer", "tabtrain.config"};
    for (int i = 0; i < 2; i++) {
        const char *js = tt_st_metadata(f, keys[i]);
        tt_status st = js ? tt_config_from_json(&out, js, 1) : TT_OK;
        if (st) return tt_error(TT_ERR_FORMAT, "%s: %s", keys[i], tt_last_error());
    }
    *c = out;
    return TT_OK;
}

static const char *tt_type_name(tt_setting_type t) {
    static const char *names[] = {"int", "number", "int", "choice", "list", "bool"};
    return names[t];
}

/* The recommended preset is the defaults themselves; the others change a few settings. */
static const tt_preset tt_presets[] = {
    {"recommended", "Recommended", "the defaults: a hidden layer and the last block of the base model trained",
     "{}"},
    {"best", "Best accuracy (slower)",
     "the defaults, and the last 2 blocks of the base model fine-tuned at 0.3 times the learning rate: "
     "slower to prepare and to train, more memory",
     "{\"unfreeze\":2,\"backbone_lr\":0.0003}"},
};
#define TT_N_PRESETS ((int)(sizeof tt_presets / sizeof *tt_presets))

const tt_preset *tt_config_presets(int *n) {
    *n = TT_N_PRESETS;
    return tt_presets;
}

tt_status tt_config_apply_preset(tt_config *c, const char *key) {
    for (int i = 0; i < TT_N_PRESETS; i++)
        if (key && !strcmp(key, tt_presets[i].key)) return tt_config_from_json(c, tt_presets[i].settings, 0);
    tt_strbuf names = {0};
    for (int i = 0; i < TT_N_PRESETS; i++) tt_strbuf_printf(&names, "%s%s", i ? ", " : "", tt_presets[i].key);
    tt_status st = tt_error(TT_ERR_INVALID_ARG, "no preset named \"%s\" (there are %s)", key ? key : "",
                            names.s ? names.s : "none");
    tt_strbuf_free(&names);
    return st;
}

/* The names of a CHOICE or list setting as a JSON array. */
static void tt_put_choices(tt_strbuf *b, const tt_setting *s) {
    tt_strbuf_printf(b, "[");
    int k = 0;
    for (const char *p = s->choices; p; k++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        tt_strbuf_printf(b, "%s", k ? "," : "");
        tt_strbuf_quote(b, name);
        p = bar ? bar + 1 : NULL;
    }
    tt_strbuf_printf(b, "]");
}

char *tt_config_schema_json(void) {
    tt_strbuf b = {0};
    tt_config d = tt_config_defaults();
    tt_strbuf_printf(&b, "{\"settings\":[");
    for (int i = 0; i < TT_N_SETTINGS; i++) {
        const tt_setting *s = &tt_settings[i];
        tt_strbuf_printf(&b, "%s{\"key\":\"%s\",\"type\":\"%s\",\"group\":\"%s\",\"label\":", i ? "," : "", s->key,
                         tt_type_name(s->type), s->group);
        tt_strbuf_quote(&b, s->label);
        tt_strbuf_printf(&b, ",\"help\":");
        tt_strbuf_quote(&b, s->help);
        tt_strbuf_printf(&b, ",\"default\":");
        /* The table's decimal, not the float nearest to it: the page shows and sends it back. */
        if (s->type == TT_SETTING_FLOAT) tt_strbuf_printf(&b, "%.17g", s->def);
        else tt_put_value(&b, &d, s, 1);
        if (s->type == TT_SETTING_INT || s->type == TT_SETTING_U64 || s->type == TT_SETTING_FLOAT)
            tt_strbuf_printf(&b, ",\"min\":%.17g,\"max\":%.17g", s->lo, s->hi);
        if (s->choices) {
            tt_strbuf_printf(&b, ",\"choices\":");
            tt_put_choices(&b, s);
        }
        tt_strbuf_printf(&b, "}");
    }
    tt_strbuf_printf(&b, "],\"presets\":[");
    for (int i = 0; i < TT_N_PRESETS; i++) {
        const tt_preset *p = &tt_presets[i];
        tt_strbuf_printf(&b, "%s{\"key\":\"%s\",\"label\":", i ? "," : "", p->key);
        tt_strbuf_quote(&b, p->label);
        tt_strbuf_printf(&b, ",\"help\":");
        tt_strbuf_quote(&b, p->help);
        tt_strbuf_printf(&b, ",\"settings\":%s}", p->settings);
    }
    tt_strbuf_printf(&b, "]}");
    return tt_strbuf_take(&b);
}

char *tt_config_usage(void) {
    tt_strbuf b = {0};
    tt_config d = tt_config_defaults();
    for (int i = 0; i < TT_N_SETTINGS; i++) {
        const tt_setting *s = &tt_settings[i];
        if (!s->cli) continue;
        char flag[64];
        tt_config_flag(s, flag, sizeof flag);
        const char *arg = s->type == TT_SETTING_CHOICE ? s->choices : s->type == TT_SETTING_TEXT ? "LIST"
                        : s->type == TT_SETTING_FLOAT ? "X" : "N";
        char left[96];
        snprintf(left, sizeof left, "%s %s", flag, arg);
        tt_strbuf_printf(&b, "  %-26s %s (", left, s->help);
        if (s->type == TT_SETTING_TEXT && !*(const char *)tt_cfield(&d, s)) tt_strbuf_printf(&b, "none");
        else tt_put_value(&b, &d, s, 0);
        tt_strbuf_printf(&b, ")\n");
    }
    return tt_strbuf_take(&b);
}
