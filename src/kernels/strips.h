/* Weight matrices repacked once, at load, into the layout the int8
 * micro-kernel reads (llama.cpp repacks Q4_0 the same way, for the same
 * reason): the blocked product then needs no packing per call, so a server's
 * decode steps of 4–32 rows run it as efficiently as a long prompt, and one
 * kernel serves every row count.
 *
 * W [N, K] of Q4_0 becomes strips of 16 weight rows (the 16 lanes of a
 * zmm), each strip its blocks of 32 in K order, in pairs of blocks so that
 * every vector is 64-byte aligned:
 *
 *   pair p of a strip (576 bytes, blocks 2p and 2p+1):
 *     [ 16 f16 scales of block 2p | 16 f16 scales of block 2p+1 ]   64 bytes
 *     [ block 2p:   4 vectors of 64 bytes ]                         256 bytes
 *     [ block 2p+1: 4 vectors of 64 bytes ]                         256 bytes
 *
 * Vector v of a block holds, for each of the 16 rows c, 4 bytes at 4c:
 * byte e = u[8v + e] | u[8v + 4 + e] << 4, with u[j] the unsigned nibble
 * (0..15, the weight is d·(u - 8)) of element j. Masking the low nibbles
 * gives elements 8v..8v+3 of all 16 rows in vpdpbusd's order (4 bytes a
 * lane), shifting the high ones down gives 8v+4..8v+7. The bytes equal
 * Q4_0's: 18 bytes per 32 weights. Rows past N are zero (scale 0); an odd
 * block count leaves the last pair's second half zero. */
#ifndef LOAM_KERNELS_STRIPS_H
#define LOAM_KERNELS_STRIPS_H
#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"
#include "kernels/qdot.h"

enum { LOAM_STRIP_ROWS = 16, LOAM_STRIP_PAIR_BYTES = 576 };

/* Whether W [N, K] of type t can be repacked into strips. */
int loam_strip_supports(loam_type t, int64_t N, int64_t K);
/* Bytes of one strip and of the whole repacked matrix. */
size_t loam_strip_bytes(int64_t K);
size_t loam_strips_size(int64_t N, int64_t K);
/* Repacks weight rows [n0, n1) of W (n0 a multiple of 16, n1 <= N) into
 * their strips of `out` (the whole repacked matrix): callers may split the
 * rows over threads. */
void loam_strip_pack(loam_type t, const void *w, int64_t N, int64_t K, int64_t n0, int64_t n1, void *out);
/* The reference product on repacked weights, one dot product at a time:
 * y[t*ldy + n] = sum_k x[t, k] W[n, k] for t < T, n0 <= n < n1. */
void loam_strip_matmul_ref(const loam_act_block *x, int T, int K, const void *strips, int n0, int n1, float *y, int ldy);

#endif
