/* A KV cache: for each sequence and layer, the keys and values of positions
 * 0 .. len−1, one row per position in the cache's storage type (f32, f16
 * or q8_0). Shared by every model with causal self-attention (text
 * decoders, Whisper's decoder).
 *
 * Positions of a sequence are always a prefix 0 .. len−1: a batch may
 * overwrite from any position up to len (and then the sequence ends after
 * the batch's last position), never leave a gap. */
#ifndef LOAM_NN_KV_CACHE_H
#define LOAM_NN_KV_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

typedef struct loam_kv_cache {
    loam_kv_type type;
    int n_layers, n_ctx, n_seq;
    size_t dim;       /* values per position: n_kv_heads × head_dim */
    size_t row_bytes; /* one position's K (or V) in the storage type */
    uint8_t *k, *v;   /* [seq][layer][pos] rows of row_bytes */
    int32_t *len;     /* cached positions per sequence */
    int32_t *lo, *hi, *count; /* per sequence, for batch checks */
    int batch_rising;         /* the last checked batch's positions rise within each sequence */
} loam_kv_cache;

/* Bytes of one position's K (or V) of `dim` values stored as `type`. */
size_t loam_kv_row_bytes(loam_kv_type type, size_t dim);

/* Bytes of K and V for n_positions positions of n_layers layers: the one
 * formula for the KV cache's size (the runtime, `loam info`, `loam pick`). */
uint64_t loam_kv_cache_bytes(loam_kv_type type, int n_layers, size_t dim, int64_t n_positions);

/* Pages are made resident only as positions are written. A q8_0 cache
 * needs dim a multiple of 32 (each head's values are whole blocks). */
loam_status loam_kv_cache_init(loam_kv_cache *c, loam_kv_type type, int n_layers, int n_ctx, int n_seq, size_t dim,
                               loam_error *err);
void loam_kv_cache_free(loam_kv_cache *c);

/* The K (or V) row of (seq, layer, pos). */
uint8_t *loam_kv_k_row(const loam_kv_cache *c, int seq, int layer, int pos);
uint8_t *loam_kv_v_row(const loam_kv_cache *c, int seq, int layer, int pos);

/* Writes one position's k[dim], v[dim] (f32) in the storage type. */
void loam_kv_store(const loam_kv_cache *c, int seq, int layer, int pos, const float *k, const float *v);
/* Reads a stored row back as f32 (exact for f32, dequantized otherwise). */
void loam_kv_load(const loam_kv_cache *c, const uint8_t *row, float *out);

/* Whether a batch of T rows at (pos[t], seq[t]) continues the cache: each
 * sequence's positions in the batch must be distinct, cover an interval
 * lo .. hi without a gap, start at lo ≤ len (lo < len overwrites), and stay
 * in the context; sequences in range. LOAM_E_RANGE naming the row if not. */
loam_status loam_kv_check_batch(loam_kv_cache *c, const int32_t *pos, const int32_t *seq, int T, loam_error *err);
/* After the batch: each sequence in it now ends at its last position
 * (ok = 0, the batch failed: it ends before its first one). Uses the
 * intervals loam_kv_check_batch found. */
void loam_kv_commit_batch(loam_kv_cache *c, const int32_t *seq, int T, int ok);

void loam_kv_seq_clear_all(loam_kv_cache *c, int seq);
/* Drops positions p0 .. p1−1 (p1 < 0 or ≥ len: to the end). Later
 * positions move down by p1 − p0; each moved K row is passed (as f32) to
 * shift_k(user, k_row, layer, delta) first, which re-positions it (RoPE
 * models rotate it back by delta positions; NULL: K is position-free). */
typedef void (*loam_kv_shift_fn)(void *user, float *k_row, int layer, int delta);
loam_status loam_kv_seq_remove_range(loam_kv_cache *c, int seq, int p0, int p1, loam_kv_shift_fn shift_k, void *user,
                                     loam_error *err);
/* dst's cache becomes src's first n positions (prompt caching). */
loam_status loam_kv_seq_copy_prefix(loam_kv_cache *c, int src, int dst, int n, loam_error *err);

#endif
