#include <math.h>
#include <stdarg.h>
#include <stdio.h>

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

typedef struct {
    char *buf;
    size_t cap, len;
} tt_json_out;

static void tt_json_put(tt_json_out *o, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void tt_json_put(tt_json_out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL,
                      o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void tt_json_num(tt_json_out *o, const char *key, double v, int digits) {
    if (isfinite(v))
        tt_json_put(o, "%s%.*g", key, digits, v);
    else
        tt_json_put(o, "%snull", key);
}

size_t tt_epoch_metrics_json(const tt_epoch_metrics *m, int classes, char *buf, size_t cap) {
    tt_json_out o = {buf, cap, 0};
    if (cap) buf[0] = '\0';
    tt_json_put(&o, "{\"epoch\":%d,\"step\":%lld", m->epoch, (long long)m->step);
    tt_json_num(&o, ",\"lr\":", m->lr, 9);
    tt_json_num(&o, ",\"train_loss\":", m->train_loss, 17);
    tt_json_num(&o, ",\"train_acc\":", m->train_acc, 17);
    tt_json_num(&o, ",\"val_loss\":", m->val_loss, 17);
    tt_json_num(&o, ",\"val_acc\":", m->val_acc, 17);
    tt_json_num(&o, ",\"seconds\":", m->seconds, 6);
    for (int i = 0; i < classes; i++)
        tt_json_num(&o, i ? "," : ",\"per_class_acc\":[", m->per_class_acc[i], 9);
    tt_json_put(&o, "],\"confusion\":[");
    for (int i = 0; i < classes; i++)
        for (int j = 0; j < classes; j++)
            tt_json_put(&o, "%s%d%s",
                        j   ? ","
                        : i ? ",["
                            : "[",
                        (int)m->confusion[i * classes + j], j == classes - 1 ? "]" : "");
    tt_json_put(&o, "]}");
    return o.len;
}
