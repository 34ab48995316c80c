/* GGUF (v2 and v3), the file format of llama.cpp: a header, typed key/value
 * metadata, tensor descriptions, then aligned tensor data. The reader maps
 * the file and validates every count, length, offset and alignment before
 * anything is used: the file is untrusted input. */
#ifndef LOAM_FORMATS_GGUF_H
#define LOAM_FORMATS_GGUF_H
#include "core/mapfile.h"
#include "core/tensor.h"

typedef enum {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
    GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

/* ggml tensor types (the numbering is the file format's). */
typedef enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8,
    GGML_Q8_1 = 9, GGML_Q2_K = 10, GGML_Q3_K = 11, GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14,
    GGML_Q8_K = 15, GGML_IQ4_NL = 20, GGML_I8 = 24, GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27, GGML_F64 = 28, GGML_BF16 = 30,
    GGML_TYPE_LIMIT = 40
} ggml_type;

/* The loam type of a ggml tensor type, -1 for types loam does not compute
 * with; and the ggml type of a loam type (GGML_TYPE_LIMIT for none). */
int gguf_loam_type(ggml_type t);
ggml_type gguf_ggml_type(loam_type t);

typedef struct {
    const char *key; /* not NUL-terminated in the file: copied */
    gguf_type type;
    gguf_type elem_type; /* arrays */
    uint64_t count;      /* arrays: element count */
    const uint8_t *value; /* the value (or first array element) in the mapping */
} gguf_kv;

typedef struct {
    char *name;
    ggml_type type;
    int n_dims;
    uint64_t ne[4]; /* GGUF order: fastest axis first */
    uint64_t offset, n_bytes;
    const uint8_t *data;
} gguf_tensor;

typedef struct {
    loam_mapfile map;
    uint32_t version;
    uint64_t alignment;
    int64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    char *strings; /* storage for keys and names */
    int64_t *kv_sorted, *tensor_sorted; /* indexes by key / name, for lookups in O(log n) */
} gguf_file;

loam_status gguf_open(gguf_file *g, const char *path, loam_error *err);
/* Parses an image in memory (the fuzz target's entry); views point into it. */
loam_status gguf_parse(gguf_file *g, const uint8_t *data, uint64_t size, const char *path, loam_error *err);
/* Frees what gguf_parse allocated (gguf_close also unmaps the file). */
void gguf_release(gguf_file *g);
void gguf_close(gguf_file *g);

const gguf_kv *gguf_find(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);
/* Typed getters: 0 when absent or of another type. Integers of any width
 * convert when the value fits. */
int gguf_get_int(const gguf_file *g, const char *key, int64_t *out);
int gguf_get_float(const gguf_file *g, const char *key, double *out);
int gguf_get_bool(const gguf_file *g, const char *key, int *out);
/* A string value: pointer into the mapping and its length. */
int gguf_get_str(const gguf_file *g, const char *key, const char **s, uint64_t *len);
/* Element i of an array of strings / numbers (validated at parse time). */
int gguf_array_str(const gguf_kv *kv, uint64_t i, const char **s, uint64_t *len);
int gguf_array_num(const gguf_kv *kv, uint64_t i, double *out);
/* All elements of an array of strings in one pass (strs/lens hold count). */
int gguf_array_strs(const gguf_kv *kv, const char **strs, uint64_t *lens);

/* Block geometry of a ggml type: elements per block and bytes per block;
 * 0 for an unknown type. */
int ggml_type_block(ggml_type t, uint64_t *block_elems, uint64_t *block_bytes);
const char *ggml_type_name(ggml_type t);
/* "IQ2_XXS (ggml type 16)", for messages: a static string per type. */
const char *ggml_type_label(uint32_t t);

#endif
