/* A text context: the model it runs, its nn (kernels, threads, scratch of
 * the shared ops), its KV cache, and the buffers of one forward pass. */
#ifndef LOAM_TEXT_CONTEXT_H
#define LOAM_TEXT_CONTEXT_H
#include "loam_tools.h"
#include "nn/kv_cache.h"
#include "nn/nn.h"
#include "text/model.h"

struct loam_context {
    loam_model *m;
    loam_nn nn;
    loam_kv_cache kv;
    int capture_hidden;

    /* activations of one slice of a batch, grown on demand */
    int n_ubatch;
    int cap_rows;
    float *x, *h, *qkv, *q, *k, *v, *att, *o, *ff_a, *ff_b, *rope_cos, *rope_sin;

    /* outputs of the whole batch */
    int cap_out;
    float *hidden;  /* [n_layers + 1][rows][n_embd] when capture_hidden */
    float *logits;  /* [n_logit_rows][n_vocab] */
    int *logit_row; /* batch row -> row of logits, or -1 */
    int n_rows;
};

/* Activations of a slice of `rows` rows, and outputs of a batch of `rows`. */
/* What a text model of spec s with weight_bytes of weights needs at n_ctx
 * positions: the arithmetic behind loam_model_memory, `loam info` and
 * `loam pick` (which fills a spec from a published shape). */
void loam_text_memory(const loam_spec *s, uint64_t weight_bytes, int n_ctx, loam_kv_type kv_type, loam_memory_plan *out);

loam_status loam_context_reserve_rows(loam_context *c, int rows, loam_error *err);
loam_status loam_context_reserve_outputs(loam_context *c, int rows, loam_error *err);

#endif
