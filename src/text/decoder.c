/* The decoder core: one forward pass of any decoder-only family, read top to
 * bottom in loam_decode(). It names no architecture; every choice comes from
 * the spec. A batch holds rows of any sequences at any positions: the
 * matrix products take all rows together, attention reads each row's own
 * sequence from the KV cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/quants.h"
#include "text/model.h"

struct loam_context {
    loam_model *m;
    loam_pool *pool;
    int n_ctx, n_seq;
    int capture_hidden;
    size_t kv_dim;
    loam_kv_type kv_type;
    size_t kv_row_bytes;         /* one position's K (or V) in the cache */
    uint8_t *k_cache, *v_cache;  /* [seq][layer][pos] rows of kv_row_bytes */
    int32_t *seq_len;         /* positions written per sequence */
    int32_t *seq_tmp;         /* per sequence, for checks of a batch */

    /* scratch for one slice of a batch, grown on demand */
    int n_ubatch;
    int cap_rows;
    int cap_out; /* rows of logits / logit_row / hidden (the whole batch) */
    float *x, *h, *qkv, *q, *k, *v, *att, *o, *ff_a, *ff_b, *rope_cos, *rope_sin;
    float *scores; /* [threads][n_ctx] */
    loam_act_block *xq; /* int8 activations for quantized weights */
    size_t xq_cap;
    uint16_t *xb; /* bf16 activations for the opt-in bf16 dot products */
    size_t xb_cap;
    float *hidden; /* [n_layers + 1][rows][n_embd] when capture_hidden */
    float *logits; /* [n_logit_rows][n_vocab] */
    int *logit_row; /* batch row -> row of logits, or -1 */
    int n_rows;
};

/* Scratch bytes per row of a slice: the activations of reserve_rows plus
 * the int8 or bf16 copy of the widest product input. */
static size_t scratch_per_row(const loam_spec *s) {
    size_t H = (size_t)s->n_embd, qd = (size_t)s->n_heads * s->head_dim, kvd = (size_t)s->n_kv_heads * s->head_dim;
    size_t floats = 3 * H + (qd + 2 * kvd) + qd + 2 * kvd + qd + 2 * (size_t)s->n_ff + (size_t)s->head_dim + 2;
    return floats * sizeof(float) + (size_t)s->n_ff * 2;
}

/* Slices as long as possible (weights are streamed once per slice) while
 * the scratch stays within 3% of the weights: prefill of a 1B Q4_0 file
 * loses ~2% at 128 rows against 512, an F16 file ~7%, and both then keep
 * peak memory within file + KV cache + 5%. */
static int auto_ubatch(const loam_model *m) {
    int rows = 512;
    while (rows > 64 && (uint64_t)rows * scratch_per_row(&m->spec) > m->weight_bytes / 100 * 3) rows /= 2;
    return rows;
}

loam_context_params loam_context_default_params(void) {
    loam_context_params p = {.n_ctx = 0, .n_seq_max = 1, .capture_hidden = 0, .kv_type = LOAM_KV_F32, .n_ubatch = 0};
    return p;
}

int loam_kv_type_parse(const char *name, loam_kv_type *out) {
    if (!strcmp(name, "f32")) return *out = LOAM_KV_F32, 1;
    if (!strcmp(name, "f16")) return *out = LOAM_KV_F16, 1;
    if (!strcmp(name, "q8_0")) return *out = LOAM_KV_Q8_0, 1;
    return 0;
}

loam_status loam_context_open(loam_model *m, const loam_context_params *params, loam_context **out,
                              loam_error *err) {
    *out = NULL;
    loam_context_params defaults = loam_context_default_params();
    if (!params) params = &defaults;
    const loam_spec *s = &m->spec;
    int n_ctx = params->n_ctx > 0 ? params->n_ctx : (s->n_ctx_train > 0 && s->n_ctx_train < 4096 ? s->n_ctx_train : 4096);
    if (n_ctx > (1 << 24) || params->n_seq_max < 1 || params->n_seq_max > 4096)
        return loam_fail(err, LOAM_E_ARG, "context: n_ctx %d or n_seq_max %d out of range", n_ctx, params->n_seq_max);
    loam_context *c = calloc(1, sizeof *c);
    if (!c) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_seq = params->n_seq_max;
    c->capture_hidden = params->capture_hidden;
    c->n_ubatch = params->n_ubatch > 0 ? params->n_ubatch : auto_ubatch(m);
    c->kv_dim = (size_t)s->n_kv_heads * (size_t)s->head_dim;
    c->kv_type = params->kv_type;
    if (c->kv_type == LOAM_KV_Q8_0 && s->head_dim % 32) {
        free(c);
        return loam_fail(err, LOAM_E_UNSUPPORTED, "context: a q8_0 KV cache needs head_dim a multiple of 32 (it is %d)", s->head_dim);
    }
    c->kv_row_bytes = c->kv_type == LOAM_KV_F32 ? c->kv_dim * 4 : c->kv_type == LOAM_KV_F16 ? c->kv_dim * 2 : c->kv_dim / 32 * 34;
    size_t cache = (size_t)c->n_seq * (size_t)s->n_layers * (size_t)n_ctx * c->kv_row_bytes;
    /* calloc: pages are only made resident as positions are written */
    c->k_cache = calloc(cache, 1);
    c->v_cache = calloc(cache, 1);
    c->seq_len = calloc((size_t)c->n_seq, sizeof *c->seq_len);
    c->seq_tmp = calloc((size_t)c->n_seq, sizeof *c->seq_tmp);
    c->pool = loam_pool_new(m->n_threads);
    c->scores = malloc((size_t)m->n_threads * (size_t)n_ctx * sizeof(float));
    if (!c->k_cache || !c->v_cache || !c->seq_len || !c->seq_tmp || !c->pool || !c->scores) {
        loam_context_free(c);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a KV cache of %d positions x %d sequences", n_ctx,
                         c->n_seq);
    }
    *out = c;
    return LOAM_OK;
}

static void free_scratch(loam_context *c) {
    float **bufs[] = {&c->x, &c->h, &c->qkv, &c->q, &c->k, &c->v, &c->att, &c->o, &c->ff_a, &c->ff_b, &c->rope_cos, &c->rope_sin};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    c->cap_rows = 0;
}

static void free_outputs(loam_context *c) {
    free(c->hidden), free(c->logits), free(c->logit_row);
    c->hidden = c->logits = NULL;
    c->logit_row = NULL;
    c->cap_out = 0;
}

void loam_context_free(loam_context *c) {
    if (!c) return;
    free_scratch(c);
    free_outputs(c);
    free(c->k_cache);
    free(c->v_cache);
    free(c->seq_len);
    free(c->seq_tmp);
    free(c->scores);
    free(c->xq);
    free(c->xb);
    loam_pool_free(c->pool);
    free(c);
}

void loam_kv_seq_clear(loam_context *c, int seq) {
    if (seq >= 0 && seq < c->n_seq) c->seq_len[seq] = 0;
}

/* Outputs for a whole batch of `rows`: logits (malloc'd, so only the rows
 * written become resident), the row map, and the captured hidden states. */
static loam_status reserve_outputs(loam_context *c, int rows, loam_error *err) {
    const loam_spec *s = &c->m->spec;
    if (rows <= c->cap_out) return LOAM_OK;
    free_outputs(c);
    size_t r = (size_t)rows;
    c->logit_row = malloc(r * sizeof(int));
    c->hidden = c->capture_hidden ? malloc((size_t)(s->n_layers + 1) * r * (size_t)s->n_embd * sizeof(float)) : NULL;
    c->logits = malloc(r * (size_t)s->n_vocab * sizeof(float));
    if (!c->logit_row || (c->capture_hidden && !c->hidden) || !c->logits) {
        free_outputs(c);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for the outputs of a batch of %d rows", rows);
    }
    c->cap_out = rows;
    return LOAM_OK;
}

/* Scratch for one slice of `rows` rows. */
static loam_status reserve_rows(loam_context *c, int rows, loam_error *err) {
    const loam_spec *s = &c->m->spec;
    if (rows > c->cap_rows) {
        free_scratch(c);
        size_t r = (size_t)rows, H = (size_t)s->n_embd, qd = (size_t)s->n_heads * s->head_dim;
        c->x = malloc(r * H * sizeof(float));
        c->h = malloc(r * H * sizeof(float));
        c->qkv = malloc(r * (qd + 2 * c->kv_dim) * sizeof(float));
        c->q = malloc(r * qd * sizeof(float));
        c->k = malloc(r * c->kv_dim * sizeof(float));
        c->v = malloc(r * c->kv_dim * sizeof(float));
        c->att = malloc(r * qd * sizeof(float));
        c->o = malloc(r * H * sizeof(float));
        c->ff_a = malloc(r * (size_t)s->n_ff * sizeof(float));
        c->ff_b = malloc(r * (size_t)s->n_ff * sizeof(float));
        c->rope_cos = malloc(r * (size_t)(s->head_dim / 2 + 1) * sizeof(float));
        c->rope_sin = malloc(r * (size_t)(s->head_dim / 2 + 1) * sizeof(float));
        if (!c->x || !c->h || !c->qkv || !c->q || !c->k || !c->v || !c->att || !c->o || !c->ff_a || !c->ff_b ||
            !c->rope_cos || !c->rope_sin) {
            free_scratch(c);
            return loam_fail(err, LOAM_E_NOMEM, "out of memory for a batch of %d rows", rows);
        }
        c->cap_rows = rows;
    }
    return LOAM_OK;
}

/* ------------------------------------------------------------ ops */

typedef struct {
    const loam_kernels *kernels;
    const float *x;
    const loam_act_block *xq; /* quantized weights: the int8 activations */
    const uint16_t *xb;       /* BF16 weights with --bf16-dot: the rounded activations */
    loam_bf16dot_fn bf16dot;
    int T, K, N, chunk;
    const loam_tensor *w;
    float *y;
} linear_job;

static void linear_task(void *arg, int task, int thread) {
    (void)thread;
    const linear_job *j = arg;
    int n0 = task * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N;
    if (j->xq) j->kernels->matmul_q8(j->xq, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->N);
    else if (j->xb) j->bf16dot(j->xb, j->T, j->K, j->w->data, n0, n1, j->y, j->N);
    else j->kernels->matmul(j->x, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->N);
}

typedef struct {
    const float *x;
    loam_act_block *xq; /* to int8 blocks, or */
    uint16_t *xb;       /* to bf16 */
    int T, K, rows_per_task;
} quant_job;

static void quantize_task(void *arg, int task, int thread) {
    (void)thread;
    const quant_job *j = arg;
    int t0 = task * j->rows_per_task, t1 = t0 + j->rows_per_task < j->T ? t0 + j->rows_per_task : j->T;
    for (int t = t0; t < t1; t++) {
        const float *xt = j->x + (size_t)t * j->K;
        if (j->xq) {
            loam_quantize_act_row(xt, j->K, j->xq + (size_t)t * (j->K / 32));
        } else {
            uint16_t *bt = j->xb + (size_t)t * j->K;
            for (int k = 0; k < j->K; k++) bt[k] = loam_f32_to_bf16(xt[k]);
        }
    }
}

/* Activations converted once per product (int8 blocks or bf16), split over
 * the pool: a serial step here would cap the prefill speed-up of more
 * threads. */
static void convert_activations(loam_context *c, quant_job *q) {
    int threads = loam_pool_size(c->pool);
    if (q->T >= 2 * threads) {
        q->rows_per_task = (q->T + threads - 1) / threads;
        loam_pool_run(c->pool, quantize_task, q, threads);
    } else {
        q->rows_per_task = q->T;
        quantize_task(q, 0, 0);
    }
}

/* y[T, N] = x[T, K] W^T (+ bias), split over the pool by output columns. */
static void linear(loam_context *c, const float *x, int T, const loam_tensor *w, const float *bias, float *y) {
    int N = (int)w->shape[0], K = (int)w->shape[1];
    int threads = loam_pool_size(c->pool);
    int chunk = (N + threads * 4 - 1) / (threads * 4); /* 4 tasks per thread balance uneven progress */
    chunk = chunk < 16 ? 16 : (chunk + 3) & ~3;
    linear_job j = {c->m->kernels, x, NULL, NULL, c->m->bf16dot, T, K, N, chunk, w, y};
    if (loam_type_is_quantized(w->type) && !c->m->quant_exact && loam_qdot_supports(w->type, K)) {
        /* quantized weights: activations to int8 blocks once, then integer products */
        size_t need = (size_t)T * (size_t)(K / 32);
        if (need > c->xq_cap) {
            loam_act_block *g = realloc(c->xq, need * sizeof *g);
            if (g) c->xq = g, c->xq_cap = need;
        }
        if (need <= c->xq_cap) {
            quant_job q = {x, c->xq, NULL, T, K, T};
            convert_activations(c, &q);
            j.xq = c->xq;
        }
    } else if (w->type == LOAM_T_BF16 && c->m->bf16dot) {
        size_t need = (size_t)T * (size_t)K;
        if (need > c->xb_cap) {
            uint16_t *g = realloc(c->xb, need * sizeof *g);
            if (g) c->xb = g, c->xb_cap = need;
        }
        if (need <= c->xb_cap) {
            quant_job q = {x, NULL, c->xb, T, K, T};
            convert_activations(c, &q);
            j.xb = c->xb;
        }
    }
    if ((int64_t)T * N * K < 65536) { /* waking threads costs more than this */
        j.chunk = N;
        linear_task(&j, 0, 0);
    } else {
        loam_pool_run(c->pool, linear_task, &j, (N + chunk - 1) / chunk);
    }
    if (bias)
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++) y[(size_t)t * N + n] += bias[n];
}

static void norm_rows(const loam_spec *s, const float *x, float *y, int T, const float *w, const float *b) {
    int H = s->n_embd;
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * H;
        float *yt = y + (size_t)t * H;
        if (s->norm == LOAM_NORM_RMS) {
            double ss = 0;
            for (int i = 0; i < H; i++) ss += (double)xt[i] * xt[i];
            float r = (float)(1.0 / sqrt(ss / H + s->norm_eps));
            for (int i = 0; i < H; i++) yt[i] = xt[i] * r * (s->norm_plus_one ? 1.0f + w[i] : w[i]);
        } else {
            double mean = 0, var = 0;
            for (int i = 0; i < H; i++) mean += xt[i];
            mean /= H;
            for (int i = 0; i < H; i++) var += (xt[i] - mean) * (xt[i] - mean);
            float r = (float)(1.0 / sqrt(var / H + s->norm_eps));
            for (int i = 0; i < H; i++) yt[i] = (float)(xt[i] - mean) * r * w[i] + (b ? b[i] : 0.0f);
        }
    }
}

static float activate(loam_act_type act, float x) {
    switch (act) {
    case LOAM_ACT_SILU: return x / (1.0f + expf(-x));
    case LOAM_ACT_GELU: return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    case LOAM_ACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    }
    return x;
}

/* RoPE on the first rope_dim dims of each head of a row: pairs (i, i + d/2)
 * as transformers' rotate_half, or (2i, 2i + 1) for weights in llama.cpp's
 * interleaved layout. */
static void rope_row(float *v, int n_heads, int head_dim, int rope_dim, int interleaved, const float *cos_t,
                     const float *sin_t) {
    int half = rope_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *vh = v + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
            float a = vh[ia], b = vh[ib];
            vh[ia] = a * cos_t[i] - b * sin_t[i];
            vh[ib] = b * cos_t[i] + a * sin_t[i];
        }
    }
}

/* Splits fused projections into q, k, v rows. */
static void split_qkv(const loam_spec *s, const float *qkv, int T, float *q, float *k, float *v) {
    int hd = s->head_dim, nq = s->n_heads, nkv = s->n_kv_heads, group = nq / nkv;
    size_t width = (size_t)(nq + 2 * nkv) * hd;
    for (int t = 0; t < T; t++) {
        const float *src = qkv + t * width;
        float *qt = q + (size_t)t * nq * hd, *kt = k + (size_t)t * nkv * hd, *vt = v + (size_t)t * nkv * hd;
        if (s->qkv == LOAM_QKV_FUSED_CONCAT) {
            memcpy(qt, src, (size_t)nq * hd * sizeof(float));
            memcpy(kt, src + (size_t)nq * hd, (size_t)nkv * hd * sizeof(float));
            memcpy(vt, src + (size_t)(nq + nkv) * hd, (size_t)nkv * hd * sizeof(float));
        } else { /* per KV group: [group q heads | k | v] */
            for (int g = 0; g < nkv; g++) {
                const float *gs = src + (size_t)g * (group + 2) * hd;
                memcpy(qt + (size_t)g * group * hd, gs, (size_t)group * hd * sizeof(float));
                memcpy(kt + (size_t)g * hd, gs + (size_t)group * hd, (size_t)hd * sizeof(float));
                memcpy(vt + (size_t)g * hd, gs + (size_t)(group + 1) * hd, (size_t)hd * sizeof(float));
            }
        }
    }
}

typedef struct {
    loam_context *c;
    const loam_batch *batch;
    int layer;
} attention_job;

/* One (row, head): softmax(q K^T * scale + bias) V over the row's sequence
 * up to its position. Scores live in a per-thread buffer of n_ctx floats,
 * never a T x T matrix. */
static void attention_task(void *arg, int task, int thread) {
    const attention_job *j = arg;
    loam_context *c = j->c;
    const loam_spec *s = &c->m->spec;
    int hd = s->head_dim, nq = s->n_heads, group = nq / s->n_kv_heads;
    int row = task / nq, head = task % nq, kv_head = head / group;
    int seq = j->batch->seq_id[row], pos = j->batch->pos[row];
    size_t layer_base = ((size_t)seq * s->n_layers + j->layer) * (size_t)c->n_ctx * c->kv_row_bytes;
    const float *q = c->q + ((size_t)row * nq + head) * hd;
    float *scores = c->scores + (size_t)thread * c->n_ctx;
    float scale = s->attn_scale > 0 ? (float)s->attn_scale : 1.0f / sqrtf((float)hd);
    float slope = s->pos == LOAM_POS_ALIBI ? c->m->alibi_slopes[head] : 0.0f;
    const loam_kernels *kern = c->m->kernels;
    /* the head's values within a cached row, in the cache's storage type */
    size_t head_at = c->kv_type == LOAM_KV_Q8_0 ? (size_t)kv_head * (hd / 32) * 34
                                                : (size_t)kv_head * hd * (c->kv_type == LOAM_KV_F16 ? 2 : 4);
    kern->attn_scores[c->kv_type](q, c->k_cache + layer_base + head_at, c->kv_row_bytes, pos + 1, hd, scores);
    float max = -INFINITY;
    for (int p = 0; p <= pos; p++) {
        scores[p] = scores[p] * scale + slope * (float)(p - pos);
        if (scores[p] > max) max = scores[p];
    }
    float inv = (float)(1.0 / kern->softmax_exp(scores, pos + 1, max));
    for (int p = 0; p <= pos; p++) scores[p] *= inv;
    float *out = c->att + ((size_t)row * nq + head) * hd;
    kern->attn_mix[c->kv_type](scores, c->v_cache + layer_base + head_at, c->kv_row_bytes, pos + 1, hd, out);
}

/* Writes one position's K or V row into the cache in its storage type. */
static void store_kv_row(const loam_context *c, uint8_t *dst, const float *src) {
    if (c->kv_type == LOAM_KV_F32) memcpy(dst, src, c->kv_dim * sizeof(float));
    else if (c->kv_type == LOAM_KV_F16) loam_quantize_row(LOAM_T_F16, src, (int64_t)c->kv_dim, dst);
    else loam_quantize_row(LOAM_T_Q8_0, src, (int64_t)c->kv_dim, dst);
}

/* ----------------------------------------------------- forward pass */

static loam_status check_batch(const loam_context *c, const loam_batch *b, loam_error *err) {
    if (!b || b->n_tokens <= 0 || !b->token || !b->pos || !b->seq_id)
        return loam_fail(err, LOAM_E_ARG, "decode: empty batch");
    for (int i = 0; i < b->n_tokens; i++) {
        if (b->token[i] < 0 || b->token[i] >= c->m->spec.n_vocab)
            return loam_fail(err, LOAM_E_RANGE, "decode: token id %d is outside the vocabulary (0..%d)", b->token[i],
                             c->m->spec.n_vocab - 1);
        if (b->seq_id[i] < 0 || b->seq_id[i] >= c->n_seq)
            return loam_fail(err, LOAM_E_RANGE, "decode: sequence %d is outside 0..%d", b->seq_id[i], c->n_seq - 1);
        if (b->pos[i] < 0 || b->pos[i] >= c->n_ctx)
            return loam_fail(err, LOAM_E_RANGE, "decode: position %d is outside the context of %d", b->pos[i],
                             c->n_ctx);
    }
    return LOAM_OK;
}

/* A slice's hidden states after layer `slot`, at rows r0.. of the batch. */
static void capture(loam_context *c, int slot, const float *x, int T, int r0) {
    size_t H = (size_t)c->m->spec.n_embd;
    if (c->capture_hidden) memcpy(c->hidden + ((size_t)slot * c->n_rows + r0) * H, x, (size_t)T * H * sizeof(float));
}

/* Whether the batch may be computed in consecutive slices: a row must never
 * need the K/V of a row in a later slice, so each sequence's positions
 * must rise through the batch. */
static int slices_keep_causality(loam_context *c, const loam_batch *b) {
    for (int s = 0; s < c->n_seq; s++) c->seq_tmp[s] = -1;
    for (int i = 0; i < b->n_tokens; i++) {
        if (b->pos[i] <= c->seq_tmp[b->seq_id[i]]) return 0;
        c->seq_tmp[b->seq_id[i]] = b->pos[i];
    }
    return 1;
}

/* The forward pass for one slice of a batch: rows r0.. (b views them);
 * logits go after the *n_out already written. */
static void decode_slice(loam_context *c, const loam_batch *b, int r0, int *n_out) {
    const loam_model *m = c->m;
    const loam_spec *s = &m->spec;
    int T = b->n_tokens, H = s->n_embd, hd = s->head_dim;
    size_t qd = (size_t)s->n_heads * hd, kvd = c->kv_dim;

    /* 1. embeddings (Gemma scales them; BLOOM normalises them) */
    for (int t = 0; t < T; t++) {
        float *xt = c->x + (size_t)t * H;
        loam_row_to_f32(m->global[LOAM_G_TOK_EMB]->data, m->global[LOAM_G_TOK_EMB]->type, b->token[t], H, xt);
        if (s->emb_scale) {
            float scale = (float)sqrt((double)H);
            for (int i = 0; i < H; i++) xt[i] *= scale;
        }
    }
    if (s->emb_norm)
        norm_rows(s, c->x, c->x, T, m->global_vec[LOAM_G_EMB_NORM_W], m->global_vec[LOAM_G_EMB_NORM_B]);
    capture(c, 0, c->x, T, r0);

    /* rotary angles per row, shared by all layers and heads */
    if (s->pos == LOAM_POS_ROPE) {
        int half = s->rope_dim / 2;
        for (int t = 0; t < T; t++)
            for (int i = 0; i < half; i++) {
                double angle = (double)b->pos[t] * (double)m->rope_inv_freq[i];
                c->rope_cos[(size_t)t * half + i] = (float)cos(angle);
                c->rope_sin[(size_t)t * half + i] = (float)sin(angle);
            }
    }

    for (int l = 0; l < s->n_layers; l++) {
        const loam_tensor *const *w = m->layer[l];
        float *const *v = m->layer_vec[l];

        /* 2. attention input: norm, q/k/v projections, clipping, rotary */
        norm_rows(s, c->x, c->h, T, v[LOAM_L_ATTN_NORM_W], v[LOAM_L_ATTN_NORM_B]);
        if (s->qkv == LOAM_QKV_SEPARATE) {
            linear(c, c->h, T, w[LOAM_L_WQ], v[LOAM_L_BQ], c->q);
            linear(c, c->h, T, w[LOAM_L_WK], v[LOAM_L_BK], c->k);
            linear(c, c->h, T, w[LOAM_L_WV], v[LOAM_L_BV], c->v);
        } else {
            linear(c, c->h, T, w[LOAM_L_WQKV], v[LOAM_L_BQKV], c->qkv);
            if (s->clip_qkv > 0) {
                size_t n = (size_t)T * (qd + 2 * kvd);
                float lim = (float)s->clip_qkv;
                for (size_t i = 0; i < n; i++) c->qkv[i] = fminf(fmaxf(c->qkv[i], -lim), lim);
            }
            split_qkv(s, c->qkv, T, c->q, c->k, c->v);
        }
        if (s->pos == LOAM_POS_ROPE) {
            int half = s->rope_dim / 2;
            for (int t = 0; t < T; t++) {
                const float *ct = c->rope_cos + (size_t)t * half, *st_ = c->rope_sin + (size_t)t * half;
                rope_row(c->q + (size_t)t * qd, s->n_heads, hd, s->rope_dim, s->rope_interleaved, ct, st_);
                rope_row(c->k + (size_t)t * kvd, s->n_kv_heads, hd, s->rope_dim, s->rope_interleaved, ct, st_);
            }
        }

        /* 3. append k, v to the cache, then attend */
        for (int t = 0; t < T; t++) {
            size_t at = (((size_t)b->seq_id[t] * s->n_layers + l) * c->n_ctx + b->pos[t]) * c->kv_row_bytes;
            store_kv_row(c, c->k_cache + at, c->k + (size_t)t * kvd);
            store_kv_row(c, c->v_cache + at, c->v + (size_t)t * kvd);
        }
        attention_job aj = {c, b, l};
        loam_pool_run(c->pool, attention_task, &aj, T * s->n_heads);
        linear(c, c->att, T, w[LOAM_L_WO], v[LOAM_L_BO], c->o);

        /* 4. MLP, sequential (x += attn; x += mlp(norm(x))) or parallel
         * (x += attn + mlp(norm(x_in))) */
        const float *mlp_in = c->h;
        if (!s->parallel_block) {
            for (size_t i = 0; i < (size_t)T * H; i++) c->x[i] += c->o[i];
            norm_rows(s, c->x, c->h, T, v[LOAM_L_FFN_NORM_W], v[LOAM_L_FFN_NORM_B]);
        } else if (s->parallel_two_norms) {
            norm_rows(s, c->x, c->h, T, v[LOAM_L_FFN_NORM_W], v[LOAM_L_FFN_NORM_B]);
        }
        size_t nff = (size_t)T * s->n_ff;
        linear(c, mlp_in, T, w[LOAM_L_W_UP], v[LOAM_L_B_UP], c->ff_a);
        if (s->mlp_gated) {
            linear(c, mlp_in, T, w[LOAM_L_W_GATE], NULL, c->ff_b);
            for (size_t i = 0; i < nff; i++) c->ff_a[i] *= activate(s->act, c->ff_b[i]);
        } else {
            for (size_t i = 0; i < nff; i++) c->ff_a[i] = activate(s->act, c->ff_a[i]);
        }
        linear(c, c->ff_a, T, w[LOAM_L_W_DOWN], v[LOAM_L_B_DOWN], c->ff_b);
        if (s->parallel_block)
            for (size_t i = 0; i < (size_t)T * H; i++) c->x[i] += c->o[i] + c->ff_b[i];
        else
            for (size_t i = 0; i < (size_t)T * H; i++) c->x[i] += c->ff_b[i];
        if (l + 1 < s->n_layers) capture(c, l + 1, c->x, T, r0);
    }

    /* 5. final norm, then logits for the rows that want them */
    norm_rows(s, c->x, c->h, T, m->global_vec[LOAM_G_OUT_NORM_W], m->global_vec[LOAM_G_OUT_NORM_B]);
    capture(c, s->n_layers, c->h, T, r0);
    int first = *n_out, k = 0;
    for (int t = 0; t < T; t++) {
        int want = !b->want_logits || b->want_logits[t];
        c->logit_row[r0 + t] = want ? first + k : -1;
        if (want) {
            if (k != t) memcpy(c->h + (size_t)k * H, c->h + (size_t)t * H, (size_t)H * sizeof(float));
            k++;
        }
    }
    if (k > 0)
        linear(c, c->h, k, m->global[LOAM_G_LM_HEAD], m->global_vec[LOAM_G_LM_HEAD_B], c->logits + (size_t)first * s->n_vocab);
    *n_out = first + k;
    for (int t = 0; t < T; t++)
        if (b->pos[t] + 1 > c->seq_len[b->seq_id[t]]) c->seq_len[b->seq_id[t]] = b->pos[t] + 1;
}

/* A batch runs in slices of n_ubatch rows (scratch memory stays that of one
 * slice); the cache written by one slice is read by the next, so the result
 * is the same as one pass. */
loam_status loam_decode(loam_context *c, const loam_batch *b, loam_error *err) {
    loam_status st = check_batch(c, b, err);
    if (st) return st;
    int T = b->n_tokens, U = slices_keep_causality(c, b) ? c->n_ubatch : T;
    if (U > T) U = T;
    if ((st = reserve_outputs(c, T, err)) || (st = reserve_rows(c, U, err))) return st;
    c->n_rows = T;
    int n_out = 0;
    for (int r0 = 0; r0 < T; r0 += U) {
        int n = T - r0 < U ? T - r0 : U;
        loam_batch slice = {n, b->token + r0, b->pos + r0, b->seq_id + r0, b->want_logits ? b->want_logits + r0 : NULL};
        decode_slice(c, &slice, r0, &n_out);
    }
    return LOAM_OK;
}

const float *loam_get_logits(const loam_context *c, int i) {
    if (i < 0 || i >= c->n_rows || c->logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->logit_row[i] * c->m->spec.n_vocab;
}

const float *loam_get_hidden(const loam_context *c, int layer, int i) {
    if (!c->capture_hidden || i < 0 || i >= c->n_rows || layer < 0 || layer > c->m->spec.n_layers) return NULL;
    return c->hidden + ((size_t)layer * c->n_rows + i) * c->m->spec.n_embd;
}
