/* The KV cache: storage, the batch rules that keep every sequence a gapless
 * prefix, and the sequence operations a server needs (clear, drop a range,
 * copy a prefix). */
#include "nn/kv_cache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/quants.h"

uint64_t loam_kv_cache_bytes(loam_kv_type type, int n_layers, size_t dim, int64_t n_positions) {
    return 2ull * (uint64_t)n_layers * (uint64_t)n_positions * (uint64_t)loam_kv_row_bytes(type, dim);
}

size_t loam_kv_row_bytes(loam_kv_type type, size_t dim) {
    switch (type) {
    case LOAM_KV_F16: return dim * 2;
    case LOAM_KV_Q8_0: return dim / 32 * 34;
    default: return dim * 4;
    }
}

loam_status loam_kv_cache_init(loam_kv_cache *c, loam_kv_type type, int n_layers, int n_ctx, int n_seq, size_t dim,
                               loam_error *err) {
    memset(c, 0, sizeof *c);
    if (type != LOAM_KV_F32 && type != LOAM_KV_F16 && type != LOAM_KV_Q8_0)
        return loam_fail(err, LOAM_E_ARG, "KV cache: unknown storage type %d", (int)type);
    if (type == LOAM_KV_Q8_0 && dim % 32)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "KV cache: q8_0 needs whole blocks of 32 values per head");
    if (n_layers <= 0 || n_ctx <= 0 || n_seq <= 0 || dim == 0)
        return loam_fail(err, LOAM_E_ARG, "KV cache: %d layers, %d positions, %d sequences", n_layers, n_ctx, n_seq);
    c->type = type;
    c->n_layers = n_layers, c->n_ctx = n_ctx, c->n_seq = n_seq;
    c->dim = dim;
    c->row_bytes = loam_kv_row_bytes(type, dim);
    size_t rows = (size_t)n_seq * (size_t)n_layers * (size_t)n_ctx;
    if (rows > SIZE_MAX / c->row_bytes) return loam_fail(err, LOAM_E_NOMEM, "KV cache: too large");
    /* calloc: pages only become resident as positions are written */
    c->k = calloc(rows, c->row_bytes);
    c->v = calloc(rows, c->row_bytes);
    c->len = calloc((size_t)n_seq, sizeof *c->len);
    c->lo = malloc((size_t)n_seq * sizeof *c->lo);
    c->hi = malloc((size_t)n_seq * sizeof *c->hi);
    c->count = malloc((size_t)n_seq * sizeof *c->count);
    if (!c->k || !c->v || !c->len || !c->lo || !c->hi || !c->count) {
        loam_kv_cache_free(c);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory for a KV cache of %d positions x %d sequences", n_ctx, n_seq);
    }
    return LOAM_OK;
}

void loam_kv_cache_free(loam_kv_cache *c) {
    free(c->k), free(c->v), free(c->len), free(c->lo), free(c->hi), free(c->count);
    memset(c, 0, sizeof *c);
}

static size_t row_index(const loam_kv_cache *c, int seq, int layer, int pos) {
    return (((size_t)seq * (size_t)c->n_layers + (size_t)layer) * (size_t)c->n_ctx + (size_t)pos) * c->row_bytes;
}

uint8_t *loam_kv_k_row(const loam_kv_cache *c, int seq, int layer, int pos) { return c->k + row_index(c, seq, layer, pos); }
uint8_t *loam_kv_v_row(const loam_kv_cache *c, int seq, int layer, int pos) { return c->v + row_index(c, seq, layer, pos); }

static void store_row(const loam_kv_cache *c, uint8_t *dst, const float *src) {
    if (c->type == LOAM_KV_F32) memcpy(dst, src, c->dim * sizeof(float));
    else loam_quantize_row(c->type == LOAM_KV_F16 ? LOAM_T_F16 : LOAM_T_Q8_0, src, (int64_t)c->dim, dst);
}

void loam_kv_store(const loam_kv_cache *c, int seq, int layer, int pos, const float *k, const float *v) {
    store_row(c, loam_kv_k_row(c, seq, layer, pos), k);
    store_row(c, loam_kv_v_row(c, seq, layer, pos), v);
}

void loam_kv_load(const loam_kv_cache *c, const uint8_t *row, float *out) {
    loam_type t = c->type == LOAM_KV_F32 ? LOAM_T_F32 : c->type == LOAM_KV_F16 ? LOAM_T_F16 : LOAM_T_Q8_0;
    loam_row_to_f32(row, t, 0, (int)c->dim, out);
}

/* ------------------------------------------------------------ batches */

typedef struct {
    int32_t seq, pos;
} seq_pos;

static int cmp_seq_pos(const void *a, const void *b) {
    const seq_pos *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* A position given twice for one sequence (only possible when the rows
 * are not in rising order): sorted pairs, O(T log T). */
static loam_status find_duplicate(const int32_t *pos, const int32_t *seq, int T, loam_error *err) {
    seq_pos *p = malloc((size_t)T * sizeof *p);
    if (!p) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int t = 0; t < T; t++) p[t].seq = seq[t], p[t].pos = pos[t];
    qsort(p, (size_t)T, sizeof *p, cmp_seq_pos);
    loam_status st = LOAM_OK;
    for (int t = 1; t < T && !st; t++)
        if (p[t].seq == p[t - 1].seq && p[t].pos == p[t - 1].pos)
            st = loam_fail(err, LOAM_E_RANGE, "decode: position %d of sequence %d is given twice", p[t].pos, p[t].seq);
    free(p);
    return st;
}

loam_status loam_kv_check_batch(loam_kv_cache *c, const int32_t *pos, const int32_t *seq, int T, loam_error *err) {
    for (int s = 0; s < c->n_seq; s++) c->lo[s] = INT32_MAX, c->hi[s] = -1, c->count[s] = 0;
    int rising = 1;
    for (int t = 0; t < T; t++) {
        int s = seq[t], p = pos[t];
        if (s < 0 || s >= c->n_seq)
            return loam_fail(err, LOAM_E_RANGE, "decode: row %d: sequence %d is outside 0..%d", t, s, c->n_seq - 1);
        if (p < 0 || p >= c->n_ctx)
            return loam_fail(err, LOAM_E_RANGE, "decode: row %d: position %d is outside the context of %d", t, p, c->n_ctx);
        if (p <= c->hi[s]) rising = 0;
        if (p < c->lo[s]) c->lo[s] = p;
        if (p > c->hi[s]) c->hi[s] = p;
        c->count[s]++;
    }
    for (int s = 0; s < c->n_seq; s++) {
        if (!c->count[s]) continue;
        if (c->lo[s] > c->len[s])
            return loam_fail(err, LOAM_E_RANGE,
                             "decode: sequence %d has %d cached positions; position %d would leave a gap", s, c->len[s],
                             c->lo[s]);
        if (c->hi[s] - c->lo[s] + 1 != c->count[s] && rising)
            return loam_fail(err, LOAM_E_RANGE, "decode: the positions of sequence %d in the batch (%d..%d) have a gap", s,
                             c->lo[s], c->hi[s]);
    }
    c->batch_rising = rising;
    if (rising) return LOAM_OK;
    loam_status st = find_duplicate(pos, seq, T, err);
    for (int s = 0; s < c->n_seq && !st; s++)
        if (c->count[s] && c->hi[s] - c->lo[s] + 1 != c->count[s])
            st = loam_fail(err, LOAM_E_RANGE, "decode: the positions of sequence %d in the batch (%d..%d) have a gap", s,
                           c->lo[s], c->hi[s]);
    return st;
}

void loam_kv_commit_batch(loam_kv_cache *c, const int32_t *seq, int T, int ok) {
    for (int t = 0; t < T; t++) {
        int s = seq[t];
        c->len[s] = ok ? c->hi[s] + 1 : (c->lo[s] < c->len[s] ? c->lo[s] : c->len[s]);
    }
}

/* ---------------------------------------------------------- sequences */

void loam_kv_seq_clear_all(loam_kv_cache *c, int seq) {
    if (seq >= 0 && seq < c->n_seq) c->len[seq] = 0;
}

loam_status loam_kv_seq_remove_range(loam_kv_cache *c, int seq, int p0, int p1, loam_kv_shift_fn shift_k, void *user,
                                     loam_error *err) {
    if (seq < 0 || seq >= c->n_seq) return loam_fail(err, LOAM_E_RANGE, "KV cache: sequence %d is outside 0..%d", seq, c->n_seq - 1);
    int len = c->len[seq];
    if (p1 < 0 || p1 > len) p1 = len;
    if (p0 < 0 || p0 > p1) return loam_fail(err, LOAM_E_RANGE, "KV cache: cannot drop positions %d..%d of %d", p0, p1, len);
    if (p0 == p1) return LOAM_OK;
    int moved = len - p1, delta = p1 - p0;
    float *row = moved && shift_k ? malloc(c->dim * sizeof *row) : NULL;
    if (moved && shift_k && !row) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    for (int l = 0; l < c->n_layers && moved; l++) {
        memmove(loam_kv_k_row(c, seq, l, p0), loam_kv_k_row(c, seq, l, p1), (size_t)moved * c->row_bytes);
        memmove(loam_kv_v_row(c, seq, l, p0), loam_kv_v_row(c, seq, l, p1), (size_t)moved * c->row_bytes);
        for (int p = p0; row && p < p0 + moved; p++) {
            uint8_t *k = loam_kv_k_row(c, seq, l, p);
            loam_kv_load(c, k, row);
            shift_k(user, row, l, delta);
            store_row(c, k, row);
        }
    }
    free(row);
    c->len[seq] = len - delta;
    return LOAM_OK;
}

loam_status loam_kv_seq_copy_prefix(loam_kv_cache *c, int src, int dst, int n, loam_error *err) {
    if (src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq)
        return loam_fail(err, LOAM_E_RANGE, "KV cache: sequences %d, %d: outside 0..%d", src, dst, c->n_seq - 1);
    if (n < 0 || n > c->len[src])
        return loam_fail(err, LOAM_E_RANGE, "KV cache: sequence %d has %d cached positions, not %d", src, c->len[src], n);
    if (src == dst) {
        c->len[dst] = n;
        return LOAM_OK;
    }
    for (int l = 0; l < c->n_layers && n; l++) {
        memcpy(loam_kv_k_row(c, dst, l, 0), loam_kv_k_row(c, src, l, 0), (size_t)n * c->row_bytes);
        memcpy(loam_kv_v_row(c, dst, l, 0), loam_kv_v_row(c, src, l, 0), (size_t)n * c->row_bytes);
    }
    c->len[dst] = n;
    return LOAM_OK;
}
