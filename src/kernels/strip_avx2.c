/* The product on strips with AVX2 (strip_avx2.inc): CPUs without VNNI,
 * and AVX-512 ones without it.
 *
 * Built with -mavx2 -mfma -mf16c; chosen only when CPUID reports AVX2. */
#if defined(__x86_64__)
#define STRIP_VNNI 0
#define STRIP_MATMUL loam_strip_matmul_avx2
#include "kernels/strip_avx2.inc"
#endif
