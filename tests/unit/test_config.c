/* The settings table (tabtrain/config.h): defaults, CLI text, strict and
 * lenient JSON with the old spellings, the stored JSON round trip, the
 * comparison on resume naming every compared setting, the schema the page
 * reads, and the configs of the checkpoints today's code wrote before the
 * table existed (tests/fixtures/v0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/config.h"
#include "tabtrain/json.h"
#include "tt_test.h"

static void test_defaults_follow_the_table(void **state) {
    tt_config c = tt_config_defaults();
    /* What a new user gets (scripts/measure-defaults, README "Default settings"). */
    assert_int_equal(c.train.epochs, 30);
    assert_int_equal(c.train.batch_size, 32);
    assert_true(c.train.lr == 1e-3f);
    assert_int_equal(c.train.seed, 42);
    assert_true(c.val_fraction == 0.2f);
    assert_int_equal(c.train.hidden, 256);
    assert_true(c.train.dropout == 0.5f);
    assert_true(c.train.label_smoothing == 0.1f);
    assert_int_equal(c.train.patience, 6);
    assert_string_equal(c.augment, "flip,zoom");
    assert_int_equal(c.augment_views, 3);
    assert_int_equal(c.unfreeze, 1);
    assert_true(c.train.backbone_lr == 0); /* lr / 10 */
    assert_int_equal(c.init_from_model, 0);
    /* The trainer's own defaults agree with the table where both have one. */
    tt_trainer_config t = tt_trainer_defaults();
#define SAME(f) assert_memory_equal(&t.f, &c.train.f, sizeof t.f)
    SAME(epochs), SAME(batch_size), SAME(optimizer), SAME(lr), SAME(schedule), SAME(warmup_steps);
    SAME(step_epochs), SAME(gamma), SAME(weight_decay), SAME(momentum), SAME(label_smoothing);
    SAME(hidden), SAME(dropout), SAME(patience), SAME(seed), SAME(backbone_lr);
#undef SAME
    int n;
    const tt_setting *s = tt_config_settings(&n);
    assert_true(n >= 20);
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(tt_config_find(s[i].key), &s[i]);
        assert_null(strchr(s[i].key, '-'));
        char flag[64];
        assert_ptr_equal(tt_config_find(tt_config_flag(&s[i], flag, sizeof flag)), &s[i]);
    }
}

static void test_cli_text(void **state) {
    tt_config c = tt_config_defaults();
    tt_assert_ok(tt_config_set(&c, tt_config_find("--lr"), "0.003"));
    assert_true(c.train.lr == (float)0.003);
    tt_assert_ok(tt_config_set(&c, tt_config_find("--val-split"), "0.25")); /* the old flag */
    assert_true(c.val_fraction == 0.25f);
    tt_assert_ok(tt_config_set(&c, tt_config_find("--optimizer"), "sgd"));
    assert_int_equal(c.train.optimizer, TT_OPTIM_SGD);
    tt_assert_ok(tt_config_set(&c, tt_config_find("--schedule"), "cosine"));
    assert_int_equal(c.train.schedule, TT_SCHED_COSINE);
    const struct {
        const char *flag, *value, *want;
    } bad[] = {{"--epochs", "0", "epochs"},     {"--epochs", "2.5", "whole"}, {"--lr", "x", "lr"},
               {"--optimizer", "rmsprop", "adam|sgd"}, {"--unfreeze", "6", "unfreeze"},
               {"--dropout", "1", "dropout"},   {"--seed", "-1", "seed"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *before = tt_config_to_json(&c);
        assert_int_equal(tt_config_set(&c, tt_config_find(bad[i].flag), bad[i].value), TT_ERR_INVALID_ARG);
        if (!strstr(tt_last_error(), bad[i].want)) fail_msg("%s %s: %s", bad[i].flag, bad[i].value, tt_last_error());
        char *after = tt_config_to_json(&c);
        assert_string_equal(before, after);
        free(before), free(after);
    }
    assert_null(tt_config_find("--data"));
    assert_null(tt_config_find("bogus"));
}

static void test_json_strict_and_lenient(void **state) {
    tt_config c = tt_config_defaults();
    tt_assert_ok(tt_config_from_json(&c, "{\"learning_rate\":0.003,\"hidden_units\":16,\"val_fraction\":0.25,"
                                         "\"seed\":7,\"augment\":\"flip\",\"init_from_model\":true}", 0));
    assert_true(c.train.lr == (float)0.003);
    assert_int_equal(c.train.hidden, 16);
    assert_int_equal(c.train.seed, 7);
    assert_string_equal(c.augment, "flip");
    assert_int_equal(c.init_from_model, 1);
    assert_int_equal(tt_config_from_json(&c, "{\"epochs\":3,\"class_ids\":[1]}", 0), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "class_ids"));
    assert_int_equal(c.train.epochs, tt_config_defaults().train.epochs); /* all or nothing */
    tt_assert_ok(tt_config_from_json(&c, "{\"epochs\":3,\"class_ids\":[1],\"data_crc\":5}", 1));
    assert_int_equal(c.train.epochs, 3);
    /* The trainer record writes the seed as a decimal string. */
    tt_assert_ok(tt_config_from_json(&c, "{\"seed\":\"12345678901\"}", 1));
    assert_int_equal(c.train.seed, 12345678901ull);
    assert_int_equal(tt_config_from_json(&c, "{\"augment\":{\"flip\":true}}", 0), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "augment"));
    tt_config d = tt_config_defaults();
    d.unfreeze = 0; /* a base-model rate without fine-tuned blocks */
    d.train.backbone_lr = 0.1f;
    assert_int_equal(tt_config_validate(&d), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "unfreeze"));
    d = tt_config_defaults();
    snprintf(d.augment, sizeof d.augment, "flip,rotate");
    assert_int_equal(tt_config_validate(&d), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "rotate"));
}

/* Every setting but epochs is refused by name on resume, and the stored JSON
 * brings every setting back to the same bits. */
static void test_round_trip_and_compare(void **state) {
    tt_config c = tt_config_defaults();
    c.train.lr = 0.1f / 3;
    c.train.seed = 9007199254740991ull;
    snprintf(c.augment, sizeof c.augment, "flip,zoom");
    c.augment_views = 3;
    char *js = tt_config_to_json(&c);
    assert_non_null(js);
    tt_config back = tt_config_defaults();
    tt_assert_ok(tt_config_from_json(&back, js, 0));
    tt_assert_ok(tt_config_compare(&back, &c));
    char *again = tt_config_to_json(&back);
    assert_string_equal(again, js);
    assert_true(back.train.lr == c.train.lr && back.train.seed == c.train.seed);
    free(again);
    free(js);
    int n;
    const tt_setting *s = tt_config_settings(&n);
    for (int i = 0; i < n; i++) {
        tt_config other = c;
        char *field = (char *)&other + s[i].offset;
        if (s[i].type == TT_SETTING_TEXT) snprintf(field, TT_CONFIG_TEXT, "flip");
        else if (s[i].type == TT_SETTING_FLOAT) *(float *)field += 0.5f;
        else if (s[i].type == TT_SETTING_U64) *(uint64_t *)field += 1;
        else *(int *)field = !*(int *)field;
        tt_status st = tt_config_compare(&c, &other);
        /* Only the epoch count may change on resume: checked by name, not by
         * the table's own flag, so a setting marked changeable by mistake fails. */
        if (s[i].may_change != !strcmp(s[i].key, "epochs"))
            fail_msg("%s is %s on resume", s[i].key, s[i].may_change ? "allowed to change" : "frozen");
        if (s[i].may_change || s[i].type == TT_SETTING_BOOL) {
            assert_int_equal(st, TT_OK);
            continue;
        }
        assert_int_equal(st, TT_ERR_MISMATCH);
        char flag[64];
        if (!strstr(tt_last_error(), tt_config_flag(&s[i], flag, sizeof flag))) fail_msg("%s: %s", s[i].key, tt_last_error());
    }
    /* Views only count with an augment list. */
    tt_config a = tt_config_defaults();
    a.augment[0] = 0;
    tt_config b = a;
    b.augment_views = a.augment_views + 1;
    tt_assert_ok(tt_config_compare(&a, &b));
}

static void test_schema(void **state) {
    char *js = tt_config_schema_json();
    assert_non_null(js);
    tt_json j;
    tt_assert_ok(tt_json_parse(&j, js));
    int list = tt_json_key(&j, 0, "settings"), n;
    tt_config_settings(&n);
    assert_int_equal(tt_json_len(&j, list), n);
    int found = 0;
    for (int i = 0; i < n; i++) {
        int row = tt_json_at(&j, list, i);
        double v;
        if (tt_json_eq(&j, tt_json_key(&j, row, "key"), "lr")) {
            assert_true(tt_json_num(&j, tt_json_key(&j, row, "default"), &v, 0) && v == 1e-3);
            assert_true(tt_json_num(&j, tt_json_key(&j, row, "min"), &v, 0) && v > 0);
            found++;
        }
        if (tt_json_eq(&j, tt_json_key(&j, row, "key"), "optimizer")) {
            assert_int_equal(tt_json_len(&j, tt_json_key(&j, row, "choices")), 2);
            assert_true(tt_json_eq(&j, tt_json_key(&j, row, "default"), "adam"));
            found++;
        }
        if (tt_json_eq(&j, tt_json_key(&j, row, "key"), "augment")) {
            assert_true(tt_json_eq(&j, tt_json_key(&j, row, "type"), "list"));
            assert_int_equal(tt_json_len(&j, tt_json_key(&j, row, "choices")), 4);
            assert_true(tt_json_eq(&j, tt_json_key(&j, row, "default"), tt_config_defaults().augment));
            found++;
        }
        assert_true(tt_json_key(&j, row, "label") >= 0 && tt_json_key(&j, row, "help") >= 0);
        int g = tt_json_key(&j, row, "group");
        assert_true(tt_json_eq(&j, g, "basic") || tt_json_eq(&j, g, "advanced") || tt_json_eq(&j, g, "import"));
    }
    assert_int_equal(found, 3);
    /* The presets, each with the settings it changes. */
    int presets = tt_json_key(&j, 0, "presets"), np;
    tt_config_presets(&np);
    assert_int_equal(tt_json_len(&j, presets), np);
    int best = tt_json_at(&j, presets, 1);
    assert_true(tt_json_eq(&j, tt_json_key(&j, best, "key"), "best"));
    double k;
    assert_true(tt_json_num(&j, tt_json_key(&j, tt_json_key(&j, best, "settings"), "unfreeze"), &k, 0) && k == 2);
    tt_json_free(&j);
    free(js);
    char *usage = tt_config_usage();
    assert_non_null(strstr(usage, "--val-fraction X"));
    assert_non_null(strstr(usage, "--lr X"));
    assert_null(strstr(usage, "init-from-model"));
    free(usage);
}

/* A preset is the defaults and the settings it names, for every front end; "none"
 * turns the augment list (on by default) off from a command line. */
static void test_presets(void **state) {
    int n;
    const tt_preset *p = tt_config_presets(&n);
    assert_true(n >= 2);
    assert_string_equal(p[0].key, "recommended");
    tt_config d = tt_config_defaults(), c = d;
    char *dj = tt_config_to_json(&d);
    tt_assert_ok(tt_config_apply_preset(&c, "recommended"));
    char *cj = tt_config_to_json(&c);
    assert_string_equal(cj, dj);
    free(cj);
    for (int i = 0; i < n; i++) {
        c = tt_config_defaults();
        tt_assert_ok(tt_config_apply_preset(&c, p[i].key));
        tt_assert_ok(tt_config_validate(&c));
    }
    c = tt_config_defaults();
    tt_assert_ok(tt_config_apply_preset(&c, "best"));
    assert_int_equal(c.unfreeze, 2);
    assert_true(c.train.backbone_lr == 3e-4f);
    c.unfreeze = d.unfreeze, c.train.backbone_lr = d.train.backbone_lr;
    cj = tt_config_to_json(&c);
    assert_string_equal(cj, dj); /* nothing else */
    free(cj), free(dj);
    assert_int_equal(tt_config_apply_preset(&c, "fastest"), TT_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_last_error(), "recommended, best"));
    assert_true(d.augment[0]);
    tt_assert_ok(tt_config_set(&d, tt_config_find("--augment"), "none"));
    assert_string_equal(d.augment, "");
    tt_assert_ok(tt_config_validate(&d));
}

/* The configs of the checkpoints written before the table: the CLI's
 * (`lr`, `hidden`, `val_split`, `augment_views` 0) and the engine's
 * (`learning_rate`, `hidden_units`, `val_fraction`, class ids, data CRC). */
static void test_old_files(void **state) {
    const char *files[] = {"tests/fixtures/v0/cli-ckpt-e0001.safetensors", "tests/fixtures/v0/engine-ckpt-e0001.safetensors"};
    tt_config want = tt_config_defaults();
    want.train.epochs = 2, want.train.batch_size = 2, want.train.hidden = 4, want.train.seed = 7;
    want.train.lr = 0.003f, want.val_fraction = 0.25f;
    /* What those files were made with where today's defaults differ. */
    want.train.dropout = 0, want.train.label_smoothing = 0, want.train.patience = 0, want.augment[0] = 0;
    want.unfreeze = 0;
    for (int i = 0; i < 2; i++) {
        tt_st_file *f;
        tt_assert_ok(tt_st_open_file(&f, tt_test_source_path(files[i])));
        tt_config c;
        tt_assert_ok(tt_config_from_file(f, &c));
        tt_st_close(f);
        tt_assert_ok(tt_config_compare(&c, &want));
        assert_int_equal(c.train.epochs, 2);
        assert_true(c.train.lr == 0.003f);
        assert_int_equal(c.train.hidden, 4);
        assert_true(c.val_fraction == 0.25f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_follow_the_table), cmocka_unit_test(test_cli_text),
        cmocka_unit_test(test_json_strict_and_lenient),   cmocka_unit_test(test_round_trip_and_compare),
        cmocka_unit_test(test_schema),                    cmocka_unit_test(test_presets),
        cmocka_unit_test(test_old_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
