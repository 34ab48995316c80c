/* Every SIMD kernel equals the scalar reference on random data, for every
 * weight type and the shape edge cases (K tails, odd N, T not a multiple
 * of the row tile), each level forced in turn. */
#include <math.h>
#include <stdlib.h>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include <string.h>
#include "test.h"

static uint64_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static void compare_level(loam_simd level) {
    REQUIRE_SIMD(level);
    const loam_kernels *simd = loam_kernels_for(level), *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    /* K = 4100 with N = 37: the weight rows go in several cache-sized chunks */
    static const int Ks[] = {1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 4100};
    static const int Ts[] = {1, 2, 3, 4, 5, 7, 9, 11}; /* every remainder after the 6- and 4-row tiles */
    static const int Ns[] = {1, 2, 3, 17, 37};
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
                    ref->matmul(NULL, x, T, K, w, types[ti], n0, N, y1, N + 3);
                    double worst = 0;
                    int untouched = 1;
                    /* software prefetch on; off with rows side by side (an L1d too small for x);
                     * off with one row at a time (an L1d that holds x) */
                    for (int c = 0; c < 3; c++) {
                        const loam_cache_info caches = {c == 2 ? (int64_t)1 << 30 : 0, 0, c == 0};
                        memset(y2, 0, (size_t)T * (N + 3) * sizeof(float));
                        simd->matmul(&caches, x, T, K, w, types[ti], n0, N, y2, N + 3);
                        for (int t = 0; t < T; t++) {
                            for (int n = n0; n < N; n++) {
                                double d = fabs(y1[t * (N + 3) + n] - y2[t * (N + 3) + n]);
                                if (d > worst) worst = d;
                            }
                            for (int n = 0; n < n0; n++) untouched &= y2[t * (N + 3) + n] == 0.0f;
                            for (int n = N; n < N + 3; n++) untouched &= y2[t * (N + 3) + n] == 0.0f;
                        }
                    }
                    free(x), free(w), free(y1), free(y2);
                    /* sums of K products of values in [-1,1]: f32 reordering error is tiny */
                    CHECK(worst <= 1e-5 * K, "%s %s K=%d T=%d N=%d: differs by %g", loam_simd_name(level),
                          loam_type_short(types[ti]), K, T, N, worst);
                    CHECK(untouched, "%s wrote outside [n0, n1)", loam_simd_name(level));
                }
}

/* The attention kernels against the scalar reference, for each cache
 * type: head lengths around the vector and chunk sizes, rows further apart
 * than a head, and nothing written past the head. */
static void compare_vec(loam_simd level) {
    REQUIRE_SIMD(level);
    const loam_kernels *k = loam_kernels_for(level), *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    static const int hds[] = {1, 7, 8, 16, 17, 32, 64, 80, 96, 128, 129, 200, 256, 300};
    for (int type = 0; type < 3; type++)
        for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
            for (int n = 1; n <= 33; n += 16) {
                int hd = hds[h];
                if (type == 2 && hd % 32) continue; /* a q8_0 cache needs head_dim % 32 == 0 */
                size_t row = type == 0 ? (size_t)hd * 4 : type == 1 ? (size_t)hd * 2 : (size_t)hd / 32 * 34, stride = row + 12;
                float *q = malloc((size_t)hd * sizeof(float)), *vals = malloc((size_t)hd * sizeof(float));
                uint8_t *kv = malloc((size_t)n * stride);
                float *s1 = malloc((size_t)n * sizeof(float)), *s2 = malloc((size_t)n * sizeof(float));
                float *o1 = malloc(((size_t)hd + 1) * sizeof(float)), *o2 = malloc(((size_t)hd + 1) * sizeof(float));
                for (int i = 0; i < hd; i++) q[i] = frand();
                for (int p = 0; p < n; p++) {
                    for (int i = 0; i < hd; i++) vals[i] = frand();
                    uint8_t *dst = kv + (size_t)p * stride;
                    if (type == 0) memcpy(dst, vals, row);
                    else loam_quantize_row(type == 1 ? LOAM_T_F16 : LOAM_T_Q8_0, vals, hd, dst);
                    memset(dst + row, 0x7f, stride - row); /* garbage between rows must not be read */
                }
                o1[hd] = o2[hd] = 42.0f;
                ref->attn_scores[type](q, kv, stride, n, hd, s1);
                k->attn_scores[type](q, kv, stride, n, hd, s2);
                CHECK(max_abs_diff(s1, s2, n) <= 1e-5 * (hd + 1), "%s attn_scores type %d hd=%d n=%d differ", loam_simd_name(level), type, hd, n);
                ref->attn_mix[type](s1, kv, stride, n, hd, o1);
                k->attn_mix[type](s1, kv, stride, n, hd, o2);
                CHECK(max_abs_diff(o1, o2, hd) <= 1e-4 * (n + 1) && o2[hd] == 42.0f,
                      "%s attn_mix type %d hd=%d n=%d differs (or wrote past hd)", loam_simd_name(level), type, hd, n);
                free(q), free(vals), free(kv), free(s1), free(s2), free(o1), free(o2);
            }
}

/* softmax's exp: within a few ulp of expf for every element (including
 * ones far below the max, which underflow to 0), and the same sum. */
static void compare_softmax(loam_simd level) {
    REQUIRE_SIMD(level);
    const loam_kernels *k = loam_kernels_for(level), *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    for (int n = 1; n <= 70; n += 3) {
        float a[70], b[70], max = -INFINITY;
        for (int i = 0; i < n; i++) {
            a[i] = i % 11 == 5 ? -200.0f + frand() : 30.0f * frand();
            max = fmaxf(max, a[i]);
        }
        memcpy(b, a, sizeof a);
        double s1 = ref->softmax_exp(a, n, max), s2 = k->softmax_exp(b, n, max);
        double worst = 0;
        for (int i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / fmax(fabs((double)a[i]), 1e-30));
        CHECK(worst <= 4e-7 && fabs(s1 - s2) <= 1e-6 * s1, "%s softmax_exp n=%d: relative error %.3g, sums %.9g vs %.9g",
              loam_simd_name(level), n, worst, s2, s1);
    }
}

static void test_vec_kernels_avx2(void) {
    compare_softmax(LOAM_SIMD_AVX2);
    if (!test_failed()) compare_vec(LOAM_SIMD_AVX2);
}

static void test_vec_kernels_avx512(void) {
    compare_softmax(LOAM_SIMD_AVX512);
    if (!test_failed()) compare_vec(LOAM_SIMD_AVX512);
}

/* The opt-in bf16-activation kernel (AVX512-BF16) against its scalar
 * reference: products of the same bf16 values, f32 sums in another order. */
static void check_bf16dot(loam_bf16dot_fn fast, const loam_cache_info *caches, int K, int T, int N) {
    int ld = N + 3, n0 = N > 2 ? 1 : 0;
    uint16_t *x = malloc((size_t)T * K * 2), *w = malloc((size_t)N * K * 2);
    float *y1 = calloc((size_t)T * ld, sizeof(float)), *y2 = calloc((size_t)T * ld, sizeof(float));
    for (int i = 0; i < T * K; i++) x[i] = loam_f32_to_bf16(frand());
    for (int i = 0; i < N * K; i++) w[i] = loam_f32_to_bf16(frand());
    loam_matmul_bf16dot_scalar(NULL, x, T, K, w, n0, N, y1, ld);
    fast(caches, x, T, K, w, n0, N, y2, ld);
    double worst = 0;
    int untouched = 1;
    for (int t = 0; t < T; t++) {
        for (int n = n0; n < N; n++) worst = fmax(worst, fabs(y1[t * ld + n] - y2[t * ld + n]));
        for (int n = 0; n < n0; n++) untouched &= y2[t * ld + n] == 0.0f;
        for (int n = N; n < ld; n++) untouched &= y2[t * ld + n] == 0.0f;
    }
    free(x), free(w), free(y1), free(y2);
    CHECK(worst <= 1e-5 * K, "bf16dot K=%d T=%d N=%d L2 %lld: differs by %g", K, T, N, caches ? (long long)caches->l2 : 0LL, worst);
    CHECK(untouched, "bf16dot K=%d T=%d N=%d wrote outside [n0, n1)", K, T, N);
}

static void test_bf16dot_matches_scalar(void) {
    loam_bf16dot_fn fast = loam_bf16dot_for(LOAM_SIMD_AUTO);
    CHECK(!loam_bf16dot_for(LOAM_SIMD_AVX2) && !loam_bf16dot_for(LOAM_SIMD_SCALAR), "lower levels must keep the exact path");
    if (!fast) {
        CHECK(!loam_cpu_has_avx512bf16(), "the CPU has AVX512-BF16 but no kernel was chosen");
        test_not_run("no avx512-bf16");
        return;
    }
    /* one weight row at a time (fewer rows than LOAM_BF16DOT_BLOCKED_ROWS) */
    static const int Ks[] = {1, 2, 15, 31, 32, 33, 63, 64, 65, 100, 257};
    static const int Ts[] = {1, 2, 3, 4, 6, 7, 9, 13};
    static const int Ns[] = {1, 3, 4, 5, 9};
    for (size_t a = 0; a < sizeof Ks / sizeof *Ks && !test_failed(); a++)
        for (size_t b = 0; b < sizeof Ts / sizeof *Ts && !test_failed(); b++)
            for (size_t c = 0; c < sizeof Ns / sizeof *Ns && !test_failed(); c++) /* software prefetch on (NULL) and off */
                check_bf16dot(fast, c % 2 ? NULL : &(const loam_cache_info){0, 0, 0}, Ks[a], Ts[b], Ns[c]);
    /* the blocked product: odd K (a lone last pair), strips past N, several
     * slabs of K and blocks of rows under a tiny L2 */
    static const int Kb[] = {1, 31, 33, 64, 257, 1001};
    static const int Tb[] = {16, 17, 31, 77};
    static const int Nb[] = {1, 63, 64, 65, 130};
    const loam_cache_info caches[] = {{0, 0, 1}, {1024, 16384, 0}};
    for (size_t a = 0; a < sizeof Kb / sizeof *Kb && !test_failed(); a++)
        for (size_t b = 0; b < sizeof Tb / sizeof *Tb && !test_failed(); b++)
            for (size_t c = 0; c < sizeof Nb / sizeof *Nb && !test_failed(); c++)
                for (size_t d = 0; d < 2 && !test_failed(); d++) check_bf16dot(fast, &caches[d], Kb[a], Tb[b], Nb[c]);
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

/* int8 path: every SIMD implementation equals the scalar reference (the
 * integer sums are exact; only float scaling order differs). */
typedef void (*qmatmul_fn)(const loam_cache_info *, const loam_act_block *, int, int, const void *, loam_type, int, int, float *,
                           int);

/* One product of T rows by N weight rows of type t against the scalar
 * kernel, over columns [1, N) (column 0 must stay untouched). */
static void compare_qmatmul_one(const char *name, qmatmul_fn fn, loam_type t, int K, int T, int N) {
    const loam_kernels *ref = loam_kernels_for(LOAM_SIMD_SCALAR);
    int be, bb;
    loam_type_block(t, &be, &bb);
    size_t rb = loam_row_bytes(t, K);
    float *x = malloc((size_t)T * K * sizeof(float));
    uint8_t *w = malloc(rb * N);
    loam_act_block *xq = malloc((size_t)T * (K / 32) * sizeof *xq);
    float *y1 = calloc((size_t)T * N, sizeof(float)), *y2 = calloc((size_t)T * N, sizeof(float));
    for (int i = 0; i < T * K; i++) x[i] = frand();
    /* random bytes are valid blocks for every type except their f16 scales: set those sane */
    for (size_t i = 0; i < rb * N; i++) w[i] = (uint8_t)(frand() * 127 + 128);
    for (int n = 0; n < N; n++)
        for (int blk = 0; blk < K / be; blk++) {
            uint8_t *p = w + n * rb + blk * bb;
            uint16_t h1 = loam_f32_to_f16(0.01f + 0.001f * (float)(n % 13)), h2 = loam_f32_to_f16(0.02f);
            int off_d = t == LOAM_T_Q6_K ? 208 : t == LOAM_T_Q3_K ? 108 : t == LOAM_T_Q2_K ? 80 : 0;
            memcpy(p + off_d, &h1, 2);
            if (t == LOAM_T_Q4_1 || t == LOAM_T_Q5_1 || t == LOAM_T_Q4_K || t == LOAM_T_Q5_K || t == LOAM_T_Q2_K)
                memcpy(p + off_d + 2, &h2, 2);
        }
    for (int r = 0; r < T; r++) loam_quantize_act_row(x + (size_t)r * K, K, xq + (size_t)r * (K / 32));
    int n0 = 1;
    ref->matmul_q8(NULL, xq, T, K, w, t, n0, N, y1, N);
    const loam_cache_info caches = {0, 0, T % 2}; /* software prefetch on for odd row counts, off for even */
    fn(&caches, xq, T, K, w, t, n0, N, y2, N);
    double worst = 0, scale = 1e-9;
    int untouched = 1;
    for (int r = 0; r < T; r++) {
        for (int n = n0; n < N; n++) {
            worst = fmax(worst, fabs(y1[r * N + n] - y2[r * N + n]));
            scale = fmax(scale, fabs(y1[r * N + n]));
        }
        untouched &= y2[r * N] == 0.0f;
    }
    free(x), free(w), free(xq), free(y1), free(y2);
    CHECK(worst <= 2e-5 * scale + 1e-6, "%s %s K=%d T=%d N=%d: differs from scalar by %g (scale %g)", name, loam_type_name(t), K, T,
          N, worst, scale);
    CHECK(untouched, "%s wrote outside [n0, n1)", name);
}

static void compare_qmatmul(const char *name, qmatmul_fn fn) {
    loam_type types[] = {LOAM_T_Q4_0, LOAM_T_Q4_1, LOAM_T_Q5_0, LOAM_T_Q5_1, LOAM_T_Q8_0, LOAM_T_IQ4_NL,
                         LOAM_T_Q2_K, LOAM_T_Q3_K, LOAM_T_Q4_K, LOAM_T_Q5_K, LOAM_T_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int be, bb;
        loam_type_block(types[ti], &be, &bb);
        static const int kbs[] = {1, 2, 3, 4, 6}; /* block counts: odd, even, pairs with a tail */
        for (size_t kbi = 0; kbi < sizeof kbs / sizeof *kbs; kbi++) {
            static const int Ts[] = {1, 3, 4, 5, 7, 8, 9, 13, 16, 21, 513};
            for (size_t b = 0; b < sizeof Ts / sizeof *Ts; b++) {
                /* odd row counts, 513 rows once per type, 7 and 13 weight rows */
                if (Ts[b] == 513 && kbi != 2) continue;
                compare_qmatmul_one(name, fn, types[ti], be * kbs[kbi], Ts[b], b % 2 ? 7 : 13);
            }
        }
        /* long rows (K = 8192): the weight rows go in several cache-sized
         * chunks, each met by every activation row (below and above 8 rows) */
        static const int Tl[] = {3, 6, 13, 15, 27}; /* one-row and padded tails of 8-row groups */
        for (size_t b = 0; b < sizeof Tl / sizeof *Tl; b++) compare_qmatmul_one(name, fn, types[ti], 8192, Tl[b], 75);
    }
}

static void test_qmatmul_avx2(void) {
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    compare_qmatmul("avx2", loam_qmatmul_avx2);
}

static void test_qmatmul_vnni(void) {
    if (!loam_cpu_has_vnni()) {
        test_not_run("no avx512-vnni");
        return;
    }
    compare_qmatmul("avx512-vnni", loam_qmatmul_vnni);
}

/* The scalar int8 reference agrees with exact float math on the
 * dequantized weights up to the activation rounding. */
static void test_qdot_ref_vs_dequant(void) {
    loam_type types[] = {LOAM_T_Q4_0, LOAM_T_Q8_0, LOAM_T_Q4_K, LOAM_T_Q6_K, LOAM_T_Q2_K, LOAM_T_Q3_K, LOAM_T_Q5_K, LOAM_T_Q5_1};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int K = 512;
        float x[512], wf[512], wd[512];
        uint8_t w[600];
        loam_act_block xq[16];
        for (int i = 0; i < K; i++) x[i] = frand(), wf[i] = frand() * 0.1f;
        loam_type qt = types[ti] == LOAM_T_Q2_K || types[ti] == LOAM_T_Q3_K || types[ti] == LOAM_T_Q5_K || types[ti] == LOAM_T_Q5_1 ? LOAM_T_COUNT : types[ti];
        if (qt == LOAM_T_COUNT) continue; /* no quantizer for these here; covered by the SIMD comparison */
        CHECK(loam_quantize_row(qt, wf, K, w), "quantize %s", loam_type_name(qt));
        loam_row_to_f32(w, qt, 0, K, wd);
        loam_quantize_act_row(x, K, xq);
        double exact = 0, xs = 0;
        for (int i = 0; i < K; i++) exact += (double)wd[i] * x[i], xs += fabs(wd[i]);
        double got = loam_qdot_ref(qt, w, xq, K);
        CHECK(fabs(got - exact) <= 0.01 * xs, "%s: int8 dot %g vs exact %g", loam_type_name(qt), got, exact);
    }
}

/* NaN or inf in a block: no integer can hold it, so the block becomes a
 * NaN scale over zeros (the int8 activations, a q8_0 KV row) instead of an
 * undefined float-to-int conversion; the other blocks are unchanged. */
static void test_nonfinite_blocks(void) {
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)(i - 30) * 0.25f;
    loam_act_block clean[2], q[2];
    loam_quantize_act_row(x, 64, clean);
    const float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        float y[64];
        memcpy(y, x, sizeof y);
        y[40] = bad[k];
        loam_quantize_act_row(y, 64, q);
        int zeros = 1;
        for (int j = 0; j < 32; j++) zeros &= q[1].q[j] == 0;
        CHECK(isnan(q[1].d) && zeros && q[1].isum == 0 && isnan(q[1].dsum) && isnan(q[1].dsum_lo), "act block with %g: d %g", bad[k], q[1].d);
        CHECK(q[0].dsum == q[0].d * (float)q[0].isum && q[0].dsum_lo == q[0].d * (float)q[0].isum_lo, "act block: d · sums");
        CHECK(!memcmp(q[0].q, clean[0].q, 32) && q[0].d == clean[0].d && q[0].isum == clean[0].isum, /* fields: padding is not set */
              "act block with %g: the finite block changed", bad[k]);
        uint8_t row[2 * 34];
        CHECK(loam_quantize_row(LOAM_T_Q8_0, y, 64, row), "q8_0 row");
        uint16_t h;
        memcpy(&h, row + 34, 2);
        int qzero = 1;
        for (int j = 0; j < 32; j++) qzero &= row[34 + 2 + j] == 0;
        CHECK(isnan(loam_f16_to_f32(h)) && qzero, "q8_0 block with %g: scale %g", bad[k], loam_f16_to_f32(h));
    }
}

/* The fields the VNNI blocked product reads its sums through (qdot.h): d
 * keeps 22 significant bits, so -1.5 · 2^23 · d is exact; an accumulator
 * started at fstart that adds (w + 128) · q over a block (or half) has the
 * bits of the float 1.5 · 2^23 + sum(w · q), and fma(it, d, dbias) is
 * d · sum(w · q) rounded once; up to the largest sums (Q8_0's -128 · -127
 * throughout). Magnitudes from LOAM_ACT_AMAX_LIMIT are NaN blocks. */
static void test_act_float_sums(void) {
    float x[32];
    loam_act_block a;
    for (int round = 0; round < 2000; round++) {
        int extreme = round % 10 == 0;
        float scale = round % 3 == 0 ? 1e-20f : round % 3 == 1 ? 3.0f : 1e25f;
        for (int j = 0; j < 32; j++) x[j] = extreme ? -scale : frand() * scale;
        loam_quantize_act_row(x, 32, &a);
        uint32_t bits;
        memcpy(&bits, &a.d, 4);
        CHECK(isfinite(a.d) && (bits & 3) == 0, "d %a keeps more than 22 bits", (double)a.d);
        CHECK((double)a.dbias == -12582912.0 * (double)a.d, "dbias %a is not -1.5*2^23*d (d %a)", (double)a.dbias, (double)a.d);
        int8_t w[32];
        for (int j = 0; j < 32; j++) w[j] = extreme ? -128 : (int8_t)(rand() % 256 - 128);
        for (int part = 0; part < 3; part++) {
            int j0 = part == 2 ? 16 : 0, j1 = part == 1 ? 16 : 32;
            int32_t acc = a.fstart[part], sum = 0;
            for (int j = j0; j < j1; j++) acc += (w[j] + 128) * a.q[j], sum += w[j] * a.q[j];
            float f, want = (float)((double)a.d * (double)sum);
            memcpy(&f, &acc, 4);
            CHECK(f == 12582912.0f + (float)sum, "part %d: accumulator %a, sum %d", part, (double)f, sum);
            CHECK(fmaf(f, a.d, a.dbias) == want, "part %d: fma %a, d * sum %a", part, (double)fmaf(f, a.d, a.dbias), (double)want);
        }
    }
    for (int j = 0; j < 32; j++) x[j] = 0.5f;
    x[9] = LOAM_ACT_AMAX_LIMIT;
    loam_quantize_act_row(x, 32, &a);
    CHECK(isnan(a.d) && isnan(a.dbias) && a.isum == 0, "a block at the limit: d %g", a.d);
    x[9] = -0x1.fffffep105f;
    loam_quantize_act_row(x, 32, &a);
    CHECK(isfinite(a.d) && isfinite(a.dbias) && a.q[9] == -127, "a block just below the limit: d %g dbias %g", a.d, a.dbias);
}

void register_kernels_tests(void) {
    test_add("kernels: int8 reference dot ~ exact math on dequantized weights", test_qdot_ref_vs_dequant);
    test_add("kernels: avx2 int8 matmul equals scalar (all block types, tails, weight rows over several chunks)", test_qmatmul_avx2);
    test_add("kernels: avx512-vnni int8 matmul equals scalar (all block types, tails, weight rows over several chunks)", test_qmatmul_vnni);
    test_add("kernels: dispatch picks a level the CPU has", test_dispatch);
    test_add("kernels: a NaN or inf in a block quantizes to a NaN block (int8 activations, q8_0 rows), never UB", test_nonfinite_blocks);
    test_add("kernels: activation blocks' float-read sums: 22-bit d, exact bias, accumulator bits = 1.5*2^23 + sum, one rounding "
             "(largest sums; NaN from 2^106)",
             test_act_float_sums);
    test_add("kernels: avx2 attention kernels (f32, f16, q8_0 caches) and softmax exp equal scalar", test_vec_kernels_avx2);
    test_add("kernels: avx512 attention kernels (f32, f16, q8_0 caches) and softmax exp equal scalar", test_vec_kernels_avx512);
    test_add("kernels: avx2 matmul equals scalar (f32/f16/bf16, all tails, weight rows over several chunks; prefetched rows, rows side by side, one row)", test_avx2_matches_scalar);
    test_add("kernels: avx512 matmul equals scalar (f32/f16/bf16, all tails, weight rows over several chunks; prefetched rows, rows side by side, one row)", test_avx512_matches_scalar);
    test_add("kernels: avx512-bf16 dot products equal their scalar reference (row kernel: all tails; blocked from 16 rows: "
             "odd K, partial strips, several K slabs and row blocks)",
             test_bf16dot_matches_scalar);
}
