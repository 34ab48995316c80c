/* libFuzzer target: untrusted audio bytes through the whole loading path
 * (libsndfile's format detection and decoding, the downmix, the soxr
 * resampler), with a 60 s cap so a header's claims cost nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "speech/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *pcm = NULL;
    size_t n = 0;
    loam_error err;
    if (speech_audio_decode(data, size, "fuzz", 60, &pcm, &n, &err) == LOAM_OK) {
        if (n == 0 || n > 60 * 16000 + 16000) __builtin_trap();
        volatile float sink = pcm[0] + pcm[n - 1]; /* the samples are readable */
        (void)sink;
    }
    free(pcm);
    return 0;
}
