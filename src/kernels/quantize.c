/* Quantizing f32 rows into ggml's block formats, with the reference
 * algorithms of ggml (quantize_row_*_ref), which llama-quantize uses when no
 * importance matrix is given: Q8_0, Q4_0 and Q5_0 come out byte-identical,
 * the K-quants the same. Built with -ffp-contract=off like quants.c. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/fp16.h"
#include "kernels/quants.h"
#include "kernels/kscales.h"

#define GROUP_MAX_EPS 1e-15f

static int nearest_int(float fval) { /* round half to even, as ggml */
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

static void put_half(uint8_t *p, float f) {
    uint16_t h = loam_f32_to_f16(f);
    memcpy(p, &h, 2);
}

static void q8_0(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (!(fabsf(x[j]) <= FLT_MAX)) { /* NaN or inf (a q8_0 KV cache of a broken model): a NaN block, not UB */
            put_half(b, NAN);
            memset(b + 2, 0, 32);
            return;
        }
        amax = fmaxf(amax, fabsf(x[j]));
    }
    const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    put_half(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

static void q4_0(const float *x, uint8_t *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    const float d = max / -8, id = d ? 1.0f / d : 0.0f;
    put_half(b, d);
    for (int j = 0; j < 16; j++) {
        uint8_t x0 = (uint8_t)(int8_t)(x[j] * id + 8.5f), x1 = (uint8_t)(int8_t)(x[16 + j] * id + 8.5f);
        x0 = x0 < 15 ? x0 : 15;
        x1 = x1 < 15 ? x1 : 15;
        b[2 + j] = (uint8_t)(x0 | (x1 << 4));
    }
}

static void q5_0(const float *x, uint8_t *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    const float d = max / -16, id = d ? 1.0f / d : 0.0f;
    put_half(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int a = (int8_t)(x[j] * id + 16.5f), c = (int8_t)(x[16 + j] * id + 16.5f);
        uint8_t x0 = (uint8_t)(a < 31 ? a : 31), x1 = (uint8_t)(c < 31 ? c : 31);
        b[6 + j] = (uint8_t)((x0 & 0x0f) | ((x1 & 0x0f) << 4));
        qh |= ((x0 & 0x10u) >> 4) << j;
        qh |= ((x1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(b + 2, &qh, 4);
}

static void block_min_max(const float *x, float *min, float *max) {
    *min = *max = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

/* ggml's Q4_1: min and (max - min) / 15 per block, values rounded by adding
 * 0.5 and truncating. */
static void q4_1(const float *x, uint8_t *b) {
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / 15, id = d ? 1.0f / d : 0.0f;
    put_half(b, d);
    put_half(b + 2, min);
    for (int j = 0; j < 16; j++) {
        uint8_t x0 = (uint8_t)(int8_t)((x[j] - min) * id + 0.5f), x1 = (uint8_t)(int8_t)((x[16 + j] - min) * id + 0.5f);
        x0 = x0 < 15 ? x0 : 15;
        x1 = x1 < 15 ? x1 : 15;
        b[4 + j] = (uint8_t)(x0 | (x1 << 4));
    }
}

/* ggml's Q5_1: min and (max - min) / 31 per block, values rounded by
 * adding 0.5 and truncating, as ggml does. */
static void q5_1(const float *x, uint8_t *b) {
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / 31, id = d ? 1.0f / d : 0.0f;
    put_half(b, d);
    put_half(b + 2, min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        uint8_t x0 = (uint8_t)((x[j] - min) * id + 0.5f), x1 = (uint8_t)((x[16 + j] - min) * id + 0.5f);
        b[8 + j] = (uint8_t)((x0 & 0x0f) | ((x1 & 0x0f) << 4));
        qh |= ((x0 & 0x10u) >> 4) << j;
        qh |= ((x1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(b + 4, &qh, 4);
}

/* ggml's make_qx_quants: a symmetric scale searched around nmax/max that
 * minimises the (x^2-weighted) error; L gets values + nmax. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void q6_k(const float *x, uint8_t *b) {
    int8_t L[256];
    float scales[16], max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ib++) {
        const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
        scales[ib] = scale;
        if (fabsf(scale) > max_abs_scale) max_abs_scale = fabsf(scale), max_scale = scale;
    }
    uint8_t *ql = b, *qh = b + 128;
    int8_t *sc = (int8_t *)(b + 192);
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(b, 0, 210);
        return;
    }
    float iscale = -128.f / max_scale;
    put_half(b + 208, 1 / iscale);
    for (int ib = 0; ib < 16; ib++) {
        int v = nearest_int(iscale * scales[ib]);
        sc[ib] = (int8_t)(v < 127 ? v : 127);
    }
    uint16_t dh;
    memcpy(&dh, b + 208, 2);
    for (int j = 0; j < 16; j++) {
        float d = loam_f16_to_f32(dh) * sc[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = nearest_int(x[16 * j + ii] / d);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; l++) {
            uint8_t q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf, q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
            ql[l] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

/* ggml's make_qkx2_quants: an asymmetric scale and min searched to minimise
 * the weighted squared error. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min, uint8_t *Laux,
                              float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_mad = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * L[i] + min - x[i];
        best_mad += weights[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                mad += weights[i] * diff * diff;
            }
            if (mad < best_mad) {
                memcpy(L, Laux, (size_t)n);
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}


/* ggml's Q4_K and Q5_K (five): per 32 elements an asymmetric scale and min
 * searched by make_qkx2_quants, both quantized to 6 bits against the
 * super-block's f16 d and dmin, then the values requantized with them. */
static void q45_k(const float *x, uint8_t *b, int five) {
    uint8_t L[256], Laux[32];
    float weights[32], mins[8], scales[8], max_scale = 0, max_min = 0;
    int nmax = five ? 31 : 15;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = five ? make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15)
                         : make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *sc = b + 4;
    memset(sc, 0, 12);
    for (int j = 0; j < 8; j++) {
        int ls = nearest_int(inv_scale * scales[j]), lm = nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            sc[j] = (uint8_t)ls;
            sc[j + 4] = (uint8_t)lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    put_half(b, max_scale / 63.f);
    put_half(b + 2, max_min / 63.f);
    uint16_t dh, mh;
    memcpy(&dh, b, 2);
    memcpy(&mh, b + 2, 2);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        k_scale_min(j, sc, &s, &m);
        const float d = loam_f16_to_f32(dh) * s;
        if (!d) continue;
        const float dm = loam_f16_to_f32(mh) * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        }
    }
    uint8_t *q = b + (five ? 48 : 16), *qh = b + 16;
    if (five) memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int j = 0; j < 256; j += 64) {
        for (int l = 0; l < 32; l++) {
            int l1 = L[j + l], l2 = L[j + l + 32];
            if (l1 > 15) l1 -= 16, qh[l] |= m1;
            if (l2 > 15) l2 -= 16, qh[l] |= m2;
            q[l] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 = (uint8_t)(m1 << 2), m2 = (uint8_t)(m2 << 2);
        q += 32;
    }
}

static void q4_k(const float *x, uint8_t *b) { q45_k(x, b, 0); }
static void q5_k(const float *x, uint8_t *b) { q45_k(x, b, 1); }

int loam_quantize_row(loam_type t, const float *x, int64_t k, void *out) {
    uint8_t *o = out;
    switch (t) {
    case LOAM_T_F32: memcpy(out, x, (size_t)k * 4); return 1;
    case LOAM_T_F16:
        for (int64_t i = 0; i < k; i++) {
            uint16_t h = loam_f32_to_f16(x[i]);
            memcpy(o + 2 * i, &h, 2);
        }
        return 1;
    case LOAM_T_BF16:
        for (int64_t i = 0; i < k; i++) {
            uint16_t h = loam_f32_to_bf16(x[i]);
            memcpy(o + 2 * i, &h, 2);
        }
        return 1;
    default: break;
    }
    void (*block)(const float *, uint8_t *) = NULL;
    switch (t) {
    case LOAM_T_Q8_0: block = q8_0; break;
    case LOAM_T_Q4_0: block = q4_0; break;
    case LOAM_T_Q5_0: block = q5_0; break;
    case LOAM_T_Q4_1: block = q4_1; break;
    case LOAM_T_Q5_1: block = q5_1; break;
    case LOAM_T_Q4_K: block = q4_k; break;
    case LOAM_T_Q5_K: block = q5_k; break;
    case LOAM_T_Q6_K: block = q6_k; break;
    default: return 0;
    }
    int be, bb;
    loam_type_block(t, &be, &bb);
    if (k % be) return 0;
    for (int64_t i = 0; i < k / be; i++) block(x + i * be, o + i * bb);
    return 1;
}
