/* ggml block-quantized formats. */
#ifndef LOAM_KERNELS_QUANTS_H
#define LOAM_KERNELS_QUANTS_H
#include <stdint.h>

#include "../core/tensor.h"

/* k elements (a multiple of the block) of a quantized row into f32,
 * bit-identical to ggml's dequantization. */
void loam_dequantize_row(loam_type t, const void *src, int64_t k, float *y);

#endif
