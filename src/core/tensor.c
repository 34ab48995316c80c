#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name, *short_name;
    size_t size;
} type_table[LOAM_T_COUNT] = {
    [LOAM_T_F32] = {"F32", "f32", 4},       [LOAM_T_F16] = {"F16", "f16", 2},
    [LOAM_T_BF16] = {"BF16", "bf16", 2},    [LOAM_T_I32] = {"I32", "i32", 4},
    [LOAM_T_I64] = {"I64", "i64", 8},       [LOAM_T_F64] = {"F64", "f64", 8},
    [LOAM_T_I16] = {"I16", "i16", 2},       [LOAM_T_I8] = {"I8", "i8", 1},
    [LOAM_T_U8] = {"U8", "u8", 1},          [LOAM_T_U16] = {"U16", "u16", 2},
    [LOAM_T_U32] = {"U32", "u32", 4},       [LOAM_T_U64] = {"U64", "u64", 8},
    [LOAM_T_BOOL] = {"BOOL", "bool", 1},    [LOAM_T_F8_E4M3] = {"F8_E4M3", "f8_e4m3", 1},
    [LOAM_T_F8_E5M2] = {"F8_E5M2", "f8_e5m2", 1},
    [LOAM_T_Q4_0] = {"Q4_0", "q4_0", 0},    [LOAM_T_Q4_1] = {"Q4_1", "q4_1", 0},
    [LOAM_T_Q5_0] = {"Q5_0", "q5_0", 0},    [LOAM_T_Q5_1] = {"Q5_1", "q5_1", 0},
    [LOAM_T_Q8_0] = {"Q8_0", "q8_0", 0},    [LOAM_T_Q2_K] = {"Q2_K", "q2_k", 0},
    [LOAM_T_Q3_K] = {"Q3_K", "q3_k", 0},    [LOAM_T_Q4_K] = {"Q4_K", "q4_k", 0},
    [LOAM_T_Q5_K] = {"Q5_K", "q5_k", 0},    [LOAM_T_Q6_K] = {"Q6_K", "q6_k", 0},
    [LOAM_T_IQ4_NL] = {"IQ4_NL", "iq4_nl", 0},
};

/* ggml's block layouts: elements per block, bytes per block */
static const struct {
    int elems, bytes;
} blocks[LOAM_T_COUNT] = {
    [LOAM_T_Q4_0] = {32, 18},   [LOAM_T_Q4_1] = {32, 20},   [LOAM_T_Q5_0] = {32, 22},
    [LOAM_T_Q5_1] = {32, 24},   [LOAM_T_Q8_0] = {32, 34},   [LOAM_T_Q2_K] = {256, 84},
    [LOAM_T_Q3_K] = {256, 110}, [LOAM_T_Q4_K] = {256, 144}, [LOAM_T_Q5_K] = {256, 176},
    [LOAM_T_Q6_K] = {256, 210}, [LOAM_T_IQ4_NL] = {32, 18},
};

int loam_type_is_quantized(loam_type t) { return (unsigned)t < LOAM_T_COUNT && blocks[t].elems > 0; }

void loam_type_block(loam_type t, int *be, int *bb) {
    if (loam_type_is_quantized(t)) {
        *be = blocks[t].elems;
        *bb = blocks[t].bytes;
    } else {
        *be = 1;
        *bb = (int)loam_type_size(t);
    }
}

size_t loam_row_bytes(loam_type t, int64_t k) {
    int be, bb;
    loam_type_block(t, &be, &bb);
    return (size_t)(k / be) * (size_t)bb;
}

const char *loam_type_name(loam_type t) { return (unsigned)t < LOAM_T_COUNT ? type_table[t].name : "unsupported"; }
const char *loam_type_short(loam_type t) { return (unsigned)t < LOAM_T_COUNT ? type_table[t].short_name : "?"; }
size_t loam_type_size(loam_type t) { return (unsigned)t < LOAM_T_COUNT ? type_table[t].size : 0; }

int loam_type_from_name(const char *name, loam_type *out) {
    for (int t = 0; t < LOAM_T_COUNT; t++) {
        if (strcmp(type_table[t].name, name) == 0) {
            *out = (loam_type)t;
            return 1;
        }
    }
    return 0;
}

int64_t loam_tensor_nelements(const loam_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) n *= t->shape[i];
    return n;
}

const char *loam_shape_str(const loam_tensor *t, char *buf, size_t len) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, len - at, "[");
    for (int i = 0; i < t->n_dims && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}
