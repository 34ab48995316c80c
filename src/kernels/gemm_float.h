/* The loops of the blocked f32 product (gemm_float_avx512.c,
 * gemm_float_avx2.c), shared: only the strip packing and the register
 * tiles differ between the SIMD levels.
 *
 *   y[t, n] = sum_k x[t, k] W[n, k] (+ bias[n])    t < T, n0 <= n < n1
 *
 * For each strip of `cols` weight columns and slab of K: pack the strip
 * (f32, [kc][cols]) once, then run every activation row of a block against
 * it, MR rows at a time. The strip's slab and the activation rows' slab
 * each fit a quarter of L2 (read at run time). Without memory for a strip,
 * the level's row-dot kernel, which needs none, one weight row at a time. */
#ifndef LOAM_KERNELS_GEMM_FLOAT_H
#define LOAM_KERNELS_GEMM_FLOAT_H
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/panels.h"

typedef void (*gemm_f_pack_fn)(loam_type t, const void *w, int ldw, int c0, int ncols, int k0, int kc, float *out);
/* mr rows (the function's own) × one strip over kc: y = (accumulate ? y : 0) + x · strip */
typedef void (*gemm_f_tile_fn)(const float *strip, int kc, const float *x, int ldx, float *y, int ldy, int ncols, int accumulate);
/* The same over B in 16-column panels (panels.h): panel at the tile's first
 * panel, the next ones panel_floats apart; columns past ncols not stored. */
typedef void (*gemm_panel_tile_fn)(const float *panel, size_t panel_floats, int kc, const float *x, int ldx, float *y, int ldy,
                                   int ncols, int accumulate);
typedef void (*gemm_f_rowdot_fn)(const loam_cache_info *caches, const float *x, int T, int K, const void *w, loam_type wtype,
                                 int n0, int n1, float *y, int ldy);

typedef struct {
    int mr, cols;              /* rows and columns of the largest tile */
    gemm_f_pack_fn pack;
    const gemm_f_tile_fn *tiles; /* [mr]: tiles[r - 1] runs r rows */
    const gemm_panel_tile_fn *panel_tiles; /* the same on panels */
    gemm_f_rowdot_fn row_dot;
} gemm_f_level;

/* The weight rows the next pack reads (rows r0.., bytes k0.. of each),
 * fetched into L2 a part at a time while the tiles of the current strip
 * run: the pack then reads L2 instead of waiting on memory for each line
 * (F16 weights are read once per product, 2 bytes a weight). Intel Xeon
 * 6/207, 1B F16 pp512, 2 threads, four alternated rounds: 165-172 -> 174-176
 * t/s, 77-80% -> 80-82% of the FMA loop's reading. */
typedef struct {
    const char *w;
    size_t row_stride, k_byte0, k_bytes;
    int r0, rows;
} gemm_f_ahead;

static inline gemm_f_ahead gemm_f_next_pack(const void *w, int ldw, size_t esize, int c0, int ncols, int k0, int kn) {
    gemm_f_ahead a = {(const char *)w, (size_t)ldw * esize, (size_t)k0 * esize, (size_t)kn * esize, c0, ncols};
    return a;
}

static inline void gemm_f_prefetch_part(const gemm_f_ahead *a, int part, int parts) {
    if (a->rows <= 0 || parts <= 0) return;
    size_t per_row = (a->k_bytes + 63) / 64, lines = per_row * (size_t)a->rows;
    size_t l0 = lines * (size_t)part / (size_t)parts, l1 = lines * (size_t)(part + 1) / (size_t)parts;
    for (size_t l = l0; l < l1; l++) {
        size_t r = l / per_row, b = (l % per_row) * 64;
        _mm_prefetch(a->w + (size_t)(a->r0 + (int)r) * a->row_stride + a->k_byte0 + b, _MM_HINT_T1);
    }
}

static inline void gemm_f_blocked(const gemm_f_level *lv, const loam_cache_info *caches, const float *x, int ldx, int T, int K,
                                  const void *w, int ldw, loam_type wtype, int n0, int n1, float *y, int ldy, const float *bias) {
    int64_t l2 = caches && caches->l2 > 0 ? caches->l2 : 512 << 10;
    int64_t kc64 = (l2 / 4) / (lv->cols * (int64_t)sizeof(float));
    int kc = kc64 < 16 ? 16 : kc64 > K ? K : (int)kc64;
    int64_t mc64 = (l2 / 4) / ((int64_t)kc * (int64_t)sizeof(float)) / lv->mr * lv->mr;
    int mc = mc64 < lv->mr ? lv->mr : mc64 > T ? T : (int)mc64;
    size_t esize = wtype == LOAM_T_F32 ? 4 : 2;
    float *strip = aligned_alloc(64, ((size_t)kc * (size_t)lv->cols * sizeof(float) + 63) / 64 * 64);
    if (!strip) {
        for (int t = 0; t < T; t++)
            for (int n = n0; n < n1; n++)
                lv->row_dot(caches, x + (size_t)t * ldx, 1, K, (const char *)w + (size_t)n * ldw * esize, wtype, 0, 1,
                            y + (size_t)t * ldy + n, ldy);
        loam_add_bias(y, ldy, T, bias, n0, n1);
        return;
    }
    int groups = (T + lv->mr - 1) / lv->mr; /* tile calls per strip slab */
    for (int c0 = n0; c0 < n1; c0 += lv->cols) {
        int ncols = n1 - c0 < lv->cols ? n1 - c0 : lv->cols;
        for (int k0 = 0; k0 < K; k0 += kc) {
            int kn = K - k0 < kc ? K - k0 : kc;
            lv->pack(wtype, w, ldw, c0, ncols, k0, kn, strip);
            /* the next pack: this strip's next slab, or the next strip's first */
            int nc0 = k0 + kn < K ? c0 : c0 + lv->cols, nk0 = k0 + kn < K ? k0 + kn : 0;
            int nncols = nc0 < n1 ? (n1 - nc0 < lv->cols ? n1 - nc0 : lv->cols) : 0, nkn = K - nk0 < kc ? K - nk0 : kc;
            gemm_f_ahead ahead = gemm_f_next_pack(w, ldw, esize, nc0, nncols, nk0, nkn);
            int group = 0;
            for (int ic = 0; ic < T; ic += mc) {
                int t1 = ic + mc < T ? ic + mc : T;
                for (int t = ic; t < t1; t += lv->mr) {
                    int mr = t1 - t < lv->mr ? t1 - t : lv->mr;
                    gemm_f_prefetch_part(&ahead, group++, groups);
                    lv->tiles[mr - 1](strip, kn, x + (size_t)t * ldx + k0, ldx, y + (size_t)t * ldy + c0, ldy, ncols, k0 > 0);
                }
                if (k0 + kn == K) loam_add_bias(y + (size_t)ic * ldy, ldy, t1 - ic, bias, c0, c0 + ncols);
            }
        }
    }
    free(strip);
}

/* gemm_panels: each `cols`-wide group of panels a slab of K at a time
 * (LOAM_PANEL_SLAB rows) against every row block; no packing. */
static inline void gemm_panels_blocked(const gemm_f_level *lv, const float *x, int ldx, int T, int K, const float *panels,
                                       int panel_k, int N, float *y, int ldy) {
    size_t panel_floats = (size_t)panel_k * LOAM_PANEL_COLS;
    for (int c0 = 0; c0 < N; c0 += lv->cols) {
        int ncols = N - c0 < lv->cols ? N - c0 : lv->cols;
        for (int k0 = 0; k0 < K || k0 == 0; k0 += LOAM_PANEL_SLAB) {
            int kn = K - k0 < LOAM_PANEL_SLAB ? K - k0 : LOAM_PANEL_SLAB;
            const float *panel = panels + (size_t)(c0 / LOAM_PANEL_COLS) * panel_floats + (size_t)k0 * LOAM_PANEL_COLS;
            for (int t = 0; t < T; t += lv->mr) {
                int mr = T - t < lv->mr ? T - t : lv->mr;
                lv->panel_tiles[mr - 1](panel, panel_floats, kn, x + (size_t)t * ldx + k0, ldx, y + (size_t)t * ldy + c0, ldy, ncols,
                                        k0 > 0);
            }
        }
    }
}
#endif
