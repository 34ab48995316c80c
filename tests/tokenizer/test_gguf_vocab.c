/* Tokenizers read from GGUF vocabularies, against llama.cpp's own vocab
 * test vectors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"

/* llama.cpp's own vocab test vectors: .inp holds strings separated by
 * "\n__ggml_vocab_test__\n", .out the ids (add_special false). */
static void check_gguf_vocab(const char *tok_path, const char *vectors) {
    char inp[1100], outp[1100];
    snprintf(inp, sizeof inp, "%s.inp", vectors);
    snprintf(outp, sizeof outp, "%s.out", vectors);
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(tok_path, &tok, &err), &err);
    char *in = NULL, *out = NULL;
    uint64_t in_len = 0;
    if (loam_read_file(inp, 1 << 24, &in, &in_len, &err) != LOAM_OK || loam_read_file(outp, 1 << 24, &out, NULL, &err) != LOAM_OK) {
        free(in);
        loam_tokenizer_free(tok);
        CHECK(0, "%s", err.message);
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    int n = 0, bad = 0;
    char first[600] = "";
    char *p = in, *o = out;
    while (*p || (p < in + in_len)) {
        char *end = strstr(p, sep);
        if (!end) break;
        char *line_end = strchr(o, '\n');
        if (!line_end) break;
        *line_end = 0;
        int32_t *ids = NULL;
        int n_ids = 0;
        loam_status st = loam_tokenize(tok, p, (size_t)(end - p), 0, &ids, &n_ids, &err);
        char got[4096] = "";
        size_t at = 0;
        for (int i = 0; st == LOAM_OK && i < n_ids && at < sizeof got - 16; i++) at += (size_t)snprintf(got + at, sizeof got - at, " %d", ids[i]);
        free(ids);
        if (st != LOAM_OK || strcmp(got, o) != 0) {
            if (!bad) snprintf(first, sizeof first, "\"%.40s\": got%.200s | want%.200s", p, st ? err.message : got, o);
            bad++;
        }
        n++;
        p = end + strlen(sep);
        o = line_end + 1;
    }
    free(in);
    free(out);
    loam_tokenizer_free(tok);
    CHECK(n == 46, "%s: read %d test strings (46 expected)", vectors, n);
    CHECK(bad == 0, "%s: %d/%d differ; first %s", vectors, bad, n, first);
}

#define GGUF_VOCAB_TEST(FN, NAME)                                                                     \
    static void FN(void) {                                                                           \
        char gguf[1024], vec[1024];                                                                  \
        snprintf(gguf, sizeof gguf, "%s", fixture("tokenizers/gguf-vocab/ggml-vocab-" NAME ".gguf")); \
        snprintf(vec, sizeof vec, "%s", gguf);                                                       \
        check_gguf_vocab(gguf, vec);                                                                 \
    }
GGUF_VOCAB_TEST(test_gguf_gpt2, "gpt-2")
GGUF_VOCAB_TEST(test_gguf_falcon, "falcon")
GGUF_VOCAB_TEST(test_gguf_mpt, "mpt")
GGUF_VOCAB_TEST(test_gguf_llama_spm, "llama-spm")
GGUF_VOCAB_TEST(test_gguf_phi3, "phi-3")

static void test_gguf_llama_bpe(void) {
    char tok[1024], vec[1024];
    snprintf(tok, sizeof tok, "%s", fixture("tokenizers/llama31"));
    snprintf(vec, sizeof vec, "%s", fixture("tokenizers/gguf-vocab/ggml-vocab-llama-bpe.gguf"));
    check_gguf_vocab(tok, vec);
}

void register_gguf_vocab_tests(void) {
    test_add("gguf-vocab: gpt-2 vectors from the GGUF vocab", test_gguf_gpt2);
    test_add("gguf-vocab: falcon vectors from the GGUF vocab", test_gguf_falcon);
    test_add("gguf-vocab: mpt vectors from the GGUF vocab", test_gguf_mpt);
    test_add("gguf-vocab: llama-spm vectors from the GGUF vocab", test_gguf_llama_spm);
    test_add("gguf-vocab: phi-3 vectors from the GGUF vocab", test_gguf_phi3);
    test_add("gguf-vocab: llama-bpe vectors with llama31/tokenizer.json", test_gguf_llama_bpe);
}
