/* Typed access to JSON documents (cJSON underneath), with errors that name
 * the file and the key. JSON null counts as absent, as transformers treats
 * None. */
#ifndef LOAM_FORMATS_JSON_H
#define LOAM_FORMATS_JSON_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "loam.h"

/* Parses a file into a cJSON tree (caller frees with cJSON_Delete). */
loam_status loam_json_load(const char *path, cJSON **out, loam_error *err);

/* Each getter: absent/null -> *out = default and returns LOAM_OK; wrong
 * type -> LOAM_E_FORMAT naming `file` and `key`. `required` turns absence
 * into an error. Integers must fit 32 bits and floats the range of a
 * 32-bit float (what loam stores them in). */
loam_status loam_json_int(const cJSON *obj, const char *key, int required, int64_t dflt,
                          int64_t *out, const char *file, loam_error *err);
loam_status loam_json_float(const cJSON *obj, const char *key, int required, double dflt,
                            double *out, const char *file, loam_error *err);
loam_status loam_json_bool(const cJSON *obj, const char *key, int required, int dflt, int *out,
                           const char *file, loam_error *err);
/* Points into the tree; *out = dflt when absent. */
loam_status loam_json_string(const cJSON *obj, const char *key, int required, const char *dflt,
                             const char **out, const char *file, loam_error *err);
/* An int or a list of ints (e.g. eos_token_id); up to max values. */
loam_status loam_json_int_list(const cJSON *obj, const char *key, int32_t *out, int max,
                               int *n_out, const char *file, loam_error *err);

/* A JSON number that is an exact integer in [lo, hi]. */
int loam_json_is_int_in(const cJSON *item, double lo, double hi);
/* Present and not null. */
const cJSON *loam_json_get(const cJSON *obj, const char *key);

#endif
