/* A fixed f32 matrix B [K, N] kept in the layout the blocked float
 * products read, so products with it need no packing per call: 16-column
 * panels, each [K][16] contiguous, panel p holding columns 16p .. 16p+15
 * (zero past N):
 *
 *   panels[(p · K + k) · 16 + c] = B[k, 16p + c]
 *
 * One AVX2 tile reads one panel, an AVX-512 tile four side by side. For
 * what is multiplied many times by short row blocks: cross-attention's
 * keys (B = Kᵀ, [head_dim, S]) and values (B = V, [S, head_dim]), read at
 * every decoder step. The products: the kernel table's gemm_panels. */
#ifndef LOAM_KERNELS_PANELS_H
#define LOAM_KERNELS_PANELS_H
#include <stddef.h>

enum {
    LOAM_PANEL_COLS = 16,
    LOAM_PANEL_SLAB = 256, /* rows of K a SIMD product takes at a time: four panels' slab, 64 KiB, stays in L2 */
};

/* Floats of the panels of a [K, N] matrix (N rounded up to 16). */
static inline size_t loam_panels_floats(int K, int N) {
    return (size_t)K * (size_t)((N + LOAM_PANEL_COLS - 1) / LOAM_PANEL_COLS) * LOAM_PANEL_COLS;
}

/* B[k, n] = scale · b[k · sk + n · sn] into panels (loam_panels_floats(K,
 * N) floats): sk = N, sn = 1 for a row-major B, sk = 1, sn = K for Bᵀ
 * stored row-major (keys [S, head_dim] as B = Kᵀ; attention's 1/√d can
 * ride along, instead of a pass over the queries). */
void loam_panels_pack(const float *b, size_t sk, size_t sn, int K, int N, float scale, float *out);

/* The scalar reference of gemm_panels: y[t, n] = sum_k x[t, k] B[k, n]
 * for t < T, n < N, k < K of panels packed with panel_k >= K rows; rows of
 * x ldx floats apart, of y ldy. */
void loam_gemm_panels_scalar(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy);
#endif
