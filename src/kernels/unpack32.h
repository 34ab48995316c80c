/* Every ggml block type read as one shape, 32 weights at a time:
 *
 *   w[j] = dw[j / 16] * (u[j] - o) + mw[j / 16]      j < 32
 *
 * with u[j] unsigned bytes (0..255), o an integer offset of the type, and
 * dw / mw one float scale and min per 16 weights (the same two numbers for
 * the types whose blocks are 32 long). The blocked matrix products pack
 * weight panels from this and never look at a block format again, so a new
 * type is one more case here.
 *
 * Static inline, AVX2 + F16C: included by the kernel files built with them. */
#ifndef LOAM_KERNELS_UNPACK32_H
#define LOAM_KERNELS_UNPACK32_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "core/tensor.h"
#include "kernels/kscales.h"
#include "kernels/unpack_shape.h"

static inline float unpack_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* 16 packed bytes: low nibbles are weights 0-15, high nibbles 16-31 */
static inline __m256i unpack_nibbles16(const uint8_t *qs) {
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0f));
}

/* bit j of qh as 0x10 in byte j (Q5_0 / Q5_1's fifth bits) */
static inline __m256i unpack_bits32(uint32_t qh) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                            3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(b, bit), _mm256_set1_epi8(0x10));
}

/* bytes >> s, each byte on its own (s < 8) */
static inline __m256i bytes_srl(__m256i v, int s, int mask) {
    return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(s)), _mm256_set1_epi8((char)mask));
}

/* Block b (of 32 weights) of one weight row: the bytes u, and dw / mw for
 * its two halves. */
static inline __m256i loam_unpack32(loam_type t, const uint8_t *row, int b, float dw[2], float mw[2]) {
    mw[0] = mw[1] = 0;
    switch (t) {
    case LOAM_T_Q4_0: {
        const uint8_t *p = row + 18 * (size_t)b;
        dw[0] = dw[1] = unpack_half(p);
        return unpack_nibbles16(p + 2);
    }
    case LOAM_T_Q4_1: {
        const uint8_t *p = row + 20 * (size_t)b;
        dw[0] = dw[1] = unpack_half(p), mw[0] = mw[1] = unpack_half(p + 2);
        return unpack_nibbles16(p + 4);
    }
    case LOAM_T_Q5_0:
    case LOAM_T_Q5_1: {
        int one = t == LOAM_T_Q5_1;
        const uint8_t *p = row + (size_t)(one ? 24 : 22) * (size_t)b;
        dw[0] = dw[1] = unpack_half(p);
        if (one) mw[0] = mw[1] = unpack_half(p + 2);
        uint32_t qh;
        memcpy(&qh, p + 2 + 2 * one, 4);
        return _mm256_or_si256(unpack_nibbles16(p + 6 + 2 * one), unpack_bits32(qh));
    }
    case LOAM_T_Q8_0: {
        const uint8_t *p = row + 34 * (size_t)b;
        dw[0] = dw[1] = unpack_half(p);
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), _mm256_set1_epi8((char)0x80));
    }
    case LOAM_T_IQ4_NL: {
        const uint8_t *p = row + 18 * (size_t)b;
        dw[0] = dw[1] = unpack_half(p);
        __m128i table = _mm_xor_si128(_mm_loadu_si128((const __m128i *)loam_iq4nl_values), _mm_set1_epi8((char)0x80));
        return _mm256_shuffle_epi8(_mm256_set_m128i(table, table), unpack_nibbles16(p + 2));
    }
    case LOAM_T_Q4_K:
    case LOAM_T_Q5_K: { /* chunk j/2 of 32 bytes: block j its low nibbles, j+1 its high */
        int five = t == LOAM_T_Q5_K, j = b % 8;
        const uint8_t *p = row + (size_t)(five ? 176 : 144) * (size_t)(b / 8);
        uint8_t sc, m;
        k_scale_min(j, p + 4, &sc, &m);
        dw[0] = dw[1] = unpack_half(p) * (float)sc;
        mw[0] = mw[1] = -unpack_half(p + 2) * (float)m;
        __m256i u = bytes_srl(_mm256_loadu_si256((const __m256i *)(p + (five ? 48 : 16) + 32 * (j / 2))), 4 * (j % 2), 0x0f);
        if (five) u = _mm256_or_si256(u, _mm256_slli_epi16(bytes_srl(_mm256_loadu_si256((const __m256i *)(p + 16)), j, 1), 4));
        return u;
    }
    case LOAM_T_Q6_K: { /* block j = 4h + g: low bits in ql[64h + 32(g & 1)], nibble g / 2; high in qh[32h] bits 2g */
        int j = b % 8, h = j / 4, g = j % 4;
        const uint8_t *p = row + 210 * (size_t)(b / 8);
        float d = unpack_half(p + 208);
        dw[0] = d * (float)(int8_t)p[192 + 2 * j], dw[1] = d * (float)(int8_t)p[193 + 2 * j];
        __m256i lo = bytes_srl(_mm256_loadu_si256((const __m256i *)(p + 64 * h + 32 * (g & 1))), 4 * (g / 2), 0x0f);
        __m256i hi = bytes_srl(_mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h)), 2 * g, 3);
        return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
    }
    case LOAM_T_Q2_K:
    case LOAM_T_Q3_K: { /* block j: bits 2(j % 4) of qs[32 (j / 4)]; Q3_K's third bit j of hmask */
        int two = t == LOAM_T_Q2_K, j = b % 8;
        const uint8_t *p = row + (size_t)(two ? 84 : 110) * (size_t)(b / 8);
        __m256i u = bytes_srl(_mm256_loadu_si256((const __m256i *)(p + (two ? 16 : 32) + 32 * (j / 4))), 2 * (j % 4), 3);
        if (two) {
            float d = unpack_half(p + 80), dmin = unpack_half(p + 82);
            for (int s = 0; s < 2; s++) dw[s] = d * (float)(p[2 * j + s] & 15), mw[s] = -dmin * (float)(p[2 * j + s] >> 4);
            return u;
        }
        int8_t scales[16];
        q3_k_scales(p + 96, scales);
        float d = unpack_half(p + 108);
        dw[0] = d * (float)scales[2 * j], dw[1] = d * (float)scales[2 * j + 1];
        return _mm256_or_si256(u, _mm256_slli_epi16(bytes_srl(_mm256_loadu_si256((const __m256i *)p), j, 1), 2));
    }
    default: dw[0] = dw[1] = 0; return _mm256_setzero_si256();
    }
}

#endif
