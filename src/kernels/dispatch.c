#include <string.h>

#include "kernels.h"

static int cpu_has(loam_simd level) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (level) {
    case LOAM_SIMD_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case LOAM_SIMD_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && cpu_has(LOAM_SIMD_AVX2);
    default:
        return level == LOAM_SIMD_SCALAR;
    }
#else
    return level == LOAM_SIMD_SCALAR;
#endif
}

loam_simd loam_simd_best(void) {
    if (cpu_has(LOAM_SIMD_AVX512)) return LOAM_SIMD_AVX512;
    if (cpu_has(LOAM_SIMD_AVX2)) return LOAM_SIMD_AVX2;
    return LOAM_SIMD_SCALAR;
}

const loam_kernels *loam_kernels_for(loam_simd level) {
    if (level == LOAM_SIMD_AUTO) level = loam_simd_best();
    if (!cpu_has(level)) return NULL;
    switch (level) {
#if defined(__x86_64__)
    case LOAM_SIMD_AVX512: return &loam_kernels_avx512;
    case LOAM_SIMD_AVX2: return &loam_kernels_avx2;
#endif
    case LOAM_SIMD_SCALAR: return &loam_kernels_scalar;
    default: return NULL;
    }
}

const char *loam_simd_name(loam_simd level) {
    switch (level) {
    case LOAM_SIMD_AUTO: return "auto";
    case LOAM_SIMD_SCALAR: return "scalar";
    case LOAM_SIMD_AVX2: return "avx2";
    case LOAM_SIMD_AVX512: return "avx512";
    }
    return "?";
}

int loam_simd_parse(const char *name, loam_simd *out) {
    static const struct {
        const char *name;
        loam_simd level;
    } names[] = {{"auto", LOAM_SIMD_AUTO}, {"scalar", LOAM_SIMD_SCALAR}, {"avx2", LOAM_SIMD_AVX2}, {"avx512", LOAM_SIMD_AVX512}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 1;
        }
    }
    return 0;
}

int loam_kernels_supports(loam_type wtype) {
    return wtype == LOAM_T_F32 || wtype == LOAM_T_F16 || wtype == LOAM_T_BF16;
}
