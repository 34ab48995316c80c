/* Falcon, both layouts. 7B: multi-query (one K/V head whatever num_kv_heads
 * says), parallel attention + MLP off one input_layernorm, fused qkv as
 * [all q | k | v]. 40B (new_decoder_architecture): num_kv_heads groups of
 * [q heads | k | v], separate ln_attn and ln_mlp. Rotary, LayerNorm with
 * bias, exact GELU. Logic and defaults as transformers' FalconConfig and
 * FalconDecoderLayer. */
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

static loam_status read_falcon_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t vocab, hidden, layers, heads, kv, ffn, max_pos, n_ln;
    double eps, theta;
    int alibi, new_arch, multi_query, parallel, bias, tied;
    const char *act;
    loam_status st;
    if ((st = loam_json_int(c, "vocab_size", 0, 65024, &vocab, path, err)) ||
        (st = loam_json_int(c, "hidden_size", 0, 4544, &hidden, path, err)) ||
        (st = loam_json_int(c, "num_hidden_layers", 0, 32, &layers, path, err)) ||
        (st = loam_json_int(c, "num_attention_heads", 0, 71, &heads, path, err)) ||
        (st = loam_json_int(c, "num_kv_heads", 0, heads, &kv, path, err)) ||
        (st = loam_json_int(c, "ffn_hidden_size", 0, 4 * hidden, &ffn, path, err)) ||
        (st = loam_json_int(c, "max_position_embeddings", 0, 2048, &max_pos, path, err)) ||
        (st = loam_json_float(c, "layer_norm_epsilon", 0, 1e-5, &eps, path, err)) ||
        (st = loam_json_float(c, "rope_theta", 0, 10000.0, &theta, path, err)) ||
        (st = loam_json_bool(c, "alibi", 0, 0, &alibi, path, err)) ||
        (st = loam_json_bool(c, "new_decoder_architecture", 0, 0, &new_arch, path, err)) ||
        (st = loam_json_bool(c, "multi_query", 0, 1, &multi_query, path, err)) ||
        (st = loam_json_bool(c, "parallel_attn", 0, 1, &parallel, path, err)) ||
        (st = loam_json_bool(c, "bias", 0, 0, &bias, path, err)) ||
        (st = loam_json_bool(c, "tie_word_embeddings", 0, 1, &tied, path, err)) ||
        (st = loam_json_string(c, "activation", 0, "gelu", &act, path, err)))
        return st;
    if ((st = loam_json_int(c, "num_ln_in_parallel_attn", 0, new_arch ? 2 : 1, &n_ln, path, err))) return st;
    if (alibi)
        return loam_fail(err, LOAM_E_UNSUPPORTED,
                         "%s: Falcon with \"alibi\": true is not supported (Falcon's rotary layout only)", path);
    if (strcmp(act, "gelu") != 0)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: activation \"%s\" is not supported for Falcon (gelu)", path, act);
    if (new_arch && !parallel)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: new_decoder_architecture without parallel_attn is not supported", path);
    if (n_ln != 1 && n_ln != 2)
        return loam_fail(err, LOAM_E_FORMAT, "%s: num_ln_in_parallel_attn must be 1 or 2", path);
    if (heads <= 0 || hidden % heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: hidden size %lld is not a multiple of %lld heads", path,
                         (long long)hidden, (long long)heads);
    s->n_vocab = (int)vocab;
    s->n_embd = (int)hidden;
    s->n_ff = (int)ffn;
    s->n_layers = (int)layers;
    s->n_heads = (int)heads;
    s->n_kv_heads = new_arch ? (int)kv : multi_query ? 1 : (int)heads;
    s->head_dim = (int)(hidden / heads);
    s->n_ctx_train = (int)max_pos;
    s->norm = LOAM_NORM_LAYER;
    s->norm_bias = 1;
    s->norm_eps = (float)eps;
    s->pos = LOAM_POS_ROPE;
    s->rope_theta = theta;
    s->rope_dim = s->head_dim;
    /* [q heads | k | v] per group, or per head [q, k, v] when every head
     * has its own K/V; one K/V head makes both the same as [q | k | v] */
    s->qkv = LOAM_QKV_FUSED_GROUPED;
    s->qkv_bias = s->out_bias = s->mlp_bias = bias;
    s->parallel_block = parallel;
    s->parallel_two_norms = new_arch && n_ln == 2;
    s->act = NN_ACT_GELU;
    s->tied_lm_head = tied;
    if ((st = loam_read_rope_scaling(c, path, s, err))) return st;
    return loam_read_common_config(c, path, s, err);
}

static const char *falcon_layer_name(const loam_spec *s, int role) {
    if (!s->parallel_two_norms) return NULL;
    switch (role) {
    case LOAM_L_ATTN_NORM_W: return "transformer.h.%d.ln_attn.weight";
    case LOAM_L_ATTN_NORM_B: return "transformer.h.%d.ln_attn.bias";
    case LOAM_L_FFN_NORM_W: return "transformer.h.%d.ln_mlp.weight";
    case LOAM_L_FFN_NORM_B: return "transformer.h.%d.ln_mlp.bias";
    }
    return NULL;
}

const loam_family loam_family_falcon = {
    .model_type = "falcon",
    .architectures = {"FalconForCausalLM"},
    .read_config = read_falcon_config,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "transformer.word_embeddings.weight",
            [LOAM_G_OUT_NORM_W] = "transformer.ln_f.weight",
            [LOAM_G_OUT_NORM_B] = "transformer.ln_f.bias",
            [LOAM_G_LM_HEAD] = "lm_head.weight",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "transformer.h.%d.input_layernorm.weight",
            [LOAM_L_ATTN_NORM_B] = "transformer.h.%d.input_layernorm.bias",
            [LOAM_L_FFN_NORM_W] = "transformer.h.%d.post_attention_layernorm.weight",
            [LOAM_L_FFN_NORM_B] = "transformer.h.%d.post_attention_layernorm.bias",
            [LOAM_L_WQKV] = "transformer.h.%d.self_attention.query_key_value.weight",
            [LOAM_L_BQKV] = "transformer.h.%d.self_attention.query_key_value.bias",
            [LOAM_L_WO] = "transformer.h.%d.self_attention.dense.weight",
            [LOAM_L_BO] = "transformer.h.%d.self_attention.dense.bias",
            [LOAM_L_W_UP] = "transformer.h.%d.mlp.dense_h_to_4h.weight",
            [LOAM_L_B_UP] = "transformer.h.%d.mlp.dense_h_to_4h.bias",
            [LOAM_L_W_DOWN] = "transformer.h.%d.mlp.dense_4h_to_h.weight",
            [LOAM_L_B_DOWN] = "transformer.h.%d.mlp.dense_4h_to_h.bias",
        },
    .name_prefixes = {""},
    .layer_name_for = falcon_layer_name,
};
