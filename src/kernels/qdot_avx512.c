/* int8 dot products with AVX512-VNNI.
 *
 * Decode (one activation row) and types without a 512-bit kernel use the
 * 256-bit kernels of qdot_simd.inc, where vpdpbusd multiplies |w|
 * (unsigned) by sign(x, w) and accumulates four products per lane.
 *
 * Prefill of Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights (decode of Q4_0, Q4_K,
 * Q5_K and Q6_K) uses full 512-bit vectors: the
 * activations of 8 token rows are first packed so that one zmm holds the
 * same block of two rows, and each unpacked weight block (copied into both
 * halves of a zmm) is multiplied with 4 such row pairs. Weights are fed to
 * vpdpbusd as unsigned bytes (w + 8, w + 128, or Q4_K's nibbles as they
 * are) and the offset is removed exactly, in integers, by starting the
 * accumulator at -offset * (sum of each lane's four activations), or for
 * Q4_K with its per-block mins through the activation sums. That is about
 * a third of the instructions per product of the 256-bit kernel.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; chosen only
 * when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/qdot.h"

static inline __m256i dot32_vnni(__m256i w, __m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}
/* unsigned weights (0..255) times signed activations, no sign trick */
static inline __m256i dot32u_vnni(__m256i w_unsigned, __m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w_unsigned, x);
}
#define DOT32 dot32_vnni
#define DOT32U dot32u_vnni
#define QMATMUL loam_qmatmul_vnni256
#define MAXR 8 /* 32 vector registers: 8 activation rows per unpacked weight block */
void loam_qmatmul_vnni256(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w, loam_type wtype,
                          int n0, int n1, float *y, int ldy);
#include "kernels/qdot_simd.inc"

/* One 32-element block of 8 activation rows, rows paired per zmm:
 * pair p holds rows 2p (bytes/lanes 0-31 / 0-7) and 2p+1 (32-63 / 8-15). */
typedef struct {
    int8_t q[4][64];
    float d[4][16];       /* each row's scale, repeated over its 8 lanes */
    int32_t neg8sum[4][16]; /* -8 * (sum of the lane's 4 activations) */
    float dsum[8];        /* d * (sum of q), per row, for Q4_K's mins */
    float pad[8];         /* keeps every block 64-byte aligned */
} act_pack8;

/* -8 * the sum of the 4 activations that dpbusd adds into lane l */
static inline int32_t neg8_lane_sum(const int8_t *q, int l) { return -8 * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]); }

/* Per-16-bit-lane shift counts, one count per 128-bit lane (lowest first):
 * srlv by these moves each lane's wanted nibble or bit pair down. */
static inline __m512i lane_shifts(long long s0, long long s1, long long s2, long long s3) {
    const long long w = 0x0001000100010001LL;
    return _mm512_set_epi64(s3 * w, s3 * w, s2 * w, s2 * w, s1 * w, s1 * w, s0 * w, s0 * w);
}

static void pack8(const loam_act_block *x, int nb, act_pack8 *out) {
    for (int i = 0; i < nb; i++) {
        act_pack8 *P = &out[i];
        for (int r = 0; r < 8; r++) {
            const loam_act_block *a = &x[(size_t)r * nb + i];
            int p = r / 2, h = r % 2;
            memcpy(&P->q[p][32 * h], a->q, 32);
            for (int l = 0; l < 8; l++) {
                P->d[p][8 * h + l] = a->d;
                P->neg8sum[p][8 * h + l] = neg8_lane_sum(a->q, l);
            }
            P->dsum[r] = a->d * (float)a->isum;
        }
    }
}

/* lanes 0-7 and 8-15 of v summed separately */
static inline void hsum_pair(__m512 v, float *lo, float *hi) {
    __m256 a = _mm512_castps512_ps256(v), b = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m128 s = _mm_hadd_ps(_mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1)),
                           _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1)));
    s = _mm_hadd_ps(s, s); /* a01+a23, b01+b23, ... */
    *lo = _mm_cvtss_f32(s);
    *hi = _mm_cvtss_f32(_mm_shuffle_ps(s, s, 1));
}

/* The kernels below multiply NR weight rows (NR a compile-time constant
 * after inlining, so the NR x 4 accumulators stay in registers) with the
 * 8 packed activation rows: each activation vector loaded from the pack
 * serves NR weight rows. out[j * 8 + r] = row r times weight row j. */
#define ZERO4 {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}

static inline __attribute__((always_inline)) void store_rows(__m512 acc[][4], int nr, float *out) {
    _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++)
        _Pragma("GCC unroll 8") for (int p = 0; p < 4; p++) hsum_pair(acc[j][p], &out[j * 8 + 2 * p], &out[j * 8 + 2 * p + 1]);
}

/* Q4_0 and Q8_0 (q8): one f16 scale per 32-element block, fed to dpbusd
 * as unsigned bytes with the offset removed in the integer accumulator.
 * Q4_0: w = nibble - 8, start at -8 * lane sums; 128-bit lanes 0 and 2 keep
 * the low nibbles (elements 0-15), 1 and 3 the high ones (16-31).
 * Q8_0: w = (w + 128) - 128 with the sign bit flipped, start at -128 *
 * lane sums (= 16 * the -8 sums). */
static inline __attribute__((always_inline)) void rows8_q4_0_q8_0(const uint8_t *b, size_t rb, int nr, const act_pack8 *P, int nb,
                                                                   int q8, float *out) {
    __m512 acc[4][4] = {ZERO4, ZERO4, ZERO4, ZERO4};
    const __m512i shift = lane_shifts(0, 4, 0, 4), low = _mm512_set1_epi8(15), flip = _mm512_set1_epi8((char)0x80);
    const int bytes = q8 ? 34 : 18;
    for (int i = 0; i < nb; i++, b += bytes) {
        __m512i wz[4];
        __m512 dw[4];
        _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
            const uint8_t *bj = b + j * rb;
            _mm_prefetch((const char *)bj + 288, _MM_HINT_T0);
            if (q8) wz[j] = _mm512_xor_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(bj + 2))), flip);
            else wz[j] = _mm512_and_si512(_mm512_srlv_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(bj + 2))), shift), low);
            dw[j] = _mm512_set1_ps(half_at(bj));
        }
        _Pragma("GCC unroll 8") for (int p = 0; p < 4; p++) {
            __m512i q = _mm512_load_si512(P[i].q[p]), start = _mm512_slli_epi32(_mm512_load_si512(P[i].neg8sum[p]), q8 ? 4 : 0);
            __m512 xd = _mm512_load_ps(P[i].d[p]);
            _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                __m512i sdot = _mm512_dpbusd_epi32(start, wz[j], q);
                acc[j][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sdot), _mm512_mul_ps(dw[j], xd), acc[j][p]);
            }
        }
    }
    store_rows(acc, nr, out);
}

/* Q4_K: 8 blocks of 32 per 256-element super-block, each with a 6-bit
 * scale and min; w = d * scale * nibble - dmin * min. At most 2 weight
 * rows at a time: each needs two unpacked vectors and two scales. Q5_K
 * (five) adds a fifth bit per element: bit 2p / 2p + 1 of the 32 qh bytes
 * for the low / high nibbles of chunk p. */
static inline __attribute__((always_inline)) void rows8_q45_k(const uint8_t *b, size_t rb, int nr, const act_pack8 *P, int nsb,
                                                               int five, float *out) {
    __m512 acc[4][4] = {ZERO4, ZERO4, ZERO4, ZERO4};
    __m256 mins[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const __m512i low = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    for (int i = 0; i < nsb; i++, b += five ? 176 : 144, P += 8) {
        float d[2], s[2][8];
        _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
            const uint8_t *bj = b + j * rb;
            float dmin = half_at(bj + 2);
            d[j] = half_at(bj);
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                uint8_t sc, m;
                k_scale_min(k, bj + 4, &sc, &m);
                s[j][k] = d[j] * sc;
                mins[j] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * m), _mm256_load_ps(P[k].dsum), mins[j]);
            }
        }
        _Pragma("GCC unroll 8") for (int p = 0; p < 4; p++) {
            __m512i w0[2], w1[2];
            _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                const uint8_t *q = b + j * rb + (five ? 48 : 16) + 32 * p;
                _mm_prefetch((const char *)q + 576, _MM_HINT_T0);
                __m512i bytes = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
                w0[j] = _mm512_and_si512(bytes, low), w1[j] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
                if (five) {
                    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + j * rb + 16)));
                    w0[j] = _mm512_or_si512(w0[j], _mm512_slli_epi16(_mm512_and_si512(_mm512_srl_epi16(qh, _mm_cvtsi32_si128(2 * p)), one), 4));
                    w1[j] = _mm512_or_si512(w1[j], _mm512_slli_epi16(_mm512_and_si512(_mm512_srl_epi16(qh, _mm_cvtsi32_si128(2 * p + 1)), one), 4));
                }
            }
            const act_pack8 *A0 = &P[2 * p], *A1 = &P[2 * p + 1];
            _Pragma("GCC unroll 8") for (int r = 0; r < 4; r++) {
                __m512i q0 = _mm512_load_si512(A0->q[r]), q1 = _mm512_load_si512(A1->q[r]);
                __m512 x0 = _mm512_load_ps(A0->d[r]), x1 = _mm512_load_ps(A1->d[r]);
                _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                    __m512i i0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w0[j], q0);
                    __m512i i1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w1[j], q1);
                    acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(_mm512_set1_ps(s[j][2 * p]), x0), acc[j][r]);
                    acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(_mm512_set1_ps(s[j][2 * p + 1]), x1), acc[j][r]);
                }
            }
        }
    }
    store_rows(acc, nr, out);
    _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
        float mn[8];
        _mm256_storeu_ps(mn, mins[j]);
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) out[j * 8 + r] -= mn[r];
    }
}

/* Q6_K: 16 blocks of 16 per super-block, int8 scales, w = d * scale *
 * (q6 - 32). Within a 32-element activation block, dpbusd lanes 0-3 hold
 * elements 0-15 and lanes 4-7 elements 16-31, so one vector of scales
 * [s0 x4, s1 x4] per row covers both halves. The -32 offset is removed
 * by starting at 4 * (-8 * lane sums). */
static inline __attribute__((always_inline)) void rows8_q6_k(const uint8_t *b, size_t rb, int nr, const act_pack8 *P, int nsb,
                                                              float *out) {
    __m512 acc[4][4] = {ZERO4, ZERO4, ZERO4, ZERO4};
    const __m512i low = _mm512_set1_epi8(15), three = _mm512_set1_epi8(3);
    for (int i = 0; i < nsb; i++, b += 210, P += 8) {
        for (int half = 0; half < 2; half++) {
            __m512i w[2][4];
            float d[2];
            _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                const uint8_t *bj = b + j * rb, *ql = bj + 64 * half, *qh = bj + 128 + 32 * half;
                _mm_prefetch((const char *)bj + 630 + 64 * half, _MM_HINT_T0);
                d[j] = half_at(bj + 208);
                __m512i l0 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)ql));
                __m512i l1 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(ql + 32)));
                __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
                w[j][0] = _mm512_or_si512(_mm512_and_si512(l0, low), _mm512_slli_epi16(_mm512_and_si512(h, three), 4));
                w[j][1] = _mm512_or_si512(_mm512_and_si512(l1, low),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 2), three), 4));
                w[j][2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), low),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 4), three), 4));
                w[j][3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), low),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 6), three), 4));
            }
            _Pragma("GCC unroll 8") for (int g = 0; g < 4; g++) {
                const act_pack8 *A = &P[4 * half + g];
                __m512 sv[2];
                _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                    const int8_t *sc = (const int8_t *)(b + j * rb + 192) + 8 * half + 2 * g;
                    __m256 s8 = _mm256_set_m128(_mm_set1_ps(d[j] * sc[1]), _mm_set1_ps(d[j] * sc[0]));
                    sv[j] = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(s8)));
                }
                _Pragma("GCC unroll 8") for (int r = 0; r < 4; r++) {
                    __m512i q = _mm512_load_si512(A->q[r]), start = _mm512_slli_epi32(_mm512_load_si512(A->neg8sum[r]), 2);
                    __m512 xd = _mm512_load_ps(A->d[r]);
                    _Pragma("GCC unroll 8") for (int j = 0; j < nr; j++) {
                        __m512i is = _mm512_dpbusd_epi32(start, w[j][g], q);
                        acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(sv[j], xd), acc[j][r]);
                    }
                }
            }
        }
    }
    store_rows(acc, nr, out);
}

/* weight rows [n, n + nr) times the 8 packed rows; nr is a literal at each call */
static inline __attribute__((always_inline)) void rows8(loam_type t, const uint8_t *w, size_t rb, int nr, const act_pack8 *P,
                                                         int K, float *out) {
    if (t == LOAM_T_Q4_0) rows8_q4_0_q8_0(w, rb, nr, P, K / 32, 0, out);
    else if (t == LOAM_T_Q8_0) rows8_q4_0_q8_0(w, rb, nr, P, K / 32, 1, out);
    else if (t == LOAM_T_Q4_K) rows8_q45_k(w, rb, nr, P, K / 256, 0, out);
    else if (t == LOAM_T_Q5_K) rows8_q45_k(w, rb, nr, P, K / 256, 1, out);
    else rows8_q6_k(w, rb, nr, P, K / 256, out);
}

/* Decode (fewer than 8 rows): one activation row, two consecutive blocks
 * per zmm (lanes 0-7 block 2k, 8-15 block 2k+1). */
typedef struct {
    int8_t q[64];
    int32_t neg8sum[16];
    float d[16];
} act_pack1;

/* Packs nb blocks into nb / 2 pairs, and each block's d * (sum of q), for
 * Q4_K's mins, into dsum[nb] (contiguous, so 8 blocks load as one vector). */
static void pack1(const loam_act_block *x, int nb, act_pack1 *out, float *dsum) {
    for (int i = 0; i < nb; i++) {
        act_pack1 *P = &out[i / 2];
        int h = i % 2;
        memcpy(&P->q[32 * h], x[i].q, 32);
        dsum[i] = x[i].d * (float)x[i].isum;
        for (int l = 0; l < 8; l++) {
            P->d[8 * h + l] = x[i].d;
            P->neg8sum[8 * h + l] = neg8_lane_sum(x[i].q, l);
        }
    }
}

/* Q4_0 weight row times one packed row (nb even). Two accumulators, so
 * that consecutive pairs of blocks are not one chain of dependent FMAs.
 * One weight row at a time: more interleaved rows measured slower. */
#ifndef ROW1_AHEAD
#define ROW1_AHEAD 6144 /* bytes of the weight row prefetched ahead: Q4_0 1B decode, 1 thread, 26.9 t/s at 512, 30.2 at 1536, 39.2 at 6 KiB */
#endif

static inline void q4_0_pair(const uint8_t *b, __m512 dw, const act_pack1 *P, __m512 *acc) {
    const __m512i shift = lane_shifts(0, 4, 0, 4);
    __m512i wv = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(b + 2))), 0xFF00,
                                             _mm_loadu_si128((const __m128i *)(b + 20)));
    __m512i wz = _mm512_and_si512(_mm512_srlv_epi16(wv, shift), _mm512_set1_epi8(15));
    __m512i sdot = _mm512_dpbusd_epi32(_mm512_load_si512(P->neg8sum), wz, _mm512_load_si512(P->q));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sdot), _mm512_mul_ps(dw, _mm512_load_ps(P->d)), *acc);
}

/* The f16 scales of 4 consecutive Q4_0 blocks (bytes 0, 18, 36, 54 of a
 * 64-byte load), each spread over 8 lanes: blocks 0-1 in the first vector,
 * 2-3 in the second. One permute instead of four scalar loads. */
static inline void q4_0_scales4(const uint8_t *b, __m512 *d01, __m512 *d23) {
    const __m512i idx = _mm512_set_epi16(27, 27, 27, 27, 27, 27, 27, 27, 18, 18, 18, 18, 18, 18, 18, 18, 9, 9, 9, 9, 9, 9, 9, 9,
                                         0, 0, 0, 0, 0, 0, 0, 0);
    __m512i h = _mm512_permutexvar_epi16(idx, _mm512_loadu_si512(b));
    *d01 = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *d23 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

static float row1_q4_0(int pf, const uint8_t *b, const act_pack1 *P, int nb) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 1 < nb / 2; k += 2, b += 72) {
        if (pf) {
            _mm_prefetch((const char *)b + ROW1_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 64, _MM_HINT_T0);
        }
        __m512 d01, d23;
        q4_0_scales4(b, &d01, &d23);
        q4_0_pair(b, d01, &P[k], &acc0);
        q4_0_pair(b + 36, d23, &P[k + 1], &acc1);
    }
    if (k < nb / 2) {
        __m512 dw = _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16((short)half_bits(b + 18)), _mm_set1_epi16((short)half_bits(b))));
        q4_0_pair(b, dw, &P[k], &acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* The 8 six-bit scales and 8 mins of a Q4_K super-block, one per byte,
 * decoded 4 at a time with 32-bit masks: bytes 0-3 hold scales 0-3 (and the
 * top bits of scales 4-7), bytes 4-7 mins 0-3 (and the top bits of mins
 * 4-7), bytes 8-11 the low nibbles of scales / mins 4-7. */
static inline void q4_k_scales_mins(const uint8_t *s12, uint64_t *scales, uint64_t *mins) {
    uint32_t u0, u1, u2;
    memcpy(&u0, s12, 4), memcpy(&u1, s12 + 4, 4), memcpy(&u2, s12 + 8, 4);
    uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
    uint32_t mn_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
    *scales = (u0 & 0x3f3f3f3fu) | (uint64_t)sc_hi << 32;
    *mins = (u1 & 0x3f3f3f3fu) | (uint64_t)mn_hi << 32;
}

static inline __m256 bytes8_to_ps(uint64_t v) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)v))); }

/* Lanes 0-7 take element a of a vector, lanes 8-15 element b. */
static inline __m512i pair_index(int a, int b) { return _mm512_mask_set1_epi32(_mm512_set1_epi32(a), 0xFF00, b); }

/* Q4_K weight row times one packed row: each 32-byte chunk of nibbles
 * holds blocks 2p (low nibbles) and 2p + 1 (high), exactly one pair. The
 * super-block's scales become one vector of d * scale, spread to the two
 * halves of each pair by a permute; the mins meet the activation sums in
 * an 8-lane vector. */
/* Q5_K (five): the same with a fifth bit per element, bit 2p (lanes 0-7)
 * or 2p + 1 (lanes 8-15) of the 32 qh bytes. */
static inline __attribute__((always_inline)) float row1_q45_k(int pf, const uint8_t *b, const act_pack1 *P, const float *dsum,
                                                               int nsb, int five) {
    const __m512i shift = lane_shifts(0, 0, 4, 4);
    const __m512i low = _mm512_set1_epi8(15), one = _mm512_set1_epi8(1);
    const __m512i pick[4] = {pair_index(0, 1), pair_index(2, 3), pair_index(4, 5), pair_index(6, 7)};
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m256 mins = _mm256_setzero_ps();
    const int bytes = five ? 176 : 144, qs = five ? 48 : 16;
    for (int i = 0; i < nsb; i++, b += bytes, P += 4) {
        if (pf) {
            _mm_prefetch((const char *)b + ROW1_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 128, _MM_HINT_T0);
        }
        __m512i qh = five ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 16))) : _mm512_setzero_si512();
        uint64_t sc8, mn8;
        q4_k_scales_mins(b + 4, &sc8, &mn8);
        __m512 scales = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_set1_ps(half_at(b)), bytes8_to_ps(sc8)));
        mins = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(half_at(b + 2)), bytes8_to_ps(mn8)), _mm256_loadu_ps(dsum + 8 * i), mins);
        _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) {
            __m512i wz = _mm512_and_si512(
                _mm512_srlv_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + qs + 32 * p))), shift), low);
            if (five)
                wz = _mm512_or_si512(wz, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, lane_shifts(2 * p, 2 * p, 2 * p + 1, 2 * p + 1)), one), 4));
            __m512i idot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wz, _mm512_load_si512(P[p].q));
            __m512 f = _mm512_mul_ps(_mm512_permutexvar_ps(pick[p], scales), _mm512_load_ps(P[p].d));
            if (p % 2) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot), f, acc1);
            else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot), f, acc0);
        }
    }
    __m128 m4 = _mm_add_ps(_mm256_castps256_ps128(mins), _mm256_extractf128_ps(mins, 1));
    m4 = _mm_add_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_add_ss(m4, _mm_movehdup_ps(m4));
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) - _mm_cvtss_f32(m4);
}

static float row1_q4_k(int pf, const uint8_t *b, const act_pack1 *P, const float *dsum, int nsb) { return row1_q45_k(pf, b, P, dsum, nsb, 0); }
static float row1_q5_k(int pf, const uint8_t *b, const act_pack1 *P, const float *dsum, int nsb) { return row1_q45_k(pf, b, P, dsum, nsb, 1); }

/* Q6_K weight row times one packed row. Per 128 elements, 64 bytes of low
 * bits (ql) and 32 of high bits (qh) give blocks 4h..4h+3: ql's low
 * nibbles with qh bits 0-1 / 2-3 are blocks 4h / 4h+1, the high nibbles
 * with bits 4-5 / 6-7 blocks 4h+2 / 4h+3. Each block has two 16-element
 * scales (dpbusd lanes 0-3 and 4-7). The -32 offset starts the integer
 * accumulator at 4 * (-8 * lane sums). */
static float row1_q6_k(int pf, const uint8_t *b, const act_pack1 *P, int nsb) {
    const __m512i sh_a = lane_shifts(0, 0, 2, 2);
    const __m512i sh_b = lane_shifts(4, 4, 6, 6);
    /* pair j covers scales 4j..4j+3, 4 lanes each */
    const __m512i pick[4] = {
        _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
        _mm512_set_epi32(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4),
        _mm512_set_epi32(11, 11, 11, 11, 10, 10, 10, 10, 9, 9, 9, 9, 8, 8, 8, 8),
        _mm512_set_epi32(15, 15, 15, 15, 14, 14, 14, 14, 13, 13, 13, 13, 12, 12, 12, 12)};
    const __m512i low = _mm512_set1_epi8(15), three = _mm512_set1_epi8(3);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int i = 0; i < nsb; i++, b += 210, P += 4) {
        if (pf) {
            _mm_prefetch((const char *)b + ROW1_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 128, _MM_HINT_T0);
            _mm_prefetch((const char *)b + ROW1_AHEAD + 192, _MM_HINT_T0);
        }
        /* the 16 signed scales times d, once per super-block */
        __m512 scales = _mm512_mul_ps(_mm512_set1_ps(half_at(b + 208)),
                                      _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 192)))));
        _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
            __m512i L = _mm512_loadu_si512(b + 64 * h);
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h)));
            __m512i wa = _mm512_or_si512(_mm512_and_si512(L, low),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh_a), three), 4));
            __m512i wb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), low),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh_b), three), 4));
            _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
                const act_pack1 *A = &P[2 * h + k];
                __m512i start = _mm512_slli_epi32(_mm512_load_si512(A->neg8sum), 2);
                __m512i idot = _mm512_dpbusd_epi32(start, k ? wb : wa, _mm512_load_si512(A->q));
                __m512 f = _mm512_mul_ps(_mm512_permutexvar_ps(pick[2 * h + k], scales), _mm512_load_ps(A->d));
                if (k) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot), f, acc1);
                else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot), f, acc0);
            }
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* One packed activation row for the row1 kernels: nb / 2 pairs, then dsum[nb]. */
static size_t pack1_bytes(int nb) { return (size_t)(nb / 2) * sizeof(act_pack1) + ((size_t)nb * sizeof(float) + 63) / 64 * 64; }

static int rows1_supported(loam_type wtype, int nb) {
    return (wtype == LOAM_T_Q4_0 && nb % 2 == 0) || wtype == LOAM_T_Q4_K || wtype == LOAM_T_Q5_K || wtype == LOAM_T_Q6_K;
}

/* y[n] for n in [n0, n1) = weight row n times one packed activation row. */
static void rows1(int pf, const uint8_t *packed, int K, const void *w, loam_type wtype, size_t rb, int n0, int n1, float *y) {
    int nb = K / 32;
    const act_pack1 *P = (const act_pack1 *)packed;
    const float *dsum = (const float *)(P + nb / 2);
    for (int n = n0; n < n1; n++) {
        const uint8_t *wr = (const uint8_t *)w + (size_t)n * rb;
        y[n] = wtype == LOAM_T_Q4_0   ? row1_q4_0(pf, wr, P, nb)
               : wtype == LOAM_T_Q4_K ? row1_q4_k(pf, wr, P, dsum, K / 256)
               : wtype == LOAM_T_Q5_K ? row1_q5_k(pf, wr, P, dsum, K / 256)
                                      : row1_q6_k(pf, wr, P, K / 256);
    }
}

/* T rows packed for rows1 (malloc'ed), or NULL. */
static uint8_t *pack_rows1(const loam_act_block *x, int T, int nb) {
    size_t one = pack1_bytes(nb);
    uint8_t *P = aligned_alloc(64, one * (size_t)(T > 0 ? T : 1));
    for (int t = 0; P && t < T; t++) pack1(x + (size_t)t * nb, nb, (act_pack1 *)(P + one * t), (float *)(P + one * t + (size_t)(nb / 2) * sizeof(act_pack1)));
    return P;
}

/* fewer than 8 rows of Q4_0, Q4_K, Q5_K or Q6_K; 0 when this path does not apply */
static int decode_rows(int pf, const loam_act_block *x, int T, int K, const void *w, loam_type wtype, int n0, int n1, float *y, int ldy) {
    int nb = K / 32;
    if (!rows1_supported(wtype, nb)) return 0;
    uint8_t *P = pack_rows1(x, T, nb);
    if (!P) return 0;
    size_t rb = loam_row_bytes(wtype, K), one = pack1_bytes(nb);
    int step = loam_chunk_rows(rb);
    for (int c0 = n0; c0 < n1; c0 += step) {
        int c1 = c0 + step < n1 ? c0 + step : n1;
        for (int t = 0; t < T; t++) rows1(pf, P + one * t, K, w, wtype, rb, c0, c1, y + (size_t)t * ldy);
    }
    free(P);
    return 1;
}

/* Weight rows [c0, c1) times 8 packed activation rows, the first `rows` of
 * them into y (the others are zero padding). */
static void rows8_range(const act_pack8 *P, int K, const void *w, loam_type wtype, size_t row_bytes, int c0, int c1, float *y, int ldy,
                        int rows) {
    int step = wtype == LOAM_T_Q4_K || wtype == LOAM_T_Q5_K || wtype == LOAM_T_Q6_K ? 2 : 4, n = c0;
    float out[32];
    for (; n + step <= c1; n += step) {
        const uint8_t *wr = (const uint8_t *)w + (size_t)n * row_bytes;
        if (step == 4) rows8(wtype, wr, row_bytes, 4, P, K, out);
        else rows8(wtype, wr, row_bytes, 2, P, K, out);
        for (int j = 0; j < step; j++)
            for (int r = 0; r < rows; r++) y[(size_t)r * ldy + n + j] = out[j * 8 + r];
    }
    for (; n < c1; n++) { /* the last rows of the range, one at a time */
        rows8(wtype, (const uint8_t *)w + (size_t)n * row_bytes, row_bytes, 1, P, K, out);
        for (int r = 0; r < rows; r++) y[(size_t)r * ldy + n] = out[r];
    }
}

/* Packs the rows of x (at most 8) as one group of 8, the missing ones zero
 * blocks (scale 0: they add nothing). */
static void pack8_padded(const loam_act_block *x, int rows, int nb, act_pack8 *out, loam_act_block *scratch) {
    memset(scratch, 0, (size_t)8 * (size_t)nb * sizeof *scratch);
    memcpy(scratch, x, (size_t)rows * (size_t)nb * sizeof *scratch);
    pack8(scratch, nb, out);
}

/* From this many rows a group of 8 pays even when part of it is zero
 * padding: the 8-row kernel unpacks each weight block once for all of them,
 * the one-row kernel once per row. */
enum { PAD_MIN_ROWS = 6 }; /* Zen 5, 1B Q4_0, t/s one-row vs padded: pp4 78 vs 63, pp5 84 vs 76, pp6 87 vs 94, pp7 84 vs 104 */

void loam_qmatmul_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w, loam_type wtype,
                       int n0, int n1, float *y, int ldy) {
    int pf = loam_caches_prefetch(caches);
    if (T < PAD_MIN_ROWS && decode_rows(pf, x, T, K, w, wtype, n0, n1, y, ldy)) return;
    int eight = wtype == LOAM_T_Q4_0 || wtype == LOAM_T_Q8_0 || wtype == LOAM_T_Q4_K || wtype == LOAM_T_Q5_K || wtype == LOAM_T_Q6_K;
    int nb = K / 32, rest = T % 8, padded = rest >= PAD_MIN_ROWS, groups = T / 8 + padded;
    if (padded) rest = 0;
    act_pack8 *P = eight && groups > 0 ? aligned_alloc(64, (size_t)groups * (size_t)nb * sizeof *P) : NULL;
    loam_act_block *scratch = P && padded ? malloc((size_t)8 * (size_t)nb * sizeof *scratch) : NULL;
    /* the rows past the last group of 8: the row1 kernels where they apply */
    uint8_t *R = P && rest && rows1_supported(wtype, nb) ? pack_rows1(x + (size_t)(T - rest) * nb, rest, nb) : NULL;
    if (!P || (padded && !scratch)) { /* no 512-bit kernel, or no memory for the packed rows: the 256-bit path needs none */
        free(P), free(R), free(scratch);
        loam_qmatmul_vnni256(caches, x, T, K, w, wtype, n0, n1, y, ldy);
        return;
    }
    for (int g = 0; g < groups; g++) {
        int rows = T - g * 8 < 8 ? T - g * 8 : 8;
        if (rows < 8) pack8_padded(x + (size_t)g * 8 * nb, rows, nb, P + (size_t)g * nb, scratch);
        else pack8(x + (size_t)g * 8 * nb, nb, P + (size_t)g * nb);
    }
    free(scratch);
    size_t row_bytes = loam_row_bytes(wtype, K), one = pack1_bytes(nb);
    int step = loam_chunk_rows(row_bytes), t_rest = T - rest;
    for (int c0 = n0; c0 < n1; c0 += step) {
        int c1 = c0 + step < n1 ? c0 + step : n1;
        for (int g = 0; g < groups; g++) {
            int rows = T - g * 8 < 8 ? T - g * 8 : 8;
            rows8_range(P + (size_t)g * nb, K, w, wtype, row_bytes, c0, c1, y + (size_t)g * 8 * ldy, ldy, rows);
        }
        if (R)
            for (int t = 0; t < rest; t++) rows1(pf, R + one * t, K, w, wtype, row_bytes, c0, c1, y + (size_t)(t_rest + t) * ldy);
        else if (rest)
            loam_qmatmul_vnni256(caches, x + (size_t)t_rest * nb, rest, K, w, wtype, c0, c1, y + (size_t)t_rest * ldy, ldy);
    }
    free(P), free(R);
}
#endif
