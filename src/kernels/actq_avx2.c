/* Activations to int8 blocks with AVX2: the same float operations as
 * loam_quantize_act_row (the maximum of |x|, d = amax / 127, id = 1 / d,
 * x · id rounded half to even by the default rounding mode), so the blocks
 * are bit-identical to the reference's. A prefill quantizes every row of
 * every product, so this is on the path of every prompt token.
 *
 * Built with -mavx2 -mfma; chosen only when CPUID reports AVX2. */
#if defined(__x86_64__)
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static inline int32_t hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

void loam_quantize_act_row_avx2(const float *x, int k, loam_act_block *out) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), big = _mm256_set1_ps(LOAM_ACT_AMAX_LIMIT);
    for (int b = 0; b < k / 32; b++) {
        const float *xb = x + 32 * (size_t)b;
        __m256 v[4], amax = _mm256_setzero_ps();
        int finite = 0xff;
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            __m256 a = _mm256_and_ps(v[i], abs_mask);
            finite &= _mm256_movemask_ps(_mm256_cmp_ps(a, big, _CMP_LT_OQ)); /* false for inf and NaN */
            amax = _mm256_max_ps(amax, a);
        }
        if (finite != 0xff) {
            loam_act_unrepresentable(&out[b]);
            continue;
        }
        float d = loam_act_scale(hmax8(amax)), id = d ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
        int32_t lo = hsum8i(_mm256_add_epi32(q[0], q[1]));
        /* int32 -> int8 (no saturation happens: |q| <= 127); packs interleave 128-bit lanes, the permute undoes it */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)out[b].q, p);
        loam_act_finish(&out[b], d, lo + hsum8i(_mm256_add_epi32(q[2], q[3])), lo);
    }
}
#endif
