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

void register_tokenizer_tests(void) {
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
