/* The blocked int8 matrix product for AVX512-VNNI (prefill, encoders):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k]      t < T, n0 <= n < n1
 *
 * The GotoBLAS / BLIS structure of gemm_pack.h, with strips of 48
 * columns (3 zmm of 16) and a micro-kernel that holds a 4 × 48 tile of the
 * output in registers (12 float accumulators, 12 int32 ones, 3 weight
 * vectors: 27 of the 32 zmm).
 *
 * Per 32-block and tile: 96 vpdpbusd, whose activation operand is a
 * broadcast from memory, then per accumulator a convert and one multiply-add
 * with (weight scale × activation scale) — and one more for types with
 * mins. The weights' offset o is removed in integers by starting each
 * accumulator at -o · (sum of the row's activations in the block).
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mf16c;
 * chosen only when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/gemm_pack.h"

enum { MR = 4, NR = 3, STRIP = 16 * NR, QUAD_BYTES = 32 * STRIP };

/* mr (<= 4) rows × one strip over nblk blocks: y = (accumulate ? y : 0) + x · strip */
static inline __attribute__((always_inline)) void tile(int mr, int sub16, int has_min, int offset, const uint8_t *strip,
                                                       size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,
                                                       int ldy, int ncols, int accumulate) {
    __m512 f[MR][NR];
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_setzero_ps();
    int nsub = sub16 ? 2 : 1, quads = 8 / nsub;
    for (int i = 0; i < nblk; i++) {
        const uint8_t *o = strip + (size_t)i * sbb;
        const float *dw = (const float *)(o + QUAD_BYTES), *mw = dw + nsub * STRIP;
        const loam_act_block *a[MR];
        GEMM_UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        GEMM_UNROLL for (int h = 0; h < nsub; h++) {
            __m512i acc[MR][NR];
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m512i init = _mm512_set1_epi32(-offset * gemm_act_sum(a[r], sub16, h));
                GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = init;
            }
            GEMM_UNROLL for (int q = h * quads; q < (h + 1) * quads; q++) {
                __m512i wv[NR];
                GEMM_UNROLL for (int v = 0; v < NR; v++) wv[v] = _mm512_load_si512((const void *)(o + (size_t)(q * NR + v) * 64));
                GEMM_UNROLL for (int r = 0; r < mr; r++) {
                    int32_t four;
                    memcpy(&four, a[r]->q + 4 * q, 4);
                    __m512i xb = _mm512_set1_epi32(four);
                    GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], wv[v], xb);
                }
            }
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m512 da = _mm512_set1_ps(a[r]->d);
                GEMM_UNROLL for (int v = 0; v < NR; v++)
                    f[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), _mm512_mul_ps(_mm512_load_ps(dw + h * STRIP + 16 * v), da),
                                              f[r][v]);
                if (has_min) {
                    __m512 ds = _mm512_set1_ps(a[r]->d * (float)gemm_act_sum(a[r], sub16, h));
                    GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_fmadd_ps(_mm512_load_ps(mw + h * STRIP + 16 * v), ds, f[r][v]);
                }
            }
        }
    }
    __mmask16 mask[NR];
    GEMM_UNROLL for (int v = 0; v < NR; v++) {
        int left = ncols - 16 * v;
        mask[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NR; v++) {
            float *p = y + (size_t)r * ldy + 16 * v;
            __m512 out = f[r][v];
            if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask[v], p));
            _mm512_mask_storeu_ps(p, mask[v], out);
        }
}

/* one function per (scale layout, mins, rows): the loops above fully unrolled */
#define TILE_FN(name, SUB16, MIN, ROWS)                                                                                   \
    static void name(int offset, const uint8_t *strip, size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,  \
                     int ldy, int ncols, int accumulate) {                                                               \
        tile(ROWS, SUB16, MIN, offset, strip, sbb, nblk, x, nb, y, ldy, ncols, accumulate);                              \
    }
#define TILE_FNS(kind, SUB16, MIN)                                                                                        \
    TILE_FN(kind##_1, SUB16, MIN, 1) TILE_FN(kind##_2, SUB16, MIN, 2) TILE_FN(kind##_3, SUB16, MIN, 3)                 \
        TILE_FN(kind##_4, SUB16, MIN, 4)
TILE_FNS(tile32, 0, 0)
TILE_FNS(tile32m, 0, 1)
TILE_FNS(tile16, 1, 0)
TILE_FNS(tile16m, 1, 1)

static const gemm_tile_fn tiles[4][MR] = {
    {tile32_1, tile32_2, tile32_3, tile32_4},
    {tile32m_1, tile32m_2, tile32m_3, tile32m_4},
    {tile16_1, tile16_2, tile16_3, tile16_4},
    {tile16m_1, tile16m_2, tile16m_3, tile16m_4},
};

void loam_gemm_q8_vnni(const loam_cache_sizes *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (!gemm_format_for(wtype, 16, NR, 0, &f)) return;
    const gemm_tile_fn *fns = tiles[(f.shape.sub16 ? 2 : 0) + (f.shape.has_min ? 1 : 0)];
    if (!gemm_run(&f, fns, MR, caches, x, T, K, w, wtype, n0, n1, y, ldy, bias)) {
        loam_qmatmul_vnni(x, T, K, w, wtype, n0, n1, y, ldy); /* no memory for a panel: the unblocked path needs none */
        loam_add_bias(y, ldy, T, bias, n0, n1);
    }
}
#endif
