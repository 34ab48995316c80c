/* libFuzzer target: config.json and the model-folder loader. The input is
 * written as config.json next to a small valid model and opened. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loam.h"

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/loam-fuzz-config-%d", (int)getpid());
    char cmd[256];
    const char *fixtures = getenv("LOAM_FIXTURES");
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/llm/llama32_tied/model.safetensors %s/", dir,
             fixtures ? fixtures : "../shared/fixtures", dir);
    if (system(cmd) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
    loam_model *m = NULL;
    loam_error err;
    loam_model_params p = loam_model_default_params();
    p.n_threads = 1;
    if (loam_model_open(dir, &p, &m, &err) == LOAM_OK) loam_model_free(m);
    return 0;
}
