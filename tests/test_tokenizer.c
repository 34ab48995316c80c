/* Tokenizers against the reference encodings in fixtures/tokenizers: every
 * case of every folder, ids and decoded text exactly. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mapfile.h"
#include "test.h"

/* Runs every line of a cases.jsonl against the tokenizer at `tok_path`;
 * `ids_key` names the expected ids (falling back to "ids"), and decoding is
 * checked only when check_decode. */
static void check_cases_with(const char *tok_path, const char *cases_path, const char *ids_key, int check_decode) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(tok_path, &tok, &err), &err);
    char *text = NULL;
    uint64_t len = 0;
    if (loam_read_file(cases_path, 1 << 26, &text, &len, &err) != LOAM_OK) {
        loam_tokenizer_free(tok);
        CHECK(0, "%s", err.message);
    }
    int n_cases = 0, bad_ids = 0, bad_text = 0;
    char first_bad[600] = "";
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        const cJSON *t = cJSON_GetObjectItem(c, "text"), *add = cJSON_GetObjectItem(c, "add_special_tokens");
        const cJSON *want = cJSON_GetObjectItem(c, ids_key), *dec = check_decode ? cJSON_GetObjectItem(c, "decoded") : NULL;
        /* SentencePiece's ids: recorded where they differ from tokenizer.json's;
         * for literal <s>/</s>/<unk> text they equal llama2.c's */
        if (!want && strcmp(ids_key, "sentencepiece_ids") == 0) want = cJSON_GetObjectItem(c, "llama2c_ids");
        if (!want) want = cJSON_GetObjectItem(c, "ids");
        if (!t) t = cJSON_GetObjectItem(c, "input");
        if (!cJSON_IsString(t) || !cJSON_IsArray(want)) {
            cJSON_Delete(c);
            continue;
        }
        n_cases++;
        int32_t *ids = NULL;
        int n = 0;
        loam_status st = loam_tokenize(tok, t->valuestring, strlen(t->valuestring), add ? cJSON_IsTrue(add) : 1, &ids, &n, &err);
        int same = st == LOAM_OK && n == cJSON_GetArraySize(want);
        for (int i = 0; same && i < n; i++) same = ids[i] == (int32_t)cJSON_GetArrayItem(want, i)->valuedouble;
        if (!same) {
            if (!bad_ids++) {
                int at = 0;
                at += snprintf(first_bad + at, sizeof first_bad - (size_t)at, "ids of \"%.60s\" (add_special %d): got", t->valuestring,
                               add ? cJSON_IsTrue(add) : 1);
                for (int i = 0; i < n && i < 12 && at < 400; i++) at += snprintf(first_bad + at, sizeof first_bad - (size_t)at, " %d", ids[i]);
                at += snprintf(first_bad + at, sizeof first_bad - (size_t)at, " | want");
                for (int i = 0; i < cJSON_GetArraySize(want) && i < 12 && at < 560; i++)
                    at += snprintf(first_bad + at, sizeof first_bad - (size_t)at, " %d", (int)cJSON_GetArrayItem(want, i)->valuedouble);
            }
        }
        free(ids);
        if (cJSON_IsString(dec)) {
            int nw = cJSON_GetArraySize(want);
            int32_t *wids = malloc((size_t)(nw ? nw : 1) * sizeof *wids);
            for (int i = 0; i < nw; i++) wids[i] = (int32_t)cJSON_GetArrayItem(want, i)->valuedouble;
            char *out = NULL;
            size_t out_len = 0;
            st = loam_detokenize(tok, wids, nw, 0, &out, &out_len, &err);
            if (st != LOAM_OK || out_len != strlen(dec->valuestring) || memcmp(out, dec->valuestring, out_len) != 0) {
                if (!bad_text++ && !bad_ids)
                    snprintf(first_bad, sizeof first_bad, "decode of \"%.60s\": got \"%.80s\" want \"%.80s\"", t->valuestring,
                             out ? out : "(error)", dec->valuestring);
            }
            free(out);
            free(wids);
        }
        cJSON_Delete(c);
    }
    free(text);
    loam_tokenizer_free(tok);
    CHECK(n_cases > 0, "%s: no cases", cases_path);
    CHECK(bad_ids == 0 && bad_text == 0, "%s: %d/%d ids and %d decodes differ; first: %s", cases_path, bad_ids, n_cases, bad_text,
          first_bad);
}

static void check_cases(const char *tok_path, const char *cases_path) { check_cases_with(tok_path, cases_path, "ids", 1); }

#define FOLDER_TEST(NAME)                                                                              \
    static void test_##NAME(void) {                                                                    \
        char dir[1024], cases[1100];                                                                   \
        snprintf(dir, sizeof dir, "%s", fixture("tokenizers/" #NAME));                                 \
        snprintf(cases, sizeof cases, "%s/cases.jsonl", dir);                                          \
        check_cases(dir, cases);                                                                       \
    }
FOLDER_TEST(llama31)
FOLDER_TEST(gemma)
FOLDER_TEST(mpt)
FOLDER_TEST(falcon)
FOLDER_TEST(phi2)
FOLDER_TEST(whisper)
FOLDER_TEST(t5)
FOLDER_TEST(clip)
FOLDER_TEST(llama2_spm)

static void test_stories260k_cases(void) {
    char dir[1024], cases[1100];
    snprintf(dir, sizeof dir, "%s", fixture("llm/stories260k"));
    snprintf(cases, sizeof cases, "%s/tokenizer_cases.jsonl", dir);
    check_cases(dir, cases);
}

/* tokenizer.model alone follows SentencePiece's rules (whitespace clean-up) */
static void test_stories260k_spm(void) {
    char model[1024], cases[1100];
    snprintf(model, sizeof model, "%s", fixture("llm/stories260k/tokenizer.model"));
    snprintf(cases, sizeof cases, "%s", fixture("llm/stories260k/tokenizer_cases.jsonl"));
    check_cases_with(model, cases, "sentencepiece_ids", 0);
}

/* Whisper's tiktoken ranks (with special_tokens.json) give the same cases */
static void test_whisper_tiktoken(void) {
    char path[1024], cases[1100];
    snprintf(path, sizeof path, "%s", fixture("tokenizers/whisper/multilingual.tiktoken"));
    snprintf(cases, sizeof cases, "%s", fixture("tokenizers/whisper/cases.jsonl"));
    check_cases(path, cases);
}

void register_tokenizer_tests(void) {
    test_add("tokenizer: whisper multilingual.tiktoken gives the whisper cases", test_whisper_tiktoken);
    test_add("tokenizer: stories260k tokenizer.model gives SentencePiece's ids", test_stories260k_spm);
    test_add("tokenizer: llama31 cases (byte-level BPE, llama3 regex)", test_llama31);
    test_add("tokenizer: gemma cases (SentencePiece-style BPE, byte fallback)", test_gemma);
    test_add("tokenizer: mpt cases (NFC, byte-level)", test_mpt);
    test_add("tokenizer: falcon cases (punctuation, digits)", test_falcon);
    test_add("tokenizer: phi2 cases", test_phi2);
    test_add("tokenizer: whisper cases", test_whisper);
    test_add("tokenizer: t5 cases (Unigram, precompiled charsmap)", test_t5);
    test_add("tokenizer: clip cases (vocab.json + merges.txt)", test_clip);
    test_add("tokenizer: llama2_spm cases (tokenizer.model)", test_llama2_spm);
    test_add("tokenizer: stories260k cases", test_stories260k_cases);
}

/* chat_cases.jsonl: rendered text and its ids (encoded without special
 * tokens), or the template's own error. */
static void check_chat_cases(const char *name) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s", fixture(name));
    snprintf(path, sizeof path, "%s/chat_cases.jsonl", dir);
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(dir, &tok, &err), &err);
    char *text = NULL;
    if (loam_read_file(path, 1 << 24, &text, NULL, &err) != LOAM_OK) {
        loam_tokenizer_free(tok);
        CHECK(0, "%s", err.message);
    }
    int n = 0, bad = 0;
    char first[900] = "";
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        n++;
        char *messages = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "messages"));
        const cJSON *tools_j = cJSON_GetObjectItem(c, "tools"), *kw = cJSON_GetObjectItem(c, "kwargs");
        char *tools = tools_j ? cJSON_PrintUnformatted(tools_j) : NULL, *vars = kw ? cJSON_PrintUnformatted(kw) : NULL;
        const cJSON *want = cJSON_GetObjectItem(c, "rendered"), *want_err = cJSON_GetObjectItem(c, "error");
        const cJSON *want_ids = cJSON_GetObjectItem(c, "ids");
        char *out = NULL;
        loam_status st = loam_chat_apply_template(tok, NULL, messages, tools, vars, cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
                                                  &out, &err);
        int ok;
        if (cJSON_IsString(want_err)) {
            ok = st != LOAM_OK && strstr(err.message, want_err->valuestring) != NULL;
            if (!ok && !bad) snprintf(first, sizeof first, "expected error \"%.200s\", got %.600s", want_err->valuestring, st ? err.message : "success");
        } else {
            ok = st == LOAM_OK && cJSON_IsString(want) && strcmp(out, want->valuestring) == 0;
            if (!ok && !bad) snprintf(first, sizeof first, "rendered %.300s\n    want %.300s", st ? err.message : out, cJSON_IsString(want) ? want->valuestring : "?");
            if (ok && cJSON_IsArray(want_ids)) {
                int32_t *ids = NULL;
                int n_ids = 0;
                ok = loam_tokenize(tok, out, strlen(out), 0, &ids, &n_ids, &err) == LOAM_OK && n_ids == cJSON_GetArraySize(want_ids);
                for (int i = 0; ok && i < n_ids; i++) ok = ids[i] == (int32_t)cJSON_GetArrayItem(want_ids, i)->valuedouble;
                if (!ok && !bad) snprintf(first, sizeof first, "ids of the rendered prompt differ");
                free(ids);
            }
        }
        bad += !ok;
        free(out), free(messages), free(tools), free(vars);
        cJSON_Delete(c);
    }
    free(text);
    loam_tokenizer_free(tok);
    CHECK(n > 0, "no chat cases");
    CHECK(bad == 0, "%s: %d/%d chat cases differ; first: %s", name, bad, n, first);
}

static void test_chat_llama31(void) { check_chat_cases("tokenizers/llama31"); }
static void test_chat_gemma(void) { check_chat_cases("tokenizers/gemma"); }

void register_chat_tests(void) {
    test_add("chat: llama31 template (system, tools, date_string) renders and tokenizes as the reference", test_chat_llama31);
    test_add("chat: gemma template (role checks, raise_exception)", test_chat_gemma);
}

/* ------------------------------------------------------------ more tokenizer tests */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Encoding time grows linearly: a 1 MB line takes about 10x a 100 kB one
 * (a quadratic merge loop or regex scan would give ~100x). */
static void test_encode_is_linear(void) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(fixture("tokenizers/llama31"), &tok, &err), &err);
    const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs,", "while", "engines", "infer", "tokens", "1234", "don't"};
    size_t big = 1000000, small = 100000;
    char *text = malloc(big + 32);
    size_t at = 0;
    uint64_t x = 7;
    while (at < big) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const char *w = words[(x >> 33) % 14];
        size_t n = strlen(w);
        memcpy(text + at, w, n);
        text[at + n] = ' ';
        at += n + 1;
    }
    double best_small = 1e9, best_big = 1e9;
    int32_t *ids;
    int n_ids, n_big = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_seconds();
        loam_tokenize(tok, text, small, 0, &ids, &n_ids, &err);
        double t1 = now_seconds();
        free(ids);
        loam_tokenize(tok, text, big, 0, &ids, &n_big, &err);
        double t2 = now_seconds();
        free(ids);
        if (t1 - t0 < best_small) best_small = t1 - t0;
        if (t2 - t1 < best_big) best_big = t2 - t1;
    }
    free(text);
    loam_tokenizer_free(tok);
    printf("    100 kB: %.1f ms, 1 MB: %.1f ms (%.1f MB/s), ratio %.1f\n", best_small * 1e3, best_big * 1e3, 1.0 / best_big,
           best_big / best_small);
    CHECK(n_big > 100000, "1 MB gave only %d ids", n_big);
    CHECK(best_big / best_small < 15, "1 MB took %.1fx the time of 100 kB (not linear)", best_big / best_small);
}

/* Streamed pieces are always whole UTF-8 characters and add up to the full
 * decode, even when a character is split over byte-fallback tokens. */
static void test_stream_decode(void) {
    const char *dirs[] = {"tokenizers/gemma", "tokenizers/llama31", "llm/stories260k", "tokenizers/t5"};
    const char *text = "Hello 世界! 😀 naïve café — ok";
    for (int d = 0; d < 4; d++) {
        loam_error err;
        loam_tokenizer *tok = NULL;
        CHECK_OK(loam_tokenizer_open(fixture(dirs[d]), &tok, &err), &err);
        int32_t *ids;
        int n;
        CHECK_OK(loam_tokenize(tok, text, strlen(text), 0, &ids, &n, &err), &err);
        char *full = NULL;
        loam_detokenize(tok, ids, n, 1, &full, NULL, &err);
        loam_detok_stream *s;
        loam_detok_stream_open(tok, 1, &s, &err);
        char joined[512] = "";
        int whole = 1;
        for (int i = 0; i < n; i++) {
            const char *piece;
            size_t len;
            loam_detok_stream_push(s, ids[i], &piece, &len, &err);
            if (len && (((unsigned char)piece[0] & 0xc0) == 0x80 || strstr(piece, "\xef\xbf\xbd"))) whole = 0;
            strncat(joined, piece, len);
        }
        int same = strcmp(joined, full) == 0;
        loam_detok_stream_free(s);
        free(ids);
        loam_tokenizer_free(tok);
        CHECK(whole, "%s: a streamed piece splits a character", dirs[d]);
        CHECK(same, "%s: streamed \"%s\" vs decoded \"%s\"", dirs[d], joined, full);
        free(full);
    }
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int open_fails(const char *path, const char *needle, char *msg, size_t len) {
    loam_error err = {0};
    loam_tokenizer *tok = NULL;
    loam_status st = loam_tokenizer_open(path, &tok, &err);
    snprintf(msg, len, "%s", st == LOAM_OK ? "accepted" : err.message);
    loam_tokenizer_free(tok);
    return st != LOAM_OK && strstr(err.message, needle) && strstr(err.message, "tokenizer.json");
}

static void test_bad_tokenizer_files(void) {
    char msg[1100], path[700];
    const char *dir = temp_dir();
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]");
    CHECK(open_fails(path, "malformed JSON", msg, sizeof msg), "truncated: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a c\"]}}");
    CHECK(open_fails(path, "merge 0 (\"a\" + \"c\") names a token missing from the vocab", msg, sizeof msg), "missing merge token: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}");
    CHECK(open_fails(path, "model type \"WordLevel\" is not supported", msg, sizeof msg), "model type: %s", msg);
    write_text(path, "{\"normalizer\": {\"type\": \"Bogus\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "normalizer type \"Bogus\"", msg, sizeof msg), "normalizer: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -5}, \"merges\": []}}");
    CHECK(open_fails(path, "no valid id", msg, sizeof msg), "bad id: %s", msg);
    write_text(path, "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\"},"
                     " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "does not compile", msg, sizeof msg), "regex: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 99999999, \"content\": \"x\"}]}");
    CHECK(open_fails(path, "added token", msg, sizeof msg), "huge id: %s", msg);
    /* raw invalid UTF-8 inside a JSON string (cJSON accepts it): refused, not fed to a regex */
    write_text(path, "{\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xff\xfe\"},"
                     " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK(open_fails(path, "not valid UTF-8", msg, sizeof msg), "invalid UTF-8 content: %s", msg);
    write_text(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"\x80\"}]}");
    CHECK(open_fails(path, "not valid UTF-8", msg, sizeof msg), "invalid UTF-8 added token: %s", msg);
}

/* Invalid UTF-8 is refused with the byte offset (the reference takes only
 * valid Unicode strings); out-of-range ids are refused when decoding. */
static void test_bad_text_and_ids(void) {
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(fixture("tokenizers/llama31"), &tok, &err), &err);
    int32_t *ids = NULL;
    int n;
    loam_status st = loam_tokenize(tok, "ok \xff\xfe bad", 9, 1, &ids, &n, &err);
    int bad_utf8 = st == LOAM_E_ARG && strstr(err.message, "not valid UTF-8 (byte 3)");
    st = loam_tokenize(tok, "ok \xe2\x82", 5, 1, &ids, &n, &err); /* truncated sequence at the end */
    int truncated = st == LOAM_E_ARG;
    int32_t big[2] = {5, 999999};
    char *text = NULL;
    st = loam_detokenize(tok, big, 2, 0, &text, NULL, &err);
    loam_tokenizer_free(tok);
    CHECK(bad_utf8, "invalid UTF-8 not refused clearly: %s", err.message);
    CHECK(truncated, "a truncated UTF-8 sequence was accepted");
    CHECK(st == LOAM_E_RANGE && strstr(err.message, "999999"), "bad id: %s", err.message);
}

static void test_bad_templates(void) {
    const char *cases[][2] = {
        {"{% include 'x.jinja' %}", "unsupported template tag \"include\""},
        {"{{ messages | frobnicate }}", "unsupported filter \"frobnicate\""},
        {"{% if true %}unclosed", "missing \"elif\""},
        {"{{ 'abc }}", "unterminated"},
        {"{{ raise_exception('Custom failure') }}", "Custom failure"},
        {"{{ messages is weird }}", "unsupported test \"weird\""},
        {"{% for m in messages %}{% endif %}", "unexpected \"endif\""},
        {"{{ 1 + 'a' }}", "unsupported operand types"},
        {"{{ 9223372036854775807 + 1 }}", "integer overflow"},
        {"{{ 2 ** 64 }}", "integer overflow"},
        {"{{ 7.7e77 | int }}", "does not fit an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        loam_error err = {0};
        loam_status st = loam_chat_apply_template(NULL, cases[i][0], "[{\"role\": \"user\", \"content\": \"hi\"}]", NULL, NULL, 1, &out, &err);
        free(out);
        CHECK(st == LOAM_E_FORMAT && strstr(err.message, cases[i][1]), "template %zu: expected \"%s\", got: %s", i, cases[i][1],
              st ? err.message : "success");
    }
}

/* The Jinja features real templates use, each checked on its own. */
static void test_jinja_features(void) {
    const char *cases[][2] = {
        {"{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2"},
        {"{% for m in messages %}{{ loop.index0 }}{{ m.role[0] }}{% if not loop.last %},{% endif %}{% endfor %}", "0u,1a"},
        {"{{ messages | map(attribute='role') | join('|') }}", "user|assistant"},
        {"{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", "1"},
        {"{{ '  x  ' | trim }}|{{ 'Hello'[1:3] }}|{{ [1,2,3][::-1] }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 2 ** 10 }}", "x|el|[3, 2, 1]|3|-4|1024"},
        {"{{ {'b': 1, 'a': [true, none, 1.5]} | tojson }}", "{\"b\": 1, \"a\": [true, null, 1.5]}"},
        {"{{ {'a': [1]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ]\n}"},
        {"{%- for m in messages -%}\n  {{ m.content | upper }}\n{%- endfor %}", "HIYO"},
        {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", "Hi Ann! Hi Bo?"},
        {"{% if x is not defined and y is none %}a{% elif z %}b{% else %}c{% endif %}", "a"},
        {"{% if x is defined %}a{% elif z %}b{% else %}c{% endif %}{% if z is false %}f{% endif %}", "cf"},
        {"{{ 'yes' if 'us' in 'user' else 'no' }}{{ 'role' in messages[0] }}{{ messages[0].get('nope', 'd') }}", "yesTrued"},
        {"{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"},
        {"{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "02"},
        {"  {% if true %}\n  x\n  {% endif %}\n", "  x\n"},
        {"{{ 'a\\tb\\n' | tojson }}{{ \"it's\" }}", "\"a\\tb\\n\"it's"},
        {"{{ messages[0].content.startswith('h') }} {{ 'A,B'.split(',') }} {{ 'x'.upper() ~ 1 }}", "True ['A', 'B'] X1"},
    };
    const char *msgs = "[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        loam_error err = {0};
        loam_status st = loam_chat_apply_template(NULL, cases[i][0], msgs, NULL, "{\"y\": null, \"z\": false}", 0, &out, &err);
        int ok = st == LOAM_OK && strcmp(out, cases[i][1]) == 0;
        if (!ok) {
            char got[300];
            snprintf(got, sizeof got, "%.280s", st ? err.message : out);
            free(out);
            CHECK(0, "template %zu: got \"%s\", want \"%s\"", i, got, cases[i][1]);
        }
        free(out);
    }
}

/* ------------------------------------------------------------ CLI */

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

static void test_cli_template_and_chat(void) {
    char msgs[700], tpl[700], cmd[4096], *out = NULL;
    const char *dir = temp_dir();
    snprintf(msgs, sizeof msgs, "%s/m.json", dir);
    write_text(msgs, "[{\"role\": \"user\", \"content\": \"What day is it today?\"}]");
    snprintf(cmd, sizeof cmd, "%s template %s --messages %s --var 'date_string=\"23 Jul 2024\"' --add-generation-prompt 2>&1", LOAM_BIN,
             fixture("tokenizers/llama31"), msgs);
    int rc = run_capture(cmd, &out);
    const char *want = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 23 Jul 2024\n\n"
                       "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat day is it today?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    CHECK(rc == 0 && out && strcmp(out, want) == 0, "template: %s", out ? out : "");
    free(out);

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

void register_tokenizer_more_tests(void) {
    test_add("tokenizer: encoding time is linear in the input (100 kB vs 1 MB)", test_encode_is_linear);
    test_add("tokenizer: streaming decode never splits a character", test_stream_decode);
    test_add("tokenizer: malformed tokenizer.json files give clear errors", test_bad_tokenizer_files);
    test_add("tokenizer: invalid UTF-8 and unknown ids refused", test_bad_text_and_ids);
    test_add("chat: unsupported or broken templates give clear errors", test_bad_templates);
    test_add("chat: Jinja features used by real templates", test_jinja_features);
    test_add("cli: run with a text prompt prints the golden story; --no-echo the continuation", test_cli_run_text);
    test_add("cli: tokenize / detokenize output formats", test_cli_tokenize);
    test_add("cli: template with --var; chat through a pipe", test_cli_template_and_chat);
}

/* llama.cpp's own vocab test vectors: .inp holds strings separated by
 * "\n__ggml_vocab_test__\n", .out the ids (add_special false). */
static void check_gguf_vocab(const char *tok_path, const char *vectors) {
    char inp[1100], outp[1100];
    snprintf(inp, sizeof inp, "%s.inp", vectors);
    snprintf(outp, sizeof outp, "%s.out", vectors);
    loam_error err;
    loam_tokenizer *tok = NULL;
    CHECK_OK(loam_tokenizer_open(tok_path, &tok, &err), &err);
    char *in = NULL, *out = NULL;
    uint64_t in_len = 0;
    if (loam_read_file(inp, 1 << 24, &in, &in_len, &err) != LOAM_OK || loam_read_file(outp, 1 << 24, &out, NULL, &err) != LOAM_OK) {
        free(in);
        loam_tokenizer_free(tok);
        CHECK(0, "%s", err.message);
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    int n = 0, bad = 0;
    char first[600] = "";
    char *p = in, *o = out;
    while (*p || (p < in + in_len)) {
        char *end = strstr(p, sep);
        if (!end) break;
        char *line_end = strchr(o, '\n');
        if (!line_end) break;
        *line_end = 0;
        int32_t *ids = NULL;
        int n_ids = 0;
        loam_status st = loam_tokenize(tok, p, (size_t)(end - p), 0, &ids, &n_ids, &err);
        char got[4096] = "";
        size_t at = 0;
        for (int i = 0; st == LOAM_OK && i < n_ids && at < sizeof got - 16; i++) at += (size_t)snprintf(got + at, sizeof got - at, " %d", ids[i]);
        free(ids);
        if (st != LOAM_OK || strcmp(got, o) != 0) {
            if (!bad) snprintf(first, sizeof first, "\"%.40s\": got%.200s | want%.200s", p, st ? err.message : got, o);
            bad++;
        }
        n++;
        p = end + strlen(sep);
        o = line_end + 1;
    }
    free(in);
    free(out);
    loam_tokenizer_free(tok);
    CHECK(n == 46, "%s: read %d test strings (46 expected)", vectors, n);
    CHECK(bad == 0, "%s: %d/%d differ; first %s", vectors, bad, n, first);
}

#define GGUF_VOCAB_TEST(FN, NAME)                                                                     \
    static void FN(void) {                                                                           \
        char gguf[1024], vec[1024];                                                                  \
        snprintf(gguf, sizeof gguf, "%s", fixture("tokenizers/gguf-vocab/ggml-vocab-" NAME ".gguf")); \
        snprintf(vec, sizeof vec, "%s", gguf);                                                       \
        check_gguf_vocab(gguf, vec);                                                                 \
    }
GGUF_VOCAB_TEST(test_gguf_gpt2, "gpt-2")
GGUF_VOCAB_TEST(test_gguf_falcon, "falcon")
GGUF_VOCAB_TEST(test_gguf_mpt, "mpt")
GGUF_VOCAB_TEST(test_gguf_llama_spm, "llama-spm")
GGUF_VOCAB_TEST(test_gguf_phi3, "phi-3")

static void test_gguf_llama_bpe(void) {
    char tok[1024], vec[1024];
    snprintf(tok, sizeof tok, "%s", fixture("tokenizers/llama31"));
    snprintf(vec, sizeof vec, "%s", fixture("tokenizers/gguf-vocab/ggml-vocab-llama-bpe.gguf"));
    check_gguf_vocab(tok, vec);
}

void register_gguf_vocab_tests(void) {
    test_add("gguf-vocab: gpt-2 vectors from the GGUF vocab", test_gguf_gpt2);
    test_add("gguf-vocab: falcon vectors from the GGUF vocab", test_gguf_falcon);
    test_add("gguf-vocab: mpt vectors from the GGUF vocab", test_gguf_mpt);
    test_add("gguf-vocab: llama-spm vectors from the GGUF vocab", test_gguf_llama_spm);
    test_add("gguf-vocab: phi-3 vectors from the GGUF vocab", test_gguf_phi3);
    test_add("gguf-vocab: llama-bpe vectors with llama31/tokenizer.json", test_gguf_llama_bpe);
}
