#include "tabtrain/conv.h"
#include "tabtrain/nn.h"

size_t tt_named_tensor_numel(const tt_named_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

size_t tt_dense_work_size(int M, int in, int out) {
    size_t f = tt_f32_gemm_work_size(M, out, in);
    size_t b = tt_f32_dense_backward_work_size(M, in, out);
    return f > b ? f : b;
}

void tt_dense_forward(int M, int in, int out, const float *x, const float *w, const float *b,
                      tt_act act, float *y, float *work) {
    tt_epilogue ep = {.bias = b, .act = act};
    tt_f32_gemm(NULL, TT_NO_TRANS, TT_TRANS, M, out, in, x, in, w, in, 0.0f, y, out, &ep, work);
}

void tt_dense_backward(int M, int in, int out, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, float *work) {
    tt_f32_dense_backward(NULL, M, in, out, x, w, dy, dx, dw, db, work);
}
