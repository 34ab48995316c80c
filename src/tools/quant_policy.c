/* llama-quantize's per-tensor type rules (see quant_policy.h). */
#include "tools/quant_policy.h"

#include <stdio.h>
#include <string.h>


static const loam_quant_target targets[] = {
    {"f32", 0, LOAM_T_F32, 0},   {"f16", 1, LOAM_T_F16, 0},   {"bf16", 32, LOAM_T_BF16, 0},  {"q8_0", 7, LOAM_T_Q8_0, 0},
    {"q4_0", 2, LOAM_T_Q4_0, 0}, {"q5_0", 8, LOAM_T_Q5_0, 0}, {"q5_1", 9, LOAM_T_Q5_1, 0},     {"q6_k", 18, LOAM_T_Q6_K, 0},
    {"q4_1", 3, LOAM_T_Q4_1, 0},    {"q4_k_m", 15, LOAM_T_Q4_K, 1}, {"q5_k_s", 16, LOAM_T_Q5_K, 0}, {"q5_k_m", 17, LOAM_T_Q5_K, 1},
};

const loam_quant_target *loam_quant_target_find(const char *name, int allow_f32) {
    for (size_t i = allow_f32 ? 0 : 1; i < sizeof targets / sizeof *targets; i++)
        if (!strcmp(name, targets[i].name)) return &targets[i];
    return NULL;
}

const char *loam_ftype_name(int64_t ftype) {
    static const struct {
        int ftype;
        const char *name;
    } names[] = {{0, "f32"},     {1, "f16"},     {2, "q4_0"},    {3, "q4_1"},    {7, "q8_0"},    {8, "q5_0"},
                 {9, "q5_1"},    {10, "q2_k"},   {11, "q3_k_s"}, {12, "q3_k_m"}, {13, "q3_k_l"}, {14, "q4_k_s"},
                 {15, "q4_k_m"}, {16, "q5_k_s"}, {17, "q5_k_m"}, {18, "q6_k"},   {25, "iq4_nl"}, {32, "bf16"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].ftype == ftype) return names[i].name;
    return NULL;
}

int loam_gguf_layer_of(const char *name) {
    int l = -1;
    return sscanf(name, "blk.%d.", &l) == 1 ? l : -1;
}

/* llama-quantize's use_more_bits */
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

loam_type loam_quant_tensor_type(const loam_quant_target *tt, const char *name, int n_dims, int64_t row, int n_layers,
                                 int has_output, const char *arch) {
    if (n_dims < 2 || strstr(name, "rope_freqs") || !strstr(name, "weight")) return LOAM_T_COUNT; /* keep as is */
    loam_type t = tt->base;
    if (loam_type_is_quantized(t)) {
        if (!strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight"))) {
            if (!strcmp(arch, "falcon") || row % 256) t = LOAM_T_Q8_0;
            else if (t != LOAM_T_Q8_0) t = LOAM_T_Q6_K;
        } else if (tt->k_mix && (strstr(name, "attn_v.weight") || strstr(name, "ffn_down"))) {
            if (more_bits(loam_gguf_layer_of(name), n_layers)) t = LOAM_T_Q6_K;
        }
    }
    int be, bb;
    loam_type_block(t, &be, &bb);
    if (row % be) { /* llama-quantize's fallbacks */
        t = t == LOAM_T_Q4_K ? LOAM_T_Q5_0 : t == LOAM_T_Q5_K ? LOAM_T_Q5_1 : t == LOAM_T_Q6_K ? LOAM_T_Q8_0 : t;
        loam_type_block(t, &be, &bb);
        if (row % be) t = LOAM_T_F16;
    }
    return t;
}
