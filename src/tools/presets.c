#include "tools/presets.h"

#include <string.h>
#include <strings.h>

const loam_preset loam_presets[] = {
    {.name = "llama-3.2-1b", .hub = "meta-llama/Llama-3.2-1B", .arch = "llama", .n_embd = 2048, .n_layers = 16, .n_heads = 32, .n_kv_heads = 8, .head_dim = 64, .n_ff = 8192, .n_vocab = 128256, .n_ctx = 131072, .rope_theta = 500000, .llama3_factor = 32, .tied = 1},
    {.name = "llama-3.2-3b", .hub = "meta-llama/Llama-3.2-3B", .arch = "llama", .n_embd = 3072, .n_layers = 28, .n_heads = 24, .n_kv_heads = 8, .head_dim = 128, .n_ff = 8192, .n_vocab = 128256, .n_ctx = 131072, .rope_theta = 500000, .llama3_factor = 32, .tied = 1},
    {.name = "llama-3.1-8b", .hub = "meta-llama/Llama-3.1-8B", .arch = "llama", .n_embd = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 8, .head_dim = 128, .n_ff = 14336, .n_vocab = 128256, .n_ctx = 131072, .rope_theta = 500000, .llama3_factor = 8},
    {.name = "llama-3.1-70b", .hub = "meta-llama/Llama-3.1-70B", .arch = "llama", .n_embd = 8192, .n_layers = 80, .n_heads = 64, .n_kv_heads = 8, .head_dim = 128, .n_ff = 28672, .n_vocab = 128256, .n_ctx = 131072, .rope_theta = 500000, .llama3_factor = 8},
    {.name = "llama-3.1-405b", .hub = "meta-llama/Llama-3.1-405B", .arch = "llama", .n_embd = 16384, .n_layers = 126, .n_heads = 128, .n_kv_heads = 8, .head_dim = 128, .n_ff = 53248, .n_vocab = 128256, .n_ctx = 131072, .rope_theta = 500000, .llama3_factor = 8},
    {.name = "phi-2", .hub = "microsoft/phi-2", .arch = "phi2", .n_embd = 2560, .n_layers = 32, .n_heads = 32, .n_kv_heads = 32, .head_dim = 80, .n_ff = 10240, .n_vocab = 51200, .n_ctx = 2048, .rope_theta = 10000, .rope_dim = 32},
    {.name = "gemma-2b", .hub = "google/gemma-2b", .arch = "gemma", .n_embd = 2048, .n_layers = 18, .n_heads = 8, .n_kv_heads = 1, .head_dim = 256, .n_ff = 16384, .n_vocab = 256000, .n_ctx = 8192, .rope_theta = 10000, .tied = 1},
    {.name = "gemma-7b", .hub = "google/gemma-7b", .arch = "gemma", .n_embd = 3072, .n_layers = 28, .n_heads = 16, .n_kv_heads = 16, .head_dim = 256, .n_ff = 24576, .n_vocab = 256000, .n_ctx = 8192, .rope_theta = 10000, .tied = 1},
    {.name = "falcon-7b", .hub = "tiiuae/falcon-7b", .arch = "falcon", .n_embd = 4544, .n_layers = 32, .n_heads = 71, .n_kv_heads = 1, .head_dim = 64, .n_ff = 18176, .n_vocab = 65024, .n_ctx = 2048, .rope_theta = 10000, .tied = 1},
    {.name = "falcon-40b", .hub = "tiiuae/falcon-40b", .arch = "falcon", .n_embd = 8192, .n_layers = 60, .n_heads = 128, .n_kv_heads = 8, .head_dim = 64, .n_ff = 32768, .n_vocab = 65024, .n_ctx = 2048, .rope_theta = 10000, .tied = 1, .falcon_two_norms = 1},
    {.name = "mpt-7b", .hub = "mosaicml/mpt-7b", .arch = "mpt", .n_embd = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 32, .head_dim = 128, .n_ff = 16384, .n_vocab = 50432, .n_ctx = 2048, .tied = 1},
    /* the same network trained on 65k-token stories (ALiBi: no position table) */
    {.name = "mpt-7b-storywriter", .hub = "mosaicml/mpt-7b-storywriter", .arch = "mpt", .n_embd = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 32, .head_dim = 128, .n_ff = 16384, .n_vocab = 50432, .n_ctx = 65536, .tied = 1},
    {.name = "bloom-560m", .hub = "bigscience/bloom-560m", .arch = "bloom", .n_embd = 1024, .n_layers = 24, .n_heads = 16, .n_kv_heads = 16, .head_dim = 64, .n_ff = 4096, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "bloom-1b1", .hub = "bigscience/bloom-1b1", .arch = "bloom", .n_embd = 1536, .n_layers = 24, .n_heads = 16, .n_kv_heads = 16, .head_dim = 96, .n_ff = 6144, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "bloom-1b7", .hub = "bigscience/bloom-1b7", .arch = "bloom", .n_embd = 2048, .n_layers = 24, .n_heads = 16, .n_kv_heads = 16, .head_dim = 128, .n_ff = 8192, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "bloom-3b", .hub = "bigscience/bloom-3b", .arch = "bloom", .n_embd = 2560, .n_layers = 30, .n_heads = 32, .n_kv_heads = 32, .head_dim = 80, .n_ff = 10240, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "bloom-7b1", .hub = "bigscience/bloom-7b1", .arch = "bloom", .n_embd = 4096, .n_layers = 30, .n_heads = 32, .n_kv_heads = 32, .head_dim = 128, .n_ff = 16384, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "bloom", .hub = "bigscience/bloom", .arch = "bloom", .n_embd = 14336, .n_layers = 70, .n_heads = 112, .n_kv_heads = 112, .head_dim = 128, .n_ff = 57344, .n_vocab = 250880, .n_ctx = 2048, .tied = 1},
    {.name = "whisper-tiny", .hub = "openai/whisper-tiny", .arch = "whisper", .n_embd = 384, .n_layers = 4, .n_heads = 6, .n_kv_heads = 6, .head_dim = 64, .n_ff = 1536, .n_vocab = 51865, .n_ctx = 448, .tied = 1, .n_layers_dec = 4, .n_mels = 80, .n_audio_ctx = 1500},
    {.name = "whisper-base", .hub = "openai/whisper-base", .arch = "whisper", .n_embd = 512, .n_layers = 6, .n_heads = 8, .n_kv_heads = 8, .head_dim = 64, .n_ff = 2048, .n_vocab = 51865, .n_ctx = 448, .tied = 1, .n_layers_dec = 6, .n_mels = 80, .n_audio_ctx = 1500},
    {.name = "whisper-small", .hub = "openai/whisper-small", .arch = "whisper", .n_embd = 768, .n_layers = 12, .n_heads = 12, .n_kv_heads = 12, .head_dim = 64, .n_ff = 3072, .n_vocab = 51865, .n_ctx = 448, .tied = 1, .n_layers_dec = 12, .n_mels = 80, .n_audio_ctx = 1500},
    {.name = "whisper-medium", .hub = "openai/whisper-medium", .arch = "whisper", .n_embd = 1024, .n_layers = 24, .n_heads = 16, .n_kv_heads = 16, .head_dim = 64, .n_ff = 4096, .n_vocab = 51865, .n_ctx = 448, .tied = 1, .n_layers_dec = 24, .n_mels = 80, .n_audio_ctx = 1500},
    {.name = "whisper-large-v2", .hub = "openai/whisper-large-v2", .arch = "whisper", .n_embd = 1280, .n_layers = 32, .n_heads = 20, .n_kv_heads = 20, .head_dim = 64, .n_ff = 5120, .n_vocab = 51865, .n_ctx = 448, .tied = 1, .n_layers_dec = 32, .n_mels = 80, .n_audio_ctx = 1500},
    {.name = "whisper-large-v3", .hub = "openai/whisper-large-v3", .arch = "whisper", .n_embd = 1280, .n_layers = 32,
     .n_heads = 20, .n_kv_heads = 20, .head_dim = 64, .n_ff = 5120, .n_vocab = 51866, .n_ctx = 448, .tied = 1,
     .n_layers_dec = 32, .n_mels = 128, .n_audio_ctx = 1500},
    {.name = "whisper-large-v3-turbo", .hub = "openai/whisper-large-v3-turbo", .arch = "whisper", .n_embd = 1280, .n_layers = 32, .n_heads = 20, .n_kv_heads = 20, .head_dim = 64, .n_ff = 5120, .n_vocab = 51866, .n_ctx = 448, .tied = 1, .n_layers_dec = 4, .n_mels = 128, .n_audio_ctx = 1500},
    /* the 12B rectified-flow transformer (the file of that name on the hub);
     * dev adds the guidance embedding */
    {.name = "flux.1-schnell", .hub = "black-forest-labs/FLUX.1-schnell", .arch = "flux", .n_embd = 3072, .n_heads = 24,
     .head_dim = 128, .n_ff = 12288, .rope_theta = 10000, .n_double = 19, .n_single = 38, .in_channels = 64,
     .context_dim = 4096, .vec_dim = 768},
    {.name = "flux.1-dev", .hub = "black-forest-labs/FLUX.1-dev", .arch = "flux", .n_embd = 3072, .n_heads = 24,
     .head_dim = 128, .n_ff = 12288, .rope_theta = 10000, .n_double = 19, .n_single = 38, .in_channels = 64,
     .context_dim = 4096, .vec_dim = 768, .guidance = 1},
};

const int loam_n_presets = (int)(sizeof loam_presets / sizeof loam_presets[0]);

const loam_preset *loam_preset_find(const char *name) {
    for (int i = 0; i < loam_n_presets; i++)
        if (!strcasecmp(name, loam_presets[i].name) || !strcasecmp(name, loam_presets[i].hub)) return &loam_presets[i];
    return 0;
}
