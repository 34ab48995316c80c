/* The hub client's file list: names that would escape the cache are
 * refused, and the choice of files is the one loam needs. */
#include <stdlib.h>
#include <string.h>

#include "store/hub.h"
#include "test.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BLOB "0123456789abcdef0123456789abcdef01234567"

/* A model-info answer listing the given names (LFS when .safetensors/.gguf). */
static char *answer(const char *const *names, int n) {
    char *s = malloc(64 * 1024);
    int w = sprintf(s, "{\"sha\": \"%s\", \"siblings\": [", BLOB);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        int lfs = (len > 12 && !strcmp(names[i] + len - 12, ".safetensors")) || (len > 5 && !strcmp(names[i] + len - 5, ".gguf"));
        if (lfs) w += sprintf(s + w, "%s{\"rfilename\": \"%s\", \"blobId\": \"%s\", \"size\": 10, \"lfs\": {\"sha256\": \"%s\", \"size\": 10}}",
                              i ? "," : "", names[i], BLOB, SHA);
        else w += sprintf(s + w, "%s{\"rfilename\": \"%s\", \"blobId\": \"%s\", \"size\": 10}", i ? "," : "", names[i], BLOB);
    }
    strcpy(s + w, "]}");
    return s;
}

static int selected(const char *const *names, int n, const char *spec, char *out, size_t cap) {
    char *json = answer(names, n);
    store_repo_info info;
    store_name name;
    loam_error err;
    out[0] = 0;
    int ok = store_parse_name(spec, &name, &err) == LOAM_OK && store_repo_info_parse(json, strlen(json), "x/y", &info, &err) == LOAM_OK;
    free(json);
    if (!ok) return snprintf(out, cap, "error: %s", err.message), 0;
    if (store_select_files(&info, &name, &err) != LOAM_OK) {
        snprintf(out, cap, "error: %s", err.message);
        store_repo_info_free(&info);
        return 0;
    }
    for (int i = 0; i < info.n_files; i++) strcat(strcat(out, info.files[i].path), " ");
    store_repo_info_free(&info);
    return 1;
}

static void test_unsafe_names_refused(void) {
    static const char *bad[] = {"../x.json", "/etc/passwd", "a/../../b.json", "a//b.json", "./a.json", "a\\\\b.json", "a/", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *names[] = {"config.json", bad[i]};
        char out[4096];
        CHECK(!selected(names, 2, "x/y", out, sizeof out) && strstr(out, "safe relative path"), "\"%s\" accepted: %s", bad[i], out);
    }
    char json[512];
    snprintf(json, sizeof json, "{\"sha\": \"%s\", \"siblings\": [{\"rfilename\": \"a.json\", \"blobId\": \"%s\", \"size\": -1}]}", BLOB, BLOB);
    store_repo_info info;
    loam_error err;
    CHECK(store_repo_info_parse(json, strlen(json), "x/y", &info, &err) != LOAM_OK, "a negative size was accepted");
}

static void test_choice_of_files(void) {
    char out[4096];
    static const char *llama[] = {"config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                                  "model-00002-of-00002.safetensors", "model.safetensors.index.json", "original/consolidated.00.pth",
                                  "original/params.json", "original/tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                  "special_tokens_map.json", "README.md", "LICENSE", "USE_POLICY.md", ".gitattributes"};
    CHECK(selected(llama, 15, "x/y", out, sizeof out), "%s", out);
    CHECK(!strcmp(out, "config.json generation_config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors "
                       "model.safetensors.index.json tokenizer.json tokenizer_config.json special_tokens_map.json "),
          "llama: %s", out);
    /* FLUX.1: the BFL single files, not the diffusers copies of the same weights */
    static const char *flux[] = {"ae.safetensors", "flux1-schnell.safetensors", "model_index.json", "scheduler/scheduler_config.json",
                                 "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder_2/model-00001-of-00002.safetensors",
                                 "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer_2/spiece.model",
                                 "transformer/config.json", "transformer/diffusion_pytorch_model-00001-of-00003.safetensors",
                                 "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "schnell_grid.jpeg"};
    CHECK(selected(flux, 15, "x/y", out, sizeof out), "%s", out);
    CHECK(!strstr(out, "diffusion_pytorch_model") && strstr(out, "flux1-schnell.safetensors") && strstr(out, "transformer/config.json") &&
              strstr(out, "vae/config.json") && strstr(out, "tokenizer_2/spiece.model") && strstr(out, "tokenizer/merges.txt") &&
              !strstr(out, "jpeg"),
          "flux: %s", out);
    /* GGUF repos: one quantization as a whole token, every part of a split file */
    static const char *gguf[] = {"README.md", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf",
                                 "m-f16.gguf", "mmproj-m-f16.gguf"};
    CHECK(selected(gguf, 7, "x/y:q8_0", out, sizeof out) && !strcmp(out, "m-Q8_0-00001-of-00002.gguf m-Q8_0-00002-of-00002.gguf "), "Q8_0: %s", out);
    CHECK(selected(gguf, 7, "x/y:Q4_K_M", out, sizeof out) && !strcmp(out, "m-Q4_K_M.gguf "), "Q4_K_M: %s", out);
    CHECK(!selected(gguf, 7, "x/y:Q4_K", out, sizeof out) && strstr(out, "no GGUF file of quantization Q4_K"), "Q4_K: %s", out);
    CHECK(!selected(gguf, 7, "x/y", out, sizeof out) && strstr(out, "several GGUF files"), "no quantization: %s", out);
    static const char *one[] = {"README.md", "only-Q4_0.gguf"};
    CHECK(selected(one, 2, "x/y", out, sizeof out) && !strcmp(out, "only-Q4_0.gguf "), "a repo of one GGUF: %s", out);
}

static void test_names(void) {
    store_name n;
    loam_error err;
    CHECK(store_parse_name("org/name:Q4_K_M@v1.0", &n, &err) == LOAM_OK && !strcmp(n.repo, "org/name") && !strcmp(n.quant, "Q4_K_M") &&
              !strcmp(n.revision, "v1.0"),
          "parsed %s %s %s", n.repo, n.quant, n.revision);
    CHECK(store_parse_name("org/name@../x", &n, &err) != LOAM_OK, "a revision with .. accepted");
    CHECK(store_parse_name("org/name:Q4 K", &n, &err) != LOAM_OK, "a quantization with a space accepted");
    CHECK(store_parse_name("noslash", &n, &err) != LOAM_OK && strstr(err.message, "hub id"), "%s", err.message);
}

void register_hub_files_tests(void) {
    test_add("store: hub file names that would leave the snapshot folder are refused", test_unsafe_names_refused);
    test_add("store: the files chosen from a repo (llama with original/, FLUX diffusers copies, GGUF parts)", test_choice_of_files);
    test_add("store: model names org/name:QUANT@rev", test_names);
}
