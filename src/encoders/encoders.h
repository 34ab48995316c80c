/* The text encoders that image (and later other) models condition on:
 * CLIP's text transformer and T5's encoder, each opened from its
 * transformers folder (config.json + safetensors, sharded or not) and run on
 * token ids through the nn/ ops. Activations are f32; weights stay in their
 * stored type. */
#ifndef LOAM_ENCODERS_H
#define LOAM_ENCODERS_H
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct enc_clip enc_clip;
typedef struct enc_t5 enc_t5;

/* CLIPTextModel: token + learned position embeddings, pre-LN blocks with a
 * causal mask, the config's activation (quick_gelu for CLIP-L), final
 * LayerNorm. */
loam_status enc_clip_open(const char *dir, enc_clip **out, loam_error *err);
void enc_clip_free(enc_clip *c);
int enc_clip_dim(const enc_clip *c);
int enc_clip_max_len(const enc_clip *c); /* max_position_embeddings (77) */
/* ids[T] (T <= max_len) -> hidden[T, D] (may be NULL) and pooled[D]: the
 * final hidden row at the first end-of-text token, as transformers picks
 * it (argmax of the ids when eos_token_id is 2, as in CLIP-L's config). */
loam_status enc_clip_encode(enc_clip *c, loam_nn *nn, const int32_t *ids, int T, float *hidden, float *pooled,
                            loam_error *err);

/* T5EncoderModel: shared embeddings, pre-RMSNorm blocks, attention without
 * a 1/√d scale plus the first block's bidirectional relative-position
 * buckets, gated-GELU (tanh) or ReLU feed-forward, final RMSNorm. No mask:
 * padding attends and is attended, as FLUX's reference runs it. */
loam_status enc_t5_open(const char *dir, enc_t5 **out, loam_error *err);
void enc_t5_free(enc_t5 *t);
int enc_t5_dim(const enc_t5 *t);
/* The hyperparameters as read (for writing them elsewhere: loam quantize). */
typedef struct {
    int d_model, d_ff, d_kv, n_layers, n_heads, n_buckets, max_distance, gated;
    float eps;
} enc_t5_config;
void enc_t5_get_config(const enc_t5 *t, enc_t5_config *out);
/* ids[T] -> hidden[T, D] */
loam_status enc_t5_encode(enc_t5 *t, loam_nn *nn, const int32_t *ids, int T, float *hidden, loam_error *err);
/* transformers' T5 tensor name -> llama.cpp's (convert_hf_to_gguf's T5
 * encoder: token_embd, enc.blk.N.attn_q/k/v/o, attn_rel_b, attn_norm,
 * ffn_gate (wi_0), ffn_up (wi_1 or wi), ffn_down, ffn_norm,
 * enc.output_norm); other names are returned as they are. An encoder path
 * ending in .gguf is read with these names and its t5encoder.* metadata. */
const char *enc_t5_gguf_name(const char *hf, char *out, size_t n);
/* The bucket of relative position s − t (transformers' _relative_position_bucket, bidirectional). */
int enc_t5_bucket(int rel, int n_buckets, int max_distance);

#endif
