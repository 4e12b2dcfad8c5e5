/* Core services: status messages, arena, RNG, CRC32. */
#include <string.h>

#include "tabtrain/arena.h"
#include "tabtrain/crc32.h"
#include "tt_test.h"

static void status_message_roundtrip(void **state) {
    (void)state;
    tt_clear_error();
    assert_string_equal(tt_last_error(), "");
    assert_int_equal(tt_error(TT_ERR_CORRUPT, "tensor %s at %d", "w", 42), TT_ERR_CORRUPT);
    assert_string_equal(tt_last_error(), "tensor w at 42");
    assert_string_equal(tt_status_name(TT_ERR_CORRUPT), "TT_ERR_CORRUPT");
    assert_string_equal(tt_status_name((tt_status)999), "TT_ERR_UNKNOWN");
    /* Context in front of a deeper message, passing the message itself. */
    tt_error(TT_ERR_IO, "%s: %s", "model.safetensors", tt_last_error());
    assert_string_equal(tt_last_error(), "model.safetensors: tensor w at 42");
}

static void arena_aligns_marks_and_refuses_overflow(void **state) {
    (void)state;
    tt_arena *a;
    tt_assert_ok(tt_arena_init(&a, 1000));
    assert_int_equal(tt_arena_capacity(a), 1024);
    char *p = tt_arena_alloc(a, 1);
    char *q = tt_arena_alloc(a, 100);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % TT_ARENA_ALIGN, 0);
    assert_int_equal((uintptr_t)q % TT_ARENA_ALIGN, 0);
    assert_int_equal(q - p, 64);
    size_t m = tt_arena_mark(a);
    assert_non_null(tt_arena_alloc(a, 512));
    assert_null(tt_arena_alloc(a, 512)); /* 64+128+512+512 > 1024 */
    assert_non_null(strstr(tt_last_error(), "arena exhausted"));
    assert_null(tt_arena_alloc(a, SIZE_MAX)); /* rounding must not wrap */
    tt_arena_reset(a, m);
    assert_int_equal(tt_arena_used(a), 192);
    assert_int_equal(tt_arena_high_water(a), 704);
    assert_non_null(tt_arena_alloc(a, 512));
    tt_arena_free(a);
}

static void rng_is_deterministic_and_restorable(void **state) {
    (void)state;
    tt_rng a, b;
    tt_rng_seed(&a, 42, TT_STREAM_SHUFFLE);
    tt_rng_seed(&b, 42, TT_STREAM_SHUFFLE);
    for (int i = 0; i < 10; i++) tt_rng_u32(&a);
    tt_rng saved = a; /* the full state is two words: a checkpoint stores them */
    uint32_t next[5];
    for (int i = 0; i < 5; i++) next[i] = tt_rng_u32(&a);
    for (int i = 0; i < 5; i++) assert_int_equal(tt_rng_u32(&saved), next[i]);
    for (int i = 0; i < 10; i++) tt_rng_u32(&b);
    assert_int_equal(tt_rng_u32(&b), next[0]);
    /* Other streams and seeds differ. */
    tt_rng c;
    tt_rng_seed(&c, 42, TT_STREAM_AUGMENT);
    tt_rng_seed(&a, 42, TT_STREAM_SHUFFLE);
    int same = 0;
    for (int i = 0; i < 64; i++) same += tt_rng_u32(&a) == tt_rng_u32(&c);
    assert_true(same < 4);
    /* PCG32 reference value (pcg32-global demo, seed 42 stream 54). */
    tt_rng_seed(&a, 42, 54);
    assert_int_equal(tt_rng_u32(&a), 0xa15c02b7u);
    assert_int_equal(tt_rng_u32(&a), 0x7b47f409u);
}

static void rng_ranges_and_shuffle(void **state) {
    (void)state;
    tt_rng r;
    tt_rng_seed(&r, 7, TT_STREAM_TEST);
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        float u = tt_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        hist[tt_rng_below(&r, 7)]++;
    }
    for (int i = 0; i < 7; i++) assert_in_range(hist[i], 9400, 10600);
    uint32_t v[100], seen[100] = {0};
    for (uint32_t i = 0; i < 100; i++) v[i] = i;
    tt_rng_shuffle_u32(&r, v, 100);
    int moved = 0;
    for (uint32_t i = 0; i < 100; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
}

static void crc32_matches_zlib(void **state) {
    (void)state;
    const char *s = "123456789";
    assert_int_equal(tt_crc32(0, s, 9), 0xCBF43926u); /* the standard check value */
    assert_int_equal(tt_crc32(0, "", 0), 0);
    /* Incremental over odd splits equals one shot. */
    unsigned char buf[1031];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131 + 7);
    uint32_t whole = tt_crc32(0, buf, sizeof buf);
    uint32_t part = tt_crc32(tt_crc32(tt_crc32(0, buf, 3), buf + 3, 510), buf + 513, 518);
    assert_int_equal(whole, part);
    buf[700] ^= 1;
    assert_int_not_equal(tt_crc32(0, buf, sizeof buf), whole);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_message_roundtrip),
        cmocka_unit_test(arena_aligns_marks_and_refuses_overflow),
        cmocka_unit_test(rng_is_deterministic_and_restorable),
        cmocka_unit_test(rng_ranges_and_shuffle),
        cmocka_unit_test(crc32_matches_zlib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
