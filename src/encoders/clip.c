/* CLIP's text transformer (transformers' CLIPTextModel), read top to bottom
 * in enc_clip_encode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "encoders/bind.h"
#include "encoders/encoders.h"
#include "formats/json.h"

typedef struct {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b, *bq, *bk, *bv, *bo, *b1, *b2;
    const loam_tensor *q, *k, *v, *o, *fc1, *fc2;
} clip_layer;

struct enc_clip {
    enc_bind b;
    int D, F, n_layers, n_heads, n_pos, n_vocab, eos;
    float eps;
    nn_act act;
    const loam_tensor *tok, *pos;
    clip_layer *layers;
    float *final_w, *final_b;
};

static loam_status read_config(enc_clip *c, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "config.json");
    cJSON *j = NULL;
    loam_status st = path ? loam_json_load(path, &j, err) : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int64_t D = 0, F = 0, L = 0, H = 0, P = 0, V = 0, eos = 0;
    double eps = 0;
    const char *act = NULL;
    if (!st) st = loam_json_int(j, "hidden_size", 1, 0, &D, path, err);
    if (!st) st = loam_json_int(j, "intermediate_size", 1, 0, &F, path, err);
    if (!st) st = loam_json_int(j, "num_hidden_layers", 1, 0, &L, path, err);
    if (!st) st = loam_json_int(j, "num_attention_heads", 1, 0, &H, path, err);
    if (!st) st = loam_json_int(j, "max_position_embeddings", 0, 77, &P, path, err);
    if (!st) st = loam_json_int(j, "vocab_size", 1, 0, &V, path, err);
    if (!st) st = loam_json_int(j, "eos_token_id", 0, 2, &eos, path, err);
    if (!st) st = loam_json_float(j, "layer_norm_eps", 0, 1e-5, &eps, path, err);
    if (!st) st = loam_json_string(j, "hidden_act", 0, "quick_gelu", &act, path, err);
    if (!st && (D <= 0 || F <= 0 || L <= 0 || L > 1024 || H <= 0 || D % H || P <= 0 || P > 4096 || V <= 0))
        st = loam_fail(err, LOAM_E_FORMAT, "%s: hidden_size, intermediate_size, layers, heads, positions or vocab_size out of range", path);
    if (!st) {
        c->act = !strcmp(act, "quick_gelu") ? NN_ACT_QUICK_GELU : !strcmp(act, "gelu") ? NN_ACT_GELU
               : !strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") ? NN_ACT_GELU_TANH : (nn_act)-1;
        if ((int)c->act < 0) st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported", path, act);
    }
    c->D = (int)D, c->F = (int)F, c->n_layers = (int)L, c->n_heads = (int)H, c->n_pos = (int)P, c->n_vocab = (int)V;
    c->eos = (int)eos, c->eps = (float)eps;
    cJSON_Delete(j);
    free(path);
    return st;
}

static loam_status bind_layer(enc_clip *c, int i, clip_layer *l, loam_error *err) {
    char n[160];
    enc_bind *b = &c->b;
    loam_status st = LOAM_OK;
#define P(suffix) (snprintf(n, sizeof n, "text_model.encoder.layers.%d.%s", i, suffix), n)
#define LIN(w, bias, name, rows, cols)                                                  \
    if (!st) st = enc_linear(b, P(name ".weight"), rows, cols, &l->w, err); \
    if (!st) st = enc_floats(b, P(name ".bias"), rows, &l->bias, err);
    LIN(q, bq, "self_attn.q_proj", c->D, c->D)
    LIN(k, bk, "self_attn.k_proj", c->D, c->D)
    LIN(v, bv, "self_attn.v_proj", c->D, c->D)
    LIN(o, bo, "self_attn.out_proj", c->D, c->D)
    LIN(fc1, b1, "mlp.fc1", c->F, c->D)
    LIN(fc2, b2, "mlp.fc2", c->D, c->F)
#undef LIN
    if (!st) st = enc_floats(b, P("layer_norm1.weight"), c->D, &l->ln1_w, err);
    if (!st) st = enc_floats(b, P("layer_norm1.bias"), c->D, &l->ln1_b, err);
    if (!st) st = enc_floats(b, P("layer_norm2.weight"), c->D, &l->ln2_w, err);
    if (!st) st = enc_floats(b, P("layer_norm2.bias"), c->D, &l->ln2_b, err);
#undef P
    return st;
}

loam_status enc_clip_open(const char *dir, enc_clip **out, loam_error *err) {
    *out = NULL;
    enc_clip *c = calloc(1, sizeof *c);
    if (!c) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = read_config(c, dir, err);
    if (!st) st = enc_bind_open(&c->b, dir, err);
    if (!st) st = enc_linear(&c->b, "text_model.embeddings.token_embedding.weight", c->n_vocab, c->D, &c->tok, err);
    if (!st) st = enc_linear(&c->b, "text_model.embeddings.position_embedding.weight", c->n_pos, c->D, &c->pos, err);
    if (!st && !(c->layers = calloc((size_t)c->n_layers, sizeof *c->layers))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < c->n_layers; i++) st = bind_layer(c, i, &c->layers[i], err);
    if (!st) st = enc_floats(&c->b, "text_model.final_layer_norm.weight", c->D, &c->final_w, err);
    if (!st) st = enc_floats(&c->b, "text_model.final_layer_norm.bias", c->D, &c->final_b, err);
    if (st) {
        enc_clip_free(c);
        return st;
    }
    *out = c;
    return LOAM_OK;
}

void enc_clip_free(enc_clip *c) {
    if (!c) return;
    enc_bind_close(&c->b);
    free(c->layers);
    free(c);
}

int enc_clip_dim(const enc_clip *c) { return c->D; }
int enc_clip_max_len(const enc_clip *c) { return c->n_pos; }

/* Where transformers takes the pooled output: the first maximal id when the
 * config's eos_token_id is 2 (the original CLIP configs), else the first
 * eos_token_id (the last row if there is none). */
static int pooled_row(const enc_clip *c, const int32_t *ids, int T) {
    int at = 0;
    for (int t = 0; t < T; t++) {
        if (c->eos == 2 && ids[t] > ids[at]) at = t;
        if (c->eos != 2 && ids[t] == c->eos) return t;
    }
    return c->eos == 2 ? at : T - 1;
}

loam_status enc_clip_encode(enc_clip *c, loam_nn *nn, const int32_t *ids, int T, float *hidden, float *pooled,
                            loam_error *err) {
    if (T <= 0 || T > c->n_pos) return loam_fail(err, LOAM_E_RANGE, "%s: %d tokens, CLIP takes 1 to %d", c->b.path, T, c->n_pos);
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= c->n_vocab)
            return loam_fail(err, LOAM_E_RANGE, "%s: token id %d outside the vocabulary of %d", c->b.path, ids[t], c->n_vocab);
    int D = c->D, F = c->F;
    size_t TD = (size_t)T * D;
    float *x = malloc(sizeof(float) * TD * 5), *h = x + TD, *q = h + TD, *k = q + TD, *v = k + TD;
    float *ff = malloc(sizeof(float) * (size_t)T * F), *pos = malloc(sizeof(float) * (size_t)D);
    if (!x || !ff || !pos) {
        free(x), free(ff), free(pos);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    /* x[T, D] = token embedding + position embedding */
    for (int t = 0; t < T; t++) {
        enc_row(c->tok, ids[t], D, x + (size_t)t * D);
        enc_row(c->pos, t, D, pos);
        nn_add(x + (size_t)t * D, pos, (size_t)D);
    }
    nn_heads heads = {c->n_heads, c->n_heads, D / c->n_heads, 0.0f, NULL, NULL};
    for (int i = 0; i < c->n_layers; i++) {
        const clip_layer *l = &c->layers[i];
        /* x += out_proj(causal_attention(LN1(x))) */
        nn_layer_norm_on(nn, x, h, T, D, l->ln1_w, l->ln1_b, c->eps);
        nn_linear_out qkv[3] = {{l->q, l->bq, q, 0}, {l->k, l->bk, k, 0}, {l->v, l->bv, v, 0}};
        nn_linear_many(nn, h, T, qkv, 3);
        nn_attention_masked(nn, q, T, k, v, T, &heads, h);
        nn_linear(nn, h, T, l->o, l->bo, q);
        nn_add(x, q, TD);
        /* x += fc2(act(fc1(LN2(x)))) */
        nn_layer_norm_on(nn, x, h, T, D, l->ln2_w, l->ln2_b, c->eps);
        nn_linear(nn, h, T, l->fc1, l->b1, ff);
        nn_activate_on(nn, c->act, ff, (size_t)T * F);
        nn_linear(nn, ff, T, l->fc2, l->b2, q);
        nn_add(x, q, TD);
    }
    nn_layer_norm_on(nn, x, x, T, D, c->final_w, c->final_b, c->eps);
    if (hidden) memcpy(hidden, x, sizeof(float) * TD);
    memcpy(pooled, x + (size_t)pooled_row(c, ids, T) * D, sizeof(float) * (size_t)D);
    free(x), free(ff), free(pos);
    return nn_status(nn, err);
}
