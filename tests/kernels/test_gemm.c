/* The blocked int8 products equal the scalar reference for every weight
 * type over odd shapes: rows M = 1, 7, 8, 13, 513 (not multiples of the
 * 4-row tile), column ranges that start inside a strip and end with a
 * partial one, wider output strides, and block sizes forced small so that
 * products run over several K slabs, panels and row blocks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"
#include "kernels/peak.h"
#include "test.h"

static uint64_t rng = 777;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / 16777216.0) * 2.0f - 1.0f;
}

/* N rows of random blocks of type t; random bytes are valid blocks except
 * for their f16 scales, which are set to sane values */
static uint8_t *random_weights(loam_type t, int K, int N) {
    int be, bb;
    loam_type_block(t, &be, &bb);
    size_t rb = loam_row_bytes(t, K);
    uint8_t *w = malloc(rb * (size_t)N);
    for (size_t i = 0; i < rb * (size_t)N; i++) w[i] = (uint8_t)(frand() * 127 + 128);
    int d_at = t == LOAM_T_Q6_K ? 208 : t == LOAM_T_Q3_K ? 108 : t == LOAM_T_Q2_K ? 80 : 0;
    int has_second = t == LOAM_T_Q4_1 || t == LOAM_T_Q5_1 || t == LOAM_T_Q4_K || t == LOAM_T_Q5_K || t == LOAM_T_Q2_K;
    for (int n = 0; n < N; n++)
        for (int b = 0; b < K / be; b++) {
            uint8_t *p = w + (size_t)n * rb + (size_t)b * bb;
            uint16_t d = loam_f32_to_f16(0.01f + 0.0003f * (float)(n % 37)), m = loam_f32_to_f16(0.02f - 0.0001f * (float)b);
            memcpy(p + d_at, &d, 2);
            if (has_second) memcpy(p + d_at + 2, &m, 2);
        }
    return w;
}

typedef void (*gemm_fn)(const loam_cache_info *, const loam_act_block *, int, int, const void *, loam_type, int, int,
                        float *, int, const float *);

/* one product (plus a bias if asked) against the reference; 0 and a
 * message on a difference */
static int compare_one(gemm_fn fn, const loam_cache_info *caches, loam_type t, int T, int K, int N, int n0, int n1,
                       int with_bias, char *msg, size_t cap) {
    int ldy = N + 2;
    float *x = malloc((size_t)T * K * sizeof(float));
    loam_act_block *xq = malloc((size_t)T * (K / 32) * sizeof *xq);
    float *y1 = calloc((size_t)T * ldy, sizeof(float)), *y2 = calloc((size_t)T * ldy, sizeof(float));
    uint8_t *w = random_weights(t, K, N);
    for (int i = 0; i < T * K; i++) x[i] = frand();
    for (int r = 0; r < T; r++) loam_quantize_act_row(x + (size_t)r * K, K, xq + (size_t)r * (K / 32));
    float *bias = with_bias ? malloc((size_t)N * sizeof(float)) : NULL;
    for (int n = 0; bias && n < N; n++) bias[n] = frand();
    loam_kernels_for(LOAM_SIMD_SCALAR)->matmul_q8(NULL, xq, T, K, w, t, n0, n1, y1, ldy);
    for (int r = 0; bias && r < T; r++)
        for (int n = n0; n < n1; n++) y1[(size_t)r * ldy + n] += bias[n];
    for (size_t i = 0; i < (size_t)T * ldy; i++) y2[i] = 12345.0f; /* the product overwrites; nothing else changes */
    fn(caches, xq, T, K, w, t, n0, n1, y2, ldy, bias);
    free(bias);
    double worst = 0, scale = 1e-9;
    int outside = 0;
    for (int r = 0; r < T; r++)
        for (int n = 0; n < ldy; n++) {
            float a = y1[(size_t)r * ldy + n], b = y2[(size_t)r * ldy + n];
            if (n >= n0 && n < n1) worst = fmax(worst, fabs(a - b)), scale = fmax(scale, fabs(a));
            else outside += b != 12345.0f;
        }
    free(x), free(xq), free(y1), free(y2), free(w);
    int ok = worst <= 2e-5 * scale + 1e-6 && !outside;
    if (!ok)
        snprintf(msg, cap, "%s T=%d K=%d n %d..%d of %d, caches %lld/%lld: differs by %g (scale %g), %d written outside",
                 loam_type_name(t), T, K, n0, n1, N, (long long)caches->l1d, (long long)caches->l2, worst, scale, outside);
    return ok;
}

static void compare_gemm(gemm_fn fn) {
    static const loam_type types[] = {LOAM_T_Q4_0, LOAM_T_Q4_1, LOAM_T_Q5_0, LOAM_T_Q5_1, LOAM_T_Q8_0, LOAM_T_IQ4_NL,
                                      LOAM_T_Q2_K, LOAM_T_Q3_K, LOAM_T_Q4_K, LOAM_T_Q5_K, LOAM_T_Q6_K};
    /* this machine's caches, and a tiny L2: two blocks per K slab, one strip per panel, 44-row blocks (with a bias) */
    const loam_cache_info caches[] = {{0, 0, 1}, {1024, 16384, 0}};
    static const int Ts[] = {1, 7, 8, 13, 513};
    char msg[256];
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int be, bb;
        loam_type_block(types[ti], &be, &bb);
        for (size_t c = 0; c < 2; c++)
            for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++) {
                int T = Ts[a], big = T == 513;
                /* K: one block, or several with a tail; columns: inside one strip, or across three with partial ends */
                int K = be * (big ? 3 : a % 2 ? 1 : 6), N = big ? 150 : a % 2 ? 21 : 100, n0 = a % 2 ? 0 : 3, n1 = N - (a % 3);
                CHECK(compare_one(fn, &caches[c], types[ti], T, K, N, n0, n1, c == 1, msg, sizeof msg), "%s", msg);
            }
    }
}

static void test_gemm_avx2(void) {
#if defined(__x86_64__)
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    compare_gemm(loam_gemm_q8_avx2);
#else
    test_not_run("not x86-64");
#endif
}

#if defined(__x86_64__)
/* compare_gemm(fn) where the CPU has what fn needs */
static void compare_gemm_if(int cpu_has, const char *missing, gemm_fn fn) {
    if (cpu_has) compare_gemm(fn);
    else test_not_run(missing);
}
#endif

static void test_gemm_vnni(void) {
#if defined(__x86_64__)
    compare_gemm_if(loam_cpu_has_vnni(), "no avx512-vnni", loam_gemm_q8_vnni);
#else
    test_not_run("not x86-64");
#endif
}

static void test_gemm_avxvnni(void) {
#if defined(__x86_64__)
    compare_gemm_if(loam_cpu_has_avxvnni(), "no avx-vnni", loam_gemm_q8_avxvnni);
#else
    test_not_run("not x86-64");
#endif
}

/* The blocked product for f32 activations (F32, F16, BF16 weights) equals
 * the scalar matmul: rows 1 .. 513, K with a tail of the 16-wide
 * transpose, column ranges starting inside a strip with a partial last
 * one, and a tiny L2 so that K runs over several slabs and rows over
 * several blocks. */
#if defined(__x86_64__)
typedef void (*gemm_f_fn)(const loam_cache_info *, const float *, int, int, int, const void *, int, loam_type, int, int, float *,
                          int, const float *);

static void check_gemm_float(gemm_f_fn gemm) {
    const loam_type types[] = {LOAM_T_F32, LOAM_T_F16, LOAM_T_BF16};
    const loam_cache_info caches[] = {{0, 0, 1}, {1024, 16384, 0}};
    static const int Ts[] = {1, 7, 8, 13, 513}, Ks[] = {1, 17, 100, 300};
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    for (int ti = 0; ti < 3; ti++)
        for (int c = 0; c < 2; c++)
            for (int a = 0; a < 5; a++)
                for (int b = 0; b < 4; b++) {
                    int T = Ts[a], K = Ks[b], N = T == 513 ? 70 : 150, n0 = b % 2 ? 5 : 0, n1 = N - b, ldy = N + 3;
                    if (T == 513 && b != 2) continue;
                    float *x = malloc((size_t)T * K * 4), *y1 = calloc((size_t)T * ldy, 4), *y2 = malloc((size_t)T * ldy * 4);
                    uint16_t *w16 = malloc((size_t)N * K * 4);
                    float *w32 = (float *)w16;
                    for (int i = 0; i < T * K; i++) x[i] = frand();
                    for (int i = 0; i < N * K; i++) {
                        float v = frand();
                        if (types[ti] == LOAM_T_F32) w32[i] = v;
                        else w16[i] = types[ti] == LOAM_T_F16 ? loam_f32_to_f16(v) : loam_f32_to_bf16(v);
                    }
                    for (int i = 0; i < T * ldy; i++) y2[i] = y1[i] = 0.0f;
                    /* with a bias on the small-cache runs */
                    float *bias = c ? malloc((size_t)N * 4) : NULL;
                    for (int n = 0; bias && n < N; n++) bias[n] = frand();
                    ref->matmul(NULL, x, T, K, w16, types[ti], n0, n1, y1, ldy);
                    for (int r = 0; bias && r < T; r++)
                        for (int n = n0; n < n1; n++) y1[(size_t)r * ldy + n] += bias[n];
                    gemm(&caches[c], x, K, T, K, w16, K, types[ti], n0, n1, y2, ldy, bias);
                    free(bias);
                    double worst = 0;
                    for (int i = 0; i < T * ldy; i++) worst = fmax(worst, fabs(y1[i] - y2[i]));
                    free(x), free(y1), free(y2), free(w16);
                    CHECK(worst <= 1e-5 * K, "%s T=%d K=%d n %d..%d, caches %lld: differs by %g", loam_type_name(types[ti]), T,
                          K, n0, n1, (long long)caches[c].l2, worst);
                }
}

static void check_gemm_float_strided(gemm_f_fn gemm) {
    const loam_cache_info caches[] = {{0, 0, 1}, {1024, 16384, 0}};
    static const int Ts[] = {1, 6, 13, 64}, Ks[] = {1, 17, 64, 200};
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    for (int c = 0; c < 2; c++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
                int T = Ts[a], K = Ks[b], N = 70 + b, ldx = K + 3 + a, ldw = K + 5 + 2 * b, ldy = N + 1;
                float *x = malloc((size_t)T * ldx * 4), *w = malloc((size_t)N * ldw * 4);
                float *xc = malloc((size_t)T * K * 4), *wc = malloc((size_t)N * K * 4);
                float *y1 = calloc((size_t)T * ldy, 4), *y2 = calloc((size_t)T * ldy, 4);
                for (int i = 0; i < T * ldx; i++) x[i] = frand();
                for (int i = 0; i < N * ldw; i++) w[i] = frand();
                for (int t = 0; t < T; t++) memcpy(xc + (size_t)t * K, x + (size_t)t * ldx, (size_t)K * 4);
                for (int n = 0; n < N; n++) memcpy(wc + (size_t)n * K, w + (size_t)n * ldw, (size_t)K * 4);
                ref->matmul(NULL, xc, T, K, wc, LOAM_T_F32, 0, N, y1, ldy);
                gemm(&caches[c], x, ldx, T, K, w, ldw, LOAM_T_F32, 0, N, y2, ldy, NULL);
                double worst = 0;
                for (int i = 0; i < T * ldy; i++) worst = fmax(worst, fabs(y1[i] - y2[i]));
                free(x), free(w), free(xc), free(wc), free(y1), free(y2);
                CHECK(worst <= 1e-5 * K, "T=%d K=%d ldx %d ldw %d, caches %lld: differs by %g", T, K, ldx, ldw,
                      (long long)caches[c].l2, worst);
            }
}
#endif

static void test_gemm_float(void) {
#if defined(__x86_64__)
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    check_gemm_float(loam_gemm_f_avx2);
    if (loam_test_cpu_has(LOAM_SIMD_AVX512)) check_gemm_float(loam_gemm_f_avx512);
#else
    test_not_run("not x86-64");
#endif
}

/* The same with rows of x and W inside wider buffers (attention's tiles:
 * scores and transposed values with a row stride past K): equal to the
 * scalar matmul on compact copies. */
static void test_gemm_float_strided(void) {
#if defined(__x86_64__)
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    check_gemm_float_strided(loam_gemm_f_avx2);
    if (loam_test_cpu_has(LOAM_SIMD_AVX512)) check_gemm_float_strided(loam_gemm_f_avx512);
#else
    test_not_run("not x86-64");
#endif
}

/* Products with a B kept in 16-column panels (cross-attention's keys and
 * values): B packed from row-major and from transposed storage, the
 * scalar product against the sum in double over the unpacked B (so the
 * packer's indexing is checked too), every SIMD level against the scalar
 * one, over odd shapes (T 1/5/7/13/64, K and N not multiples of 16, one
 * panel and partial groups of one, two and three of the tiles' four) and
 * rows inside wider buffers. */
static void test_gemm_panels_levels(void) {
    static const int Ts[] = {1, 5, 7, 13, 64}, Ks[] = {1, 17, 64, 600}, Ns[] = {1, 15, 16, 47, 70, 80, 90, 200};
    const loam_simd levels[] = {LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 8; c++) {
                int T = Ts[a], K = Ks[b], N = Ns[c], ldx = K + 3, ldy = N + 2, transposed = (a + b + c) % 2;
                int Ku = (a + c) % 3 == 0 ? (K + 1) / 2 : K; /* sometimes the first rows of the panels only */
                float *x = malloc((size_t)T * ldx * 4), *bm = malloc((size_t)K * N * 4);
                float *pan = aligned_alloc(64, (loam_panels_floats(K, N) * 4 + 63) / 64 * 64);
                float *y0 = malloc((size_t)T * ldy * 4), *y1 = malloc((size_t)T * ldy * 4);
                for (int i = 0; i < T * ldx; i++) x[i] = frand();
                for (int i = 0; i < K * N; i++) bm[i] = frand();
                /* bm as B [K, N] row-major, or as Bᵀ [N, K] row-major */
                if (transposed) loam_panels_pack(bm, 1, (size_t)K, K, N, 1.0f, pan);
                else loam_panels_pack(bm, (size_t)N, 1, K, N, 1.0f, pan);
                for (int i = 0; i < T * ldy; i++) y0[i] = y1[i] = -7.0f;
                loam_gemm_panels_scalar(x, ldx, T, Ku, pan, K, N, y0, ldy);
                double worst = 0;
                for (int t = 0; t < T; t++)
                    for (int n = 0; n < N; n++) {
                        double sum = 0;
                        for (int k = 0; k < Ku; k++)
                            sum += (double)x[(size_t)t * ldx + k] * bm[transposed ? (size_t)n * K + k : (size_t)k * N + n];
                        worst = fmax(worst, fabs(sum - y0[(size_t)t * ldy + n]));
                    }
                CHECK(worst <= 1e-5 * K, "scalar panels T=%d K=%d of %d N=%d%s: differs from the sum by %g", T, Ku, K, N,
                      transposed ? " (from Bt)" : "", worst);
                for (int l = 0; l < 2; l++) {
                    const loam_kernels *kt = loam_kernels_for(levels[l]);
                    if (!kt) continue;
                    for (int i = 0; i < T * ldy; i++) y1[i] = -7.0f; /* nothing left from the level before */
                    kt->gemm_panels(x, ldx, T, Ku, pan, K, N, y1, ldy);
                    double diff = 0;
                    int outside = 0;
                    for (int t = 0; t < T; t++)
                        for (int n = 0; n < ldy; n++) {
                            size_t i = (size_t)t * ldy + n;
                            if (n < N) diff = fmax(diff, fabs(y1[i] - y0[i]));
                            else outside += y1[i] != -7.0f;
                        }
                    CHECK(diff <= 1e-5 * K && !outside, "%s panels T=%d K=%d N=%d: differs by %g, %d writes past N", kt->name, T, K,
                          N, diff, outside);
                }
                free(x), free(bm), free(pan), free(y0), free(y1);
            }
}

/* Inputs of the activation tests: -120 .. 120 (both tails of the exp),
 * with a NaN, signed zeros and a tiny value at 17 .. 20. */
static void activation_inputs(float *g, int n) {
    for (int i = 0; i < n; i++) g[i] = -120.0f + 240.0f * (float)i / (float)(n - 1) + 0.01f * frand();
    g[17] = NAN, g[18] = 0.0f, g[19] = -0.0f, g[20] = 1e-30f;
}

/* Each level's x·σ(s(x)) activations (gelu-tanh, quick-gelu), in place and
 * gating, are within 4 ulp of the scalar ones: tails, NaN, signed zeros,
 * ±120 (both tails of the exp), and the scalar gelu-tanh is within 4 ulp of
 * its definition computed in double. */
static void test_sigmoid_act_levels(void) {
    enum { N = 4099 };
    static float g[N], a0[N], a1[N];
    const loam_simd levels[] = {LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    activation_inputs(g, N);
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    for (int i = 0; i < N; i++) {
        if (i == 17) continue;
        /* ½x(1 + tanh u) = x·σ(2u); in double the tanh form loses x < -5 to cancellation */
        double x = g[i], want = x / (1.0 + exp(-2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x)));
        if (!isfinite(want)) continue;
        a0[i] = g[i];
        ref->sigmoid_act(LOAM_SIG_GELU_TANH, a0 + i, NULL, 1);
        /* s = 2u itself is rounded to float: exp(-s) carries |s| ulp of it */
        double s = 2.0 * 0.7978845608028654 * (x + 0.044715 * x * x * x), tol = (4 + 2 * fabs(s)) * 1.2e-7;
        CHECK(fabs(a0[i] - want) <= tol * fabs(want) + 1e-30, "scalar gelu-tanh of %g: %.9g, definition %.9g", g[i], a0[i],
              want);
    }
    int ran = 0;
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        const loam_kernels *k = loam_kernels_for(levels[l]);
        if (!k) continue;
        ran++;
        for (int kind = 0; kind < 2; kind++)
            for (int gate = 0; gate < 2; gate++)
                for (int n = N; n > N - 17; n--) {
                    for (int i = 0; i < N; i++) a0[i] = a1[i] = gate ? 1.0f + 0.5f * frand() : g[i];
                    ref->sigmoid_act((loam_sigmoid_kind)kind, a0, gate ? g : NULL, (size_t)n);
                    k->sigmoid_act((loam_sigmoid_kind)kind, a1, gate ? g : NULL, (size_t)n);
                    for (int i = 0; i < N; i++) {
                        int ok = i >= n ? a1[i] == a0[i]
                                 : isnan(a0[i]) ? isnan(a1[i])
                                                : fabsf(a1[i] - a0[i]) <= 4 * 1.2e-7f * fabsf(a0[i]) + 1e-35f;
                        CHECK(ok, "%s: kind %d gate %d of %g (n %d): %.9g, scalar %.9g", k->name, kind, gate, g[i], n, a1[i],
                              a0[i]);
                    }
                }
    }
    if (!ran) test_not_run("no avx2");
}

/* Each level's GELU, in place and gating, against the definition computed
 * in double, ½x·erfc(-x/√2): within 8 ulp (and 1e-37 absolute, for the
 * denormals of the far negative tail); and against the scalar level, whose
 * 1 + erf(x/√2) in float cancels below 0, within 4 ulp plus that
 * cancellation (|x| · 2^-24). The scalar level is checked against the
 * definition with that bound too. Inputs: ±120, NaN, signed zeros, a tiny
 * value, and 0.5 apart from -15 to 15 beside them. */
static void test_gelu_act_levels(void) {
    enum { N = 4099 };
    static float g[N], a0[N], a1[N], scale[N];
    const loam_simd levels[] = {LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    activation_inputs(g, N);
    for (int i = 0; i < 61; i++) g[100 + i] = -15.0f + 0.5f * (float)i + 0.001f * frand();
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    for (int i = 0; i < N; i++) a0[i] = g[i];
    ref->gelu_act(a0, NULL, N);
    double worst_ulp = 0;
    for (int i = 0; i < N; i++) {
        if (i == 17) {
            CHECK(isnan(a0[i]), "scalar gelu of NaN: %g", a0[i]);
            continue;
        }
        double x = g[i], want = 0.5 * x * erfc(-x / sqrt(2.0)), cancel = fabs(x) * 0x1p-24;
        CHECK(fabs(a0[i] - want) <= 4 * 1.2e-7 * fabs(want) + cancel + 1e-37, "scalar gelu of %.9g: %.9g, definition %.9g", g[i],
              a0[i], want);
    }
    int ran = 0;
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        const loam_kernels *k = loam_kernels_for(levels[l]);
        if (!k) continue;
        ran++;
        for (int gate = 0; gate < 2; gate++)
            for (int n = N; n > N - 17; n--) {
                for (int i = 0; i < N; i++) a0[i] = a1[i] = gate ? 1.0f + 0.5f * frand() : g[i];
                ref->gelu_act(a0, gate ? g : NULL, (size_t)n);
                memcpy(scale, a1, sizeof scale);
                k->gelu_act(a1, gate ? g : NULL, (size_t)n);
                for (int i = 0; i < N; i++) {
                    if (i >= n) {
                        CHECK(a1[i] == a0[i], "%s gelu wrote past n = %d", k->name, n);
                        continue;
                    }
                    if (isnan(a0[i])) {
                        CHECK(isnan(a1[i]), "%s gelu of NaN: %g", k->name, a1[i]);
                        continue;
                    }
                    double x = g[i], m = gate ? scale[i] : 1.0, want = m * 0.5 * x * erfc(-x / sqrt(2.0));
                    double err = fabs(a1[i] - want), ulp = err / (1.2e-7 * fabs(want) + 1e-300);
                    if (fabs(want) > 1e-30 && ulp > worst_ulp) worst_ulp = ulp;
                    CHECK(err <= 8 * 1.2e-7 * fabs(want) + 1e-37, "%s gelu (gate %d) of %.9g: %.9g, definition %.9g", k->name,
                          gate, g[i], a1[i], want);
                    CHECK(fabsf(a1[i] - a0[i]) <= 4 * 1.2e-7f * fabsf(a0[i]) + m * fabs(x) * 0x1p-24 + 1e-37,
                          "%s gelu (gate %d) of %.9g: %.9g, scalar %.9g", k->name, gate, g[i], a1[i], a0[i]);
                }
            }
    }
    if (ran) printf("    worst %.1f ulp of the definition\n", worst_ulp);
    else test_not_run("no avx2");
}

/* Each level's activation quantizer gives the reference's blocks bit for
 * bit (every field): random rows, rows of exact halves (ties round to
 * even), zeros, blocks with an inf, a NaN or a value past
 * LOAM_ACT_AMAX_LIMIT. 41 blocks: the AVX-512 version's two whole
 * groups of 16 (the first always finite, the second with an inf in some
 * rounds: its fallback) and a tail of 9 (a NaN). */
static void test_quantize_act_levels(void) {
    enum { K = 32 * 41 };
    float x[K];
    loam_act_block ref[K / 32], got[K / 32];
    const loam_simd levels[] = {LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < K; i++) x[i] = frand() * (round % 7 == 0 ? 1e-30f : round % 5 == 0 ? 1e30f : 3.0f);
        for (int j = 0; j < 32; j++) x[32 * 2 + j] = 0.0f;                           /* a zero block */
        for (int j = 0; j < 32; j++) x[32 * 3 + j] = (float)(j - 16) * 0.5f * 127.0f / 8.0f; /* x id lands on halves */
        x[32 * 4] = 127.0f * 8.0f;
        if (round % 3) x[32 * 21 + 7] = round % 2 ? INFINITY : -INFINITY;
        x[32 * 38 + 31] = NAN;
        if (round % 4 == 1) x[32 * 5 + 3] = LOAM_ACT_AMAX_LIMIT; /* first group, not finite enough */
        if (round % 4 == 2) x[32 * 5 + 3] = -0x1.fffffep105f;    /* the largest that is */
        loam_quantize_act_row(x, K, ref);
        for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
            const loam_kernels *k = loam_kernels_for(levels[l]);
            if (!k) continue;
            memset(got, 0x5a, sizeof got);
            k->quantize_act(x, K, got);
            for (int b = 0; b < K / 32; b++) {
                int same = !memcmp(ref[b].q, got[b].q, 32) && ref[b].isum == got[b].isum && ref[b].isum_lo == got[b].isum_lo &&
                           (ref[b].d == got[b].d || (isnan(ref[b].d) && isnan(got[b].d))) &&
                           (ref[b].dsum == got[b].dsum || (isnan(ref[b].dsum) && isnan(got[b].dsum))) &&
                           (ref[b].dsum_lo == got[b].dsum_lo || (isnan(ref[b].dsum_lo) && isnan(got[b].dsum_lo))) &&
                           !memcmp(ref[b].fstart, got[b].fstart, sizeof ref[b].fstart) &&
                           (ref[b].dbias == got[b].dbias || (isnan(ref[b].dbias) && isnan(got[b].dbias)));
                CHECK(same, "%s: block %d of round %d differs (d %g vs %g, isum %d vs %d)", k->name, b, round, ref[b].d,
                      got[b].d, ref[b].isum, got[b].isum);
            }
        }
    }
    if (!loam_kernels_for(LOAM_SIMD_AVX2)) test_not_run("no avx2");
}

/* Each level's SiLU gate is within 4 ulp of the scalar one (x / (1 +
 * expf(-x))) from -120 to 120 (below 1e-35, where exp underflows, within
 * that), keeps NaN, and handles every tail length. */
static void test_silu_gate_levels(void) {
    enum { N = 4099 };
    static float g[N], a0[N], a1[N];
    const loam_simd levels[] = {LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    activation_inputs(g, N);
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    int ran = 0;
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        const loam_kernels *k = loam_kernels_for(levels[l]);
        if (!k) continue;
        ran++;
        for (int n = N; n > N - 17; n--) {
            for (int i = 0; i < N; i++) a0[i] = a1[i] = 1.0f + 0.5f * frand();
            ref->silu_gate(a0, g, (size_t)n);
            k->silu_gate(a1, g, (size_t)n);
            for (int i = 0; i < N; i++) {
                int ok = i >= n ? a1[i] == a0[i] : isnan(a0[i]) ? isnan(a1[i]) : fabsf(a1[i] - a0[i]) <= 4 * 1.2e-7f * fabsf(a0[i]) + 1e-35f;
                CHECK(ok, "%s: silu gate of %g (n %d): %.9g, scalar %.9g", k->name, g[i], n, a1[i], a0[i]);
            }
        }
    }
    if (!ran) test_not_run("no avx2");
}

/* The VNNI tiles' epilogue per 8 vpdpbusd, by type, as their loops spend
 * it (gemm_vnni.c): bench --gemm's issue bound runs this many. */
static void test_tile_epilogue(void) {
    const struct { loam_type t; int e; } want[] = {
        {LOAM_T_Q4_0, 2}, {LOAM_T_Q5_0, 2}, {LOAM_T_Q8_0, 2},  {LOAM_T_IQ4_NL, 2}, {LOAM_T_Q4_1, 3}, {LOAM_T_Q5_1, 3},
        {LOAM_T_Q4_K, 3}, {LOAM_T_Q5_K, 3}, {LOAM_T_Q6_K, 4},  {LOAM_T_Q3_K, 4},   {LOAM_T_Q2_K, 6}, {LOAM_T_F16, 0},
        {LOAM_T_F32, 0},  {LOAM_T_BF16, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK(loam_tile_epilogue(want[i].t) == want[i].e, "%s: epilogue %d, want %d", loam_type_short(want[i].t),
              loam_tile_epilogue(want[i].t), want[i].e);
    /* the loop counts its vpdpbusd operations where a level has the tile, none elsewhere */
    CHECK(loam_bound_loop(LOAM_SIMD_SCALAR, 2, 10) == 0, "scalar has no VNNI tile");
#if defined(__x86_64__)
    for (int e = 2; e <= 6; e++) {
        double a = loam_bound_loop(LOAM_SIMD_AVX512, e, 10), b = loam_bound_loop(LOAM_SIMD_AVX2, e, 10);
        CHECK(a == (loam_cpu_has_vnni() ? 10.0 * 16 * 128 : 0), "avx512 e=%d: %g ops", e, a);
        CHECK(b == (loam_cpu_has_avxvnni() ? 10.0 * 8 * 64 : 0), "avx2 e=%d: %g ops", e, b);
    }
    CHECK(loam_bound_loop(LOAM_SIMD_AVX512, 7, 10) == 0 && loam_bound_loop(LOAM_SIMD_AVX512, 1, 10) == 0, "epilogue out of range");
#endif
}

void register_gemm_tests(void) {
    test_add("kernels: the VNNI tiles' epilogue per type (2 multiply-adds per block, 3 with mins, twice with half-block "
             "scales) and the issue-bound loop's operation count at each level",
             test_tile_epilogue);
    test_add("kernels: avx2 and avx512 blocked products for f32/f16/bf16 weights equal scalar (M 1/7/8/13/513, K tails, partial "
             "strips, several K slabs)",
             test_gemm_float);
    test_add("kernels: avx2 and avx512 blocked f32 products with strided rows of x and W (attention tiles) equal scalar",
             test_gemm_float_strided);
    test_add("kernels: every level's product with a B in 16-column panels equals scalar, the scalar one the sum over B "
             "(odd T/K/N, several K slabs, the first rows only, packed from B and from its transpose, strided rows)",
             test_gemm_panels_levels);
    test_add("kernels: every level's gelu-tanh and quick-gelu (in place, gating) are within 4 ulp of the scalar ones, "
             "the scalar gelu-tanh of its definition in double",
             test_sigmoid_act_levels);
    test_add("kernels: every level's SiLU gate is within 4 ulp of the scalar one (tails, NaN, +-120)", test_silu_gate_levels);
    test_add("kernels: every level's GELU (in place, gating) is within 8 ulp of its definition in double and of the scalar "
             "one but for the scalar's cancellation (tails, NaN, +-120)",
             test_gelu_act_levels);
    test_add("kernels: every level quantizes activations to the reference's int8 blocks bit for bit (ties, inf, NaN)",
             test_quantize_act_levels);
    test_add("kernels: avx2 blocked int8 product equals scalar (all block types, M 1/7/8/13/513, partial strips, "
             "several K slabs)",
             test_gemm_avx2);
    test_add("kernels: avx-vnni blocked int8 product on stored blocks equals scalar (all block types, M 1/7/8/13/513: "
             "panels of the ymm tile from 32 rows, avx2's product below, partial strips, several K slabs)",
             test_gemm_avxvnni);
    test_add("kernels: avx512-vnni blocked int8 product equals scalar (all block types, M 1/7/8/13/513, partial strips, "
             "several K slabs)",
             test_gemm_vnni);
}
