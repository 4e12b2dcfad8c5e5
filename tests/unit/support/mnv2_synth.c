#include "mnv2_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/mobilenet.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

typedef struct synth {
    tt_st_builder *b;
    float *blobs[128];
    int nblobs;
    uint64_t seed;
    const char *skip;  /* tensor left out */
    const char *wrong; /* tensor given one channel too many */
} synth;

static void synth_add(synth *s, const char *name, int ndim, const int64_t *shape_in, float scale) {
    int64_t shape[4];
    size_t n = 1;
    memcpy(shape, shape_in, (size_t)ndim * sizeof *shape);
    if (s->wrong && !strcmp(name, s->wrong)) shape[ndim - 1]++;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *w = tt_test_malloc(n * sizeof(float));
    tt_test_fill(w, n, s->seed++, -scale, scale);
    s->blobs[s->nblobs++] = w;
    if (s->skip && !strcmp(name, s->skip)) return;
    tt_assert_ok(tt_st_add(s->b, name, TT_DTYPE_F32, ndim, shape, w));
}

static void synth_layer(synth *s, const char *layer, int64_t o, int64_t i, int depthwise) {
    char name[64];
    int64_t k = depthwise || !strcmp(layer, "stem") ? 3 : 1;
    int64_t shape[4] = {depthwise ? 1 : o, k, k, depthwise ? o : i};
    snprintf(name, sizeof name, "%s.weight", layer);
    /* He-like scale keeps activations in ReLU6's interesting range. */
    synth_add(s, name, 4, shape, sqrtf(6.0f / (float)(k * k * (depthwise ? 1 : i))));
    snprintf(name, sizeof name, "%s.bias", layer);
    synth_add(s, name, 1, (int64_t[]){o}, 0.2f);
}

static const int synth_cout[TT_MNV2_BLOCKS] = {4, 6, 6, 8, 8, 8, 8, 12, 12, 12, 12, 16, 16, 20, 20, 20, 24};

void *tt_test_mnv2_synth(int c0, int feat, int classes, const char *skip, const char *wrong,
                         size_t *len) {
    synth s = {.seed = 1000, .skip = skip, .wrong = wrong};
    tt_assert_ok(tt_st_builder_new(&s.b));
    synth_layer(&s, "stem", c0, 3, 0);
    int c = c0;
    for (int i = 0; i < TT_MNV2_BLOCKS; i++) {
        char layer[48];
        int hid = i == 0 ? c : 3 * c;
        if (i > 0) {
            snprintf(layer, sizeof layer, "block%d.expand", i);
            synth_layer(&s, layer, hid, c, 0);
        }
        snprintf(layer, sizeof layer, "block%d.depthwise", i);
        synth_layer(&s, layer, hid, 0, 1);
        snprintf(layer, sizeof layer, "block%d.project", i);
        synth_layer(&s, layer, synth_cout[i], hid, 0);
        c = synth_cout[i];
    }
    synth_layer(&s, "head", feat, c, 0);
    if (classes) synth_layer(&s, "logits", classes, feat, 0);
    void *bytes;
    tt_assert_ok(tt_st_write_memory(s.b, &bytes, len));
    tt_st_builder_free(s.b);
    for (int i = 0; i < s.nblobs; i++) free(s.blobs[i]);
    return bytes;
}

