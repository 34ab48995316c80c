/* loam synth: a GGUF with random weights and the real shapes and
 * hyperparameters of a published model, with a placeholder vocabulary of
 * the right size, so speed and memory can be measured before downloading.
 * Weights are N(0, 0.02) rows; to keep synthesis of 70B-class shapes quick,
 * a pool of 32 random rows per row length is quantized once and reused
 * (speed does not depend on the values). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../formats/gguf_write.h"
#include "../kernels/quants.h"
#include "presets.h"
#include "quant_policy.h"

#define POOL_ROWS 32

typedef struct {
    char name[64];
    int n_dims;
    uint64_t ne[2];
    int is_norm; /* 1-D: ones (norms) or zeros (biases), F32 */
    float fill;
} synth_tensor;

typedef struct {
    synth_tensor *t;
    int n, cap;
} synth_list;

static int add(synth_list *l, const char *name, int n_dims, uint64_t ne0, uint64_t ne1, float fill) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        synth_tensor *g = realloc(l->t, (size_t)l->cap * sizeof *g);
        if (!g) return 0;
        l->t = g;
    }
    synth_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims, t->ne[0] = ne0, t->ne[1] = ne1, t->is_norm = n_dims == 1, t->fill = fill;
    return 1;
}

/* llama.cpp's tensors for each architecture (GGUF order: [in, out]). */
static int layout(const loam_preset *p, synth_list *l) {
    uint64_t H = (uint64_t)p->n_embd, F = (uint64_t)p->n_ff, V = (uint64_t)p->n_vocab, hd = (uint64_t)p->head_dim;
    uint64_t q = (uint64_t)p->n_heads * hd, kv = (uint64_t)p->n_kv_heads * hd;
    int llama = !strcmp(p->arch, "llama"), gemma = !strcmp(p->arch, "gemma"), phi = !strcmp(p->arch, "phi2");
    int falcon = !strcmp(p->arch, "falcon"), mpt = !strcmp(p->arch, "mpt"), bloom = !strcmp(p->arch, "bloom");
    int biases = phi || bloom, ln_bias = phi || bloom || falcon;
    int ok = add(l, "token_embd.weight", 2, H, V, 0);
    if (bloom) ok = ok && add(l, "token_embd_norm.weight", 1, H, 0, 1) && add(l, "token_embd_norm.bias", 1, H, 0, 0);
    ok = ok && add(l, "output_norm.weight", 1, H, 0, 1);
    if (ln_bias) ok = ok && add(l, "output_norm.bias", 1, H, 0, 0);
    if (!p->tied) ok = ok && add(l, "output.weight", 2, H, V, 0);
    if (phi) ok = ok && add(l, "output.bias", 1, V, 0, 0);
    if (p->llama3_factor > 0) ok = ok && add(l, "rope_freqs.weight", 1, hd / 2, 0, 1);
    for (int i = 0; ok && i < p->n_layers; i++) {
        char n[64];
#define T2(SUFFIX, A, B) (snprintf(n, sizeof n, "blk.%d." SUFFIX, i), add(l, n, 2, A, B, 0))
#define T1(SUFFIX, A, FILL) (snprintf(n, sizeof n, "blk.%d." SUFFIX, i), add(l, n, 1, A, 0, FILL))
        ok = T1("attn_norm.weight", H, 1) && (!ln_bias || T1("attn_norm.bias", H, 0));
        if (falcon && p->falcon_two_norms) ok = ok && T1("attn_norm_2.weight", H, 1) && T1("attn_norm_2.bias", H, 0);
        if (llama || gemma || phi) {
            ok = ok && T2("attn_q.weight", H, q) && T2("attn_k.weight", H, kv) && T2("attn_v.weight", H, kv);
            if (biases) ok = ok && T1("attn_q.bias", q, 0) && T1("attn_k.bias", kv, 0) && T1("attn_v.bias", kv, 0);
        } else {
            ok = ok && T2("attn_qkv.weight", H, q + 2 * kv) && (!biases || T1("attn_qkv.bias", q + 2 * kv, 0));
        }
        ok = ok && T2("attn_output.weight", q, H) && (!biases || T1("attn_output.bias", H, 0));
        if (llama || gemma || mpt || bloom) ok = ok && T1("ffn_norm.weight", H, 1) && (!bloom || T1("ffn_norm.bias", H, 0));
        if (llama || gemma) ok = ok && T2("ffn_gate.weight", H, F);
        ok = ok && T2("ffn_up.weight", H, F) && (!biases || T1("ffn_up.bias", F, 0));
        ok = ok && T2("ffn_down.weight", F, H) && (!biases || T1("ffn_down.bias", H, 0));
#undef T1
#undef T2
    }
    return ok;
}

static void metadata(gguf_writer *w, const loam_preset *p, int ftype) {
    char k[128];
    const char *a = p->arch;
#define KEY(S) (snprintf(k, sizeof k, "%s." S, a), k)
    gguf_w_str(w, "general.architecture", a);
    gguf_w_str(w, "general.type", "model");
    char name[96];
    snprintf(name, sizeof name, "synthetic %s (random weights)", p->name);
    gguf_w_str(w, "general.name", name);
    gguf_w_u32(w, KEY("block_count"), (uint32_t)p->n_layers);
    gguf_w_u32(w, KEY("context_length"), (uint32_t)p->n_ctx);
    gguf_w_u32(w, KEY("embedding_length"), (uint32_t)p->n_embd);
    gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)p->n_ff);
    gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)p->n_heads);
    gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)p->n_kv_heads);
    int rms = !strcmp(a, "llama") || !strcmp(a, "gemma");
    gguf_w_f32(w, rms ? KEY("attention.layer_norm_rms_epsilon") : KEY("attention.layer_norm_epsilon"), !strcmp(a, "gemma") ? 1e-6f : 1e-5f);
    if (p->rope_theta > 0) gguf_w_f32(w, KEY("rope.freq_base"), (float)p->rope_theta);
    if (!strcmp(a, "llama") || !strcmp(a, "gemma")) {
        gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)p->head_dim);
        gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)p->head_dim);
    }
    if (p->rope_dim || !strcmp(a, "llama")) gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)(p->rope_dim ? p->rope_dim : p->head_dim));
    if (!strcmp(a, "mpt")) gguf_w_f32(w, KEY("attention.max_alibi_bias"), 8.0f);
    gguf_w_u32(w, "general.file_type", (uint32_t)ftype);
    gguf_w_u32(w, "general.quantization_version", 2);
#undef KEY
}

/* a SentencePiece-style placeholder vocabulary: <unk> <s> </s>, then t<i> */
static int vocab(gguf_writer *w, int n) {
    char **tokens = malloc((size_t)n * sizeof *tokens);
    float *scores = malloc((size_t)n * sizeof *scores);
    int32_t *types = malloc((size_t)n * sizeof *types);
    int ok = tokens && scores && types;
    for (int i = 0; ok && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t%d", i);
        ok = (tokens[i] = strdup(name)) != NULL;
        scores[i] = i < 3 ? 0.0f : -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    if (ok) {
        gguf_w_str(w, "tokenizer.ggml.model", "llama");
        gguf_w_str(w, "tokenizer.ggml.pre", "default");
        gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (uint64_t)n);
        gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)n);
        gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
        gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
        gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
        gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
    }
    for (int i = 0; tokens && i < n; i++)
        if (ok || tokens[i]) free(tokens[i]);
    free(tokens), free(scores), free(types);
    return ok;
}

static float gaussian(uint64_t *s) { /* Box-Muller on a 64-bit LCG */
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((*s >> 11) + 1) * 0x1.0p-53;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = (*s >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

loam_status loam_synth(const char *like, const char *type, const char *out, loam_progress_fn progress, void *user, loam_error *err) {
    const loam_preset *p = loam_preset_find(like);
    if (!p) {
        char names[1024] = "";
        for (int i = 0; i < loam_n_presets; i++) {
            strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, loam_presets[i].name, sizeof names - strlen(names) - 1);
        }
        return loam_fail(err, LOAM_E_ARG, "synth: no model \"%s\" (known: %s)", like, names);
    }
    const loam_quant_target *st = loam_quant_target_find(type, 1);
    if (!st) return loam_fail(err, LOAM_E_ARG, "synth: unknown type \"%s\" (f32, f16, bf16, q8_0, q4_0, q6_k, q4_k_m)", type);
    synth_list l = {0};
    gguf_writer *w = gguf_writer_new();
    loam_type *types = NULL;
    loam_status s = w && layout(p, &l) ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!s) {
        metadata(w, p, st->ftype);
        if (!vocab(w, p->n_vocab)) s = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    if (!s && !(types = malloc((size_t)l.n * sizeof *types))) s = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        types[i] = t->is_norm ? LOAM_T_F32
                              : loam_quant_tensor_type(st, t->name, t->n_dims, (int64_t)t->ne[0], p->n_layers, !p->tied, p->arch);
        if (types[i] == LOAM_T_COUNT) types[i] = LOAM_T_F32; /* kept as written: synth's data is f32 */
        gguf_w_tensor(w, t->name, t->n_dims, t->ne, gguf_ggml_type(types[i]));
    }
    if (!s) s = gguf_w_begin(w, out, err);
    uint64_t seed = 0x5eed;
    for (int i = 0; !s && i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        if (progress) progress(user, i, l.n, t->name);
        uint64_t rows = t->n_dims == 2 ? t->ne[1] : 1, k = t->ne[0];
        size_t rb = loam_row_bytes(types[i], (int64_t)k);
        if (t->is_norm) {
            float *v = malloc(k * sizeof *v);
            if (!v) { s = loam_fail(err, LOAM_E_NOMEM, "out of memory"); break; }
            for (uint64_t j = 0; j < k; j++) v[j] = t->fill;
            s = gguf_w_data(w, i, v, k * sizeof *v, err);
            free(v);
            continue;
        }
        /* a pool of quantized random rows, repeated down the tensor */
        uint8_t *pool = malloc(POOL_ROWS * rb), *buf = malloc(rows * rb);
        float *row = malloc(k * sizeof *row);
        if (!pool || !buf || !row) {
            free(pool), free(buf), free(row);
            s = loam_fail(err, LOAM_E_NOMEM, "out of memory for tensor %s", t->name);
            break;
        }
        for (int r = 0; r < POOL_ROWS; r++) {
            for (uint64_t j = 0; j < k; j++) row[j] = 0.02f * gaussian(&seed);
            loam_quantize_row(types[i], row, (int64_t)k, pool + (size_t)r * rb);
        }
        for (uint64_t r = 0; r < rows; r++) memcpy(buf + r * rb, pool + (size_t)((r * 7 + (uint64_t)i) % POOL_ROWS) * rb, rb);
        s = gguf_w_data(w, i, buf, rows * rb, err);
        free(pool), free(buf), free(row);
    }
    if (!s) s = gguf_w_end(w, err);
    if (!s && progress) progress(user, l.n, l.n, "");
    free(types);
    free(l.t);
    gguf_writer_free(w);
    return s;
}
