/* Tensors by name with their shapes checked (see bind.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "encoders/bind.h"
#include "kernels/kernels.h"

loam_status enc_bind_open(enc_bind *b, const char *path, loam_error *err) {
    memset(b, 0, sizeof *b);
    if (!(b->path = strdup(path))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    size_t n = strlen(path);
    struct stat st;
    if (stat(path, &st) != 0) return loam_fail(err, LOAM_E_IO, "%s: cannot open: no such file or folder", path);
    if (n > 5 && !strcmp(path + n - 5, ".gguf")) return loam_weights_open_gguf(&b->ws, path, err);
    if (S_ISDIR(st.st_mode)) { /* transformers' model.*, or diffusers' diffusion_pytorch_model.* */
        char *single = loam_path_join(path, "diffusion_pytorch_model.safetensors"), *index = loam_path_join(path, "diffusion_pytorch_model.safetensors.index.json");
        int diffusers = (single && loam_file_exists(single)) || (index && loam_file_exists(index));
        free(single), free(index);
        return loam_weights_open_dir_named(&b->ws, path, diffusers ? "diffusion_pytorch_model" : "model", err);
    }
    return loam_weights_open_file(&b->ws, path, err);
}

void enc_bind_close(enc_bind *b) {
    for (int i = 0; i < b->n_owned; i++) free(b->owned[i]);
    free(b->owned), free(b->owned_from);
    loam_weights_close(&b->ws);
    free(b->path);
    memset(b, 0, sizeof *b);
}

int enc_has(const enc_bind *b, const char *name) { return loam_weights_find(&b->ws, name) != NULL; }

static loam_status missing(const enc_bind *b, const char *name, loam_error *err) {
    return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is missing", b->path, name);
}

loam_status enc_matrix(const enc_bind *b, const char *name, int n_dims, const int64_t *shape, const loam_tensor **out,
                       loam_error *err) {
    const loam_tensor *t = loam_weights_find(&b->ws, name);
    if (!t) return missing(b, name, err);
    int ok = t->n_dims == n_dims;
    for (int i = 0; ok && i < n_dims; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char have[96], want[96];
        int len = 0;
        for (int i = 0; i < n_dims && len < (int)sizeof want - 24; i++)
            len += snprintf(want + len, sizeof want - (size_t)len, "%s%lld", i ? ", " : "[", (long long)shape[i]);
        snprintf(want + len, sizeof want - (size_t)len, "]");
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" has shape %s, the model's hyperparameters imply %s", t->file,
                         name, loam_shape_str(t, have, sizeof have), want);
    }
    if (!loam_kernels_supports(t->type) || (n_dims != 2 && loam_type_is_quantized(t->type)))
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" has type %s, which loam cannot compute with here",
                         t->file, name, t->stored_type ? t->stored_type : loam_type_name(t->type));
    *out = t;
    return LOAM_OK;
}

loam_status enc_linear(const enc_bind *b, const char *name, int64_t rows, int64_t cols, const loam_tensor **out,
                       loam_error *err) {
    int64_t shape[2] = {rows, cols};
    return enc_matrix(b, name, 2, shape, out, err);
}

loam_status enc_floats(enc_bind *b, const char *name, int64_t n, float **out, loam_error *err) {
    const loam_tensor *t = loam_weights_find(&b->ws, name);
    if (!t) return missing(b, name, err);
    if (loam_tensor_nelements(t) != n || (t->type != LOAM_T_F32 && t->type != LOAM_T_F16 && t->type != LOAM_T_BF16))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" should be %lld float values", t->file, name, (long long)n);
    for (int i = 0; i < b->n_owned; i++) /* asked before: the same copy */
        if (b->owned_from[i] == t) return *out = b->owned[i], LOAM_OK;
    if (b->n_owned == b->cap_owned) {
        int cap = b->cap_owned ? 2 * b->cap_owned : 64;
        void **grown = realloc(b->owned, sizeof *grown * (size_t)cap);
        if (grown) b->owned = grown;
        const loam_tensor **from = grown ? realloc(b->owned_from, sizeof *from * (size_t)cap) : NULL;
        if (!from) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
        b->owned_from = from, b->cap_owned = cap;
    }
    float *v = malloc(sizeof(float) * (size_t)n);
    if (!v) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_row_to_f32(t->data, t->type, 0, (int)n, v);
    b->owned_from[b->n_owned] = t;
    b->owned[b->n_owned++] = v;
    *out = v;
    return LOAM_OK;
}

void enc_row(const loam_tensor *t, int64_t r, int n, float *out) { loam_row_to_f32(t->data, t->type, r, n, out); }
