#include <math.h>

#include "tabtrain/trainer.h"

int tt_argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void tt_confusion_add(int C, int n, const float *probs, const int32_t *labels, int32_t *confusion) {
    for (int i = 0; i < n; i++)
        confusion[(size_t)labels[i] * C + tt_argmax(probs + (size_t)i * C, C)]++;
}

double tt_confusion_accuracy(int C, const int32_t *confusion) {
    int64_t right = 0, all = 0;
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) {
            all += confusion[i * C + j];
            if (i == j) right += confusion[i * C + j];
        }
    return all ? (double)right / (double)all : NAN;
}

void tt_confusion_per_class(int C, const int32_t *confusion, float *acc) {
    for (int i = 0; i < C; i++) {
        int64_t row = 0;
        for (int j = 0; j < C; j++) row += confusion[i * C + j];
        acc[i] = row ? (float)((double)confusion[i * C + i] / (double)row) : NAN;
    }
}
