/* loam quantize IN OUT --type T: a GGUF llama.cpp can load. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void show_progress(void *user, int done, int total, const char *item) {
    (void)user;
    fprintf(stderr, "\r[%3d/%3d] %-48s", done, total, item);
    if (done == total) fputc('\n', stderr);
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *type = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--type") && i + 1 < argc) type = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: loam quantize IN OUT --type f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q6_k|q4_k_m|q5_k_s|q5_k_m\n"
                 "  IN: a GGUF file, or a Hugging Face Llama folder; OUT: the GGUF to write");
            return 0;
        } else if (argv[i][0] == '-') return cli_error("quantize: unknown option \"%s\"", argv[i]);
        else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return cli_error("quantize: unexpected argument \"%s\"", argv[i]);
    }
    if (!in || !out || !type) return cli_error("usage: loam quantize IN OUT --type TYPE");
    loam_error err;
    char resolved[4096];
    if (cli_resolve_model(in, 0, resolved, sizeof resolved)) return 1;
    in = resolved;
    if (loam_quantize(in, out, type, show_progress, NULL, &err) != LOAM_OK) return cli_error_status(&err);
    return 0;
}
