#include "params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_param_number(const cJSON *o, const char *key, double lo, double hi, int integer, double *v, srv_reply *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
        srv_error(out, 400, key, "invalid_type", "%s must be a number", key);
        return -1;
    }
    double x = it->valuedouble;
    if (integer && x != floor(x)) {
        srv_error(out, 400, key, "invalid_type", "%s must be an integer", key);
        return -1;
    }
    if (x < lo || x > hi) {
        srv_error(out, 400, key, "invalid_value", "%s is %g; it must be in [%g, %g]", key, x, lo, hi);
        return -1;
    }
    *v = x;
    return 1;
}

int srv_param_sampling(const cJSON *o, const srv_sampling_field *f, int n, loam_sampling_params *sp, srv_reply *out) {
    for (int i = 0; i < n; i++) {
        double v;
        int got = srv_param_number(o, f[i].key, f[i].lo, f[i].hi, f[i].integer, &v, out);
        if (got < 0) return 0;
        if (!got) continue;
        switch (f[i].field) {
        case SP_TEMPERATURE: sp->temperature = (float)v; break;
        case SP_TOP_P: sp->top_p = (float)v; break;
        case SP_TOP_K: sp->top_k = (int)v; break;
        case SP_MIN_P: sp->min_p = (float)v; break;
        case SP_REPEAT: sp->repetition_penalty = (float)v; break;
        case SP_PRESENCE: sp->presence_penalty = (float)v; break;
        case SP_FREQUENCY: sp->frequency_penalty = (float)v; break;
        case SP_SEED: sp->seed = (uint64_t)(int64_t)v; break;
        }
    }
    return 1;
}

int srv_param_bool(const cJSON *o, const char *key, int dflt, srv_reply *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || cJSON_IsNull(it)) return dflt;
    if (!cJSON_IsBool(it)) {
        srv_error(out, 400, key, "invalid_type", "%s must be a boolean", key);
        return -1;
    }
    return cJSON_IsTrue(it);
}

static int add_stop(srv_request *r, const char *s) {
    if (!*s) return 1; /* an empty stop string stops nothing */
    char **g = realloc(r->stop, (size_t)(r->n_stop + 1) * sizeof *g);
    if (!g) return 0;
    r->stop = g;
    return (r->stop[r->n_stop] = strdup(s)) ? (r->n_stop++, 1) : 0;
}

int srv_param_stop(const cJSON *o, const char *key, int max, srv_request *r, srv_reply *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key), *s;
    if (!it || cJSON_IsNull(it)) return 0;
    if (cJSON_IsString(it)) return add_stop(r, it->valuestring) ? 1 : -1;
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > max) {
        srv_error(out, 400, key, "invalid_type", "%s must be a string or a list of at most %d strings", key, max);
        return -1;
    }
    cJSON_ArrayForEach(s, it) {
        if (!cJSON_IsString(s) || strlen(s->valuestring) > 256) {
            srv_error(out, 400, key, "invalid_type", "%s must hold strings of at most 256 bytes", key);
            return -1;
        }
        if (!add_stop(r, s->valuestring)) return -1;
    }
    return 1;
}

int srv_param_logit_bias(const cJSON *o, int n_vocab, srv_request *r, srv_reply *out) {
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(o, "logit_bias"), *it;
    if (!bias || cJSON_IsNull(bias)) return 0;
    int n = cJSON_GetArraySize(bias);
    if (!cJSON_IsObject(bias) || n > 1024) {
        srv_error(out, 400, "logit_bias", "invalid_type", "logit_bias must be an object of at most 1024 token ids to numbers");
        return -1;
    }
    r->bias_ids = malloc((size_t)(n ? n : 1) * sizeof *r->bias_ids);
    r->bias = malloc((size_t)(n ? n : 1) * sizeof *r->bias);
    if (!r->bias_ids || !r->bias) return srv_error(out, 500, NULL, NULL, "out of memory"), -1;
    cJSON_ArrayForEach(it, bias) {
        char *end;
        long id = strtol(it->string, &end, 10);
        if (*end || end == it->string || id < 0 || id >= n_vocab || !cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
            it->valuedouble < -100 || it->valuedouble > 100) {
            srv_error(out, 400, "logit_bias", "invalid_value", "logit_bias: \"%s\" must be a token id in [0, %d) with a bias in [-100, 100]",
                      it->string, n_vocab);
            return -1;
        }
        r->bias_ids[r->n_bias] = (int32_t)id, r->bias[r->n_bias++] = (float)it->valuedouble;
    }
    return 1;
}

static int tokenize(srv_engine *e, const char *text, int add_special, const char *key, srv_request *r, srv_reply *out) {
    loam_error err;
    if (loam_tokenize(srv_engine_tokenizer(e), text, strlen(text), add_special, &r->prompt, &r->n_prompt, &err) != LOAM_OK) {
        srv_error(out, 400, key, "invalid_value", "%s: %s", key, err.message);
        return 0;
    }
    if (r->n_prompt == 0) {
        srv_error(out, 400, key, "invalid_value", "%s is empty", key);
        return 0;
    }
    return 1;
}

int srv_text_prompt(srv_engine *e, const cJSON *p, const char *key, srv_request *r, srv_reply *out) {
    if (cJSON_IsString(p)) return tokenize(e, p->valuestring, 1, key, r, out);
    /* a list of one string, or a list of token ids */
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
        return tokenize(e, cJSON_GetArrayItem(p, 0)->valuestring, 1, key, r, out);
    int n = cJSON_IsArray(p) ? cJSON_GetArraySize(p) : 0, vocab = loam_tokenizer_n_vocab(srv_engine_tokenizer(e));
    if (n > 0 && cJSON_IsNumber(cJSON_GetArrayItem(p, 0))) {
        r->prompt = malloc((size_t)n * sizeof *r->prompt);
        const cJSON *t;
        cJSON_ArrayForEach(t, p) {
            if (!r->prompt || !cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble >= vocab || t->valuedouble != floor(t->valuedouble)) {
                srv_error(out, 400, key, "invalid_value", "%s: token ids must be integers in [0, %d)", key, vocab);
                return 0;
            }
            r->prompt[r->n_prompt++] = (int32_t)t->valuedouble;
        }
        return 1;
    }
    srv_error(out, 400, key, p ? "invalid_type" : "missing_required_parameter",
              p ? "%s must be a string or a list of token ids (several prompts are not supported)" : "%s is required", key);
    return 0;
}

/* A message's content as text: a string, or the text parts of a list. */
static int content_text(const cJSON *m, int i, char **out, srv_reply *reply) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content"), *part;
    char param[64];
    snprintf(param, sizeof param, "messages[%d].content", i);
    if (!c || cJSON_IsNull(c)) return (*out = strdup("")) != NULL;
    if (cJSON_IsString(c)) return (*out = strdup(c->valuestring)) != NULL;
    if (!cJSON_IsArray(c)) return srv_error(reply, 400, param, "invalid_type", "%s must be a string or a list of content parts", param), 0;
    size_t len = 0;
    char *text = calloc(1, 1);
    cJSON_ArrayForEach(part, c) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type"), *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(t)) {
            free(text);
            return srv_error(reply, 400, param, "invalid_value", "%s: only {\"type\": \"text\", \"text\": ...} parts are supported", param), 0;
        }
        size_t n = strlen(t->valuestring);
        char *g = realloc(text, len + n + 1);
        if (!g) return free(text), 0;
        text = g;
        memcpy(text + len, t->valuestring, n + 1);
        len += n;
    }
    *out = text;
    return 1;
}

/* A message's tool fields as the template sees them: the assistant's
 * tool_calls (a list), a tool answer's tool_call_id and name (strings). */
static int copy_tool_fields(const cJSON *m, int i, cJSON *to, srv_reply *out) {
    static const struct {
        const char *key;
        int list;
    } fields[] = {{"tool_calls", 1}, {"tool_call_id", 0}, {"name", 0}};
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, fields[k].key);
        if (!v || cJSON_IsNull(v)) continue;
        if (fields[k].list ? !cJSON_IsArray(v) : !cJSON_IsString(v)) {
            char param[96];
            snprintf(param, sizeof param, "messages[%d].%s", i, fields[k].key);
            srv_error(out, 400, param, "invalid_type", "%s must be %s", param, fields[k].list ? "a list" : "a string");
            return 0;
        }
        cJSON_AddItemToObject(to, fields[k].key, cJSON_Duplicate(v, 1));
    }
    return 1;
}

int srv_chat_prompt(srv_engine *e, const cJSON *messages, const cJSON *tools, srv_request *r, srv_reply *out) {
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool", NULL};
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
        return srv_error(out, 400, "messages", messages ? "invalid_type" : "missing_required_parameter",
                         "messages must be a non-empty list"), 0;
    if (!loam_tokenizer_chat_template(srv_engine_tokenizer(e)))
        return srv_error(out, 400, "messages", "no_chat_template",
                         "the model %s has no chat template (tokenizer_config.json chat_template): use /v1/completions",
                         srv_engine_name(e)), 0;
    cJSON *norm = cJSON_CreateArray();
    const cJSON *m;
    int i = 0, ok = 1;
    cJSON_ArrayForEach(m, messages) {
        char param[64];
        snprintf(param, sizeof param, "messages[%d].role", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        int known = 0;
        for (int k = 0; roles[k] && cJSON_IsString(role); k++) known |= !strcmp(role->valuestring, roles[k]);
        if (!cJSON_IsObject(m) || !known) {
            srv_error(out, 400, param, "invalid_value", "%s must be one of system, developer, user, assistant, tool", param);
            ok = 0;
            break;
        }
        char *text = NULL;
        if (!content_text(m, i, &text, out)) {
            ok = 0;
            break;
        }
        cJSON *n = cJSON_CreateObject();
        /* templates know "system"; developer messages are its newer name */
        cJSON_AddStringToObject(n, "role", strcmp(role->valuestring, "developer") ? role->valuestring : "system");
        cJSON_AddStringToObject(n, "content", text);
        free(text);
        cJSON_AddItemToArray(norm, n);
        if (!copy_tool_fields(m, i, n, out)) {
            ok = 0;
            break;
        }
        i++;
    }
    if (ok && tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools)) {
        srv_error(out, 400, "tools", "invalid_type", "tools must be a list of tool definitions");
        ok = 0;
    }
    char *json = ok ? cJSON_PrintUnformatted(norm) : NULL, *rendered = NULL;
    char *tools_json = ok && cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0 ? cJSON_PrintUnformatted(tools) : NULL;
    cJSON_Delete(norm);
    if (!ok) return 0;
    loam_error err;
    /* the tools go to the template as `tools` (a template without tool support ignores them) */
    loam_status st = loam_chat_apply_template(srv_engine_tokenizer(e), NULL, json, tools_json, NULL, 1, &rendered, &err);
    free(json), free(tools_json);
    if (st != LOAM_OK) return srv_error(out, 400, "messages", "template_error", "the chat template failed: %s", err.message), 0;
    ok = tokenize(e, rendered, 0, "messages", r, out);
    free(rendered);
    return ok;
}
