/* NPY: every shared MobileNetV2 file, round trips, and malformed files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/fileio.h"
#include "tabtrain/npy.h"
#include "tt_test.h"

#define MODEL_DIR "models/mobilenet_v2_1.0_224/"

static void expect_shape(const tt_npy *a, const char *what, int ndim, const int64_t *shape) {
    if (a->ndim != ndim) fail_msg("%s: %d dims, want %d", what, a->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        if (a->shape[d] != shape[d]) fail_msg("%s: dim %d is %lld, want %lld", what, d, (long long)a->shape[d], (long long)shape[d]);
}

/* Walks layers.tsv in execution order and checks each weight/bias pair
 * against what its op implies, chaining channel counts from the RGB input. */
static void reads_every_shared_weight_file(void **state) {
    (void)state;
    char *tsv;
    size_t len;
    tt_assert_ok(tt_file_read(tt_test_shared_path(MODEL_DIR "layers.tsv"), 1 << 20, (void **)&tsv, &len));
    int64_t channels = 3;
    int rows = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char layer[64], op[32], wfile[128], bfile[128];
        if (sscanf(line, "%63s %31s %127s %127s", layer, op, wfile, bfile) != 4) fail_msg("bad row: %s", line);
        char path[4096];
        void *wbuf, *bbuf;
        tt_npy w, b;
        snprintf(path, sizeof path, "%s", tt_test_shared_path(MODEL_DIR));
        strncat(path, wfile, sizeof path - strlen(path) - 1);
        tt_assert_ok(tt_npy_read_file(path, &wbuf, &w));
        snprintf(path, sizeof path, "%s", tt_test_shared_path(MODEL_DIR));
        strncat(path, bfile, sizeof path - strlen(path) - 1);
        tt_assert_ok(tt_npy_read_file(path, &bbuf, &b));
        assert_int_equal(w.dtype, TT_DTYPE_F32);
        assert_int_equal(b.dtype, TT_DTYPE_F32);
        assert_int_equal(w.ndim, 4);
        int64_t out = !strcmp(op, "dwconv3x3") ? channels : w.shape[0];
        int64_t k = !strcmp(op, "conv1x1") ? 1 : 3;
        if (!strcmp(op, "dwconv3x3")) expect_shape(&w, layer, 4, (int64_t[]){1, 3, 3, channels});
        else if (!strcmp(op, "conv3x3") || !strcmp(op, "conv1x1")) expect_shape(&w, layer, 4, (int64_t[]){out, k, k, channels});
        else fail_msg("%s: unknown op %s", layer, op);
        expect_shape(&b, bfile, 1, &out);
        assert_int_equal(w.numel * 4, w.nbytes);
        channels = out;
        /* The weights are real numbers, not garbage from a misread header. */
        float first, last;
        memcpy(&first, w.data, 4);
        memcpy(&last, (const char *)w.data + w.nbytes - 4, 4);
        assert_true(first > -100 && first < 100 && first != 0);
        assert_true(last > -100 && last < 100);
        if (!strcmp(layer, "head")) assert_int_equal(out, 1280);
        free(wbuf);
        free(bbuf);
        rows++;
    }
    assert_int_equal(rows, 53);
    assert_int_equal(channels, 1001);
    free(tsv);
}

static void reads_the_reference_vectors(void **state) {
    (void)state;
    static const struct {
        const char *file;
        int ndim;
        int64_t shape[4];
    } files[] = {
        {"test_data_set/0/input_0.npy", 4, {1, 224, 224, 3}}, {"test_data_set/0/output_0.npy", 2, {1, 1001}},
        {"test_data_set/1/input_0.npy", 4, {1, 224, 224, 3}}, {"test_data_set/1/output_0.npy", 2, {1, 1001}},
        {"test_data_set/2/input_0.npy", 4, {1, 224, 224, 3}}, {"test_data_set/2/output_0.npy", 2, {1, 1001}},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", tt_test_shared_path(MODEL_DIR));
        strncat(path, files[i].file, sizeof path - strlen(path) - 1);
        void *buf;
        tt_npy a;
        tt_assert_ok(tt_npy_read_file(path, &buf, &a));
        assert_int_equal(a.dtype, TT_DTYPE_F32);
        expect_shape(&a, files[i].file, files[i].ndim, files[i].shape);
        float *x = tt_test_malloc(a.nbytes);
        memcpy(x, a.data, a.nbytes);
        double sum = 0;
        for (size_t k = 0; k < a.numel; k++) {
            if (files[i].ndim == 4) assert_true(x[k] >= 0 && x[k] <= 255); /* raw pixel values */
            sum += x[k];
        }
        if (files[i].ndim == 2) assert_true(sum > 0.99 && sum < 1.01); /* a softmax */
        free(x);
        free(buf);
    }
}

static void roundtrip_f32(void **state) {
    (void)state;
    static const struct {
        int ndim;
        int64_t shape[4];
        const char *dict;
    } cases[] = {
        {0, {0}, "'shape': ()"},
        {1, {5}, "'shape': (5,)"},
        {1, {0}, "'shape': (0,)"},
        {2, {3, 7}, "'shape': (3, 7)"},
        {4, {2, 3, 3, 5}, "'shape': (2, 3, 3, 5)"},
    };
    const char *path = tt_test_binary_path("tmp-npy-roundtrip.npy");
    float data[90];
    tt_test_fill(data, 90, 3, -5, 5);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_assert_ok(tt_npy_write_f32(path, data, cases[i].ndim, cases[i].shape));
        void *buf;
        size_t len;
        tt_assert_ok(tt_file_read(path, 1 << 20, &buf, &len));
        assert_true(strstr((char *)buf + 10, cases[i].dict) != NULL); /* numpy spells shapes this way */
        tt_npy a;
        tt_assert_ok(tt_npy_parse(buf, len, &a));
        assert_int_equal(((const char *)a.data - (const char *)buf) % 64, 0);
        assert_int_equal(a.dtype, TT_DTYPE_F32);
        expect_shape(&a, cases[i].dict, cases[i].ndim, cases[i].shape);
        size_t numel = 1;
        for (int d = 0; d < cases[i].ndim; d++) numel *= (size_t)cases[i].shape[d];
        assert_int_equal(a.numel, numel);
        if (numel) tt_test_assert_close(a.data, data, numel, 0, 0, cases[i].dict);
        free(buf);
    }
    remove(path);
}

/* A hand-built NPY: magic, version, header length field, dict, data bytes. */
static unsigned char *npy_bytes(int major, const char *dict, size_t hdr_len_delta, size_t data_len, size_t *len) {
    size_t pre = major == 1 ? 10 : 12, dn = strlen(dict);
    *len = pre + dn + data_len;
    unsigned char *b = tt_test_malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major, b[7] = 0;
    size_t h = dn + hdr_len_delta;
    b[8] = (unsigned char)h, b[9] = (unsigned char)(h >> 8);
    if (major != 1) b[10] = (unsigned char)(h >> 16), b[11] = (unsigned char)(h >> 24);
    memcpy(b + pre, dict, dn);
    memset(b + pre + dn, 0x3f, data_len);
    return b;
}

static void versions_and_bad_files(void **state) {
    (void)state;
    static const struct {
        int major;
        const char *dict;
        size_t delta, data;
        tt_status want;
        const char *msg;
    } cases[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   \n", 0, 24, TT_OK, ""},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   \n", 0, 24, TT_OK, ""},
        {3, "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}\n", 0, 24, TT_OK, ""},
        {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }\n", 0, 1, TT_OK, ""},
        {1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n", 0, 24, TT_OK, ""},
        {4, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", 0, 4, TT_ERR_UNSUPPORTED, "version 4"},
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", 0, 4, TT_ERR_UNSUPPORTED, "'>f4'"},
        {1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n", 0, 2, TT_ERR_UNSUPPORTED, "'<f2'"},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 0, 16, TT_ERR_UNSUPPORTED, "fortran_order"},
        {1, "{'descr': '<f4', 'shape': (1,), }\n", 0, 4, TT_ERR_FORMAT, "missing"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", 0, 4, TT_ERR_FORMAT, "unexpected"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", 0, 4, TT_ERR_FORMAT, "non-negative"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) \n", 0, 4, TT_ERR_FORMAT, "expected"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk\n", 0, 4, TT_ERR_FORMAT, "trailing"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 0, 20, TT_ERR_FORMAT, "truncated"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 0, 28, TT_ERR_FORMAT, "trailing bytes"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 1000, 24, TT_ERR_FORMAT, "exceeds"},
        {1, "[1, 2]\n", 0, 0, TT_ERR_FORMAT, "not a dict"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        unsigned char *b = npy_bytes(cases[i].major, cases[i].dict, cases[i].delta, cases[i].data, &len);
        tt_npy a;
        tt_clear_error();
        tt_status st = tt_npy_parse(b, len, &a);
        if (st != cases[i].want || !strstr(tt_last_error(), cases[i].msg))
            fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, tt_status_name(st), tt_last_error(),
                     tt_status_name(cases[i].want), cases[i].msg);
        if (st == TT_OK) assert_int_equal(a.nbytes, cases[i].data);
        /* Every prefix of a valid file is refused. */
        for (size_t cut = 0; st == TT_OK && cut < len; cut += 1 + cut / 4)
            if (tt_npy_parse(b, cut, &a) == TT_OK) fail_msg("case %zu accepted when cut to %zu bytes", i, cut);
        free(b);
    }
    tt_npy a;
    assert_int_equal(tt_npy_parse("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, &a), TT_ERR_FORMAT);
    assert_non_null(strstr(tt_last_error(), "not an NPY"));
    void *buf;
    assert_int_equal(tt_npy_read_file(tt_test_binary_path("no-such.npy"), &buf, &a), TT_ERR_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_shared_weight_file),
        cmocka_unit_test(reads_the_reference_vectors),
        cmocka_unit_test(roundtrip_f32),
        cmocka_unit_test(versions_and_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
