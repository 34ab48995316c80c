/* A 16 × 16 transpose of 32-bit elements in zmm registers (AVX-512F),
 * for the blocked products' strip packing: 16 weight rows read along the
 * row, out as 16 rows of [16 columns]. Static inline: included by files
 * built with -mavx512f. */
#ifndef LOAM_KERNELS_TRANSPOSE16_H
#define LOAM_KERNELS_TRANSPOSE16_H
#include <immintrin.h>

/* r[i][j] -> r[j][i] for a 16 × 16 block of 32-bit elements (as floats) */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44), u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44), u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++)
            v[i + j] = _mm512_shuffle_f32x4(u[i + j], u[i + j + 4], 0x88), v[i + j + 4] = _mm512_shuffle_f32x4(u[i + j], u[i + j + 4], 0xDD);
    for (int j = 0; j < 8; j++) r[j] = _mm512_shuffle_f32x4(v[j], v[j + 8], 0x88), r[j + 8] = _mm512_shuffle_f32x4(v[j], v[j + 8], 0xDD);
}
#endif
