#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"

#if defined(__x86_64__)
#include <cpuid.h>

/* What the CPU and the OS support, read from CPUID and XGETBV (the OS must
 * save the wide registers, or the instructions fault). */
static int cpu_has(loam_simd level) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return level == LOAM_SIMD_SCALAR;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    unsigned long long xcr0 = 0;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    int os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    unsigned b7 = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) b7 = b;
    int avx2 = (b7 >> 5) & 1, avx512f = (b7 >> 16) & 1, avx512bw = (b7 >> 30) & 1, avx512vl = (b7 >> 31) & 1;
    int has_avx2 = avx && avx2 && fma && f16c && os_avx;
    switch (level) {
    case LOAM_SIMD_SCALAR: return 1;
    case LOAM_SIMD_AVX2: return has_avx2;
    case LOAM_SIMD_AVX512: return has_avx2 && avx512f && avx512bw && avx512vl && os_avx512;
    default: return 0;
    }
}

int loam_cpu_has_vnni(void) {
    unsigned a, b, c, d;
    if (!cpu_has(LOAM_SIMD_AVX512) || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c >> 11) & 1;
}

int loam_cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    if (!cpu_has(LOAM_SIMD_AVX2) || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 4) & 1; /* CPUID.(7,1):EAX bit 4 */
}

int loam_cpu_has_avx512bf16(void) {
    unsigned a, b, c, d;
    if (!cpu_has(LOAM_SIMD_AVX512) || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1; /* CPUID.(7,1):EAX bit 5 */
}

loam_bf16dot_fn loam_bf16dot_for(loam_simd level) {
    if ((level == LOAM_SIMD_AUTO || level == LOAM_SIMD_AVX512) && loam_cpu_has_avx512bf16()) return loam_matmul_bf16dot_avx512;
    return NULL;
}
#else
static int cpu_has(loam_simd level) { return level == LOAM_SIMD_SCALAR; }
int loam_cpu_has_vnni(void) { return 0; }
int loam_cpu_has_avxvnni(void) { return 0; }
int loam_cpu_has_avx512bf16(void) { return 0; }
loam_bf16dot_fn loam_bf16dot_for(loam_simd level) { (void)level; return NULL; }
#endif

loam_simd loam_simd_best(void) {
    if (cpu_has(LOAM_SIMD_AVX512)) return LOAM_SIMD_AVX512;
    if (cpu_has(LOAM_SIMD_AVX2)) return LOAM_SIMD_AVX2;
    return LOAM_SIMD_SCALAR;
}

loam_status loam_kernels_choose(loam_simd requested, const loam_kernels **out, loam_error *err) {
    loam_simd level = requested;
    const char *env = getenv("LOAM_SIMD");
    if (level == LOAM_SIMD_AUTO && env && *env && !loam_simd_parse(env, &level))
        return loam_fail(err, LOAM_E_ARG, "LOAM_SIMD=%s: expected scalar, avx2 or avx512", env);
    if (!(*out = loam_kernels_for(level)))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "this CPU cannot run the %s kernels", loam_simd_name(level));
    return LOAM_OK;
}

const loam_kernels *loam_kernels_for(loam_simd level) {
    if (level == LOAM_SIMD_AUTO) level = loam_simd_best();
    if (!cpu_has(level)) return NULL;
    switch (level) {
#if defined(__x86_64__)
    case LOAM_SIMD_AVX512: return loam_cpu_has_vnni() ? &loam_kernels_avx512_vnni : &loam_kernels_avx512;
    case LOAM_SIMD_AVX2: return loam_cpu_has_avxvnni() ? &loam_kernels_avx2_vnni : &loam_kernels_avx2;
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
    return wtype == LOAM_T_F32 || wtype == LOAM_T_F16 || wtype == LOAM_T_BF16 || loam_type_is_quantized(wtype);
}

void loam_cpu_get_info(loam_cpu_info *out) {
    loam_cpu_describe(out);
    /* the level that runs: the best, or LOAM_SIMD's */
    const loam_kernels *k = NULL;
    loam_error err;
    if (loam_kernels_choose(LOAM_SIMD_AUTO, &k, &err) != LOAM_OK) k = loam_kernels_for(LOAM_SIMD_AUTO);
    snprintf(out->simd, sizeof out->simd, "%s", k ? k->name : loam_simd_name(loam_simd_best()));
    out->prefetch = loam_cpu_prefers_prefetch(out);
}
