/* Binding a model's tensors by name, checked against the shapes its
 * hyperparameters imply: what the text encoders and the image models share.
 * Weight matrices stay in the mapped file, in their stored type; the small
 * vectors (norms, biases) are copied to f32 and owned by the binder. */
#ifndef LOAM_ENCODERS_BIND_H
#define LOAM_ENCODERS_BIND_H
#include "formats/weights.h"

typedef struct enc_bind {
    loam_weight_store ws;
    char *path; /* the folder or file, for messages */
    void **owned;                  /* f32 copies of small tensors, */
    const loam_tensor **owned_from; /* each of this tensor */
    int n_owned, cap_owned;
} enc_bind;

/* Opens a folder of safetensors (shards through the index), a single
 * .safetensors file or a GGUF file. */
loam_status enc_bind_open(enc_bind *b, const char *path, loam_error *err);
void enc_bind_close(enc_bind *b);

/* Is a tensor of this name there? */
int enc_has(const enc_bind *b, const char *name);
/* A weight of exactly this shape (n_dims values of `shape`, outermost
 * first) in a type the kernels compute with; block-quantized only when
 * n_dims is 2 (a linear layer). */
loam_status enc_matrix(const enc_bind *b, const char *name, int n_dims, const int64_t *shape, const loam_tensor **out,
                       loam_error *err);
/* The same for a plain [rows, cols] matrix. */
loam_status enc_linear(const enc_bind *b, const char *name, int64_t rows, int64_t cols, const loam_tensor **out,
                       loam_error *err);
/* An f32 copy of a tensor of exactly n float values (F32/F16/BF16). */
loam_status enc_floats(enc_bind *b, const char *name, int64_t n, float **out, loam_error *err);
/* Row r of an embedding table [rows, n] to f32 (any type the kernels read). */
void enc_row(const loam_tensor *t, int64_t r, int n, float *out);

#endif
