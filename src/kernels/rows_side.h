/* Decode where the core leaves prefetching to the hardware and the
 * activation row takes more than half of L1d (loam_rows_side in
 * kernels.h): LOAM_ROWS_SIDE float weight rows side by side, each
 * activation vector feeding that many FMAs, written once for every SIMD
 * level. Read one weight row at a time, the activation row is evicted by
 * the weights passing through L1 and comes back from L2 beside them. One
 * row against W from memory, AMD Zen 4, one thread, alternated, GOP/s (F16
 * and BF16 read one byte per op, F32 two), AVX-512:
 *   K = 8192 (x 32 KiB): F16 one row 10.2-13.3, four 17.9-20.1, eight
 *   21.3-25.4; BF16 11.1-13.1 / 19.9-21.1 / 21.4-25.7; F32 8.6-10.4 /
 *   11.9-13.4 / 10.7-12.7. AVX2: F16 11.5-12.7 / - / 22.4-23.6, BF16
 *   11.3-11.6 / - / 21.8-22.3, F32 9.1-9.4 / - / 13.8-14.0.
 *   K = 4096 (16 KiB): BF16 one row 26.0-27.5, eight 21.9-25.3; F32 and
 *   F16 within a few percent either way.
 *   K = 2048: BF16 and F32 one row faster (27-38 / 23-31, 13-16 / 11-12),
 *   F16 level (17-26 / 20-23).
 * Sixteen rows side by side read no faster than eight, twelve slower.
 *
 * The includer names, for its vectors of LANES floats: VEC (the type),
 * ZERO(), LOADU(p), FMA(a, b, c) (a * b + c), SUM(v) (the lanes' sum as a
 * float) and LOAD(w, i), weights i .. i + LANES - 1 of the type SUFFIX as a
 * VEC. K tails are summed in scalar code. */
#ifndef LOAM_KERNELS_ROWS_SIDE_H
#define LOAM_KERNELS_ROWS_SIDE_H
#include <stddef.h>
#include <stdint.h>

#include "core/fp16.h"
#include "kernels/kernels.h"

/* weight i of a row-major matrix of each float type, as a float */
static inline float loam_weight_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
static inline float loam_weight_bf16(const void *w, size_t i) { return loam_bf16_to_f32(((const uint16_t *)w)[i]); }
static inline float loam_weight_f16(const void *w, size_t i) { return loam_f16_to_f32(((const uint16_t *)w)[i]); }

#define LOAM_DEFINE_ROWS_SIDE(SUFFIX, VEC, LANES, ZERO, LOADU, FMA, SUM, LOAD)                        \
    static void rows_side_##SUFFIX(const float *x, int K, const void *w, int n, float *y) {            \
        VEC a[LOAM_ROWS_SIDE];                                                                         \
        _Pragma("GCC unroll 8") for (int r = 0; r < LOAM_ROWS_SIDE; r++) a[r] = ZERO();               \
        size_t r0 = (size_t)n * (size_t)K;                                                             \
        int k = 0;                                                                                     \
        for (; k + (LANES) <= K; k += (LANES)) {                                                       \
            VEC xv = LOADU(x + k);                                                                     \
            _Pragma("GCC unroll 8") for (int r = 0; r < LOAM_ROWS_SIDE; r++)                          \
                a[r] = FMA(xv, LOAD(w, r0 + (size_t)r * (size_t)K + (size_t)k), a[r]);                 \
        }                                                                                              \
        for (int r = 0; r < LOAM_ROWS_SIDE; r++) {                                                     \
            float s = SUM(a[r]);                                                                       \
            for (int kk = k; kk < K; kk++) s += x[kk] * loam_weight_##SUFFIX(w, r0 + (size_t)r * (size_t)K + (size_t)kk); \
            y[n + r] = s;                                                                              \
        }                                                                                              \
    }

/* One activation row against weight rows c0 .. c1 - 1: LOAM_ROWS_SIDE at a
 * time where `side` (loam_rows_side), the rest one at a time by the
 * includer's row1_SUFFIX(pf, x, K, w, n). */
#define LOAM_DEFINE_SINGLE_ROW(SUFFIX)                                                                 \
    static void single_row_##SUFFIX(int pf, int side, const float *x, int K, const void *w, int c0, int c1, float *y) { \
        int n = c0;                                                                                    \
        if (side)                                                                                      \
            for (; n + LOAM_ROWS_SIDE <= c1; n += LOAM_ROWS_SIDE) rows_side_##SUFFIX(x, K, w, n, y);   \
        for (; n < c1; n++) y[n] = row1_##SUFFIX(pf, x, K, w, n);                                      \
    }

#endif
