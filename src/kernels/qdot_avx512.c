/* int8 dot products with AVX512-VNNI (on 256-bit vectors, AVX512VL):
 * vpdpbusd multiplies |w| (unsigned) by sign(x, w) and accumulates four
 * products per lane in one instruction. Built with -mavx512vnni etc.;
 * chosen only when CPUID reports VNNI. */
#if defined(__x86_64__)
#include <immintrin.h>
static inline __m256i dot32_vnni(__m256i w, __m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}
/* unsigned weights (0..255) times signed activations, no sign trick */
static inline __m256i dot32u_vnni(__m256i w_unsigned, __m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w_unsigned, x);
}
#define DOT32 dot32_vnni
#define DOT32U dot32u_vnni
#define QMATMUL loam_qmatmul_vnni
#define MAXR 8 /* 32 vector registers: 8 activation rows per unpacked weight block */
#include "qdot_simd.inc"
#endif
