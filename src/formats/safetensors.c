#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"

/* The reference implementation refuses headers above 100 MB. */
#define MAX_HEADER_BYTES (100ull << 20)
/* Integers in JSON are doubles in cJSON: beyond 2^53 they are not exact. */
#define MAX_JSON_INT 9007199254740992.0

static int compare_by_name(const void *a, const void *b) {
    return strcmp(((const loam_tensor *)a)->name, ((const loam_tensor *)b)->name);
}

static int compare_by_offset(const void *a, const void *b) {
    const loam_tensor *x = *(const loam_tensor *const *)a, *y = *(const loam_tensor *const *)b;
    uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;
    return px < py ? -1 : px > py;
}

/* Reads one tensor entry of the header into t. */
static loam_status parse_entry(const cJSON *entry, const uint8_t *data_start, uint64_t data_size,
                               const char *path, loam_tensor *t, loam_error *err) {
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": header entry is not an object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets))
        return loam_fail(err, LOAM_E_FORMAT,
                         "%s: tensor \"%s\": needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                         path, name);
    if (!loam_type_from_name(dtype->valuestring, &t->type))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": unknown dtype \"%s\"", path, name,
                         dtype->valuestring);

    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > LOAM_MAX_DIMS)
        return loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\": %d dimensions (at most %d)", path,
                         name, n_dims, LOAM_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t n_elements = 1;
    int overflow = 0;
    for (int i = 0; i < n_dims; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!loam_json_is_int_in(d, 0, MAX_JSON_INT))
            return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": shape[%d] is not a non-negative integer",
                             path, name, i);
        t->shape[i] = (int64_t)d->valuedouble;
        if (__builtin_mul_overflow(n_elements, (uint64_t)t->shape[i], &n_elements)) overflow = 1;
    }
    uint64_t n_bytes = 0;
    if (overflow || __builtin_mul_overflow(n_elements, (uint64_t)loam_type_size(t->type), &n_bytes))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": shape is too large (overflow)", path, name);

    if (cJSON_GetArraySize(offsets) != 2)
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": data_offsets must be [begin, end]", path, name);
    const cJSON *b = cJSON_GetArrayItem(offsets, 0), *e = cJSON_GetArrayItem(offsets, 1);
    if (!loam_json_is_int_in(b, 0, MAX_JSON_INT) || !loam_json_is_int_in(e, 0, MAX_JSON_INT))
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": data_offsets are not non-negative integers",
                         path, name);
    uint64_t begin = (uint64_t)b->valuedouble, end = (uint64_t)e->valuedouble;
    if (begin > end)
        return loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] run backwards", path,
                         name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return loam_fail(err, LOAM_E_FORMAT,
                         "%s: tensor \"%s\": data_offsets end %llu is past the end of the data (%llu bytes; file truncated?)",
                         path, name, (unsigned long long)end, (unsigned long long)data_size);
    if (end - begin != n_bytes)
        return loam_fail(err, LOAM_E_FORMAT,
                         "%s: tensor \"%s\": shape %s x %s needs %llu bytes but data_offsets give %llu", path,
                         name, loam_shape_str(t, (char[96]){0}, 96), dtype->valuestring,
                         (unsigned long long)n_bytes, (unsigned long long)(end - begin));
    t->data = data_start + begin;
    t->n_bytes = n_bytes;
    return LOAM_OK;
}

static loam_status check_no_overlap(loam_st_file *f, const char *path, loam_error *err) {
    if (f->n_tensors < 2) return LOAM_OK;
    const loam_tensor **order = malloc((size_t)f->n_tensors * sizeof *order);
    if (!order) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, compare_by_offset);
    loam_status st = LOAM_OK;
    for (int i = 1; i < f->n_tensors; i++) {
        const loam_tensor *prev = order[i - 1], *cur = order[i];
        if ((const uint8_t *)prev->data + prev->n_bytes > (const uint8_t *)cur->data) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap", path, prev->name,
                           cur->name);
            break;
        }
    }
    free(order);
    return st;
}

loam_status loam_st_parse(loam_st_file *f, const uint8_t *data, uint64_t size, const char *path,
                          loam_error *err) {
    f->n_tensors = 0;
    f->tensors = NULL;
    f->names = NULL;
    if (size < 8)
        return loam_fail(err, LOAM_E_FORMAT, "%s: only %llu bytes, too short for a safetensors header", path,
                         (unsigned long long)size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | data[i];
    if (header_len > MAX_HEADER_BYTES)
        return loam_fail(err, LOAM_E_FORMAT, "%s: header length %llu is implausible (limit 100 MB)", path,
                         (unsigned long long)header_len);
    if (header_len > size - 8)
        return loam_fail(err, LOAM_E_FORMAT, "%s: header length %llu runs past the end of the file (%llu bytes; truncated?)",
                         path, (unsigned long long)header_len, (unsigned long long)size);
    const char *json = (const char *)data + 8;
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)header_len, &parse_end, 0);
    if (!root)
        return loam_fail(err, LOAM_E_FORMAT, "%s: header is not valid JSON (near byte %ld)", path,
                         parse_end ? (long)(parse_end - json) + 8 : -1L);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return loam_fail(err, LOAM_E_FORMAT, "%s: header is not a JSON object", path);
    }

    const uint8_t *data_start = data + 8 + header_len;
    uint64_t data_size = size - 8 - header_len;
    size_t names_len = 0;
    int n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0) continue;
        names_len += strlen(entry->string) + 1;
        n++;
    }
    loam_status st = LOAM_OK;
    f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
    f->names = malloc(names_len ? names_len : 1);
    if (!f->tensors || !f->names) {
        st = loam_fail(err, LOAM_E_NOMEM, "%s: out of memory for %d tensors", path, n);
        goto done;
    }
    char *name_at = f->names;
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(entry)) {
                st = loam_fail(err, LOAM_E_FORMAT, "%s: __metadata__ must be an object", path);
                goto done;
            }
            continue;
        }
        loam_tensor *t = &f->tensors[f->n_tensors];
        size_t len = strlen(entry->string) + 1;
        memcpy(name_at, entry->string, len);
        t->name = name_at;
        t->file = path;
        name_at += len;
        st = parse_entry(entry, data_start, data_size, path, t, err);
        if (st != LOAM_OK) goto done;
        f->n_tensors++;
    }
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, compare_by_name);
    for (int i = 1; i < f->n_tensors; i++) {
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" appears twice", path, f->tensors[i].name);
            goto done;
        }
    }
    st = check_no_overlap(f, path, err);
done:
    cJSON_Delete(root);
    if (st != LOAM_OK) {
        free(f->tensors);
        free(f->names);
        f->tensors = NULL;
        f->names = NULL;
        f->n_tensors = 0;
    }
    return st;
}

loam_status loam_st_open(loam_st_file *f, const char *path, loam_error *err) {
    memset(f, 0, sizeof *f);
    loam_status st = loam_mapfile_open(&f->map, path, err);
    if (st != LOAM_OK) return st;
    st = loam_st_parse(f, f->map.data, f->map.size, f->map.path, err);
    if (st != LOAM_OK) loam_mapfile_close(&f->map);
    return st;
}

void loam_st_close(loam_st_file *f) {
    free(f->tensors);
    free(f->names);
    loam_mapfile_close(&f->map);
    memset(f, 0, sizeof *f);
}

const loam_tensor *loam_st_find(const loam_st_file *f, const char *name) {
    loam_tensor key = {.name = name};
    return f->n_tensors ? bsearch(&key, f->tensors, (size_t)f->n_tensors, sizeof key, compare_by_name) : NULL;
}
