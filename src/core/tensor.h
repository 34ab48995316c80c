/* A tensor as loam sees it: a typed, shaped view into memory it does not own
 * (usually a mapped model file). Weights are never copied or converted at
 * load time; kernels convert on the fly. */
#ifndef LOAM_CORE_TENSOR_H
#define LOAM_CORE_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

/* Every dtype a model file may hold. The first five equal loam_tools.h's
 * loam_dtype (checked where that header is used). */
typedef enum loam_type {
    LOAM_T_F32 = 0,
    LOAM_T_F16 = 1,
    LOAM_T_BF16 = 2,
    LOAM_T_I32 = 3,
    LOAM_T_I64 = 4,
    LOAM_T_F64,
    LOAM_T_I16,
    LOAM_T_I8,
    LOAM_T_U8,
    LOAM_T_U16,
    LOAM_T_U32,
    LOAM_T_U64,
    LOAM_T_BOOL,
    LOAM_T_F8_E4M3,
    LOAM_T_F8_E5M2,
    /* block-quantized (GGUF): row length a multiple of the block */
    LOAM_T_Q4_0,
    LOAM_T_Q4_1,
    LOAM_T_Q5_0,
    LOAM_T_Q5_1,
    LOAM_T_Q8_0,
    LOAM_T_Q2_K,
    LOAM_T_Q3_K,
    LOAM_T_Q4_K,
    LOAM_T_Q5_K,
    LOAM_T_Q6_K,
    LOAM_T_IQ4_NL,
    LOAM_T_COUNT
} loam_type;

#define LOAM_MAX_DIMS 4

typedef struct loam_tensor {
    const char *name;
    loam_type type;
    int n_dims;
    int64_t shape[LOAM_MAX_DIMS]; /* outermost first, as safetensors and PyTorch write it */
    const void *data;
    uint64_t n_bytes;
    const char *file; /* where it came from, for error messages */
    const char *stored_type; /* the type as the file names it when loam has no type for it
                                (a GGUF's "IQ2_XXS (ggml type 16)"), else NULL */
    int strips; /* data is not row-major but repacked at load into the strips of
                   kernels/strips.h (only the linear op reads such a copy) */
} loam_tensor;

const char *loam_type_name(loam_type t);     /* "BF16" as safetensors spells it */
const char *loam_type_short(loam_type t);    /* "bf16" for people */
size_t loam_type_size(loam_type t);          /* bytes per element (0 for block types) */
/* Elements and bytes per block (1 and the element size for plain types). */
void loam_type_block(loam_type t, int *block_elems, int *block_bytes);
int loam_type_is_quantized(loam_type t);
/* Bytes of one row of k elements (k a multiple of the block). */
size_t loam_row_bytes(loam_type t, int64_t k);
int loam_type_from_name(const char *name, loam_type *out); /* safetensors dtype string */
int64_t loam_tensor_nelements(const loam_tensor *t);
/* "[4096, 128]" into buf */
const char *loam_shape_str(const loam_tensor *t, char *buf, size_t len);

#endif
