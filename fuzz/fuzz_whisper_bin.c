/* libFuzzer target: whisper.cpp's ggml-*.bin reader (header, mel filters,
 * vocabulary, tensor records) over untrusted bytes: every tensor it
 * accepts lies inside its arena, every name is NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "speech/whisper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    loam_whisper w;
    memset(&w, 0, sizeof w);
    loam_error err;
    if (whisper_parse_bin(&w, data, size, 0, "fuzz.bin", &err) == LOAM_OK) {
        whisper_layout_special(&w.sp, w.hp.n_vocab);
        if (whisper_bin_vocab(&w, &err) == LOAM_OK) {
            for (int i = 0; i < w.n_vocab_bytes; i++)
                if (strlen(w.vocab[i]) > w.vocab_len[i]) __builtin_trap();
        }
        const loam_tensor *t = whisper_bin_find(w.bin, "encoder.conv1.weight");
        if (t && t->n_bytes) {
            volatile uint8_t sink = ((const uint8_t *)t->data)[t->n_bytes - 1];
            (void)sink;
        }
    }
    for (int i = 0; w.vocab && i < w.n_vocab_bytes; i++) free(w.vocab[i]);
    free(w.vocab), free(w.vocab_len);
    whisper_bin_free(w.bin);
    return 0;
}
