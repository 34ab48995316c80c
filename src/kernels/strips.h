/* Weight matrices repacked once, at load, into the layout the int8
 * micro-kernel reads (llama.cpp repacks Q4_0 the same way, for the same
 * reason): the blocked product then needs no packing per call, so a server's
 * decode steps of 4–32 rows run it as efficiently as a long prompt, and one
 * kernel serves every row count. The bytes per weight stay the type's.
 *
 * W [N, K] becomes strips of 16 weight rows (the 16 lanes of a zmm), each
 * strip its blocks in K order. Within a block of 32, "quad" q is elements
 * 4q..4q+3 of the 16 rows, 4 bytes a row at byte 4c: vpdpbusd's operand.
 * The quads are stored as nibbles, two quads a vector:
 *
 *   nibble vector v (64 bytes): byte 4c + e = u[8v + e] | u[8v + 4 + e] << 4
 *
 * with u the unsigned low 4 bits of each element: masking gives quad 2v,
 * shifting the high nibbles down quad 2v + 1.
 *
 * Q4_0 (w = d·(u - 8)): pairs of blocks, so that every vector is aligned:
 *   pair (576 bytes): [16 f16 d of block 2p | 16 of block 2p+1] (64 bytes),
 *                     block 2p's 4 nibble vectors, block 2p+1's (256 each).
 *   An odd block count leaves the last pair's second half zero.
 *
 * Q8_0 (w = d·(u - 128), u the stored signed byte + 128): pairs of blocks
 * as Q4_0's, each block's 8 quads stored whole (8 vectors of 64 bytes):
 *   pair (1088 bytes): [16 f16 d of block 2p | of 2p+1], block 2p's 8
 *   vectors, block 2p+1's (512 each).
 *
 * Q4_K (w = d·sc·u - dmin·m, sc and m 6-bit per block, d and dmin f16 per
 * 256): super-blocks of 8 blocks:
 *   super-block (2368 bytes): 16 f16 d, 16 f16 dmin (32 bytes each), per
 *     block the 16 rows' sc (16 bytes each, 128 in all), then their m (128),
 *     then per block its 4 nibble vectors (256 bytes).
 *
 * Q6_K (w = d·sc·(u6 - 32), u6 = u | h << 4 with h the 2 high bits, one
 * int8 sc per 16 elements, one f16 d per 256): super-blocks of 8 blocks:
 *   super-block (3392 bytes): 16 f16 d (32 bytes), per block its sc as
 *     [16 of elements 0-15 | 16 of 16-31] (32 bytes each, 256 in all), 32
 *     bytes of padding, then per block 4 nibble vectors and 2 high vectors
 *     (384 bytes): high vector g, byte 4c + e = sum_j h[16g + 4j + e] << 2j
 *     (quad 4g + j's high bits at bits 2j).
 *
 * Rows past N are zero (scale 0). */
#ifndef LOAM_KERNELS_STRIPS_H
#define LOAM_KERNELS_STRIPS_H
#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"
#include "kernels/qdot.h"

enum {
    LOAM_STRIP_ROWS = 16,
    LOAM_STRIP_Q4_0_PAIR = 576,  /* bytes per pair of Q4_0 blocks */
    LOAM_STRIP_Q8_0_PAIR = 1088, /* bytes per pair of Q8_0 blocks */
    LOAM_STRIP_Q4_K_SUPER = 2368, /* bytes per Q4_K super-block */
    LOAM_STRIP_Q6_K_SUPER = 3392, /* bytes per Q6_K super-block */
    LOAM_STRIP_K_HEAD = 320,      /* a K super-block's scales (and padding) before its blocks */
    LOAM_STRIP_Q6_K_BLOCK = 384,  /* bytes per Q6_K block after them (Q4_K: 256) */
};

/* Whether W [N, K] of type t can be repacked into strips. */
int loam_strip_supports(loam_type t, int64_t N, int64_t K);
/* Bytes of one strip and of the whole repacked matrix. */
size_t loam_strip_bytes(loam_type t, int64_t K);
size_t loam_strips_size(loam_type t, int64_t N, int64_t K);
/* Repacks weight rows [n0, n1) of W (n0 a multiple of 16, n1 <= N) into
 * their strips of `out` (the whole repacked matrix): callers may split the
 * rows over threads. */
void loam_strip_pack(loam_type t, const void *w, int64_t N, int64_t K, int64_t n0, int64_t n1, void *out);
/* The reference product on repacked weights, one dot product at a time:
 * y[t*ldy + n] = sum_k x[t, k] W[n, k] for t < T, n0 <= n < n1. */
void loam_strip_matmul_ref(loam_type t, const loam_act_block *x, int T, int K, const void *strips, int n0, int n1, float *y,
                           int ldy);

#endif
