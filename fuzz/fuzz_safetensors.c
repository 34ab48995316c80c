/* libFuzzer target: the safetensors header parser on arbitrary bytes. Every
 * accepted tensor must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    loam_st_file f;
    loam_error err;
    if (loam_st_parse(&f, data, size, "fuzz.safetensors", &err) == LOAM_OK) {
        for (int i = 0; i < f.n_tensors; i++) {
            const uint8_t *p = f.tensors[i].data;
            if (p < data || p + f.tensors[i].n_bytes > data + size) abort();
        }
        free(f.tensors);
        free(f.names);
    }
    return 0;
}
