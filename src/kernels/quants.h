/* ggml block-quantized formats. */
#ifndef LOAM_KERNELS_QUANTS_H
#define LOAM_KERNELS_QUANTS_H
#include <stdint.h>

#include "core/tensor.h"

/* k elements (a multiple of the block) of a quantized row into f32,
 * bit-identical to ggml's dequantization. */
void loam_dequantize_row(loam_type t, const void *src, int64_t k, float *y);

/* k f32 values into one row of type t (F32, F16, BF16, Q8_0, Q4_0, Q5_0,
 * Q4_K, Q6_K) with ggml's reference quantizers. 0 if t or k is not
 * supported. */
int loam_quantize_row(loam_type t, const float *x, int64_t k, void *out);

#endif
