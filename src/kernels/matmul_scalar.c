/* Reference kernels: plain C, one multiply-add at a time, in the order a
 * reader expects. Every SIMD kernel is tested against these. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"
#include "kernels/quants.h"

static float weight_at(const void *w, loam_type wtype, size_t i) {
    switch (wtype) {
    case LOAM_T_F16: return loam_f16_to_f32(((const uint16_t *)w)[i]);
    case LOAM_T_BF16: return loam_bf16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

void loam_row_to_f32(const void *w, loam_type wtype, int64_t row, int K, float *out) {
    if (loam_type_is_quantized(wtype)) {
        loam_dequantize_row(wtype, (const uint8_t *)w + (size_t)row * loam_row_bytes(wtype, K), K, out);
        return;
    }
    size_t base = (size_t)row * (size_t)K;
    for (int k = 0; k < K; k++) out[k] = weight_at(w, wtype, base + (size_t)k);
}

/* Quantized weights: each row dequantized (exactly), then the same plain
 * dot product. */
static void matmul_scalar_quant(const float *x, int T, int K, const void *w, loam_type wtype, int n0, int n1, float *y,
                                int ldy) {
    float *row = malloc((size_t)K * sizeof(float));
    for (int n = n0; row && n < n1; n++) {
        loam_row_to_f32(w, wtype, n, K, row);
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * (size_t)K;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += xt[k] * row[k];
            y[(size_t)t * (size_t)ldy + (size_t)n] = acc;
        }
    }
    free(row);
}

static void matmul_scalar(const loam_cache_info *caches, const float *x, int T, int K, const void *w, loam_type wtype,
                          int n0, int n1, float *y, int ldy) {
    (void)caches; /* no prefetch, no blocking: the reference */
    if (loam_type_is_quantized(wtype)) {
        matmul_scalar_quant(x, T, K, w, wtype, n0, n1, y, ldy);
        return;
    }
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * (size_t)K;
        for (int n = n0; n < n1; n++) {
            size_t base = (size_t)n * (size_t)K;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += xt[k] * weight_at(w, wtype, base + (size_t)k);
            y[(size_t)t * (size_t)ldy + (size_t)n] = acc;
        }
    }
}

/* Reference for the bf16-activation path: the products of the bf16 values,
 * summed in f32 in order. */
void loam_matmul_bf16dot_scalar(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                                float *y, int ldy) {
    (void)caches;
    for (int t = 0; t < T; t++)
        for (int n = n0; n < n1; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += loam_bf16_to_f32(x[(size_t)t * (size_t)K + (size_t)k]) * loam_bf16_to_f32(w[(size_t)n * (size_t)K + (size_t)k]);
            y[(size_t)t * (size_t)ldy + (size_t)n] = acc;
        }
}

/* Reference int8 path: one dot product at a time. */
static void qmatmul_scalar(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                           loam_type wtype, int n0, int n1, float *y, int ldy) {
    (void)caches;
    size_t row_bytes = loam_row_bytes(wtype, K);
    for (int t = 0; t < T; t++)
        for (int n = n0; n < n1; n++)
            y[(size_t)t * ldy + n] = loam_qdot_ref(wtype, (const uint8_t *)w + (size_t)n * row_bytes, x + (size_t)t * (K / 32), K);
}

/* Element i of a cached head row in its storage type (the dequantized value
 * for Q8_0: d * q, exact in f32). */
static float kv_value(int type, const uint8_t *row, int i) {
    if (type == LOAM_KV_F32) {
        float f;
        memcpy(&f, row + 4 * (size_t)i, 4);
        return f;
    }
    uint16_t h;
    if (type == LOAM_KV_F16) {
        memcpy(&h, row + 2 * (size_t)i, 2);
        return loam_f16_to_f32(h);
    }
    const uint8_t *b = row + (size_t)(i / 32) * 34;
    memcpy(&h, b, 2);
    return loam_f16_to_f32(h) * (float)(int8_t)b[2 + i % 32];
}

static void attn_scores_ref(int type, const float *q, const uint8_t *k, size_t stride, int n, int hd, float *scores) {
    for (int p = 0; p < n; p++) {
        float s = 0.0f;
        for (int i = 0; i < hd; i++) s += q[i] * kv_value(type, k + (size_t)p * stride, i);
        scores[p] = s;
    }
}

static void attn_mix_ref(int type, const float *w, const uint8_t *v, size_t stride, int n, int hd, float *out) {
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int p = 0; p < n; p++)
        for (int i = 0; i < hd; i++) out[i] += w[p] * kv_value(type, v + (size_t)p * stride, i);
}

#define REF_ATTN(T, NAME)                                                                                                        \
    static void scores_##NAME(const float *q, const uint8_t *k, size_t stride, int n, int hd, float *s) {                         \
        attn_scores_ref(T, q, k, stride, n, hd, s);                                                                              \
    }                                                                                                                            \
    static void mix_##NAME(const float *w, const uint8_t *v, size_t stride, int n, int hd, float *out) {                          \
        attn_mix_ref(T, w, v, stride, n, hd, out);                                                                               \
    }
REF_ATTN(LOAM_KV_F32, f32)
REF_ATTN(LOAM_KV_F16, f16)
REF_ATTN(LOAM_KV_Q8_0, q8)

static double softmax_exp_scalar(float *s, int n, float max) {
    double sum = 0.0;
    for (int p = 0; p < n; p++) {
        s[p] = expf(s[p] - max);
        sum += s[p];
    }
    return sum;
}

static void silu_gate_scalar(float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] *= g[i] / (1.0f + expf(-g[i]));
}

void loam_add_bias(float *restrict y, int ldy, int T, const float *restrict bias, int n0, int n1) {
    if (!bias) return;
    for (int t = 0; t < T; t++) {
        float *restrict yt = y + (size_t)t * ldy;
        for (int n = n0; n < n1; n++) yt[n] += bias[n];
    }
}

static void sigmoid_act_scalar(loam_sigmoid_kind kind, float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = g ? g[i] : a[i], f = x / (1.0f + expf(-loam_sigmoid_arg(kind, x)));
        a[i] = g ? a[i] * f : f;
    }
}

static void gelu_act_scalar(float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = g ? g[i] : a[i], f = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
        a[i] = g ? a[i] * f : f;
    }
}

const loam_kernels loam_kernels_scalar = {
    .name = "scalar",
    .level = LOAM_SIMD_SCALAR,
    .matmul = matmul_scalar,
    .gemm_panels = loam_gemm_panels_scalar,
    .quantize_act = loam_quantize_act_row,
    .matmul_q8 = qmatmul_scalar,
    .attn_scores = {scores_f32, scores_f16, scores_q8},
    .attn_mix = {mix_f32, mix_f16, mix_q8},
    .softmax_exp = softmax_exp_scalar,
    .silu_gate = silu_gate_scalar,
    .sigmoid_act = sigmoid_act_scalar,
    .gelu_act = gelu_act_scalar,
};
