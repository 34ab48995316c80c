/* libFuzzer target: GGUF metadata semantics, through model building and
 * tokenizer loading (fuzz_gguf covers the container alone). The input is
 * a GGUF header (metadata and tensor table); tensor data it does not carry
 * is supplied as zeros, so mutations spend their time in the metadata
 * rather than in weights. The file is then opened as `loam run` opens it,
 * and as a tokenizer. */
#include <string.h>

#include "formats/gguf.h"
#include "fuzz_files.h"
#include "fuzz_tokenize_round.h"

#define ZERO_TAIL (4u << 20) /* data a header may refer to without carrying it */

/* A model that opened must also run: token 0 at position 0 in a small context. */
static void forward_one_token(loam_model *m) {
    loam_context_params cp = loam_context_default_params();
    cp.n_ctx = 8;
    loam_context *ctx = NULL;
    loam_error err;
    if (loam_context_open(m, &cp, &ctx, &err) != LOAM_OK) return;
    int32_t tok = 0, pos = 0, seq = 0;
    loam_batch b = {.n_tokens = 1, .token = &tok, .pos = &pos, .seq_id = &seq};
    loam_decode(ctx, &b, &err);
    loam_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t *buf;
    static size_t cap;
    if (size + ZERO_TAIL > cap) {
        free(buf);
        cap = size + ZERO_TAIL;
        if (!(buf = malloc(cap))) abort();
    }
    memcpy(buf, data, size);
    memset(buf + size, 0, ZERO_TAIL);
    /* where the tensors end decides the file's size */
    gguf_file g;
    loam_error err;
    if (gguf_parse(&g, buf, size + ZERO_TAIL, "fuzz.gguf", &err) != LOAM_OK) return 0;
    size_t end = size;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        size_t t_end = (size_t)(g.tensors[i].data - buf) + g.tensors[i].n_bytes;
        if (t_end > end) end = t_end;
    }
    gguf_release(&g);
    const char *path = fuzz_write(fuzz_dir("gguf-model"), "model.gguf", buf, end);
    loam_model *m = NULL;
    loam_model_params p = loam_model_default_params();
    p.n_threads = 1;
    if (loam_model_open(path, &p, &m, &err) == LOAM_OK) {
        forward_one_token(m);
        loam_model_free(m);
    }
    fuzz_tokenize_round(path);
    return 0;
}
