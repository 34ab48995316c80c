/* libFuzzer target: encode arbitrary bytes with real tokenizers (byte-level
 * BPE with regexes, SentencePiece-style BPE, Unigram with a charsmap), then
 * decode and stream-decode the ids. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loam.h"

static loam_tokenizer *toks[3];

static void load(void) {
    const char *fx = getenv("LOAM_FIXTURES");
    const char *names[3] = {"tokenizers/llama31", "llm/stories260k", "tokenizers/t5"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fx ? fx : "../shared/fixtures", names[i]);
        loam_error err;
        if (loam_tokenizer_open(path, &toks[i], &err) != LOAM_OK) {
            fprintf(stderr, "%s\n", err.message);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!toks[0]) load();
    for (int t = 0; t < 3; t++) {
        int32_t *ids = NULL;
        int n = 0;
        loam_error err;
        if (loam_tokenize(toks[t], (const char *)data, size, size & 1, &ids, &n, &err) != LOAM_OK) continue;
        char *out = NULL;
        if (loam_detokenize(toks[t], ids, n, 0, &out, NULL, &err) == LOAM_OK) free(out);
        loam_detok_stream *s = NULL;
        if (loam_detok_stream_open(toks[t], 1, &s, &err) == LOAM_OK) {
            for (int i = 0; i < n; i++) {
                const char *piece;
                size_t len;
                loam_detok_stream_push(s, ids[i], &piece, &len, &err);
            }
            loam_detok_stream_free(s);
        }
        free(ids);
    }
    return 0;
}
