/* Text contexts: their KV cache, the sequence operations on it, and the
 * buffers of a forward pass. The forward pass itself is decoder.c. */
#include "text/context.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Scratch bytes per row of a slice: the activations of reserve_rows plus
 * the int8 or bf16 copy of the widest product input. */
static size_t scratch_per_row(const loam_spec *s) {
    size_t H = (size_t)s->n_embd, qd = (size_t)s->n_heads * s->head_dim, kvd = (size_t)s->n_kv_heads * s->head_dim;
    size_t F = (size_t)s->n_ff, FH = F > H ? F : H; /* ff_b holds the gate (F) and then the down projection (H) */
    size_t floats = 3 * H + (qd + 2 * kvd) + qd + 2 * kvd + qd + F + FH + (size_t)s->head_dim + 2;
    return floats * sizeof(float) + F * 2;
}

/* Slices as long as possible (weights are streamed, and unpacked into the
 * blocked product's strips, once per slice) while the scratch stays within
 * 10% of the weights: measured on a Zen 4 (2 threads), pp512 of a 1B Q4_0
 * file is 160 t/s in slices of 128 rows and 200 t/s in one of 512, whose
 * 71 MB of scratch are 9% of the file. */
static int auto_ubatch_of(const loam_spec *s, uint64_t weight_bytes) {
    int rows = 512;
    while (rows > 64 && (uint64_t)rows * scratch_per_row(s) > weight_bytes / 100 * 10) rows /= 2;
    return rows;
}

static int auto_ubatch(const loam_model *m) { return auto_ubatch_of(&m->spec, m->weight_bytes); }

/* The runtime's fixed cost beside weights, KV cache and scratch: the
 * program and its libraries, thread stacks, the kernel tables (measured:
 * `loam run` of stories260k peaks at 12 MiB beside its 1 MiB of weights),
 * with room to spare, and the tokenizer's tables (vocabulary strings,
 * merge ranks, hash indexes: about 160 bytes a token). */
#define RUNTIME_FIXED_BYTES (32ull << 20)
#define TOKENIZER_BYTES_PER_TOKEN 160ull

void loam_text_memory(const loam_spec *s, uint64_t weight_bytes, int n_ctx, loam_kv_type kv_type, loam_memory_plan *out) {
    memset(out, 0, sizeof *out);
    size_t kv_dim = (size_t)s->n_kv_heads * (size_t)s->head_dim;
    int rows = auto_ubatch_of(s, weight_bytes);
    out->weights = weight_bytes;
    out->kv_per_token = loam_kv_cache_bytes(kv_type, s->n_layers, kv_dim, 1);
    out->kv_cache = loam_kv_cache_bytes(kv_type, s->n_layers, kv_dim, n_ctx);
    /* a prompt slice's activations, one row of logits, a row of attention scores per head */
    out->scratch = (uint64_t)rows * scratch_per_row(s) + (uint64_t)s->n_vocab * sizeof(float) +
                   (uint64_t)s->n_heads * (uint64_t)n_ctx * sizeof(float);
    out->overhead = RUNTIME_FIXED_BYTES + (uint64_t)s->n_vocab * TOKENIZER_BYTES_PER_TOKEN;
    out->total = out->weights + out->kv_cache + out->scratch + out->overhead;
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

int loam_model_default_n_ctx(const loam_model *m) {
    int train = m->spec.n_ctx_train;
    return train > 0 && train < LOAM_DEFAULT_CTX_CAP ? train : LOAM_DEFAULT_CTX_CAP;
}

loam_status loam_context_open(loam_model *m, const loam_context_params *params, loam_context **out, loam_error *err) {
    *out = NULL;
    loam_context_params defaults = loam_context_default_params();
    if (!params) params = &defaults;
    const loam_spec *s = &m->spec;
    int n_ctx = params->n_ctx > 0 ? params->n_ctx : loam_model_default_n_ctx(m);
    if (n_ctx > (1 << 24) || params->n_seq_max < 1 || params->n_seq_max > 4096)
        return loam_fail(err, LOAM_E_ARG, "context: n_ctx %d or n_seq_max %d out of range", n_ctx, params->n_seq_max);
    if (params->kv_type == LOAM_KV_Q8_0 && s->head_dim % 32)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "context: a q8_0 KV cache needs head_dim a multiple of 32 (it is %d)",
                         s->head_dim);
    loam_context *c = calloc(1, sizeof *c);
    if (!c) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    c->m = m;
    c->capture_hidden = params->capture_hidden;
    c->n_ubatch = params->n_ubatch > 0 ? params->n_ubatch : auto_ubatch(m);
    loam_status st = loam_kv_cache_init(&c->kv, params->kv_type, s->n_layers, n_ctx, params->n_seq_max,
                                        (size_t)s->n_kv_heads * (size_t)s->head_dim, err);
    if (!st) st = nn_init(&c->nn, m->kernels, m->n_threads, m->bf16dot, m->quant_exact, err);
    if (st) {
        loam_context_free(c);
        return st;
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
    loam_kv_cache_free(&c->kv);
    nn_free(&c->nn);
    free(c);
}

int loam_context_n_ctx(const loam_context *c) { return c->kv.n_ctx; }
int loam_context_n_seq_max(const loam_context *c) { return c->kv.n_seq; }

/* ------------------------------------------------------------ sequences */

void loam_kv_seq_clear(loam_context *c, int seq) { loam_kv_seq_clear_all(&c->kv, seq); }

int loam_kv_seq_len(const loam_context *c, int seq) { return seq >= 0 && seq < c->kv.n_seq ? c->kv.len[seq] : -1; }

/* A cached K row moved `delta` positions down: rotated back by delta
 * positions (RoPE composes), as llama.cpp's context shift does. */
static void rope_shift(void *user, float *k_row, int layer, int delta) {
    (void)layer;
    const loam_model *m = user;
    const loam_spec *s = &m->spec;
    float cos_t[2048], sin_t[2048]; /* rope_dim / 2 <= head_dim / 2 <= 2048 (spec bounds) */
    int32_t back = -delta;
    nn_rope_angles(&back, 1, m->rope_inv_freq, s->rope_dim / 2, cos_t, sin_t);
    nn_rope(k_row, 1, s->n_kv_heads, s->head_dim, s->rope_dim, s->rope_interleaved, cos_t, sin_t);
}

loam_status loam_kv_seq_remove(loam_context *c, int seq, int p0, int p1, loam_error *err) {
    int rope = c->m->spec.pos == LOAM_POS_ROPE;
    return loam_kv_seq_remove_range(&c->kv, seq, p0, p1, rope ? rope_shift : NULL, c->m, err);
}

loam_status loam_kv_seq_copy(loam_context *c, int src, int dst, int n, loam_error *err) {
    if (n < 0 && src >= 0 && src < c->kv.n_seq) n = c->kv.len[src];
    return loam_kv_seq_copy_prefix(&c->kv, src, dst, n, err);
}

/* ------------------------------------------------------------- buffers */

loam_status loam_context_reserve_outputs(loam_context *c, int rows, loam_error *err) {
    const loam_spec *s = &c->m->spec;
    if (rows <= c->cap_out) return LOAM_OK;
    free_outputs(c);
    size_t r = (size_t)rows;
    /* malloc'd, so only the rows written become resident */
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

loam_status loam_context_reserve_rows(loam_context *c, int rows, loam_error *err) {
    const loam_spec *s = &c->m->spec;
    if (rows <= c->cap_rows) return LOAM_OK;
    free_scratch(c);
    size_t r = (size_t)rows, H = (size_t)s->n_embd, qd = (size_t)s->n_heads * s->head_dim, kvd = c->kv.dim;
    c->x = malloc(r * H * sizeof(float));
    c->h = malloc(r * H * sizeof(float));
    c->qkv = malloc(r * (qd + 2 * kvd) * sizeof(float));
    c->q = malloc(r * qd * sizeof(float));
    c->k = malloc(r * kvd * sizeof(float));
    c->v = malloc(r * kvd * sizeof(float));
    c->att = malloc(r * qd * sizeof(float));
    c->o = malloc(r * H * sizeof(float));
    c->ff_a = malloc(r * (size_t)s->n_ff * sizeof(float));
    /* the gate (n_ff wide), then the down projection (H wide): a file may say n_ff < H */
    c->ff_b = malloc(r * (size_t)(s->n_ff > s->n_embd ? s->n_ff : s->n_embd) * sizeof(float));
    c->rope_cos = malloc(r * (size_t)(s->head_dim / 2 + 1) * sizeof(float));
    c->rope_sin = malloc(r * (size_t)(s->head_dim / 2 + 1) * sizeof(float));
    if (!c->x || !c->h || !c->qkv || !c->q || !c->k || !c->v || !c->att || !c->o || !c->ff_a || !c->ff_b ||
        !c->rope_cos || !c->rope_sin) {
        free_scratch(c);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a batch of %d rows", rows);
    }
    c->cap_rows = rows;
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
