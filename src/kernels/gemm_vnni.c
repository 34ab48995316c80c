/* The blocked int8 matrix product for AVX512-VNNI (prefill, encoders):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k]      t < T, n0 <= n < n1
 *
 * The GotoBLAS / BLIS structure of gemm_pack.h, with strips of 48
 * columns (3 zmm of 16) and a micro-kernel that holds a 4 × 48 tile of the
 * output in registers (12 float accumulators, 12 int32 ones, 3 weight
 * vectors: 27 of the 32 zmm).
 *
 * Per 32-block and tile: 96 vpdpbusd, whose activation operand is a
 * broadcast from memory, then per accumulator two multiply-adds:
 * f += dw · fma(acc as a float, da, dbias) (types with mins: + mw · da ·
 * sum). The weights are bytes biased by 128 and each accumulator starts at
 * a value from the activation block (fstart, a broadcast load: no
 * execution port) that removes the bias and makes its bits, after the
 * products, the float 1.5 · 2^23 + sum(w · q) exactly (qdot.h): no
 * conversion, and no weight offset left for the epilogue.
 *   History: the epilogue was a convert and two multiply-adds, dw · (da ·
 * acc - o · da · sum), with integer accumulators started by a zero idiom
 * (starting them at -o · sum from a register took a copy each, 12 per
 * block on the two ports vpdpbusd issues on). 148 → 136 → 120 vector ops
 * per 96 vpdpbusd. Intel Xeon 6/207, one thread, 512 × 2048 × 2048, best
 * of 6-8 alternated, zero-start form → float-read sums: Q4_0 496 → 511,
 * Q8_0 488 → 510, Q4_K 469 → 480, Q6_K 376 → 407 GOP/s.
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mf16c;
 * chosen only when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/gemm_pack.h"
#include "kernels/strips.h"

enum { MR = 4, NR = 3, STRIP = 16 * NR, QUAD_BYTES = 32 * STRIP };

/* d · (the activation sum of half h of a block, or of all of it), in every lane */
static inline __m512 act_dsum(const loam_act_block *a, int sub16, int h) {
    __m512 all = _mm512_set1_ps(a->dsum);
    return !sub16 ? all : h == 0 ? _mm512_set1_ps(a->dsum_lo) : _mm512_sub_ps(all, _mm512_set1_ps(a->dsum_lo));
}

/* mr (<= 4) rows × one strip over nblk blocks: y = (accumulate ? y : 0) + x · strip.
 * The weights are bytes biased by 128; the offset is in each accumulator's start. */
static inline __attribute__((always_inline)) void tile(int mr, int sub16, int has_min, int offset, const uint8_t *strip,
                                                       size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,
                                                       int ldy, int ncols, int accumulate, const float *bias) {
    (void)offset; /* always 128 */
    __m512 f[MR][NR];
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_setzero_ps();
    int nsub = sub16 ? 2 : 1, quads = 8 / nsub;
    for (int i = 0; i < nblk; i++) {
        const uint8_t *o = strip + (size_t)i * sbb;
        const float *dw = (const float *)(o + QUAD_BYTES), *mw = dw + nsub * STRIP;
        const loam_act_block *a[MR];
        GEMM_UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        GEMM_UNROLL for (int h = 0; h < nsub; h++) {
            __m512i acc[MR][NR];
            GEMM_UNROLL for (int r = 0; r < mr; r++)
                GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = GEMM_STARTED(__m512i, &a[r]->fstart[sub16 ? 1 + h : 0], v);
            GEMM_UNROLL for (int q = h * quads; q < (h + 1) * quads; q++) {
                __m512i wv[NR];
                GEMM_UNROLL for (int v = 0; v < NR; v++) wv[v] = _mm512_load_si512((const void *)(o + (size_t)(q * NR + v) * 64));
                GEMM_UNROLL for (int r = 0; r < mr; r++) {
                    int32_t four;
                    memcpy(&four, a[r]->q + 4 * q, 4);
                    __m512i xb = _mm512_set1_epi32(four);
                    GEMM_UNROLL for (int v = 0; v < NR; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], wv[v], xb);
                }
            }
            /* f += dw · (da · sum(w · q))  [+ mw · da · sum(q)], the sum read as a float (qdot.h) */
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m512 da = _mm512_set1_ps(a[r]->d), db = _mm512_set1_ps(a[r]->dbias);
                GEMM_UNROLL for (int v = 0; v < NR; v++) {
                    __m512 s = _mm512_fmadd_ps(_mm512_castsi512_ps(acc[r][v]), da, db);
                    f[r][v] = _mm512_fmadd_ps(_mm512_load_ps(dw + h * STRIP + 16 * v), s, f[r][v]);
                }
                if (has_min) {
                    __m512 ds = act_dsum(a[r], sub16, h);
                    GEMM_UNROLL for (int v = 0; v < NR; v++) f[r][v] = _mm512_fmadd_ps(_mm512_load_ps(mw + h * STRIP + 16 * v), ds, f[r][v]);
                }
            }
        }
    }
    __mmask16 mask[NR];
    GEMM_UNROLL for (int v = 0; v < NR; v++) {
        int left = ncols - 16 * v;
        mask[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NR; v++) {
            float *p = y + (size_t)r * ldy + 16 * v;
            __m512 out = f[r][v];
            if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask[v], p));
            if (bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask[v], bias + 16 * v));
            _mm512_mask_storeu_ps(p, mask[v], out);
        }
}

/* one function per (scale layout, mins, rows): the loops above fully unrolled */
#define TILE_FNS(kind, SUB16, MIN)                                                                                        \
    GEMM_TILE_FN(kind##_1, SUB16, MIN, 1) GEMM_TILE_FN(kind##_2, SUB16, MIN, 2) GEMM_TILE_FN(kind##_3, SUB16, MIN, 3)                 \
        GEMM_TILE_FN(kind##_4, SUB16, MIN, 4)
TILE_FNS(tile32, 0, 0)
TILE_FNS(tile32m, 0, 1)
TILE_FNS(tile16, 1, 0)
TILE_FNS(tile16m, 1, 1)

static const gemm_tile_fn tiles[4][MR] = {
    {tile32_1, tile32_2, tile32_3, tile32_4},
    {tile32m_1, tile32m_2, tile32m_3, tile32m_4},
    {tile16_1, tile16_2, tile16_3, tile16_4},
    {tile16m_1, tile16m_2, tile16m_3, tile16m_4},
};

void loam_gemm_q8_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (!gemm_format_for(wtype, 16, NR, GEMM_BYTES_BIASED128, &f)) return;
    const gemm_tile_fn *fns = tiles[(f.shape.sub16 ? 2 : 0) + (f.shape.has_min ? 1 : 0)];
    gemm_stored stored = {wtype, w, loam_row_bytes(wtype, K)};
    if (!gemm_run(&f, fns, MR, caches, x, T, K, gemm_pack_stored, &stored, n0, n1, y, ldy, bias)) {
        loam_qmatmul_vnni(caches, x, T, K, w, wtype, n0, n1, y, ldy); /* no memory for a panel: the unblocked path needs none */
        loam_add_bias(y, ldy, T, bias, n0, n1);
    }
}


static inline __m512 halves_at(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)p)); }
static inline __m512 bytes_at(const uint8_t *p, int is_signed) {
    __m128i b = _mm_load_si128((const __m128i *)p);
    return _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
}

/* Block i of one strip (16 columns) into the panel's block `o`: its 8
 * quads as vector v of each quad (stride NR vectors), its scales (and
 * mins) at column 16v of dw (mw). Nibbles are split, Q6_K's high bits
 * joined, f16 scales converted: the micro-kernel then reads bytes and
 * floats only. */
/* Bytes of a strip prefetched ahead of the unpacking: a pool task starts
 * on a unit of strips that comes from memory (Intel Xeon 6/207, 1B Q4_0
 * pp512: the unpacking 3.9% of the tile's samples without, 2.8% with 1, 4
 * or 8 KiB; most of it waited on the loads). */
#ifndef UNPACK_AHEAD
#define UNPACK_AHEAD 4096
#endif
static void unpack_strip_block(loam_type t, const uint8_t *strip, int i, int v, uint8_t shift, uint8_t *o) {
    const __m512i low = _mm512_set1_epi8(15), biased = _mm512_set1_epi8((char)shift); /* u - o + 128 */
    float *dw = (float *)(o + QUAD_BYTES) + 16 * v;
    uint8_t *quads = o + 64 * v;
    const size_t qs = (size_t)NR * 64; /* from one quad to the next */
    if (t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0) {
        int q8 = t == LOAM_T_Q8_0;
        const uint8_t *pair = strip + (size_t)(i / 2) * (q8 ? LOAM_STRIP_Q8_0_PAIR : LOAM_STRIP_Q4_0_PAIR);
        const uint8_t *vec = pair + 64 + (size_t)(q8 ? 512 : 256) * (size_t)(i % 2);
        for (int l = 0; l < (q8 ? 9 : 5); l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
        _mm512_store_ps(dw, halves_at(pair + 32 * (i % 2)));
        for (int q = 0; q < 8; q++) {
            __m512i z = q8 ? _mm512_load_si512((const void *)(vec + 64 * q)) : _mm512_load_si512((const void *)(vec + 64 * (q / 2)));
            if (!q8) z = _mm512_and_si512(q % 2 ? _mm512_srli_epi16(z, 4) : z, low);
            _mm512_store_si512((void *)(quads + (size_t)q * qs), _mm512_add_epi8(z, biased));
        }
        return;
    }
    if (t == LOAM_T_Q4_K) {
        const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER, *vec = super + LOAM_STRIP_K_HEAD + 256 * (size_t)(i % 8);
        float *mw = dw + STRIP;
        for (int l = 0; l < 5; l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
        _mm512_store_ps(dw, _mm512_mul_ps(halves_at(super), bytes_at(super + 64 + 16 * (i % 8), 0)));
        _mm512_store_ps(mw, _mm512_mul_ps(halves_at(super + 32), _mm512_sub_ps(_mm512_setzero_ps(), bytes_at(super + 192 + 16 * (i % 8), 0))));
        for (int q = 0; q < 8; q++) {
            __m512i z = _mm512_load_si512((const void *)(vec + 64 * (q / 2)));
            _mm512_store_si512((void *)(quads + (size_t)q * qs), _mm512_add_epi8(_mm512_and_si512(q % 2 ? _mm512_srli_epi16(z, 4) : z, low), biased));
        }
        return;
    }
    /* Q6_K: quad 4h + j is nibble j % 2 of vector 2h + j / 2, or'ed with bits 2j..2j+1 of high vector h moved to bits 4-5 */
    const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER;
    const uint8_t *vec = super + LOAM_STRIP_K_HEAD + (size_t)(i % 8) * LOAM_STRIP_Q6_K_BLOCK;
    for (int l = 0; l < 7; l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
    __m512 d = halves_at(super);
    for (int h = 0; h < 2; h++) {
        _mm512_store_ps(dw + h * STRIP, _mm512_mul_ps(d, bytes_at(super + 32 + 32 * (i % 8) + 16 * h, 1)));
        __m512i hv = _mm512_load_si512((const void *)(vec + 256 + 64 * h));
        for (int j = 0; j < 4; j++) {
            __m512i nib = _mm512_load_si512((const void *)(vec + 64 * (2 * h + j / 2)));
            if (j % 2) nib = _mm512_srli_epi16(nib, 4);
            __m512i high = _mm512_and_si512(_mm512_sllv_epi16(_mm512_srlv_epi16(hv, _mm512_set1_epi16((short)(2 * j))),
                                                               _mm512_set1_epi16(4)),
                                            _mm512_set1_epi8(0x30));
            _mm512_store_si512((void *)(quads + (size_t)(4 * h + j) * qs),
                               _mm512_add_epi8(_mm512_or_si512(_mm512_and_si512(nib, low), high), biased));
        }
    }
}

/* gemm_pack_fn over strips: columns c0 .. c0+ncols (c0 a multiple of 16) are
 * strips c0/16 .. ; the panel's columns past ncols get zero quads and scales. */
static void pack_from_strips(const gemm_format *f, const void *source, int c0, int ncols, int b0, int nblk, uint8_t *scratch,
                             uint8_t *out) {
    (void)scratch;
    const gemm_strips *s = source;
    for (int v = 0; v < NR; v++) {
        const uint8_t *strip = s->strips + (size_t)(c0 / LOAM_STRIP_ROWS + v) * s->strip_bytes;
        for (int i = 0; i < nblk; i++) {
            uint8_t *o = out + (size_t)i * f->block_bytes;
            if (ncols > 16 * v) {
                unpack_strip_block(s->type, strip, b0 + i, v, f->shift, o);
                continue;
            }
            float *dw = (float *)(o + QUAD_BYTES);
            for (int q = 0; q < 8; q++) memset(o + (size_t)(q * NR + v) * 64, 0, 64);
            for (int h = 0; h < gemm_nsub(f) * (f->shape.has_min ? 2 : 1); h++) memset(dw + h * STRIP + 16 * v, 0, 64);
        }
    }
}

int loam_gemm_strips_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                          loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (!gemm_format_for(wtype, 16, NR, GEMM_BYTES_BIASED128, &f)) return 0;
    const gemm_tile_fn *fns = tiles[(f.shape.sub16 ? 2 : 0) + (f.shape.has_min ? 1 : 0)];
    gemm_strips source = {wtype, strips, loam_strip_bytes(wtype, K)};
    return gemm_run(&f, fns, MR, caches, x, T, K, pack_from_strips, &source, n0, n1, y, ldy, bias);
}
#endif
