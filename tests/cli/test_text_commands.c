/* The text commands end to end: run with a text prompt, tokenize,
 * detokenize, template, chat through a pipe. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mapfile.h"
#include "test.h"

static void test_cli_run_text(void) {
    golden g;
    CHECK(golden_open(&g, fixture("llm/stories260k")), "no golden");
    const cJSON *text = cJSON_GetObjectItem(g.json, "text"), *prompt = cJSON_GetObjectItem(g.json, "prompt");
    char want[8192];
    snprintf(want, sizeof want, "%s\n", text->valuestring);
    char cont[8192];
    snprintf(cont, sizeof cont, "%s\n", text->valuestring + strlen(prompt->valuestring));
    golden_close(&g);
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run %s \"Once upon a time\" -n 200 --temp 0 2>/dev/null", LOAM_BIN, fixture("llm/stories260k"));
    int rc = run_capture(cmd, &out);
    int ok = rc == 0 && out && strcmp(out, want) == 0;
    CHECK(ok, "run with text printed (exit %d): %.300s", rc, out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s run %s \"Once upon a time\" -n 200 --temp 0 --no-echo 2>/dev/null", LOAM_BIN, fixture("llm/stories260k"));
    rc = run_capture(cmd, &out);
    ok = rc == 0 && out && strcmp(out, cont) == 0;
    CHECK(ok, "--no-echo printed (exit %d): %.300s", rc, out ? out : "");
    free(out);
}

static void test_cli_tokenize(void) {
    char cmd[2048], *out = NULL;
    const char *dir = fixture("tokenizers/llama31");
    snprintf(cmd, sizeof cmd, "%s tokenize %s 'Hello world' 2>&1", LOAM_BIN, dir);
    int rc = run_capture(cmd, &out);
    CHECK(rc == 0 && out && strcmp(out, "128000 9906 1917\n") == 0, "tokenize: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "printf 'Hello world' | %s tokenize %s --no-special --json - 2>&1", LOAM_BIN, dir);
    rc = run_capture(cmd, &out);
    CHECK(rc == 0 && out && strcmp(out, "{\"ids\": [9906, 1917], \"tokens\": [\"Hello\", \"\xc4\xa0world\"]}\n") == 0, "tokenize --json -: %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize %s 128000 9906 1917 2>&1", LOAM_BIN, dir);
    rc = run_capture(cmd, &out);
    CHECK(rc == 0 && out && strcmp(out, "<|begin_of_text|>Hello world") == 0, "detokenize: [%s]", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize %s --skip-special 128000 9906 1917 2>&1", LOAM_BIN, dir);
    rc = run_capture(cmd, &out);
    CHECK(rc == 0 && out && strcmp(out, "Hello world") == 0, "detokenize --skip-special: [%s]", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "printf 'a\\377b' | %s tokenize %s - 2>&1", LOAM_BIN, dir);
    rc = run_capture(cmd, &out);
    CHECK(rc == 1 && out && strstr(out, "not valid UTF-8"), "invalid UTF-8 on stdin: exit %d %s", rc, out ? out : "");
    free(out);
}

/* text in single quotes for sh, into buf */
static const char *shell_quote(const char *text, char *buf, size_t cap) {
    size_t at = 0;
    buf[at++] = '\'';
    for (const char *p = text; *p && at + 5 < cap; p++) {
        if (*p == '\'') memcpy(buf + at, "'\\''", 4), at += 4;
        else buf[at++] = *p;
    }
    buf[at++] = '\'';
    buf[at] = 0;
    return buf;
}

/* loam template renders every case of a chat_cases.jsonl as the reference
 * did (messages, tools, template variables given with --var), or fails with
 * the template's own error. */
static void check_template_cases(const char *name) {
    char path[1024], *text = NULL;
    loam_error err;
    snprintf(path, sizeof path, "%s/chat_cases.jsonl", fixture(name));
    CHECK_OK(loam_read_file(path, 1 << 24, &text, NULL, &err), &err);
    const char *dir = temp_dir();
    int n_cases = 0, line_no = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        if (!*line) continue;
        cJSON *c = cJSON_Parse(line);
        const cJSON *msgs = cJSON_GetObjectItem(c, "messages"), *tools = cJSON_GetObjectItem(c, "tools");
        const cJSON *kwargs = cJSON_GetObjectItem(c, "kwargs"), *want = cJSON_GetObjectItem(c, "rendered");
        const cJSON *error = cJSON_GetObjectItem(c, "error"); /* or the template's own error */
        if (!cJSON_IsArray(msgs) || !(cJSON_IsString(want) || cJSON_IsString(error))) {
            cJSON_Delete(c);
            free(text);
            CHECK(0, "%s line %d: not a case with messages and rendered", path, line_no);
        }
        char mpath[700], tpath[700], cmd[16384], q[4096];
        snprintf(mpath, sizeof mpath, "%s/m%d.json", dir, line_no);
        snprintf(tpath, sizeof tpath, "%s/t%d.json", dir, line_no);
        char *mj = cJSON_PrintUnformatted(msgs), *tj = tools ? cJSON_PrintUnformatted(tools) : NULL;
        write_text(mpath, mj);
        if (tj) write_text(tpath, tj);
        size_t at = (size_t)snprintf(cmd, sizeof cmd, "%s template %s --messages %s%s%s%s", LOAM_BIN, fixture(name), mpath,
                                     tj ? " --tools " : "", tj ? tpath : "",
                                     cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")) ? " --add-generation-prompt" : "");
        for (const cJSON *kv = kwargs ? kwargs->child : NULL; kv && at < sizeof cmd; kv = kv->next) {
            char *vj = cJSON_PrintUnformatted(kv), arg[2048];
            snprintf(arg, sizeof arg, "%s=%s", kv->string, vj);
            at += (size_t)snprintf(cmd + at, sizeof cmd - at, " --var %s", shell_quote(arg, q, sizeof q));
            free(vj);
        }
        snprintf(cmd + at, sizeof cmd - at, " 2>&1");
        char *out = NULL;
        int rc = run_capture(cmd, &out);
        int same = cJSON_IsString(want) ? rc == 0 && out && strcmp(out, want->valuestring) == 0
                                        : rc != 0 && out && strncmp(out, "loam: ", 6) == 0 && strstr(out, error->valuestring);
        char shown[600];
        snprintf(shown, sizeof shown, "%s", out ? out : "");
        free(out), free(mj), free(tj);
        cJSON_Delete(c);
        if (!same) free(text);
        CHECK(same, "%s line %d: loam template (exit %d) printed\n%s", path, line_no, rc, shown);
        n_cases++;
    }
    free(text);
    CHECK(n_cases > 0, "%s: no cases", path);
}

static void test_cli_template_and_chat(void) {
    check_template_cases("tokenizers/llama31");
    if (test_failed()) return;
    check_template_cases("tokenizers/gemma");
    if (test_failed()) return;
    char tpl[700], cmd[4096], *out = NULL;
    const char *dir = temp_dir();
    int rc;

    /* chat on stories260k through a pipe, with a template of our own: the
     * reply to "Once upon a time" is the golden continuation */
    snprintf(tpl, sizeof tpl, "%s/t.jinja", dir);
    write_text(tpl, "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
    snprintf(cmd, sizeof cmd, "printf 'Once upon a time\\nand then\\n/exit\\n' | %s chat %s --chat-template %s -n 30 --temp 0 2>/dev/null", LOAM_BIN,
             fixture("llm/stories260k"), tpl);
    rc = run_capture(cmd, &out);
    golden g;
    CHECK(golden_open(&g, fixture("llm/stories260k")), "no golden");
    loam_error err;
    loam_tokenizer *tok = NULL;
    loam_tokenizer_open(fixture("llm/stories260k"), &tok, &err);
    char *first = NULL;
    loam_detokenize(tok, golden_tensor(&g, "greedy_ids")->data, 30, 1, &first, NULL, &err);
    loam_tokenizer_free(tok);
    golden_close(&g);
    /* the first reply, then a second one (which may hold newlines itself) */
    size_t fl = first ? strlen(first) : 0;
    int ok = rc == 0 && out && first && strncmp(out, first, fl) == 0 && out[fl] == '\n' && strlen(out) > fl + 2 &&
             out[strlen(out) - 1] == '\n';
    int lines = 0;
    for (char *p = out; p && *p; p++) lines += *p == '\n';
    char shown[400];
    snprintf(shown, sizeof shown, "%s", out ? out : "");
    free(out);
    free(first);
    CHECK(ok, "chat printed (exit %d, %d lines): %s", rc, lines, shown);
}

void register_cli_text_tests(void) {
    test_add("cli: run with a text prompt prints the golden story; --no-echo the continuation", test_cli_run_text);
    test_add("cli: tokenize / detokenize output formats", test_cli_tokenize);
    test_add("cli: template renders every chat case (--messages, --tools, --var); chat through a pipe", test_cli_template_and_chat);
}
