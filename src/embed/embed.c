/* The embed engine behind web/embed/tabtrain-embed.mjs: an exported model
 * (docs/export.md) that classifies images, nothing else — no training, no
 * storage, one thread. Built from the same library as the app's engine, with
 * the same decoding, preprocessing, backbone, tail and head, so it gives the
 * app's probabilities for the same picture.
 *
 *   tt_embed *e = tt_embed_open(bytes, len);      // NULL: tt_embed_last_error()
 *   tt_embed_classes(e)                           // JSON array of class names
 *   const float *p = tt_embed_classify(e, img_bytes, img_len);          // [classes]
 *   const float *p = tt_embed_classify_rgba(e, rgba, width, height);    // canvas pixels
 *   tt_embed_close(e);
 *
 * The returned probabilities live in the handle until its next call. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/head.h"
#include "tabtrain/image.h"
#include "tabtrain/mobilenet.h"
#include "tabtrain/model_file.h"
#include "tabtrain/safetensors.h"
#include "tabtrain/status.h"
#include "tabtrain/tail.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define TT_EMBED_API EMSCRIPTEN_KEEPALIVE
#else
#define TT_EMBED_API
#endif

typedef struct tt_embed {
    tt_mnv2 *net;
    tt_model m;
    tt_tail *tail; /* the export's fine-tuned blocks, when it has some */
    int size, dim;
    float *input; /* [size][size][3] */
    float *act;   /* activations entering the tail */
    float *feat;  /* [dim] */
    float *probs; /* [classes] */
} tt_embed;

TT_EMBED_API const char *tt_embed_last_error(void) { return tt_last_error(); }

TT_EMBED_API void tt_embed_close(tt_embed *e) {
    if (!e) return;
    tt_tail_free(e->tail);
    tt_model_free(&e->m);
    tt_mnv2_free(e->net);
    free(e->input), free(e->act), free(e->feat), free(e->probs);
    free(e);
}

/* An export holds the whole classifier: the backbone under its own names (a
 * fine-tuned block already in place, which is where the tail reads it from),
 * and the head. Checkpoints and model files need the backbone file besides:
 * the page's Export turns them into an export. */
TT_EMBED_API tt_embed *tt_embed_open(const uint8_t *bytes, int len) {
    tt_embed *e = calloc(1, sizeof *e);
    tt_st_file *f = NULL;
    tt_status st = e ? TT_OK : tt_error(TT_ERR_NOMEM, "no memory");
    if (!st && (!bytes || len <= 0)) st = tt_error(TT_ERR_FORMAT, "the model file is empty");
    if (!st) st = tt_st_open_memory(&f, bytes, (size_t)len);
    if (!st) {
        const char *kind = tt_st_metadata(f, "tabtrain.kind");
        if (!kind || strcmp(kind, "export"))
            st = tt_error(TT_ERR_FORMAT, "not an exported model (this file is a %s): use the model.safetensors "
                          "that Export downloads", kind ? kind : "safetensors file without tabtrain metadata");
    }
    if (!st) st = tt_mnv2_init(&e->net, f, TT_IMAGE_DEFAULT_SIZE);
    if (!st) st = tt_model_load(&e->m, f, 1);
    tt_mnv2_info info = e && e->net ? tt_mnv2_get_info(e->net) : (tt_mnv2_info){0};
    if (!st && e->m.head.cfg.in != info.feature_dim)
        st = tt_error(TT_ERR_SHAPE, "the head expects %d features, the backbone gives %d", e->m.head.cfg.in,
                      info.feature_dim);
    if (!st && e->m.unfreeze) st = tt_tail_init(&e->tail, e->net, f, e->m.unfreeze, 1);
    if (!st) {
        e->size = info.input_size, e->dim = info.feature_dim;
        tt_tail_info ti = e->tail ? tt_tail_get_info(e->tail) : (tt_tail_info){0};
        e->input = malloc((size_t)e->size * e->size * 3 * sizeof *e->input);
        e->act = malloc(((size_t)ti.in_h * ti.in_w * ti.in_c + 1) * sizeof *e->act);
        e->feat = malloc((size_t)e->dim * sizeof *e->feat);
        e->probs = malloc((size_t)e->m.n_classes * sizeof *e->probs);
        if (!e->input || !e->act || !e->feat || !e->probs) st = tt_error(TT_ERR_NOMEM, "no memory");
    }
    tt_st_close(f);
    if (st) {
        tt_embed_close(e);
        return NULL;
    }
    return e;
}

TT_EMBED_API int tt_embed_class_count(const tt_embed *e) { return e ? e->m.n_classes : 0; }
TT_EMBED_API const char *tt_embed_class_name(const tt_embed *e, int i) {
    return e && i >= 0 && i < e->m.n_classes ? e->m.classes[i] : NULL;
}

/* The probabilities of one decoded picture, as the app's predict computes them. */
static const float *tt_embed_run(tt_embed *e, const tt_image *img) {
    tt_status st = tt_image_to_input(img, e->size, e->input);
    if (!st && e->tail) {
        tt_tail_info ti = tt_tail_get_info(e->tail);
        if (!(st = tt_mnv2_forward_until(e->net, 1, e->input, ti.first_block, e->act)))
            tt_tail_features(e->tail, 1, e->act, e->feat);
    } else if (!st) {
        st = tt_mnv2_features(e->net, 1, e->input, e->feat);
    }
    if (st) return NULL;
    tt_head_predict(&e->m.head, 1, e->feat, e->probs);
    return e->probs;
}

/* Image file bytes (JPEG, PNG, BMP, GIF), decoded as the app decodes them. */
TT_EMBED_API const float *tt_embed_classify(tt_embed *e, const uint8_t *bytes, int len) {
    if (!e) return NULL;
    tt_image img;
    if (!bytes || len <= 0) {
        tt_error(TT_ERR_FORMAT, "empty image");
        return NULL;
    }
    if (tt_image_training_copy(bytes, (size_t)len, NULL, e->size, &img)) return NULL;
    const float *p = tt_embed_run(e, &img);
    tt_image_free(&img);
    return p;
}

/* Non-premultiplied RGBA pixels (a canvas's getImageData), alpha composited
 * over white as the decoder does for image files, and box-shrunk as a training
 * copy is (tt_image_training_copy; only a JPEG's DCT scaling needs the file). */
TT_EMBED_API const float *tt_embed_classify_rgba(tt_embed *e, const uint8_t *rgba, int width, int height) {
    tt_image img, small;
    if (!e || tt_image_from_rgba(rgba, width, height, &img)) return NULL;
    tt_status st = tt_image_reduce(&img, e->size, &small);
    tt_image_free(&img);
    if (st) return NULL;
    const float *p = tt_embed_run(e, &small);
    tt_image_free(&small);
    return p;
}
