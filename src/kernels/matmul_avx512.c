/* AVX-512 matmul: 16 lanes, 6 activation rows x 4 weight rows per inner
 * step in prefill (24 independent accumulators), K tails by
 * masked loads. Weights are converted to f32 in registers. Compiled with
 * -mavx512f -mavx512bw -mavx512vl; only called when CPUID says so. */
#if defined(__x86_64__)
#include <immintrin.h>

#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "kernels/rows_side.h"
#include "kernels/simd_attn.h"

static inline __m512 load_f32(const void *w, size_t i) { return _mm512_loadu_ps((const float *)w + i); }
static inline __m512 load_f32_mask(const void *w, size_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, (const float *)w + i);
}
static inline __m512 load_bf16(const void *w, size_t i) {
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline __m512 load_bf16_mask(const void *w, size_t i, __mmask16 m) {
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
static inline __m512 load_f16(const void *w, size_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
}
static inline __m512 load_f16_mask(const void *w, size_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i));
}

/* rows x 4 dot products (rows <= 6: 24 accumulators, 4 converted weight
 * vectors and one activation vector fill the 32 registers). Each
 * activation load feeds 4 FMAs and each converted weight vector `rows`
 * FMAs, so fewer bytes come from L1/L2 per FMA than with 8 x 2. `rows` is a
 * constant at every call site; weight rows past `nw` repeat row 0 and
 * are not stored. `ahead` (loam_tile_prefetch), on the first row block
 * over these weight rows:
 *   ALONG: ROW1_AHEAD bytes ahead along each row into L1, as the one-row
 *   kernel does (Zen 5 guest, a beam step's 5 rows from memory: 161-168 ->
 *   121-136 ms per large-v3 F16 step, alternated).
 *   NEXT: the next tile's four rows into L2, at the same K. Zen 4, one
 *   thread, F16 from memory, GFLOP/s, alternated: 5 × 51866 × 1280 (the
 *   Whisper head) 39-40 without, 42-52 ALONG, 87-101 NEXT; 5 × 16384 × 2048
 *   62 / 47-49 / 63-68; 5 × 4096 × 16384 60-76 / 57-69 / 77-92; 2 × 16384 ×
 *   2048 30-31 / 23-24 / 42 (two tiles ahead or hint T2: no better). */
#define DEFINE_TILE(SUFFIX, LOAD, LOAD_MASK)                                                          \
    static inline __attribute__((always_inline)) void tile_##SUFFIX(                                   \
        const float *x, int rows, int K, const void *w, int n, int nw, float *y, int ldy, loam_tile_ahead ahead) { \
        __m512 acc[6][4];                                                                            \
        _Pragma("GCC unroll 8") for (int r = 0; r < rows; r++)                                        \
            acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();                      \
        size_t wr[4];                                                                                \
        for (int j = 0; j < 4; j++) wr[j] = (size_t)(n + (j < nw ? j : 0)) * (size_t)K;             \
        int k = 0;                                                                                   \
        for (; k + 16 <= K; k += 16) {                                                               \
            __m512 wv[4];                                                                            \
            if (ahead && !(k & (64 / LOAM_ESIZE_##SUFFIX - 1))) { /* the first pass: each line */   \
                const char *wb = (const char *)w;                                                    \
                if (ahead == LOAM_TILE_AHEAD_ALONG)                                                  \
                    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                               \
                        _mm_prefetch(wb + (wr[j] + (size_t)k) * LOAM_ESIZE_##SUFFIX + ROW1_AHEAD, _MM_HINT_T0); \
                else                                                                                 \
                    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                               \
                        _mm_prefetch(wb + ((size_t)(n + 4 + j) * (size_t)K + (size_t)k) * LOAM_ESIZE_##SUFFIX, _MM_HINT_T1); \
            }                                                                                        \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) wv[j] = LOAD(w, wr[j] + (size_t)k);  \
            _Pragma("GCC unroll 8") for (int r = 0; r < rows; r++) {                                 \
                __m512 xv = _mm512_loadu_ps(x + (size_t)r * (size_t)K + k);                          \
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]); \
            }                                                                                        \
        }                                                                                            \
        if (k < K) {                                                                                 \
            __mmask16 m = (__mmask16)((1u << (K - k)) - 1u);                                         \
            __m512 wv[4];                                                                            \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) wv[j] = LOAD_MASK(w, wr[j] + (size_t)k, m); \
            _Pragma("GCC unroll 8") for (int r = 0; r < rows; r++) {                                 \
                __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)r * (size_t)K + k);                 \
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]); \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 8") for (int r = 0; r < rows; r++)                                       \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                                      \
                if (j < nw) y[(size_t)r * (size_t)ldy + (size_t)n + j] = _mm512_reduce_add_ps(acc[r][j]); \
    }                                                                                                \
    static void matmul_##SUFFIX(int pf, int side, const float *x, int T, int K, const void *w, int n0, int n1, \
                                float *y, int ldy) {                                                           \
        /* weight rows in cache-sized chunks (loam_chunk_rows), each met by every activation row */ \
        int step = loam_chunk_rows((size_t)K * LOAM_ESIZE_##SUFFIX);                                     \
        for (int c0 = n0; c0 < n1; c0 += step) {                                                     \
            int c1 = c0 + step < n1 ? c0 + step : n1, t = 0;                                         \
            for (; t + 6 <= T; t += 6)                                                               \
                for (int n = c0; n < c1; n += 4)                                                     \
                    tile_##SUFFIX(x + (size_t)t * K, 6, K, w, n, c1 - n < 4 ? c1 - n : 4, y + (size_t)t * ldy, ldy,   \
                                  loam_tile_prefetch(pf, t == 0));                                             \
            if (T - t >= 2) { /* the 2..5 rows left as one tile (a beam step's 5): each weight row read \
                                 once more, not once per row */                                     \
                const float *xt = x + (size_t)t * K;                                                 \
                float *yt = y + (size_t)t * ldy;                                                     \
                loam_tile_ahead ahead = loam_tile_prefetch(pf, t == 0);                              \
                for (int n = c0; n < c1; n += 4) {                                                   \
                    int nw = c1 - n < 4 ? c1 - n : 4;                                                \
                    switch (T - t) {                                                                 \
                    case 2: tile_##SUFFIX(xt, 2, K, w, n, nw, yt, ldy, ahead); break;                  \
                    case 3: tile_##SUFFIX(xt, 3, K, w, n, nw, yt, ldy, ahead); break;                  \
                    case 4: tile_##SUFFIX(xt, 4, K, w, n, nw, yt, ldy, ahead); break;                  \
                    default: tile_##SUFFIX(xt, 5, K, w, n, nw, yt, ldy, ahead); break;                 \
                    }                                                                                \
                }                                                                                    \
                t = T;                                                                               \
            }                                                                                        \
            for (; t < T; t++) single_row_##SUFFIX(pf, side, x + (size_t)t * K, K, w, c0, c1, y + (size_t)t * ldy); \
        }                                                                                            \
    }

/* Decode (one activation row) where the core prefetches in software: one
 * weight row at a time, four accumulators, each 64-byte line prefetched
 * 6 KiB ahead. Measured on F16 1B decode
 * (1 / 2 threads): four interleaved rows prefetched 1 KiB ahead 10.9 / 21.0
 * t/s, this 14.6 / 27.3 (this machine's memory wants deep prefetch; more
 * streams per thread did not help). */
#ifndef ROW1_AHEAD
#define ROW1_AHEAD 6144
#endif
#define DEFINE_ROW1(SUFFIX, LOAD, LOAD_MASK, ESIZE)                                                     \
    static float row1_##SUFFIX(int pf, const float *x, int K, const void *w, int n) {                             \
        __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
        size_t r0 = (size_t)n * K;                                                                     \
        const char *wb = (const char *)w;                                                              \
        int k = 0;                                                                                     \
        for (; k + 64 <= K; k += 64) {                                                                 \
            if (pf) _Pragma("GCC unroll 4") for (int l = 0; l < 64 * ESIZE; l += 64)                  \
                _mm_prefetch(wb + (r0 + k) * ESIZE + ROW1_AHEAD + l, _MM_HINT_T0);                     \
            _Pragma("GCC unroll 4") for (int s = 0; s < 4; s++)                                        \
                a[s] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16 * s), LOAD(w, r0 + k + 16 * s), a[s]); \
        }                                                                                              \
        for (; k < K; k += 16) {                                                                       \
            __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);         \
            a[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), LOAD_MASK(w, r0 + k, m), a[0]);     \
        }                                                                                              \
        return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]))); \
    }

DEFINE_ROW1(f32, load_f32, load_f32_mask, 4)
DEFINE_ROW1(bf16, load_bf16, load_bf16_mask, 2)
DEFINE_ROW1(f16, load_f16, load_f16_mask, 2)
/* the single row's kernels (rows_side.h) */
#define SINGLE_ROW(S) LOAM_DEFINE_ROWS_SIDE(S, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps, load_##S) LOAM_DEFINE_SINGLE_ROW(S)
SINGLE_ROW(f32) SINGLE_ROW(bf16) SINGLE_ROW(f16)

DEFINE_TILE(f32, load_f32, load_f32_mask)
DEFINE_TILE(bf16, load_bf16, load_bf16_mask)
DEFINE_TILE(f16, load_f16, load_f16_mask)

#include "kernels/quant_loop.inc"

static void matmul_avx512(const loam_cache_info *caches, const float *x, int T, int K, const void *w, loam_type wtype,
                          int n0, int n1, float *y, int ldy) {
    int pf = loam_caches_prefetch(caches), side = loam_rows_side(caches, K);
    switch (wtype) {
    case LOAM_T_F32: matmul_f32(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    case LOAM_T_BF16: matmul_bf16(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    case LOAM_T_F16: matmul_f16(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    default: matmul_quant(x, T, K, w, wtype, n0, n1, y, ldy); break;
    }
}

/* Attention over the cache in chunks of up to 8 vectors (128 values) of the
 * head: the chunk of q (or of out) stays in registers while the rows
 * stream past; nv is a constant at every call (see CHUNK_SWITCH).
 * kv16_<type> gives values 16v.. of a chunk as f32; AT_<type> is the byte
 * offset of the chunk starting at value C0. */
static inline __mmask16 head_mask(int len, int v) {
    int left = len - 16 * v;
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}
static inline __m512 kv16_f32(const uint8_t *row, int v, __mmask16 m) { return _mm512_maskz_loadu_ps(m, (const float *)row + 16 * v); }
static inline __m512 kv16_f16(const uint8_t *row, int v, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + 16 * v));
}
static inline __m512 kv16_q8(const uint8_t *row, int v, __mmask16 m) { /* hd is a multiple of 32: whole vectors */
    (void)m;
    const uint8_t *b = row + (size_t)(v / 2) * 34;
    return _mm512_mul_ps(_mm512_set1_ps(half_of(b)),
                         _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2 + 16 * (v % 2))))));
}


#define DEFINE_ATTN(T)                                                                                                   \
    static inline __attribute__((always_inline)) void scores_chunk_##T(const float *q, const uint8_t *k, size_t stride, int n, \
                                                                       int len, int nv, int first, float *scores) {      \
        __m512 qv[8];                                                                                                    \
        _Pragma("GCC unroll 8") for (int v = 0; v < nv; v++) qv[v] = _mm512_maskz_loadu_ps(head_mask(len, v), q + 16 * v); \
        for (int p = 0; p < n; p++) {                                                                                    \
            const uint8_t *kp = k + (size_t)p * stride;                                                                  \
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                                   \
            _Pragma("GCC unroll 8") for (int v = 0; v < nv; v++) {                                                       \
                __m512 kv = kv16_##T(kp, v, head_mask(len, v));                                                          \
                if (v % 2) a1 = _mm512_fmadd_ps(qv[v], kv, a1);                                                          \
                else a0 = _mm512_fmadd_ps(qv[v], kv, a0);                                                                \
            }                                                                                                            \
            float d = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                                       \
            scores[p] = first ? d : scores[p] + d;                                                                       \
        }                                                                                                                \
    }                                                                                                                    \
    static inline __attribute__((always_inline)) void mix_chunk_##T(const float *w, const uint8_t *v, size_t stride, int n,    \
                                                                    int len, int nv, float *out) {                       \
        __m512 acc[8];                                                                                                   \
        _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++) acc[u] = _mm512_setzero_ps();                               \
        for (int p = 0; p < n; p++) {                                                                                    \
            const uint8_t *vp = v + (size_t)p * stride;                                                                  \
            __m512 wp = _mm512_set1_ps(w[p]);                                                                            \
            _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++)                                                         \
                acc[u] = _mm512_fmadd_ps(wp, kv16_##T(vp, u, head_mask(len, u)), acc[u]);                                \
        }                                                                                                                \
        _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++) _mm512_mask_storeu_ps(out + 16 * u, head_mask(len, u), acc[u]); \
    }                                                                                                                    \
    static void attn_scores_##T(const float *q, const uint8_t *k, size_t stride, int n, int hd, float *scores) {         \
        for (int c0 = 0; c0 < hd; c0 += 128) {                                                                           \
            int len = hd - c0 < 128 ? hd - c0 : 128;                                                                     \
            CHUNK_SWITCH((len + 15) / 16, SCORES_##T)                                                                    \
        }                                                                                                                \
    }                                                                                                                    \
    static void attn_mix_##T(const float *w, const uint8_t *v, size_t stride, int n, int hd, float *out) {               \
        for (int c0 = 0; c0 < hd; c0 += 128) {                                                                           \
            int len = hd - c0 < 128 ? hd - c0 : 128;                                                                     \
            CHUNK_SWITCH((len + 15) / 16, MIX_##T)                                                                       \
        }                                                                                                                \
    }
#define SCORES_f32(NV) scores_chunk_f32(q + c0, k + AT_f32(c0), stride, n, len, NV, c0 == 0, scores)
#define SCORES_f16(NV) scores_chunk_f16(q + c0, k + AT_f16(c0), stride, n, len, NV, c0 == 0, scores)
#define SCORES_q8(NV) scores_chunk_q8(q + c0, k + AT_q8(c0), stride, n, len, NV, c0 == 0, scores)
#define MIX_f32(NV) mix_chunk_f32(w, v + AT_f32(c0), stride, n, len, NV, out + c0)
#define MIX_f16(NV) mix_chunk_f16(w, v + AT_f16(c0), stride, n, len, NV, out + c0)
#define MIX_q8(NV) mix_chunk_q8(w, v + AT_q8(c0), stride, n, len, NV, out + c0)
DEFINE_ATTN(f32)
DEFINE_ATTN(f16)
DEFINE_ATTN(q8)

/* exp(r) · 2^n from the reduced argument: Horner over EXP_POLY, then
 * scalef (which also takes care of underflow to 0) */
static inline __m512 exp_finish_512(__m512 r, __m512 n) {
    __m512 p = _mm512_set1_ps(EXP_POLY[0]);
    _Pragma("GCC unroll 6") for (int i = 1; i < 7; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_POLY[i]));
    return _mm512_scalef_ps(p, n);
}

/* exp(x) for x <= 0 (simd_attn.h) */
static inline __m512 exp_le0_512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return exp_finish_512(_mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x)), n);
}

static double softmax_exp_avx512(float *s, int n, float max) {
    __m512 vmax = _mm512_set1_ps(max), sum = _mm512_setzero_ps();
    for (int p = 0; p < n; p += 16) {
        __mmask16 m = n - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - p)) - 1u);
        __m512 e = exp_le0_512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + p), vmax));
        _mm512_mask_storeu_ps(s + p, m, e);
        sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(sum);
}

/* x·σ(s) with e = exp(-|s|) <= 1: σ = 1 / (1 + e) for s >= 0, e / (1 + e) below
 * (below -87 exp underflows: 0, as expf's is) */
static inline __m512 sigmoid_times_512(__m512 x, __m512 s) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 nabs = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u)));
    __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(nabs, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), exp_le0_512(nabs));
    __mmask16 neg = _mm512_cmplt_epi32_mask(_mm512_castps_si512(s), _mm512_setzero_si512());
    return _mm512_div_ps(_mm512_mul_ps(x, _mm512_mask_blend_ps(neg, one, e)), _mm512_add_ps(one, e));
}

/* a *= silu(g) = g·σ(g) */
static void silu_gate_avx512(float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        _mm512_mask_storeu_ps(a + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), sigmoid_times_512(x, x)));
    }
}

static void sigmoid_act_avx512(loam_sigmoid_kind kind, float *a, const float *g, size_t n) {
    const __m512 c1 = _mm512_set1_ps(kind == LOAM_SIG_GELU_TANH ? 1.5957691216057308f : 1.702f);
    const __m512 c3 = _mm512_set1_ps(0.044715f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 x = _mm512_maskz_loadu_ps(m, (g ? g : a) + i);
        /* the scalar's order: c1 · (x + 0.044715 · x · x · x) */
        __m512 s = kind == LOAM_SIG_GELU_TANH
                       ? _mm512_mul_ps(c1, _mm512_add_ps(x, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(c3, x), x), x)))
                       : _mm512_mul_ps(c1, x);
        __m512 f = sigmoid_times_512(x, s);
        _mm512_mask_storeu_ps(a + i, m, g ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), f) : f);
    }
}

/* exp(hi + lo) for hi + lo <= ~0, with hi exact and lo small: both parts
 * enter the reduction r = (hi - n ln2) + lo, so hi's size costs no
 * accuracy; 0 below -103 (past the denormals), and for NaN. */
static inline __m512 exp_pair_512(__m512 hi, __m512 lo) {
    __m512 s = _mm512_add_ps(hi, lo);
    __mmask16 live = _mm512_cmp_ps_mask(s, _mm512_set1_ps(-103.0f), _CMP_GE_OQ);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_max_ps(s, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_add_ps(_mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), hi), _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), lo));
    return _mm512_maskz_mov_ps(live, exp_finish_512(r, n));
}

/* GELU as x·Φ(x), Φ(x) = ½erfc(-x/√2) taken from e = erfc(|x|/√2) (simd_attn.h):
 * ½e below 0, 1 - ½e above, so neither side cancels; -x²/2 enters the exp
 * as an exact pair (x·x and its FMA remainder, halved). */
static inline __m512 gelu_512(__m512 x) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(half, z, one));
    __m512 p = _mm512_set1_ps(ERFC_POLY[0]);
    _Pragma("GCC unroll 9") for (int i = 1; i < 10; i++) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERFC_POLY[i]));
    __m512 sq = _mm512_mul_ps(x, x), sq_lo = _mm512_fmsub_ps(x, x, sq);
    __m512 e = _mm512_mul_ps(t, exp_pair_512(_mm512_mul_ps(sq, _mm512_set1_ps(-0.5f)), _mm512_fnmadd_ps(sq_lo, half, p)));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mul_ps(x, _mm512_mask_blend_ps(neg, _mm512_fnmadd_ps(half, e, one), _mm512_mul_ps(half, e)));
}

static void gelu_act_avx512(float *a, const float *g, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 f = gelu_512(_mm512_maskz_loadu_ps(m, (g ? g : a) + i));
        _mm512_mask_storeu_ps(a + i, m, g ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), f) : f);
    }
}

const loam_kernels loam_kernels_avx512 = {
    .name = "avx512",
    .level = LOAM_SIMD_AVX512,
    .matmul = matmul_avx512,
    .gemm_f = loam_gemm_f_avx512,
    .gemm_panels = loam_gemm_panels_avx512,
    .quantize_act = loam_quantize_act_row_avx512,
    .matmul_q8 = loam_qmatmul_avx2,
    .gemm_q8 = loam_gemm_q8_avx2,
    .strip_matmul = loam_strip_matmul_avx2,
    .attn_scores = {attn_scores_f32, attn_scores_f16, attn_scores_q8},
    .attn_mix = {attn_mix_f32, attn_mix_f16, attn_mix_q8},
    .softmax_exp = softmax_exp_avx512,
    .silu_gate = silu_gate_avx512,
    .sigmoid_act = sigmoid_act_avx512,
    .gelu_act = gelu_act_avx512,
};

/* The same with VNNI's dpbusd for the int8 products. */
const loam_kernels loam_kernels_avx512_vnni = {
    .name = "avx512-vnni",
    .level = LOAM_SIMD_AVX512,
    .matmul = matmul_avx512,
    .gemm_f = loam_gemm_f_avx512,
    .gemm_panels = loam_gemm_panels_avx512,
    .quantize_act = loam_quantize_act_row_avx512,
    .matmul_q8 = loam_qmatmul_vnni,
    .gemm_q8 = loam_gemm_q8_vnni,
    .strip_matmul = loam_strip_matmul_vnni,
    .attn_scores = {attn_scores_f32, attn_scores_f16, attn_scores_q8},
    .attn_mix = {attn_mix_f32, attn_mix_f16, attn_mix_q8},
    .softmax_exp = softmax_exp_avx512,
    .silu_gate = silu_gate_avx512,
    .sigmoid_act = sigmoid_act_avx512,
    .gelu_act = gelu_act_avx512,
};
#endif
