/* Writes a .safetensors file: used by `--dump` and by the tests. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "loam_tools.h"

_Static_assert(LOAM_T_F32 == (int)LOAM_DTYPE_F32 && LOAM_T_F16 == (int)LOAM_DTYPE_F16 && LOAM_T_BF16 == (int)LOAM_DTYPE_BF16 &&
                   LOAM_T_I32 == (int)LOAM_DTYPE_I32 && LOAM_T_I64 == (int)LOAM_DTYPE_I64,
               "loam_dtype and loam_type agree on the first five");

loam_status loam_write_safetensors(const char *path, const loam_named_tensor *tensors, int n_tensors,
                                   loam_error *err) {
    cJSON *header = cJSON_CreateObject();
    if (!header) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    uint64_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const loam_named_tensor *t = &tensors[i];
        if (t->n_dims < 0 || t->n_dims > 4 || (unsigned)t->dtype > LOAM_DTYPE_I64) {
            cJSON_Delete(header);
            return loam_fail(err, LOAM_E_ARG, "%s: tensor \"%s\" has a bad dtype or rank", path, t->name);
        }
        uint64_t bytes = loam_type_size((loam_type)t->dtype);
        double shape[4];
        for (int d = 0; d < t->n_dims; d++) {
            bytes *= (uint64_t)t->shape[d];
            shape[d] = (double)t->shape[d];
        }
        cJSON *entry = cJSON_AddObjectToObject(header, t->name);
        cJSON_AddStringToObject(entry, "dtype", loam_type_name((loam_type)t->dtype));
        cJSON_AddItemToObject(entry, "shape", cJSON_CreateDoubleArray(shape, t->n_dims));
        double offs[2] = {(double)offset, (double)(offset + bytes)};
        cJSON_AddItemToObject(entry, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        offset += bytes;
    }
    char *json = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    if (!json) return loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    size_t len = strlen(json);
    size_t padded = (len + 7) & ~(size_t)7; /* keep the data 8-byte aligned */
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(json);
        return loam_fail(err, LOAM_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len_bytes, 1, 8, f) == 8 && fwrite(json, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    free(json);
    for (int i = 0; ok && i < n_tensors; i++) {
        const loam_named_tensor *t = &tensors[i];
        uint64_t bytes = loam_type_size((loam_type)t->dtype);
        for (int d = 0; d < t->n_dims; d++) bytes *= (uint64_t)t->shape[d];
        ok = bytes == 0 || fwrite(t->data, 1, (size_t)bytes, f) == bytes;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) return loam_fail(err, LOAM_E_IO, "%s: write failed", path);
    return LOAM_OK;
}

#include "formats/safetensors.h"

loam_status loam_read_safetensors(const char *path, const char *name, loam_named_tensor *out, loam_error *err) {
    memset(out, 0, sizeof *out);
    loam_st_file f;
    loam_status st = loam_st_open(&f, path, err);
    if (st) return st;
    const loam_tensor *t = loam_st_find(&f, name);
    if (!t) st = loam_fail(err, LOAM_E_FORMAT, "%s: no tensor \"%s\"", path, name);
    else if (t->type > LOAM_T_I64 || t->n_dims > 4)
        st = loam_fail(err, LOAM_E_UNSUPPORTED, "%s: tensor \"%s\" is %s; F32, F16, BF16, I32 or I64 of up to 4 dimensions are read", path,
                       name, loam_type_name(t->type));
    void *data = st ? NULL : malloc(t->n_bytes ? t->n_bytes : 1);
    if (!st && !data) st = loam_fail(err, LOAM_E_NOMEM, "%s: out of memory", path);
    if (!st) {
        memcpy(data, t->data, t->n_bytes);
        out->name = NULL, out->dtype = (loam_dtype)t->type, out->n_dims = t->n_dims, out->data = data;
        for (int i = 0; i < t->n_dims; i++) out->shape[i] = t->shape[i];
    }
    loam_st_close(&f);
    return st;
}
