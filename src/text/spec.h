/* A decoder-only transformer described by data. Every text family (Llama,
 * BLOOM, MPT, Falcon, Phi-2, Gemma) is one of these plus a map from tensor
 * roles to the names its publisher uses. The decoder core reads only this. */
#ifndef LOAM_MODELS_SPEC_H
#define LOAM_MODELS_SPEC_H
#include <stdint.h>

#include "nn/nn.h"

typedef enum { LOAM_NORM_RMS, LOAM_NORM_LAYER } loam_norm_type;
typedef enum { LOAM_POS_ROPE, LOAM_POS_ALIBI } loam_pos_type;
typedef enum { LOAM_ROPE_SCALING_NONE, LOAM_ROPE_SCALING_LLAMA3 } loam_rope_scaling;

/* How the attention input projections are stored. */
typedef enum {
    LOAM_QKV_SEPARATE,    /* q, k, v matrices */
    LOAM_QKV_FUSED_CONCAT, /* one matrix, rows [all q | all k | all v] */
    LOAM_QKV_FUSED_GROUPED /* one matrix, per KV group [q heads of the group | k | v] */
} loam_qkv_layout;

typedef struct loam_spec {
    char architecture[64];
    char model_type[32];
    int n_layers, n_embd, n_heads, n_kv_heads, head_dim, n_ff, n_vocab, n_ctx_train;

    /* normalisation */
    loam_norm_type norm;
    float norm_eps;
    int norm_bias;     /* LayerNorm has a bias */
    int norm_plus_one; /* Gemma: x * (1 + w) */
    int emb_norm;      /* BLOOM: LayerNorm right after the embedding */
    int emb_scale;     /* Gemma: embeddings times sqrt(n_embd) */

    /* positions */
    loam_pos_type pos;
    double rope_theta;
    int rope_dim; /* rotated dims per head (partial rotary: < head_dim) */
    loam_rope_scaling rope_scaling;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_ctx;
    int rope_interleaved;  /* rotate pairs (2i, 2i+1) (llama.cpp's Llama layout) instead of (i, i + d/2) */
    int rope_freq_tensor;  /* frequencies divided by a stored factor per pair (GGUF rope_freqs) */
    double alibi_bias_max; /* slopes 2^(-bias_max * i / n) */
    int alibi_mpt_slopes;  /* MPT's slope order for head counts that are not powers of two */

    /* attention */
    loam_qkv_layout qkv;
    int qkv_bias, out_bias;
    double clip_qkv;   /* 0 = off */
    double attn_scale; /* 0 = 1/sqrt(head_dim) */

    /* block and MLP */
    int parallel_block;     /* attention and MLP read the same residual */
    int parallel_two_norms; /* ... each through its own norm (Falcon-40B) */
    int mlp_gated;          /* act(gate) * up, then down */
    nn_act act;
    int mlp_bias;

    /* head */
    int tied_lm_head;
    int lm_head_bias;

    /* tokens */
    int bos_id; /* -1 = none */
    int n_eos;
    int32_t eos_ids[8];
} loam_spec;

#endif
