/* Digests through OpenSSL's EVP interface (a well-kept library: the hash
 * is not what loam is about). */
#include "store/hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/error.h"

loam_status store_file_digest(const char *path, int git_blob, char *hex, loam_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return loam_fail(err, LOAM_E_IO, "%s: cannot open to check its digest", path);
    struct stat st;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && fstat(fileno(f), &st) == 0 && EVP_DigestInit_ex(ctx, git_blob ? EVP_sha1() : EVP_sha256(), NULL);
    if (ok && git_blob) {
        char head[48];
        int n = snprintf(head, sizeof head, "blob %lld", (long long)st.st_size);
        ok = EVP_DigestUpdate(ctx, head, (size_t)n + 1); /* with its NUL */
    }
    static const size_t chunk = 1 << 20;
    unsigned char *buf = ok ? malloc(chunk) : NULL;
    ok = ok && buf;
    size_t got;
    while (ok && (got = fread(buf, 1, chunk, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, got);
    ok = ok && !ferror(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len);
    free(buf);
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return loam_fail(err, LOAM_E_IO, "%s: reading it to check its digest failed", path);
    for (unsigned i = 0; i < md_len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return LOAM_OK;
}
