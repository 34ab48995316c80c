/* The blocked int8 matrix product for AVX512-VNNI (prefill, encoders):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k]      t < T, n0 <= n < n1
 *
 * The GotoBLAS / BLIS structure. A panel of weight columns × a slab of K
 * is unpacked once from its block format (unpack32.h) into strips of 48
 * columns that vpdpbusd reads directly: per 32-weight block, for each
 * group of 4 weights ("quad") three zmm of [16 columns][4 bytes], then the
 * block's scales and mins as floats. Every activation row of the slab then
 * runs against each strip, 4 rows at a time, in a micro-kernel that holds
 * a 4 × 48 tile of the output in registers (12 float accumulators, 12 int32
 * ones, 3 weight vectors: 27 of the 32 zmm). Sizes from the L2 size read at
 * run time: a strip's slab of K, the rows' slab of activations and the
 * panel each fit a quarter of it. (A strip sized for L1 was measured: on
 * a Zen 4 the strip streams from L2 as fast, and the longer slab halves
 * the tile's fixed costs — 8% more at 512×2048×2048.)
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
#include "kernels/unpack32.h"

enum { MR = 4, NR = 3, STRIP = 16 * NR, QUAD_BYTES = 32 * STRIP };

/* bytes of one 32-block of a strip: the quads, then dw[nsub][48] and mw[nsub][48] */
static size_t strip_block_bytes(const loam_unpack_shape *s) {
    return QUAD_BYTES + (size_t)(s->sub16 ? 2 : 1) * (s->has_min ? 2 : 1) * STRIP * sizeof(float);
}

/* Columns c0 .. c0+ncols (ncols <= 48; the rest of the strip is zero) and
 * blocks b0 .. b0+nblk of W into one strip. */
static void pack_strip(loam_type t, const loam_unpack_shape *s, const uint8_t *w, size_t row_bytes, int c0, int ncols,
                       int b0, int nblk, uint8_t *out) {
    size_t sbb = strip_block_bytes(s);
    int nsub = s->sub16 ? 2 : 1;
    _Alignas(64) uint8_t u[STRIP][32];
    const __m512i lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(32));
    for (int i = 0; i < nblk; i++) {
        uint8_t *o = out + (size_t)i * sbb;
        float *dw = (float *)(o + QUAD_BYTES), *mw = dw + nsub * STRIP;
        for (int c = 0; c < STRIP; c++) {
            float d2[2] = {0, 0}, m2[2] = {0, 0};
            __m256i v = _mm256_setzero_si256();
            if (c < ncols) v = loam_unpack32(t, w + (size_t)(c0 + c) * row_bytes, b0 + i, d2, m2);
            _mm256_store_si256((__m256i *)u[c], v);
            for (int h = 0; h < nsub; h++) {
                dw[h * STRIP + c] = d2[h];
                if (s->has_min) mw[h * STRIP + c] = m2[h];
            }
        }
        /* transpose: quad q of vector v holds bytes 4q..4q+3 of columns 16v..16v+15 */
        for (int q = 0; q < 8; q++)
            for (int v = 0; v < NR; v++)
                _mm512_store_si512((__m512i *)(o + (size_t)(q * NR + v) * 64),
                                   _mm512_i32gather_epi32(lanes, (const void *)&u[16 * v][4 * q], 1));
    }
}

/* every loop of the micro-kernel has constant bounds: unrolled, its arrays live in registers */
#define UNROLL _Pragma("GCC unroll 16")

/* the activation sum of half h of a block (or of all of it) */
static inline int32_t act_sum(const loam_act_block *a, int sub16, int h) {
    return !sub16 ? a->isum : h == 0 ? a->isum_lo : a->isum - a->isum_lo;
}

/* mr (<= 4) rows × one strip over nblk blocks: y = (accumulate ? y : 0) + x · strip */
static inline __attribute__((always_inline)) void tile(int mr, int sub16, int has_min, int offset, const uint8_t *strip,
                                                       size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,
                                                       int ldy, const __mmask16 *mask, int accumulate) {
    __m512 f[MR][NR];
    UNROLL for (int r = 0; r < mr; r++)
        UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_setzero_ps();
    int nsub = sub16 ? 2 : 1, quads = 8 / nsub;
    for (int i = 0; i < nblk; i++) {
        const uint8_t *o = strip + (size_t)i * sbb;
        const float *dw = (const float *)(o + QUAD_BYTES), *mw = dw + nsub * STRIP;
        const loam_act_block *a[MR];
        UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        UNROLL for (int h = 0; h < nsub; h++) {
            __m512i acc[MR][NR];
            UNROLL for (int r = 0; r < mr; r++) {
                __m512i init = _mm512_set1_epi32(-offset * act_sum(a[r], sub16, h));
                UNROLL for (int v = 0; v < NR; v++) acc[r][v] = init;
            }
            UNROLL for (int q = h * quads; q < (h + 1) * quads; q++) {
                __m512i wv[NR];
                UNROLL for (int v = 0; v < NR; v++) wv[v] = _mm512_load_si512((const void *)(o + (size_t)(q * NR + v) * 64));
                UNROLL for (int r = 0; r < mr; r++) {
                    int32_t four;
                    memcpy(&four, a[r]->q + 4 * q, 4);
                    __m512i xb = _mm512_set1_epi32(four);
                    UNROLL for (int v = 0; v < NR; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], wv[v], xb);
                }
            }
            UNROLL for (int r = 0; r < mr; r++) {
                __m512 da = _mm512_set1_ps(a[r]->d);
                UNROLL for (int v = 0; v < NR; v++)
                    f[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), _mm512_mul_ps(_mm512_load_ps(dw + h * STRIP + 16 * v), da),
                                              f[r][v]);
                if (has_min) {
                    __m512 ds = _mm512_set1_ps(a[r]->d * (float)act_sum(a[r], sub16, h));
                    UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_fmadd_ps(_mm512_load_ps(mw + h * STRIP + 16 * v), ds, f[r][v]);
                }
            }
        }
    }
    UNROLL for (int r = 0; r < mr; r++)
        UNROLL for (int v = 0; v < NR; v++) {
            float *p = y + (size_t)r * ldy + 16 * v;
            __m512 out = f[r][v];
            if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask[v], p));
            _mm512_mask_storeu_ps(p, mask[v], out);
        }
}

/* one function per (scale layout, mins, rows): the loops above fully unrolled */
#define TILE_FN(name, SUB16, MIN, ROWS)                                                                                   \
    static void name(int offset, const uint8_t *strip, size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,  \
                     int ldy, const __mmask16 *mask, int accumulate) {                                                   \
        tile(ROWS, SUB16, MIN, offset, strip, sbb, nblk, x, nb, y, ldy, mask, accumulate);                               \
    }
#define TILE_FNS(kind, SUB16, MIN)                                                                                        \
    TILE_FN(kind##_1, SUB16, MIN, 1) TILE_FN(kind##_2, SUB16, MIN, 2) TILE_FN(kind##_3, SUB16, MIN, 3)                 \
        TILE_FN(kind##_4, SUB16, MIN, 4)
TILE_FNS(tile32, 0, 0)
TILE_FNS(tile32m, 0, 1)
TILE_FNS(tile16, 1, 0)
TILE_FNS(tile16m, 1, 1)

typedef void (*tile_fn)(int, const uint8_t *, size_t, int, const loam_act_block *, int, float *, int, const __mmask16 *, int);
static const tile_fn tiles[4][MR] = {
    {tile32_1, tile32_2, tile32_3, tile32_4},
    {tile32m_1, tile32m_2, tile32m_3, tile32m_4},
    {tile16_1, tile16_2, tile16_3, tile16_4},
    {tile16m_1, tile16m_2, tile16m_3, tile16m_4},
};

/* Slab, panel and row-block sizes from the caches (defaults where unknown). */
static void blocking(const loam_cache_sizes *c, size_t sbb, int nb, int T, int *kb, int *panel_strips, int *mc) {
    int64_t l2 = c && c->l2 > 0 ? c->l2 : 512 << 10;
    int64_t k = (l2 / 4) / (int64_t)sbb;
    *kb = k < 1 ? 1 : k > nb ? nb : (int)k;
    int64_t p = (l2 / 4) / ((int64_t)*kb * (int64_t)sbb);
    *panel_strips = p < 1 ? 1 : p > 64 ? 64 : (int)p;
    int64_t m = (l2 / 4) / ((int64_t)*kb * (int64_t)sizeof(loam_act_block)) / MR * MR;
    *mc = m < MR ? MR : m > T ? T : (int)m;
}

void loam_gemm_q8_vnni(const loam_cache_sizes *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy) {
    loam_unpack_shape s;
    if (!loam_unpack_shape_of(wtype, &s)) return;
    int nb = K / 32, kb, panel_strips, mc;
    size_t sbb = strip_block_bytes(&s), row_bytes = loam_row_bytes(wtype, K);
    blocking(caches, sbb, nb, T, &kb, &panel_strips, &mc);
    uint8_t *panel = aligned_alloc(64, (size_t)panel_strips * (size_t)kb * sbb);
    if (!panel) { /* the unblocked path needs no memory of its size */
        loam_qmatmul_vnni(x, T, K, w, wtype, n0, n1, y, ldy);
        return;
    }
    const tile_fn *fns = tiles[(s.sub16 ? 2 : 0) + (s.has_min ? 1 : 0)];
    for (int jc = n0; jc < n1; jc += panel_strips * STRIP) {
        int strips = (n1 - jc + STRIP - 1) / STRIP;
        strips = strips > panel_strips ? panel_strips : strips;
        for (int pc = 0; pc < nb; pc += kb) {
            int nblk = nb - pc < kb ? nb - pc : kb;
            size_t strip_bytes = (size_t)nblk * sbb;
            for (int j = 0; j < strips; j++) {
                int c0 = jc + j * STRIP, ncols = n1 - c0 < STRIP ? n1 - c0 : STRIP;
                pack_strip(wtype, &s, w, row_bytes, c0, ncols, pc, nblk, panel + (size_t)j * strip_bytes);
            }
            for (int ic = 0; ic < T; ic += mc) {
                int t1 = ic + mc < T ? ic + mc : T;
                for (int j = 0; j < strips; j++) {
                    int c0 = jc + j * STRIP, ncols = n1 - c0 < STRIP ? n1 - c0 : STRIP;
                    __mmask16 mask[NR];
                    for (int v = 0; v < NR; v++) {
                        int left = ncols - 16 * v;
                        mask[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
                    }
                    for (int t = ic; t < t1; t += MR) {
                        int mr = t1 - t < MR ? t1 - t : MR;
                        fns[mr - 1](s.offset, panel + (size_t)j * strip_bytes, sbb, nblk, x + (size_t)t * nb + pc, nb,
                                    y + (size_t)t * ldy + c0, ldy, mask, pc > 0);
                    }
                }
            }
        }
    }
    free(panel);
}
#endif
