/* The chooser's catalogue: data/catalogue.json, compiled into loam (so the
 * program needs no file beside it) unless LOAM_CATALOGUE names another
 * file. Every figure in it cites its source. */
#ifndef LOAM_STORE_CATALOGUE_H
#define LOAM_STORE_CATALOGUE_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "loam.h"

/* The parsed catalogue (cJSON_Delete it), checked for its shape. */
loam_status store_catalogue_load(cJSON **out, loam_error *err);

/* What a short name ("llama3.1:8b") pulls: a hub id with its
 * quantization, into target. 0 if the catalogue has no such name. */
int store_short_name(const cJSON *catalogue, const char *name, char *target, size_t n);

#endif
