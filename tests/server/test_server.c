/* loam serve end to end with curl: the greedy answers of every route equal
 * `loam run`, concurrency batches and gives each client its own answer,
 * prompt caching, disconnects, and malformed requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"
#include "test.h"

static const char *const prompts[] = {"Once upon a time", "The little dog", "One day, a girl named Sue", "Tom and Ann went",
                                      "There was a big red ball", "The sun was hot and", "Mom said", "Lily wanted to"};

/* `loam run` greedy: the continuation only. */
static char *run_text(const char *model, const char *extra, const char *prompt, int n) {
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run %s %s \"%s\" --no-echo -n %d --temp 0 2>/dev/null", LOAM_BIN, model, extra, prompt, n);
    run_capture(cmd, &out);
    if (out) {
        size_t len = strlen(out);
        if (len && out[len - 1] == '\n') out[len - 1] = 0;
    }
    return out;
}

static char *json_field(const char *body, const char *a, const char *b, const char *c) {
    cJSON *j = cJSON_Parse(body);
    const cJSON *v = j;
    const char *path[] = {a, b, c};
    for (int i = 0; i < 3 && v && path[i]; i++) {
        if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, atoi(path[i]));
        else v = cJSON_GetObjectItem(v, path[i]);
    }
    char *s = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    cJSON_Delete(j);
    return s;
}

/* Concatenates the text of an SSE or NDJSON stream. */
static char *stream_text(const char *body, int sse, const char *key1, const char *key2) {
    size_t cap = strlen(body) + 1, len = 0;
    char *all = calloc(1, cap), *copy = strdup(body), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (sse) {
            if (strncmp(line, "data: ", 6) || !strcmp(line, "data: [DONE]")) continue;
            line += 6;
        }
        cJSON *j = cJSON_Parse(line);
        const cJSON *v = j;
        if (sse) v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
        v = cJSON_GetObjectItem(v, key1);
        if (key2) v = cJSON_GetObjectItem(v, key2);
        if (cJSON_IsString(v) && len + strlen(v->valuestring) < cap) strcpy(all + len, v->valuestring), len += strlen(v->valuestring);
        cJSON_Delete(j);
    }
    free(copy);
    return all;
}

static void test_routes_equal_run(void) {
    const char *model = fixture("llm/stories260k");
    test_server s;
    char args[1200];
    snprintf(args, sizeof args, "%s", model);
    CHECK(server_start(&s, args), "no server");
    char *want = run_text(model, "", prompts[0], 24), *a = NULL, *b = NULL, *c = NULL, *d = NULL, *m = NULL, *chat = NULL;
    char body[512];
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 24, \"temperature\": 0}", prompts[0]);
    int s1 = server_post(&s, "/v1/completions", body, strlen(body), &a);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 24, \"temperature\": 0, \"stream\": true}", prompts[0]);
    int s2 = server_post(&s, "/v1/completions", body, strlen(body), &b);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"raw\": true, \"stream\": false, \"options\": {\"num_predict\": 24, \"temperature\": 0}}", prompts[0]);
    int s3 = server_post(&s, "/api/generate", body, strlen(body), &c);
    snprintf(body, sizeof body, "{\"model\": \"stories260k:latest\", \"prompt\": \"%s\", \"options\": {\"num_predict\": 24, \"temperature\": 0}}", prompts[0]);
    int s4 = server_post(&s, "/api/generate", body, strlen(body), &d);
    int s5 = server_curl(&s, "", "/v1/models", &m);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
    int s6 = server_post(&s, "/v1/chat/completions", body, strlen(body), &chat);
    server_stop(&s);
    char *ta = a ? json_field(a, "choices", "0", "text") : NULL, *tb = b ? stream_text(b, 1, "text", NULL) : NULL;
    char *tc = c ? json_field(c, "response", NULL, NULL) : NULL, *td = d ? stream_text(d, 0, "response", NULL) : NULL;
    int ok = want && strlen(want) > 10;
    CHECK(ok, "loam run printed nothing");
    CHECK(s1 == 200 && ta && !strcmp(ta, want), "/v1/completions (%d): \"%s\" vs loam run \"%s\"", s1, ta ? ta : a, want);
    CHECK(s2 == 200 && tb && !strcmp(tb, want) && strstr(b, "data: [DONE]"), "stream (%d): \"%s\" vs \"%s\"", s2, tb ? tb : "", want);
    CHECK(s3 == 200 && tc && !strcmp(tc, want), "/api/generate (%d): \"%s\" vs \"%s\"", s3, tc ? tc : c, want);
    CHECK(s4 == 200 && td && !strcmp(td, want) && strstr(d, "\"done\":true"), "/api/generate stream (%d): \"%s\"", s4, td ? td : "");
    CHECK(s5 == 200 && strstr(m, "\"id\":\"stories260k\""), "/v1/models (%d): %s", s5, m);
    CHECK(s6 == 400 && strstr(chat, "no chat template"), "chat without a template (%d): %s", s6, chat);
    free(want), free(a), free(b), free(c), free(d), free(m), free(chat), free(ta), free(tb), free(tc), free(td);
}

/* A copy of stories260k whose tokenizer_config.json has a chat template. */
static const char *chat_model(void) {
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/stories-chat", temp_dir());
    if (!copy_dir(fixture("llm/stories260k"), dir)) return NULL;
    char path[700], *text = NULL;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    loam_error err;
    if (loam_read_file(path, 1 << 20, &text, NULL, &err) != LOAM_OK) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON_DeleteItemFromObject(j, "chat_template");
    cJSON_AddStringToObject(j, "chat_template",
                            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                            "{% if add_generation_prompt %}assistant:{% endif %}");
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    unlink(path);
    int ok = write_text(path, out);
    free(out);
    return ok ? dir : NULL;
}

static void test_chat_routes_equal_run_chat(void) {
    const char *model = chat_model();
    CHECK(model, "cannot make the chat copy");
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char *want = run_text(model, "--chat", "Tell me a story", 20), *a = NULL, *b = NULL, *c = NULL;
    const char *body = "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"max_tokens\": 20, \"temperature\": 0}";
    int s1 = server_post(&s, "/v1/chat/completions", body, strlen(body), &a);
    body = "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Tell me a story\"}]}], "
           "\"max_completion_tokens\": 20, \"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}";
    int s2 = server_post(&s, "/v1/chat/completions", body, strlen(body), &b);
    body = "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"options\": {\"num_predict\": 20, \"temperature\": 0}}";
    int s3 = server_post(&s, "/api/chat", body, strlen(body), &c);
    server_stop(&s);
    char *ta = a ? json_field(a, "choices", "0", "message") : NULL;
    cJSON *ja = a ? cJSON_Parse(a) : NULL;
    const cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ja, "choices"), 0), "message"), "content");
    const char *ca = cJSON_IsString(content) ? content->valuestring : "";
    char *tb = b ? stream_text(b, 1, "delta", "content") : NULL, *tc = c ? stream_text(c, 0, "message", "content") : NULL;
    CHECK(want && strlen(want) > 5, "loam run --chat printed nothing");
    CHECK(s1 == 200 && !strcmp(ca, want), "/v1/chat/completions (%d): \"%s\" vs loam run --chat \"%s\"", s1, ca, want);
    CHECK(s2 == 200 && tb && !strcmp(tb, want) && strstr(b, "\"usage\"") && strstr(b, "\"role\":\"assistant\""), "chat stream (%d): \"%s\"", s2,
          tb ? tb : "");
    CHECK(s3 == 200 && tc && !strcmp(tc, want), "/api/chat (%d): \"%s\"", s3, tc ? tc : "");
    cJSON_Delete(ja);
    free(want), free(a), free(b), free(c), free(ta), free(tb), free(tc);
}

/* 8 clients at once (4 slots, the rest queued) each get what they get alone;
 * the steps were shared: fewer decode steps than generated tokens. */
static void test_concurrency(void) {
    const char *model = fixture("llm/stories260k");
    test_server s;
    char args[1200];
    snprintf(args, sizeof args, "%s --parallel 4", model);
    CHECK(server_start(&s, args), "no server");
    char *alone[8] = {0};
    for (int i = 0; i < 8; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 60, \"temperature\": 0}", prompts[i]);
        char *out = NULL;
        server_post(&s, "/v1/completions", body, strlen(body), &out);
        alone[i] = out ? json_field(out, "choices", "0", "text") : NULL;
        free(out);
    }
    double steps0 = server_metric(&s, "loam_decode_steps_total"), gen0 = server_metric(&s, "loam_generated_tokens_total");
    /* all at once from the shell, each into its own file */
    char cmd[8192] = "", part[1024];
    for (int i = 0; i < 8; i++) {
        snprintf(part, sizeof part,
                 "curl -s -m 120 http://127.0.0.1:%d/v1/completions -d '{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 60, "
                 "\"temperature\": 0}' > %s/c%d.json & ",
                 s.port, prompts[i], s.dir, i);
        strcat(cmd, part);
    }
    strcat(cmd, "wait");
    int rc = system(cmd);
    double steps = server_metric(&s, "loam_decode_steps_total") - steps0, gen = server_metric(&s, "loam_generated_tokens_total") - gen0;
    int same = 0;
    for (int i = 0; i < 8; i++) {
        char path[700], *text = NULL;
        snprintf(path, sizeof path, "%s/c%d.json", s.dir, i);
        loam_error err;
        if (loam_read_file(path, 1 << 20, &text, NULL, &err) == LOAM_OK) {
            char *t = json_field(text, "choices", "0", "text");
            same += t && alone[i] && !strcmp(t, alone[i]);
            if (!(t && alone[i] && !strcmp(t, alone[i]))) printf("    client %d: \"%s\" alone: \"%s\"\n", i, t ? t : text, alone[i] ? alone[i] : "");
            free(t);
        }
        free(text);
        free(alone[i]);
    }
    server_stop(&s);
    CHECK(rc == 0 && same == 8, "%d of 8 concurrent answers equal the answer alone", same);
    CHECK(gen == 8 * 60 && steps > 0 && steps < gen, "%.0f decode steps for %.0f generated tokens", steps, gen);
}

/* A chat growing turn by turn reuses its cached prefix. */
static void test_prompt_cache(void) {
    const char *model = fixture("llm/stories260k");
    test_server s;
    CHECK(server_start(&s, model), "no server");
    const char *b1 = "{\"model\": \"stories260k\", \"prompt\": \"Once upon a time there was a little girl\", \"max_tokens\": 8, \"temperature\": 0}";
    const char *b2 = "{\"model\": \"stories260k\", \"prompt\": \"Once upon a time there was a little girl named Lily who\", \"max_tokens\": 8, \"temperature\": 0}";
    char *o1 = NULL, *o2 = NULL;
    server_post(&s, "/v1/completions", b1, strlen(b1), &o1);
    server_post(&s, "/v1/completions", b2, strlen(b2), &o2);
    server_stop(&s);
    cJSON *j1 = cJSON_Parse(o1 ? o1 : ""), *j2 = cJSON_Parse(o2 ? o2 : "");
    const cJSON *u1 = cJSON_GetObjectItem(j1, "usage"), *u2 = cJSON_GetObjectItem(j2, "usage");
    double p1 = cJSON_GetNumberValue(cJSON_GetObjectItem(u1, "prompt_tokens"));
    double c1 = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(u1, "prompt_tokens_details"), "cached_tokens"));
    double c2 = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(u2, "prompt_tokens_details"), "cached_tokens"));
    cJSON_Delete(j1), cJSON_Delete(j2);
    CHECK(c1 == 0 && c2 >= p1 - 1 && p1 > 5, "cached tokens %.0f then %.0f (first prompt %.0f tokens): %s / %s", c1, c2, p1, o1, o2);
    free(o1), free(o2);
}

void register_server_tests(void) {
    test_add("serve: /v1/completions, its stream, /api/generate (raw and streamed) equal loam run; no template: 400", test_routes_equal_run);
    test_add("serve: /v1/chat/completions (and stream) and /api/chat equal loam run --chat", test_chat_routes_equal_run_chat);
    test_add("serve: 8 clients at once get their answers alone, in fewer decode steps than tokens", test_concurrency);
    test_add("serve: a growing prompt reuses the cached prefix (usage.prompt_tokens_details.cached_tokens)", test_prompt_cache);
}
