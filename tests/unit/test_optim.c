/* Optimizers and learning-rate schedules against hand-computed values. */
#include <math.h>
#include <string.h>

#include "tabtrain/optim.h"
#include "tt_test.h"

static void adam_first_step_moves_by_lr_times_sign(void **state) {
    (void)state;
    /* Step 1: m̂/√v̂ = g/|g|, so each weight moves by lr·sign(g) (less ε). */
    tt_optim_config c = tt_optim_defaults(TT_OPTIM_ADAM);
    assert_float_equal(c.beta1, 0.9f, 0), assert_float_equal(c.beta2, 0.999f, 0);
    assert_float_equal(c.eps, 1e-7f, 0);
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.3f, -4.0f, 1e-3f}, m[3] = {0}, v[3] = {0};
    tt_adam_update(3, w, g, m, v, 1e-3f, 0.0f, &c, 1);
    float want[3] = {1.0f - 1e-3f, -2.0f + 1e-3f,
                     0.5f - 1e-3f * (1e-3f / (1e-3f + 1e-7f / sqrtf(1e-3f)))};
    tt_test_assert_close(w, want, 3, 1e-7f, 1e-6f, "adam step 1");
    float wm[3] = {0.1f * 0.3f, 0.1f * -4.0f, 0.1f * 1e-3f};
    float wv[3] = {0.001f * 0.09f, 0.001f * 16.0f, 0.001f * 1e-6f};
    tt_test_assert_close(m, wm, 3, 0, 1e-6f, "adam m");
    tt_test_assert_close(v, wv, 3, 0, 1e-4f, "adam v"); /* 1 - 0.999f is not exact */
}

static void adam_matches_formula_over_steps(void **state) {
    (void)state;
    tt_optim_config c = tt_optim_defaults(TT_OPTIM_ADAM);
    c.beta1 = 0.8f, c.beta2 = 0.95f, c.eps = 1e-3f;
    static const float grads[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    float w = 1.0f, m = 0.0f, v = 0.0f;
    double W = 1.0, Mm = 0.0, V = 0.0;
    for (int t = 1; t <= 4; t++) {
        double g = grads[t - 1], lr = 0.1, wd = 0.01;
        tt_adam_update(1, &w, &grads[t - 1], &m, &v, 0.1f, 0.01f, &c, t);
        Mm = 0.8 * Mm + 0.2 * g;
        V = 0.95 * V + 0.05 * g * g;
        double lr_t = lr * sqrt(1 - pow(0.95, t)) / (1 - pow(0.8, t));
        W = W - lr * wd * W - lr_t * Mm / (sqrt(V) + 1e-3);
        assert_float_equal(w, W, 1e-6);
        assert_float_equal(m, Mm, 1e-7);
        assert_float_equal(v, V, 1e-7);
    }
}

static void sgd_momentum_hand_values(void **state) {
    (void)state;
    tt_optim_config c = tt_optim_defaults(TT_OPTIM_SGD);
    assert_float_equal(c.momentum, 0.9f, 0);
    float w = 1.0f, u = 0.0f, g = 1.0f;
    /* u: -0.1, -0.19, -0.271 ; w: 0.9, 0.71, 0.439 */
    static const float want_w[3] = {0.9f, 0.71f, 0.439f}, want_u[3] = {-0.1f, -0.19f, -0.271f};
    for (int t = 0; t < 3; t++) {
        tt_sgd_update(1, &w, &g, &u, 0.1f, 0.0f, &c);
        assert_float_equal(w, want_w[t], 1e-6);
        assert_float_equal(u, want_u[t], 1e-6);
    }
    c.momentum = 0.0f; /* plain SGD */
    w = 1.0f, u = 0.0f, g = -2.0f;
    tt_sgd_update(1, &w, &g, &u, 0.25f, 0.0f, &c);
    assert_float_equal(w, 1.5f, 0);
}

static void weight_decay_is_decoupled_and_spares_biases(void **state) {
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        tt_optim_config c = tt_optim_defaults(kind ? TT_OPTIM_SGD : TT_OPTIM_ADAM);
        c.weight_decay = 0.5f;
        float kdata[4] = {1, -2, 3, -4}, kgrad[4] = {0}, bdata[2] = {1, -1}, bgrad[2] = {0};
        tt_named_tensor p[2] = {
            {.name = "k", .ndim = 2, .shape = {2, 2}, .data = kdata, .grad = kgrad},
            {.name = "b", .ndim = 1, .shape = {2}, .data = bdata, .grad = bgrad}};
        tt_optim o;
        tt_assert_ok(tt_optim_init(&o, &c, p, 2));
        /* Zero gradients: only the decay acts, w ← w·(1 - lr·λ) per step. */
        tt_optim_step(&o, 0.1f);
        tt_optim_step(&o, 0.1f);
        float want[4] = {1 * 0.9025f, -2 * 0.9025f, 3 * 0.9025f, -4 * 0.9025f};
        tt_test_assert_close(kdata, want, 4, 0, 1e-6f, "decayed kernel");
        assert_true(bdata[0] == 1.0f && bdata[1] == -1.0f);
        assert_int_equal(o.step, 2);
        tt_named_tensor *st;
        int ns = tt_optim_state_tensors(&o, &st);
        assert_int_equal(ns, kind ? 2 : 4);
        assert_string_equal(st[0].name, kind ? "sgd_u.k" : "adam_m.k");
        assert_string_equal(st[ns - 1].name, kind ? "sgd_u.b" : "adam_v.b");
        assert_int_equal(st[ns - 1].shape[0], 2);
        assert_null(st[0].grad);
        tt_optim_free(&o);
    }
}

static void optimizer_config_is_checked(void **state) {
    (void)state;
    float d = 0, g = 0;
    tt_named_tensor p = {.name = "w", .ndim = 1, .shape = {1}, .data = &d, .grad = &g};
    static const struct {
        tt_optim_kind kind;
        float b1, b2, eps, mom, wd;
        const char *msg;
    } bad[] = {
        {TT_OPTIM_ADAM, 1.0f, 0.999f, 1e-7f, 0, 0, "beta1"},
        {TT_OPTIM_ADAM, 0.9f, NAN, 1e-7f, 0, 0, "beta1"},
        {TT_OPTIM_ADAM, 0.9f, 0.999f, 0.0f, 0, 0, "eps"},
        {TT_OPTIM_SGD, 0.9f, 0.999f, 1e-7f, 1.0f, 0, "momentum"},
        {TT_OPTIM_SGD, 0.9f, 0.999f, 1e-7f, NAN, 0, "momentum"},
        {TT_OPTIM_ADAM, 0.9f, 0.999f, 1e-7f, 0, -1.0f, "weight_decay"},
        {TT_OPTIM_SGD, 0.9f, 0.999f, 1e-7f, 0.5f, NAN, "weight_decay"},
        {(tt_optim_kind)7, 0.9f, 0.999f, 1e-7f, 0.5f, 0, "kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tt_optim_config c = {bad[i].kind, bad[i].b1, bad[i].b2, bad[i].eps, bad[i].mom, bad[i].wd};
        tt_optim o;
        assert_int_equal(tt_optim_init(&o, &c, &p, 1), TT_ERR_INVALID_ARG);
        if (!strstr(tt_last_error(), bad[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, tt_last_error(), bad[i].msg);
    }
}

/* The schedules several cases below share (macros: a static initializer
 * cannot name a const object in C). */
#define COSINE_110 {.kind = TT_SCHED_COSINE, .lr = 1.0f, .total_steps = 110, .warmup_steps = 10}
#define HALF_EVERY_2 \
    {.kind = TT_SCHED_STEP, .lr = 1.0f, .steps_per_epoch = 10, .step_epochs = 2, .gamma = 0.5f}

static void schedules_at_chosen_steps(void **state) {
    (void)state;
    static const struct {
        tt_schedule s;
        int64_t step;
        double want;
    } cases[] = {
        {{.kind = TT_SCHED_CONSTANT, .lr = 0.01f}, 0, 0.01},
        {{.kind = TT_SCHED_CONSTANT, .lr = 0.01f}, 12345, 0.01},
        /* cosine over 110 steps after 10 warmup steps */
        {COSINE_110, 0, 0.1},
        {COSINE_110, 4, 0.5},
        {COSINE_110, 9, 1.0},
        {COSINE_110, 10, 1.0},
        {COSINE_110, 35, 0.85355339},
        {COSINE_110, 60, 0.5},
        {COSINE_110, 110, 0.0},
        {{.kind = TT_SCHED_COSINE, .lr = 2.0f, .total_steps = 4}, 1, 1.70710678},
        /* ×0.5 every 2 epochs of 10 steps */
        {HALF_EVERY_2, 19, 1.0},
        {HALF_EVERY_2, 20, 0.5},
        {HALF_EVERY_2, 39, 0.5},
        {HALF_EVERY_2, 40, 0.25},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_assert_ok(tt_schedule_check(&cases[i].s));
        float lr = tt_schedule_lr(&cases[i].s, cases[i].step);
        if (fabs(lr - cases[i].want) > 1e-6)
            fail_msg("case %zu: lr at step %lld is %.9g, want %.9g", i, (long long)cases[i].step,
                     lr, cases[i].want);
    }
    static const tt_schedule bad[] = {
        {.kind = TT_SCHED_CONSTANT, .lr = 0.0f},
        {.kind = TT_SCHED_CONSTANT, .lr = NAN},
        {.kind = TT_SCHED_COSINE, .lr = 1.0f, .total_steps = 10, .warmup_steps = 10},
        {.kind = TT_SCHED_STEP, .lr = 1.0f, .steps_per_epoch = 10, .step_epochs = 0, .gamma = 0.5f},
        {.kind = TT_SCHED_STEP, .lr = 1.0f, .steps_per_epoch = 10, .step_epochs = 1, .gamma = 0.0f},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tt_schedule_check(&bad[i]), TT_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_first_step_moves_by_lr_times_sign),
        cmocka_unit_test(adam_matches_formula_over_steps),
        cmocka_unit_test(sgd_momentum_hand_values),
        cmocka_unit_test(weight_decay_is_decoupled_and_spares_biases),
        cmocka_unit_test(optimizer_config_is_checked),
        cmocka_unit_test(schedules_at_chosen_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
