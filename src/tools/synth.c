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

#include "loam_tools.h"
#include "core/error.h"
#include "formats/gguf_write.h"
#include "kernels/quants.h"
#include "tools/presets.h"
#include "tools/quant_policy.h"
#include "tools/synth.h"

#define POOL_ROWS 32

typedef struct {
    char name[96];
    int n_dims;
    uint64_t ne[3];
    int is_norm; /* 1-D: ones (norms) or zeros (biases), F32 */
    float fill;
} synth_tensor;

typedef struct {
    synth_tensor *t;
    int n, cap;
} synth_list;

static int add3(synth_list *l, const char *name, int n_dims, uint64_t ne0, uint64_t ne1, uint64_t ne2, float fill) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        synth_tensor *g = realloc(l->t, (size_t)l->cap * sizeof *g);
        if (!g) return 0;
        l->t = g;
    }
    synth_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims, t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = ne2, t->is_norm = n_dims == 1, t->fill = fill;
    return 1;
}

static int add(synth_list *l, const char *name, int n_dims, uint64_t ne0, uint64_t ne1, float fill) {
    return add3(l, name, n_dims, ne0, ne1, 1, fill);
}

/* A linear layer [in -> out] (GGUF order ne = [in, out]), with its bias. */
static int linear(synth_list *l, const char *prefix, uint64_t in, uint64_t out, int bias) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    if (!add(l, n, 2, in, out, 0)) return 0;
    snprintf(n, sizeof n, "%s.bias", prefix);
    return !bias || add(l, n, 1, out, 0, 0);
}

static int layer_norm(synth_list *l, const char *prefix, uint64_t n_embd) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    if (!add(l, n, 1, n_embd, 0, 1)) return 0;
    snprintf(n, sizeof n, "%s.bias", prefix);
    return add(l, n, 1, n_embd, 0, 0);
}

/* Whisper's attention: k has no bias (transformers' WhisperAttention). */
static int whisper_attention(synth_list *l, const char *prefix, uint64_t H) {
    char n[96];
    const char *proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "%s.%s", prefix, proj[i]);
        if (!linear(l, n, H, H, i != 1)) return 0;
    }
    return 1;
}

/* Whisper with transformers' tensor names (the hub's model.safetensors),
 * in GGUF order; proj_out is tied to the token embedding. */
static int layout_whisper(const loam_preset *p, synth_list *l) {
    uint64_t H = (uint64_t)p->n_embd, F = (uint64_t)p->n_ff;
    char n[96];
    int ok = add3(l, "model.encoder.conv1.weight", 3, 3, (uint64_t)p->n_mels, H, 0) && add(l, "model.encoder.conv1.bias", 1, H, 0, 0) &&
             add3(l, "model.encoder.conv2.weight", 3, 3, H, H, 0) && add(l, "model.encoder.conv2.bias", 1, H, 0, 0) &&
             add(l, "model.encoder.embed_positions.weight", 2, H, (uint64_t)p->n_audio_ctx, 0);
    for (int dec = 0; dec < 2; dec++) {
        const char *side = dec ? "decoder" : "encoder";
        int layers = dec ? p->n_layers_dec : p->n_layers;
        if (dec) {
            ok = ok && add(l, "model.decoder.embed_tokens.weight", 2, H, (uint64_t)p->n_vocab, 0) &&
                 add(l, "model.decoder.embed_positions.weight", 2, H, (uint64_t)p->n_ctx, 0);
        }
        for (int i = 0; ok && i < layers; i++) {
#define P(S) (snprintf(n, sizeof n, "model.%s.layers.%d." S, side, i), n)
            ok = whisper_attention(l, P("self_attn"), H) && layer_norm(l, P("self_attn_layer_norm"), H);
            if (dec) ok = ok && whisper_attention(l, P("encoder_attn"), H) && layer_norm(l, P("encoder_attn_layer_norm"), H);
            ok = ok && linear(l, P("fc1"), H, F, 1) && linear(l, P("fc2"), F, H, 1) && layer_norm(l, P("final_layer_norm"), H);
#undef P
        }
        snprintf(n, sizeof n, "model.%s.layer_norm", side);
        ok = ok && layer_norm(l, n, H);
    }
    return ok;
}

/* The FLUX.1 transformer with Black Forest Labs' tensor names (the hub's
 * flux1-*.safetensors, and the GGUF conversions of it). */
static int layout_flux(const loam_preset *p, synth_list *l) {
    uint64_t H = (uint64_t)p->n_embd, F = (uint64_t)p->n_ff, hd = (uint64_t)p->head_dim;
    char n[96];
    int ok = linear(l, "img_in", (uint64_t)p->in_channels, H, 1) && linear(l, "txt_in", (uint64_t)p->context_dim, H, 1) &&
             linear(l, "time_in.in_layer", 256, H, 1) && linear(l, "time_in.out_layer", H, H, 1) &&
             linear(l, "vector_in.in_layer", (uint64_t)p->vec_dim, H, 1) && linear(l, "vector_in.out_layer", H, H, 1);
    if (p->guidance) ok = ok && linear(l, "guidance_in.in_layer", 256, H, 1) && linear(l, "guidance_in.out_layer", H, H, 1);
    for (int i = 0; ok && i < p->n_double; i++)
        for (int s = 0; ok && s < 2; s++) {
            const char *st = s ? "txt" : "img";
#define P(S) (snprintf(n, sizeof n, "double_blocks.%d.%s_" S, i, st), n)
            ok = linear(l, P("mod.lin"), H, 6 * H, 1) && linear(l, P("attn.qkv"), H, 3 * H, 1) &&
                 add(l, P("attn.norm.query_norm.scale"), 1, hd, 0, 1) && add(l, P("attn.norm.key_norm.scale"), 1, hd, 0, 1) &&
                 linear(l, P("attn.proj"), H, H, 1) && linear(l, P("mlp.0"), H, F, 1) && linear(l, P("mlp.2"), F, H, 1);
#undef P
        }
    for (int i = 0; ok && i < p->n_single; i++) {
#define P(S) (snprintf(n, sizeof n, "single_blocks.%d." S, i), n)
        ok = linear(l, P("linear1"), H, 3 * H + F, 1) && linear(l, P("linear2"), H + F, H, 1) &&
             add(l, P("norm.query_norm.scale"), 1, hd, 0, 1) && add(l, P("norm.key_norm.scale"), 1, hd, 0, 1) &&
             linear(l, P("modulation.lin"), H, 3 * H, 1);
#undef P
    }
    return ok && linear(l, "final_layer.linear", H, (uint64_t)p->in_channels, 1) &&
           linear(l, "final_layer.adaLN_modulation.1", H, 2 * H, 1);
}

/* llama.cpp's tensors for each architecture (GGUF order: [in, out]). */
static int layout(const loam_preset *p, synth_list *l) {
    if (!strcmp(p->arch, "whisper")) return layout_whisper(p, l);
    if (!strcmp(p->arch, "flux")) return layout_flux(p, l);
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

/* Whisper and FLUX have no llama.cpp GGUF convention: the keys name the
 * hyperparameters of the published config files under the architecture. */
static void metadata_whisper(gguf_writer *w, const loam_preset *p) {
    gguf_w_u32(w, "whisper.encoder.block_count", (uint32_t)p->n_layers);
    gguf_w_u32(w, "whisper.decoder.block_count", (uint32_t)p->n_layers_dec);
    gguf_w_u32(w, "whisper.embedding_length", (uint32_t)p->n_embd);
    gguf_w_u32(w, "whisper.feed_forward_length", (uint32_t)p->n_ff);
    gguf_w_u32(w, "whisper.attention.head_count", (uint32_t)p->n_heads);
    gguf_w_f32(w, "whisper.attention.layer_norm_epsilon", 1e-5f);
    gguf_w_u32(w, "whisper.audio.mel_bins", (uint32_t)p->n_mels);
    gguf_w_u32(w, "whisper.audio.context_length", (uint32_t)p->n_audio_ctx);
    gguf_w_u32(w, "whisper.context_length", (uint32_t)p->n_ctx);
}

static void metadata_flux(gguf_writer *w, const loam_preset *p) {
    int32_t axes[3] = {16, 56, 56};
    gguf_w_u32(w, "flux.hidden_size", (uint32_t)p->n_embd);
    gguf_w_u32(w, "flux.num_heads", (uint32_t)p->n_heads);
    gguf_w_u32(w, "flux.depth", (uint32_t)p->n_double);
    gguf_w_u32(w, "flux.depth_single_blocks", (uint32_t)p->n_single);
    gguf_w_u32(w, "flux.in_channels", (uint32_t)p->in_channels);
    gguf_w_u32(w, "flux.context_in_dim", (uint32_t)p->context_dim);
    gguf_w_u32(w, "flux.vec_in_dim", (uint32_t)p->vec_dim);
    gguf_w_f32(w, "flux.mlp_ratio", (float)p->n_ff / (float)p->n_embd);
    gguf_w_arr_i32(w, "flux.axes_dim", axes, 3);
    gguf_w_f32(w, "flux.theta", (float)p->rope_theta);
    gguf_w_u32(w, "flux.guidance_embed", (uint32_t)p->guidance);
}

static void metadata(gguf_writer *w, const loam_preset *p, int ftype) {
    char k[128];
    const char *a = p->arch;
    if (!strcmp(a, "whisper") || !strcmp(a, "flux")) {
        char name[96];
        snprintf(name, sizeof name, "synthetic %s (random weights)", p->name);
        gguf_w_str(w, "general.architecture", a);
        gguf_w_str(w, "general.type", "model");
        gguf_w_str(w, "general.name", name);
        if (!strcmp(a, "whisper")) metadata_whisper(w, p);
        else metadata_flux(w, p);
        gguf_w_u32(w, "general.file_type", (uint32_t)ftype);
        gguf_w_u32(w, "general.quantization_version", 2);
        return;
    }
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
    /* <unk> <s> </s>, then SentencePiece's 256 byte tokens <0x00>..<0xFF> (so any
     * text encodes by byte fallback, and llama.cpp's text tools find the newline
     * token), then placeholders */
    for (int i = 0; ok && i < n; i++) {
        char name[32];
        int byte = i >= 3 && i < 3 + 256;
        if (byte) snprintf(name, sizeof name, "<0x%02X>", i - 3);
        else snprintf(name, sizeof name, i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t%d", i);
        ok = (tokens[i] = strdup(name)) != NULL;
        scores[i] = i < 3 || byte ? 0.0f : -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : byte ? 6 : 1;
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

/* The preset and target called `like` and `type`, or an error naming the
 * ones there are. */
static loam_status find_preset(const char *like, const char *type, const loam_preset **p, const loam_quant_target **st,
                               loam_error *err) {
    if (!(*p = loam_preset_find(like))) {
        char names[1024] = "";
        for (int i = 0; i < loam_n_presets; i++) {
            strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, loam_presets[i].name, sizeof names - strlen(names) - 1);
        }
        return loam_fail(err, LOAM_E_ARG, "synth: no model \"%s\" (known: %s)", like, names);
    }
    if (!(*st = loam_quant_target_find(type, 1)))
        return loam_fail(err, LOAM_E_ARG, "synth: unknown type \"%s\" (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q6_k, q4_k_m, q5_k_s, q5_k_m)", type);
    return LOAM_OK;
}

/* The type synth stores a tensor in for a target. */
static loam_type tensor_type(const loam_preset *p, const loam_quant_target *st, const synth_tensor *t) {
    loam_type ty;
    if (t->is_norm || strstr(t->name, "embed_positions")) ty = LOAM_T_F32;
    else if (t->n_dims == 3) ty = st->base == LOAM_T_F32 ? LOAM_T_F32 : LOAM_T_F16; /* convolutions stay float */
    else ty = loam_quant_tensor_type(st, t->name, t->n_dims, (int64_t)t->ne[0], p->n_layers, !p->tied, p->arch);
    return ty == LOAM_T_COUNT ? LOAM_T_F32 : ty; /* kept as written: synth's data is f32 */
}

/* A token's embedding row is gathered, not multiplied: only one row of the
 * table is read per token, unless the table is also the output head. */
static int is_gathered_table(const loam_preset *p, const char *name) {
    if (strstr(name, "embed_positions")) return 1;
    return !p->tied && !strcmp(name, "token_embd.weight");
}

loam_status loam_synth_breakdown(const char *like, const char *type, loam_synth_sizes *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    const loam_preset *p;
    const loam_quant_target *st;
    loam_status s = find_preset(like, type, &p, &st, err);
    if (s) return s;
    synth_list l = {0};
    if (!layout(p, &l)) {
        free(l.t);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        uint64_t rows = t->n_dims >= 2 ? t->ne[1] * t->ne[2] : 1;
        loam_type ty = tensor_type(p, st, t);
        uint64_t row_bytes = loam_row_bytes(ty, (int64_t)t->ne[0]), bytes = rows * row_bytes;
        out->n_params += (int64_t)(rows * t->ne[0]);
        out->bytes += bytes;
        out->bytes_by_type[ty] += bytes;
        int gathered = is_gathered_table(p, t->name);
        out->decode_bytes_by_type[ty] += gathered ? row_bytes : bytes;
        /* the products each prompt position computes: not the tables, not
         * the output head (computed for the last position only) */
        int table = !strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight") || strstr(t->name, "embed_");
        if (t->n_dims >= 2 && !table) out->matmul_params_by_type[ty] += (int64_t)(rows * t->ne[0]);
        if (strstr(t->name, "encoder.")) {
            out->encoder_decode_bytes_by_type[ty] += gathered ? row_bytes : bytes;
            if (t->n_dims >= 2 && !table) out->encoder_matmul_params_by_type[ty] += (int64_t)(rows * t->ne[0]);
        }
    }
    free(l.t);
    return LOAM_OK;
}

loam_status loam_synth_estimate(const char *like, const char *type, int64_t *n_params, uint64_t *weight_bytes, loam_error *err) {
    loam_synth_sizes z;
    loam_status s = loam_synth_breakdown(like, type, &z, err);
    if (s) return s;
    *n_params = z.n_params, *weight_bytes = z.bytes;
    return LOAM_OK;
}

loam_status loam_synth(const char *like, const char *type, const char *out, loam_progress_fn progress, void *user, loam_error *err) {
    const loam_preset *p;
    const loam_quant_target *st;
    loam_status found = find_preset(like, type, &p, &st, err);
    if (found) return found;
    synth_list l = {0};
    gguf_writer *w = gguf_writer_new();
    loam_type *types = NULL;
    loam_status s = w && layout(p, &l) ? LOAM_OK : loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!s) {
        metadata(w, p, st->ftype);
        if (p->n_vocab > 0 && !vocab(w, p->n_vocab)) s = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    if (!s && !(types = malloc((size_t)l.n * sizeof *types))) s = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int i = 0; !s && i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        types[i] = tensor_type(p, st, t);
        gguf_w_tensor(w, t->name, t->n_dims, t->ne, gguf_ggml_type(types[i]));
    }
    if (!s) s = gguf_w_begin(w, out, err);
    uint64_t seed = 0x5eed;
    for (int i = 0; !s && i < l.n; i++) {
        const synth_tensor *t = &l.t[i];
        if (progress) progress(user, i, l.n, t->name);
        uint64_t rows = t->n_dims >= 2 ? t->ne[1] * t->ne[2] : 1, k = t->ne[0];
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
