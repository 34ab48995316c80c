/* The int8 product on weights repacked into strips (strips.h), AVX2 (CPUs
 * without VNNI, and AVX-512 ones without it):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k] (+ bias[n])    t < T, n0 <= n < n1
 *
 * The same strips the VNNI kernel reads: each 64-byte vector is two ymm
 * halves of 8 weight rows, so the micro-kernel holds an MR × 8 tile (one
 * half) and runs each half of a strip in turn; both halves of a strip's
 * slab stay in L2 meanwhile. Per block it makes each quad's operand in
 * registers as the VNNI kernel does, multiplies it with the row's 4
 * activations broadcast (vpmaddubsw: unsigned weight bytes × signed
 * activation bytes, pairs added into int16), sums as many quads in int16
 * as cannot saturate (8 for 4-bit weights, 2 for Q6_K's 6-bit ones), widens
 * to int32 with vpmaddwd, removes the offset there (the accumulator starts
 * at -offset · the row's activation sum) and converts once per scale. Q8_0's
 * bytes (stored + 128) are made signed and multiplied as |w| · sign(x, w),
 * one quad at a time: a pair of 255 · 127 would saturate.
 *
 * Registers (16 ymm): MR = 4 float accumulators, 4 int16/int32 sums, the
 * operands and constants. No horizontal sums: for a decode row the kernel
 * streams each strip once, 8 outputs at a time.
 *
 * Built with -mavx2 -mfma -mf16c; chosen only when CPUID reports AVX2. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/kernels.h"
#include "kernels/strips.h"

enum { MR = 4, HALF = LOAM_STRIP_ROWS / 2 };

#define UNROLL _Pragma("GCC unroll 16")

enum { KIND_Q4_0, KIND_Q4_K, KIND_Q8_0, KIND_Q6_K };

/* The 4 activations of quad q of a row's block, in every lane: one
 * broadcast load (a set1 of an int goes through a general register and
 * costs two more vector operations per quad and row). */
static inline __m256i quad_of(const loam_act_block *a, int q) {
    return _mm256_castps_si256(_mm256_broadcast_ss((const float *)(const void *)(a->q + 4 * q)));
}

/* Bytes of the strip prefetched ahead (as the VNNI kernel: the next 4
 * pairs of Q4_0 blocks). */
#ifndef STRIP_AHEAD
#define STRIP_AHEAD 2304
#endif
static inline __attribute__((always_inline)) void prefetch_ahead(const uint8_t *p, int lines) {
    UNROLL for (int l = 0; l < lines; l++) _mm_prefetch((const char *)p + STRIP_AHEAD + 64 * l, _MM_HINT_T0);
}

/* 8 f16 scales at p as floats */
static inline __m256 halves_at(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* 8 scale bytes at p (unsigned, or signed for Q6_K) as floats */
static inline __m256 bytes_at(const uint8_t *p, int is_signed) {
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}

/* y = (accumulate ? y : 0) + f (+ bias), the first ncols (<= 8) columns */
static inline __attribute__((always_inline)) void store_tile(int mr, __m256 f[MR], float *y, int ldy, int ncols, int accumulate,
                                                             const float *bias) {
    UNROLL for (int r = 0; r < mr; r++) {
        float *out = y + (size_t)r * ldy;
        if (ncols == HALF) {
            __m256 sum = f[r];
            if (accumulate) sum = _mm256_add_ps(sum, _mm256_loadu_ps(out));
            if (bias) sum = _mm256_add_ps(sum, _mm256_loadu_ps(bias));
            _mm256_storeu_ps(out, sum);
        } else {
            float v[HALF];
            _mm256_storeu_ps(v, f[r]);
            for (int c = 0; c < ncols; c++) out[c] = (accumulate ? out[c] : 0.0f) + v[c] + (bias ? bias[c] : 0.0f);
        }
    }
}

/* The strip's lines ahead, fetched by the first half's pass; the second
 * finds them in cache. */
static inline __attribute__((always_inline)) void fetch_ahead(int kind, int h, const uint8_t *head, const uint8_t *vec, int i,
                                                              int i0) {
    if (h) return;
    if (kind == KIND_Q4_K) prefetch_ahead(vec, 4);
    else if (kind == KIND_Q6_K) prefetch_ahead(vec, LOAM_STRIP_Q6_K_BLOCK / 64);
    else if (i % 2 == 0 || i == i0) prefetch_ahead(head, (kind == KIND_Q8_0 ? LOAM_STRIP_Q8_0_PAIR : LOAM_STRIP_Q4_0_PAIR) / 64);
}

/* Q4_0, Q4_K and Q8_0: mr rows × one half (h) of a strip over blocks
 * [i0, i0 + nblk) (Q4_K: whole super-blocks): y = (accumulate ? y : 0) + x · W. */
static inline __attribute__((always_inline)) void tile_blocks(int mr, int kind, const uint8_t *w, int h, int i0, int nblk,
                                                              const loam_act_block *x, int nb, float *y, int ldy, int ncols,
                                                              int accumulate, const float *bias) {
    const int kq = kind == KIND_Q4_K, q8 = kind == KIND_Q8_0;
    const size_t pair_bytes = q8 ? LOAM_STRIP_Q8_0_PAIR : LOAM_STRIP_Q4_0_PAIR, block_bytes = q8 ? 512 : 256;
    const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 f[MR];
    UNROLL for (int r = 0; r < mr; r++) f[r] = _mm256_setzero_ps();
    for (int i = i0; i < i0 + nblk; i++) {
        const uint8_t *head = kq ? w + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER : w + (size_t)(i / 2) * pair_bytes;
        const uint8_t *vec = kq ? head + LOAM_STRIP_K_HEAD + 256 * (size_t)(i % 8) : head + 64 + block_bytes * (i % 2);
        fetch_ahead(kind, h, head, vec, i, i0);
        vec += 32 * h;
        const loam_act_block *a[MR];
        UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        __m256i sum[MR]; /* the block's int32 sums */
        if (q8) { /* signed bytes, |w| · sign(x, w) a quad at a time */
            const __m256i bias128 = _mm256_set1_epi8((char)0x80);
            UNROLL for (int r = 0; r < mr; r++) sum[r] = _mm256_setzero_si256();
            UNROLL for (int q = 0; q < 8; q++) {
                __m256i ws = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(vec + 64 * q)), bias128);
                __m256i mag = _mm256_abs_epi8(ws);
                UNROLL for (int r = 0; r < mr; r++) {
                    __m256i p = _mm256_maddubs_epi16(mag, _mm256_sign_epi8(quad_of(a[r], q), ws));
                    sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(p, ones));
                }
            }
        } else { /* nibbles: 8 quads summed in int16 (at most 8 · 2 · 15 · 127) */
            __m256i s16[MR];
            UNROLL for (int r = 0; r < mr; r++) s16[r] = _mm256_setzero_si256();
            UNROLL for (int v = 0; v < 4; v++) {
                __m256i z = _mm256_load_si256((const __m256i *)(vec + 64 * v));
                __m256i lo = _mm256_and_si256(z, low), hi = _mm256_and_si256(_mm256_srli_epi16(z, 4), low);
                UNROLL for (int r = 0; r < mr; r++) {
                    s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(lo, quad_of(a[r], 2 * v)));
                    s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(hi, quad_of(a[r], 2 * v + 1)));
                }
            }
            UNROLL for (int r = 0; r < mr; r++)
                sum[r] = _mm256_add_epi32(_mm256_madd_epi16(s16[r], ones), _mm256_set1_epi32(kq ? 0 : -8 * a[r]->isum));
        }
        /* the scales of the half's 8 rows */
        if (kq) {
            __m256 dw = _mm256_mul_ps(halves_at(head + 16 * h), bytes_at(head + 64 + 16 * (i % 8) + 8 * h, 0));
            __m256 dm = _mm256_mul_ps(halves_at(head + 32 + 16 * h), bytes_at(head + 192 + 16 * (i % 8) + 8 * h, 0));
            UNROLL for (int r = 0; r < mr; r++) {
                f[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[r]), _mm256_mul_ps(dw, _mm256_set1_ps(a[r]->d)), f[r]);
                f[r] = _mm256_fmadd_ps(dm, _mm256_set1_ps(-a[r]->d * (float)a[r]->isum), f[r]);
            }
        } else {
            __m256 dw = halves_at(head + 32 * (i % 2) + 16 * h);
            UNROLL for (int r = 0; r < mr; r++)
                f[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[r]), _mm256_mul_ps(dw, _mm256_set1_ps(a[r]->d)), f[r]);
        }
    }
    store_tile(mr, f, y, ldy, ncols, accumulate, bias);
}

/* Q6_K: the same over whole super-blocks; per block two halves of 4 quads,
 * each with its own scale d·sc; quad 4hb + j's operand is a nibble of
 * vector 2hb + j/2 or'ed with bits 2j..2j+1 of high vector hb moved to bits
 * 4-5; two quads summed in int16 (at most 2 · 2 · 63 · 127). */
static inline __attribute__((always_inline)) void tile_q6_k(int mr, int kind, const uint8_t *w, int h, int i0, int nblk,
                                                            const loam_act_block *x, int nb, float *y, int ldy, int ncols,
                                                            int accumulate, const float *bias) {
    const __m256i low = _mm256_set1_epi8(15), high = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
    __m256 f[MR];
    UNROLL for (int r = 0; r < mr; r++) f[r] = _mm256_setzero_ps();
    for (int i = i0; i < i0 + nblk; i++) {
        const uint8_t *super = w + (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER;
        const uint8_t *vec = super + LOAM_STRIP_K_HEAD + (size_t)(i % 8) * LOAM_STRIP_Q6_K_BLOCK;
        fetch_ahead(kind, h, super, vec, i, i0);
        vec += 32 * h;
        const loam_act_block *a[MR];
        UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        __m256 d = halves_at(super + 16 * h);
        UNROLL for (int hb = 0; hb < 2; hb++) {
            __m256i hv = _mm256_load_si256((const __m256i *)(vec + 256 + 64 * hb)), sum[MR];
            UNROLL for (int r = 0; r < mr; r++) sum[r] = _mm256_set1_epi32(-32 * (hb ? a[r]->isum - a[r]->isum_lo : a[r]->isum_lo));
            UNROLL for (int j0 = 0; j0 < 4; j0 += 2) { /* quads 4hb + j0 and + 1: a nibble vector's two */
                __m256i nib = _mm256_load_si256((const __m256i *)(vec + 64 * (2 * hb + j0 / 2)));
                __m256i h0 = j0 == 0 ? _mm256_slli_epi16(hv, 4) : hv, h1 = j0 == 0 ? _mm256_slli_epi16(hv, 2) : _mm256_srli_epi16(hv, 2);
                __m256i op0 = _mm256_or_si256(_mm256_and_si256(nib, low), _mm256_and_si256(h0, high));
                __m256i op1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(nib, 4), low), _mm256_and_si256(h1, high));
                UNROLL for (int r = 0; r < mr; r++) {
                    __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(op0, quad_of(a[r], 4 * hb + j0)),
                                                   _mm256_maddubs_epi16(op1, quad_of(a[r], 4 * hb + j0 + 1)));
                    sum[r] = _mm256_add_epi32(sum[r], _mm256_madd_epi16(s16, ones));
                }
            }
            __m256 dsc = _mm256_mul_ps(d, bytes_at(super + 32 + 32 * (i % 8) + 16 * hb + 8 * h, 1));
            UNROLL for (int r = 0; r < mr; r++)
                f[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[r]), _mm256_mul_ps(dsc, _mm256_set1_ps(a[r]->d)), f[r]);
        }
    }
    store_tile(mr, f, y, ldy, ncols, accumulate, bias);
}

typedef void (*tile_fn)(const uint8_t *w, int h, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy,
                        int ncols, int accumulate, const float *bias);
/* one function per (type, rows): the loops above fully unrolled */
#define TILE_FN(TYPE, FN, KIND, ROWS)                                                                                        \
    static void TYPE##_##ROWS(const uint8_t *w, int h, int i0, int nblk, const loam_act_block *x, int nb, float *y,     \
                              int ldy, int ncols, int accumulate, const float *bias) {                                  \
        FN(ROWS, KIND, w, h, i0, nblk, x, nb, y, ldy, ncols, accumulate, bias);                                         \
    }
#define TILE_TABLE(TYPE, FN, KIND)                                                                                       \
    TILE_FN(TYPE, FN, KIND, 1) TILE_FN(TYPE, FN, KIND, 2) TILE_FN(TYPE, FN, KIND, 3) TILE_FN(TYPE, FN, KIND, 4)         \
    static const tile_fn TYPE##_tiles[MR] = {TYPE##_1, TYPE##_2, TYPE##_3, TYPE##_4};
TILE_TABLE(q4_0, tile_blocks, KIND_Q4_0)
TILE_TABLE(q4_k, tile_blocks, KIND_Q4_K)
TILE_TABLE(q8_0, tile_blocks, KIND_Q8_0)
/* Q6_K's operands take more registers: 3 or 4 rows run as tiles of 2
 * (a 4-row tile spilled 39 times a block; 512 rows of 2048 × 2048 then
 * ran at 105–137 GOP/s, as 2-row tiles at 138–140) */
TILE_FN(q6_k, tile_q6_k, KIND_Q6_K, 1)
TILE_FN(q6_k, tile_q6_k, KIND_Q6_K, 2)
static void q6_k_pairs(int mr, const uint8_t *w, int h, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy,
                       int ncols, int accumulate, const float *bias) {
    q6_k_2(w, h, i0, nblk, x, nb, y, ldy, ncols, accumulate, bias);
    (mr == 4 ? q6_k_2 : q6_k_1)(w, h, i0, nblk, x + 2 * (size_t)nb, nb, y + 2 * (size_t)ldy, ldy, ncols, accumulate, bias);
}
static void q6_k_3(const uint8_t *w, int h, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy, int ncols,
                   int accumulate, const float *bias) {
    q6_k_pairs(3, w, h, i0, nblk, x, nb, y, ldy, ncols, accumulate, bias);
}
static void q6_k_4(const uint8_t *w, int h, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy, int ncols,
                   int accumulate, const float *bias) {
    q6_k_pairs(4, w, h, i0, nblk, x, nb, y, ldy, ncols, accumulate, bias);
}
static const tile_fn q6_k_tiles[MR] = {q6_k_1, q6_k_2, q6_k_3, q6_k_4};

/* Blocks per slab (whole pairs or super-blocks: `unit`) so that one
 * strip's slab fits an eighth of L2, and rows per row block whose
 * activations fit half of it (1 MiB where unknown). */
static void blocking(const loam_cache_sizes *c, loam_type t, int nb, int T, int *kb, int *mc) {
    int64_t l2 = c && c->l2 > 0 ? c->l2 : 1 << 20;
    int unit = t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0 ? 2 : 8;
    int64_t block_bytes = (int64_t)loam_strip_bytes(t, 32 * unit) / unit;
    int64_t k = (l2 / 8) / block_bytes / unit * unit;
    *kb = k < unit ? unit : k >= nb ? nb : (int)k;
    int64_t m = (l2 / 2) / ((int64_t)*kb * (int64_t)sizeof(loam_act_block)) / MR * MR;
    *mc = m < MR ? MR : m > T ? T : (int)m;
}

void loam_strip_matmul_avx2(const loam_cache_sizes *caches, const loam_act_block *x, int T, int K, const void *strips,
                            loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    int nb = K / 32, kb, mc;
    size_t sb = loam_strip_bytes(wtype, K);
    const tile_fn *tiles = wtype == LOAM_T_Q4_0   ? q4_0_tiles
                           : wtype == LOAM_T_Q8_0 ? q8_0_tiles
                           : wtype == LOAM_T_Q4_K ? q4_k_tiles
                                                  : q6_k_tiles;
    blocking(caches, wtype, nb, T, &kb, &mc);
    for (int pc = 0; pc < nb; pc += kb) { /* n0 a multiple of 16: whole strips, two halves each */
        int nblk = nb - pc < kb ? nb - pc : kb;
        for (int ic = 0; ic < T; ic += mc) {
            int t1 = ic + mc < T ? ic + mc : T;
            for (int c0 = n0; c0 < n1; c0 += HALF) {
                int ncols = n1 - c0 < HALF ? n1 - c0 : HALF;
                const uint8_t *w = (const uint8_t *)strips + (size_t)(c0 / LOAM_STRIP_ROWS) * sb;
                const float *b = bias && pc + nblk == nb ? bias + c0 : NULL;
                for (int t = ic; t < t1; t += MR) {
                    int mr = t1 - t < MR ? t1 - t : MR;
                    tiles[mr - 1](w, c0 / HALF % 2, pc, nblk, x + (size_t)t * nb, nb, y + (size_t)t * ldy + c0, ldy, ncols, pc > 0, b);
                }
            }
        }
    }
}
#endif
