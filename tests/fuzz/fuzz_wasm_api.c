/* libFuzzer: the engine's C API (src/wasm/api.c, built natively) as the
 * worker drives it. Byte 0 picks the call, the rest is its input:
 *   0 tt_wasm_class_create(name)   1 tt_wasm_train_begin(config json)
 *   2 tt_wasm_load(file)           3 tt_wasm_add_image(bytes), then
 *                                    tt_wasm_add_images(bytes, its first half)
 * on one engine over a small random MobileNetV2, brought back to empty by
 * tt_wasm_reset before each input (two classes created first for 1..3). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnv2_synth.h"
#include "tabtrain/fileio.h"
#include "wasm/api.h"

static char g_root[256];
static int h;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    size_t len;
    void *weights = tt_test_mnv2_synth(8, 16, 0, NULL, NULL, &len);
    snprintf(g_root, sizeof g_root, "/tmp/tt-fuzz-wasm-%d", (int)getpid());
    mkdir(g_root, 0755);
    h = tt_wasm_open(g_root);
    if (h <= 0 || !weights || tt_wasm_set_weights(h, weights, (int)len)) abort(); /* the engine itself must come up */
    free(weights);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1 << 20)) return 0;
    if (tt_wasm_reset(h)) abort();
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    int op = data[0] % 4;
    int a = op ? tt_wasm_class_create(h, "a") : 0;
    if (op) tt_wasm_class_create(h, "b");
    if (op == 0) {
        if (tt_wasm_class_create(h, text) > 0) tt_wasm_dataset_json(h);
    } else if (op == 1) {
        tt_wasm_train_begin(h, text);
    } else if (op == 2) {
        char path[300];
        snprintf(path, sizeof path, "%s/in.safetensors", g_root);
        tt_chunk c = {data + 1, size - 1};
        if (!tt_file_write_atomic(path, &c, 1) && !tt_wasm_load(h, path)) tt_wasm_model_json(h);
    } else {
        uint8_t *bytes = malloc(size - 1 ? size - 1 : 1);
        memcpy(bytes, data + 1, size - 1);
        int id = tt_wasm_add_image(h, a, bytes, (int)size - 1, "in.png");
        if (id > 0) tt_wasm_remove_image(h, id);
        const uint8_t *both[2] = {bytes, bytes};
        int lens[2] = {(int)size - 1, (int)(size - 1) / 2}, ids[2], n;
        const char *names[2] = {"in.png", "half.png"};
        if (tt_wasm_add_images(h, a, 2, both, lens, names, ids) >= 0)
            for (int i = 0; i < 2; i++) {
                tt_wasm_part(h, i, 0, &n), tt_wasm_part(h, i, 1, &n), tt_wasm_add_error(h, i);
                if (ids[i] > 0) tt_wasm_remove_image(h, ids[i]);
            }
        free(bytes);
    }
    tt_wasm_last_error(h);
    free(text);
    return 0;
}
