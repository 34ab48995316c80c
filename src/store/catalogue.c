#include "store/catalogue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "formats/json.h"

/* data/catalogue.json, as CMake embeds it (catalogue_data.c). */
extern const char loam_catalogue_text[];
extern const size_t loam_catalogue_size;

static loam_status check_shape(const cJSON *root, const char *file, loam_error *err) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    const cJSON *shorts = cJSON_GetObjectItemCaseSensitive(root, "short_names");
    if (!cJSON_IsArray(models) || (shorts && !cJSON_IsObject(shorts)))
        return loam_fail(err, LOAM_E_FORMAT, "%s: a catalogue needs a \"models\" list (and \"short_names\" an object)", file);
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, models) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(m, "model");
        const cJSON *hub = cJSON_GetObjectItemCaseSensitive(m, "hub");
        const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(m, "tasks");
        const cJSON *lic = cJSON_GetObjectItemCaseSensitive(m, "licence");
        if (!cJSON_IsString(model) || !cJSON_IsString(hub) || !cJSON_IsArray(tasks) || !cJSON_IsObject(lic) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(lic, "name")) ||
            !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(lic, "commercial")))
            return loam_fail(err, LOAM_E_FORMAT, "%s: models[%d] needs model, hub, tasks and licence {name, commercial}", file, i);
        i++;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, shorts) {
        if (!cJSON_IsString(s)) return loam_fail(err, LOAM_E_FORMAT, "%s: short_names.%s is not a string", file, s->string);
    }
    return LOAM_OK;
}

loam_status store_catalogue_load(cJSON **out, loam_error *err) {
    *out = NULL;
    const char *path = getenv("LOAM_CATALOGUE");
    cJSON *root = NULL;
    const char *file = path && *path ? path : "the built-in catalogue";
    if (path && *path) {
        loam_status st = loam_json_load(path, &root, err);
        if (st != LOAM_OK) return st;
    } else {
        root = cJSON_ParseWithLength(loam_catalogue_text, loam_catalogue_size);
        if (!root) return loam_fail(err, LOAM_E_FORMAT, "the built-in catalogue is not JSON");
    }
    loam_status st = check_shape(root, file, err);
    if (st != LOAM_OK) {
        cJSON_Delete(root);
        return st;
    }
    *out = root;
    return LOAM_OK;
}

int store_short_name(const cJSON *catalogue, const char *name, char *target, size_t n) {
    const cJSON *shorts = cJSON_GetObjectItemCaseSensitive(catalogue, "short_names"), *s;
    cJSON_ArrayForEach(s, shorts) {
        if (s->string && !strcasecmp(s->string, name)) {
            snprintf(target, n, "%s", s->valuestring);
            return 1;
        }
    }
    return 0;
}
