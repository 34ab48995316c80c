/* What a model family contributes: how to read its config.json into a spec,
 * and the names its publisher gives each tensor role. Everything else is
 * shared. */
#ifndef LOAM_MODELS_FAMILY_H
#define LOAM_MODELS_FAMILY_H
#include <cjson/cJSON.h>

#include "loam.h"
#include "text/spec.h"

/* Tensors used once per model. */
typedef enum {
    LOAM_G_TOK_EMB,
    LOAM_G_EMB_NORM_W,
    LOAM_G_EMB_NORM_B,
    LOAM_G_OUT_NORM_W,
    LOAM_G_OUT_NORM_B,
    LOAM_G_LM_HEAD,
    LOAM_G_LM_HEAD_B,
    LOAM_G_ROPE_FREQS,
    LOAM_G_COUNT
} loam_global_role;

/* Tensors used once per layer. */
typedef enum {
    LOAM_L_ATTN_NORM_W,
    LOAM_L_ATTN_NORM_B,
    LOAM_L_FFN_NORM_W,
    LOAM_L_FFN_NORM_B,
    LOAM_L_WQ,
    LOAM_L_WK,
    LOAM_L_WV,
    LOAM_L_BQ,
    LOAM_L_BK,
    LOAM_L_BV,
    LOAM_L_WQKV,
    LOAM_L_BQKV,
    LOAM_L_WO,
    LOAM_L_BO,
    LOAM_L_W_GATE,
    LOAM_L_W_UP,
    LOAM_L_W_DOWN,
    LOAM_L_B_UP,
    LOAM_L_B_DOWN,
    LOAM_L_COUNT
} loam_layer_role;

typedef struct loam_family {
    const char *model_type;           /* config.json "model_type" */
    const char *architectures[4];     /* config.json "architectures" spellings */
    /* Fills every field of spec from config.json, with transformers' defaults
     * for absent keys. `path` names the file in errors. */
    loam_status (*read_config)(const cJSON *config, const char *path, loam_spec *spec, loam_error *err);
    const char *global_names[LOAM_G_COUNT]; /* NULL: this family never has it */
    const char *layer_names[LOAM_L_COUNT];  /* printf patterns with one %d: the layer */
    const char *name_prefixes[3];           /* tried in turn before each name; "" = none */
    /* Optional: a name that depends on the config (e.g. Falcon's norms);
     * NULL = use layer_names. */
    const char *(*layer_name_for)(const loam_spec *spec, int role);
} loam_family;

/* Models in GGUF files: llama.cpp's tensor names, one table for all. */
extern const loam_family loam_family_gguf;

/* All families loam knows, NULL-terminated. */
extern const loam_family *const loam_families[];

/* Reads the keys every family shares: bos/eos ids. */
loam_status loam_read_common_config(const cJSON *config, const char *path, loam_spec *spec, loam_error *err);

/* Shared by the RoPE families: "rope_scaling" as transformers reads it. */
loam_status loam_read_rope_scaling(const cJSON *config, const char *path, loam_spec *spec, loam_error *err);

#endif
