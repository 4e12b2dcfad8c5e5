/* src/wasm/api.h — the functions web/worker.js calls; contract in docs/wasm-api.md.
 * Not a library header: the worker is the user, tests/unit/test_wasm_api.c the check. */
#ifndef TT_WASM_API_H
#define TT_WASM_API_H

#include <stdint.h>

#include "tabtrain/app.h"
#include "tabtrain/run.h"

/* What tt_wasm_train_step returns besides a negative tt_status: the run's
 * events (tabtrain/run.h); web/worker.js names the same values
 * (tests/e2e/codes.test.mjs checks that they agree). */
enum {
    TT_WASM_STEP_DONE = 0,      /* the budget ran out mid-epoch */
    TT_WASM_STEP_EPOCH = 1,     /* an epoch ended (metrics are new) */
    TT_WASM_STEP_FINISHED = 2,  /* the run is over */
    TT_WASM_STEP_PREPARING = 3, /* still computing the run's rows, no step taken */
    TT_WASM_STEP_NEED_IMAGE = 4, /* preparing waits for a picture: tt_wasm_needed_image, tt_wasm_give_image */
};
/* What tt_wasm_load and tt_wasm_resume return besides a negative tt_status. */
enum {
    TT_WASM_LOAD_RUN = 0,   /* a checkpoint of this project's pictures: its run continues */
    TT_WASM_LOAD_MODEL = 1, /* a model that predicts and may start the next run */
    TT_WASM_LOAD_NONE = 2,  /* tt_wasm_resume: no checkpoint to continue */
};
_Static_assert(TT_WASM_STEP_DONE == (int)TT_RUN_STEPPED && TT_WASM_STEP_EPOCH == (int)TT_RUN_EPOCH &&
                   TT_WASM_STEP_FINISHED == (int)TT_RUN_FINISHED && TT_WASM_STEP_PREPARING == (int)TT_RUN_PREPARING &&
                   TT_WASM_STEP_NEED_IMAGE == (int)TT_RUN_NEED_PICTURE,
               "the engine returns the run's events");
_Static_assert(TT_WASM_LOAD_RUN == (int)TT_APP_LOADED_RUN && TT_WASM_LOAD_MODEL == (int)TT_APP_LOADED_MODEL &&
                   TT_WASM_LOAD_NONE == (int)TT_APP_LOADED_NONE,
               "the engine returns what a checkpoint became");

int tt_wasm_abi_version(void);
const char *tt_wasm_sha256_hex(const uint8_t *bytes, int len);
const char *tt_wasm_config_schema(void);
const char *tt_wasm_last_error(int h);
int tt_wasm_open(const char *root);
int tt_wasm_set_weights(int h, const uint8_t *weights, int len);
void tt_wasm_destroy(int h);
int tt_wasm_set_threads(int h, int threads);
int tt_wasm_class_create(int h, const char *name);
int tt_wasm_class_rename(int h, int id, const char *name);
int tt_wasm_class_delete(int h, int id);
int tt_wasm_import_classes(int h);
int tt_wasm_add_images(int h, int class_id, int n, const uint8_t *const *bytes, const int *lens,
                       const char *const *names, int *ids);
const char *tt_wasm_add_error(int h, int i);
int tt_wasm_add_image(int h, int class_id, const uint8_t *bytes, int len, const char *name);
int tt_wasm_remove_image(int h, int image_id);
const char *tt_wasm_dataset_json(int h);
const uint8_t *tt_wasm_part(int h, int i, int which, int *len);
int tt_wasm_needed_image(int h);
int tt_wasm_give_image(int h, int image_id, const uint8_t *bytes, int len);
const char *tt_wasm_upgrade_record(const uint8_t *record, int len);
const char *tt_wasm_picture_parts(const uint8_t *bytes, int len);
int tt_wasm_train_begin(int h, const char *config_json);
int tt_wasm_train_step(int h, int budget_ms);
int tt_wasm_resume(int h);
int tt_wasm_save(int h);
const char *tt_wasm_train_state_json(int h);
const char *tt_wasm_metrics_json(int h);
const char *tt_wasm_history_json(int h);
int tt_wasm_load(int h, const char *path);
const char *tt_wasm_model_json(int h);
const char *tt_wasm_predict(int h, const uint8_t *bytes, int len);
int tt_wasm_export(int h, const char *path, const char *json, const char *format);
int tt_wasm_reset(int h);
int tt_wasm_check_image(int h, const uint8_t *bytes, int len);
int tt_wasm_check_checkpoint(int h, const uint8_t *bytes, int len);

#endif
