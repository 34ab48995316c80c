/* The blocked int8 matrix product for AVX2 (CPUs without VNNI):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k]      t < T, n0 <= n < n1
 *
 * The GotoBLAS / BLIS structure of gemm_pack.h, with strips of 16 columns
 * (2 ymm of 8) and a 2 × 16 output tile, since 16 ymm registers hold 4
 * float accumulators, 4 int32 ones, 4 int16 partial sums, 2 weight
 * vectors and the broadcast activations.
 *
 * vpmaddubsw multiplies unsigned weight bytes with signed activation bytes
 * and adds pairs into int16 (saturating), so its int16 results are summed
 * over as many quads as cannot overflow — 8 for 4-bit weights, 4 for
 * 5-bit, 2 for Q6_K's 6-bit — before one vpmaddwd widens them to int32.
 * The 8-bit types (Q8_0, IQ4_NL) are packed as signed bytes and multiplied
 * as |w| · sign(x, w), one quad at a time: a single pair of 255 · 127
 * would saturate.
 *
 * Built with -mavx2 -mfma -mf16c; chosen only when CPUID reports AVX2. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels/gemm_pack.h"

enum { MR = 2, NR = 2, STRIP = 8 * NR };

/* mr (<= 2) rows × one strip over nblk blocks; F quads summed in int16 */
static inline __attribute__((always_inline)) void tile(int mr, int sub16, int has_min, int F, int sign, int offset,
                                                       const uint8_t *strip, size_t sbb, int nblk, const loam_act_block *x,
                                                       int nb, float *y, int ldy, int ncols, int accumulate, const float *bias) {
    __m256 f[MR][NR];
    const __m256i ones = _mm256_set1_epi16(1);
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm256_setzero_ps();
    int nsub = sub16 ? 2 : 1, quads = 8 / nsub;
    for (int i = 0; i < nblk; i++) {
        const uint8_t *o = strip + (size_t)i * sbb;
        const float *dw = (const float *)(o + 32 * STRIP), *mw = dw + nsub * STRIP;
        const loam_act_block *a[MR];
        GEMM_UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        GEMM_UNROLL for (int h = 0; h < nsub; h++) {
            __m256i acc[MR][NR];
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m256i init = _mm256_set1_epi32(-offset * gemm_act_sum(a[r], sub16, h));
                GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = init;
            }
            GEMM_UNROLL for (int q0 = h * quads; q0 < (h + 1) * quads; q0 += F) {
                __m256i s16[MR][NR];
                GEMM_UNROLL for (int q = q0; q < q0 + F; q++) {
                    __m256i wv[NR];
                    GEMM_UNROLL for (int v = 0; v < NR; v++) wv[v] = _mm256_load_si256((const __m256i *)(o + (size_t)(q * NR + v) * 32));
                    GEMM_UNROLL for (int r = 0; r < mr; r++) {
                        int32_t four;
                        memcpy(&four, a[r]->q + 4 * q, 4);
                        __m256i xb = _mm256_set1_epi32(four);
                        GEMM_UNROLL for (int v = 0; v < NR; v++) {
                            __m256i p = sign ? _mm256_maddubs_epi16(_mm256_abs_epi8(wv[v]), _mm256_sign_epi8(xb, wv[v]))
                                             : _mm256_maddubs_epi16(wv[v], xb);
                            s16[r][v] = q == q0 ? p : _mm256_add_epi16(s16[r][v], p);
                        }
                    }
                }
                GEMM_UNROLL for (int r = 0; r < mr; r++)
                    GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(s16[r][v], ones));
            }
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m256 da = _mm256_set1_ps(a[r]->d);
                GEMM_UNROLL for (int v = 0; v < NR; v++)
                    f[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][v]), _mm256_mul_ps(_mm256_load_ps(dw + h * STRIP + 8 * v), da), f[r][v]);
                if (has_min) {
                    __m256 ds = _mm256_set1_ps(a[r]->d * (float)gemm_act_sum(a[r], sub16, h));
                    GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm256_fmadd_ps(_mm256_load_ps(mw + h * STRIP + 8 * v), ds, f[r][v]);
                }
            }
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    GEMM_UNROLL for (int v = 0; v < NR; v++) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols - 8 * v), lane);
        GEMM_UNROLL for (int r = 0; r < mr; r++) {
            float *p = y + (size_t)r * ldy + 8 * v;
            __m256 out = f[r][v];
            if (accumulate) out = _mm256_add_ps(out, _mm256_maskload_ps(p, mask));
            if (bias) out = _mm256_add_ps(out, _mm256_maskload_ps(bias + 8 * v, mask));
            _mm256_maskstore_ps(p, mask, out);
        }
    }
}

/* one function per kind (scale layout, mins, int16 run, sign trick) and rows */
#define TILE_FN(name, SUB16, MIN, F, SIGN, ROWS)                                                                          \
    static void name(int offset, const uint8_t *strip, size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,  \
                     int ldy, int ncols, int accumulate, const float *bias) {                                            \
        tile(ROWS, SUB16, MIN, F, SIGN, offset, strip, sbb, nblk, x, nb, y, ldy, ncols, accumulate, bias);              \
    }
#define KIND(name, SUB16, MIN, F, SIGN) TILE_FN(name##_1, SUB16, MIN, F, SIGN, 1) TILE_FN(name##_2, SUB16, MIN, F, SIGN, 2)
KIND(k32_f8, 0, 0, 8, 0)
KIND(k32_f4, 0, 0, 4, 0)
KIND(k32_sign, 0, 0, 1, 1)
KIND(k32m_f8, 0, 1, 8, 0)
KIND(k32m_f4, 0, 1, 4, 0)
KIND(k16_f4, 1, 0, 4, 0)
KIND(k16_f2, 1, 0, 2, 0)
KIND(k16m_f4, 1, 1, 4, 0)

static const struct {
    int sub16, has_min, F, sign;
    gemm_tile_fn fns[MR];
} kinds[] = {
    {0, 0, 8, 0, {k32_f8_1, k32_f8_2}},   {0, 0, 4, 0, {k32_f4_1, k32_f4_2}},   {0, 0, 1, 1, {k32_sign_1, k32_sign_2}},
    {0, 1, 8, 0, {k32m_f8_1, k32m_f8_2}}, {0, 1, 4, 0, {k32m_f4_1, k32m_f4_2}}, {1, 0, 4, 0, {k16_f4_1, k16_f4_2}},
    {1, 0, 2, 0, {k16_f2_1, k16_f2_2}},   {1, 1, 4, 0, {k16m_f4_1, k16m_f4_2}},
};

void loam_gemm_q8_avx2(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (!gemm_format_for(wtype, 8, NR, GEMM_BYTES_SIGNED, &f)) return;
    gemm_stored stored = {wtype, w, loam_row_bytes(wtype, K)};
    /* the longest run of quads whose int16 sums stay below 2^15: each vpmaddubsw adds two products */
    int quads = f.shape.sub16 ? 4 : 8, F = 32767 / (2 * f.shape.umax * 127);
    F = F >= quads ? quads : F >= 4 ? 4 : F >= 2 ? 2 : 1;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (kinds[k].sub16 == f.shape.sub16 && kinds[k].has_min == f.shape.has_min && kinds[k].F == F &&
            kinds[k].sign == f.signed_w) {
            if (gemm_run(&f, kinds[k].fns, MR, caches, x, T, K, gemm_pack_stored, &stored, n0, n1, y, ldy, bias)) return;
            break;
        }
    loam_qmatmul_avx2(caches, x, T, K, w, wtype, n0, n1, y, ldy); /* no kind for it, or no memory for a panel */
    loam_add_bias(y, ldy, T, bias, n0, n1);
}
#endif
