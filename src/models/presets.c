#include "presets.h"

#include <string.h>
#include <strings.h>

const loam_preset loam_presets[] = {
    /* name              hub                              arch     embd  layers heads kv  hd  ffn    vocab   ctx     theta    llama3 rope tied 2norms */
    {"llama-3.2-1b", "meta-llama/Llama-3.2-1B", "llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, 500000, 32, 0, 1, 0},
    {"llama-3.1-8b", "meta-llama/Llama-3.1-8B", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 500000, 8, 0, 0, 0},
    {"llama-3.1-70b", "meta-llama/Llama-3.1-70B", "llama", 8192, 80, 64, 8, 128, 28672, 128256, 131072, 500000, 8, 0, 0, 0},
    {"llama-3.1-405b", "meta-llama/Llama-3.1-405B", "llama", 16384, 126, 128, 8, 128, 53248, 128256, 131072, 500000, 8, 0, 0, 0},
    {"phi-2", "microsoft/phi-2", "phi2", 2560, 32, 32, 32, 80, 10240, 51200, 2048, 10000, 0, 32, 0, 0},
    {"gemma-2b", "google/gemma-2b", "gemma", 2048, 18, 8, 1, 256, 16384, 256000, 8192, 10000, 0, 0, 1, 0},
    {"gemma-7b", "google/gemma-7b", "gemma", 3072, 28, 16, 16, 256, 24576, 256000, 8192, 10000, 0, 0, 1, 0},
    {"falcon-7b", "tiiuae/falcon-7b", "falcon", 4544, 32, 71, 1, 64, 18176, 65024, 2048, 10000, 0, 0, 1, 0},
    {"falcon-40b", "tiiuae/falcon-40b", "falcon", 8192, 60, 128, 8, 64, 32768, 65024, 2048, 10000, 0, 0, 1, 1},
    {"mpt-7b", "mosaicml/mpt-7b", "mpt", 4096, 32, 32, 32, 128, 16384, 50432, 2048, 0, 0, 0, 1, 0},
    {"bloom-560m", "bigscience/bloom-560m", "bloom", 1024, 24, 16, 16, 64, 4096, 250880, 2048, 0, 0, 0, 1, 0},
    {"bloom", "bigscience/bloom", "bloom", 14336, 70, 112, 112, 128, 57344, 250880, 2048, 0, 0, 0, 1, 0},
};

const int loam_n_presets = (int)(sizeof loam_presets / sizeof loam_presets[0]);

const loam_preset *loam_preset_find(const char *name) {
    for (int i = 0; i < loam_n_presets; i++)
        if (!strcasecmp(name, loam_presets[i].name) || !strcasecmp(name, loam_presets[i].hub)) return &loam_presets[i];
    return 0;
}
