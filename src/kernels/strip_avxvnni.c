/* The product on strips with AVX-VNNI (strip_avx2.inc): vpdpbusd on ymm,
 * for CPUs that have it without AVX-512 (Intel's cores since Alder Lake).
 *
 * Built with -mavx2 -mfma -mf16c -mavxvnni; chosen only when CPUID reports
 * AVX-VNNI. */
#if defined(__x86_64__)
#define STRIP_VNNI 1
#define STRIP_MATMUL loam_strip_matmul_avxvnni
#include "kernels/strip_avx2.inc"
#endif
