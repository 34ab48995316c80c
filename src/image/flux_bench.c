/* The transformer's speed at a real shape: one denoising step on random
 * inputs (loam bench on a FLUX.1 transformer file, e.g. loam synth's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "image/flux.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

loam_status loam_flux_bench_step(const char *transformer, const char *config, int width, int height, int t5_len, int n_threads,
                                 int reps, loam_flux_bench_result *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    if (width < 16 || height < 16 || width % 16 || height % 16 || width > 4096 || height > 4096 || t5_len < 1 || t5_len > 4096 || reps < 1)
        return loam_fail(err, LOAM_E_ARG, "bench: %d x %d, %d text tokens, %d runs", width, height, t5_len, reps);
    const loam_kernels *kern = NULL;
    loam_nn nn;
    flux_dit d;
    loam_status st = loam_kernels_choose(LOAM_SIMD_AUTO, &kern, err);
    if (!st) st = nn_init(&nn, kern, n_threads > 0 ? n_threads : loam_physical_cores(), NULL, 0, err);
    if (st) return st;
    double t0 = now_s();
    st = flux_dit_open(&d, transformer, config, err);
    if (st) return nn_free(&nn), st;
    int L = (height / 16) * (width / 16);
    float *x = malloc(sizeof(float) * (size_t)L * d.in_ch), *txt = malloc(sizeof(float) * (size_t)t5_len * d.ctx_in);
    float *y = malloc(sizeof(float) * (size_t)d.vec_in), *v = malloc(sizeof(float) * (size_t)L * d.in_ch);
    int32_t *ids = malloc(sizeof(int32_t) * 3 * (size_t)L);
    if (!x || !txt || !y || !v || !ids) st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!st) {
        fill(x, (size_t)L * d.in_ch, 1), fill(txt, (size_t)t5_len * d.ctx_in, 2), fill(y, (size_t)d.vec_in, 3);
        for (int i = 0; i < L; i++) ids[3 * i] = 0, ids[3 * i + 1] = i / (width / 16), ids[3 * i + 2] = i % (width / 16);
        out->open_seconds = now_s() - t0;
        out->step_seconds = 1e30;
    }
    for (int r = 0; !st && r < reps; r++) {
        t0 = now_s();
        st = flux_dit_forward(&d, &nn, x, ids, L, txt, t5_len, y, 0.5f, 3.5f, v, NULL, err);
        double dt = now_s() - t0;
        if (dt < out->step_seconds) out->step_seconds = dt;
    }
    if (!st) {
        out->gop = flux_dit_ops(&d, L, t5_len) * 1e-9;
        out->weight_bytes = d.b.ws.mapped_bytes;
        const loam_tensor *w = d.n_double ? d.dbl[0].img.qkv.part[0].w : d.img_in.w;
        snprintf(out->weight_type, sizeof out->weight_type, "%s", loam_type_short(w->type));
        out->image_tokens = L, out->text_tokens = t5_len;
    }
    free(x), free(txt), free(y), free(v), free(ids);
    flux_dit_close(&d);
    nn_free(&nn);
    return st;
}
