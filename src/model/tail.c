#include "tabtrain/tail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/arena.h"
#include "tabtrain/conv.h"
#include "tabtrain/gemm.h"
#include "tabtrain/nn_irb.h"

typedef struct tt_tail_layer {
    float *w, *b, *gw, *gb;
} tt_tail_layer;

typedef struct tt_tail_block {
    tt_mnv2_block_shape s;
    tt_tail_layer expand, dw, project; /* expand.w == NULL for block 0 */
    float *expanded, *dwout, *out;     /* saved post-activation outputs, [max_batch][...] */
} tt_tail_block;

struct tt_tail {
    int K, first, nb, max_batch, F, head_cin, head_hw;
    tt_tail_block blocks[TT_MNV2_BLOCKS];
    tt_tail_layer head;
    tt_named_tensor params[6 * TT_MNV2_BLOCKS + 2];
    int n_params;
    float *params_slab, *grads_slab;
    size_t n_floats;
    /* workspace: saved activations above, then */
    float *head_out, *feat;    /* [B][head_hw][F], [B][F] */
    float *g[2], *gmid, *gexp; /* backward: block I/O grads, dwout/head grads, expanded grads */
    float *work;
    tt_arena *ws;
    tt_pool *pool;
};

static size_t tt_zmax(size_t a, size_t b) { return a > b ? a : b; }

/* Copies one tensor after checking it against the backbone's shape and
 * appends it to the parameter list. */
static tt_status tt_tail_tensor(tt_tail *t, const tt_st_file *f, const char *name, int ndim,
                                const int64_t *shape, float **data, float **grad, size_t *off) {
    const tt_st_tensor *src;
    tt_status st = tt_st_get(f, name, TT_DTYPE_F32, &src);
    if (st == TT_ERR_NOT_FOUND) return tt_error(st, "tail: tensor '%s' is missing", name);
    if (st) return st;
    int ok = src->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = src->shape[i] == shape[i];
    if (!ok) {
        char want[64] = "";
        for (int i = 0, n = 0; i < ndim; i++)
            n += snprintf(want + n, sizeof want - (size_t)n, "%s%lld", i ? "," : "",
                          (long long)shape[i]);
        return tt_error(TT_ERR_SHAPE, "tail: tensor '%s' does not have the backbone's shape [%s]",
                        name, want);
    }
    tt_named_tensor *p = &t->params[t->n_params++];
    memset(p, 0, sizeof *p);
    if ((size_t)snprintf(p->name, sizeof p->name, "backbone.%s", name) >= sizeof p->name)
        return tt_error(TT_ERR_LIMIT, "tail: tensor name backbone.%s is too long", name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->data = *data = t->params_slab + *off;
    p->grad = *grad = t->grads_slab + *off;
    memcpy(p->data, src->data, src->numel * sizeof(float));
    *off += src->numel;
    return TT_OK;
}

/* <layer>.weight of shape wshape and <layer>.bias [nb]. */
static tt_status tt_tail_load(tt_tail *t, const tt_st_file *f, const char *layer,
                              const int64_t wshape[4], int64_t nb, tt_tail_layer *L, size_t *off) {
    char name[TT_TENSOR_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", layer);
    tt_status st = tt_tail_tensor(t, f, name, 4, wshape, &L->w, &L->gw, off);
    if (st) return st;
    snprintf(name, sizeof name, "%s.bias", layer);
    return tt_tail_tensor(t, f, name, 1, &nb, &L->b, &L->gb, off);
}

static tt_status tt_tail_load_all(tt_tail *t, const tt_st_file *f) {
    size_t off = 0;
    tt_status st;
    for (int j = 0; j < t->nb; j++) {
        tt_tail_block *b = &t->blocks[j];
        int i = t->first + j;
        char layer[32];
        if (i > 0) {
            snprintf(layer, sizeof layer, "block%d.expand", i);
            if ((st = tt_tail_load(t, f, layer, (int64_t[]){b->s.hid, 1, 1, b->s.cin}, b->s.hid,
                                   &b->expand,
                                   &off)))
                return st;
        }
        snprintf(layer, sizeof layer, "block%d.depthwise", i);
        if ((st = tt_tail_load(t, f, layer, (int64_t[]){1, 3, 3, b->s.hid}, b->s.hid, &b->dw,
                               &off)))
            return st;
        snprintf(layer, sizeof layer, "block%d.project", i);
        if ((st = tt_tail_load(t, f, layer, (int64_t[]){b->s.cout, 1, 1, b->s.hid}, b->s.cout,
                               &b->project,
                               &off)))
            return st;
    }
    return tt_tail_load(t, f, "head", (int64_t[]){t->F, 1, 1, t->head_cin}, t->F, &t->head,
                        &off);
}

/* Sizes of the workspace buffers, in allocation order; returns the count. */
static int tt_tail_sizes(const tt_tail *t, size_t *sz) {
    size_t B = (size_t)t->max_batch, g = 0, mid = 0, exp = 0, work = 0;
    int n = 0;
    for (int j = 0; j < t->nb; j++) {
        const tt_mnv2_block_shape *s = &t->blocks[j].s;
        size_t in = B * s->h_in * s->w_in, out = B * s->h_out * s->w_out;
        sz[n++] = j + t->first > 0 ? in * s->hid : 0; /* expanded */
        sz[n++] = out * s->hid;                       /* dwout */
        sz[n++] = out * s->cout;                      /* out */
        g = tt_zmax(g, tt_zmax(in * s->cin, out * s->cout));
        mid = tt_zmax(mid, out * s->hid);
        exp = tt_zmax(exp, in * s->hid);
        work = tt_zmax(work, tt_irb_work_size(s, (int)B));
    }
    size_t head_rows = B * t->head_hw;
    mid = tt_zmax(mid, head_rows * t->F);
    work = tt_zmax(work, tt_pointwise_work_size(head_rows, t->head_cin, t->F));
    sz[n++] = head_rows * t->F; /* head_out */
    sz[n++] = B * t->F;         /* feat */
    sz[n++] = g;
    sz[n++] = g;
    sz[n++] = mid;
    sz[n++] = exp;
    sz[n++] = work;
    return n;
}

tt_status tt_tail_init(tt_tail **out, const tt_mnv2 *backbone, const tt_st_file *weights,
                       int unfreeze, int max_batch) {
    if (!out || !backbone || !weights)
        return tt_error(TT_ERR_INVALID_ARG, "tt_tail_init: NULL argument");
    *out = NULL;
    if (unfreeze < 1 || unfreeze > TT_MNV2_BLOCKS)
        return tt_error(TT_ERR_INVALID_ARG, "unfreeze must be in [1, %d] blocks (got %d)",
                        TT_MNV2_BLOCKS, unfreeze);
    if (max_batch < 1)
        return tt_error(TT_ERR_INVALID_ARG, "tt_tail_init: max_batch must be >= 1 (got %d)",
                        max_batch);
    tt_tail *t = calloc(1, sizeof *t);
    if (!t) return tt_error(TT_ERR_NOMEM, "tail: no memory");
    t->K = unfreeze;
    t->first = TT_MNV2_BLOCKS - unfreeze;
    t->nb = unfreeze;
    t->max_batch = max_batch;
    tt_mnv2_info info = tt_mnv2_get_info(backbone);
    t->F = info.feature_dim;
    for (int j = 0; j < t->nb; j++) {
        tt_tail_block *b = &t->blocks[j];
        tt_mnv2_block_shape_get(backbone, t->first + j, &b->s);
        t->n_floats += (j + t->first > 0 ? (size_t)b->s.hid * b->s.cin + b->s.hid : 0) +
                       (size_t)10 * b->s.hid + (size_t)b->s.cout * b->s.hid + b->s.cout;
    }
    const tt_mnv2_block_shape *last = &t->blocks[t->nb - 1].s;
    t->head_cin = last->cout;
    t->head_hw = last->h_out * last->w_out;
    t->n_floats += (size_t)t->F * t->head_cin + t->F;

    /* Every size is at most linear in the batch, so the sizes at batch 1 bound
     * them; on wasm32 (32-bit size_t) a batch read from a file must not wrap them. */
    size_t sz[3 * TT_MNV2_BLOCKS + 7], bytes = 0;
    t->max_batch = 1;
    int ns = tt_tail_sizes(t, sz);
    uint64_t per_sample = 0;
    for (int i = 0; i < ns; i++) per_sample += sz[i];
    if ((uint64_t)max_batch * per_sample > SIZE_MAX / 2 / sizeof(float)) {
        tt_tail_free(t);
        return tt_error(TT_ERR_LIMIT, "tail: a batch of %d does not fit this machine's memory", max_batch);
    }
    t->max_batch = max_batch;
    ns = tt_tail_sizes(t, sz);
    for (int i = 0; i < ns; i++) bytes += tt_arena_size_of(sz[i] * sizeof(float));
    t->params_slab = calloc(t->n_floats, sizeof(float));
    t->grads_slab = calloc(t->n_floats, sizeof(float));
    tt_status st = t->params_slab && t->grads_slab
                       ? tt_arena_init(&t->ws, bytes)
                       : tt_error(TT_ERR_NOMEM, "tail: no memory for %zu parameters", t->n_floats);
    if (!st) st = tt_tail_load_all(t, weights);
    float *buf[3 * TT_MNV2_BLOCKS + 7] = {0};
    for (int i = 0; i < ns && !st; i++)
        if (sz[i] && !(buf[i] = tt_arena_alloc(t->ws, sz[i] * sizeof(float)))) st = TT_ERR_NOMEM;
    if (!st) {
        int k = 0;
        for (int j = 0; j < t->nb; j++) {
            tt_tail_block *b = &t->blocks[j];
            b->expanded = buf[k++]; /* NULL for block 0 */
            b->dwout = buf[k++];
            b->out = buf[k++];
        }
        t->head_out = buf[k++];
        t->feat = buf[k++];
        t->g[0] = buf[k++];
        t->g[1] = buf[k++];
        t->gmid = buf[k++];
        t->gexp = buf[k++];
        t->work = buf[k++];
    }
    if (st) {
        tt_tail_free(t);
        return st;
    }
    *out = t;
    return TT_OK;
}

void tt_tail_free(tt_tail *t) {
    if (!t) return;
    tt_arena_free(t->ws);
    free(t->params_slab);
    free(t->grads_slab);
    free(t);
}

tt_tail_info tt_tail_get_info(const tt_tail *t) {
    const tt_mnv2_block_shape *s = &t->blocks[0].s;
    tt_tail_info info = {t->K,
                         t->first,
                         s->h_in,
                         s->w_in,
                         s->cin,
                         s->h_in * s->w_in * s->cin,
                         t->F,
                         t->max_batch,
                         t->n_floats,
                         tt_arena_capacity(t->ws)};
    return info;
}

int tt_tail_params(tt_tail *t, tt_named_tensor **out) {
    *out = t->params;
    return t->n_params;
}

void tt_tail_set_pool(tt_tail *t, tt_pool *pool) { t->pool = pool; }

void tt_tail_zero_grad(tt_tail *t) { memset(t->grads_slab, 0, t->n_floats * sizeof(float)); }

/* The block's parameters and gradients as the layer takes them. */
static tt_irb_params tt_tail_irb(const tt_tail_block *b) {
    tt_irb_params p = {{b->expand.w, NULL, b->expand.b}, {b->project.w, NULL, b->project.b},
                       b->dw.w, b->dw.b};
    return p;
}

static tt_irb_grads tt_tail_irb_grads(const tt_tail_block *b) {
    tt_irb_grads g = {b->expand.gw, b->expand.gb, b->dw.gw, b->dw.gb, b->project.gw, b->project.gb};
    return g;
}

/* The layers run through the same kernels as the frozen backbone's, their
 * weights packed once per forward, so an untrained tail reproduces its
 * activations bit for bit. */
const float *tt_tail_forward(tt_tail *t, int M, const float *x) {
    const float *cur = x;
    for (int j = 0; j < t->nb; j++) {
        tt_tail_block *b = &t->blocks[j];
        tt_irb_params p = tt_tail_irb(b);
        tt_irb_forward(t->pool, &b->s, M, &p, cur, b->expanded, b->dwout, b->out, t->work);
        cur = b->out;
    }
    tt_irb_pw head = {t->head.w, NULL, t->head.b};
    tt_pointwise_forward(t->pool, M * t->head_hw, t->head_cin, t->F, cur, &head, TT_ACT_RELU6, NULL,
                         t->head_out, t->work);
    tt_f32_global_avgpool(t->pool, M, t->head_hw, t->F, t->head_out, t->feat);
    return t->feat;
}

void tt_tail_backward(tt_tail *t, int M, const float *x, const float *dfeatures) {
    size_t head_rows = (size_t)M * t->head_hw;
    tt_f32_global_avgpool_backward(t->pool, M, t->head_hw, t->F, dfeatures, t->gmid);
    tt_f32_relu6_backward(t->pool, head_rows * t->F, t->head_out, t->gmid, t->gmid);
    float *dy = t->g[0], *dx = t->g[1];
    tt_pointwise_backward(t->pool, (int)head_rows, t->head_cin, t->F, t->blocks[t->nb - 1].out,
                          t->head.w, t->gmid, dy, t->head.gw, t->head.gb, t->work);
    for (int j = t->nb - 1; j >= 0; j--) {
        tt_tail_block *b = &t->blocks[j];
        tt_irb_params p = tt_tail_irb(b);
        tt_irb_grads g = tt_tail_irb_grads(b);
        const float *in = j ? t->blocks[j - 1].out : x;
        float *din = j ? dx : NULL; /* the cached input needs no gradient */
        tt_irb_backward(t->pool, &b->s, M, &p, in, b->expanded, b->dwout, dy, din, &g, t->gmid,
                        t->gexp, t->work);
        dx = dy;
        dy = din;
    }
}

void tt_tail_features(tt_tail *t, int n, const float *x, float *features) {
    size_t in_dim = (size_t)t->blocks[0].s.h_in * t->blocks[0].s.w_in * t->blocks[0].s.cin;
    for (int i = 0; i < n; i += t->max_batch) {
        int m = n - i < t->max_batch ? n - i : t->max_batch;
        const float *f = tt_tail_forward(t, m, x + (size_t)i * in_dim);
        memcpy(features + (size_t)i * t->F, f, (size_t)m * t->F * sizeof(float));
    }
}
