/* Peak loops, AVX-512 (see peak.h): 12 independent FMA chains of 16
 * floats; 16 chains of vpdpbusd (64 u8 x i8 products into 16 i32): its
 * latency is 5 cycles and two issue a cycle (Sapphire Rapids), so 8 chains
 * measured only two thirds of its rate. */
#include <immintrin.h>

#include "kernels/peak.h"

static double f32_loop(long iters) {
    __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    _Pragma("GCC unroll 16") for (int j = 0; j < 12; j++) a[j] = _mm512_set1_ps((float)j);
    /* unrolled, or GCC keeps the accumulators in memory */
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], b, c);
    __m512 s = a[0];
    for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, a[j]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 12 * 16 * 2;
}

static double vnni_loop(long iters) {
    __m512i acc[16], x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
    _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_epi32(j);
    /* unrolled, or GCC keeps the accumulators in memory */
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, y);
    __m512i s = acc[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_epi32(s, acc[j]);
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)iters * 16 * 64 * 2;
}

/* 16 chains of vdpbf16ps (16 lanes × 2 bf16 products, 64 operations); only
 * this function may use AVX512-BF16: the file runs on every AVX-512 CPU. */
__attribute__((target("avx512bf16"))) double loam_peak_loop_bf16(long iters) {
    __m512 acc[16];
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f); /* (1, 1), (~1, ~1) */
    _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++)
        _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, acc[j]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 16 * 16 * 2 * 2;
}

double loam_peak_loop_avx512(loam_peak_kind kind, long iters) { return kind == LOAM_PEAK_F32 ? f32_loop(iters) : vnni_loop(iters); }
