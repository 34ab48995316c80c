/* Weights repacked into strips (kernels/strips.h): the reference product on
 * the repacked bytes equals the int8 reference on the stored ones, the
 * AVX512-VNNI and AVX2 kernels equal that reference over odd shapes (rows 1 .. 513,
 * K of an odd number of blocks, N not a multiple of the strip or of the
 * kernel's three strips, column ranges that start on a later strip, a
 * bias, tiny caches for several K slabs and row blocks), and the linear op
 * gives the same on a repacked copy as on the stored matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"
#include "kernels/strips.h"
#include "nn/nn.h"
#include "test.h"

static uint64_t rng = 4242;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / 16777216.0) * 2.0f - 1.0f;
}

/* N random rows of K of type t, quantized from random floats of per-row size */
static uint8_t *q_rows(loam_type t, int N, int K) {
    size_t rb = loam_row_bytes(t, K);
    uint8_t *w = malloc(rb * (size_t)N);
    float *row = malloc((size_t)K * sizeof *row);
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++)
            row[k] = frand() * (0.5f + (float)(n % 7));
        loam_quantize_row(t, row, K, w + rb * (size_t)n);
    }
    free(row);
    return w;
}

static loam_act_block *act_rows(int T, int K) {
    float *x = malloc((size_t)T * K * sizeof *x);
    loam_act_block *xq = malloc((size_t)T * (K / 32) * sizeof *xq);
    for (int i = 0; i < T * K; i++)
        x[i] = frand() * 3;
    for (int t = 0; t < T; t++)
        loam_quantize_act_row(x + (size_t)t * K, K, xq + (size_t)t * (K / 32));
    free(x);
    return xq;
}

static uint8_t *packed(loam_type t, const uint8_t *w, int N, int K) {
    uint8_t *p = aligned_alloc(64, loam_strips_size(t, N, K));
    memset(p, 0xAB, loam_strips_size(t, N, K)); /* packing writes every byte */
    /* in two calls, as threads split it */
    int half = (N / 2) / LOAM_STRIP_ROWS * LOAM_STRIP_ROWS;
    loam_strip_pack(t, w, N, K, 0, half, p);
    loam_strip_pack(t, w, N, K, half, N, p);
    return p;
}

static const loam_type strip_types[] = {LOAM_T_Q4_0, LOAM_T_Q8_0, LOAM_T_Q4_K, LOAM_T_Q6_K};
enum { N_STRIP_TYPES = 4 };

/* worst |a - b| over rows × [n0, n1) against the largest |a| */
static int close_enough(const float *a, const float *b, int T, int ldy, int n0, int n1, double rel, double *worst) {
    double scale = 1e-9;
    *worst = 0;
    for (int t = 0; t < T; t++)
        for (int n = n0; n < n1; n++) {
            double x = a[(size_t)t * ldy + n], y = b[(size_t)t * ldy + n];
            if (!(fabs(x - y) <= *worst)) *worst = fabs(x - y);
            if (fabs(x) > scale) scale = fabs(x);
        }
    return *worst <= rel * scale + 1e-6;
}

static void test_strip_reference(void) {
    static const int shapes[][3] = {{1, 1, 256}, {3, 15, 768}, {2, 17, 512}, {5, 50, 256}, {1, 33, 4096}, {2, 7, 96}};
    for (size_t ty = 0; ty < N_STRIP_TYPES; ty++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            loam_type t = strip_types[ty];
            int T = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            if (K % 256 && t != LOAM_T_Q4_0 && t != LOAM_T_Q8_0) continue; /* blocks of 32: an odd block count */
            CHECK(loam_strip_supports(t, N, K), "%s %dx%d not repackable", loam_type_name(t), N, K);
            uint8_t *w = q_rows(t, N, K), *p = packed(t, w, N, K);
            loam_act_block *x = act_rows(T, K);
            float *y1 = calloc((size_t)T * N, sizeof *y1), *y2 = calloc((size_t)T * N, sizeof *y2);
            loam_kernels_for(LOAM_SIMD_SCALAR)->matmul_q8(NULL, x, T, K, w, t, 0, N, y1, N);
            loam_strip_matmul_ref(t, x, T, K, p, 0, N, y2, N);
            double worst;
            int ok = close_enough(y1, y2, T, N, 0, N, 1e-5, &worst);
            free(w), free(p), free(x), free(y1), free(y2);
            CHECK(ok,
                  "%s T=%d N=%d K=%d: repacked reference differs from the stored one "
                  "by %g",
                  loam_type_name(t), T, N, K, worst);
        }
    CHECK(!loam_strip_supports(LOAM_T_Q5_0, 16, 32) && !loam_strip_supports(LOAM_T_Q4_0, 16, 48) &&
              !loam_strip_supports(LOAM_T_Q6_K, 16, 32),
          "unsupported shapes accepted");
}

#if defined(__x86_64__)
typedef void (*strip_fn)(const loam_cache_info *, const loam_act_block *, int, int, const void *, loam_type, int, int, float *,
                         int, const float *);

/* one strip kernel against the reference */
static void check_strip_kernel(strip_fn kernel) {
    /* this machine's caches, and a tiny L2: a few blocks per K slab, row blocks
     * of tens of rows; software prefetch on and off in turn over the row
     * counts (it must not change a result) */
    const loam_cache_info caches[] = {{0, 0, 1}, {1024, 16384, 1}};
    /* from 32 rows the VNNI kernels run through unpacked panels; 34 and 100 leave one row past their tiles of 3 */
    static const int Ts[] = {1, 2, 4, 7, 13, 31, 32, 513, 34, 100};
    static const int ranges[][2] = {{0, 150}, {16, 150}, {48, 149}, {96, 101}, {0, 21}, {0, 29}};
    for (size_t ty = 0; ty < N_STRIP_TYPES; ty++)
        for (size_t c = 0; c < 2; c++)
            for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++) {
                loam_type t = strip_types[ty];
                loam_cache_info cache = caches[c];
                cache.prefetch = (int)((a + c) % 2);
                /* Q4_0, Q8_0: 3 or 45 blocks (odd counts); Q4_K, Q6_K: 1 or 5 super-blocks */
                int T = Ts[a], N = 150, K = t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0 ? (a % 2 ? 96 : 32 * 45) : (a % 2 ? 256 : 1280), ldy = N + 3;
                uint8_t *w = q_rows(t, N, K), *p = packed(t, w, N, K);
                loam_act_block *x = act_rows(T, K);
                float *bias = malloc((size_t)N * sizeof *bias), *y1 = malloc((size_t)T * ldy * sizeof *y1),
                      *y2 = malloc((size_t)T * ldy * sizeof *y2);
                for (int n = 0; n < N; n++)
                    bias[n] = frand();
                const char *failure = NULL;
                double worst = 0;
                int n0 = 0, n1 = 0, outside = 0;
                for (size_t r = 0; r < sizeof ranges / sizeof *ranges && !failure; r++) {
                    n0 = ranges[r][0], n1 = ranges[r][1];
                    for (size_t i = 0; i < (size_t)T * ldy; i++)
                        y1[i] = y2[i] = 12345.0f;
                    loam_strip_matmul_ref(t, x, T, K, p, n0, n1, y1, ldy);
                    for (int t = 0; t < T; t++)
                        for (int n = n0; n < n1; n++)
                            y1[(size_t)t * ldy + n] += bias[n];
                    kernel(&cache, x, T, K, p, t, n0, n1, y2, ldy, bias);
                    for (int t = 0; t < T; t++)
                        for (int n = 0; n < ldy; n++)
                            outside += (n < n0 || n >= n1) && y2[(size_t)t * ldy + n] != 12345.0f;
                    if (!close_enough(y1, y2, T, ldy, n0, n1, 2e-5, &worst) || outside) failure = "differs";
                }
                free(w), free(p), free(x), free(bias), free(y1), free(y2);
                CHECK(!failure,
                      "%s T=%d K=%d n %d..%d of %d, L2 %lld: differs by %g, %d written "
                      "outside",
                      loam_type_name(t), T, K, n0, n1, N, (long long)caches[c].l2, worst, outside);
            }
}
#endif

static void test_strip_vnni(void) {
#if defined(__x86_64__)
    if (!loam_cpu_has_vnni()) {
        test_not_run("no avx512-vnni");
        return;
    }
    check_strip_kernel(loam_strip_matmul_vnni);
#else
    test_not_run("not x86-64");
#endif
}

static void test_strip_avx2(void) {
#if defined(__x86_64__)
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    check_strip_kernel(loam_strip_matmul_avx2);
#else
    test_not_run("not x86-64");
#endif
}

static void test_strip_avxvnni(void) {
#if defined(__x86_64__)
    if (!loam_cpu_has_avxvnni()) {
        test_not_run("no avx-vnni");
        return;
    }
    check_strip_kernel(loam_strip_matmul_avxvnni);
#else
    test_not_run("not x86-64");
#endif
}

/* nn_linear on the repacked copy = nn_linear on the stored matrix, for a
 * decode row, a server's step and a prompt, with a bias. */
static void check_strip_linear(const loam_kernels *kernels) {
    loam_error err;
    loam_nn nn;
    CHECK_OK(nn_init(&nn, kernels, 2, NULL, 0, &err), &err);
    int N = 200, K = 512;
    const char *failure = NULL;
    double worst = 0;
    int T = 0;
    loam_type ty = LOAM_T_Q4_0;
    for (size_t k = 0; k < N_STRIP_TYPES && !failure; k++) {
        ty = strip_types[k];
        uint8_t *w = q_rows(ty, N, K);
        loam_tensor t = {
            .name = "w", .type = ty, .n_dims = 2, .shape = {N, K}, .data = w, .n_bytes = loam_row_bytes(ty, K) * (size_t)N};
        loam_tensor rep;
        size_t bytes = nn_packed_size(nn.kernels, &t);
        void *buf = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
        loam_pool *pool = loam_pool_new(2);
        if (buf) nn_pack_linear(pool, &t, 0, buf, &rep);
        loam_pool_free(pool);
        int repacked = bytes == loam_strips_size(ty, N, K) && buf && rep.strips && rep.data == buf;
        if (!repacked) failure = "not repacked";
        static const int Ts[] = {1, 16, 77};
        float *bias = malloc((size_t)N * sizeof *bias);
        for (int n = 0; n < N; n++)
            bias[n] = frand();
        for (size_t a = 0; a < 3 && !failure; a++) {
            T = Ts[a];
            float *x = malloc((size_t)T * K * sizeof *x), *y1 = malloc((size_t)T * N * sizeof *y1),
                  *y2 = malloc((size_t)T * N * sizeof *y2);
            for (int i = 0; i < T * K; i++)
                x[i] = frand();
            nn_linear(&nn, x, T, &t, bias, y1);
            nn_linear(&nn, x, T, &rep, bias, y2);
            if (nn_status(&nn, &err) || !close_enough(y1, y2, T, N, 0, N, 2e-5, &worst)) failure = "differs";
            free(x), free(y1), free(y2);
        }
        free(bias), free(buf), free(w);
    }
    nn_free(&nn);
    CHECK(!failure, "%s, %s kernels: %s (T=%d, worst %g)", loam_type_name(ty), kernels->name, failure, T, worst);
}

static void test_strip_linear(void) {
#if defined(__x86_64__)
    REQUIRE_SIMD(LOAM_SIMD_AVX2);
    check_strip_linear(&loam_kernels_avx2);
    if (loam_cpu_has_avxvnni()) check_strip_linear(&loam_kernels_avx2_vnni);
    if (loam_cpu_has_vnni()) check_strip_linear(loam_kernels_for(LOAM_SIMD_AVX512));
#else
    test_not_run("not x86-64");
#endif
}

void register_strips_tests(void) {
    test_add("kernels: Q4_0, Q8_0, Q4_K and Q6_K repacked into strips, the reference product "
             "on them equals the int8 reference on the stored "
             "rows (odd N, odd block counts)",
             test_strip_reference);
    test_add("kernels: avx512-vnni product on strips equals the strip reference (M "
             "1/2/4/7/13/31/32/34/100/513: strips read directly and unpacked into panels, odd blocks, partial "
             "strips, ranges from later strips, bias, several K slabs and row blocks)",
             test_strip_vnni);
    test_add("kernels: avx2 product on the same strips equals the strip reference (the same shapes)", test_strip_avx2);
    test_add("kernels: avx-vnni (vpdpbusd on ymm) product on the same strips equals the strip reference (the same shapes)",
             test_strip_avxvnni);
    test_add("nn: linear on a repacked Q4_0 / Q8_0 / Q4_K / Q6_K copy equals linear on the "
             "stored matrix (1, 16, 77 rows, bias; avx2, avx2-vnni and avx512-vnni kernels)",
             test_strip_linear);
}
