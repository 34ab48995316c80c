/* What ggml's block formats share between dequantization, quantization and
 * the int8 kernels, defined once: the packed sub-block scales of the
 * K-quants, and IQ4_NL's table. */
#ifndef LOAM_KERNELS_KSCALES_H
#define LOAM_KERNELS_KSCALES_H
#include <stdint.h>
#include <string.h>

/* IQ4_NL: each 4-bit index selects one of these 16 signed values. */
static const int8_t loam_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K
 * super-block, from its 12 packed bytes. */
static inline void k_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* The 16 signed 6-bit sub-block scales of a Q3_K super-block (12 bytes:
 * low nibbles in bytes 0-7, two high bits each in bytes 8-11), minus 32. */
static inline void q3_k_scales(const uint8_t *packed, int8_t *scales) {
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
    aux[3] = ((aux[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
    aux[0] = (aux[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
    aux[1] = (aux[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
    memcpy(scales, aux, 16);
    for (int k = 0; k < 16; k++) scales[k] = (int8_t)(scales[k] - 32);
}

#endif
