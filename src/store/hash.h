/* File digests the hub publishes: sha256 for LFS files, git's blob sha1
 * ("blob <size>\0" + content) for the others. */
#ifndef LOAM_STORE_HASH_H
#define LOAM_STORE_HASH_H
#include <stdint.h>

#include "loam.h"

/* Lower-case hex digest of the file at path into hex (65 bytes for sha256,
 * 41 for sha1). git_blob: git's blob sha1 instead of sha256. */
loam_status store_file_digest(const char *path, int git_blob, char *hex, loam_error *err);

#endif
