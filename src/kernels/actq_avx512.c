/* Activations to int8 blocks with AVX-512, 16 blocks (512 floats) at a
 * time: the same float operations as loam_quantize_act_row (the maximum
 * of |x|, d = amax / 127 to 22 bits, id = 1 / d, x · id rounded half to even by the
 * default rounding mode), so the blocks are bit-identical to the
 * reference's. The per-block maxima and integer sums are horizontal
 * reductions, which per block cost more than the block's own work
 * (actq_avx2.c): here the 16 blocks' vectors are reduced together, one
 * shuffle tree whose last level holds a block in each lane.
 *
 * A group holding inf, NaN or a magnitude past LOAM_ACT_AMAX_LIMIT, and the blocks after the last whole group,
 * go through the AVX2 version. Intel Xeon 6/207, one thread, rows of 2048:
 * 1.5x the AVX2 version's speed on rows in L2, 1.13x on 512 rows (4 MiB,
 * where reading them from L3 bounds both).
 *
 * Built with -mavx512f -mavx512bw -mavx512vl -mavx2 -mfma; chosen only
 * when CPUID reports AVX-512. */
#if defined(__x86_64__)
#include <float.h>
#include <immintrin.h>

#include "kernels/kernels.h"

enum { GROUP = 16 };

/* The tree below leaves vector perm[L] of its input in lane L; perm is its
 * own inverse, so feeding it vector perm[j] as its j-th leaves block L in
 * lane L. */
static const int perm[GROUP] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};

#define REDUCE_TREE(name, type, op, cast_in, cast_out)                                                                      \
    static inline type name(const type m[GROUP]) {                                                                          \
        type t[8], u[4], v[2];                                                                                              \
        for (int j = 0; j < 8; j++)                                                                                         \
            t[j] = op(cast_out(_mm512_shuffle_f32x4(cast_in(m[perm[j]]), cast_in(m[perm[j + 8]]), 0x44)),                   \
                      cast_out(_mm512_shuffle_f32x4(cast_in(m[perm[j]]), cast_in(m[perm[j + 8]]), 0xEE)));                  \
        for (int j = 0; j < 4; j++)                                                                                         \
            u[j] = op(cast_out(_mm512_shuffle_f32x4(cast_in(t[j]), cast_in(t[j + 4]), 0x88)),                               \
                      cast_out(_mm512_shuffle_f32x4(cast_in(t[j]), cast_in(t[j + 4]), 0xDD)));                              \
        for (int j = 0; j < 2; j++)                                                                                         \
            v[j] = op(cast_out(_mm512_unpacklo_ps(cast_in(u[j]), cast_in(u[j + 2]))),                                       \
                      cast_out(_mm512_unpackhi_ps(cast_in(u[j]), cast_in(u[j + 2]))));                                      \
        return op(cast_out(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(cast_in(v[0])), _mm512_castps_pd(cast_in(v[1]))))), \
                  cast_out(_mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(cast_in(v[0])), _mm512_castps_pd(cast_in(v[1])))))); \
    }
#define AS_IS(x) (x)
REDUCE_TREE(max_tree, __m512, _mm512_max_ps, AS_IS, AS_IS)
REDUCE_TREE(sum_tree, __m512i, _mm512_add_epi32, _mm512_castsi512_ps, _mm512_castps_si512)

/* 16 blocks from x (512 floats) into out; 0 (nothing written) when one of
 * them holds inf or NaN. */
static int quantize_group(const float *x, loam_act_block *out) {
    const __m512 big = _mm512_set1_ps(LOAM_ACT_AMAX_LIMIT);
    __m512 amax[GROUP];
    __mmask16 finite = 0xFFFF;
    for (int b = 0; b < GROUP; b++) {
        __m512 a0 = _mm512_abs_ps(_mm512_loadu_ps(x + 32 * b)), a1 = _mm512_abs_ps(_mm512_loadu_ps(x + 32 * b + 16));
        finite &= _mm512_cmp_ps_mask(a0, big, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a1, big, _CMP_LT_OQ); /* false for inf and NaN */
        amax[b] = _mm512_max_ps(a0, a1);
    }
    if (finite != 0xFFFF) return 0;
    /* d = amax / 127 to 22 significant bits (ties away) and id = 1 / d (0 where d is 0), as loam_act_scale */
    __m512i dbits = _mm512_castps_si512(_mm512_div_ps(max_tree(amax), _mm512_set1_ps(127.0f)));
    __m512 d = _mm512_castsi512_ps(_mm512_and_si512(_mm512_add_epi32(dbits, _mm512_set1_epi32(2)), _mm512_set1_epi32(~3)));
    __mmask16 nonzero = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_OQ);
    __m512 id = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(1.0f), d);
    float ids[GROUP];
    _mm512_storeu_ps(ids, id);
    __m512i lo[GROUP], all[GROUP];
    for (int b = 0; b < GROUP; b++) {
        __m512 v = _mm512_set1_ps(ids[b]);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b), v));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16), v));
        /* |q| <= 127: the truncating narrowing keeps every value */
        _mm_storeu_si128((__m128i *)out[b].q, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(out[b].q + 16), _mm512_cvtepi32_epi8(q1));
        lo[b] = q0, all[b] = _mm512_add_epi32(q0, q1);
    }
    __m512i isum_lo = sum_tree(lo), isum = sum_tree(all);
    float ds[GROUP];
    int32_t sums[GROUP], sums_lo[GROUP];
    _mm512_storeu_ps(ds, d);
    _mm512_storeu_si512(sums, isum), _mm512_storeu_si512(sums_lo, isum_lo);
    for (int b = 0; b < GROUP; b++) loam_act_finish(&out[b], ds[b], sums[b], sums_lo[b]);
    return 1;
}

void loam_quantize_act_row_avx512(const float *x, int k, loam_act_block *out) {
    int nb = k / 32, b = 0;
    for (; b + GROUP <= nb; b += GROUP)
        if (!quantize_group(x + 32 * (size_t)b, out + b)) loam_quantize_act_row_avx2(x + 32 * (size_t)b, 32 * GROUP, out + b);
    if (b < nb) loam_quantize_act_row_avx2(x + 32 * (size_t)b, 32 * (nb - b), out + b);
}
#endif
