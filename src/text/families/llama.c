/* Llama (1, 2, 3, 3.1, 3.2): RMSNorm, SwiGLU, RoPE (with llama3 scaling),
 * grouped-query attention, tied or untied head. Defaults are those of
 * transformers' LlamaConfig. */
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

static loam_status read_llama_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t vocab, hidden, ff, layers, heads, kv_heads, head_dim, max_pos;
    double eps, theta;
    int tied, attn_bias, mlp_bias;
    const char *act;
    loam_status st;
    if ((st = loam_json_int(c, "vocab_size", 0, 32000, &vocab, path, err)) ||
        (st = loam_json_int(c, "hidden_size", 0, 4096, &hidden, path, err)) ||
        (st = loam_json_int(c, "intermediate_size", 0, 11008, &ff, path, err)) ||
        (st = loam_json_int(c, "num_hidden_layers", 0, 32, &layers, path, err)) ||
        (st = loam_json_int(c, "num_attention_heads", 0, 32, &heads, path, err)) ||
        (st = loam_json_int(c, "num_key_value_heads", 0, heads, &kv_heads, path, err)) ||
        (st = loam_json_int(c, "max_position_embeddings", 0, 2048, &max_pos, path, err)) ||
        (st = loam_json_float(c, "rms_norm_eps", 0, 1e-6, &eps, path, err)) ||
        (st = loam_json_float(c, "rope_theta", 0, 10000.0, &theta, path, err)) ||
        (st = loam_json_bool(c, "tie_word_embeddings", 0, 0, &tied, path, err)) ||
        (st = loam_json_bool(c, "attention_bias", 0, 0, &attn_bias, path, err)) ||
        (st = loam_json_bool(c, "mlp_bias", 0, 0, &mlp_bias, path, err)) ||
        (st = loam_json_string(c, "hidden_act", 0, "silu", &act, path, err)))
        return st;
    if (heads <= 0) return loam_fail(err, LOAM_E_FORMAT, "%s: num_attention_heads must be positive", path);
    if ((st = loam_json_int(c, "head_dim", 0, hidden / heads, &head_dim, path, err))) return st;
    if (strcmp(act, "silu") != 0)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported for llama (only silu)", path, act);

    s->n_vocab = (int)vocab;
    s->n_embd = (int)hidden;
    s->n_ff = (int)ff;
    s->n_layers = (int)layers;
    s->n_heads = (int)heads;
    s->n_kv_heads = (int)kv_heads;
    s->head_dim = (int)head_dim;
    s->n_ctx_train = (int)max_pos;
    s->norm = LOAM_NORM_RMS;
    s->norm_eps = (float)eps;
    s->pos = LOAM_POS_ROPE;
    s->rope_theta = theta;
    s->rope_dim = (int)head_dim;
    s->qkv = LOAM_QKV_SEPARATE;
    s->qkv_bias = s->out_bias = attn_bias;
    s->mlp_gated = 1;
    s->act = NN_ACT_SILU;
    s->mlp_bias = mlp_bias;
    s->tied_lm_head = tied;
    if ((st = loam_read_rope_scaling(c, path, s, err))) return st;
    return loam_read_common_config(c, path, s, err);
}

const loam_family loam_family_llama = {
    .model_type = "llama",
    .architectures = {"LlamaForCausalLM"},
    .read_config = read_llama_config,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "model.embed_tokens.weight",
            [LOAM_G_OUT_NORM_W] = "model.norm.weight",
            [LOAM_G_LM_HEAD] = "lm_head.weight",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "model.layers.%d.input_layernorm.weight",
            [LOAM_L_FFN_NORM_W] = "model.layers.%d.post_attention_layernorm.weight",
            [LOAM_L_WQ] = "model.layers.%d.self_attn.q_proj.weight",
            [LOAM_L_WK] = "model.layers.%d.self_attn.k_proj.weight",
            [LOAM_L_WV] = "model.layers.%d.self_attn.v_proj.weight",
            [LOAM_L_BQ] = "model.layers.%d.self_attn.q_proj.bias",
            [LOAM_L_BK] = "model.layers.%d.self_attn.k_proj.bias",
            [LOAM_L_BV] = "model.layers.%d.self_attn.v_proj.bias",
            [LOAM_L_WO] = "model.layers.%d.self_attn.o_proj.weight",
            [LOAM_L_BO] = "model.layers.%d.self_attn.o_proj.bias",
            [LOAM_L_W_GATE] = "model.layers.%d.mlp.gate_proj.weight",
            [LOAM_L_W_UP] = "model.layers.%d.mlp.up_proj.weight",
            [LOAM_L_W_DOWN] = "model.layers.%d.mlp.down_proj.weight",
            [LOAM_L_B_UP] = "model.layers.%d.mlp.up_proj.bias",
            [LOAM_L_B_DOWN] = "model.layers.%d.mlp.down_proj.bias",
        },
    .name_prefixes = {""},
};
