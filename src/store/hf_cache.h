/* The Hugging Face cache layout, as huggingface_hub writes it:
 *
 *   <cache>/models--<org>--<name>/blobs/<etag>          the file contents
 *                                 blobs/<etag>.incomplete a download under way (never taken as complete)
 *                                 snapshots/<commit>/<path> -> ../../blobs/<etag>
 *                                 refs/<revision>        the commit the revision named
 *
 * <etag> is the sha256 of an LFS file, the git blob sha1 of the others. */
#ifndef LOAM_STORE_HF_CACHE_H
#define LOAM_STORE_HF_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"
#include "loam_store.h"

#define STORE_PATH_MAX 4096

/* The cache folder the params (or the environment) name. */
loam_status store_cache_dir(const loam_store_params *p, char *out, size_t n, loam_error *err);
/* The token to send, or "" for none. */
void store_token(const loam_store_params *p, char *out, size_t n);
/* The hub's address, without a trailing slash. */
void store_endpoint(const loam_store_params *p, char *out, size_t n);

/* <cache>/models--org--name; LOAM_E_ARG if repo is not "org/name" of
 * safe characters. */
loam_status store_repo_dir(const char *cache, const char *repo, char *out, size_t n, loam_error *err);
/* The commit refs/<revision> names, or "" when there is none (a commit id
 * names itself when its snapshot exists). */
void store_read_ref(const char *repo_dir, const char *revision, char *commit, size_t n);
loam_status store_write_ref(const char *repo_dir, const char *revision, const char *commit, loam_error *err);

/* Creates every folder of path up to its last '/'. */
loam_status store_make_parents(const char *path, loam_error *err);
/* snapshots/<commit>/<rfilename> -> the blob, as a relative symlink. */
loam_status store_link_snapshot(const char *repo_dir, const char *commit, const char *rfilename, const char *etag,
                                loam_error *err);
/* Whether the file exists (a symlink whose blob exists). */
int store_exists(const char *path);
/* Size of a file, or -1. */
int64_t store_file_size(const char *path);
/* Bytes free to an unprivileged writer on the file system of path (or of
 * its nearest existing parent). */
uint64_t store_free_bytes(const char *path);

#endif
