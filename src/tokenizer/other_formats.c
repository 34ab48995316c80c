/* Tokenizers published without tokenizer.json. Formats not implemented yet
 * give a clear error. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mapfile.h"
#include "tokenizer.h"

void tk_find_tiktoken(const char *dir, char **path) {
    *path = NULL;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while (!*path && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 9 && strcmp(e->d_name + n - 9, ".tiktoken") == 0) *path = loam_path_join(dir, e->d_name);
    }
    closedir(d);
}

loam_status tk_load_vocab_merges(loam_tokenizer *t, const char *dir, loam_error *err) {
    (void)t;
    return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: vocab.json + merges.txt tokenizers are not supported yet", dir);
}

loam_status tk_load_tiktoken(loam_tokenizer *t, const char *path, loam_error *err) {
    (void)t;
    return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tiktoken files are not supported yet", path);
}

loam_status tk_load_gguf(loam_tokenizer *t, const char *path, loam_error *err) {
    (void)t;
    return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: GGUF tokenizers are not supported yet", path);
}

loam_status tk_load_spm(loam_tokenizer *t, const char *path, loam_error *err) {
    (void)t;
    return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tokenizer.model is not supported yet", path);
}

loam_status tk_spm_encode(const loam_tokenizer *t, const char *s, size_t n, tk_ids *ids, loam_error *err) {
    (void)t, (void)s, (void)n, (void)ids;
    return loam_fail(err, LOAM_E_UNSUPPORTED, "SentencePiece encoding is not supported yet");
}

loam_status tk_spm_decode(const loam_tokenizer *t, const char **toks, const uint32_t *lens, int n, tk_buf *out) {
    return tk_decode_tokens(t, toks, lens, n, out);
}
