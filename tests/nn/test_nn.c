/* The shared network ops of src/nn, each against a plain reference written
 * here in double precision from the op's definition: shapes with tails
 * (T = 1, 7, 33; widths that are not multiples of a vector), every weight
 * type loam can write, every SIMD level this CPU has. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quants.h"
#include "nn/nn.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / 16777216.0) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
}
static double rel_err(double got, double want, double floor) { return fabs(got - want) / fmax(fabs(want), floor); }

/* An nn at a SIMD level; 0 when the CPU lacks it. */
static int open_nn(loam_nn *nn, loam_simd level, int threads, int quant_exact) {
    const loam_kernels *k = loam_kernels_for(level);
    loam_error err;
    return k && nn_init(nn, k, threads, NULL, quant_exact, &err) == LOAM_OK;
}

/* ------------------------------------------------------------- linear */

typedef struct {
    loam_tensor t;
    uint8_t *data;
    float *deq; /* the weights as the kernels see them: [N, K] f32 */
} weight;

static int make_weight(weight *w, loam_type type, int N, int K) {
    size_t row = loam_row_bytes(type, K);
    w->data = malloc(row * N);
    w->deq = malloc((size_t)N * K * sizeof(float));
    float *src = malloc((size_t)K * sizeof(float));
    int ok = w->data && w->deq && src;
    for (int n = 0; ok && n < N; n++) {
        fill(src, (size_t)K, 0.5f);
        ok = loam_quantize_row(type, src, K, w->data + row * n);
        loam_row_to_f32(w->data, type, n, K, w->deq + (size_t)n * K);
    }
    free(src);
    w->t = (loam_tensor){.name = "w", .type = type, .n_dims = 2, .shape = {N, K}, .data = w->data, .n_bytes = row * N};
    return ok;
}

static void free_weight(weight *w) { free(w->data), free(w->deq); }

/* y = x Wᵀ + b in double, x as the product sees it (int8-rounded rows for
 * quantized weights on the integer path). */
static void linear_ref(const float *x, int T, const weight *w, const float *b, int int8, double *y) {
    int N = (int)w->t.shape[0], K = (int)w->t.shape[1];
    float *xr = malloc((size_t)K * sizeof(float));
    loam_act_block *blk = malloc((size_t)(K / 32 + 1) * sizeof *blk);
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * K;
        if (int8) {
            loam_quantize_act_row(xt, K, blk);
            for (int k = 0; k < K; k++) xr[k] = blk[k / 32].d * blk[k / 32].q[k % 32];
        } else {
            memcpy(xr, xt, (size_t)K * sizeof(float));
        }
        for (int n = 0; n < N; n++) {
            double s = b ? b[n] : 0.0;
            for (int k = 0; k < K; k++) s += (double)xr[k] * w->deq[(size_t)n * K + k];
            y[(size_t)t * N + n] = s;
        }
    }
    free(xr), free(blk);
}

static void check_linear(loam_simd level, int quant_exact) {
    REQUIRE_SIMD(level);
    loam_type types[] = {LOAM_T_F32, LOAM_T_F16,  LOAM_T_BF16, LOAM_T_Q8_0, LOAM_T_Q4_0, LOAM_T_Q4_1,
                         LOAM_T_Q5_0, LOAM_T_Q5_1, LOAM_T_Q4_K, LOAM_T_Q5_K, LOAM_T_Q6_K};
    static const int Ts[] = {1, 7, 33};
    loam_nn nn;
    CHECK(open_nn(&nn, level, 2, quant_exact), "nn_init failed");
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int K = 512, N = 37;
        weight w;
        int ok = make_weight(&w, types[ti], N, K);
        float *x = malloc(33 * (size_t)K * sizeof(float)), *y = malloc(33 * (size_t)N * sizeof(float)), b[37];
        double *ref = malloc(33 * (size_t)N * sizeof(double));
        fill(b, 37, 1.0f);
        double worst = 0;
        int int8 = loam_type_is_quantized(types[ti]) && !quant_exact;
        for (size_t a = 0; ok && a < 3; a++) {
            int T = Ts[a];
            fill(x, (size_t)T * K, 1.0f);
            nn_linear(&nn, x, T, &w.t, a == 1 ? b : NULL, y);
            linear_ref(x, T, &w, a == 1 ? b : NULL, int8, ref);
            for (int i = 0; i < T * N; i++) worst = fmax(worst, fabs(y[i] - ref[i]));
        }
        free_weight(&w), free(x), free(y), free(ref);
        loam_error err;
        CHECK(nn_status(&nn, &err) == LOAM_OK, "nn_linear failed: %s", err.message);
        CHECK(ok, "could not build %s weights", loam_type_short(types[ti]));
        /* sums of 512 products of magnitude < 0.5: float reordering only */
        CHECK(worst <= 2e-4, "%s %s%s: nn_linear differs from the reference by %g", loam_simd_name(level),
              loam_type_short(types[ti]), quant_exact ? " (exact)" : "", worst);
    }
    nn_free(&nn);
}

static void test_linear_scalar(void) { check_linear(LOAM_SIMD_SCALAR, 0); }
static void test_linear_avx2(void) { check_linear(LOAM_SIMD_AVX2, 0); }
static void test_linear_avx512(void) { check_linear(LOAM_SIMD_AVX512, 0); }
static void test_linear_exact(void) { check_linear(LOAM_SIMD_AUTO, 1); }

/* nn_linear_to into a slice of a wider output equals nn_linear (every
 * kernel path: one row, the blocked products; f32 and int8 activations),
 * and leaves the rest of the row alone. */
static void test_linear_to(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    const int K = 64, N = 96, ld = 150, off = 7;
    const loam_type types[] = {LOAM_T_F32, LOAM_T_Q8_0};
    float *wf = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N), *x = malloc(sizeof(float) * 33 * K);
    uint8_t *wq = malloc((size_t)N * loam_row_bytes(LOAM_T_Q8_0, K));
    fill(wf, (size_t)N * K, 0.5f), fill(b, N, 1.0f), fill(x, (size_t)33 * K, 1.0f);
    for (int r = 0; r < N; r++) loam_quantize_row(LOAM_T_Q8_0, wf + (size_t)r * K, K, wq + (size_t)r * loam_row_bytes(LOAM_T_Q8_0, K));
    for (int ti = 0; ti < 2; ti++) {
        loam_tensor w = {.name = "w", .type = types[ti], .n_dims = 2, .shape = {N, K}, .data = ti ? (const void *)wq : wf};
        const int Ts[] = {1, 33};
        for (int k = 0; k < 2; k++) {
            int T = Ts[k];
            float *want = malloc(sizeof(float) * T * N), *got = malloc(sizeof(float) * T * ld);
            for (int i = 0; i < T * ld; i++) got[i] = -123.0f;
            nn_linear(&nn, x, T, &w, b, want);
            nn_linear_to(&nn, x, T, &w, b, got + off, ld);
            int same = 1, kept = 1;
            for (int t = 0; t < T; t++)
                for (int c = 0; c < ld; c++) {
                    float v = got[(size_t)t * ld + c];
                    if (c >= off && c < off + N) same &= v == want[(size_t)t * N + c - off];
                    else kept &= v == -123.0f;
                }
            CHECK(same && kept, "%s T=%d: nn_linear_to %s", loam_type_name(types[ti]), T, !same ? "differs from nn_linear" : "wrote outside its slice");
            free(want), free(got);
        }
    }
    free(wf), free(b), free(x), free(wq);
    nn_free(&nn);
}

/* nn_linear_many equals one nn_linear per weight, bit for bit: products of
 * several types (int8 activations for some, f32 for others: the fallback
 * one at a time), more than NN_LINEAR_MANY_MAX of them, a slice of a wider
 * output, small and large products (serial and pooled), 1 and 40 rows. */
static void test_linear_many(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    enum { K = 256, MAXN = 200, COUNT = NN_LINEAR_MANY_MAX + 2, LD = 230 };
    static const int Ns[COUNT] = {200, 32, 17, 96, 48, 1, 150, 64, 33, 7};
    const loam_type mixes[2][COUNT] = {
        {LOAM_T_Q4_0, LOAM_T_Q8_0, LOAM_T_Q4_K, LOAM_T_Q6_K, LOAM_T_Q4_0, LOAM_T_Q5_0, LOAM_T_Q8_0, LOAM_T_Q4_1, LOAM_T_Q4_0, LOAM_T_Q6_K},
        {LOAM_T_Q4_0, LOAM_T_F16, LOAM_T_Q8_0, LOAM_T_F32, LOAM_T_Q4_K, LOAM_T_F16, LOAM_T_Q6_K, LOAM_T_Q8_0, LOAM_T_F32, LOAM_T_Q4_0}};
    float *x = malloc(sizeof(float) * 40 * K), *b = malloc(sizeof(float) * MAXN);
    fill(x, (size_t)40 * K, 1.0f), fill(b, MAXN, 1.0f);
    for (int mix = 0; mix < 3; mix++) { /* mix 2: mix 0's weights repacked as at load where the kernels repack */
        weight w[COUNT];
        void *packed[COUNT] = {0};
        int built = 1;
        for (int i = 0; i < COUNT; i++) {
            built &= make_weight(&w[i], mixes[mix % 2][i], Ns[i], K);
            size_t bytes = mix == 2 ? nn_packed_size(nn.kernels, &w[i].t) : 0;
            if (bytes && (packed[i] = aligned_alloc(64, (bytes + 63) / 64 * 64))) {
                loam_tensor copy;
                nn_pack_linear(nn.pool, &w[i].t, 0, packed[i], &copy);
                w[i].t = copy;
            }
        }
        CHECK(built, "could not build the weights");
        if (!built) break;
        int repacked = 0;
        for (int i = 0; i < COUNT; i++) repacked += w[i].t.strips != 0;
        CHECK(mix < 2 || !nn.kernels->strip_matmul || repacked >= 4, "only %d weights repacked", repacked);
        const int Ts[] = {1, 40};
        for (int k = 0; k < 2; k++) {
            int T = Ts[k];
            nn_linear_out outs[COUNT];
            float *want[COUNT], *got[COUNT];
            for (int i = 0; i < COUNT; i++) {
                int ld = i == 3 ? LD : 0;
                want[i] = malloc(sizeof(float) * T * Ns[i]), got[i] = malloc(sizeof(float) * T * (ld ? ld : Ns[i]));
                for (int e = 0; e < T * (ld ? ld : Ns[i]); e++) got[i][e] = -123.0f;
                nn_linear(&nn, x, T, &w[i].t, i % 2 ? b : NULL, want[i]);
                outs[i] = (nn_linear_out){&w[i].t, i % 2 ? b : NULL, got[i], ld};
            }
            nn_linear_many(&nn, x, T, outs, COUNT);
            for (int i = 0; i < COUNT; i++) {
                int ld = outs[i].ldy ? outs[i].ldy : Ns[i], same = 1, kept = 1;
                for (int t = 0; t < T; t++)
                    for (int c = 0; c < ld; c++) {
                        float v = got[i][(size_t)t * ld + c];
                        if (c < Ns[i]) same &= v == want[i][(size_t)t * Ns[i] + c];
                        else kept &= v == -123.0f;
                    }
                CHECK(same && kept, "mix %d, T=%d, product %d (%s, N=%d): %s", mix, T, i, loam_type_name(mixes[mix % 2][i]), Ns[i],
                      !same ? "differs from nn_linear" : "wrote outside its slice");
                free(want[i]), free(got[i]);
            }
        }
        for (int i = 0; i < COUNT; i++) free_weight(&w[i]), free(packed[i]);
    }
    loam_error err;
    CHECK(nn_status(&nn, &err) == LOAM_OK, "nn_linear_many failed: %s", err.message);
    free(x), free(b);
    nn_free(&nn);
}

/* ------------------------------------------------------------- conv2d */

/* channels-last conv2d (im2col in bands, the 1 × 1 shortcut) against the
 * direct sum: odd sizes, strides 1 and 2, padding 0 and 1, a band split */
static void test_conv2d(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    static const int cases[][7] = {/* H, W, C_in, C_out, k, stride, pad */ {7, 5, 3, 4, 3, 1, 1}, {9, 8, 6, 5, 3, 2, 0},
                                   {4, 6, 5, 7, 1, 1, 0}, {300, 40, 40, 8, 3, 1, 1}, {5, 5, 2, 3, 3, 2, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int H = cases[c][0], W = cases[c][1], C_in = cases[c][2], C_out = cases[c][3], k = cases[c][4], stride = cases[c][5], pad = cases[c][6];
        int Ho = nn_conv2d_out_len(H, k, stride, pad), Wo = nn_conv2d_out_len(W, k, stride, pad);
        size_t nw = (size_t)C_out * C_in * k * k;
        float *x = malloc((size_t)H * W * C_in * sizeof(float)), *wv = malloc(nw * sizeof(float));
        float *y = malloc((size_t)Ho * Wo * C_out * sizeof(float)), *b = malloc((size_t)C_out * sizeof(float));
        fill(x, (size_t)H * W * C_in, 1.0f), fill(wv, nw, 0.5f), fill(b, (size_t)C_out, 1.0f);
        loam_tensor w = {.name = "conv", .type = LOAM_T_F32, .n_dims = 4, .shape = {C_out, C_in, k, k}, .data = wv};
        nn_conv2d(&nn, x, H, W, C_in, &w, b, stride, pad, y);
        double worst = 0;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++)
                for (int o = 0; o < C_out; o++) {
                    double s = b[o];
                    for (int ci = 0; ci < C_in; ci++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int sy = oy * stride + i - pad, sx = ox * stride + j - pad;
                                if (sy >= 0 && sy < H && sx >= 0 && sx < W)
                                    s += (double)x[((size_t)sy * W + sx) * C_in + ci] * wv[(((size_t)o * C_in + ci) * k + i) * k + j];
                            }
                    worst = fmax(worst, fabs(y[((size_t)oy * Wo + ox) * C_out + o] - s));
                }
        free(x), free(wv), free(y), free(b);
        CHECK(nn_status(&nn, NULL) == LOAM_OK, "conv2d failed");
        CHECK(worst <= 1e-4, "conv2d %dx%d C_in=%d k=%d stride %d pad %d: differs by %g", H, W, C_in, k, stride, pad, worst);
    }
    float px[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, up[4 * 4 * 3];
    nn_upsample2x(px, 2, 2, 3, up);
    CHECK(up[0] == 1 && up[3] == 1 && up[6] == 4 && up[(4 + 0) * 3] == 1 && up[(8 + 3) * 3 + 2] == 12, "upsample2x repeats each pixel 2 x 2");
    nn_free(&nn);
}

/* ------------------------------------------------------------- conv1d */

static void test_conv1d(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    static const int cases[][5] = {/* T_in, C_in, C_out, stride, pad */ {13, 5, 6, 1, 1}, {13, 5, 6, 2, 1}, {8, 80, 16, 1, 1},
                                   {30, 16, 16, 2, 1}, {4, 3, 2, 1, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int T_in = cases[c][0], C_in = cases[c][1], C_out = cases[c][2], stride = cases[c][3], pad = cases[c][4], k = 3;
        int T_out = nn_conv1d_out_len(T_in, k, stride, pad);
        float *x = malloc((size_t)T_in * C_in * sizeof(float)), *wv = malloc((size_t)C_out * C_in * k * sizeof(float));
        float *y = malloc((size_t)T_out * C_out * sizeof(float)), *b = malloc((size_t)C_out * sizeof(float));
        fill(x, (size_t)T_in * C_in, 1.0f), fill(wv, (size_t)C_out * C_in * k, 0.5f), fill(b, (size_t)C_out, 1.0f);
        loam_tensor w = {.name = "conv", .type = LOAM_T_F32, .n_dims = 3, .shape = {C_out, C_in, k}, .data = wv};
        nn_conv1d(&nn, x, T_in, C_in, &w, b, stride, pad, y);
        double worst = 0;
        for (int t = 0; t < T_out; t++)
            for (int o = 0; o < C_out; o++) {
                double s = b[o];
                for (int i = 0; i < C_in; i++)
                    for (int j = 0; j < k; j++) {
                        int src = t * stride + j - pad;
                        if (src >= 0 && src < T_in) s += (double)x[(size_t)src * C_in + i] * wv[((size_t)o * C_in + i) * k + j];
                    }
                worst = fmax(worst, fabs(y[(size_t)t * C_out + o] - s));
            }
        free(x), free(wv), free(y), free(b);
        CHECK(nn_status(&nn, NULL) == LOAM_OK, "conv1d failed");
        CHECK(worst <= 1e-4, "conv1d T_in=%d C_in=%d stride %d pad %d: differs by %g", T_in, C_in, stride, pad, worst);
    }
    CHECK(nn_conv1d_out_len(3000, 3, 2, 1) == 1500, "Whisper's second conv halves 3000 frames");
    CHECK(nn_conv1d_out_len(2, 3, 1, 0) == 0, "a window longer than the input gives no rows");
    nn_free(&nn);
}

/* -------------------------------------------------------------- norms */

static void test_norms(void) {
    static const int Cs[] = {1, 7, 64, 257};
    for (size_t ci = 0; ci < 4; ci++) {
        int T = 5, C = Cs[ci];
        float *x = malloc((size_t)T * C * sizeof(float)), *y = malloc((size_t)T * C * sizeof(float));
        float *w = malloc((size_t)C * sizeof(float)), *b = malloc((size_t)C * sizeof(float));
        fill(x, (size_t)T * C, 3.0f), fill(w, (size_t)C, 1.0f), fill(b, (size_t)C, 1.0f);
        double worst_rms = 0, worst_ln = 0;
        for (int plus_one = 0; plus_one < 2; plus_one++) {
            nn_rms_norm(x, y, T, C, w, 1e-5f, plus_one);
            for (int t = 0; t < T; t++) {
                double ss = 0;
                for (int i = 0; i < C; i++) ss += (double)x[t * C + i] * x[t * C + i];
                double r = 1.0 / sqrt(ss / C + 1e-5);
                for (int i = 0; i < C; i++)
                    worst_rms = fmax(worst_rms, rel_err(y[t * C + i], x[t * C + i] * r * (plus_one ? 1.0 + w[i] : w[i]), 0.1));
            }
        }
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nn_layer_norm(x, y, T, C, w, with_bias ? b : NULL, 1e-5f);
            for (int t = 0; t < T; t++) {
                double m = 0, v = 0;
                for (int i = 0; i < C; i++) m += x[t * C + i];
                m /= C;
                for (int i = 0; i < C; i++) v += (x[t * C + i] - m) * (x[t * C + i] - m);
                double r = 1.0 / sqrt(v / C + 1e-5);
                for (int i = 0; i < C; i++)
                    worst_ln = fmax(worst_ln, rel_err(y[t * C + i], (x[t * C + i] - m) * r * w[i] + (with_bias ? b[i] : 0), 0.1));
            }
        }
        /* in place gives the same */
        float *z = malloc((size_t)T * C * sizeof(float));
        memcpy(z, x, (size_t)T * C * sizeof(float));
        nn_rms_norm(x, y, T, C, w, 1e-6f, 0);
        nn_rms_norm(z, z, T, C, w, 1e-6f, 0);
        int same = memcmp(y, z, (size_t)T * C * sizeof(float)) == 0;
        free(x), free(y), free(w), free(b), free(z);
        CHECK(worst_rms <= 1e-5, "rms_norm C=%d: relative error %g", C, worst_rms);
        CHECK(worst_ln <= 1e-5, "layer_norm C=%d: relative error %g", C, worst_ln);
        CHECK(same, "rms_norm in place differs");
    }
}

/* The residual add fused into the norm equals nn_add (nn_add2) then the
 * norm, bit for bit: RMS (w, 1 + w) and layer norm, one and two residual
 * terms, none, on the caller (few rows) and over the pool. */
static void test_add_norm(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    static const int Ts[] = {1, 3, 40}, Cs[] = {7, 512};
    for (int ti = 0; ti < 3; ti++)
        for (int ci = 0; ci < 2; ci++)
            for (int kind = 0; kind < 4; kind++) /* rms, rms 1 + w, layer norm, layer norm without bias */
                for (int terms = 0; terms < 3; terms++) {
                    int T = Ts[ti], C = Cs[ci];
                    size_t n = (size_t)T * C;
                    float *x0 = malloc(n * sizeof(float)), *x1 = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float));
                    float *b = malloc(n * sizeof(float)), *y0 = malloc(n * sizeof(float)), *y1 = malloc(n * sizeof(float));
                    float *w = malloc((size_t)C * sizeof(float)), *bias = malloc((size_t)C * sizeof(float));
                    fill(x0, n, 3.0f), fill(a, n, 1.0f), fill(b, n, 1.0f), fill(w, (size_t)C, 1.0f), fill(bias, (size_t)C, 1.0f);
                    memcpy(x1, x0, n * sizeof(float));
                    if (terms == 1) nn_add(x0, a, n);
                    if (terms == 2) nn_add2(x0, a, b, n);
                    const float *ra = terms ? a : NULL, *rb = terms == 2 ? b : NULL;
                    if (kind < 2) {
                        nn_rms_norm(x0, y0, T, C, w, 1e-5f, kind);
                        nn_add_rms_norm_on(&nn, x1, ra, rb, y1, T, C, w, 1e-5f, kind);
                    } else {
                        nn_layer_norm(x0, y0, T, C, w, kind == 2 ? bias : NULL, 1e-5f);
                        nn_add_layer_norm_on(&nn, x1, ra, rb, y1, T, C, w, kind == 2 ? bias : NULL, 1e-5f);
                    }
                    int same_x = !memcmp(x0, x1, n * sizeof(float)), same_y = !memcmp(y0, y1, n * sizeof(float));
                    CHECK(same_x && same_y, "T=%d C=%d kind %d, %d residual terms: %s differs", T, C, kind, terms,
                          !same_x ? "x" : "the norm");
                    free(x0), free(x1), free(a), free(b), free(y0), free(y1), free(w), free(bias);
                }
    nn_free(&nn);
}

static void test_group_norm(void) {
    int T = 9, C = 12, G = 3, per = C / G;
    float x[108], y[108], w[12], b[12];
    fill(x, 108, 2.0f), fill(w, 12, 1.0f), fill(b, 12, 1.0f);
    for (int i = 0; i < 108; i++) x[i] += (float)(i % C) * 0.5f; /* groups with different means */
    nn_group_norm(x, y, T, C, G, w, b, 1e-6f);
    double worst = 0;
    for (int g = 0; g < G; g++) {
        double m = 0, v = 0;
        for (int t = 0; t < T; t++)
            for (int c = g * per; c < (g + 1) * per; c++) m += x[t * C + c];
        m /= T * per;
        for (int t = 0; t < T; t++)
            for (int c = g * per; c < (g + 1) * per; c++) v += (x[t * C + c] - m) * (x[t * C + c] - m);
        double r = 1.0 / sqrt(v / (T * per) + 1e-6);
        for (int t = 0; t < T; t++)
            for (int c = g * per; c < (g + 1) * per; c++)
                worst = fmax(worst, fabs(y[t * C + c] - ((x[t * C + c] - m) * r * w[c] + b[c])));
    }
    CHECK(worst <= 1e-5, "group_norm differs by %g", worst);
    nn_group_norm(x, y, T, C, G, NULL, NULL, 1e-6f);
    double mean = 0;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < per; c++) mean += y[t * C + c];
    CHECK(fabs(mean / (T * per)) < 1e-5, "a group without affine has mean %g", mean / (T * per));
    float y2[108];
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    nn_group_norm(x, y, T, C, G, w, b, 1e-6f);
    nn_group_norm_on(&nn, x, y2, T, C, G, w, b, 1e-6f);
    CHECK(!memcmp(y, y2, sizeof y), "group_norm over the pool differs from the serial one");
    nn_free(&nn);
}

/* -------------------------------------------------------- activations */

/* Errors are relative to max(|want|, 0.1): near zero the float formulas
 * (as PyTorch's float32 ones) cancel, and only absolute error means
 * anything there. */

static double act_ref(nn_act act, double x) {
    switch (act) {
    case NN_ACT_SILU: return x / (1 + exp(-x));
    case NN_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case NN_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case NN_ACT_QUICK_GELU: return x / (1 + exp(-1.702 * x));
    }
    return NAN;
}

static void test_activations(void) {
    const char *names[] = {"silu", "gelu", "gelu_tanh", "quick_gelu"};
    void (*fns[])(float *, size_t) = {nn_silu, nn_gelu, nn_gelu_tanh, nn_quick_gelu};
    for (int a = 0; a < 4; a++) {
        float x[201], g[201], y[201];
        for (int i = 0; i < 201; i++) x[i] = (float)(i - 100) * 0.08f, y[i] = 1.5f, g[i] = x[i];
        fns[a](x, 201);
        nn_gate((nn_act)a, y, g, 201);
        double worst = 0, worst_gate = 0;
        for (int i = 0; i < 201; i++) {
            double want = act_ref((nn_act)a, (i - 100) * 0.08f);
            worst = fmax(worst, fabs(x[i] - want) / fmax(fabs(want), 0.1));
            worst_gate = fmax(worst_gate, fabs(y[i] - 1.5 * want) / fmax(fabs(1.5 * want), 0.1));
        }
        CHECK(worst <= 2e-6 && worst_gate <= 2e-6, "%s: relative error %g (gate %g)", names[a], worst, worst_gate);
    }
}

/* Split over a pool, activation and gating give the serial values bit for
 * bit (SiLU gating, gelu-tanh and quick-gelu, through the kernel table's
 * vector exp, within 4 ulp), over a length that is not a multiple of the
 * split. */
static void test_activations_pooled(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    size_t n = 100003;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    int same = a && b && g;
    for (int act = 0; act < 4 && same; act++) {
        for (size_t i = 0; i < n; i++) a[i] = b[i] = sinf((float)i * 0.37f) * 6.0f, g[i] = cosf((float)i * 0.11f) * 5.0f;
        nn_gate((nn_act)act, a, g, n);
        nn_gate_on(&nn, (nn_act)act, b, g, n);
        /* every gate goes through the kernels' vector code, every activation in place but SiLU's; the
         * serial GELU's 1 + erf cancels below 0 (|x| 2^-24, times the gated value, |a| <= 6) */
        int erf = act == NN_ACT_GELU;
        for (size_t i = 0; i < n; i++)
            same &= fabsf(a[i] - b[i]) <= 4 * 1.2e-7f * fabsf(a[i]) + (erf ? 6.0f * fabsf(g[i]) * 0x1p-24f : 0.0f) + 1e-35f;
        memcpy(b, a, n * sizeof(float));
        memcpy(g, a, n * sizeof(float)); /* the inputs of the in-place activation */
        nn_activate((nn_act)act, a, n);
        nn_activate_on(&nn, (nn_act)act, b, n);
        if (act != NN_ACT_SILU)
            for (size_t i = 0; i < n; i++)
                same &= fabsf(a[i] - b[i]) <= 4 * 1.2e-7f * fabsf(a[i]) + (erf ? fabsf(g[i]) * 0x1p-24f : 0.0f) + 1e-35f;
        else same &= !memcmp(a, b, n * sizeof(float));
    }
    free(a), free(b), free(g);
    nn_free(&nn);
    CHECK(same, "pooled activations differ from the serial ones");
}

/* --------------------------------------------------------------- rope */

static void test_rope(void) {
    int T = 3, nh = 2, hd = 10;
    int32_t pos[3] = {0, 5, 1000};
    for (int interleaved = 0; interleaved < 2; interleaved++)
        for (int rope_dim = 4; rope_dim <= hd; rope_dim += 6) { /* partial (4 of 10) and full */
            int half = rope_dim / 2;
            float inv[5], cs[15], sn[15], x[60], orig[60];
            for (int i = 0; i < half; i++) inv[i] = powf(10000.0f, -(float)(2 * i) / rope_dim);
            fill(x, 60, 1.0f);
            memcpy(orig, x, sizeof x);
            nn_rope_angles(pos, T, inv, half, cs, sn);
            nn_rope(x, T, nh, hd, rope_dim, interleaved, cs, sn);
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int h = 0; h < nh; h++) {
                    const float *o = orig + (t * nh + h) * hd;
                    const float *r = x + (t * nh + h) * hd;
                    for (int i = 0; i < half; i++) {
                        int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
                        double ang = (double)pos[t] * inv[i];
                        worst = fmax(worst, fabs(r[ia] - (o[ia] * cos(ang) - o[ib] * sin(ang))));
                        worst = fmax(worst, fabs(r[ib] - (o[ib] * cos(ang) + o[ia] * sin(ang))));
                    }
                    for (int i = rope_dim; i < hd; i++) worst = fmax(worst, fabs(r[i] - o[i])); /* untouched */
                }
            CHECK(worst <= 2e-6, "rope (interleaved %d, rope_dim %d) differs by %g", interleaved, rope_dim, worst);
        }
    /* over the pool: the same values as on one thread (rows split, partial rotary, 3 and 301 rows) */
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    for (int T2 = 3; T2 <= 301; T2 += 298) {
        int heads = 8, dim = 64, rope_dim = 32, half = rope_dim / 2;
        size_t n = (size_t)T2 * heads * dim;
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), inv[16];
        float *cs = malloc((size_t)T2 * half * sizeof(float)), *sn = malloc((size_t)T2 * half * sizeof(float));
        int32_t *p = malloc((size_t)T2 * sizeof(int32_t));
        for (int t = 0; t < T2; t++) p[t] = 7 * t;
        for (int i = 0; i < half; i++) inv[i] = powf(10000.0f, -(float)(2 * i) / rope_dim);
        nn_rope_angles(p, T2, inv, half, cs, sn);
        fill(a, n, 1.0f);
        memcpy(b, a, n * sizeof(float));
        nn_rope(a, T2, heads, dim, rope_dim, 0, cs, sn);
        nn_rope_on(&nn, b, T2, heads, dim, rope_dim, 0, cs, sn);
        CHECK(!memcmp(a, b, n * sizeof(float)), "rope over the pool differs (T=%d)", T2);
        free(a), free(b), free(cs), free(sn), free(p);
    }
    nn_free(&nn);
}

/* ---------------------------------------------------------- attention */

/* out[t, h] by the definition, over keys 0 .. n_t - 1 (n_t per row). */
static void attention_ref(const float *q, int T, const float *k, const float *v, const int *n_vis, const int *qpos,
                          const nn_heads *h, double *out) {
    int hd = h->head_dim, nq = h->n_heads, nkv = h->n_kv_heads, group = nq / nkv;
    double scale = h->scale > 0 ? h->scale : 1.0 / sqrt(hd);
    double *w = malloc(4096 * sizeof(double));
    for (int t = 0; t < T; t++)
        for (int hh = 0; hh < nq; hh++) {
            int kh = hh / group, n = n_vis[t];
            const float *qt = q + ((size_t)t * nq + hh) * hd;
            double max = -INFINITY, sum = 0;
            for (int p = 0; p < n; p++) {
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)qt[i] * k[((size_t)p * nkv + kh) * hd + i];
                w[p] = s * scale + (h->alibi_slopes ? h->alibi_slopes[hh] * (double)(p - qpos[t]) : 0);
                max = fmax(max, w[p]);
            }
            for (int p = 0; p < n; p++) sum += (w[p] = exp(w[p] - max));
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int p = 0; p < n; p++) o += w[p] / sum * v[((size_t)p * nkv + kh) * hd + i];
                out[((size_t)t * nq + hh) * hd + i] = o;
            }
        }
    free(w);
}

static double worst_diff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void test_attention_dense(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    nn_heads shapes[] = {{4, 4, 16, 0, NULL, NULL}, {6, 2, 32, 0, NULL, NULL}, {2, 1, 7, 0.3f, NULL, NULL}}; /* MHA, GQA, MQA odd hd */
    for (int si = 0; si < 3; si++) {
        const nn_heads *h = &shapes[si];
        int T = 7, S = 13, dq = h->n_heads * h->head_dim, dkv = h->n_kv_heads * h->head_dim;
        float *q = malloc((size_t)T * dq * 4), *k = malloc((size_t)S * dkv * 4), *v = malloc((size_t)S * dkv * 4);
        float *out = malloc((size_t)T * dq * 4);
        double *ref = malloc((size_t)T * dq * 8);
        fill(q, (size_t)T * dq, 1.0f), fill(k, (size_t)S * dkv, 1.0f), fill(v, (size_t)S * dkv, 1.0f);
        int n_vis[13], qpos[13] = {0};
        /* full: the first T keys; cross: all S; masked: row t sees t + S - T + 1 */
        for (int t = 0; t < T; t++) n_vis[t] = T;
        nn_attention_full(&nn, q, k, v, T, h, out);
        attention_ref(q, T, k, v, n_vis, qpos, h, ref);
        double d_full = worst_diff(out, ref, (size_t)T * dq);
        for (int t = 0; t < T; t++) n_vis[t] = S;
        nn_attention_cross(&nn, q, T, k, v, S, h, out);
        attention_ref(q, T, k, v, n_vis, qpos, h, ref);
        double d_cross = worst_diff(out, ref, (size_t)T * dq);
        for (int t = 0; t < T; t++) n_vis[t] = t + S - T + 1;
        nn_attention_masked(&nn, q, T, k, v, S, h, out);
        attention_ref(q, T, k, v, n_vis, qpos, h, ref);
        double d_mask = worst_diff(out, ref, (size_t)T * dq);
        free(q), free(k), free(v), free(out), free(ref);
        CHECK(nn_status(&nn, NULL) == LOAM_OK, "attention failed");
        CHECK(d_full <= 1e-5 && d_cross <= 1e-5 && d_mask <= 1e-5, "heads %d/%d hd %d: full %g, cross %g, masked %g",
              h->n_heads, h->n_kv_heads, h->head_dim, d_full, d_cross, d_mask);
    }
    nn_free(&nn);
}

/* Long inputs take the blocked path (query tiles of one head as two matrix
 * products): tiles not a multiple of the tile size, GQA, odd head size,
 * at every SIMD level this CPU runs, against the definition. */
static void test_attention_blocked(void) {
    loam_simd levels[] = {LOAM_SIMD_SCALAR, LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    nn_heads shapes[] = {{4, 4, 64, 0, NULL, NULL}, {6, 2, 24, 0, NULL, NULL}, {3, 1, 7, 0.3f, NULL, NULL}};
    int ran = 0;
    for (int li = 0; li < 3; li++) {
        if (!loam_test_cpu_has(levels[li])) continue;
        loam_nn nn;
        CHECK(open_nn(&nn, levels[li], 2, 0), "nn_init failed");
        ran++;
        for (int si = 0; si < 3; si++) {
            const nn_heads *h = &shapes[si];
            int T = si == 0 ? 97 : 33, S = si == 2 ? 150 : 131, dq = h->n_heads * h->head_dim, dkv = h->n_kv_heads * h->head_dim;
            float *q = malloc((size_t)T * dq * 4), *k = malloc((size_t)S * dkv * 4), *v = malloc((size_t)S * dkv * 4);
            float *out = malloc((size_t)T * dq * 4);
            double *ref = malloc((size_t)T * dq * 8);
            int *n_vis = malloc(sizeof(int) * (size_t)T), *qpos = calloc((size_t)T, sizeof(int));
            fill(q, (size_t)T * dq, 1.0f), fill(k, (size_t)S * dkv, 1.0f), fill(v, (size_t)S * dkv, 1.0f);
            for (int t = 0; t < T; t++) n_vis[t] = S;
            nn_attention_cross(&nn, q, T, k, v, S, h, out);
            attention_ref(q, T, k, v, n_vis, qpos, h, ref);
            double d_cross = worst_diff(out, ref, (size_t)T * dq);
            /* the same K/V in panels, for 1, 5 and all T query rows (a decoder
             * step, beams, a prompt of more than one 64-row block) */
            float *kp = aligned_alloc(64, nn_cross_keys_floats(S, h) * 4), *vp = aligned_alloc(64, nn_cross_values_floats(S, h) * 4);
            nn_cross_keys(k, S, h, kp), nn_cross_values(v, S, h, vp);
            double d_panels = 0;
            int rows[] = {1, 5, T};
            for (int i = 0; i < 3; i++) {
                nn_attention_cross_panels(&nn, q, rows[i], kp, vp, S, h, out);
                double d = worst_diff(out, ref, (size_t)rows[i] * dq);
                d_panels = d > d_panels ? d : d_panels;
            }
            /* one head's raw scores over the panels (the alignment heads) */
            int head = h->n_heads - 1, kvh = head / (h->n_heads / h->n_kv_heads), hd = h->head_dim;
            float *sc = malloc((size_t)T * S * 4), scale = h->scale > 0 ? h->scale : 1.0f / sqrtf((float)hd);
            nn_attention_head_scores(&nn, q, T, kp, S, h, head, sc);
            double d_scores = 0;
            for (int t = 0; t < T; t++)
                for (int p = 0; p < S; p++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += (double)q[((size_t)t * h->n_heads + head) * hd + i] * k[(size_t)p * dkv + kvh * hd + i];
                    double d = fabs(dot * scale - sc[(size_t)t * S + p]);
                    d_scores = d > d_scores ? d : d_scores;
                }
            free(kp), free(vp), free(sc);
            CHECK(d_panels <= 1e-5 && d_scores <= 1e-5, "cross attention over panels differs by %g, its head scores by %g", d_panels,
                  d_scores);
            for (int t = 0; t < T; t++) n_vis[t] = T;
            nn_attention_full(&nn, q, k, v, T, h, out);
            attention_ref(q, T, k, v, n_vis, qpos, h, ref);
            double d_full = worst_diff(out, ref, (size_t)T * dq);
            free(q), free(k), free(v), free(out), free(ref), free(n_vis), free(qpos);
            CHECK(nn_status(&nn, NULL) == LOAM_OK, "attention failed");
            CHECK(d_full <= 1e-5 && d_cross <= 1e-5, "%s heads %d/%d hd %d T %d S %d: full %g, cross %g",
                  loam_test_simd_name(levels[li]), h->n_heads, h->n_kv_heads, h->head_dim, T, S, d_full, d_cross);
        }
        nn_free(&nn);
    }
    CHECK(ran > 0, "no SIMD level ran");
}

/* Causal over a cache of each storage type, two sequences, GQA and ALiBi:
 * the reference reads the rows back as the cache stores them. */
static void test_attention_cached(void) {
    loam_nn nn;
    CHECK(open_nn(&nn, LOAM_SIMD_AUTO, 2, 0), "nn_init failed");
    float slopes[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
    nn_heads shapes[] = {{4, 2, 32, 0, NULL, NULL}, {4, 4, 32, 0, slopes, NULL}};
    for (int type = 0; type < 3; type++)
        for (int si = 0; si < 2; si++) {
            const nn_heads *h = &shapes[si];
            int L = 2, n_ctx = 20, dkv = h->n_kv_heads * h->head_dim, dq = h->n_heads * h->head_dim;
            loam_kv_cache kv;
            loam_error err;
            CHECK(loam_kv_cache_init(&kv, (loam_kv_type)type, L, n_ctx, 2, (size_t)dkv, &err) == LOAM_OK, "%s", err.message);
            /* sequence 0 has 11 positions, sequence 1 has 5; rows at the last of each and one earlier */
            float row_k[128], row_v[128];
            float *kk[2], *vv[2];
            int lens[2] = {11, 5};
            for (int s = 0; s < 2; s++) {
                kk[s] = malloc((size_t)lens[s] * dkv * 4), vv[s] = malloc((size_t)lens[s] * dkv * 4);
                for (int p = 0; p < lens[s]; p++) {
                    fill(row_k, (size_t)dkv, 1.0f), fill(row_v, (size_t)dkv, 1.0f);
                    loam_kv_store(&kv, s, 1, p, row_k, row_v);
                    loam_kv_load(&kv, loam_kv_k_row(&kv, s, 1, p), kk[s] + (size_t)p * dkv);
                    loam_kv_load(&kv, loam_kv_v_row(&kv, s, 1, p), vv[s] + (size_t)p * dkv);
                }
            }
            int32_t pos[3] = {10, 4, 3}, seq[3] = {0, 1, 0};
            float *q = malloc(3 * (size_t)dq * 4), *out = malloc(3 * (size_t)dq * 4);
            double *ref = malloc((size_t)dq * 8);
            fill(q, 3 * (size_t)dq, 1.0f);
            nn_attention_cached(&nn, &kv, 1, q, 3, pos, seq, h, out);
            double worst = 0;
            for (int t = 0; t < 3; t++) {
                int n = pos[t] + 1, qp = pos[t];
                attention_ref(q + (size_t)t * dq, 1, kk[seq[t]], vv[seq[t]], &n, &qp, h, ref);
                worst = fmax(worst, worst_diff(out + (size_t)t * dq, ref, (size_t)dq));
            }
            for (int s = 0; s < 2; s++) free(kk[s]), free(vv[s]);
            free(q), free(out), free(ref);
            loam_kv_cache_free(&kv);
            CHECK(nn_status(&nn, NULL) == LOAM_OK, "attention failed");
            CHECK(worst <= 1e-5, "cache type %d, heads %d/%d%s: differs by %g", type, h->n_heads, h->n_kv_heads,
                  h->alibi_slopes ? " alibi" : "", worst);
        }
    nn_free(&nn);
}

/* A prompt slice over an f32 cache (one sequence, consecutive positions,
 * at least 32 rows) takes the blocked products: first slices and later
 * ones (keys before the slice), tiles that end mid-way, GQA, MQA with an
 * odd head size, ALiBi, at every SIMD level this CPU runs. */
static void test_attention_cached_blocked(void) {
    loam_simd levels[] = {LOAM_SIMD_SCALAR, LOAM_SIMD_AVX2, LOAM_SIMD_AVX512};
    float slopes[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
    nn_heads shapes[] = {{6, 2, 24, 0, NULL, NULL}, {4, 4, 32, 0, slopes, NULL}, {3, 1, 7, 0.3f, NULL, NULL}};
    int ran = 0;
    for (int li = 0; li < 3; li++) {
        if (!loam_test_cpu_has(levels[li])) continue;
        loam_nn nn;
        CHECK(open_nn(&nn, levels[li], 2, 0), "nn_init failed");
        ran++;
        for (int si = 0; si < 3; si++)
            for (int slice = 0; slice < 2; slice++) {
                const nn_heads *h = &shapes[si];
                int pos0 = slice ? 25 : 0, T = slice ? 70 : 40, n_ctx = 100, S = pos0 + T;
                int dkv = h->n_kv_heads * h->head_dim, dq = h->n_heads * h->head_dim;
                loam_kv_cache kv;
                loam_error err;
                CHECK(loam_kv_cache_init(&kv, LOAM_KV_F32, 1, n_ctx, 1, (size_t)dkv, &err) == LOAM_OK, "%s", err.message);
                float *k = malloc((size_t)S * dkv * 4), *v = malloc((size_t)S * dkv * 4);
                float *q = malloc((size_t)T * dq * 4), *out = malloc((size_t)T * dq * 4);
                double *ref = malloc((size_t)T * dq * 8);
                int32_t *pos = malloc((size_t)T * 4), *seq = calloc((size_t)T, 4);
                int *n_vis = malloc((size_t)T * sizeof(int)), *qpos = malloc((size_t)T * sizeof(int));
                fill(k, (size_t)S * dkv, 1.0f), fill(v, (size_t)S * dkv, 1.0f), fill(q, (size_t)T * dq, 1.0f);
                for (int p = 0; p < S; p++) loam_kv_store(&kv, 0, 0, p, k + (size_t)p * dkv, v + (size_t)p * dkv);
                for (int t = 0; t < T; t++) pos[t] = pos0 + t, n_vis[t] = pos0 + t + 1, qpos[t] = pos0 + t;
                nn_attention_cached(&nn, &kv, 0, q, T, pos, seq, h, out);
                attention_ref(q, T, k, v, n_vis, qpos, h, ref);
                double worst = worst_diff(out, ref, (size_t)T * dq);
                free(k), free(v), free(q), free(out), free(ref), free(pos), free(seq), free(n_vis), free(qpos);
                loam_kv_cache_free(&kv);
                CHECK(nn_status(&nn, NULL) == LOAM_OK, "attention failed");
                CHECK(worst <= 1e-5, "%s heads %d/%d hd %d%s, rows %d at %d: differs by %g", loam_test_simd_name(levels[li]),
                      h->n_heads, h->n_kv_heads, h->head_dim, h->alibi_slopes ? " alibi" : "", T, pos0, worst);
            }
        nn_free(&nn);
    }
    CHECK(ran > 0, "no SIMD level ran");
}

/* ------------------------------------------------------------ kv cache */

static void test_kv_batch_rules(void) {
    loam_kv_cache kv;
    loam_error err;
    CHECK(loam_kv_cache_init(&kv, LOAM_KV_F32, 1, 16, 2, 8, &err) == LOAM_OK, "%s", err.message);
    int32_t pos[4] = {0, 1, 2, 3}, seq[4] = {0, 0, 0, 0};
    CHECK(loam_kv_check_batch(&kv, pos, seq, 4, &err) == LOAM_OK, "a fresh prefix: %s", err.message);
    loam_kv_commit_batch(&kv, seq, 4, 1);
    CHECK(kv.len[0] == 4, "length after 4 rows: %d", kv.len[0]);
    int32_t p5 = 5, p4 = 4, p2 = 2, s0 = 0, s1 = 1, s9 = 9, p16 = 16;
    CHECK(loam_kv_check_batch(&kv, &p5, &s0, 1, &err) == LOAM_E_RANGE, "a gap after the cache must be refused");
    CHECK(loam_kv_check_batch(&kv, &p4, &s0, 1, &err) == LOAM_OK, "the next position: %s", err.message);
    CHECK(loam_kv_check_batch(&kv, &p2, &s0, 1, &err) == LOAM_OK, "an overwrite: %s", err.message);
    loam_kv_commit_batch(&kv, &s0, 1, 1);
    CHECK(kv.len[0] == 3, "an overwrite at 2 leaves 3 positions, not %d", kv.len[0]);
    CHECK(loam_kv_check_batch(&kv, &p2, &s1, 1, &err) == LOAM_E_RANGE, "sequence 1 is empty");
    CHECK(loam_kv_check_batch(&kv, &p2, &s9, 1, &err) == LOAM_E_RANGE, "sequence 9 does not exist");
    CHECK(loam_kv_check_batch(&kv, &p16, &s0, 1, &err) == LOAM_E_RANGE, "position 16 is past the context");
    int32_t back[2] = {1, 0}, dup[3] = {0, 1, 1}, gap[2] = {0, 2}, ss[3] = {1, 1, 1};
    CHECK(loam_kv_check_batch(&kv, back, ss, 2, &err) == LOAM_OK && !kv.batch_rising, "rows in reverse order: %s", err.message);
    CHECK(loam_kv_check_batch(&kv, dup, ss, 3, &err) == LOAM_E_RANGE, "a position twice must be refused");
    CHECK(loam_kv_check_batch(&kv, gap, ss, 2, &err) == LOAM_E_RANGE, "a gap inside the batch must be refused");
    /* a failed batch ends the sequence before its first row */
    loam_kv_check_batch(&kv, &p2, &s0, 1, &err);
    loam_kv_commit_batch(&kv, &s0, 1, 0);
    CHECK(kv.len[0] == 2, "after a failed overwrite at 2: %d", kv.len[0]);
    loam_kv_cache_free(&kv);
}

static void test_kv_remove_copy(void) {
    loam_kv_cache kv;
    loam_error err;
    CHECK(loam_kv_cache_init(&kv, LOAM_KV_F32, 2, 16, 3, 4, &err) == LOAM_OK, "%s", err.message);
    float r[4];
    for (int l = 0; l < 2; l++)
        for (int p = 0; p < 10; p++) {
            for (int i = 0; i < 4; i++) r[i] = (float)(100 * l + 10 * p + i);
            loam_kv_store(&kv, 0, l, p, r, r);
        }
    kv.len[0] = 10;
    CHECK(loam_kv_seq_copy_prefix(&kv, 0, 1, 6, &err) == LOAM_OK && kv.len[1] == 6, "copy: %s", err.message);
    CHECK(loam_kv_seq_copy_prefix(&kv, 0, 2, 11, &err) == LOAM_E_RANGE, "a copy longer than the source");
    float got[4];
    loam_kv_load(&kv, loam_kv_v_row(&kv, 1, 1, 5), got);
    CHECK(got[0] == 150.0f, "copied row holds %g", got[0]);
    /* drop 2..4 of sequence 0: 5.. move down by 3; no shift function (position-free K) */
    CHECK(loam_kv_seq_remove_range(&kv, 0, 2, 5, NULL, NULL, &err) == LOAM_OK && kv.len[0] == 7, "remove: %s", err.message);
    loam_kv_load(&kv, loam_kv_k_row(&kv, 0, 1, 2), got);
    CHECK(got[0] == 150.0f && got[3] == 153.0f, "position 2 now holds old 5 (%g)", got[0]);
    CHECK(loam_kv_seq_remove_range(&kv, 0, 4, -1, NULL, NULL, &err) == LOAM_OK && kv.len[0] == 4, "truncate");
    CHECK(loam_kv_seq_remove_range(&kv, 0, 5, 3, NULL, NULL, &err) == LOAM_E_RANGE, "a backwards range");
    loam_kv_cache_free(&kv);
}

void register_nn_tests(void) {
    test_add("nn: linear equals the reference (11 weight types, T = 1, 7, 33, bias), scalar kernels", test_linear_scalar);
    test_add("nn: linear equals the reference, avx2 kernels", test_linear_avx2);
    test_add("nn: linear equals the reference, avx512 kernels", test_linear_avx512);
    test_add("nn: linear with quant_exact equals float math on the dequantized weights", test_linear_exact);
    test_add("nn: linear into a slice of a wider output (one row, blocked; f32 and int8) equals linear", test_linear_to);
    test_add("nn: linear_many (one conversion, one pool job) equals linear per weight, bit for bit (mixed types, more than "
             "the batch, a slice, 1 and 40 rows)",
             test_linear_many);
    test_add("nn: conv1d (im2col through linear) equals the direct sum (strides, padding)", test_conv1d);
    test_add("nn: conv2d (banded im2col through linear, 1 x 1 direct) equals the direct sum; upsample2x", test_conv2d);
    test_add("nn: rms_norm (w, 1 + w) and layer_norm (with/without bias) equal the definition", test_norms);
    test_add("nn: a residual add fused into rms_norm / layer_norm equals add then norm, bit for bit (serial and pooled)", test_add_norm);
    test_add("nn: group_norm equals the definition (serial and over the pool)", test_group_norm);
    test_add("nn: silu, gelu (erf), gelu (tanh), quick-gelu and gating equal the definitions", test_activations);
    test_add("nn: a prompt slice over an f32 cache takes the blocked products and equals the definition (GQA, MQA, ALiBi, "
             "later slices)",
             test_attention_cached_blocked);
    test_add("nn: activations and gating split over the pool equal the serial ones (bit for bit, or within 4 ulp through the vector exp, GELU but for the serial one's cancellation)", test_activations_pooled);
    test_add("nn: rope (rotate_half and interleaved, partial rotary) equals the rotation; over the pool the same", test_rope);
    test_add("nn: full, cross and masked attention equal softmax(qk)v (MHA, GQA, MQA)", test_attention_dense);
    test_add("nn: blocked full and cross attention (long inputs), head-major cross attention, equal softmax(qk)v at every SIMD level", test_attention_blocked);
    test_add("nn: cached causal attention over f32/f16/q8_0 caches, two sequences, ALiBi", test_attention_cached);
    test_add("nn: KV cache batch rules (gapless prefixes, overwrite, duplicates, failed batch)", test_kv_batch_rules);
    test_add("nn: KV cache drop a range, truncate, copy a prefix", test_kv_remove_copy);
}
