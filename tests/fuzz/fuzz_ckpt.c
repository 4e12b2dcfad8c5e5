/* libFuzzer: checkpoint restore (train --resume, the page's resume) into a
 * small trainer: 8 features, 3 classes, 12 training rows, hidden 4. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_build.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/config.h"
#include "tabtrain/trainer.h"

enum { DIM = 8, CLASSES = 3, NTRAIN = 12, NVAL = 4 };
static float g_x[(NTRAIN + NVAL) * DIM];
static int32_t g_y[NTRAIN + NVAL];

static tt_trainer_config fz_config(void) {
    tt_trainer_config c = tt_trainer_defaults();
    c.epochs = 3, c.batch_size = 4, c.hidden = 4, c.dropout = 0.1f, c.seed = 5;
    c.label_smoothing = 0.0f, c.patience = 0; /* as when the committed seed was made */
    return c;
}

/* FZ_SEED=path: also writes a real checkpoint of this trainer after one
 * epoch there (how the committed seed was made). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 0; i < NTRAIN + NVAL; i++) {
        g_y[i] = i % CLASSES;
        for (int d = 0; d < DIM; d++) g_x[i * DIM + d] = (float)((i * 7 + d * 3) % 11) / 11.0f - 0.5f + (float)g_y[i];
    }
    const char *seed = getenv("FZ_SEED");
    if (seed) {
        tt_trainer_config cfg = fz_config();
        tt_features tr = {g_x, g_y, NTRAIN}, va = {g_x + NTRAIN * DIM, g_y + NTRAIN, NVAL};
        tt_trainer *t;
        int ended = 0;
        if (tt_trainer_init(&t, &cfg, DIM, CLASSES, &tr, &va)) abort();
        while (!ended) tt_trainer_step(t, &ended);
        tt_ckpt_meta m = {.classes_json = "[\"a\",\"b\",\"c\"]", .backbone = "sha256:x"};
        if (tt_ckpt_save_file(t, &m, seed)) abort();
        tt_trainer_free(t);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *file;
    size_t len;
    void *owned;
    if (fz_file(data, size, 1, &file, &len, &owned)) return 0;
    tt_trainer_config cfg = fz_config();
    tt_features tr = {g_x, g_y, NTRAIN}, va = {g_x + NTRAIN * DIM, g_y + NTRAIN, NVAL};
    tt_trainer *t;
    tt_st_file *f;
    if (!tt_trainer_init(&t, &cfg, DIM, CLASSES, &tr, &va)) {
        if (!tt_ckpt_open_memory(&f, file, len)) {
            tt_trainer_config c;
            int dim, classes;
            tt_ckpt_check(f, "[\"a\",\"b\",\"c\"]", "sha256:x");
            tt_ckpt_trainer_config(f, &c, &dim, &classes);
            tt_config fc, want = tt_config_defaults();
            want.train = cfg;
            if (!tt_config_from_file(f, &fc)) tt_config_compare(&fc, &want); /* what a resume checks */
            if (!tt_ckpt_restore(t, f)) {
                int ended;
                for (int i = 0; i < 4 && !tt_trainer_finished(t); i++)
                    if (tt_trainer_step(t, &ended)) break;
            }
            tt_st_close(f);
        }
        tt_trainer_free(t);
    }
    free(owned);
    return 0;
}
