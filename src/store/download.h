/* Downloads of a repo's files into the cache: several at once, resumed
 * from the .incomplete part after a cut connection, each checked against
 * its digest before it is renamed into blobs/ and linked from the
 * snapshot. */
#ifndef LOAM_STORE_DOWNLOAD_H
#define LOAM_STORE_DOWNLOAD_H
#include "loam_store.h"
#include "store/hub.h"

typedef struct {
    const char *endpoint, *repo, *commit, *repo_dir, *token;
    const loam_store_params *params;
} store_download_job;

/* Bytes of f still to fetch: 0 when its blob is there, else its size
 * less what an .incomplete part holds. */
uint64_t store_missing_bytes(const char *repo_dir, const store_file *f);

loam_status store_download(const store_download_job *job, const store_file *files, int n_files, loam_error *err);

#endif
