#include "formats/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"

/* A shard name from the index must be a plain file name in the folder. */
static int safe_file_name(const char *name) {
    return name[0] && name[0] != '.' && !strchr(name, '/') && !strchr(name, '\\');
}

static loam_status open_one(loam_weight_store *ws, const char *dir, const char *name, loam_error *err) {
    char *path = loam_path_join(dir, name);
    if (!path) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_st_file *grown = realloc(ws->files, (size_t)(ws->n_files + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    ws->files = grown;
    loam_status st = loam_st_open(&ws->files[ws->n_files], path, err);
    free(path);
    if (st != LOAM_OK) return st;
    ws->mapped_bytes += ws->files[ws->n_files].map.size;
    ws->n_files++;
    return LOAM_OK;
}

static int already_open(const loam_weight_store *ws, const char *dir, const char *name) {
    char *path = loam_path_join(dir, name);
    int found = 0;
    for (int i = 0; path && i < ws->n_files && !found; i++) found = strcmp(ws->files[i].map.path, path) == 0;
    free(path);
    return found;
}

/* Opens every shard the index names and checks that each tensor it maps is
 * in the shard it says. */
static loam_status open_sharded(loam_weight_store *ws, const char *dir, const char *index_path, loam_error *err) {
    cJSON *index = NULL;
    loam_status st = loam_json_load(index_path, &index, err);
    if (st != LOAM_OK) return st;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(index);
        return loam_fail(err, LOAM_E_FORMAT, "%s: no \"weight_map\" object", index_path);
    }
    const cJSON *entry;
    cJSON_ArrayForEach(entry, map) {
        if (!cJSON_IsString(entry) || !safe_file_name(entry->valuestring)) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" maps to a bad file name", index_path,
                           entry->string);
            break;
        }
        if (!already_open(ws, dir, entry->valuestring)) {
            char *path = loam_path_join(dir, entry->valuestring);
            int exists = path && loam_file_exists(path);
            free(path);
            if (!exists) {
                st = loam_fail(err, LOAM_E_IO, "%s: shard \"%s\" (holding tensor \"%s\") is missing from %s",
                               index_path, entry->valuestring, entry->string, dir);
                break;
            }
            st = open_one(ws, dir, entry->valuestring, err);
            if (st != LOAM_OK) break;
        }
        const loam_tensor *t = loam_weights_find(ws, entry->string);
        char *want = loam_path_join(dir, entry->valuestring);
        if (!t || !want || strcmp(t->file, want) != 0) {
            st = loam_fail(err, LOAM_E_FORMAT, "%s: tensor \"%s\" is not in shard \"%s\"", index_path,
                           entry->string, entry->valuestring);
            free(want);
            break;
        }
        free(want);
    }
    cJSON_Delete(index);
    return st;
}

loam_status loam_weights_open_dir(loam_weight_store *ws, const char *dir, loam_error *err) {
    return loam_weights_open_dir_named(ws, dir, "model", err);
}

loam_status loam_weights_open_dir_named(loam_weight_store *ws, const char *dir, const char *base, loam_error *err) {
    memset(ws, 0, sizeof *ws);
    char index_name[128], single_name[128];
    snprintf(index_name, sizeof index_name, "%s.safetensors.index.json", base);
    snprintf(single_name, sizeof single_name, "%s.safetensors", base);
    char *index_path = loam_path_join(dir, index_name);
    char *single_path = loam_path_join(dir, single_name);
    loam_status st;
    if (!index_path || !single_path) {
        st = loam_fail(err, LOAM_E_NOMEM, "out of memory");
    } else if (loam_file_exists(index_path)) {
        st = open_sharded(ws, dir, index_path, err);
    } else if (loam_file_exists(single_path)) {
        st = open_one(ws, dir, single_name, err);
    } else {
        st = loam_fail(err, LOAM_E_IO, "%s: no %s or %s", dir, single_name, index_name);
    }
    free(index_path);
    free(single_path);
    if (st != LOAM_OK) loam_weights_close(ws);
    return st;
}

loam_status loam_weights_open_file(loam_weight_store *ws, const char *path, loam_error *err) {
    memset(ws, 0, sizeof *ws);
    if (!(ws->files = calloc(1, sizeof *ws->files))) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = loam_st_open(&ws->files[0], path, err);
    if (st != LOAM_OK) {
        loam_weights_close(ws);
        return st;
    }
    ws->mapped_bytes = ws->files[0].map.size;
    ws->n_files = 1;
    return LOAM_OK;
}

loam_status loam_weights_open_gguf(loam_weight_store *ws, const char *path, loam_error *err) {
    memset(ws, 0, sizeof *ws);
    ws->gguf = calloc(1, sizeof *ws->gguf);
    if (!ws->gguf) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    loam_status st = gguf_open(ws->gguf, path, err);
    if (st) {
        free(ws->gguf);
        ws->gguf = NULL;
        return st;
    }
    ws->mapped_bytes = ws->gguf->map.size;
    ws->n_gguf = (int)ws->gguf->n_tensors;
    ws->gguf_tensors = calloc((size_t)(ws->n_gguf ? ws->n_gguf : 1), sizeof *ws->gguf_tensors);
    if (!ws->gguf_tensors) {
        loam_weights_close(ws);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < ws->n_gguf; i++) {
        const gguf_tensor *g = &ws->gguf->tensors[i];
        loam_tensor *t = &ws->gguf_tensors[i];
        int type = gguf_loam_type(g->type);
        t->name = g->name;
        t->file = ws->gguf->map.path;
        t->data = g->data;
        t->n_bytes = g->n_bytes;
        t->n_dims = g->n_dims;
        for (int d = 0; d < g->n_dims; d++) t->shape[d] = (int64_t)g->ne[g->n_dims - 1 - d]; /* outermost first */
        /* a type loam does not compute with is only an error if the model uses the tensor */
        t->type = type < 0 ? LOAM_T_COUNT : (loam_type)type;
        if (type < 0) t->stored_type = ggml_type_label(g->type);
    }
    return LOAM_OK;
}

void loam_weights_close(loam_weight_store *ws) {
    if (ws->gguf) gguf_close(ws->gguf);
    free(ws->gguf);
    free(ws->gguf_tensors);
    for (int i = 0; i < ws->n_files; i++) loam_st_close(&ws->files[i]);
    free(ws->files);
    memset(ws, 0, sizeof *ws);
}

const loam_tensor *loam_weights_find(const loam_weight_store *ws, const char *name) {
    if (ws->gguf) { /* the GGUF's name index: O(log n) */
        const gguf_tensor *g = gguf_find_tensor(ws->gguf, name);
        return g ? &ws->gguf_tensors[g - ws->gguf->tensors] : NULL;
    }
    for (int i = 0; i < ws->n_gguf; i++)
        if (strcmp(ws->gguf_tensors[i].name, name) == 0) return &ws->gguf_tensors[i];
    for (int i = 0; i < ws->n_files; i++) {
        const loam_tensor *t = loam_st_find(&ws->files[i], name);
        if (t) return t;
    }
    return NULL;
}
