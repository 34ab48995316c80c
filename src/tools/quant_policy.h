/* llama-quantize's rules, shared by loam quantize and loam synth: the
 * target types offered, and the type each tensor gets for a target. */
#ifndef LOAM_MODELS_QUANT_POLICY_H
#define LOAM_MODELS_QUANT_POLICY_H
#include <stdint.h>

#include "core/tensor.h"

typedef struct {
    const char *name; /* as given on the command line */
    int ftype;        /* general.file_type */
    loam_type base;   /* the default tensor type */
    int k_mix;        /* Q4_K_M's extra bits for some attn_v / ffn_down */
} loam_quant_target;

/* The target called `name`; f32 only when allow_f32. NULL if none. */
const loam_quant_target *loam_quant_target_find(const char *name, int allow_f32);

/* llama.cpp's name for a general.file_type value ("q4_k_m"), or NULL. */
const char *loam_ftype_name(int64_t ftype);

/* The layer of a GGUF tensor name ("blk.N."), or -1. */
int loam_gguf_layer_of(const char *name);

/* The type llama-quantize gives a tensor (llama_tensor_get_type, for the
 * targets offered), with its fallback when rows do not fit the block;
 * LOAM_T_COUNT for tensors it keeps as they are (1-D, rope_freqs, not a
 * weight). has_output: the model has its own output.weight (not tied). */
loam_type loam_quant_tensor_type(const loam_quant_target *tt, const char *name, int n_dims, int64_t row, int n_layers,
                                 int has_output, const char *arch);

#endif
