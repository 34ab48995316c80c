/* Whisper's two forward passes, read top to bottom: the encoder over one
 * 30 s window of log-mel, and the decoder over a batch of token rows,
 * each step a shared op of nn/. Shapes as in whisper.h; M = n_mels,
 * N = 3000 mel frames. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys.h"
#include "speech/whisper.h"

static void norm(loam_whisper *w, const float *x, float *y, int T, const float *g, const float *b) {
    nn_layer_norm_on(&w->nn, x, y, T, w->hp.d_model, g, b, 1e-5f);
}

loam_status whisper_runtime_init(loam_whisper *w, loam_error *err) {
    const whisper_hparams *hp = &w->hp;
    size_t SD = (size_t)hp->n_audio_ctx * hp->d_model;
    nn_heads dh = {hp->n_dec_heads, hp->n_dec_heads, hp->d_model / hp->n_dec_heads, 0.0f, NULL, NULL};
    w->enc_out = malloc(sizeof(float) * SD);
    /* read at every decoder step: huge pages where the kernel gives them */
    w->cross_k_layer = nn_cross_keys_floats(hp->n_audio_ctx, &dh);
    w->cross_v_layer = nn_cross_values_floats(hp->n_audio_ctx, &dh);
    w->cross_k = loam_alloc_huge(sizeof(float) * w->cross_k_layer * (size_t)hp->n_dec_layers);
    w->cross_v = loam_alloc_huge(sizeof(float) * w->cross_v_layer * (size_t)hp->n_dec_layers);
    if (!w->enc_out || !w->cross_k || !w->cross_v) return loam_fail(err, LOAM_E_NOMEM, "whisper: out of memory");
    return loam_kv_cache_init(&w->kv, LOAM_KV_F32, hp->n_dec_layers, hp->n_text_ctx, WHISPER_MAX_SEQ,
                              (size_t)hp->d_model, err);
}

void whisper_runtime_free(loam_whisper *w) {
    free(w->enc_out), free(w->cross_k), free(w->cross_v), free(w->enc_scratch);
    free(w->x), free(w->h), free(w->q), free(w->k), free(w->v), free(w->att), free(w->o), free(w->ff);
    free(w->logits), free(w->pos), free(w->seq);
    loam_kv_cache_free(&w->kv);
}

/* One pre-LN block's attention: x += out(attend(q(norm x), k, v)). For the
 * encoder k, v come from the same rows (full attention); for the decoder's
 * self-attention from the cache; for its cross-attention from the encoder. */
typedef enum { ATTN_FULL, ATTN_CACHED, ATTN_CROSS } attn_kind;

typedef struct rows {
    float *x, *h, *q, *k, *v, *att, *o, *ff;
    int T;
    const int32_t *pos, *seq;
} rows;

static void attention(loam_whisper *w, const whisper_attn_w *a, attn_kind kind, int layer, rows *r, int n_heads) {
    int D = w->hp.d_model, T = r->T, S = w->hp.n_audio_ctx;
    nn_heads heads = {n_heads, n_heads, D / n_heads, 0.0f, NULL, NULL};
    norm(w, r->x, r->h, T, a->ln_w, a->ln_b);
    if (kind == ATTN_CROSS) {
        nn_linear(&w->nn, r->h, T, a->q, a->bq, r->q);
        const float *kp = w->cross_k + (size_t)layer * w->cross_k_layer, *vp = w->cross_v + (size_t)layer * w->cross_v_layer;
        for (int i = 0; w->align_scores && i < w->n_align; i++)
            if (w->align_heads[i][0] == layer)
                nn_attention_head_scores(&w->nn, r->q, T, kp, S, &heads, w->align_heads[i][1], w->align_scores + (size_t)i * T * S);
        nn_attention_cross_panels(&w->nn, r->q, T, kp, vp, S, &heads, r->att);
    } else {
        nn_linear_out qkv[3] = {{a->q, a->bq, r->q, 0}, {a->k, NULL, r->k, 0}, {a->v, a->bv, r->v, 0}};
        nn_linear_many(&w->nn, r->h, T, qkv, 3);
        if (kind == ATTN_FULL) {
            nn_attention_full(&w->nn, r->q, r->k, r->v, T, &heads, r->att);
        } else {
            for (int t = 0; t < T; t++)
                loam_kv_store(&w->kv, r->seq[t], layer, r->pos[t], r->k + (size_t)t * D, r->v + (size_t)t * D);
            nn_attention_cached(&w->nn, &w->kv, layer, r->q, T, r->pos, r->seq, &heads, r->att);
        }
    }
    nn_linear(&w->nn, r->att, T, a->o, a->bo, r->o);
    nn_add(r->x, r->o, (size_t)T * D);
}

/* x += fc2(gelu(fc1(norm x))) */
static void mlp(loam_whisper *w, const whisper_layer *L, rows *r, int F) {
    int D = w->hp.d_model, T = r->T;
    norm(w, r->x, r->h, T, L->ln_w, L->ln_b);
    nn_linear(&w->nn, r->h, T, L->fc1, L->b1, r->ff);
    nn_activate_on(&w->nn, NN_ACT_GELU, r->ff, (size_t)T * F);
    nn_linear(&w->nn, r->ff, T, L->fc2, L->b2, r->o);
    nn_add(r->x, r->o, (size_t)T * D);
}

loam_status whisper_encode(loam_whisper *w, const float *mel, loam_error *err) {
    const whisper_hparams *hp = &w->hp;
    int M = hp->n_mels, N = MEL_WINDOW_FRAMES, S = hp->n_audio_ctx, D = hp->d_model, F = hp->n_enc_ff;
    size_t SD = (size_t)S * D, NM = (size_t)N * M, ND = (size_t)N * D, SF = (size_t)S * F;
    if (!w->enc_scratch && !(w->enc_scratch = malloc(sizeof(float) * (NM + ND + 7 * SD + SF))))
        return loam_fail(err, LOAM_E_NOMEM, "whisper encoder: out of memory");
    float *in = w->enc_scratch, *c1 = in + NM;
    rows r = {.T = S};
    r.x = c1 + ND, r.h = r.x + SD, r.q = r.h + SD, r.k = r.q + SD, r.v = r.k + SD, r.att = r.v + SD, r.o = r.att + SD;
    r.ff = r.o + SD;
    loam_status st = LOAM_OK;
    /* 1. in[N, M] = melᵀ (a row per frame) */
    for (int m = 0; m < M; m++)
        for (int f = 0; f < N; f++) in[(size_t)f * M + m] = mel[(size_t)m * N + f];
    /* 2. the stem: c1[N, D] = gelu(conv1(in)), x[S, D] = gelu(conv2(c1), stride 2) + positions */
    nn_conv1d(&w->nn, in, N, M, w->conv1, w->conv1_b, 1, 1, c1);
    nn_activate_on(&w->nn, NN_ACT_GELU, c1, (size_t)N * D);
    nn_conv1d(&w->nn, c1, N, D, w->conv2, w->conv2_b, 2, 1, r.x);
    nn_activate_on(&w->nn, NN_ACT_GELU, r.x, SD);
    nn_add(r.x, w->enc_pos, SD);
    /* 3. pre-LN blocks with full attention */
    for (int l = 0; l < hp->n_enc_layers; l++) {
        attention(w, &w->enc[l].self, ATTN_FULL, l, &r, hp->n_enc_heads);
        mlp(w, &w->enc[l], &r, F);
    }
    /* 4. enc_out = norm(x); every decoder layer's cross K, V from it, once per
     *    window, kept in panels: each decoder step's products read them as they are */
    norm(w, r.x, w->enc_out, S, w->enc_ln_w, w->enc_ln_b);
    nn_heads dh = {hp->n_dec_heads, hp->n_dec_heads, D / hp->n_dec_heads, 0.0f, NULL, NULL};
    for (int l = 0; l < hp->n_dec_layers; l++) {
        const whisper_attn_w *a = &w->dec[l].cross;
        nn_linear(&w->nn, w->enc_out, S, a->k, NULL, r.k);
        nn_linear(&w->nn, w->enc_out, S, a->v, a->bv, r.v);
        nn_cross_keys(r.k, S, &dh, w->cross_k + (size_t)l * w->cross_k_layer);
        nn_cross_values(r.v, S, &dh, w->cross_v + (size_t)l * w->cross_v_layer);
    }
    st = nn_status(&w->nn, err);
    for (int s = 0; s < WHISPER_MAX_SEQ; s++) loam_kv_seq_clear_all(&w->kv, s);
    return st;
}

static loam_status reserve_rows(loam_whisper *w, int T, int n_logits, loam_error *err) {
    const whisper_hparams *hp = &w->hp;
    if (T > w->n_rows_cap) {
        size_t D = (size_t)hp->d_model, F = (size_t)hp->n_dec_ff;
        float **bufs[] = {&w->x, &w->h, &w->q, &w->k, &w->v, &w->att, &w->o};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
            float *p = realloc(*bufs[i], sizeof(float) * D * (size_t)T);
            if (!p) return loam_fail(err, LOAM_E_NOMEM, "whisper decoder: out of memory");
            *bufs[i] = p;
        }
        float *ff = realloc(w->ff, sizeof(float) * F * (size_t)T);
        if (!ff) return loam_fail(err, LOAM_E_NOMEM, "whisper decoder: out of memory");
        w->ff = ff;
        w->n_rows_cap = T;
    }
    if (n_logits > w->logits_cap) {
        float *p = realloc(w->logits, sizeof(float) * (size_t)hp->n_vocab * (size_t)n_logits);
        if (!p) return loam_fail(err, LOAM_E_NOMEM, "whisper decoder: out of memory");
        w->logits = p, w->logits_cap = n_logits;
    }
    return LOAM_OK;
}

loam_status whisper_decode_rows(loam_whisper *w, const int32_t *tokens, const int32_t *pos, const int32_t *seq, int T,
                                const uint8_t *want, loam_error *err) {
    const whisper_hparams *hp = &w->hp;
    int D = hp->d_model, V = hp->n_vocab, n_out = 0;
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= V)
            return loam_fail(err, LOAM_E_RANGE, "whisper decoder: token id %d is outside the vocabulary", tokens[t]);
        if (pos[t] < 0 || pos[t] >= hp->n_text_ctx)
            return loam_fail(err, LOAM_E_RANGE, "whisper decoder: position %d is past the text context (%d)", pos[t],
                             hp->n_text_ctx);
        n_out += !want || want[t];
    }
    loam_status st = loam_kv_check_batch(&w->kv, pos, seq, T, err);
    if (!st) st = reserve_rows(w, T, n_out, err);
    if (st) return st;
    rows r = {w->x, w->h, w->q, w->k, w->v, w->att, w->o, w->ff, T, pos, seq};
    /* 1. x[T, D] = token embedding + learned position */
    for (int t = 0; t < T; t++) {
        float *xt = r.x + (size_t)t * D;
        loam_row_to_f32(w->tok_emb->data, w->tok_emb->type, tokens[t], D, xt);
        nn_add(xt, w->dec_pos + (size_t)pos[t] * D, (size_t)D);
    }
    /* 2. blocks: causal self-attention over the cache, cross-attention over the window, MLP */
    for (int l = 0; l < hp->n_dec_layers; l++) {
        attention(w, &w->dec[l].self, ATTN_CACHED, l, &r, hp->n_dec_heads);
        attention(w, &w->dec[l].cross, ATTN_CROSS, l, &r, hp->n_dec_heads);
        mlp(w, &w->dec[l], &r, hp->n_dec_ff);
    }
    /* 3. h = norm(x) of the wanted rows, packed; logits = h · embeddingᵀ (tied) */
    int k = 0;
    for (int t = 0; t < T; t++)
        if (!want || want[t]) norm(w, r.x + (size_t)t * D, r.h + (size_t)k++ * D, 1, w->dec_ln_w, w->dec_ln_b);
    if (k) nn_linear(&w->nn, r.h, k, w->head, NULL, w->logits);
    w->n_logit_rows = k;
    st = nn_status(&w->nn, err);
    loam_kv_commit_batch(&w->kv, seq, T, st == LOAM_OK);
    return st;
}
