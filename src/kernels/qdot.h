/* Quantized matrix products: activations are quantized on the fly to int8
 * blocks of 32 (one float scale each, as ggml's Q8_0 but with an f32
 * scale), and each weight type's packed blocks are multiplied with them in
 * integer arithmetic. The scalar functions here are the reference every
 * SIMD kernel is tested against. */
#ifndef LOAM_KERNELS_QDOT_H
#define LOAM_KERNELS_QDOT_H
#include <stdint.h>

#include "core/tensor.h"

typedef struct {
    int8_t q[32];
    float d;        /* x ~= d * q */
    int32_t isum;   /* sum of q, for weight offsets and mins */
    int16_t isum_lo; /* sum of the first 16 q (Q6_K's half-block offsets) */
    /* d · isum and d · isum_lo, so that a blocked product can remove a
     * weight offset (or add a min) with one float multiply-add per
     * accumulator and start its integer accumulators at zero */
    float dsum, dsum_lo;
} loam_act_block;

/* One row of k (a multiple of 32) floats into k/32 blocks. Rounds half to
 * even, as every SIMD version does. A block holding inf or NaN gets d = NaN
 * and q = 0, so the products come out NaN as float ones would. */
void loam_quantize_act_row(const float *x, int k, loam_act_block *out);

/* Reference: dot product of one weight row (k elements of type t) with
 * one quantized activation row. */
float loam_qdot_ref(loam_type t, const void *w_row, const loam_act_block *x, int k);
/* Whether the int8 path handles this weight type (and row length). */
int loam_qdot_supports(loam_type t, int k);

#endif
