/* The reference integer dot products, one weight type at a time, written
 * to be read: unpack a block's integers, multiply with the activation
 * integers, scale. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/kscales.h"

static float half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return loam_f16_to_f32(h);
}

void loam_quantize_act_row(const float *x, int k, loam_act_block *out) {
    for (int b = 0; b < k / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        int finite = 1;
        for (int j = 0; j < 32; j++) {
            float a = fabsf(xb[j]);
            finite &= a < LOAM_ACT_AMAX_LIMIT; /* false for inf and NaN */
            amax = a > amax ? a : amax;
        }
        if (!finite) { /* no integers can hold it: the block stays NaN, as float products would */
            loam_act_unrepresentable(&out[b]);
            continue;
        }
        float d = loam_act_scale(amax), id = d ? 1.0f / d : 0.0f;
        int32_t sum = 0, lo = 0;
        for (int j = 0; j < 32; j++) {
            int v = (int)nearbyintf(xb[j] * id); /* half to even (default rounding mode) */
            out[b].q[j] = (int8_t)v;
            sum += v;
            if (j == 15) lo = sum;
        }
        loam_act_finish(&out[b], d, sum, lo);
    }
}

int loam_qdot_supports(loam_type t, int k) {
    switch (t) {
    case LOAM_T_Q4_0: case LOAM_T_Q4_1: case LOAM_T_Q5_0: case LOAM_T_Q5_1: case LOAM_T_Q8_0: case LOAM_T_IQ4_NL:
        return k % 32 == 0;
    case LOAM_T_Q2_K: case LOAM_T_Q3_K: case LOAM_T_Q4_K: case LOAM_T_Q5_K: case LOAM_T_Q6_K:
        return k % 256 == 0;
    default: return 0;
    }
}

/* sum over 32 of w[j] * x.q[j] */
static int32_t idot32(const int8_t *w, const int8_t *x) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += (int32_t)w[j] * x[j];
    return s;
}

static int32_t idot16(const int8_t *w, const int8_t *x, int32_t *xsum) {
    int32_t s = 0, t = 0;
    for (int j = 0; j < 16; j++) s += (int32_t)w[j] * x[j], t += x[j];
    *xsum = t;
    return s;
}



float loam_qdot_ref(loam_type t, const void *w_row, const loam_act_block *x, int k) {
    const uint8_t *b = w_row;
    float sum = 0;
    int8_t w[256];
    switch (t) {
    case LOAM_T_Q4_0: case LOAM_T_Q4_1: case LOAM_T_Q5_0: case LOAM_T_Q5_1: case LOAM_T_Q8_0: case LOAM_T_IQ4_NL:
        for (int i = 0; i < k / 32; i++, x++) {
            float d = half(b), m = 0;
            switch (t) {
            case LOAM_T_Q4_0:
                for (int j = 0; j < 16; j++) w[j] = (int8_t)((b[2 + j] & 15) - 8), w[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
                b += 18;
                break;
            case LOAM_T_Q4_1:
                m = half(b + 2);
                for (int j = 0; j < 16; j++) w[j] = (int8_t)(b[4 + j] & 15), w[j + 16] = (int8_t)(b[4 + j] >> 4);
                b += 20;
                break;
            case LOAM_T_Q5_0:
            case LOAM_T_Q5_1: {
                int one = t == LOAM_T_Q5_1;
                if (one) m = half(b + 2);
                uint32_t qh;
                memcpy(&qh, b + 2 + 2 * one, 4);
                const uint8_t *qs = b + 6 + 2 * one;
                for (int j = 0; j < 16; j++) {
                    w[j] = (int8_t)(((qs[j] & 15) | (((qh >> j) & 1) << 4)) - (one ? 0 : 16));
                    w[j + 16] = (int8_t)(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - (one ? 0 : 16));
                }
                b += one ? 24 : 22;
                break;
            }
            case LOAM_T_Q8_0:
                memcpy(w, b + 2, 32);
                b += 34;
                break;
            default: /* IQ4_NL */
                for (int j = 0; j < 16; j++) w[j] = loam_iq4nl_values[b[2 + j] & 15], w[j + 16] = loam_iq4nl_values[b[2 + j] >> 4];
                b += 18;
            }
            sum += d * x->d * (float)idot32(w, x->q) + m * x->d * (float)x->isum;
        }
        return sum;
    case LOAM_T_Q4_K:
    case LOAM_T_Q5_K:
        for (int i = 0; i < k / 256; i++) {
            int five = t == LOAM_T_Q5_K;
            float d = half(b), dmin = half(b + 2);
            const uint8_t *sc = b + 4, *qh = b + 16, *ql = b + (five ? 48 : 16);
            for (int j = 0; j < 256; j += 64) {
                for (int l = 0; l < 32; l++) {
                    int hi0 = five ? ((qh[l] >> (j / 32)) & 1) << 4 : 0, hi1 = five ? ((qh[l] >> (j / 32 + 1)) & 1) << 4 : 0;
                    w[j + l] = (int8_t)((ql[l] & 15) | hi0);
                    w[j + l + 32] = (int8_t)((ql[l] >> 4) | hi1);
                }
                ql += 32;
            }
            for (int s = 0; s < 8; s++, x++) {
                uint8_t scale, min;
                k_scale_min(s, sc, &scale, &min);
                sum += d * scale * x->d * (float)idot32(w + 32 * s, x->q) - dmin * min * x->d * (float)x->isum;
            }
            b += five ? 176 : 144;
        }
        return sum;
    case LOAM_T_Q6_K:
        for (int i = 0; i < k / 256; i++) {
            float d = half(b + 208);
            const uint8_t *ql = b, *qh = b + 128;
            const int8_t *sc = (const int8_t *)(b + 192);
            for (int n = 0; n < 256; n += 128) {
                for (int l = 0; l < 32; l++) {
                    w[n + l] = (int8_t)(((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32);
                    w[n + l + 32] = (int8_t)(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
                    w[n + l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                    w[n + l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                }
                ql += 64;
                qh += 32;
            }
            for (int s = 0; s < 8; s++, x++) { /* two 16-element scales per 32 activations */
                int32_t xs;
                int32_t a = idot16(w + 32 * s, x->q, &xs), c = idot16(w + 32 * s + 16, x->q + 16, &xs);
                sum += d * x->d * ((float)sc[2 * s] * (float)a + (float)sc[2 * s + 1] * (float)c);
            }
            b += 210;
        }
        return sum;
    case LOAM_T_Q2_K:
    case LOAM_T_Q3_K:
        for (int i = 0; i < k / 256; i++) {
            int two = t == LOAM_T_Q2_K;
            float d = half(b + (two ? 80 : 108)), dmin = two ? half(b + 82) : 0;
            int8_t scales[16];
            const uint8_t *q = b + (two ? 16 : 32), *hm = b;
            if (two) {
                for (int s = 0; s < 16; s++) scales[s] = (int8_t)(b[s] & 15);
            } else {
                q3_k_scales(b + 96, scales);
            }
            int o = 0;
            uint8_t m = 1;
            for (int n = 0; n < 256; n += 128) {
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int l = 0; l < 32; l++) {
                        int v = (q[l] >> shift) & 3;
                        if (!two) v -= (hm[l] & m) ? 0 : 4;
                        w[o + l] = (int8_t)v;
                    }
                    o += 32;
                    m = (uint8_t)(m << 1);
                }
                q += 32;
            }
            for (int s = 0; s < 8; s++, x++) {
                int32_t xs0, xs1;
                int32_t a = idot16(w + 32 * s, x->q, &xs0), c = idot16(w + 32 * s + 16, x->q + 16, &xs1);
                sum += d * x->d * ((float)scales[2 * s] * (float)a + (float)scales[2 * s + 1] * (float)c);
                if (two) sum -= dmin * x->d * ((float)(b[2 * s] >> 4) * (float)xs0 + (float)(b[2 * s + 1] >> 4) * (float)xs1);
            }
            b += two ? 84 : 110;
        }
        return sum;
    default: return 0;
    }
}
