/* Phi-2: partial rotary (partial_rotary_factor of each head), attention and
 * MLP in parallel off one LayerNorm, gelu_new (tanh) MLP, biases everywhere
 * including lm_head, untied. Defaults of transformers' PhiConfig. */
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

static loam_status read_phi_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t vocab, hidden, ff, layers, heads, kv, max_pos;
    double eps, theta, partial;
    int qk_ln, tied;
    const char *act;
    loam_status st;
    if ((st = loam_json_int(c, "vocab_size", 0, 51200, &vocab, path, err)) ||
        (st = loam_json_int(c, "hidden_size", 0, 2048, &hidden, path, err)) ||
        (st = loam_json_int(c, "intermediate_size", 0, 8192, &ff, path, err)) ||
        (st = loam_json_int(c, "num_hidden_layers", 0, 24, &layers, path, err)) ||
        (st = loam_json_int(c, "num_attention_heads", 0, 32, &heads, path, err)) ||
        (st = loam_json_int(c, "num_key_value_heads", 0, heads, &kv, path, err)) ||
        (st = loam_json_int(c, "max_position_embeddings", 0, 2048, &max_pos, path, err)) ||
        (st = loam_json_float(c, "layer_norm_eps", 0, 1e-5, &eps, path, err)) ||
        (st = loam_json_float(c, "rope_theta", 0, 10000.0, &theta, path, err)) ||
        (st = loam_json_float(c, "partial_rotary_factor", 0, 0.5, &partial, path, err)) ||
        (st = loam_json_bool(c, "qk_layernorm", 0, 0, &qk_ln, path, err)) ||
        (st = loam_json_bool(c, "tie_word_embeddings", 0, 0, &tied, path, err)) ||
        (st = loam_json_string(c, "hidden_act", 0, "gelu_new", &act, path, err)))
        return st;
    if (qk_ln) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: qk_layernorm is not supported", path);
    if (tied) return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: Phi with tied embeddings is not supported", path);
    if (heads <= 0 || hidden % heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: hidden size %lld is not a multiple of %lld heads", path,
                         (long long)hidden, (long long)heads);
    if (!(partial > 0 && partial <= 1))
        return loam_fail(err, LOAM_E_FORMAT, "%s: partial_rotary_factor must be in (0, 1]", path);
    if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 || strcmp(act, "gelu_fast") == 0)
        s->act = NN_ACT_GELU_TANH;
    else if (strcmp(act, "gelu") == 0)
        s->act = NN_ACT_GELU;
    else
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported for Phi", path, act);
    s->n_vocab = (int)vocab;
    s->n_embd = (int)hidden;
    s->n_ff = (int)ff;
    s->n_layers = (int)layers;
    s->n_heads = (int)heads;
    s->n_kv_heads = (int)kv;
    s->head_dim = (int)(hidden / heads);
    s->n_ctx_train = (int)max_pos;
    s->norm = LOAM_NORM_LAYER;
    s->norm_bias = 1;
    s->norm_eps = (float)eps;
    s->pos = LOAM_POS_ROPE;
    s->rope_theta = theta;
    s->rope_dim = (int)(partial * s->head_dim); /* int() as transformers truncates */
    s->qkv = LOAM_QKV_SEPARATE;
    s->qkv_bias = s->out_bias = s->mlp_bias = 1;
    s->parallel_block = 1;
    s->lm_head_bias = 1;
    if ((st = loam_read_rope_scaling(c, path, s, err))) return st;
    return loam_read_common_config(c, path, s, err);
}

const loam_family loam_family_phi = {
    .model_type = "phi",
    .architectures = {"PhiForCausalLM"},
    .read_config = read_phi_config,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "model.embed_tokens.weight",
            [LOAM_G_OUT_NORM_W] = "model.final_layernorm.weight",
            [LOAM_G_OUT_NORM_B] = "model.final_layernorm.bias",
            [LOAM_G_LM_HEAD] = "lm_head.weight",
            [LOAM_G_LM_HEAD_B] = "lm_head.bias",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "model.layers.%d.input_layernorm.weight",
            [LOAM_L_ATTN_NORM_B] = "model.layers.%d.input_layernorm.bias",
            [LOAM_L_WQ] = "model.layers.%d.self_attn.q_proj.weight",
            [LOAM_L_WK] = "model.layers.%d.self_attn.k_proj.weight",
            [LOAM_L_WV] = "model.layers.%d.self_attn.v_proj.weight",
            [LOAM_L_BQ] = "model.layers.%d.self_attn.q_proj.bias",
            [LOAM_L_BK] = "model.layers.%d.self_attn.k_proj.bias",
            [LOAM_L_BV] = "model.layers.%d.self_attn.v_proj.bias",
            [LOAM_L_WO] = "model.layers.%d.self_attn.dense.weight",
            [LOAM_L_BO] = "model.layers.%d.self_attn.dense.bias",
            [LOAM_L_W_UP] = "model.layers.%d.mlp.fc1.weight",
            [LOAM_L_B_UP] = "model.layers.%d.mlp.fc1.bias",
            [LOAM_L_W_DOWN] = "model.layers.%d.mlp.fc2.weight",
            [LOAM_L_B_DOWN] = "model.layers.%d.mlp.fc2.bias",
        },
    .name_prefixes = {""},
};
