/* T5's encoder (transformers' T5EncoderModel), read top to bottom in
 * enc_t5_encode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "encoders/bind.h"
#include "encoders/encoders.h"
#include "formats/json.h"

typedef struct {
    float *ln_attn, *ln_ff;
    const loam_tensor *q, *k, *v, *o, *wi0, *wi1, *wo; /* wi1 NULL: a plain (ReLU) feed-forward in wi0 */
} t5_layer;

struct enc_t5 {
    enc_bind b;
    int D, F, d_kv, n_layers, n_heads, n_vocab, n_buckets, max_distance, gated;
    float eps;
    nn_act act;
    const loam_tensor *embed, *rel; /* rel [n_buckets, n_heads] */
    t5_layer *layers;
    float *final_w;
};

static loam_status read_act(enc_t5 *t, const cJSON *j, const char *path, loam_error *err) {
    const char *proj = NULL;
    loam_status st = loam_json_string(j, "feed_forward_proj", 0, "relu", &proj, path, err);
    if (st) return st;
    t->gated = !strncmp(proj, "gated-", 6);
    const char *act = t->gated ? proj + 6 : proj;
    t->act = !strcmp(act, "gelu") || !strcmp(act, "gelu_new") ? NN_ACT_GELU_TANH : !strcmp(act, "relu") ? (nn_act)-2 : (nn_act)-1;
    /* transformers maps "gated-gelu" to gelu_new (tanh), as does dense_act_fn */
    if ((int)t->act == -1) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: feed_forward_proj \"%s\" is not supported", path, proj);
    return LOAM_OK;
}

static loam_status read_config(enc_t5 *t, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "config.json");
    cJSON *j = NULL;
    loam_status st = path ? loam_json_load(path, &j, err) : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    int64_t D = 0, F = 0, kv = 0, L = 0, H = 0, V = 0, nb = 0, md = 0;
    double eps = 0;
    if (!st) st = loam_json_int(j, "d_model", 1, 0, &D, path, err);
    if (!st) st = loam_json_int(j, "d_ff", 1, 0, &F, path, err);
    if (!st) st = loam_json_int(j, "d_kv", 1, 0, &kv, path, err);
    if (!st) st = loam_json_int(j, "num_layers", 1, 0, &L, path, err);
    if (!st) st = loam_json_int(j, "num_heads", 1, 0, &H, path, err);
    if (!st) st = loam_json_int(j, "vocab_size", 1, 0, &V, path, err);
    if (!st) st = loam_json_int(j, "relative_attention_num_buckets", 0, 32, &nb, path, err);
    if (!st) st = loam_json_int(j, "relative_attention_max_distance", 0, 128, &md, path, err);
    if (!st) st = loam_json_float(j, "layer_norm_epsilon", 0, 1e-6, &eps, path, err);
    if (!st) st = read_act(t, j, path, err);
    if (!st && (D <= 0 || F <= 0 || kv <= 0 || L <= 0 || L > 1024 || H <= 0 || H * kv > (1 << 20) || V <= 0 || nb < 4 ||
                nb > 4096 || md < nb / 2 || md > (1 << 20)))
        st = loam_fail(err, LOAM_E_FORMAT, "%s: d_model, d_ff, d_kv, layers, heads, vocab_size or the relative buckets out of range", path);
    t->D = (int)D, t->F = (int)F, t->d_kv = (int)kv, t->n_layers = (int)L, t->n_heads = (int)H, t->n_vocab = (int)V;
    t->n_buckets = (int)nb, t->max_distance = (int)md, t->eps = (float)eps;
    cJSON_Delete(j);
    free(path);
    return st;
}

static loam_status bind_layer(enc_t5 *t, int i, t5_layer *l, loam_error *err) {
    char n[160];
    enc_bind *b = &t->b;
    int64_t inner = (int64_t)t->n_heads * t->d_kv;
#define P(suffix) (snprintf(n, sizeof n, "encoder.block.%d.layer.%s", i, suffix), n)
    loam_status st = enc_linear(b, P("0.SelfAttention.q.weight"), inner, t->D, &l->q, err);
    if (!st) st = enc_linear(b, P("0.SelfAttention.k.weight"), inner, t->D, &l->k, err);
    if (!st) st = enc_linear(b, P("0.SelfAttention.v.weight"), inner, t->D, &l->v, err);
    if (!st) st = enc_linear(b, P("0.SelfAttention.o.weight"), t->D, inner, &l->o, err);
    if (!st) st = enc_floats(b, P("0.layer_norm.weight"), t->D, &l->ln_attn, err);
    if (!st) st = enc_floats(b, P("1.layer_norm.weight"), t->D, &l->ln_ff, err);
    if (!st && t->gated) st = enc_linear(b, P("1.DenseReluDense.wi_0.weight"), t->F, t->D, &l->wi0, err);
    if (!st && t->gated) st = enc_linear(b, P("1.DenseReluDense.wi_1.weight"), t->F, t->D, &l->wi1, err);
    if (!st && !t->gated) st = enc_linear(b, P("1.DenseReluDense.wi.weight"), t->F, t->D, &l->wi0, err);
    if (!st) st = enc_linear(b, P("1.DenseReluDense.wo.weight"), t->D, t->F, &l->wo, err);
#undef P
    return st;
}

loam_status enc_t5_open(const char *dir, enc_t5 **out, loam_error *err) {
    *out = NULL;
    enc_t5 *t = calloc(1, sizeof *t);
    if (!t) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = read_config(t, dir, err);
    if (!st) st = enc_bind_open(&t->b, dir, err);
    /* the encoder's embed_tokens is tied to shared */
    const char *emb = !st && enc_has(&t->b, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    if (!st) st = enc_linear(&t->b, emb, t->n_vocab, t->D, &t->embed, err);
    if (!st)
        st = enc_linear(&t->b, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", t->n_buckets, t->n_heads,
                        &t->rel, err);
    if (!st && !(t->layers = calloc((size_t)t->n_layers, sizeof *t->layers))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < t->n_layers; i++) st = bind_layer(t, i, &t->layers[i], err);
    if (!st) st = enc_floats(&t->b, "encoder.final_layer_norm.weight", t->D, &t->final_w, err);
    if (!st && loam_type_is_quantized(t->rel->type))
        st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: the relative attention bias must be a float tensor", t->b.path);
    if (st) {
        enc_t5_free(t);
        return st;
    }
    *out = t;
    return LOAM_OK;
}

void enc_t5_free(enc_t5 *t) {
    if (!t) return;
    enc_bind_close(&t->b);
    free(t->layers);
    free(t);
}

int enc_t5_dim(const enc_t5 *t) { return t->D; }

/* Half the buckets for keys after the query; within each half, exact
 * distances below n/4, then logarithmic up to max_distance (in float, as
 * transformers computes it, truncated). */
int enc_t5_bucket(int rel, int n_buckets, int max_distance) {
    int half = n_buckets / 2, bucket = rel > 0 ? half : 0, n = rel < 0 ? -rel : rel, exact = half / 2;
    if (n < exact) return bucket + n;
    float scaled = logf((float)n / (float)exact) / (float)log((double)max_distance / exact) * (float)(half - exact);
    int large = exact + (int)scaled;
    return bucket + (large < half - 1 ? large : half - 1);
}

/* bias[h][2T − 1]: the learned bias of distance d = s − t at d + T − 1. */
static int relative_bias(const enc_t5 *t, int T, float *bias) {
    int H = t->n_heads, W = 2 * T - 1;
    float *row = malloc(sizeof(float) * (size_t)H);
    if (!row) return 0;
    for (int d = -(T - 1); d <= T - 1; d++) {
        enc_row(t->rel, enc_t5_bucket(d, t->n_buckets, t->max_distance), H, row);
        for (int h = 0; h < H; h++) bias[(size_t)h * W + d + T - 1] = row[h];
    }
    free(row);
    return 1;
}

loam_status enc_t5_encode(enc_t5 *t, loam_nn *nn, const int32_t *ids, int T, float *hidden, loam_error *err) {
    if (T <= 0 || T > (1 << 16)) return loam_fail(err, LOAM_E_RANGE, "%s: %d tokens, T5 takes 1 to 65536", t->b.path, T);
    for (int i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return loam_fail(err, LOAM_E_RANGE, "%s: token id %d outside the vocabulary of %d", t->b.path, ids[i], t->n_vocab);
    int D = t->D, F = t->F, I = t->n_heads * t->d_kv;
    size_t TD = (size_t)T * D, TI = (size_t)T * I, TF = (size_t)T * F;
    float *x = hidden, *h = malloc(sizeof(float) * (TD + 4 * TI + 2 * TF));
    float *bias = malloc(sizeof(float) * (size_t)t->n_heads * (size_t)(2 * T - 1));
    if (!h || !bias || !relative_bias(t, T, bias)) {
        free(h), free(bias);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    float *q = h + TD, *k = q + TI, *v = k + TI, *att = v + TI, *a = att + TI, *g = a + TF;
    for (int i = 0; i < T; i++) enc_row(t->embed, ids[i], D, x + (size_t)i * D);
    /* T5 folds the 1/√d into its initialisation: scores are plain dot products */
    nn_heads heads = {t->n_heads, t->n_heads, t->d_kv, 1.0f, NULL, bias};
    for (int i = 0; i < t->n_layers; i++) {
        const t5_layer *l = &t->layers[i];
        /* x += o(attention(RMS(x)) + position bias) */
        nn_rms_norm(x, h, T, D, l->ln_attn, t->eps, 0);
        nn_linear(nn, h, T, l->q, NULL, q);
        nn_linear(nn, h, T, l->k, NULL, k);
        nn_linear(nn, h, T, l->v, NULL, v);
        nn_attention_full(nn, q, k, v, T, &heads, att);
        nn_linear(nn, att, T, l->o, NULL, h);
        nn_add(x, h, TD);
        /* x += wo(gelu(wi_0 RMS(x)) · wi_1 RMS(x))   (or wo(relu(wi RMS(x)))) */
        nn_rms_norm(x, h, T, D, l->ln_ff, t->eps, 0);
        nn_linear(nn, h, T, l->wi0, NULL, g);
        if (l->wi1) {
            nn_linear(nn, h, T, l->wi1, NULL, a);
            nn_gate_on(nn, t->act, a, g, TF);
        } else {
            for (size_t n = 0; n < TF; n++) a[n] = g[n] > 0 ? g[n] : 0.0f;
        }
        nn_linear(nn, a, T, l->wo, NULL, h);
        nn_add(x, h, TD);
    }
    nn_rms_norm(x, x, T, D, t->final_w, t->eps, 0);
    free(h), free(bias);
    return nn_status(nn, err);
}
