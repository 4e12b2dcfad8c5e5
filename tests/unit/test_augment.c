/* Augmentation: identity when off, fixed rng consumption, determinism,
 * exact flip, brightness scaling, zoom and shear geometry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/image_fixtures.h"
#include "tabtrain/image.h"
#include "tt_test.h"

#define S 224
#define N ((size_t)S * S * 3)
#define PI 3.14159265358979323846

static tt_image noise_image(int w, int h, uint64_t seed) {
    tt_image m = {w, h, tt_test_malloc(3 * (size_t)w * h)};
    image_fx_noise(m.pixels, 3 * (size_t)w * h, seed);
    return m;
}

/* R = x ramp, G = y ramp, B = 200 over a w×h image. */
static tt_image ramp_image(int w, int h) {
    tt_image m = {w, h, tt_test_malloc(3 * (size_t)w * h)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = m.pixels + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(255 * x / (w - 1)), p[1] = (uint8_t)(255 * y / (h - 1)), p[2] = 200;
        }
    return m;
}

static float *buf(void) { return tt_test_malloc(N * sizeof(float)); }

static void rng_after_draws(tt_rng *r, uint64_t seed, int draws) {
    tt_rng_seed(r, seed, TT_STREAM_AUGMENT);
    for (int i = 0; i < draws; i++) tt_rng_uniform(r);
}

static const tt_augment configs[] = {
    {0},
    {.zoom_min = 1, .zoom_max = 1, .brightness_min = 1, .brightness_max = 1}, /* off, spelled out */
    {.flip = 1},
    {.zoom_min = 0.7f, .zoom_max = 1.2f},
    {.shear_deg = 20},
    {.brightness_min = 0.6f, .brightness_max = 1.4f},
    {.flip = 1, .zoom_min = 0.8f, .zoom_max = 1.0f, .shear_deg = 10, .brightness_min = 0.8f, .brightness_max = 1.2f},
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

static void off_equals_plain_input_and_draws_are_fixed(void **state) {
    (void)state;
    static const int sizes[][2] = {{224, 224}, {500, 375}, {90, 160}};
    float *plain = buf(), *out = buf();
    for (size_t s = 0; s < 3; s++) {
        tt_image m = noise_image(sizes[s][0], sizes[s][1], 10 + s);
        tt_assert_ok(tt_image_to_input(&m, S, plain));
        for (size_t c = 0; c < NCONFIGS; c++) {
            tt_rng r, want;
            tt_rng_seed(&r, 3, TT_STREAM_AUGMENT);
            tt_assert_ok(tt_augment_to_input(&m, S, c == 0 ? NULL : &configs[c], &r, out));
            rng_after_draws(&want, 3, TT_AUGMENT_DRAWS);
            if (r.state != want.state) fail_msg("config %zu: rng not advanced by exactly %d draws", c, TT_AUGMENT_DRAWS);
            if (c < 2) assert_memory_equal(out, plain, N * sizeof(float));
        }
        tt_image_free(&m);
    }
    free(plain);
    free(out);
}

static void same_rng_same_bits_and_values_stay_in_range(void **state) {
    (void)state;
    tt_image m = noise_image(320, 240, 20);
    float *a = buf(), *b = buf();
    for (size_t c = 2; c < NCONFIGS; c++) {
        int differ = 0;
        for (uint64_t seed = 0; seed < 4; seed++) {
            tt_rng r1, r2;
            tt_rng_seed(&r1, seed, TT_STREAM_AUGMENT);
            tt_rng_seed(&r2, seed, TT_STREAM_AUGMENT);
            tt_assert_ok(tt_augment_to_input(&m, S, &configs[c], &r1, a));
            tt_assert_ok(tt_augment_to_input(&m, S, &configs[c], &r2, b));
            assert_memory_equal(a, b, N * sizeof(float));
            for (size_t i = 0; i < N; i++)
                if (!(a[i] >= -1.0f && a[i] <= 1.0f)) fail_msg("config %zu: out[%zu] = %g", c, i, a[i]);
            tt_assert_ok(tt_augment_to_input(&m, S, &configs[c], &r1, b)); /* next view */
            differ += memcmp(a, b, N * sizeof(float)) != 0;
        }
        if (differ < 2) fail_msg("config %zu: successive views almost never differ", c);
    }
    tt_image_free(&m);
    free(a);
    free(b);
}

static void flip_is_an_exact_mirror(void **state) {
    (void)state;
    static const int sizes[][2] = {{224, 224}, {300, 224}, {224, 231}};
    float *plain = buf(), *out = buf();
    tt_augment aug = {.flip = 1};
    for (size_t s = 0; s < 3; s++) {
        tt_image m = noise_image(sizes[s][0], sizes[s][1], 30 + s);
        tt_assert_ok(tt_image_to_input(&m, S, plain));
        int flipped = 0, kept = 0;
        tt_rng r;
        tt_rng_seed(&r, 9, TT_STREAM_AUGMENT);
        for (int t = 0; t < 16; t++) {
            tt_assert_ok(tt_augment_to_input(&m, S, &aug, &r, out));
            if (!memcmp(out, plain, N * sizeof(float))) {
                kept++;
                continue;
            }
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    for (int c = 0; c < 3; c++)
                        if (out[3 * (y * S + x) + c] != plain[3 * (y * S + S - 1 - x) + c])
                            fail_msg("%dx%d: view %d is neither the image nor its mirror at (%d, %d)",
                                     m.width, m.height, t, x, y);
            flipped++;
        }
        assert_true(flipped >= 3 && kept >= 3);
        tt_image_free(&m);
    }
    free(plain);
    free(out);
}

static void brightness_scales_and_clips(void **state) {
    (void)state;
    tt_image m = noise_image(224, 224, 40);
    float *plain = buf(), *out = buf();
    tt_assert_ok(tt_image_to_input(&m, S, plain));
    static const float factors[] = {0.25f, 0.5f, 1.5f};
    for (size_t f = 0; f < 3; f++) {
        tt_augment aug = {.brightness_min = factors[f], .brightness_max = factors[f]};
        tt_rng r;
        tt_rng_seed(&r, 1, TT_STREAM_AUGMENT);
        tt_assert_ok(tt_augment_to_input(&m, S, &aug, &r, out));
        int clipped = 0;
        for (size_t i = 0; i < N; i++) {
            double v = (plain[i] + 1.0) * 127.5, want = v * factors[f];
            if (want > 255) want = 255, clipped++;
            if (fabs((out[i] + 1.0) * 127.5 - want) > 1e-3)
                fail_msg("factor %g: element %zu got %g want %g", factors[f], i, (out[i] + 1.0) * 127.5, want);
        }
        assert_true(factors[f] < 1 ? clipped == 0 : clipped > 1000);
    }
    tt_image_free(&m);
    free(plain);
    free(out);
}

/* On the ramp image, zoom 0.5 covers half the crop: the R span halves. */
static void zoom_narrows_the_field_of_view(void **state) {
    (void)state;
    tt_image m = ramp_image(448, 448);
    float *out = buf();
    static const float zooms[] = {0.5f, 0.8f};
    for (size_t z = 0; z < 2; z++) {
        tt_augment aug = {.zoom_min = zooms[z], .zoom_max = zooms[z]};
        for (uint64_t seed = 0; seed < 6; seed++) {
            tt_rng r;
            tt_rng_seed(&r, seed, TT_STREAM_AUGMENT);
            tt_assert_ok(tt_augment_to_input(&m, S, &aug, &r, out));
            double r0 = (out[0] + 1) * 127.5, r1 = (out[3 * (S - 1)] + 1) * 127.5;
            double g0 = (out[1] + 1) * 127.5, g1 = (out[3 * (S - 1) * S + 1] + 1) * 127.5;
            double span = 255.0 * zooms[z];
            if (fabs((r1 - r0) - span) > 4 || fabs((g1 - g0) - span) > 4)
                fail_msg("zoom %g seed %llu: R span %.1f, G span %.1f, want %.1f", zooms[z],
                         (unsigned long long)seed, r1 - r0, g1 - g0, span);
            assert_true(r0 >= -0.5 && r1 <= 255.5); /* the window stays inside the crop */
        }
    }
    /* Zooming out past the image repeats the edge (nearest fill). */
    tt_augment out2 = {.zoom_min = 2, .zoom_max = 2};
    tt_rng r;
    tt_rng_seed(&r, 0, TT_STREAM_AUGMENT);
    tt_assert_ok(tt_augment_to_input(&m, S, &out2, &r, out));
    for (int x = 0; x < S / 4 - 1; x++) assert_true(out[3 * x] == -1.0f);
    assert_true(out[3 * (S - 1)] == 1.0f);
    tt_image_free(&m);
    free(out);
}

/* Keras' shear keeps rows level (G constant along a row) and slants columns. */
static void shear_slants_columns(void **state) {
    (void)state;
    tt_image m = ramp_image(448, 448);
    float *plain = buf(), *out = buf();
    tt_assert_ok(tt_image_to_input(&m, S, plain));
    tt_augment aug = {.shear_deg = 30};
    int slanted = 0;
    for (uint64_t seed = 0; seed < 6; seed++) {
        tt_rng r, probe;
        tt_rng_seed(&r, seed, TT_STREAM_AUGMENT);
        probe = r;
        float u[TT_AUGMENT_DRAWS];
        for (int i = 0; i < TT_AUGMENT_DRAWS; i++) u[i] = tt_rng_uniform(&probe);
        double angle = (2.0 * u[4] - 1.0) * 30 * PI / 180;
        tt_assert_ok(tt_augment_to_input(&m, S, &aug, &r, out));
        int mid = S / 2;
        double top = (out[3 * (8 * S + mid)] + 1) * 127.5, bottom = (out[3 * ((S - 9) * S + mid)] + 1) * 127.5;
        /* source x = centre - sin(angle) * dy: R falls with y for a positive angle */
        double want = -sin(angle) * (S - 17) * 255.0 / 447.0 * 2.0;
        if (fabs((bottom - top) - want) > 3)
            fail_msg("shear %.1f deg: R bottom - top = %.1f, want %.1f", angle * 180 / PI, bottom - top, want);
        slanted += fabs(want) > 10;
        for (int y = 0; y < S; y += 31)
            for (int x = 1; x < S; x++) assert_true(out[3 * (y * S + x) + 1] == out[3 * (y * S) + 1]);
        assert_true(memcmp(out, plain, N * sizeof(float)) != 0);
    }
    assert_true(slanted >= 3);
    tt_image_free(&m);
    free(plain);
    free(out);
}

static void bad_configs_are_rejected(void **state) {
    (void)state;
    tt_image m = noise_image(32, 32, 50);
    float *out = buf();
    static const tt_augment bad[] = {
        {.zoom_min = 0, .zoom_max = 1.2f},
        {.zoom_min = 1.2f, .zoom_max = 0.8f},
        {.shear_deg = 90},
        {.brightness_min = -0.5f, .brightness_max = 1},
    };
    tt_rng r;
    tt_rng_seed(&r, 0, TT_STREAM_AUGMENT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tt_augment_to_input(&m, S, &bad[i], &r, out), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_augment_to_input(&m, S, &configs[2], NULL, out), TT_ERR_INVALID_ARG);
    tt_image_free(&m);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_equals_plain_input_and_draws_are_fixed),
        cmocka_unit_test(same_rng_same_bits_and_values_stay_in_range),
        cmocka_unit_test(flip_is_an_exact_mirror),
        cmocka_unit_test(brightness_scales_and_clips),
        cmocka_unit_test(zoom_narrows_the_field_of_view),
        cmocka_unit_test(shear_slants_columns),
        cmocka_unit_test(bad_configs_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
