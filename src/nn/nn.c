/* The nn context: kernels, threads, scratch, and the sticky error. */
#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"

loam_status nn_init(loam_nn *nn, const loam_kernels *kernels, int n_threads, loam_bf16dot_fn bf16dot, int quant_exact,
                    loam_error *err) {
    memset(nn, 0, sizeof *nn);
    nn->kernels = kernels;
    nn->bf16dot = bf16dot;
    nn->quant_exact = quant_exact;
    loam_cpu_info cpu;
    loam_cpu_describe(&cpu);
    nn->caches = (loam_cache_info){cpu.l1d_bytes, cpu.l2_bytes, loam_cpu_prefers_prefetch(&cpu)};
    nn->pool = loam_pool_new(n_threads > 0 ? n_threads : 1);
    if (!nn->pool) return loam_fail(err, LOAM_E_NOMEM, "out of memory for %d threads", n_threads);
    return LOAM_OK;
}

void nn_free(loam_nn *nn) {
    if (!nn) return;
    free(nn->xq), free(nn->xb), free(nn->cols), free(nn->scores), free(nn->attn_pack), free(nn->attn_work);
    loam_pool_free(nn->pool);
    memset(nn, 0, sizeof *nn);
}

int nn_threads(const loam_nn *nn) { return loam_pool_size(nn->pool); }

loam_status nn_status(loam_nn *nn, loam_error *err) {
    loam_status st = nn->status;
    if (st && err) *err = nn->err;
    nn->status = LOAM_OK;
    return st;
}

/* Records the first failure; later ones keep it. */
void nn_fail_nomem(loam_nn *nn, const char *what, size_t bytes) {
    if (nn->status) return;
    nn->status = loam_fail(&nn->err, LOAM_E_NOMEM, "out of memory for %s (%zu bytes)", what, bytes);
}

/* Grows a scratch buffer to at least `need` elements of `size` bytes. */
int nn_reserve(loam_nn *nn, void **buf, size_t *cap, size_t need, size_t size, const char *what) {
    if (nn->status) return 0;
    if (need <= *cap) return 1;
    if (need > SIZE_MAX / size) return nn_fail_nomem(nn, what, SIZE_MAX), 0;
    void *g = realloc(*buf, need * size);
    if (!g) return nn_fail_nomem(nn, what, need * size), 0;
    *buf = g, *cap = need;
    return 1;
}

void nn_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void nn_add2(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a[i] + b[i];
}

void nn_clamp(float *x, size_t n, float lim) {
    for (size_t i = 0; i < n; i++) x[i] = fminf(fmaxf(x[i], -lim), lim);
}

void nn_scale(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}
