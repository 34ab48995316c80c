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

/* loam_bound_loop at this level: 8 vpdpbusd chains and e FMA chains on
 * ymm, one step each per round (16 registers at most): a round takes
 * (8 + e) / 2 cycles or more where both issue on the same two ports, no
 * less than vpdpbusd's latency of 5 (e >= 2). Only these functions may use
 * AVX-VNNI. */
#define FMA_IF(cond, v)                                                                                                  \
    if (cond) __asm__("vfmadd231ps %1, %1, %0" : "+v"(v) : "v"(b));
__attribute__((target("avxvnni"))) static inline __attribute__((always_inline)) double avxvnni_mix(long iters, int e) {
    __m256i acc[8], x = _mm256_set1_epi8(3);
    __m256 b = _mm256_set1_ps(0.999999f), f0 = b, f1 = b, f2 = b, f3 = b, f4 = b, f5 = b;
    _Pragma("GCC unroll 16") for (int j = 0; j < 8; j++) acc[j] = _mm256_set1_epi32(j);
    /* asm: the compiler keeps every chain in its register */
    for (long i = 0; i < iters; i++) {
        __asm__("%{vex%} vpdpbusd %8, %8, %0\n\t%{vex%} vpdpbusd %8, %8, %1\n\t%{vex%} vpdpbusd %8, %8, %2\n\t"
                "%{vex%} vpdpbusd %8, %8, %3\n\t%{vex%} vpdpbusd %8, %8, %4\n\t%{vex%} vpdpbusd %8, %8, %5\n\t"
                "%{vex%} vpdpbusd %8, %8, %6\n\t%{vex%} vpdpbusd %8, %8, %7"
                : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7])
                : "v"(x));
        /* named chains, not an array: clang kept an array in memory */
        FMA_IF(0 < e, f0) FMA_IF(1 < e, f1) FMA_IF(2 < e, f2) FMA_IF(3 < e, f3) FMA_IF(4 < e, f4) FMA_IF(5 < e, f5)
    }
    __m256i s = acc[0];
    _Pragma("GCC unroll 16") for (int j = 1; j < 8; j++) s = _mm256_add_epi32(s, acc[j]);
    __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(f0, f1), _mm256_add_ps(f2, f3)), _mm256_add_ps(f4, f5));
    volatile int sink = _mm256_extract_epi32(s, 0);
    volatile float fsink = _mm256_cvtss_f32(t);
    (void)sink, (void)fsink;
    return (double)iters * 8 * 32 * 2;
}

__attribute__((target("avxvnni"))) double loam_bound_loop_avxvnni(int epilogue, long iters) {
    switch (epilogue) {
    case 2: return avxvnni_mix(iters, 2);
    case 3: return avxvnni_mix(iters, 3);
    case 4: return avxvnni_mix(iters, 4);
    case 6: return avxvnni_mix(iters, 6);
    default: return avxvnni_mix(iters, 5);
    }
}

double loam_peak_loop_avx2(loam_peak_kind kind, long iters) { return kind == LOAM_PEAK_F32 ? f32_loop(iters) : int8_loop(iters); }

double loam_peak_loop_avxvnni(long iters) { return avxvnni_loop(iters); }
