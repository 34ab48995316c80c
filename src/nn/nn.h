/* The network operations every model is built from: text decoders, and
 * next Whisper's encoder-decoder and FLUX's MMDiT. Each op is one small
 * function with its shapes in the comment, in the style of llm.c:
 * activations are row-major [T, C] float arrays (a row per token, position
 * or pixel), weights are loam_tensors in their stored type.
 *
 * The ops that need threads or scratch memory take a loam_nn: the kernel
 * table, the thread pool and the scratch buffers of one context. Its error
 * is sticky: the first op that fails (out of memory) records it, later ops
 * do nothing, and the caller reads it once with nn_status() at the end of a
 * forward pass, so a forward pass reads top to bottom without an error
 * check per line. */
#ifndef LOAM_NN_H
#define LOAM_NN_H
#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "nn/kv_cache.h"

typedef struct loam_nn {
    const loam_kernels *kernels;
    loam_pool *pool;
    loam_bf16dot_fn bf16dot; /* BF16 weights with bf16-rounded activations (opt-in), or NULL */
    int quant_exact;         /* quantized weights: dequantize and compute in f32 */
    loam_cache_info caches; /* of one core, for the blocked products */
    loam_status status;      /* the first failure, sticky */
    loam_error err;
    /* scratch, grown on demand */
    loam_act_block *xq; /* int8 activations for quantized weights */
    size_t xq_cap;
    uint16_t *xb; /* bf16 activations for the bf16 dot products */
    size_t xb_cap;
    float *cols; /* conv1d's im2col rows */
    size_t cols_cap;
    float *scores; /* attention scores, one row per thread */
    size_t scores_cap;
    float *attn_pack; /* blocked attention: each K/V head's Kᵀ and V in panels (kernels/panels.h) */
    size_t attn_pack_cap;
    float *attn_work; /* blocked attention: per thread a query tile, its scores, its output */
    size_t attn_work_cap;
} loam_nn;

/* An nn over `kernels` with its own pool of n_threads. */
loam_status nn_init(loam_nn *nn, const loam_kernels *kernels, int n_threads, loam_bf16dot_fn bf16dot, int quant_exact,
                    loam_error *err);
void nn_free(loam_nn *nn);
/* The first failure since the last call (copied to err), then cleared. */
loam_status nn_status(loam_nn *nn, loam_error *err);
int nn_threads(const loam_nn *nn);

/* ------------------------------------------------------------- products */

/* y[T, N] = x[T, K] · W[N, K]ᵀ (+ b[N]).  W in any type the kernel table
 * takes: f32/f16/bf16 with f32 activations; block-quantized with the
 * activations quantized to int8 blocks (or, with quant_exact, dequantized
 * in f32). Split over the pool by output columns. */
void nn_linear(loam_nn *nn, const float *x, int T, const loam_tensor *w, const float *b, float *y);
/* The same into a slice of a wider output: row t at y + t · ldy (ldy >= N),
 * e.g. separately stored q, k, v side by side as one fused q|k|v would be. */
void nn_linear_to(loam_nn *nn, const float *x, int T, const loam_tensor *w, const float *b, float *y, int ldy);
/* Several products of one input x [T, K]: y_i = x · W_iᵀ (+ b_i), row t of
 * y_i at y_i + t · ldy_i (ldy 0: N_i). The activations are converted once
 * (int8 blocks or bf16) and the products' column tasks go to the pool as one
 * job, so a short product (k, v) fills the time another (q) leaves at its
 * end instead of waiting at a barrier of its own. Weights that take another
 * conversion than the first fall back to one product at a time. */
enum { NN_LINEAR_MANY_MAX = 8 };
typedef struct {
    const loam_tensor *w;
    const float *b;
    float *y;
    int ldy;
} nn_linear_out;
void nn_linear_many(loam_nn *nn, const float *x, int T, const nn_linear_out *outs, int n);

/* The bytes W of a linear op takes repacked for `kernels` (kernels/strips.h:
 * Q4_0, Q8_0, Q4_K, Q6_K where the kernels have a strip product), or copied
 * as it is (F16, BF16, F32: huge pages read faster than the mapping), or 0
 * where W is read where it is stored. */
size_t nn_packed_size(const loam_kernels *kernels, const loam_tensor *w);
/* W repacked (or copied) at load into dst (nn_packed_size bytes, 64-byte
 * aligned), split over `pool`: *out becomes a copy of *w whose data is dst.
 * With `mapped` (W's data is in a read-only file mapping, or a copy never
 * read again) W's pages are given back. The copy is for nn_linear only
 * (never a tied embedding's rows). */
void nn_pack_linear(loam_pool *pool, const loam_tensor *w, int mapped, void *dst, loam_tensor *out);
/* Every matrix *slots[i] (NULL slots skipped) that nn_packed_size wants,
 * repacked or copied into one huge-page arena (one allocation: a 2 MiB page
 * per small matrix would waste most of it) on `pool`, the slot pointed at
 * its copy in *packed. `mapped` as above; `path` names the model in an
 * error. *packed and *arena (free() both) stay NULL when nothing applies.
 * Reorders `slots`. */
loam_status nn_pack_linears(const loam_kernels *kernels, loam_pool *pool, const loam_tensor **slots[], int n, int mapped,
                            const char *path, loam_tensor **packed, void **arena, int *n_packed, loam_error *err);

/* y[T_out, C_out] = conv1d(x[T_in, C_in]) with W[C_out, C_in, k] (+ b[C_out]),
 * zero padding `pad` on both ends, stride `stride`:
 *   T_out = (T_in + 2 pad - k) / stride + 1.
 * As an im2col product: each output row gathers its C_in × k window (in
 * W's row order) and runs through nn_linear, so every weight type works. */
void nn_conv1d(loam_nn *nn, const float *x, int T_in, int C_in, const loam_tensor *w, const float *b, int stride,
               int pad, float *y);
int nn_conv1d_out_len(int T_in, int k, int stride, int pad);

/* y[H_out · W_out, C_out] = conv2d(x[H · W, C_in]) (channels last: a row per
 * pixel) with W[C_out, C_in, k, k] (+ b[C_out]), zero padding `pad`, stride
 * `stride`. As im2col products in bands of output rows, so the gathered
 * windows stay within a few MiB whatever the image size. */
void nn_conv2d(loam_nn *nn, const float *x, int H, int W, int C_in, const loam_tensor *w, const float *b, int stride,
               int pad, float *y);
int nn_conv2d_out_len(int n_in, int k, int stride, int pad);
/* y[2H · 2W, C] = x[H · W, C] with every pixel repeated 2 × 2 (nearest). */
void nn_upsample2x(const float *x, int H, int W, int C, float *y);

/* ---------------------------------------------------------------- norms */

/* y[T, C] = x / sqrt(mean(x²) + eps) · w  (plus_one: · (1 + w), Gemma).
 * y may be x. Sums in double, as the goldens are matched. */
void nn_rms_norm(const float *x, float *y, int T, int C, const float *w, float eps, int plus_one);
/* y[T, C] = (x − mean) / sqrt(var + eps) · w + b   (w, b may be NULL: no affine). y may be x. */
void nn_layer_norm(const float *x, float *y, int T, int C, const float *w, const float *b, float eps);
/* The same two, rows split over nn's pool (the same values). */
void nn_rms_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, const float *w, float eps, int plus_one);
void nn_layer_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, const float *w, const float *b, float eps);
/* A residual added, then the norm, row by row while the row is in cache
 * (one pass where nn_add and then the norm read x twice), over the pool:
 * x[T, C] += a (+ b: x += a + b, as nn_add2), then y = norm(x) as above
 * (bias NULL for RMS). a NULL: the norm alone. */
void nn_add_rms_norm_on(loam_nn *nn, float *x, const float *a, const float *b, float *y, int T, int C, const float *w, float eps,
                        int plus_one);
void nn_add_layer_norm_on(loam_nn *nn, float *x, const float *a, const float *b, float *y, int T, int C, const float *w,
                          const float *bias, float eps);
/* x[T, C] channels-last (a row per pixel), G groups of C/G channels:
 * each group normalised over all its T × C/G values, then · w[c] + b[c]
 * (w, b may be NULL). y may be x. C must be a multiple of G. */
void nn_group_norm(const float *x, float *y, int T, int C, int G, const float *w, const float *b, float eps);
/* The same, the groups split over nn's pool (the same values). */
void nn_group_norm_on(loam_nn *nn, const float *x, float *y, int T, int C, int G, const float *w, const float *b, float eps);

/* ---------------------------------------------------------- activations */

typedef enum { NN_ACT_SILU, NN_ACT_GELU, NN_ACT_GELU_TANH, NN_ACT_QUICK_GELU } nn_act;

/* One value: silu x·σ(x); gelu (erf) ½x(1 + erf(x/√2)); gelu (tanh)
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))); quick-gelu x·σ(1.702x). */
float nn_act_one(nn_act act, float x);
/* x[n] = act(x[n]) */
void nn_activate(nn_act act, float *x, size_t n);
void nn_silu(float *x, size_t n);
void nn_gelu(float *x, size_t n);
void nn_gelu_tanh(float *x, size_t n);
void nn_quick_gelu(float *x, size_t n);
/* a[n] *= act(g[n])  (gated MLPs: SwiGLU, GeGLU) */
void nn_gate(nn_act act, float *a, const float *g, size_t n);
/* The same two over nn's pool: the same values, except SiLU gating,
 * gelu-tanh and quick-gelu, which run the kernel table's silu_gate and
 * sigmoid_act (within 4 ulp of nn_gate's). */
void nn_activate_on(loam_nn *nn, nn_act act, float *x, size_t n);
void nn_gate_on(loam_nn *nn, nn_act act, float *a, const float *g, size_t n);

/* ------------------------------------------------------------ positions */

/* cos, sin[T, n_freq] = cos, sin(pos[t] · inv_freq[i]), the angle in double. */
void nn_rope_angles(const int32_t *pos, int T, const float *inv_freq, int n_freq, float *cos_out, float *sin_out);
/* x[T, n_heads · head_dim], each head's first rope_dim dims rotated by the
 * row's angles (cos, sin[T, rope_dim / 2]): pairs (i, i + rope_dim/2) as
 * transformers' rotate_half, or (2i, 2i + 1) when interleaved (llama.cpp's
 * layout). */
void nn_rope(float *x, int T, int n_heads, int head_dim, int rope_dim, int interleaved, const float *cos_t,
             const float *sin_t);
/* The same, rows split over nn's pool (the same values). */
void nn_rope_on(loam_nn *nn, float *x, int T, int n_heads, int head_dim, int rope_dim, int interleaved, const float *cos_t,
                const float *sin_t);

/* ------------------------------------------------------------ attention */

/* The heads of an attention: n_heads query heads share n_kv_heads K/V heads
 * (GQA / MQA: n_heads a multiple of n_kv_heads). scale 0 = 1/√head_dim.
 * alibi_slopes[n_heads] (or NULL): ALiBi's bias slope·(p − pos).
 * rel_bias[n_heads][2S − 1] (or NULL; full and cross attention only): T5's
 * learned bias of the distance s − t, added to the scaled score of query t
 * and key s at rel_bias[h][s − t + S − 1]. */
typedef struct nn_heads {
    int n_heads, n_kv_heads, head_dim;
    float scale;
    const float *alibi_slopes;
    const float *rel_bias;
} nn_heads;

/* Causal, over a KV cache: for each row t of sequence seq[t] at position
 * pos[t], over the cached positions p ≤ pos[t] of that sequence in `layer`:
 *   out[t, h] = softmax_p(q[t, h] · K[p] · scale + slope_h (p − pos[t])) · V[p]
 * q[T, n_heads · head_dim], out likewise; the cache in its storage type.
 * The rows' own K/V must be in the cache already. Never a T × T matrix. */
void nn_attention_cached(loam_nn *nn, const loam_kv_cache *kv, int layer, const float *q, int T, const int32_t *pos,
                         const int32_t *seq, const nn_heads *h, float *out);

/* Full (non-causal) self-attention: q, k, v from the same T rows,
 *   out[t, h] = softmax_s(q[t, h] · k[s] · scale) · v[s]   over all s < T.
 * q, out [T, n_heads · head_dim]; k, v [T, n_kv_heads · head_dim].
 * Long inputs (Whisper's 1500 positions) run blocked: a tile of query rows
 * of one head against all its keys as two matrix products of the kernel
 * table (Q·Kᵀ, then P·V), so each key and value row is read once per tile
 * instead of once per row. */
void nn_attention_full(loam_nn *nn, const float *q, const float *k, const float *v, int T, const nn_heads *h,
                       float *out);

/* Cross-attention over a fixed K/V (Whisper's decoder over the encoder):
 * q, out [T, n_heads · head_dim]; k, v [S, n_kv_heads · head_dim], all S keys. */
void nn_attention_cross(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                        float *out);

/* The same over a fixed K/V kept in panels (nn_cross_keys,
 * nn_cross_values: Whisper's decoder over the encoder, read at every step):
 * each (head, block of up to 64 rows) as two products of the kernel
 * table's gemm_panels, so a step's one row, a beam step's few and a
 * prompt's hundreds read each head's keys and values once per block. */
void nn_attention_cross_panels(loam_nn *nn, const float *q, int T, const float *kp, const float *vp, int S, const nn_heads *h,
                               float *out);
/* k, v [S, n_kv_heads · head_dim] into the panels of the above: per head
 * Kᵀ [head_dim, S] and V [S, head_dim] (kernels/panels.h), of
 * nn_cross_keys_floats and nn_cross_values_floats floats (64-byte aligned). */
size_t nn_cross_keys_floats(int S, const nn_heads *h);
size_t nn_cross_values_floats(int S, const nn_heads *h);
void nn_cross_keys(const float *k, int S, const nn_heads *h, float *out);
void nn_cross_values(const float *v, int S, const nn_heads *h, float *out);
/* scores[T, S] = q[t, head] · k[s, head] · scale for one query head over
 * keys in panels (nn_cross_keys): the raw cross-attention scores (before
 * the softmax) that Whisper's word alignment reads. */
void nn_attention_head_scores(loam_nn *nn, const float *q, int T, const float *kp, int S, const nn_heads *h, int head,
                              float *scores);

/* Causal without a cache (CLIP's text encoder): row t sees keys s ≤ t + S − T. */
void nn_attention_masked(loam_nn *nn, const float *q, int T, const float *k, const float *v, int S, const nn_heads *h,
                         float *out);

/* ------------------------------------------------------------ elementwise */

/* y[n] += x[n] */
void nn_add(float *y, const float *x, size_t n);
/* y[n] += a[n] + b[n]  (a parallel block's two branches, summed first) */
void nn_add2(float *y, const float *a, const float *b, size_t n);
/* x[n] = clamp(x[n], −lim, lim) */
void nn_clamp(float *x, size_t n, float lim);
/* x[T, C] *= s */
void nn_scale(float *x, size_t n, float s);

#endif
