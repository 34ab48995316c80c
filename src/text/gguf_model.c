/* Models in GGUF files (written by llama.cpp's converter): the spec comes
 * from the "<arch>.*" metadata, what the config leaves implicit (biases, a
 * tied head, Falcon-40B's second norm) from which tensors exist, and the
 * converter's changes to the data are taken as they are: Llama's q/k rows
 * in interleaved rotary order, llama3 scaling as rope_freqs factors,
 * BLOOM's and Falcon's fused qkv as [q | k | v], Gemma's norms as 1 + w. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "text/family.h"
#include "text/model.h"

static int has(const loam_weight_store *ws, const char *name) { return loam_weights_find(ws, name) != NULL; }

/* "<arch>.<key>" metadata, strictly: a value of the wrong type or outside
 * [lo, hi] is an error naming the key and the value, never a silent
 * default or a truncation (2^32 + 1 layers must not read as 1). Absent:
 * *out = dflt, or an error when `required`. */
typedef struct {
    const gguf_file *g;
    const char *arch, *path;
    loam_error *err;
} meta;

static loam_status meta_int(const meta *m, const char *key, int required, int64_t dflt, int64_t lo, int64_t hi, int *out) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", m->arch, key);
    const gguf_kv *kv = gguf_find(m->g, full);
    int64_t v = dflt;
    if (!kv && required) return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is missing", m->path, full);
    if (kv && !gguf_get_int(m->g, full, &v))
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is not an integer (or does not fit 64 bits)", m->path, full);
    if (v < lo || v > hi)
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is %lld; loam reads %lld..%lld", m->path, full, (long long)v, (long long)lo,
                         (long long)hi);
    *out = (int)v;
    return LOAM_OK;
}

static loam_status meta_float(const meta *m, const char *key, double dflt, double *out) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", m->arch, key);
    *out = dflt;
    const gguf_kv *kv = gguf_find(m->g, full);
    /* a float key holds a float (as llama.cpp requires): an integer there is
     * a different value read the wrong way */
    if (kv && ((kv->type != GGUF_F32 && kv->type != GGUF_F64) || !gguf_get_float(m->g, full, out) || !(fabs(*out) <= FLT_MAX)))
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is not a finite 32-bit float", m->path, full);
    return LOAM_OK;
}

/* The sizes every architecture has. */
static loam_status read_sizes(const meta *m, loam_spec *s) {
    loam_status st;
    if ((st = meta_int(m, "embedding_length", 1, 0, 1, INT32_MAX, &s->n_embd)) ||
        (st = meta_int(m, "block_count", 1, 0, 1, INT32_MAX, &s->n_layers)) ||
        (st = meta_int(m, "feed_forward_length", 1, 0, 1, INT32_MAX, &s->n_ff)) ||
        (st = meta_int(m, "attention.head_count", 1, 0, 1, INT32_MAX, &s->n_heads)) ||
        (st = meta_int(m, "attention.head_count_kv", 0, s->n_heads, 1, INT32_MAX, &s->n_kv_heads)) ||
        /* llama.cpp refuses a file without it, and so does loam: a guessed
         * context would be silently wrong */
        (st = meta_int(m, "context_length", 1, 0, 1, INT32_MAX, &s->n_ctx_train)) ||
        (st = meta_int(m, "attention.key_length", 0, s->n_embd / s->n_heads, 1, INT32_MAX, &s->head_dim)))
        return st;
    return LOAM_OK;
}

/* The vocabulary: token_embd's rows; a tokenizer or vocab_size that says
 * otherwise is refused (llama.cpp does too), as are special ids past it. */
static loam_status read_vocab(const meta *m, const loam_weight_store *ws, loam_spec *s) {
    const loam_tensor *emb = loam_weights_find(ws, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return loam_fail(m->err, LOAM_E_FORMAT, "%s: tensor \"token_embd.weight\" is missing", m->path);
    if (emb->shape[0] < 1 || emb->shape[0] > INT32_MAX)
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: token_embd.weight has %lld rows", m->path, (long long)emb->shape[0]);
    s->n_vocab = (int)emb->shape[0];
    int vocab_size = s->n_vocab;
    loam_status st = meta_int(m, "vocab_size", 0, s->n_vocab, 1, INT32_MAX, &vocab_size);
    if (st) return st;
    if (vocab_size != s->n_vocab)
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s.vocab_size is %d but token_embd.weight has %d rows", m->path, m->arch,
                         vocab_size, s->n_vocab);
    const gguf_kv *tokens = gguf_find(m->g, "tokenizer.ggml.tokens");
    if (tokens && tokens->type == GGUF_ARRAY && tokens->count != (uint64_t)s->n_vocab)
        return loam_fail(m->err, LOAM_E_FORMAT, "%s: tokenizer.ggml.tokens has %llu tokens but token_embd.weight has %d rows", m->path,
                         (unsigned long long)tokens->count, s->n_vocab);
    static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                                      "tokenizer.ggml.padding_token_id"};
    int64_t v[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4; i++) {
        if (!gguf_find(m->g, ids[i])) continue;
        if (!gguf_get_int(m->g, ids[i], &v[i])) return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is not an integer", m->path, ids[i]);
        if (v[i] < 0 || v[i] >= s->n_vocab)
            return loam_fail(m->err, LOAM_E_FORMAT, "%s: %s is %lld but the vocabulary has %d tokens", m->path, ids[i], (long long)v[i],
                             s->n_vocab);
    }
    s->bos_id = (int)v[0];
    if (v[1] >= 0) s->eos_ids[0] = (int32_t)v[1], s->n_eos = 1;
    return LOAM_OK;
}

static const char *const gguf_archs[] = {"llama", "gemma", "bloom", "mpt", "falcon", "phi2"};
static const char supported_list[] = "llama, gemma, bloom, mpt, falcon, phi2";

int loam_gguf_arch_supported(const char *arch) {
    for (size_t i = 0; i < sizeof gguf_archs / sizeof *gguf_archs; i++)
        if (!strcmp(arch, gguf_archs[i])) return 1;
    return 0;
}

loam_status loam_gguf_spec(const loam_weight_store *ws, const char *path, loam_spec *s, loam_error *err) {
    const gguf_file *g = ws->gguf;
    const char *a;
    uint64_t al;
    if (!gguf_get_str(g, "general.architecture", &a, &al) || al >= 32)
        return loam_fail(err, LOAM_E_FORMAT, "%s: no general.architecture", path);
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)al, a);
    if (!loam_gguf_arch_supported(arch))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: GGUF architecture \"%s\" is not supported (%s)", path, arch, supported_list);
    int llama = !strcmp(arch, "llama"), gemma = !strcmp(arch, "gemma"), bloom = !strcmp(arch, "bloom");
    int mpt = !strcmp(arch, "mpt"), falcon = !strcmp(arch, "falcon"), phi2 = !strcmp(arch, "phi2");
    snprintf(s->model_type, sizeof s->model_type, "%s", arch);
    snprintf(s->architecture, sizeof s->architecture, "gguf:%s", arch);
    meta m = {g, arch, path, err};
    loam_status st;
    if ((st = read_vocab(&m, ws, s)) || (st = read_sizes(&m, s))) return st;

    double f;
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
        if ((st = meta_float(&m, "attention.layer_norm_rms_epsilon", 1e-5, &f))) return st;
        s->norm_eps = (float)f;
        s->act = llama ? NN_ACT_SILU : NN_ACT_GELU_TANH;
        s->emb_scale = gemma; /* Gemma's norms are stored as 1 + w already */
    } else {
        s->norm = LOAM_NORM_LAYER;
        if ((st = meta_float(&m, "attention.layer_norm_epsilon", 1e-5, &f))) return st;
        s->norm_eps = (float)f;
        s->act = bloom || phi2 ? NN_ACT_GELU_TANH : NN_ACT_GELU;
    }
    if (bloom || mpt) {
        s->pos = LOAM_POS_ALIBI;
        if ((st = meta_float(&m, "attention.max_alibi_bias", 8.0, &s->alibi_bias_max)) ||
            (st = meta_float(&m, "attention.clamp_kqv", 0.0, &s->clip_qkv)))
            return st;
        s->alibi_mpt_slopes = mpt;
    } else {
        s->pos = LOAM_POS_ROPE;
        if ((st = meta_float(&m, "rope.freq_base", 10000.0, &s->rope_theta)) ||
            (st = meta_int(&m, "rope.dimension_count", 0, s->head_dim, 1, INT32_MAX, &s->rope_dim)))
            return st;
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
