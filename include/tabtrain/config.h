/* tabtrain/config.h — every training setting, once.
 *
 * One table (TT_CONFIG_SETTINGS in src/app/config.c) lists each setting:
 * its key, type, field, default, range, help text and a label for people.
 * The key is the one spelling everywhere: the JSON key of the engine API and
 * of files (snake_case), and the CLI flag with dashes (`lr` → --lr,
 * `val_fraction` → --val-fraction). From the table come the defaults,
 * parsing of CLI text and of JSON, the config a checkpoint or model file
 * stores, the comparison on resume, `tabtrain train --help`, and the schema
 * the page builds its settings form from. A new setting is one row there
 * (plus a field here, and whatever uses it).
 *
 * Older files spelled some keys otherwise (the trainer's `hidden` is the
 * same key; the engine wrote `learning_rate`, `hidden_units`; the CLI
 * `val_split`): readers accept those aliases, writers never write them.
 *
 *     tt_config c = tt_config_defaults();
 *     tt_config_set(&c, "lr", "0.003");               // CLI text
 *     tt_config_from_json(&c, "{\"epochs\":4}", 0);    // engine input: unknown keys refused
 *     tt_config_validate(&c);                          // cross-setting rules
 *     char *js = tt_config_to_json(&c);                // every key, canonical
 *     tt_config_compare(&saved, &c);                   // resume: names the first difference
 */
#ifndef TABTRAIN_CONFIG_H
#define TABTRAIN_CONFIG_H

#include <stddef.h>

#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_CONFIG_TEXT 64

typedef struct tt_config {
    tt_trainer_config train; /* what the trainer consumes */
    float val_fraction;      /* stratified seeded split of the labelled pictures */
    char augment[TT_CONFIG_TEXT]; /* tt_augment_parse list; "" = none */
    int augment_views;            /* augmented views per training picture (with augment) */
    int unfreeze;                 /* fine-tuned backbone blocks; 0 = frozen */
    int init_from_model;          /* the imported model's weights start the run */
} tt_config;

typedef enum tt_setting_type {
    TT_SETTING_INT,
    TT_SETTING_FLOAT,
    TT_SETTING_U64,
    TT_SETTING_CHOICE, /* an int field holding the index into `choices` */
    TT_SETTING_TEXT,
    TT_SETTING_BOOL,
} tt_setting_type;

/* A setting's row. */
typedef struct tt_setting {
    const char *key;     /* JSON key; CLI flag = "--" + key with '_' → '-' */
    tt_setting_type type;
    size_t offset;       /* of the field in tt_config */
    double def, lo, hi;  /* CHOICE: def = index; TEXT: unused */
    const char *text_def; /* TEXT default */
    const char *choices; /* CHOICE: "adam|sgd" */
    const char *alias;   /* key older files used, or NULL */
    int may_change;      /* may differ on resume (epochs) */
    int cli;             /* has a CLI flag (init_from_model has none) */
    const char *group;   /* where the page's form shows it: "basic", "advanced", "import" */
    const char *label;   /* for people (the page's form) */
    const char *help;
} tt_setting;

/* The table, in its order. */
const tt_setting *tt_config_settings(int *n);
/* The row of a key, alias, or CLI flag ("--val-fraction", "val-fraction"); NULL when unknown. */
const tt_setting *tt_config_find(const char *name);

/* "--" + key with dashes into buf. */
const char *tt_config_flag(const tt_setting *s, char *buf, size_t cap);

tt_config tt_config_defaults(void);
/* A value given as text (CLI): checked against the row's type and range. */
tt_status tt_config_set(tt_config *c, const tt_setting *s, const char *text);
/* Applies the members of a JSON object. Strict (lenient = 0): an unknown key,
 * a value of the wrong type or out of range is TT_ERR_INVALID_ARG naming the
 * key. Lenient (reading a file): unknown keys are skipped. */
tt_status tt_config_from_json(tt_config *c, const char *json, int lenient);
/* Rules between settings (backbone_lr needs unfreeze, the augment list parses). */
tt_status tt_config_validate(const tt_config *c);
/* Every setting, canonical keys, numbers that round-trip; malloc'd (NULL: no memory). */
char *tt_config_to_json(const tt_config *c);
/* Setting s of src into dst (a resume takes the settings not given from the file). */
void tt_config_copy_setting(tt_config *dst, const tt_config *src, const tt_setting *s);
/* TT_ERR_MISMATCH naming the first setting that differs (and may not change
 * on resume), with both values. augment_views counts only with augment. */
tt_status tt_config_compare(const tt_config *saved, const tt_config *run);
/* The config a checkpoint or model file was made with: defaults, then its
 * tabtrain.trainer (files from before this table carry some settings only
 * there), then its tabtrain.config (aliases mapped, unknown keys skipped). */
tt_status tt_config_from_file(const tt_st_file *f, tt_config *c);
/* A named set of settings on top of the defaults ("best": fine-tunes the last
 * blocks), defined once here for every front end: the page's preset menu and
 * `tabtrain train --preset`. */
typedef struct tt_preset {
    const char *key;      /* "recommended" (the defaults), "best" */
    const char *label;    /* for people */
    const char *help;
    const char *settings; /* JSON object of the settings it changes */
} tt_preset;
const tt_preset *tt_config_presets(int *n);
/* The preset named `key` applied to c (the other settings stay); TT_ERR_INVALID_ARG
 * naming the presets when there is none of that name. */
tt_status tt_config_apply_preset(tt_config *c, const char *key);

/* {"settings":[{"key","type","group","label","help","default","min","max","choices"},...],
 *  "presets":[{"key","label","help","settings":{...}},...]} for the page's form; malloc'd. */
char *tt_config_schema_json(void);
/* `--help` lines for every setting with a CLI flag, defaults included; malloc'd. */
char *tt_config_usage(void);

#ifdef __cplusplus
}
#endif
#endif
