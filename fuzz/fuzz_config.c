/* libFuzzer target: config.json and the model-folder loader. The input is
 * written as config.json next to a small valid model and opened. */
#include "fuzz_files.h"
#include "loam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    const char *dir = fuzz_dir("config");
    if (!ready) fuzz_copy_fixture("llm/llama32_tied/model.safetensors", dir, "model.safetensors"), ready = 1;
    fuzz_write(dir, "config.json", data, size);
    loam_model *m = NULL;
    loam_error err;
    loam_model_params p = loam_model_default_params();
    p.n_threads = 1;
    if (loam_model_open(dir, &p, &m, &err) == LOAM_OK) loam_model_free(m);
    return 0;
}
