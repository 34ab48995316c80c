/* libFuzzer target: the GGUF parser on arbitrary bytes; whatever it accepts
 * must lie inside the input, and every metadata accessor must stay in
 * bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file g;
    loam_error err;
    if (gguf_parse(&g, data, size, "fuzz.gguf", &err) != LOAM_OK) return 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const gguf_tensor *t = &g.tensors[i];
        if (t->data < data || t->data + t->n_bytes > data + size) abort();
    }
    for (int64_t i = 0; i < g.n_kv; i++) {
        const gguf_kv *kv = &g.kv[i];
        const char *s;
        uint64_t len;
        double d;
        int64_t v;
        gguf_get_int(&g, kv->key, &v);
        gguf_get_float(&g, kv->key, &d);
        if (gguf_get_str(&g, kv->key, &s, &len) && ((const uint8_t *)s < data || (const uint8_t *)s + len > data + size)) abort();
        if (kv->type == GGUF_ARRAY && kv->count > 0) {
            if (gguf_array_str(kv, kv->count - 1, &s, &len) && (const uint8_t *)s + len > data + size) abort();
            gguf_array_num(kv, kv->count - 1, &d);
        }
    }
    gguf_release(&g);
    return 0;
}
