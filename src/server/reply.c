/* Replies and the small things every route uses: OpenAI-shaped errors,
 * JSON bodies, the model by name, response ids. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"

void srv_error(srv_reply *out, int status, const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status == 401   ? "authentication_error"
                       : status == 404 ? "not_found_error"
                       : status == 429 || status == 503 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code);
    else cJSON_AddNullToObject(e, "code");
    srv_json(out, status, root);
}

void srv_json(srv_reply *out, int status, cJSON *body) {
    out->status = status;
    out->content_type = "application/json";
    out->body = cJSON_PrintUnformatted(body);
    out->len = out->body ? strlen(out->body) : 0;
    cJSON_Delete(body);
}

srv_engine *srv_find_engine(srv_server *s, const char *name) {
    if (!name) return s->n_engines == 1 ? s->engines[0] : NULL;
    for (int i = 0; i < s->n_engines; i++)
        if (!strcmp(srv_engine_name(s->engines[i]), name)) return s->engines[i];
    /* ollama clients add a ":latest" tag */
    size_t n = strlen(name);
    if (n > 7 && !strcmp(name + n - 7, ":latest"))
        for (int i = 0; i < s->n_engines; i++)
            if (strlen(srv_engine_name(s->engines[i])) == n - 7 && !strncmp(srv_engine_name(s->engines[i]), name, n - 7)) return s->engines[i];
    return NULL;
}

void srv_new_id(srv_server *s, const char *prefix, char *out, size_t n) {
    pthread_mutex_lock(&s->mu);
    uint64_t id = ++s->next_id;
    pthread_mutex_unlock(&s->mu);
    snprintf(out, n, "%s%llx%06llx", prefix, (unsigned long long)time(NULL), (unsigned long long)id);
}

