/* Fuzz seeds from the crafted files and the valid fixtures: with
 * LOAM_CRAFTED_SEEDS=dir, every file the crafted suites run is also kept
 * as dir/<fuzz target>/<hash of its bytes>, small enough to mutate (a GGUF
 * is cut where its tensor data starts, as fuzz_gguf_model supplies zeros;
 * a safetensors file keeps 4 KB of its data). */
#include "hardening/crafted.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/gguf.h"

#define SEED_MAX (1u << 20) /* larger seeds make every run of a target slow */

static int ends_with(const char *s, const char *end) {
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

/* The fuzz targets that read a file of this name (NULL-terminated). */
static const char *const *targets_for(const char *name) {
    static const char *const gguf[] = {"gguf", "gguf_model", NULL}, *const config[] = {"config", NULL},
                             *const tok_json[] = {"tokenizer_json", NULL}, *const spm[] = {"spm", NULL},
                             *const tiktoken[] = {"tiktoken", NULL}, *const st[] = {"safetensors", NULL};
    if (ends_with(name, ".gguf")) return gguf;
    if (!strcmp(name, "config.json") || !strcmp(name, "generation_config.json")) return config;
    if (!strcmp(name, "tokenizer.json")) return tok_json;
    if (ends_with(name, ".model")) return spm;
    if (ends_with(name, ".tiktoken")) return tiktoken;
    if (ends_with(name, ".safetensors")) return st;
    return NULL;
}

/* A GGUF without its tensor data when it parses, else its first 64 KB. */
static size_t gguf_seed_size(const bytes *b) {
    gguf_file g;
    loam_error err;
    if (gguf_parse(&g, b->p, b->n, "seed.gguf", &err) != LOAM_OK) return b->n < 65536 ? b->n : 65536;
    size_t start = b->n;
    for (int64_t i = 0; i < g.n_tensors; i++)
        if ((size_t)(g.tensors[i].data - b->p) < start) start = (size_t)(g.tensors[i].data - b->p);
    gguf_release(&g);
    return start;
}

/* A safetensors file with its header and at most 4 KB of its data. */
static size_t safetensors_seed_size(const bytes *b) {
    uint64_t hlen;
    if (b->n < 8) return b->n;
    memcpy(&hlen, b->p, 8);
    if (hlen > b->n - 8) return b->n < 65536 ? b->n : 65536;
    return b->n - 8 - hlen > 4096 ? 8 + hlen + 4096 : b->n;
}

static void keep_file(const char *out, const char *path, const char *name) {
    const char *const *targets = targets_for(name);
    bytes b;
    if (!targets || !bytes_read_file(path, &b)) return;
    size_t n = ends_with(name, ".gguf") ? gguf_seed_size(&b) : ends_with(name, ".safetensors") ? safetensors_seed_size(&b) : b.n;
    if (n <= SEED_MAX) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a: one file per distinct content */
        for (size_t i = 0; i < n; i++) h = (h ^ b.p[i]) * 1099511628211ull;
        for (int t = 0; targets[t]; t++) {
            char file[1200];
            snprintf(file, sizeof file, "%s/%s", out, targets[t]);
            mkdir(out, 0755), mkdir(file, 0755);
            snprintf(file, sizeof file, "%s/%s/%016llx", out, targets[t], (unsigned long long)h);
            bytes_write_file(file, b.p, n);
        }
    }
    free(b.p);
}

void crafted_keep_seed(const char *path) {
    const char *out = getenv("LOAM_CRAFTED_SEEDS");
    if (!out || !*out) return;
    struct stat sb;
    if (stat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        const char *slash = strrchr(path, '/');
        keep_file(out, path, slash ? slash + 1 : path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char file[1200];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.') keep_file(out, file, e->d_name);
    }
    if (d) closedir(d);
}

void crafted_keep_fixture_seeds(void) {
    if (!getenv("LOAM_CRAFTED_SEEDS")) return;
    const char *areas[] = {"gguf", "llm", "tokenizers"};
    for (int a = 0; a < 3; a++) {
        char area[1100];
        snprintf(area, sizeof area, "%s", fixture(areas[a]));
        DIR *d = opendir(area);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char sub[1400];
            snprintf(sub, sizeof sub, "%s/%s", area, e->d_name);
            if (e->d_name[0] != '.') crafted_keep_seed(sub);
        }
        if (d) closedir(d);
    }
}
