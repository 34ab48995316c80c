/* libFuzzer target: tokenizer.json loading from arbitrary bytes, then an
 * encode and decode with whatever loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/loam-fuzz-tok-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    loam_tokenizer *tok = NULL;
    loam_error err;
    if (loam_tokenizer_open(path, &tok, &err) == LOAM_OK) {
        const char *text = "Hello world! <s> 123 \xc3\xa9t\xc3\xa9 \xe4\xb8\x96  ";
        int32_t *ids = NULL;
        int n = 0;
        if (loam_tokenize(tok, text, strlen(text), 1, &ids, &n, &err) == LOAM_OK) {
            char *out = NULL;
            if (loam_detokenize(tok, ids, n, 0, &out, NULL, &err) == LOAM_OK) free(out);
            free(ids);
        }
        loam_tokenizer_free(tok);
    }
    return 0;
}
