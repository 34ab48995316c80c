/* AVX2 + FMA + F16C matmul: 8 lanes, 4 activation rows x 3 weight rows per
 * inner step in prefill, in decode one deeply prefetched row at a time (or
 * LOAM_ROWS_SIDE rows side by side where the hardware prefetches), K tails in
 * scalar code. Compiled with -mavx2 -mfma -mf16c;
 * only called when CPUID says so. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "kernels/rows_side.h"
#include "kernels/simd_attn.h"

static inline __m256 load_f32(const void *w, size_t i) { return _mm256_loadu_ps((const float *)w + i); }
static inline __m256 load_bf16(const void *w, size_t i) {
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
static inline __m256 load_f16(const void *w, size_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Decode (one activation row): one weight row at a time, four accumulators,
 * each 64-byte line prefetched 6 KiB ahead (deep prefetch is what this
 * machine's memory wants; see matmul_avx512.c). */
#define DEFINE_ROW1(SUFFIX, LOAD, SCALAR, ESIZE)                                                        \
    static float row1_##SUFFIX(int pf, const float *x, int K, const void *w, int n) {                             \
        __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        size_t r0 = (size_t)n * K;                                                                     \
        const char *wb = (const char *)w;                                                              \
        int k = 0;                                                                                     \
        for (; k + 32 <= K; k += 32) {                                                                 \
            if (pf) _Pragma("GCC unroll 2") for (int l = 0; l < 32 * ESIZE; l += 64)                  \
                _mm_prefetch(wb + (r0 + k) * ESIZE + 6144 + l, _MM_HINT_T0);                           \
            _Pragma("GCC unroll 4") for (int s = 0; s < 4; s++)                                        \
                a[s] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8 * s), LOAD(w, r0 + k + 8 * s), a[s]);  \
        }                                                                                              \
        for (; k + 8 <= K; k += 8) a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), LOAD(w, r0 + k), a[0]); \
        float sum = hsum256(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));      \
        for (; k < K; k++) sum += x[k] * SCALAR(w, r0 + k);                                            \
        return sum;                                                                                    \
    }
DEFINE_ROW1(f32, load_f32, loam_weight_f32, 4)
DEFINE_ROW1(bf16, load_bf16, loam_weight_bf16, 2)
DEFINE_ROW1(f16, load_f16, loam_weight_f16, 2)
/* the single row's kernels (rows_side.h) */
#define SINGLE_ROW(S) LOAM_DEFINE_ROWS_SIDE(S, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_fmadd_ps, hsum256, load_##S) LOAM_DEFINE_SINGLE_ROW(S)
SINGLE_ROW(f32) SINGLE_ROW(bf16) SINGLE_ROW(f16)

/* rows (<= 4) activation rows x 3 weight rows: 12 accumulators, 3 weight
 * vectors and one activation vector fill the 16 registers; weight rows
 * past nw repeat row 0 and are not stored. The first row block over the
 * weight rows prefetches as `ahead` says (loam_tile_prefetch; the next
 * tile is three rows on). */
#define DEFINE_TILE(SUFFIX, LOAD, SCALAR)                                                             \
    static inline __attribute__((always_inline)) void tile_##SUFFIX(                                   \
        const float *x, int rows, int K, const void *w, int n, int nw, float *y, int ldy, loam_tile_ahead ahead) { \
        __m256 acc[4][3];                                                                            \
        _Pragma("GCC unroll 4") for (int r = 0; r < rows; r++)                                        \
            acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();                                  \
        size_t wr[3];                                                                                \
        for (int j = 0; j < 3; j++) wr[j] = (size_t)(n + (j < nw ? j : 0)) * (size_t)K;             \
        int k = 0;                                                                                   \
        for (; k + 8 <= K; k += 8) {                                                                 \
            __m256 wv[3];                                                                            \
            if (ahead && !(k & (64 / LOAM_ESIZE_##SUFFIX - 1))) { /* the first pass: each line */   \
                const char *wb = (const char *)w;                                                    \
                if (ahead == LOAM_TILE_AHEAD_ALONG)                                                  \
                    _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++)                               \
                        _mm_prefetch(wb + (wr[j] + (size_t)k) * LOAM_ESIZE_##SUFFIX + 6144, _MM_HINT_T0); \
                else                                                                                 \
                    _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++)                               \
                        _mm_prefetch(wb + ((size_t)(n + 3 + j) * (size_t)K + (size_t)k) * LOAM_ESIZE_##SUFFIX, _MM_HINT_T1); \
            }                                                                                        \
            _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++) wv[j] = LOAD(w, wr[j] + (size_t)k);  \
            _Pragma("GCC unroll 4") for (int r = 0; r < rows; r++) {                                 \
                __m256 xv = _mm256_loadu_ps(x + (size_t)r * (size_t)K + k);                          \
                _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]); \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 4") for (int r = 0; r < rows; r++) {                                     \
            const float *xr = x + (size_t)r * (size_t)K;                                             \
            _Pragma("GCC unroll 3") for (int j = 0; j < 3; j++) {                                    \
                if (j >= nw) continue;                                                               \
                float s = hsum256(acc[r][j]);                                                        \
                for (int kk = k; kk < K; kk++) s += xr[kk] * SCALAR(w, wr[j] + (size_t)kk);          \
                y[(size_t)r * (size_t)ldy + (size_t)n + j] = s;                                      \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    static void matmul_##SUFFIX(int pf, int side, const float *x, int T, int K, const void *w, int n0, int n1, \
                                float *y, int ldy) {                                                           \
        /* weight rows in cache-sized chunks (loam_chunk_rows), each met by every activation row */ \
        int step = loam_chunk_rows((size_t)K * LOAM_ESIZE_##SUFFIX);                                     \
        for (int c0 = n0; c0 < n1; c0 += step) {                                                     \
            int c1 = c0 + step < n1 ? c0 + step : n1, t = 0;                                         \
            for (; t + 4 <= T; t += 4)                                                               \
                for (int n = c0; n < c1; n += 3)                                                     \
                    tile_##SUFFIX(x + (size_t)t * K, 4, K, w, n, c1 - n < 3 ? c1 - n : 3, y + (size_t)t * ldy, ldy,   \
                                  loam_tile_prefetch(pf, t == 0));                                             \
            if (T - t >= 2) { /* the 2 or 3 rows left as one tile: each weight row read once more */ \
                loam_tile_ahead ahead = loam_tile_prefetch(pf, t == 0);                              \
                for (int n = c0; n < c1; n += 3) {                                                   \
                    int nw = c1 - n < 3 ? c1 - n : 3;                                                \
                    if (T - t == 2) tile_##SUFFIX(x + (size_t)t * K, 2, K, w, n, nw, y + (size_t)t * ldy, ldy, ahead); \
                    else tile_##SUFFIX(x + (size_t)t * K, 3, K, w, n, nw, y + (size_t)t * ldy, ldy, ahead); \
                }                                                                                    \
                t = T;                                                                               \
            }                                                                                        \
            for (; t < T; t++) single_row_##SUFFIX(pf, side, x + (size_t)t * K, K, w, c0, c1, y + (size_t)t * ldy); \
        }                                                                                            \
    }

DEFINE_TILE(f32, load_f32, loam_weight_f32)
DEFINE_TILE(bf16, load_bf16, loam_weight_bf16)
DEFINE_TILE(f16, load_f16, loam_weight_f16)

#include "kernels/quant_loop.inc"

static void matmul_avx2(const loam_cache_info *caches, const float *x, int T, int K, const void *w, loam_type wtype,
                        int n0, int n1, float *y, int ldy) {
    int pf = loam_caches_prefetch(caches), side = loam_rows_side(caches, K);
    switch (wtype) {
    case LOAM_T_F32: matmul_f32(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    case LOAM_T_BF16: matmul_bf16(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    case LOAM_T_F16: matmul_f16(pf, side, x, T, K, w, n0, n1, y, ldy); break;
    default: matmul_quant(x, T, K, w, wtype, n0, n1, y, ldy); break;
    }
}

/* Attention over the cache: chunks of up to 8 vectors (64 values) of the
 * head kept in registers while the rows stream past; a head length that is
 * not a multiple of 8 ends in scalar code. kv8_<type> gives values 8v.. of
 * a chunk as f32, kv1_<type> one value; AT_<type> is a chunk's byte offset. */
static inline __m256 kv8_f32(const uint8_t *row, int v) { return _mm256_loadu_ps((const float *)row + 8 * v); }
static inline __m256 kv8_f16(const uint8_t *row, int v) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + 8 * v)));
}
static inline __m256 kv8_q8(const uint8_t *row, int v) {
    const uint8_t *b = row + (size_t)(v / 4) * 34;
    return _mm256_mul_ps(_mm256_set1_ps(half_of(b)),
                         _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * (v % 4))))));
}
static inline float kv1_f32(const uint8_t *row, int i) { return ((const float *)row)[i]; }
static inline float kv1_f16(const uint8_t *row, int i) { return loam_f16_to_f32(((const uint16_t *)row)[i]); }
static inline float kv1_q8(const uint8_t *row, int i) {
    const uint8_t *b = row + (size_t)(i / 32) * 34;
    return half_of(b) * (float)(int8_t)b[2 + i % 32];
}


#define DEFINE_ATTN(T)                                                                                                   \
    static inline __attribute__((always_inline)) void scores_chunk_##T(const float *q, const uint8_t *k, size_t stride, int n, \
                                                                       int nv, int first, float *scores) {               \
        __m256 qv[8];                                                                                                    \
        _Pragma("GCC unroll 8") for (int v = 0; v < nv; v++) qv[v] = _mm256_loadu_ps(q + 8 * v);                          \
        for (int p = 0; p < n; p++) {                                                                                    \
            const uint8_t *kp = k + (size_t)p * stride;                                                                  \
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                                   \
            _Pragma("GCC unroll 8") for (int v = 0; v < nv; v++) {                                                       \
                if (v % 2) a1 = _mm256_fmadd_ps(qv[v], kv8_##T(kp, v), a1);                                              \
                else a0 = _mm256_fmadd_ps(qv[v], kv8_##T(kp, v), a0);                                                    \
            }                                                                                                            \
            float d = hsum256(_mm256_add_ps(a0, a1));                                                                    \
            scores[p] = first ? d : scores[p] + d;                                                                       \
        }                                                                                                                \
    }                                                                                                                    \
    static inline __attribute__((always_inline)) void mix_chunk_##T(const float *w, const uint8_t *v, size_t stride, int n,    \
                                                                    int nv, float *out) {                                \
        __m256 acc[8];                                                                                                   \
        _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++) acc[u] = _mm256_setzero_ps();                               \
        for (int p = 0; p < n; p++) {                                                                                    \
            const uint8_t *vp = v + (size_t)p * stride;                                                                  \
            __m256 wp = _mm256_set1_ps(w[p]);                                                                            \
            _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++) acc[u] = _mm256_fmadd_ps(wp, kv8_##T(vp, u), acc[u]);  \
        }                                                                                                                \
        _Pragma("GCC unroll 8") for (int u = 0; u < nv; u++) _mm256_storeu_ps(out + 8 * u, acc[u]);                      \
    }                                                                                                                    \
    static void attn_scores_##T(const float *q, const uint8_t *k, size_t stride, int n, int hd, float *scores) {         \
        int full = hd / 8 * 8;                                                                                           \
        for (int c0 = 0; c0 < full; c0 += 64) {                                                                          \
            int nv = (full - c0 < 64 ? full - c0 : 64) / 8;                                                              \
            CHUNK_SWITCH(nv, SCORES_##T)                                                                                \
        }                                                                                                                \
        for (int p = 0; full < hd && p < n; p++) {                                                                       \
            float s = full ? scores[p] : 0.0f;                                                                           \
            for (int i = full; i < hd; i++) s += q[i] * kv1_##T(k + (size_t)p * stride, i);                              \
            scores[p] = s;                                                                                               \
        }                                                                                                                \
    }                                                                                                                    \
    static void attn_mix_##T(const float *w, const uint8_t *v, size_t stride, int n, int hd, float *out) {               \
        int full = hd / 8 * 8;                                                                                           \
        for (int c0 = 0; c0 < full; c0 += 64) {                                                                          \
            int nv = (full - c0 < 64 ? full - c0 : 64) / 8;                                                              \
            CHUNK_SWITCH(nv, MIX_##T)                                                                                   \
        }                                                                                                                \
        for (int i = full; i < hd; i++) {                                                                                \
            float s = 0.0f;                                                                                              \
            for (int p = 0; p < n; p++) s += w[p] * kv1_##T(v + (size_t)p * stride, i);                                  \
            out[i] = s;                                                                                                  \
        }                                                                                                                \
    }
#define SCORES_f32(NV) scores_chunk_f32(q + c0, k + AT_f32(c0), stride, n, NV, c0 == 0, scores)
#define SCORES_f16(NV) scores_chunk_f16(q + c0, k + AT_f16(c0), stride, n, NV, c0 == 0, scores)
#define SCORES_q8(NV) scores_chunk_q8(q + c0, k + AT_q8(c0), stride, n, NV, c0 == 0, scores)
#define MIX_f32(NV) mix_chunk_f32(w, v + AT_f32(c0), stride, n, NV, out + c0)
#define MIX_f16(NV) mix_chunk_f16(w, v + AT_f16(c0), stride, n, NV, out + c0)
#define MIX_q8(NV) mix_chunk_q8(w, v + AT_q8(c0), stride, n, NV, out + c0)
DEFINE_ATTN(f32)
DEFINE_ATTN(f16)
DEFINE_ATTN(q8)

/* exp(r) · 2^n from the reduced argument: Horner over EXP_POLY, 2^n built
 * in the exponent bits (the callers clamp at -87, so n >= -126 stays a
 * normal). */
static inline __m256 exp_finish_256(__m256 r, __m256 n) {
    __m256 p = _mm256_set1_ps(EXP_POLY[0]);
    _Pragma("GCC unroll 6") for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_POLY[i]));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* exp(x) for x <= 0 (simd_attn.h) */
static inline __m256 exp_le0_256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return exp_finish_256(_mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x)), n);
}

static double softmax_exp_avx2(float *s, int n, float max) {
    __m256 vmax = _mm256_set1_ps(max), sum = _mm256_setzero_ps();
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 e = exp_le0_256(_mm256_sub_ps(_mm256_loadu_ps(s + p), vmax));
        _mm256_storeu_ps(s + p, e);
        sum = _mm256_add_ps(sum, e);
    }
    double total = hsum256(sum);
    for (; p < n; p++) {
        s[p] = expf(s[p] - max);
        total += s[p];
    }
    return total;
}

/* silu(g) = g σ(g) with e = exp(-|g|) <= 1: σ = 1 / (1 + e) for g >= 0, e / (1 + e) below */
static void silu_gate_avx2(float *a, const float *g, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i), nabs = _mm256_or_ps(x, sign);
        /* below -87 exp underflows: 0, as expf's is */
        __m256 e = _mm256_and_ps(exp_le0_256(nabs), _mm256_cmp_ps(nabs, _mm256_set1_ps(-87.0f), _CMP_GE_OQ));
        __m256 num = _mm256_blendv_ps(one, e, x); /* e where the sign bit is set */
        __m256 s = _mm256_div_ps(_mm256_mul_ps(x, num), _mm256_add_ps(one, e));
        _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), s));
    }
    for (; i < n; i++) a[i] *= g[i] / (1.0f + expf(-g[i]));
}

static void sigmoid_act_avx2(loam_sigmoid_kind kind, float *a, const float *g, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    const __m256 c1 = _mm256_set1_ps(kind == LOAM_SIG_GELU_TANH ? 1.5957691216057308f : 1.702f);
    const __m256 c3 = _mm256_set1_ps(0.044715f);
    const float *src = g ? g : a;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        /* the scalar's order: c1 · (x + 0.044715 · x · x · x) */
        __m256 s = kind == LOAM_SIG_GELU_TANH
                       ? _mm256_mul_ps(c1, _mm256_add_ps(x, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(c3, x), x), x)))
                       : _mm256_mul_ps(c1, x);
        __m256 nabs = _mm256_or_ps(s, sign);
        __m256 e = _mm256_and_ps(exp_le0_256(nabs), _mm256_cmp_ps(nabs, _mm256_set1_ps(-87.0f), _CMP_GE_OQ));
        __m256 f = _mm256_div_ps(_mm256_mul_ps(x, _mm256_blendv_ps(one, e, s)), _mm256_add_ps(one, e));
        _mm256_storeu_ps(a + i, g ? _mm256_mul_ps(_mm256_loadu_ps(a + i), f) : f);
    }
    for (; i < n; i++) {
        float x = src[i], f = x / (1.0f + expf(-loam_sigmoid_arg(kind, x)));
        a[i] = g ? a[i] * f : f;
    }
}

/* exp(hi + lo) for hi + lo <= ~0, hi exact and lo small (as exp_pair_512);
 * 0 below -87, where 2^n would leave the normals, and for NaN. */
static inline __m256 exp_pair_256(__m256 hi, __m256 lo) {
    __m256 s = _mm256_add_ps(hi, lo), live = _mm256_cmp_ps(s, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(_mm256_max_ps(s, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_add_ps(_mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), hi), _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), lo));
    return _mm256_and_ps(exp_finish_256(r, n), live);
}

/* GELU as x·Φ(x) from erfc(|x|/√2), as gelu_512 in matmul_avx512.c */
static inline __m256 gelu_256(__m256 x) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
    __m256 p = _mm256_set1_ps(ERFC_POLY[0]);
    _Pragma("GCC unroll 9") for (int i = 1; i < 10; i++) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERFC_POLY[i]));
    __m256 sq = _mm256_mul_ps(x, x), sq_lo = _mm256_fmsub_ps(x, x, sq);
    __m256 e = _mm256_mul_ps(t, exp_pair_256(_mm256_mul_ps(sq, _mm256_set1_ps(-0.5f)), _mm256_fnmadd_ps(sq_lo, half, p)));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_fnmadd_ps(half, e, one), _mm256_mul_ps(half, e), neg));
}

static void gelu_act_avx2(float *a, const float *g, size_t n) {
    const float *src = g ? g : a;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = gelu_256(_mm256_loadu_ps(src + i));
        _mm256_storeu_ps(a + i, g ? _mm256_mul_ps(_mm256_loadu_ps(a + i), f) : f);
    }
    if (i < n) { /* the tail through the same vector code, so that every element gets one formula */
        float in[8] = {0}, out[8];
        memcpy(in, src + i, (n - i) * sizeof *in);
        _mm256_storeu_ps(out, gelu_256(_mm256_loadu_ps(in)));
        for (size_t j = 0; i + j < n; j++) a[i + j] = g ? a[i + j] * out[j] : out[j];
    }
}

/* The avx2 level's table; its blocked and strip int8 products are AVX2's,
 * or AVX-VNNI's (vpdpbusd on ymm) where CPUID has it. */
#define AVX2_KERNELS(NAME, GEMM_Q8, STRIP_MATMUL)                                                                                  \
    {                                                                                                                     \
        .name = NAME, .level = LOAM_SIMD_AVX2, .matmul = matmul_avx2, .gemm_f = loam_gemm_f_avx2,                         \
        .gemm_panels = loam_gemm_panels_avx2, .quantize_act = loam_quantize_act_row_avx2, .matmul_q8 = loam_qmatmul_avx2, \
        .gemm_q8 = GEMM_Q8, .strip_matmul = STRIP_MATMUL,                                                                 \
        .attn_scores = {attn_scores_f32, attn_scores_f16, attn_scores_q8}, .attn_mix = {attn_mix_f32, attn_mix_f16, attn_mix_q8}, \
        .softmax_exp = softmax_exp_avx2, .silu_gate = silu_gate_avx2, .sigmoid_act = sigmoid_act_avx2,                    \
        .gelu_act = gelu_act_avx2,                                                                                        \
    }
const loam_kernels loam_kernels_avx2 = AVX2_KERNELS("avx2", loam_gemm_q8_avx2, loam_strip_matmul_avx2);
const loam_kernels loam_kernels_avx2_vnni = AVX2_KERNELS("avx2-vnni", loam_gemm_q8_avxvnni, loam_strip_matmul_avxvnni);
#endif
