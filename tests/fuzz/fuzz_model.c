/* libFuzzer: model files (predict, eval, the page's import) and export. The
 * export's backbone is a fixed small file of two layers and ImageNet logits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_build.h"
#include "tabtrain/ckpt.h"
#include "tabtrain/model_file.h"

static tt_st_file *g_backbone;
static void *g_backbone_bytes;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static float w[2 * 3 * 3 * 3], bias[2], logits[4 * 2];
    tt_st_builder *b;
    if (tt_st_builder_new(&b)) abort();
    tt_st_add(b, "stem.weight", TT_DTYPE_F32, 4, (int64_t[]){2, 3, 3, 3}, w);
    tt_st_add(b, "stem.bias", TT_DTYPE_F32, 1, (int64_t[]){2}, bias);
    tt_st_add(b, "logits.weight", TT_DTYPE_F32, 2, (int64_t[]){4, 2}, logits);
    tt_st_set_metadata(b, "tabtrain.kind", "backbone");
    size_t len;
    if (tt_st_write_memory(b, &g_backbone_bytes, &len) || tt_st_open_memory(&g_backbone, g_backbone_bytes, len)) abort();
    tt_st_builder_free(b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *file;
    size_t len;
    void *owned;
    if (fz_file(data, size, 0, &file, &len, &owned)) return 0;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return free(owned), 0;
    memcpy(copy, file, len);
    tt_st_file *f;
    if (!tt_st_open_memory(&f, copy, len)) {
        tt_model m;
        if (!tt_model_load(&m, f, 16)) {
            float x[64] = {0}, probs[64];
            if (m.head.cfg.in <= 64 && m.n_classes <= 64) tt_head_predict(&m.head, 1, x, probs);
            tt_model_check_backbone(&m, "sha256:x");
            tt_model_free(&m);
        }
        tt_st_builder *b;
        if (!tt_ckpt_export(f, g_backbone, "sha256:x", &b)) {
            void *out;
            size_t n;
            if (!tt_st_write_memory(b, &out, &n)) {
                tt_st_file *ex;
                char *json;
                if (!tt_st_open_memory(&ex, out, n)) {
                    if (!tt_ckpt_export_json(ex, "model.safetensors", &json)) free(json);
                    tt_st_close(ex);
                }
                free(out);
            }
            tt_st_builder_free(b);
        }
        tt_st_close(f);
    }
    free(copy);
    free(owned);
    return 0;
}
