/* Every tokenizer the families publish against the reference encodings of
 * fixtures/tokenizers (cases.jsonl: ids and decoded text). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    int n_cases = 0, bad_ids = 0, bad_text = 0, bad_lines = 0, line_no = 0;
    char first_bad[600] = "", first_bad_line[200] = "";
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        if (strspn(line, " \t\r") == strlen(line)) continue; /* a blank line */
        cJSON *c = cJSON_Parse(line);
        if (!c) {
            /* a case that cannot be read must fail the test, never shrink it */
            if (!bad_lines++) snprintf(first_bad_line, sizeof first_bad_line, "line %d is not JSON: %.100s", line_no, line);
            continue;
        }
        const cJSON *t = cJSON_GetObjectItem(c, "text"), *add = cJSON_GetObjectItem(c, "add_special_tokens");
        const cJSON *want = cJSON_GetObjectItem(c, ids_key), *dec = check_decode ? cJSON_GetObjectItem(c, "decoded") : NULL;
        /* SentencePiece's ids: recorded where they differ from tokenizer.json's;
         * for literal <s>/</s>/<unk> text they equal llama2.c's */
        if (!want && strcmp(ids_key, "sentencepiece_ids") == 0) want = cJSON_GetObjectItem(c, "llama2c_ids");
        if (!want) want = cJSON_GetObjectItem(c, "ids");
        if (!t) t = cJSON_GetObjectItem(c, "input");
        if (!cJSON_IsString(t) || !cJSON_IsArray(want)) {
            if (!bad_lines++)
                snprintf(first_bad_line, sizeof first_bad_line, "line %d has no text/input string or no %s array", line_no, ids_key);
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
    CHECK(bad_lines == 0, "%s: %d lines could not be read as cases (first: %s)", cases_path, bad_lines, first_bad_line);
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

void register_tokenizer_cases_tests(void) {
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
