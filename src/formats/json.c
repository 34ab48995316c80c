#include "formats/json.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/mapfile.h"

#define MAX_JSON_FILE (64u << 20)

loam_status loam_json_load(const char *path, cJSON **out, loam_error *err) {
    char *text = NULL;
    uint64_t len = 0;
    loam_status st = loam_read_file(path, MAX_JSON_FILE, &text, &len, err);
    if (st != LOAM_OK) return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)len, &end, 0);
    if (!root) {
        long at = end ? (long)(end - text) : -1;
        free(text);
        return loam_fail(err, LOAM_E_FORMAT, "%s: malformed JSON near byte %ld", path, at);
    }
    free(text);
    *out = root;
    return LOAM_OK;
}

const cJSON *loam_json_get(const cJSON *obj, const char *key) {
    if (!obj) return NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) return NULL;
    return item;
}

int loam_json_is_int_in(const cJSON *item, double lo, double hi) {
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

static loam_status missing(const char *key, const char *file, loam_error *err) {
    return loam_fail(err, LOAM_E_FORMAT, "%s: required key \"%s\" is missing", file, key);
}

loam_status loam_json_int(const cJSON *obj, const char *key, int required, int64_t dflt,
                          int64_t *out, const char *file, loam_error *err) {
    const cJSON *item = loam_json_get(obj, key);
    if (!item) {
        if (required) return missing(key, file, err);
        *out = dflt;
        return LOAM_OK;
    }
    /* no config key loam reads needs more than 32 bits; wider values are
     * refused here, before any narrowing to int */
    if (!loam_json_is_int_in(item, -2147483648.0, 2147483647.0))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be an integer that fits 32 bits", file, key);
    *out = (int64_t)item->valuedouble;
    return LOAM_OK;
}

loam_status loam_json_float(const cJSON *obj, const char *key, int required, double dflt,
                            double *out, const char *file, loam_error *err) {
    const cJSON *item = loam_json_get(obj, key);
    if (!item) {
        if (required) return missing(key, file, err);
        *out = dflt;
        return LOAM_OK;
    }
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be a number", file, key);
    /* values end up in 32-bit floats: one past FLT_MAX would become inf */
    if (fabs(item->valuedouble) > FLT_MAX)
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" = %g is beyond the range of a 32-bit float", file, key,
                         item->valuedouble);
    *out = item->valuedouble;
    return LOAM_OK;
}

loam_status loam_json_bool(const cJSON *obj, const char *key, int required, int dflt, int *out,
                           const char *file, loam_error *err) {
    const cJSON *item = loam_json_get(obj, key);
    if (!item) {
        if (required) return missing(key, file, err);
        *out = dflt;
        return LOAM_OK;
    }
    if (!cJSON_IsBool(item))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be true or false", file, key);
    *out = cJSON_IsTrue(item);
    return LOAM_OK;
}

loam_status loam_json_string(const cJSON *obj, const char *key, int required, const char *dflt,
                             const char **out, const char *file, loam_error *err) {
    const cJSON *item = loam_json_get(obj, key);
    if (!item) {
        if (required) return missing(key, file, err);
        *out = dflt;
        return LOAM_OK;
    }
    if (!cJSON_IsString(item))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be a string", file, key);
    *out = item->valuestring;
    return LOAM_OK;
}

loam_status loam_json_int_list(const cJSON *obj, const char *key, int32_t *out, int max,
                               int *n_out, const char *file, loam_error *err) {
    *n_out = 0;
    const cJSON *item = loam_json_get(obj, key);
    if (!item) return LOAM_OK;
    if (cJSON_IsNumber(item)) {
        if (!loam_json_is_int_in(item, -2147483648.0, 2147483647.0))
            return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be an integer", file, key);
        if (max > 0) out[(*n_out)++] = (int32_t)item->valuedouble;
        return LOAM_OK;
    }
    if (!cJSON_IsArray(item))
        return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must be an integer or a list of integers",
                         file, key);
    const cJSON *v;
    cJSON_ArrayForEach(v, item) {
        if (!loam_json_is_int_in(v, -2147483648.0, 2147483647.0))
            return loam_fail(err, LOAM_E_FORMAT, "%s: key \"%s\" must hold integers", file, key);
        if (*n_out < max) out[(*n_out)++] = (int32_t)v->valuedouble;
    }
    return LOAM_OK;
}
