/* The blocked product for f32 activations and F16 / BF16 / F32 weights
 * with AVX-512 (prefill of unquantized files, encoders):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k]      t < T, n0 <= n < n1
 *
 * The GotoBLAS / BLIS structure: a strip of 64 weight columns × a slab of
 * K is converted to f32 once and transposed to [k][64 columns], then every
 * activation row runs against it in a micro-kernel that holds a 6 × 64
 * tile of the output in registers (24 accumulators, 4 weight vectors, the
 * activation broadcast from memory: 29 of the 32 zmm). Each FMA then needs
 * no conversion and no horizontal sum, which the row-dot kernel
 * (matmul_avx512.c) spends on every weight vector of every tile. Sizes
 * from the L2 read at run time: the strip's slab and the activation rows'
 * slab each fit a quarter of it.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma -mf16c. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/gemm_float.h"
#include "kernels/panels.h"
#include "kernels/transpose16.h"

enum { MR = 6, NV = 4, COLS = 16 * NV };

#define UNROLL _Pragma("GCC unroll 16")

/* 16 weights of one row from k on (m: which), as f32 */
static inline __m512 load16(loam_type t, const void *row, int k, __mmask16 m) {
    if (t == LOAM_T_F32) return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k);
    if (t == LOAM_T_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Columns c0 .. c0+ncols (the rest zero), k in [k0, k0 + kc), of W [N, K]
 * (rows ldw elements apart) into out[kc][64] as f32: 16 rows × 16 weights
 * at a time, read along the rows (each row streams in order) and
 * transposed in registers. */
static void pack_strip(loam_type t, const void *w, int ldw, int c0, int ncols, int k0, int kc, float *out) {
    size_t esize = t == LOAM_T_F32 ? 4 : 2;
    for (int v = 0; v < NV; v++)
        for (int k = 0; k < kc; k += 16) {
            __mmask16 m = kc - k >= 16 ? 0xFFFF : (__mmask16)((1u << (kc - k)) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int c = 16 * v + i;
                r[i] = c < ncols ? load16(t, (const char *)w + (size_t)(c0 + c) * (size_t)ldw * esize, k0 + k, m) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int i = 0; i < 16 && k + i < kc; i++) _mm512_store_ps(out + (size_t)(k + i) * COLS + 16 * v, r[i]);
        }
}

/* mr rows × nv (<= NV) vectors of 16 columns over kc: y = (accumulate ? y :
 * 0) + x · B, column vector v of row k of B at w[v] + k · kstride (a packed
 * strip: w[v] = strip + 16v, kstride 64; panels: one panel each, kstride 16) */
static inline __attribute__((always_inline)) void tile(int mr, int nv, const float *const w[NV], size_t kstride, int kc,
                                                       const float *x, int ldx, float *y, int ldy, int ncols, int accumulate) {
    __m512 acc[MR][NV];
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 wv[NV];
        UNROLL for (int v = 0; v < nv; v++) wv[v] = _mm512_load_ps(w[v] + (size_t)k * kstride);
        UNROLL for (int r = 0; r < mr; r++) {
            __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + k]);
            UNROLL for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    UNROLL for (int v = 0; v < nv; v++) {
        int left = ncols - 16 * v;
        __mmask16 m = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        UNROLL for (int r = 0; r < mr; r++) {
            float *p = y + (size_t)r * ldy + 16 * v;
            __m512 out = acc[r][v];
            if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, p));
            _mm512_mask_storeu_ps(p, m, out);
        }
    }
}

#define TILE_FN(ROWS)                                                                                         \
    static void tile_##ROWS(const float *strip, int kc, const float *x, int ldx, float *y, int ldy, int ncols, \
                            int accumulate) {                                                                 \
        const float *const w[NV] = {strip, strip + 16, strip + 32, strip + 48};                               \
        tile(ROWS, NV, w, COLS, kc, x, ldx, y, ldy, ncols, accumulate);                                       \
    }                                                                                                         \
    static void panel_tile_##ROWS(const float *panel, size_t panel_floats, int kc, const float *x, int ldx, float *y, \
                                  int ldy, int ncols, int accumulate) {                                       \
        /* as many panels as hold ncols columns (a head of 80: the values' last group is one panel; Phi-2  \
         * pp512, the panel tiles' samples 7.8% -> 6.6% of the int8 tile's) */                               \
        int last = (ncols - 1) / LOAM_PANEL_COLS;                                                             \
        const float *const w[NV] = {panel, panel + (last < 1 ? last : 1) * panel_floats,                      \
                                    panel + (last < 2 ? last : 2) * panel_floats, panel + (last < 3 ? last : 3) * panel_floats}; \
        if (last == 0) tile(ROWS, 1, w, LOAM_PANEL_COLS, kc, x, ldx, y, ldy, ncols, accumulate);              \
        else if (last == 1) tile(ROWS, 2, w, LOAM_PANEL_COLS, kc, x, ldx, y, ldy, ncols, accumulate);         \
        else if (last == 2) tile(ROWS, 3, w, LOAM_PANEL_COLS, kc, x, ldx, y, ldy, ncols, accumulate);         \
        else tile(ROWS, NV, w, LOAM_PANEL_COLS, kc, x, ldx, y, ldy, ncols, accumulate);                       \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)
static const gemm_f_tile_fn tiles[MR] = {tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};
static const gemm_panel_tile_fn panel_tiles[MR] = {panel_tile_1, panel_tile_2, panel_tile_3, panel_tile_4, panel_tile_5, panel_tile_6};
static const gemm_f_level level = {MR, COLS, pack_strip, tiles, panel_tiles, NULL};

void loam_gemm_f_avx512(const loam_cache_info *caches, const float *x, int ldx, int T, int K, const void *w, int ldw,
                        loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_f_level lv = level;
    lv.row_dot = loam_kernels_avx512.matmul;
    gemm_f_blocked(&lv, caches, x, ldx, T, K, w, ldw, wtype, n0, n1, y, ldy, bias);
}

/* Four panels (panels.h) side by side make a strip's 64 columns. */
void loam_gemm_panels_avx512(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy) {
    gemm_panels_blocked(&level, x, ldx, T, K, panels, panel_k, N, y, ldy);
}
#endif
