/* A tiny FLUX.1 folder that takes text prompts: tiny-schnell with the real
 * CLIP-L and T5 tokenizers of the fixtures beside it (tokenizer/,
 * tokenizer_2/) and its encoders' embedding tables grown to those
 * vocabularies (the fixture's rows kept, the new ones random), so that a
 * prompt runs the whole pipeline: tokenizers, encoders, transformer, VAE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fp16.h"
#include "formats/safetensors.h"
#include "loam_tools.h"
#include "test.h"

/* Rewrites src (a safetensors file) to dst with tensor `name` grown to `rows` rows (BF16). */
static int grow_rows(const char *src, const char *dst, const char *name, int64_t rows) {
    loam_st_file f;
    loam_error err;
    if (loam_st_open(&f, src, &err)) return 0;
    loam_named_tensor *t = calloc((size_t)f.n_tensors, sizeof *t);
    uint16_t *grown = NULL;
    int ok = t != NULL;
    for (int i = 0; ok && i < f.n_tensors; i++) {
        const loam_tensor *s = &f.tensors[i];
        t[i] = (loam_named_tensor){s->name, (loam_dtype)s->type, s->n_dims, {0}, s->data};
        for (int d = 0; d < s->n_dims; d++) t[i].shape[d] = s->shape[d];
        if (strcmp(s->name, name)) continue;
        ok = s->type == LOAM_T_BF16 && s->n_dims == 2 && s->shape[0] <= rows;
        int64_t cols = s->shape[1];
        grown = ok ? malloc(sizeof(uint16_t) * (size_t)(rows * cols)) : NULL;
        ok = ok && grown;
        if (!ok) break;
        memcpy(grown, s->data, s->n_bytes);
        uint64_t x = 12345;
        for (int64_t k = s->shape[0] * cols; k < rows * cols; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            grown[k] = loam_f32_to_bf16(((float)(x >> 40) / (float)(1 << 24) - 0.5f) * 2.0f);
        }
        t[i].shape[0] = rows, t[i].data = grown;
    }
    ok = ok && loam_write_safetensors(dst, t, f.n_tensors, &err) == LOAM_OK;
    free(grown), free(t);
    loam_st_close(&f);
    return ok;
}

/* config.json with "vocab_size": n */
static int set_vocab(const char *src, const char *dst, int n) {
    char *text = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "sed 's/\"vocab_size\": *[0-9]*/\"vocab_size\": %d/' %s > %s", n, src, dst);
    int rc = run_capture(cmd, &text);
    free(text);
    return rc == 0;
}

const char *flux_prompt_copy(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    const char *from = fixture("flux/tiny-schnell");
    char a[1400], b[1400], cmd[20000], *text = NULL;
    snprintf(dir, sizeof dir, "%s/flux-prompt", temp_dir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/tokenizer %s/tokenizer_2 %s/text_encoder %s/text_encoder_2 && cp -r %s/transformer %s/vae %s/scheduler "
             "%s/model_index.json %s/flux1-schnell.safetensors %s/ae.safetensors %s/ && cp %s/vocab.json %s/merges.txt %s/tokenizer_config.json "
             "%s/tokenizer/ && cp %s/tokenizer.json %s/tokenizer_config.json %s/special_tokens_map.json %s/tokenizer_2/ && "
             "cp %s/text_encoder_2/model-00002-of-00002.safetensors %s/text_encoder_2/model.safetensors.index.json %s/text_encoder_2/ && "
             "chmod -R u+w %s",
             dir, dir, dir, dir, from, from, from, from, from, from, dir, fixture("tokenizers/clip"), fixture("tokenizers/clip"),
             fixture("tokenizers/clip"), dir, fixture("tokenizers/t5"), fixture("tokenizers/t5"), fixture("tokenizers/t5"), dir, from, from, dir, dir);
    int ok = run_capture(cmd, &text) == 0;
    free(text);
    snprintf(a, sizeof a, "%s/text_encoder/model.safetensors", from), snprintf(b, sizeof b, "%s/text_encoder/model.safetensors", dir);
    ok = ok && grow_rows(a, b, "text_model.embeddings.token_embedding.weight", 49408);
    snprintf(a, sizeof a, "%s/text_encoder/config.json", from), snprintf(b, sizeof b, "%s/text_encoder/config.json", dir);
    ok = ok && set_vocab(a, b, 49408);
    snprintf(a, sizeof a, "%s/text_encoder_2/model-00001-of-00002.safetensors", from);
    snprintf(b, sizeof b, "%s/text_encoder_2/model-00001-of-00002.safetensors", dir);
    ok = ok && grow_rows(a, b, "shared.weight", 32128);
    snprintf(a, sizeof a, "%s/text_encoder_2/config.json", from), snprintf(b, sizeof b, "%s/text_encoder_2/config.json", dir);
    ok = ok && set_vocab(a, b, 32128);
    if (!ok) dir[0] = 0;
    return ok ? dir : NULL;
}
