/* libFuzzer target: a request body through the server's routes (JSON
 * parsing, validation, templates, tokenization, a 2-token generation and
 * the stream formatting), on stories260k with a chat template; the first
 * byte picks the route, or has the rest read as a model's reply that may
 * hold tool calls (the parser of toolcall.c, which no random model reaches). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_files.h"
#include "toolcall.h"

static srv_server *server(void) {
    static srv_server s;
    static srv_config cfg;
    static int ready;
    if (ready) return &s;
    const char *dir = fuzz_dir("request");
    static const char *files[] = {"config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                                  "tokenizer.json", "tokenizer.model", NULL};
    char rel[256];
    for (int i = 0; files[i]; i++) {
        snprintf(rel, sizeof rel, "llm/stories260k/%s", files[i]);
        fuzz_copy_fixture(rel, dir, files[i]);
    }
    const char *tc = "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": \"{% for m in messages %}{{ m['role'] }}: "
                     "{{ m['content'] }}\\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}\"}";
    fuzz_write(dir, "tokenizer_config.json", (const uint8_t *)tc, strlen(tc));
    cfg.n_models = 1, cfg.parallel = 2, cfg.queue = 8, cfg.max_tokens = 2, cfg.n_threads = 1, cfg.n_ctx = 512;
    srv_engine_config ec = {.name = "m", .path = dir, .n_slots = 2, .n_queue = 8, .n_ctx = 512, .n_threads = 1};
    loam_error err;
    if (srv_engine_open(&ec, &s.engines[0], &err) != LOAM_OK) abort();
    s.n_engines = 1, s.ready = 1, s.cfg = &cfg;
    pthread_mutex_init(&s.mu, NULL);
    ready = 1;
    return &s;
}

/* The reply's tool calls against two tools, in both wire shapes, and what
 * a stream may send of each prefix. */
static void tool_reply(const uint8_t *data, size_t size) {
    static cJSON *tools;
    if (!tools)
        tools = cJSON_Parse("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}},"
                            " {\"type\": \"function\", \"function\": {\"name\": \"f\"}}]");
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = 0;
    size_t sent = 0;
    for (size_t n = 0; n <= size; n += 1 + n / 4) {
        /* as a stream asks, from what was sendable before; the same as from 0 */
        size_t ok = srv_tool_sendable(text, n, sent);
        if (ok > n || ok != srv_tool_sendable(text, n, 0)) abort();
        sent = ok;
    }
    srv_tool_reply r;
    if (srv_parse_tool_calls(text, tools, &r)) {
        cJSON *a = srv_tool_calls_json(&r, "x", 1, 1), *b = srv_tool_calls_json(&r, "x", 0, 0);
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(r.calls) || cJSON_GetArraySize(b) != cJSON_GetArraySize(r.calls)) abort();
        cJSON_Delete(a), cJSON_Delete(b);
        srv_tool_reply_free(&r);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] == 0x7f) return tool_reply(data + 1, size - 1), 0;
    srv_server *s = server();
    cJSON *body = cJSON_ParseWithLength((const char *)data + 1, size - 1);
    if (!cJSON_IsObject(body)) return cJSON_Delete(body), 0;
    srv_reply r = {0};
    switch (data[0] % 6) {
    case 0: srv_openai_chat(s, body, &r); break;
    case 1: srv_openai_completions(s, body, &r); break;
    case 2: srv_ollama_generate(s, body, &r); break;
    case 3: srv_ollama_chat(s, body, &r); break;
    case 4: srv_openai_embeddings(s, body, &r); break;
    default: srv_ollama_show(s, body, &r); break;
    }
    if (r.stream) {
        char buf[4096];
        while (srv_stream_read(r.stream, buf, sizeof buf) > 0) {
        }
        srv_stream_free(r.stream);
    }
    free(r.body);
    cJSON_Delete(body);
    return 0;
}
