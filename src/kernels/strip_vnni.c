/* The int8 product on weights repacked into strips (strips.h), AVX512-VNNI:
 *
 *   y[t, n] = sum_k x[t, k] W[n, k] (+ bias[n])    t < T, n0 <= n < n1
 *
 * The micro-kernel holds an MR × (16·NR) tile of the output: per block of
 * 32 and strip it loads the 4 vectors of nibbles once, splits each into
 * two vpdpbusd operands (low nibbles: elements 8v..8v+3 of the 16 rows,
 * high: 8v+4..8v+7) and multiplies them with every row's 4 activations,
 * broadcast. The -8 of Q4_0 is removed in integers by starting each
 * accumulator at -8 · (sum of the row's activations in the block); then one
 * convert and one multiply-add with (weight scale × activation scale) per
 * block. Registers: 12 float and 12 int32 accumulators, 6 unpacked vectors,
 * the mask: 31 of 32.
 *
 * Loops (GotoBLAS without the packing: the weights are packed already):
 * slabs of K whose NR strips fit a quarter of L2, blocks of rows whose
 * activations fit half of it, then each group of NR strips against every
 * group of MR rows, so a group's weights are read from memory once per
 * block of rows (once in all for a server's decode step).
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mf16c;
 * chosen only when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/strips.h"

enum { MR = 4, NR = 3, COLS = LOAM_STRIP_ROWS * NR, HALF_PAIR = 256 };

#define UNROLL _Pragma("GCC unroll 16")

/* mr rows × nr strips over blocks [i0, i0 + nblk): y = (accumulate ? y : 0) + x · W */
static inline __attribute__((always_inline)) void tile(int mr, int nr, const uint8_t *w, size_t sb, int i0, int nblk,
                                                       const loam_act_block *x, int nb, float *y, int ldy, int ncols,
                                                       int accumulate) {
    __m512 f[MR][NR];
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_setzero_ps();
    const __m512i low = _mm512_set1_epi8(15);
    for (int i = i0; i < i0 + nblk; i++) {
        const uint8_t *pair = w + (size_t)(i / 2) * LOAM_STRIP_PAIR_BYTES, *vec = pair + 64 + HALF_PAIR * (i % 2);
#ifndef STRIP_AHEAD
#define STRIP_AHEAD 2304
#endif
        if (STRIP_AHEAD && (i % 2 == 0 || i == i0))
            UNROLL for (int s = 0; s < nr; s++) UNROLL for (int l = 0; l < LOAM_STRIP_PAIR_BYTES / 64; l++)
                _mm_prefetch((const char *)pair + (size_t)s * sb + STRIP_AHEAD + 64 * l, _MM_HINT_T0);
        const loam_act_block *a[MR];
        __m512i acc[MR][NR];
        UNROLL for (int r = 0; r < mr; r++) {
            a[r] = x + (size_t)r * nb + i;
            __m512i start = _mm512_set1_epi32(-8 * a[r]->isum);
            UNROLL for (int s = 0; s < nr; s++) acc[r][s] = start;
        }
        UNROLL for (int v = 0; v < 4; v++) {
            __m512i lo[NR], hi[NR];
            UNROLL for (int s = 0; s < nr; s++) {
                __m512i z = _mm512_load_si512((const void *)(vec + (size_t)s * sb + 64 * v));
                lo[s] = _mm512_and_si512(z, low);
                hi[s] = _mm512_and_si512(_mm512_srli_epi16(z, 4), low);
            }
            UNROLL for (int r = 0; r < mr; r++) {
                int32_t q0, q1;
                memcpy(&q0, a[r]->q + 8 * v, 4);
                memcpy(&q1, a[r]->q + 8 * v + 4, 4);
                __m512i x0 = _mm512_set1_epi32(q0), x1 = _mm512_set1_epi32(q1);
                UNROLL for (int s = 0; s < nr; s++) acc[r][s] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc[r][s], lo[s], x0), hi[s], x1);
            }
        }
        __m512 dw[NR];
        UNROLL for (int s = 0; s < nr; s++) dw[s] = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(pair + (size_t)s * sb + 32 * (i % 2))));
        UNROLL for (int r = 0; r < mr; r++) {
            __m512 da = _mm512_set1_ps(a[r]->d);
            UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][s]), _mm512_mul_ps(dw[s], da), f[r][s]);
        }
    }
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int s = 0; s < nr; s++) {
        int left = ncols - LOAM_STRIP_ROWS * s;
        __mmask16 mask = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        float *out = y + (size_t)r * ldy + LOAM_STRIP_ROWS * s;
        __m512 sum = f[r][s];
        if (accumulate) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, out));
        _mm512_mask_storeu_ps(out, mask, sum);
    }
}

typedef void (*tile_fn)(const uint8_t *w, size_t sb, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy,
                        int ncols, int accumulate);
/* one function per (rows, strips): the loops above fully unrolled */
#define TILE_FN(ROWS, STRIPS)                                                                                             \
    static void tile_##ROWS##_##STRIPS(const uint8_t *w, size_t sb, int i0, int nblk, const loam_act_block *x, int nb,   \
                                       float *y, int ldy, int ncols, int accumulate) {                                   \
        tile(ROWS, STRIPS, w, sb, i0, nblk, x, nb, y, ldy, ncols, accumulate);                                           \
    }
#define TILE_ROWS(STRIPS) TILE_FN(1, STRIPS) TILE_FN(2, STRIPS) TILE_FN(3, STRIPS) TILE_FN(4, STRIPS)
TILE_ROWS(1)
TILE_ROWS(2)
TILE_ROWS(3)
static const tile_fn tiles[NR][MR] = {
    {tile_1_1, tile_2_1, tile_3_1, tile_4_1},
    {tile_1_2, tile_2_2, tile_3_2, tile_4_2},
    {tile_1_3, tile_2_3, tile_3_3, tile_4_3},
};

/* Blocks per slab (even: whole pairs) and rows per row block, from L2 (1 MiB where unknown). */
static void blocking(const loam_cache_sizes *c, int nb, int T, int *kb, int *mc) {
    int64_t l2 = c && c->l2 > 0 ? c->l2 : 1 << 20;
    int64_t k = (l2 / 4) / (NR * (LOAM_STRIP_PAIR_BYTES / 2)) / 2 * 2;
    *kb = k < 2 ? 2 : k >= nb ? nb : (int)k;
    int64_t m = (l2 / 2) / ((int64_t)*kb * (int64_t)sizeof(loam_act_block)) / MR * MR;
    *mc = m < MR ? MR : m > T ? T : (int)m;
}

void loam_strip_matmul_vnni(const loam_cache_sizes *caches, const loam_act_block *x, int T, int K, const void *strips, int n0,
                            int n1, float *y, int ldy, const float *bias) {
    int nb = K / 32, kb, mc;
    size_t sb = loam_strip_bytes(K);
    blocking(caches, nb, T, &kb, &mc);
    for (int pc = 0; pc < nb; pc += kb) {
        int nblk = nb - pc < kb ? nb - pc : kb;
        for (int ic = 0; ic < T; ic += mc) {
            int t1 = ic + mc < T ? ic + mc : T;
            for (int c0 = n0; c0 < n1; c0 += COLS) {
                int ncols = n1 - c0 < COLS ? n1 - c0 : COLS, nr = (ncols + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS;
                const uint8_t *w = (const uint8_t *)strips + (size_t)(c0 / LOAM_STRIP_ROWS) * sb;
                for (int t = ic; t < t1; t += MR) {
                    int mr = t1 - t < MR ? t1 - t : MR;
                    tiles[nr - 1][mr - 1](w, sb, pc, nblk, x + (size_t)t * nb, nb, y + (size_t)t * ldy + c0, ldy, ncols, pc > 0);
                }
                if (pc + nblk == nb) loam_add_bias(y + (size_t)ic * ldy, ldy, t1 - ic, bias, c0, c0 + ncols);
            }
        }
    }
}
#endif
