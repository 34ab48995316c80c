#include "tensor.h"

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
};

const char *loam_type_name(loam_type t) { return (unsigned)t < LOAM_T_COUNT ? type_table[t].name : "?"; }
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
