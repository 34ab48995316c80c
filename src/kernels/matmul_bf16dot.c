/* BF16 weights times activations rounded to bf16, with AVX512-BF16's
 * vdpbf16ps: 32 products per instruction (twice the f32 FMA rate) and no
 * conversion of the weights. Opt-in (--bf16-dot): rounding the activations
 * moves the logits off the reference, so the exact f32-activation path
 * stays the default. Compiled with -mavx512bf16; only called when CPUID
 * says the CPU has it. */
#if defined(__x86_64__)
#include <immintrin.h>

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/transpose16.h"

static inline __m512bh load_bh(const uint16_t *p) { return (__m512bh)_mm512_loadu_si512(p); }
static inline __m512bh load_bh_mask(const uint16_t *p, __mmask32 m) { return (__m512bh)_mm512_maskz_loadu_epi16(m, p); }

/* rows (<= 6) activation rows x 4 weight rows; weight rows past nw repeat
 * row 0 and are not stored. Each step covers 32 elements, one 64-byte line
 * of every weight row, which is prefetched 1 KiB ahead for decode where the
 * caches ask for software prefetch. */
static inline __attribute__((always_inline)) void tile(int pf, const uint16_t *x, int rows, int K, const uint16_t *w, int n,
                                                       int nw, float *y, int ldy) {
    __m512 acc[6][4];
    _Pragma("GCC unroll 6") for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
    const uint16_t *wr[4];
    for (int j = 0; j < 4; j++) wr[j] = w + (size_t)(n + (j < nw ? j : 0)) * (size_t)K;
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512bh wv[4];
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
            if (pf) _mm_prefetch((const char *)(wr[j] + k) + 1024, _MM_HINT_T0);
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

/* One weight row at a time against up to 6 activation rows (decode, short
 * prompts: nothing to pack). */
static void rows_product(int pf, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1, float *y, int ldy) {
    int t = 0;
    for (; t + 6 <= T; t += 6)
        for (int n = n0; n < n1; n += 4) tile(pf, x + (size_t)t * K, 6, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
    for (; t + 3 <= T; t += 3)
        for (int n = n0; n < n1; n += 4) tile(pf, x + (size_t)t * K, 3, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
    for (; t < T; t++)
        for (int n = n0; n < n1; n += 4) tile(pf, x + (size_t)t * K, 1, K, w, n, n1 - n < 4 ? n1 - n : 4, y + (size_t)t * ldy, ldy);
}

/* The blocked product (the GotoBLAS structure of gemm_float.h): a strip of
 * 64 weight columns × a slab of K is packed once as [pair p][64 columns]
 * of 32-bit (w[2p], w[2p+1]) — the operand vdpbf16ps takes, 16 columns a
 * vector — then every activation row of a block runs against it in a 6 ×
 * 64 tile of f32 accumulators (24 zmm, 4 weight vectors, the row's pair
 * broadcast): 24 vdpbf16ps per pair, 64 products per instruction where the
 * row kernel spends a horizontal sum per output. */
enum { MR = 6, NV = 4, COLS = 16 * NV };

/* Columns c0 .. c0+ncols (the rest zero) of W [N, K], pairs p0 .. p0+np,
 * into out[np][64]; weights past K are zero. */
static void pack_pairs(const uint16_t *w, int K, int c0, int ncols, int p0, int np, uint32_t *out) {
    for (int v = 0; v < NV; v++)
        for (int p = 0; p < np; p += 16) {
            int k = 2 * (p0 + p), left = K - k < 32 ? K - k : 32;
            __mmask32 m = left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1u);
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int c = 16 * v + i;
                r[i] = c < ncols ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, w + (size_t)(c0 + c) * (size_t)K + k))
                                 : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int i = 0; i < 16 && p + i < np; i++) _mm512_store_ps((float *)out + (size_t)(p + i) * COLS + 16 * v, r[i]);
        }
}

/* The pair of activations x[k], x[k + 1] in every lane: a broadcast load. */
static inline __m512bh pair_at(const uint16_t *x, int k) {
    int32_t two;
    memcpy(&two, x + k, sizeof two);
    return (__m512bh)_mm512_set1_epi32(two);
}

/* A lone last activation (odd K) with a zero beside it: never read past the row. */
static inline __m512bh lone_at(const uint16_t *x, int k) { return (__m512bh)_mm512_set1_epi32((int32_t)x[k]); }

/* acc[r][v] += the pair broadcast from row r times weight vector v */
#define PAIR_STEP(mr, acc, wv, pair_of)                                                                                   \
    _Pragma("GCC unroll 6") for (int r = 0; r < (mr); r++) {                                                             \
        __m512bh xb = pair_of;                                                                                           \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], xb, wv[v]);        \
    }

/* mr rows × one strip over np pairs (the last one lone when odd_end): y =
 * (accumulate ? y : 0) + x · strip, the first ncols columns. */
static inline __attribute__((always_inline)) void strip_tile(int mr, const uint32_t *strip, int np, int odd_end, const uint16_t *x,
                                                             int ldx, float *y, int ldy, int ncols, int accumulate) {
    __m512 acc[MR][NV];
    _Pragma("GCC unroll 6") for (int r = 0; r < mr; r++) _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    int full = np - (odd_end ? 1 : 0);
    __m512bh wv[NV];
    for (int p = 0; p < full; p++) {
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) wv[v] = (__m512bh)_mm512_load_si512(strip + (size_t)p * COLS + 16 * v);
        PAIR_STEP(mr, acc, wv, pair_at(x + (size_t)r * ldx, 2 * p))
    }
    if (odd_end) {
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) wv[v] = (__m512bh)_mm512_load_si512(strip + (size_t)full * COLS + 16 * v);
        PAIR_STEP(mr, acc, wv, lone_at(x + (size_t)r * ldx, 2 * full))
    }
    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {
        int left = ncols - 16 * v;
        __mmask16 m = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        _Pragma("GCC unroll 6") for (int r = 0; r < mr; r++) {
            float *o = y + (size_t)r * ldy + 16 * v;
            __m512 out = acc[r][v];
            if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, o));
            _mm512_mask_storeu_ps(o, m, out);
        }
    }
}

typedef void (*strip_tile_fn)(const uint32_t *strip, int np, int odd_end, const uint16_t *x, int ldx, float *y, int ldy, int ncols,
                              int accumulate);
#define STRIP_TILE_FN(ROWS)                                                                                                    \
    static void strip_tile_##ROWS(const uint32_t *strip, int np, int odd_end, const uint16_t *x, int ldx, float *y, int ldy, \
                                  int ncols, int accumulate) {                                                               \
        strip_tile(ROWS, strip, np, odd_end, x, ldx, y, ldy, ncols, accumulate);                                             \
    }
STRIP_TILE_FN(1) STRIP_TILE_FN(2) STRIP_TILE_FN(3) STRIP_TILE_FN(4) STRIP_TILE_FN(5) STRIP_TILE_FN(6)
static const strip_tile_fn strip_tiles[MR] = {strip_tile_1, strip_tile_2, strip_tile_3, strip_tile_4, strip_tile_5, strip_tile_6};

/* The strip's slab and the activation rows' slab each fit a quarter of L2;
 * 0 when out of memory for the strip (nothing written). */
static int blocked_product(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                           float *y, int ldy) {
    int64_t l2 = caches && caches->l2 > 0 ? caches->l2 : 512 << 10, pairs = (K + 1) / 2;
    int64_t kc64 = (l2 / 4) / (COLS * (int64_t)sizeof(uint32_t)) / 16 * 16;
    int kc = kc64 < 16 ? 16 : kc64 > pairs ? (int)pairs : (int)kc64;
    int64_t mc64 = (l2 / 4) / ((int64_t)kc * (int64_t)sizeof(uint32_t)) / MR * MR;
    int mc = mc64 < MR ? MR : mc64 > T ? T : (int)mc64;
    uint32_t *strip = aligned_alloc(64, ((size_t)(kc + 15) / 16 * 16 * COLS * sizeof(uint32_t) + 63) / 64 * 64);
    if (!strip) return 0;
    for (int c0 = n0; c0 < n1; c0 += COLS) {
        int ncols = n1 - c0 < COLS ? n1 - c0 : COLS;
        for (int p0 = 0; p0 < pairs; p0 += kc) {
            int np = pairs - p0 < kc ? (int)pairs - p0 : kc, odd_end = (K % 2) && p0 + np == pairs;
            pack_pairs(w, K, c0, ncols, p0, np, strip);
            for (int ic = 0; ic < T; ic += mc) {
                int t1 = ic + mc < T ? ic + mc : T;
                for (int t = ic; t < t1; t += MR) {
                    int mr = t1 - t < MR ? t1 - t : MR;
                    strip_tiles[mr - 1](strip, np, odd_end, x + (size_t)t * K + 2 * (size_t)p0, K, y + (size_t)t * ldy + c0, ldy, ncols,
                                        p0 > 0);
                }
            }
        }
    }
    free(strip);
    return 1;
}

void loam_matmul_bf16dot_avx512(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                                float *y, int ldy) {
    if (T >= LOAM_BF16DOT_BLOCKED_ROWS && blocked_product(caches, x, T, K, w, n0, n1, y, ldy)) return;
    rows_product(loam_caches_prefetch(caches), x, T, K, w, n0, n1, y, ldy);
}
#endif
