/* BF16 weights times activations rounded to bf16, with AVX512-BF16's
 * vdpbf16ps: 32 products per instruction (twice the f32 FMA rate) and no
 * conversion of the weights. Opt-in (--bf16-dot): rounding the activations
 * moves the logits off the reference, so the exact f32-activation path
 * stays the default. Compiled with -mavx512bf16; only called when CPUID
 * says the CPU has it. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/kernels.h"

static inline __m512bh load_bh(const uint16_t *p) { return (__m512bh)_mm512_loadu_si512(p); }
static inline __m512bh load_bh_mask(const uint16_t *p, __mmask32 m) { return (__m512bh)_mm512_maskz_loadu_epi16(m, p); }

/* rows (<= 6) activation rows x 4 weight rows; weight rows past nw repeat
 * row 0 and are not stored. Each step covers 32 elements, one 64-byte line
 * of every weight row, which is prefetched 1 KiB ahead for decode. */
static inline __attribute__((always_inline)) void tile(const uint16_t *x, int rows, int K, const uint16_t *w, int n, int nw,
                                                       float *y, int ldy) {
    __m512 acc[6][4];
    _Pragma("GCC unroll 6") for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
    const uint16_t *wr[4];
    for (int j = 0; j < 4; j++) wr[j] = w + (size_t)(n + (j < nw ? j : 0)) * (size_t)K;
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512bh wv[4];
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
            _mm_prefetch((const char *)(wr[j] + k) + 1024, _MM_HINT_T0);
            wv[j] = load_bh(wr[j] + k);
        }
        _Pragma("GCC unroll 6") for (int r = 0; r < rows; r++) {
            __m512bh xv = load_bh(x + (size_t)r * (size_t)K + k);
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], xv, wv[j]);
        }
    }
    if (k < K) {
        __mmask32 m = (__mmask32)((1ull << (K - k)) - 1u);
        __m512bh wv[4];
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) wv[j] = load_bh_mask(wr[j] + k, m);
        _Pragma("GCC unroll 6") for (int r = 0; r < rows; r++) {
            __m512bh xv = load_bh_mask(x + (size_t)r * (size_t)K + k, m);
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], xv, wv[j]);
        }
    }
    _Pragma("GCC unroll 6") for (int r = 0; r < rows; r++)
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
            if (j < nw) y[(size_t)r * (size_t)ldy + (size_t)n + j] = _mm512_reduce_add_ps(acc[r][j]);
}

void loam_matmul_bf16dot_avx512(const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1, float *y, int ldy) {
    int t = 0;
    for (; t + 6 <= T; t += 6)
        for (int n = n0; n < n1; n += 4) tile(x + (size_t)t * K, 6, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
    for (; t + 3 <= T; t += 3)
        for (int n = n0; n < n1; n += 4) tile(x + (size_t)t * K, 3, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
    for (; t < T; t++)
        for (int n = n0; n < n1; n += 4) tile(x + (size_t)t * K, 1, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
}
#endif
