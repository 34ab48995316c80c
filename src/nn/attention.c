/* Attention, one (row, head) per task: the scores of the row's visible keys
 * in a per-thread buffer, softmax, then the weighted sum of the values —
 * never a T × S matrix. The score and mix kernels keep the query (or the
 * output) in registers while the key/value rows stream past. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/panels.h"
#include "nn/nn_internal.h"

#define BLOCK_ROWS 64     /* query rows of one head per task */
#define BLOCK_MIN_ROWS 32 /* below this many query rows the per-row path is as fast */

typedef struct {
    const loam_kernels *kern;
    const nn_heads *h;
    const float *q;
    float *out;
    float *scores;   /* [threads][scores_len] */
    int scores_len;
    /* keys and values: a cache (rows of the storage type), or f32 arrays */
    const loam_kv_cache *kv;
    int layer;
    const int32_t *pos, *seq;
    const float *k, *v;
    int T, S, causal;
} attn_job;

/* softmax(scores[0..n) · scale + slope (p − last) + bias[p]) in place (bias may be NULL). */
static void softmax_scores(const loam_kernels *kern, float *scores, int n, float scale, float slope, const float *bias) {
    float max = -INFINITY;
    for (int p = 0; p < n; p++) {
        scores[p] = scores[p] * scale + slope * (float)(p - (n - 1)) + (bias ? bias[p] : 0.0f);
        if (scores[p] > max) max = scores[p];
    }
    float inv = (float)(1.0 / kern->softmax_exp(scores, n, max));
    for (int p = 0; p < n; p++) scores[p] *= inv;
}

static float head_scale(const nn_heads *h) { return h->scale > 0 ? h->scale : 1.0f / sqrtf((float)h->head_dim); }

static void cached_task(void *arg, int task, int thread) {
    const attn_job *j = arg;
    const nn_heads *h = j->h;
    const loam_kv_cache *kv = j->kv;
    int hd = h->head_dim, nq = h->n_heads, group = nq / h->n_kv_heads;
    int row = task / nq, head = task % nq, kv_head = head / group;
    int seq = j->seq[row], n = j->pos[row] + 1;
    /* the head's values within a cached row, in the cache's storage type */
    size_t head_at = kv->type == LOAM_KV_Q8_0 ? (size_t)kv_head * (hd / 32) * 34
                                              : (size_t)kv_head * hd * (kv->type == LOAM_KV_F16 ? 2 : 4);
    const float *q = j->q + ((size_t)row * nq + head) * hd;
    float *scores = j->scores + (size_t)thread * j->scores_len;
    j->kern->attn_scores[kv->type](q, loam_kv_k_row(kv, seq, j->layer, 0) + head_at, kv->row_bytes, n, hd, scores);
    softmax_scores(j->kern, scores, n, head_scale(h), h->alibi_slopes ? h->alibi_slopes[head] : 0.0f, NULL);
    float *out = j->out + ((size_t)row * nq + head) * hd;
    j->kern->attn_mix[kv->type](scores, loam_kv_v_row(kv, seq, j->layer, 0) + head_at, kv->row_bytes, n, hd, out);
}

static void dense_task(void *arg, int task, int thread) {
    const attn_job *j = arg;
    const nn_heads *h = j->h;
    int hd = h->head_dim, nq = h->n_heads, group = nq / h->n_kv_heads;
    int row = task / nq, head = task % nq, kv_head = head / group;
    int n = j->causal ? row + 1 + (j->S - j->T) : j->S;
    size_t stride = (size_t)h->n_kv_heads * hd * sizeof(float), head_at = (size_t)kv_head * hd;
    const float *q = j->q + ((size_t)row * nq + head) * hd;
    float *scores = j->scores + (size_t)thread * j->scores_len;
    if (n <= 0) { /* a row that sees no key (causal with S < T) */
        float *out = j->out + ((size_t)row * nq + head) * hd;
        for (int i = 0; i < hd; i++) out[i] = 0.0f;
        return;
    }
    j->kern->attn_scores[LOAM_KV_F32](q, (const uint8_t *)(j->k + head_at), stride, n, hd, scores);
    /* ALiBi's bias is relative to the row's own key position */
    const float *bias = h->rel_bias && !j->causal ? h->rel_bias + (size_t)head * (2 * (size_t)j->S - 1) + (j->S - 1 - row) : NULL;
    softmax_scores(j->kern, scores, n, head_scale(h), h->alibi_slopes && j->causal ? h->alibi_slopes[head] : 0.0f, bias);
    float *out = j->out + ((size_t)row * nq + head) * hd;
    j->kern->attn_mix[LOAM_KV_F32](scores, (const uint8_t *)(j->v + head_at), stride, n, hd, out);
}

/* Per-thread score rows of `len` floats. */
static int reserve_scores(loam_nn *nn, int len) {
    void *buf = nn->scores;
    int ok = nn_reserve(nn, &buf, &nn->scores_cap, (size_t)nn_threads(nn) * (size_t)len, sizeof(float), "attention scores");
    nn->scores = buf;
    return ok;
}

static void attention_blocked(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, size_t kv_stride,
                              int pos0, const nn_heads *h, float *out);

/* A prompt slice of one sequence at consecutive positions, over an f32
 * cache: the blocked products apply. */
static int one_run(const loam_kv_cache *kv, int T, const int32_t *pos, const int32_t *seq) {
    if (kv->type != LOAM_KV_F32 || T < BLOCK_MIN_ROWS) return 0;
    for (int r = 1; r < T; r++)
        if (seq[r] != seq[0] || pos[r] != pos[0] + r) return 0;
    return pos[0] >= 0 && pos[0] + T <= kv->n_ctx;
}

void nn_attention_cached(loam_nn *nn, const loam_kv_cache *kv, int layer, const float *q, int T, const int32_t *pos,
                         const int32_t *seq, const nn_heads *h, float *out) {
    if (nn->status) return;
    if (one_run(kv, T, pos, seq)) { /* keys 0 .. pos[T-1] of the sequence, rows of dim floats */
        const float *k = (const float *)loam_kv_k_row(kv, seq[0], layer, 0), *v = (const float *)loam_kv_v_row(kv, seq[0], layer, 0);
        attention_blocked(nn, q, T, k, v, pos[0] + T, kv->row_bytes / sizeof(float), pos[0], h, out);
        return;
    }
    if (!reserve_scores(nn, kv->n_ctx)) return;
    attn_job j = {nn->kernels, h, q, out, nn->scores, kv->n_ctx, kv, layer, pos, seq, NULL, NULL, T, 0, 1};
    loam_pool_run(nn->pool, cached_task, &j, T * h->n_heads);
}

/* ------------------------------------------------- blocked (long inputs) */


typedef struct {
    const loam_kernels *kern;
    const nn_heads *h;
    const float *q, *k, *v;
    float *out;
    int T, S;
    size_t kv_stride; /* floats from one position's keys (values) to the next */
    int pos0;         /* causal: row r sees keys 0 .. pos0 + r; -1: every row sees all S */
    /* per K/V head Kᵀ [hd, S] and V [S, hd] in panels (nn_cross_keys): packed
     * by pack_task from k, v, or given (cross-attention's, packed once) */
    const float *kp, *vp;
    float *kp_out, *vp_out; /* where pack_task writes them, the keys times the head's scale */
    float *work;    /* [threads][work_len]: query tile [R, hd] (given keys: scaled queries), scores [R, S] */
    size_t work_len;
} block_job;

/* One K/V head into the panels the products read, once per call (every
 * query tile of the head reads them as they are). */
static void pack_task(void *arg, int head, int thread) {
    (void)thread;
    const block_job *j = arg;
    int hd = j->h->head_dim, S = j->S;
    const float *k = j->k + (size_t)head * hd, *v = j->v + (size_t)head * hd;
    loam_panels_pack(k, 1, j->kv_stride, hd, S, head_scale(j->h), j->kp_out + (size_t)head * loam_panels_floats(hd, S));
    loam_panels_pack(v, j->kv_stride, 1, S, hd, 1.0f, j->vp_out + (size_t)head * loam_panels_floats(S, hd));
}

/* exp(s − max) in place, s already scaled, and 1 / Σ of them returned
 * (the caller scales the row's output, hd floats, rather than its n
 * weights): the max in eight running lanes (the loop the compiler
 * vectorizes), the exponentials in the kernel table */
static float softmax_row_unscaled(const loam_kernels *kern, float *s, int n) {
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++) m[l] = s[p + l] > m[l] ? s[p + l] : m[l];
    float max = -INFINITY;
    for (int l = 0; l < 8; l++) max = m[l] > max ? m[l] : max;
    for (; p < n; p++) max = s[p] > max ? s[p] : max;
    return (float)(1.0 / kern->softmax_exp(s, n, max));
}

/* x[0..n) *= s, eight at a time (straight-line code the compiler vectorizes) */
static void scale_row(float *x, int n, float s) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) x[i + l] *= s;
    for (; i < n; i++) x[i] *= s;
}

/* scores[R, S] = (scale · Q_tile) · Kᵀ, softmax per row, out_tile[R, hd] = P · V.
 * Causal: the tile's scores stop at the keys its last row sees, and each
 * row's softmax covers its own keys (ALiBi's bias relative to its last),
 * the rest of its row zero for P · V. */
static void block_task(void *arg, int task, int thread) {
    const block_job *j = arg;
    const nn_heads *h = j->h;
    int hd = h->head_dim, nq = h->n_heads, group = nq / h->n_kv_heads, S = j->S;
    /* the last tiles (the most keys, when causal) first, every head's, so that the pool ends on short tasks */
    int n_tiles = (j->T + BLOCK_ROWS - 1) / BLOCK_ROWS, head = task % nq, r0 = (n_tiles - 1 - task / nq) * BLOCK_ROWS;
    int R = j->T - r0 < BLOCK_ROWS ? j->T - r0 : BLOCK_ROWS, kvh = head / group;
    int seen = j->pos0 < 0 ? S : j->pos0 + r0 + R; /* keys the tile's last row sees */
    float *qt = j->work + (size_t)thread * j->work_len, *sc = qt + (size_t)BLOCK_ROWS * hd;
    float slope = j->pos0 >= 0 && h->alibi_slopes ? h->alibi_slopes[head] : 0.0f;
    /* the tile's query rows in place (nq · hd floats apart) where the keys were packed scaled, else a scaled copy */
    const float *qrows = j->q + ((size_t)r0 * nq + head) * hd;
    size_t ldq = (size_t)nq * hd;
    if (!j->kp_out) {
        float scale = head_scale(h);
        for (int r = 0; r < R; r++)
            for (int i = 0; i < hd; i++) qt[(size_t)r * hd + i] = qrows[(size_t)r * ldq + i] * scale;
        qrows = qt, ldq = (size_t)hd;
    }
    j->kern->gemm_panels(qrows, (int)ldq, R, hd, j->kp + (size_t)kvh * loam_panels_floats(hd, S), hd, seen, sc, S);
    float inv[BLOCK_ROWS];
    for (int r = 0; r < R; r++) {
        float *row = sc + (size_t)r * S;
        int n = j->pos0 < 0 ? S : j->pos0 + r0 + r + 1;
        if (slope != 0.0f)
            for (int p = 0; p < n; p++) row[p] += slope * (float)(p - (n - 1));
        inv[r] = softmax_row_unscaled(j->kern, row, n);
        for (int p = n; p < seen; p++) row[p] = 0.0f; /* the product below reads `seen` columns */
    }
    /* both products stop at the keys the tile's last row sees */
    float *out = j->out + ((size_t)r0 * nq + head) * hd;
    j->kern->gemm_panels(sc, S, R, seen, j->vp + (size_t)kvh * loam_panels_floats(S, hd), S, hd, out, nq * hd);
    for (int r = 0; r < R; r++) scale_row(out + (size_t)r * nq * hd, hd, inv[r]);
}

/* q [T, n_heads, hd] against S keys and values of kv_stride floats per
 * position; pos0 as in block_job. */
/* The per-thread tiles of block_task: scaled query rows (given keys), scores. */
static int reserve_tiles(loam_nn *nn, int hd, int S, size_t *work_len) {
    *work_len = (size_t)BLOCK_ROWS * ((size_t)hd + (size_t)S);
    void *work = nn->attn_work;
    int ok = nn_reserve(nn, &work, &nn->attn_work_cap, (size_t)nn_threads(nn) * *work_len, sizeof(float), "attention tiles");
    nn->attn_work = work;
    return ok;
}

static void attention_blocked(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, size_t kv_stride,
                              int pos0, const nn_heads *h, float *out) {
    int hd = h->head_dim, nkv = h->n_kv_heads;
    size_t work_len, keys = nn_cross_keys_floats(S, h), values = nn_cross_values_floats(S, h);
    void *pack = nn->attn_pack;
    /* 16 floats more: the panels start on a 64-byte line */
    int ok = nn_reserve(nn, &pack, &nn->attn_pack_cap, keys + values + 16, sizeof(float), "attention blocks") &&
             reserve_tiles(nn, hd, S, &work_len);
    nn->attn_pack = pack;
    if (!ok) return;
    float *kp = (float *)(((uintptr_t)nn->attn_pack + 63) & ~(uintptr_t)63), *vp = kp + keys;
    block_job j = {nn->kernels, h, q, k, v, out, T, S, kv_stride, pos0, kp, vp, kp, vp, nn->attn_work, work_len};
    loam_pool_run(nn->pool, pack_task, &j, nkv);
    loam_pool_run(nn->pool, block_task, &j, h->n_heads * ((T + BLOCK_ROWS - 1) / BLOCK_ROWS));
}

static void dense_blocked(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                          float *out) {
    attention_blocked(nn, q, T, k, v, S, (size_t)h->n_kv_heads * h->head_dim, -1, h, out);
}

static void dense(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                  int causal, float *out) {
    if (nn->status || T <= 0 || S <= 0) return;
    if (!causal && !h->alibi_slopes && !h->rel_bias && T >= BLOCK_MIN_ROWS) return dense_blocked(nn, q, T, k, v, S, h, out);
    if (!reserve_scores(nn, S)) return;
    attn_job j = {nn->kernels, h, q, out, nn->scores, S, NULL, 0, NULL, NULL, k, v, T, S, causal};
    loam_pool_run(nn->pool, dense_task, &j, T * h->n_heads);
}

/* Cross-attention over K/V kept in panels: every (head, block of up to 64
 * rows) is the two products on the panels as they are — a decoder step's
 * one row, a beam step's few and a prompt's hundreds alike, each head's
 * keys and values read once per block of rows, no per-key horizontal sums. */
void nn_attention_cross_panels(loam_nn *nn, const float *q, int T, const float *kp, const float *vp, int S, const nn_heads *h,
                               float *out) {
    size_t work_len;
    if (nn->status || T <= 0 || S <= 0 || !reserve_tiles(nn, h->head_dim, S, &work_len)) return;
    block_job j = {nn->kernels, h, q, NULL, NULL, out, T, S, 0, -1, kp, vp, NULL, NULL, nn->attn_work, work_len};
    loam_pool_run(nn->pool, block_task, &j, h->n_heads * ((T + BLOCK_ROWS - 1) / BLOCK_ROWS));
}

size_t nn_cross_keys_floats(int S, const nn_heads *h) { return (size_t)h->n_kv_heads * loam_panels_floats(h->head_dim, S); }
size_t nn_cross_values_floats(int S, const nn_heads *h) { return (size_t)h->n_kv_heads * loam_panels_floats(S, h->head_dim); }

void nn_cross_keys(const float *k, int S, const nn_heads *h, float *out) {
    int hd = h->head_dim;
    size_t row = (size_t)h->n_kv_heads * hd;
    for (int g = 0; g < h->n_kv_heads; g++) /* B = Kᵀ [hd, S]: B[i, s] = k[s, g·hd + i] */
        loam_panels_pack(k + (size_t)g * hd, 1, row, hd, S, 1.0f, out + (size_t)g * loam_panels_floats(hd, S));
}

void nn_cross_values(const float *v, int S, const nn_heads *h, float *out) {
    int hd = h->head_dim;
    size_t row = (size_t)h->n_kv_heads * hd;
    for (int g = 0; g < h->n_kv_heads; g++) /* B = V [S, hd]: B[s, i] = v[s, g·hd + i] */
        loam_panels_pack(v + (size_t)g * hd, row, 1, S, hd, 1.0f, out + (size_t)g * loam_panels_floats(S, hd));
}

void nn_attention_full(loam_nn *nn, const float *q, const float *k, const float *v, int T, const nn_heads *h,
                       float *out) {
    dense(nn, q, T, k, v, T, h, 0, out);
}

void nn_attention_cross(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                        float *out) {
    dense(nn, q, T, k, v, S, h, 0, out);
}

void nn_attention_masked(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                         float *out) {
    dense(nn, q, T, k, v, S, h, 1, out);
}

void nn_attention_head_scores(loam_nn *nn, const float *q, int T, const float *kp, int S, const nn_heads *h, int head,
                              float *scores) {
    int hd = h->head_dim, nq = h->n_heads, kvh = head / (nq / h->n_kv_heads);
    float scale = head_scale(h);
    nn->kernels->gemm_panels(q + (size_t)head * hd, nq * hd, T, hd, kp + (size_t)kvh * loam_panels_floats(hd, S), hd, S, scores, S);
    for (size_t i = 0; i < (size_t)T * S; i++) scores[i] *= scale;
}
