/* safetensors: round trips, third-party files, and every kind of bad file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/fileio.h"
#include "tabtrain/safetensors.h"
#include "tt_test.h"

/* ------------------------------------------------------------ fixtures */

static float f32[2 * 3];
static double f64[3];
static int32_t i32[5];
static int64_t i64[2];
static uint8_t u8[7];
static float scalar = 3.25f;

static const char *const tricky_value =
    "{\"classes\":[\"a \\\"quoted\\\" cat\",\"back\\\\slash\"],\n\t\"unicode\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x88\",\"ctl\":\"\x01\x1f\"}";

static tt_st_builder *sample_builder(void) {
    tt_test_fill(f32, 6, 1, -1, 1);
    for (int i = 0; i < 3; i++) f64[i] = 1.0 / (i + 3);
    for (int i = 0; i < 5; i++) i32[i] = -1000 * i + 7;
    i64[0] = INT64_MIN, i64[1] = INT64_MAX;
    for (int i = 0; i < 7; i++) u8[i] = (uint8_t)(250 + i);
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    /* Added small-first and mixed so the writer's size ordering is exercised. */
    tt_assert_ok(tt_st_add(b, "bytes", TT_DTYPE_U8, 1, (int64_t[]){7}, u8));
    tt_assert_ok(tt_st_add(b, "w", TT_DTYPE_F32, 2, (int64_t[]){2, 3}, f32));
    tt_assert_ok(tt_st_add(b, "scalar", TT_DTYPE_F32, 0, NULL, &scalar));
    tt_assert_ok(tt_st_add(b, "empty", TT_DTYPE_F32, 2, (int64_t[]){0, 3}, NULL));
    tt_assert_ok(tt_st_add(b, "ints", TT_DTYPE_I32, 1, (int64_t[]){5}, i32));
    tt_assert_ok(tt_st_add(b, "doubles", TT_DTYPE_F64, 1, (int64_t[]){3}, f64));
    tt_assert_ok(tt_st_add(b, "longs", TT_DTYPE_I64, 1, (int64_t[]){2}, i64));
    tt_assert_ok(tt_st_add(b, "na\"me/\xc3\xa9", TT_DTYPE_U8, 1, (int64_t[]){1}, u8));
    tt_assert_ok(tt_st_set_metadata(b, "config", "placeholder"));
    tt_assert_ok(tt_st_set_metadata(b, "config", tricky_value)); /* replaces */
    tt_assert_ok(tt_st_set_metadata(b, "line\nkey", ""));
    return b;
}

static void *sample_bytes(size_t *len) {
    tt_st_builder *b = sample_builder();
    void *buf;
    tt_assert_ok(tt_st_write_memory(b, &buf, len));
    tt_st_builder_free(b);
    return buf;
}

static uint64_t header_len(const void *buf) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | ((const unsigned char *)buf)[i];
    return n;
}

static void check_sample(const tt_st_file *f, const void *buf, size_t len) {
    const struct {
        const char *name;
        tt_dtype dt;
        int ndim;
        int64_t shape[2];
        const void *data;
        size_t nbytes;
    } want[] = {
        {"bytes", TT_DTYPE_U8, 1, {7}, u8, 7},        {"w", TT_DTYPE_F32, 2, {2, 3}, f32, 24},
        {"scalar", TT_DTYPE_F32, 0, {0}, &scalar, 4}, {"empty", TT_DTYPE_F32, 2, {0, 3}, NULL, 0},
        {"ints", TT_DTYPE_I32, 1, {5}, i32, 20},      {"doubles", TT_DTYPE_F64, 1, {3}, f64, 24},
        {"longs", TT_DTYPE_I64, 1, {2}, i64, 16},     {"na\"me/\xc3\xa9", TT_DTYPE_U8, 1, {1}, u8, 1},
    };
    assert_int_equal(tt_st_count(f), 8);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const tt_st_tensor *t = tt_st_find(f, want[i].name);
        if (!t) fail_msg("tensor %s missing", want[i].name);
        assert_string_equal(t->name, want[i].name);
        assert_int_equal(t->dtype, want[i].dt);
        assert_int_equal(t->ndim, want[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], want[i].shape[d]);
        assert_int_equal(t->nbytes, want[i].nbytes);
        assert_int_equal(t->numel * tt_dtype_size(t->dtype), t->nbytes);
        assert_int_equal((uintptr_t)t->data % tt_dtype_size(t->dtype), 0);
        if (want[i].nbytes) assert_memory_equal(t->data, want[i].data, want[i].nbytes);
        if (buf && want[i].nbytes) /* borrowed, not copied */
            assert_true((const char *)t->data >= (const char *)buf && (const char *)t->data < (const char *)buf + len);
    }
    /* Data order: decreasing element size, so everything is naturally aligned without gaps. */
    for (size_t i = 1; i < tt_st_count(f); i++)
        assert_true(tt_dtype_size(tt_st_tensor_at(f, i - 1)->dtype) >= tt_dtype_size(tt_st_tensor_at(f, i)->dtype));
    assert_null(tt_st_find(f, "nope"));
    const tt_st_tensor *t;
    assert_int_equal(tt_st_get(f, "nope", TT_DTYPE_F32, &t), TT_ERR_NOT_FOUND);
    assert_int_equal(tt_st_get(f, "ints", TT_DTYPE_F32, &t), TT_ERR_UNSUPPORTED);
    tt_assert_ok(tt_st_get(f, "w", TT_DTYPE_F32, &t));
    assert_string_equal(tt_st_metadata(f, "config"), tricky_value);
    assert_string_equal(tt_st_metadata(f, "line\nkey"), "");
    assert_string_equal(tt_st_metadata(f, "tabtrain.format_version"), "1");
    assert_non_null(tt_st_metadata(f, "tabtrain.crc32.w"));
    assert_null(tt_st_metadata(f, "missing"));
    /* format_version + 2 user keys + 8 CRCs */
    assert_int_equal(tt_st_metadata_count(f), 11);
}

/* ------------------------------------------------------------ round trips */

static void roundtrip_memory_and_file(void **state) {
    (void)state;
    size_t len;
    void *buf = sample_bytes(&len);
    assert_int_equal(header_len(buf) % 8, 0);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, buf, len));
    check_sample(f, buf, len);
    tt_st_close(f);

    const char *path = tt_test_binary_path("tmp-safetensors-roundtrip.safetensors");
    tt_st_builder *b = sample_builder();
    tt_assert_ok(tt_st_write_file(b, path));
    tt_st_builder_free(b);
    void *disk;
    size_t dlen;
    tt_assert_ok(tt_file_read(path, 1 << 20, &disk, &dlen));
    assert_int_equal(dlen, len);
    assert_memory_equal(disk, buf, len); /* deterministic bytes */
    free(disk);
    tt_assert_ok(tt_st_open_file(&f, path));
    check_sample(f, NULL, 0);
    tt_st_close(f);
    remove(path);

    /* At an odd address the data section is copied to stay aligned. */
    char *odd = tt_test_malloc(len + 1);
    memcpy(odd + 1, buf, len);
    tt_assert_ok(tt_st_open_memory(&f, odd + 1, len));
    check_sample(f, NULL, 0);
    tt_st_close(f);
    free(odd);
    free(buf);
}

static void writer_refuses_bad_input(void **state) {
    (void)state;
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    static float x = 0;
    static const struct {
        const char *name;
        int ndim;
        int64_t dim;
        const void *data;
    } bad[] = {
        {"", 1, 1, &x}, {"__metadata__", 1, 1, &x}, {"neg", 1, -1, &x}, {"nodata", 1, 4, NULL},
        {"\xff\xfe", 1, 1, &x}, {"dims", 9, 1, &x},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t shape[9] = {bad[i].dim, 1, 1, 1, 1, 1, 1, 1, 1};
        assert_int_equal(tt_st_add(b, bad[i].name, TT_DTYPE_F32, bad[i].ndim, shape, bad[i].data), TT_ERR_INVALID_ARG);
    }
    tt_assert_ok(tt_st_add(b, "x", TT_DTYPE_F32, 0, NULL, &x));
    assert_int_equal(tt_st_add(b, "x", TT_DTYPE_F32, 0, NULL, &x), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_st_set_metadata(b, "tabtrain.format_version", "0"), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_st_set_metadata(b, "tabtrain.crc32.x", "00000000"), TT_ERR_INVALID_ARG);
    assert_int_equal(tt_st_set_metadata(b, "k", "\xc3"), TT_ERR_INVALID_ARG);
    tt_st_builder_free(b);
}

/* ------------------------------------------------------------ hand-made files */

/* 8-byte length + json (unpadded, as some writers do) + data. */
static unsigned char *make_file(const char *json, const void *data, size_t dlen, size_t *len) {
    size_t n = strlen(json);
    *len = 8 + n + dlen;
    unsigned char *b = tt_test_malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    if (dlen) memcpy(b + 8 + n, data, dlen);
    return b;
}

static void third_party_file_loads(void **state) {
    (void)state;
    const float v[4] = {1, 2, 3, 4};
    unsigned char bytes[20] = {0};
    memcpy(bytes, v, 16);
    bytes[16] = 9;
    /* Unpadded 7-byte-odd header, keys in any order, tensors listed out of
     * data order, a "format" metadata like PyTorch writes, no tabtrain keys. */
    const char *json = "{\"b\":{\"shape\":[1],\"data_offsets\":[16,17],\"dtype\":\"U8\"},"
                       "\"__metadata__\":{\"format\":\"pt\"},  "
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}  ";
    size_t len;
    unsigned char *file = make_file(json, bytes, 17, &len);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, file, len));
    assert_int_equal(tt_st_count(f), 2);
    assert_string_equal(tt_st_tensor_at(f, 0)->name, "a");
    const tt_st_tensor *a;
    tt_assert_ok(tt_st_get(f, "a", TT_DTYPE_F32, &a));
    assert_int_equal((uintptr_t)a->data % 4, 0);
    tt_test_assert_close(a->data, v, 4, 0, 0, "a");
    assert_int_equal(*(const uint8_t *)tt_st_find(f, "b")->data, 9);
    assert_string_equal(tt_st_metadata(f, "format"), "pt");
    assert_null(tt_st_metadata(f, "tabtrain.format_version"));
    tt_st_close(f);
    free(file);
    /* Not even a __metadata__ entry, and no tensors at all. */
    file = make_file("{}", NULL, 0, &len);
    tt_assert_ok(tt_st_open_memory(&f, file, len));
    assert_int_equal(tt_st_count(f), 0);
    tt_st_close(f);
    free(file);
}

/* A well-formed tensor entry: 1 or 2 floats from the start of the data. */
#define F32_1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
#define F32_2 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void bad_headers_are_refused(void **state) {
    (void)state;
    static const unsigned char zeros[64];
    static const struct {
        const char *json;
        size_t dlen;
        tt_status want;
        const char *msg;
    } cases[] = {
        {"{\"a\":" F32_2, 8, TT_ERR_FORMAT, "JSON"},
        {"{\"a\":" F32_2 "}}", 8, TT_ERR_FORMAT, "JSON"},
        {"{\"a\":" F32_2 "}x", 8, TT_ERR_FORMAT, "JSON"},
        {"{} 5", 0, TT_ERR_FORMAT, "JSON"},
        {"{} {}", 0, TT_ERR_FORMAT, "after the JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "JSON"},
        {"{\"a\" \"b\"}", 0, TT_ERR_FORMAT, "JSON"},
        {"[1,2]", 0, TT_ERR_FORMAT, "'{'"},
        {"{\"a\":[1]}", 0, TT_ERR_FORMAT, "'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, TT_ERR_FORMAT, "missing data_offsets"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "missing dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "missing shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":{\"y\":[[[]]]}}}", 8, TT_ERR_FORMAT, "unexpected"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "repeated"},
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, TT_ERR_UNSUPPORTED, "BF16"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, TT_ERR_FORMAT, "non-negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, TT_ERR_UNSUPPORTED, "dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, TT_ERR_CORRUPT, "needs 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, TT_ERR_LIMIT, "overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8, TT_ERR_CORRUPT, "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, TT_ERR_CORRUPT, "outside"},
        {"{\"a\":" F32_2 ","
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, TT_ERR_CORRUPT, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TT_ERR_CORRUPT, "gap"},
        {"{\"a\":" F32_1 "}", 8, TT_ERR_CORRUPT, "after the last"},
        {"{\"a\":" F32_1 ","
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, TT_ERR_FORMAT, "twice"},
        {"{\"\":" F32_1 "}", 4, TT_ERR_FORMAT, "empty"},
        {"{\"a\\u0000b\":" F32_1 "}", 4, TT_ERR_FORMAT, "NUL"},
        {"{\"a\\ud800\":" F32_1 "}", 4, TT_ERR_FORMAT, "escape"},
        {"{\"a\\x\":" F32_1 "}", 4, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"a\":1,}", 0, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"a\" 1}", 0, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"a\":[1 2]}", 0, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"a\":01}", 0, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"a\":tru}", 0, TT_ERR_FORMAT, "invalid JSON"},
        {"{\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", 0, TT_ERR_LIMIT, "nested"},
        {"{\"a\xc3\":" F32_1 "}", 4, TT_ERR_FORMAT, "UTF-8"},
        {"{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", 0, TT_ERR_FORMAT, "must be a string"},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, TT_ERR_FORMAT, "repeated"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, TT_ERR_FORMAT, "__metadata__"},
        {"{\"__metadata__\":{\"tabtrain.format_version\":\"2\"}}", 0, TT_ERR_VERSION, "version 2"},
        {"{\"__metadata__\":{\"tabtrain.format_version\":\"v1\"}}", 0, TT_ERR_FORMAT, "not an integer"},
        {"{\"__metadata__\":{\"tabtrain.format_version\":\"1\"},"
         "\"a\":" F32_1 "}", 4, TT_ERR_CORRUPT, "no CRC"},
        {"{\"__metadata__\":{\"tabtrain.crc32.zz\":\"00000000\"}}", 0, TT_ERR_CORRUPT, "'zz'"},
        /* a tabtrain file needs every CRC whatever the version key says: deleting it turns nothing off */
        {"{\"__metadata__\":{\"tabtrain.kind\":\"model\"},\"a\":" F32_1 "}", 4, TT_ERR_CORRUPT, "damaged or was modified"},
        {"{\"__metadata__\":{\"tabtrain.crc32.a\":\"2144df1c\"},\"a\":" F32_1 "}", 4, TT_ERR_CORRUPT, "damaged or was modified"},
        {"{\"__metadata__\":{\"tabtrain.crc32.a\":\"xyz\"},"
         "\"a\":" F32_1 "}", 4, TT_ERR_CORRUPT, "8 hex"},
        {"{\"__metadata__\":{\"tabtrain.crc32.a\":\"2144df1d\"},"
         "\"a\":" F32_1 "}", 4, TT_ERR_CORRUPT, "'a'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        unsigned char *file = make_file(cases[i].json, zeros, cases[i].dlen, &len);
        tt_st_file *f = (tt_st_file *)1;
        tt_clear_error();
        tt_status st = tt_st_open_memory(&f, file, len);
        if (st != cases[i].want || !strstr(tt_last_error(), cases[i].msg))
            fail_msg("case %zu %s: got %s \"%s\", want %s containing \"%s\"", i, cases[i].json, tt_status_name(st),
                     tt_last_error(), tt_status_name(cases[i].want), cases[i].msg);
        assert_null(f);
        free(file);
    }
}

static void truncated_and_foreign_bytes_are_refused(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    size_t n = (size_t)header_len(buf);
    const size_t cuts[] = {0, 1, 7, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 1, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        tt_st_file *f;
        tt_status st = tt_st_open_memory(&f, buf, cuts[i]);
        if (st == TT_OK) fail_msg("truncated at %zu of %zu bytes: accepted", cuts[i], len);
        assert_true(strlen(tt_last_error()) > 10);
    }
    /* Header length past the end of the file, and absurdly large. */
    unsigned char hdr[16] = {0};
    memcpy(hdr + 8, "{}      ", 8);
    hdr[0] = 9;
    tt_st_file *f;
    assert_int_equal(tt_st_open_memory(&f, hdr, 16), TT_ERR_CORRUPT);
    assert_non_null(strstr(tt_last_error(), "truncated"));
    hdr[0] = 0, hdr[5] = 1; /* 2^40 */
    assert_int_equal(tt_st_open_memory(&f, hdr, 16), TT_ERR_LIMIT);
    /* A PNG. */
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    assert_int_not_equal(tt_st_open_memory(&f, png, sizeof png), TT_OK);
    assert_non_null(strstr(tt_last_error(), "not a safetensors"));
    /* A short text file. */
    assert_int_equal(tt_st_open_memory(&f, "hello", 5), TT_ERR_FORMAT);
    /* A file on disk reports its path. */
    const char *path = tt_test_binary_path("tmp-safetensors-png.safetensors");
    tt_chunk c = {png, sizeof png};
    tt_assert_ok(tt_file_write_atomic(path, &c, 1));
    assert_int_not_equal(tt_st_open_file(&f, path), TT_OK);
    assert_non_null(strstr(tt_last_error(), "tmp-safetensors-png"));
    remove(path);
    assert_int_equal(tt_st_open_file(&f, path), TT_ERR_NOT_FOUND);
    free(buf);
}

static void flipped_bytes_are_detected(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = sample_bytes(&len);
    tt_st_file *f;
    tt_assert_ok(tt_st_open_memory(&f, buf, len));
    size_t data_start = 8 + (size_t)header_len(buf);
    /* One flipped bit in each non-empty tensor: CRC error naming that tensor. */
    size_t ntested = 0;
    for (size_t i = 0; i < tt_st_count(f); i++) {
        const tt_st_tensor *t = tt_st_tensor_at(f, i);
        if (!t->nbytes) continue;
        size_t at = (size_t)((const unsigned char *)t->data - buf) + t->nbytes / 2;
        assert_true(at >= data_start && at < len);
        unsigned char *copy = tt_test_malloc(len);
        memcpy(copy, buf, len);
        copy[at] ^= 0x10;
        tt_st_file *g;
        assert_int_equal(tt_st_open_memory(&g, copy, len), TT_ERR_CORRUPT);
        char want[128];
        snprintf(want, sizeof want, "tensor '%s': CRC32 mismatch", t->name);
        if (!strstr(tt_last_error(), want)) fail_msg("flip in %s: \"%s\"", t->name, tt_last_error());
        free(copy);
        ntested++;
    }
    assert_int_equal(ntested, 7);
    tt_st_close(f);
    /* Flips in the header: a shape digit, a tensor name, a brace, an offset. */
    static const struct {
        const char *find;
        int delta;
        tt_status want;
    } flips[] = {
        {"\"shape\":[2,3]", 11, TT_ERR_CORRUPT},      /* 3 -> 4: needs more bytes than its span */
        {"\"ints\":{", 2, TT_ERR_CORRUPT},            /* renamed: its CRC key names a missing tensor */
        {"{\"__metadata__\"", 0, TT_ERR_FORMAT},      /* no longer an object */
        {"\"data_offsets\":[0,", 16, TT_ERR_CORRUPT}, /* first tensor starts later: a gap */
    };
    for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
        unsigned char *copy = tt_test_malloc(len);
        memcpy(copy, buf, len);
        char *hdr = (char *)copy + 8;
        /* The header is followed by binary data: search a NUL-ended copy. */
        char *h = tt_test_malloc(data_start - 8 + 1);
        memcpy(h, hdr, data_start - 8);
        h[data_start - 8] = '\0';
        char *at = strstr(h, flips[i].find);
        if (!at) fail_msg("fixture lacks %s", flips[i].find);
        hdr[(at - h) + flips[i].delta] ^= 0x01;
        tt_st_file *g;
        tt_status st = tt_st_open_memory(&g, copy, len);
        if (st != flips[i].want) fail_msg("flip at %s: %s \"%s\"", flips[i].find, tt_status_name(st), tt_last_error());
        free(h);
        free(copy);
    }
    free(buf);
}

/* A CRC key is "tabtrain.crc32." + the name: names are bounded so the key
 * is never cut short (a cut key could match another tensor's prefix). */
static void long_names_are_refused(void **state) {
    (void)state;
    char name[TT_ST_MAX_NAME + 2], json[TT_ST_MAX_NAME + 128];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    float zero = 0;
    size_t len;
    unsigned char *file = make_file(json, &zero, 4, &len);
    tt_st_file *f = NULL;
    assert_int_equal(tt_st_open_memory(&f, file, len), TT_ERR_LIMIT);
    assert_non_null(strstr(tt_last_error(), "tensor name"));
    free(file);
    tt_st_builder *b;
    tt_assert_ok(tt_st_builder_new(&b));
    int64_t one = 1;
    assert_int_equal(tt_st_add(b, name, TT_DTYPE_F32, 1, &one, &zero), TT_ERR_INVALID_ARG);
    name[TT_ST_MAX_NAME] = '\0'; /* the longest allowed name round-trips with its CRC */
    tt_assert_ok(tt_st_add(b, name, TT_DTYPE_F32, 1, &one, &zero));
    void *out;
    tt_assert_ok(tt_st_write_memory(b, &out, &len));
    tt_st_builder_free(b);
    tt_assert_ok(tt_st_open_memory(&f, out, len));
    assert_non_null(tt_st_find(f, name));
    tt_st_close(f);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_memory_and_file),
        cmocka_unit_test(writer_refuses_bad_input),
        cmocka_unit_test(third_party_file_loads),
        cmocka_unit_test(bad_headers_are_refused),
        cmocka_unit_test(truncated_and_foreign_bytes_are_refused),
        cmocka_unit_test(flipped_bytes_are_detected),
        cmocka_unit_test(long_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
