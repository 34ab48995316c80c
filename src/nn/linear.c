/* Products with a weight matrix: linear layers and convolutions. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fp16.h"
#include "core/sys.h"
#include "kernels/quants.h"
#include "kernels/strips.h"
#include "nn/nn_internal.h"

/* From this many rows the blocked product's packing pays (the row kernels
 * read the weights in place, in cache-sized chunks of weight rows that every
 * activation row meets); its tasks take whole strips of columns (the
 * micro-kernel's width). Packing a quantized panel (nibbles to int8, 4-byte
 * groups transposed) costs what some 24 rows of products do, a float one
 * (f16 to f32) some 128. Zen 5, 2 threads, 1B, row kernels vs blocked, t/s:
 * Q4_0 pp16 154 vs 125, pp24 161 vs 163, pp32 180 vs 199; F16 pp64 127 vs
 * 103, pp128 128 vs 129, pp256 135 vs 144. A server's decode steps (a row
 * per client) are in that range. */
enum { NN_FINE_TASK_ROWS = 32, NN_GEMM_Q_MIN_ROWS = 24, NN_GEMM_F_MIN_ROWS = 128, NN_GEMM_COLS = 48, NN_GEMM_F_COLS = 64, NN_STRIP_COLS = 48 };

typedef struct {
    const loam_kernels *kernels;
    const float *x;
    const loam_act_block *xq; /* quantized weights: the int8 activations */
    const uint16_t *xb;       /* BF16 weights with bf16 dot products: the rounded activations */
    loam_bf16dot_fn bf16dot;
    const loam_cache_info *caches; /* the context's: block sizes, and prefetch for the row kernels */
    int gemm_q8;                   /* int8 activations through the blocked product (many rows) */
    int gemm_f;                    /* f32 activations through the blocked product */
    int T, K, N;
    int unit, units, tasks; /* columns split in `tasks` runs of whole `unit`s, sizes differing by at most one */
    const loam_tensor *w;
    const float *b; /* bias, added by each task to its columns (NULL: none) */
    float *y;
    int ldy; /* row stride of y (N, or wider: a slice of a wider output) */
} linear_job;

static void linear_task(void *arg, int task, int thread) {
    (void)thread;
    const linear_job *j = arg;
    int n0 = (int)((int64_t)task * j->units / j->tasks) * j->unit;
    int n1 = (int)((int64_t)(task + 1) * j->units / j->tasks) * j->unit;
    if (n1 > j->N) n1 = j->N;
    /* the blocked products add the bias themselves, block by block in cache */
    if (j->w->strips) {
        j->kernels->strip_matmul(j->caches, j->xq, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->ldy, j->b);
        return;
    }
    if (j->gemm_q8) {
        j->kernels->gemm_q8(j->caches, j->xq, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->ldy, j->b);
        return;
    }
    if (j->gemm_f) {
        j->kernels->gemm_f(j->caches, j->x, j->K, j->T, j->K, j->w->data, j->K, j->w->type, n0, n1, j->y, j->ldy, j->b);
        return;
    }
    if (j->xq) j->kernels->matmul_q8(j->caches, j->xq, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->ldy);
    else if (j->xb) j->bf16dot(j->caches, j->xb, j->T, j->K, j->w->data, n0, n1, j->y, j->ldy);
    else j->kernels->matmul(j->caches, j->x, j->T, j->K, j->w->data, j->w->type, n0, n1, j->y, j->ldy);
    loam_add_bias(j->y, j->ldy, j->T, j->b, n0, n1);
}

typedef struct {
    const loam_kernels *kernels;
    const float *x;
    loam_act_block *xq; /* to int8 blocks, or */
    uint16_t *xb;       /* to bf16 */
    int T, K, rows_per_task;
} convert_job;

static void convert_task(void *arg, int task, int thread) {
    (void)thread;
    const convert_job *j = arg;
    int t0 = task * j->rows_per_task, t1 = t0 + j->rows_per_task < j->T ? t0 + j->rows_per_task : j->T;
    for (int t = t0; t < t1; t++) {
        const float *xt = j->x + (size_t)t * j->K;
        if (j->xq) {
            j->kernels->quantize_act(xt, j->K, j->xq + (size_t)t * (j->K / 32));
        } else {
            uint16_t *bt = j->xb + (size_t)t * j->K;
            for (int k = 0; k < j->K; k++) bt[k] = loam_f32_to_bf16(xt[k]);
        }
    }
}

/* Activations converted once per product (int8 blocks or bf16), split over
 * the pool: a serial step here would cap the prefill speed-up of more
 * threads. */
static void convert_activations(loam_nn *nn, convert_job *q) {
    int threads = loam_pool_size(nn->pool);
    if (q->T >= 2 * threads) {
        q->rows_per_task = (q->T + threads - 1) / threads;
        loam_pool_run(nn->pool, convert_task, q, threads);
    } else {
        q->rows_per_task = q->T;
        convert_task(q, 0, 0);
    }
}

/* How a product with W is computed: the kernel, the activations it takes
 * (the conversion: int8 blocks, bf16 or none) and the column unit its
 * tasks take. 0 (status set) when the kernels cannot run W. */
enum { CONVERT_NONE, CONVERT_INT8, CONVERT_BF16 };
static int plan_linear(loam_nn *nn, const float *x, int T, const loam_tensor *w, const float *b, float *y, int ldy,
                       linear_job *j, int *convert) {
    int N = (int)w->shape[0], K = (int)w->shape[1];
    *j = (linear_job){nn->kernels, x, NULL, NULL, nn->bf16dot, &nn->caches, 0, 0, T, K, N, 16, 0, 0, w, b, y, ldy};
    *convert = CONVERT_NONE;
    if (w->strips && !nn->kernels->strip_matmul) {
        nn->status = loam_fail(&nn->err, LOAM_E_UNSUPPORTED, "%s: repacked for kernels this context does not run",
                               w->name ? w->name : "weights");
        return 0;
    }
    if (w->strips || (loam_type_is_quantized(w->type) && !nn->quant_exact && loam_qdot_supports(w->type, K))) {
        /* quantized weights: activations to int8 blocks once, then integer products */
        *convert = CONVERT_INT8;
        if (w->strips) { /* repacked at load: one kernel for every row count, tasks of whole strip groups */
            j->unit = NN_STRIP_COLS;
        } else if (T >= NN_GEMM_Q_MIN_ROWS && nn->kernels->gemm_q8) {
            j->gemm_q8 = 1;
            j->unit = NN_GEMM_COLS; /* whole strips */
        }
    } else if (w->type == LOAM_T_BF16 && nn->bf16dot) {
        *convert = CONVERT_BF16;
        if (T >= LOAM_BF16DOT_BLOCKED_ROWS) j->unit = NN_GEMM_F_COLS; /* the blocked product's whole strips */
    } else if (T >= NN_GEMM_F_MIN_ROWS && nn->kernels->gemm_f &&
               (w->type == LOAM_T_F16 || w->type == LOAM_T_BF16 || w->type == LOAM_T_F32)) {
        j->gemm_f = 1;
        j->unit = NN_GEMM_F_COLS;
    }
    /* Tasks of equal size, so that no thread is left with a short last task
     * while another works: 4 per thread for a few rows (decode; tuned with
     * the strip kernel's prefetch), from NN_FINE_TASK_ROWS rows one column
     * unit each (up to 64 per thread), so that the threads finish a
     * product at most one unit apart. Intel Xeon 6/207, 2 threads, 1B
     * Q4_0 pp512, 4 alternated rounds: 367 t/s mean at 4 tasks per thread,
     * 389 at 16, 390 at one unit each. */
    int threads = loam_pool_size(nn->pool);
    j->units = (N + j->unit - 1) / j->unit;
    j->tasks = (int64_t)T * N * K < 65536 ? 1 : T >= NN_FINE_TASK_ROWS ? threads * 64 : threads * 4; /* waking threads costs more than a small product */
    if (j->tasks > j->units) j->tasks = j->units;
    return 1;
}

/* x [T, K] converted as `convert` asks into the nn's buffer; every job
 * pointed at it. 0 (status set) when out of memory. */
static int convert_for(loam_nn *nn, const float *x, int T, int K, int convert, linear_job *jobs, int n) {
    if (convert == CONVERT_NONE) return 1;
    convert_job q = {nn->kernels, x, NULL, NULL, T, K, T};
    if (convert == CONVERT_INT8) {
        void *buf = nn->xq;
        int ok = nn_reserve(nn, &buf, &nn->xq_cap, (size_t)T * (size_t)(K / 32), sizeof *nn->xq, "int8 activations");
        nn->xq = buf;
        if (!ok) return 0;
        q.xq = nn->xq;
    } else {
        void *buf = nn->xb;
        int ok = nn_reserve(nn, &buf, &nn->xb_cap, (size_t)T * (size_t)K, sizeof *nn->xb, "bf16 activations");
        nn->xb = buf;
        if (!ok) return 0;
        q.xb = nn->xb;
    }
    convert_activations(nn, &q);
    for (int i = 0; i < n; i++) jobs[i].xq = q.xq, jobs[i].xb = q.xb;
    return 1;
}

/* The tasks of several products as one job for the pool: task t is task
 * t - first[i] of product i. */
typedef struct {
    const linear_job *jobs;
    int n, first[NN_LINEAR_MANY_MAX + 1];
} linear_batch;

static void batch_task(void *arg, int task, int thread) {
    const linear_batch *bt = arg;
    int i = 0;
    while (task >= bt->first[i + 1]) i++;
    linear_task((void *)&bt->jobs[i], task - bt->first[i], thread);
}

static void run_linears(loam_nn *nn, const linear_job *jobs, int n) {
    linear_batch bt = {jobs, n, {0}};
    int64_t work = 0;
    for (int i = 0; i < n; i++) bt.first[i + 1] = bt.first[i] + jobs[i].tasks, work += (int64_t)jobs[i].T * jobs[i].N * jobs[i].K;
    if (bt.first[n] == n && work < 65536) /* small products: waking threads costs more */
        for (int i = 0; i < n; i++) linear_task((void *)&jobs[i], 0, 0);
    else loam_pool_run(nn->pool, batch_task, &bt, bt.first[n]);
}

void nn_linear(loam_nn *nn, const float *x, int T, const loam_tensor *w, const float *b, float *y) {
    nn_linear_to(nn, x, T, w, b, y, (int)w->shape[0]);
}

void nn_linear_to(loam_nn *nn, const float *x, int T, const loam_tensor *w, const float *b, float *y, int ldy) {
    nn_linear_out out = {w, b, y, ldy};
    nn_linear_many(nn, x, T, &out, 1);
}

void nn_linear_many(loam_nn *nn, const float *x, int T, const nn_linear_out *outs, int n) {
    if (nn->status || n <= 0) return;
    if (n > NN_LINEAR_MANY_MAX) {
        nn_linear_many(nn, x, T, outs, NN_LINEAR_MANY_MAX);
        nn_linear_many(nn, x, T, outs + NN_LINEAR_MANY_MAX, n - NN_LINEAR_MANY_MAX);
        return;
    }
    linear_job jobs[NN_LINEAR_MANY_MAX];
    int convert[NN_LINEAR_MANY_MAX];
    for (int i = 0; i < n; i++) {
        const nn_linear_out *o = &outs[i];
        if (!plan_linear(nn, x, T, o->w, o->b, o->y, o->ldy ? o->ldy : (int)o->w->shape[0], &jobs[i], &convert[i])) return;
        if (i > 0 && (convert[i] != convert[0] || jobs[i].K != jobs[0].K)) { /* another conversion: products one at a time */
            for (int k = 0; k < n; k++) nn_linear_many(nn, x, T, &outs[k], 1);
            return;
        }
    }
    if (!convert_for(nn, x, T, jobs[0].K, convert[0], jobs, n)) return;
    run_linears(nn, jobs, n);
}

typedef struct {
    const loam_tensor *w;
    void *out;
    int64_t strips_per_task;
    int mapped, copy;
} pack_job;

/* A run of strips, in pieces whose mapped rows are given back as soon as
 * they are packed: the copy never holds a large matrix twice in memory. */
static void pack_task(void *arg, int task, int thread) {
    (void)thread;
    const pack_job *j = arg;
    int64_t N = j->w->shape[0], K = j->w->shape[1], n0 = task * j->strips_per_task * LOAM_STRIP_ROWS;
    int64_t n1 = n0 + j->strips_per_task * LOAM_STRIP_ROWS < N ? n0 + j->strips_per_task * LOAM_STRIP_ROWS : N;
    size_t row_bytes = loam_row_bytes(j->w->type, K);
    for (int64_t a = n0; a < n1; a += 64 * LOAM_STRIP_ROWS) {
        int64_t b = a + 64 * LOAM_STRIP_ROWS < n1 ? a + 64 * LOAM_STRIP_ROWS : n1;
        if (j->copy) memcpy((uint8_t *)j->out + (size_t)a * row_bytes, (const uint8_t *)j->w->data + (size_t)a * row_bytes, (size_t)(b - a) * row_bytes);
        else loam_strip_pack(j->w->type, j->w->data, N, K, a, b, j->out);
        if (j->mapped) loam_release_pages((const uint8_t *)j->w->data + (size_t)a * row_bytes, (uint64_t)(b - a) * row_bytes);
    }
}

/* Float matrices keep their layout but are copied into the arena too: on
 * the Zen 5 guest the mapped file read at ~30 GB/s where anonymous 2 MiB
 * pages read at ~39 (1B F16 decode 14.1-15.8 -> 16.8-18.9 t/s, 67-71% ->
 * 86-88% of the read bound, alternated runs). */
static int copied_as_is(const loam_tensor *w) {
    return !w->strips && w->n_dims == 2 && (w->type == LOAM_T_F16 || w->type == LOAM_T_BF16 || w->type == LOAM_T_F32);
}

size_t nn_packed_size(const loam_kernels *kernels, const loam_tensor *w) {
    if (copied_as_is(w)) return w->n_bytes;
    if (!kernels->strip_matmul || w->strips || w->n_dims != 2 || !loam_strip_supports(w->type, w->shape[0], w->shape[1])) return 0;
    return loam_strips_size(w->type, w->shape[0], w->shape[1]);
}

void nn_pack_linear(loam_pool *pool, const loam_tensor *w, int mapped, void *dst, loam_tensor *out) {
    int tasks = loam_pool_size(pool) * 4;
    int64_t strips = (w->shape[0] + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS;
    pack_job j = {w, dst, (strips + tasks - 1) / tasks, mapped, copied_as_is(w)};
    loam_pool_run(pool, pack_task, &j, tasks);
    if (mapped) loam_release_pages(w->data, w->n_bytes); /* the pages the pieces' edges shared */
    *out = *w;
    out->data = dst;
    out->strips = !j.copy;
}

loam_status nn_pack_linears(const loam_kernels *kernels, loam_pool *pool, const loam_tensor **slots[], int n, int mapped,
                            const char *path, loam_tensor **packed, void **arena, int *n_packed, loam_error *err) {
    *packed = NULL, *arena = NULL, *n_packed = 0;
    size_t total = 0;
    int k = 0;
    for (int i = 0; i < n; i++) /* keep the slots there is something to do for */
        if (*slots[i] && nn_packed_size(kernels, *slots[i])) slots[k++] = slots[i], total += (nn_packed_size(kernels, *slots[i]) + 63) / 64 * 64;
    if (!k) return LOAM_OK;
    *packed = calloc((size_t)k, sizeof **packed);
    *arena = loam_alloc_huge(total);
    if (!*packed || !*arena) {
        free(*packed), free(*arena);
        *packed = NULL, *arena = NULL;
        return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory repacking the weights (%zu bytes)", path, total);
    }
    uint8_t *at = *arena;
    for (int i = 0; i < k; i++) {
        size_t bytes = nn_packed_size(kernels, *slots[i]);
        nn_pack_linear(pool, *slots[i], mapped, at, &(*packed)[i]);
        *slots[i] = &(*packed)[i];
        at += (bytes + 63) / 64 * 64;
    }
    *n_packed = k;
    return LOAM_OK;
}

int nn_conv1d_out_len(int T_in, int k, int stride, int pad) {
    if (T_in <= 0 || k <= 0 || stride <= 0 || pad < 0 || T_in + 2 * pad < k) return 0;
    return (T_in + 2 * pad - k) / stride + 1;
}

void nn_conv1d(loam_nn *nn, const float *x, int T_in, int C_in, const loam_tensor *w, const float *b, int stride,
               int pad, float *y) {
    if (nn->status) return;
    int k = (int)w->shape[2], T_out = nn_conv1d_out_len(T_in, k, stride, pad);
    size_t width = (size_t)C_in * (size_t)k; /* one output row's window, in W's [C_in][k] order */
    void *buf = nn->cols;
    int ok = nn_reserve(nn, &buf, &nn->cols_cap, (size_t)T_out * width, sizeof(float), "conv1d columns");
    nn->cols = buf;
    if (!ok || T_out == 0) return;
    for (int t = 0; t < T_out; t++) {
        float *col = nn->cols + (size_t)t * width;
        for (int c = 0; c < C_in; c++)
            for (int j = 0; j < k; j++) {
                int src = t * stride + j - pad;
                col[(size_t)c * k + j] = src >= 0 && src < T_in ? x[(size_t)src * C_in + c] : 0.0f;
            }
    }
    /* W [C_out, C_in, k] is the matrix [C_out, C_in × k] */
    loam_tensor w2 = *w;
    w2.n_dims = 2;
    w2.shape[1] = (int64_t)width;
    w2.shape[2] = 0;
    nn_linear(nn, nn->cols, T_out, &w2, b, y);
}

int nn_conv2d_out_len(int n_in, int k, int stride, int pad) { return nn_conv1d_out_len(n_in, k, stride, pad); }

typedef struct {
    const float *x;
    float *cols;
    int H, W, C_in, W_out, k, stride, pad, r0;
} im2col_job;

/* Output row r0 + task's windows: each tap's C_in channels are contiguous
 * in x (channels last), read in order and written k² apart (W's
 * [C_in][k][k] columns). */
static void im2col_task(void *arg, int task, int thread) {
    (void)thread;
    const im2col_job *j = arg;
    int k = j->k, kk = k * k, sy0 = (j->r0 + task) * j->stride - j->pad;
    size_t width = (size_t)j->C_in * kk;
    for (int c = 0; c < j->W_out; c++) {
        float *col = j->cols + ((size_t)task * j->W_out + c) * width;
        for (int i = 0; i < k; i++)
            for (int t = 0; t < k; t++) {
                int sy = sy0 + i, sx = c * j->stride + t - j->pad, tap = i * k + t;
                const float *src = sy >= 0 && sy < j->H && sx >= 0 && sx < j->W ? j->x + ((size_t)sy * j->W + sx) * j->C_in : NULL;
                for (int ci = 0; ci < j->C_in; ci++) col[(size_t)ci * kk + tap] = src ? src[ci] : 0.0f;
            }
    }
}

/* Gathered windows per band: about 8 MiB of floats. */
enum { NN_CONV2D_BAND_FLOATS = 2 << 20 };

void nn_conv2d(loam_nn *nn, const float *x, int H, int W, int C_in, const loam_tensor *w, const float *b, int stride,
               int pad, float *y) {
    if (nn->status) return;
    int C_out = (int)w->shape[0], k = (int)w->shape[2];
    int H_out = nn_conv2d_out_len(H, k, stride, pad), W_out = nn_conv2d_out_len(W, k, stride, pad);
    if (H_out == 0 || W_out == 0) return;
    /* W [C_out, C_in, k, k] is the matrix [C_out, C_in × k × k] */
    loam_tensor w2 = *w;
    w2.n_dims = 2;
    w2.shape[1] = (int64_t)C_in * k * k;
    w2.shape[2] = w2.shape[3] = 0;
    if (k == 1 && stride == 1 && pad == 0) { /* a pointwise convolution is the product itself */
        nn_linear(nn, x, H * W, &w2, b, y);
        return;
    }
    size_t width = (size_t)w2.shape[1], row_floats = (size_t)W_out * width;
    int band = (int)(NN_CONV2D_BAND_FLOATS / (row_floats ? row_floats : 1));
    band = band < 1 ? 1 : band > H_out ? H_out : band;
    void *buf = nn->cols;
    int ok = nn_reserve(nn, &buf, &nn->cols_cap, (size_t)band * row_floats, sizeof(float), "conv2d columns");
    nn->cols = buf;
    if (!ok) return;
    for (int r0 = 0; r0 < H_out; r0 += band) {
        int rows = H_out - r0 < band ? H_out - r0 : band;
        im2col_job j = {x, nn->cols, H, W, C_in, W_out, k, stride, pad, r0};
        loam_pool_run(nn->pool, im2col_task, &j, rows);
        nn_linear(nn, nn->cols, rows * W_out, &w2, b, y + (size_t)r0 * W_out * C_out);
    }
}

void nn_upsample2x(const float *x, int H, int W, int C, float *y) {
    for (int r = 0; r < 2 * H; r++)
        for (int c = 0; c < 2 * W; c++)
            memcpy(y + ((size_t)r * 2 * W + c) * C, x + ((size_t)(r / 2) * W + c / 2) * C, sizeof(float) * (size_t)C);
}
