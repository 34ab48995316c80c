/* The hot loops. Each SIMD level (scalar, AVX2, AVX-512) provides the same
 * table of functions; the scalar one is the reference the others are tested
 * against. The level is chosen at run time from CPUID (and may be lowered
 * with LOAM_SIMD=scalar|avx2|avx512 or the model params). */
#ifndef LOAM_KERNELS_H
#define LOAM_KERNELS_H
#include <stddef.h>

#include "core/tensor.h"
#include "kernels/qdot.h"

/* Activations of the form x·σ(s(x)), by their s (see sigmoid_act). */
typedef enum {
    LOAM_SIG_GELU_TANH,  /* s = 2√(2/π)(x + 0.044715x³): ½x(1 + tanh(√(2/π)(x + 0.044715x³))) */
    LOAM_SIG_QUICK_GELU, /* s = 1.702x */
} loam_sigmoid_kind;

/* s(x) of a loam_sigmoid_kind, for the scalar loop and the tests. */
static inline float loam_sigmoid_arg(loam_sigmoid_kind kind, float x) {
    return kind == LOAM_SIG_GELU_TANH ? 1.5957691216057308f * (x + 0.044715f * x * x * x) : 1.702f * x;
}

/* The data caches of one core: their sizes in bytes (0: unknown), for block
 * sizes, and whether the kernels that stream weights from memory (decode)
 * prefetch them in software (loam_cpu_prefers_prefetch): 0 leaves it to the
 * hardware prefetchers, which keep up better alone on some CPUs. */
typedef struct loam_cache_info {
    int64_t l1d, l2;
    int prefetch;
} loam_cache_info;

/* Whether a kernel given these caches prefetches in software: yes where no
 * caches are given (the kernels' tuning before the choice existed). */
static inline int loam_caches_prefetch(const loam_cache_info *caches) { return caches ? caches->prefetch : 1; }

/* Whether one activation row of K floats meets LOAM_ROWS_SIDE float weight
 * rows side by side (rows_side.h) rather than one row at a time: where the
 * core leaves prefetching to the hardware and the row takes more than half
 * of L1d, so that the weights streaming through L1 would evict it while
 * one weight row is read. */
#define LOAM_ROWS_SIDE 8

static inline int loam_rows_side(const loam_cache_info *caches, int K) {
    return caches && !caches->prefetch && (int64_t)K * (int64_t)sizeof(float) > caches->l1d / 2;
}

/* How the float tiles (2..6 activation rows against 3-4 weight rows, where
 * each weight line feeds many FMAs) prefetch on their first pass over the
 * weights: along the rows into L1 where the core prefetches in software
 * (as the one-row kernel does), else the next tile's rows into L2, since
 * the hardware's stream prefetch does not run far enough ahead of a
 * compute-bound reader (measured in matmul_avx512.c). Later passes find
 * them in cache. */
typedef enum { LOAM_TILE_AHEAD_NONE, LOAM_TILE_AHEAD_ALONG, LOAM_TILE_AHEAD_NEXT } loam_tile_ahead;
static inline loam_tile_ahead loam_tile_prefetch(int pf, int first_pass) {
    return !first_pass ? LOAM_TILE_AHEAD_NONE : pf ? LOAM_TILE_AHEAD_ALONG : LOAM_TILE_AHEAD_NEXT;
}

typedef struct loam_kernels {
    const char *name;
    loam_simd level;
    /* y[t*ldy + n] = sum_k x[t*K + k] * W[n, k]  for t < T, n0 <= n < n1.
     * W is row-major [N, K] in wtype (F32, F16 or BF16), converted on the
     * fly; x and y are f32. Accumulation in f32. */
    void (*matmul)(const loam_cache_info *caches, const float *x, int T, int K, const void *w, loam_type wtype, int n0,
                   int n1, float *y, int ldy);
    /* The same for block-quantized weights with activations already
     * quantized to int8 blocks (loam_quantize_act_row): integer dot
     * products on the packed weights. */
    void (*matmul_q8)(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                      loam_type wtype, int n0, int n1, float *y, int ldy);
    /* The same product blocked for many rows (prefill): weight panels
     * unpacked once into the micro-kernel's layout, block sizes from the
     * caches. NULL where the level has none; matmul_q8 is then used. */
    /* matmul blocked for many rows, for F32, F16 and BF16 weights: weight
     * strips converted to f32 once per slab. NULL where the level has none.
     * Rows of x are ldx floats apart and rows of W ldw elements apart (K
     * for whole matrices; wider for attention's tiles inside a buffer). */
    void (*gemm_f)(const loam_cache_info *caches, const float *x, int ldx, int T, int K, const void *w, int ldw,
                   loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
    /* y[t, n] = sum_k x[t, k] B[k, n] for t < T, n < N, k < K, with the
     * f32 B already in 16-column panels of panel_k >= K rows
     * (kernels/panels.h; the first K rows are read): no packing per call.
     * Rows of x ldx floats apart, of y ldy; y is overwritten. Panel
     * buffers 64-byte aligned. */
    void (*gemm_panels)(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy);
    /* One row of k (a multiple of 32) floats to int8 blocks, bit-identical
     * to loam_quantize_act_row (the reference, and the scalar entry). */
    void (*quantize_act)(const float *x, int k, loam_act_block *out);
    /* The blocked products (gemm_f, gemm_q8) add bias[n] (NULL: none) to
     * each output block while it is still in cache: a separate pass over a
     * prompt's output would read it back from memory. */
    void (*gemm_q8)(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w, loam_type wtype,
                    int n0, int n1, float *y, int ldy, const float *bias);
    /* The int8 product, bias included, on weights repacked at load into
     * strips of 16 rows (kernels/strips.h; n0 a multiple of 16): one
     * micro-kernel for every row count. NULL where the level has none: the
     * weights then stay as stored. */
    void (*strip_matmul)(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                         loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
    /* Attention over the KV cache in its storage type (indexed by
     * loam_kv_type: f32, f16, q8_0), rows `stride` bytes apart, each row
     * pointer at the head's first value:
     *   scores[p] = sum_i q[i] K_p[i]   and   out[i] = sum_p w[p] V_p[i]   (p < n)
     * out is overwritten. The chunk of q, or of out, stays in registers
     * while the rows stream past. Q8_0 needs hd a multiple of 32. */
    void (*attn_scores[3])(const float *q, const uint8_t *k, size_t stride, int n, int hd, float *scores);
    void (*attn_mix[3])(const float *w, const uint8_t *v, size_t stride, int n, int hd, float *out);
    /* s[p] = exp(s[p] - max) for p < n; returns the sum. The SIMD versions use
     * a polynomial exp within 2 ulp of expf. */
    double (*softmax_exp)(float *s, int n, float max);
    /* a[i] *= silu(g[i]) = g / (1 + exp(-g)) for i < n (SwiGLU), a may be g;
     * the SIMD versions through the same polynomial exp, within 4 ulp. */
    void (*silu_gate)(float *a, const float *g, size_t n);
    /* f(x) = x·σ(s(x)) = x / (1 + exp(-s(x))) for i < n: a[i] = f(a[i]) when
     * g is NULL, else a[i] *= f(g[i]) (GeGLU). The SIMD versions through the
     * same polynomial exp, within 4 ulp of the scalar. */
    void (*sigmoid_act)(loam_sigmoid_kind kind, float *a, const float *g, size_t n);
    /* GELU, f(x) = ½x(1 + erf(x/√2)), for i < n: a[i] = f(a[i]) when g is
     * NULL, else a[i] *= f(g[i]). The scalar as written (erff); the SIMD
     * versions as ½x·erfc(-x/√2) through a polynomial exp and erfc, within
     * 8 ulp of the definition computed in double, where the scalar's
     * 1 + erf cancels for x < 0 (the tests). */
    void (*gelu_act)(float *a, const float *g, size_t n);
} loam_kernels;

/* The kernels for a requested level: AUTO is the best this CPU runs, or
 * the LOAM_SIMD environment variable's when set; an error names a bad
 * LOAM_SIMD or a level the CPU cannot run. */
loam_status loam_kernels_choose(loam_simd requested, const loam_kernels **out, loam_error *err);
/* The table for a level, or NULL when this CPU (or build) cannot run it. */
const loam_kernels *loam_kernels_for(loam_simd level);
/* The best level this CPU runs. */
loam_simd loam_simd_best(void);
const char *loam_simd_name(loam_simd level);
/* Parses "scalar", "avx2", "avx512"; returns 0 on an unknown name. */
int loam_simd_parse(const char *name, loam_simd *out);
/* Whether the matmul kernels take this weight type. */
int loam_kernels_supports(loam_type wtype);

extern const loam_kernels loam_kernels_scalar;
#if defined(__x86_64__)
extern const loam_kernels loam_kernels_avx2;
extern const loam_kernels loam_kernels_avx2_vnni; /* AVX2 with AVX-VNNI's strip kernel */
extern const loam_kernels loam_kernels_avx512;
extern const loam_kernels loam_kernels_avx512_vnni;
void loam_qmatmul_avx2(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w, loam_type wtype,
                       int n0, int n1, float *y, int ldy);
void loam_qmatmul_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w, loam_type wtype,
                       int n0, int n1, float *y, int ldy);
void loam_quantize_act_row_avx2(const float *x, int k, loam_act_block *out);
void loam_quantize_act_row_avx512(const float *x, int k, loam_act_block *out);
void loam_gemm_f_avx2(const loam_cache_info *caches, const float *x, int ldx, int T, int K, const void *w, int ldw,
                      loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_gemm_panels_avx2(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy);
void loam_gemm_panels_avx512(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy);
void loam_gemm_f_avx512(const loam_cache_info *caches, const float *x, int ldx, int T, int K, const void *w, int ldw,
                        loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_gemm_q8_avx2(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
/* The avx2 level's gemm_q8 where CPUID has AVX-VNNI: from
 * LOAM_INT8_PANEL_MIN_ROWS rows gemm_avxvnni.c's tile on panels packed from
 * the stored blocks (the tile its strip product uses, so both layouts
 * agree), below that loam_gemm_q8_avx2. */
void loam_gemm_q8_avxvnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                          loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_gemm_q8_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *w,
                       loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_strip_matmul_avx2(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                            loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_strip_matmul_avxvnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                               loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
void loam_strip_matmul_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                            loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
/* The same through gemm_vnni.c's panels, unpacked from the strips; 0 (nothing
 * written) when out of memory for a panel. */
int loam_gemm_strips_vnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                          loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
/* The int8 products on strips (and, on AVX-VNNI, on stored blocks) go
 * through panels from this many rows; fewer rows use the row kernels. */
#define LOAM_INT8_PANEL_MIN_ROWS 32
/* The same with AVX-VNNI on ymm (gemm_avxvnni.c). */
int loam_gemm_strips_avxvnni(const loam_cache_info *caches, const loam_act_block *x, int T, int K, const void *strips,
                             loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias);
/* y[t, n] += bias[n] for t < T, n0 <= n < n1 (bias may be NULL). */
void loam_add_bias(float *y, int ldy, int T, const float *bias, int n0, int n1);

/* The row kernels (matmul, matmul_q8) take the weight rows in chunks of
 * about 256 KiB (the L2 of every x86 core since 2009), each chunk met by
 * every activation row while it is in cache: with the activation rows
 * outer, T rows read the whole matrix from memory once per group of rows.
 * A multiple of 4 rows (the widest group of weight rows a kernel takes). */
static inline int loam_chunk_rows(size_t row_bytes) {
    size_t n = ((size_t)256 << 10) / (row_bytes ? row_bytes : 1);
    return n < 4 ? 4 : (int)(n / 4 * 4);
}
/* bytes per weight of the float row kernels' types, by their macro suffix */
enum { LOAM_ESIZE_f32 = 4, LOAM_ESIZE_bf16 = 2, LOAM_ESIZE_f16 = 2 };
#endif
/* Whether this CPU has AVX512-VNNI. */
int loam_cpu_has_vnni(void);
/* Whether this CPU has AVX-VNNI (vpdpbusd on ymm, VEX-encoded) and AVX2. */
int loam_cpu_has_avxvnni(void);

/* The opt-in rounded-activation path for BF16 weights: x is [T, K] already
 * rounded to bf16 (loam_f32_to_bf16), W is [N, K] bf16; y as in matmul,
 * products of the bf16 values accumulated in f32. Not exact: it is only
 * used when asked for (loam_model_params.bf16_dot). */
typedef void (*loam_bf16dot_fn)(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                                float *y, int ldy);
void loam_matmul_bf16dot_scalar(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                                float *y, int ldy);
/* From this many rows the AVX-512 kernel runs the blocked product (strips
 * of 64 columns packed to fit L2, a 6 × 64 tile; caches may be NULL: 512
 * KiB of L2 assumed), below it one weight row at a time against up to 6
 * activation rows. */
enum { LOAM_BF16DOT_BLOCKED_ROWS = 16 };
#if defined(__x86_64__)
void loam_matmul_bf16dot_avx512(const loam_cache_info *caches, const uint16_t *x, int T, int K, const uint16_t *w, int n0, int n1,
                                float *y, int ldy);
#endif
/* Whether this CPU has AVX512-BF16 (and the AVX-512 level). */
int loam_cpu_has_avx512bf16(void);
/* The AVX512-BF16 kernel when this CPU has it and `level` (AUTO or
 * AVX512) allows it, else NULL: the caller keeps the exact path. */
loam_bf16dot_fn loam_bf16dot_for(loam_simd level);

/* One row of a weight/embedding matrix converted to f32 (reference code,
 * not hot). */
void loam_row_to_f32(const void *w, loam_type wtype, int64_t row, int K, float *out);

#endif
