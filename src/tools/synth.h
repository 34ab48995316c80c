/* What `loam synth` would write, tensor type by tensor type: the one place
 * the weight arithmetic of a published shape is done (loam_synth_estimate,
 * `loam pick` and its speed estimate use it). */
#ifndef LOAM_TOOLS_SYNTH_H
#define LOAM_TOOLS_SYNTH_H
#include <stdint.h>

#include "core/tensor.h"
#include "loam.h"

typedef struct {
    int64_t n_params;                           /* every element, tied weights once */
    uint64_t bytes;                             /* tensor data of the file */
    uint64_t bytes_by_type[LOAM_T_COUNT];
    uint64_t decode_bytes_by_type[LOAM_T_COUNT]; /* read by one decode step (one row of a gathered table) */
    int64_t matmul_params_by_type[LOAM_T_COUNT]; /* weights each prompt position multiplies (2 flops each) */
    /* the part of the above in an encoder (Whisper's audio encoder: runs once per window) */
    uint64_t encoder_decode_bytes_by_type[LOAM_T_COUNT];
    int64_t encoder_matmul_params_by_type[LOAM_T_COUNT];
} loam_synth_sizes;

loam_status loam_synth_breakdown(const char *like, const char *type, loam_synth_sizes *out, loam_error *err);

#endif
