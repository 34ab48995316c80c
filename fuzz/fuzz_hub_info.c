/* libFuzzer target: the hub's model-info answer (a server's JSON) through
 * the parser and the choice of files, with or without a quantization. */
#include <stdint.h>
#include <string.h>

#include "store/hub.h"

/* A ".." component, or an absolute path: what must never pass. */
static int escapes(const char *p) {
    if (p[0] == '/') return 1;
    for (const char *s = p; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
        if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == 0)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    store_repo_info info;
    loam_error err;
    if (store_repo_info_parse((const char *)data, size, "fuzz/repo", &info, &err) != LOAM_OK) return 0;
    store_name name;
    const char *spec = size && (data[0] & 1) ? "fuzz/repo:Q4_K_M" : "fuzz/repo";
    if (store_parse_name(spec, &name, &err) == LOAM_OK && store_select_files(&info, &name, &err) == LOAM_OK) {
        for (int i = 0; i < info.n_files; i++)
            if (escapes(info.files[i].path)) __builtin_trap();
    }
    store_repo_info_free(&info);
    return 0;
}
