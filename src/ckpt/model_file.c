/* Model files: head tensors + self-describing metadata (model_file.h). */
#include "tabtrain/model_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/json.h"

static char *tt_dup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

tt_status tt_model_meta_write(tt_st_builder *b, const tt_model_meta *meta) {
    if (meta->n_classes < 1 || !meta->classes || !meta->backbone_id)
        return tt_error(TT_ERR_INVALID_ARG, "model file: classes and backbone id are required");
    char *names = tt_json_string_list(meta->classes, meta->n_classes);
    if (!names) return tt_error(TT_ERR_NOMEM, "model file: out of memory");
    char head[256];
    snprintf(head, sizeof head, "{\"in_dim\":%d,\"hidden\":%d,\"classes\":%d,\"dropout\":%.9g,\"unfreeze\":%d}",
             meta->head.in, meta->head.hidden, meta->head.classes, (double)meta->head.dropout, meta->unfreeze);
    tt_status st = tt_st_set_metadata(b, "tabtrain.kind", meta->kind ? meta->kind : "model");
    if (!st) st = tt_st_set_metadata(b, "tabtrain.classes", names);
    if (!st) st = tt_st_set_metadata(b, "tabtrain.head", head);
    if (!st) st = tt_st_set_metadata(b, "tabtrain.backbone", meta->backbone_id);
    if (!st && meta->preprocess) st = tt_st_set_metadata(b, "tabtrain.preprocess", meta->preprocess);
    if (!st && meta->config) st = tt_st_set_metadata(b, "tabtrain.config", meta->config);
    if (!st && meta->history) st = tt_st_set_metadata(b, "tabtrain.history", meta->history);
    free(names);
    return st;
}

static tt_status tt_model_add_params(tt_st_builder *b, const tt_named_tensor *p, int n) {
    tt_status st = TT_OK;
    for (int i = 0; i < n && !st; i++) st = tt_st_add(b, p[i].name, TT_DTYPE_F32, p[i].ndim, p[i].shape, p[i].data);
    return st;
}

tt_status tt_model_add_head(tt_st_builder *b, tt_head *head) {
    tt_named_tensor *p;
    int n = tt_head_params(head, &p);
    return tt_model_add_params(b, p, n);
}

tt_status tt_model_add_tail(tt_st_builder *b, tt_tail *tail) {
    tt_named_tensor *p;
    int n = tt_tail_params(tail, &p);
    return tt_model_add_params(b, p, n);
}

tt_status tt_model_save(const char *path, const tt_model_meta *meta, tt_head *head, tt_tail *tail) {
    int K = tail ? tt_tail_get_info(tail).unfreeze : 0;
    if (meta->unfreeze != K)
        return tt_error(TT_ERR_INVALID_ARG, "model file: unfreeze is %d but the tail given has %d blocks",
                        meta->unfreeze, K);
    tt_st_builder *b;
    tt_status st = tt_st_builder_new(&b);
    if (st) return st;
    if (!(st = tt_model_meta_write(b, meta)) && !(st = tt_model_add_head(b, head)) &&
        !(st = tail ? tt_model_add_tail(b, tail) : TT_OK))
        st = tt_st_write_file(b, path);
    tt_st_builder_free(b);
    return st;
}

void tt_model_free(tt_model *m) {
    tt_json_free_strings(m->classes, m->n_classes);
    free(m->kind), free(m->backbone_id), free(m->preprocess), free(m->config), free(m->history);
    if (m->head.params_slab) tt_head_free(&m->head);
    if (m->backbone) free(m->backbone[0].data);
    free(m->backbone);
    *m = (tt_model){0};
}

static tt_status tt_head_field(const char *js, const char *key, int *out) {
    double v;
    tt_status st = tt_json_number(js, key, &v);
    if (st) {
        return tt_error(st, "model file: tabtrain.head: %s", tt_last_error());
    }
    if (!(v >= 0 && v <= 1e7 && v == floor(v)))
        return tt_error(TT_ERR_FORMAT, "model file: tabtrain.head \"%s\" is not a count", key);
    *out = (int)v;
    return TT_OK;
}

static int tt_is_backbone(const tt_st_tensor *t) { return !strncmp(t->name, "backbone.", 9); }

/* Copies of the "backbone.*" tensors, their data in one slab (backbone[0].data). */
static tt_status tt_model_copy_backbone(tt_model *m, const tt_st_file *f) {
    size_t floats = 0;
    int n = 0;
    for (size_t i = 0; i < tt_st_count(f); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(f, i);
        if (!tt_is_backbone(t)) continue;
        if (t->dtype != TT_DTYPE_F32 || t->ndim > TT_TENSOR_MAX_DIMS || strlen(t->name) >= TT_TENSOR_NAME_MAX)
            return tt_error(TT_ERR_FORMAT, "model file: tensor %s is not an f32 backbone tensor", t->name);
        floats += t->numel, n++;
    }
    if (!n) return TT_OK;
    m->backbone = calloc((size_t)n, sizeof *m->backbone);
    float *slab = malloc(floats * sizeof(float));
    if (!m->backbone || !slab) {
        free(slab);
        return tt_error(TT_ERR_NOMEM, "model file: out of memory for the backbone tensors");
    }
    for (size_t i = 0; i < tt_st_count(f); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(f, i);
        if (!tt_is_backbone(t)) continue;
        tt_named_tensor *d = &m->backbone[m->n_backbone++];
        snprintf(d->name, sizeof d->name, "%s", t->name);
        d->ndim = t->ndim;
        memcpy(d->shape, t->shape, (size_t)t->ndim * sizeof *t->shape);
        d->data = slab;
        memcpy(slab, t->data, t->nbytes);
        slab += t->numel;
    }
    return TT_OK;
}

tt_status tt_model_load(tt_model *m, const tt_st_file *f, int max_batch) {
    *m = (tt_model){0};
    const char *kind = tt_st_metadata(f, "tabtrain.kind"), *classes = tt_st_metadata(f, "tabtrain.classes"),
               *head = tt_st_metadata(f, "tabtrain.head"), *backbone = tt_st_metadata(f, "tabtrain.backbone");
    if (!kind || !classes || !head || !backbone)
        return tt_error(TT_ERR_FORMAT, "not a tabtrain model: metadata %s missing",
                        !kind ? "tabtrain.kind" : !classes ? "tabtrain.classes" : !head ? "tabtrain.head" : "tabtrain.backbone");
    tt_status st = tt_json_string_array(classes, &m->classes, &m->n_classes);
    if (st) {
        return tt_error(st, "model file: tabtrain.classes: %s", tt_last_error());
    }
    tt_head_config hc = {0};
    double dropout = 0;
    if (!st) st = tt_head_field(head, "in_dim", &hc.in);
    if (!st) st = tt_head_field(head, "hidden", &hc.hidden);
    if (!st) st = tt_head_field(head, "classes", &hc.classes);
    double unfreeze;
    if (!st && tt_json_number(head, "unfreeze", &unfreeze) == TT_OK) {
        if (!(unfreeze >= 0 && unfreeze <= TT_MNV2_BLOCKS && unfreeze == floor(unfreeze)))
            st = tt_error(TT_ERR_FORMAT, "model file: tabtrain.head \"unfreeze\" is %g, not a block count in 0..%d",
                          unfreeze, TT_MNV2_BLOCKS);
        else m->unfreeze = (int)unfreeze;
    }
    if (!st && tt_json_number(head, "dropout", &dropout) == TT_OK && dropout >= 0 && dropout < 1) hc.dropout = (float)dropout;
    if (!st && (hc.classes != m->n_classes || hc.in < 1 || hc.classes < 1))
        st = tt_error(TT_ERR_SHAPE, "model file: head says %d classes of %d inputs, class list has %d", hc.classes,
                      hc.in, m->n_classes);
    m->kind = tt_dup(kind), m->backbone_id = tt_dup(backbone);
    m->preprocess = tt_dup(tt_st_metadata(f, "tabtrain.preprocess"));
    m->config = tt_dup(tt_st_metadata(f, "tabtrain.config"));
    m->history = tt_dup(tt_st_metadata(f, "tabtrain.history"));
    if (!st && (!m->kind || !m->backbone_id)) st = tt_error(TT_ERR_NOMEM, "model file: out of memory");
    /* Every head tensor present with the shape the metadata claims before
     * anything is sized from it: the file's own bytes then bound the head
     * (a 240-byte file cannot claim a 2 GB one). */
    tt_named_tensor want[4];
    int nw = st ? 0 : tt_head_layout(&hc, want);
    const tt_st_tensor *src[4];
    for (int i = 0; i < nw && !st; i++) {
        if ((st = tt_st_get(f, want[i].name, TT_DTYPE_F32, &src[i]))) break;
        int same = src[i]->ndim == want[i].ndim;
        for (int d = 0; same && d < want[i].ndim; d++) same = src[i]->shape[d] == want[i].shape[d];
        if (!same)
            st = tt_error(TT_ERR_SHAPE, "model file: tensor %s has another shape than tabtrain.head implies", want[i].name);
    }
    tt_rng rng;
    tt_rng_seed(&rng, 0, TT_STREAM_INIT);
    if (!st) st = tt_head_init(&m->head, &hc, max_batch, &rng);
    tt_named_tensor *p;
    int np = st ? 0 : tt_head_params(&m->head, &p);
    for (int i = 0; i < np; i++) memcpy(p[i].data, src[i]->data, src[i]->nbytes);
    if (!st) st = tt_model_copy_backbone(m, f);
    if (st) tt_model_free(m);
    return st;
}

tt_status tt_model_load_file(tt_model *m, const char *path, int max_batch) {
    tt_st_file *f;
    *m = (tt_model){0};
    tt_status st = tt_st_open_file(&f, path);
    if (st) return st;
    st = tt_model_load(m, f, max_batch);
    tt_st_close(f);
    if (st) {
        return tt_error(st, "%s: %s", path, tt_last_error());
    }
    return TT_OK;
}

tt_status tt_model_check_backbone(const tt_model *m, const char *backbone_id) {
    if (strcmp(m->backbone_id, backbone_id))
        return tt_error(TT_ERR_MISMATCH,
                        "the model was trained on backbone %s but the backbone file given is %s "
                        "(pass the original weights with --model or TT_MODEL)",
                        m->backbone_id, backbone_id);
    return TT_OK;
}

tt_status tt_model_load_tail(const tt_model *m, tt_tail *tail) {
    tt_tail_info ti = tt_tail_get_info(tail);
    if (ti.unfreeze != m->unfreeze)
        return tt_error(TT_ERR_MISMATCH, "model file: trained with %d unfrozen backbone blocks, the tail has %d",
                        m->unfreeze, ti.unfreeze);
    tt_named_tensor *p;
    int n = tt_tail_params(tail, &p);
    if (m->n_backbone != n)
        return tt_error(TT_ERR_FORMAT, "model file: %d backbone.* tensors, --unfreeze %d needs %d", m->n_backbone,
                        m->unfreeze, n);
    /* Check all before copying any, so an error leaves the tail as it was. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const tt_named_tensor *src = NULL;
            for (int j = 0; j < m->n_backbone && !src; j++)
                if (!strcmp(m->backbone[j].name, p[i].name)) src = &m->backbone[j];
            if (!src) return tt_error(TT_ERR_FORMAT, "model file: tensor %s is missing", p[i].name);
            int same = src->ndim == p[i].ndim;
            for (int d = 0; same && d < src->ndim; d++) same = src->shape[d] == p[i].shape[d];
            if (!same)
                return tt_error(TT_ERR_SHAPE, "model file: tensor %s has another shape than the backbone's layer",
                                p[i].name);
            if (pass) memcpy(p[i].data, src->data, tt_named_tensor_numel(&p[i]) * sizeof(float));
        }
    return TT_OK;
}
