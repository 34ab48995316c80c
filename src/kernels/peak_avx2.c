/* Peak loops, AVX2 (see peak.h): 10 independent FMA chains of 8 floats;
 * 8 chains of maddubs (32 u8 x i8 products summed to 16 i16) + madd (to 8
 * i32) + add, the sequence the AVX2 int8 products use. */
#include <immintrin.h>

#include "kernels/peak.h"

static double f32_loop(long iters) {
    __m256 a[10], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    _Pragma("GCC unroll 16") for (int j = 0; j < 10; j++) a[j] = _mm256_set1_ps((float)j);
    /* unrolled, or GCC keeps the accumulators in memory */
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 10; j++) a[j] = _mm256_fmadd_ps(a[j], b, c);
    __m256 s = a[0];
    for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, a[j]);
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return (double)iters * 10 * 8 * 2;
}

static double int8_loop(long iters) {
    __m256i acc[8], x = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i y[8];
    _Pragma("GCC unroll 16") for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_si256(), y[j] = _mm256_set1_epi8((char)(j + 1));
    /* unrolled, or GCC keeps the accumulators in memory */
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 8; j++) acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(x, y[j]), ones));
    __m256i s = acc[0];
    for (int j = 1; j < 8; j++) s = _mm256_add_epi32(s, acc[j]);
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 8 * 32 * 2;
}

/* AVX-VNNI: 14 chains of vpdpbusd on ymm (32 u8 x i8 products added into 8
 * i32; latency 5, two a cycle: fewer chains measure less than its rate;
 * 14 + the two operands fill VEX's 16 registers), the one instruction
 * AVX-VNNI's strip kernel uses per quad. Only this function may use it:
 * the file runs on every AVX2 CPU. */
__attribute__((target("avxvnni"))) static double avxvnni_loop(long iters) {
    __m256i acc[14], x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(5);
    _Pragma("GCC unroll 16") for (int j = 0; j < 14; j++) acc[j] = _mm256_set1_epi32(j);
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 14; j++) acc[j] = _mm256_dpbusd_avx_epi32(acc[j], x, y);
    __m256i s = acc[0];
    for (int j = 1; j < 14; j++) s = _mm256_add_epi32(s, acc[j]);
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 14 * 32 * 2;
}

double loam_peak_loop_avx2(loam_peak_kind kind, long iters) { return kind == LOAM_PEAK_F32 ? f32_loop(iters) : int8_loop(iters); }

double loam_peak_loop_avxvnni(long iters) { return avxvnni_loop(iters); }
