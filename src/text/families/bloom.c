/* BLOOM: ALiBi, LayerNorm on the embeddings, fused query_key_value laid out
 * per head as [q, k, v], LayerNorm with biases, tanh-GELU MLP of 4x width,
 * tied head. Defaults of transformers' BloomConfig; its aliases n_embed,
 * num_hidden_layers and num_attention_heads are accepted (the published
 * bigscience configs use some of them). */
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

/* First present key of two spellings. */
static loam_status int_alias(const cJSON *c, const char *a, const char *b, int64_t dflt, int64_t *out,
                             const char *path, loam_error *err) {
    return loam_json_int(c, loam_json_get(c, a) ? a : b, 0, dflt, out, path, err);
}

static loam_status read_bloom_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t vocab, hidden, layers, heads;
    double eps;
    int post_ln, tied;
    loam_status st;
    if ((st = loam_json_int(c, "vocab_size", 0, 250880, &vocab, path, err)) ||
        (st = int_alias(c, "n_embed", "hidden_size", 64, &hidden, path, err)) ||
        (st = int_alias(c, "n_layer", "num_hidden_layers", 2, &layers, path, err)) ||
        (st = int_alias(c, "n_head", "num_attention_heads", 8, &heads, path, err)) ||
        (st = loam_json_float(c, "layer_norm_epsilon", 0, 1e-5, &eps, path, err)) ||
        (st = loam_json_bool(c, "apply_residual_connection_post_layernorm", 0, 0, &post_ln, path, err)) ||
        (st = loam_json_bool(c, "tie_word_embeddings", 0, 1, &tied, path, err)))
        return st;
    if (post_ln)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: apply_residual_connection_post_layernorm true is not supported", path);
    if (!tied) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: BLOOM without tied embeddings is not supported", path);
    if (heads <= 0 || hidden % heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: hidden size %lld is not a multiple of %lld heads", path,
                         (long long)hidden, (long long)heads);
    s->n_vocab = (int)vocab;
    s->n_embd = (int)hidden;
    s->n_ff = (int)(4 * hidden);
    s->n_layers = (int)layers;
    s->n_heads = s->n_kv_heads = (int)heads;
    s->head_dim = (int)(hidden / heads);
    s->n_ctx_train = 2048; /* BLOOM has no maximum: ALiBi; trained on 2048 */
    s->norm = LOAM_NORM_LAYER;
    s->norm_bias = 1;
    s->norm_eps = (float)eps;
    s->emb_norm = 1;
    s->pos = LOAM_POS_ALIBI;
    s->alibi_bias_max = 8.0;
    s->qkv = LOAM_QKV_FUSED_GROUPED; /* n_kv_heads = n_heads: groups of [q, k, v] */
    s->qkv_bias = s->out_bias = 1;
    s->act = NN_ACT_GELU_TANH;
    s->mlp_bias = 1;
    s->tied_lm_head = 1;
    return loam_read_common_config(c, path, s, err);
}

const loam_family loam_family_bloom = {
    .model_type = "bloom",
    .architectures = {"BloomForCausalLM"},
    .read_config = read_bloom_config,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "word_embeddings.weight",
            [LOAM_G_EMB_NORM_W] = "word_embeddings_layernorm.weight",
            [LOAM_G_EMB_NORM_B] = "word_embeddings_layernorm.bias",
            [LOAM_G_OUT_NORM_W] = "ln_f.weight",
            [LOAM_G_OUT_NORM_B] = "ln_f.bias",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "h.%d.input_layernorm.weight",
            [LOAM_L_ATTN_NORM_B] = "h.%d.input_layernorm.bias",
            [LOAM_L_FFN_NORM_W] = "h.%d.post_attention_layernorm.weight",
            [LOAM_L_FFN_NORM_B] = "h.%d.post_attention_layernorm.bias",
            [LOAM_L_WQKV] = "h.%d.self_attention.query_key_value.weight",
            [LOAM_L_BQKV] = "h.%d.self_attention.query_key_value.bias",
            [LOAM_L_WO] = "h.%d.self_attention.dense.weight",
            [LOAM_L_BO] = "h.%d.self_attention.dense.bias",
            [LOAM_L_W_UP] = "h.%d.mlp.dense_h_to_4h.weight",
            [LOAM_L_B_UP] = "h.%d.mlp.dense_h_to_4h.bias",
            [LOAM_L_W_DOWN] = "h.%d.mlp.dense_4h_to_h.weight",
            [LOAM_L_B_DOWN] = "h.%d.mlp.dense_4h_to_h.bias",
        },
    /* bigscience checkpoints have no prefix; transformers-saved ones do */
    .name_prefixes = {"", "transformer."},
};
