/* Normalisations. Statistics are summed in double: the goldens are matched
 * this way, and a row of 8192 floats summed in float loses digits. */
#include <math.h>

#include "nn/nn_internal.h"

/* sum of x[i]² (of x[i] - mean with `centre`) over n, in double: eight
 * running sums, so that the loop is not one chain of dependent additions
 * (a row of 2048 then takes a quarter of the time) */
static double sum_sq(const float *x, int n, int centre, double mean) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            double v = centre ? x[i + l] - mean : (double)x[i + l];
            s[l] += v * v;
        }
    for (; i < n; i++) {
        double v = centre ? x[i] - mean : (double)x[i];
        s[0] += v * v;
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static double sum_of(const float *x, int n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += x[i + l];
    for (; i < n; i++) s[0] += x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void nn_rms_norm(const float *x, float *y, int T, int C, const float *w, float eps, int plus_one) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *yt = y + (size_t)t * C;
        double ss = sum_sq(xt, C, 0, 0.0);
        float r = (float)(1.0 / sqrt(ss / C + eps));
        for (int i = 0; i < C; i++) yt[i] = xt[i] * r * (plus_one ? 1.0f + w[i] : w[i]);
    }
}

void nn_layer_norm(const float *x, float *y, int T, int C, const float *w, const float *b, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *yt = y + (size_t)t * C;
        double mean = sum_of(xt, C) / C, var = sum_sq(xt, C, 1, mean);
        float r = (float)(1.0 / sqrt(var / C + eps));
        for (int i = 0; i < C; i++) yt[i] = (float)(xt[i] - mean) * r * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

typedef struct {
    const float *x, *w, *b;
    float *y, eps;
    int T, C, plus_one, rms, rows_per_task;
    float *xa;               /* set: x (the same rows, writable) gets the residual first */
    const float *add_a, *add_b; /* xa += add_a (+ add_b) */
} rows_job;

static void rows_task(void *arg, int task, int thread) {
    (void)thread;
    const rows_job *j = arg;
    int t0 = task * j->rows_per_task, n = j->T - t0 < j->rows_per_task ? j->T - t0 : j->rows_per_task;
    for (int t = t0; j->xa && t < t0 + n; t++) { /* a row at a time: the norm below reads it while it is in L1 */
        size_t at = (size_t)t * j->C;
        if (j->add_b) nn_add2(j->xa + at, j->add_a + at, j->add_b + at, (size_t)j->C);
        else nn_add(j->xa + at, j->add_a + at, (size_t)j->C);
        if (j->rms) nn_rms_norm(j->x + at, j->y + at, 1, j->C, j->w, j->eps, j->plus_one);
        else nn_layer_norm(j->x + at, j->y + at, 1, j->C, j->w, j->b, j->eps);
    }
    if (j->xa) return;
    const float *x = j->x + (size_t)t0 * j->C;
    float *y = j->y + (size_t)t0 * j->C;
    if (j->rms) nn_rms_norm(x, y, n, j->C, j->w, j->eps, j->plus_one);
    else nn_layer_norm(x, y, n, j->C, j->w, j->b, j->eps);
}

/* Rows in one task per thread: a norm is read-once, so more tasks only add
 * wake-ups; a few rows stay on the calling thread. */
static void rows_run(loam_nn *nn, rows_job *j) {
    int threads = loam_pool_size(nn->pool);
    if (j->T < 2 * threads || (int64_t)j->T * j->C < 16384) {
        j->rows_per_task = j->T;
        rows_task(j, 0, 0);
        return;
    }
    j->rows_per_task = (j->T + threads - 1) / threads;
    loam_pool_run(nn->pool, rows_task, j, (j->T + j->rows_per_task - 1) / j->rows_per_task);
}

void nn_rms_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, const float *w, float eps, int plus_one) {
    rows_job j = {x, w, NULL, y, eps, T, C, plus_one, 1, 0, NULL, NULL, NULL};
    rows_run(nn, &j);
}

void nn_layer_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, const float *w, const float *b, float eps) {
    rows_job j = {x, w, b, y, eps, T, C, 0, 0, 0, NULL, NULL, NULL};
    rows_run(nn, &j);
}

void nn_add_rms_norm_on(loam_nn *nn, float *x, const float *a, const float *b, float *y, int T, int C, const float *w, float eps,
                        int plus_one) {
    rows_job j = {x, w, NULL, y, eps, T, C, plus_one, 1, 0, a ? x : NULL, a, b};
    rows_run(nn, &j);
}

void nn_add_layer_norm_on(loam_nn *nn, float *x, const float *a, const float *b, float *y, int T, int C, const float *w,
                          const float *bias, float eps) {
    rows_job j = {x, w, bias, y, eps, T, C, 0, 0, 0, a ? x : NULL, a, b};
    rows_run(nn, &j);
}

/* Group g of x[T, C]: normalised over its T × C/G values. */
static void group_norm_one(const float *x, float *y, int T, int C, int G, int g, const float *w, const float *b, float eps) {
    int per = C / G, c0 = g * per;
    double mean = 0, var = 0, n = (double)T * per;
    for (int t = 0; t < T; t++)
        for (int c = c0; c < c0 + per; c++) mean += x[(size_t)t * C + c];
    mean /= n;
    for (int t = 0; t < T; t++)
        for (int c = c0; c < c0 + per; c++) {
            double d = x[(size_t)t * C + c] - mean;
            var += d * d;
        }
    float r = (float)(1.0 / sqrt(var / n + eps));
    for (int t = 0; t < T; t++)
        for (int c = c0; c < c0 + per; c++) {
            float v = (float)(x[(size_t)t * C + c] - mean) * r;
            y[(size_t)t * C + c] = v * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
        }
}

void nn_group_norm(const float *x, float *y, int T, int C, int G, const float *w, const float *b, float eps) {
    for (int g = 0; g < G; g++) group_norm_one(x, y, T, C, G, g, w, b, eps);
}

typedef struct {
    const float *x, *w, *b;
    float *y, eps;
    int T, C, G;
} group_job;

static void group_task(void *arg, int task, int thread) {
    (void)thread;
    const group_job *j = arg;
    group_norm_one(j->x, j->y, j->T, j->C, j->G, task, j->w, j->b, j->eps);
}

void nn_group_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, int G, const float *w, const float *b, float eps) {
    group_job j = {x, w, b, y, eps, T, C, G};
    loam_pool_run(nn->pool, group_task, &j, G);
}
