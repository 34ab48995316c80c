/* The shape every ggml block type is read as, 32 weights at a time
 * (unpack32.h): w[j] = dw[j / 16] * (u[j] - o) + mw[j / 16]. Plain C, so
 * that code built without SIMD (benchmarks) can ask a type's shape too. */
#ifndef LOAM_KERNELS_UNPACK_SHAPE_H
#define LOAM_KERNELS_UNPACK_SHAPE_H
#include "core/tensor.h"

typedef struct {
    int offset;  /* o */
    int sub16;   /* scales per 16 weights (else per 32) */
    int has_min; /* mw is not always 0 */
    int umax;    /* the largest u */
} loam_unpack_shape;

static inline int loam_unpack_shape_of(loam_type t, loam_unpack_shape *s) {
    switch (t) {
    case LOAM_T_Q4_0: *s = (loam_unpack_shape){8, 0, 0, 15}; return 1;
    case LOAM_T_Q5_0: *s = (loam_unpack_shape){16, 0, 0, 31}; return 1;
    case LOAM_T_Q8_0: case LOAM_T_IQ4_NL: *s = (loam_unpack_shape){128, 0, 0, 255}; return 1;
    case LOAM_T_Q4_1: case LOAM_T_Q4_K: *s = (loam_unpack_shape){0, 0, 1, 15}; return 1;
    case LOAM_T_Q5_1: case LOAM_T_Q5_K: *s = (loam_unpack_shape){0, 0, 1, 31}; return 1;
    case LOAM_T_Q6_K: *s = (loam_unpack_shape){32, 1, 0, 63}; return 1;
    case LOAM_T_Q3_K: *s = (loam_unpack_shape){4, 1, 0, 7}; return 1;
    case LOAM_T_Q2_K: *s = (loam_unpack_shape){0, 1, 1, 3}; return 1;
    default: return 0;
    }
}

#endif
