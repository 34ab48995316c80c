/* The tensors of a model folder: one or more mapped safetensors files, looked
 * up by name. Shards are found through model.safetensors.index.json. */
#ifndef LOAM_MODELS_WEIGHTS_H
#define LOAM_MODELS_WEIGHTS_H
#include "formats/gguf.h"
#include "formats/safetensors.h"

typedef struct loam_weight_store {
    int n_files;
    loam_st_file *files;
    uint64_t mapped_bytes;
    /* or one GGUF file, its tensors seen as loam tensors ([out, in] order) */
    gguf_file *gguf;
    loam_tensor *gguf_tensors;
    int n_gguf;
} loam_weight_store;

/* Opens a GGUF file's tensors; fails on a tensor type loam cannot use. */
loam_status loam_weights_open_gguf(loam_weight_store *ws, const char *path, loam_error *err);

/* One .safetensors file (FLUX's flux1-*.safetensors, ae.safetensors). */
loam_status loam_weights_open_file(loam_weight_store *ws, const char *path, loam_error *err);
loam_status loam_weights_open_dir(loam_weight_store *ws, const char *dir, loam_error *err);
/* The same with another base name than "model" (diffusers' "diffusion_pytorch_model"). */
loam_status loam_weights_open_dir_named(loam_weight_store *ws, const char *dir, const char *base, loam_error *err);
void loam_weights_close(loam_weight_store *ws);
const loam_tensor *loam_weights_find(const loam_weight_store *ws, const char *name);

#endif
