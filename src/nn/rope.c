/* Rotary position embedding (RoPE): each pair of a head's dims is a complex
 * number turned by the angle pos · inv_freq[i]. */
#include <math.h>

#include "nn/nn_internal.h"

void nn_rope_angles(const int32_t *pos, int T, const float *inv_freq, int n_freq, float *cos_out, float *sin_out) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n_freq; i++) {
            double angle = (double)pos[t] * (double)inv_freq[i];
            cos_out[(size_t)t * n_freq + i] = (float)cos(angle);
            sin_out[(size_t)t * n_freq + i] = (float)sin(angle);
        }
}

void nn_rope(float *x, int T, int n_heads, int head_dim, int rope_dim, int interleaved, const float *cos_t,
             const float *sin_t) {
    int half = rope_dim / 2;
    size_t width = (size_t)n_heads * head_dim;
    for (int t = 0; t < T; t++) {
        const float *ct = cos_t + (size_t)t * half, *st = sin_t + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *vh = x + (size_t)t * width + (size_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
                float a = vh[ia], b = vh[ib];
                vh[ia] = a * ct[i] - b * st[i];
                vh[ib] = b * ct[i] + a * st[i];
            }
        }
    }
}

typedef struct {
    float *x;
    int T, n_heads, head_dim, rope_dim, interleaved, rows_per_task;
    const float *cos_t, *sin_t;
} rope_job;

static void rope_task(void *arg, int task, int thread) {
    (void)thread;
    const rope_job *j = arg;
    int t0 = task * j->rows_per_task, n = j->T - t0 < j->rows_per_task ? j->T - t0 : j->rows_per_task;
    size_t half = (size_t)j->rope_dim / 2;
    nn_rope(j->x + (size_t)t0 * j->n_heads * j->head_dim, n, j->n_heads, j->head_dim, j->rope_dim, j->interleaved,
            j->cos_t + (size_t)t0 * half, j->sin_t + (size_t)t0 * half);
}

void nn_rope_on(loam_nn *nn, float *x, int T, int n_heads, int head_dim, int rope_dim, int interleaved, const float *cos_t,
                const float *sin_t) {
    int threads = loam_pool_size(nn->pool);
    rope_job j = {x, T, n_heads, head_dim, rope_dim, interleaved, T, cos_t, sin_t};
    if (T < 2 * threads || (int64_t)T * n_heads * head_dim < 16384) { /* waking threads costs more */
        rope_task(&j, 0, 0);
        return;
    }
    j.rows_per_task = (T + threads - 1) / threads;
    loam_pool_run(nn->pool, rope_task, &j, (T + j.rows_per_task - 1) / j.rows_per_task);
}
