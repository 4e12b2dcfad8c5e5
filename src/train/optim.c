#include "tabtrain/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tt_optim_config tt_optim_defaults(tt_optim_kind kind) {
    tt_optim_config c = {.kind = kind,
                         .beta1 = 0.9f,
                         .beta2 = 0.999f,
                         .eps = 1e-7f,
                         .momentum = kind == TT_OPTIM_SGD ? 0.9f : 0.0f,
                         .weight_decay = 0.0f};
    return c;
}

static int tt_unit_interval(float x) { return isfinite(x) && x >= 0.0f && x < 1.0f; }

tt_status tt_optim_init(tt_optim *o, const tt_optim_config *cfg, tt_named_tensor *params, int n) {
    memset(o, 0, sizeof *o);
    if (cfg->kind != TT_OPTIM_ADAM && cfg->kind != TT_OPTIM_SGD)
        return tt_error(TT_ERR_INVALID_ARG, "optimizer: unknown kind %d", (int)cfg->kind);
    if (cfg->kind == TT_OPTIM_ADAM &&
        (!tt_unit_interval(cfg->beta1) || !tt_unit_interval(cfg->beta2) || !isfinite(cfg->eps) ||
         cfg->eps <= 0.0f))
        return tt_error(TT_ERR_INVALID_ARG,
                        "adam: need 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)", cfg->beta1,
                        cfg->beta2, cfg->eps);
    if (cfg->kind == TT_OPTIM_SGD && !tt_unit_interval(cfg->momentum))
        return tt_error(TT_ERR_INVALID_ARG, "sgd: momentum must be in [0, 1) (got %g)",
                        cfg->momentum);
    if (!isfinite(cfg->weight_decay) || cfg->weight_decay < 0.0f)
        return tt_error(TT_ERR_INVALID_ARG, "optimizer: weight_decay must be >= 0 (got %g)",
                        cfg->weight_decay);
    int slots = cfg->kind == TT_OPTIM_ADAM ? 2 : 1;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += tt_named_tensor_numel(&params[i]);
    o->state = calloc((size_t)(slots * n) + 1, sizeof *o->state);
    o->slab = calloc(slots * total + 1, sizeof(float));
    if (!o->state || !o->slab) {
        tt_optim_free(o);
        return tt_error(TT_ERR_NOMEM, "optimizer: no memory for %zu state floats", slots * total);
    }
    static const char *const slot_names[2][2] = {{"adam_m", "adam_v"}, {"sgd_u", ""}};
    float *p = o->slab;
    for (int s = 0; s < slots; s++) {
        for (int i = 0; i < n; i++) {
            tt_named_tensor *t = &o->state[s * n + i];
            *t = params[i];
            t->grad = NULL;
            t->data = p;
            p += tt_named_tensor_numel(&params[i]);
            snprintf(t->name, sizeof t->name, "%s.%s", slot_names[cfg->kind][s], params[i].name);
        }
    }
    o->cfg = *cfg;
    o->n = n;
    o->params = params;
    o->n_state = slots * n;
    return TT_OK;
}

void tt_optim_free(tt_optim *o) {
    free(o->state);
    free(o->slab);
    memset(o, 0, sizeof *o);
}

void tt_adam_update(size_t n, float *w, const float *g, float *m, float *v, float lr, float decay,
                    const tt_optim_config *c, int64_t t) {
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float lr_t = (float)(lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
    float wd = lr * decay;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = m[i] = b1 * m[i] + (1.0f - b1) * gi;
        float vi = v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] = w[i] - wd * w[i] - lr_t * mi / (sqrtf(vi) + eps);
    }
}

void tt_sgd_update(size_t n, float *w, const float *g, float *u, float lr, float decay,
                   const tt_optim_config *c) {
    float mu = c->momentum, wd = lr * decay;
    for (size_t i = 0; i < n; i++) {
        float ui = u[i] = mu * u[i] - lr * g[i];
        w[i] = w[i] - wd * w[i] + ui;
    }
}

void tt_optim_step(tt_optim *o, float lr) {
    o->step++;
    for (int i = 0; i < o->n; i++) {
        tt_named_tensor *p = &o->params[i];
        size_t n = tt_named_tensor_numel(p);
        float decay = p->ndim >= 2 ? o->cfg.weight_decay : 0.0f;
        if (o->cfg.kind == TT_OPTIM_ADAM)
            tt_adam_update(n, p->data, p->grad, o->state[i].data, o->state[o->n + i].data, lr,
                           decay, &o->cfg, o->step);
        else
            tt_sgd_update(n, p->data, p->grad, o->state[i].data, lr, decay, &o->cfg);
    }
}

int tt_optim_state_tensors(tt_optim *o, tt_named_tensor **out) {
    *out = o->state;
    return o->n_state;
}

tt_status tt_optim_set_step(tt_optim *o, int64_t step) {
    if (step < 0)
        return tt_error(TT_ERR_INVALID_ARG, "optimizer: negative step %lld", (long long)step);
    o->step = step;
    return TT_OK;
}

tt_status tt_schedule_check(const tt_schedule *s) {
    if (!isfinite(s->lr) || s->lr <= 0.0f)
        return tt_error(TT_ERR_INVALID_ARG, "learning rate must be a finite number > 0 (got %g)",
                        s->lr);
    switch (s->kind) {
    case TT_SCHED_CONSTANT: return TT_OK;
    case TT_SCHED_COSINE:
        if (s->total_steps < 1 || s->warmup_steps < 0 || s->warmup_steps >= s->total_steps)
            return tt_error(TT_ERR_INVALID_ARG,
                            "cosine schedule: need 0 <= warmup (%lld) < total steps (%lld)",
                            (long long)s->warmup_steps, (long long)s->total_steps);
        return TT_OK;
    case TT_SCHED_STEP:
        if (s->steps_per_epoch < 1 || s->step_epochs < 1 || !isfinite(s->gamma) || s->gamma <= 0.0f)
            return tt_error(TT_ERR_INVALID_ARG,
                            "step schedule: need every >= 1 epoch (%d), gamma > 0 (%g)",
                            s->step_epochs, s->gamma);
        return TT_OK;
    }
    return tt_error(TT_ERR_INVALID_ARG, "unknown schedule kind %d", (int)s->kind);
}

float tt_schedule_lr(const tt_schedule *s, int64_t step) {
    switch (s->kind) {
    case TT_SCHED_COSINE: {
        int64_t w = s->warmup_steps;
        if (step < w) return (float)((double)s->lr * (double)(step + 1) / (double)w);
        double f = (double)(step - w) / (double)(s->total_steps - w);
        if (f > 1.0) f = 1.0;
        return (float)((double)s->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * f)));
    }
    case TT_SCHED_STEP: {
        int64_t k = step / s->steps_per_epoch / s->step_epochs;
        return (float)((double)s->lr * pow((double)s->gamma, (double)k));
    }
    default: return s->lr;
    }
}
