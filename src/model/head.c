#include "tabtrain/head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/conv.h"

static void tt_head_add_param(tt_named_tensor *out, int *n, const char *name, int rows, int cols) {
    tt_named_tensor *t = &out[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
}

int tt_head_layout(const tt_head_config *cfg, tt_named_tensor out[4]) {
    int n = 0, hid = cfg->hidden;
    if (hid) {
        tt_head_add_param(out, &n, "head.hidden.kernel", hid, cfg->in);
        tt_head_add_param(out, &n, "head.hidden.bias", hid, 0);
    }
    tt_head_add_param(out, &n, "head.logits.kernel", cfg->classes, hid ? hid : cfg->in);
    tt_head_add_param(out, &n, "head.logits.bias", cfg->classes, 0);
    return n;
}

static void tt_glorot(float *w, int out, int in, tt_rng *r) {
    float limit = sqrtf(6.0f / (float)(in + out));
    for (size_t i = 0; i < (size_t)out * in; i++) w[i] = tt_rng_range(r, -limit, limit);
}

tt_status tt_head_init(tt_head *h, const tt_head_config *cfg, int max_batch, tt_rng *init_rng) {
    memset(h, 0, sizeof *h);
    if (cfg->in < 1 || cfg->hidden < 0 || cfg->classes < 2 || max_batch < 1)
        return tt_error(TT_ERR_INVALID_ARG,
                        "head: need in >= 1, hidden >= 0, classes >= 2, batch >= 1 "
                        "(got %d, %d, %d, %d)",
                        cfg->in, cfg->hidden, cfg->classes, max_batch);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return tt_error(TT_ERR_INVALID_ARG, "head: dropout must be in [0, 1) (got %g)",
                        cfg->dropout);
    int in = cfg->in, hid = cfg->hidden, C = cfg->classes, last_in = hid ? hid : in;
    size_t B = (size_t)max_batch;
    /* Sizes come from files too: on wasm32 (32-bit size_t) they must not wrap. */
    uint64_t need = (uint64_t)hid * in + hid + (uint64_t)C * last_in + C +
                    (uint64_t)B * ((uint64_t)last_in * 2 + (uint64_t)hid * 2 + C + (uint64_t)in + last_in);
    if (need > SIZE_MAX / 4 / sizeof(float))
        return tt_error(TT_ERR_LIMIT, "head: %d inputs, %d hidden, %d classes at batch %d do not fit this machine's memory",
                        in, hid, C, max_batch);
    h->n_floats = (hid ? (size_t)hid * in + hid : 0) + (size_t)C * last_in + C;
    size_t work = tt_dense_work_size(max_batch, last_in, C);
    if (hid) {
        size_t w1 = tt_dense_work_size(max_batch, in, hid);
        work = w1 > work ? w1 : work;
    }
    size_t acts = B * last_in * 2 /* drop, mask */ + (hid ? B * hid : 0) * 2 /* hid, dlogits_in */ +
                  B * C + work;
    h->params_slab = calloc(h->n_floats, sizeof(float));
    h->grads_slab = calloc(h->n_floats, sizeof(float));
    float *a = h->acts = calloc(acts + 1, sizeof(float));
    if (!h->params_slab || !h->grads_slab || !a) {
        tt_head_free(h);
        return tt_error(TT_ERR_NOMEM, "head: no memory for %zu floats", 2 * h->n_floats + acts);
    }
    h->cfg = *cfg;
    h->max_batch = max_batch;
    h->n_params = tt_head_layout(cfg, h->params);
    size_t off = 0;
    for (int i = 0; i < h->n_params; off += tt_named_tensor_numel(&h->params[i++])) {
        h->params[i].data = h->params_slab + off;
        h->params[i].grad = h->grads_slab + off;
    }
    float *p = a;
    h->hid = p, p += hid ? B * hid : 0;
    h->dlogits_in = p, p += hid ? B * hid : 0;
    h->drop = p, p += B * last_in;
    h->mask = p, p += B * last_in;
    h->logits = p, p += B * C;
    h->work = p;
    for (int i = 0; i < h->n_params; i += 2)
        tt_glorot(h->params[i].data, (int)h->params[i].shape[0], (int)h->params[i].shape[1],
                  init_rng);
    return TT_OK;
}

void tt_head_free(tt_head *h) {
    free(h->params_slab);
    free(h->grads_slab);
    free(h->acts);
    memset(h, 0, sizeof *h);
}

int tt_head_params(tt_head *h, tt_named_tensor **out) {
    *out = h->params;
    return h->n_params;
}

void tt_head_zero_grad(tt_head *h) { memset(h->grads_slab, 0, h->n_floats * sizeof(float)); }

const float *tt_head_forward(tt_head *h, int M, const float *x, tt_rng *dropout_rng) {
    int in = h->cfg.in, hid = h->cfg.hidden, C = h->cfg.classes, last_in = hid ? hid : in;
    const tt_named_tensor *P = h->params;
    const float *z = x;
    if (hid) {
        tt_dense_forward(M, in, hid, x, P[0].data, P[1].data, TT_ACT_RELU, h->hid, h->work);
        z = h->hid;
        P += 2;
    }
    if (dropout_rng && h->cfg.dropout > 0.0f) {
        size_t n = (size_t)M * last_in;
        tt_dropout_mask(n, h->cfg.dropout, dropout_rng, h->mask);
        tt_dropout_apply(n, h->mask, z, h->drop);
        z = h->drop;
    }
    tt_dense_forward(M, last_in, C, z, P[0].data, P[1].data, TT_ACT_NONE, h->logits, h->work);
    return h->logits;
}

void tt_head_backward(tt_head *h, int M, const float *x, const float *dlogits) {
    tt_head_backward_dx(h, M, x, dlogits, NULL);
}

void tt_head_backward_dx(tt_head *h, int M, const float *x, const float *dlogits, float *dx) {
    int in = h->cfg.in, hid = h->cfg.hidden, C = h->cfg.classes, last_in = hid ? hid : in;
    int dropped = h->cfg.dropout > 0.0f;
    tt_named_tensor *P = h->params + (hid ? 2 : 0);
    const float *z = dropped ? h->drop : hid ? h->hid : x;
    /* Without a hidden layer the last layer's input is (dropped-out) x. */
    float *dz = hid ? h->dlogits_in : dx;
    tt_dense_backward(M, last_in, C, z, P[0].data, dlogits, dz, P[0].grad, P[1].grad, h->work);
    if (!hid) {
        if (dx && dropped) tt_dropout_apply((size_t)M * in, h->mask, dx, dx);
        return;
    }
    size_t n = (size_t)M * hid;
    if (dropped) tt_dropout_apply(n, h->mask, dz, dz);
    tt_f32_relu_backward(n, h->hid, dz, dz);
    tt_dense_backward(M, in, hid, x, h->params[0].data, dz, dx, h->params[0].grad,
                      h->params[1].grad, h->work);
}

void tt_head_predict(tt_head *h, int n, const float *x, float *probs) {
    int C = h->cfg.classes;
    for (int i = 0; i < n; i += h->max_batch) {
        int m = n - i < h->max_batch ? n - i : h->max_batch;
        const float *logits = tt_head_forward(h, m, x + (size_t)i * h->cfg.in, NULL);
        tt_f32_softmax(m, C, logits, probs + (size_t)i * C);
    }
}
