/* Quantized matrix products: activations are quantized on the fly to int8
 * blocks of 32 (one float scale each, as ggml's Q8_0 but with an f32
 * scale), and each weight type's packed blocks are multiplied with them in
 * integer arithmetic. The scalar functions here are the reference every
 * SIMD kernel is tested against. */
#ifndef LOAM_KERNELS_QDOT_H
#define LOAM_KERNELS_QDOT_H
#include <stdint.h>

#include "core/tensor.h"

/* The VNNI blocked products (AVX-512 and AVX-VNNI, gemm_vnni.c and
 * gemm_avxvnni.c) read their int32 sums as floats without a conversion: an accumulator whose bits start at those of the float
 * 1.5 · 2^23 holds, after integer additions of n (|n| < 2^22), the float
 * 1.5 · 2^23 + n exactly. Its weights are bytes biased by 128 (w + 128),
 * so each accumulator starts at those bits minus 128 · (the sum of the
 * activation integers) and ends as 1.5 · 2^23 + sum(w · q); then
 * d · sum(w · q) = fma(that float, d, -1.5 · 2^23 · d), one rounding, as a
 * conversion and a multiply would give. -1.5 · 2^23 · d is exact because d
 * keeps 22 significant bits. */
#define LOAM_ACT_FLOAT_SUM_BITS 0x4B400000 /* the float 1.5 · 2^23 */
#define LOAM_ACT_FLOAT_SUM 12582912.0f
/* Blocks whose magnitude reaches this are NaN, as non-finite ones (their
 * 1.5 · 2^23 · d would overflow): 2^106, about 8e31. */
#define LOAM_ACT_AMAX_LIMIT 0x1p106f

typedef struct {
    int8_t q[32];
    float d;        /* x ~= d * q; 22 significant bits */
    int32_t isum;   /* sum of q, for weight offsets and mins */
    int16_t isum_lo; /* sum of the first 16 q (Q6_K's half-block offsets) */
    /* d · isum and d · isum_lo, so that a blocked product adds a type's
     * min with one float multiply-add per accumulator */
    float dsum, dsum_lo;
    /* the starts of float-read accumulators (above) for the whole block,
     * its first and its second half, and -1.5 · 2^23 · d */
    int32_t fstart[3];
    float dbias;
} loam_act_block;

/* amax / 127 rounded to 22 significant bits (ties away), as every
 * quantizer computes it */
static inline float loam_act_scale(float amax) {
    union { float f; uint32_t u; } d = {amax / 127.0f};
    d.u = (d.u + 2u) & ~3u;
    return d.f;
}

/* A block's fields after q: d, the sums and what the blocked products
 * derive from them (every quantizer ends with this, so they agree to the bit) */
static inline void loam_act_finish(loam_act_block *b, float d, int32_t isum, int32_t isum_lo) {
    b->d = d, b->isum = isum, b->isum_lo = (int16_t)isum_lo;
    b->dsum = d * (float)isum, b->dsum_lo = d * (float)isum_lo;
    b->fstart[0] = LOAM_ACT_FLOAT_SUM_BITS - 128 * isum;
    b->fstart[1] = LOAM_ACT_FLOAT_SUM_BITS - 128 * isum_lo;
    b->fstart[2] = LOAM_ACT_FLOAT_SUM_BITS - 128 * (isum - isum_lo);
    b->dbias = -LOAM_ACT_FLOAT_SUM * d;
}

/* A block that no integers can hold (inf, NaN or past LOAM_ACT_AMAX_LIMIT):
 * q = 0 and d = NaN, so the products come out NaN as float ones would. */
static inline void loam_act_unrepresentable(loam_act_block *b) {
    for (int j = 0; j < 32; j++) b->q[j] = 0;
    loam_act_finish(b, __builtin_nanf(""), 0, 0);
}

/* One row of k (a multiple of 32) floats into k/32 blocks. Rounds half to
 * even, as every SIMD version does. A block holding inf, NaN or a value of
 * LOAM_ACT_AMAX_LIMIT or more gets d = NaN and q = 0 (above). */
void loam_quantize_act_row(const float *x, int k, loam_act_block *out);

/* Reference: dot product of one weight row (k elements of type t) with
 * one quantized activation row. */
float loam_qdot_ref(loam_type t, const void *w_row, const loam_act_block *x, int k);
/* Whether the int8 path handles this weight type (and row length). */
int loam_qdot_supports(loam_type t, int k);

#endif
