/* loam synth --like NAME --type T -o OUT.gguf */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void show_progress(void *user, int done, int total, const char *item) {
    (void)user;
    fprintf(stderr, "\r[%4d/%4d] %-40s", done, total, item);
    if (done == total) fputc('\n', stderr);
}

int cmd_synth(int argc, char **argv) {
    const char *like = NULL, *type = "f16", *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--like") && i + 1 < argc) like = argv[++i];
        else if (!strcmp(argv[i], "--type") && i + 1 < argc) type = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: loam synth --like NAME --type f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q6_k|q4_k_m|q5_k_s|q5_k_m -o OUT.gguf\n"
                 "  NAME: llama-3.2-1b, llama-3.1-8b, llama-3.1-70b, llama-3.1-405b, phi-2, gemma-2b, gemma-7b,\n"
                 "        falcon-7b, falcon-40b, mpt-7b, bloom-560m, bloom, whisper-large-v3, flux.1-schnell,\n"
                 "        flux.1-dev (or the hub name). Random weights at the real shapes, for benchmarks.\n"
                 "  Whisper is written with transformers' tensor names (loam transcribe and loam bench run it).\n"
                 "  FLUX.1: -o FILE.gguf writes its 12B transformer with Black Forest Labs' names (loam bench\n"
                 "  times a step of it); -o FOLDER the whole pipeline as the hub lays it out (the transformer in\n"
                 "  --type, CLIP-L and T5-XXL in bf16, the autoencoder in f32), which loam imagine runs; put the\n"
                 "  real CLIP and T5 tokenizers in tokenizer/ and tokenizer_2/ for a prompt.");
            return 0;
        } else return cli_error("synth: unknown or incomplete option \"%s\"", argv[i]);
    }
    if (!like || !out) return cli_error("usage: loam synth --like NAME --type T -o OUT.gguf (FLUX.1: -o FOLDER for the whole pipeline)");
    loam_error err;
    size_t n = strlen(out);
    int folder = !strncmp(like, "flux", 4) && !(n > 5 && !strcmp(out + n - 5, ".gguf"));
    if (folder) { /* FLUX.1's whole pipeline: a folder */
        if (loam_synth_flux_folder(like, type, out, show_progress, NULL, &err) != LOAM_OK) return cli_error_status(&err);
        return 0;
    }
    if (loam_synth(like, type, out, show_progress, NULL, &err) != LOAM_OK) return cli_error_status(&err);
    return 0;
}
