/* SHA-256: the FIPS 180-2 Appendix B vectors, the empty message, and
 * streaming that splits the input at every offset around block boundaries. */
#include <string.h>

#include "tabtrain/sha256.h"
#include "tt_test.h"

static const struct {
    const char *msg;
    size_t repeat;
    const char *hex;
} tt_vectors[] = {
    {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    /* 55, 56 and 64 bytes: the padding edge cases (one vs two final blocks). */
    {"a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {"a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {"a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
};

static void fips_vectors(void **state) {
    (void)state;
    for (size_t v = 0; v < sizeof tt_vectors / sizeof *tt_vectors; v++) {
        tt_sha256_ctx c;
        tt_sha256_init(&c);
        size_t n = strlen(tt_vectors[v].msg);
        for (size_t r = 0; r < tt_vectors[v].repeat; r++) tt_sha256_update(&c, tt_vectors[v].msg, n);
        uint8_t d[TT_SHA256_SIZE];
        char hex[TT_SHA256_HEX];
        tt_sha256_final(&c, d);
        tt_sha256_hex(d, hex);
        if (strcmp(hex, tt_vectors[v].hex))
            fail_msg("vector %zu ('%.8s' x %zu): got %s want %s", v, tt_vectors[v].msg,
                     tt_vectors[v].repeat, hex, tt_vectors[v].hex);
    }
}

static void split_updates_match_one_shot(void **state) {
    (void)state;
    uint8_t msg[200];
    for (int i = 0; i < 200; i++) msg[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= 200; len += 13) {
        uint8_t want[TT_SHA256_SIZE];
        tt_sha256(msg, len, want);
        for (size_t cut = 0; cut <= len; cut++) {
            tt_sha256_ctx c;
            uint8_t got[TT_SHA256_SIZE];
            tt_sha256_init(&c);
            tt_sha256_update(&c, msg, cut);
            tt_sha256_update(&c, msg + cut, len - cut);
            tt_sha256_final(&c, got);
            if (memcmp(got, want, sizeof got)) fail_msg("len %zu split at %zu differs", len, cut);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_vectors),
        cmocka_unit_test(split_updates_match_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
