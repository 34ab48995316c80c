/* loam serve end to end with curl: the greedy answers of every route equal
 * `loam run`, concurrency batches and gives each client its own answer,
 * prompt caching, disconnects, and malformed requests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
/* A copy of stories260k (in temp_dir()/name) whose tokenizer_config.json
 * carries `template`, or Llama 3.1's real one (tools, tool calls) when NULL. */
static const char *model_with_template(const char *name, const char *template) {
    static char dirs[2][600];
    char *dir = dirs[template == NULL];
    snprintf(dirs[template == NULL], sizeof dirs[0], "%s/%s", temp_dir(), name);
    if (!copy_dir(fixture("llm/stories260k"), dir)) return NULL;
    char path[700], *text = NULL;
    loam_error err;
    cJSON *llama = NULL;
    if (!template) {
        if (loam_read_file(fixture("tokenizers/llama31/tokenizer_config.json"), 1 << 24, &text, NULL, &err) != LOAM_OK) return NULL;
        llama = cJSON_Parse(text);
        free(text), text = NULL;
        template = cJSON_GetStringValue(cJSON_GetObjectItem(llama, "chat_template"));
        if (!template) return cJSON_Delete(llama), NULL;
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (loam_read_file(path, 1 << 20, &text, NULL, &err) != LOAM_OK) return cJSON_Delete(llama), NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON_DeleteItemFromObject(j, "chat_template");
    cJSON_AddStringToObject(j, "chat_template", template);
    cJSON_Delete(llama);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    unlink(path);
    int ok = write_text(path, out);
    free(out);
    return ok ? dir : NULL;
}

static const char *chat_model(void) {
    return model_with_template("stories-chat", "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                                               "{% if add_generation_prompt %}assistant:{% endif %}");
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


/* Malformed requests: each the right status and an OpenAI-shaped error,
 * unknown fields ignored, and the server serves on. */
typedef struct {
    const char *path, *body;
    int status;
    const char *param; /* the field the error must name, or NULL */
} bad_case;

static const bad_case bad_cases[] = {
    {"/v1/completions", "{", 400, NULL},
    {"/v1/completions", "[]", 400, NULL},
    {"/v1/completions", "\"text\"", 400, NULL},
    {"/v1/completions", "", 400, NULL},
    {"/v1/completions", "{\"model\": \"stories-chat\"}", 400, "prompt"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": 5}", 400, "prompt"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"max_tokens\": -1}", 400, "max_tokens"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"max_tokens\": \"10\"}", 400, "max_tokens"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"max_tokens\": 1e300}", 400, "max_tokens"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"max_tokens\": 1.5}", 400, "max_tokens"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"temperature\": 3}", 400, "temperature"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "temperature"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"top_p\": 2}", 400, "top_p"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"presence_penalty\": 5}", 400, "presence_penalty"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"seed\": \"x\"}", 400, "seed"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"stream\": \"yes\"}", 400, "stream"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"stop\": 5}", 400, "stop"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"stream_options\": \"x\"}", 400, "stream_options"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": [99999]}", 400, "prompt"},
    {"/v1/completions", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"n\": 0}", 400, "n"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 17}", 400, "n"},
    {"/v1/completions", "{\"model\": \"nope\", \"prompt\": \"x\"}", 404, "model"},
    {"/v1/completions", "{\"model\": 5, \"prompt\": \"x\"}", 400, "model"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\"}", 400, "messages"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": []}", 400, "messages"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": \"hi\"}", 400, "messages"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", 400, "messages[0].role"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", 400,
     "messages[0].content"},
    {"/v1/chat/completions", "{\"model\": \"stories-chat\", \"messages\": [{\"content\": \"x\"}]}", 400, "messages[0].role"},
    {"/api/generate", "{\"model\": \"stories-chat\", \"prompt\": \"x\", \"options\": \"x\"}", 400, "options"},
    {"/api/generate", "{\"prompt\": \"x\"}", 400, "model"},
    {"/api/chat", "{\"model\": \"stories-chat\", \"messages\": [{\"role\": 1}]}", 400, "messages[0].role"},
    {"/api/show", "{\"model\": \"nope\"}", 404, "model"},
    {"/v1/nothing", "{}", 404, NULL},
};

static void test_bad_requests(void) {
    const char *model = chat_model();
    CHECK(model, "no chat copy");
    test_server s;
    char args[1200], *out = NULL;
    snprintf(args, sizeof args, "%s --max-body 65536 --timeout 2", model);
    CHECK(server_start(&s, args), "no server");
    char bad[4096] = "";
    int n_cases = (int)(sizeof bad_cases / sizeof *bad_cases);
    for (int i = 0; i < n_cases; i++) {
        const bad_case *c = &bad_cases[i];
        int st = server_post(&s, c->path, c->body, strlen(c->body), &out);
        cJSON *j = out ? cJSON_Parse(out) : NULL;
        const cJSON *e = cJSON_GetObjectItem(j, "error"), *param = cJSON_GetObjectItem(e, "param");
        int shaped = cJSON_IsString(cJSON_GetObjectItem(e, "message")) && cJSON_IsString(cJSON_GetObjectItem(e, "type")) &&
                     cJSON_GetObjectItem(e, "code") && param;
        int named = !c->param || (cJSON_IsString(param) && !strcmp(param->valuestring, c->param));
        if (st != c->status || !shaped || !named)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "[%d] %s %s -> %d %s\n", i, c->path, c->body, st, out ? out : "");
        cJSON_Delete(j);
        free(out);
    }
    /* invalid UTF-8, an oversized body, multipart, a wrong method */
    const char inval[] = "{\"model\": \"stories-chat\", \"prompt\": \"\xff\xfe\"}";
    char *big = malloc(70000);
    memset(big, ' ', 70000);
    memcpy(big, "{\"prompt\": \"", 12);
    memcpy(big + 69990, "\"}", 2);
    int s1 = server_post(&s, "/v1/completions", inval, sizeof inval - 1, &out);
    free(out);
    int s2 = server_post(&s, "/v1/completions", big, 70000, &out);
    free(out), free(big);
    int s3 = server_curl(&s, "-F 'a=b'", "/v1/chat/completions", &out);
    free(out);
    int s4 = server_curl(&s, "", "/v1/completions", &out);
    free(out);
    /* unknown fields are ignored */
    const char *extra = "{\"model\": \"stories-chat\", \"prompt\": \"Once\", \"max_tokens\": 2, \"frobnicate\": {\"x\": [1]}, \"user\": \"u\"}";
    int s5 = server_post(&s, "/v1/completions", extra, strlen(extra), &out);
    free(out);
    /* header flood, a request that stalls half way (slowloris), a body cut short */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -m 20 http://127.0.0.1:%d/health", s.port);
    char hdrs[700], flood[2048];
    snprintf(hdrs, sizeof hdrs, "%s/headers.txt", s.dir);
    FILE *hf = fopen(hdrs, "w");
    for (int i = 0; hf && i < 500; i++) fprintf(hf, "X-Flood-%d: %0200d\n", i, 0); /* 100 KB of headers */
    if (hf) fclose(hf);
    snprintf(flood, sizeof flood, "curl -s -o /dev/null -w '%%{http_code}' -m 20 -H @%s http://127.0.0.1:%d/health", hdrs, s.port);
    char *fl = NULL;
    run_capture(flood, &fl);
    snprintf(cmd, sizeof cmd,
             "timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; printf \"POST /v1/completions HTTP/1.1\\r\\nHost: x\\r\\nContent-Le\" >&3; "
             "sleep 4; cat <&3; echo closed' 2>&1",
             s.port);
    char *slow = NULL;
    run_capture(cmd, &slow);
    snprintf(cmd, sizeof cmd,
             "timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; printf \"POST /v1/completions HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1000\\r\\n\\r\\n{\\\"model\" >&3; "
             "exec 3>&-; echo cut' 2>&1",
             s.port);
    char *cut = NULL;
    run_capture(cmd, &cut);
    int after = server_curl(&s, "", "/health", &out);
    free(out);
    server_stop(&s);
    CHECK(n_cases >= 30, "only %d cases", n_cases);
    CHECK(!bad[0], "wrong answers:\n%s", bad);
    CHECK(s1 == 400 && s2 == 413 && s3 == 415 && s4 == 405, "invalid UTF-8 %d, oversized %d, multipart %d, GET %d", s1, s2, s3, s4);
    CHECK(s5 == 200, "unknown fields: %d", s5);
    CHECK(fl && (!strcmp(fl, "431") || !strcmp(fl, "413") || !strcmp(fl, "000") || !strcmp(fl, "400")), "header flood: %s", fl ? fl : "");
    CHECK(slow && strstr(slow, "closed"), "slowloris: %s", slow ? slow : "");
    CHECK(cut && after == 200, "after all that /health says %d", after);
    free(fl), free(slow), free(cut);
}

/* --api-key: 401 without or with a wrong bearer; the queue: 429 beyond it. */
static void test_auth_and_queue(void) {
    test_server s;
    char args[1200], *out = NULL;
    snprintf(args, sizeof args, "%s --api-key sekret --parallel 1 --queue 0", fixture("llm/stories260k"));
    CHECK(server_start(&s, args), "no server");
    int s1 = server_curl(&s, "", "/v1/models", &out);
    free(out);
    int s2 = server_curl(&s, "-H 'Authorization: Bearer nope'", "/v1/models", &out);
    int shaped = out && strstr(out, "\"type\":\"authentication_error\"");
    free(out);
    int s3 = server_curl(&s, "-H 'Authorization: Bearer sekret'", "/v1/models", &out);
    free(out);
    int s4 = server_curl(&s, "", "/health", &out);
    free(out);
    /* one slot, no queue: while a long request runs, the next is 429 */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "curl -s -m 60 -H 'Authorization: Bearer sekret' http://127.0.0.1:%d/v1/completions "
             "-d '{\"model\": \"stories260k\", \"prompt\": \"Once\", \"max_tokens\": 400, \"temperature\": 0, \"stream\": true, \"ignore_eos\": true}' "
             "-o /dev/null & sleep 0.05; for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null -w '%%{http_code} ' -H 'Authorization: Bearer sekret' "
             "http://127.0.0.1:%d/v1/completions -d '{\"model\": \"stories260k\", \"prompt\": \"Once\", \"max_tokens\": 400}'; done; wait",
             s.port, s.port);
    char *codes = NULL;
    run_capture(cmd, &codes);
    server_stop(&s);
    CHECK(s1 == 401 && s2 == 401 && shaped && s3 == 200 && s4 == 200, "no key %d, wrong key %d, right key %d, health %d", s1, s2, s3, s4);
    CHECK(codes && strstr(codes, "429"), "no 429 with one slot busy and no queue: %s", codes ? codes : "");
    free(codes);
}

/* A client that leaves mid-stream frees its slot: generation stops. */
static void test_disconnect(void) {
    test_server s;
    char args[1200], cmd[2048], *out = NULL;
    snprintf(args, sizeof args, "%s -c 65536 --max-tokens 60000 --parallel 1", fixture("llm/stories260k"));
    CHECK(server_start(&s, args), "no server");
    snprintf(cmd, sizeof cmd,
             "curl -sN -m 0.5 http://127.0.0.1:%d/v1/completions -d '{\"model\": \"stories260k\", \"prompt\": \"Once\", \"max_tokens\": 60000, "
             "\"temperature\": 0, \"stream\": true, \"ignore_eos\": true}' | wc -c",
             s.port);
    run_capture(cmd, &out);
    long got = out ? atol(out) : 0;
    free(out);
    usleep(300000);
    double busy = server_metric(&s, "loam_slots_busy"), g1 = server_metric(&s, "loam_generated_tokens_total");
    usleep(500000);
    double g2 = server_metric(&s, "loam_generated_tokens_total");
    const char *b = "{\"model\": \"stories260k\", \"prompt\": \"Once upon\", \"max_tokens\": 4}";
    int after = server_post(&s, "/v1/completions", b, strlen(b), &out);
    free(out);
    server_stop(&s);
    CHECK(got > 100, "the stream sent %ld bytes before the client left", got);
    CHECK(busy == 0 && g1 == g2 && g1 > 0 && g1 < 60000, "after the client left: %.0f slots busy, %.0f then %.0f tokens", busy, g1, g2);
    CHECK(after == 200, "the next request: %d", after);
}


/* The official openai npm package (installed into the build folder). */
static void test_openai_package(void) {
    char cmd[4096], *out = NULL;
    int rc = npm_run("-e 'console.log(require(\"./node_modules/openai/package.json\").version)'", &out);
    CHECK(rc == 0 && out, "npm install of openai failed (see %s/npm.log): %s", NPM_DIR, out ? out : "");
    out[strcspn(out, "\n")] = 0;
    printf("    openai npm package %s, node ", out);
    free(out);
    run_capture("node --version", &out);
    printf("%s", out ? out : "?\n");
    free(out);
    const char *model = chat_model();
    CHECK(model, "no chat copy");
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char *want_chat = run_text(model, "--chat", "Tell me a story", 20), *want_text = run_text(model, "", "Once upon a time", 20);
    snprintf(cmd, sizeof cmd, "cd %s && node openai_client.mjs http://127.0.0.1:%d/v1 stories-chat 2>&1", NPM_DIR, s.port);
    rc = run_capture(cmd, &out);
    server_stop(&s);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    CHECK(j, "the client failed (%d): %s", rc, out ? out : "");
    const char *chat = cJSON_GetStringValue(cJSON_GetObjectItem(j, "chat")), *stream = cJSON_GetStringValue(cJSON_GetObjectItem(j, "stream"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "completion"));
    const cJSON *err = cJSON_GetObjectItem(j, "error"), *emb = cJSON_GetObjectItem(j, "embeddings");
    int ok = chat && want_chat && !strcmp(chat, want_chat) && stream && !strcmp(stream, want_chat) && text && want_text && !strcmp(text, want_text);
    ok = ok && cJSON_GetObjectItem(j, "stream_usage") && cJSON_GetArraySize(emb) == 2 && cJSON_GetArrayItem(emb, 0)->valueint == 64;
    ok = ok && fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "embedding_norm")) - 1) < 1e-5;
    ok = ok && cJSON_GetNumberValue(cJSON_GetObjectItem(err, "status")) == 404 && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")), "model_not_found");
    ok = ok && strstr(out, "\"models\":[\"stories-chat\"]");
    cJSON_Delete(j);
    CHECK(ok, "openai client: %s\nloam run --chat: \"%s\"; loam run: \"%s\"", out, want_chat ? want_chat : "", want_text ? want_text : "");
    free(out), free(want_chat), free(want_text);
}


/* The chat page in headless Chromium (Debian's, driven by playwright-core):
 * a typed message gets the streamed reply; screenshots in build/test-output. */
static void test_chat_page(void) {
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s %s/test-output && cp %s/tests/server/node/package.json %s/tests/server/node/*.mjs %s/ && cd %s && "
             "(test -d node_modules/openai -a -d node_modules/playwright-core || npm install --no-audit --no-fund --loglevel=error >npm.log 2>&1) && "
             "node -e 'console.log(require(\"./node_modules/playwright-core/package.json\").version)' && /usr/bin/chromium --version",
             NPM_DIR, LOAM_BUILD_DIR, LOAM_SOURCE_DIR, LOAM_SOURCE_DIR, NPM_DIR, NPM_DIR);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0 && out, "playwright-core or chromium missing (npm log in %s): %s", NPM_DIR, out ? out : "");
    for (char *p = out; *p; p++)
        if (*p == '\n') *p = ' ';
    printf("    playwright-core and chromium: %s\n", out);
    free(out);
    const char *model = chat_model();
    CHECK(model, "no chat copy");
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char *want = run_text(model, "--chat", "Tell me a story", 400);
    snprintf(cmd, sizeof cmd, "cd %s && node page_check.mjs http://127.0.0.1:%d/ %s/test-output 2>&1", NPM_DIR, s.port, LOAM_BUILD_DIR);
    rc = run_capture(cmd, &out);
    server_stop(&s);
    cJSON *j = rc == 0 && out ? cJSON_Parse(out) : NULL;
    CHECK(j, "the page check failed (%d): %s", rc, out ? out : "");
    const char *reply = cJSON_GetStringValue(cJSON_GetObjectItem(j, "reply")), *stats = cJSON_GetStringValue(cJSON_GetObjectItem(j, "stats"));
    /* the page renders Markdown: compare the first words of the text */
    char head[41] = "";
    const char *w = want ? want : "";
    while (*w == ' ') w++;
    snprintf(head, sizeof head, "%s", w);
    while (reply && *reply == ' ') reply++;
    int ok = reply && strlen(head) >= 20 && !strncmp(reply, head, 20) && stats && strstr(stats, "tokens/s") &&
             cJSON_IsTrue(cJSON_GetObjectItem(j, "saw_stop_button")) && cJSON_GetNumberValue(cJSON_GetObjectItem(j, "kept")) == 2 &&
             cJSON_GetNumberValue(cJSON_GetObjectItem(j, "phone_overflow")) <= 0;
    char png[700];
    snprintf(png, sizeof png, "%s/test-output/chat-page.png", LOAM_BUILD_DIR);
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    int is_png = f && fread(sig, 1, 8, f) == 8 && sig[0] == 0x89 && sig[1] == 'P';
    if (f) fclose(f);
    cJSON_Delete(j);
    CHECK(ok && is_png, "page: %s\nloam run --chat: \"%.80s\"; screenshot %s", out, want ? want : "", is_png ? "ok" : "missing");
    printf("    screenshots: %s/test-output/chat-page.png, chat-page-phone.png\n", LOAM_BUILD_DIR);
    free(out), free(want);
}

/* --timeout guards the reading of a request, not the wait for an answer:
 * a request queued behind a long one streams to its end. */
static void test_long_wait(void) {
    test_server s;
    char args[1200], cmd[4096], *out = NULL;
    snprintf(args, sizeof args, "%s -c 65536 --max-tokens 60000 --parallel 1 --timeout 1", fixture("llm/stories260k"));
    CHECK(server_start(&s, args), "no server");
    /* the one slot is busy for 2.5 s (its client then leaves), whatever the speed of this build */
    snprintf(cmd, sizeof cmd,
             "curl -sN -m 2.5 -o /dev/null http://127.0.0.1:%d/v1/completions -d '{\"model\": \"stories260k\", \"prompt\": \"Once\", "
             "\"max_tokens\": 60000, \"ignore_eos\": true, \"stream\": true}' & sleep 0.3; curl -sN -m 120 http://127.0.0.1:%d/v1/completions "
             "-d '{\"model\": \"stories260k\", \"prompt\": \"Once\", \"max_tokens\": 4, \"stream\": true}' | tail -c 200; wait",
             s.port, s.port);
    double t0 = (double)time(NULL);
    run_capture(cmd, &out);
    double waited = (double)time(NULL) - t0;
    server_stop(&s);
    int ok = out && strstr(out, "data: [DONE]") && waited >= 2;
    if (!ok) printf("    after %.0f s: %s\n", waited, out ? out : "");
    free(out);
    CHECK(ok, "the queued request did not stream to its end");
}

/* logprobs equal the log-softmax of the model's logits (computed here with
 * the library); logit_bias moves the choice. */
static void test_logprobs_and_bias(void) {
    const char *model = fixture("llm/stories260k");
    /* the reference: the first token's log-probabilities after the prompt */
    loam_model *m = NULL;
    loam_tokenizer *tok = NULL;
    loam_context *ctx = NULL;
    loam_error err;
    loam_model_params mp = loam_model_default_params();
    CHECK_OK(loam_model_open(model, &mp, &m, &err), &err);
    CHECK_OK(loam_tokenizer_open(model, &tok, &err), &err);
    CHECK_OK(loam_context_open(m, NULL, &ctx, &err), &err);
    int32_t *ids = NULL;
    int n = 0;
    CHECK_OK(loam_tokenize(tok, "Once upon a time", 16, 1, &ids, &n, &err), &err);
    test_rows rows = test_rows_new(n);
    loam_batch b = {.n_tokens = n, .token = ids, .pos = rows.pos, .seq_id = rows.seq};
    CHECK_OK(loam_decode(ctx, &b, &err), &err);
    const float *logits = loam_get_logits(ctx, n - 1);
    loam_model_info in;
    loam_model_get_info(m, &in);
    int best = 0;
    double mx = logits[0], sum = 0;
    for (int v = 1; v < in.n_vocab; v++)
        if (logits[v] > logits[best]) best = v;
    mx = logits[best];
    for (int v = 0; v < in.n_vocab; v++) sum += exp((double)logits[v] - mx);
    double want_lp = -log(sum); /* of the greedy token */
    int second = best == 0 ? 1 : 0;
    for (int v = 0; v < in.n_vocab; v++)
        if (v != best && logits[v] > logits[second]) second = v;
    double want_lp2 = logits[second] - mx - log(sum);
    free(ids), test_rows_free(&rows);
    loam_context_free(ctx), loam_tokenizer_free(tok), loam_model_free(m);
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char *a = NULL, *c = NULL, body[512];
    const char *q = "{\"model\": \"stories260k\", \"prompt\": \"Once upon a time\", \"max_tokens\": 1, \"temperature\": 0, \"logprobs\": 2}";
    int s1 = server_post(&s, "/v1/completions", q, strlen(q), &a);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"Once upon a time\", \"max_tokens\": 1, \"temperature\": 0, "
             "\"logit_bias\": {\"%d\": 100}, \"logprobs\": 0}", second);
    int s2 = server_post(&s, "/v1/completions", body, strlen(body), &c);
    server_stop(&s);
    cJSON *ja = cJSON_Parse(a ? a : ""), *jc = cJSON_Parse(c ? c : "");
    const cJSON *la = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ja, "choices"), 0), "logprobs");
    double got = cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(la, "token_logprobs"), 0));
    const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(la, "top_logprobs"), 0);
    double got2 = cJSON_GetNumberValue(cJSON_GetArrayItem(top, 1));
    const cJSON *lc = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(jc, "choices"), 0), "logprobs");
    double biased = cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(lc, "token_logprobs"), 0));
    int ok = s1 == 200 && fabs(got - want_lp) < 1e-4 && cJSON_GetArraySize(top) == 2 && fabs(got2 - want_lp2) < 1e-4;
    /* with +100 on the runner-up it is chosen, nearly certain */
    int ok2 = s2 == 200 && biased > -1e-3;
    cJSON_Delete(ja), cJSON_Delete(jc);
    CHECK(ok, "logprob %.6f (want %.6f), runner-up %.6f (want %.6f): %s", got, want_lp, got2, want_lp2, a ? a : "");
    CHECK(ok2, "logit_bias on token %d: %s", second, c ? c : "");
    free(a), free(c);
}

/* The text of choice `index` across an SSE stream of several choices, and
 * how many closing chunks (a finish_reason) that choice got. */
static char *choice_stream_text(const char *body, int index, int *n_finish) {
    size_t cap = strlen(body) + 1, len = 0;
    char *all = calloc(1, cap), *copy = strdup(body), *save = NULL;
    *n_finish = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "data: ", 6) || !strcmp(line, "data: [DONE]")) continue;
        cJSON *j = cJSON_Parse(line + 6);
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "choices")) {
            if (cJSON_GetNumberValue(cJSON_GetObjectItem(c, "index")) != index) continue;
            const cJSON *t = cJSON_GetObjectItem(c, "text");
            if (cJSON_IsString(t) && len + strlen(t->valuestring) < cap) strcpy(all + len, t->valuestring), len += strlen(t->valuestring);
            *n_finish += cJSON_IsString(cJSON_GetObjectItem(c, "finish_reason"));
        }
        cJSON_Delete(j);
    }
    free(copy);
    return all;
}

/* n choices: under greedy decoding each equals loam run; sampled, choice i
 * equals a one-choice request with seed + i; streamed, each choice's chunks
 * carry its index and one closing chunk each. */
static void test_several_choices(void) {
    const char *model = fixture("llm/stories260k");
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char *want = run_text(model, "", prompts[1], 16), *a = NULL, *b = NULL, *c = NULL, *d = NULL, body[512];
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 16, \"temperature\": 0, \"n\": 3}", prompts[1]);
    int s1 = server_post(&s, "/v1/completions", body, strlen(body), &a);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 16, \"temperature\": 0, \"n\": 3, \"stream\": true}",
             prompts[1]);
    int s2 = server_post(&s, "/v1/completions", body, strlen(body), &b);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 16, \"temperature\": 1, \"seed\": 7, \"n\": 2}", prompts[2]);
    int s3 = server_post(&s, "/v1/completions", body, strlen(body), &c);
    snprintf(body, sizeof body, "{\"model\": \"stories260k\", \"prompt\": \"%s\", \"max_tokens\": 16, \"temperature\": 1, \"seed\": 8}", prompts[2]);
    int s4 = server_post(&s, "/v1/completions", body, strlen(body), &d);
    /* per-route metrics: the four answers above, a 400 and an unknown path */
    char *e = NULL, *f = NULL, *metrics = NULL;
    const char *bad_n = "{\"prompt\": \"x\", \"n\": 0}";
    server_post(&s, "/v1/completions", bad_n, strlen(bad_n), &e);
    server_curl(&s, "", "/no/such/route", &f);
    server_curl(&s, "", "/metrics", &metrics);
    server_stop(&s);
    const char *lines[] = {"loam_http_requests_total{route=\"/v1/completions\",code=\"200\"} 4\n",
                           "loam_http_requests_total{route=\"/v1/completions\",code=\"400\"} 1\n",
                           "loam_http_requests_total{route=\"other\",code=\"404\"} 1\n",
                           "loam_http_request_seconds_total{route=\"/v1/completions\",code=\"200\"} "};
    for (int i = 0; i < 4; i++) CHECK(metrics && strstr(metrics, lines[i]), "/metrics lacks %s", lines[i]);
    free(e), free(f), free(metrics);
    CHECK(want && strlen(want) > 5, "loam run printed nothing");
    cJSON *ja = cJSON_Parse(a ? a : "");
    const cJSON *choices = cJSON_GetObjectItem(ja, "choices");
    int ok = s1 == 200 && cJSON_GetArraySize(choices) == 3;
    for (int i = 0; ok && i < 3; i++) {
        const cJSON *ch = cJSON_GetArrayItem(choices, i);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "text"));
        ok = t && want && !strcmp(t, want) && cJSON_GetNumberValue(cJSON_GetObjectItem(ch, "index")) == i;
    }
    const cJSON *usage = cJSON_GetObjectItem(ja, "usage");
    int completion = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(usage, "completion_tokens"));
    CHECK(ok && completion == 48, "n=3 greedy (%d), completion_tokens %d (want 48): %s", s1, completion, a ? a : "");
    cJSON_Delete(ja);
    int ok2 = s2 == 200 && b && strstr(b, "data: [DONE]");
    for (int i = 0; ok2 && i < 3; i++) {
        int fin = 0;
        char *t = choice_stream_text(b, i, &fin);
        ok2 = want && !strcmp(t, want) && fin == 1;
        free(t);
    }
    CHECK(ok2, "n=3 streamed (%d): %s", s2, b ? b : "");
    char *second = c ? json_field(c, "choices", "1", "text") : NULL, *first = c ? json_field(c, "choices", "0", "text") : NULL;
    char *alone = d ? json_field(d, "choices", "0", "text") : NULL;
    CHECK(s3 == 200 && s4 == 200 && second && alone && !strcmp(second, alone) && first && strcmp(first, second),
          "sampled: choice 1 \"%s\" vs seed 8 alone \"%s\" (choice 0 \"%s\")", second ? second : "", alone ? alone : "", first ? first : "");
    free(want), free(a), free(b), free(c), free(d), free(first), free(second), free(alone);
}

/* Tools and tool calls reach the template: the server's prompt is the
 * library's rendering of the same messages and tools (Llama 3.1's template). */
static void test_tools(void) {
    const char *model = model_with_template("stories-tools", NULL);
    CHECK(model, "cannot make the copy with Llama 3.1's template");
    const char *messages =
        "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
        "{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", "
        "\"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]},"
        "{\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"{\\\"celsius\\\": 21}\"}]";
    const char *tools = "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather\", "
                        "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]";
    /* the reference: the library renders and tokenizes as the server should */
    loam_tokenizer *tok = NULL;
    loam_error err;
    CHECK_OK(loam_tokenizer_open(model, &tok, &err), &err);
    char *rendered = NULL, *plain = NULL;
    int32_t *ids = NULL;
    int n_want = 0;
    CHECK_OK(loam_chat_apply_template(tok, NULL, messages, tools, NULL, 1, &rendered, &err), &err);
    CHECK_OK(loam_chat_apply_template(tok, NULL, messages, NULL, NULL, 1, &plain, &err), &err);
    CHECK_OK(loam_tokenize(tok, rendered, strlen(rendered), 0, &ids, &n_want, &err), &err);
    CHECK(strstr(rendered, "Current weather") && strstr(plain, "\"city\": \"Paris\"") && strstr(plain, "ipython"),
          "the template did not render the tools and the call: %s", rendered);
    loam_tokenizer_free(tok);
    test_server s;
    char args[700];
    snprintf(args, sizeof args, "%s -c 2048", model); /* the template's preamble and the tool's JSON are long in this small vocabulary */
    CHECK(server_start(&s, args), "no server");
    char body[2048], *a = NULL, *b = NULL, *c = NULL;
    snprintf(body, sizeof body, "{\"messages\": %s, \"tools\": %s, \"max_tokens\": 1, \"temperature\": 0}", messages, tools);
    int s1 = server_post(&s, "/v1/chat/completions", body, strlen(body), &a);
    snprintf(body, sizeof body, "{\"model\": \"stories-tools\", \"messages\": %s, \"tools\": %s, \"stream\": false, "
             "\"options\": {\"num_predict\": 1}}", messages, tools);
    int s2 = server_post(&s, "/api/chat", body, strlen(body), &b);
    const char *bad = "{\"messages\": [{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": {}}], \"tools\": []}";
    int s3 = server_post(&s, "/v1/chat/completions", bad, strlen(bad), &c);
    server_stop(&s);
    cJSON *ja = cJSON_Parse(a ? a : ""), *jb = cJSON_Parse(b ? b : "");
    int got = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ja, "usage"), "prompt_tokens"));
    int got_ollama = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(jb, "prompt_eval_count"));
    CHECK(s1 == 200 && got == n_want, "/v1/chat/completions with tools (%d): %d prompt tokens, the library rendering %d: %s", s1, got, n_want, a ? a : "");
    CHECK(s2 == 200 && got_ollama == n_want, "/api/chat with tools (%d): %d prompt tokens, want %d", s2, got_ollama, n_want);
    CHECK(s3 == 400 && c && strstr(c, "messages[0].tool_calls"), "tool_calls not a list (%d): %s", s3, c ? c : "");
    cJSON_Delete(ja), cJSON_Delete(jb);
    free(rendered), free(plain), free(ids), free(a), free(b), free(c);
}

void register_server_tests(void) {
    test_add("serve: /v1/completions, its stream, /api/generate (raw and streamed) equal loam run; no template: 400", test_routes_equal_run);
    test_add("serve: /v1/chat/completions (and stream) and /api/chat equal loam run --chat", test_chat_routes_equal_run_chat);
    test_add("serve: 8 clients at once get their answers alone, in fewer decode steps than tokens", test_concurrency);
    test_add("serve: a growing prompt reuses the cached prefix (usage.prompt_tokens_details.cached_tokens)", test_prompt_cache);
    test_add("serve: 30+ malformed requests get the right 4xx naming the field; floods, stalls and cuts; it serves on", test_bad_requests);
    test_add("serve: --api-key 401s; a full queue 429s", test_auth_and_queue);
    test_add("serve: a client that leaves mid-stream frees its slot", test_disconnect);
    test_add("serve: an answer may wait longer than --timeout for its first token", test_long_wait);
    test_add("serve: tools and tool calls reach the chat template (Llama 3.1's) on both chat routes", test_tools);
    test_add("serve: n choices: greedy each equals loam run, sampled each equals its seed alone, streamed by index; per-route metrics", test_several_choices);
    test_add("serve: logprobs equal the log-softmax of the model's logits; logit_bias moves the choice", test_logprobs_and_bias);
    test_add("serve: the official openai npm package: chat, its stream, completions, models, embeddings, an error", test_openai_package);
    test_add("serve: the chat page in headless Chromium: a typed message, the streamed reply, kept, phone width", test_chat_page);
}
