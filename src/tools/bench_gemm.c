/* loam bench --gemm: the shared linear op alone on random data of a
 * chosen weight type, beside the peak of the instructions it is built from
 * (kernels/peak.h), on the same threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/sys.h"
#include "core/threadpool.h"
#include "kernels/peak.h"
#include "kernels/quants.h"
#include "loam_tools.h"
#include "nn/nn.h"

/* uniform in [-1, 1) from a 64-bit LCG: the same data every run */
static float next_uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    loam_simd level;
    loam_peak_kind kind;
    int epilogue; /* > 0: loam_bound_loop with this epilogue instead of the peak loop */
    long iters;
    double ops[64];
} peak_job;

static void peak_task(void *arg, int task, int thread) {
    (void)thread;
    peak_job *j = arg;
    j->ops[task] = j->epilogue ? loam_bound_loop(j->level, j->epilogue, j->iters) : loam_peak_loop(j->level, j->kind, j->iters);
}

/* One run of all threads in the peak loop (or the bound loop of an
 * epilogue) at once, in GOP/s. */
static double peak_run(loam_pool *pool, peak_job *j) {
    int threads = loam_pool_size(pool) < 64 ? loam_pool_size(pool) : 64;
    double t0 = loam_seconds_now();
    loam_pool_run(pool, peak_task, j, threads);
    double dt = loam_seconds_now() - t0, ops = 0;
    for (int t = 0; t < threads; t++) ops += j->ops[t];
    return dt > 0 ? ops / dt / 1e9 : 0;
}

/* The peak loop and, for epilogue > 0, the bound loop, in turns, best of
 * 10 each (a shared machine's speed moves: the best run is the machine's,
 * and turns put both in the same minutes). */
static void measure_peak(loam_pool *pool, loam_simd level, loam_peak_kind kind, int epilogue, double *peak, double *bound) {
    peak_job p = {level, kind, 0, 4000000, {0}}; /* tens of milliseconds: steady clocks, little timer noise */
    peak_job b = {level, kind, epilogue, 4000000, {0}};
    *peak = *bound = 0;
    for (int rep = 0; rep < 10; rep++) {
        double g = peak_run(pool, &p);
        if (g > *peak) *peak = g;
        if (epilogue && (g = peak_run(pool, &b)) > *bound) *bound = g;
    }
}

static int parse_bench_type(const char *name, loam_type *out) {
    static const loam_type ok[] = {LOAM_T_F32,  LOAM_T_F16,  LOAM_T_BF16, LOAM_T_Q8_0, LOAM_T_Q4_0, LOAM_T_Q4_1, LOAM_T_Q5_0,
                                   LOAM_T_Q5_1, LOAM_T_Q2_K, LOAM_T_Q3_K, LOAM_T_Q4_K, LOAM_T_Q5_K, LOAM_T_Q6_K, LOAM_T_IQ4_NL};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcasecmp(name, loam_type_short(ok[i]))) return *out = ok[i], 1;
    return 0;
}

/* W [N, K] of type t from random rows: a pool of POOL_ROWS rows is
 * quantized once and repeated (the reference K-quant quantizers take
 * seconds for a large matrix; speed does not depend on the values). */
#define POOL_ROWS 64
static void *random_weights(loam_type t, int N, int K, loam_error *err) {
    size_t row = loam_row_bytes(t, K);
    uint8_t *w = malloc(row * (size_t)N);
    float *x = malloc((size_t)K * sizeof *x);
    uint64_t seed = 42;
    for (int n = 0; w && x && n < N; n++) {
        if (n >= POOL_ROWS) {
            memcpy(w + row * (size_t)n, w + row * (size_t)(n % POOL_ROWS), row);
            continue;
        }
        for (int k = 0; k < K; k++) x[k] = next_uniform(&seed);
        loam_quantize_row(t, x, K, w + row * (size_t)n);
    }
    free(x);
    if (!w) loam_fail(err, LOAM_E_NOMEM, "bench --gemm: out of memory for the weights");
    return w;
}

loam_status loam_bench_gemm(int M, int N, int K, const char *type, int n_threads, int reps, int keep_layout, loam_gemm_result *out,
                            loam_error *err) {
    memset(out, 0, sizeof *out);
    loam_type t;
    int bf16_dot = !strcasecmp(type, "bf16-dot"); /* BF16 weights, bf16 activations, vdpbf16ps */
    if (bf16_dot) type = "bf16";
    if (!parse_bench_type(type, &t))
        return loam_fail(err, LOAM_E_ARG, "bench --gemm: type \"%s\" (f32, f16, bf16, bf16-dot, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl)", type);
    int block, block_bytes;
    loam_type_block(t, &block, &block_bytes);
    if (M < 1 || N < 1 || K < block || K % block || (int64_t)M * K > (1ll << 30) || (int64_t)N * K > (1ll << 32))
        return loam_fail(err, LOAM_E_ARG, "bench --gemm: %d,%d,%d: M, N >= 1 and K a multiple of %d (%s blocks), at most 2^30 activations",
                         M, N, K, block, loam_type_short(t));
    const loam_kernels *kernels; /* the ones the runtime would pick */
    loam_status st = loam_kernels_choose(LOAM_SIMD_AUTO, &kernels, err);
    if (st) return st;
    loam_simd level = kernels->level;
    loam_bf16dot_fn bf16dot = bf16_dot ? loam_bf16dot_for(level) : NULL;
    if (bf16_dot && !bf16dot) return loam_fail(err, LOAM_E_UNSUPPORTED, "bench --gemm: bf16-dot needs AVX512-BF16 and the avx512 kernels (this CPU lacks it, or LOAM_SIMD chose %s)",
                                         loam_simd_name(level));
    loam_nn nn;
    st = nn_init(&nn, kernels, n_threads, bf16dot, 0, err);
    if (st) return st;
    void *w = random_weights(t, N, K, err);
    float *x = malloc((size_t)M * K * sizeof *x), *y = malloc((size_t)M * N * sizeof *y);
    if (!w || !x || !y) st = w ? loam_fail(err, LOAM_E_NOMEM, "bench --gemm: out of memory") : err->code;
    uint64_t seed = 7;
    for (size_t i = 0; !st && i < (size_t)M * K; i++) x[i] = next_uniform(&seed);
    loam_tensor wt = {.name = "w", .type = t, .n_dims = 2, .shape = {N, K}, .data = w, .n_bytes = loam_row_bytes(t, K) * (size_t)N};
    void *repacked = NULL; /* as the runtime repacks at load */
    size_t packed_bytes = st || keep_layout ? 0 : nn_packed_size(kernels, &wt);
    if (packed_bytes && !(repacked = loam_alloc_huge(packed_bytes))) st = loam_fail(err, LOAM_E_NOMEM, "bench --gemm: out of memory");
    if (repacked) nn_pack_linear(nn.pool, &wt, 0, repacked, &wt);
    double best = 1e30;
    for (int r = 0; !st && r <= reps; r++) { /* the first run warms caches and scratch, untimed */
        double t0 = loam_seconds_now();
        nn_linear(&nn, x, M, &wt, NULL, y);
        double dt = loam_seconds_now() - t0;
        if ((st = nn_status(&nn, err))) break;
        if (r > 0 && dt < best) best = dt;
    }
    if (!st) {
        int int8 = loam_type_is_quantized(t) && loam_qdot_supports(t, K);
        loam_peak_kind kind = int8 ? LOAM_PEAK_INT8 : bf16dot ? LOAM_PEAK_BF16 : LOAM_PEAK_F32;
        out->seconds = best;
        out->gops = 2.0 * M * N * (double)K / best / 1e9;
        /* and the issue bound of the tile with a float epilogue, where it runs: at the VNNI levels,
         * from LOAM_INT8_PANEL_MIN_ROWS rows (fewer go through row kernels) */
        int epilogue = int8 && M >= LOAM_INT8_PANEL_MIN_ROWS ? loam_tile_epilogue(t) : 0;
        if (epilogue && loam_bound_loop(level, epilogue, 1) <= 0) epilogue = 0;
        measure_peak(nn.pool, level, kind, epilogue, &out->peak_gops, &out->bound_gops);
        snprintf(out->peak_label, sizeof out->peak_label, "%s", loam_peak_label(level, kind));
        snprintf(out->path, sizeof out->path, "%s",
                 bf16dot ? "bf16 activations" : !int8 ? "f32 activations" : repacked ? "int8 activations, repacked" : "int8 activations");
        out->threads = loam_pool_size(nn.pool);
    }
    free(w), free(repacked), free(x), free(y);
    nn_free(&nn);
    return st;
}
