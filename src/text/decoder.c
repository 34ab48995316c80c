/* The text decoder: one forward pass of any decoder-only family, read top
 * to bottom in forward_slice(). It names no architecture; every choice
 * comes from the spec, every step is a shared op of nn/. A batch holds rows
 * of any sequences at any positions: the matrix products take all rows
 * together, attention reads each row's own sequence from the KV cache.
 *
 * Shapes: T rows in the slice, H = n_embd, Dq = n_heads · head_dim,
 * Dkv = n_kv_heads · head_dim, F = n_ff, V = n_vocab. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "text/context.h"

/* y[T, H] = norm(x[T, H]), RMS or Layer as the spec says. */
static void norm(loam_context *c, const float *x, float *y, int T, const float *w, const float *b) {
    const loam_spec *s = &c->m->spec;
    loam_nn *nn = &c->nn;
    if (s->norm == LOAM_NORM_RMS) nn_rms_norm_on(nn, x, y, T, s->n_embd, w, s->norm_eps, s->norm_plus_one);
    else nn_layer_norm_on(nn, x, y, T, s->n_embd, w, b, s->norm_eps);
}

/* x[T, H] += ra (+ rb), then h = norm(x), row by row in one pass (ra NULL:
 * the norm alone). */
static void add_norm(loam_context *c, const float *ra, const float *rb, int T, const float *w, const float *b) {
    const loam_spec *s = &c->m->spec;
    loam_nn *nn = &c->nn;
    if (s->norm == LOAM_NORM_RMS) nn_add_rms_norm_on(nn, c->x, ra, rb, c->h, T, s->n_embd, w, s->norm_eps, s->norm_plus_one);
    else nn_add_layer_norm_on(nn, c->x, ra, rb, c->h, T, s->n_embd, w, b, s->norm_eps);
}

/* x[T, H] = embedding rows of the tokens (Gemma scales them by √H; BLOOM
 * normalises them). */
static void embed(loam_context *c, const loam_batch *b) {
    const loam_model *m = c->m;
    const loam_spec *s = &m->spec;
    const loam_tensor *emb = m->global[LOAM_G_TOK_EMB];
    int T = b->n_tokens, H = s->n_embd;
    for (int t = 0; t < T; t++) loam_row_to_f32(emb->data, emb->type, b->token[t], H, c->x + (size_t)t * H);
    if (s->emb_scale) nn_scale(c->x, (size_t)T * H, (float)sqrt((double)H));
    if (s->emb_norm) norm(c, c->x, c->x, T, m->global_vec[LOAM_G_EMB_NORM_W], m->global_vec[LOAM_G_EMB_NORM_B]);
}

/* Splits fused projections qkv[T, Dq + 2 Dkv] into q[T, Dq], k, v[T, Dkv]:
 * [all q | all k | all v] (BLOOM-style concat in GGUF, Phi), or per KV
 * group [its q heads | k | v] (BLOOM, Falcon). */
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
        } else {
            for (int g = 0; g < nkv; g++) {
                const float *gs = src + (size_t)g * (group + 2) * hd;
                memcpy(qt + (size_t)g * group * hd, gs, (size_t)group * hd * sizeof(float));
                memcpy(kt + (size_t)g * hd, gs + (size_t)group * hd, (size_t)hd * sizeof(float));
                memcpy(vt + (size_t)g * hd, gs + (size_t)(group + 1) * hd, (size_t)hd * sizeof(float));
            }
        }
    }
}

/* q[T, Dq], k, v[T, Dkv] from the normalised input h[T, H]: projections
 * (separate or fused, MPT's clip), then RoPE on q and k. */
static void project_qkv(loam_context *c, int l, int T) {
    const loam_spec *s = &c->m->spec;
    const loam_tensor *const *w = c->m->layer[l];
    float *const *v = c->m->layer_vec[l];
    if (s->qkv == LOAM_QKV_SEPARATE) {
        nn_linear_out qkv[3] = {{w[LOAM_L_WQ], v[LOAM_L_BQ], c->q, 0}, {w[LOAM_L_WK], v[LOAM_L_BK], c->k, 0},
                                {w[LOAM_L_WV], v[LOAM_L_BV], c->v, 0}};
        nn_linear_many(&c->nn, c->h, T, qkv, 3);
    } else {
        nn_linear(&c->nn, c->h, T, w[LOAM_L_WQKV], v[LOAM_L_BQKV], c->qkv);
        size_t width = (size_t)(s->n_heads + 2 * s->n_kv_heads) * s->head_dim;
        if (s->clip_qkv > 0) nn_clamp(c->qkv, (size_t)T * width, (float)s->clip_qkv);
        split_qkv(s, c->qkv, T, c->q, c->k, c->v);
    }
    if (s->pos == LOAM_POS_ROPE) {
        nn_rope_on(&c->nn, c->q, T, s->n_heads, s->head_dim, s->rope_dim, s->rope_interleaved, c->rope_cos, c->rope_sin);
        nn_rope_on(&c->nn, c->k, T, s->n_kv_heads, s->head_dim, s->rope_dim, s->rope_interleaved, c->rope_cos, c->rope_sin);
    }
}

/* o[T, H] = attention of layer l: k, v appended to each row's sequence in
 * the cache, then every row attends to its sequence up to its position. */
static void attention(loam_context *c, const loam_batch *b, int l) {
    const loam_model *m = c->m;
    const loam_spec *s = &m->spec;
    int T = b->n_tokens;
    for (int t = 0; t < T; t++)
        loam_kv_store(&c->kv, b->seq_id[t], l, b->pos[t], c->k + (size_t)t * c->kv.dim, c->v + (size_t)t * c->kv.dim);
    nn_heads heads = {s->n_heads, s->n_kv_heads, s->head_dim, (float)s->attn_scale,
                      s->pos == LOAM_POS_ALIBI ? m->alibi_slopes : NULL, NULL};
    nn_attention_cached(&c->nn, &c->kv, l, c->q, T, b->pos, b->seq_id, &heads, c->att);
    nn_linear(&c->nn, c->att, T, m->layer[l][LOAM_L_WO], m->layer_vec[l][LOAM_L_BO], c->o);
}

/* ff_b[T, H] = down(act(gate(in)) · up(in)), or down(act(up(in))). */
static void mlp(loam_context *c, int l, const float *in, int T) {
    const loam_spec *s = &c->m->spec;
    const loam_tensor *const *w = c->m->layer[l];
    float *const *v = c->m->layer_vec[l];
    size_t n = (size_t)T * s->n_ff;
    if (s->mlp_gated) {
        nn_linear_out up_gate[2] = {{w[LOAM_L_W_UP], v[LOAM_L_B_UP], c->ff_a, 0}, {w[LOAM_L_W_GATE], NULL, c->ff_b, 0}};
        nn_linear_many(&c->nn, in, T, up_gate, 2);
        nn_gate_on(&c->nn, s->act, c->ff_a, c->ff_b, n);
    } else {
        nn_linear(&c->nn, in, T, w[LOAM_L_W_UP], v[LOAM_L_B_UP], c->ff_a);
        nn_activate_on(&c->nn, s->act, c->ff_a, n);
    }
    nn_linear(&c->nn, c->ff_a, T, w[LOAM_L_W_DOWN], v[LOAM_L_B_DOWN], c->ff_b);
}

/* A slice's hidden states after layer `slot`, at rows r0.. of the batch. */
static void capture(loam_context *c, int slot, const float *x, int T, int r0) {
    size_t H = (size_t)c->m->spec.n_embd;
    if (c->capture_hidden) memcpy(c->hidden + ((size_t)slot * c->n_rows + r0) * H, x, (size_t)T * H * sizeof(float));
}

/* logits[k, V] for the k rows of h[T, H] that want them, after the *n_out
 * rows already written; the batch's row map records where each went. */
static void head(loam_context *c, const loam_batch *b, int r0, int *n_out) {
    const loam_model *m = c->m;
    int T = b->n_tokens, H = m->spec.n_embd, first = *n_out, k = 0;
    for (int t = 0; t < T; t++) {
        int want = !b->want_logits || b->want_logits[t];
        c->logit_row[r0 + t] = want ? first + k : -1;
        if (want) {
            if (k != t) memcpy(c->h + (size_t)k * H, c->h + (size_t)t * H, (size_t)H * sizeof(float));
            k++;
        }
    }
    if (k > 0)
        nn_linear(&c->nn, c->h, k, m->global[LOAM_G_LM_HEAD], m->global_vec[LOAM_G_LM_HEAD_B],
                  c->logits + (size_t)first * m->spec.n_vocab);
    *n_out = first + k;
}

/* The forward pass for one slice of a batch: rows r0.. (b views them). */
static void forward_slice(loam_context *c, const loam_batch *b, int r0, int *n_out) {
    const loam_model *m = c->m;
    const loam_spec *s = &m->spec;
    int T = b->n_tokens;

    /* 1. x = token embeddings; rotary angles per row, shared by all layers */
    embed(c, b);
    capture(c, 0, c->x, T, r0);
    if (s->pos == LOAM_POS_ROPE) nn_rope_angles(b->pos, T, m->rope_inv_freq, s->rope_dim / 2, c->rope_cos, c->rope_sin);

    /* the residual a layer leaves to add to x: added by the next norm, in
     * the same pass over x */
    const float *ra = NULL, *rb = NULL;
    for (int l = 0; l < s->n_layers; l++) {
        float *const *v = m->layer_vec[l];
        /* 2. x += the last layer's residual; o = attention(norm(x)) */
        add_norm(c, ra, rb, T, v[LOAM_L_ATTN_NORM_W], v[LOAM_L_ATTN_NORM_B]);
        if (l > 0) capture(c, l, c->x, T, r0);
        project_qkv(c, l, T);
        attention(c, b, l);
        /* 3. sequential: x += o; residual mlp(norm(x)).
         *    parallel:   residual o + mlp(norm(x)), with the attention's norm
         *                or its own (Falcon-40B) */
        if (!s->parallel_block) add_norm(c, c->o, NULL, T, v[LOAM_L_FFN_NORM_W], v[LOAM_L_FFN_NORM_B]);
        else if (s->parallel_two_norms) norm(c, c->x, c->h, T, v[LOAM_L_FFN_NORM_W], v[LOAM_L_FFN_NORM_B]);
        mlp(c, l, c->h, T);
        ra = s->parallel_block ? c->o : c->ff_b, rb = s->parallel_block ? c->ff_b : NULL;
    }

    /* 4. x += the last residual, final norm, then logits for the rows that want them */
    add_norm(c, ra, rb, T, m->global_vec[LOAM_G_OUT_NORM_W], m->global_vec[LOAM_G_OUT_NORM_B]);
    capture(c, s->n_layers, c->h, T, r0);
    head(c, b, r0, n_out);
}

static loam_status check_tokens(const loam_context *c, const loam_batch *b, loam_error *err) {
    if (!b || b->n_tokens <= 0 || !b->token || !b->pos || !b->seq_id)
        return loam_fail(err, LOAM_E_ARG, "decode: empty batch");
    for (int i = 0; i < b->n_tokens; i++)
        if (b->token[i] < 0 || b->token[i] >= c->m->spec.n_vocab)
            return loam_fail(err, LOAM_E_RANGE, "decode: token id %d is outside the vocabulary (0..%d)", b->token[i],
                             c->m->spec.n_vocab - 1);
    return LOAM_OK;
}

/* A batch runs in slices of n_ubatch rows (scratch memory stays that of one
 * slice); the cache written by one slice is read by the next, so the result
 * is the same as one pass. */
loam_status loam_decode(loam_context *c, const loam_batch *b, loam_error *err) {
    loam_status st = check_tokens(c, b, err);
    if (!st) st = loam_kv_check_batch(&c->kv, b->pos, b->seq_id, b->n_tokens, err);
    if (st) return st;
    /* slices keep causality only when each sequence's positions rise
     * through the batch: a row must never need a later slice's K/V */
    int T = b->n_tokens, U = c->kv.batch_rising ? c->n_ubatch : T;
    if (U > T) U = T;
    if ((st = loam_context_reserve_outputs(c, T, err)) || (st = loam_context_reserve_rows(c, U, err))) return st;
    c->n_rows = T;
    int n_out = 0;
    for (int r0 = 0; r0 < T && !c->nn.status; r0 += U) {
        int n = T - r0 < U ? T - r0 : U;
        loam_batch slice = {n, b->token + r0, b->pos + r0, b->seq_id + r0, b->want_logits ? b->want_logits + r0 : NULL};
        forward_slice(c, &slice, r0, &n_out);
    }
    st = nn_status(&c->nn, err);
    loam_kv_commit_batch(&c->kv, b->seq_id, T, st == LOAM_OK);
    if (st) c->n_rows = 0; /* no logits of a failed batch */
    return st;
}
