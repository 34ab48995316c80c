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
#include "formats/gguf.h"
#include "formats/json.h"

typedef struct {
    float *ln_attn, *ln_ff;
    const loam_tensor *q, *k, *v, *o, *wi0, *wi1, *wo; /* wi1 NULL: a plain (ReLU) feed-forward in wi0 */
} t5_layer;

struct enc_t5 {
    enc_bind b;
    int gguf; /* llama.cpp's t5encoder names and metadata */
    int D, F, d_kv, n_layers, n_heads, n_vocab, n_buckets, max_distance, gated;
    float eps;
    nn_act act;
    const loam_tensor *embed, *rel; /* rel [n_buckets, n_heads] */
    t5_layer *layers;
    float *final_w;
};

const char *enc_t5_gguf_name(const char *hf, char *out, size_t n) {
    int i = 0, at = 0;
    char part[48];
    if (!strcmp(hf, "shared.weight")) return snprintf(out, n, "token_embd.weight"), out;
    if (!strcmp(hf, "encoder.final_layer_norm.weight")) return snprintf(out, n, "enc.output_norm.weight"), out;
    if (sscanf(hf, "encoder.block.%d.layer.0.SelfAttention.%47[a-z_].weight%n", &i, part, &at) == 2 && !hf[at]) {
        snprintf(out, n, "enc.blk.%d.attn_%s.weight", i, !strcmp(part, "relative_attention_bias") ? "rel_b" : part);
        return out;
    }
    if (sscanf(hf, "encoder.block.%d.layer.1.DenseReluDense.%47[a-z_0-9].weight%n", &i, part, &at) == 2 && !hf[at]) {
        const char *g = !strcmp(part, "wi_0") ? "gate" : !strcmp(part, "wo") ? "down" : "up"; /* wi_1, wi */
        snprintf(out, n, "enc.blk.%d.ffn_%s.weight", i, g);
        return out;
    }
    int l = 0;
    if (sscanf(hf, "encoder.block.%d.layer.%d.layer_norm.weight%n", &i, &l, &at) == 2 && !hf[at])
        return snprintf(out, n, "enc.blk.%d.%s.weight", i, l ? "ffn_norm" : "attn_norm"), out;
    return hf;
}

/* The name a tensor has in the opened file. */
static const char *nm(const enc_t5 *t, const char *hf, char *buf, size_t n) { return t->gguf ? enc_t5_gguf_name(hf, buf, n) : hf; }

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

/* The hyperparameters from llama.cpp's metadata (`<arch>.embedding_length`,
 * ...; arch t5encoder or t5); gated when the file has ffn_gate tensors. */
static loam_status read_gguf_config(enc_t5 *t, loam_error *err) {
    const gguf_file *g = t->b.ws.gguf;
    const char *a;
    uint64_t al;
    char arch[32] = "t5encoder", key[96];
    if (gguf_get_str(g, "general.architecture", &a, &al) && al < sizeof arch) snprintf(arch, sizeof arch, "%.*s", (int)al, a);
    int64_t D = 0, F = 0, kv = 0, L = 0, H = 0, nb = 32;
    double eps = 1e-6;
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", arch, k), key)
    int ok = gguf_get_int(g, KEY("embedding_length"), &D) && gguf_get_int(g, KEY("feed_forward_length"), &F) &&
             gguf_get_int(g, KEY("attention.key_length"), &kv) && gguf_get_int(g, KEY("block_count"), &L) &&
             gguf_get_int(g, KEY("attention.head_count"), &H);
    gguf_get_int(g, KEY("attention.relative_buckets_count"), &nb);
    gguf_get_float(g, KEY("attention.layer_norm_epsilon"), &eps);
#undef KEY
    const loam_tensor *emb = loam_weights_find(&t->b.ws, "token_embd.weight");
    if (!ok || !emb || emb->n_dims != 2 || D <= 0 || F <= 0 || kv <= 0 || L <= 0 || L > 1024 || H <= 0 || H * kv > (1 << 20) || nb < 4 ||
        nb > 4096)
        return loam_fail(err, LOAM_E_FORMAT, "%s: not a T5 encoder GGUF (%s.* metadata or token_embd missing or out of range)", t->b.path, arch);
    t->D = (int)D, t->F = (int)F, t->d_kv = (int)kv, t->n_layers = (int)L, t->n_heads = (int)H, t->n_buckets = (int)nb;
    t->max_distance = 128, t->eps = (float)eps, t->n_vocab = (int)emb->shape[0];
    t->gated = loam_weights_find(&t->b.ws, "enc.blk.0.ffn_gate.weight") != NULL;
    t->act = t->gated ? NN_ACT_GELU_TANH : (nn_act)-2;
    return LOAM_OK;
}

static loam_status bind_layer(enc_t5 *t, int i, t5_layer *l, loam_error *err) {
    char n[160], g[160];
    enc_bind *b = &t->b;
    int64_t inner = (int64_t)t->n_heads * t->d_kv;
#define P(suffix) (snprintf(n, sizeof n, "encoder.block.%d.layer.%s", i, suffix), nm(t, n, g, sizeof g))
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
    size_t len = strlen(dir);
    t->gguf = len > 5 && !strcmp(dir + len - 5, ".gguf");
    loam_status st = t->gguf ? enc_bind_open(&t->b, dir, err) : read_config(t, dir, err);
    if (!st && t->gguf) st = read_gguf_config(t, err);
    if (!st && !t->gguf) st = enc_bind_open(&t->b, dir, err);
    /* the encoder's embed_tokens is tied to shared */
    char g[160];
    const char *emb = !st && (t->gguf || enc_has(&t->b, "shared.weight")) ? "shared.weight" : "encoder.embed_tokens.weight";
    if (!st) st = enc_linear(&t->b, nm(t, emb, g, sizeof g), t->n_vocab, t->D, &t->embed, err);
    if (!st)
        st = enc_linear(&t->b, nm(t, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", g, sizeof g), t->n_buckets,
                        t->n_heads, &t->rel, err);
    if (!st && !(t->layers = calloc((size_t)t->n_layers, sizeof *t->layers))) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !st && i < t->n_layers; i++) st = bind_layer(t, i, &t->layers[i], err);
    if (!st) st = enc_floats(&t->b, nm(t, "encoder.final_layer_norm.weight", g, sizeof g), t->D, &t->final_w, err);
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

void enc_t5_get_config(const enc_t5 *t, enc_t5_config *out) {
    *out = (enc_t5_config){t->D, t->F, t->d_kv, t->n_layers, t->n_heads, t->n_buckets, t->max_distance, t->gated, t->eps};
}

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
        nn_rms_norm_on(nn, x, h, T, D, l->ln_attn, t->eps, 0);
        nn_linear_out qkv[3] = {{l->q, NULL, q, 0}, {l->k, NULL, k, 0}, {l->v, NULL, v, 0}};
        nn_linear_many(nn, h, T, qkv, 3);
        nn_attention_full(nn, q, k, v, T, &heads, att);
        nn_linear(nn, att, T, l->o, NULL, h);
        nn_add(x, h, TD);
        /* x += wo(gelu(wi_0 RMS(x)) · wi_1 RMS(x))   (or wo(relu(wi RMS(x)))) */
        nn_rms_norm_on(nn, x, h, T, D, l->ln_ff, t->eps, 0);
        if (l->wi1) {
            nn_linear_out gate_in[2] = {{l->wi0, NULL, g, 0}, {l->wi1, NULL, a, 0}};
            nn_linear_many(nn, h, T, gate_in, 2);
            nn_gate_on(nn, t->act, a, g, TF);
        } else {
            nn_linear(nn, h, T, l->wi0, NULL, g);
            for (size_t n = 0; n < TF; n++) a[n] = g[n] > 0 ? g[n] : 0.0f;
        }
        nn_linear(nn, a, T, l->wo, NULL, h);
        nn_add(x, h, TD);
    }
    nn_rms_norm_on(nn, x, x, T, D, t->final_w, t->eps, 0);
    free(h), free(bias);
    return nn_status(nn, err);
}
