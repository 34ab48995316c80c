/* Models in GGUF files (written by llama.cpp's converter): the spec comes
 * from the "<arch>.*" metadata, what the config leaves implicit (biases, a
 * tied head, Falcon-40B's second norm) from which tensors exist, and the
 * converter's changes to the data are taken as they are: Llama's q/k rows
 * in interleaved rotary order, llama3 scaling as rope_freqs factors,
 * BLOOM's and Falcon's fused qkv as [q | k | v], Gemma's norms as 1 + w. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "text/family.h"
#include "text/model.h"

static int has(const loam_weight_store *ws, const char *name) { return loam_weights_find(ws, name) != NULL; }

static int64_t get_int(const gguf_file *g, const char *arch, const char *key, int64_t dflt) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    int64_t v;
    return gguf_get_int(g, full, &v) ? v : dflt;
}

static double get_float(const gguf_file *g, const char *arch, const char *key, double dflt) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    double v;
    return gguf_get_float(g, full, &v) ? v : dflt;
}

loam_status loam_gguf_spec(const loam_weight_store *ws, const char *path, loam_spec *s, loam_error *err) {
    const gguf_file *g = ws->gguf;
    const char *a;
    uint64_t al;
    if (!gguf_get_str(g, "general.architecture", &a, &al) || al >= 32)
        return loam_fail(err, LOAM_E_FORMAT, "%s: no general.architecture", path);
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)al, a);
    int llama = !strcmp(arch, "llama"), gemma = !strcmp(arch, "gemma"), bloom = !strcmp(arch, "bloom");
    int mpt = !strcmp(arch, "mpt"), falcon = !strcmp(arch, "falcon"), phi2 = !strcmp(arch, "phi2");
    if (!llama && !gemma && !bloom && !mpt && !falcon && !phi2)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: GGUF architecture \"%s\" is not supported (llama, gemma, bloom, mpt, falcon, phi2)",
                         path, arch);
    snprintf(s->model_type, sizeof s->model_type, "%s", arch);
    snprintf(s->architecture, sizeof s->architecture, "gguf:%s", arch);
    const loam_tensor *emb = loam_weights_find(ws, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"token_embd.weight\" is missing", path);
    s->n_vocab = (int)emb->shape[0];
    s->n_embd = (int)get_int(g, arch, "embedding_length", 0);
    s->n_layers = (int)get_int(g, arch, "block_count", 0);
    s->n_ff = (int)get_int(g, arch, "feed_forward_length", 0);
    s->n_heads = (int)get_int(g, arch, "attention.head_count", 0);
    s->n_kv_heads = (int)get_int(g, arch, "attention.head_count_kv", s->n_heads);
    s->n_ctx_train = (int)get_int(g, arch, "context_length", 2048);
    s->head_dim = (int)get_int(g, arch, "attention.key_length", s->n_heads > 0 ? s->n_embd / s->n_heads : 0);
    if (s->n_embd <= 0 || s->n_layers <= 0 || s->n_heads <= 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: %s.embedding_length, block_count and attention.head_count are required", path, arch);
    int64_t bos = -1, eos = -1;
    gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos);
    gguf_get_int(g, "tokenizer.ggml.eos_token_id", &eos);
    s->bos_id = (int)bos;
    if (eos >= 0) s->eos_ids[0] = (int32_t)eos, s->n_eos = 1;

    /* what the tensors say */
    s->norm_bias = has(ws, "blk.0.attn_norm.bias");
    s->tied_lm_head = !has(ws, "output.weight");
    s->lm_head_bias = has(ws, "output.bias");
    s->qkv = has(ws, "blk.0.attn_qkv.weight") ? LOAM_QKV_FUSED_CONCAT : LOAM_QKV_SEPARATE;
    s->qkv_bias = has(ws, "blk.0.attn_qkv.bias") || has(ws, "blk.0.attn_q.bias");
    s->out_bias = has(ws, "blk.0.attn_output.bias");
    s->mlp_bias = has(ws, "blk.0.ffn_up.bias");
    s->mlp_gated = has(ws, "blk.0.ffn_gate.weight");
    s->emb_norm = has(ws, "token_embd_norm.weight");

    if (llama || gemma) {
        s->norm = LOAM_NORM_RMS;
        s->norm_eps = (float)get_float(g, arch, "attention.layer_norm_rms_epsilon", 1e-5);
        s->act = llama ? NN_ACT_SILU : NN_ACT_GELU_TANH;
        s->emb_scale = gemma; /* Gemma's norms are stored as 1 + w already */
    } else {
        s->norm = LOAM_NORM_LAYER;
        s->norm_eps = (float)get_float(g, arch, "attention.layer_norm_epsilon", 1e-5);
        s->act = bloom || phi2 ? NN_ACT_GELU_TANH : NN_ACT_GELU;
    }
    if (bloom || mpt) {
        s->pos = LOAM_POS_ALIBI;
        s->alibi_bias_max = get_float(g, arch, "attention.max_alibi_bias", 8.0);
        s->alibi_mpt_slopes = mpt;
        s->clip_qkv = get_float(g, arch, "attention.clamp_kqv", 0.0);
    } else {
        s->pos = LOAM_POS_ROPE;
        s->rope_theta = get_float(g, arch, "rope.freq_base", 10000.0);
        s->rope_dim = (int)get_int(g, arch, "rope.dimension_count", s->head_dim);
        s->rope_interleaved = llama; /* the converter permuted q/k for llama.cpp's rotary order */
        s->rope_freq_tensor = llama && has(ws, "rope_freqs.weight");
        char key[160];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        const char *st;
        uint64_t stl;
        if (gguf_get_str(g, key, &st, &stl) && !(stl == 4 && !memcmp(st, "none", 4)))
            return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: rope scaling \"%.*s\" is not supported yet", path, (int)stl, st);
    }
    s->parallel_block = falcon || phi2;
    s->parallel_two_norms = falcon && has(ws, "blk.0.attn_norm_2.weight");
    if (!s->n_ff) return loam_fail(err, LOAM_E_FORMAT, "%s: %s.feed_forward_length is required", path, arch);
    return LOAM_OK;
}

/* Falcon-40B: the converter names ln_attn "attn_norm_2" and ln_mlp
 * "attn_norm". */
static const char *gguf_layer_name(const loam_spec *s, int role) {
    if (!s->parallel_two_norms) return NULL;
    switch (role) {
    case LOAM_L_ATTN_NORM_W: return "blk.%d.attn_norm_2.weight";
    case LOAM_L_ATTN_NORM_B: return "blk.%d.attn_norm_2.bias";
    case LOAM_L_FFN_NORM_W: return "blk.%d.attn_norm.weight";
    case LOAM_L_FFN_NORM_B: return "blk.%d.attn_norm.bias";
    }
    return NULL;
}

const loam_family loam_family_gguf = {
    .model_type = "gguf",
    .architectures = {"gguf"},
    .read_config = NULL,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "token_embd.weight",
            [LOAM_G_EMB_NORM_W] = "token_embd_norm.weight",
            [LOAM_G_EMB_NORM_B] = "token_embd_norm.bias",
            [LOAM_G_OUT_NORM_W] = "output_norm.weight",
            [LOAM_G_OUT_NORM_B] = "output_norm.bias",
            [LOAM_G_LM_HEAD] = "output.weight",
            [LOAM_G_LM_HEAD_B] = "output.bias",
            [LOAM_G_ROPE_FREQS] = "rope_freqs.weight",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "blk.%d.attn_norm.weight",
            [LOAM_L_ATTN_NORM_B] = "blk.%d.attn_norm.bias",
            [LOAM_L_FFN_NORM_W] = "blk.%d.ffn_norm.weight",
            [LOAM_L_FFN_NORM_B] = "blk.%d.ffn_norm.bias",
            [LOAM_L_WQ] = "blk.%d.attn_q.weight",
            [LOAM_L_WK] = "blk.%d.attn_k.weight",
            [LOAM_L_WV] = "blk.%d.attn_v.weight",
            [LOAM_L_BQ] = "blk.%d.attn_q.bias",
            [LOAM_L_BK] = "blk.%d.attn_k.bias",
            [LOAM_L_BV] = "blk.%d.attn_v.bias",
            [LOAM_L_WQKV] = "blk.%d.attn_qkv.weight",
            [LOAM_L_BQKV] = "blk.%d.attn_qkv.bias",
            [LOAM_L_WO] = "blk.%d.attn_output.weight",
            [LOAM_L_BO] = "blk.%d.attn_output.bias",
            [LOAM_L_W_GATE] = "blk.%d.ffn_gate.weight",
            [LOAM_L_W_UP] = "blk.%d.ffn_up.weight",
            [LOAM_L_W_DOWN] = "blk.%d.ffn_down.weight",
            [LOAM_L_B_UP] = "blk.%d.ffn_up.bias",
            [LOAM_L_B_DOWN] = "blk.%d.ffn_down.bias",
        },
    .name_prefixes = {""},
    .layer_name_for = gguf_layer_name,
};
