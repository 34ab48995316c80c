/* The hub's API as huggingface_hub uses it: a model's file list with sizes
 * and digests (GET /api/models/{repo}/revision/{rev}?blobs=true), and which
 * of those files loam needs. */
#ifndef LOAM_STORE_HUB_H
#define LOAM_STORE_HUB_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

/* A parsed model name: "org/name[:QUANT][@revision]". */
typedef struct {
    char repo[128];
    char quant[32];    /* "" = not a GGUF pick */
    char revision[64]; /* "main" unless given */
} store_name;

/* Splits a hub id (short names are looked up in the catalogue first). */
loam_status store_parse_name(const char *name, store_name *out, loam_error *err);

typedef struct {
    char path[512];    /* rfilename, checked: relative, no "..", no control characters */
    uint64_t size;
    int lfs;           /* stored in LFS: checked by sha256, else by git blob sha1 */
    char digest[65];   /* lfs.sha256 or blobId, lower-case hex: also the blob's name in the cache */
} store_file;

typedef struct {
    char commit[64];
    int gated;         /* the hub says access must be requested */
    store_file *files; /* the needed ones, after store_select_files */
    int n_files;
} store_repo_info;

/* One GET into memory (at most max_bytes), with the token when there is
 * one; *status the HTTP status. */
loam_status store_http_get(const char *url, const char *token, size_t max_bytes, char **body, size_t *len, long *status,
                           loam_error *err);

/* Reads the file list of repo at revision from the hub. */
loam_status store_repo_info_get(const char *endpoint, const char *token, const store_name *name, store_repo_info *out,
                                loam_error *err);
void store_repo_info_free(store_repo_info *info);

/* Parses the API's JSON (for tests and fuzzing too). */
loam_status store_repo_info_parse(const char *json, size_t len, const char *repo, store_repo_info *out, loam_error *err);

/* Keeps only what loam needs: with a quantization, the GGUF file(s) of
 * it (all parts of a split file); else the safetensors weights with the
 * configuration and tokenizer files, never `original/` or other
 * frameworks' copies of the weights; a repo of only GGUF files needs a
 * quantization unless it holds one. LOAM_E_ARG naming what there is when
 * nothing (or more than one GGUF) matches. */
loam_status store_select_files(store_repo_info *info, const store_name *name, loam_error *err);

/* Whether a GGUF file name carries the quantization (a whole token:
 * "Q4_K" is not in "x-Q4_K_M.gguf"). */
int store_gguf_name_matches(const char *path, const char *quant);

#endif
