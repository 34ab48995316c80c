/* MPT: ALiBi (MPT's own slope order), LayerNorm without bias, no Linear
 * biases, fused Wqkv as [q | k | v] with optional clip_qkv, exact GELU MLP
 * of expansion_ratio width, tied head. Defaults of transformers' MptConfig
 * and MptAttentionConfig. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

static loam_status read_mpt_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t d_model, heads, layers, ratio, vocab, max_seq;
    double eps, clip, bias_max, scale;
    int alibi, qk_ln, prefix_lm;
    loam_status st;
    if ((st = loam_json_int(c, "d_model", 0, 2048, &d_model, path, err)) ||
        (st = loam_json_int(c, "n_heads", 0, 16, &heads, path, err)) ||
        (st = loam_json_int(c, "n_layers", 0, 24, &layers, path, err)) ||
        (st = loam_json_int(c, "expansion_ratio", 0, 4, &ratio, path, err)) ||
        (st = loam_json_int(c, "max_seq_len", 0, 2048, &max_seq, path, err)) ||
        (st = loam_json_int(c, "vocab_size", 0, 50368, &vocab, path, err)) ||
        (st = loam_json_float(c, "layer_norm_epsilon", 0, 1e-5, &eps, path, err)))
        return st;
    const cJSON *attn = loam_json_get(c, "attn_config");
    if (attn && !cJSON_IsObject(attn)) return loam_fail(err, LOAM_E_FORMAT, "%s: \"attn_config\" must be an object", path);
    char where[600];
    snprintf(where, sizeof where, "%s (attn_config)", path);
    if ((st = loam_json_bool(attn, "alibi", 0, 1, &alibi, where, err)) ||
        (st = loam_json_float(attn, "alibi_bias_max", 0, 8.0, &bias_max, where, err)) ||
        (st = loam_json_float(attn, "clip_qkv", 0, 0.0, &clip, where, err)) ||
        (st = loam_json_float(attn, "softmax_scale", 0, 0.0, &scale, where, err)) ||
        (st = loam_json_bool(attn, "qk_ln", 0, 0, &qk_ln, where, err)) ||
        (st = loam_json_bool(attn, "prefix_lm", 0, 0, &prefix_lm, where, err)))
        return st;
    if (!alibi)
        return loam_fail(err, LOAM_E_UNSUPPORTED,
                         "%s: MPT without ALiBi (learned position embeddings) is not supported", where);
    if (qk_ln || prefix_lm)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: qk_ln and prefix_lm are not supported", where);
    if (heads <= 0 || d_model % heads)
        return loam_fail(err, LOAM_E_FORMAT, "%s: d_model %lld is not a multiple of %lld heads", path,
                         (long long)d_model, (long long)heads);
    s->n_vocab = (int)vocab;
    s->n_embd = (int)d_model;
    s->n_ff = (int)(ratio * d_model);
    s->n_layers = (int)layers;
    s->n_heads = s->n_kv_heads = (int)heads;
    s->head_dim = (int)(d_model / heads);
    s->n_ctx_train = (int)max_seq;
    s->norm = LOAM_NORM_LAYER; /* transformers drops the bias of every MPT LayerNorm */
    s->norm_eps = (float)eps;
    s->pos = LOAM_POS_ALIBI;
    s->alibi_bias_max = bias_max;
    s->alibi_mpt_slopes = 1;
    s->qkv = LOAM_QKV_FUSED_CONCAT;
    s->clip_qkv = clip;
    s->attn_scale = scale;
    s->act = NN_ACT_GELU;
    s->tied_lm_head = 1;
    return loam_read_common_config(c, path, s, err);
}

const loam_family loam_family_mpt = {
    .model_type = "mpt",
    .architectures = {"MptForCausalLM", "MPTForCausalLM"},
    .read_config = read_mpt_config,
    .global_names =
        {
            [LOAM_G_TOK_EMB] = "transformer.wte.weight",
            [LOAM_G_OUT_NORM_W] = "transformer.norm_f.weight",
        },
    .layer_names =
        {
            [LOAM_L_ATTN_NORM_W] = "transformer.blocks.%d.norm_1.weight",
            [LOAM_L_FFN_NORM_W] = "transformer.blocks.%d.norm_2.weight",
            [LOAM_L_WQKV] = "transformer.blocks.%d.attn.Wqkv.weight",
            [LOAM_L_WO] = "transformer.blocks.%d.attn.out_proj.weight",
            [LOAM_L_W_UP] = "transformer.blocks.%d.ffn.up_proj.weight",
            [LOAM_L_W_DOWN] = "transformer.blocks.%d.ffn.down_proj.weight",
        },
    .name_prefixes = {""},
};
