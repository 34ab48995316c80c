/* Repacking into strips (strips.h) and the reference product on them. */
#include "kernels/strips.h"

#include <string.h>

#include "core/fp16.h"
#include "kernels/kscales.h"

int loam_strip_supports(loam_type t, int64_t N, int64_t K) {
    int64_t block = t == LOAM_T_Q4_0 || t == LOAM_T_Q8_0 ? 32 : t == LOAM_T_Q4_K || t == LOAM_T_Q6_K ? 256 : 0;
    return block && N > 0 && K > 0 && K % block == 0 && K <= ((int64_t)1 << 30) && N <= ((int64_t)1 << 30);
}

size_t loam_strip_bytes(loam_type t, int64_t K) {
    if (t == LOAM_T_Q4_0) return (size_t)((K / 32 + 1) / 2) * LOAM_STRIP_Q4_0_PAIR;
    if (t == LOAM_T_Q8_0) return (size_t)((K / 32 + 1) / 2) * LOAM_STRIP_Q8_0_PAIR;
    return (size_t)(K / 256) * (t == LOAM_T_Q4_K ? LOAM_STRIP_Q4_K_SUPER : LOAM_STRIP_Q6_K_SUPER);
}
size_t loam_strips_size(loam_type t, int64_t N, int64_t K) {
    return (size_t)((N + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS) * loam_strip_bytes(t, K);
}

/* Block i of a strip: where its 4 nibble vectors start (Q6_K's 2 high
 * vectors follow them). */
static size_t block_vectors(loam_type t, int64_t i) {
    if (t == LOAM_T_Q4_0) return (size_t)(i / 2) * LOAM_STRIP_Q4_0_PAIR + 64 + 256 * (size_t)(i % 2);
    if (t == LOAM_T_Q8_0) return (size_t)(i / 2) * LOAM_STRIP_Q8_0_PAIR + 64 + 512 * (size_t)(i % 2);
    if (t == LOAM_T_Q4_K) return (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER + LOAM_STRIP_K_HEAD + 256 * (size_t)(i % 8);
    return (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER + LOAM_STRIP_K_HEAD + (size_t)(i % 8) * LOAM_STRIP_Q6_K_BLOCK;
}

static uint32_t word_at(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The 32 low nibbles u[j] of row c's block into the nibble vectors, four
 * bytes at a time. */
static void put_nibbles(uint8_t *vectors, int c, const uint8_t *u) {
    for (int v = 0; v < 4; v++) {
        uint32_t out = (word_at(u + 8 * v) & 0x0F0F0F0Fu) | (word_at(u + 8 * v + 4) & 0x0F0F0F0Fu) << 4;
        memcpy(vectors + 64 * v + 4 * c, &out, 4);
    }
}

/* One Q4_0 block (d, qs[16]: element j < 16 the low nibble of qs[j], j + 16
 * its high nibble) of row c into block i of its strip, four bytes at a time:
 * vector v takes elements 8v..8v+3 and 8v+4..8v+7, the low nibbles of
 * qs[8(v%2)..] for v < 2, the high ones for v >= 2. */
static void pack_q4_0_block(const uint8_t *b, int c, int64_t i, uint8_t *strip) {
    memcpy(strip + (size_t)(i / 2) * LOAM_STRIP_Q4_0_PAIR + 32 * (size_t)(i % 2) + 2 * c, b, 2);
    uint8_t *vectors = strip + block_vectors(LOAM_T_Q4_0, i);
    for (int v = 0; v < 4; v++) {
        uint32_t a, e;
        memcpy(&a, b + 2 + 8 * (v % 2), 4);
        memcpy(&e, b + 6 + 8 * (v % 2), 4);
        uint32_t out = v < 2 ? (a & 0x0F0F0F0Fu) | (e & 0x0F0F0F0Fu) << 4 : (a >> 4 & 0x0F0F0F0Fu) | (e & 0xF0F0F0F0u);
        memcpy(vectors + 64 * v + 4 * c, &out, 4);
    }
}

/* One Q8_0 block (d, 32 signed bytes) of row c into block i: quad q's four
 * bytes + 128 at byte 4c of vector q. */
static void pack_q8_0_block(const uint8_t *b, int c, int64_t i, uint8_t *strip) {
    memcpy(strip + (size_t)(i / 2) * LOAM_STRIP_Q8_0_PAIR + 32 * (size_t)(i % 2) + 2 * c, b, 2);
    uint8_t *vectors = strip + block_vectors(LOAM_T_Q8_0, i);
    for (int q = 0; q < 8; q++) {
        uint32_t out = word_at(b + 2 + 4 * q) ^ 0x80808080u; /* + 128, as bytes */
        memcpy(vectors + 64 * q + 4 * c, &out, 4);
    }
}

/* One Q4_K super-block (d, dmin, 12 bytes of 6-bit scales and mins, qs[128]:
 * block 2p the low nibbles of qs[32p..], block 2p+1 their high ones) of row c
 * into super-block s. */
static void pack_q4_k_super(const uint8_t *b, int c, int64_t s, uint8_t *strip) {
    uint8_t *super = strip + (size_t)s * LOAM_STRIP_Q4_K_SUPER;
    memcpy(super + 2 * c, b, 2);
    memcpy(super + 32 + 2 * c, b + 2, 2);
    for (int blk = 0; blk < 8; blk++) {
        k_scale_min(blk, b + 4, &super[64 + 16 * blk + c], &super[192 + 16 * blk + c]);
        const uint8_t *qs = b + 16 + 32 * (blk / 2);
        uint8_t u[32];
        for (int j = 0; j < 32; j++) u[j] = blk % 2 ? qs[j] >> 4 : qs[j] & 15;
        put_nibbles(strip + block_vectors(LOAM_T_Q4_K, 8 * s + blk), c, u);
    }
}

/* One Q6_K super-block (ql[128], qh[64], sc[16], d) of row c into super-block s. */
static void pack_q6_k_super(const uint8_t *b, int c, int64_t s, uint8_t *strip) {
    uint8_t u6[256];
    const uint8_t *ql = b, *qh = b + 128;
    const uint32_t low = 0x0F0F0F0Fu, two = 0x03030303u;
    for (int n = 0; n < 2; n++, ql += 64, qh += 32) /* ggml's order: 128 elements from 64 ql and 32 qh bytes */
        for (int l = 0; l < 32; l += 4) {
            uint8_t *u = u6 + 128 * n;
            uint32_t a = word_at(ql + l), e = word_at(ql + l + 32), h = word_at(qh + l);
            uint32_t w[4] = {(a & low) | (h & two) << 4, (e & low) | (h >> 2 & two) << 4, (a >> 4 & low) | (h >> 4 & two) << 4,
                             (e >> 4 & low) | (h >> 6 & two) << 4};
            for (int k = 0; k < 4; k++) memcpy(u + l + 32 * k, &w[k], 4);
        }
    uint8_t *super = strip + (size_t)s * LOAM_STRIP_Q6_K_SUPER;
    memcpy(super + 2 * c, b + 208, 2);
    for (int blk = 0; blk < 8; blk++) {
        const uint8_t *u = u6 + 32 * blk;
        super[32 + 32 * blk + c] = b[192 + 2 * blk];          /* sc of elements 0-15 */
        super[32 + 32 * blk + 16 + c] = b[192 + 2 * blk + 1]; /* 16-31 */
        uint8_t *vectors = strip + block_vectors(LOAM_T_Q6_K, 8 * s + blk);
        put_nibbles(vectors, c, u);
        for (int g = 0; g < 2; g++) { /* quad 4g + j's high bits at bits 2j */
            uint32_t h = 0;
            for (int j = 0; j < 4; j++) h |= (word_at(u + 16 * g + 4 * j) >> 4 & two) << 2 * j;
            memcpy(vectors + 256 + 64 * g + 4 * c, &h, 4);
        }
    }
}

void loam_strip_pack(loam_type t, const void *w, int64_t N, int64_t K, int64_t n0, int64_t n1, void *out) {
    if (!loam_strip_supports(t, N, K)) return;
    size_t row_bytes = loam_row_bytes(t, K), sb = loam_strip_bytes(t, K);
    int64_t s0 = n0 / LOAM_STRIP_ROWS, s1 = (n1 + LOAM_STRIP_ROWS - 1) / LOAM_STRIP_ROWS;
    for (int64_t s = s0; s < s1; s++) {
        uint8_t *strip = (uint8_t *)out + (size_t)s * sb;
        /* zero what no row writes: rows past N, Q4_0's odd last half-pair, Q6_K's padding */
        if ((s + 1) * LOAM_STRIP_ROWS > N) memset(strip, 0, sb);
        else if (t == LOAM_T_Q4_0 && (K / 32) % 2) memset(strip + sb - LOAM_STRIP_Q4_0_PAIR, 0, LOAM_STRIP_Q4_0_PAIR);
        else if (t == LOAM_T_Q8_0 && (K / 32) % 2) memset(strip + sb - LOAM_STRIP_Q8_0_PAIR, 0, LOAM_STRIP_Q8_0_PAIR);
        else if (t == LOAM_T_Q6_K)
            for (int64_t i = 0; i < K / 256; i++) memset(strip + (size_t)i * LOAM_STRIP_Q6_K_SUPER + 288, 0, LOAM_STRIP_K_HEAD - 288);
        for (int c = 0; c < LOAM_STRIP_ROWS && s * LOAM_STRIP_ROWS + c < N; c++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)(s * LOAM_STRIP_ROWS + c) * row_bytes;
            if (t == LOAM_T_Q4_0)
                for (int64_t i = 0; i < K / 32; i++) pack_q4_0_block(row + (size_t)i * 18, c, i, strip);
            else if (t == LOAM_T_Q8_0)
                for (int64_t i = 0; i < K / 32; i++) pack_q8_0_block(row + (size_t)i * 34, c, i, strip);
            else if (t == LOAM_T_Q4_K)
                for (int64_t i = 0; i < K / 256; i++) pack_q4_k_super(row + (size_t)i * 144, c, i, strip);
            else
                for (int64_t i = 0; i < K / 256; i++) pack_q6_k_super(row + (size_t)i * 210, c, i, strip);
        }
    }
}

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return loam_f16_to_f32(h);
}

/* Element j of row c in block i of a strip: its unsigned value (Q6_K: all 6 bits). */
static int strip_value(loam_type t, const uint8_t *strip, int64_t i, int c, int j) {
    const uint8_t *vectors = strip + block_vectors(t, i);
    int q = j / 4, e = j % 4;
    if (t == LOAM_T_Q8_0) return vectors[64 * q + 4 * c + e];
    uint8_t byte = vectors[64 * (q / 2) + 4 * c + e];
    int u = q % 2 ? byte >> 4 : byte & 15;
    if (t == LOAM_T_Q6_K) u |= ((vectors[256 + 64 * (q / 4) + 4 * c + e] >> (2 * (q % 4))) & 3) << 4;
    return u;
}

/* The float scale of elements j of row c in block i (the K types: d·sc),
 * and Q4_K's min (dmin·m, subtracted). */
static float strip_scale(loam_type t, const uint8_t *strip, int64_t i, int c, int j) {
    if (t == LOAM_T_Q4_0) return half_at(strip + (size_t)(i / 2) * LOAM_STRIP_Q4_0_PAIR + 32 * (size_t)(i % 2) + 2 * c);
    if (t == LOAM_T_Q8_0) return half_at(strip + (size_t)(i / 2) * LOAM_STRIP_Q8_0_PAIR + 32 * (size_t)(i % 2) + 2 * c);
    if (t == LOAM_T_Q4_K) {
        const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER;
        return half_at(super + 2 * c) * (float)super[64 + 16 * (i % 8) + c];
    }
    const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q6_K_SUPER;
    return half_at(super + 2 * c) * (float)(int8_t)super[32 + 32 * (i % 8) + 16 * (j / 16) + c];
}

static float strip_min(const uint8_t *strip, int64_t i, int c) {
    const uint8_t *super = strip + (size_t)(i / 8) * LOAM_STRIP_Q4_K_SUPER;
    return half_at(super + 32 + 2 * c) * (float)super[192 + 16 * (i % 8) + c];
}

void loam_strip_matmul_ref(loam_type type, const loam_act_block *x, int T, int K, const void *strips, int n0, int n1, float *y,
                           int ldy) {
    int nb = K / 32, part = type == LOAM_T_Q6_K ? 16 : 32;
    int offset = type == LOAM_T_Q4_0 ? 8 : type == LOAM_T_Q8_0 ? 128 : type == LOAM_T_Q4_K ? 0 : 32;
    size_t sb = loam_strip_bytes(type, K);
    for (int t = 0; t < T; t++)
        for (int n = n0; n < n1; n++) {
            const uint8_t *strip = (const uint8_t *)strips + (size_t)(n / LOAM_STRIP_ROWS) * sb;
            int c = n % LOAM_STRIP_ROWS;
            float sum = 0;
            for (int i = 0; i < nb; i++) {
                const loam_act_block *a = &x[(size_t)t * nb + i];
                for (int j0 = 0; j0 < 32; j0 += part) { /* Q6_K: a scale per 16 elements */
                    int32_t isum = 0;
                    for (int j = j0; j < j0 + part; j++) isum += (strip_value(type, strip, i, c, j) - offset) * a->q[j];
                    sum += strip_scale(type, strip, i, c, j0) * a->d * (float)isum;
                }
                if (type == LOAM_T_Q4_K) sum -= strip_min(strip, i, c) * a->d * (float)a->isum;
            }
            y[(size_t)t * ldy + n] = sum;
        }
}
