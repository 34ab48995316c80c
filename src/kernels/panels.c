/* The panel layout's packer and its scalar product (panels.h). */
#include "kernels/panels.h"

void loam_panels_pack(const float *b, size_t sk, size_t sn, int K, int N, float scale, float *out) {
    int np = (N + LOAM_PANEL_COLS - 1) / LOAM_PANEL_COLS;
    for (int p = 0; p < np; p++)
        for (int k = 0; k < K; k++) {
            float *row = out + ((size_t)p * (size_t)K + (size_t)k) * LOAM_PANEL_COLS;
            for (int c = 0; c < LOAM_PANEL_COLS; c++) {
                int n = p * LOAM_PANEL_COLS + c;
                row[c] = n < N ? b[(size_t)k * sk + (size_t)n * sn] * scale : 0.0f;
            }
        }
}

void loam_gemm_panels_scalar(const float *x, int ldx, int T, int K, const float *panels, int panel_k, int N, float *y, int ldy) {
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            const float *col = panels + (size_t)(n / LOAM_PANEL_COLS) * (size_t)panel_k * LOAM_PANEL_COLS + n % LOAM_PANEL_COLS;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += x[(size_t)t * ldx + k] * col[(size_t)k * LOAM_PANEL_COLS];
            y[(size_t)t * ldy + n] = s;
        }
}
