/* The blocked product for f32 activations and F16 / BF16 / F32 weights
 * with AVX2 (prefill of unquantized files on CPUs without AVX-512): the
 * loops of gemm_float.h with a strip of 16 weight columns converted to f32
 * and transposed to [k][16], and a 6 × 16 output tile in registers (12
 * accumulators, 2 weight vectors, the activation broadcast: 15 of the 16
 * ymm) — the shape of BLIS's Haswell kernel. Each FMA then needs no
 * conversion and no horizontal sum, which the row-dot kernel spends on
 * every weight vector.
 *
 * Built with -mavx2 -mfma -mf16c. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "core/fp16.h"
#include "kernels/gemm_float.h"
#include "kernels/panels.h"

enum { MR = 6, NV = 2, COLS = 8 * NV };
_Static_assert((int)COLS == (int)LOAM_PANEL_COLS, "a strip is one panel");

#define UNROLL _Pragma("GCC unroll 16")

/* r[i][j] -> r[j][i] for an 8 × 8 block of floats */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44), u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44), u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20), r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
}

/* 8 weights of one row from k on as f32; n < 8 of them (the rest zero) at a slab's end */
static inline __m256 load8(loam_type t, const void *row, int k, int n) {
    if (n == 8) {
        if (t == LOAM_T_F32) return _mm256_loadu_ps((const float *)row + k);
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
        if (t == LOAM_T_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        return _mm256_cvtph_ps(h);
    }
    float v[8] = {0};
    for (int i = 0; i < n; i++)
        v[i] = t == LOAM_T_F32    ? ((const float *)row)[k + i]
               : t == LOAM_T_BF16 ? loam_bf16_to_f32(((const uint16_t *)row)[k + i])
                                  : loam_f16_to_f32(((const uint16_t *)row)[k + i]);
    return _mm256_loadu_ps(v);
}

/* Columns c0 .. c0+ncols (the rest zero), k in [k0, k0 + kc), of W [N, K]
 * (rows ldw elements apart) into out[kc][16] as f32: 8 rows × 8 weights at
 * a time, read along the rows and transposed in registers. */
static void pack_strip(loam_type t, const void *w, int ldw, int c0, int ncols, int k0, int kc, float *out) {
    size_t esize = t == LOAM_T_F32 ? 4 : 2;
    for (int v = 0; v < NV; v++)
        for (int k = 0; k < kc; k += 8) {
            int n = kc - k < 8 ? kc - k : 8;
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                int c = 8 * v + i;
                r[i] = c < ncols ? load8(t, (const char *)w + (size_t)(c0 + c) * (size_t)ldw * esize, k0 + k, n) : _mm256_setzero_ps();
            }
            transpose8(r);
            for (int i = 0; i < n; i++) _mm256_store_ps(out + (size_t)(k + i) * COLS + 8 * v, r[i]);
        }
}

/* mr rows × one strip over kc: y = (accumulate ? y : 0) + x · strip */
static inline __attribute__((always_inline)) void tile(int mr, const float *strip, int kc, const float *x, int ldx, float *y,
                                                       int ldy, int ncols, int accumulate) {
    __m256 acc[MR][NV];
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 wv[NV];
        UNROLL for (int v = 0; v < NV; v++) wv[v] = _mm256_load_ps(strip + (size_t)k * COLS + 8 * v);
        UNROLL for (int r = 0; r < mr; r++) {
            __m256 xb = _mm256_broadcast_ss(x + (size_t)r * ldx + k);
            UNROLL for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(xb, wv[v], acc[r][v]);
        }
    }
    UNROLL for (int r = 0; r < mr; r++) {
        float *p = y + (size_t)r * ldy;
        if (ncols == COLS) {
            UNROLL for (int v = 0; v < NV; v++) {
                __m256 out = acc[r][v];
                if (accumulate) out = _mm256_add_ps(out, _mm256_loadu_ps(p + 8 * v));
                _mm256_storeu_ps(p + 8 * v, out);
            }
        } else {
            float v[COLS];
            UNROLL for (int i = 0; i < NV; i++) _mm256_storeu_ps(v + 8 * i, acc[r][i]);
            for (int c = 0; c < ncols; c++) p[c] = (accumulate ? p[c] : 0.0f) + v[c];
        }
    }
}

#define TILE_FN(ROWS)                                                                                         \
    static void tile_##ROWS(const float *strip, int kc, const float *x, int ldx, float *y, int ldy, int ncols, \
                            int accumulate) {                                                                 \
        tile(ROWS, strip, kc, x, ldx, y, ldy, ncols, accumulate);                                             \
    }                                                                                                         \
    static void panel_tile_##ROWS(const float *panel, size_t panel_floats, int kc, const float *x, int ldx, float *y, \
                                  int ldy, int ncols, int accumulate) {                                       \
        (void)panel_floats; /* one panel is the whole strip */                                                \
        tile(ROWS, panel, kc, x, ldx, y, ldy, ncols, accumulate);                                             \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)
static const gemm_f_tile_fn tiles[MR] = {tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};
static const gemm_panel_tile_fn panel_tiles[MR] = {panel_tile_1, panel_tile_2, panel_tile_3, panel_tile_4, panel_tile_5, panel_tile_6};
static const gemm_f_level level = {MR, COLS, pack_strip, tiles, panel_tiles, NULL};

void loam_gemm_f_avx2(const loam_cache_info *caches, const float *x, int ldx, int T, int K, const void *w, int ldw,
                      loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_f_level lv = level;
    lv.row_dot = loam_kernels_avx2.matmul;
    gemm_f_blocked(&lv, caches, x, ldx, T, K, w, ldw, wtype, n0, n1, y, ldy, bias);
}

/* A panel (panels.h) is what pack_strip makes of one strip: the tiles run
 * on the panels as they are. */
void loam_gemm_panels_avx2(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy) {
    gemm_panels_blocked(&level, x, ldx, T, K, panels, panel_k, N, y, ldy);
}
#endif
