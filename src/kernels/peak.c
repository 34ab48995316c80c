/* Peak loops: the scalar one and the choice by level (see peak.h). */
#include "kernels/peak.h"
#include "kernels/unpack_shape.h"

/* 8 independent chains, as a compiler may keep them in registers */
double loam_peak_loop_scalar(loam_peak_kind kind, long iters) {
    if (kind == LOAM_PEAK_F32) {
        float a[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        for (long i = 0; i < iters; i++)
            _Pragma("GCC unroll 16") for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999999f + 1e-6f;
        volatile float sink = a[0] + a[7];
        (void)sink;
    } else {
        /* a recurrence, so the compiler cannot sum the loop in closed form */
        uint32_t a[8] = {0};
        for (long i = 0; i < iters; i++)
            _Pragma("GCC unroll 16") for (int j = 0; j < 8; j++) a[j] = a[j] * 3u + (uint32_t)(j + 1);
        volatile uint32_t sink = a[0] + a[7];
        (void)sink;
    }
    return (double)iters * 8 * 2;
}

double loam_peak_loop(loam_simd level, loam_peak_kind kind, long iters) {
#if defined(__x86_64__)
    if (kind == LOAM_PEAK_BF16 && level == LOAM_SIMD_AVX512 && loam_cpu_has_avx512bf16()) return loam_peak_loop_bf16(iters);
    if (kind == LOAM_PEAK_BF16) kind = LOAM_PEAK_F32; /* no vdpbf16ps: the path runs f32 FMA */
    if (level == LOAM_SIMD_AVX512 && (kind == LOAM_PEAK_F32 || loam_cpu_has_vnni())) return loam_peak_loop_avx512(kind, iters);
    if (level == LOAM_SIMD_AVX2 && kind == LOAM_PEAK_INT8 && loam_cpu_has_avxvnni()) return loam_peak_loop_avxvnni(iters);
    if (level == LOAM_SIMD_AVX512 || level == LOAM_SIMD_AVX2) return loam_peak_loop_avx2(kind, iters);
#endif
    (void)level;
    return loam_peak_loop_scalar(kind, iters);
}

const char *loam_peak_label(loam_simd level, loam_peak_kind kind) {
#if defined(__x86_64__)
    if (kind == LOAM_PEAK_BF16 && level == LOAM_SIMD_AVX512 && loam_cpu_has_avx512bf16()) return "avx512 vdpbf16ps";
    if (kind == LOAM_PEAK_BF16) kind = LOAM_PEAK_F32;
    if (level == LOAM_SIMD_AVX512 && kind == LOAM_PEAK_F32) return "avx512 fma";
    if (level == LOAM_SIMD_AVX512 && loam_cpu_has_vnni()) return "avx512 vpdpbusd";
    if (level == LOAM_SIMD_AVX2 && kind == LOAM_PEAK_INT8 && loam_cpu_has_avxvnni()) return "avx-vnni vpdpbusd";
    if (level == LOAM_SIMD_AVX512 || level == LOAM_SIMD_AVX2) return kind == LOAM_PEAK_F32 ? "avx2 fma" : "avx2 maddubs";
#endif
    (void)level;
    return kind == LOAM_PEAK_F32 ? "scalar fma" : "scalar int8";
}

int loam_tile_epilogue(loam_type t) {
    loam_unpack_shape s;
    if (!loam_unpack_shape_of(t, &s)) return 0;
    return (s.sub16 ? 2 : 1) * (2 + s.has_min);
}

double loam_bound_loop(loam_simd level, int epilogue, long iters) {
    if (epilogue < 2 || epilogue > 6) return 0;
#if defined(__x86_64__)
    if (level == LOAM_SIMD_AVX512 && loam_cpu_has_vnni()) return loam_bound_loop_avx512(epilogue, iters);
    if (level == LOAM_SIMD_AVX2 && loam_cpu_has_avxvnni()) return loam_bound_loop_avxvnni(epilogue, iters);
#endif
    (void)level, (void)iters;
    return 0;
}
