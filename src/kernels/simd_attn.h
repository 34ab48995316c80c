/* What the AVX2 and AVX-512 attention and softmax kernels share: the byte
 * offset of a chunk of a cached head row per storage type, the switch that
 * turns a chunk's vector count into a constant, a Q8_0 block's scale, and
 * the constants of exp(x) = 2^n exp(r) and of erfc. Include after <immintrin.h>, in
 * files built with F16C. */
#ifndef LOAM_KERNELS_SIMD_ATTN_H
#define LOAM_KERNELS_SIMD_ATTN_H
#include <stdint.h>
#include <string.h>

/* byte offset of value C0 of a head row stored as f32, f16 or Q8_0 */
#define AT_f32(C0) ((size_t)(C0) * 4)
#define AT_f16(C0) ((size_t)(C0) * 2)
#define AT_q8(C0) ((size_t)(C0) / 32 * 34)

/* CALL(nv) with nv a literal 1..8, so the chunk loops unroll into registers */
#define CHUNK_SWITCH(NV, CALL)                                                                                          \
    switch (NV) {                                                                                                       \
    case 1: CALL(1); break;                                                                                             \
    case 2: CALL(2); break;                                                                                             \
    case 3: CALL(3); break;                                                                                             \
    case 4: CALL(4); break;                                                                                             \
    case 5: CALL(5); break;                                                                                             \
    case 6: CALL(6); break;                                                                                             \
    case 7: CALL(7); break;                                                                                             \
    default: CALL(8); break;                                                                                            \
    }

static inline float half_of(const uint8_t *b) { /* a block's f16 scale, read without aliasing */
    uint16_t h;
    memcpy(&h, b, 2);
    return _cvtsh_ss(h);
}

/* exp(x), x <= 0: n = round(x log2 e), r = x - n ln2 (ln2 in two parts so
 * n * EXP_LN2_HI is exact), exp(r) by Horner over EXP_POLY (1/6!, ..., 1/1!,
 * 1/0!), times 2^n. */
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.428606765330187045e-06f
static const float EXP_POLY[7] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};

/* erfc(z), z >= 0, as t·exp(-z² + P(t)) with t = 1 / (1 + z/2), P by Horner
 * over ERFC_POLY (highest power first): the Chebyshev fit of Numerical
 * Recipes' erfcc, relative error below 1.2e-7 for every z >= 0 (1.04e-7
 * measured in double). The GELU kernels keep -z² exact as a pair, since
 * an error in the exponent is the result's relative error. */
static const float ERFC_POLY[10] = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                                    -0.18628806f, 0.09678418f, 0.37409196f,  1.00002368f,  -1.26551223f};

#endif
