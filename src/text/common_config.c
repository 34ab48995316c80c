/* Config keys shared by families. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "formats/json.h"
#include "text/family.h"

loam_status loam_read_common_config(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    int64_t bos;
    loam_status st = loam_json_int(c, "bos_token_id", 0, -1, &bos, path, err);
    if (st) return st;
    if (loam_json_get(c, "bos_token_id") && bos < 0) /* -1 is loam's "none", not a value to write */
        return loam_fail(err, LOAM_E_FORMAT, "%s: bos_token_id %lld is not a token id", path, (long long)bos);
    s->bos_id = (int)bos;
    int n = 0;
    st = loam_json_int_list(c, "eos_token_id", s->eos_ids, 8, &n, path, err);
    s->n_eos = n;
    return st;
}

loam_status loam_read_rope_scaling(const cJSON *c, const char *path, loam_spec *s, loam_error *err) {
    s->rope_scaling = LOAM_ROPE_SCALING_NONE;
    const cJSON *rs = loam_json_get(c, "rope_scaling");
    if (!rs) return LOAM_OK;
    if (!cJSON_IsObject(rs)) return loam_fail(err, LOAM_E_FORMAT, "%s: \"rope_scaling\" must be an object", path);
    const char *type = NULL;
    loam_status st = loam_json_string(rs, "rope_type", 0, NULL, &type, path, err);
    if (st) return st;
    if (!type && (st = loam_json_string(rs, "type", 0, NULL, &type, path, err))) return st;
    if (!type) return loam_fail(err, LOAM_E_FORMAT, "%s: \"rope_scaling\" has no \"rope_type\"", path);
    if (strcmp(type, "default") == 0) return LOAM_OK;
    if (strcmp(type, "llama3") != 0)
        return loam_fail(err, LOAM_E_UNSUPPORTED,
                         "%s: rope_scaling type \"%s\" is not supported yet (supported: llama3)", path, type);
    /* transformers requires all four keys for llama3 scaling */
    int64_t orig;
    char where[600];
    snprintf(where, sizeof where, "%s (rope_scaling)", path);
    if ((st = loam_json_float(rs, "factor", 1, 0, &s->rope_factor, where, err)) ||
        (st = loam_json_float(rs, "low_freq_factor", 1, 0, &s->rope_low_freq_factor, where, err)) ||
        (st = loam_json_float(rs, "high_freq_factor", 1, 0, &s->rope_high_freq_factor, where, err)) ||
        (st = loam_json_int(rs, "original_max_position_embeddings", 1, 0, &orig, where, err)))
        return st;
    if (s->rope_factor < 1.0 || orig <= 0 || s->rope_high_freq_factor <= s->rope_low_freq_factor ||
        s->rope_low_freq_factor <= 0)
        return loam_fail(err, LOAM_E_FORMAT, "%s: rope_scaling llama3 values are out of range", path);
    s->rope_original_ctx = (int)orig;
    s->rope_scaling = LOAM_ROPE_SCALING_LLAMA3;
    return LOAM_OK;
}
