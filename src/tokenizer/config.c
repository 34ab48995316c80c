/* tokenizer_config.json: the chat template and the names of BOS/EOS, which
 * chat templates use. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapfile.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"

/* "bos_token": "<s>" or {"content": "<s>", ...} */
static char *token_name(const cJSON *v) {
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(c) ? strdup(c->valuestring) : NULL;
}

loam_status tk_load_config(loam_tokenizer *t, const char *dir, loam_error *err) {
    char *path = loam_path_join(dir, "tokenizer_config.json");
    if (!path) return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    if (!loam_file_exists(path)) {
        free(path);
        return LOAM_OK;
    }
    cJSON *c = NULL;
    loam_status st = loam_json_load(path, &c, err);
    if (st) {
        free(path);
        return st;
    }
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(c, "chat_template");
    if (cJSON_IsString(tpl)) {
        t->chat_template = strdup(tpl->valuestring);
    } else if (cJSON_IsArray(tpl)) { /* [{"name": "default", "template": ...}, ...] */
        const cJSON *v;
        cJSON_ArrayForEach(v, tpl) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name"), *text = cJSON_GetObjectItemCaseSensitive(v, "template");
            if (cJSON_IsString(name) && cJSON_IsString(text) && strcmp(name->valuestring, "default") == 0)
                t->chat_template = strdup(text->valuestring);
        }
    }
    t->bos_token = token_name(cJSON_GetObjectItemCaseSensitive(c, "bos_token"));
    t->eos_token = token_name(cJSON_GetObjectItemCaseSensitive(c, "eos_token"));
    cJSON_Delete(c);
    free(path);
    return LOAM_OK;
}
