/* ggml's block-quantized formats, dequantized exactly as ggml (and gguf-py)
 * compute them: the same float operations in the same order, so results
 * are bit-identical. CMake builds this file with -ffp-contract=off so that
 * no multiply and add get fused. */
#include <string.h>

#include "core/fp16.h"
#include "kernels/quants.h"
#include "kernels/kscales.h"

static float half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return loam_f16_to_f32(h);
}

static void q4_0(const uint8_t *b, float *y) { /* d, qs[16] */
    float d = half(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0x0f) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void q4_1(const uint8_t *b, float *y) { /* d, m, qs[16] */
    float d = half(b), m = half(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0x0f) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}

static void q5_0(const uint8_t *b, float *y) { /* d, qh[4], qs[16] */
    float d = half(b);
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        uint8_t h0 = (uint8_t)(((qh >> j) << 4) & 0x10), h1 = (uint8_t)((qh >> (j + 12)) & 0x10);
        y[j] = (float)(((qs[j] & 0x0f) | h0) - 16) * d;
        y[j + 16] = (float)(((qs[j] >> 4) | h1) - 16) * d;
    }
}

static void q5_1(const uint8_t *b, float *y) { /* d, m, qh[4], qs[16] */
    float d = half(b), m = half(b + 2);
    uint32_t qh;
    memcpy(&qh, b + 4, 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        uint8_t h0 = (uint8_t)(((qh >> j) << 4) & 0x10), h1 = (uint8_t)((qh >> (j + 12)) & 0x10);
        y[j] = (float)((qs[j] & 0x0f) | h0) * d + m;
        y[j + 16] = (float)((qs[j] >> 4) | h1) * d + m;
    }
}

static void q8_0(const uint8_t *b, float *y) { /* d, qs[32] */
    float d = half(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

static void q2_k(const uint8_t *b, float *y) { /* scales[16], qs[64], d, dmin */
    const uint8_t *scales = b, *q = b + 16;
    float d = half(b + 80), min = half(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t sc = scales[is++];
            float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
            for (int l = 0; l < 16; l++) *y++ = dl * (float)((int8_t)((q[l] >> shift) & 3)) - ml;
            sc = scales[is++];
            dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
            for (int l = 0; l < 16; l++) *y++ = dl * (float)((int8_t)((q[l + 16] >> shift) & 3)) - ml;
            shift += 2;
        }
        q += 32;
    }
}

static void q3_k(const uint8_t *b, float *y) { /* hmask[32], qs[64], scales[12], d */
    const uint8_t *hm = b, *q = b + 32;
    float d_all = half(b + 108);
    int8_t scales[16];
    q3_k_scales(b + 96, scales);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            float dl = d_all * (float)scales[is++];
            for (int l = 0; l < 16; l++) *y++ = dl * (float)((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            dl = d_all * (float)scales[is++];
            for (int l = 0; l < 16; l++) *y++ = dl * (float)((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
            shift += 2;
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}


/* Q4_K: d, dmin, scales[12], qs[128]; Q5_K (five) has qh[32] before qs,
 * whose bits 2k / 2k + 1 add 16 to the low / high nibbles of chunk k. */
static void q45_k(const uint8_t *b, float *y, int five) {
    float d = half(b), min = half(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + (five ? 48 : 16);
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        k_scale_min(is, scales, &sc, &m);
        float d1 = d * (float)sc, m1 = min * (float)m;
        k_scale_min(is + 1, scales, &sc, &m);
        float d2 = d * (float)sc, m2 = min * (float)m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xf) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

static void q4_k(const uint8_t *b, float *y) { q45_k(b, y, 0); }
static void q5_k(const uint8_t *b, float *y) { q45_k(b, y, 1); }

static void q6_k(const uint8_t *b, float *y) { /* ql[128], qh[64], scales[16], d */
    float d = half(b + 208);
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int8_t q1 = (int8_t)((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int8_t q2 = (int8_t)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int8_t q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}


static void iq4_nl(const uint8_t *b, float *y) { /* d, qs[16] */
    float d = half(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)loam_iq4nl_values[qs[j] & 0xf];
        y[j + 16] = d * (float)loam_iq4nl_values[qs[j] >> 4];
    }
}

void loam_dequantize_row(loam_type t, const void *src, int64_t k, float *y) {
    void (*block)(const uint8_t *, float *) = NULL;
    switch (t) {
    case LOAM_T_Q4_0: block = q4_0; break;
    case LOAM_T_Q4_1: block = q4_1; break;
    case LOAM_T_Q5_0: block = q5_0; break;
    case LOAM_T_Q5_1: block = q5_1; break;
    case LOAM_T_Q8_0: block = q8_0; break;
    case LOAM_T_Q2_K: block = q2_k; break;
    case LOAM_T_Q3_K: block = q3_k; break;
    case LOAM_T_Q4_K: block = q4_k; break;
    case LOAM_T_Q5_K: block = q5_k; break;
    case LOAM_T_Q6_K: block = q6_k; break;
    case LOAM_T_IQ4_NL: block = iq4_nl; break;
    default: return;
    }
    int be, bb;
    loam_type_block(t, &be, &bb);
    const uint8_t *p = src;
    for (int64_t i = 0; i < k / be; i++) block(p + i * bb, y + i * be);
}
