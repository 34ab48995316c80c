/* safetensors: an 8-byte little-endian header length, a JSON header naming
 * every tensor's dtype, shape and [begin, end) byte range, then the data.
 * The reader maps the file and hands out zero-copy views. Every number in
 * the header is checked: the file is untrusted input. */
#ifndef LOAM_FORMATS_SAFETENSORS_H
#define LOAM_FORMATS_SAFETENSORS_H
#include "core/mapfile.h"
#include "core/tensor.h"

typedef struct loam_st_file {
    loam_mapfile map;
    int n_tensors;
    loam_tensor *tensors; /* sorted by name */
    char *names;          /* storage for the tensor names */
} loam_st_file;

/* Maps and validates a file. */
loam_status loam_st_open(loam_st_file *f, const char *path, loam_error *err);
void loam_st_close(loam_st_file *f);

/* Validates a whole file image already in memory (the fuzz target's entry).
 * `path` only names the file in errors. Views point into `data`. */
loam_status loam_st_parse(loam_st_file *f, const uint8_t *data, uint64_t size, const char *path,
                          loam_error *err);

const loam_tensor *loam_st_find(const loam_st_file *f, const char *name);

#endif
