/* int8 dot products with AVX2: |w| * sign(x, w) through maddubs, pairs
 * summed by madd (exact for int8 ranges). Built with -mavx2 -mfma -mf16c. */
#if defined(__x86_64__)
#include <immintrin.h>
static inline __m256i dot32_avx2(__m256i w, __m256i x) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
#define DOT32 dot32_avx2
#define QMATMUL loam_qmatmul_avx2
#define MAXR 8 /* activation rows per weight block: 1B pp512 Q4_0 80 -> 86, Q4_K_M 59 -> 66, Q8_0 85 -> 93 t/s against 4 */


#include "kernels/qdot_simd.inc"
#endif
