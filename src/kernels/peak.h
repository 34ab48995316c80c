/* Short loops of the instructions the products are built from, with enough
 * independent accumulators to fill the pipelines: what one core can do at
 * most, measured rather than taken from a data sheet. Each runs `iters`
 * steps and returns the operations done (a multiply-add counts 2). */
#ifndef LOAM_KERNELS_PEAK_H
#define LOAM_KERNELS_PEAK_H
#include "kernels/kernels.h"

typedef enum { LOAM_PEAK_F32, LOAM_PEAK_INT8, LOAM_PEAK_BF16 } loam_peak_kind; /* BF16: vdpbf16ps (--bf16-dot) */

double loam_peak_loop_scalar(loam_peak_kind kind, long iters);
#if defined(__x86_64__)
double loam_peak_loop_avx2(loam_peak_kind kind, long iters);   /* FMA ymm; maddubs + madd ymm */
double loam_peak_loop_avxvnni(long iters);                      /* vpdpbusd ymm (AVX-VNNI) */
double loam_peak_loop_avx512(loam_peak_kind kind, long iters); /* FMA zmm; vpdpbusd zmm (VNNI) */
double loam_peak_loop_bf16(long iters);                         /* vdpbf16ps zmm (AVX512-BF16) */
#endif
/* The issue bound of the int8 tiles with a float epilogue (gemm_vnni.c,
 * gemm_avxvnni.c): `epilogue` float multiply-adds per 8 vpdpbusd take
 * issue slots that vpdpbusd would use where the two share their ports (on
 * Intel's cores, ports 0 and 5 at 512 bits). The loop interleaves
 * vpdpbusd chains with `epilogue` (2..6) FMAs per 8 of them, each FMA in
 * a chain of its own, and returns the vpdpbusd operations only; 0 where
 * the level has no such tile. */
double loam_bound_loop(loam_simd level, int epilogue, long iters);
double loam_bound_loop_avx512(int epilogue, long iters);  /* zmm, needs VNNI */
double loam_bound_loop_avxvnni(int epilogue, long iters); /* ymm, needs AVX-VNNI */
/* A type's epilogue in those tiles per 8 vpdpbusd (one 32-block of one
 * accumulator): da · sum and dw · that, a third for mins, all twice for
 * half-block scales; 0 for types they do not run. */
int loam_tile_epilogue(loam_type t);
/* The loop for a level (the int8 one is vpdpbusd's only where the CPU has VNNI / AVX-VNNI). */
double loam_peak_loop(loam_simd level, loam_peak_kind kind, long iters);
/* What the loop of a level names itself, for reports ("avx2 maddubs"). */
const char *loam_peak_label(loam_simd level, loam_peak_kind kind);

#endif
