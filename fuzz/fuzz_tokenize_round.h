/* After a tokenizer loads from fuzzed bytes: one encode and one decode
 * with it, so what was accepted is also used. */
#ifndef LOAM_FUZZ_TOKENIZE_ROUND_H
#define LOAM_FUZZ_TOKENIZE_ROUND_H
#include <stdlib.h>
#include <string.h>

#include "loam.h"

static void fuzz_tokenize_round(const char *path) {
    loam_tokenizer *tok = NULL;
    loam_error err;
    if (loam_tokenizer_open(path, &tok, &err) != LOAM_OK) return;
    const char *text = "Hello world! <s> 123 \xc3\xa9t\xc3\xa9 \xe4\xb8\x96  <|endoftext|>";
    int32_t *ids = NULL;
    int n = 0;
    if (loam_tokenize(tok, text, strlen(text), 1, &ids, &n, &err) == LOAM_OK) {
        char *out = NULL;
        if (loam_detokenize(tok, ids, n, 0, &out, NULL, &err) == LOAM_OK) free(out);
        free(ids);
    }
    loam_tokenizer_free(tok);
}

#endif
