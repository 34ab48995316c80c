/* Tool calls in a model's reply. Models write them in a few shapes, which
 * the server reads back into OpenAI's `tool_calls` (and ollama's):
 *   - Hermes, Qwen 2.5 and the templates that copy them:
 *       <tool_call>{"name": ..., "arguments": {...}}</tool_call>, any number, anywhere;
 *   - Llama 3.1 / 3.2 (custom tools): the whole reply one JSON object
 *       {"name": ..., "parameters": {...}} (several separated by ';');
 *   - Mistral: [TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...] — the
 *       marker is a special token, so the reply as decoded is the JSON list.
 * A call counts only when its name is one of the request's tools and its
 * arguments are an object (or a string, passed on); anything else stays
 * text, so a reply that merely quotes JSON is never turned into a call. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolcall.h"

static const char OPEN_TAG[] = "<tool_call>", CLOSE_TAG[] = "</tool_call>";

static int tool_known(const cJSON *tools, const char *name) {
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f ? f : t, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return 1;
    }
    return 0;
}

/* {"name", "arguments"|"parameters"} of a known tool as {"name", "arguments"}; NULL otherwise. */
static cJSON *call_of(const cJSON *o, const cJSON *tools) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "arguments");
    if (!args) args = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    if (!cJSON_IsObject(o) || !cJSON_IsString(name) || !tool_known(tools, name->valuestring)) return NULL;
    if (args && !cJSON_IsObject(args) && !cJSON_IsString(args)) return NULL;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", name->valuestring);
    cJSON_AddItemToObject(c, "arguments", args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject());
    return c;
}

/* Adds the calls of one JSON value (an object or a list of them) to
 * `found`; 0 unless every element is a known call (the caller then drops
 * what was added). */
static int add_calls(const cJSON *v, const cJSON *tools, cJSON *found) {
    if (!cJSON_IsArray(v)) {
        cJSON *c = call_of(v, tools);
        return c ? (cJSON_AddItemToArray(found, c), 1) : 0;
    }
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, v) {
        cJSON *c = call_of(e, tools);
        if (!c) return 0;
        cJSON_AddItemToArray(found, c), n++;
    }
    return n > 0;
}

static const char *skip_space(const char *s, const char *end) {
    while (s < end && isspace((unsigned char)*s)) s++;
    return s;
}

/* The whole reply as JSON calls (Llama, Mistral): values separated by
 * spaces, ';' or ','. 0 when any part is not a known call. */
static int whole_reply_calls(const char *text, size_t len, const cJSON *tools, cJSON *calls) {
    const char *s = skip_space(text, text + len), *end = text + len;
    if (s == end || (*s != '{' && *s != '[')) return 0;
    cJSON *found = cJSON_CreateArray();
    int ok = 1;
    while (ok && s < end) {
        const char *after = NULL;
        cJSON *v = cJSON_ParseWithLengthOpts(s, (size_t)(end - s), &after, 0);
        ok = v && after && after > s && add_calls(v, tools, found);
        cJSON_Delete(v);
        if (!ok) break;
        s = skip_space(after, end);
        if (s < end && (*s == ';' || *s == ',')) s = skip_space(s + 1, end);
    }
    while (ok && cJSON_GetArraySize(found) > 0) cJSON_AddItemToArray(calls, cJSON_DetachItemFromArray(found, 0));
    cJSON_Delete(found);
    return ok;
}

/* Appends text[0, n) to a growing string. */
static void append(char **s, size_t *len, const char *text, size_t n) {
    char *g = realloc(*s, *len + n + 1);
    if (!g) return;
    memcpy(g + *len, text, n);
    *len += n, g[*len] = 0, *s = g;
}

/* <tool_call> blocks: calls from each block that parses, the rest as content. */
static int tagged_calls(const char *text, const cJSON *tools, cJSON *calls, char **content) {
    const char *s = text;
    size_t clen = 0;
    int found = 0;
    *content = calloc(1, 1);
    for (const char *open; (open = strstr(s, OPEN_TAG));) {
        const char *body = open + sizeof OPEN_TAG - 1, *close = strstr(body, CLOSE_TAG);
        size_t body_len = close ? (size_t)(close - body) : strlen(body);
        int before = cJSON_GetArraySize(calls);
        if (whole_reply_calls(body, body_len, tools, calls)) {
            append(content, &clen, s, (size_t)(open - s));
            found += cJSON_GetArraySize(calls) - before;
        } else {
            append(content, &clen, s, (size_t)(body + body_len - s));
        }
        s = close ? close + sizeof CLOSE_TAG - 1 : body + body_len;
    }
    append(content, &clen, s, strlen(s));
    return found;
}

/* The content without its surrounding white space; NULL when nothing is left. */
static char *trimmed(char *s) {
    if (!s) return NULL;
    const char *a = skip_space(s, s + strlen(s));
    size_t n = strlen(a);
    while (n && isspace((unsigned char)a[n - 1])) n--;
    if (!n) return free(s), NULL;
    memmove(s, a, n);
    s[n] = 0;
    return s;
}

int srv_parse_tool_calls(const char *text, const cJSON *tools, srv_tool_reply *out) {
    memset(out, 0, sizeof *out);
    if (!text || !cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0) return 0;
    out->calls = cJSON_CreateArray();
    char *content = NULL;
    if (tagged_calls(text, tools, out->calls, &content) > 0) {
        out->content = trimmed(content);
        return 1;
    }
    free(content);
    if (whole_reply_calls(text, strlen(text), tools, out->calls)) return 1;
    srv_tool_reply_free(out);
    return 0;
}

void srv_tool_reply_free(srv_tool_reply *r) {
    cJSON_Delete(r->calls);
    free(r->content);
    memset(r, 0, sizeof *r);
}

size_t srv_tool_sendable(const char *text, size_t len, size_t from) {
    const char *s = skip_space(text, text + len);
    if (s < text + len && (*s == '{' || *s == '[')) return 0; /* may be a whole-reply call */
    /* up to an opening tag, or to a tail that may become one */
    size_t tag = sizeof OPEN_TAG - 1;
    for (size_t i = from < len ? from : len; i < len; i++) {
        size_t n = len - i < tag ? len - i : tag;
        if (text[i] == '<' && !memcmp(text + i, OPEN_TAG, n)) return i;
    }
    return s == text + len ? 0 : len; /* white space alone may still lead a call */
}

cJSON *srv_tool_calls_json(const srv_tool_reply *r, const char *id_prefix, int openai, int with_index) {
    cJSON *list = cJSON_CreateArray();
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, r->calls) {
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
        cJSON *call = cJSON_CreateObject(), *fn;
        if (with_index) cJSON_AddNumberToObject(call, "index", i);
        if (openai) {
            char id[96];
            snprintf(id, sizeof id, "call_%s_%d", id_prefix, i);
            cJSON_AddStringToObject(call, "id", id);
            cJSON_AddStringToObject(call, "type", "function");
        }
        fn = cJSON_AddObjectToObject(call, "function");
        cJSON_AddStringToObject(fn, "name", cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring);
        if (openai) {
            /* OpenAI: the arguments as a JSON string */
            char *a = cJSON_IsString(args) ? strdup(args->valuestring) : cJSON_PrintUnformatted(args);
            cJSON_AddStringToObject(fn, "arguments", a ? a : "{}");
            free(a);
        } else {
            /* ollama: the arguments as an object */
            cJSON *parsed = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
            cJSON_AddItemToObject(fn, "arguments",
                                  cJSON_IsObject(parsed) ? parsed : (cJSON_Delete(parsed), cJSON_Duplicate(args, 1)));
        }
        cJSON_AddItemToArray(list, call);
        i++;
    }
    return list;
}
