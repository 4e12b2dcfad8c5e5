#include <math.h>

#include "tabtrain/conv.h"
#include "tabtrain/nn.h"

float tt_softmax_xent(int rows, int C, const float *logits, const int32_t *labels, float smoothing,
                      float *probs, float *dlogits) {
    tt_f32_softmax(rows, C, logits, probs);
    float off = smoothing / (float)C, on = 1.0f - smoothing + off;
    float scale = 1.0f / (float)rows;
    double total = 0.0;
    for (int i = 0; i < rows; i++) {
        const float *z = logits + (size_t)i * C;
        const float *p = probs + (size_t)i * C;
        int y = labels[i];
        /* -Σ t·log p = logsumexp(z) - Σ t·z since Σ t = 1. */
        float m = z[0];
        for (int c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
        double s = 0.0, tz = 0.0;
        for (int c = 0; c < C; c++) {
            s += exp((double)(z[c] - m));
            tz += (double)(c == y ? on : off) * z[c];
        }
        total += (double)m + log(s) - tz;
        if (dlogits) {
            float *d = dlogits + (size_t)i * C;
            for (int c = 0; c < C; c++) d[c] = (p[c] - (c == y ? on : off)) * scale;
        }
    }
    return (float)(total / rows);
}
