#include "tabtrain/mobilenet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabtrain/arena.h"
#include "tabtrain/conv.h"
#include "tabtrain/gemm.h"

/* Block strides of MobileNetV2: (t, c, n, s) = (1,16,1,1) (6,24,2,2)
 * (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1); the stride
 * applies to the first block of each group. */
static const int tt_mnv2_stride[TT_MNV2_BLOCKS] = {1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1};

typedef struct tt_pw {
    int cin, cout;
    float *packed; /* weights packed for tt_f32_gemm_packed */
    float *bias;
} tt_pw;

typedef struct tt_block {
    tt_irb_shape s;
    tt_pw expand; /* cout == 0 for block 0, which has no expansion */
    float *dw_w, *dw_b;
    tt_pw project;
    tt_irb_params p; /* the packed weights above, as the layer takes them */
} tt_block;

/* The buffers one image's pass runs in. */
typedef struct tt_mnv2_ws {
    float *act[2], *expanded, *dwout; /* ping-pong block I/O and block internals */
    float *stem_work;                 /* the stem's scratch for one thread */
} tt_mnv2_ws;

/* Threads: a batch of at least as many images as threads is spread over
 * them, one whole image per task, each thread in its own workspace (no
 * synchronisation inside a pass); fewer images (batch 1: the browser adding
 * a picture, prediction) run one at a time with every layer split over the
 * threads. Each image's arithmetic is the same either way. */
struct tt_mnv2 {
    int size, c0, h0; /* input side, stem channels, stem output side */
    float *stem_w, *stem_b;
    tt_block blocks[TT_MNV2_BLOCKS];
    tt_pw head, logits;
    int head_hw;
    size_t ws_floats[5];             /* act, act, expanded, dwout, stem_work */
    tt_mnv2_ws ws[TT_POOL_MAX_THREADS]; /* ws[0] in the arena, the others in `thread_ws` */
    tt_pool *pool;                   /* NULL: the caller's thread */
    float *thread_ws;                /* workspaces 1..threads-1 */
    float *stem_work_threads;        /* stem scratch for a layer split over the threads */
    size_t params;
    size_t weight_bytes; /* measured by a first, copy-free pass over the source */
    tt_arena *weights, *arena; /* weights; ws[0] */
};

typedef const tt_st_tensor *tt_tref;

static tt_status tt_get(const tt_st_file *f, const char *name, tt_tref *t) {
    tt_status st = tt_st_get(f, name, TT_DTYPE_F32, t);
    if (st == TT_ERR_NOT_FOUND) return tt_error(st, "model: tensor '%s' is missing", name);
    return st;
}

/* Checks `t` against an expected shape; -1 in `want` means "any, and report
 * it through `got`". */
static tt_status tt_expect(const char *name, tt_tref t, int ndim, const int64_t *want,
                           int64_t *got) {
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) {
        if (want[i] < 0) {
            if (t->shape[i] <= 0 || t->shape[i] > 1 << 16) ok = 0;
            else if (got) *got = t->shape[i];
        } else if (t->shape[i] != want[i]) {
            ok = 0;
        }
    }
    if (ok) return TT_OK;
    char have[96] = "", exp[96] = "";
    size_t hl = 0, el = 0;
    for (int i = 0; i < t->ndim && hl < sizeof have; i++)
        hl += (size_t)snprintf(have + hl, sizeof have - hl, "%s%lld", i ? "," : "",
                               (long long)t->shape[i]);
    for (int i = 0; i < ndim && el < sizeof exp; i++)
        el += want[i] < 0 ? (size_t)snprintf(exp + el, sizeof exp - el, "%s?", i ? "," : "")
                          : (size_t)snprintf(exp + el, sizeof exp - el, "%s%lld", i ? "," : "",
                                             (long long)want[i]);
    return tt_error(TT_ERR_SHAPE, "model: tensor '%s' has shape [%s], the architecture needs [%s]",
                    name, have, exp);
}

/* Weight storage. The first build pass runs with no arena and only sums the
 * bytes (so the arena is sized exactly); returning the source pointer keeps
 * that pass on the same code path without copying anything. */
static float *tt_weight_alloc(tt_mnv2 *m, size_t n, const float *src) {
    if (!m->weights) {
        m->weight_bytes += tt_arena_size_of(n * sizeof(float));
        return (float *)src;
    }
    return tt_arena_alloc(m->weights, n * sizeof(float));
}

static float *tt_copy_in(tt_mnv2 *m, const float *src, size_t n) {
    float *dst = tt_weight_alloc(m, n, src);
    if (dst && dst != src) memcpy(dst, src, n * sizeof(float));
    m->params += n;
    return dst;
}

static tt_status tt_load_bias(tt_mnv2 *m, const tt_st_file *f, const char *layer, int64_t n,
                              float **out) {
    char name[64];
    tt_tref t;
    snprintf(name, sizeof name, "%s.bias", layer);
    tt_status st = tt_get(f, name, &t);
    if (!st) st = tt_expect(name, t, 1, (int64_t[]){n}, NULL);
    if (st) return st;
    *out = tt_copy_in(m, (const float *)t->data, (size_t)n);
    return *out ? TT_OK : TT_ERR_NOMEM;
}

/* A 1×1 conv [cout][1][1][cin]; cout < 0 means "read it from the file". */
static tt_status tt_load_pw(tt_mnv2 *m, const tt_st_file *f, const char *layer, int cin, int cout,
                            tt_pw *pw) {
    char name[64];
    tt_tref t;
    int64_t got = cout;
    snprintf(name, sizeof name, "%s.weight", layer);
    tt_status st = tt_get(f, name, &t);
    if (!st) st = tt_expect(name, t, 4, (int64_t[]){cout, 1, 1, cin}, &got);
    if (st) return st;
    pw->cin = cin;
    pw->cout = (int)got;
    pw->packed = tt_weight_alloc(m, tt_f32_gemm_packed_size(cin, pw->cout), (const float *)t->data);
    if (!pw->packed) return TT_ERR_NOMEM;
    if (m->weights) tt_f32_gemm_pack_b(TT_TRANS, cin, pw->cout, (const float *)t->data, cin, pw->packed);
    m->params += (size_t)cin * (size_t)pw->cout;
    return tt_load_bias(m, f, layer, pw->cout, &pw->bias);
}

static size_t tt_max(size_t a, size_t b) { return a > b ? a : b; }

/* Walks the architecture once to learn every shape and the weight bytes. */
static tt_status tt_mnv2_build(tt_mnv2 *m, const tt_st_file *f) {
    tt_tref t;
    int64_t c0 = -1;
    tt_status st = tt_get(f, "stem.weight", &t);
    if (!st) st = tt_expect("stem.weight", t, 4, (int64_t[]){-1, 3, 3, 3}, &c0);
    if (st) return st;
    m->c0 = (int)c0;
    m->h0 = tt_same_out(m->size, 2);
    if (!(m->stem_w = tt_copy_in(m, (const float *)t->data, (size_t)c0 * 27))) return TT_ERR_NOMEM;
    if ((st = tt_load_bias(m, f, "stem", c0, &m->stem_b))) return st;

    int c = m->c0, h = m->h0;
    for (int i = 0; i < TT_MNV2_BLOCKS; i++) {
        tt_block *b = &m->blocks[i];
        char layer[48], name[64];
        b->s.cin = c;
        b->s.stride = tt_mnv2_stride[i];
        b->s.h_in = b->s.w_in = h;
        b->s.h_out = b->s.w_out = tt_same_out(h, b->s.stride);
        if (i == 0) {
            b->s.hid = c;
        } else {
            snprintf(layer, sizeof layer, "block%d.expand", i);
            if ((st = tt_load_pw(m, f, layer, c, -1, &b->expand))) return st;
            b->s.hid = b->expand.cout;
        }
        snprintf(layer, sizeof layer, "block%d.depthwise", i);
        snprintf(name, sizeof name, "%s.weight", layer);
        if ((st = tt_get(f, name, &t))) return st;
        if ((st = tt_expect(name, t, 4, (int64_t[]){1, 3, 3, b->s.hid}, NULL))) return st;
        if (!(b->dw_w = tt_copy_in(m, (const float *)t->data, (size_t)9 * b->s.hid))) return TT_ERR_NOMEM;
        if ((st = tt_load_bias(m, f, layer, b->s.hid, &b->dw_b))) return st;
        snprintf(layer, sizeof layer, "block%d.project", i);
        if ((st = tt_load_pw(m, f, layer, b->s.hid, -1, &b->project))) return st;
        b->s.cout = b->project.cout;
        b->s.residual = b->s.stride == 1 && b->s.cin == b->s.cout;
        b->p = (tt_irb_params){{NULL, b->expand.cout ? b->expand.packed : NULL, b->expand.bias},
                               {NULL, b->project.packed, b->project.bias}, b->dw_w, b->dw_b};
        c = b->s.cout;
        h = b->s.h_out;
    }
    m->head_hw = h * h;
    if ((st = tt_load_pw(m, f, "head", c, -1, &m->head))) return st;
    st = tt_get(f, "logits.weight", &t);
    if (st == TT_ERR_NOT_FOUND) {
        tt_clear_error();
        return TT_OK;
    }
    if (st) return st;
    return tt_load_pw(m, f, "logits", m->head.cout, -1, &m->logits);
}

/* Sizes of the activation buffers for one image. */
static void tt_mnv2_buffer_sizes(const tt_mnv2 *m, size_t *act, size_t *expanded, size_t *dwout) {
    size_t hw0 = (size_t)m->h0 * m->h0;
    *act = hw0 * m->c0;
    *expanded = *dwout = 0;
    for (int i = 0; i < TT_MNV2_BLOCKS; i++) {
        const tt_block *b = &m->blocks[i];
        size_t in = (size_t)b->s.h_in * b->s.w_in, out = (size_t)b->s.h_out * b->s.w_out;
        *act = tt_max(*act, out * b->s.cout);
        *expanded = tt_max(*expanded, in * b->s.hid);
        *dwout = tt_max(*dwout, out * b->s.hid);
    }
    *act = tt_max(*act, (size_t)m->head_hw * m->head.cout);
}

tt_status tt_mnv2_init(tt_mnv2 **out, const tt_st_file *weights, int input_size) {
    if (!out || !weights) return tt_error(TT_ERR_INVALID_ARG, "tt_mnv2_init: NULL argument");
    *out = NULL;
    if (input_size < 32 || input_size > 1024)
        return tt_error(TT_ERR_INVALID_ARG, "tt_mnv2_init: input size %d outside [32, 1024]",
                        input_size);
    tt_mnv2 *m = calloc(1, sizeof *m);
    if (!m) return tt_error(TT_ERR_NOMEM, "tt_mnv2_init: no memory");
    m->size = input_size;
    tt_status st = tt_mnv2_build(m, weights);
    if (!st) st = tt_arena_init(&m->weights, m->weight_bytes);
    if (!st) {
        m->params = 0;
        st = tt_mnv2_build(m, weights);
    }
    size_t *sz = m->ws_floats;
    if (!st) {
        tt_mnv2_buffer_sizes(m, &sz[0], &sz[2], &sz[3]);
        sz[1] = sz[0];
        sz[4] = tt_f32_conv3x3_work_size(m->size, 3, m->c0, 2, 1);
        size_t bytes = 0;
        for (int i = 0; i < 5; i++) bytes += tt_arena_size_of(sz[i] * sizeof(float));
        st = tt_arena_init(&m->arena, bytes);
    }
    if (!st) {
        float **dst[5] = {&m->ws[0].act[0], &m->ws[0].act[1], &m->ws[0].expanded, &m->ws[0].dwout,
                          &m->ws[0].stem_work};
        for (int i = 0; i < 5 && !st; i++)
            if (!(*dst[i] = tt_arena_alloc(m->arena, sz[i] * sizeof(float)))) st = TT_ERR_NOMEM;
    }
    if (st) {
        tt_mnv2_free(m);
        return st;
    }
    *out = m;
    return TT_OK;
}

void tt_mnv2_free(tt_mnv2 *m) {
    if (!m) return;
    tt_arena_free(m->weights);
    tt_arena_free(m->arena);
    free(m->stem_work_threads);
    free(m->thread_ws);
    free(m);
}

static double tt_mnv2_flops(const tt_mnv2 *m) {
    double macs = (double)m->h0 * m->h0 * m->c0 * 27;
    for (int i = 0; i < TT_MNV2_BLOCKS; i++) {
        const tt_block *b = &m->blocks[i];
        double in = (double)b->s.h_in * b->s.w_in, out = (double)b->s.h_out * b->s.w_out;
        macs += in * b->s.cin * b->expand.cout + out * b->s.hid * 9 + out * b->s.hid * b->s.cout;
    }
    macs += (double)m->head_hw * m->head.cin * m->head.cout;
    return 2 * macs;
}

int tt_mnv2_block_stride(int block) {
    return block >= 0 && block < TT_MNV2_BLOCKS ? tt_mnv2_stride[block] : 0;
}

tt_mnv2_info tt_mnv2_get_info(const tt_mnv2 *m) {
    tt_mnv2_info info = {m->size, m->head.cout, m->logits.cout, m->params, tt_mnv2_flops(m),
                         tt_arena_capacity(m->arena) + tt_arena_used(m->weights)};
    return info;
}

tt_status tt_mnv2_set_pool(tt_mnv2 *m, tt_pool *pool) {
    int threads = tt_pool_threads(pool);
    free(m->stem_work_threads);
    free(m->thread_ws);
    m->stem_work_threads = m->thread_ws = NULL;
    m->pool = NULL;
    if (threads == 1) return TT_OK;
    size_t per = 0, n = tt_f32_conv3x3_work_size(m->size, 3, m->c0, 2, threads);
    for (int i = 0; i < 5; i++) per += m->ws_floats[i];
    m->stem_work_threads = malloc(n * sizeof(float));
    m->thread_ws = malloc(per * (size_t)(threads - 1) * sizeof(float));
    if (!m->stem_work_threads || !m->thread_ws) {
        free(m->stem_work_threads);
        free(m->thread_ws);
        m->stem_work_threads = m->thread_ws = NULL;
        return tt_error(TT_ERR_NOMEM, "model: no memory for the workspaces of %d threads (%zu MB)",
                        threads, per * (size_t)(threads - 1) * sizeof(float) >> 20);
    }
    float *p = m->thread_ws;
    for (int t = 1; t < threads; t++) {
        float **dst[5] = {&m->ws[t].act[0], &m->ws[t].act[1], &m->ws[t].expanded, &m->ws[t].dwout,
                          &m->ws[t].stem_work};
        for (int i = 0; i < 5; i++) {
            *dst[i] = p;
            p += m->ws_floats[i];
        }
    }
    m->pool = pool;
    return TT_OK;
}

static void tt_pw_run(tt_pool *pool, const tt_pw *pw, int rows, const float *x, tt_act act,
                      float *y) {
    tt_epilogue ep = {pw->bias, act, NULL, pw->cout};
    tt_f32_gemm_packed(pool, rows, pw->cout, pw->cin, x, pw->cin, pw->packed, y, pw->cout, &ep);
}

/* Stem and the first `nblocks` blocks of one image in `ws`, its layers split
 * over `pool` (NULL: this thread); returns the ping-pong buffer that holds
 * the activations entering block `nblocks`. */
static float *tt_mnv2_run_blocks(const tt_mnv2 *m, tt_pool *pool, const tt_mnv2_ws *ws,
                                 const float *image, int nblocks) {
    float *cur = ws->act[0], *nxt = ws->act[1];
    tt_f32_conv3x3(pool, 1, m->size, m->size, 3, m->c0, 2, image, m->stem_w, m->stem_b,
                   TT_ACT_RELU6, cur, pool ? m->stem_work_threads : ws->stem_work);
    for (int i = 0; i < nblocks; i++) {
        const tt_block *b = &m->blocks[i];
        tt_irb_forward(pool, &b->s, 1, &b->p, cur, ws->expanded, ws->dwout, nxt, NULL);
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    return cur;
}

/* One image to the pooled features, or (block >= 0) to the activations
 * entering `block`. */
static void tt_mnv2_image(const tt_mnv2 *m, tt_pool *pool, const tt_mnv2_ws *ws, const float *image,
                          int block, float *out) {
    if (block >= 0) {
        const tt_block *b = &m->blocks[block];
        float *cur = tt_mnv2_run_blocks(m, pool, ws, image, block);
        memcpy(out, cur, (size_t)b->s.h_in * b->s.w_in * b->s.cin * sizeof(float));
        return;
    }
    float *cur = tt_mnv2_run_blocks(m, pool, ws, image, TT_MNV2_BLOCKS);
    float *nxt = cur == ws->act[0] ? ws->act[1] : ws->act[0];
    tt_pw_run(pool, &m->head, m->head_hw, cur, TT_ACT_RELU6, nxt);
    tt_f32_global_avgpool(pool, 1, m->head_hw, m->head.cout, nxt, out);
}

typedef struct tt_mnv2_job {
    const tt_mnv2 *m;
    const float *input;
    float *out;
    size_t in_stride, out_stride;
    int block;
} tt_mnv2_job;

static void tt_mnv2_images(void *arg, int begin, int end, int worker) {
    const tt_mnv2_job *j = arg;
    for (int i = begin; i < end; i++)
        tt_mnv2_image(j->m, NULL, &j->m->ws[worker], j->input + i * j->in_stride, j->block,
                      j->out + i * j->out_stride);
}

static void tt_mnv2_run(tt_mnv2 *m, int n, const float *input, int block, float *out) {
    size_t out_stride = block < 0 ? (size_t)m->head.cout
                                  : (size_t)m->blocks[block].s.h_in * m->blocks[block].s.w_in * m->blocks[block].s.cin;
    tt_mnv2_job j = {m, input, out, (size_t)m->size * m->size * 3, out_stride, block};
    if (m->pool && n >= tt_pool_threads(m->pool)) {
        tt_pool_for(m->pool, n, 1, tt_mnv2_images, &j);
        return;
    }
    for (int i = 0; i < n; i++)
        tt_mnv2_image(m, m->pool, &m->ws[0], input + i * j.in_stride, block, out + i * out_stride);
}

tt_status tt_mnv2_features(tt_mnv2 *m, int n, const float *input, float *features) {
    if (n < 0 || (n && (!input || !features)))
        return tt_error(TT_ERR_INVALID_ARG, "tt_mnv2_features: bad arguments");
    tt_mnv2_run(m, n, input, -1, features);
    return TT_OK;
}

tt_status tt_mnv2_logits(tt_mnv2 *m, int n, const float *features, float *logits) {
    if (!m->logits.cout)
        return tt_error(TT_ERR_UNSUPPORTED, "model has no logits layer (a backbone without top)");
    if (n < 0 || (n && (!features || !logits)))
        return tt_error(TT_ERR_INVALID_ARG, "tt_mnv2_logits: bad arguments");
    if (n) tt_pw_run(m->pool, &m->logits, n, features, TT_ACT_NONE, logits);
    return TT_OK;
}

tt_status tt_mnv2_block_shape_get(const tt_mnv2 *m, int block, tt_mnv2_block_shape *out) {
    if (block < 0 || block >= TT_MNV2_BLOCKS)
        return tt_error(TT_ERR_INVALID_ARG, "model: block %d is not in [0, %d)", block,
                        TT_MNV2_BLOCKS);
    const tt_block *b = &m->blocks[block];
    *out = b->s;
    return TT_OK;
}

tt_status tt_mnv2_forward_until(tt_mnv2 *m, int n, const float *input, int block, float *out) {
    if (block < 0 || block >= TT_MNV2_BLOCKS || n < 0 || (n && (!input || !out)))
        return tt_error(TT_ERR_INVALID_ARG, "tt_mnv2_forward_until: bad arguments (block %d, n %d)",
                        block, n);
    tt_mnv2_run(m, n, input, block, out);
    return TT_OK;
}
