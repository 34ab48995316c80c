/* Repacking into strips (strips.h) and the reference product on them. */
#include "kernels/strips.h"

#include <string.h>

#include "core/fp16.h"

int loam_strip_supports(loam_type t, int64_t N, int64_t K) {
    return t == LOAM_T_Q4_0 && N > 0 && K > 0 && K % 32 == 0 && K <= ((int64_t)1 << 30) && N <= ((int64_t)1 << 30);
}

size_t loam_strip_bytes(int64_t K) { return (size_t)((K / 32 + 1) / 2) * LOAM_STRIP_PAIR_BYTES; }
size_t loam_strips_size(int64_t N, int64_t K) { return (size_t)((N + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS) * loam_strip_bytes(K); }

/* Where block i of strip s starts: its scales (16 halves) and its 4 vectors. */
static uint8_t *block_scales(uint8_t *strip, int64_t i) { return strip + (size_t)(i / 2) * LOAM_STRIP_PAIR_BYTES + 32 * (size_t)(i % 2); }
static uint8_t *block_vectors(uint8_t *strip, int64_t i) {
    return strip + (size_t)(i / 2) * LOAM_STRIP_PAIR_BYTES + 64 + 256 * (size_t)(i % 2);
}

/* One Q4_0 block (d, qs[16]: element j < 16 the low nibble of qs[j], j + 16
 * its high nibble) of row c into its strip's block. */
static void pack_q4_0_block(const uint8_t *b, int c, uint8_t *scales, uint8_t *vectors) {
    memcpy(scales + 2 * c, b, 2);
    const uint8_t *qs = b + 2;
    for (int v = 0; v < 4; v++)
        for (int e = 0; e < 4; e++) {
            /* elements 8v + e and 8v + 4 + e: low nibbles of qs for v < 2, high ones after */
            int j = 8 * (v % 2) + e;
            uint8_t lo = v < 2 ? qs[j] & 15 : qs[j] >> 4, hi = v < 2 ? qs[j + 4] & 15 : qs[j + 4] >> 4;
            vectors[64 * v + 4 * c + e] = (uint8_t)(lo | hi << 4);
        }
}

void loam_strip_pack(loam_type t, const void *w, int64_t N, int64_t K, int64_t n0, int64_t n1, void *out) {
    if (t != LOAM_T_Q4_0) return;
    int64_t nb = K / 32;
    size_t row_bytes = loam_row_bytes(t, K), sb = loam_strip_bytes(K);
    int64_t s0 = n0 / LOAM_STRIP_ROWS, s1 = (n1 + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS;
    for (int64_t s = s0; s < s1; s++) {
        uint8_t *strip = (uint8_t *)out + (size_t)s * sb;
        memset(strip, 0, sb); /* rows past N, the odd last half-pair */
        for (int c = 0; c < LOAM_STRIP_ROWS && s * LOAM_STRIP_ROWS + c < N; c++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)(s * LOAM_STRIP_ROWS + c) * row_bytes;
            for (int64_t i = 0; i < nb; i++) pack_q4_0_block(row + (size_t)i * 18, c, block_scales(strip, i), block_vectors(strip, i));
        }
    }
}

/* Element j of row c in block i of a strip: the unsigned nibble. */
static int strip_nibble(const uint8_t *strip, int64_t i, int c, int j) {
    const uint8_t *vectors = block_vectors((uint8_t *)strip, i);
    int v = j / 8, e = j % 4;
    uint8_t byte = vectors[64 * v + 4 * c + e];
    return j % 8 < 4 ? byte & 15 : byte >> 4;
}

void loam_strip_matmul_ref(const loam_act_block *x, int T, int K, const void *strips, int n0, int n1, float *y, int ldy) {
    int nb = K / 32;
    size_t sb = loam_strip_bytes(K);
    for (int t = 0; t < T; t++)
        for (int n = n0; n < n1; n++) {
            const uint8_t *strip = (const uint8_t *)strips + (size_t)(n / LOAM_STRIP_ROWS) * sb;
            int c = n % LOAM_STRIP_ROWS;
            float sum = 0;
            for (int i = 0; i < nb; i++) {
                const loam_act_block *a = &x[(size_t)t * nb + i];
                int32_t isum = 0;
                for (int j = 0; j < 32; j++) isum += (strip_nibble(strip, i, c, j) - 8) * a->q[j];
                uint16_t h;
                memcpy(&h, block_scales((uint8_t *)strip, i) + 2 * c, 2);
                sum += loam_f16_to_f32(h) * a->d * (float)isum;
            }
            y[(size_t)t * ldy + n] = sum;
        }
}
