/* The internal shape of a loaded model and a context. */
#ifndef LOAM_MODELS_MODEL_H
#define LOAM_MODELS_MODEL_H
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "text/family.h"
#include "text/spec.h"
#include "formats/weights.h"

/* The default context: the model's training context, capped here so a
 * 128k-context model does not reserve a 128k KV cache unasked. */
#define LOAM_DEFAULT_CTX_CAP 4096

struct loam_model {
    char *path;
    loam_spec spec;
    const loam_family *family;
    loam_weight_store store;
    const loam_tensor *global[LOAM_G_COUNT];
    const loam_tensor *(*layer)[LOAM_L_COUNT]; /* [n_layers][role] */
    /* 1-D tensors (norm weights, biases) converted to f32 once at load:
     * they are tiny and read on every row. NULL where the role is unused. */
    float *global_vec[LOAM_G_COUNT];
    float *(*layer_vec)[LOAM_L_COUNT];
    const loam_kernels *kernels;
    int n_threads;
    int quant_exact;
    loam_bf16dot_fn bf16dot; /* BF16 weights with rounded activations (opt-in), or NULL */
    /* weight matrices repacked at load for the kernels (kernels/strips.h):
     * global[] and layer[] point at these copies */
    loam_tensor *packed;
    void *packed_arena; /* their data, one allocation */
    int n_packed;
    float *rope_inv_freq; /* rope_dim / 2 */
    float *alibi_slopes;  /* n_heads */
    loam_sampling_params sampling;
    int64_t n_params;
    uint64_t weight_bytes;
    loam_type weight_type;
};

/* Whether loam runs GGUF files of this general.architecture. */
int loam_gguf_arch_supported(const char *arch);

/* The spec of a GGUF model from its metadata and tensors. */
loam_status loam_gguf_spec(const loam_weight_store *ws, const char *path, loam_spec *s, loam_error *err);

/* Validates a spec filled by a family: sizes positive, heads divide, options
 * compatible. */
loam_status loam_spec_validate(const loam_spec *s, const char *path, loam_error *err);
/* bos (or -1) and every eos id inside the vocabulary; `path` names the file that set them. */
loam_status loam_spec_check_token_ids(const loam_spec *s, const char *path, loam_error *err);

#endif
