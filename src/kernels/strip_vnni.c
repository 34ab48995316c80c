/* The int8 product on weights repacked into strips (strips.h), AVX512-VNNI:
 *
 *   y[t, n] = sum_k x[t, k] W[n, k] (+ bias[n])    t < T, n0 <= n < n1
 *
 * The micro-kernel holds an MR × (16·NR) tile of the output: per block of
 * 32 and strip it loads the vectors of nibbles once, makes each quad's
 * vpdpbusd operand in registers (Q8_0: as stored; Q4_0, Q4_K: mask or shift a nibble vector; Q6_K:
 * the same, or'ed with its 2 high bits from the high vectors) and
 * multiplies it with every row's 4 activations, broadcast. The offset (8,
 * 32, 128) is removed in integers by starting each accumulator at -offset · (sum
 * of the row's activations over the elements it covers); then one convert
 * and one multiply-add with (weight scale × activation scale) per scale
 * (Q4_0: a block, Q6_K: 16 elements). Registers: 12 float and 12 int32
 * accumulators, the operands, the masks: at most 31 of 32.
 *
 * Loops (GotoBLAS without the packing: the weights are packed already):
 * slabs of K whose NR strips fit a quarter of L2, blocks of rows whose
 * activations fit half of it, then each group of NR strips against every
 * group of MR rows, so a group's weights are read from memory once per
 * block of rows (once in all for a server's decode step).
 *
 * From LOAM_INT8_PANEL_MIN_ROWS rows the product goes through gemm_vnni.c
 * instead (loam_gemm_strips_vnni): each panel of strips is unpacked once —
 * nibbles split, Q6_K's high bits joined, scales to f32 — into its format,
 * whose tile then spends its vector ops on vpdpbusd and the float epilogue
 * only. Here the nibble and scale work is redone for every group of 4
 * rows, which costs more than the unpacking from about 32 rows on (Intel
 * Xeon 6/207, 2 threads, 1B Q4_0 pp24 225-228 t/s here against 208-224
 * unpacked, pp64 207-229 against 221-269; 512 × 8192 × 2048 Q6_K 222 →
 * 644 GOP/s, Q4_0 501-561 → 623-699).
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mf16c;
 * chosen only when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/strips.h"

enum { MR = 4, NR = 3, COLS = LOAM_STRIP_ROWS * NR };

#define UNROLL _Pragma("GCC unroll 16")

/* The 4 activations of quad q of a row's block, in every lane. */
static inline __m512i quad_of(const loam_act_block *a, int q) {
    int32_t four;
    memcpy(&four, a->q + 4 * q, 4);
    return _mm512_set1_epi32(four);
}

/* y = (accumulate ? y : 0) + the tile (+ bias[n] when given: the last slab
 * adds it while the tile is in registers), the first ncols columns */
static inline __attribute__((always_inline)) void store_tile(int mr, int nr, __m512 f[MR][NR], float *y, int ldy, int ncols,
                                                             int accumulate, const float *bias) {
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int s = 0; s < nr; s++) {
        int left = ncols - LOAM_STRIP_ROWS * s;
        __mmask16 mask = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        float *out = y + (size_t)r * ldy + LOAM_STRIP_ROWS * s;
        __m512 sum = f[r][s];
        if (accumulate) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, out));
        if (bias) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, bias + LOAM_STRIP_ROWS * s));
        _mm512_mask_storeu_ps(out, mask, sum);
    }
}

/* Bytes of each strip prefetched ahead where the caches ask for software
 * prefetch (Zen 5, 1B Q4_0 decode: 56 t/s at 2304 bytes, the next 4 pairs;
 * 51-53 at 9216, 42-46 without; Zen 4 is faster without, see
 * loam_cpu_prefers_prefetch). */
#ifndef STRIP_AHEAD
#define STRIP_AHEAD 2304
#endif
static inline __attribute__((always_inline)) void prefetch_ahead(int nr, const uint8_t *p, size_t sb, int lines) {
    UNROLL for (int s = 0; s < nr; s++) UNROLL for (int l = 0; l < lines; l++)
        _mm_prefetch((const char *)p + (size_t)s * sb + STRIP_AHEAD + 64 * l, _MM_HINT_T0);
}

/* The types whose blocks have one scale each (Q6_K's have two, below). */
enum { KIND_Q4_0, KIND_Q4_K, KIND_Q8_0 };

/* Q4_0, Q4_K and Q8_0: mr rows × nr strips over blocks [i0, i0 + nblk)
 * (Q4_K: whole super-blocks): y = (accumulate ? y : 0) + x · W. Q8_0's
 * quads are stored as they are (w + 128), the others' as nibbles. Q4_K's
 * weight is d·sc·u - dmin·m per block: the min enters as one more
 * multiply-add with the row's activation sum. */
static inline __attribute__((always_inline)) void tile_blocks(int mr, int nr, int kind, int pf, const uint8_t *w, size_t sb,
                                                              int i0, int nblk, const loam_act_block *x, int nb, float *y,
                                                              int ldy, int ncols, int accumulate, const float *bias) {
    const int kq = kind == KIND_Q4_K, q8 = kind == KIND_Q8_0;
    const size_t pair_bytes = q8 ? LOAM_STRIP_Q8_0_PAIR : LOAM_STRIP_Q4_0_PAIR, block_bytes = q8 ? 512 : 256;
    __m512 f[MR][NR];
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_setzero_ps();
    const __m512i low = _mm512_set1_epi8(15);
    for (int i = i0; i < i0 + nblk; i++) {
        const uint8_t *head = kq ? w + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER : w + (size_t)(i / 2) * pair_bytes;
        const uint8_t *vec = kq ? head + LOAM_STRIP_K_HEAD + 256 * (size_t)(i % 8) : head + 64 + block_bytes * (i % 2);
        if (pf && kq) prefetch_ahead(nr, vec, sb, 4);
        else if (pf && (i % 2 == 0 || i == i0)) prefetch_ahead(nr, head, sb, (int)pair_bytes / 64);
        const loam_act_block *a[MR];
        __m512i acc[MR][NR];
        UNROLL for (int r = 0; r < mr; r++) {
            a[r] = x + (size_t)r * nb + i;
            __m512i start = _mm512_set1_epi32(kq ? 0 : (q8 ? -128 : -8) * a[r]->isum);
            UNROLL for (int s = 0; s < nr; s++) acc[r][s] = start;
        }
        UNROLL for (int v = 0; v < 4; v++) {
            __m512i lo[NR], hi[NR];
            UNROLL for (int s = 0; s < nr; s++) {
                if (q8) { /* quads 2v and 2v + 1 as stored */
                    lo[s] = _mm512_load_si512((const void *)(vec + (size_t)s * sb + 128 * v));
                    hi[s] = _mm512_load_si512((const void *)(vec + (size_t)s * sb + 128 * v + 64));
                    continue;
                }
                __m512i z = _mm512_load_si512((const void *)(vec + (size_t)s * sb + 64 * v));
                lo[s] = _mm512_and_si512(z, low);
                hi[s] = _mm512_and_si512(_mm512_srli_epi16(z, 4), low);
            }
            UNROLL for (int r = 0; r < mr; r++) {
                __m512i x0 = quad_of(a[r], 2 * v), x1 = quad_of(a[r], 2 * v + 1);
                UNROLL for (int s = 0; s < nr; s++) acc[r][s] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc[r][s], lo[s], x0), hi[s], x1);
            }
        }
        __m512 dw[NR], dm[NR];
        UNROLL for (int s = 0; s < nr; s++) {
            const uint8_t *h = head + (size_t)s * sb;
            if (kq) {
                __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h)), dmin = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(h + 32)));
                __m128i sc = _mm_load_si128((const __m128i *)(h + 64 + 16 * (i % 8))), m = _mm_load_si128((const __m128i *)(h + 192 + 16 * (i % 8)));
                dw[s] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sc)));
                dm[s] = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(m)));
            } else {
                dw[s] = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(h + 32 * (i % 2))));
            }
        }
        UNROLL for (int r = 0; r < mr; r++) {
            __m512 da = _mm512_set1_ps(a[r]->d);
            UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][s]), _mm512_mul_ps(dw[s], da), f[r][s]);
            if (kq) {
                __m512 dsum = _mm512_set1_ps(-a[r]->d * (float)a[r]->isum);
                UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_fmadd_ps(dm[s], dsum, f[r][s]);
            }
        }
    }
    store_tile(mr, nr, f, y, ldy, ncols, accumulate, bias);
}
#define tile_q4_0(mr, nr, ...) tile_blocks(mr, nr, KIND_Q4_0, __VA_ARGS__)
#define tile_q4_k(mr, nr, ...) tile_blocks(mr, nr, KIND_Q4_K, __VA_ARGS__)
#define tile_q8_0(mr, nr, ...) tile_blocks(mr, nr, KIND_Q8_0, __VA_ARGS__)

/* Q6_K: the same over blocks [i0, i0 + nblk) (whole super-blocks). Per block
 * two halves of 4 quads, each with its own scale d·sc; quad 4h + j's
 * operand is a nibble of vector 2h + j/2 or'ed with bits 2j..2j+1 of high
 * vector h moved to bits 4-5. */
static inline __attribute__((always_inline)) void tile_q6_k(int mr, int nr, int pf, const uint8_t *w, size_t sb, int i0,
                                                            int nblk, const loam_act_block *x, int nb, float *y, int ldy,
                                                            int ncols, int accumulate, const float *bias) {
    __m512 f[MR][NR];
    UNROLL for (int r = 0; r < mr; r++) UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_setzero_ps();
    const __m512i low = _mm512_set1_epi8(15), high = _mm512_set1_epi8(0x30);
    for (int i = i0; i < i0 + nblk; i++) {
        const uint8_t *super = w + (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER;
        const uint8_t *vec = super + LOAM_STRIP_K_HEAD + (size_t)(i % 8) * LOAM_STRIP_Q6_K_BLOCK;
        if (pf) prefetch_ahead(nr, vec, sb, LOAM_STRIP_Q6_K_BLOCK / 64);
        const loam_act_block *a[MR];
        UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        UNROLL for (int h = 0; h < 2; h++) {
            __m512i acc[MR][NR];
            UNROLL for (int r = 0; r < mr; r++) {
                __m512i start = _mm512_set1_epi32(-32 * (h ? a[r]->isum - a[r]->isum_lo : a[r]->isum_lo));
                UNROLL for (int s = 0; s < nr; s++) acc[r][s] = start;
            }
            UNROLL for (int j = 0; j < 4; j++) {
                __m512i op[NR];
                UNROLL for (int s = 0; s < nr; s++) {
                    const uint8_t *v = vec + (size_t)s * sb;
                    __m512i nib = _mm512_load_si512((const void *)(v + 64 * (2 * h + j / 2)));
                    __m512i hv = _mm512_load_si512((const void *)(v + 256 + 64 * h));
                    __m512i hs = j == 0 ? _mm512_slli_epi16(hv, 4) : j == 1 ? _mm512_slli_epi16(hv, 2) : j == 2 ? hv : _mm512_srli_epi16(hv, 2);
                    if (j % 2) nib = _mm512_srli_epi16(nib, 4);
                    /* (nib & 15) | (hs & 0x30) */
                    op[s] = _mm512_ternarylogic_epi32(nib, _mm512_and_si512(hs, high), low, 0xEC);
                }
                UNROLL for (int r = 0; r < mr; r++) {
                    __m512i xq = quad_of(a[r], 4 * h + j);
                    UNROLL for (int s = 0; s < nr; s++) acc[r][s] = _mm512_dpbusd_epi32(acc[r][s], op[s], xq);
                }
            }
            __m512 dsc[NR];
            UNROLL for (int s = 0; s < nr; s++) {
                const uint8_t *sup = super + (size_t)s * sb;
                __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)sup));
                __m128i sc = _mm_load_si128((const __m128i *)(sup + 32 + 32 * (i % 8) + 16 * h));
                dsc[s] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
            }
            UNROLL for (int r = 0; r < mr; r++) {
                __m512 da = _mm512_set1_ps(a[r]->d);
                UNROLL for (int s = 0; s < nr; s++) f[r][s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][s]), _mm512_mul_ps(dsc[s], da), f[r][s]);
            }
        }
    }
    store_tile(mr, nr, f, y, ldy, ncols, accumulate, bias);
}

typedef void (*tile_fn)(int pf, const uint8_t *w, size_t sb, int i0, int nblk, const loam_act_block *x, int nb, float *y, int ldy,
                        int ncols, int accumulate, const float *bias);
/* one function per (type, rows, strips): the loops above fully unrolled */
#define TILE_FN(TYPE, ROWS, STRIPS)                                                                                       \
    static void TYPE##_##ROWS##_##STRIPS(int pf, const uint8_t *w, size_t sb, int i0, int nblk, const loam_act_block *x, \
                                         int nb, float *y, int ldy, int ncols, int accumulate, const float *bias) {      \
        tile_##TYPE(ROWS, STRIPS, pf, w, sb, i0, nblk, x, nb, y, ldy, ncols, accumulate, bias);                          \
    }
#define TILE_ROWS(TYPE, STRIPS) TILE_FN(TYPE, 1, STRIPS) TILE_FN(TYPE, 2, STRIPS) TILE_FN(TYPE, 3, STRIPS) TILE_FN(TYPE, 4, STRIPS)
#define TILE_TABLE(TYPE)                                                                                                  \
    TILE_ROWS(TYPE, 1) TILE_ROWS(TYPE, 2) TILE_ROWS(TYPE, 3)                                                              \
    static const tile_fn TYPE##_tiles[NR][MR] = {                                                                       \
        {TYPE##_1_1, TYPE##_2_1, TYPE##_3_1, TYPE##_4_1},                                                               \
        {TYPE##_1_2, TYPE##_2_2, TYPE##_3_2, TYPE##_4_2},                                                               \
        {TYPE##_1_3, TYPE##_2_3, TYPE##_3_3, TYPE##_4_3},                                                               \
    };
TILE_TABLE(q4_0)
TILE_TABLE(q4_k)
TILE_TABLE(q8_0)
TILE_TABLE(q6_k)

/* rows from which the panels pay (above) */

/* Blocks per slab (whole pairs or super-blocks: `unit`) and rows per row
 * block, from L2 (1 MiB where unknown). */
static void blocking(const loam_cache_info *c, loam_type t, int nb, int T, int *kb, int *mc) {
    int64_t l2 = c && c->l2 > 0 ? c->l2 : 1 << 20;
    int unit = t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0 ? 2 : 8;
    int64_t block_bytes = (int64_t)loam_strip_bytes(t, 32 * unit) / unit;
    int64_t k = (l2 / 4) / (NR * block_bytes) / unit * unit;
    *kb = k < unit ? unit : k >= nb ? nb : (int)k;
    int64_t m = (l2 / 2) / ((int64_t)*kb * (int64_t)sizeof(loam_act_block)) / MR * MR;
    *mc = m < MR ? MR : m > T ? T : (int)m;
}

void loam_strip_matmul_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                            loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    if (T >= LOAM_INT8_PANEL_MIN_ROWS && loam_gemm_strips_vnni(caches, x, T, K, strips, wtype, n0, n1, y, ldy, bias)) return;
    int nb = K / 32, kb, mc, pf = loam_caches_prefetch(caches);
    size_t sb = loam_strip_bytes(wtype, K);
    const tile_fn(*tiles)[MR] = wtype == LOAM_T_Q4_0   ? q4_0_tiles
                                : wtype == LOAM_T_Q8_0 ? q8_0_tiles
                                : wtype == LOAM_T_Q4_K ? q4_k_tiles
                                                       : q6_k_tiles;
    blocking(caches, wtype, nb, T, &kb, &mc);
    /* One row without software prefetch (decode where the hardware
     * prefetchers stream alone): one strip at a time from its first block to
     * its last, so the weights are a single sequential stream. Zen 4, 1B
     * decode, one thread, alternated: Q4_0 27.8-28.2 t/s with NR strips side
     * by side, 35.1-36.9 this way; Phi-2 Q4_0 14.3-15.1 against 17.4-17.8
     * (slower with the strips in cache, where the NR chains hide latency). */
    int cols = COLS;
    if (T == 1 && !pf) cols = LOAM_STRIP_ROWS, kb = nb;
    for (int pc = 0; pc < nb; pc += kb) {
        int nblk = nb - pc < kb ? nb - pc : kb;
        for (int ic = 0; ic < T; ic += mc) {
            int t1 = ic + mc < T ? ic + mc : T;
            for (int c0 = n0; c0 < n1; c0 += cols) {
                int ncols = n1 - c0 < cols ? n1 - c0 : cols, nr = (ncols + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS;
                const uint8_t *w = (const uint8_t *)strips + (size_t)(c0 / LOAM_STRIP_ROWS) * sb;
                const float *b = bias && pc + nblk == nb ? bias + c0 : NULL;
                for (int t = ic; t < t1; t += MR) {
                    int mr = t1 - t < MR ? t1 - t : MR;
                    tiles[nr - 1][mr - 1](pf, w, sb, pc, nblk, x + (size_t)t * nb, nb, y + (size_t)t * ldy + c0, ldy, ncols, pc > 0, b);
                }
            }
        }
    }
}
#endif
