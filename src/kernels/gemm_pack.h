/* What the blocked int8 products of every SIMD level share: the strip
 * layout, its packing from any block type (through unpack32.h), the cache
 * blocking and the loops around the micro-kernel (GotoBLAS / BLIS):
 *
 *   for each panel of columns (whole strips):
 *     for each slab of K:
 *       pack the panel's strips (each weight unpacked once per product,
 *       from the stored blocks or, on VNNI, from the strips repacked at load)
 *       for each block of activation rows:
 *         for each strip:  for each group of MR rows:  micro-kernel
 *
 * A strip is `vec` × `nr` columns. Per 32-weight block it holds the 8
 * quads (4 weights each) as nr vectors of [vec columns][4 bytes], then the
 * block's scales dw[nsub][cols] and, for types with mins, mw[nsub][cols].
 * Columns past the matrix are zero weights with zero scales.
 *
 * Static inline, AVX2 + F16C: included by the kernel files built with them. */
#ifndef LOAM_KERNELS_GEMM_PACK_H
#define LOAM_KERNELS_GEMM_PACK_H
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/unpack32.h"

/* Every loop of a micro-kernel has constant bounds: unrolled, so that its
 * arrays of accumulators live in registers. */
#define GEMM_UNROLL _Pragma("GCC unroll 16")

/* How a panel holds the unpacked bytes u of unpack32.h */
enum {
    GEMM_BYTES_AS_IS,     /* u */
    GEMM_BYTES_SIGNED,    /* offset-128 types as signed bytes u - 128 with offset 0 (AVX2's sign trick); others u */
    GEMM_BYTES_BIASED128, /* u - o + 128 with offset 128, for every type (the VNNI product's float-read sums, qdot.h) */
};

typedef struct {
    loam_unpack_shape shape; /* offset and umax of the bytes as the panel holds them */
    int vec, nr;   /* columns per vector, vectors per strip */
    int signed_w;  /* GEMM_BYTES_SIGNED on an offset-128 type */
    uint8_t shift; /* added (mod 256) to each u as it goes into the panel */
    size_t block_bytes;
} gemm_format;

static inline int gemm_strip_cols(const gemm_format *f) { return f->vec * f->nr; }
static inline size_t gemm_quad_bytes(const gemm_format *f) { return (size_t)32 * (size_t)gemm_strip_cols(f); }
static inline int gemm_nsub(const gemm_format *f) { return f->shape.sub16 ? 2 : 1; }

static inline int gemm_format_for(loam_type t, int vec, int nr, int bytes, gemm_format *f) {
    if (!loam_unpack_shape_of(t, &f->shape)) return 0;
    f->vec = vec, f->nr = nr, f->shift = 0;
    f->signed_w = bytes == GEMM_BYTES_SIGNED && f->shape.offset == 128;
    if (f->signed_w) f->shape.offset = 0, f->shape.umax = 128, f->shift = 0x80; /* |u - 128| */
    if (bytes == GEMM_BYTES_BIASED128) {
        f->shift = (uint8_t)(128 - f->shape.offset);
        f->shape.umax += 128 - f->shape.offset, f->shape.offset = 128;
    }
    f->block_bytes = gemm_quad_bytes(f) + (size_t)gemm_nsub(f) * (f->shape.has_min ? 2 : 1) * (size_t)gemm_strip_cols(f) * 4;
    return 1;
}

/* 8 columns' 32 bytes (8 dwords each: its quads) to 8 quads of [8 columns][4 bytes] */
static inline void gemm_transpose8x8(const uint8_t *in, size_t in_stride, uint8_t *out, size_t out_stride) {
    __m256i r[8], t[8], s[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_load_si256((const __m256i *)(in + (size_t)i * in_stride));
    for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);     /* quads 0 | 4 of 4 columns */
        s[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]); /* 1 | 5 */
        s[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]); /* 2 | 6 */
        s[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]); /* 3 | 7 */
    }
    for (int q = 0; q < 4; q++) {
        _mm256_store_si256((__m256i *)(out + (size_t)q * out_stride), _mm256_permute2x128_si256(s[q], s[q + 4], 0x20));
        _mm256_store_si256((__m256i *)(out + (size_t)(q + 4) * out_stride), _mm256_permute2x128_si256(s[q], s[q + 4], 0x31));
    }
}

/* Columns c0 .. c0+ncols and blocks b0 .. b0+nblk of W into one strip,
 * through `scratch` (nblk × the strip's columns × 32 bytes): each weight
 * row is unpacked from start to end first, so that it streams from memory
 * in order, then each block's columns are transposed into quads. */
static inline void gemm_pack_strip(const gemm_format *f, loam_type t, const uint8_t *w, size_t row_bytes, int c0, int ncols,
                                   int b0, int nblk, uint8_t *scratch, uint8_t *out) {
    int cols = gemm_strip_cols(f), nsub = gemm_nsub(f);
    const __m256i shift = _mm256_set1_epi8((char)f->shift);
    for (int c = 0; c < cols; c++) {
        const uint8_t *row = w + (size_t)(c0 + c) * row_bytes;
        for (int i = 0; i < nblk; i++) {
            uint8_t *o = out + (size_t)i * f->block_bytes;
            float *dw = (float *)(o + gemm_quad_bytes(f)), *mw = dw + nsub * cols;
            float d2[2] = {0, 0}, m2[2] = {0, 0};
            __m256i v = _mm256_setzero_si256();
            if (c < ncols) v = _mm256_add_epi8(loam_unpack32(t, row, b0 + i, d2, m2), shift);
            _mm256_store_si256((__m256i *)(scratch + ((size_t)i * cols + c) * 32), v);
            for (int h = 0; h < nsub; h++) {
                dw[h * cols + c] = d2[h];
                if (f->shape.has_min) mw[h * cols + c] = m2[h];
            }
        }
    }
    /* quad q of vector v: bytes 4q..4q+3 of its columns, 8 columns at a time */
    for (int i = 0; i < nblk; i++)
        for (int g = 0; g < cols / 8; g++) {
            int v = g / (f->vec / 8), part = g % (f->vec / 8);
            gemm_transpose8x8(scratch + ((size_t)i * cols + 8 * g) * 32, 32,
                              out + (size_t)i * f->block_bytes + (size_t)v * f->vec * 4 + 32 * part, (size_t)f->nr * f->vec * 4);
        }
}

/* The micro-kernel: mr rows × one strip over nblk blocks;
 * y = (accumulate ? y : 0) + x · strip (+ bias[n] when given: the last
 * slab adds it while the tile is in registers) for the first ncols columns. */
typedef void (*gemm_tile_fn)(int offset, const uint8_t *strip, size_t block_bytes, int nblk, const loam_act_block *x,
                             int nb, float *y, int ldy, int ncols, int accumulate, const float *bias);

/* A gemm_tile_fn `name` over a file's inline tile(rows, sub16, has_min,
 * offset, ...), its loops then unrolled for one (scale layout, mins, rows). */
#define GEMM_TILE_FN(name, SUB16, MIN, ROWS)                                                                              \
    static void name(int offset, const uint8_t *strip, size_t sbb, int nblk, const loam_act_block *x, int nb, float *y,  \
                     int ldy, int ncols, int accumulate, const float *bias) {                                            \
        tile(ROWS, SUB16, MIN, offset, strip, sbb, nblk, x, nb, y, ldy, ncols, accumulate, bias);                        \
    }

/* An accumulator's start (qdot.h: fstart) broadcast from its activation
 * block into a `vtype` (__m512i or __m256i): a load, with no execution
 * port. One asm per accumulator (`which` makes them differ), so that the
 * compiler loads it for each rather than once per row and copies it: a
 * copy takes a port vpdpbusd needs. */
#define GEMM_STARTED(vtype, start, which)                                                                                 \
    __extension__({                                                                                                       \
        vtype z_;                                                                                                         \
        __asm__("vpbroadcastd %1, %0 # %2" : "=v"(z_) : "m"(*(start)), "i"(which));                                   \
        z_;                                                                                                               \
    })

/* Weights repacked at load into strips of 16 rows (strips.h), a source of panels. */
typedef struct {
    loam_type type;
    const uint8_t *strips;
    size_t strip_bytes;
} gemm_strips;

/* The activation sum of half h of a block (or of all of it). */
static inline int32_t gemm_act_sum(const loam_act_block *a, int sub16, int h) {
    return !sub16 ? a->isum : h == 0 ? a->isum_lo : a->isum - a->isum_lo;
}

/* Slab, panel and row-block sizes: each a quarter of L2 (512 KiB where unknown).
 * (A strip sized for L1 was measured: on a Zen 4 the strip streams from L2
 * as fast, and the longer slab halves the tile's fixed costs, 8% more at
 * 512×2048×2048.) */
static inline void gemm_blocking(const loam_cache_info *c, const gemm_format *f, int nb, int T, int mr, int *kb,
                                 int *panel_strips, int *mc) {
    int64_t l2 = c && c->l2 > 0 ? c->l2 : 512 << 10;
    int64_t k = (l2 / 4) / (int64_t)f->block_bytes;
    *kb = k < 1 ? 1 : k > nb ? nb : (int)k;
    int64_t p = (l2 / 4) / ((int64_t)*kb * (int64_t)f->block_bytes);
    *panel_strips = p < 1 ? 1 : p > 64 ? 64 : (int)p;
    int64_t m = (l2 / 4) / ((int64_t)*kb * (int64_t)sizeof(loam_act_block)) / mr * mr;
    *mc = m < mr ? mr : m > T ? T : (int)m;
}

/* Where a product's weight panels come from: pack(f, source, c0, ncols, b0,
 * nblk, scratch, out) writes columns c0 .. c0+ncols and blocks b0 ..
 * b0+nblk into one strip (scratch: nblk × the strip's columns × 32 bytes). */
typedef void (*gemm_pack_fn)(const gemm_format *f, const void *source, int c0, int ncols, int b0, int nblk,
                             uint8_t *scratch, uint8_t *out);

/* Weights as stored (ggml blocks, rows `row_bytes` apart). */
typedef struct {
    loam_type type;
    const uint8_t *w;
    size_t row_bytes;
} gemm_stored;

static inline void gemm_pack_stored(const gemm_format *f, const void *source, int c0, int ncols, int b0, int nblk,
                                    uint8_t *scratch, uint8_t *out) {
    const gemm_stored *s = source;
    gemm_pack_strip(f, s->type, s->w, s->row_bytes, c0, ncols, b0, nblk, scratch, out);
}

/* The whole product over tiles[mr - 1] (mr = 1 .. MR), its panels packed
 * by `pack` from `source`, plus the bias (may be NULL), which the tiles of
 * the last slab add; 0 when out of memory for the panel (nothing written). */
static inline int gemm_run(const gemm_format *f, const gemm_tile_fn *tiles, int MR, const loam_cache_info *caches,
                           const loam_act_block *x, int T, int K, gemm_pack_fn pack, const void *source, int n0, int n1,
                           float *y, int ldy, const float *bias) {
    int nb = K / 32, kb, panel_strips, mc, cols = gemm_strip_cols(f);
    gemm_blocking(caches, f, nb, T, MR, &kb, &panel_strips, &mc);
    int needed = (n1 - n0 + cols - 1) / cols; /* a pool task may take a single strip: no bigger panel */
    if (needed >= 1 && needed < panel_strips) panel_strips = needed;
    size_t panel_bytes = (size_t)panel_strips * (size_t)kb * f->block_bytes, scratch_bytes = (size_t)kb * cols * 32;
    uint8_t *panel = aligned_alloc(64, panel_bytes + scratch_bytes);
    if (!panel) return 0;
    uint8_t *scratch = panel + panel_bytes;
    for (int jc = n0; jc < n1; jc += panel_strips * cols) {
        int strips = (n1 - jc + cols - 1) / cols;
        strips = strips > panel_strips ? panel_strips : strips;
        for (int pc = 0; pc < nb; pc += kb) {
            int nblk = nb - pc < kb ? nb - pc : kb;
            size_t strip_bytes = (size_t)nblk * f->block_bytes;
            for (int j = 0; j < strips; j++) {
                int c0 = jc + j * cols;
                pack(f, source, c0, n1 - c0 < cols ? n1 - c0 : cols, pc, nblk, scratch, panel + (size_t)j * strip_bytes);
            }
            for (int ic = 0; ic < T; ic += mc) {
                int t1 = ic + mc < T ? ic + mc : T;
                for (int j = 0; j < strips; j++) {
                    int c0 = jc + j * cols, ncols = n1 - c0 < cols ? n1 - c0 : cols;
                    const float *b = bias && pc + nblk == nb ? bias + c0 : NULL;
                    for (int t = ic; t < t1; t += MR) {
                        int mr = t1 - t < MR ? t1 - t : MR;
                        tiles[mr - 1](f->shape.offset, panel + (size_t)j * strip_bytes, f->block_bytes, nblk,
                                      x + (size_t)t * nb + pc, nb, y + (size_t)t * ldy + c0, ldy, ncols, pc > 0, b);
                    }
                }
            }
        }
    }
    free(panel);
    return 1;
}

#endif
