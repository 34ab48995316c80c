/* Writing GGUF v3 files: metadata in the order given, tensor infos, then
 * each tensor's data (aligned) streamed in order, so a large model never
 * has to be held in memory. */
#ifndef LOAM_FORMATS_GGUF_WRITE_H
#define LOAM_FORMATS_GGUF_WRITE_H
#include <stdio.h>

#include "formats/gguf.h"

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
/* Metadata. A value's raw encoding (as in a GGUF file, after the type)
 * can be copied from another file with gguf_w_raw. */
void gguf_w_raw(gguf_writer *w, const char *key, gguf_type type, const void *value, size_t n);
void gguf_w_str(gguf_writer *w, const char *key, const char *value);
void gguf_w_u32(gguf_writer *w, const char *key, uint32_t value);
void gguf_w_f32(gguf_writer *w, const char *key, float value);
void gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *values, uint64_t n);
void gguf_w_arr_f32(gguf_writer *w, const char *key, const float *values, uint64_t n);
void gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *values, uint64_t n);
/* A tensor: ne in GGUF order (fastest first). Returns its index. */
int gguf_w_tensor(gguf_writer *w, const char *name, int n_dims, const uint64_t *ne, ggml_type type);
/* Writes the header; then each tensor's bytes in order with gguf_w_data. */
loam_status gguf_w_begin(gguf_writer *w, const char *path, loam_error *err);
loam_status gguf_w_data(gguf_writer *w, int index, const void *data, size_t n, loam_error *err);
loam_status gguf_w_end(gguf_writer *w, loam_error *err);

#endif
