/* Every SIMD kernel equals the scalar reference on random data, for every
 * weight type and the shape edge cases (K tails, odd N, T not a multiple
 * of the row tile), each level forced in turn. */
#include <math.h>
#include <stdlib.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "test.h"

static uint64_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static void compare_level(loam_simd level) {
    const loam_kernels *simd = loam_kernels_for(level), *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    if (!simd) {
        printf("    (%s not available on this CPU: compared nothing)\n", loam_simd_name(level));
        return;
    }
    static const int Ks[] = {1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257};
    static const int Ts[] = {1, 2, 3, 4, 5, 9};
    static const int Ns[] = {1, 2, 3, 17};
    loam_type types[] = {LOAM_T_F32, LOAM_T_F16, LOAM_T_BF16};
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t a = 0; a < sizeof Ks / sizeof *Ks; a++)
            for (size_t b = 0; b < sizeof Ts / sizeof *Ts; b++)
                for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++) {
                    int K = Ks[a], T = Ts[b], N = Ns[c];
                    float *x = malloc((size_t)T * K * sizeof(float));
                    void *w = malloc((size_t)N * K * 4);
                    float *y1 = calloc((size_t)T * (N + 3), sizeof(float)), *y2 = calloc((size_t)T * (N + 3), sizeof(float));
                    for (int i = 0; i < T * K; i++) x[i] = frand();
                    for (int i = 0; i < N * K; i++) {
                        float v = frand();
                        if (types[ti] == LOAM_T_F32) ((float *)w)[i] = v;
                        else if (types[ti] == LOAM_T_F16) ((uint16_t *)w)[i] = loam_f32_to_f16(v);
                        else ((uint16_t *)w)[i] = loam_f32_to_bf16(v);
                    }
                    /* a sub-range of N, written with a wider row stride */
                    int n0 = N > 2 ? 1 : 0;
                    ref->matmul(x, T, K, w, types[ti], n0, N, y1, N + 3);
                    simd->matmul(x, T, K, w, types[ti], n0, N, y2, N + 3);
                    double worst = 0;
                    int untouched = 1;
                    for (int t = 0; t < T; t++) {
                        for (int n = n0; n < N; n++) {
                            double d = fabs(y1[t * (N + 3) + n] - y2[t * (N + 3) + n]);
                            if (d > worst) worst = d;
                        }
                        for (int n = 0; n < n0; n++) untouched &= y2[t * (N + 3) + n] == 0.0f;
                        for (int n = N; n < N + 3; n++) untouched &= y2[t * (N + 3) + n] == 0.0f;
                    }
                    free(x), free(w), free(y1), free(y2);
                    /* sums of K products of values in [-1,1]: f32 reordering error is tiny */
                    CHECK(worst <= 1e-5 * K, "%s %s K=%d T=%d N=%d: differs by %g", loam_simd_name(level),
                          loam_type_short(types[ti]), K, T, N, worst);
                    CHECK(untouched, "%s wrote outside [n0, n1)", loam_simd_name(level));
                }
}

static void test_avx2_matches_scalar(void) { compare_level(LOAM_SIMD_AVX2); }
static void test_avx512_matches_scalar(void) { compare_level(LOAM_SIMD_AVX512); }

static void test_dispatch(void) {
    loam_simd best = loam_simd_best();
    CHECK(loam_kernels_for(LOAM_SIMD_SCALAR) != NULL, "scalar kernels always exist");
    CHECK(loam_kernels_for(LOAM_SIMD_AUTO) == loam_kernels_for(best), "auto = best");
    loam_simd parsed;
    CHECK(loam_simd_parse("avx2", &parsed) && parsed == LOAM_SIMD_AVX2, "parse avx2");
    CHECK(!loam_simd_parse("sse9", &parsed), "unknown level rejected");
}

void register_kernels_tests(void) {
    test_add("kernels: dispatch picks a level the CPU has", test_dispatch);
    test_add("kernels: avx2 matmul equals scalar (f32/f16/bf16, all tails)", test_avx2_matches_scalar);
    test_add("kernels: avx512 matmul equals scalar (f32/f16/bf16, all tails)", test_avx512_matches_scalar);
}
