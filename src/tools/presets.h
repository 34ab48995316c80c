/* The published models' shapes, embedded so that loam can synthesize a
 * model of the real size (and plan memory) without any file. Values from
 * the publishers' config.json files (see ../shared/fixtures/configs). */
#ifndef LOAM_MODELS_PRESETS_H
#define LOAM_MODELS_PRESETS_H

typedef struct {
    const char *name;  /* e.g. "llama-3.1-8b" */
    const char *hub;   /* e.g. "meta-llama/Llama-3.1-8B" */
    const char *arch;  /* GGUF architecture: llama, gemma, phi2, falcon, mpt, bloom; whisper, flux */
    int n_embd, n_layers, n_heads, n_kv_heads, head_dim, n_ff, n_vocab, n_ctx;
    double rope_theta;
    double llama3_factor; /* 0: no llama3 rope scaling */
    int rope_dim;         /* rotated dims (Phi-2's partial rotary); 0 = head_dim */
    int tied;
    int falcon_two_norms;
    /* Whisper: n_layers are the encoder's; n_ctx the decoder's text positions */
    int n_layers_dec, n_mels, n_audio_ctx;
    /* FLUX.1 transformer: n_embd 3072 = n_heads x head_dim, n_ff the MLP width */
    int n_double, n_single, in_channels, context_dim, vec_dim, guidance;
} loam_preset;

extern const loam_preset loam_presets[];
extern const int loam_n_presets;
const loam_preset *loam_preset_find(const char *name);

#endif
