/* The blocked int8 product on strips (strips.h) with AVX-VNNI (vpdpbusd on
 * ymm: Intel's cores since Alder Lake, most without AVX-512), for many rows
 * (prefill, encoders):
 *
 *   y[t, n] = sum_k x[t, k] W[n, k] (+ bias[n])    t < T, n0 <= n < n1
 *
 * The AVX-512 VNNI level's panel path (gemm_vnni.c) on 256-bit vectors:
 * each 16-row strip is unpacked once per call and slab into the blocked
 * product's format (gemm_pack.h; vec 8, nr 2: a quad's two ymm are the
 * strip's 64-byte vector as it is), nibbles split, Q6_K's high bits
 * joined, scales to f32, so the micro-kernel spends its vector work on
 * vpdpbusd and the float epilogue only; the strip kernel
 * (strip_avx2.inc) redoes the nibble and scale work for every 4 rows.
 *
 * The tile: 3 rows × 16 columns (6 float accumulators, 6 int32 ones, 2
 * weight vectors, the broadcast activations: 15 of the 16 ymm). Per block
 * 48 vpdpbusd, then per accumulator two multiply-adds: the integer sum
 * read as a float, f += dw · fma(acc, da, dbias) (types with mins: one
 * more, with mw · da · sum), as gemm_vnni.c: weights biased by 128, each
 * accumulator started from the activation block (qdot.h).
 *   The stored layout's product at this level (loam_gemm_q8_avxvnni) packs
 * its panels from the stored blocks into the same tile from the same row
 * count, so repacked weights give the stored layout's logits. (Before, the
 * stored layout went through gemm_avx2.c and this tile mirrored its
 * arithmetic — offset in int32, a convert, (dw · da) · acc — to the bit.)
 * Intel Xeon 6/207 at this level, 512 × 2048 × 2048, one thread, mean of 5
 * alternated: Q4_0 250 -> 287 GOP/s, Q4_K 236 -> 261, Q6_K 209 -> 226, Q8_0
 * 223 -> 234; stored Q5_K (--keep-layout) 124 -> 191; 1B pp512, 2 threads:
 * Q4_0 233 -> 260 t/s, Q4_K_M 207-214 -> 226-236.
 *
 * Built with -mavx2 -mfma -mf16c -mavxvnni; chosen only when CPUID reports
 * AVX-VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/gemm_pack.h"
#include "kernels/kernels.h"
#include "kernels/strips.h"

enum { MR = 3, NV = 2, COLS = 8 * NV, QUAD_BYTES = 32 * COLS };

/* d · (the activation sum of half h of a block, or of all of it), in every lane */
static inline __m256 act_dsum(const loam_act_block *a, int sub16, int h) {
    __m256 all = _mm256_broadcast_ss(&a->dsum);
    return !sub16 ? all : h == 0 ? _mm256_broadcast_ss(&a->dsum_lo) : _mm256_sub_ps(all, _mm256_broadcast_ss(&a->dsum_lo));
}

/* lanes below `left` of 8 */
static inline __m256i lanes_below(int left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* mr (<= 3) rows × one 16-column strip over nblk blocks: y = (accumulate ? y : 0) + x · strip */
static inline __attribute__((always_inline)) void tile(int mr, int sub16, int has_min, int offset, const uint8_t *strip,
                                                       size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,
                                                       int ldy, int ncols, int accumulate, const float *bias) {
    (void)offset; /* always 128 */
    __m256 f[MR][NV];
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NV; v++) f[r][v] = _mm256_setzero_ps();
    int nsub = sub16 ? 2 : 1, quads = 8 / nsub;
    for (int i = 0; i < nblk; i++) {
        const uint8_t *o = strip + (size_t)i * sbb;
        const float *dw = (const float *)(o + QUAD_BYTES), *mw = dw + nsub * COLS;
        const loam_act_block *a[MR];
        GEMM_UNROLL for (int r = 0; r < mr; r++) a[r] = x + (size_t)r * nb + i;
        GEMM_UNROLL for (int h = 0; h < nsub; h++) {
            __m256i acc[MR][NV];
            GEMM_UNROLL for (int r = 0; r < mr; r++)
                GEMM_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = GEMM_STARTED(__m256i, &a[r]->fstart[sub16 ? 1 + h : 0], v);
            GEMM_UNROLL for (int q = h * quads; q < (h + 1) * quads; q++) {
                __m256i wv[NV];
                GEMM_UNROLL for (int v = 0; v < NV; v++) wv[v] = _mm256_load_si256((const __m256i *)(o + (size_t)q * 64 + 32 * v));
                GEMM_UNROLL for (int r = 0; r < mr; r++) {
                    __m256i xb = _mm256_castps_si256(_mm256_broadcast_ss((const float *)(const void *)(a[r]->q + 4 * q)));
                    GEMM_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], wv[v], xb);
                }
            }
            /* f += dw · (da · sum(w · q))  [+ mw · da · sum(q)], the sum read as a float (qdot.h) */
            GEMM_UNROLL for (int r = 0; r < mr; r++) {
                __m256 da = _mm256_broadcast_ss(&a[r]->d), db = _mm256_broadcast_ss(&a[r]->dbias);
                GEMM_UNROLL for (int v = 0; v < NV; v++) {
                    __m256 s = _mm256_fmadd_ps(_mm256_castsi256_ps(acc[r][v]), da, db);
                    f[r][v] = _mm256_fmadd_ps(_mm256_load_ps(dw + h * COLS + 8 * v), s, f[r][v]);
                }
                if (has_min) {
                    __m256 ds = act_dsum(a[r], sub16, h);
                    GEMM_UNROLL for (int v = 0; v < NV; v++) f[r][v] = _mm256_fmadd_ps(_mm256_load_ps(mw + h * COLS + 8 * v), ds, f[r][v]);
                }
            }
        }
    }
    __m256i mask[NV];
    GEMM_UNROLL for (int v = 0; v < NV; v++) mask[v] = lanes_below(ncols - 8 * v);
    GEMM_UNROLL for (int r = 0; r < mr; r++)
        GEMM_UNROLL for (int v = 0; v < NV; v++) {
            float *p = y + (size_t)r * ldy + 8 * v;
            __m256 out = f[r][v];
            if (accumulate) out = _mm256_add_ps(out, _mm256_maskload_ps(p, mask[v]));
            if (bias) out = _mm256_add_ps(out, _mm256_maskload_ps(bias + 8 * v, mask[v]));
            _mm256_maskstore_ps(p, mask[v], out);
        }
}

/* one function per (scale layout, mins, rows): the loops above fully unrolled */
#define TILE_FNS(kind, SUB16, MIN) GEMM_TILE_FN(kind##_1, SUB16, MIN, 1) GEMM_TILE_FN(kind##_2, SUB16, MIN, 2) GEMM_TILE_FN(kind##_3, SUB16, MIN, 3)
TILE_FNS(tile32, 0, 0)
TILE_FNS(tile32m, 0, 1)
TILE_FNS(tile16, 1, 0)
TILE_FNS(tile16m, 1, 1)

static const gemm_tile_fn tiles[4][MR] = {
    {tile32_1, tile32_2, tile32_3},
    {tile32m_1, tile32m_2, tile32m_3},
    {tile16_1, tile16_2, tile16_3},
    {tile16m_1, tile16m_2, tile16m_3},
};

/* 8 f16 / 8 bytes (unsigned or signed) at p as floats */
static inline __m256 halves_at(const uint8_t *p) { return _mm256_cvtph_ps(_mm_load_si128((const __m128i *)p)); }
static inline __m256 bytes_at(const uint8_t *p, int is_signed) {
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}

/* Bytes of a strip prefetched ahead of the unpacking (as gemm_vnni.c). */
#ifndef UNPACK_AHEAD
#define UNPACK_AHEAD 4096
#endif

/* Block i of a 16-row strip into the panel's block `o`: quad q as 64 bytes
 * at 64q (the strip's vector as it is, nibbles split), the scales (and
 * mins) as 16 floats per half-block. Each 64-byte vector is done as two
 * ymm halves. */
static void unpack_strip_block(loam_type t, const uint8_t *strip, int i, uint8_t shift, uint8_t *o) {
    const __m256i low = _mm256_set1_epi8(15), biased = _mm256_set1_epi8((char)shift); /* u - o + 128 */
    float *dw = (float *)(o + QUAD_BYTES);
    if (t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0) {
        int q8 = t == LOAM_T_Q8_0;
        const uint8_t *pair = strip + (size_t)(i / 2) * (q8 ? LOAM_STRIP_Q8_0_PAIR : LOAM_STRIP_Q4_0_PAIR);
        const uint8_t *vec = pair + 64 + (size_t)(q8 ? 512 : 256) * (size_t)(i % 2);
        for (int l = 0; l < (q8 ? 9 : 5); l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
        for (int v = 0; v < NV; v++) _mm256_store_ps(dw + 8 * v, halves_at(pair + 32 * (i % 2) + 16 * v));
        for (int q = 0; q < 8; q++)
            for (int v = 0; v < NV; v++) {
                __m256i z = _mm256_load_si256((const __m256i *)(vec + 64 * (q8 ? q : q / 2) + 32 * v));
                if (!q8) z = _mm256_and_si256(q % 2 ? _mm256_srli_epi16(z, 4) : z, low);
                _mm256_store_si256((__m256i *)(o + 64 * q + 32 * v), _mm256_add_epi8(z, biased));
            }
        return;
    }
    if (t == LOAM_T_Q4_K) {
        const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER, *vec = super + LOAM_STRIP_K_HEAD + 256 * (size_t)(i % 8);
        float *mw = dw + COLS;
        for (int l = 0; l < 5; l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
        for (int v = 0; v < NV; v++) {
            _mm256_store_ps(dw + 8 * v, _mm256_mul_ps(halves_at(super + 16 * v), bytes_at(super + 64 + 16 * (i % 8) + 8 * v, 0)));
            _mm256_store_ps(mw + 8 * v, _mm256_mul_ps(halves_at(super + 32 + 16 * v),
                                                      _mm256_sub_ps(_mm256_setzero_ps(), bytes_at(super + 192 + 16 * (i % 8) + 8 * v, 0))));
        }
        for (int q = 0; q < 8; q++)
            for (int v = 0; v < NV; v++) {
                __m256i z = _mm256_load_si256((const __m256i *)(vec + 64 * (q / 2) + 32 * v));
                _mm256_store_si256((__m256i *)(o + 64 * q + 32 * v),
                                   _mm256_add_epi8(_mm256_and_si256(q % 2 ? _mm256_srli_epi16(z, 4) : z, low), biased));
            }
        return;
    }
    /* Q6_K: quad 4h + j is nibble j % 2 of vector 2h + j / 2, or'ed with bits 2j..2j+1 of high vector h moved to bits 4-5 */
    const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER;
    const uint8_t *vec = super + LOAM_STRIP_K_HEAD + (size_t)(i % 8) * LOAM_STRIP_Q6_K_BLOCK;
    for (int l = 0; l < 7; l++) _mm_prefetch((const char *)vec + UNPACK_AHEAD + 64 * l, _MM_HINT_T0);
    for (int h = 0; h < 2; h++) {
        for (int v = 0; v < NV; v++)
            _mm256_store_ps(dw + h * COLS + 8 * v, _mm256_mul_ps(halves_at(super + 16 * v), bytes_at(super + 32 + 32 * (i % 8) + 16 * h + 8 * v, 1)));
        for (int v = 0; v < NV; v++) {
            __m256i hv = _mm256_load_si256((const __m256i *)(vec + 256 + 64 * h + 32 * v));
            for (int j = 0; j < 4; j++) {
                __m256i nib = _mm256_load_si256((const __m256i *)(vec + 64 * (2 * h + j / 2) + 32 * v));
                if (j % 2) nib = _mm256_srli_epi16(nib, 4);
                __m256i high = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hv, 2 * j), 4), _mm256_set1_epi8(0x30));
                _mm256_store_si256((__m256i *)(o + 64 * (4 * h + j) + 32 * v),
                                   _mm256_add_epi8(_mm256_or_si256(_mm256_and_si256(nib, low), high), biased));
            }
        }
    }
}


/* gemm_pack_fn over strips: the panel's strip of 16 columns at c0 is strip c0/16 (its rows past N have zero scales). */
static void pack_from_strips(const gemm_format *f, const void *source, int c0, int ncols, int b0, int nblk, uint8_t *scratch,
                             uint8_t *out) {
    (void)scratch, (void)ncols;
    const gemm_strips *s = source;
    const uint8_t *strip = s->strips + (size_t)(c0 / LOAM_STRIP_ROWS) * s->strip_bytes;
    for (int i = 0; i < nblk; i++) unpack_strip_block(s->type, strip, b0 + i, f->shift, out + (size_t)i * f->block_bytes);
}

int loam_gemm_strips_avxvnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                             loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (!gemm_format_for(wtype, 8, NV, GEMM_BYTES_BIASED128, &f)) return 0;
    const gemm_tile_fn *fns = tiles[(f.shape.sub16 ? 2 : 0) + (f.shape.has_min ? 1 : 0)];
    gemm_strips source = {wtype, strips, loam_strip_bytes(wtype, K)};
    return gemm_run(&f, fns, MR, caches, x, T, K, pack_from_strips, &source, n0, n1, y, ldy, bias);
}

void loam_gemm_q8_avxvnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                          loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    gemm_format f;
    if (T >= LOAM_INT8_PANEL_MIN_ROWS && gemm_format_for(wtype, 8, NV, GEMM_BYTES_BIASED128, &f)) {
        const gemm_tile_fn *fns = tiles[(f.shape.sub16 ? 2 : 0) + (f.shape.has_min ? 1 : 0)];
        gemm_stored stored = {wtype, w, loam_row_bytes(wtype, K)};
        if (gemm_run(&f, fns, MR, caches, x, T, K, gemm_pack_stored, &stored, n0, n1, y, ldy, bias)) return;
    }
    loam_gemm_q8_avx2(caches, x, T, K, w, wtype, n0, n1, y, ldy, bias); /* few rows, or no memory for a panel */
}
#endif
