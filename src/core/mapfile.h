/* Read-only memory mapping of a whole file. */
#ifndef LOAM_CORE_MAPFILE_H
#define LOAM_CORE_MAPFILE_H
#include <stddef.h>
#include <stdint.h>

#include "loam.h"

typedef struct loam_mapfile {
    const uint8_t *data;
    uint64_t size;
    char *path;
} loam_mapfile;

loam_status loam_mapfile_open(loam_mapfile *m, const char *path, loam_error *err);
void loam_mapfile_close(loam_mapfile *m);

/* Reads a whole (small) file into a NUL-terminated heap buffer. */
loam_status loam_read_file(const char *path, uint64_t max_size, char **out, uint64_t *out_size,
                           loam_error *err);
int loam_file_exists(const char *path);
/* dir + "/" + name into a new heap string. */
char *loam_path_join(const char *dir, const char *name);

#endif
