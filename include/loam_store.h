/*
 * loam_store.h — libloam's model store: the Hugging Face cache on disk
 * (shared with huggingface_hub, the transformers library and every tool
 * that uses them), the hub client that fills it, and the chooser that says
 * which model fits this machine. The compute part of libloam never does
 * network I/O; only these calls do.
 *
 *     loam_store_params sp = loam_store_default_params();
 *     char path[4096];
 *     loam_error err;
 *     if (loam_pull("bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", &sp, path, sizeof path, &err) == LOAM_OK)
 *         loam_model_open(path, &mp, &model, &err);          // the GGUF in the cache
 */
#ifndef LOAM_STORE_H
#define LOAM_STORE_H

#include "loam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- the store */

/* Bytes done of a download of `total` bytes (all files of one pull), at
 * `bytes_per_s`; `file` is the one that just moved. */
typedef void (*loam_pull_progress_fn)(void *user, uint64_t done, uint64_t total, double bytes_per_s, const char *file);

typedef struct loam_store_params {
    const char *cache_dir; /* NULL: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub */
    const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;     /* NULL: $HF_TOKEN when set and not empty, else the token file
                              ($HF_HOME/token, else ~/.cache/huggingface/token); "" = none */
    int n_parallel;        /* files downloaded at once; 0 = 4 */
    int retries;           /* resumed attempts after a cut connection; 0 = 5, -1 = none */
    loam_pull_progress_fn progress;
    void *user;
} loam_store_params;

LOAM_API loam_store_params loam_store_default_params(void);

/* What a pull would fetch, found from the hub's file list: the repo, the
 * commit of the revision, the files loam needs (never the duplicate
 * `original/` weights or other frameworks' files) and the bytes still to
 * download (what the cache already holds is not counted). */
typedef struct loam_pull_plan {
    char repo[128];
    char revision[64];
    char commit[64];
    int n_files;
    uint64_t total_bytes;   /* of the needed files */
    uint64_t missing_bytes; /* not yet in the cache */
    char path[4096];        /* what loam_model_open takes once pulled (snapshot folder or the GGUF) */
} loam_pull_plan;

/* `name` is a hub id ("meta-llama/Llama-3.1-8B-Instruct"), optionally with
 * a GGUF quantization ("bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M") and a
 * revision ("org/name@rev"), or a short name of the catalogue ("llama3.1:8b"). */
LOAM_API loam_status loam_pull_plan_get(const char *name, const loam_store_params *params, loam_pull_plan *out,
                                        loam_error *err);
/* Fetches what is missing (resumable, several files at once, each checked
 * against the hub's sha256 or git blob id before it counts as complete) and
 * writes the path to open into path_out. Free space is checked first. */
LOAM_API loam_status loam_pull(const char *name, const loam_store_params *params, char *path_out, size_t path_len,
                               loam_error *err);

/* Without any network I/O: `name` as a folder or file that exists, else a
 * hub id or short name already complete in the cache (its path). LOAM_E_IO
 * saying so when it is not there. Marks a cached model as used now. */
LOAM_API loam_status loam_store_resolve(const char *name, const loam_store_params *params, char *path_out,
                                        size_t path_len, loam_error *err);

/* One model of the cache. */
typedef struct loam_store_entry {
    char repo[128];
    uint64_t bytes;      /* of its blobs */
    int64_t last_used;   /* seconds since the epoch: the latest access of its blobs */
    int n_revisions;     /* snapshots */
    int complete;        /* no .incomplete download left in it */
} loam_store_entry;

/* Every model in the cache, by repo name; free with loam_store_list_free. */
LOAM_API loam_status loam_store_list(const loam_store_params *params, loam_store_entry **out, int *n_out,
                                     loam_error *err);
LOAM_API void loam_store_list_free(loam_store_entry *entries);
/* Removes one model (hub id or short name) from the cache: its blobs,
 * snapshots and refs. */
LOAM_API loam_status loam_store_remove(const char *name, const loam_store_params *params, uint64_t *freed_bytes,
                                       loam_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LOAM_STORE_H */
