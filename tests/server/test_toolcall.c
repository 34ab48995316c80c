/* Tool calls read back from replies: the parser on each shape models write,
 * and end to end through both chat routes (whole and streamed) with a tiny
 * model whose greedy reply is known: a bigram table, so the token after a
 * marker of the user's message is a whole tool call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loam_tools.h"
#include "serve.h"
#include "server/toolcall.h"
#include "test.h"

static const char *TOOLS =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}},"
    " {\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]";

/* Parses `text` against TOOLS: the number of calls (0: none), the first's
 * name and arguments (as JSON) and the content into the buffers. */
static int parse(const char *text, char *name, char *args, char *content) {
    cJSON *tools = cJSON_Parse(TOOLS);
    srv_tool_reply r;
    int n = 0;
    name[0] = args[0] = content[0] = 0;
    if (srv_parse_tool_calls(text, tools, &r)) {
        n = cJSON_GetArraySize(r.calls);
        const cJSON *c = cJSON_GetArrayItem(r.calls, 0);
        snprintf(name, 64, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")));
        char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "arguments"));
        snprintf(args, 256, "%s", a ? a : "");
        free(a);
        if (r.content) snprintf(content, 256, "%s", r.content);
        srv_tool_reply_free(&r);
    }
    cJSON_Delete(tools);
    return n;
}

static void test_shapes(void) {
    char name[64], args[256], content[256];
    /* Llama 3.1: the whole reply one object with "parameters" */
    int n = parse(" {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n", name, args, content);
    CHECK(n == 1 && !strcmp(name, "get_weather") && !strcmp(args, "{\"city\":\"Paris\"}") && !content[0], "llama: %d %s %s", n, name, args);
    /* Llama 3.2: several separated by ';' */
    n = parse("{\"name\": \"get_time\", \"parameters\": {}}; {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", name, args, content);
    CHECK(n == 2 && !strcmp(name, "get_time"), "llama ';': %d %s", n, name);
    /* Mistral: a list (its [TOOL_CALLS] marker is a special token, skipped) */
    n = parse(" [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}, {\"name\": \"get_time\", \"arguments\": {}}]", name, args,
              content);
    CHECK(n == 2 && !strcmp(args, "{\"city\":\"Rome\"}"), "mistral: %d %s", n, args);
    /* Hermes / Qwen: tagged blocks after some text */
    n = parse("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}\n</tool_call>\n"
              "<tool_call>{\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}</tool_call>",
              name, args, content);
    CHECK(n == 2 && !strcmp(name, "get_weather") && !strcmp(content, "Let me look."), "hermes: %d %s '%s'", n, name, content);
    /* never a call: an unknown name, JSON that is not a call, text around a bare object, a broken block */
    const char *not_calls[] = {"{\"name\": \"launch\", \"parameters\": {}}",
                               "{\"city\": \"Paris\"}",
                               "Here is JSON: {\"name\": \"get_time\", \"parameters\": {}}",
                               "{\"name\": \"get_time\", \"parameters\": {}} and then some words",
                               "<tool_call>{\"name\": \"get_time\", \"arguments\": {</tool_call>",
                               "{\"name\": \"get_weather\", \"parameters\": [1, 2]}",
                               "[]",
                               ""};
    for (size_t i = 0; i < sizeof not_calls / sizeof *not_calls; i++) {
        n = parse(not_calls[i], name, args, content);
        CHECK(n == 0, "'%s' read as %d calls", not_calls[i], n);
    }
    /* without tools in the request nothing is a call */
    srv_tool_reply r;
    CHECK(!srv_parse_tool_calls("{\"name\": \"get_time\", \"parameters\": {}}", NULL, &r), "a call without tools");
}

static void test_sendable(void) {
    struct {
        const char *text;
        size_t want;
    } cases[] = {{"Hello there", 11},  {"  {\"name\"", 0},       {"[", 0},
                 {"   ", 0},            {"Hi <tool_call>{", 3},   {"Hi <tool", 3},
                 {"Hi <b>x", 7},        {"a < b", 5},              {"x\n<tool_call", 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].text), got = srv_tool_sendable(cases[i].text, len, 0);
        CHECK(got == cases[i].want, "'%s': %zu sendable, want %zu", cases[i].text, got, cases[i].want);
        /* as a stream asks: from what the text one byte shorter allowed */
        size_t before = srv_tool_sendable(cases[i].text, len - 1, 0), again = srv_tool_sendable(cases[i].text, len, before);
        CHECK(again == got, "'%s' from %zu: %zu sendable, want %zu", cases[i].text, before, again, got);
    }
}

/* ------------------------------------------------ the bigram model */

enum { N_BYTE0 = 3, N_MARK0 = 259, N_TEXT0 = 262, V = 272, H = 272 };
/* what the markers <|a|> <|b|> <|c|> lead to, token by token (then </s>) */
static const char *const TEXTS[] = {
    "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",                           /* 262: Llama's shape */
    "Let me check. ",                                                                          /* 263 */
    "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>",  /* 264: Hermes' shape */
    "{\"name\": \"launch\", \"parameters\": {}}",                                              /* 265: not a tool */
};

static int next_token(int t) {
    switch (t) {
    case N_MARK0: return N_TEXT0;             /* <|a|> → Llama call */
    case N_MARK0 + 1: return N_TEXT0 + 1;     /* <|b|> → text, */
    case N_TEXT0 + 1: return N_TEXT0 + 2;     /*   then a tagged call */
    case N_MARK0 + 2: return N_TEXT0 + 3;     /* <|c|> → an unknown name */
    default: return 2;                        /* </s> */
    }
}

static int write_file(const char *dir, const char *name, const char *text) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static char *tokenizer_json(void) {
    cJSON *o = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(o, "added_tokens");
    cJSON *model = cJSON_AddObjectToObject(o, "model"), *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON_AddBoolToObject(model, "byte_fallback", 1);
    cJSON_AddArrayToObject(model, "merges");
    char piece[300];
    for (int id = 0; id < V; id++) {
        int special = id < N_BYTE0 || (id >= N_MARK0 && id < N_TEXT0);
        if (id < N_BYTE0) snprintf(piece, sizeof piece, "%s", (const char *[]){"<unk>", "<s>", "</s>"}[id]);
        else if (id < N_MARK0) snprintf(piece, sizeof piece, "<0x%02X>", id - N_BYTE0);
        else if (id < N_TEXT0) snprintf(piece, sizeof piece, "<|%c|>", 'a' + id - N_MARK0);
        else if (id < N_TEXT0 + 4) snprintf(piece, sizeof piece, "%s", TEXTS[id - N_TEXT0]);
        else snprintf(piece, sizeof piece, "<unused%d>", id);
        cJSON_AddNumberToObject(vocab, piece, id);
        if (id >= N_BYTE0 && id < N_MARK0) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", id);
        cJSON_AddStringToObject(a, "content", piece);
        cJSON_AddBoolToObject(a, "special", special);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddItemToArray(added, a);
    }
    cJSON *dec = cJSON_AddObjectToObject(o, "decoder"), *seq = cJSON_AddArrayToObject(dec, "decoders");
    cJSON_AddStringToObject(dec, "type", "Sequence");
    cJSON *d1 = cJSON_CreateObject(), *d2 = cJSON_CreateObject();
    cJSON_AddStringToObject(d1, "type", "ByteFallback");
    cJSON_AddStringToObject(d2, "type", "Fuse");
    cJSON_AddItemToArray(seq, d1), cJSON_AddItemToArray(seq, d2);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Zero layers' worth of work (every projection zero, norms one): the
 * logits of a token are lm_head · rmsnorm(its one-hot embedding), so the
 * greedy next token is next_token(t). */
static const char *bigram_model(void) {
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/bigram-tools", temp_dir());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return NULL;
    char *tj = tokenizer_json();
    int ok = tj && write_file(dir, "tokenizer.json", tj);
    free(tj);
    ok = ok && write_file(dir, "config.json",
                          "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 272,"
                          " \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                          " \"num_key_value_heads\": 2, \"vocab_size\": 272, \"max_position_embeddings\": 512,"
                          " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false, \"torch_dtype\": \"float32\","
                          " \"bos_token_id\": 1, \"eos_token_id\": 2}");
    ok = ok && write_file(dir, "tokenizer_config.json",
                          "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": false,"
                          " \"chat_template\": \"{% for m in messages %}{{ m['content'] }}{% endfor %}\"}");
    ok = ok && write_file(dir, "generation_config.json", "{\"eos_token_id\": 2, \"bos_token_id\": 1}");
    float *embed = calloc((size_t)V * H, sizeof(float)), *head = calloc((size_t)V * H, sizeof(float));
    float *ones = malloc(H * sizeof(float)), *zeros = calloc((size_t)H * H, sizeof(float));
    if (!ok || !embed || !head || !ones || !zeros) return free(embed), free(head), free(ones), free(zeros), NULL;
    for (int i = 0; i < H; i++) ones[i] = 1;
    for (int t = 0; t < V; t++) embed[(size_t)t * H + t] = 1, head[(size_t)next_token(t) * H + t] = 1;
    loam_named_tensor w[] = {
        {"model.embed_tokens.weight", LOAM_DTYPE_F32, 2, {V, H}, embed},
        {"lm_head.weight", LOAM_DTYPE_F32, 2, {V, H}, head},
        {"model.norm.weight", LOAM_DTYPE_F32, 1, {H}, ones},
        {"model.layers.0.input_layernorm.weight", LOAM_DTYPE_F32, 1, {H}, ones},
        {"model.layers.0.post_attention_layernorm.weight", LOAM_DTYPE_F32, 1, {H}, ones},
        {"model.layers.0.self_attn.q_proj.weight", LOAM_DTYPE_F32, 2, {H, H}, zeros},
        {"model.layers.0.self_attn.k_proj.weight", LOAM_DTYPE_F32, 2, {H, H}, zeros},
        {"model.layers.0.self_attn.v_proj.weight", LOAM_DTYPE_F32, 2, {H, H}, zeros},
        {"model.layers.0.self_attn.o_proj.weight", LOAM_DTYPE_F32, 2, {H, H}, zeros},
        {"model.layers.0.mlp.gate_proj.weight", LOAM_DTYPE_F32, 2, {16, H}, zeros},
        {"model.layers.0.mlp.up_proj.weight", LOAM_DTYPE_F32, 2, {16, H}, zeros},
        {"model.layers.0.mlp.down_proj.weight", LOAM_DTYPE_F32, 2, {H, 16}, zeros},
    };
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    loam_error err;
    loam_status st = loam_write_safetensors(path, w, (int)(sizeof w / sizeof *w), &err);
    free(embed), free(head), free(ones), free(zeros);
    return st == LOAM_OK ? dir : NULL;
}

static cJSON *message_of(const char *body) {
    cJSON *j = cJSON_Parse(body ? body : "");
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message") ? j : (cJSON_Delete(j), NULL);
}

static const char *choice_str(const cJSON *j, const char *a, const char *b) {
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const cJSON *v = cJSON_GetObjectItem(c, a);
    return cJSON_GetStringValue(b ? cJSON_GetObjectItem(v, b) : v);
}

static const cJSON *first_call(const cJSON *j) {
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    return cJSON_GetArrayItem(cJSON_GetObjectItem(m, "tool_calls"), 0);
}

/* node openai_tools.mjs against the server; its JSON (malloc'ed) or NULL. */
static char *openai_tools(int port) {
    char args[256], *out = NULL;
    snprintf(args, sizeof args, "openai_tools.mjs http://127.0.0.1:%d/v1 bigram-tools", port);
    if (npm_run(args, &out) != 0) {
        fprintf(stderr, "    openai_tools.mjs (npm log in %s): %s\n", NPM_DIR, out ? out : "");
        free(out);
        return NULL;
    }
    return out;
}

static void test_end_to_end(void) {
    const char *model = bigram_model();
    CHECK(model, "cannot write the bigram model");
    /* the model itself: greedy after <|a|> is the Llama-shaped call */
    char cmd[900], *ran = NULL;
    snprintf(cmd, sizeof cmd, "%s run %s '<|a|>' --no-echo -n 4 --temp 0 2>&1", LOAM_BIN, model);
    run_capture(cmd, &ran);
    CHECK(ran && strstr(ran, TEXTS[0]), "loam run on the bigram model: %s", ran ? ran : "");
    free(ran);
    test_server s;
    CHECK(server_start(&s, model), "no server");
    char body[2048], *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL;
#define ASK(MARK, EXTRA) \
    snprintf(body, sizeof body, "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?%s\"}], \"tools\": %s, \"temperature\": 0%s}", MARK, TOOLS, EXTRA)
    ASK("<|a|>", "");
    int s1 = server_post(&s, "/v1/chat/completions", body, strlen(body), &a);
    ASK("<|b|>", "");
    int s2 = server_post(&s, "/v1/chat/completions", body, strlen(body), &b);
    ASK("<|c|>", "");
    int s3 = server_post(&s, "/v1/chat/completions", body, strlen(body), &c);
    ASK("<|b|>", ", \"stream\": true");
    int s4 = server_post(&s, "/v1/chat/completions", body, strlen(body), &d);
    snprintf(body, sizeof body, "{\"model\": \"bigram-tools\", \"messages\": [{\"role\": \"user\", \"content\": \"<|a|>\"}], \"tools\": %s,"
             " \"stream\": false, \"options\": {\"temperature\": 0}}", TOOLS);
    int s5 = server_post(&s, "/api/chat", body, strlen(body), &e);
    snprintf(body, sizeof body, "{\"messages\": [{\"role\": \"user\", \"content\": \"<|a|>\"}], \"temperature\": 0}");
    int s6 = server_post(&s, "/v1/chat/completions", body, strlen(body), &f); /* no tools: text */
    char *client = openai_tools(s.port);
    server_stop(&s);

    cJSON *ja = message_of(a), *jb = message_of(b), *jc = message_of(c), *jf = message_of(f);
    const cJSON *ca = first_call(ja), *cb = first_call(jb);
    const cJSON *fa = cJSON_GetObjectItem(ca, "function"), *fb = cJSON_GetObjectItem(cb, "function");
    CHECK(s1 == 200 && fa && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(fa, "name")), "get_weather") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(fa, "arguments")), "{\"city\":\"Paris\"}") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ca, "type")), "function") && cJSON_GetStringValue(cJSON_GetObjectItem(ca, "id")) &&
              !strcmp(choice_str(ja, "finish_reason", NULL), "tool_calls") &&
              cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ja, "choices"), 0), "message"), "content")),
          "Llama-shaped call (%d): %s", s1, a ? a : "");
    CHECK(s2 == 200 && fb && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(fb, "name")), "get_time") &&
              !strcmp(choice_str(jb, "message", "content"), "Let me check.") && !strcmp(choice_str(jb, "finish_reason", NULL), "tool_calls"),
          "tagged call after text (%d): %s", s2, b ? b : "");
    CHECK(s3 == 200 && jc && !first_call(jc) && !strcmp(choice_str(jc, "message", "content"), TEXTS[3]) &&
              !strcmp(choice_str(jc, "finish_reason", NULL), "stop"),
          "an unknown tool stays text (%d): %s", s3, c ? c : "");
    CHECK(s6 == 200 && jf && !first_call(jf) && !strcmp(choice_str(jf, "message", "content"), TEXTS[0]), "no tools: text (%d): %s", s6, f ? f : "");
    /* the stream: the text before the call as content, then the call as a delta, then finish_reason tool_calls */
    CHECK(s4 == 200 && d && strstr(d, "\"content\":\"Let me check. \"") && strstr(d, "\"tool_calls\":[{\"index\":0,\"id\":") &&
              strstr(d, "\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"UTC\\\"}\"") &&
              strstr(d, "\"finish_reason\":\"tool_calls\"") && !strstr(d, "<tool_call>") && strstr(d, "data: [DONE]"),
          "streamed call (%d): %s", s4, d ? d : "");
    /* ollama: arguments as an object */
    cJSON *je = cJSON_Parse(e ? e : "");
    const cJSON *oc = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(je, "message"), "tool_calls"), 0);
    const cJSON *city = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(oc, "function"), "arguments"), "city");
    CHECK(s5 == 200 && city && !strcmp(cJSON_GetStringValue(city), "Paris"), "ollama call (%d): %s", s5, e ? e : "");
    /* the official client: the call whole, and assembled by its stream helper from the deltas */
    cJSON *jo = cJSON_Parse(client ? client : "");
    const cJSON *w = cJSON_GetObjectItem(jo, "whole"), *st = cJSON_GetObjectItem(jo, "streamed");
    const cJSON *wf = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "message"), "tool_calls"), 0), "function");
    const cJSON *sm = cJSON_GetObjectItem(st, "message");
    const cJSON *sf = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(sm, "tool_calls"), 0), "function");
    CHECK(wf && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(wf, "arguments")), "{\"city\":\"Paris\"}") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(w, "finish_reason")), "tool_calls") && sf &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(sf, "name")), "get_time") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(sf, "arguments")), "{\"tz\":\"UTC\"}") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(sm, "content")), "Let me check. ") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(st, "finish_reason")), "tool_calls"),
          "the openai package: %s", client ? client : "");
    cJSON_Delete(ja), cJSON_Delete(jb), cJSON_Delete(jc), cJSON_Delete(je), cJSON_Delete(jf), cJSON_Delete(jo);
    free(a), free(b), free(c), free(d), free(e), free(f), free(client);
}

void register_toolcall_tests(void) {
    test_add("serve: tool calls read back in Llama, Mistral and Hermes shapes; unknown names and stray JSON stay text", test_shapes);
    test_add("serve: while streaming with tools, text that may start a call waits", test_sendable);
    test_add("serve: a model's tool call comes back as tool_calls on both chat routes, whole and streamed, and through the openai package", test_end_to_end);
}
