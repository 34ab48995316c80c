/* Open a model, generate greedily, print: libloam's smallest complete
 * program. Build it against an installed loam:
 *
 *     cc generate.c $(pkg-config --cflags --libs loam) -o generate
 *     ./generate MODEL_DIR "Once upon a time" 32
 */
#include <loam.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) return fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]), 2;
    int n_new = argc > 3 ? atoi(argv[3]) : 32;
    loam_error err;
    loam_model *model = NULL;
    loam_context *ctx = NULL;
    loam_tokenizer *tok = NULL;
    loam_sampler *greedy = NULL;
    loam_detok_stream *out = NULL;
    loam_model_info info;
    loam_sampling_params sp = loam_sampling_default_params(); /* temperature 0: greedy */
    int32_t *ids = NULL, n = 0, seq = 0;
    int rc = 1;
    if (loam_model_open(argv[1], NULL, &model, &err) || loam_context_open(model, NULL, &ctx, &err) ||
        loam_tokenizer_open(argv[1], &tok, &err) || loam_detok_stream_open(tok, 1, &out, &err))
        goto fail;
    loam_model_get_info(model, &info);
    if (loam_sampler_open(&sp, info.n_vocab, &greedy, &err) ||
        loam_tokenize(tok, argv[2], strlen(argv[2]), 1, &ids, &n, &err)) /* BOS as transformers adds it */
        goto fail;
    int32_t *pos = malloc((size_t)n * sizeof *pos), *seqs = calloc((size_t)n, sizeof *seqs);
    for (int i = 0; pos && i < n; i++) pos[i] = i;
    loam_batch prompt = {n, ids, pos, seqs, NULL}; /* the whole prompt in one batch */
    int ok = pos && seqs && loam_decode(ctx, &prompt, &err) == LOAM_OK;
    const float *logits = ok ? loam_get_logits(ctx, n - 1) : NULL;
    free(pos), free(seqs);
    if (!ok) goto fail;
    for (int i = 0; i < n; i++) { /* the prompt through the stream too: the reply continues it */
        const char *text;
        size_t len;
        if (loam_detok_stream_push(out, ids[i], &text, &len, &err)) goto fail;
        fwrite(text, 1, len, stdout);
    }
    for (int32_t step = 0, p = n; step < n_new; step++, p++) {
        int32_t next = loam_sampler_sample(greedy, logits);
        const char *text;
        size_t len;
        if (loam_detok_stream_push(out, next, &text, &len, &err)) goto fail;
        fwrite(text, 1, len, stdout);
        loam_batch one = {1, &next, &p, &seq, NULL}; /* then a token at a time, through the KV cache */
        if (loam_decode(ctx, &one, &err)) goto fail;
        logits = loam_get_logits(ctx, 0);
    }
    printf("\n");
    rc = 0;
fail:
    if (rc) fprintf(stderr, "generate: %s\n", err.message);
    free(ids);
    loam_detok_stream_free(out);
    loam_sampler_free(greedy);
    loam_tokenizer_free(tok);
    loam_context_free(ctx);
    loam_model_free(model);
    return rc;
}
