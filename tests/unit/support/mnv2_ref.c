#include "mnv2_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_test.h"

static const int ref_stride[TT_MNV2_BLOCKS] = {1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1};

typedef struct ref_tensor {
    const float *data;
    int64_t shape[TT_ST_MAX_DIMS];
} ref_tensor;

static ref_tensor ref_get(const tt_st_file *f, const char *name) {
    const tt_st_tensor *t = tt_st_find(f, name);
    if (!t || t->dtype != TT_DTYPE_F32) fail_msg("reference: f32 tensor %s missing", name);
    ref_tensor r = {(const float *)t->data, {0}};
    memcpy(r.shape, t->shape, sizeof r.shape);
    return r;
}

static double relu6(double v) { return v < 0 ? 0 : v > 6 ? 6 : v; }

/* TF SAME padding: total = max((out-1)*s + 3 - in, 0), floor of it before. */
static int pad_before(int in, int s) {
    int out = (in + s - 1) / s, total = (out - 1) * s + 3 - in;
    return total > 0 ? total / 2 : 0;
}

static double *conv3x3(const double *x, int h, int cin, const ref_tensor *w,
                       const ref_tensor *b, int cout, int s, int depthwise, int *ho) {
    int o = (h + s - 1) / s, p = pad_before(h, s);
    double *y = calloc((size_t)o * o * cout, sizeof(double));
    for (int oy = 0; oy < o; oy++)
        for (int ox = 0; ox < o; ox++)
            for (int co = 0; co < cout; co++) {
                double acc = b->data[co];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = oy * s + ky - p, ix = ox * s + kx - p;
                        if (iy < 0 || ix < 0 || iy >= h || ix >= h) continue;
                        const double *px = x + ((size_t)iy * h + ix) * cin;
                        if (depthwise) {
                            acc += px[co] * w->data[(ky * 3 + kx) * cout + co];
                        } else {
                            const float *wk = w->data + (((size_t)co * 3 + ky) * 3 + kx) * cin;
                            for (int ci = 0; ci < cin; ci++) acc += px[ci] * wk[ci];
                        }
                    }
                y[((size_t)oy * o + ox) * cout + co] = relu6(acc);
            }
    *ho = o;
    return y;
}

static double *pointwise(const double *x, int hw, int cin, const ref_tensor *w,
                         const ref_tensor *b, int cout, int act, const double *residual) {
    double *y = malloc((size_t)hw * cout * sizeof(double));
    for (int i = 0; i < hw; i++)
        for (int co = 0; co < cout; co++) {
            double acc = b->data[co];
            for (int ci = 0; ci < cin; ci++)
                acc += x[(size_t)i * cin + ci] * w->data[(size_t)co * cin + ci];
            if (act) acc = relu6(acc);
            if (residual) acc += residual[(size_t)i * cout + co];
            y[(size_t)i * cout + co] = acc;
        }
    return y;
}

int tt_mnv2_reference(const tt_st_file *weights, int size, const float *input, double *features,
                      double *logits) {
    char wn[64], bn[64];
    double *x = malloc((size_t)size * size * 3 * sizeof(double));
    for (size_t i = 0; i < (size_t)size * size * 3; i++) x[i] = input[i];
    ref_tensor w = ref_get(weights, "stem.weight"), b = ref_get(weights, "stem.bias");
    int h, c = (int)w.shape[0];
    double *y = conv3x3(x, size, 3, &w, &b, c, 2, 0, &h);
    free(x);
    x = y;
    for (int i = 0; i < TT_MNV2_BLOCKS; i++) {
        const double *in = x;
        double *e = NULL;
        int hid = c;
        if (i > 0) {
            snprintf(wn, sizeof wn, "block%d.expand.weight", i);
            snprintf(bn, sizeof bn, "block%d.expand.bias", i);
            w = ref_get(weights, wn);
            b = ref_get(weights, bn);
            hid = (int)w.shape[0];
            e = pointwise(x, h * h, c, &w, &b, hid, 1, NULL);
            in = e;
        }
        snprintf(wn, sizeof wn, "block%d.depthwise.weight", i);
        snprintf(bn, sizeof bn, "block%d.depthwise.bias", i);
        w = ref_get(weights, wn);
        b = ref_get(weights, bn);
        int ho;
        double *d = conv3x3(in, h, hid, &w, &b, hid, ref_stride[i], 1, &ho);
        free(e);
        snprintf(wn, sizeof wn, "block%d.project.weight", i);
        snprintf(bn, sizeof bn, "block%d.project.bias", i);
        w = ref_get(weights, wn);
        b = ref_get(weights, bn);
        int cout = (int)w.shape[0];
        int residual = ref_stride[i] == 1 && cout == c;
        y = pointwise(d, ho * ho, hid, &w, &b, cout, 0, residual ? x : NULL);
        free(d);
        free(x);
        x = y;
        c = cout;
        h = ho;
    }
    w = ref_get(weights, "head.weight");
    b = ref_get(weights, "head.bias");
    int f = (int)w.shape[0];
    y = pointwise(x, h * h, c, &w, &b, f, 1, NULL);
    for (int k = 0; k < f; k++) {
        double s = 0;
        for (int i = 0; i < h * h; i++) s += y[(size_t)i * f + k];
        features[k] = s / (h * h);
    }
    free(x);
    free(y);
    if (logits) {
        if (tt_st_find(weights, "logits.weight")) {
            ref_tensor lw = ref_get(weights, "logits.weight"), lb = ref_get(weights, "logits.bias");
            for (int k = 0; k < lw.shape[0]; k++) {
                double s = lb.data[k];
                for (int j = 0; j < f; j++) s += features[j] * lw.data[(size_t)k * f + j];
                logits[k] = s;
            }
        }
    }
    return f;
}
