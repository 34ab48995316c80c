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

/* 16 vpdpbusd chains (as the peak loop) and 2e FMA chains, one step each
 * per round: a round takes (16 + 2e) / 2 cycles or more where both issue
 * on the same two ports, more than either's latency. */
#define FMA_IF(cond, v)                                                                                                  \
    if (cond) __asm__("vfmadd231ps %1, %1, %0" : "+v"(v) : "v"(b));
static inline __attribute__((always_inline)) double vnni_mix(long iters, int e) {
    __m512i acc[16], x = _mm512_set1_epi8(3);
    __m512 b = _mm512_set1_ps(0.999999f), f0 = b, f1 = b, f2 = b, f3 = b, f4 = b, f5 = b, f6 = b, f7 = b, f8 = b, f9 = b,
           f10 = b, f11 = b;
    _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_epi32(j);
    /* asm: the compiler keeps every chain in its register (with
     * intrinsics GCC copied them each step, on the same ports) */
    for (long i = 0; i < iters; i++) {
        /* two asm of 8 (an asm takes 30 operands at most) */
        __asm__("vpdpbusd %8, %8, %0\n\tvpdpbusd %8, %8, %1\n\tvpdpbusd %8, %8, %2\n\tvpdpbusd %8, %8, %3\n\t"
                "vpdpbusd %8, %8, %4\n\tvpdpbusd %8, %8, %5\n\tvpdpbusd %8, %8, %6\n\tvpdpbusd %8, %8, %7"
                : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]), "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7])
                : "v"(x));
        __asm__("vpdpbusd %8, %8, %0\n\tvpdpbusd %8, %8, %1\n\tvpdpbusd %8, %8, %2\n\tvpdpbusd %8, %8, %3\n\t"
                "vpdpbusd %8, %8, %4\n\tvpdpbusd %8, %8, %5\n\tvpdpbusd %8, %8, %6\n\tvpdpbusd %8, %8, %7"
                : "+v"(acc[8]), "+v"(acc[9]), "+v"(acc[10]), "+v"(acc[11]), "+v"(acc[12]), "+v"(acc[13]), "+v"(acc[14]), "+v"(acc[15])
                : "v"(x));
        /* named chains, not an array: clang kept an array in memory */
        FMA_IF(0 < 2 * e, f0) FMA_IF(1 < 2 * e, f1) FMA_IF(2 < 2 * e, f2) FMA_IF(3 < 2 * e, f3) FMA_IF(4 < 2 * e, f4)
        FMA_IF(5 < 2 * e, f5) FMA_IF(6 < 2 * e, f6) FMA_IF(7 < 2 * e, f7) FMA_IF(8 < 2 * e, f8) FMA_IF(9 < 2 * e, f9)
        FMA_IF(10 < 2 * e, f10) FMA_IF(11 < 2 * e, f11)
    }
    __m512i s = acc[0];
    _Pragma("GCC unroll 16") for (int j = 1; j < 16; j++) s = _mm512_add_epi32(s, acc[j]);
    __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(f0, f1), _mm512_add_ps(f2, f3)),
                             _mm512_add_ps(_mm512_add_ps(f4, f5), _mm512_add_ps(f6, f7)));
    t = _mm512_add_ps(t, _mm512_add_ps(_mm512_add_ps(f8, f9), _mm512_add_ps(f10, f11)));
    volatile int sink = _mm512_reduce_add_epi32(s);
    volatile float fsink = _mm512_reduce_add_ps(t);
    (void)sink, (void)fsink;
    return (double)iters * 16 * 64 * 2;
}

double loam_bound_loop_avx512(int epilogue, long iters) {
    switch (epilogue) {
    case 2: return vnni_mix(iters, 2);
    case 3: return vnni_mix(iters, 3);
    case 4: return vnni_mix(iters, 4);
    case 6: return vnni_mix(iters, 6);
    default: return vnni_mix(iters, 5);
    }
}

double loam_peak_loop_avx512(loam_peak_kind kind, long iters) { return kind == LOAM_PEAK_F32 ? f32_loop(iters) : vnni_loop(iters); }
